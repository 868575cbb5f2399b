//! The browser harness of the page tests (`tests/board.rs`,
//! `tests/kiosk.rs`): the real `hallq` binary as a child process, and a
//! headless Chromium under chromedriver (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver.
//!
//! WebDriver is plain JSON over HTTP; the few calls needed are made with a
//! small blocking client rather than a browser-automation crate.
//!
//! Every process started here is killed on drop: a [`Killed`] child is
//! killed and reaped, and a [`WebDriver`] ends its session, kills the
//! browser (which chromedriver leaves running) and then chromedriver.
//!
//! Without Chromium, [`browser_available`] fails the test and says how to
//! install it; `HALLQ_SKIP_BROWSER_TESTS=1` skips it instead.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use crate::{hallqd_path, PROCESS_TIMEOUT, STEP_TIMEOUT};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether Chromium and its driver are here; without them the `test` test
/// fails with the fix, unless skipping was asked for.
pub fn browser_available(test: &str) -> anyhow::Result<bool> {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return Ok(true);
    }
    if std::env::var_os("HALLQ_SKIP_BROWSER_TESTS").is_some() {
        eprintln!("skipped: no {CHROMIUM} or {CHROMEDRIVER} (HALLQ_SKIP_BROWSER_TESTS set)");
        return Ok(false);
    }
    bail!(
        "the {test} test needs {CHROMIUM} and {CHROMEDRIVER}: \
         apt-get install -y chromium chromium-driver fonts-noto-cjk, \
         or set HALLQ_SKIP_BROWSER_TESTS=1 to skip it"
    )
}

/// The `hallq` binary, next to `hallqd`; built if missing (as `hallqd` is).
pub fn hallq_path() -> PathBuf {
    let path = hallqd_path().with_file_name(format!("hallq{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests crate sits in the workspace root");
        let status = Command::new(cargo)
            .args(["build", "-p", "hallq-client", "--bin", "hallq"])
            .current_dir(workspace)
            .status()
            .expect("cannot run cargo to build hallq");
        assert!(status.success(), "cargo build of hallq failed: {status}");
    }
    path
}

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (bounded) for the first stdout line of `child` that `find` accepts;
/// the rest of its output is drained so it never blocks on a full pipe.
pub fn stdout_line<T: Send + 'static>(
    child: &mut Child,
    what: &str,
    find: impl Fn(&str) -> Option<T> + Send + 'static,
) -> anyhow::Result<T> {
    let stdout = child.stdout.take().context("stdout is piped")?;
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        let mut send = Some(send);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(found) = find(&line) {
                if let Some(send) = send.take() {
                    let _ = send.send(found);
                }
            }
        }
    });
    receive
        .recv_timeout(PROCESS_TIMEOUT)
        .map_err(|_| anyhow!("{what} printed no ready line within {PROCESS_TIMEOUT:?}"))
}

/// A headless Chromium under chromedriver, with one session, and the
/// script ([`WebDriver::probe`]) that reads what its page shows.
#[derive(Debug)]
pub struct WebDriver {
    driver: Killed,
    addr: SocketAddr,
    session: String,
    /// The browser's pid: chromedriver leaves it running when killed.
    browser_pid: Option<u64>,
    /// What the page shows, read in one go by [`WebDriver::wait_page`].
    probe: &'static str,
}

impl WebDriver {
    /// Starts chromedriver and a browser (its profile under `scratch`)
    /// whose page is `width`×`height`; `probe` is the script that returns
    /// what the page shows.
    pub fn start(
        scratch: &Path,
        width: i64,
        height: i64,
        probe: &'static str,
    ) -> anyhow::Result<WebDriver> {
        WebDriver::start_with(scratch, width, height, probe, &[])
    }

    /// [`WebDriver::start`] with more Chromium flags, e.g.
    /// `--autoplay-policy=no-user-gesture-required` for a page that must
    /// play sound without a click (the board's announcements).
    pub fn start_with(
        scratch: &Path,
        width: i64,
        height: i64,
        probe: &'static str,
        extra_args: &[&str],
    ) -> anyhow::Result<WebDriver> {
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver")?;
        let port = stdout_line(&mut child, "chromedriver", |line| {
            line.split("started successfully on port ")
                .nth(1)
                .and_then(|rest| rest.trim_end_matches('.').trim().parse::<u16>().ok())
        });
        let driver = Killed(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], port?));
        let profile = scratch.join("chromium-profile");
        let mut args = json!([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            format!("--window-size={width},{height}"),
            "--lang=zh-CN",
            format!("--user-data-dir={}", profile.display()),
        ]);
        if let Some(list) = args.as_array_mut() {
            list.extend(extra_args.iter().map(|a| json!(a)));
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }}});
        let value = request(addr, "POST", "/session", Some(&capabilities))?;
        let session = value["sessionId"]
            .as_str()
            .context("no session id from chromedriver")?
            .to_owned();
        let browser_pid = value["capabilities"]["goog:processID"].as_u64();
        let browser = WebDriver {
            driver,
            addr,
            session,
            browser_pid,
            probe,
        };
        browser.viewport(width, height)?;
        Ok(browser)
    }

    /// Sizes the window so the page itself gets `width`×`height` (what a
    /// screen shows), whatever the browser's own frame takes.
    pub fn viewport(&self, width: i64, height: i64) -> anyhow::Result<()> {
        let frame = self.script(
            "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
        )?;
        let rect = json!({
            "width": width + frame[0].as_i64().unwrap_or(0),
            "height": height + frame[1].as_i64().unwrap_or(0),
        });
        self.call("POST", "/window/rect", Some(&rect)).map(drop)
    }

    /// A WebDriver command of this session: `path` after `/session/{id}`.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        request(
            self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
    }

    /// Navigates to `url`.
    pub fn open(&self, url: &str) -> anyhow::Result<()> {
        self.call("POST", "/url", Some(&json!({ "url": url })))
            .map(drop)
    }

    /// Runs `script` in the page; its return value.
    pub fn script(&self, script: &str) -> anyhow::Result<Value> {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": [] })),
        )
    }

    /// What the page shows now (the probe script's answer).
    pub fn probe(&self) -> anyhow::Result<Value> {
        self.script(self.probe)
    }

    /// A real click (pointer events, as a finger's tap reaches the page).
    pub fn click(&self, css: &str) -> anyhow::Result<()> {
        let found = self.call(
            "POST",
            "/element",
            Some(&json!({ "using": "css selector", "value": css })),
        )?;
        let id = found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .with_context(|| format!("no element {css}"))?
            .to_owned();
        self.call("POST", &format!("/element/{id}/click"), Some(&json!({})))
            .map(drop)
    }

    /// Keys typed as a keyboard (or a USB scanner) types them.
    pub fn type_keys(&self, text: &str) -> anyhow::Result<()> {
        let mut actions = Vec::new();
        for c in text.chars() {
            actions.push(json!({ "type": "keyDown", "value": c.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": c.to_string() }));
        }
        let body = json!({ "actions": [{ "type": "key", "id": "scanner", "actions": actions }] });
        self.call("POST", "/actions", Some(&body)).map(drop)
    }

    /// Polls the page until `ready` holds, within [`STEP_TIMEOUT`]; a
    /// latency is measured by the page (its timestamps), so the polling
    /// interval does not enter into it.
    pub fn wait_page(&self, what: &str, ready: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let page = self.probe()?;
            if ready(&page) {
                return Ok(page);
            }
            if Instant::now() >= deadline {
                bail!("the page did not show {what} within {STEP_TIMEOUT:?}: {page}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Saves a PNG of the viewport at `path`.
    pub fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let png = self.call("GET", "/screenshot", None)?;
        let png = base64_decode(png.as_str().context("screenshot is not a string")?)?;
        std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        let _ = self.call("DELETE", "", None);
        if let Some(pid) = self.browser_pid {
            // Usually gone already with the session; then kill(1) has nothing to do.
            let _ = Command::new("kill")
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .status();
        }
        // `driver` is dropped after this, which kills chromedriver.
        let _ = &self.driver;
    }
}

/// One WebDriver request: JSON over HTTP/1.1, one connection each.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).context("cannot reach chromedriver")?;
    // Starting the browser is the slowest call; a busy machine may take a while.
    stream.set_read_timeout(Some(PROCESS_TIMEOUT * 3))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // chromedriver keeps the connection open: read by Content-Length.
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .with_context(|| format!("no answer from chromedriver to {method} {path}"))?;
        if n == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().context("bad Content-Length")?;
            }
        }
        head.push_str(&line);
    }
    let mut body = vec![0u8; length];
    reader
        .read_exact(&mut body)
        .with_context(|| format!("short answer from chromedriver to {method} {path}"))?;
    let body = String::from_utf8_lossy(&body);
    let value: Value = serde_json::from_str(&body)
        .with_context(|| format!("answer to {method} {path} is not JSON: {head}\n{body}"))?;
    let value = value.get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error") {
        bail!("{method} {path}: {error}: {}", value["message"]);
    }
    Ok(value)
}

/// Standard base64 (what WebDriver screenshots are encoded in).
fn base64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    let digit = |c: u8| -> anyhow::Result<u32> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("not base64: {:?}", c as char),
        }
        .into())
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= digit(*c)? << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    Ok(out)
}
