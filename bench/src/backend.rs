//! The backend switch: what the generator needs from a system under test.
//!
//! A backend hands out kiosk, window and display connections; the driver
//! ([`crate::run`]) does the timing and the bookkeeping, identically for
//! every backend, so the figures compare. Calls are identified across the
//! window that made them and the displays that show them by a [`CallKey`].

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use crate::workload::TicketSpec;

/// A ticket's identity as the window and the displays both see it: the
/// item index times one million plus its daily number for hallqd and Redis,
/// the row id for PostgreSQL.
pub type CallKey = u64;

/// The key of ticket number `seq` of item index `item`.
pub fn call_key(item: u8, seq: u64) -> CallKey {
    u64::from(item) * 1_000_000 + seq
}

/// What a display saw next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayEvent {
    /// New calls, as keys (recalls excluded).
    Calls(Vec<CallKey>),
    /// Something a display shows that is not a call (a window or a line
    /// changed).
    Other,
    /// The backend dropped this subscriber (it fell behind).
    Dropped,
    /// The stream ended.
    Ended,
}

/// What the notifier did, counted while it runs.
#[derive(Debug, Default)]
pub struct NotifierCounters {
    /// Notifications received.
    pub received: AtomicU64,
    /// Acknowledgements sent.
    pub acked: AtomicU64,
    /// Times the notifier was dropped for falling behind (it resubscribes).
    pub drops: AtomicU64,
}

impl NotifierCounters {
    /// Adds one received and acknowledged notification.
    pub fn count(&self, acked: bool) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if acked {
            self.acked.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A system under test.
pub trait Backend: Send + Sync + 'static {
    /// A kiosk connection.
    type Kiosk: Kiosk;
    /// A window terminal's connection, acting on its own window.
    type Window: Window;
    /// A display subscription.
    type Display: Display;

    /// Its name in reports: "hallqd", "postgres", "redis".
    fn name(&self) -> &'static str;

    /// Connects kiosk number `index`.
    fn kiosk(&self, index: usize) -> impl Future<Output = anyhow::Result<Self::Kiosk>> + Send;

    /// Connects the terminal of window `number` (1-based) and opens the
    /// window.
    fn window(&self, number: u16) -> impl Future<Output = anyhow::Result<Self::Window>> + Send;

    /// Subscribes display number `index`; the subscription is live when
    /// this returns (no call made afterwards is missed).
    fn display(&self, index: usize) -> impl Future<Output = anyhow::Result<Self::Display>> + Send;

    /// Runs the notifier (receive, acknowledge) until `stop` turns true.
    /// Backends without an outbox do nothing.
    fn notifier(
        &self,
        stop: watch::Receiver<bool>,
        counters: Arc<NotifierCounters>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        let _ = (stop, counters);
        async { Ok(()) }
    }

    /// The server process whose peak memory to report, if known.
    fn server_pid(&self) -> Option<u32> {
        None
    }
}

/// A kiosk.
pub trait Kiosk: Send + 'static {
    /// Issues `ticket`; returns once the backend acknowledged it durably.
    fn issue(
        &mut self,
        ticket: &TicketSpec,
    ) -> impl Future<Output = anyhow::Result<CallKey>> + Send;
}

/// A window terminal.
pub trait Window: Send + 'static {
    /// Calls the next ticket; `None` if none is waiting for this window.
    fn call(&mut self) -> impl Future<Output = anyhow::Result<Option<CallKey>>> + Send;
    /// The called visitor arrived: service starts.
    fn start(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Service done.
    fn finish(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// A display board.
pub trait Display: Send + 'static {
    /// The next thing shown.
    fn next(&mut self) -> impl Future<Output = anyhow::Result<DisplayEvent>> + Send;
}

/// Peak resident memory of process `pid` in KiB (`VmHWM` in
/// `/proc/PID/status`), if it can be read.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix("VmHWM:")?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}
