//! The console's web server, for the manager's browser: one page with
//! its script and style embedded in the binary (no CDN: a hall's office
//! network often has no internet), a server-sent event stream that pushes
//! the whole view every time it is read again, and the day in charts.
//!
//! | path | what |
//! |---|---|
//! | `/` | the page; `?lang=en` in English (a button switches too) |
//! | `/events` | `text/event-stream`: `state` events (the console as JSON), `ping` every few seconds |
//! | `/state` | the console as JSON once, for scripts and monitoring |
//! | `/charts?date=YYYY-MM-DD&lang=zh` | the day's headline figures and charts as an HTML fragment (today without `date`) |
//! | `/report.html?date=…&lang=…` | the same day as `hallq report` writes it, to save or mail |
//! | `POST /workorder` | `{"id", "action": "called_back"\|"closed", "note", "lang"}`: 回访 or close a work order |
//! | `POST /appeal` | `{"ticket", "day", "reason", "lang"}`: 申诉复核 of a rating |
//!
//! The two POSTs answer `{"ok": true}` or `{"code", "text"}`, the text made
//! here from hallqd's error code in the page's language.
//!
//! Pushing the whole view (tens of kilobytes for a 40-window hall) rather
//! than deltas keeps the page trivially correct: whatever it missed, the
//! next event is complete.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::Stream;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Console;
use crate::charts;
use crate::follow::FollowingClient;
use crate::text::Lang;
use crate::web::asset;

/// How often an idle event stream says it is alive. The page treats a
/// stream silent for three of these as dead (a console process that hangs
/// or a cable pulled does not always close the TCP connection).
pub const PING_INTERVAL: Duration = Duration::from_secs(5);

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_CSS: &str = include_str!("assets/console.css");
const CONSOLE_JS: &str = include_str!("assets/console.js");

/// What the routes read: the console, and a connection for the charts.
#[derive(Debug, Clone)]
struct Page {
    console: watch::Receiver<Console>,
    charts: Arc<FollowingClient>,
    /// Asks the feed to read the view again: a work order's 回访 or
    /// closing sends no display frame, and the manager who pressed the
    /// button must see it done at once, not at the next tick.
    refresh: watch::Sender<()>,
}

/// The routes, reading the console from `console` and the charts' days
/// over `charts`; a manager's action done pokes `refresh`.
pub fn router(
    console: watch::Receiver<Console>,
    charts: Arc<FollowingClient>,
    refresh: watch::Sender<()>,
) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/console.css", get(css))
        .route("/console.js", get(js))
        .route("/charts.js", get(charts_js))
        .route("/state", get(state))
        .route("/events", get(events))
        .route("/charts", get(day_charts))
        .route("/report.html", get(report))
        .route("/workorder", post(work_order))
        .route("/appeal", post(appeal))
        .with_state(Arc::new(Page {
            console,
            charts,
            refresh,
        }))
}

/// Serves the console on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    console: watch::Receiver<Console>,
    charts: Arc<FollowingClient>,
    refresh: watch::Sender<()>,
) -> std::io::Result<()> {
    // No graceful shutdown: event streams never end by themselves, and the
    // console has nothing to save; the process simply exits.
    axum::serve(listener, router(console, charts, refresh)).await
}

async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        format!("{CONSOLE_CSS}{}", charts::page::CHART_CSS),
    )
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS.to_string())
}

async fn charts_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        charts::page::SAVE_JS.to_string(),
    )
}

async fn state(State(page): State<Arc<Page>>) -> Response {
    let json = page.console.borrow().to_json().to_string();
    asset("application/json", json)
}

/// The event stream: the console at once, then again after every
/// refresh, and a `ping` when nothing changed for [`PING_INTERVAL`].
async fn events(
    State(page): State<Arc<Page>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    crate::web::state_events(page.console.clone(), "state", PING_INTERVAL, |console| {
        console.to_json().to_string()
    })
}

/// `?date=YYYY-MM-DD&lang=zh|en`.
#[derive(Debug, Default)]
struct DayAsked {
    date: Option<String>,
    lang: Option<String>,
}

impl DayAsked {
    /// From the query string (no percent-decoding: dates and language
    /// names are plain ASCII; anything else is not a date anyway).
    fn parse(query: Option<&str>) -> DayAsked {
        let mut asked = DayAsked::default();
        for pair in query.unwrap_or_default().split('&') {
            match pair.split_once('=') {
                Some(("date", v)) => asked.date = Some(v.to_string()),
                Some(("lang", v)) => asked.lang = Some(v.to_string()),
                _ => {}
            }
        }
        asked
    }

    /// The day as `yyyymmdd` (`None`: today), or why not.
    fn day(&self) -> Result<Option<u32>, Box<Response>> {
        let Some(text) = self.date.as_deref().filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        let digits: String = text.chars().filter(|c| *c != '-').collect();
        let ok = digits.len() == 8 && digits.chars().all(|c| c.is_ascii_digit());
        match digits.parse::<u32>() {
            Ok(day)
                if ok
                    && (1..=12).contains(&(day / 100 % 100))
                    && (1..=31).contains(&(day % 100)) =>
            {
                Ok(Some(day))
            }
            _ => Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                "usage",
                "date: YYYY-MM-DD",
            ))),
        }
    }

    fn lang(&self) -> Lang {
        self.lang
            .as_deref()
            .and_then(Lang::from_name)
            .unwrap_or_default()
    }
}

/// An error the page tells from its code (ErrorCode's names).
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "code": code, "message": message }).to_string(),
    )
        .into_response()
}

/// The day's data, or hallqd's refusal as a JSON error for the page.
async fn day_data(page: &Page, asked: &DayAsked) -> Result<charts::day::DayData, Response> {
    let day = asked.day().map_err(|r| *r)?;
    charts::fetch(&page.charts, day).await.map_err(|e| {
        let code = e.code();
        refusal(StatusCode::BAD_GATEWAY, code.as_str(), &e.to_string())
    })
}

async fn day_charts(State(page): State<Arc<Page>>, RawQuery(query): RawQuery) -> Response {
    let asked = DayAsked::parse(query.as_deref());
    let data = match day_data(&page, &asked).await {
        Ok(data) => data,
        Err(refused) => return refused,
    };
    let lang = asked.lang();
    let drawn = charts::day::charts(&data, lang);
    let html = format!(
        "<div data-day=\"{}\">{}{}</div>",
        data.day,
        charts::page::kpis(&data, lang),
        charts::page::figures(&drawn, data.day, lang)
    );
    asset("text/html; charset=utf-8", html)
}

async fn report(State(page): State<Arc<Page>>, RawQuery(query): RawQuery) -> Response {
    let asked = DayAsked::parse(query.as_deref());
    let data = match day_data(&page, &asked).await {
        Ok(data) => data,
        Err(refused) => return refused,
    };
    let lang = asked.lang();
    let drawn = charts::day::charts(&data, lang);
    let html = charts::page::report(&data, &drawn, lang);
    let file = format!(
        "attachment; filename=\"hallq-{}-{}.html\"",
        data.hall,
        charts::page::date(data.day)
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, file),
        ],
        html,
    )
        .into_response()
}

/// The answer to a manager's action: `{"ok": true}`, or the refusal's
/// code with its text in `lang`.
fn done(
    page: &Page,
    result: Result<hallq_proto::wire::Response, crate::client::ClientError>,
    lang: Lang,
) -> Response {
    match result {
        Ok(_) => {
            page.refresh.send_replace(());
            asset(
                "application/json",
                serde_json::json!({ "ok": true }).to_string(),
            )
        }
        Err(e) => {
            let body = serde_json::json!({
                "code": e.code().as_str(),
                "text": crate::text::client_error(&e, lang),
            });
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

/// The JSON body of a POST, or a `usage` refusal.
fn body_json(body: &str) -> Result<serde_json::Value, Box<Response>> {
    serde_json::from_str(body).map_err(|e| {
        Box::new(refusal(
            StatusCode::BAD_REQUEST,
            "usage",
            &format!("not JSON: {e}"),
        ))
    })
}

fn lang_of(v: &serde_json::Value) -> Lang {
    v["lang"]
        .as_str()
        .and_then(Lang::from_name)
        .unwrap_or_default()
}

/// 回访 or close a work order (seed 000 §四(六)6), with the manager's note.
async fn work_order(State(page): State<Arc<Page>>, body: String) -> Response {
    use hallq_proto::console::WorkOrderAction;
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(refused) => return *refused,
    };
    let note = v["note"].as_str().unwrap_or_default().to_string();
    let action = match v["action"].as_str() {
        Some("called_back") => WorkOrderAction::CalledBack { note },
        Some("closed") => WorkOrderAction::Closed { note },
        _ => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "usage",
                "action: called_back or closed",
            )
        }
    };
    let Some(id) = v["id"].as_u64() else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "usage",
            "id: the work order's number",
        );
    };
    let request = hallq_proto::wire::Request::WorkOrderUpdate { id, action };
    done(&page, page.charts.request(&request).await, lang_of(&v))
}

/// 申诉复核: a rating set aside for a reason.
async fn appeal(State(page): State<Arc<Page>>, body: String) -> Response {
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(refused) => return *refused,
    };
    let Some(ticket) = v["ticket"]
        .as_str()
        .and_then(|t| t.parse::<hallq_proto::types::TicketNo>().ok())
    else {
        return refusal(StatusCode::BAD_REQUEST, "usage", "ticket: A012");
    };
    let request = hallq_proto::wire::Request::AppealRating {
        ticket,
        day: v["day"].as_u64().and_then(|d| u32::try_from(d).ok()),
        reason: v["reason"].as_str().unwrap_or_default().to_string(),
    };
    done(&page, page.charts.request(&request).await, lang_of(&v))
}
