//! Unit tests of the journal: framing, replay rules, group commit, failures.
//! Real files in temporary directories; no sleeps.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::file::path_for;
use super::storage::{faults, FileSystem};
use super::*;

const DAY1: &str = "2026-11-22";
const DAY2: &str = "2026-11-23";

/// A payload that differs per `i` in content and length.
fn payload(i: usize) -> Vec<u8> {
    (0..(i % 37) + 1).map(|k| (i * 31 + k) as u8).collect()
}

type Seen = Arc<Mutex<Vec<(u64, usize)>>>;

/// A commit hook that records what it is told.
fn recording_hook() -> (OnCommit<usize>, Seen) {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let hook = Box::new(move |batch: Vec<(u64, usize)>| {
        sink.lock().unwrap().extend(batch);
    });
    (hook, seen)
}

fn noop_hook() -> OnCommit<usize> {
    Box::new(|_| {})
}

/// Opens `dir`, appends `payloads` on `day` (tag = index), waits for all
/// acks, closes. Returns the seqs.
fn append_all(dir: &Path, day: &str, payloads: &[Vec<u8>]) -> Vec<u64> {
    let replay = open(dir).unwrap();
    let journal = Journal::start(&replay, day, noop_hook()).unwrap();
    let h = journal.handle();
    let rxs: Vec<_> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| h.append(p.clone(), day, i))
        .collect();
    let seqs = rxs
        .into_iter()
        .map(|rx| rx.blocking_recv().unwrap().unwrap())
        .collect();
    journal.close().unwrap();
    seqs
}

fn payloads(r: &Replay) -> Vec<Vec<u8>> {
    r.records.iter().map(|r| r.payload.clone()).collect()
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).unwrap().len()
}

fn append_bytes(p: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(p)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

fn flip_byte(p: &Path, at: u64) {
    let mut bytes = fs::read(p).unwrap();
    bytes[at as usize] ^= 0x40;
    fs::write(p, bytes).unwrap();
}

/// Asserts a `Corrupt` error naming `file` and `offset`, and a usable message.
fn assert_corrupt(err: JournalError, file: &Path, offset: u64) {
    let msg = err.to_string();
    match err {
        JournalError::Corrupt {
            file: f, offset: o, ..
        } => {
            assert_eq!((f.as_path(), o), (file, offset), "{msg}");
            assert!(msg.contains(&file.display().to_string()), "{msg}");
            assert!(msg.contains(&format!("at byte {offset}")), "{msg}");
            assert!(msg.contains("refusing to start"), "{msg}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn round_trip_across_two_days() {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<_> = (0..30).map(payload).collect();
    let second: Vec<_> = (30..50).map(payload).collect();

    let replay = open(dir.path()).unwrap();
    assert_eq!((replay.next_seq, replay.last_day.clone()), (0, None));
    let (hook, seen) = recording_hook();
    let journal = Journal::start(&replay, DAY1, hook).unwrap();
    let h = journal.handle();
    let mut rxs = Vec::new();
    for (i, p) in first.iter().enumerate() {
        rxs.push(h.append(p.clone(), DAY1, i));
    }
    for (i, p) in second.iter().enumerate() {
        rxs.push(h.append(p.clone(), DAY2, 30 + i));
    }
    let seqs: Vec<u64> = rxs
        .into_iter()
        .map(|rx| rx.blocking_recv().unwrap().unwrap())
        .collect();
    journal.close().unwrap();
    assert_eq!(seqs, (0..50).collect::<Vec<u64>>());
    let tags: Vec<usize> = seen.lock().unwrap().iter().map(|&(_, t)| t).collect();
    assert_eq!(tags, (0..50).collect::<Vec<usize>>());

    // Both files are kept; replay sees everything in order.
    assert!(path_for(dir.path(), DAY1).exists());
    assert!(path_for(dir.path(), DAY2).exists());
    let replay = open(dir.path()).unwrap();
    let all: Vec<_> = first.iter().chain(&second).cloned().collect();
    assert_eq!(payloads(&replay), all);
    assert!(replay.truncated.is_none());
    assert_eq!(replay.next_seq, 50);
    assert_eq!(replay.last_day.as_deref(), Some(DAY2));
    for (i, r) in replay.records.iter().enumerate() {
        assert_eq!(r.seq, i as u64);
        assert_eq!(&*r.day, if i < 30 { DAY1 } else { DAY2 });
    }
    assert_eq!(replay.records[0].offset, FILE_HEADER_LEN as u64);
    assert_eq!(replay.records[30].offset, FILE_HEADER_LEN as u64);
    assert_eq!(&*replay.records[30].file, path_for(dir.path(), DAY2));

    // Seqs continue across a restart.
    assert_eq!(append_all(dir.path(), DAY2, &[b"more".to_vec()]), vec![50]);
}

#[test]
fn group_commit_batches_concurrent_appends() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 250;
    let dir = tempfile::tempdir().unwrap();
    let replay = open(dir.path()).unwrap();
    // The hook blocks the writer in its first commit until all producers have
    // queued everything, so the rest must be drained as a batch; no timing.
    let (gate_tx, gate_rx) = crossbeam::channel::bounded::<()>(0);
    let seen: Arc<Mutex<Vec<(u64, usize)>>> = Arc::default();
    let sink = seen.clone();
    let hook: OnCommit<usize> = Box::new(move |batch| {
        let _ = gate_rx.recv(); // returns at once after the gate is dropped
        sink.lock().unwrap().extend(batch);
    });
    let journal = Journal::start(&replay, DAY1, hook).unwrap();

    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let h = journal.handle();
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|i| {
                        let tag = t * PER_THREAD + i;
                        (tag, h.append(payload(tag), DAY1, tag))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let receivers: Vec<_> = producers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    drop(gate_tx);

    let mut seq_of_tag = vec![0u64; THREADS * PER_THREAD];
    for (tag, rx) in receivers {
        seq_of_tag[tag] = rx.blocking_recv().unwrap().unwrap();
    }
    let h = journal.handle();
    let stats = h.stats();
    journal.close().unwrap();

    let n = (THREADS * PER_THREAD) as u64;
    assert_eq!(stats.records, n);
    // One batch for whatever arrived first, one for the rest.
    assert!(stats.batches <= 2, "{stats:?}");
    assert!(stats.fsyncs < stats.records, "{stats:?}");
    // Seqs are unique and dense.
    let mut sorted = seq_of_tag.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..n).collect::<Vec<_>>());
    // The hook saw every tag once, in seq order, matching the acks.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len() as u64, n);
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(seen.iter().all(|&(seq, tag)| seq_of_tag[tag] == seq));
    // Each producer's appends keep their order.
    for t in 0..THREADS {
        let own = &seq_of_tag[t * PER_THREAD..(t + 1) * PER_THREAD];
        assert!(own.windows(2).all(|w| w[0] < w[1]));
    }
    // And the file agrees.
    let replay = open(dir.path()).unwrap();
    for (seq, tag) in seen.iter() {
        assert_eq!(replay.records[*seq as usize].payload, payload(*tag));
    }
}

#[test]
fn torn_last_record_is_cut_at_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let written: Vec<_> = (0..5).map(payload).collect();
    append_all(dir.path(), DAY1, &written);
    let path = path_for(dir.path(), DAY1);
    let pristine = fs::read(&path).unwrap();
    let last_start = open(dir.path()).unwrap().records[4].offset;
    // A torn record is one never acknowledged: the marker counts 4.
    fs::write(marker::path_in(dir.path()), marker::entry(4)).unwrap();

    for cut in last_start..pristine.len() as u64 {
        fs::write(&path, &pristine[..cut as usize]).unwrap();
        let replay = open(dir.path()).unwrap();
        assert_eq!(payloads(&replay), written[..4], "cut at {cut}");
        assert_eq!(file_len(&path), last_start, "cut at {cut}");
        let expected = (cut > last_start).then(|| TruncatedTail {
            file: path.clone(),
            offset: last_start,
            dropped_bytes: cut - last_start,
        });
        assert_eq!(replay.truncated, expected, "cut at {cut}");
    }

    // After the repair the journal appends where the good data ends.
    assert_eq!(append_all(dir.path(), DAY1, &[b"after".to_vec()]), vec![4]);
    let replay = open(dir.path()).unwrap();
    assert!(replay.truncated.is_none());
    assert_eq!(replay.records.len(), 5);
    assert_eq!(replay.records[4].payload, b"after");
}

#[test]
fn torn_file_header_of_last_file_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    append_all(dir.path(), DAY1, &[payload(1)]);
    let path2 = path_for(dir.path(), DAY2);
    for len in 0..=FILE_HEADER_LEN {
        // A prefix of the header, or zeros as a crash may leave.
        let mut torn = record::file_header()[..len].to_vec();
        if len == FILE_HEADER_LEN {
            torn = vec![0; len];
        }
        fs::write(&path2, &torn).unwrap();
        let replay = open(dir.path()).unwrap();
        assert_eq!(replay.records.len(), 1, "len {len}");
        assert_eq!(replay.last_day.as_deref(), Some(DAY2));
        let t = replay.truncated.clone().unwrap();
        assert_eq!(
            (t.file, t.offset, t.dropped_bytes),
            (path2.clone(), 0, len as u64)
        );
        assert_eq!(fs::read(&path2).unwrap(), record::file_header());
    }
    // The repaired file is a normal, empty day file.
    assert_eq!(append_all(dir.path(), DAY2, &[payload(2)]), vec![1]);
    assert_eq!(open(dir.path()).unwrap().records.len(), 2);
}

#[test]
fn garbage_tails_are_cut() {
    let tails: [&[u8]; 4] = [
        // Shorter than a record header.
        &[0xde, 0xad, 0xbe],
        // A header with a huge length.
        &[0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 9, 9],
        // A plausible length running past EOF.
        &[100, 0, 0, 0, 1, 2, 3, 4, 5, 6],
        // Zero fill (allocated but never written blocks).
        &[0; 64],
    ];
    for tail in tails {
        let dir = tempfile::tempdir().unwrap();
        append_all(dir.path(), DAY1, &[payload(1), payload(2)]);
        let path = path_for(dir.path(), DAY1);
        let good_len = file_len(&path);
        append_bytes(&path, tail);
        let replay = open(dir.path()).unwrap();
        assert_eq!(payloads(&replay), vec![payload(1), payload(2)]);
        let t = replay.truncated.unwrap();
        assert_eq!((t.offset, t.dropped_bytes), (good_len, tail.len() as u64));
        assert_eq!(file_len(&path), good_len);
    }
}

#[test]
fn damaged_middle_record_is_corrupt_not_truncated() {
    // (byte within the record to flip, what it hits)
    for (delta, what) in [
        (9u64, "payload"),
        (4, "crc"),
        (0, "length low byte"),
        (3, "length high byte"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let written: Vec<_> = (0..5).map(payload).collect();
        append_all(dir.path(), DAY1, &written);
        let path = path_for(dir.path(), DAY1);
        let before = fs::read(&path).unwrap();
        let bad = open(dir.path()).unwrap().records[2].offset;
        flip_byte(&path, bad + delta);
        let err = open(dir.path()).unwrap_err();
        assert_corrupt(err, &path, bad);
        // Refusing must not have changed the file.
        assert_eq!(fs::read(&path).unwrap().len(), before.len(), "{what}");
    }
}

#[test]
fn defect_in_earlier_file_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    append_all(dir.path(), DAY1, &[payload(1), payload(2)]);
    append_all(dir.path(), DAY2, &[payload(3)]);
    let path1 = path_for(dir.path(), DAY1);
    let len1 = file_len(&path1);
    let last_start = open(dir.path()).unwrap().records[1].offset;

    // A torn tail is only forgiven in the newest file.
    OpenOptions::new()
        .write(true)
        .open(&path1)
        .unwrap()
        .set_len(len1 - 1)
        .unwrap();
    assert_corrupt(open(dir.path()).unwrap_err(), &path1, last_start);
    assert_eq!(file_len(&path1), len1 - 1, "must not be repaired");

    // Likewise a header-only defect of an earlier file.
    fs::write(&path1, b"HAL").unwrap();
    assert_corrupt(open(dir.path()).unwrap_err(), &path1, 0);
}

#[test]
fn wrong_magic_or_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    append_all(dir.path(), DAY1, &[payload(1)]);
    let path = path_for(dir.path(), DAY1);
    flip_byte(&path, 0);
    assert_corrupt(open(dir.path()).unwrap_err(), &path, 0);
    flip_byte(&path, 0);
    flip_byte(&path, 6); // version 1 -> 0x41
    let err = open(dir.path()).unwrap_err();
    assert!(
        matches!(err, JournalError::UnsupportedVersion { found: 0x41, .. }),
        "{err:?}"
    );
}

#[test]
fn stray_file_names() {
    let dir = tempfile::tempdir().unwrap();
    // Moved-aside files are ignored...
    fs::write(dir.path().join("journal-2026-11-22.log.bad"), b"junk").unwrap();
    assert!(open(dir.path()).unwrap().last_day.is_none());
    // ...a journal-looking name that is not a day is not.
    fs::write(dir.path().join("journal-today.log"), b"junk").unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, JournalError::StrayFile { .. }), "{err:?}");
}

#[test]
fn oversized_append_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let replay = open(dir.path()).unwrap();
    let journal = Journal::start(&replay, DAY1, noop_hook()).unwrap();
    let h = journal.handle();
    let err = h
        .append(vec![0; MAX_RECORD_LEN + 1], DAY1, 0)
        .blocking_recv()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, JournalError::TooLarge { len, max } if len == MAX_RECORD_LEN + 1 && max == MAX_RECORD_LEN)
    );
    // The limit itself is fine.
    let ok = h.append(vec![7; MAX_RECORD_LEN], DAY1, 1);
    assert_eq!(ok.blocking_recv().unwrap().unwrap(), 0);
    let stats = journal.close().unwrap();
    assert_eq!(stats.records, 1);
    let path = path_for(dir.path(), DAY1);
    assert_eq!(
        file_len(&path),
        (FILE_HEADER_LEN + RECORD_HEADER_LEN + MAX_RECORD_LEN) as u64
    );
    assert_eq!(
        open(dir.path()).unwrap().records[0].payload.len(),
        MAX_RECORD_LEN
    );
}

#[test]
fn bad_days_are_refused_and_journal_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let replay = open(dir.path()).unwrap();
    let journal = Journal::start(&replay, DAY2, noop_hook()).unwrap();
    let h = journal.handle();
    for day in [DAY1, "2026-13-01", "yesterday", "2026-11-2"] {
        let err = h.append(payload(0), day, 0).blocking_recv().unwrap();
        assert!(
            matches!(err, Err(JournalError::BadDay(_))),
            "{day}: {err:?}"
        );
    }
    assert_eq!(
        h.append(payload(1), DAY2, 1)
            .blocking_recv()
            .unwrap()
            .unwrap(),
        0
    );
    journal.close().unwrap();
    assert!(!path_for(dir.path(), DAY1).exists());

    // Starting on a day before the newest file is refused too.
    let replay = open(dir.path()).unwrap();
    let err = Journal::start(&replay, DAY1, noop_hook()).unwrap_err();
    assert!(matches!(err, JournalError::BadDay(_)), "{err:?}");
}

#[test]
fn fsync_failure_fails_the_batch_and_every_later_append() {
    let dir = tempfile::tempdir().unwrap();
    let replay = open(dir.path()).unwrap();
    let (hook, seen) = recording_hook();
    let journal = Journal::start(&replay, DAY1, hook).unwrap();
    let h = journal.handle();
    faults::fail_syncs_in(dir.path());
    let err = h
        .append(payload(1), DAY1, 1)
        .blocking_recv()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, JournalError::Io { .. }), "{err:?}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "hook must only see durable records"
    );
    // No retry: later appends fail at once, saying what to do.
    let err = h
        .append(payload(2), DAY1, 2)
        .blocking_recv()
        .unwrap()
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, JournalError::Failed(_)), "{err:?}");
    assert!(
        msg.contains("injected fsync failure") && msg.contains("recovered"),
        "{msg}"
    );
    assert!(matches!(journal.close(), Err(JournalError::Failed(_))));
    // The failed batch was cut off again: nothing its writer was told had
    // failed comes back on replay, and a new writer carries on.
    faults::heal_syncs_in(dir.path());
    let replay = open(dir.path()).unwrap();
    assert!(replay.records.is_empty(), "{:?}", replay.records.len());
    assert!(replay.truncated.is_none());
    let journal = Journal::start(&replay, DAY1, noop_hook()).unwrap();
    let seq = journal
        .handle()
        .append(payload(3), DAY1, 3)
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(seq, 0);
    journal.close().unwrap();
    assert_eq!(open(dir.path()).unwrap().records.len(), 1);
}

#[test]
fn failed_rotation_fails_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let replay = open(dir.path()).unwrap();
    let journal = Journal::start(&replay, DAY1, noop_hook()).unwrap();
    let h = journal.handle();
    // Something already sits where the new day's file must go.
    fs::create_dir(path_for(dir.path(), DAY2)).unwrap();
    let err = h
        .append(payload(1), DAY2, 1)
        .blocking_recv()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, JournalError::Io { .. }), "{err:?}");
    let err = h
        .append(payload(2), DAY1, 2)
        .blocking_recv()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, JournalError::Failed(_)), "{err:?}");
}

#[test]
fn shutdown_commits_what_was_queued_then_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let replay = open(dir.path()).unwrap();
    let journal = Journal::start(&replay, DAY1, noop_hook()).unwrap();
    let h = journal.handle();
    let queued: Vec<_> = (0..20).map(|i| h.append(payload(i), DAY1, i)).collect();
    let stats = journal.close().unwrap();
    assert_eq!(stats.records, 20);
    for (i, rx) in queued.into_iter().enumerate() {
        assert_eq!(rx.blocking_recv().unwrap().unwrap(), i as u64);
    }
    let err = h
        .append(payload(0), DAY1, 0)
        .blocking_recv()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, JournalError::Closed), "{err:?}");
    assert_eq!(open(dir.path()).unwrap().records.len(), 20);
}

#[test]
fn dropping_all_handles_stops_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let replay = open(dir.path()).unwrap();
    let journal = Journal::start(&replay, DAY1, noop_hook()).unwrap();
    let rx = journal.handle().append(payload(3), DAY1, 0);
    // The writer drains the queue, then sees every sender gone and exits.
    drop(journal);
    assert_eq!(rx.blocking_recv().unwrap().unwrap(), 0);
}

#[test]
fn start_refuses_a_file_changed_after_replay() {
    let dir = tempfile::tempdir().unwrap();
    append_all(dir.path(), DAY1, &[payload(1)]);
    let replay = open(dir.path()).unwrap();
    append_bytes(&path_for(dir.path(), DAY1), b"x");
    let err = Journal::start(&replay, DAY1, noop_hook()).unwrap_err();
    assert!(
        matches!(err, JournalError::ChangedSinceReplay { .. }),
        "{err:?}"
    );
}

#[test]
fn open_creates_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let hall: PathBuf = dir.path().join("halls").join("hall-1");
    let replay = open(&hall).unwrap();
    assert!(hall.is_dir());
    assert!(replay.records.is_empty());
}

#[test]
fn day_validation() {
    for ok in ["2026-11-22", "1999-01-31", "2030-12-01"] {
        assert!(validate_day(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "2026-1-22",
        "2026/11/22",
        "2026-00-10",
        "2026-11-32",
        "2026-11-22x",
        "２０２６-11-22",
    ] {
        assert!(validate_day(bad).is_err(), "{bad}");
    }
}

#[test]
fn header_only_file_of_another_version_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_for(dir.path(), DAY1);
    let mut header = record::file_header();
    header[6] = 2;
    fs::write(&path, header).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(
        matches!(err, JournalError::UnsupportedVersion { found: 2, .. }),
        "{err:?}"
    );
    assert_eq!(fs::read(&path).unwrap(), header);
}

// ----- issue 19: the journal cannot shrink silently -------------------------

/// Five acknowledged records, the marker saying so; returns the file and
/// the offset of the last record.
fn five_acknowledged(dir: &Path) -> (PathBuf, u64) {
    let written: Vec<_> = (0..5).map(payload).collect();
    append_all(dir, DAY1, &written);
    let replay = open(dir).unwrap();
    assert_eq!(replay.records.len(), 5);
    (path_for(dir, DAY1), replay.records[4].offset)
}

fn assert_shrunk(err: JournalError, acknowledged: u64, found: u64) -> String {
    match &err {
        JournalError::Shrunk {
            acknowledged: a,
            found: f,
            ..
        } => assert_eq!((*a, *f), (acknowledged, found), "{err}"),
        other => panic!("expected Shrunk, got {other:?}"),
    }
    err.to_string()
}

/// A flipped byte in the last, acknowledged record used to be taken for a
/// torn write and cut (one ticket lost). The marker says 5: refused, and
/// the file is left as it was.
#[test]
fn a_damaged_last_acknowledged_record_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let (path, last) = five_acknowledged(dir.path());
    flip_byte(&path, last + RECORD_HEADER_LEN as u64 + 1);
    let damaged = fs::read(&path).unwrap();
    let msg = assert_shrunk(open(dir.path()).unwrap_err(), 5, 4);
    assert!(msg.contains(&format!("byte {last}")), "{msg}");
    assert!(msg.contains("records 4..5"), "{msg}");
    assert_eq!(fs::read(&path).unwrap(), damaged, "nothing was cut");
}

/// The newest file emptied (0 bytes, or just its header) used to start an
/// empty hall that gave out A001 again.
#[test]
fn an_emptied_newest_file_refuses() {
    for keep in [0usize, FILE_HEADER_LEN] {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = five_acknowledged(dir.path());
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..keep]).unwrap();
        let msg = assert_shrunk(open(dir.path()).unwrap_err(), 5, 0);
        assert!(msg.contains(&format!("{keep} bytes")), "{msg}");
        assert_eq!(file_len(&path), keep as u64, "nothing was rewritten");
    }
}

/// A deleted journal file (the newest, or an older day's) is missing
/// acknowledged records too.
#[test]
fn a_deleted_journal_file_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = five_acknowledged(dir.path());
    fs::remove_file(&path).unwrap();
    let msg = assert_shrunk(open(dir.path()).unwrap_err(), 5, 0);
    assert!(msg.contains("every journal file is gone"), "{msg}");

    let dir = tempfile::tempdir().unwrap();
    append_all(dir.path(), DAY1, &[payload(0), payload(1)]);
    append_all(dir.path(), DAY2, &[payload(2)]);
    fs::remove_file(path_for(dir.path(), DAY1)).unwrap();
    assert_shrunk(open(dir.path()).unwrap_err(), 3, 1);
}

/// A journal written before markers existed (no `acked.mark`) starts as it
/// always did: a torn tail is cut. The next commit writes a marker.
#[test]
fn a_journal_without_a_marker_starts_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (path, last) = five_acknowledged(dir.path());
    fs::remove_file(marker::path_in(dir.path())).unwrap();
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let replay = open(dir.path()).unwrap();
    assert_eq!(replay.records.len(), 4);
    assert_eq!(file_len(&path), last);
    drop(replay);
    append_all(dir.path(), DAY1, &[b"after".to_vec()]);
    assert_eq!(marker::read(&FileSystem, dir.path()).unwrap(), Some(5));
}
