//! The hallqd backend: real QUIC through [`hallq_client::client::Client`],
//! and a way to start a `hallqd` of the right size for a workload.
//!
//! The demo config has seven windows; a load run wants as many window
//! terminals as the workload says, each with its own token (a window token
//! acts on its own window only). [`SpawnedDaemon`] writes a config with a
//! hall "main" of that size in a temporary directory, starts the given
//! `hallqd` on an ephemeral loopback port and stops it when dropped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use hallq_client::client::{Client, ClientError, DisplayStream, NotificationStream};
use hallq_client::follow::ChangeIds;
use hallq_proto::types::{ItemCode, Lane, PriorityReason, TicketNo};
use hallq_proto::wire::{DisplayUpdate, Request, Response, WindowAction};
use rustls_pki_types::CertificateDer;
use tempfile::TempDir;
use tokio::sync::{watch, OnceCell};

use crate::backend::{
    call_key, Backend, CallKey, Display, DisplayEvent, Kiosk, NotifierCounters, Window,
};
use crate::workload::{is_universal, item_letter, window_items, LaneChoice, TicketSpec};

/// The tokens a load run presents.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Every kiosk presents this one.
    pub kiosk: String,
    /// Every display presents this one.
    pub display: String,
    /// The notifier's.
    pub notifier: String,
    /// Window `n`'s token: this pattern with `{n}` replaced by the number
    /// (the demo config's is `demo-window{n}-token-0001`).
    pub window_pattern: String,
}

impl Tokens {
    /// The tokens [`SpawnedDaemon`] configures.
    pub fn generated() -> Tokens {
        Tokens {
            kiosk: "load-kiosk-token-0000001".into(),
            display: "load-display-token-000001".into(),
            notifier: "load-notifier-token-0001".into(),
            window_pattern: "load-window-{n}-token-00001".into(),
        }
    }

    /// Window `n`'s token.
    pub fn window(&self, n: u16) -> String {
        self.window_pattern.replace("{n}", &n.to_string())
    }
}

/// How the generator's clients use connections and ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sharing {
    /// Kiosks per QUIC connection (1: each its own, as separate kiosk
    /// machines; more: one kiosk page server for several touch screens,
    /// whose requests share the connection's pipeline).
    pub kiosks_per_connection: usize,
    /// Display subscriptions per connection (each its own stream).
    pub displays_per_connection: usize,
    /// Every change carries a change id, as every `hallq` client's does
    /// (exactly once across reconnects; hallqd journals the id and the
    /// answer with it).
    pub change_ids: bool,
}

impl Default for Sharing {
    fn default() -> Self {
        Sharing {
            kiosks_per_connection: 1,
            displays_per_connection: 1,
            change_ids: true,
        }
    }
}

/// Connections shared by several clients of the generator, by slot.
#[derive(Debug, Default)]
struct Pool(parking_lot::Mutex<HashMap<usize, Arc<OnceCell<Client>>>>);

impl Pool {
    fn slot(&self, slot: usize) -> Arc<OnceCell<Client>> {
        self.0.lock().entry(slot).or_default().clone()
    }
}

/// A `hallqd` reachable over QUIC.
#[derive(Debug, Clone)]
pub struct HallqdBackend {
    server: SocketAddr,
    cert: CertificateDer<'static>,
    tokens: Arc<Tokens>,
    pid: Option<u32>,
    sharing: Sharing,
    kiosks: Arc<Pool>,
    displays: Arc<Pool>,
}

impl HallqdBackend {
    /// The daemon at `server` with certificate `cert`; `pid`, if given, is
    /// read for its peak memory.
    pub fn new(
        server: SocketAddr,
        cert: CertificateDer<'static>,
        tokens: Tokens,
        pid: Option<u32>,
    ) -> HallqdBackend {
        HallqdBackend {
            server,
            cert,
            tokens: Arc::new(tokens),
            pid,
            sharing: Sharing::default(),
            kiosks: Arc::default(),
            displays: Arc::default(),
        }
    }

    /// This backend with its clients sharing connections and ids as
    /// `sharing` says.
    pub fn sharing(mut self, sharing: Sharing) -> HallqdBackend {
        self.sharing = Sharing {
            kiosks_per_connection: sharing.kiosks_per_connection.max(1),
            displays_per_connection: sharing.displays_per_connection.max(1),
            change_ids: sharing.change_ids,
        };
        self
    }

    async fn connect(&self, token: &str) -> anyhow::Result<Client> {
        Client::connect(self.server, self.cert.clone(), token, None)
            .await
            .with_context(|| format!("cannot connect to hallqd at {}", self.server))
    }

    /// The connection of `pool`'s `slot`, set up by the first client of
    /// the slot; a fresh one if that one has gone.
    async fn shared(&self, pool: &Pool, slot: usize, token: &str) -> anyhow::Result<Client> {
        let cell = pool.slot(slot);
        let client = cell.get_or_try_init(|| self.connect(token)).await?;
        if client.is_closed() {
            return self.connect(token).await;
        }
        Ok(client.clone())
    }

    fn ids(&self) -> Option<ChangeIds> {
        self.sharing.change_ids.then(ChangeIds::new)
    }
}

/// A client's requests: a change with the client's next id, if it sends
/// ids.
#[derive(Debug)]
struct Sender {
    client: Client,
    ids: Option<ChangeIds>,
}

impl Sender {
    async fn change(&self, request: &Request) -> Result<Response, ClientError> {
        match &self.ids {
            Some(ids) => self.client.request_once(request, ids.next()).await,
            None => self.client.request(request).await,
        }
    }

    async fn window(&self, action: WindowAction) -> Result<Response, ClientError> {
        self.change(&Request::Window {
            window: None,
            action,
        })
        .await
    }
}

/// A kiosk: a QUIC connection of its own or shared with other kiosks.
#[derive(Debug)]
pub struct HallqdKiosk(Sender);

/// A window terminal.
#[derive(Debug)]
pub struct HallqdWindow(Sender);

/// A display board.
#[derive(Debug)]
pub struct HallqdDisplay {
    // The connection must outlive the stream.
    _client: Client,
    stream: DisplayStream,
    /// The newest change shown: updates not newer are ignored, as the
    /// protocol asks of every display.
    seq: u64,
}

impl Backend for HallqdBackend {
    type Kiosk = HallqdKiosk;
    type Window = HallqdWindow;
    type Display = HallqdDisplay;

    fn name(&self) -> &'static str {
        "hallqd"
    }

    async fn kiosk(&self, index: usize) -> anyhow::Result<HallqdKiosk> {
        let slot = index / self.sharing.kiosks_per_connection;
        let client = self.shared(&self.kiosks, slot, &self.tokens.kiosk).await?;
        Ok(HallqdKiosk(Sender {
            client,
            ids: self.ids(),
        }))
    }

    async fn window(&self, number: u16) -> anyhow::Result<HallqdWindow> {
        let client = self.connect(&self.tokens.window(number)).await?;
        let window = Sender {
            client,
            ids: self.ids(),
        };
        match window.window(WindowAction::Open).await {
            // Already open (a daemon reused from an earlier run) is fine.
            Ok(_) => {}
            Err(ClientError::Refused(reply)) if reply.code == "window_already" => {}
            Err(e) => return Err(e).with_context(|| format!("cannot open window {number}")),
        }
        Ok(HallqdWindow(window))
    }

    async fn display(&self, index: usize) -> anyhow::Result<HallqdDisplay> {
        let slot = index / self.sharing.displays_per_connection;
        let client = self
            .shared(&self.displays, slot, &self.tokens.display)
            .await?;
        let stream = client.watch().await.context("cannot subscribe a display")?;
        Ok(HallqdDisplay {
            _client: client,
            stream,
            seq: 0,
        })
    }

    async fn notifier(
        &self,
        mut stop: watch::Receiver<bool>,
        counters: Arc<NotifierCounters>,
    ) -> anyhow::Result<()> {
        let client = self.connect(&self.tokens.notifier).await?;
        // A gateway that is dropped for falling behind resubscribes and is
        // given every pending notification again (deduplicated by id).
        'subscribe: while !*stop.borrow() {
            let mut outbox: NotificationStream = client
                .notifications()
                .await
                .context("cannot subscribe the notifier")?;
            loop {
                tokio::select! {
                    next = outbox.next() => match next {
                        Ok(Some(notification)) => {
                            // As an SMS gateway would: accepted, then acknowledged.
                            let acked = outbox.ack(&notification.id).await.is_ok();
                            counters.count(acked);
                        }
                        Ok(None) => break 'subscribe,
                        Err(ClientError::Connection(why)) if why.contains("fell behind") => {
                            counters.drops.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            continue 'subscribe;
                        }
                        Err(e) => return Err(e).context("notification stream"),
                    },
                    _ = stop.changed() => break 'subscribe,
                }
            }
        }
        client.close().await;
        Ok(())
    }

    fn server_pid(&self) -> Option<u32> {
        self.pid
    }
}

fn key(ticket: TicketNo) -> CallKey {
    call_key(ticket.item.index() as u8, u64::from(ticket.seq))
}

impl Kiosk for HallqdKiosk {
    async fn issue(&mut self, ticket: &TicketSpec) -> anyhow::Result<CallKey> {
        let item = ItemCode::new(item_letter(ticket.item))?;
        let lane = match ticket.lane {
            LaneChoice::WalkIn => Lane::WalkIn,
            LaneChoice::Priority(reason) => Lane::Priority(match reason {
                0 => PriorityReason::Elderly,
                1 => PriorityReason::Disabled,
                2 => PriorityReason::Pregnant,
                _ => PriorityReason::Green,
            }),
        };
        let request = Request::Issue {
            item,
            lane,
            phone: ticket.phone.clone(),
        };
        match self.0.change(&request).await? {
            Response::Issued(issued) => Ok(key(issued.ticket)),
            other => bail!("unexpected answer to an issue: {other:?}"),
        }
    }
}

impl Window for HallqdWindow {
    async fn call(&mut self) -> anyhow::Result<Option<CallKey>> {
        match self.0.window(WindowAction::Call { ticket: None }).await {
            Ok(Response::Window {
                ticket: Some(ticket),
                ..
            }) => Ok(Some(key(ticket))),
            Ok(other) => bail!("unexpected answer to a call: {other:?}"),
            Err(ClientError::Refused(reply)) if reply.code == "nothing_waiting" => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn start(&mut self) -> anyhow::Result<()> {
        self.0.window(WindowAction::Start).await?;
        Ok(())
    }

    async fn finish(&mut self) -> anyhow::Result<()> {
        self.0.window(WindowAction::Finish { rating: None }).await?;
        Ok(())
    }
}

impl Display for HallqdDisplay {
    async fn next(&mut self) -> anyhow::Result<DisplayEvent> {
        Ok(match self.stream.next().await? {
            Some(DisplayUpdate::Change { seq, .. }) if seq <= self.seq => DisplayEvent::Other,
            Some(DisplayUpdate::Change { seq, calls, .. }) => {
                self.seq = seq;
                let keys: Vec<CallKey> = calls
                    .iter()
                    .filter(|c| !c.recall)
                    .map(|c| key(c.ticket))
                    .collect();
                if keys.is_empty() {
                    DisplayEvent::Other
                } else {
                    DisplayEvent::Calls(keys)
                }
            }
            Some(DisplayUpdate::Snapshot { seq, .. }) => {
                self.seq = seq;
                DisplayEvent::Other
            }
            Some(DisplayUpdate::Dropped { .. }) => DisplayEvent::Dropped,
            None => DisplayEvent::Ended,
        })
    }
}

/// How long a spawned daemon may take to listen, or to exit on SIGTERM.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A `hallqd` started for a load run, on a generated config in a
/// temporary directory (removed on drop, with the journal).
#[derive(Debug)]
pub struct SpawnedDaemon {
    child: Child,
    dir: TempDir,
    addr: SocketAddr,
    cert: CertificateDer<'static>,
}

impl SpawnedDaemon {
    /// Writes a config with `windows` window tokens and `items` items,
    /// starts `hallqd` on it (logs at `warn`, to `hallqd.log` in the
    /// directory) and waits until it listens. `parent` is where the
    /// temporary directory goes (the journal's disk); `None` for the
    /// system's.
    pub fn start(
        hallqd: &Path,
        windows: usize,
        items: usize,
        parent: Option<&Path>,
    ) -> anyhow::Result<SpawnedDaemon> {
        let dir = match parent {
            Some(parent) => tempfile::tempdir_in(parent),
            None => tempfile::tempdir(),
        }
        .context("cannot create a temporary directory for hallqd")?;
        let config = dir.path().join("hallq.toml");
        let windows = u16::try_from(windows.max(1)).context("too many windows")?;
        fs::write(
            &config,
            config_toml(&dir.path().join("state"), windows, items),
        )
        .with_context(|| format!("cannot write {}", config.display()))?;
        let log =
            fs::File::create(dir.path().join("hallqd.log")).context("cannot create hallqd.log")?;
        let mut child = Command::new(hallqd)
            .arg("--config")
            .arg(&config)
            .env("HALLQ_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", hallqd.display()))?;
        let stdout = child.stdout.take().context("hallqd stdout is piped")?;
        // A thread reads stdout for the two lines we need and then keeps
        // draining it, so hallqd never blocks on a full pipe.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut daemon_dir = Some(dir);
        let ready = (|| {
            let deadline = Instant::now() + SPAWN_TIMEOUT;
            let (mut addr, mut cert) = (None, None);
            while addr.is_none() || cert.is_none() {
                let left = deadline.saturating_duration_since(Instant::now());
                let line = rx.recv_timeout(left).map_err(|_| {
                    anyhow!("hallqd did not report listening within {SPAWN_TIMEOUT:?}")
                })?;
                if let Some(a) = line.strip_prefix("hallqd listening on ") {
                    addr = Some(a.trim().parse::<SocketAddr>()?);
                } else if let Some(c) = line.strip_prefix("server certificate: ") {
                    cert = Some(PathBuf::from(c.trim()));
                }
            }
            let cert = hallq_client::tls::load_cert_pem(cert.as_deref().unwrap_or(Path::new("")))?;
            anyhow::Ok((addr.unwrap_or_else(|| unreachable!()), cert))
        })();
        match ready {
            Ok((addr, cert)) => Ok(SpawnedDaemon {
                child,
                dir: daemon_dir.take().unwrap_or_else(|| unreachable!()),
                addr,
                cert,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = daemon_dir
                    .as_ref()
                    .and_then(|d| fs::read_to_string(d.path().join("hallqd.log")).ok())
                    .unwrap_or_default();
                Err(e.context(format!("hallqd did not start; its log:\n{log}")))
            }
        }
    }

    /// A backend driving this daemon with the generated tokens.
    pub fn backend(&self) -> HallqdBackend {
        HallqdBackend::new(
            self.addr,
            self.cert.clone(),
            Tokens::generated(),
            Some(self.child.id()),
        )
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temporary directory (config, state, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGTERM, then waits (bounded) for a clean exit; SIGKILL if it does
    /// not come. Returns whether it exited cleanly.
    pub fn stop(&mut self) -> anyhow::Result<bool> {
        let pid = self.child.id().to_string();
        // std has no SIGTERM and the workspace forbids unsafe: kill(1).
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + SPAWN_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.success());
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SpawnedDaemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The config of a load run's daemon: hall `main` with `items` items and
/// `windows` windows (see [`window_items`]), a token for every role and
/// every window, no daily caps, and `[limits]` opened up: a load generator
/// is a kiosk in a tight loop by design, which the default per-connection
/// rate limit would (rightly) slow down.
pub fn config_toml(state_dir: &Path, windows: u16, items: usize) -> String {
    let tokens = Tokens::generated();
    let mut toml = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = {:?}\nshutdown_grace_secs = 5\n\n\
         [limits]\nconnections = 1000000\nrequests_per_second = 1000000\n\
         displays_per_hall = 1000000\n\
         [limits.per_role]\nkiosk = 1000000\nwindow = 1000000\ndisplay = 1000000\n\
         notifier = 1000000\nadmin = 1000000\n\n",
        state_dir.display().to_string()
    );
    let mut token = |token: &str, role: &str, window: Option<u16>| {
        let _ = writeln!(
            toml,
            "[[token]]\ntoken = {token:?}\nrole = {role:?}\nhall = \"main\""
        );
        if let Some(n) = window {
            let _ = writeln!(toml, "window = {n}");
        }
        toml.push('\n');
    };
    token(&tokens.kiosk, "kiosk", None);
    token(&tokens.display, "display", None);
    token(&tokens.notifier, "notifier", None);
    for n in 1..=windows {
        token(&tokens.window(n), "window", Some(n));
    }
    toml.push_str("[[hall]]\nid = \"main\"\nname = \"负载测试大厅\"\n\n");
    for i in 0..items.clamp(1, 26) as u8 {
        let _ = writeln!(
            toml,
            "[[hall.item]]\ncode = \"{c}\"\nname = \"事项{c}\"\navg_service_secs = 300\n",
            c = item_letter(i)
        );
    }
    for n in 1..=windows {
        let _ = writeln!(toml, "[[hall.window]]\nnumber = {n}");
        if is_universal(n) {
            toml.push_str("universal = true\n\n");
        } else {
            let list: Vec<String> = window_items(n, items)
                .into_iter()
                .map(|i| format!("{:?}", item_letter(i).to_string()))
                .collect();
            let _ = writeln!(toml, "items = [{}]\n", list.join(", "));
        }
    }
    toml
}
