//! Following a hall to whichever `hallqd` serves it (cluster mode).
//!
//! In a cluster several daemons share the halls, and each hall is served
//! by one of them at a time, its owner. The owner changes: on failover
//! (about 3 s after a node dies) or when halls are rebalanced. A daemon
//! that does not own the token's hall refuses the Hello, or any later
//! request, with `not_owner`, naming the owner's address in
//! [`ErrorReply::redirect`] when it knows it (not while nobody owns the
//! hall, mid-failover). A refused request changed nothing, so it can be
//! sent again to the owner.
//!
//! - [`Pursuit`] is the policy, sans-IO: which address to try next, how
//!   long to wait first, when to give up. Time is an argument.
//! - [`Client::connect_any`] drives it: connects to the hall wherever it is.
//! - [`FollowingClient`] keeps following after that: a request refused with
//!   `not_owner` is sent again to the owner; after a lost connection a read
//!   is sent again, and so is a change that went with its change id
//!   (`Request::Once`, issue 20): the daemon, or the hall's new owner,
//!   carries it out once and answers a resend as the first time. A change
//!   to a daemon too old for ids is not sent again ([`after_failure`]),
//!   because the first may have been carried out.
//! - [`Hallqd`] is what the long-running clients (boards, window
//!   terminals, the SMS bridge) keep to (re)connect on their own.
//!
//! End-to-end tests can start a few daemons on port 0 and pass their
//! addresses (`addr.to_string()`) to [`Client::connect_any`] or
//! [`Hallqd::servers`]. Nothing here hangs: looking for the hall stops
//! after [`FOLLOW_BUDGET`] (plus the attempt under way), and every request
//! sent waits at most [`REQUEST_TIMEOUT`] for its answer.

use hallq_proto::ErrorCode;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::client::{
    Client, ClientError, DisplayStream, Failed, NotificationStream, REQUEST_TIMEOUT,
};
use crate::tls::TlsError;
use hallq_proto::types::{ItemCode, Lane, WindowNo};
use hallq_proto::wire::{
    ChangeId, ErrorReply, IssuedTicket, Request, Response, Status, Welcome, WindowAction,
};

/// How long a client looks for its hall before it gives up and returns the
/// last error: a failover (~3 s) and the time to notice a dead node fit in
/// it, and a person at a kiosk is not kept waiting much longer.
pub const FOLLOW_BUDGET: Duration = Duration::from_secs(10);

/// The pause after a pass over every address found no owner; doubled after
/// each such pass, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The longest pause between two passes.
pub const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// How long one attempt (the handshake, then the Hello's answer, each) may
/// take while another address could be tried instead: a dead node answers
/// nothing, and is left behind after this long. With a single address
/// there is nothing to move on to, and an attempt may take the rest of the
/// budget, as [`Client::connect`] would.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// A subscription that lasted this long was a working one: the pause
/// before the next starts again from [`FIRST_BACKOFF`].
pub const STABLE_SUBSCRIPTION: Duration = Duration::from_secs(10);

/// Connecting to a hall wherever it is served: the one [`Client`] call
/// that follows a cluster (it lives here, beside its policy, so that the
/// plain client knows nothing of following).
impl Client {
    /// Connects to the daemon that serves the token's hall, wherever in a
    /// cluster that is: tries `servers` (`HOST:PORT`, host names resolved
    /// at each attempt) in order, follows a `not_owner` refusal's redirect
    /// at once, and while nobody owns the hall (mid-failover) or no address
    /// answers, tries again with a short backoff, for at most
    /// [`FOLLOW_BUDGET`] in all. Then it
    /// returns the last attempt's error; another refusal (a wrong token, a
    /// pinned certificate that does not match) is returned at once.
    ///
    /// With one address this is [`Client::connect`] with retries. Every
    /// node of a cluster presents the same certificate, so one `pinned`
    /// serves them all. The policy is [`Pursuit`];
    /// [`FollowingClient`] also follows the
    /// hall when it moves after connecting.
    ///
    /// ```no_run
    /// # async fn demo(cert: rustls_pki_types::CertificateDer<'static>) -> Result<(), hallq_client::client::ClientError> {
    /// use hallq_client::client::Client;
    /// let nodes = ["10.0.0.5:7878", "10.0.0.6:7878", "10.0.0.7:7878"];
    /// let kiosk = Client::connect_any(&nodes, cert, "demo-kiosk-token-0001", None).await?;
    /// println!("served by {}", kiosk.remote_address());
    /// # Ok(()) }
    /// ```
    pub async fn connect_any(
        servers: &[impl AsRef<str>],
        pinned: CertificateDer<'static>,
        token: &str,
        hall: Option<&str>,
    ) -> Result<Client, ClientError> {
        let pursuit = Pursuit::new(servers);
        let (client, _server) = pursue(pursuit, &pinned, token, hall).await?;
        Ok(client)
    }
}

/// How one attempt to reach the hall ended, as far as following it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `not_owner`, and the owner is at this address (`host:port`).
    Redirected(String),
    /// `not_owner`, and nobody owns the hall right now (mid-failover).
    NoOwner,
    /// The daemon could not be reached, or the connection broke.
    Unreachable,
    /// Any other refusal or failure (a wrong token, a certificate that does
    /// not match the pinned one): trying elsewhere would not help.
    Final,
}

impl Outcome {
    /// What `error` means for following the hall.
    pub fn of(error: &ClientError) -> Outcome {
        match error {
            ClientError::Refused(ErrorReply { code, redirect, .. })
                if *code == ErrorCode::NotOwner =>
            {
                match redirect {
                    Some(owner) => Outcome::Redirected(owner.clone()),
                    None => Outcome::NoOwner,
                }
            }
            ClientError::Refused(_) | ClientError::Unexpected(_) => Outcome::Final,
            ClientError::Connect(TlsError::Unreachable { .. } | TlsError::Handshake { .. }) => {
                Outcome::Unreachable
            }
            ClientError::Connect(_) => Outcome::Final,
            ClientError::Connection(_) | ClientError::Timeout | ClientError::Resolve { .. } => {
                Outcome::Unreachable
            }
            // The transport under a frame failed: the daemon went away.
            ClientError::Codec(e)
                if matches!(e.code(), ErrorCode::Io | ErrorCode::TruncatedFrame) =>
            {
                Outcome::Unreachable
            }
            ClientError::Codec(_) => Outcome::Final,
        }
    }
}

/// What to do next while looking for the hall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Wait `after`, then try `server`, giving the attempt `timeout`.
    Try {
        /// `host:port`.
        server: String,
        /// The pause before the attempt.
        after: Duration,
        /// How long the handshake, and then the Hello's answer, may take.
        timeout: Duration,
    },
    /// Stop and return the last attempt's error.
    GiveUp,
}

/// The policy for finding the daemon that serves a hall, sans-IO.
///
/// The addresses are tried in order, round and round. A redirect is
/// followed at once (the owner it names is added to the addresses if it is
/// not one of them, and the round goes on from there). A *pass* is as many
/// failed attempts as there are addresses: after each one the pursuit
/// pauses, [`FIRST_BACKOFF`] doubling up to [`MAX_BACKOFF`]. A second
/// redirect within one pass also pauses first, so two daemons that send
/// the client to each other while a hall moves are not hammered. The
/// pursuit gives up once the next attempt would start after its budget
/// ([`FOLLOW_BUDGET`] unless set), or at once on an [`Outcome::Final`].
#[derive(Debug, Clone)]
pub struct Pursuit {
    /// The configured addresses, then the owners redirects named.
    servers: Vec<String>,
    /// The next address to try.
    cursor: usize,
    /// Failed attempts in this pass.
    tried: usize,
    /// A redirect was followed in this pass.
    redirected: bool,
    /// The next pause between passes.
    backoff: Duration,
    /// No attempt starts after this.
    budget: Duration,
}

impl Pursuit {
    /// A pursuit over `servers` (`host:port`), in order; duplicates are
    /// tried once per pass.
    pub fn new(servers: &[impl AsRef<str>]) -> Pursuit {
        let mut pursuit = Pursuit {
            servers: Vec::with_capacity(servers.len()),
            cursor: 0,
            tried: 0,
            redirected: false,
            backoff: FIRST_BACKOFF,
            budget: FOLLOW_BUDGET,
        };
        for server in servers {
            pursuit.index_of(server.as_ref());
        }
        pursuit
    }

    /// Gives up once the next attempt would start after `budget` instead of
    /// [`FOLLOW_BUDGET`] (a following client shares one budget between
    /// its reconnections and its resends).
    pub fn with_budget(mut self, budget: Duration) -> Pursuit {
        self.budget = budget;
        self
    }

    /// Tries `server` first: the hall's last known owner, as a redirect
    /// named it. It need not be one of the configured addresses.
    pub fn prefer(mut self, server: &str) -> Pursuit {
        self.cursor = self.index_of(server);
        self
    }

    /// Starts after `server`, so it comes last in the first pass: it has
    /// just failed (a node that died is not waited for first).
    pub fn demote(mut self, server: &str) -> Pursuit {
        if let Some(i) = self.servers.iter().position(|s| s == server) {
            self.cursor = (i + 1) % self.servers.len();
        }
        self
    }

    /// The first attempt; [`Step::GiveUp`] if there is no address at all.
    pub fn first(&mut self) -> Step {
        self.attempt(Duration::ZERO, Duration::ZERO)
    }

    /// The attempt after one that ended with `outcome`, `elapsed` after the
    /// pursuit began. (Not called after a success: that ends the pursuit.)
    pub fn next(&mut self, outcome: &Outcome, elapsed: Duration) -> Step {
        self.tried += 1;
        let pause = match outcome {
            Outcome::Final => return Step::GiveUp,
            Outcome::Redirected(owner) => {
                self.cursor = self.index_of(owner);
                std::mem::replace(&mut self.redirected, true)
            }
            Outcome::NoOwner | Outcome::Unreachable => self.tried >= self.servers.len(),
        };
        let after = if pause {
            self.tried = 0;
            // The redirect about to be followed is the new pass's one.
            self.redirected = matches!(outcome, Outcome::Redirected(_));
            let pause = self.backoff;
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            pause
        } else {
            Duration::ZERO
        };
        self.attempt(elapsed, after)
    }

    fn attempt(&mut self, elapsed: Duration, after: Duration) -> Step {
        let start = elapsed + after;
        if self.servers.is_empty() || start >= self.budget {
            return Step::GiveUp;
        }
        let server = self.servers[self.cursor].clone();
        self.cursor = (self.cursor + 1) % self.servers.len();
        let timeout = if self.servers.len() > 1 {
            ATTEMPT_TIMEOUT
        } else {
            (self.budget - start).max(ATTEMPT_TIMEOUT)
        };
        Step::Try {
            server,
            after,
            timeout,
        }
    }

    /// Where `server` is in the list, adding it at the end if it is new.
    fn index_of(&mut self, server: &str) -> usize {
        match self.servers.iter().position(|s| s == server) {
            Some(i) => i,
            None => {
                self.servers.push(server.to_owned());
                self.servers.len() - 1
            }
        }
    }
}

/// What a [`FollowingClient`] does after a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// Connect again, to `owner` first if a redirect named it, and send the
    /// request again.
    Resend {
        /// The hall's owner, from the redirect.
        owner: Option<String>,
    },
    /// Return the error. (After a lost connection the next request
    /// reconnects by itself.)
    GiveUp,
}

/// Whether `request`, which failed with `outcome`, may be sent again.
/// `sent`: the whole request had left when it failed, so the daemon may
/// have carried it out.
///
/// A `not_owner` refusal changed nothing: always sent again, to the owner.
/// A request lost with its connection is sent again only if it certainly
/// did not leave, or if it changes nothing ([`Request::is_read_only`]):
/// a ticket issued twice, a call made twice cannot be taken back. A change
/// that went with its change id is carried out at most once however often
/// it is sent, so [`FollowingClient`] passes `sent = false` for it.
pub fn after_failure(request: &Request, outcome: &Outcome, sent: bool) -> AfterFailure {
    match outcome {
        Outcome::Redirected(owner) => AfterFailure::Resend {
            owner: Some(owner.clone()),
        },
        Outcome::NoOwner => AfterFailure::Resend { owner: None },
        Outcome::Unreachable if !sent || request.is_read_only() => {
            AfterFailure::Resend { owner: None }
        }
        Outcome::Unreachable | Outcome::Final => AfterFailure::GiveUp,
    }
}

/// The pause before sending a request again for the `resends`-th time
/// (1 for the first resend): none for the first, which follows a redirect
/// or a reconnection, then backing off as [`Pursuit`] does.
pub fn resend_pause(resends: u32) -> Duration {
    match resends {
        0 | 1 => Duration::ZERO,
        n => FIRST_BACKOFF
            .saturating_mul(1 << (n - 2).min(16))
            .min(MAX_BACKOFF),
    }
}

/// The pause before subscribing again after a subscription that `lasted`
/// ended, given the `previous` pause: back to [`FIRST_BACKOFF`] after a
/// working subscription, doubling (up to [`MAX_BACKOFF`]) while they end
/// at once, so a daemon that keeps ending them is not hammered.
pub fn resubscribe_pause(previous: Duration, lasted: Duration) -> Duration {
    if lasted >= STABLE_SUBSCRIPTION {
        FIRST_BACKOFF
    } else {
        (previous * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF)
    }
}

/// Runs `pursuit` to its end: the first daemon that welcomes `token`, and
/// the address it was reached by; or the last attempt's error.
pub(crate) async fn pursue(
    mut pursuit: Pursuit,
    pinned: &CertificateDer<'static>,
    token: &str,
    hall: Option<&str>,
) -> Result<(Client, String), ClientError> {
    let started = Instant::now();
    let mut step = pursuit.first();
    let mut last = None;
    loop {
        let Step::Try {
            server,
            after,
            timeout,
        } = step
        else {
            return Err(last.unwrap_or_else(|| {
                ClientError::Connection("no hallqd address to connect to".into())
            }));
        };
        tokio::time::sleep(after).await;
        let error = match attempt(&server, pinned, token, hall, timeout).await {
            Ok(client) => return Ok((client, server)),
            Err(e) => e,
        };
        let outcome = Outcome::of(&error);
        tracing::debug!(%server, code = %error.code(), ?outcome, "hall not reached");
        last = Some(error);
        step = pursuit.next(&outcome, started.elapsed());
    }
}

/// One attempt at `server`: resolve, handshake, Hello.
///
/// The handshake alone gets at most [`ATTEMPT_TIMEOUT`] even when the
/// attempt has longer: a handshake begun with a daemon that was killed
/// halfway (its successor on the same address drops the dead one's
/// packets) would otherwise wait out the whole idle timeout (issue 20: a
/// kiosk resending after a `kill -9` and restart waited 9 s). Tried again,
/// it reaches the restarted daemon at once.
async fn attempt(
    server: &str,
    pinned: &CertificateDer<'static>,
    token: &str,
    hall: Option<&str>,
    timeout: Duration,
) -> Result<Client, ClientError> {
    let addr = resolve(server).await?;
    let handshake = timeout.min(ATTEMPT_TIMEOUT);
    Client::connect_within(addr, pinned.clone(), token, hall, handshake, timeout)
        .await
        .map_err(|e| match e {
            // Said in the attempt's terms: REQUEST_TIMEOUT is not what ran out.
            ClientError::Timeout => ClientError::Connect(TlsError::Unreachable {
                addr,
                reason: "no answer to the hello in time".into(),
            }),
            e => e,
        })
}

/// `host:port` as a socket address; a host name is looked up (first answer).
pub async fn resolve(server: &str) -> Result<SocketAddr, ClientError> {
    if let Ok(addr) = server.parse() {
        return Ok(addr);
    }
    let failed = |reason: String| ClientError::Resolve {
        server: server.to_owned(),
        reason,
    };
    tokio::net::lookup_host(server)
        .await
        .map_err(|e| failed(e.to_string()))?
        .next()
        .ok_or_else(|| failed("no address found".into()))
}

/// Where a hall may be served and as whom to connect: what a board, a
/// window terminal or the SMS bridge keeps to (re)connect on its own.
#[derive(Clone)]
pub struct Hallqd {
    /// The daemons' addresses, `HOST:PORT`, in the order they are tried:
    /// one for a single daemon, the nodes' for a cluster.
    pub servers: Vec<String>,
    /// hallqd's certificate, the only one trusted (pinned); every node of a
    /// cluster presents the same.
    pub cert: CertificateDer<'static>,
    /// This client's token.
    pub token: String,
    /// For an admin token covering several halls.
    pub hall: Option<String>,
}

impl fmt::Debug for Hallqd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hallqd")
            .field("servers", &self.servers)
            .field("token", &"***")
            .field("hall", &self.hall)
            .finish_non_exhaustive()
    }
}

impl Hallqd {
    /// A single daemon at `server`.
    pub fn single(
        server: SocketAddr,
        cert: CertificateDer<'static>,
        token: impl Into<String>,
        hall: Option<String>,
    ) -> Hallqd {
        Hallqd {
            servers: vec![server.to_string()],
            cert,
            token: token.into(),
            hall,
        }
    }

    /// One authenticated connection to the daemon that serves the hall
    /// ([`Client::connect_any`]).
    pub async fn connect(&self) -> Result<Client, ClientError> {
        Client::connect_any(
            &self.servers,
            self.cert.clone(),
            &self.token,
            self.hall.as_deref(),
        )
        .await
    }
}

/// A client that follows its hall from daemon to daemon.
///
/// It connects when first used (through [`Client::connect_any`]), and
/// again whenever its connection is gone. A request refused with
/// `not_owner` is sent again to the owner; a request whose connection was
/// lost is sent again if it certainly did not leave, changes nothing, or
/// is a change that went with its id ([`after_failure`]): every change
/// gets a fresh id ([`ChangeIds`]) and keeps it through its resends, so
/// the daemon carries it out once and a resend gets the first answer (the
/// same ticket). Only a change to a daemon too old for ids, lost in
/// flight, returns `connection_lost` or `timeout`: a ticket may have been
/// issued, a call made, and only the next
/// [`status`](FollowingClient::status) can say.
/// A call spends at most [`FOLLOW_BUDGET`] looking for the hall (from its
/// start, or from its request's first failure), then returns the last
/// error; each request sent waits at most
/// [`REQUEST_TIMEOUT`] for its answer.
///
/// Methods take `&self`; concurrent callers share one connection and one
/// reconnection.
///
/// ```no_run
/// # async fn demo(cert: rustls_pki_types::CertificateDer<'static>) -> Result<(), hallq_client::client::ClientError> {
/// use hallq_client::follow::{FollowingClient, Hallqd};
/// let hallqd = Hallqd {
///     servers: vec!["10.0.0.5:7878".into(), "10.0.0.6:7878".into()],
///     cert,
///     token: "demo-window-token-03".into(),
///     hall: None,
/// };
/// let window = FollowingClient::new(hallqd);
/// let status = window.status().await?; // connects, follows the hall
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FollowingClient {
    hallqd: Hallqd,
    link: Mutex<Link>,
    changes: ChangeIds,
}

/// The ids a client gives its changes: one random 128-bit number for the
/// client's life, and a counter. A new process (each `hallq issue`) is a
/// new client; a kiosk's page server is one client for all its visitors.
#[derive(Debug)]
pub struct ChangeIds {
    client: u128,
    next: std::sync::atomic::AtomicU64,
}

impl ChangeIds {
    /// A new client number from the system's secure random source.
    pub fn new() -> ChangeIds {
        let mut bytes = [0u8; 16];
        let random = rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut bytes);
        if random.is_err() {
            // No random source: the clock and the process id, unique enough
            // among a hall's clients (a collision needs the same both).
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            bytes = (now ^ (u128::from(std::process::id()) << 96)).to_le_bytes();
        }
        ChangeIds {
            client: u128::from_le_bytes(bytes),
            next: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// The next change's id.
    pub fn next(&self) -> ChangeId {
        ChangeId {
            client: self.client,
            seq: self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

impl Default for ChangeIds {
    fn default() -> Self {
        ChangeIds::new()
    }
}

/// The connection of a [`FollowingClient`], and how to make the next one.
#[derive(Debug, Default)]
struct Link {
    /// The connection and the address it was reached by.
    current: Option<(Client, String)>,
    /// Try this address first next time (a redirect named it).
    prefer: Option<String>,
    /// Try this address last next time (it just failed).
    demote: Option<String>,
}

impl FollowingClient {
    /// A client for the hall `hallqd` describes; it connects when first
    /// used.
    pub fn new(hallqd: Hallqd) -> FollowingClient {
        FollowingClient {
            hallqd,
            link: Mutex::new(Link::default()),
            changes: ChangeIds::new(),
        }
    }

    /// Where and as whom it connects.
    pub fn hallqd(&self) -> &Hallqd {
        &self.hallqd
    }

    /// Who the daemon says this client is, connecting first if need be (a
    /// wrong token is refused here).
    pub async fn welcome(&self) -> Result<Welcome, ClientError> {
        let started = Instant::now();
        let (client, _) = self.connection(started).await?;
        Ok(client.welcome().clone())
    }

    /// The connection in use, if any, and the address it was reached by.
    pub async fn connected(&self) -> Option<(Client, String)> {
        self.link.lock().await.current.clone()
    }

    /// Sends one request and waits for its answer, following the hall; a
    /// refusal is an error. A change goes with a fresh change id, kept
    /// through its resends.
    pub async fn request(&self, request: &Request) -> Result<Response, ClientError> {
        let id = (!request.is_read_only()).then(|| self.changes.next());
        self.request_as(request, id).await
    }

    /// [`FollowingClient::request`] with the change id given (`None`:
    /// none), for a caller that keeps its own ids.
    pub async fn request_as(
        &self,
        request: &Request,
        id: Option<ChangeId>,
    ) -> Result<Response, ClientError> {
        let dead_after = crate::tls::liveness().dead_after;
        self.follow(request, |client| async move {
            client.send_once(request, id, Some(dead_after)).await
        })
        .await
    }

    /// The ids this client gives its changes.
    pub fn change_ids(&self) -> &ChangeIds {
        &self.changes
    }

    /// Issues a ticket (kiosk). Sent again after a lost connection only
    /// with its change id (the same ticket comes back).
    pub async fn issue(
        &self,
        item: ItemCode,
        lane: Lane,
        phone: Option<String>,
    ) -> Result<IssuedTicket, ClientError> {
        crate::client::issued(self.request(&Request::Issue { item, lane, phone }).await?)
    }

    /// Carries out a window action; resent as [`FollowingClient::issue`].
    pub async fn window(
        &self,
        window: Option<WindowNo>,
        action: WindowAction,
    ) -> Result<Response, ClientError> {
        self.request(&Request::Window { window, action }).await
    }

    /// Every window and waiting ticket.
    pub async fn status(&self) -> Result<Status, ClientError> {
        crate::client::status(self.request(&Request::Status).await?)
    }

    /// Subscribes to the display stream of the hall's owner. When the
    /// stream ends (the owner stepped down, died, or dropped the display),
    /// subscribe again: a fresh snapshot comes first.
    pub async fn watch(&self) -> Result<DisplayStream, ClientError> {
        self.follow(&Request::Watch, |client| async move {
            client.open_watch().await
        })
        .await
    }

    /// Subscribes to the notification outbox of the hall's owner. When the
    /// stream ends, subscribe again: every notification not yet
    /// acknowledged comes again (deduplicate by id).
    pub async fn notifications(&self) -> Result<NotificationStream, ClientError> {
        self.follow(&Request::Notifications, |client| async move {
            client.open_notifications().await
        })
        .await
    }

    /// Closes the connection, if any (waiting briefly until the daemon has
    /// been told). The next request connects again.
    pub async fn close(&self) {
        let current = self.link.lock().await.current.take();
        if let Some((client, _)) = current {
            client.close().await;
        }
    }

    /// Does `send` for `request` over the connection, reconnecting and
    /// doing it again as [`after_failure`] allows, within the budget.
    async fn follow<T, F, Fut>(&self, request: &Request, send: F) -> Result<T, ClientError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, Failed>>,
    {
        // The budget is for looking for the hall: it starts with the call,
        // or once the request failed; waiting for an answer is bounded by
        // REQUEST_TIMEOUT (and a dead daemon by the idle timeout) instead.
        let mut started = Instant::now();
        let mut resends = 0;
        loop {
            let (client, server) = self.connection(started).await?;
            let Failed { error, sent, once } = match send(client.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(failed) => failed,
            };
            let outcome = Outcome::of(&error);
            // With its id a change is carried out once however often it
            // is sent: as good as one that never left.
            let owner = match after_failure(request, &outcome, sent && !once) {
                AfterFailure::GiveUp => {
                    if outcome == Outcome::Unreachable {
                        // The next request starts elsewhere.
                        self.leave(&client, &server, None).await;
                    }
                    return Err(error);
                }
                AfterFailure::Resend { owner } => owner,
            };
            if resends == 0 {
                started = Instant::now();
            }
            resends += 1;
            let pause = resend_pause(resends);
            if started.elapsed() + pause >= FOLLOW_BUDGET {
                return Err(error);
            }
            tracing::debug!(request = request.kind(), %server, ?outcome, "sending again");
            self.leave(&client, &server, owner).await;
            tokio::time::sleep(pause).await;
        }
    }

    /// The connection to use, connecting (within what is left of the
    /// budget of a call begun at `started`) if there is none or it is gone.
    async fn connection(&self, started: Instant) -> Result<(Client, String), ClientError> {
        let mut link = self.link.lock().await;
        if let Some((client, server)) = &link.current {
            if !client.is_closed() {
                return Ok((client.clone(), server.clone()));
            }
            link.demote = Some(server.clone());
            link.current = None;
        }
        let budget = FOLLOW_BUDGET.saturating_sub(started.elapsed());
        let mut pursuit = Pursuit::new(&self.hallqd.servers).with_budget(budget);
        if let Some(server) = link.demote.take() {
            pursuit = pursuit.demote(&server);
        }
        if let Some(owner) = link.prefer.take() {
            pursuit = pursuit.prefer(&owner);
        }
        let hallqd = &self.hallqd;
        let (client, server) =
            pursue(pursuit, &hallqd.cert, &hallqd.token, hallqd.hall.as_deref()).await?;
        link.current = Some((client.clone(), server.clone()));
        Ok((client, server))
    }

    /// Stops using `client` (reached by `server`), which no longer serves
    /// the hall or broke: the next connection goes to `owner` first if
    /// known, and to `server` last.
    async fn leave(&self, client: &Client, server: &str, owner: Option<String>) {
        let mut link = self.link.lock().await;
        // Another caller may have replaced it already.
        if let Some((current, _)) = &link.current {
            if current.stable_id() == client.stable_id() {
                link.current = None;
            }
        }
        client.abandon(b"following the hall's owner");
        link.demote = Some(server.to_owned());
        link.prefer = owner;
    }
}

// Keep the request timeout longer than the idle timeout: a daemon that
// died is noticed (within DEAD_AFTER of silence while a request waits,
// else by the idle timeout; keep-alives every 250 ms) as a
// lost connection, which a read may be resent after, before a request
// times out; a shorter request timeout would also cut off slow reads (a
// long day's stats) and make slow changes ambiguous.
const _: () = assert!(REQUEST_TIMEOUT.as_secs() > crate::tls::IDLE_TIMEOUT.as_secs());

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_proto::codec::CodecError;
    use hallq_proto::types::Rating;

    const A: &str = "10.0.0.5:7878";
    const B: &str = "10.0.0.6:7878";
    const C: &str = "10.0.0.7:7878";

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The address and pause of a [`Step::Try`].
    fn tried(step: Step) -> (String, Duration) {
        match step {
            Step::Try { server, after, .. } => (server, after),
            Step::GiveUp => panic!("gave up"),
        }
    }

    fn redirect(to: &str) -> Outcome {
        Outcome::Redirected(to.into())
    }

    fn not_owner(redirect: Option<&str>) -> ClientError {
        ClientError::Refused(ErrorReply {
            redirect: redirect.map(str::to_owned),
            ..ErrorReply::new(ErrorCode::NotOwner, "hall main is not served here")
        })
    }

    #[test]
    fn addresses_are_tried_in_order_then_round_again_after_a_pause() {
        let mut p = Pursuit::new(&[A, B, C, B]);
        assert_eq!(tried(p.first()), (A.into(), ms(0)));
        assert_eq!(
            tried(p.next(&Outcome::Unreachable, ms(10))),
            (B.into(), ms(0))
        );
        assert_eq!(tried(p.next(&Outcome::NoOwner, ms(20))), (C.into(), ms(0)));
        // A pass over the three (the duplicate counted once): pause.
        assert_eq!(
            tried(p.next(&Outcome::NoOwner, ms(30))),
            (A.into(), ms(100))
        );
        assert_eq!(tried(p.next(&Outcome::NoOwner, ms(140))), (B.into(), ms(0)));
    }

    #[test]
    fn no_owner_is_retried_with_a_growing_bounded_backoff() {
        let mut p = Pursuit::new(&[A]);
        assert_eq!(tried(p.first()), (A.into(), ms(0)));
        let pauses: Vec<u64> = (0..7)
            .map(|_| tried(p.next(&Outcome::NoOwner, ms(0))).1.as_millis() as u64)
            .collect();
        assert_eq!(pauses, [100, 200, 400, 500, 500, 500, 500]);
    }

    #[test]
    fn a_redirect_is_followed_at_once_even_off_the_list() {
        let owner = "10.0.0.9:7878";
        let mut p = Pursuit::new(&[A, B]);
        assert_eq!(tried(p.first()), (A.into(), ms(0)));
        assert_eq!(
            tried(p.next(&redirect(owner), ms(5))),
            (owner.into(), ms(0))
        );
        // The owner died meanwhile: on with the list, then a pause once
        // every address (the owner's now too) failed.
        assert_eq!(
            tried(p.next(&Outcome::Unreachable, ms(2000))),
            (A.into(), ms(0))
        );
        assert_eq!(
            tried(p.next(&Outcome::NoOwner, ms(2010))),
            (B.into(), ms(100))
        );
        // A known address is not added twice.
        assert_eq!(tried(p.next(&redirect(A), ms(2200))), (A.into(), ms(0)));
        assert_eq!(p.servers, [A, B, owner]);
    }

    #[test]
    fn daemons_sending_the_client_to_each_other_are_not_hammered() {
        let mut p = Pursuit::new(&[A, B, C]);
        assert_eq!(tried(p.first()), (A.into(), ms(0)));
        assert_eq!(tried(p.next(&redirect(B), ms(1))), (B.into(), ms(0)));
        // A second redirect within the pass waits first.
        assert_eq!(tried(p.next(&redirect(A), ms(2))), (A.into(), ms(100)));
        assert_eq!(tried(p.next(&redirect(B), ms(103))), (B.into(), ms(200)));
    }

    #[test]
    fn a_final_refusal_ends_the_pursuit_at_once() {
        let mut p = Pursuit::new(&[A, B]);
        p.first();
        assert_eq!(p.next(&Outcome::Final, ms(1)), Step::GiveUp);
        assert_eq!(Pursuit::new(&[] as &[&str]).first(), Step::GiveUp);
    }

    #[test]
    fn the_budget_bounds_the_pursuit_whatever_the_answers() {
        for answers in [
            vec![Outcome::NoOwner],
            vec![Outcome::Unreachable],
            vec![redirect(A), redirect(B)],
            vec![
                redirect("10.0.0.9:7878"),
                Outcome::NoOwner,
                Outcome::Unreachable,
            ],
        ] {
            // Answers at once (the worst case for the number of attempts),
            // or after a whole attempt timeout.
            for cost in [ms(0), ms(5), ATTEMPT_TIMEOUT] {
                let mut p = Pursuit::new(&[A, B, C]);
                let mut step = p.first();
                let mut clock = Duration::ZERO;
                let mut attempts = 0;
                while let Step::Try { after, timeout, .. } = step {
                    clock += after;
                    assert!(clock < FOLLOW_BUDGET, "{answers:?}: started at {clock:?}");
                    assert!(timeout <= FOLLOW_BUDGET);
                    clock += cost.min(timeout);
                    step = p.next(&answers[attempts % answers.len()], clock);
                    attempts += 1;
                    assert!(attempts < 1000, "{answers:?}: no end");
                }
                // It used its budget, no more: a pause never sleeps past it.
                assert!(
                    clock + MAX_BACKOFF + ATTEMPT_TIMEOUT >= FOLLOW_BUDGET,
                    "{clock:?}"
                );
            }
        }
        // A shorter budget, as a following client passes what is left.
        let mut p = Pursuit::new(&[A]).with_budget(ms(250));
        p.first();
        assert!(matches!(
            p.next(&Outcome::NoOwner, ms(100)),
            Step::Try { .. }
        ));
        assert_eq!(p.next(&Outcome::NoOwner, ms(100)), Step::GiveUp);
    }

    #[test]
    fn one_address_may_take_the_rest_of_the_budget_several_take_turns() {
        let timeout = |mut p: Pursuit| match p.first() {
            Step::Try { timeout, .. } => timeout,
            Step::GiveUp => panic!("gave up"),
        };
        // As `Client::connect` would wait on a single daemon.
        assert_eq!(timeout(Pursuit::new(&[A])), FOLLOW_BUDGET);
        assert_eq!(
            timeout(Pursuit::new(&[A]).with_budget(ms(500))),
            ATTEMPT_TIMEOUT
        );
        assert_eq!(timeout(Pursuit::new(&[A, B])), ATTEMPT_TIMEOUT);
        // A single address redirected elsewhere: two now.
        let mut p = Pursuit::new(&[A]);
        p.first();
        assert!(matches!(
            p.next(&redirect(B), ms(3)),
            Step::Try { timeout, .. } if timeout == ATTEMPT_TIMEOUT
        ));
    }

    #[test]
    fn the_last_owner_comes_first_and_a_failed_address_last() {
        let mut p = Pursuit::new(&[A, B, C]).prefer(C);
        assert_eq!(tried(p.first()).0, C);
        assert_eq!(tried(p.next(&Outcome::NoOwner, ms(1))).0, A);
        let owner = "hall-9.local:7878";
        let mut p = Pursuit::new(&[A, B]).prefer(owner);
        assert_eq!(tried(p.first()).0, owner);
        let mut p = Pursuit::new(&[A, B, C]).demote(A);
        assert_eq!(tried(p.first()).0, B);
        assert_eq!(tried(p.next(&Outcome::Unreachable, ms(1))).0, C);
        assert_eq!(tried(p.next(&Outcome::Unreachable, ms(2))).0, A);
        let mut p = Pursuit::new(&[A, B, C]).demote(C);
        assert_eq!(tried(p.first()).0, A);
        // Demoting an address that is not listed changes nothing.
        let mut p = Pursuit::new(&[A, B]).demote("10.0.0.9:7878");
        assert_eq!(tried(p.first()).0, A);
    }

    #[test]
    fn errors_are_sorted_into_outcomes() {
        assert_eq!(Outcome::of(&not_owner(Some(B))), redirect(B));
        assert_eq!(Outcome::of(&not_owner(None)), Outcome::NoOwner);
        let addr: SocketAddr = A.parse().unwrap();
        for lost in [
            ClientError::Connect(TlsError::Unreachable {
                addr,
                reason: "timed out".into(),
            }),
            ClientError::Connect(TlsError::Handshake {
                addr,
                reason: "reset".into(),
            }),
            ClientError::Connection("closed by hallqd: not_owner".into()),
            ClientError::Timeout,
            ClientError::Codec(CodecError::Stream("connection lost".into())),
            ClientError::Codec(CodecError::Truncated),
            ClientError::Resolve {
                server: "nowhere:7878".into(),
                reason: "no such host".into(),
            },
        ] {
            assert_eq!(Outcome::of(&lost), Outcome::Unreachable, "{lost:?}");
        }
        for last in [
            ClientError::Refused(ErrorReply::new("unauthorized", "unknown token")),
            ClientError::Refused(ErrorReply::new("window_busy", "busy")),
            ClientError::Connect(TlsError::PinMismatch),
            ClientError::Connect(TlsError::ProtocolMismatch { addr }),
            ClientError::Codec(CodecError::Malformed("x".into())),
            ClientError::Unexpected("Watching".into()),
        ] {
            assert_eq!(Outcome::of(&last), Outcome::Final, "{last:?}");
        }
    }

    #[test]
    fn refused_requests_are_sent_again_lost_changes_are_not() {
        let call = Request::Window {
            window: None,
            action: WindowAction::Call { ticket: None },
        };
        let issue = Request::Issue {
            item: ItemCode::new('A').unwrap(),
            lane: Lane::WalkIn,
            phone: None,
        };
        let rate = Request::Rate {
            ticket: "A012".parse().unwrap(),
            rating: Rating::new(5).unwrap(),
        };
        let status = Request::Status;
        for request in [&call, &issue, &rate, &status] {
            // A refusal changed nothing, whatever the request.
            assert_eq!(
                after_failure(request, &redirect(B), true),
                AfterFailure::Resend {
                    owner: Some(B.into())
                }
            );
            assert_eq!(
                after_failure(request, &Outcome::NoOwner, true),
                AfterFailure::Resend { owner: None }
            );
            // Never left: nothing happened.
            assert_eq!(
                after_failure(request, &Outcome::Unreachable, false),
                AfterFailure::Resend { owner: None }
            );
            assert_eq!(
                after_failure(request, &Outcome::Final, true),
                AfterFailure::GiveUp
            );
        }
        // Lost after leaving: a change may have been carried out.
        for change in [&call, &issue, &rate] {
            assert_eq!(
                after_failure(change, &Outcome::Unreachable, true),
                AfterFailure::GiveUp,
                "{change:?}"
            );
        }
        for read in [
            Request::Status,
            Request::Health,
            Request::Bookings { day: None },
            Request::Export {
                day: 20250303,
                from: 0,
            },
            Request::Stats {
                day: None,
                by: None,
            },
            Request::Watch,
            Request::Notifications,
        ] {
            assert_eq!(
                after_failure(&read, &Outcome::Unreachable, true),
                AfterFailure::Resend { owner: None },
                "{read:?}"
            );
        }
    }

    #[test]
    fn changes_are_not_read_only() {
        for change in [
            Request::CloseIssuing,
            Request::OpenIssuing,
            Request::Reload,
            Request::Reinstate {
                ticket: "A012".parse().unwrap(),
            },
            Request::CheckIn {
                code: "K7Q2".into(),
            },
            Request::CancelBooking {
                code: "K7Q2".into(),
                by_hall: false,
            },
        ] {
            assert!(!change.is_read_only(), "{change:?}");
        }
    }

    #[test]
    fn resends_and_resubscriptions_back_off() {
        let pauses: Vec<u64> = (1..=8)
            .map(|n| resend_pause(n).as_millis() as u64)
            .collect();
        assert_eq!(pauses, [0, 100, 200, 400, 500, 500, 500, 500]);
        assert_eq!(resend_pause(u32::MAX), MAX_BACKOFF);
        // Subscriptions that end at once: doubling, bounded.
        let mut pause = Duration::ZERO;
        let mut seen = vec![];
        for _ in 0..6 {
            pause = resubscribe_pause(pause, ms(50));
            seen.push(pause.as_millis() as u64);
        }
        assert_eq!(seen, [100, 200, 400, 500, 500, 500]);
        // One that worked for a while: from the start again.
        assert_eq!(
            resubscribe_pause(MAX_BACKOFF, STABLE_SUBSCRIPTION),
            FIRST_BACKOFF
        );
    }

    #[test]
    fn hallqd_hides_its_token() {
        let hallqd = Hallqd::single(
            A.parse().unwrap(),
            CertificateDer::from(vec![0x30, 0x00]),
            "secret-token-0123456789",
            None,
        );
        let shown = format!("{hallqd:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(shown.contains(A), "{shown}");
    }

    #[tokio::test]
    async fn no_address_at_all_is_an_error_not_a_hang() {
        let cert = CertificateDer::from(vec![0x30, 0x00]);
        let err = Client::connect_any(&[] as &[&str], cert, "token", None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "connection_lost");
    }

    #[tokio::test]
    async fn a_failed_address_is_left_for_the_next_and_the_budget_ends_it() {
        // Port 0 is refused at once; the next one is bound and never read,
        // like a node that died: its attempt times out after
        // ATTEMPT_TIMEOUT, and then the budget is spent.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let silent = silent.local_addr().unwrap().to_string();
        let servers = ["127.0.0.1:0", silent.as_str()];
        let pursuit = Pursuit::new(&servers).with_budget(ms(500));
        let cert = CertificateDer::from(vec![0x30, 0x00]);
        let started = Instant::now();
        let err = pursue(pursuit, &cert, "token", None).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            took >= ATTEMPT_TIMEOUT && took < ATTEMPT_TIMEOUT * 2,
            "{took:?}"
        );
        assert_eq!(err.code(), "unreachable", "{err}");
        assert!(err.to_string().contains(&silent), "{err}");
    }
}
