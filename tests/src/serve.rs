//! The web screens `hallq` serves (`board`, `kiosk`, `visitor`, `console`
//! … `--serve 127.0.0.1:0`), started as processes following a test hall's
//! daemon, and one small HTTP/1.1 client to talk to them without a browser.
//!
//! Every screen prints `<what> serving on http://ADDR/` once it listens;
//! [`Screen::start`] waits (bounded) for that line, so a test never guesses
//! a port or sleeps.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use anyhow::Context;
use serde_json::Value;

use crate::browser::{hallq_path, stdout_line, Killed};
use crate::{Daemon, TestHall, DISPLAY, KIOSK, STEP_TIMEOUT, VISITOR};

/// A `hallq … <screen> --serve 127.0.0.1:0` process, killed when dropped.
#[derive(Debug)]
pub struct Screen {
    _process: Killed,
    addr: SocketAddr,
}

impl Screen {
    /// Starts `hallq --token TOKEN <screen> --serve 127.0.0.1:0 [extra…]`
    /// against `daemon` and waits for the line `<announce> http://ADDR/`
    /// (e.g. `"board serving on "`).
    pub fn start(
        hall: &TestHall,
        daemon: &Daemon,
        token: &str,
        screen: &str,
        announce: &'static str,
        extra: &[&str],
    ) -> anyhow::Result<Screen> {
        let cert = hall.dir().join("state").join("tls").join("cert.pem");
        let mut args: Vec<OsString> = vec![
            "--server".into(),
            daemon.addr().to_string().into(),
            "--cert".into(),
            cert.into(),
            "--token".into(),
            token.into(),
            screen.into(),
            "--serve".into(),
            "127.0.0.1:0".into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        let what = format!("hallq {screen}");
        let mut child = Command::new(hallq_path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        let url = stdout_line(&mut child, &what, move |line| {
            line.strip_prefix(announce).map(str::to_owned)
        });
        // Killed from here on, also when the ready line never came.
        let process = Killed(child);
        let url = url?;
        let addr = url
            .strip_prefix("http://")
            .context("an http:// URL")?
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("{what} announced {url:?}"))?;
        Ok(Screen {
            _process: process,
            addr,
        })
    }

    /// `hallq board --serve` with the display token.
    pub fn board(hall: &TestHall, daemon: &Daemon, extra: &[&str]) -> anyhow::Result<Screen> {
        Screen::start(hall, daemon, DISPLAY, "board", "board serving on ", extra)
    }

    /// `hallq kiosk --serve` with the kiosk token.
    pub fn kiosk(hall: &TestHall, daemon: &Daemon, extra: &[&str]) -> anyhow::Result<Screen> {
        Screen::start(hall, daemon, KIOSK, "kiosk", "kiosk serving on ", extra)
    }

    /// `hallq visitor --serve` (the phone page) with the visitor token.
    pub fn visitor(hall: &TestHall, daemon: &Daemon, extra: &[&str]) -> anyhow::Result<Screen> {
        Screen::start(
            hall,
            daemon,
            VISITOR,
            "visitor",
            "visitor page serving on ",
            extra,
        )
    }

    /// The address the screen listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `POST path` with a JSON body; the answer's JSON.
    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        http(self.addr, "POST", path, "", &body.to_string())?.json()
    }

    /// `GET path`; the whole answer.
    pub fn get(&self, path: &str) -> anyhow::Result<Answer> {
        http(self.addr, "GET", path, "", "")
    }
}

/// An HTTP answer read to the end of the connection.
#[derive(Debug)]
pub struct Answer {
    /// The status code (200, 404 …).
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("not JSON (HTTP {}): {}", self.status, self.text()))
    }
}

/// One HTTP/1.1 request with `Connection: close` and a JSON content type;
/// `headers` are extra header lines, each ending in `\r\n`.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> anyhow::Result<Answer> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("cannot reach {addr}"))?;
    stream.set_read_timeout(Some(STEP_TIMEOUT * 2))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{headers}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut all = Vec::new();
    stream.read_to_end(&mut all)?;
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP head")?;
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    let mut body = all[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body)?;
    }
    Ok(Answer { status, head, body })
}

/// The body of a `Transfer-Encoding: chunked` answer.
fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("bad chunk")?;
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end])?.trim(), 16)?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(body.get(..size).context("chunk cut short")?);
        body = body.get(size + 2..).context("chunk cut short")?;
    }
}
