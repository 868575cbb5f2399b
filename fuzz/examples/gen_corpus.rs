//! Writes the seed corpus under `fuzz/corpus/` (run once, output committed):
//! `cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus`.
//! Valid encodings of each message type, a small journal, and the example
//! configs; the hand-made edge cases sit beside them with an `edge-` prefix.

use std::fs;
use std::path::Path;

use hallq_proto::codec;
use hallq_proto::wire::{
    DisplayUpdate, ErrorReply, Hello, NotifierMessage, Request, Response, Target, WindowAction,
};
use hallq_proto::types::{ItemCode, Lane, PriorityReason, Timestamp, WindowNo};
use hallq_core::Event;
use hallq_daemon::journal::{FORMAT_VERSION, MAGIC};
use hallq_daemon::journal::Entry;

fn requests() -> Vec<Request> {
    let a = ItemCode::new('A').unwrap();
    vec![
        Request::Issue {
            item: a,
            lane: Lane::WalkIn,
            phone: Some("13800138000".into()),
        },
        Request::Issue {
            item: ItemCode::new('C').unwrap(),
            lane: Lane::Priority(PriorityReason::Elderly),
            phone: None,
        },
        Request::Window {
            window: Some(WindowNo(3)),
            action: WindowAction::Call { ticket: None },
        },
        Request::Window {
            window: None,
            action: WindowAction::Transfer {
                to: Target::Item(a),
            },
        },
        Request::Window {
            window: None,
            action: WindowAction::Pause {
                reason: "午休".into(),
            },
        },
        Request::Status,
        Request::Watch,
        Request::Notifications,
        Request::Health,
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn payload<T: serde::Serialize>(value: &T) -> Vec<u8> {
    codec::encode(value).unwrap()[4..].to_vec()
}

fn record(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(payload);
    let mut out = len.to_vec();
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");

    // frame: a chunk-size byte, then frames back to back.
    let dir = root.join("frame");
    let all: Vec<u8> = requests()
        .iter()
        .flat_map(|r| codec::encode(r).unwrap().to_vec())
        .collect();
    for (chunk, name) in [(255u8, "all-requests"), (3, "all-requests-chunked")] {
        let mut input = vec![chunk];
        input.extend_from_slice(&all);
        write(&dir, name, &input);
    }
    for (i, r) in requests().iter().enumerate() {
        let mut input = vec![16u8];
        input.extend_from_slice(&codec::encode(r).unwrap());
        write(&dir, &format!("request-{i}"), &input);
    }

    // request: bare payloads of every message type.
    let dir = root.join("request");
    for (i, r) in requests().iter().enumerate() {
        write(&dir, &format!("request-{i}"), &payload(r));
    }
    let hello = Hello {
        token: "e2e-kiosk-token-000001".into(),
        hall: Some("main".into()),
        client: "hallq 0.1.0".into(),
    };
    write(&dir, "hello", &payload(&hello));
    write(
        &dir,
        "response-error",
        &payload(&Response::Error(ErrorReply::new("forbidden", "a kiosk token may not do this"))),
    );
    write(&dir, "response-watching", &payload(&Response::Watching));
    write(
        &dir,
        "notifier-ack",
        &payload(&NotifierMessage::Ack { id: "17".into() }),
    );
    write(
        &dir,
        "notifier-failed",
        &payload(&NotifierMessage::Failed {
            id: "18".into(),
            reason: "gateway 500".into(),
        }),
    );
    write(
        &dir,
        "display-dropped",
        &payload(&DisplayUpdate::Dropped {
            reason: "fell behind".into(),
        }),
    );

    // journal: flag byte 1 (prepend the header) + records; and a whole file.
    let dir = root.join("journal");
    let entries = [
        Entry::Events(vec![
            Event::WindowOpened {
                window: WindowNo(1),
                at: Timestamp(1_772_409_600_000),
            },
            Event::IssuingClosed {
                at: Timestamp(1_772_445_600_000),
            },
        ]),
        Entry::Acked(3),
        Entry::NotificationFailed {
            n: 4,
            reason: "gateway gave up".into(),
        },
        Entry::Probe,
    ];
    let mut records = Vec::new();
    for entry in &entries {
        records.extend_from_slice(&record(&codec::encode_record(entry).unwrap()));
    }
    let mut input = vec![1u8];
    input.extend_from_slice(&records);
    write(&dir, "records", &input);
    let mut input = vec![0u8];
    input.extend_from_slice(&MAGIC);
    input.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    input.extend_from_slice(&records);
    write(&dir, "whole-file", &input);
    // Torn tail: the last record cut in half.
    let mut input = vec![1u8];
    input.extend_from_slice(&records[..records.len() - 3]);
    write(&dir, "torn-tail", &input);
    // Structured mode (bit 1): payloads framed by the harness.
    let mut input = vec![3u8];
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            input.extend_from_slice(&[0xFF, 0xFE]);
        }
        input.extend_from_slice(&codec::encode_record(entry).unwrap());
    }
    write(&dir, "structured", &input);
    // Two files (bit 2), split after the header and the first record.
    let mut input = vec![5u8, 2];
    input.extend_from_slice(&records);
    write(&dir, "two-files", &input);

    // config: the shipped examples.
    let dir = root.join("config");
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    for name in ["hallq.toml", "demo.toml"] {
        write(&dir, name, &fs::read(configs.join(name)).unwrap());
    }
}
