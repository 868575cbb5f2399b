//! The async client: what a kiosk UI, a window terminal, a display board or
//! an SMS gateway uses to talk to `hallqd`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hallq_client::client::ClientError> {
//! use hallq_client::client::Client;
//! use hallq_proto::types::{ItemCode, Lane};
//! let cert = hallq_client::tls::load_cert_pem("hallq-state/tls/cert.pem".as_ref())?;
//! let kiosk = Client::connect("127.0.0.1:7878".parse().unwrap(), cert, "demo-kiosk-token-0001", None).await?;
//! let ticket = kiosk.issue(ItemCode::new('A').unwrap(), Lane::WalkIn, None).await?;
//! println!("{} — {} ahead", ticket.ticket, ticket.position);
//! # Ok(()) }
//! ```

use hallq_proto::wire::{CLOSE_NOT_OWNER, CLOSE_UNAUTHORIZED};
use hallq_proto::ErrorCode;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;

use crate::tls::{self, TlsError};
use hallq_proto::codec::{self, CodecError};
use hallq_proto::types::{ItemCode, Lane, WindowNo};
use hallq_proto::wire::{
    ChangeId, DisplayUpdate, ErrorReply, Hello, IssuedTicket, Notification, NotifierFrame,
    NotifierMessage, Request, Response, Status, Welcome, WindowAction,
};

/// How long a request may take before the client gives up on it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a request did not get an answer, or got a refusal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed (unreachable, wrong certificate, wrong protocol).
    #[error(transparent)]
    Connect(#[from] TlsError),
    /// The daemon refused the request; nothing changed.
    #[error("{}", .0.message)]
    Refused(ErrorReply),
    /// A frame could not be written, read or decoded.
    #[error("protocol error: {0}")]
    Codec(#[from] CodecError),
    /// The connection or stream failed.
    #[error("connection to hallqd lost: {0}")]
    Connection(String),
    /// The daemon sent something this client does not expect.
    #[error("unexpected answer from hallqd: {0}")]
    Unexpected(String),
    /// No answer in time.
    #[error("hallqd did not answer within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout,
    /// A `HOST:PORT` to connect to does not resolve to an address.
    #[error("cannot resolve hallqd's address {server}: {reason}")]
    Resolve {
        /// As given.
        server: String,
        /// The resolver's answer.
        reason: String,
    },
}

impl ClientError {
    /// A stable code: the daemon's code for refusals, a local one otherwise.
    pub fn code(&self) -> ErrorCode {
        match self {
            ClientError::Connect(e) => e.code(),
            ClientError::Refused(reply) => reply.code.clone(),
            ClientError::Codec(e) => e.code(),
            ClientError::Connection(_) => ErrorCode::ConnectionLost,
            ClientError::Unexpected(_) => ErrorCode::UnexpectedAnswer,
            ClientError::Timeout => ErrorCode::Timeout,
            ClientError::Resolve { .. } => ErrorCode::Unreachable,
        }
    }
}

impl From<quinn::ConnectionError> for ClientError {
    fn from(e: quinn::ConnectionError) -> Self {
        match e {
            // The daemon closes a connection it refuses with the reason.
            quinn::ConnectionError::ApplicationClosed(close) => ClientError::Connection(format!(
                "closed by hallqd: {}",
                String::from_utf8_lossy(&close.reason)
            )),
            other => ClientError::Connection(other.to_string()),
        }
    }
}

/// The ticket in an answer to [`Request::Issue`].
pub(crate) fn issued(answer: Response) -> Result<IssuedTicket, ClientError> {
    match answer {
        Response::Issued(ticket) => Ok(ticket),
        other => Err(ClientError::Unexpected(format!("{other:?}"))),
    }
}

/// The hall in an answer to [`Request::Status`].
pub(crate) fn status(answer: Response) -> Result<Status, ClientError> {
    match answer {
        Response::Status(status) => Ok(status),
        other => Err(ClientError::Unexpected(format!("{other:?}"))),
    }
}

/// An authenticated connection to `hallqd`.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    welcome: Welcome,
    /// The daemon chose protocol `hallq/1.1` or `hallq/2`: changes may
    /// carry ids.
    change_ids: bool,
    /// Protocol `hallq/2`: requests go on this connection's pipeline
    /// instead of a stream each.
    pipeline: Option<Arc<Pipeline>>,
}

impl Client {
    /// Connects to `server`, pinning its certificate, and presents `token`.
    /// `hall` is needed only for an admin token covering several halls.
    ///
    /// One address, one attempt: in cluster mode a daemon that does not
    /// serve the token's hall refuses with `not_owner`; use
    /// [`Client::connect_any`] to be taken to the hall wherever it is.
    pub async fn connect(
        server: SocketAddr,
        pinned: CertificateDer<'static>,
        token: &str,
        hall: Option<&str>,
    ) -> Result<Client, ClientError> {
        Client::connect_within(
            server,
            pinned,
            token,
            hall,
            tls::CONNECT_TIMEOUT,
            REQUEST_TIMEOUT,
        )
        .await
    }

    /// [`Client::connect`] with its two waits as parameters: for the
    /// handshake, then for the answer to the Hello.
    pub(crate) async fn connect_within(
        server: SocketAddr,
        pinned: CertificateDer<'static>,
        token: &str,
        hall: Option<&str>,
        handshake: Duration,
        answer: Duration,
    ) -> Result<Client, ClientError> {
        let endpoint = tls::client_endpoint(server)?;
        let connection =
            match tls::connect_with(&endpoint, server, pinned, tls::offered(), handshake).await {
                Ok(connection) => connection,
                Err(e) => {
                    // Nothing to drain: do not leave the socket's task behind.
                    endpoint.close(0u32.into(), b"");
                    return Err(e.into());
                }
            };
        let hello = Hello {
            token: token.to_owned(),
            hall: hall.map(str::to_owned),
            client: concat!("hallq ", env!("CARGO_PKG_VERSION")).to_owned(),
        };
        let answer_within = answer;
        let answer = exchange(&connection, &hello, answer_within)
            .await
            .map_err(|failed| {
                // The refusal may have been overtaken by the close that follows
                // it; the close carries the same message.
                match connection.close_reason() {
                    Some(quinn::ConnectionError::ApplicationClosed(close))
                        if close.error_code == CLOSE_UNAUTHORIZED.into() =>
                    {
                        ClientError::Refused(ErrorReply::new(
                            "unauthorized",
                            String::from_utf8_lossy(&close.reason).into_owned(),
                        ))
                    }
                    Some(quinn::ConnectionError::ApplicationClosed(close))
                        if close.error_code == CLOSE_NOT_OWNER.into() =>
                    {
                        ClientError::Refused(ErrorReply::new(
                            "not_owner",
                            String::from_utf8_lossy(&close.reason).into_owned(),
                        ))
                    }
                    _ => failed.error,
                }
            });
        let refusal = match answer {
            Ok(Response::Welcome(welcome)) => {
                let change_ids = tls::takes_change_ids(&connection);
                let pipeline = if tls::takes_pipeline(&connection) {
                    match Pipeline::open(&connection, answer_within).await {
                        Ok(pipeline) => Some(Arc::new(pipeline)),
                        Err(e) => {
                            // Requests still work, a stream each.
                            tracing::debug!(error = %e, "no pipeline: a stream per request");
                            None
                        }
                    }
                } else {
                    None
                };
                return Ok(Client {
                    endpoint,
                    connection,
                    welcome,
                    change_ids,
                    pipeline,
                });
            }
            Ok(Response::Error(reply)) => ClientError::Refused(reply),
            Ok(other) => ClientError::Unexpected(format!("{other:?}")),
            Err(e) => e,
        };
        // Say goodbye rather than leave the daemon to notice by its idle
        // timeout.
        connection.close(0u32.into(), b"bye");
        Err(refusal)
    }

    /// Who the daemon says this connection is.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The daemon's address this connection goes to.
    pub fn remote_address(&self) -> SocketAddr {
        self.connection.remote_address()
    }

    /// Whether the connection is gone (closed by either side, or the
    /// daemon fell silent for the idle timeout) or its pipeline ended (a
    /// daemon shutting down ends it first); every request on it fails.
    pub fn is_closed(&self) -> bool {
        self.connection.close_reason().is_some()
            || self.pipeline.as_ref().is_some_and(|p| p.ended())
    }

    /// Tells this connection apart from another to the same daemon.
    pub(crate) fn stable_id(&self) -> usize {
        self.connection.stable_id()
    }

    /// Closes the connection without waiting for the daemon to hear of it
    /// (a following client leaving a daemon that no longer serves its hall).
    pub(crate) fn abandon(&self, why: &[u8]) {
        self.connection.close(0u32.into(), why);
    }

    /// Sends one request and waits for its answer; a refusal is an error.
    pub async fn request(&self, request: &Request) -> Result<Response, ClientError> {
        self.send(request).await.map_err(|failed| failed.error)
    }

    /// [`Client::request`], saying on failure whether the request left in
    /// full (so the daemon may have carried it out).
    pub(crate) async fn send(&self, request: &Request) -> Result<Response, Failed> {
        self.send_once(request, None, None).await
    }

    /// Whether the daemon takes change ids on this connection (it chose
    /// protocol `hallq/1.1`; an older daemon speaks `hallq/1` only).
    pub fn takes_change_ids(&self) -> bool {
        self.change_ids
    }

    /// [`Client::send`] of a change with its id `id`, if the daemon takes
    /// ids (else as it is): a failure says whether the id went with it, so
    /// that it may be sent again without being carried out twice. With
    /// `dead_after`, a connection that hears nothing from the daemon for
    /// that long while the request waits is closed as dead
    /// ([`tls::DEAD_AFTER`]), for a caller that sends again.
    pub(crate) async fn send_once(
        &self,
        request: &Request,
        id: Option<ChangeId>,
        dead_after: Option<Duration>,
    ) -> Result<Response, Failed> {
        let wrapped = match id {
            Some(id) if self.change_ids && !request.is_read_only() => Some(Request::Once {
                id,
                request: Box::new(request.clone()),
            }),
            _ => None,
        };
        let once = wrapped.is_some();
        let sent = wrapped.as_ref().unwrap_or(request);
        let answer = match dead_after {
            None => self.exchange(sent).await,
            Some(limit) => {
                let exchanged = self.exchange(sent);
                tokio::pin!(exchanged);
                tokio::select! {
                    answer = &mut exchanged => answer,
                    silence = silent_for(&self.connection, limit) => {
                        // Closed here, so that the next request connects
                        // anew (a dead daemon never closes it).
                        self.connection.close(0u32.into(), b"hallqd fell silent");
                        Err(Failed { error: silence, sent: true, once: false })
                    }
                }
            }
        };
        match answer {
            Ok(Response::Error(reply)) => Err(Failed {
                error: ClientError::Refused(reply),
                sent: true,
                once,
            }),
            Ok(response) => Ok(response),
            Err(failed) => Err(Failed { once, ..failed }),
        }
    }

    /// One request and its answer: on the pipeline (protocol 2), else on a
    /// stream of its own. A subscription asked for here always takes a
    /// stream of its own, so that its answer (the first frame) is the
    /// daemon's as on protocol 1: a refusal by role, say.
    async fn exchange(&self, request: &Request) -> Result<Response, Failed> {
        let own_stream = matches!(
            request,
            Request::Watch | Request::Notifications | Request::Pipeline
        );
        match &self.pipeline {
            Some(pipeline) if !own_stream => pipeline.exchange(request, REQUEST_TIMEOUT).await,
            _ => exchange(&self.connection, request, REQUEST_TIMEOUT).await,
        }
    }

    /// Whether requests go on one pipelined stream (the daemon chose
    /// protocol `hallq/2`) rather than a stream each.
    pub fn pipelined(&self) -> bool {
        self.pipeline.is_some()
    }

    /// [`Client::request`] of a change with its id `id`, for a caller that
    /// keeps its own ids ([`crate::follow::ChangeIds`]) and may send the
    /// change again after a lost answer: it is carried out at most once.
    /// A daemon that takes no ids (protocol 1) gets the change as it is.
    pub async fn request_once(
        &self,
        request: &Request,
        id: ChangeId,
    ) -> Result<Response, ClientError> {
        self.send_once(request, Some(id), None)
            .await
            .map_err(|failed| failed.error)
    }

    /// Issues a ticket (kiosk).
    pub async fn issue(
        &self,
        item: ItemCode,
        lane: Lane,
        phone: Option<String>,
    ) -> Result<IssuedTicket, ClientError> {
        issued(self.request(&Request::Issue { item, lane, phone }).await?)
    }

    /// Carries out a window action; `window` may be left out by a window
    /// terminal.
    pub async fn window(
        &self,
        window: Option<WindowNo>,
        action: WindowAction,
    ) -> Result<Response, ClientError> {
        self.request(&Request::Window { window, action }).await
    }

    /// Every window and waiting ticket.
    pub async fn status(&self) -> Result<Status, ClientError> {
        status(self.request(&Request::Status).await?)
    }

    /// The hall's status with waiting tickets `from..from + limit` (at
    /// most [`hallq_proto::wire::WAITING_PAGE_MAX`] a page).
    pub async fn status_page(
        &self,
        from: u32,
        limit: u32,
    ) -> Result<hallq_proto::wire::StatusPage, ClientError> {
        match self.request(&Request::StatusPage { from, limit }).await? {
            Response::StatusPage(page) => Ok(page),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// A board's 请…准备 and 过号 lists (display, admin).
    pub async fn board_lines(&self) -> Result<hallq_proto::views::BoardLines, ClientError> {
        match self.request(&Request::BoardLines).await? {
            Response::BoardLines(lines) => Ok(lines),
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Subscribes to the display stream: a snapshot, then every change.
    pub async fn watch(&self) -> Result<DisplayStream, ClientError> {
        self.open_watch().await.map_err(|failed| failed.error)
    }

    /// [`Client::watch`], saying on failure whether the request left.
    pub(crate) async fn open_watch(&self) -> Result<DisplayStream, Failed> {
        let (send, recv) = self.subscribe(&Request::Watch, "watching").await?;
        Ok(DisplayStream { _send: send, recv })
    }

    /// Subscribes to the notification outbox: every pending notification,
    /// then each new one. Acknowledge each with [`NotificationStream::ack`]
    /// once the gateway accepted it.
    pub async fn notifications(&self) -> Result<NotificationStream, ClientError> {
        self.open_notifications()
            .await
            .map_err(|failed| failed.error)
    }

    /// [`Client::notifications`], saying on failure whether the request left.
    pub(crate) async fn open_notifications(&self) -> Result<NotificationStream, Failed> {
        let (send, recv) = self.subscribe(&Request::Notifications, "notifying").await?;
        Ok(NotificationStream { send, recv })
    }

    async fn subscribe(
        &self,
        request: &Request,
        expected: &str,
    ) -> Result<(quinn::SendStream, quinn::RecvStream), Failed> {
        let unsent = |error: ClientError| Failed {
            error,
            sent: false,
            once: false,
        };
        let frame = codec::encode(request).map_err(|e| unsent(e.into()))?;
        let (mut send, mut recv) = self
            .connection
            .open_bi()
            .await
            .map_err(|e| unsent(e.into()))?;
        codec::write_frame(&mut send, &frame)
            .await
            .map_err(|e| unsent(e.into()))?;
        let sent = |error: ClientError| Failed {
            error,
            sent: true,
            once: false,
        };
        let answer =
            tokio::time::timeout(REQUEST_TIMEOUT, codec::read_frame::<Response>(&mut recv))
                .await
                .map_err(|_| sent(ClientError::Timeout))?
                .map_err(|e| sent(e.into()))?;
        match answer {
            Some(Response::Watching) if expected == "watching" => Ok((send, recv)),
            Some(Response::Notifying) if expected == "notifying" => Ok((send, recv)),
            Some(Response::Error(reply)) => Err(sent(ClientError::Refused(reply))),
            Some(other) => Err(sent(ClientError::Unexpected(format!("{other:?}")))),
            None => Err(sent(match self.connection.close_reason() {
                Some(reason) => ClientError::from(reason),
                None => ClientError::Connection("stream closed before the answer".into()),
            })),
        }
    }

    /// Closes the connection and waits (briefly) until the daemon has been
    /// told, so it does not hold the connection until its idle timeout.
    pub async fn close(&self) {
        self.connection.close(0u32.into(), b"bye");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}

mod pipeline;
use pipeline::Pipeline;

/// A request that got no answer, or a refusal, and whether it left in full.
#[derive(Debug)]
pub(crate) struct Failed {
    /// What went wrong.
    pub(crate) error: ClientError,
    /// The whole request was handed to the transport, so the daemon may
    /// have received and carried it out (unless `error` is its refusal).
    /// `false` means it certainly did not: it may be sent again.
    pub(crate) sent: bool,
    /// It went with its change id (`Request::Once`): sent again with the
    /// same id, it is carried out at most once, so it may be.
    pub(crate) once: bool,
}

impl From<Failed> for ClientError {
    fn from(failed: Failed) -> Self {
        failed.error
    }
}

/// Resolves once `connection` has received nothing for `limit`: its
/// daemon's machine died or the network to it went. A live daemon
/// acknowledges the client's keep-alives ([`tls::KEEP_ALIVE`]) even while
/// it works on a slow request, so silence is not slowness.
async fn silent_for(connection: &quinn::Connection, limit: Duration) -> ClientError {
    let tick = (limit / 4).max(Duration::from_millis(10));
    let mut heard = connection.stats().udp_rx.datagrams;
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let now = connection.stats().udp_rx.datagrams;
        if now != heard {
            heard = now;
            since = tokio::time::Instant::now();
        } else if since.elapsed() >= limit {
            return ClientError::Connection(format!("hallqd silent for {} ms", limit.as_millis()));
        }
    }
}

/// One request/answer exchange on a fresh stream, waiting at most `timeout`.
async fn exchange<T: serde::Serialize>(
    connection: &quinn::Connection,
    message: &T,
    timeout: Duration,
) -> Result<Response, Failed> {
    let frame = codec::encode(message).map_err(|e| Failed {
        error: e.into(),
        sent: false,
        once: false,
    })?;
    // Set once the whole frame is written: the daemon acts on a request
    // only once it has read all of it, so before that nothing happened.
    let mut sent = false;
    let work = async {
        let (mut send, mut recv) = connection.open_bi().await?;
        codec::write_frame(&mut send, &frame).await?;
        sent = true;
        // Finishing tells the daemon no more frames come on this stream.
        let _ = send.finish();
        match codec::read_frame::<Response>(&mut recv).await? {
            Some(response) => Ok(response),
            None => Err(match connection.close_reason() {
                Some(reason) => ClientError::from(reason),
                None => ClientError::Connection("stream closed before the answer".into()),
            }),
        }
    };
    let result = match tokio::time::timeout(timeout, work).await {
        Ok(result) => result.map_err(|e| match (e, connection.close_reason()) {
            // A stream error because the daemon closed the connection: say why.
            (ClientError::Codec(_), Some(reason)) => ClientError::from(reason),
            (e, _) => e,
        }),
        Err(_elapsed) => Err(ClientError::Timeout),
    };
    result.map_err(|error| Failed {
        error,
        sent,
        once: false,
    })
}

/// A display subscription.
#[derive(Debug)]
pub struct DisplayStream {
    // Kept open: dropping it would tell the daemon we are gone.
    _send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl DisplayStream {
    /// The next update; `None` when the daemon ended the stream.
    pub async fn next(&mut self) -> Result<Option<DisplayUpdate>, ClientError> {
        Ok(codec::read_frame(&mut self.recv).await?)
    }
}

/// A notifier subscription.
#[derive(Debug)]
pub struct NotificationStream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl NotificationStream {
    /// The next notification; `None` when the daemon ended the stream.
    pub async fn next(&mut self) -> Result<Option<Notification>, ClientError> {
        match codec::read_frame::<NotifierFrame>(&mut self.recv).await? {
            Some(NotifierFrame::Notification(n)) => Ok(Some(*n)),
            Some(NotifierFrame::Dropped { reason }) => Err(ClientError::Connection(format!(
                "hallqd ended the notification stream: {reason}"
            ))),
            None => Ok(None),
        }
    }

    /// Tells the daemon the gateway accepted notification `id`.
    pub async fn ack(&mut self, id: &str) -> Result<(), ClientError> {
        let frame = codec::encode(&NotifierMessage::Ack { id: id.to_owned() })?;
        codec::write_frame(&mut self.send, &frame).await?;
        Ok(())
    }

    /// Tells the daemon the gateway gave up on notification `id` for
    /// `reason` (after its retries): it leaves the outbox and counts as
    /// failed, rather than being dropped silently.
    pub async fn fail(&mut self, id: &str, reason: &str) -> Result<(), ClientError> {
        let frame = codec::encode(&NotifierMessage::Failed {
            id: id.to_owned(),
            reason: reason.to_owned(),
        })?;
        codec::write_frame(&mut self.send, &frame).await?;
        Ok(())
    }
}
