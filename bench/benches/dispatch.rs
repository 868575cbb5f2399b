//! The dispatch core alone, on one core: issue + call pairs and the
//! position/reminder upkeep, with 100, 10,000 and 100,000 tickets waiting
//! in one hall. The goal (issue #2): at least 1 million issue+call pairs per
//! second at 10,000 waiting, and per-operation cost within 2× from 100 to
//! 100,000 waiting.
//!
//! Run: `cargo bench -p hallq-bench --bench dispatch`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hallq_core::{Command, Hall, HallSpec, ItemSpec, WindowSpec};
use hallq_proto::types::{ItemCode, Lane, PriorityReason, TicketNo, Timestamp, WindowNo};

const SIZES: [usize; 3] = [100, 10_000, 100_000];
/// Iterations between resets to the prefilled hall, so the ticket table of
/// a bench run does not grow without bound (a real day has a few thousand).
const CHUNK: u64 = 50_000;

fn code(c: char) -> ItemCode {
    ItemCode::new(c).unwrap()
}

/// A hall like the demo: five items, seven windows with overlapping
/// mappings, one universal and one fallback window, all open.
fn hall() -> Hall {
    let items = "ABCDE"
        .chars()
        .map(|c| ItemSpec {
            code: code(c),
            name: format!("item {c}"),
            avg_service_secs: 300,
            daily_cap: None,
        })
        .collect();
    let window = |n: u16, items: &str, universal: bool, fallback: bool| WindowSpec {
        number: WindowNo(n),
        items: items.chars().map(code).collect(),
        universal,
        fallback,
    };
    let windows = vec![
        window(1, "AB", false, false),
        window(2, "A", false, false),
        window(3, "BC", false, false),
        window(4, "CD", false, false),
        window(5, "DE", false, false),
        window(6, "", true, false),
        window(7, "E", false, true),
    ];
    let mut spec = HallSpec::new(items, windows);
    spec.walk_in_every = Some(3);
    let mut hall = Hall::new(spec).unwrap();
    let t = Timestamp(1_000_000);
    hall.apply(Command::BeginDay { day: 20261122 }, t).unwrap();
    for n in 1..=7 {
        hall.apply(
            Command::OpenWindow {
                window: WindowNo(n),
            },
            t,
        )
        .unwrap();
    }
    hall
}

/// The visitor mix of the generator: mostly walk-ins, some priority,
/// a few appointments, spread over the items.
fn lane(i: u64) -> Lane {
    match i % 10 {
        0 => Lane::Appointment,
        1 => Lane::Priority(PriorityReason::Elderly),
        _ => Lane::WalkIn,
    }
}

fn item(i: u64) -> ItemCode {
    code((b'A' + (i % 5) as u8) as char)
}

/// A hall with `waiting` tickets in line.
fn prefilled(waiting: usize) -> Hall {
    let mut hall = hall();
    for i in 0..waiting as u64 {
        hall.apply(
            Command::Issue {
                item: item(i),
                lane: lane(i),
                phone: None,
            },
            Timestamp(1_000_000),
        )
        .unwrap();
    }
    hall
}

/// Runs `op` `iters` times on clones of `base`, timing only `op`.
fn timed(base: &Hall, iters: u64, mut op: impl FnMut(&mut Hall, u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let chunk = CHUNK.min(iters - done);
        let mut hall = base.clone();
        // A clone's tables are exactly full: the first push would copy the
        // whole ticket table (at 100,000 waiting, ~12 MB) inside the timed
        // loop — an artefact of cloning, not a cost a running hall has. One
        // untimed operation takes that copy out of the measurement.
        op(&mut hall, u64::MAX / 2 + done);
        #[allow(clippy::disallowed_methods)] // benchmarks measure wall time
        let start = Instant::now();
        for i in done..done + chunk {
            op(&mut hall, i);
        }
        total += start.elapsed();
        drop(black_box(hall));
        done += chunk;
    }
    total
}

fn issue_and_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("issue_call_pair");
    group.throughput(Throughput::Elements(1));
    for waiting in SIZES {
        let base = prefilled(waiting);
        group.bench_with_input(BenchmarkId::from_parameter(waiting), &base, |b, base| {
            b.iter_custom(|iters| {
                timed(base, iters, |hall, i| {
                    // The clock moves a little with every visitor.
                    let now = Timestamp(1_000_000 + i);
                    let issued = hall
                        .apply(
                            Command::Issue {
                                item: item(i),
                                lane: lane(i),
                                phone: None,
                            },
                            now,
                        )
                        .unwrap();
                    black_box(issued);
                    // Windows take turns; one whose items happen to have run
                    // dry passes the turn on, as an idle terminal would.
                    let window = (0..7)
                        .map(|k| WindowNo(1 + ((i + k) % 7) as u16))
                        .find(|&window| {
                            black_box(hall.apply(Command::CallNext { window }, now)).is_ok()
                        })
                        .expect("some window has a ticket to call");
                    hall.apply(
                        Command::Finish {
                            window,
                            rating: None,
                        },
                        now,
                    )
                    .unwrap();
                })
            })
        });
    }
    group.finish();
}

fn upkeep(c: &mut Criterion) {
    // Pausing and resuming a window moves the §7.3.5 threshold of every
    // item it serves (the universal window: all five): the reminder upkeep
    // at its widest.
    let mut group = c.benchmark_group("pause_resume_upkeep");
    for waiting in SIZES {
        let base = prefilled(waiting);
        group.bench_with_input(BenchmarkId::from_parameter(waiting), &base, |b, base| {
            b.iter_custom(|iters| {
                timed(base, iters, |hall, i| {
                    let now = Timestamp(1_000_000 + i);
                    let window = WindowNo(6);
                    hall.apply(
                        Command::Pause {
                            window,
                            reason: String::new(),
                        },
                        now,
                    )
                    .unwrap();
                    black_box(hall.apply(Command::Resume { window }, now).unwrap());
                })
            })
        });
    }
    group.finish();

    // A visitor asks how many are ahead: O(log n) in the line's length.
    let mut group = c.benchmark_group("position_query");
    for waiting in SIZES {
        let hall = prefilled(waiting);
        // The last walk-in of item A: the longest walk from the root.
        let last_a = (0..waiting as u64).filter(|i| i % 5 == 0).count().max(1) as u32;
        let ticket = TicketNo {
            item: code('A'),
            seq: last_a,
        };
        group.bench_with_input(BenchmarkId::from_parameter(waiting), &hall, |b, hall| {
            b.iter(|| black_box(hall.position(black_box(ticket)).unwrap()))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = issue_and_call, upkeep
}
criterion_main!(benches);
