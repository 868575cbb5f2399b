//! The QUIC service: the listener that accepts connections, one handler per
//! connection ([`session`]), and the shutdown that drains them.
//!
//! Shaped like tokio's mini-redis server: [`run`] takes a bound endpoint and
//! a shutdown future; every task holds a clone of a completion sender, so
//! shutdown knows when the last one is gone.
//!
//! | file                    | what it does                                            |
//! |-------------------------|---------------------------------------------------------|
//! | `mod.rs`                | the listener: accept, connection limits, shutdown drain |
//! | `admission.rs`          | handshakes under a flood: half-open limits, QUIC Retry  |
//! | `session.rs`            | one connection: hello, rate limit, one task per stream  |
//! | `rights.rs`             | what a token grants, and the role and owner refusals    |
//! | `frame.rs`              | writing answers, finishing streams, protocol close      |
//! | `route/mod.rs`          | the route table: request → family                       |
//! | `route/tickets.rs`      | issue, status, open / close issuing                     |
//! | `route/window.rs`       | window actions, reinstate, rating                       |
//! | `route/appointments.rs` | book, bookings, cancel, check in, slots                 |
//! | `route/admin.rs`        | reload, health, stats, export                           |
//! | `route/stream.rs`       | display and notifier subscriptions, pumped to QUIC      |
//! | `certificate.rs`        | the server's certificate (load or generate), QUIC config |

pub mod admission;
pub mod certificate;
mod frame;
mod rights;
mod route;
pub mod session;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

pub use crate::daemon::Daemon;

use std::sync::atomic::{AtomicUsize, Ordering};

use hallq_proto::types::Role;

use crate::config::Limits;

/// How many connections are open, in all and per role, against
/// `[limits]`.
#[derive(Debug, Default)]
pub struct Occupancy {
    total: AtomicUsize,
    per_role: [AtomicUsize; 6],
}

/// One open connection's place in [`Occupancy`]; given back on drop.
#[derive(Debug)]
pub struct Seat {
    occupancy: Arc<Occupancy>,
    role: Option<usize>,
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Kiosk => 0,
        Role::Window => 1,
        Role::Display => 2,
        Role::Notifier => 3,
        Role::Admin => 4,
        Role::Visitor => 5,
    }
}

impl Occupancy {
    /// A seat for a new connection, if fewer than `limit` are open.
    pub fn enter(self: &Arc<Self>, limit: usize) -> Option<Seat> {
        let taken = self
            .total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok();
        taken.then(|| Seat {
            occupancy: self.clone(),
            role: None,
        })
    }
}

impl Seat {
    /// Counts the seat against `role`'s limit; false if that is full.
    pub fn take_role(&mut self, role: Role, limit: usize) -> bool {
        let i = role_index(role);
        let taken = self.occupancy.per_role[i]
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok();
        if taken {
            self.role = Some(i);
        }
        taken
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.occupancy.total.fetch_sub(1, Ordering::AcqRel);
        if let Some(i) = self.role {
            self.occupancy.per_role[i].fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// QUIC transport settings from `[limits]`: streams per connection, the
/// keep-alive interval and the idle timeout.
pub fn transport(limits: &Limits) -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(limits.streams_per_connection.into())
        .max_concurrent_uni_streams(0u32.into())
        // Clients send keep-alives and take the daemon for dead when a
        // request hears nothing back for a second (issue 20); the daemon's
        // own are for clients that send none (`[limits] keep_alive_ms`).
        .keep_alive_interval(
            (limits.keep_alive_ms > 0).then(|| Duration::from_millis(limits.keep_alive_ms)),
        )
        .max_idle_timeout(
            quinn::IdleTimeout::try_from(Duration::from_secs(limits.idle_timeout_secs)).ok(),
        );
    transport
}

/// How often halls check whether a new business day has begun, and halls
/// whose journal failed try to recover.
const TICK: Duration = Duration::from_secs(2);

/// Serves `endpoint` until `shutdown` completes; then stops accepting,
/// lets in-flight requests finish for up to `grace`, ends subscriptions and
/// closes the connections. Returns whether everything drained in time.
pub async fn run(
    endpoint: quinn::Endpoint,
    daemon: Arc<Daemon>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> bool {
    let (notify_shutdown, _) = broadcast::channel::<()>(1);
    let occupancy = Arc::new(Occupancy::default());
    let half_open = Arc::new(admission::HalfOpen::default());
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);

    let ticker = {
        let daemon = daemon.clone();
        let mut stop = notify_shutdown.subscribe();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let _done = done;
            let mut interval = tokio::time::interval(TICK);
            loop {
                tokio::select! {
                    _ = interval.tick() => {
                        for shard in daemon.halls() {
                            if shard.is_failed() {
                                let recovering = shard.clone();
                                let _ = tokio::task::spawn_blocking(move || recovering.recover()).await;
                            } else if let Err(e) = shard.tick().await {
                                tracing::error!(hall = shard.id(), error = %e, "day roll failed");
                            }
                        }
                    }
                    _ = stop.recv() => break,
                }
            }
        })
    };

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                let source = incoming.remote_address().ip();
                let half_open_pass = match half_open.admit(source, incoming.remote_address_validated()) {
                    admission::Admit::Pass(pass) => pass,
                    admission::Admit::Retry => {
                        metrics::counter!("hallq_handshakes_retried_total").increment(1);
                        // A Retry needs an Initial that allows one; one that
                        // already carried a token is refused instead.
                        if let Err(e) = incoming.retry() {
                            e.into_incoming().refuse();
                        }
                        continue;
                    }
                    admission::Admit::Refuse => {
                        tracing::debug!(%source, "handshake refused: too many half-open from this address");
                        metrics::counter!("hallq_connections_refused_total", "reason" => "per_source").increment(1);
                        incoming.refuse();
                        continue;
                    }
                    admission::Admit::Ignore => {
                        metrics::counter!("hallq_connections_refused_total", "reason" => "half_open").increment(1);
                        incoming.ignore();
                        continue;
                    }
                };
                let handler = session::Handler {
                    occupancy: occupancy.clone(),
                    daemon: daemon.clone(),
                    shutdown: notify_shutdown.subscribe(),
                    _done: done_tx.clone(),
                };
                tokio::spawn(handler.run(incoming, half_open_pass));
            }
            () = &mut shutdown => {
                tracing::info!("shutting down: no new connections");
                break;
            }
        }
    }

    // Stop accepting, tell every connection, and wait for them to finish.
    endpoint.set_server_config(None);
    drop(notify_shutdown);
    drop(done_tx);
    let drained = tokio::time::timeout(grace, done_rx.recv()).await.is_ok();
    if !drained {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "grace period ran out with requests still in flight; closing anyway"
        );
    }
    ticker.abort();
    endpoint.close(0u32.into(), b"hallqd shutting down");
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    drained
}
