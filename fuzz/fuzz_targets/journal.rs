//! The journal reader at start: arbitrary bytes as a hall's journal files,
//! then `journal::open` and every record decoded as a `journal::Entry`, as
//! `hallqd` does before it replays.
//!
//! Properties: nothing panics and nothing allocates without bound (a damaged
//! length is refused before its buffer exists); corrupt input is an error,
//! a torn tail is cut; and opening the repaired directory again finds the
//! same records and nothing left to cut (repair is idempotent).
//!
//! Input: one flag byte, then the file bytes.
//! - bit 0: prepend a valid file header (so the fuzzer need not find it);
//! - bit 1: treat the rest as payloads separated by `0xFF 0xFE` and frame
//!   each with a correct length and CRC (so it reaches the record decoder
//!   instead of the checksum), then append whatever follows a `0xFF 0xFD`
//!   marker as a raw tail;
//! - bit 2: split the bytes into two files (an earlier and the newest day),
//!   at the offset in the next byte (times 8).

#![no_main]

use hallq_proto::codec;
use hallq_daemon::journal::{self, FORMAT_VERSION, MAGIC};
use hallq_daemon::journal::Entry;
use libfuzzer_sys::fuzz_target;

fn header() -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

fn framed(body: &[u8]) -> Vec<u8> {
    let (records, tail) = match body.windows(2).position(|w| w == [0xFF, 0xFD]) {
        Some(i) => (&body[..i], &body[i + 2..]),
        None => (body, &[][..]),
    };
    let mut out = Vec::new();
    let mut rest = records;
    loop {
        let (payload, next) = match rest.windows(2).position(|w| w == [0xFF, 0xFE]) {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        };
        let len = (payload.len() as u32).to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len);
        crc.update(payload);
        out.extend_from_slice(&len);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(payload);
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    out.extend_from_slice(tail);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut body)) = data.split_first() else {
        return;
    };
    let mut split = None;
    if flags & 4 != 0 {
        if let Some((&at, rest)) = body.split_first() {
            split = Some(usize::from(at) * 8);
            body = rest;
        }
    }
    let mut bytes = if flags & 2 != 0 {
        framed(body)
    } else {
        body.to_vec()
    };
    if flags & 1 != 0 {
        let mut with_header = header();
        with_header.extend_from_slice(&bytes);
        bytes = with_header;
    }

    // On tmpfs where there is one: the reader's fsyncs then cost nothing.
    let dir = match std::path::Path::new("/dev/shm") {
        shm if shm.is_dir() => tempfile::tempdir_in(shm),
        _ => tempfile::tempdir(),
    }
    .expect("temp dir");
    let newest = dir.path().join("journal-2026-03-02.log");
    match split {
        Some(at) if at < bytes.len() => {
            let (older, newer) = bytes.split_at(at);
            std::fs::write(dir.path().join("journal-2026-03-01.log"), older).unwrap();
            std::fs::write(&newest, newer).unwrap();
        }
        _ => std::fs::write(&newest, &bytes).unwrap(),
    }

    let first = match journal::open(dir.path()) {
        Ok(replay) => replay,
        Err(e) => {
            // A refusal names the file it is about and leaves it alone
            // (nothing acknowledged may be dropped silently).
            let _ = e.to_string();
            return;
        }
    };
    for record in &first.records {
        assert!(record.payload.len() <= journal::MAX_RECORD_LEN);
        match codec::decode_record::<Entry>(&record.payload) {
            Ok(entry) => {
                // What decodes re-encodes to a record that decodes alike.
                let again = codec::encode_record(&entry).expect("re-encodes");
                codec::decode_record::<Entry>(&again).expect("decodes again");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    // Repair happened once: the second open sees a clean journal.
    let second = journal::open(dir.path()).expect("a repaired journal opens");
    assert!(
        second.truncated.is_none(),
        "second open cut again: {:?} after {:?}",
        second.truncated,
        first.truncated
    );
    assert_eq!(second.records, first.records);
    assert_eq!(second.next_seq, first.next_seq);
});
