//! Latency histograms and the report: a table for people, JSON for
//! scripts (`compare.sh`) and for keeping.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::workload::Workload;

/// Operation kinds, in report order.
pub const KINDS: [&str; 5] = ["issue", "call", "start", "finish", "call_empty"];

/// The kinds that move a ticket along (a call that found nothing does not).
pub const TICKET_KINDS: [&str; 4] = ["issue", "call", "start", "finish"];

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // Cannot fail: the bounds are constant and valid.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Records `elapsed` into `hist`, saturating at its top.
pub fn record(hist: &mut Histogram<u64>, elapsed: Duration) {
    let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    hist.saturating_record(us.max(1));
}

/// One histogram per operation kind, plus error counts.
#[derive(Debug, Clone)]
pub struct Latencies {
    /// Indexed like [`KINDS`].
    pub hists: Vec<Histogram<u64>>,
    /// Failed operations per kind.
    pub errors: Vec<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            hists: KINDS.iter().map(|_| histogram()).collect(),
            errors: vec![0; KINDS.len()],
        }
    }
}

impl Latencies {
    /// Adds `other`'s samples.
    pub fn merge(&mut self, other: &Latencies) {
        for (a, b) in self.hists.iter_mut().zip(&other.hists) {
            // Same bounds everywhere, so adding cannot fail.
            let _ = a.add(b);
        }
        for (a, b) in self.errors.iter_mut().zip(&other.errors) {
            *a += b;
        }
    }
}

/// Percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
}

impl LatencySummary {
    /// The percentiles of `hist`.
    pub fn of(hist: &Histogram<u64>) -> LatencySummary {
        if hist.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: hist.len(),
            p50_us: hist.value_at_quantile(0.50),
            p90_us: hist.value_at_quantile(0.90),
            p99_us: hist.value_at_quantile(0.99),
            p999_us: hist.value_at_quantile(0.999),
            max_us: hist.max(),
        }
    }
}

/// One operation kind's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpStats {
    /// "issue", "call", …
    pub kind: String,
    /// Successful operations per second over the run.
    pub per_sec: f64,
    /// Failed operations.
    pub errors: u64,
    /// Latency of the successful ones.
    pub latency: LatencySummary,
}

/// What the displays saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DisplayStats {
    /// Subscribers.
    pub subscribers: usize,
    /// Times a subscriber was dropped for falling behind (it resubscribes).
    pub drops: u64,
    /// Calls acknowledged to windows.
    pub calls: u64,
    /// Calls received over all displays (each call once per display).
    pub deliveries: u64,
    /// Subscribers that received every acknowledged call.
    pub complete: usize,
    /// Deliveries that arrived before the window's acknowledgement (counted
    /// as 0 µs in the call-to-display latency).
    pub before_ack: u64,
    /// Window ack → display receipt, over every delivery.
    pub call_to_display: LatencySummary,
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Which backend.
    pub backend: String,
    /// What ran.
    pub workload: Workload,
    /// How long kiosks and windows ran, in seconds.
    pub elapsed_secs: f64,
    /// Issue, call, start and finish per second together.
    pub ticket_ops_per_sec: f64,
    /// Tickets the kiosks asked for.
    pub issue_attempts: u64,
    /// Tickets acknowledged.
    pub issued: u64,
    /// Per kind.
    pub ops: Vec<OpStats>,
    /// Displays.
    pub display: DisplayStats,
    /// Notifications received by the notifier.
    pub notifications: u64,
    /// Acknowledgements the notifier sent.
    pub notifications_acked: u64,
    /// Times the notifier was dropped for falling behind.
    #[serde(default)]
    pub notifier_drops: u64,
    /// Peak RSS of the server process (VmHWM), KiB.
    pub server_peak_rss_kib: Option<u64>,
    /// Failures that ended a client early (first few).
    pub failures: Vec<String>,
}

impl Report {
    /// The figures of kind `kind`.
    pub fn op(&self, kind: &str) -> Option<&OpStats> {
        self.ops.iter().find(|o| o.kind == kind)
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let w = &self.workload;
        let _ = writeln!(
            out,
            "backend {} · {} · {:.1} s",
            self.backend,
            w.describe(),
            self.elapsed_secs,
        );
        let _ = writeln!(
            out,
            "{:<11} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "op", "ops/s", "errors", "p50 µs", "p90 µs", "p99 µs", "p999 µs", "max µs"
        );
        for op in &self.ops {
            let l = &op.latency;
            let _ = writeln!(
                out,
                "{:<11} {:>10.0} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
                op.kind, op.per_sec, op.errors, l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
            );
        }
        let _ = writeln!(
            out,
            "ticket operations: {:.0}/s · issued {} of {}",
            self.ticket_ops_per_sec, self.issued, self.issue_attempts
        );
        let d = &self.display;
        if d.subscribers > 0 {
            let c = &d.call_to_display;
            let _ = writeln!(
                out,
                "call→display: p50 {} µs, p99 {} µs, max {} µs over {} deliveries \
                 ({} before the ack) · {}/{} displays got all {} calls · {} drops",
                c.p50_us,
                c.p99_us,
                c.max_us,
                d.deliveries,
                d.before_ack,
                d.complete,
                d.subscribers,
                d.calls,
                d.drops
            );
        }
        if w.notifier {
            let _ = writeln!(
                out,
                "notifier: {} received, {} acknowledged, {} drops",
                self.notifications, self.notifications_acked, self.notifier_drops
            );
        }
        if let Some(kib) = self.server_peak_rss_kib {
            let _ = writeln!(out, "server peak RSS: {:.1} MiB", kib as f64 / 1024.0);
        }
        for failure in &self.failures {
            let _ = writeln!(out, "failure: {failure}");
        }
        out
    }
}

/// One table over several reports of the same workload, the first one
/// (hallqd) against each of the others: throughput ratio hallqd ÷ baseline
/// (above 1: hallqd does more), p99 ratio hallqd ÷ baseline (below 1:
/// hallqd answers sooner).
pub fn comparison(reports: &[Report]) -> String {
    let mut out = String::new();
    let Some(first) = reports.first() else {
        return out;
    };
    let p99 = |r: &Report, kind: &str| r.op(kind).map_or(0, |o| o.latency.p99_us);
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}", a / b)
        } else {
            "-".to_owned()
        }
    };
    let _ = writeln!(
        out,
        "{:<9} {:>11} {:>7} {:>9} {:>7} {:>9} {:>7} {:>9} {:>7} {:>10} {:>7}",
        "backend",
        "ticket op/s",
        "÷",
        "issue p99",
        "÷",
        "call p99",
        "÷",
        "finish p99",
        "÷",
        "display p99",
        "errors"
    );
    for r in reports {
        let errors: u64 = r.ops.iter().map(|o| o.errors).sum();
        let _ = writeln!(
            out,
            "{:<9} {:>11.0} {:>7} {:>9} {:>7} {:>9} {:>7} {:>9} {:>7} {:>10} {:>7}",
            r.backend,
            r.ticket_ops_per_sec,
            ratio(first.ticket_ops_per_sec, r.ticket_ops_per_sec),
            p99(r, "issue"),
            ratio(p99(first, "issue") as f64, p99(r, "issue") as f64),
            p99(r, "call"),
            ratio(p99(first, "call") as f64, p99(r, "call") as f64),
            p99(r, "finish"),
            ratio(p99(first, "finish") as f64, p99(r, "finish") as f64),
            r.display.call_to_display.p99_us,
            errors,
        );
    }
    let w = &first.workload;
    let _ = writeln!(
        out,
        "latencies in µs; ÷ = {} ÷ that row (throughput: above 1 is better for {0}; \
         p99: below 1 is better for {0}) · {}, {:.0} s",
        first.backend,
        w.describe(),
        w.duration.as_secs_f64()
    );
    out
}
