//! The `hallq` command: parse the command line, connect to `hallqd` with the
//! pinned certificate, send one request (or follow a stream), print the
//! answer as text or JSON, and turn failures into the documented exit codes.
//!
//! Parsing lives in [`args`], rendering in [`human`] and [`json`] as pure
//! functions; this module is the only one that does I/O.

mod alerts;
mod appointments;
mod args;
mod human;
mod json;
mod staffing;
mod table;
#[cfg(test)]
mod tests;

use hallq_proto::ErrorCode;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

use hallq_client::board::{self, BoardError};
use hallq_client::client::ClientError;
use hallq_client::follow::{self, FollowingClient, Hallqd, Outcome};
use hallq_client::kiosk;
use hallq_client::terminal::{self, TerminalError};
use hallq_client::tls;
use hallq_proto::types::{TicketNo, Timestamp};
use hallq_proto::wire::{DisplayUpdate, ErrorReply, Request, Response};

use args::{Cli, Plan};

/// Runs `hallq` with the process's arguments and returns its exit status.
pub async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // `--json` cannot be read from a command line that failed to parse,
        // so look for it by hand: a script still gets its JSON error.
        Err(e) => return usage(&e, std::env::args_os().any(|a| a == "--json")),
    };
    hallq_client::text::set_lang(cli.lang);
    let mut out = Output::stdout();
    match run(&cli, &mut out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => usage(&e, cli.json),
        Err(failure) => {
            if !failure.is_quiet() {
                // For a person: from the code, in their language; the JSON
                // error keeps the daemon's message (a contract for scripts).
                eprintln!("hallq: {}", failure.told(cli.lang));
                if cli.json {
                    let error =
                        json::error(&failure.code(), &failure.message(), failure.redirect());
                    // Nothing more can be done if stdout is gone too.
                    let _ = out.line(&error.to_string());
                }
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Reports a command-line problem as clap does (help and version go to
/// stdout with status 0), adding the JSON error object when asked for.
fn usage(e: &clap::Error, json: bool) -> ExitCode {
    let status = e.exit_code();
    if json && e.use_stderr() {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first);
        let _ = Output::stdout().line(&json::error(&ErrorCode::Usage, message, None).to_string());
    }
    // If even stderr is closed there is nobody left to tell.
    let _ = e.print();
    ExitCode::from(u8::try_from(status).unwrap_or(EXIT_USAGE))
}

/// The daemon refused the request; nothing changed.
const EXIT_REFUSED: u8 = 1;
/// A usage error (clap's own status).
const EXIT_USAGE: u8 = 2;
/// hallqd could not be reached, authenticated by certificate, or kept.
const EXIT_CONNECTION: u8 = 3;
/// Anything else.
const EXIT_OTHER: u8 = 4;

/// Why `hallq` failed, with the exit status and error code each maps to.
#[derive(Debug)]
enum Failure {
    /// Found after parsing (no token).
    Usage(clap::Error),
    /// From the client library.
    Client(ClientError),
    /// stdout could not be written.
    Output(io::Error),
    /// A board or window terminal could not use its screen or its port.
    Local {
        /// Stable error code.
        code: ErrorCode,
        /// For people.
        message: String,
    },
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            // Also `not_owner` when no daemon took the hall within the
            // budget: refused, nothing changed.
            Failure::Client(ClientError::Refused(_)) => EXIT_REFUSED,
            Failure::Client(
                ClientError::Connect(_)
                | ClientError::Connection(_)
                | ClientError::Timeout
                | ClientError::Resolve { .. },
            ) => EXIT_CONNECTION,
            // A stream reset or socket error under a frame is the connection
            // failing (the daemon went away while we watched), not a protocol bug.
            Failure::Client(ClientError::Codec(e)) if e.code() == ErrorCode::Io => EXIT_CONNECTION,
            Failure::Client(_) => EXIT_OTHER,
            Failure::Output(_) => EXIT_OTHER,
            Failure::Local { .. } => EXIT_OTHER,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Failure::Usage(_) => ErrorCode::Usage,
            Failure::Client(e) => e.code(),
            Failure::Output(_) => ErrorCode::Output,
            Failure::Local { code, .. } => code.clone(),
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Usage(e) => e.to_string(),
            Failure::Client(e) => e.to_string(),
            Failure::Output(e) => format!("cannot write output: {e}"),
            Failure::Local { message, .. } => message.clone(),
        }
    }

    /// What a person reads: a client failure told from its code (the
    /// daemon's English message only as a detail, in English).
    fn told(&self, lang: hallq_client::text::Lang) -> String {
        match self {
            Failure::Client(e) => {
                let text = hallq_client::text::client_error(e, lang);
                match lang {
                    hallq_client::text::Lang::Zh => format!("{text}（{}）", e.code()),
                    hallq_client::text::Lang::En => format!("{text} ({e})"),
                }
            }
            other => other.message(),
        }
    }

    /// The hall's owner, when the last daemon asked named it.
    fn redirect(&self) -> Option<&str> {
        match self {
            Failure::Client(ClientError::Refused(reply)) => reply.redirect.as_deref(),
            _ => None,
        }
    }

    /// A reader that stopped reading (`hallq watch | head`) is not worth a
    /// message: that is how one stops following a stream in a pipeline.
    fn is_quiet(&self) -> bool {
        matches!(self, Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

/// stdout, flushed after every line so a pipeline sees each update as it
/// happens (watch, notifications).
struct Output {
    stdout: io::Stdout,
}

impl Output {
    fn stdout() -> Output {
        Output {
            stdout: io::stdout(),
        }
    }

    fn line(&mut self, text: &str) -> io::Result<()> {
        let mut lock = self.stdout.lock();
        writeln!(lock, "{text}")?;
        lock.flush()
    }
}

/// The wall clock as the protocol writes instants, for "waited 12 min".
fn now() -> Timestamp {
    #[allow(clippy::disallowed_methods)] // the I/O layer; renderers take `now` as an argument
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(ms)
}

async fn run(cli: &Cli, out: &mut Output) -> Result<(), Failure> {
    let plan = cli.command.plan();
    // A saved report is rendered here, without hallqd (nor a token).
    if let Plan::Simulate(sim) = &plan {
        if let Some(file) = &sim.report {
            return staffing::render_saved(file, sim, cli.json, out);
        }
    }
    let token = cli.token().map_err(Failure::Usage)?;
    let cert = tls::load_cert_pem(&cli.cert).map_err(ClientError::from)?;
    // Boards, window terminals and the bridge connect (and reconnect) on
    // their own; everything follows the hall to whichever daemon serves it.
    let hallqd = Hallqd {
        servers: cli.server.clone(),
        cert,
        token: token.to_owned(),
        hall: cli.hall.clone(),
    };
    match plan {
        Plan::SmsBridge { provider } => return sms_bridge(&provider, hallqd).await,
        Plan::Board {
            serve: Some(addr),
            voice,
        } => return serve_board(&hallqd, addr, voice, cli.json, out).await,
        Plan::Board { serve: None, .. } => {
            return board::tui::run(&hallqd).await.map_err(board_failure)
        }
        Plan::Window { clerk_rating } => {
            return terminal::run(&hallqd, clerk_rating)
                .await
                .map_err(terminal_failure)
        }
        Plan::Kiosk { serve, options } => {
            return serve_kiosk(&hallqd, serve, options, cli.json, out).await
        }
        Plan::Visitor { serve, options } => {
            return serve_visitor(&hallqd, serve, options, cli.json, out).await
        }
        Plan::Console { serve } => return serve_console(&hallqd, serve, cli.json, out).await,
        _ => {}
    }
    let client = FollowingClient::new(hallqd);
    let result = match plan {
        Plan::Request(request) => one_request(&client, &request, cli.json, out).await,
        Plan::Watch => watch(&client, cli.json, out).await,
        Plan::Notifications { ack } => notifications(&client, ack, cli.json, out).await,
        Plan::Export { day, format, excel } => export(&client, day, format, excel, out).await,
        Plan::Simulate(sim) => staffing::simulate(&client, &sim, cli.json, out).await,
        Plan::Forecast { day, weeks } => {
            staffing::forecast(&client, day, weeks, cli.json, out).await
        }
        Plan::Report { day, out: file } => {
            report(&client, day, &file, cli.lang, cli.json, out).await
        }
        // Handled above, before connecting: they keep their own connections.
        Plan::Board { .. }
        | Plan::Window { .. }
        | Plan::SmsBridge { .. }
        | Plan::Kiosk { .. }
        | Plan::Visitor { .. }
        | Plan::Console { .. } => Ok(()),
    };
    // Also after a refusal: the daemon should not hold a dead connection.
    client.close().await;
    result
}

/// Binds a web screen's listener and announces where it is on stdout's
/// first line, for people and for scripts that start screens:
/// `{"serving": url}` with `--json`, else `<what> serving on <url>` and
/// a line of `hints`.
async fn listen_and_announce(
    addr: SocketAddr,
    what: &str,
    json: bool,
    out: &mut Output,
    hints: impl FnOnce(&str) -> String,
) -> Result<tokio::net::TcpListener, Failure> {
    let bind = |e: io::Error| Failure::Local {
        code: ErrorCode::Bind,
        message: format!("cannot serve the {what} on {addr}: {e}"),
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
    let url = format!("http://{}/", listener.local_addr().map_err(bind)?);
    out.line(&if json {
        serde_json::json!({ "serving": url }).to_string()
    } else {
        format!("{what} serving on {url}\n{}", hints(&url))
    })?;
    Ok(listener)
}

/// `hallq board --serve ADDR`: announces where the page is (first line of
/// stdout, for people and for scripts that start boards), then serves it
/// until Ctrl-C.
async fn serve_board(
    hallqd: &Hallqd,
    addr: SocketAddr,
    voice: board::voice::VoiceSettings,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    let listener = listen_and_announce(addr, "board", json, out, |url| {
        format!("window-top screens: {url}?window=N · announcements: {url}?speak=1")
    })
    .await?;
    tokio::select! {
        result = board::serve(hallqd, listener, voice) => result.map_err(board_failure),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// `hallq visitor --serve ADDR`: announces the page's address on stdout's
/// first line, then serves it until Ctrl-C.
async fn serve_visitor(
    hallqd: &Hallqd,
    addr: SocketAddr,
    options: hallq_client::visitor::Options,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    use hallq_client::visitor;
    let listener = listen_and_announce(addr, "visitor page", json, out, |url| {
        format!("a ticket's page: {url}t/<token>")
    })
    .await?;
    tokio::select! {
        result = visitor::serve(hallqd, listener, options) => result.map_err(|e| match e {
            visitor::VisitorError::Refused(e) => Failure::Client(e),
            visitor::VisitorError::Io(e) => Failure::Local {
                code: ErrorCode::VisitorPage,
                message: format!("visitor page failed: {e}"),
            },
        }),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// `hallq kiosk --serve ADDR`: like the board, announces the page's
/// address on stdout's first line, then serves it until Ctrl-C.
async fn serve_kiosk(
    hallqd: &Hallqd,
    addr: SocketAddr,
    options: kiosk::Options,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    let listener = listen_and_announce(addr, "kiosk", json, out, |url| {
        format!("English: {url}?lang=en · large type: {url}?large=1")
    })
    .await?;
    tokio::select! {
        result = kiosk::serve(hallqd, listener, options) => result.map_err(|e| match e {
            kiosk::KioskError::Refused(e) => Failure::Client(e),
            kiosk::KioskError::Io(e) => Failure::Local {
                code: ErrorCode::Kiosk,
                message: format!("kiosk failed: {e}"),
            },
        }),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// `hallq console --serve ADDR`: announces the page's address on stdout's
/// first line, then serves it until Ctrl-C.
async fn serve_console(
    hallqd: &Hallqd,
    addr: SocketAddr,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    use hallq_client::console;
    let listener = listen_and_announce(addr, "console", json, out, |url| {
        format!("English: {url}?lang=en · the charts of a day: {url}#charts")
    })
    .await?;
    tokio::select! {
        result = console::serve(hallqd, listener) => result.map_err(|e| match e {
            console::ConsoleError::Refused(e) => Failure::Client(e),
            console::ConsoleError::Io(e) => Failure::Local {
                code: ErrorCode::Bind,
                message: format!("console failed: {e}"),
            },
        }),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// `hallq report --date D --out FILE`: the day in charts as one
/// self-contained HTML file; says where it went (`{"written": path,
/// "day": yyyymmdd, "charts": n}` with `--json`).
async fn report(
    client: &FollowingClient,
    day: Option<u32>,
    file: &std::path::Path,
    lang: hallq_client::text::Lang,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    use hallq_client::charts;
    let data = charts::fetch(client, day).await?;
    let drawn = charts::day::charts(&data, lang);
    let page = charts::page::report(&data, &drawn, lang);
    std::fs::write(file, page).map_err(|e| Failure::Local {
        code: ErrorCode::Output,
        message: format!("cannot write {}: {e}", file.display()),
    })?;
    out.line(&if json {
        serde_json::json!({
            "written": file.display().to_string(),
            "day": data.day,
            "charts": drawn.len(),
        })
        .to_string()
    } else {
        match lang {
            hallq_client::text::Lang::Zh => format!(
                "{} 的日报（{} 张图）已写入 {}",
                charts::page::date(data.day),
                drawn.len(),
                file.display()
            ),
            hallq_client::text::Lang::En => format!(
                "the day in charts of {} ({} charts) written to {}",
                charts::page::date(data.day),
                drawn.len(),
                file.display()
            ),
        }
    })?;
    Ok(())
}

fn board_failure(e: BoardError) -> Failure {
    match e {
        BoardError::Refused(e) => Failure::Client(e),
        BoardError::Io(e) => Failure::Local {
            code: ErrorCode::Board,
            message: format!("board failed: {e}"),
        },
    }
}

fn terminal_failure(e: TerminalError) -> Failure {
    match e {
        TerminalError::Client(e) => Failure::Client(e),
        TerminalError::NotAWindow(_) => Failure::Client(ClientError::Refused(ErrorReply::new(
            "forbidden",
            e.to_string(),
        ))),
        TerminalError::Io(e) => Failure::Local {
            code: ErrorCode::Terminal,
            message: format!("terminal error: {e}"),
        },
    }
}

/// Sends `request` and prints the answer.
async fn one_request(
    client: &FollowingClient,
    request: &Request,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    let response = client.request(request).await.inspect_err(|e| {
        if !json && unsure(request, e) {
            let kind = request.kind();
            eprintln!(
                "hallq: {}",
                match hallq_client::text::lang() {
                    hallq_client::text::Lang::Zh =>
                        format!("连接断开前 {kind} 可能已经执行，请先查看结果再决定是否重做"),
                    hallq_client::text::Lang::En => format!(
                        "the {kind} may have been carried out before the connection was lost; \
                         check before repeating it"
                    ),
                }
            );
        }
    })?;
    // The hall's kiosk print failures go with `status` and `admin health`
    // (a separate request, so their answers keep their shape for older
    // peers); a daemon or a role that does not answer it adds nothing.
    let failures = if matches!(request, Request::Status | Request::Health) {
        // Bounded: an older hallqd drops a connection that asks what it
        // does not know, and following it again must not hold up `status`.
        let asked = client.request(&Request::PrintFailures);
        match tokio::time::timeout(Duration::from_secs(2), asked).await {
            Ok(Ok(Response::PrintFailures(p))) => Some(p),
            _ => None,
        }
    } else {
        None
    };
    out.line(&if json {
        let mut value = json::response(&response);
        if let (Some(p), Some(object)) = (&failures, value.as_object_mut()) {
            object.insert("print_failures".into(), serde_json::json!(p));
        }
        value.to_string()
    } else {
        let mut text = human::response(&response, now());
        if let Some(p) = &failures {
            text.push('\n');
            text.push_str(&human::print_failures(p));
        }
        text
    })?;
    Ok(())
}

/// Whether `request`, failing with `e`, may have been carried out all the
/// same: a change whose connection was lost after it was sent (a following
/// client does not send those again).
fn unsure(request: &Request, e: &ClientError) -> bool {
    !request.is_read_only() && Outcome::of(e) == Outcome::Unreachable
}

/// "subscribing again", in the reader's language.
fn subscribing_again() -> &'static str {
    hallq_client::text::lang().pick("；正在重新订阅", "; subscribing again")
}

/// Why a subscription could not be made and when it is tried again.
fn trying_again(e: &ClientError, pause: Duration) -> String {
    let lang = hallq_client::text::lang();
    let why = hallq_client::text::client_error(e, lang);
    match lang {
        hallq_client::text::Lang::Zh => format!("{why}；{} 秒后重试", pause.as_secs()),
        hallq_client::text::Lang::En => format!("{why}; trying again in {} s", pause.as_secs()),
    }
}

/// The pause before subscribing again after no daemon could be reached:
/// doubling up to `HALLQ_RETRY_MAX_SECS` (default 30 s; tests make it short).
fn retry_pause(previous: Duration) -> Duration {
    let cap = std::env::var("HALLQ_RETRY_MAX_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(Duration::from_secs(30), Duration::from_secs)
        .max(Duration::from_secs(1));
    (previous * 2).clamp(Duration::from_secs(1), cap)
}

/// Why a subscription ended, if it can be followed by subscribing again;
/// `Err` for an error that says the stream cannot go on.
/// The reason is in the reader's language, made from the error's code.
fn ended<T>(next: Result<Option<T>, ClientError>) -> Result<Result<T, String>, ClientError> {
    let lang = hallq_client::text::lang();
    match next {
        Ok(Some(item)) => Ok(Ok(item)),
        Ok(None) => Ok(Err(hallq_client::text::stream_ended(lang).into())),
        Err(e) if Outcome::of(&e) == Outcome::Unreachable => {
            Ok(Err(hallq_client::text::client_error(&e, lang)))
        }
        Err(e) => Err(e),
    }
}

/// Prints display updates until Ctrl-C, subscribing again (a fresh
/// snapshot first) whenever the stream ends: the daemon dropped this
/// display, or stopped serving the hall, or went away. Ends with an error
/// once no daemon takes the subscription within the follow budget.
async fn watch(client: &FollowingClient, json: bool, out: &mut Output) -> Result<(), Failure> {
    // One Ctrl-C future for the whole loop, so a signal arriving between two
    // updates is not lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut pause = Duration::ZERO;
    loop {
        let mut stream = tokio::select! {
            stream = client.watch() => match stream {
                Ok(stream) => stream,
                // No daemon within the follow budget: keep trying for as
                // long as we run (the README promises a subscriber that
                // outlives an outage); a refusal still ends it.
                Err(e) if Outcome::of(&e) == Outcome::Unreachable => {
                    pause = retry_pause(pause);
                    eprintln!("hallq: {}", trying_again(&e, pause));
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => continue,
                        _ = &mut ctrl_c => return Ok(()),
                    }
                }
                Err(e) => return Err(e.into()),
            },
            _ = &mut ctrl_c => return Ok(()),
        };
        let subscribed = Instant::now();
        let why = loop {
            let update = tokio::select! {
                update = stream.next() => ended(update)?,
                _ = &mut ctrl_c => return Ok(()),
            };
            let update = match update {
                Ok(update) => update,
                Err(why) => break why,
            };
            out.line(&if json {
                json::display_update(&update).to_string()
            } else {
                human::display_update(&update)
            })?;
            if let DisplayUpdate::Dropped { reason } = update {
                break hallq_client::text::display_dropped(&reason, hallq_client::text::lang());
            }
        };
        pause = follow::resubscribe_pause(pause, subscribed.elapsed());
        eprintln!("hallq: {why}{}", subscribing_again());
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = &mut ctrl_c => return Ok(()),
        }
    }
}

/// Prints notifications until Ctrl-C, acknowledging each after it is
/// printed when `ack` (the gateway bridge reading our stdout has it then; a
/// lost ack only means a redelivery, which the gateway deduplicates by id).
/// Subscribes again when the stream ends, as [`watch`] does: notifications
/// not yet acknowledged come again.
async fn notifications(
    client: &FollowingClient,
    ack: bool,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut pause = Duration::ZERO;
    loop {
        let mut stream = tokio::select! {
            stream = client.notifications() => match stream {
                Ok(stream) => stream,
                // No daemon within the follow budget: keep trying for as
                // long as we run (the README promises a subscriber that
                // outlives an outage); a refusal still ends it.
                Err(e) if Outcome::of(&e) == Outcome::Unreachable => {
                    pause = retry_pause(pause);
                    eprintln!("hallq: {}", trying_again(&e, pause));
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => continue,
                        _ = &mut ctrl_c => return Ok(()),
                    }
                }
                Err(e) => return Err(e.into()),
            },
            _ = &mut ctrl_c => return Ok(()),
        };
        let subscribed = Instant::now();
        let why = loop {
            let notification = tokio::select! {
                n = stream.next() => ended(n)?,
                _ = &mut ctrl_c => return Ok(()),
            };
            let notification = match notification {
                Ok(n) => n,
                Err(why) => break why,
            };
            out.line(&if json {
                json::notification(&notification).to_string()
            } else {
                human::notification(&notification)
            })?;
            if ack {
                if let Err(why) = ended(stream.ack(&notification.id).await.map(Some))? {
                    break why;
                }
            }
        };
        pause = follow::resubscribe_pause(pause, subscribed.elapsed());
        eprintln!("hallq: {why}{}", subscribing_again());
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = &mut ctrl_c => return Ok(()),
        }
    }
}

/// Pages through day `day`'s (or today's) per-ticket records and prints
/// them as CSV (with a header line) or JSON lines; `excel` puts a UTF-8 BOM
/// first.
async fn export(
    client: &FollowingClient,
    day: Option<u32>,
    format: args::ExportFormat,
    excel: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    // The header only once hallqd has answered: a refusal (with `--json`,
    // one JSON object on stdout) must not follow a CSV line (issue 19).
    let mut header = format == args::ExportFormat::Csv;
    let mut from = 0;
    // The first page fixes the day: the rest must not move to the next
    // day should midnight pass while paging.
    let mut day = day;
    // Issue 21: the day's appeals (申诉复核), for the last column. A daemon
    // that predates them cannot answer: the column stays empty.
    let appeals: std::collections::HashMap<TicketNo, String> =
        match client.request(&Request::Appeals { day }).await {
            Ok(Response::Appeals(list)) => list.into_iter().map(|a| (a.ticket, a.reason)).collect(),
            _ => Default::default(),
        };
    loop {
        let page = match client
            .request(&Request::ExportDetailed { day, from })
            .await?
        {
            Response::ExportDetailed(page) => page,
            other => return Err(ClientError::Unexpected(format!("{other:?}")).into()),
        };
        day = Some(page.day);
        if std::mem::take(&mut header) {
            let bom = if excel { "\u{feff}" } else { "" };
            out.line(&format!("{bom}{}", json::csv_header_export()))?;
        }
        for (record, trail) in page.records.iter().zip(&page.trails) {
            let appeal = appeals.get(&record.ticket).map(String::as_str);
            out.line(&match format {
                args::ExportFormat::Csv => {
                    json::csv_record_export(record, trail, page.offset_minutes, appeal)
                }
                args::ExportFormat::Jsonl => {
                    let mut v = json::ticket_record_detailed(record, trail, page.offset_minutes);
                    v["appeal"] = serde_json::json!(appeal);
                    v.to_string()
                }
            })?;
        }
        match page.next {
            Some(n) if n > from => from = n,
            _ => return Ok(()),
        }
    }
}

/// `hallq sms-bridge`: runs until Ctrl-C or SIGTERM, reconnecting by itself
/// and following the hall in a cluster.
async fn sms_bridge(provider: &std::path::Path, hallqd: Hallqd) -> Result<(), Failure> {
    use hallq_client::bridge;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .try_init();
    let provider = bridge::Provider::load(provider).map_err(|e| {
        Failure::Usage(clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            format!("{e}\n"),
        ))
    })?;
    let sender =
        bridge::Sender::new(provider).map_err(|e| Failure::Client(ClientError::Unexpected(e)))?;
    let stop = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    };
    bridge::run(hallqd, sender, stop).await;
    Ok(())
}
