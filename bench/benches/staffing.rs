//! The staffing simulator's speed (issue 22): one 2,000-ticket day through
//! the real dispatch core, and the plan search for a 40-window hall.
//!
//! `cargo bench -p hallq-bench --bench staffing`; figures in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};
use hallq_core::staffing::generate::Script;
use hallq_core::staffing::{search, simulate, RecordedDay, ServicePool, Staffing};

const DAY: u32 = 20261123;

/// A recorded 40-window day of about 2,000 visitors.
fn day() -> (Script, RecordedDay) {
    let script = Script::sized(DAY, 40, 2000.0, 7);
    let day = RecordedDay::from_events(&script.events());
    (script, day)
}

fn staffing(c: &mut Criterion) {
    let (script, day) = day();
    let pool = ServicePool::new(&script.spec, &day.services);
    let recorded = Staffing::recorded(&script.spec, &day);
    println!(
        "day: {} tickets, {} windows, {:.0} window-hours",
        day.arrivals.len(),
        script.spec.windows.len(),
        recorded.window_hours()
    );
    let mut group = c.benchmark_group("staffing");
    group.sample_size(20);
    group.bench_function("simulate_2000_ticket_day", |b| {
        b.iter(|| simulate(DAY, &day.arrivals, &pool, &recorded, 1, 1200).unwrap())
    });
    let found = search::search(DAY, &day.arrivals, &pool, &recorded, 1, 1200).unwrap();
    println!(
        "plan search: {} simulated days (most of them prefix runs), {:.1} window-hours (recorded {:.1}), shortfalls {}",
        found.runs,
        found.advice.window_hours,
        found.advice.baseline_window_hours,
        found.advice.shortfalls.len()
    );
    group.sample_size(10);
    group.bench_function("plan_search_40_windows", |b| {
        b.iter(|| search::search(DAY, &day.arrivals, &pool, &recorded, 1, 1200).unwrap())
    });
    group.finish();
}

criterion_group!(benches, staffing);
criterion_main!(benches);
