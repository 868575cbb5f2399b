//! systemd integration: `Type=notify` readiness and the watchdog.
//!
//! Every call is a no-op when hallqd does not run under systemd (no
//! `NOTIFY_SOCKET`).

use std::sync::Arc;

use sd_notify::NotifyState;

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
/// proving that dispatch is alive: `probe` (run on a blocking thread) takes
/// every hall's lock and reads its state. A hall stuck behind its lock
/// stops the pings, and systemd restarts the daemon.
pub async fn watchdog(probe: impl Fn() + Send + Sync + 'static) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let probe = Arc::new(probe);
    let mut tick = tokio::time::interval(interval / 2);
    loop {
        tick.tick().await;
        let probe = probe.clone();
        match tokio::task::spawn_blocking(move || probe()).await {
            Ok(_) => notify(&[NotifyState::Watchdog]),
            Err(e) => tracing::error!(error = %e, "watchdog probe failed"),
        }
    }
}
