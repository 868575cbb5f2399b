//! A journal that cannot be written (issue 7: disk full): the daemon refuses
//! changes with a clear error, keeps serving reads and displays, loses
//! nothing it acknowledged, and takes changes again by itself once writes
//! succeed.
//!
//! The full disk is a file size limit (RLIMIT_FSIZE) lowered on the running
//! daemon with `prlimit`: a write past it fails with EFBIG, as a full disk
//! fails with ENOSPC. Raising the limit again is the operator freeing space.

use std::process::Command;
use std::time::{Duration, Instant};

use hallq_client::client::ClientError;
use hallq_proto::types::{Lane, TicketNo};
use hallq_proto::wire::DisplayUpdate;
use hallq_tests::{item, next_update, waiting, TestHall, ADMIN, DISPLAY, KIOSK, STEP_TIMEOUT};

/// Sets the daemon's soft file size limit (`unlimited` or bytes); the hard
/// limit stays unlimited, so raising it again needs no privilege.
fn limit_file_size(pid: u32, limit: &str) {
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--fsize={limit}:unlimited"),
        ])
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit failed: {status}");
}

#[tokio::test]
async fn a_full_disk_refuses_changes_serves_reads_and_recovers() {
    let hall = TestHall::new().expect("test hall");
    let mut daemon = hall.start().expect("start hallqd");
    let kiosk = daemon.connect(KIOSK).await;
    let admin = daemon.connect(ADMIN).await;
    let mut acked: Vec<TicketNo> = Vec::new();
    for _ in 0..3 {
        let t = kiosk
            .issue(item('A'), Lane::WalkIn, None)
            .await
            .expect("issue");
        acked.push(t.ticket);
    }

    // Room for a few more records, then the "disk" is full.
    let journal = hall.newest_journal().expect("journal file");
    let size = std::fs::metadata(&journal).expect("journal size").len();
    limit_file_size(daemon.pid(), &(size + 400).to_string());
    let mut refusal = None;
    for _ in 0..50 {
        match kiosk.issue(item('A'), Lane::WalkIn, None).await {
            Ok(t) => acked.push(t.ticket),
            Err(ClientError::Refused(reply)) => {
                refusal = Some(reply);
                break;
            }
            Err(e) => panic!("unexpected error while the disk fills: {e}"),
        }
    }
    let refusal = refusal.expect("the journal never filled up");
    assert_eq!(refusal.code, "storage_failed", "{refusal:?}");
    assert!(refusal.message.contains("journal"), "{}", refusal.message);

    // Reads and displays go on while changes are refused.
    let status = admin.status().await.expect("status while the disk is full");
    let listed: Vec<String> = waiting(&status).into_iter().map(|(t, _)| t).collect();
    let expected: Vec<String> = acked.iter().map(|t| t.to_string()).collect();
    assert_eq!(listed, expected, "exactly the acknowledged tickets");
    let display = daemon.connect(DISPLAY).await;
    let mut stream = display.watch().await.expect("watch while the disk is full");
    assert!(matches!(
        next_update(&mut stream).await,
        DisplayUpdate::Snapshot { .. }
    ));
    let refused_again = kiosk.issue(item('A'), Lane::WalkIn, None).await;
    assert!(
        matches!(&refused_again, Err(ClientError::Refused(r)) if r.code == "storage_failed"),
        "{refused_again:?}"
    );
    assert!(daemon.stderr().contains("journal"), "a loud log line");

    // Space again: the daemon takes changes by itself.
    limit_file_size(daemon.pid(), "unlimited");
    let deadline = Instant::now() + STEP_TIMEOUT;
    let next = loop {
        match kiosk.issue(item('A'), Lane::WalkIn, None).await {
            Ok(t) => break t,
            Err(ClientError::Refused(r)) if r.code == "storage_failed" => {
                assert!(Instant::now() < deadline, "no recovery: {}", r.message);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("unexpected error after the disk has room: {e}"),
        }
    };
    assert_eq!(
        next.ticket.seq,
        acked.last().expect("some acked").seq + 1,
        "the refused tickets left no gap and no reused number"
    );
    acked.push(next.ticket);

    // And all of it survives a restart.
    daemon.stop().expect("stop");
    let daemon = hall.start().expect("restart");
    let admin = daemon.connect(ADMIN).await;
    let status = admin.status().await.expect("status after restart");
    let listed: Vec<String> = waiting(&status).into_iter().map(|(t, _)| t).collect();
    let expected: Vec<String> = acked.iter().map(|t| t.to_string()).collect();
    assert_eq!(listed, expected);
}

/// Whether the hall's journal takes records now, as `admin health` says.
async fn journal_writable(admin: &hallq_client::client::Client) -> bool {
    match admin
        .request(&hallq_proto::wire::Request::Health)
        .await
        .expect("admin health")
    {
        hallq_proto::wire::Response::Health(report) => report.halls[0].journal_writable,
        other => panic!("unexpected answer to health: {other:?}"),
    }
}

/// Issue 19 item 1: with the journal full, every role's reads go on — a
/// kiosk's `status`, a new kiosk connection, a display subscribed before the
/// fault — and only changes are refused, with `storage_failed` (not
/// `not_owner`). The hall stays refused while the limit holds, although a
/// probe record would fit (no writable/failed flip-flop), and the display
/// subscribed before the fault is never dropped, through the failure and
/// the recovery: it is sent the first ticket issued afterwards.
#[tokio::test]
async fn a_full_disk_keeps_every_read_and_display_and_does_not_flip_flop() {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("start hallqd");
    let kiosk = daemon.connect(KIOSK).await;
    let admin = daemon.connect(ADMIN).await;
    let display = daemon.connect(DISPLAY).await;
    let mut stream = display.watch().await.expect("watch");
    assert!(matches!(
        next_update(&mut stream).await,
        DisplayUpdate::Snapshot { .. }
    ));
    let first = kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("issue");
    assert!(matches!(
        next_update(&mut stream).await,
        DisplayUpdate::Change { .. }
    ));

    // Room for a probe record (a few dozen bytes) but not much more.
    let journal = hall.newest_journal().expect("journal file");
    let size = std::fs::metadata(&journal).expect("journal size").len();
    limit_file_size(daemon.pid(), &(size + 200).to_string());
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut issued = vec![first.ticket];
    loop {
        assert!(Instant::now() < deadline, "the journal never filled up");
        match kiosk.issue(item('A'), Lane::WalkIn, None).await {
            Ok(t) => {
                issued.push(t.ticket);
                // Each acknowledged ticket reaches the display.
                assert!(matches!(
                    next_update(&mut stream).await,
                    DisplayUpdate::Change { .. }
                ));
            }
            Err(ClientError::Refused(r)) => {
                assert_eq!(r.code, "storage_failed", "{r:?}");
                break;
            }
            Err(e) => panic!("unexpected error while the disk fills: {e}"),
        }
    }

    // Reads by a kiosk, on its open connection and on a new one.
    let status = kiosk.status().await.expect("a kiosk's status, disk full");
    let listed: Vec<String> = waiting(&status).into_iter().map(|(t, _)| t).collect();
    let expected: Vec<String> = issued.iter().map(|t| t.to_string()).collect();
    assert_eq!(listed, expected, "exactly the acknowledged tickets");
    let another = daemon
        .client(KIOSK)
        .await
        .expect("a new kiosk connection while the disk is full");
    another.status().await.expect("its status");
    let refused = another.issue(item('A'), Lane::WalkIn, None).await;
    assert!(
        matches!(&refused, Err(ClientError::Refused(r)) if r.code == "storage_failed"),
        "{refused:?}"
    );
    // A new display too.
    let display2 = daemon.connect(DISPLAY).await;
    let mut stream2 = display2.watch().await.expect("a new display, disk full");
    assert!(matches!(
        next_update(&mut stream2).await,
        DisplayUpdate::Snapshot { .. }
    ));

    // The daemon retries every 2 s; over three tries (and a probe record
    // would fit each time) the hall stays refused, reported so throughout.
    for _ in 0..8 {
        assert!(!journal_writable(&admin).await, "flipped to writable");
        let r = kiosk.issue(item('A'), Lane::WalkIn, None).await;
        assert!(
            matches!(&r, Err(ClientError::Refused(e)) if e.code == "storage_failed"),
            "{r:?}"
        );
        tokio::time::sleep(Duration::from_millis(750)).await;
    }

    // Room again: the first ticket issued afterwards reaches the display
    // subscribed before the fault, as an ordinary change.
    limit_file_size(daemon.pid(), "unlimited");
    let deadline = Instant::now() + STEP_TIMEOUT;
    let next = loop {
        match kiosk.issue(item('A'), Lane::WalkIn, None).await {
            Ok(t) => break t,
            Err(ClientError::Refused(r)) if r.code == "storage_failed" => {
                assert!(Instant::now() < deadline, "no recovery: {}", r.message);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("unexpected error after the disk has room: {e}"),
        }
    };
    assert_eq!(next.ticket.seq, issued.last().expect("issued").seq + 1);
    for s in [&mut stream, &mut stream2] {
        match next_update(s).await {
            DisplayUpdate::Change { items, .. } => {
                let a = items.iter().find(|(i, _)| *i == item('A')).expect("item A");
                let waiting: u32 = a.1.iter().sum();
                assert_eq!(waiting as usize, issued.len() + 1, "{items:?}");
            }
            other => panic!("the display was not kept: {other:?}"),
        }
    }
}
