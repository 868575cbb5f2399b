//! The journal alone: group commit on this machine's disk. Each iteration
//! queues `batch` records of 128 bytes (about one issue's events) at once
//! and waits until all are durable, as `batch` requests arriving together
//! would. Criterion reports records/s; the lines printed after each group
//! add fsyncs/s and records per fsync from the writer's own counters.
//!
//! Run: `cargo bench -p hallq-bench --bench journal`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hallq_daemon::journal::{self, Journal};

const BATCHES: [u64; 5] = [1, 16, 128, 1024, 4096];
const RECORD: usize = 128;

fn journal(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let replay = journal::open(dir.path()).unwrap();
    let journal: Journal<()> = Journal::start(&replay, "2026-11-22", Box::new(|_| {})).unwrap();
    let handle = journal.handle();
    let mut group = c.benchmark_group("journal/append+fsync");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    let mut summary = Vec::new();
    for batch in BATCHES {
        group.throughput(Throughput::Elements(batch));
        let (mut records, mut fsyncs, mut spent) = (0u64, 0u64, Duration::ZERO);
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            b.iter_custom(|iters| {
                let before = handle.stats();
                let start = Instant::now();
                for _ in 0..iters {
                    let acks: Vec<_> = (0..batch)
                        .map(|_| handle.append(vec![0x5a; RECORD], "2026-11-22", ()))
                        .collect();
                    for ack in acks {
                        ack.blocking_recv().unwrap().unwrap();
                    }
                }
                let elapsed = start.elapsed();
                let after = handle.stats();
                records += after.records - before.records;
                fsyncs += after.fsyncs - before.fsyncs;
                spent += elapsed;
                elapsed
            })
        });
        let secs = spent.as_secs_f64().max(1e-9);
        summary.push(format!(
            "batch {batch:>5}: {:>9.0} records/s, {:>6.0} fsyncs/s, {:>7.1} records per fsync",
            records as f64 / secs,
            fsyncs as f64 / secs,
            records as f64 / fsyncs.max(1) as f64
        ));
    }
    group.finish();
    for line in summary {
        println!("journal {line}");
    }
    journal.close().unwrap();
}

criterion_group!(benches, journal);
criterion_main!(benches);
