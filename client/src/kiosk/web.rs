//! The kiosk's web server: the touch page with its script and style
//! embedded in the binary (no CDN), an event stream that pushes the hall
//! to the page, and the two actions a visitor takes.
//!
//! | path | what |
//! |---|---|
//! | `/` | the page (`?lang=en`, `?large=1`) |
//! | `/events` | `text/event-stream`: `hall` events (items, waits, link state), `ping` |
//! | `/hall` | the same JSON once |
//! | `POST /issue` | `{"item":"A","lane":"walk_in"\|"elderly"\|…,"phone":null,"key":"…"}` |
//! | `POST /check-in` | `{"code":"K7M2QX","key":"…"}` |
//! | `POST /attach-phone` | `{"ticket":"A012","phone":"13800138000","key":"…"}`: after a failed print |
//!
//! Every action carries a key the page makes once per visitor's choice:
//! the same key answers with the same ticket, so a double tap, a tap
//! repeated while the first is on its way, or a browser retry issues one
//! ticket. Actions are carried out one at a time (one visitor stands at a
//! kiosk), which also makes the key check race-free.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::Stream;
use hallq_proto::types::{ItemCode, Lane, PriorityReason, TicketNo};
use hallq_proto::wire::{IssuedTicket, Request};
use hallq_proto::ErrorCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{watch, Mutex};

use super::escpos::{self, Slip};
use super::printer::Printer;
use super::{Hall, Options};
use crate::client::ClientError;
use crate::follow::FollowingClient;
use crate::web::asset;

const INDEX_HTML: &str = include_str!("assets/index.html");
const KIOSK_CSS: &str = include_str!("assets/kiosk.css");
const KIOSK_JS: &str = include_str!("assets/kiosk.js");

/// How often an idle event stream says it is alive.
const PING_INTERVAL: Duration = Duration::from_secs(5);

/// How many answered keys are remembered (a few visitors' worth).
const KEYS_KEPT: usize = 64;

/// The kiosk's shared state.
#[derive(Debug, Clone)]
pub struct Kiosk {
    client: Arc<FollowingClient>,
    hall: watch::Receiver<Hall>,
    options: Arc<Options>,
    /// Answered actions by key, newest last; held while an action runs.
    answered: Arc<Mutex<VecDeque<(String, Value)>>>,
}

impl Kiosk {
    /// A kiosk acting through `client`, showing `hall`.
    pub fn new(
        client: Arc<FollowingClient>,
        hall: watch::Receiver<Hall>,
        options: Options,
    ) -> Kiosk {
        Kiosk {
            client,
            hall,
            options: Arc::new(options),
            answered: Arc::default(),
        }
    }
}

/// The routes.
pub fn router(kiosk: Kiosk) -> Router {
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route(
            "/kiosk.css",
            get(|| async { asset("text/css; charset=utf-8", KIOSK_CSS) }),
        )
        .route(
            "/kiosk.js",
            get(|| async { asset("text/javascript; charset=utf-8", KIOSK_JS) }),
        )
        .route("/hall", get(hall))
        .route("/events", get(events))
        .route("/issue", post(issue))
        .route("/check-in", post(check_in))
        .route("/attach-phone", post(attach_phone))
        .with_state(kiosk)
}

/// Serves the kiosk on `listener` until the process ends.
pub async fn serve(listener: TcpListener, kiosk: Kiosk) -> std::io::Result<()> {
    axum::serve(listener, router(kiosk)).await
}

fn json_response(v: &Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        v.to_string(),
    )
        .into_response()
}

/// The hall as the page reads it.
fn hall_json(h: &Hall, options: &Options) -> Value {
    json!({
        "connected": h.connected,
        "lost_at": h.lost_at.map(|t| t.0),
        "view": h.view,
        "idle_secs": options.idle_secs,
        "printer": match options.printer {
            Printer::None => "none",
            Printer::Browser => "browser",
            Printer::Tcp(_) | Printer::Device(_) => "escpos",
        },
    })
}

async fn hall(State(k): State<Kiosk>) -> Response {
    json_response(&hall_json(&k.hall.borrow(), &k.options))
}

async fn events(State(k): State<Kiosk>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let options = k.options.clone();
    crate::web::state_events(k.hall.clone(), "hall", PING_INTERVAL, move |hall| {
        hall_json(hall, &options).to_string()
    })
}

/// A refusal for the page: the code only; the page words it.
fn refusal(code: ErrorCode) -> Value {
    json!({ "ok": false, "code": code.as_str() })
}

/// Whether `phone` is a mainland China mobile number: 11 digits, 1, then
/// 3–9 (the numbering plan's mobile blocks).
pub fn is_mainland_mobile(phone: &str) -> bool {
    // One rule for the kiosk and hallqd: `Phone::mobile` is what hallqd
    // checks again when a number is attached.
    hallq_proto::types::Phone::mobile(phone).is_ok()
}

/// Runs `action` once per key: a key seen before answers as it did then.
async fn once(k: &Kiosk, body: &Value, action: impl std::future::Future<Output = Value>) -> Value {
    let key = body["key"].as_str().unwrap_or("").to_owned();
    let mut answered = k.answered.lock().await;
    if !key.is_empty() {
        if let Some((_, v)) = answered.iter().find(|(seen, _)| *seen == key) {
            return v.clone();
        }
    }
    let v = action.await;
    if !key.is_empty() {
        if answered.len() == KEYS_KEPT {
            answered.pop_front();
        }
        answered.push_back((key, v.clone()));
    }
    v
}

fn parse(body: &str) -> Option<Value> {
    serde_json::from_str::<Value>(body)
        .ok()
        .filter(Value::is_object)
}

async fn issue(State(k): State<Kiosk>, body: String) -> Response {
    let Some(body) = parse(&body) else {
        return json_response(&refusal(ErrorCode::BadRequest));
    };
    let v = once(&k, &body, async {
        let Some(item) = body["item"]
            .as_str()
            .and_then(|s| s.chars().next())
            .and_then(|c| ItemCode::new(c).ok())
        else {
            return refusal(ErrorCode::UnknownItem);
        };
        let lane = match body["lane"].as_str().unwrap_or("walk_in") {
            "walk_in" => Lane::WalkIn,
            "elderly" => Lane::Priority(PriorityReason::Elderly),
            "disabled" => Lane::Priority(PriorityReason::Disabled),
            "pregnant" => Lane::Priority(PriorityReason::Pregnant),
            "green" => Lane::Priority(PriorityReason::Green),
            _ => return refusal(ErrorCode::BadRequest),
        };
        let phone = body["phone"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        if phone.as_deref().is_some_and(|p| !is_mainland_mobile(p)) {
            return json!({ "ok": false, "code": ErrorCode::BadRequest.as_str(), "field": "phone" });
        }
        if !k.hall.borrow().connected {
            return refusal(ErrorCode::ConnectionLost);
        }
        let answer = k.client.issue(item, lane, phone.clone()).await;
        ticket_answer(&k, answer, phone.is_some()).await
    })
    .await;
    json_response(&v)
}

async fn check_in(State(k): State<Kiosk>, body: String) -> Response {
    let Some(body) = parse(&body) else {
        return json_response(&refusal(ErrorCode::BadRequest));
    };
    let v = once(&k, &body, async {
        // A scanner or a visitor may add spaces or dashes or type lower
        // case, as hallqd's own code normalisation allows.
        let code: String = body["code"]
            .as_str()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if code.is_empty() || code.len() > 16 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return refusal(ErrorCode::UnknownBooking);
        }
        if !k.hall.borrow().connected {
            return refusal(ErrorCode::ConnectionLost);
        }
        let answer = k
            .client
            .request(&Request::CheckIn { code })
            .await
            .and_then(crate::client::issued);
        ticket_answer(&k, answer, false).await
    })
    .await;
    json_response(&v)
}

/// A visitor whose slip did not print leaves a mobile number for the
/// ticket on the screen: hallqd then sends the §7.3.5 reminder and the
/// §7.3.6 call by SMS. Answers `{"ok":true,"ticket","position"}` or a
/// refusal's code (`not_mobile_number` with `"field":"phone"`).
async fn attach_phone(State(k): State<Kiosk>, body: String) -> Response {
    let Some(body) = parse(&body) else {
        return json_response(&refusal(ErrorCode::BadRequest));
    };
    let v = once(&k, &body, async {
        let Some(ticket) = body["ticket"]
            .as_str()
            .and_then(|t| t.parse::<TicketNo>().ok())
        else {
            return refusal(ErrorCode::UnknownTicket);
        };
        let phone = body["phone"].as_str().unwrap_or("").to_owned();
        if !is_mainland_mobile(&phone) {
            return json!({ "ok": false, "code": ErrorCode::NotMobileNumber.as_str(), "field": "phone" });
        }
        if !k.hall.borrow().connected {
            return refusal(ErrorCode::ConnectionLost);
        }
        match k
            .client
            .request(&Request::AttachPhone { ticket, phone })
            .await
        {
            Ok(hallq_proto::wire::Response::PhoneAttached { ticket, position }) => {
                json!({ "ok": true, "ticket": ticket.to_string(), "position": position })
            }
            Ok(hallq_proto::wire::Response::Error(e)) => refusal(e.code),
            Ok(_) => refusal(ErrorCode::UnexpectedAnswer),
            Err(e) => refusal(e.code()),
        }
    })
    .await;
    json_response(&v)
}

/// The page's answer to an issued ticket, after printing its slip. A slip
/// that does not print leaves the ticket issued (the visitor is shown the
/// number) and is reported to hallqd, so no number is left that nobody
/// holds and the hall sees the failure.
async fn ticket_answer(k: &Kiosk, answer: Result<IssuedTicket, ClientError>, phone: bool) -> Value {
    let t = match answer {
        Ok(t) => t,
        Err(e) => return refusal(e.code()),
    };
    let hall_name = k
        .hall
        .borrow()
        .view
        .as_ref()
        .map(|v| v.hall_name.clone())
        .unwrap_or_default();
    // The slip's QR code is the visitor's link to their phone page when
    // the hall has a public `visitor_url` (issue 18); otherwise the number.
    let link = match k
        .client
        .request(&Request::FollowLink { ticket: t.ticket })
        .await
    {
        Ok(hallq_proto::wire::Response::FollowLink { link, .. }) => link,
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(ticket = %t.ticket, "no visitor link for the slip: {e}");
            None
        }
    };
    let mut print_error = None;
    if k.options.printer.is_escpos() {
        let job = escpos::ticket_job(&Slip {
            hall_name: &hall_name,
            ticket: &t,
            time: local_time(t.issued_at),
            qr: link
                .clone()
                .unwrap_or_else(|| format!("hallq:{}", t.ticket)),
        });
        if let Err(e) = k.options.printer.print(&job).await {
            let reason = e.to_string();
            tracing::warn!(ticket = %t.ticket, "slip not printed: {reason}");
            let report = Request::PrintFailed {
                ticket: t.ticket,
                reason: reason.clone(),
            };
            if let Err(e) = k.client.request(&report).await {
                tracing::warn!(ticket = %t.ticket, "print failure not reported to hallqd: {e}");
            }
            print_error = Some(reason);
        }
    }
    json!({
        "ok": true,
        "ticket": t.ticket.to_string(),
        "item_name": t.item_name,
        "lane": lane_key(t.lane),
        "position": t.position,
        "windows": t.windows.iter().map(|w| w.0).collect::<Vec<_>>(),
        "eta_secs": t.eta_secs,
        "approaching": t.approaching,
        "issued_at": t.issued_at.0,
        "time": local_time(t.issued_at),
        "hall_name": hall_name,
        "phone": phone,
        "printed": print_error.is_none() && k.options.printer.is_escpos(),
        "print_failed": print_error.is_some(),
        "link": link,
    })
}

fn lane_key(lane: Lane) -> &'static str {
    match lane {
        Lane::WalkIn => "walk_in",
        Lane::Appointment => "appointment",
        Lane::Priority(PriorityReason::Elderly) => "elderly",
        Lane::Priority(PriorityReason::Disabled) => "disabled",
        Lane::Priority(PriorityReason::Pregnant) => "pregnant",
        Lane::Priority(PriorityReason::Green) => "green",
    }
}

/// "2026-12-01 09:31" in the hall's zone (UTC+8, as [`crate::screen::clock`]).
fn local_time(t: hallq_proto::types::Timestamp) -> String {
    let secs = t.0 / 1000 + 8 * 3600;
    let days = (secs / 86_400) as i64;
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let sod = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        sod / 3600,
        sod / 60 % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainland_mobiles() {
        assert!(is_mainland_mobile("13800138000"));
        assert!(is_mainland_mobile("19912345678"));
        assert!(!is_mainland_mobile("12800138000"));
        assert!(!is_mainland_mobile("1380013800"));
        assert!(!is_mainland_mobile("138001380001"));
        assert!(!is_mainland_mobile("1380013800a"));
    }

    #[test]
    fn local_times() {
        // 2026-12-01 00:00 UTC is 08:00 in the hall.
        assert_eq!(
            local_time(hallq_proto::types::Timestamp(1_796_083_200_000)),
            "2026-12-01 08:00"
        );
    }
}
