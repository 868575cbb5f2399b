//! The driver: connects the clients a [`Workload`] describes to a
//! [`Backend`], runs them for the workload's duration, waits for the
//! displays to show the last calls, and measures everything on the way.
//!
//! Timing is done here and only here, the same way for every backend:
//! an operation's latency runs from the moment it was due (open loop: its
//! scheduled time, so a stalled server cannot hide queueing delay; closed
//! loop: when it was sent) to its acknowledgement. A call's display
//! latency runs from the window receiving the call's acknowledgement to a
//! display receiving the call; a display that is faster than the window's
//! acknowledgement counts 0.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use dashmap::DashMap;
use hdrhistogram::Histogram;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::backend::{
    peak_rss_kib, Backend, CallKey, Display, DisplayEvent, Kiosk, NotifierCounters, Window,
};
use crate::report::{self, DisplayStats, Latencies, LatencySummary, OpStats, Report, KINDS};
use crate::workload::{TicketMix, Workload};

/// Index of each kind in [`KINDS`].
const ISSUE: usize = 0;
const CALL: usize = 1;
const START: usize = 2;
const FINISH: usize = 3;
const CALL_EMPTY: usize = 4;

/// How long a window waits after finding nothing to call: a real terminal
/// polls at human speed; without a pause idle windows would flood the
/// server with empty calls and crowd out the work being measured.
const IDLE_BACKOFF: Duration = Duration::from_millis(5);

/// How many failures a report lists (the rest are only counted).
const MAX_FAILURES: usize = 10;

/// What the clients share while running.
#[derive(Debug, Default)]
struct Shared {
    /// When each call was acknowledged to its window.
    acks: DashMap<CallKey, Instant>,
    /// Successful operations per kind, for the progress line.
    done: [AtomicU64; 5],
    /// Tickets asked for (bounded by `max_tickets`).
    attempts: AtomicU64,
    /// Calls acknowledged.
    calls: AtomicU64,
    /// Calls received, over all displays.
    deliveries: AtomicU64,
    /// The first few failures.
    failures: Mutex<Vec<String>>,
}

impl Shared {
    fn fail(&self, what: impl std::fmt::Display) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() < MAX_FAILURES {
            failures.push(what.to_string());
        }
    }
}

/// What one display task measured.
struct DisplayTally {
    received: u64,
    before_ack: u64,
    drops: u64,
    latency: Histogram<u64>,
}

/// Runs `workload` against `backend`. With `progress`, prints a line to
/// stderr at that interval.
pub async fn run<B: Backend>(
    backend: Arc<B>,
    workload: Workload,
    progress: Option<Duration>,
) -> anyhow::Result<Report> {
    let shared = Arc::new(Shared::default());
    let gate = Arc::new(Semaphore::new(workload.connect_parallelism.max(1)));

    // Displays first, so they see every call of the run.
    let displays = connect_all(workload.displays, &gate, {
        let backend = backend.clone();
        move |i| {
            let backend = backend.clone();
            async move { backend.display(i).await }
        }
    })
    .await
    .context("cannot subscribe the displays")?;
    let windows = connect_all(workload.windows, &gate, {
        let backend = backend.clone();
        move |i| {
            let backend = backend.clone();
            async move { backend.window((i + 1) as u16).await }
        }
    })
    .await
    .context("cannot connect the windows")?;
    let kiosks = connect_all(workload.kiosks, &gate, {
        let backend = backend.clone();
        move |i| {
            let backend = backend.clone();
            async move { backend.kiosk(i).await }
        }
    })
    .await
    .context("cannot connect the kiosks")?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let notifier_counters = Arc::new(NotifierCounters::default());
    let notifier = workload.notifier.then(|| {
        let backend = backend.clone();
        let stop = stop_rx.clone();
        let counters = notifier_counters.clone();
        tokio::spawn(async move { backend.notifier(stop, counters).await })
    });

    let mut display_tasks = JoinSet::new();
    for (i, display) in displays.into_iter().enumerate() {
        display_tasks.spawn(watch_display(
            backend.clone(),
            i,
            display,
            shared.clone(),
            stop_rx.clone(),
        ));
    }

    let start = Instant::now();
    let deadline = start + workload.duration;
    let mut workers = JoinSet::new();
    for (i, kiosk) in kiosks.into_iter().enumerate() {
        workers.spawn(drive_kiosk(
            i,
            kiosk,
            workload.clone(),
            shared.clone(),
            start,
            deadline,
        ));
    }
    for window in windows {
        workers.spawn(drive_window(window, shared.clone(), deadline));
    }
    let ticker = progress.map(|every| tokio::spawn(print_progress(shared.clone(), start, every)));

    let mut latencies = Latencies::default();
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(l) => latencies.merge(&l),
            Err(e) => shared.fail(format!("a client task failed: {e}")),
        }
    }
    let elapsed = start.elapsed();
    if let Some(ticker) = ticker {
        ticker.abort();
    }

    // Every display should now show every acknowledged call; wait for the
    // stragglers, bounded by the drain time.
    let calls = shared.calls.load(Ordering::Relaxed);
    let expected = calls * workload.displays as u64;
    let drain_until = Instant::now() + workload.drain;
    while shared.deliveries.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop_tx.send(true);

    let mut display = DisplayStats {
        subscribers: workload.displays,
        calls,
        ..DisplayStats::default()
    };
    let mut call_to_display = report::histogram();
    while let Some(joined) = display_tasks.join_next().await {
        match joined {
            Ok(tally) => {
                display.deliveries += tally.received;
                display.before_ack += tally.before_ack;
                display.drops += tally.drops;
                if tally.received >= calls {
                    display.complete += 1;
                }
                let _ = call_to_display.add(&tally.latency);
            }
            Err(e) => shared.fail(format!("a display task failed: {e}")),
        }
    }
    display.call_to_display = LatencySummary::of(&call_to_display);

    if let Some(notifier) = notifier {
        match tokio::time::timeout(Duration::from_secs(5), notifier).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => shared.fail(format!("notifier: {e:#}")),
            Ok(Err(e)) => shared.fail(format!("notifier task: {e}")),
            Err(_) => shared.fail("notifier did not stop within 5 s"),
        }
    }

    let secs = elapsed.as_secs_f64().max(1e-9);
    let ops: Vec<OpStats> = KINDS
        .iter()
        .enumerate()
        .map(|(k, kind)| OpStats {
            kind: (*kind).to_owned(),
            per_sec: latencies.hists[k].len() as f64 / secs,
            errors: latencies.errors[k],
            latency: LatencySummary::of(&latencies.hists[k]),
        })
        .collect();
    let ticket_ops: u64 = [ISSUE, CALL, START, FINISH]
        .iter()
        .map(|&k| latencies.hists[k].len())
        .sum();
    let failures = shared
        .failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Ok(Report {
        backend: backend.name().to_owned(),
        workload: workload.clone(),
        elapsed_secs: secs,
        ticket_ops_per_sec: ticket_ops as f64 / secs,
        issue_attempts: shared.attempts.load(Ordering::Relaxed),
        issued: latencies.hists[ISSUE].len(),
        ops,
        display,
        notifications: notifier_counters.received.load(Ordering::Relaxed),
        notifications_acked: notifier_counters.acked.load(Ordering::Relaxed),
        notifier_drops: notifier_counters.drops.load(Ordering::Relaxed),
        server_peak_rss_kib: backend.server_pid().and_then(peak_rss_kib),
        failures,
    })
}

/// Connects `count` clients with `connect`, at most the gate's permits at
/// a time; fails with the first error.
async fn connect_all<T, F, Fut>(
    count: usize,
    gate: &Arc<Semaphore>,
    connect: F,
) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for i in 0..count {
        let gate = gate.clone();
        let fut = connect(i);
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            (i, fut.await)
        });
    }
    let mut clients: Vec<Option<T>> = (0..count).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (i, client) = joined.map_err(|e| anyhow!("connect task failed: {e}"))?;
        clients[i] = Some(client.with_context(|| format!("client {i}"))?);
    }
    Ok(clients.into_iter().flatten().collect())
}

/// One kiosk: issues tickets until the deadline or the ticket bound.
async fn drive_kiosk<K: Kiosk>(
    index: usize,
    mut kiosk: K,
    workload: Workload,
    shared: Arc<Shared>,
    start: Instant,
    deadline: Instant,
) -> Latencies {
    let mut latencies = Latencies::default();
    let mut mix = TicketMix::new(&workload, index);
    // Open loop: each kiosk takes an equal share of the rate, staggered so
    // the kiosks do not fire in lockstep.
    let interval = workload
        .rate
        .filter(|r| *r > 0.0)
        .map(|rate| Duration::from_secs_f64(workload.kiosks.max(1) as f64 / rate));
    let mut next_at = match interval {
        Some(iv) => start + iv.mul_f64(index as f64 / workload.kiosks.max(1) as f64),
        None => start,
    };
    loop {
        let due = match interval {
            Some(iv) => {
                let due = next_at;
                next_at += iv;
                if due >= deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                now
            }
        };
        if let Some(max) = workload.max_tickets {
            if shared.attempts.fetch_add(1, Ordering::Relaxed) >= max {
                shared.attempts.fetch_sub(1, Ordering::Relaxed);
                break;
            }
        } else {
            shared.attempts.fetch_add(1, Ordering::Relaxed);
        }
        let ticket = mix.next_ticket();
        match kiosk.issue(&ticket).await {
            Ok(_) => {
                report::record(&mut latencies.hists[ISSUE], due.elapsed());
                shared.done[ISSUE].fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                latencies.errors[ISSUE] += 1;
                shared.fail(format!("issue: {e:#}"));
            }
        }
    }
    latencies
}

/// Times `op`, recording it under `kind`; false if it failed.
async fn timed<T>(
    kind: usize,
    latencies: &mut Latencies,
    shared: &Shared,
    op: impl std::future::Future<Output = anyhow::Result<T>>,
) -> Option<T> {
    let sent = Instant::now();
    match op.await {
        Ok(value) => {
            report::record(&mut latencies.hists[kind], sent.elapsed());
            shared.done[kind].fetch_add(1, Ordering::Relaxed);
            Some(value)
        }
        Err(e) => {
            latencies.errors[kind] += 1;
            shared.fail(format!("{}: {e:#}", KINDS[kind]));
            None
        }
    }
}

/// One window: call, start, finish, until the deadline.
async fn drive_window<W: Window>(
    mut window: W,
    shared: Arc<Shared>,
    deadline: Instant,
) -> Latencies {
    let mut latencies = Latencies::default();
    while Instant::now() < deadline {
        let sent = Instant::now();
        match window.call().await {
            Ok(Some(key)) => {
                let acked = Instant::now();
                // Before anything else: displays look the call up here.
                shared.acks.insert(key, acked);
                shared.calls.fetch_add(1, Ordering::Relaxed);
                report::record(&mut latencies.hists[CALL], acked - sent);
                shared.done[CALL].fetch_add(1, Ordering::Relaxed);
                if timed(START, &mut latencies, &shared, window.start())
                    .await
                    .is_some()
                {
                    timed(FINISH, &mut latencies, &shared, window.finish()).await;
                }
            }
            Ok(None) => {
                report::record(&mut latencies.hists[CALL_EMPTY], sent.elapsed());
                shared.done[CALL_EMPTY].fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(IDLE_BACKOFF).await;
            }
            Err(e) => {
                latencies.errors[CALL] += 1;
                shared.fail(format!("call: {e:#}"));
                tokio::time::sleep(IDLE_BACKOFF).await;
            }
        }
    }
    latencies
}

/// One display: counts the calls it is shown and how long after their
/// acknowledgement; resubscribes when dropped.
async fn watch_display<B: Backend>(
    backend: Arc<B>,
    index: usize,
    mut display: B::Display,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> DisplayTally {
    let mut tally = DisplayTally {
        received: 0,
        before_ack: 0,
        drops: 0,
        latency: report::histogram(),
    };
    loop {
        let event = tokio::select! {
            event = display.next() => event,
            _ = stop.changed() => break,
        };
        match event {
            Ok(DisplayEvent::Calls(keys)) => {
                let now = Instant::now();
                for key in keys {
                    tally.received += 1;
                    shared.deliveries.fetch_add(1, Ordering::Relaxed);
                    match shared.acks.get(&key).map(|at| *at) {
                        Some(acked) => report::record(&mut tally.latency, now - acked),
                        None => {
                            tally.before_ack += 1;
                            report::record(&mut tally.latency, Duration::ZERO);
                        }
                    }
                }
            }
            Ok(DisplayEvent::Other) => {}
            Ok(DisplayEvent::Dropped) => {
                tally.drops += 1;
                match backend.display(index).await {
                    Ok(fresh) => display = fresh,
                    Err(e) => {
                        shared.fail(format!("display {index} cannot resubscribe: {e:#}"));
                        break;
                    }
                }
            }
            Ok(DisplayEvent::Ended) => {
                shared.fail(format!("display {index}: stream ended"));
                break;
            }
            Err(e) => {
                shared.fail(format!("display {index}: {e:#}"));
                break;
            }
        }
    }
    tally
}

/// Prints one line per `every`: what was done so far and at what rate.
async fn print_progress(shared: Arc<Shared>, start: Instant, every: Duration) {
    let mut last = [0u64; 5];
    let mut interval = tokio::time::interval(every);
    interval.tick().await;
    loop {
        interval.tick().await;
        let now: Vec<u64> = shared
            .done
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let rate = |k: usize| (now[k] - last[k]) as f64 / every.as_secs_f64();
        eprintln!(
            "[{:>5.1} s] issue {:>8} ({:>6.0}/s)  call {:>8} ({:>6.0}/s)  finish {:>8}  \
             displayed {:>9}  empty calls {:>7}",
            start.elapsed().as_secs_f64(),
            now[ISSUE],
            rate(ISSUE),
            now[CALL],
            rate(CALL),
            now[FINISH],
            shared.deliveries.load(Ordering::Relaxed),
            now[CALL_EMPTY],
        );
        for (l, n) in last.iter_mut().zip(&now) {
            *l = *n;
        }
    }
}
