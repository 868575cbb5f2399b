//! The journal on disk after damage (journal/mod.rs, "Torn tails versus
//! corruption"): a torn tail — bytes of a record that never completed — is
//! cut off at the next start, with a warning, and every acknowledged ticket
//! is still there; a damaged record followed by good ones is corruption, and
//! `hallqd` refuses to start with exit code 65, naming the file and offset.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use hallq_proto::types::Lane;
use hallq_tests::{item, open_windows, run_hallqd, waiting, TestHall, ADMIN, DISPLAY, KIOSK};

/// Size of the file header (magic + version) and of a record header
/// (length + CRC), journal/mod.rs.
const FILE_HEADER_LEN: u64 = 8;
const RECORD_HEADER_LEN: u64 = 8;

/// Runs a daemon on `hall`, opens a window, issues A001–A004 and stops it
/// with SIGTERM. Returns the waiting list it had.
async fn hall_with_four_tickets(hall: &TestHall) -> Vec<(String, u32)> {
    let mut daemon = hall.start().expect("hallqd starts");
    let admin = daemon.connect(ADMIN).await;
    open_windows(&admin, &[1]).await;
    let kiosk = daemon.connect(KIOSK).await;
    for _ in 0..4 {
        kiosk
            .issue(item('A'), Lane::WalkIn, None)
            .await
            .expect("kiosk issues");
    }
    let before = waiting(&kiosk.status().await.expect("status"));
    assert_eq!(before.len(), 4);
    let status = daemon.stop().expect("hallqd stops");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", daemon.stderr());
    before
}

fn append(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open the journal for appending");
    file.write_all(bytes).expect("append to the journal");
}

/// Appends `tail` to the newest journal file, restarts, and checks the tail
/// is gone, reported, and nothing acknowledged was lost.
async fn torn_tail_is_cut(tail: &[u8]) {
    let hall = TestHall::new().expect("test hall");
    let before = hall_with_four_tickets(&hall).await;
    let journal = hall.newest_journal().expect("a journal file");
    let good_len = fs::metadata(&journal).expect("journal metadata").len();
    append(&journal, tail);

    let daemon = hall.start().expect("hallqd starts despite a torn tail");
    // Its stderr is read by a thread of its own: the warning may reach us
    // a moment after the listening line (seen once on a loaded machine).
    let deadline = std::time::Instant::now() + hallq_tests::STEP_TIMEOUT;
    let mut stderr = daemon.stderr();
    while !stderr.contains("torn") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        stderr = daemon.stderr();
    }
    assert!(stderr.contains("torn"), "stderr:\n{stderr}");
    assert_eq!(
        fs::metadata(&journal).expect("journal metadata").len(),
        good_len,
        "the torn bytes are cut off"
    );
    let display = daemon.connect(DISPLAY).await;
    assert_eq!(waiting(&display.status().await.expect("status")), before);
    let kiosk = daemon.connect(KIOSK).await;
    let next = kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("issuing goes on after the repair");
    assert_eq!(next.ticket.to_string(), "A005");
}

#[tokio::test]
async fn a_few_garbage_bytes_at_the_end_are_cut() {
    torn_tail_is_cut(&[0x5A, 0x00, 0x13]).await;
}

#[tokio::test]
async fn a_partial_record_at_the_end_is_cut() {
    // Header says 200 payload bytes; only 20 made it to disk.
    let mut tail = 200u32.to_le_bytes().to_vec();
    tail.extend_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    tail.extend_from_slice(&[0xAB; 20]);
    torn_tail_is_cut(&tail).await;
}

#[tokio::test]
async fn a_whole_record_with_a_bad_checksum_at_the_end_is_cut() {
    let mut tail = 4u32.to_le_bytes().to_vec();
    tail.extend_from_slice(&0u32.to_le_bytes());
    tail.extend_from_slice(b"torn");
    torn_tail_is_cut(&tail).await;
}

#[tokio::test]
async fn a_damaged_record_before_good_ones_refuses_to_start() {
    let hall = TestHall::new().expect("test hall");
    hall_with_four_tickets(&hall).await;
    let journal = hall.newest_journal().expect("a journal file");
    let mut bytes = fs::read(&journal).expect("read the journal");
    // One byte inside the first record's payload; four more records follow.
    let at = usize::try_from(FILE_HEADER_LEN + RECORD_HEADER_LEN + 1).expect("small offset");
    assert!(bytes.len() > at + 100, "the journal has later records");
    bytes[at] ^= 0x55;
    fs::write(&journal, &bytes).expect("write the damaged journal");

    let exited =
        run_hallqd(&[OsStr::new("--config"), hall.config().as_os_str()]).expect("hallqd runs");
    assert_eq!(exited.code(), Some(65), "stderr:\n{}", exited.stderr);
    let name = journal
        .file_name()
        .and_then(OsStr::to_str)
        .expect("journal file name");
    assert!(exited.stderr.contains(name), "stderr:\n{}", exited.stderr);
    assert!(
        exited.stderr.contains(&format!("byte {FILE_HEADER_LEN}")),
        "names the first record's offset; stderr:\n{}",
        exited.stderr
    );
    // Refusing is all it did: the file is as we left it.
    assert_eq!(fs::read(&journal).expect("read the journal"), bytes);
}

/// Issue 19: a journal written by a newer hallqd (format version 2 in its
/// header) is data this build cannot read: exit 65 (EX_DATA), naming the
/// file and the version, not the exit 1 of a passing failure. The file is
/// left as it was.
#[tokio::test]
async fn a_journal_of_a_newer_format_refuses_with_exit_65() {
    let hall = TestHall::new().expect("test hall");
    hall_with_four_tickets(&hall).await;
    let journal = hall.newest_journal().expect("a journal file");
    let mut bytes = fs::read(&journal).expect("read the journal");
    bytes[6..8].copy_from_slice(&2u16.to_le_bytes());
    fs::write(&journal, &bytes).expect("write the journal");

    let exited =
        run_hallqd(&[OsStr::new("--config"), hall.config().as_os_str()]).expect("hallqd runs");
    assert_eq!(exited.code(), Some(65), "stderr:\n{}", exited.stderr);
    assert!(
        exited.stderr.contains("format version 2"),
        "stderr:\n{}",
        exited.stderr
    );
    assert_eq!(fs::read(&journal).expect("read the journal"), bytes);
}

/// Runs hallqd on `hall` and expects it to refuse: exit 65, the message
/// saying how many records were acknowledged and which are missing.
fn refuses_as_shrunk(hall: &TestHall, found: u64, what: &str) -> String {
    let exited =
        run_hallqd(&[OsStr::new("--config"), hall.config().as_os_str()]).expect("hallqd runs");
    assert_eq!(
        exited.code(),
        Some(65),
        "{what}; stderr:\n{}",
        exited.stderr
    );
    assert!(
        exited.stderr.contains("were acknowledged")
            && exited.stderr.contains(&format!("holds {found} records")),
        "{what}; stderr:\n{}",
        exited.stderr
    );
    exited.stderr
}

/// Issue 19: a flipped byte inside the *last* record used to be taken for a
/// torn write and cut (one acknowledged ticket lost). The acknowledgement
/// marker says it was acknowledged: exit 65, naming the file and offset,
/// and the file is left as it was.
#[tokio::test]
async fn a_damaged_last_record_refuses_with_exit_65() {
    let hall = TestHall::new().expect("test hall");
    hall_with_four_tickets(&hall).await;
    let journal = hall.newest_journal().expect("a journal file");
    let mut bytes = fs::read(&journal).expect("read the journal");
    let last = bytes.len() - 2;
    bytes[last] ^= 0x55;
    fs::write(&journal, &bytes).expect("write the damaged journal");
    let found = {
        // Every record but the last is whole.
        let mut n = 0u64;
        let mut at = FILE_HEADER_LEN as usize;
        while at + RECORD_HEADER_LEN as usize <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            at += RECORD_HEADER_LEN as usize + len;
            n += 1;
        }
        n - 1
    };
    let stderr = refuses_as_shrunk(&hall, found, "flipped byte in the last record");
    assert!(
        stderr.contains("damaged record at byte"),
        "stderr:\n{stderr}"
    );
    assert_eq!(fs::read(&journal).expect("read the journal"), bytes);
}

/// Issue 19: the newest journal truncated to 0 bytes used to start an empty
/// hall whose next ticket was A001 again; a deleted journal file the same.
#[tokio::test]
async fn an_emptied_or_deleted_journal_refuses_with_exit_65() {
    let hall = TestHall::new().expect("test hall");
    hall_with_four_tickets(&hall).await;
    let journal = hall.newest_journal().expect("a journal file");
    let saved = fs::read(&journal).expect("read the journal");

    fs::write(&journal, b"").expect("empty the journal");
    let stderr = refuses_as_shrunk(&hall, 0, "emptied");
    assert!(stderr.contains("0 bytes"), "stderr:\n{stderr}");
    assert_eq!(fs::metadata(&journal).unwrap().len(), 0, "left as it was");

    fs::remove_file(&journal).expect("delete the journal");
    let stderr = refuses_as_shrunk(&hall, 0, "deleted");
    assert!(stderr.contains("gone"), "stderr:\n{stderr}");

    // Put back, it starts with every ticket.
    fs::write(&journal, &saved).expect("restore the journal");
    let daemon = hall.start().expect("hallqd starts on the restored journal");
    let display = daemon.connect(DISPLAY).await;
    assert_eq!(waiting(&display.status().await.expect("status")).len(), 4);
}
