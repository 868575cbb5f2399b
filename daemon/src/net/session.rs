//! One client connection: authentication, then one task per request stream.
//!
//! The first stream carries the [`Hello`]; its token decides the role, hall
//! and window (SPEC §3) for the life of the connection. Every request is
//! checked against those rights before it reaches the hall; a refused
//! request changes nothing. A frame that is oversized, truncated or not a
//! request gets an error answer and the connection is closed: a peer that
//! sends garbage is not trusted with more.

mod appointments;

use hallq_proto::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use hallq_proto::codec::{self, CodecError};
use hallq_proto::wire::{
    ErrorReply, Hello, IssuedTicket, NotifierFrame, NotifierMessage, Request, Response, Status,
    Target, Welcome, WindowAction,
};
use hallq_proto::types::{Lane, Phone, Role, TicketNo, Timestamp, WindowNo};
use tokio::sync::{broadcast, mpsc};
use tracing::Instrument;

use super::Daemon;
use hallq_core::{Command, Event, Issued, TransferTarget};
use crate::fanout::display::announcement;
use crate::shard::{HallShard, ShardError};

/// Why a display or notifier stream ends when the hall moves to another
/// node (cluster mode).
const MOVED: &str = "not_owner: this hallqd no longer serves the hall; reconnect to find its owner";

/// How long a new connection has to say [`Hello`].
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// QUIC application close codes, shared with the client library.
mod close {
    pub use hallq_proto::wire::{
        CLOSE_NOT_OWNER as NOT_OWNER, CLOSE_PROTOCOL as PROTOCOL,
        CLOSE_UNAUTHORIZED as UNAUTHORIZED,
    };
}

/// Serves one connection.
#[derive(Debug)]
pub struct Handler {
    /// Open connections, against `[limits]`.
    pub occupancy: Arc<super::Occupancy>,
    /// Every hall.
    pub daemon: Arc<Daemon>,
    /// Fires (or closes) when the daemon shuts down.
    pub shutdown: broadcast::Receiver<()>,
    /// Dropped when this handler and its tasks are done.
    pub _done: mpsc::Sender<()>,
}

/// Who is on the other end, as their token says.
#[derive(Debug, Clone)]
struct Session {
    role: Role,
    hall: Arc<HallShard>,
    window: Option<WindowNo>,
}

fn reply(code: ErrorCode, message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(code, message)
}

impl Handler {
    /// Runs the connection until the peer leaves or the daemon shuts down.
    pub async fn run(mut self, incoming: quinn::Incoming) {
        let remote = incoming.remote_address();
        let limits = self.daemon.config().limits.clone();
        let Some(mut seat) = self.occupancy.enter(limits.connections) else {
            tracing::warn!(%remote, limit = limits.connections, "connection refused: too many connections");
            metrics::counter!("hallq_connections_refused_total", "reason" => "total").increment(1);
            incoming.refuse();
            return;
        };
        let connection = match incoming.await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(%remote, error = %e, "handshake failed");
                return;
            }
        };
        let session = match tokio::time::timeout(
            HELLO_TIMEOUT,
            self.authenticate(&connection, &mut seat, &limits),
        )
        .await
        {
            Ok(Ok(session)) => session,
            Ok(Err(refusal)) => {
                tracing::info!(%remote, code = %refusal.code, "connection refused");
                let code = if refusal.code == ErrorCode::NotOwner {
                    close::NOT_OWNER
                } else {
                    close::UNAUTHORIZED
                };
                connection.close(code.into(), refusal.message.as_bytes());
                return;
            }
            Err(_) => {
                connection.close(close::PROTOCOL.into(), b"no hello in time");
                return;
            }
        };
        let span = tracing::info_span!(
            "connection",
            %remote,
            role = %session.role,
            hall = session.hall.id(),
            window = session.window.map(|w| w.0),
        );
        let role = session.role.as_str();
        let mut bucket = Bucket::new(limits.requests_per_second);
        let frame_timeout = Duration::from_secs(limits.frame_timeout_secs);
        async move {
            let _seat = seat;
            tracing::info!("connected");
            metrics::gauge!("hallq_connections", "role" => role).increment(1.0);
            loop {
                tokio::select! {
                    stream = connection.accept_bi() => {
                        let Ok((mut send, recv)) = stream else { break };
                        if !bucket.take() {
                            // Over its rate: this request alone is refused,
                            // answered without being read.
                            metrics::counter!("hallq_requests_rate_limited_total", "role" => role).increment(1);
                            let limit = limits.requests_per_second;
                            tokio::spawn(async move {
                                let _recv = recv;
                                let refusal = reply(ErrorCode::RateLimited, format!("more than {limit} requests per second from this connection; slow down"));
                                send_reply(&mut send, &Response::Error(refusal)).await;
                            });
                            continue;
                        }
                        let task = RequestTask {
                            frame_timeout,
                            daemon: self.daemon.clone(),
                            session: session.clone(),
                            connection: connection.clone(),
                            shutdown: self.shutdown.resubscribe(),
                            _done: self._done.clone(),
                        };
                        tokio::spawn(task.run(send, recv).in_current_span());
                    }
                    _ = self.shutdown.recv() => break,
                }
            }
            tracing::info!("disconnected");
            metrics::gauge!("hallq_connections", "role" => role).decrement(1.0);
        }
        .instrument(span)
        .await;
    }

    /// Reads the [`Hello`] on the first stream and answers it.
    async fn authenticate(
        &self,
        connection: &quinn::Connection,
        seat: &mut super::Seat,
        limits: &crate::config::Limits,
    ) -> Result<Session, ErrorReply> {
        let (mut send, mut recv) = connection
            .accept_bi()
            .await
            .map_err(|e| reply(ErrorCode::ConnectionLost, e.to_string()))?;
        let hello: Hello = match codec::read_frame(&mut recv).await {
            Ok(Some(hello)) => hello,
            Ok(None) => return Err(reply(ErrorCode::BadRequest, "expected a hello frame")),
            Err(e) => {
                let refusal = reply(e.code(), format!("bad hello: {e}"));
                send_reply(&mut send, &Response::Error(refusal.clone())).await;
                return Err(refusal);
            }
        };
        let result = self.grant(&hello).and_then(|session| {
            let limit = limits.per_role.of(session.role);
            if seat.take_role(session.role, limit) {
                Ok(session)
            } else {
                metrics::counter!("hallq_connections_refused_total", "reason" => session.role.as_str())
                    .increment(1);
                Err(reply(ErrorCode::TooManyConnections,
                    format!("too many {} connections (limit {limit})", session.role),
                ))
            }
        });
        let refused = result.is_err();
        let answer = match &result {
            Ok(session) => Response::Welcome(Welcome {
                role: session.role,
                hall: session.hall.id().to_owned(),
                hall_name: session.hall.name().to_owned(),
                window: session.window,
            }),
            Err(refusal) => Response::Error(refusal.clone()),
        };
        send_reply(&mut send, &answer).await;
        if refused {
            // Let the refusal reach the client before the connection closes.
            let _ = tokio::time::timeout(Duration::from_secs(1), send.stopped()).await;
        }
        result
    }

    fn grant(&self, hello: &Hello) -> Result<Session, ErrorReply> {
        // Constant-time comparison against every token (config::Secret).
        let grant = self
            .daemon
            .grant_for(hello.token.as_bytes())
            .ok_or_else(|| reply(ErrorCode::Unauthorized, "unknown token"))?;
        let hall_id = match (&grant.hall, &hello.hall) {
            (Some(own), Some(asked)) if own != asked => {
                return Err(reply(ErrorCode::Forbidden,
                    format!("this token is for hall {own:?}, not {asked:?}"),
                ))
            }
            (Some(own), _) => own.clone(),
            (None, Some(asked)) => asked.clone(),
            (None, None) if self.daemon.halls().len() == 1 => self
                .daemon
                .halls()
                .first()
                .map(|h| h.id().to_owned())
                .unwrap_or_default(),
            (None, None) => {
                return Err(reply(ErrorCode::BadRequest,
                    "this daemon serves several halls: name one (--hall)",
                ))
            }
        };
        let hall = self
            .daemon
            .hall(&hall_id)
            .ok_or_else(|| reply(ErrorCode::UnknownHall, format!("no hall {hall_id:?} here")))?;
        // Cluster mode: clients of a hall go to its owner. An admin may
        // stay (health and reload are answered by every node).
        if grant.role != Role::Admin {
            serving(&self.daemon, &hall)?;
        }
        Ok(Session {
            role: grant.role,
            hall,
            window: grant.window,
        })
    }
}

/// One request stream.
struct RequestTask {
    /// How long the request may take to arrive whole.
    frame_timeout: Duration,
    daemon: Arc<Daemon>,
    session: Session,
    connection: quinn::Connection,
    shutdown: broadcast::Receiver<()>,
    _done: mpsc::Sender<()>,
}

impl RequestTask {
    async fn run(self, mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
        let request: Request =
            match tokio::time::timeout(self.frame_timeout, codec::read_frame(&mut recv)).await {
                Ok(Ok(Some(request))) => request,
                Ok(Ok(None)) => return,
                Ok(Err(e)) => return self.protocol_error(&mut send, &e).await,
                Err(_) => {
                    // Slow loris: a stream opened and never finished.
                    metrics::counter!("hallq_slow_clients_cut_total").increment(1);
                    let e = CodecError::Malformed(format!(
                        "no complete request within {} s",
                        self.frame_timeout.as_secs()
                    ));
                    return self.protocol_error(&mut send, &e).await;
                }
            };
        let kind = request.kind();
        match request {
            Request::Watch => self.watch(send, recv).await,
            Request::Notifications => self.notify(send, recv).await,
            request => {
                let started = tokio::time::Instant::now();
                let response = match handle(&self.daemon, &self.session, request).await {
                    Ok(response) => response,
                    Err(refusal) if refusal.code == ErrorCode::NotOwner => {
                        Response::Error(not_owner(&self.daemon, self.session.hall.id()))
                    }
                    Err(refusal) => {
                        tracing::info!(request = kind, code = %refusal.code, "refused");
                        metrics::counter!("hallq_requests_refused_total", "kind" => kind, "code" => refusal.code.to_string()).increment(1);
                        Response::Error(refusal)
                    }
                };
                metrics::histogram!("hallq_request_duration_seconds", "kind" => kind)
                    .record(started.elapsed().as_secs_f64());
                send_reply(&mut send, &response).await;
            }
        }
    }

    async fn protocol_error(&self, send: &mut quinn::SendStream, e: &CodecError) {
        tracing::warn!(error = %e, "bad frame: closing the connection");
        send_reply(send, &Response::Error(reply(e.code(), e.to_string()))).await;
        // Give the answer a moment to leave before closing.
        let _ = tokio::time::timeout(Duration::from_millis(200), send.stopped()).await;
        self.connection
            .close(close::PROTOCOL.into(), e.to_string().as_bytes());
    }

    /// A display subscription: snapshot, then every change.
    async fn watch(mut self, mut send: quinn::SendStream, _recv: quinn::RecvStream) {
        if let Err(refusal) = require(&self.session, &[Role::Display, Role::Admin]) {
            return send_reply(&mut send, &Response::Error(refusal)).await;
        }
        let limit = self.daemon.config().limits.displays_per_hall;
        let Some(_display) = self.session.hall.add_display(limit) else {
            metrics::counter!("hallq_connections_refused_total", "reason" => "displays_per_hall")
                .increment(1);
            let refusal = reply(ErrorCode::TooManyDisplays,
                format!("this hall already has {limit} displays subscribed"),
            );
            return send_reply(&mut send, &Response::Error(refusal)).await;
        };
        if let Err(refusal) = serving(&self.daemon, &self.session.hall) {
            return send_reply(&mut send, &Response::Error(refusal)).await;
        }
        let mut moved = self.session.hall.moved();
        let mut feed = self.session.hall.watch();
        let hall_id = self.session.hall.id().to_owned();
        metrics::gauge!("hallq_display_subscribers", "hall" => hall_id.clone()).increment(1.0);
        let mut ok =
            write(&mut send, &Response::Watching).await && write(&mut send, &feed.snapshot).await;
        while ok {
            tokio::select! {
                update = feed.updates.recv() => match update {
                    Ok(batch) if batch.is_resync() => {
                        // The hall was rebuilt from its journal after a
                        // storage failure: what this display holds may be
                        // undone. Start over from a fresh snapshot.
                        let dropped = hallq_proto::wire::DisplayUpdate::Dropped {
                            reason: "the hall was rebuilt from its journal; reconnect for a fresh snapshot".into(),
                        };
                        let _ = write(&mut send, &dropped).await;
                        break;
                    }
                    Ok(batch) => {
                        // Encoded once, shared by every display; skip what
                        // the snapshot already had.
                        let Some(frame) = batch.after(feed.seq) else {
                            continue;
                        };
                        ok = codec::write_frame(&mut send, &frame).await.is_ok();
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::info!(missed, "display fell behind: dropped");
                        metrics::counter!("hallq_display_dropped_total", "hall" => hall_id.clone()).increment(1);
                        let dropped = hallq_proto::wire::DisplayUpdate::Dropped {
                            reason: format!("fell behind by {missed} updates; reconnect for a fresh snapshot"),
                        };
                        let _ = write(&mut send, &dropped).await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = self.shutdown.recv() => {
                    let dropped = hallq_proto::wire::DisplayUpdate::Dropped { reason: "hallqd is shutting down".into() };
                    let _ = write(&mut send, &dropped).await;
                    break;
                }
                _ = moved.changed() => {
                    let dropped = hallq_proto::wire::DisplayUpdate::Dropped { reason: MOVED.into() };
                    let _ = write(&mut send, &dropped).await;
                    break;
                }
            }
        }
        metrics::gauge!("hallq_display_subscribers", "hall" => hall_id).decrement(1.0);
        finish(&mut send).await;
    }

    /// A notifier subscription: pending notifications, then new ones; acks
    /// arrive on the same stream.
    async fn notify(mut self, mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
        if let Err(refusal) = require(&self.session, &[Role::Notifier, Role::Admin]) {
            return send_reply(&mut send, &Response::Error(refusal)).await;
        }
        let hall = self.session.hall.clone();
        if let Err(refusal) = serving(&self.daemon, &hall) {
            return send_reply(&mut send, &Response::Error(refusal)).await;
        }
        let mut moved = hall.moved();
        let mut feed = hall.notifications();
        // Acknowledgements on their way to disk; awaited as they complete,
        // so the next one is read meanwhile.
        let mut storing = FuturesUnordered::new();
        let mut ok = write(&mut send, &Response::Notifying).await;
        for n in feed.pending.drain(..) {
            ok = ok
                && write(
                    &mut send,
                    &NotifierFrame::Notification(Box::new((*n).clone())),
                )
                .await;
        }
        while ok {
            tokio::select! {
                update = feed.updates.recv() => match update {
                    Ok(n) => {
                        if HallShard::notification_number(&n).is_some_and(|k| k < feed.upto) {
                            continue;
                        }
                        ok = write(&mut send, &NotifierFrame::Notification(Box::new((*n).clone()))).await;
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        let reason = format!("fell behind by {missed} notifications; reconnect to receive every pending one");
                        let _ = write(&mut send, &NotifierFrame::Dropped { reason }).await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                ack = codec::read_frame::<NotifierMessage>(&mut recv) => match ack {
                    Ok(Some(message)) => match match &message {
                        NotifierMessage::Ack { id } => hall.ack(id),
                        NotifierMessage::Failed { id, reason } => hall.fail_notification(id, reason),
                    } {
                        Ok(Some(durable)) => storing.push(durable),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "cannot store an acknowledgement");
                            break;
                        }
                    },
                    Ok(None) => break,
                    Err(e) => return self.protocol_error(&mut send, &e).await,
                },
                Some(stored) = storing.next(), if !storing.is_empty() => {
                    if let Err(e) = stored {
                        tracing::error!(error = %e, "cannot store an acknowledgement");
                        break;
                    }
                }
                _ = moved.changed() => {
                    let _ = write(&mut send, &NotifierFrame::Dropped { reason: MOVED.into() }).await;
                    break;
                }
                _ = self.shutdown.recv() => {
                    let _ = write(&mut send, &NotifierFrame::Dropped { reason: "hallqd is shutting down".into() }).await;
                    break;
                }
            }
        }
        // An acknowledgement still on its way is stored or fails on its
        // own; a lost one only means a redelivery the gateway deduplicates.
        while storing.next().await.is_some() {}
        finish(&mut send).await;
    }
}

/// A token bucket: `rate` requests per second sustained, bursts of `2 ×
/// rate`.
struct Bucket {
    rate: f64,
    tokens: f64,
    last: tokio::time::Instant,
}

impl Bucket {
    fn new(rate: u32) -> Bucket {
        let rate = f64::from(rate);
        Bucket {
            rate,
            tokens: 2.0 * rate,
            last: tokio::time::Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(2.0 * self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Writes one message as a frame; false if the peer is gone.
async fn write<T: serde::Serialize>(send: &mut quinn::SendStream, message: &T) -> bool {
    match codec::encode(message) {
        Ok(frame) => codec::write_frame(send, &frame).await.is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a reply");
            false
        }
    }
}

/// Writes the one answer of a request stream and finishes the stream.
async fn send_reply(send: &mut quinn::SendStream, response: &Response) {
    if !write(send, response).await {
        tracing::debug!("client left before its answer");
    }
    finish(send).await;
}

/// Finishes a stream and waits (briefly) until the peer has it: when this
/// task held the connection's last handle, dropping it would close the
/// connection and discard what was not yet sent (a shutdown's `Dropped`).
async fn finish(send: &mut quinn::SendStream) {
    let _ = send.finish();
    let _ = tokio::time::timeout(Duration::from_secs(1), send.stopped()).await;
}

fn require(session: &Session, roles: &[Role]) -> Result<(), ErrorReply> {
    if roles.contains(&session.role) {
        Ok(())
    } else {
        Err(reply(ErrorCode::Forbidden,
            format!("a {} token may not do this", session.role),
        ))
    }
}

fn refused(e: ShardError) -> ErrorReply {
    reply(e.code(), e.to_string())
}

/// Refuses with `not_owner` unless this daemon serves `hall` now (always,
/// without a cluster).
fn serving(daemon: &Daemon, hall: &HallShard) -> Result<(), ErrorReply> {
    if hall.serving() {
        Ok(())
    } else {
        Err(not_owner(daemon, hall.id()))
    }
}

/// Cluster mode: hall `hall` is served by another node (named in
/// `redirect` when known). Nothing was changed.
fn not_owner(daemon: &Daemon, hall: &str) -> ErrorReply {
    let redirect = daemon.redirect(hall);
    let message = match &redirect {
        Some(at) => format!("hall {hall:?} is served by the hallqd at {at} now; ask there"),
        None => format!(
            "hall {hall:?} is not served by this hallqd now (it is moving between nodes); \
             try again in a moment"
        ),
    };
    ErrorReply {
        redirect,
        ..reply(ErrorCode::NotOwner, message)
    }
}

/// Carries out one request within the session's rights (SPEC §3).
async fn handle(
    daemon: &Daemon,
    session: &Session,
    request: Request,
) -> Result<Response, ErrorReply> {
    let hall = &session.hall;
    // Cluster mode: only the owner answers for a hall (a follower's state
    // may lag); the daemon-wide requests are answered anywhere.
    if !matches!(request, Request::Health | Request::Reload) {
        serving(daemon, hall)?;
    }
    if let Some(answer) = appointments::handle(session, &request).await {
        return answer;
    }
    match request {
        Request::Issue { item, lane, phone } => {
            require(session, &[Role::Kiosk, Role::Admin])?;
            if lane == Lane::Appointment && session.role != Role::Admin {
                return Err(reply(ErrorCode::Forbidden,
                    "appointment tickets are issued by checking in a booking",
                ));
            }
            let phone = phone
                .map(Phone::new)
                .transpose()
                .map_err(|e| reply(ErrorCode::BadRequest, e.0))?;
            hall.execute(Command::Issue { item, lane, phone }, |hall, events| {
                events.iter().find_map(|e| match e {
                    Event::Issued { issued, at } => {
                        Some(Response::Issued(issued_ticket(hall, issued, *at)))
                    }
                    _ => None,
                })
            })
            .await
            .map_err(refused)?
            .ok_or_else(|| reply(ErrorCode::Internal, "no ticket was issued"))
        }
        Request::Window { window, action } => {
            let window = match (session.role, window) {
                (Role::Window, None) => session
                    .window
                    .ok_or_else(|| reply(ErrorCode::Forbidden, "no window"))?,
                (Role::Window, Some(w)) if Some(w) == session.window => w,
                (Role::Window, Some(w)) => {
                    return Err(reply(ErrorCode::Forbidden,
                        format!(
                            "this terminal is window {}; it may not act for window {w}",
                            session.window.map_or(0, |w| w.0)
                        ),
                    ))
                }
                (Role::Admin, Some(w)) => w,
                (Role::Admin, None) => {
                    return Err(reply(ErrorCode::BadRequest, "name the window (--window N)"))
                }
                _ => return Err(require(session, &[Role::Window, Role::Admin]).unwrap_err()),
            };
            let name = action.name().to_owned();
            let command = window_command(window, action);
            hall.execute(command, |hall, events| {
                let (ticket, announced) = events
                    .iter()
                    .find_map(|e| match e {
                        Event::Called { number, .. } | Event::Recalled { number, .. } => {
                            Some((Some(*number), Some(announcement(*number, window))))
                        }
                        Event::Started { number, .. }
                        | Event::Finished { number, .. }
                        | Event::NoShow { number, .. }
                        | Event::Transferred { number, .. } => Some((Some(*number), None)),
                        _ => None,
                    })
                    .unwrap_or((None, None));
                hall.window_view_of(window).map(|view| Response::Window {
                    action: name,
                    ticket,
                    announcement: announced,
                    window: view,
                })
            })
            .await
            .map_err(refused)?
            .map_err(|e| reply(e.code(), e.to_string()))
        }
        Request::Reinstate { ticket } => {
            require(session, &[Role::Window, Role::Admin])?;
            hall.execute(Command::Reinstate { ticket }, |_, events| {
                reinstated(ticket, events)
            })
            .await
            .map_err(refused)
        }
        Request::CloseIssuing | Request::OpenIssuing => {
            require(session, &[Role::Admin])?;
            let open = matches!(request, Request::OpenIssuing);
            let command = if open {
                Command::OpenIssuing
            } else {
                Command::CloseIssuing
            };
            hall.execute(command, |_, _| Response::Issuing { open })
                .await
                .map_err(refused)
        }
        Request::Status => {
            require(
                session,
                &[Role::Kiosk, Role::Window, Role::Display, Role::Admin],
            )?;
            Ok(Response::Status(hall.read(|h| Status {
                hall: session.hall.id().to_owned(),
                hall_name: session.hall.name().to_owned(),
                view: h.view(),
                waiting: h.waiting(),
            })))
        }
        Request::Reload => {
            require(session, &[Role::Admin])?;
            daemon
                .reload()
                .await
                .map(|changes| Response::Reloaded { changes })
                .map_err(|e| reply(ErrorCode::ReloadRefused, e.to_string()))
        }
        Request::Health => {
            require(session, &[Role::Admin])?;
            Ok(Response::Health(daemon.health()))
        }
        Request::Rate { ticket, rating } => {
            require(session, &[Role::Window, Role::Admin])?;
            // A window's rating terminal rates only what it served.
            let window = session.window.filter(|_| session.role == Role::Window);
            hall.execute(
                Command::Rate {
                    ticket,
                    rating,
                    window,
                },
                |_, events| {
                    events.iter().find_map(|e| match e {
                        Event::Rated { number, rating, .. } => Some(Response::Rated {
                            ticket: *number,
                            rating: *rating,
                            // Seed 000 §四(六)6: the outbox derives one from it.
                            work_order: rating.value() <= 2,
                        }),
                        _ => None,
                    })
                },
            )
            .await
            .map_err(refused)?
            .ok_or_else(|| reply(ErrorCode::Internal, "no rating was recorded"))
        }
        Request::Stats { day, by } => {
            require(session, &[Role::Admin])?;
            let shard = hall.clone();
            let day = day.unwrap_or_else(|| shard.today());
            tokio::task::spawn_blocking(move || shard.stats(day, by))
                .await
                .map_err(|e| reply(ErrorCode::Internal, e.to_string()))?
                .map(|stats| Response::Stats(Box::new(stats)))
                .map_err(|e| reply(ErrorCode::JournalUnreadable, e.to_string()))
        }
        Request::Export { day, from } => {
            require(session, &[Role::Admin])?;
            let key = daemon
                .config()
                .hall(hall.id())
                .and_then(|h| h.export_key.clone());
            let shard = hall.clone();
            tokio::task::spawn_blocking(move || {
                shard.export(day, from, key.as_ref().map(|k| k.0.expose().as_bytes()))
            })
            .await
            .map_err(|e| reply(ErrorCode::Internal, e.to_string()))?
            .map(|page| Response::Export {
                records: page.records,
                next: page.next,
            })
            .map_err(|e| reply(ErrorCode::JournalUnreadable, e.to_string()))
        }
        Request::Book { .. }
        | Request::Bookings { .. }
        | Request::CancelBooking { .. }
        | Request::CheckIn { .. }
        | Request::AdjustSlots { .. } => unreachable!("handled by appointments::handle"),
        Request::Watch | Request::Notifications => Err(reply(ErrorCode::BadRequest,
            "subscriptions are handled on their own stream",
        )),
    }
}

/// What a kiosk prints for a new ticket (DB33/T 2036.4 §7.3.4).
pub(crate) fn issued_ticket(
    hall: &hallq_core::Hall,
    issued: &Issued,
    at: Timestamp,
) -> IssuedTicket {
    IssuedTicket {
        ticket: issued.number,
        item_name: hall
            .spec()
            .items
            .iter()
            .find(|i| i.code == issued.number.item)
            .map(|i| i.name.clone())
            .unwrap_or_default(),
        lane: issued.lane,
        position: issued.position,
        windows: issued.windows.clone(),
        eta_secs: issued.eta_secs,
        approaching: issued.approaching,
        issued_at: at,
    }
}

fn reinstated(ticket: TicketNo, events: &[Event]) -> Response {
    let position = events
        .iter()
        .find_map(|e| match e {
            Event::Reinstated { position, .. } => Some(*position),
            _ => None,
        })
        .unwrap_or_default();
    Response::Reinstated { ticket, position }
}

fn window_command(window: WindowNo, action: WindowAction) -> Command {
    match action {
        WindowAction::Call { ticket: None } => Command::CallNext { window },
        WindowAction::Call {
            ticket: Some(ticket),
        } => Command::CallTicket { window, ticket },
        WindowAction::Recall => Command::Recall { window },
        WindowAction::Start => Command::Start { window },
        WindowAction::Finish { rating } => Command::Finish { window, rating },
        WindowAction::NoShow => Command::NoShow { window },
        WindowAction::Transfer { to } => Command::Transfer {
            window,
            to: match to {
                Target::Item(item) => TransferTarget::Item(item),
                Target::Window(w) => TransferTarget::Window(w),
            },
        },
        WindowAction::Pause { reason } => Command::Pause { window, reason },
        WindowAction::Resume => Command::Resume { window },
        WindowAction::Open => Command::OpenWindow { window },
        WindowAction::Close => Command::CloseWindow { window },
        WindowAction::Login { staff, post } => Command::LogIn {
            window,
            staff,
            post,
        },
        WindowAction::Logout => Command::LogOut { window },
        WindowAction::FinishBatch { with, rating } => Command::FinishBatch {
            window,
            with,
            rating,
        },
    }
}
