//! Support for the end-to-end tests in `tests/`: a hall on disk, the real
//! `hallqd` binary as a child process, and clients connected to it over QUIC
//! on loopback.
//!
//! # Where `hallqd` comes from
//! `env!("CARGO_BIN_EXE_hallqd")` exists only inside the daemon's own crate,
//! so the binary is found next to the test executable: a test runs from
//! `target/<profile>/deps/`, and `hallqd` lives in `target/<profile>/`.
//! `cargo test --workspace` builds every binary first; `cargo test -p
//! hallq-tests` does not, so when the file is missing [`hallqd_path`] runs
//! `cargo build -p hallq-daemon --bin hallqd` once per test process. It does
//! not rebuild a binary that exists: after editing the daemon, build it (or
//! run `cargo test --workspace`) so the tests do not run a stale one. The
//! `HALLQD` environment variable overrides the path.
//!
//! # Shape of a test
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use hallq_tests::{TestHall, KIOSK};
//! let hall = TestHall::new()?;           // tempdir + config.toml
//! let daemon = hall.start()?;            // waits for "hallqd listening on …"
//! let kiosk = daemon.client(KIOSK).await?;
//! # Ok(()) }
//! ```
//! Every wait is bounded ([`within`], [`Daemon::wait_exit`]); a [`Daemon`]
//! that is dropped kills its process, so no test leaves one behind.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use hallq_client::client::{Client, ClientError, DisplayStream, NotificationStream};
use hallq_proto::types::{ItemCode, Lane, TicketNo, WindowNo};
use hallq_proto::wire::{
    DisplayUpdate, Notification, Request, Response, Status, WindowAction, WAITING_PAGE_MAX,
};
use rustls_pki_types::CertificateDer;
use tempfile::TempDir;

pub mod browser;
pub mod cluster;
pub mod serve;

/// How long a daemon may take to start listening or to exit.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one awaited event (an answer, a frame, a close) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The kiosk's token.
pub const KIOSK: &str = "e2e-kiosk-token-000001";
/// The display board's token.
pub const DISPLAY: &str = "e2e-display-token-00001";
/// The SMS gateway bridge's token.
pub const NOTIFIER: &str = "e2e-notifier-token-0001";
/// The admin's token (covers every hall).
pub const ADMIN: &str = "e2e-admin-token-0000001";
/// The visitor page's token (issue 18).
pub const VISITOR: &str = "e2e-visitor-token-00001";
/// Windows of the test hall: 1–7, as in `config/demo.toml`.
pub const WINDOWS: std::ops::RangeInclusive<u16> = 1..=7;

/// The token of window terminal `n`.
pub fn window_token(n: u16) -> String {
    format!("e2e-window{n}-token-00001")
}

/// Item code `letter`, which must be A–Z.
pub fn item(letter: char) -> ItemCode {
    ItemCode::new(letter).expect("item letters in tests are A-Z")
}

/// Ticket `"A001"`.
pub fn ticket(number: &str) -> TicketNo {
    number
        .parse()
        .expect("ticket numbers in tests look like A001")
}

/// The test hall's config: the demo hall (items A–E, windows 1–7 with
/// universal 6 and fallback 7, reminder factor 1.5), a token for every role
/// and every window, an ephemeral loopback port and `state_dir`.
pub fn config_toml(state_dir: &Path) -> String {
    let mut toml = format!(
        "listen = \"127.0.0.1:0\"\n\
         state_dir = {state:?}\n\
         shutdown_grace_secs = 2\n\n",
        state = state_dir.display().to_string(),
    );
    let mut token = |token: &str, role: &str, window: Option<u16>| {
        let _ = writeln!(toml, "[[token]]\ntoken = {token:?}\nrole = {role:?}");
        if role != "admin" {
            toml.push_str("hall = \"main\"\n");
        }
        if let Some(n) = window {
            let _ = writeln!(toml, "window = {n}");
        }
        toml.push('\n');
    };
    token(KIOSK, "kiosk", None);
    token(DISPLAY, "display", None);
    token(NOTIFIER, "notifier", None);
    token(ADMIN, "admin", None);
    token(VISITOR, "visitor", None);
    for n in WINDOWS {
        token(&window_token(n), "window", Some(n));
    }
    toml.push_str(HALL_TOML);
    toml
}

/// Names of the items of a [`TestHall::sized`] hall, A… in order: the
/// lines of a city hall (市民中心).
pub const ITEM_NAMES: [&str; 26] = [
    "社保",
    "医保",
    "不动产登记",
    "公积金",
    "税务",
    "户籍",
    "出入境",
    "车驾管",
    "企业开办",
    "个体登记",
    "婚姻登记",
    "残疾人服务",
    "住房保障",
    "人才服务",
    "就业创业",
    "教育入学",
    "医疗卫生",
    "市场监管",
    "交通运输",
    "综合咨询",
    "水电气",
    "退役军人",
    "老龄服务",
    "法律援助",
    "知识产权",
    "文化旅游",
];

/// A hall of `windows` windows (tokens [`window_token`] 1…`windows`) and
/// `items` items (A…, named from [`ITEM_NAMES`]): window n serves item
/// (n − 1) mod `items` and the one after it, so every item has windows;
/// the last window is universal (无差别窗口).
pub fn sized_config_toml(state_dir: &Path, windows: u16, items: usize) -> String {
    assert!((1..=26).contains(&items) && windows >= 1);
    let mut toml = format!(
        "listen = \"127.0.0.1:0\"\n\
         state_dir = {state:?}\n\
         shutdown_grace_secs = 2\n\n\
         [limits]\nrequests_per_second = 1000\n\n",
        state = state_dir.display().to_string(),
    );
    for (token, role) in [
        (KIOSK, "kiosk"),
        (DISPLAY, "display"),
        (NOTIFIER, "notifier"),
    ] {
        let _ = writeln!(
            toml,
            "[[token]]\ntoken = {token:?}\nrole = {role:?}\nhall = \"main\"\n"
        );
    }
    let _ = writeln!(toml, "[[token]]\ntoken = {ADMIN:?}\nrole = \"admin\"\n");
    for n in 1..=windows {
        let _ = writeln!(
            toml,
            "[[token]]\ntoken = {:?}\nrole = \"window\"\nhall = \"main\"\nwindow = {n}\n",
            window_token(n)
        );
    }
    toml.push_str("[[hall]]\nid = \"main\"\nname = \"市民中心政务服务大厅（测试）\"\n\n");
    let letter = |i: usize| char::from(b'A' + (i % items) as u8);
    for (i, name) in ITEM_NAMES.iter().enumerate().take(items) {
        let _ = writeln!(
            toml,
            "[[hall.item]]\ncode = \"{}\"\nname = {name:?}\navg_service_secs = 300\n",
            letter(i)
        );
    }
    for n in 1..=windows {
        let i = usize::from(n - 1);
        if n == windows && windows > 1 {
            let _ = writeln!(toml, "[[hall.window]]\nnumber = {n}\nuniversal = true\n");
        } else if items == 1 {
            let _ = writeln!(toml, "[[hall.window]]\nnumber = {n}\nitems = [\"A\"]\n");
        } else {
            let _ = writeln!(
                toml,
                "[[hall.window]]\nnumber = {n}\nitems = [\"{}\", \"{}\"]\n",
                letter(i),
                letter(i + 1)
            );
        }
    }
    toml
}

/// The hall itself, as in `config/demo.toml`.
const HALL_TOML: &str = r#"[[hall]]
id = "main"
name = "政务服务中心（测试）"
reminder_factor = 1.5
walk_in_every = 3

[[hall.item]]
code = "A"
name = "社保"
avg_service_secs = 300
appointment_capacity = 4

[[hall.item]]
code = "B"
name = "医保"
avg_service_secs = 240

[[hall.item]]
code = "C"
name = "不动产登记"
avg_service_secs = 600
daily_cap = 200

[[hall.item]]
code = "D"
name = "公积金"
avg_service_secs = 180

[[hall.item]]
code = "E"
name = "税务"
avg_service_secs = 420

[[hall.window]]
number = 1
items = ["A", "B"]

[[hall.window]]
number = 2
items = ["A"]

[[hall.window]]
number = 3
items = ["B", "C"]

[[hall.window]]
number = 4
items = ["C", "D"]

[[hall.window]]
number = 5
items = ["D", "E"]

[[hall.window]]
number = 6
universal = true

[[hall.window]]
number = 7
items = ["E"]
fallback = true
"#;

/// A hall on disk: a temporary directory holding `config.toml` and the
/// daemon's `state/`. It outlives the daemons started on it, so a test can
/// kill one and start the next on the same state.
#[derive(Debug)]
pub struct TestHall {
    dir: TempDir,
    config: PathBuf,
}

impl TestHall {
    /// A fresh hall with [`config_toml`].
    pub fn new() -> anyhow::Result<TestHall> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let config = dir.path().join("config.toml");
        fs::write(&config, config_toml(&dir.path().join("state")))
            .with_context(|| format!("cannot write {}", config.display()))?;
        Ok(TestHall { dir, config })
    }

    /// A fresh hall of `windows` windows and `items` items
    /// ([`sized_config_toml`]), with the same tokens as [`TestHall::new`].
    pub fn sized(windows: u16, items: usize) -> anyhow::Result<TestHall> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let config = dir.path().join("config.toml");
        let toml = sized_config_toml(&dir.path().join("state"), windows, items);
        fs::write(&config, toml).with_context(|| format!("cannot write {}", config.display()))?;
        Ok(TestHall { dir, config })
    }

    /// A fresh hall with [`config_toml`] and `settings` (TOML lines such
    /// as `clerk_rating = true`) added to the hall's own keys.
    pub fn with_hall_settings(settings: &str) -> anyhow::Result<TestHall> {
        let hall = TestHall::new()?;
        let text = fs::read_to_string(&hall.config)?;
        let anchor = "walk_in_every = 3\n";
        let text = text.replacen(anchor, &format!("{anchor}{settings}\n"), 1);
        fs::write(&hall.config, text)?;
        Ok(hall)
    }

    /// A fresh hall with [`config_toml`] and a `[limits]` table of
    /// `limits` (TOML lines such as `requests_per_second = 5`).
    pub fn with_limits(limits: &str) -> anyhow::Result<TestHall> {
        let hall = TestHall::new()?;
        let text = fs::read_to_string(&hall.config)?;
        let text = text.replacen("[[token]]", &format!("[limits]\n{limits}\n\n[[token]]"), 1);
        fs::write(&hall.config, text)?;
        Ok(hall)
    }

    /// The config file.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The temporary directory (for extra files a test writes).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the hall `main` keeps its journal.
    pub fn journal_dir(&self) -> PathBuf {
        self.dir.path().join("state").join("halls").join("main")
    }

    /// The newest `journal-*.log` of hall `main` (the one appended to).
    pub fn newest_journal(&self) -> anyhow::Result<PathBuf> {
        let dir = self.journal_dir();
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("journal-") && n.ends_with(".log"))
            })
            .collect();
        files.sort();
        files
            .pop()
            .ok_or_else(|| anyhow!("no journal file in {}", dir.display()))
    }

    /// Starts `hallqd --config <config>` and waits until it listens.
    pub fn start(&self) -> anyhow::Result<Daemon> {
        Daemon::start(&[OsStr::new("--config"), self.config.as_os_str()])
    }

    /// Like [`TestHall::start`], with the daemon's clock shifted by
    /// `offset_secs` (`HALLQD_TEST_CLOCK_OFFSET_SECS`), so a test can be
    /// at any hour of the hall's day without waiting for it.
    pub fn start_shifted(&self, offset_secs: i64) -> anyhow::Result<Daemon> {
        Daemon::start_with_env(
            &[OsStr::new("--config"), self.config.as_os_str()],
            &[("HALLQD_TEST_CLOCK_OFFSET_SECS", offset_secs.to_string())],
        )
    }
}

/// The `hallqd` binary (see the module doc for how it is found or built).
pub fn hallqd_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("HALLQD") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("the test executable has a path");
        // target/<profile>/deps/<test> → target/<profile>/hallqd
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable lives in target/<profile>/deps");
        let path = profile_dir.join(format!("hallqd{}", std::env::consts::EXE_SUFFIX));
        if !path.exists() {
            build_hallqd();
        }
        assert!(
            path.exists(),
            "{} is missing even after cargo build",
            path.display()
        );
        path
    })
}

/// `cargo build -p hallq-daemon --bin hallqd`, from the workspace root.
fn build_hallqd() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root");
    let status = Command::new(cargo)
        .args(["build", "-p", "hallq-daemon", "--bin", "hallqd"])
        .current_dir(workspace)
        .status()
        .expect("cannot run cargo to build hallqd");
    assert!(status.success(), "cargo build of hallqd failed: {status}");
}

/// Everything a child process printed so far, and which pipes are closed.
#[derive(Debug, Default)]
struct Output {
    stdout: Vec<String>,
    stderr: String,
    closed_pipes: u8,
}

/// The output of a child, filled by reader threads; waiters block on the
/// condition variable until a line they need arrives or the pipes close.
#[derive(Debug, Default)]
struct Captured {
    output: Mutex<Output>,
    changed: Condvar,
}

impl Captured {
    fn lock(&self) -> std::sync::MutexGuard<'_, Output> {
        // A reader thread that panicked leaves the text as it was: still useful.
        self.output.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the threads that drain the child's pipes, so it never blocks
    /// on a full one.
    fn drain(self: &Arc<Self>, child: &mut Child) {
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let out = self.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                out.lock().stdout.push(line);
                out.changed.notify_all();
            }
            out.closed();
        });
        let err = self.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                err.lock()
                    .stderr
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            err.closed();
        });
    }

    fn closed(&self) {
        self.lock().closed_pipes += 1;
        self.changed.notify_all();
    }

    /// Waits until `ready` finds what it looks for in the output, or both
    /// pipes are closed (then `ready` gets its last chance), or `deadline`.
    fn wait<T>(&self, deadline: Instant, mut ready: impl FnMut(&Output) -> Option<T>) -> Option<T> {
        let mut out = self.lock();
        loop {
            if let Some(found) = ready(&out) {
                return Some(found);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if out.closed_pipes == 2 || left.is_zero() {
                return None;
            }
            out = self
                .changed
                .wait_timeout(out, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The rest of the first stdout line starting with `prefix`.
    fn line_after(&self, prefix: &str, deadline: Instant) -> anyhow::Result<String> {
        self.wait(deadline, |out| {
            out.stdout
                .iter()
                .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
        })
        .ok_or_else(|| anyhow!("hallqd printed no line starting with {prefix:?}"))
    }

    /// Waits (briefly) for both pipes to close, after the process exited.
    fn wait_closed(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        self.wait(deadline, |out| (out.closed_pipes == 2).then_some(()));
    }

    /// Everything on stderr so far, without colours.
    fn stderr(&self) -> String {
        strip_ansi(&self.lock().stderr)
    }
}

/// Removes ANSI colour sequences, so assertions see plain log text.
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters… final byte in @–~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// A `hallqd` child process with its output drained into memory. Dropping
/// it kills the process (SIGKILL) and reaps it.
#[derive(Debug)]
struct Process {
    child: Child,
    captured: Arc<Captured>,
}

impl Process {
    /// Spawns `hallqd` with `args`, pipes captured, plain logs at info.
    fn spawn(args: &[&OsStr]) -> anyhow::Result<Process> {
        Process::spawn_with_env(args, &[])
    }

    /// [`Process::spawn`] with extra environment variables (they may
    /// override `HALLQ_LOG`).
    fn spawn_with_env(args: &[&OsStr], env: &[(&str, String)]) -> anyhow::Result<Process> {
        let mut child = Command::new(hallqd_path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("HALLQ_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", hallqd_path().display()))?;
        let captured = Arc::new(Captured::default());
        captured.drain(&mut child);
        Ok(Process { child, captured })
    }

    /// Polls the child until it exits or `timeout` passes; then lets the
    /// reader threads take the last of its output.
    fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().context("cannot wait for hallqd")? {
                self.captured.wait_closed();
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("hallqd did not exit within {timeout:?}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a `hallqd` run that was expected to fail left behind.
#[derive(Debug)]
pub struct Exited {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it printed on stderr, without colours.
    pub stderr: String,
}

impl Exited {
    /// The exit code (`None` if a signal ended it).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `hallqd` with `args` to completion (bounded by [`PROCESS_TIMEOUT`]).
/// For runs that must refuse to start; one that does not exit in time is
/// killed and reported as an error.
pub fn run_hallqd(args: &[&OsStr]) -> anyhow::Result<Exited> {
    let mut process = Process::spawn(args)?;
    let status = process.wait_exit(PROCESS_TIMEOUT)?;
    Ok(Exited {
        status,
        stderr: process.captured.stderr(),
    })
}

/// A running `hallqd`. Dropping it kills the process (SIGKILL).
#[derive(Debug)]
pub struct Daemon {
    process: Process,
    addr: SocketAddr,
    cert: CertificateDer<'static>,
}

impl Daemon {
    /// Starts `hallqd` with `args` and waits for `hallqd listening on ADDR`
    /// and `server certificate: PATH` on its stdout.
    pub fn start(args: &[&OsStr]) -> anyhow::Result<Daemon> {
        Daemon::start_with_env(args, &[])
    }

    /// [`Daemon::start`] with `HALLQ_LOG` set to `log` (e.g. `"debug"`).
    pub fn start_logging(args: &[&OsStr], log: &str) -> anyhow::Result<Daemon> {
        Daemon::start_with_env(args, &[("HALLQ_LOG", log.to_owned())])
    }

    /// [`Daemon::start`] with extra environment variables for `hallqd`.
    pub fn start_with_env(args: &[&OsStr], env: &[(&str, String)]) -> anyhow::Result<Daemon> {
        let process = Process::spawn_with_env(args, env)?;
        let captured = process.captured.clone();
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        let ready = || -> anyhow::Result<(SocketAddr, CertificateDer<'static>)> {
            let addr = captured.line_after("hallqd listening on ", deadline)?;
            let addr = addr
                .trim()
                .parse()
                .with_context(|| format!("bad listen address {addr:?}"))?;
            let cert = captured.line_after("server certificate: ", deadline)?;
            let cert = hallq_client::tls::load_cert_pem(Path::new(cert.trim()))
                .context("cannot load the daemon's certificate")?;
            Ok((addr, cert))
        };
        // On failure `process` is dropped here, which kills it.
        let (addr, cert) = ready().map_err(|e| {
            e.context(format!(
                "hallqd did not start; stderr:\n{}",
                captured.stderr()
            ))
        })?;
        Ok(Daemon {
            process,
            addr,
            cert,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its certificate, to pin.
    pub fn cert(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// Everything it printed on stderr so far, without colours.
    pub fn stderr(&self) -> String {
        self.process.captured.stderr()
    }

    /// Connects a client presenting `token`.
    pub async fn client(&self, token: &str) -> Result<Client, ClientError> {
        within(
            STEP_TIMEOUT,
            Client::connect(self.addr, self.cert(), token, None),
        )
        .await
    }

    /// Connects a client presenting `token`, which must be accepted.
    pub async fn connect(&self, token: &str) -> Client {
        self.client(token)
            .await
            .unwrap_or_else(|e| panic!("cannot connect with a valid token: {e} ({e:?})"))
    }

    /// Sends SIGTERM (graceful shutdown).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("cannot run kill(1)");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        self.process.wait_exit(timeout)
    }

    /// SIGTERM, then the exit status (bounded by [`PROCESS_TIMEOUT`]).
    pub fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        self.terminate();
        self.wait_exit(PROCESS_TIMEOUT)
    }

    /// SIGKILL, as a power cut would; the process is reaped.
    pub fn kill(&mut self) {
        self.process.kill();
    }
}

/// `future`, or a panic naming `timeout` if it takes longer.
pub async fn within<T>(timeout: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or_else(|_| panic!("no answer within {timeout:?}"))
}

/// Asserts that `result` is a refusal with `code`; returns its message.
pub fn expect_refused<T: std::fmt::Debug>(result: Result<T, ClientError>, code: &str) -> String {
    match result {
        Err(ClientError::Refused(reply)) => {
            assert_eq!(reply.code, code, "refused, but with {reply:?}");
            reply.message
        }
        other => panic!("expected a refusal with code {code:?}, got {other:?}"),
    }
}

/// Opens windows `numbers` through the admin client `admin`.
pub async fn open_windows(admin: &Client, numbers: &[u16]) {
    for &n in numbers {
        admin
            .window(Some(WindowNo(n)), WindowAction::Open)
            .await
            .unwrap_or_else(|e| panic!("cannot open window {n}: {e}"));
    }
}

/// The waiting tickets of `status` as printed numbers with their positions.
pub fn waiting(status: &Status) -> Vec<(String, u32)> {
    status
        .waiting
        .iter()
        .map(|w| (w.ticket.to_string(), w.position))
        .collect()
}

/// Every waiting ticket of the hall, page by page (`StatusPage`): one
/// `Status` answer carries at most [`WAITING_PAGE_MAX`] of them (issue 19),
/// and a test under load can issue more. `ask` sends one request.
pub async fn every_waiting<F, Fut>(ask: F) -> anyhow::Result<HashSet<String>>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Result<Response, ClientError>>,
{
    let mut present = HashSet::new();
    loop {
        let from = u32::try_from(present.len())?;
        let request = Request::StatusPage {
            from,
            limit: WAITING_PAGE_MAX,
        };
        let page = match ask(request).await? {
            Response::StatusPage(page) => page,
            other => bail!("not a status page at {from}: {other:?}"),
        };
        present.extend(page.status.waiting.iter().map(|w| w.ticket.to_string()));
        if page.status.waiting.is_empty() || present.len() >= page.waiting_total as usize {
            return Ok(present);
        }
    }
}

/// The ticket each window of `status` has called or is serving.
pub fn current_tickets(status: &Status) -> Vec<(WindowNo, TicketNo)> {
    status
        .view
        .windows
        .iter()
        .filter_map(|w| w.current.map(|t| (w.number, t)))
        .collect()
}

/// The next display update, bounded by [`STEP_TIMEOUT`].
pub async fn next_update(stream: &mut DisplayStream) -> DisplayUpdate {
    within(STEP_TIMEOUT, stream.next())
        .await
        .expect("display stream failed")
        .expect("display stream ended")
}

/// The next notification, bounded by [`STEP_TIMEOUT`].
pub async fn next_notification(stream: &mut NotificationStream) -> Notification {
    within(STEP_TIMEOUT, stream.next())
        .await
        .expect("notification stream failed")
        .expect("notification stream ended")
}

/// Reads notifications until `done` holds for what was read (bounded by
/// [`STEP_TIMEOUT`] per notification); returns them all.
pub async fn notifications_until(
    stream: &mut NotificationStream,
    mut done: impl FnMut(&[Notification]) -> bool,
) -> Vec<Notification> {
    let mut seen = Vec::new();
    while !done(&seen) {
        seen.push(next_notification(stream).await);
    }
    seen
}

/// What a new notifier connection is given as pending, read up to a marker:
/// acknowledgements have no answer on the wire, and pending notifications
/// come before new ones, so `admin` issues a marker ticket (item D with a
/// phone: keep D's windows closed so it causes no reminders; appointment
/// lane, which only an admin may issue directly and which is issued after
/// closing time too) and everything
/// read before the marker's notification was pending. Returns those and
/// the marker's notification (itself pending from then on).
pub async fn pending_notifications(
    daemon: &Daemon,
    admin: &Client,
) -> (Vec<Notification>, Notification) {
    let gateway = daemon.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.expect("notifier subscribes");
    let marker = admin
        .issue(item('D'), Lane::Appointment, Some(MARKER_PHONE.into()))
        .await
        .expect("marker ticket");
    let mut pending = notifications_until(&mut outbox, |seen| {
        seen.last().is_some_and(|n| n.ticket == Some(marker.ticket))
    })
    .await;
    let marker = pending.pop().expect("the marker's notification");
    gateway.close().await;
    (pending, marker)
}

/// The phone number of [`pending_notifications`]' marker tickets.
pub const MARKER_PHONE: &str = "13700137000";

/// Waits (within [`STEP_TIMEOUT`]) until a new notifier connection is given
/// none of `acked`, and asserts that pending notifications not acknowledged
/// (the markers) are given again every time.
pub async fn assert_acks_stick(daemon: &Daemon, admin: &Client, acked: &HashSet<String>) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut markers: Vec<String> = Vec::new();
    loop {
        let (pending, marker) = pending_notifications(daemon, admin).await;
        let ids: HashSet<&str> = pending.iter().map(|n| n.id.as_str()).collect();
        let redelivered: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| acked.contains(*id))
            .collect();
        if redelivered.is_empty() {
            for id in &markers {
                assert!(
                    ids.contains(id.as_str()),
                    "pending {id} not redelivered: {ids:?}"
                );
            }
            return;
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged notifications delivered again: {redelivered:?}"
        );
        markers.push(marker.id);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
