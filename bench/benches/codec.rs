//! The frame codec alone: how long encoding and decoding one message takes,
//! for the messages that dominate a hall's traffic — a kiosk's issue
//! request and its answer, a window's call answer, and the display update a
//! call produces (encoded once, decoded by every display).
//!
//! Run: `cargo bench -p hallq-bench --bench codec`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use hallq_proto::codec::{decode, encode};
use hallq_proto::types::{ItemCode, Lane, Post, StaffId, TicketNo, Timestamp, WindowNo};
use hallq_proto::views::{WindowState, WindowView};
use hallq_proto::wire::{CallShown, DisplayUpdate, IssuedTicket, Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn a() -> ItemCode {
    ItemCode::new('A').unwrap()
}

fn window_view(n: u16) -> WindowView {
    WindowView {
        number: WindowNo(n),
        state: WindowState::Open,
        current: Some(TicketNo { item: a(), seq: 12 }),
        serving: false,
        staff: Some((StaffId::new("S1024").unwrap(), Post::A)),
        items: vec![a(), ItemCode::new('B').unwrap()],
        universal: false,
        fallback: false,
    }
}

fn bench_message<T>(c: &mut Criterion, name: &str, message: T)
where
    T: Serialize + DeserializeOwned,
{
    let frame = encode(&message).unwrap();
    let mut group = c.benchmark_group(format!("codec/{name} ({} bytes)", frame.len()));
    group.bench_function("encode", |b| {
        b.iter(|| encode(black_box(&message)).unwrap())
    });
    group.bench_function("decode", |b| {
        b.iter(|| decode::<T>(black_box(&frame[4..])).unwrap())
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    let ticket = TicketNo { item: a(), seq: 12 };
    bench_message(
        c,
        "issue request",
        Request::Issue {
            item: a(),
            lane: Lane::WalkIn,
            phone: Some("13800138000".into()),
        },
    );
    bench_message(
        c,
        "issued answer",
        Response::Issued(IssuedTicket {
            ticket,
            item_name: "社保".into(),
            lane: Lane::WalkIn,
            position: 17,
            windows: vec![WindowNo(1), WindowNo(2), WindowNo(6)],
            eta_secs: Some(1700),
            approaching: false,
            issued_at: Timestamp(1_795_311_136_625),
        }),
    );
    bench_message(
        c,
        "call answer",
        Response::Window {
            action: "call".into(),
            ticket: Some(ticket),
            announcement: Some("请A012号到3号窗口办理".into()),
            window: window_view(3),
        },
    );
    bench_message(
        c,
        "display change",
        DisplayUpdate::Change {
            seq: 123_456,
            calls: vec![CallShown {
                ticket,
                window: WindowNo(3),
                announcement: "请A012号到3号窗口办理".into(),
                recall: false,
                at: Timestamp(1_795_311_136_625),
            }],
            windows: vec![window_view(3)],
            items: vec![(a(), [0, 2, 15])],
            issuing: None,
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = codec
}
criterion_main!(benches);
