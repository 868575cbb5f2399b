//! One client connection: authentication, then one task per request stream.
//!
//! The first stream carries the [`Hello`]; its token decides the role, hall
//! and window (SPEC §3) for the life of the connection (a `Session`). Every
//! later stream carries one request, read here and handed to its family in
//! `route`; a connection over its rate has the request refused
//! unread. A stream that opens a pipeline (protocol 2) carries many
//! requests instead ([`pipeline`]). A frame that is oversized, truncated
//! or not a request gets an error answer and the connection is closed: a
//! peer that sends garbage is not trusted with more.

use std::sync::Arc;
use std::time::Duration;

use hallq_proto::codec::{self, CodecError};
use hallq_proto::types::Role;
use hallq_proto::wire::{ErrorReply, Hello, Request, Response, Welcome};
use hallq_proto::ErrorCode;
use tokio::sync::{broadcast, mpsc};
use tracing::Instrument;

use super::frame::{close, protocol_error, send_reply};
use super::rights::{not_owner, reply, serving, Session};
use super::route::{self, stream, Routed};
use super::Daemon;

mod pipeline;

/// How long a new connection has to say [`Hello`].
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

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

impl Handler {
    /// Runs the connection until the peer leaves or the daemon shuts down.
    ///
    /// `half_open` is this connection's place among those not authenticated
    /// yet: held through the handshake and the hello, given back once the
    /// connection has a seat (or is gone). Only an authenticated connection
    /// takes a seat against `[limits] connections` (issue 19: handshakes
    /// that never finish held every seat for half a minute).
    pub async fn run(
        mut self,
        incoming: quinn::Incoming,
        half_open: super::admission::HalfOpenPass,
    ) {
        let remote = incoming.remote_address();
        let limits = self.daemon.config().limits.clone();
        // Subscribed before the token is checked: a reload in between is
        // seen as a change, and the token checked again.
        let mut tokens_changed = self.daemon.tokens_changed();
        // The handshake and the hello together have HELLO_TIMEOUT: a peer
        // that stops halfway gives its place back then.
        let deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
        let connection = match tokio::time::timeout_at(deadline, incoming).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::debug!(%remote, error = %e, "handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "handshake not finished in time");
                metrics::counter!("hallq_handshakes_timed_out_total").increment(1);
                return;
            }
        };
        let (session, token, seat) = match tokio::time::timeout_at(
            deadline,
            self.authenticate(&connection, &limits),
        )
        .await
        {
            Ok(Ok(granted)) => granted,
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
        drop(half_open);
        let span = tracing::info_span!(
            "connection",
            %remote,
            role = %session.role,
            hall = session.hall.id(),
            window = session.window.map(|w| w.0),
        );
        let role = session.role.as_str();
        let bucket = Arc::new(Bucket::new(limits.requests_per_second));
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
                            let refusal = bucket.refusal(session.role);
                            tokio::spawn(async move {
                                let _recv = recv;
                                send_reply(&mut send, &refusal).await;
                            });
                            continue;
                        }
                        let task = RequestTask {
                            frame_timeout,
                            bucket: bucket.clone(),
                            daemon: self.daemon.clone(),
                            session: session.clone(),
                            connection: connection.clone(),
                            shutdown: self.shutdown.resubscribe(),
                            _done: self._done.clone(),
                        };
                        tokio::spawn(task.run(send, recv).in_current_span());
                    }
                    Ok(()) = tokens_changed.changed() => {
                        // A reload changed the tokens: a connection whose
                        // token was removed, or now grants something else,
                        // is closed at once, requests in flight with it.
                        if !self.still_granted(&token, &session) {
                            tracing::warn!("token revoked by a config reload: connection closed");
                            metrics::counter!("hallq_connections_revoked_total").increment(1);
                            connection.close(close::UNAUTHORIZED.into(), b"token revoked by a config reload");
                            break;
                        }
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

    /// Whether `token` still grants `session` (role, window, hall) under
    /// the configuration in force now.
    fn still_granted(&self, token: &str, session: &Session) -> bool {
        self.daemon
            .grant_for(token.as_bytes())
            .is_some_and(|grant| {
                grant.role == session.role
                    && grant.window == session.window
                    && grant.covers_hall(session.hall.id())
            })
    }

    /// Reads the [`Hello`] on the first stream and answers it; an accepted
    /// connection takes its seat here, against the total and its role's
    /// limit. Returns the session, the token it was granted with (checked
    /// again after a reload) and the seat.
    async fn authenticate(
        &self,
        connection: &quinn::Connection,
        limits: &crate::config::Limits,
    ) -> Result<(Session, String, super::Seat), ErrorReply> {
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
            let Some(mut seat) = self.occupancy.enter(limits.connections) else {
                metrics::counter!("hallq_connections_refused_total", "reason" => "total")
                    .increment(1);
                return Err(reply(
                    ErrorCode::TooManyConnections,
                    format!("too many connections (limit {})", limits.connections),
                ));
            };
            let limit = limits.per_role.of(session.role);
            if seat.take_role(session.role, limit) {
                Ok((session, seat))
            } else {
                metrics::counter!("hallq_connections_refused_total", "reason" => session.role.as_str())
                    .increment(1);
                Err(reply(ErrorCode::TooManyConnections,
                    format!("too many {} connections (limit {limit})", session.role),
                ))
            }
        });
        let answer = match &result {
            Ok((session, _)) => Response::Welcome(Welcome {
                role: session.role,
                hall: session.hall.id().to_owned(),
                hall_name: session.hall.name().to_owned(),
                window: session.window,
            }),
            Err(refusal) => Response::Error(refusal.clone()),
        };
        send_reply(&mut send, &answer).await;
        match result {
            Ok((session, seat)) => Ok((session, hello.token, seat)),
            Err(refusal) => {
                // Let the refusal reach the client before the connection closes.
                let _ = tokio::time::timeout(Duration::from_secs(1), send.stopped()).await;
                Err(refusal)
            }
        }
    }

    fn grant(&self, hello: &Hello) -> Result<Session, ErrorReply> {
        // Constant-time comparison against every token (config::Secret).
        let grant = self
            .daemon
            .grant_for(hello.token.as_bytes())
            .ok_or_else(|| reply(ErrorCode::Unauthorized, "unknown token"))?;
        let mut hall_named = true;
        let hall_id = match (&grant.hall, &hello.hall) {
            (Some(own), Some(asked)) if own != asked => {
                return Err(reply(
                    ErrorCode::Forbidden,
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
            // Health and reload are daemon-wide: an all-halls admin needs
            // no hall for them (the route refuses the rest).
            (None, None) if grant.role == Role::Admin => {
                hall_named = false;
                let mut ids: Vec<String> = self
                    .daemon
                    .halls()
                    .iter()
                    .map(|h| h.id().to_owned())
                    .collect();
                ids.sort();
                ids.into_iter().next().unwrap_or_default()
            }
            (None, None) => {
                return Err(reply(
                    ErrorCode::BadRequest,
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
            hall_named,
            change: None,
        })
    }
}

/// One request stream.
struct RequestTask {
    /// How long the request may take to arrive whole.
    frame_timeout: Duration,
    /// The connection's rate, for a pipeline's requests.
    bucket: Arc<Bucket>,
    daemon: Arc<Daemon>,
    session: Session,
    connection: quinn::Connection,
    shutdown: broadcast::Receiver<()>,
    /// Held until the request is answered or its subscription ends, so
    /// that shutdown waits for it.
    _done: mpsc::Sender<()>,
}

impl RequestTask {
    async fn run(mut self, mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
        let request: Request =
            match tokio::time::timeout(self.frame_timeout, codec::read_frame(&mut recv)).await {
                Ok(Ok(Some(request))) => request,
                Ok(Ok(None)) => return,
                Ok(Err(e)) => return protocol_error(&self.connection, &mut send, &e).await,
                Err(_) => {
                    // Slow loris: a stream opened and never finished.
                    metrics::counter!("hallq_slow_clients_cut_total").increment(1);
                    let e = CodecError::Malformed(format!(
                        "no complete request within {} s",
                        self.frame_timeout.as_secs()
                    ));
                    return protocol_error(&self.connection, &mut send, &e).await;
                }
            };
        let kind = request.kind();
        let started = tokio::time::Instant::now();
        let answer = match route::handle(&self.daemon, &self.session, request).await {
            Routed::Answer(answer) => answer,
            Routed::Watch => return stream::watch(self.subscriber(), send, recv).await,
            Routed::Notifications => return stream::notify(self.subscriber(), send, recv).await,
            Routed::Pipeline => {
                let pipe = pipeline::Pipe {
                    daemon: &self.daemon,
                    session: &self.session,
                    connection: &self.connection,
                    shutdown: &mut self.shutdown,
                    bucket: &self.bucket,
                    frame_timeout: self.frame_timeout,
                };
                return pipeline::serve(pipe, send, recv).await;
            }
        };
        let response = answer_of(&self.daemon, &self.session, kind, started, answer);
        send_reply(&mut send, &response).await;
    }

    /// This stream's connection, for a subscription that keeps the stream.
    fn subscriber(&mut self) -> stream::Subscriber<'_> {
        stream::Subscriber {
            daemon: &self.daemon,
            session: &self.session,
            connection: &self.connection,
            shutdown: &mut self.shutdown,
        }
    }
}

/// The answer a client gets for a request `kind` routed at `started`: a
/// refusal logged and counted by code, `not_owner` with the hall's owner,
/// the request's duration recorded. Shared by request streams and
/// pipelines, so both answer alike.
pub(super) fn answer_of(
    daemon: &Daemon,
    session: &Session,
    kind: &'static str,
    started: tokio::time::Instant,
    answer: Result<Response, ErrorReply>,
) -> Response {
    let response = match answer {
        Ok(response) => response,
        Err(refusal) if refusal.code == ErrorCode::NotOwner => {
            Response::Error(not_owner(daemon, session.hall.id()))
        }
        Err(refusal) => {
            tracing::info!(request = kind, code = %refusal.code, "refused");
            metrics::counter!("hallq_requests_refused_total", "kind" => kind, "code" => refusal.code.to_string()).increment(1);
            Response::Error(refusal)
        }
    };
    metrics::histogram!("hallq_request_duration_seconds", "kind" => kind)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A connection's token bucket: `rate` requests per second sustained,
/// bursts of `2 × rate`, shared by its request streams and pipelines.
#[derive(Debug)]
pub(super) struct Bucket {
    rate: u32,
    state: parking_lot::Mutex<Level>,
}

#[derive(Debug)]
struct Level {
    tokens: f64,
    last: tokio::time::Instant,
}

impl Bucket {
    fn new(rate: u32) -> Bucket {
        Bucket {
            rate,
            state: parking_lot::Mutex::new(Level {
                tokens: 2.0 * f64::from(rate),
                last: tokio::time::Instant::now(),
            }),
        }
    }

    /// Takes one request's token; false if the connection is over its rate.
    pub(super) fn take(&self) -> bool {
        let rate = f64::from(self.rate);
        let now = tokio::time::Instant::now();
        let mut level = self.state.lock();
        let refill = now.duration_since(level.last).as_secs_f64() * rate;
        level.tokens = (level.tokens + refill).min(2.0 * rate);
        level.last = now;
        if level.tokens >= 1.0 {
            level.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The answer to a request over the rate (counted).
    pub(super) fn refusal(&self, role: Role) -> Response {
        metrics::counter!("hallq_requests_rate_limited_total", "role" => role.as_str())
            .increment(1);
        Response::Error(reply(
            ErrorCode::RateLimited,
            format!(
                "more than {} requests per second from this connection; slow down",
                self.rate
            ),
        ))
    }
}
