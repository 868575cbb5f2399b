//! Streaming commands on a bad network (issue 17 item 4): `hallq watch`
//! and `hallq notifications` keep retrying for as long as they run, through
//! an outage longer than the follow budget (20+ s), and carry on with the
//! daemon that comes back on the same address.
//!
//! Bounded: every wait has a deadline; every process started is stopped
//! (the daemon by its handle, the `hallq` children by [`Killed`]).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hallq_proto::types::Lane;
use hallq_tests::browser::{hallq_path, Killed};
use hallq_tests::{item, TestHall, DISPLAY, NOTIFIER};

/// Longer than the client's follow budget, as in the hall's morning.
const OUTAGE: Duration = Duration::from_secs(22);

/// One `hallq` streaming command, its stdout lines on a channel.
struct Streaming {
    _process: Killed,
    lines: mpsc::Receiver<String>,
}

impl Streaming {
    fn start(hall: &TestHall, server: &str, token: &str, command: &str) -> anyhow::Result<Self> {
        let cert = hall.dir().join("state").join("tls").join("cert.pem");
        let mut child = Command::new(hallq_path())
            .args(["--server", server, "--token", token, "--json", command])
            .arg("--cert")
            .arg(&cert)
            // Short backoff so the test sees the retry soon after the return.
            .env("HALLQ_RETRY_MAX_SECS", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start hallq {command}"))?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Streaming {
            _process: Killed(child),
            lines,
        })
    }

    /// The next line containing `text`, within `within`.
    fn wait_for(&self, text: &str, within: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return Ok(line),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    anyhow::bail!("no line with {text:?} within {within:?}")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("hallq exited before a line with {text:?}")
                }
            }
        }
    }

    /// Whether the process is still printing (its stdout is open).
    fn alive(&self) -> bool {
        !matches!(self.lines.try_recv(), Err(mpsc::TryRecvError::Disconnected))
    }
}

#[test]
fn watch_and_notifications_survive_an_outage_longer_than_the_follow_budget() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let hall = TestHall::new()?;
    // The same address before and after: a port the first daemon got.
    let daemon = hall.start()?;
    let addr = daemon.addr();
    let mut daemon = daemon;
    daemon.stop()?;
    let config = std::fs::read_to_string(hall.config())?
        .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"{addr}\""));
    std::fs::write(hall.config(), config)?;
    let mut daemon = hall.start()?;
    let server = addr.to_string();

    let watch = Streaming::start(&hall, &server, DISPLAY, "watch")?;
    let notes = Streaming::start(&hall, &server, NOTIFIER, "notifications")?;
    watch.wait_for("snapshot", Duration::from_secs(20))?;

    // hallqd goes away for longer than the follow budget.
    daemon.stop()?;
    std::thread::sleep(OUTAGE);
    assert!(watch.alive(), "hallq watch gave up during the outage");
    assert!(
        notes.alive(),
        "hallq notifications gave up during the outage"
    );

    // Back on the same address: both subscribe again by themselves.
    let mut daemon = hall.start()?;
    watch.wait_for("snapshot", Duration::from_secs(20))?;
    let kiosk = rt.block_on(daemon.connect(hallq_tests::KIOSK));
    rt.block_on(kiosk.issue(item('A'), Lane::WalkIn, Some("13800138000".into())))?;
    // The new ticket's issue SMS reaches the notifications stream.
    notes.wait_for("A001", Duration::from_secs(20))?;
    daemon.stop()?;
    Ok(())
}
