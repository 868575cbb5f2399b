//! The load generator's smoke test: `hallq-load`'s driver runs for two
//! seconds at a low rate against a real `hallqd` on loopback, and nothing
//! may be lost on the way — every issued ticket acknowledged, every call
//! shown on every display, every notification acknowledged. Correctness,
//! not speed: the figures themselves are for `BENCHMARKS.md`.

use std::sync::Arc;
use std::time::Duration;

use hallq_bench::hallqd::SpawnedDaemon;
use hallq_bench::run::run;
use hallq_bench::workload::Workload;
use hallq_tests::{hallqd_path, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_run_loses_nothing() {
    let mut daemon = SpawnedDaemon::start(hallqd_path(), 4, 5, None).expect("hallqd starts");
    let workload = Workload {
        kiosks: 3,
        windows: 4,
        displays: 3,
        notifier: true,
        rate: Some(60.0),
        duration: Duration::from_secs(2),
        max_tickets: Some(200),
        drain: Duration::from_secs(10),
        ..Workload::default()
    };
    let report = within(
        Duration::from_secs(60),
        run(Arc::new(daemon.backend()), workload, None),
    )
    .await
    .expect("the load run completes");
    let table = report.table();

    assert!(report.failures.is_empty(), "failures:\n{table}");
    assert!(report.issued > 0, "nothing issued:\n{table}");
    assert_eq!(
        report.issued, report.issue_attempts,
        "every ticket asked for is acknowledged:\n{table}"
    );
    for op in &report.ops {
        assert_eq!(op.errors, 0, "{} failed:\n{table}", op.kind);
    }
    let display = &report.display;
    assert!(display.calls > 0, "no calls made:\n{table}");
    assert_eq!(display.drops, 0, "{table}");
    assert_eq!(
        display.deliveries,
        display.calls * display.subscribers as u64,
        "every call reaches every display exactly once:\n{table}"
    );
    assert_eq!(display.complete, display.subscribers, "{table}");
    assert_eq!(report.notifications, report.notifications_acked, "{table}");
    assert!(daemon.stop().expect("hallqd stops"), "clean shutdown");
}
