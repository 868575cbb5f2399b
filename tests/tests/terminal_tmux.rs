//! The window terminal (`hallq window`) in a real terminal through a
//! daemon restart (issue 17 item 4): a detached tmux session of fixed size
//! runs it, the test types the clerk's keys and reads the screen with
//! `capture-pane -p`.
//!
//! What it shows: the keys call and finish; with hallqd gone the header
//! says the link is down at once instead of the window's last state (开放);
//! a key pressed then fails with a link error; when hallqd is back on the
//! same address the header recovers, the stale error goes, and a call
//! works again.
//!
//! Bounded: every wait polls the pane up to a deadline (no sleep is an
//! assertion); the tmux server has its own socket and is killed by a Drop
//! guard, also when an assertion fails; the daemon stops with its handle.
//! Skips (with a message) only when tmux is not installed: `tests/run.sh`
//! installs it.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hallq_proto::types::{Lane, WindowNo};
use hallq_proto::wire::Status;
use hallq_tests::browser::hallq_path;
use hallq_tests::{item, window_token, Daemon, TestHall, ADMIN, KIOSK};

/// Columns and lines of the pane: a small terminal at a counter.
const SIZE: (u16, u16) = (100, 32);

/// How long a change may take to reach the screen: the terminal refreshes
/// every 2 s and calls a request unanswered after 3 s a broken link.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(30);

/// One tmux server on its own socket, with one session; killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn tmux(&self, args: &[&str]) -> anyhow::Result<Output> {
        let out = Command::new("tmux")
            // Our own server (-L) with no user config (-f).
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("cannot run tmux")?;
        if !out.status.success() {
            bail!(
                "tmux {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out)
    }

    /// A detached session of [`SIZE`] running `command` through `sh`; the
    /// pane stays after it exits, with its status, so a failure is seen.
    fn start(command: &str) -> anyhow::Result<Tmux> {
        let tmux = Tmux {
            socket: format!("hallq-e2e-{}-{}", std::process::id(), unique()),
        };
        let (x, y) = (SIZE.0.to_string(), SIZE.1.to_string());
        let wrapped = format!("{command}; echo \"hallq exited: $?\"; sleep 600");
        tmux.tmux(&[
            "new-session",
            "-d",
            "-s",
            "hall",
            "-x",
            &x,
            "-y",
            &y,
            "sh",
            "-c",
            &wrapped,
        ])?;
        Ok(tmux)
    }

    /// Types `keys` (tmux key names: `n`, `Enter`).
    fn send(&self, keys: &[&str]) -> anyhow::Result<()> {
        let mut args = vec!["send-keys", "-t", "hall"];
        args.extend_from_slice(keys);
        self.tmux(&args).map(|_| ())
    }

    /// What the pane shows now.
    fn screen(&self) -> anyhow::Result<String> {
        let out = self.tmux(&["capture-pane", "-p", "-t", "hall"])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Polls the pane until `ok` holds for it, up to [`SCREEN_TIMEOUT`];
    /// the error shows the last screen.
    fn wait_for(&self, what: &str, ok: impl Fn(&Screen) -> bool) -> anyhow::Result<String> {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let text = self.screen()?;
            if ok(&Screen(&text)) {
                return Ok(text);
            }
            if Instant::now() > deadline {
                bail!("the terminal never showed {what} within {SCREEN_TIMEOUT:?}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Ends the session and the hallq in it, whatever the test's outcome.
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // tmux leaves its socket file behind: ours only, by its own name.
        if let Some(socket) = socket_path(&self.socket) {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// Where tmux puts the socket `-L name`: `$TMUX_TMPDIR/tmux-UID/name`.
fn socket_path(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let dir = std::env::var_os("TMUX_TMPDIR").unwrap_or_else(|| "/tmp".into());
    Some(
        std::path::Path::new(&dir)
            .join(format!("tmux-{uid}"))
            .join(name),
    )
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// One capture of the pane.
struct Screen<'a>(&'a str);

impl Screen<'_> {
    /// The header's line: the one with the window's title.
    fn header(&self) -> &str {
        self.0
            .lines()
            .find(|l| l.contains("2号窗口"))
            .unwrap_or_default()
    }

    /// The header says the window is open (and nothing about the link).
    fn open(&self) -> bool {
        let h = self.header();
        h.contains("开放") && !h.contains("未开放") && !h.contains("连不上")
    }

    fn has(&self, text: &str) -> bool {
        self.0.contains(text)
    }
}

/// `sh` quoting for one word.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn window2(status: &Status) -> &hallq_proto::views::WindowView {
    status
        .view
        .windows
        .iter()
        .find(|w| w.number == WindowNo(2))
        .expect("window 2")
}

#[test]
fn the_window_terminal_in_tmux_survives_a_daemon_restart() -> anyhow::Result<()> {
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (bash tests/run.sh installs it)");
        return Ok(());
    }
    let rt = tokio::runtime::Runtime::new()?;
    let hall = TestHall::new()?;
    // The same address before and after the restart: a port the first
    // daemon got, written into the config.
    let mut first = hall.start()?;
    let addr = first.addr();
    first.stop()?;
    let config = std::fs::read_to_string(hall.config())?
        .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"{addr}\""));
    std::fs::write(hall.config(), config)?;
    let mut daemon = hall.start()?;
    let kiosk = rt.block_on(daemon.connect(KIOSK));
    for _ in 0..3 {
        rt.block_on(kiosk.issue(item('A'), Lane::WalkIn, None))?;
    }
    // What hallqd says, on a fresh connection to the daemon running now.
    let status = |daemon: &Daemon| -> anyhow::Result<Status> {
        Ok(rt.block_on(async { daemon.connect(ADMIN).await.status().await })?)
    };

    let cert = hall.dir().join("state").join("tls").join("cert.pem");
    let command = [
        hallq_path().to_string_lossy().into_owned(),
        "--server".into(),
        addr.to_string(),
        "--cert".into(),
        cert.to_string_lossy().into_owned(),
        "--token".into(),
        window_token(2),
        "window".into(),
    ]
    .iter()
    .map(|w| quoted(w))
    .collect::<Vec<_>>()
    .join(" ");
    // Chinese, as at the counter, whatever the environment says.
    let tmux = Tmux::start(&format!("env -u HALLQ_LANG {command}"))?;

    // The terminal comes up with the closed window and its queue.
    tmux.wait_for("the closed window 2 and its queue", |s| {
        s.header().contains("未开放") && s.has("A003")
    })?;
    tmux.send(&["o"])?;
    tmux.wait_for("window 2 open", |s| s.open())?;

    // n calls the first in line; f then Enter finishes it with no rating.
    tmux.send(&["n"])?;
    tmux.wait_for("A001 called", |s| s.has("✔ 叫号"))?;
    assert_eq!(window2(&status(&daemon)?).current, Some("A001".parse()?));
    tmux.send(&["f"])?;
    tmux.send(&["Enter"])?;
    tmux.wait_for("A001 finished", |s| s.has("✔ 办结"))?;
    assert_eq!(window2(&status(&daemon)?).current, None);

    // hallqd goes away: the header says so by itself, no key pressed.
    daemon.stop()?;
    let down = tmux.wait_for("the link down in the header", |s| {
        s.header().contains("连不上 hallqd") && !s.open()
    })?;
    assert!(!Screen(&down).header().contains("开放"), "{down}");
    eprintln!("hallqd stopped:\n{down}");
    // A key pressed meanwhile fails, told from the error's kind.
    tmux.send(&["n"])?;
    tmux.wait_for("the call failing on the broken link", |s| {
        s.has("✘ 叫号未成功")
    })?;

    // Back on the same address: the header recovers and the stale link
    // error goes without a key.
    let mut daemon = hall.start()?;
    let back = tmux.wait_for("the link back and the error gone", |s| {
        s.open() && !s.has("✘")
    })?;
    assert!(!back.contains("连不上"), "{back}");
    eprintln!("hallqd back:\n{back}");
    // The call that failed was not carried out behind the clerk's back.
    assert_eq!(window2(&status(&daemon)?).current, None);

    // And a call works again.
    tmux.send(&["n"])?;
    tmux.wait_for("A002 called after the restart", |s| {
        s.has("✔ 叫号") && s.has("A002")
    })?;
    assert_eq!(window2(&status(&daemon)?).current, Some("A002".parse()?));
    drop(tmux);
    daemon.stop()?;
    Ok(())
}
