//! systemd integration: `Type=notify` readiness and the watchdog.
//!
//! Every call is a no-op when hallqd does not run under systemd (no
//! `NOTIFY_SOCKET`).

use std::sync::Arc;

use sd_notify::NotifyState;

use crate::daemon::Daemon;

fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Journals replayed and the endpoint listening: ready.
pub fn ready() {
    notify(&[NotifyState::Ready, NotifyState::Status("serving")]);
}

/// A reload has started.
pub fn reloading() {
    notify(&[NotifyState::Reloading]);
}

/// Shutdown has started.
pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// Pings the watchdog (`WatchdogSec=`) at half its interval, but only after
/// proving that dispatch is alive: every hall's lock is taken and its state
/// read. A hall stuck behind its lock stops the pings, and systemd restarts
/// the daemon.
pub async fn watchdog(daemon: Arc<Daemon>) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let mut tick = tokio::time::interval(interval / 2);
    loop {
        tick.tick().await;
        let halls = daemon.halls();
        let probe = tokio::task::spawn_blocking(move || {
            halls
                .iter()
                .map(|h| h.read(|hall| hall.waiting_count()))
                .sum::<usize>()
        });
        match probe.await {
            Ok(_) => notify(&[NotifyState::Watchdog]),
            Err(e) => tracing::error!(error = %e, "watchdog probe failed"),
        }
    }
}
