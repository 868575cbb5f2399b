//! The visitor page's web server: the page with its script and style
//! embedded in the binary (no CDN), a ticket's event stream, the visitor's
//! three actions, and nothing else.
//!
//! | path | what |
//! |---|---|
//! | `/t/<token>` | the page (`?lang=en` for English; a button switches) |
//! | `/t/<token>/events` | `text/event-stream`: a `ticket` event whenever the ticket changes, `ping` |
//! | `POST /t/<token>/step-back` | "I need more time": back the hall's `step_back_places`, once |
//! | `POST /t/<token>/leave` | "I'm leaving": the ticket is given up |
//! | `POST /t/<token>/rate` | `{"rating":1-5}`: 好差评, once per service |
//! | `/rate?window=N` | the rating tablet at window N: the service finished there last |
//! | `/rate/events?window=N` | its stream, `{"ok":true,"ticket":{…}\|null,"token":…}`; for `--tablet` addresses only |
//! | `/hall` | 线上取号 (when the hall has `remote_tickets = true`): the items, a mobile number, the code |
//! | `/hall/items` | `{"ok":true,"hall_name":…,"open_now":…,"issuing":…,"items":[{"code","name","waiting","eta_secs","full"}]}` |
//! | `POST /hall/code` | `{"item":"A","phone":"138…"}`: the code goes out by SMS; `{"ok":true,"phone":"138****8000","expires_in_secs":300}` |
//! | `POST /hall/ticket` | `{"item":"A","phone":"138…","code":"123456"}`: the walk-in ticket; `{"ok":true,"ticket":"A012","token":…}` |
//!
//! Every answer is JSON `{"ok":true,"ticket":{…}}` or `{"ok":false,
//! "code":"link_invalid"}`: the page words the code, in Chinese or English.
//! The ticket carries no phone number and no name.
//!
//! Limits per address (the peer's, or the one a trusted reverse proxy
//! forwarded for): so many requests a minute, so many refused links an
//! hour (after which the address is turned away until the hour is over),
//! and a few open event streams; answered with HTTP 429 and
//! `rate_limited`. 线上取号's codes are limited per address besides
//! ([`CODES_PER_ADDRESS_PER_HOUR`]), and per phone by hallqd.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hallq_proto::types::Rating;
use hallq_proto::wire::{Request, Response as Answer};
use hallq_proto::ErrorCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Options;
use crate::client::ClientError;
use crate::follow::FollowingClient;
use crate::web::asset;

const INDEX_HTML: &str = include_str!("assets/index.html");
const VISITOR_CSS: &str = include_str!("assets/visitor.css");
const VISITOR_JS: &str = include_str!("assets/visitor.js");
const HALL_HTML: &str = include_str!("assets/hall.html");
const HALL_JS: &str = include_str!("assets/hall.js");

/// 线上取号 codes one address may ask for per hour (a family's phones
/// behind one carrier address share it; hallqd limits each phone too).
pub const CODES_PER_ADDRESS_PER_HOUR: u32 = 10;

/// How often an idle event stream says it is alive (proxies close silent
/// connections).
const PING_INTERVAL: Duration = Duration::from_secs(15);

/// How soon a page's stream asks again after hallqd turned the question
/// away for its request rate, or could not be reached.
const RETRY_AFTER_REFUSAL: Duration = Duration::from_millis(500);

/// Open event streams one address may hold (a family's phones behind one
/// mobile carrier's address share it).
const STREAMS_PER_ADDRESS: u32 = 16;

/// Addresses remembered at most; past that the oldest windows are dropped.
const ADDRESSES_KEPT: usize = 50_000;

/// The page's shared state.
#[derive(Debug, Clone)]
pub struct VisitorPage {
    client: Arc<FollowingClient>,
    changes: watch::Receiver<u64>,
    options: Arc<Options>,
    limits: Arc<Mutex<HashMap<IpAddr, Usage>>>,
}

/// What one address has done lately.
#[derive(Debug, Clone, Copy)]
struct Usage {
    minute_from: Instant,
    requests: u32,
    hour_from: Instant,
    bad_links: u32,
    streams: u32,
    /// 线上取号 codes asked for since `hour_from`.
    codes: u32,
}

impl VisitorPage {
    /// The page acting through `client`, pushed by `changes`.
    pub fn new(
        client: Arc<FollowingClient>,
        changes: watch::Receiver<u64>,
        options: Options,
    ) -> VisitorPage {
        VisitorPage {
            client,
            changes,
            options: Arc::new(options),
            limits: Arc::default(),
        }
    }

    /// The address a request counts against: the peer's, or for a trusted
    /// proxy the last address in its `X-Forwarded-For` (the one it added;
    /// those before it came from the client and may be forged).
    fn address(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.ip();
        if !self.options.trusted_proxies.contains(&peer) {
            return peer;
        }
        // Only the very last entry: if it does not parse, an earlier one
        // (the client's own) must not stand in for it.
        headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|a| a.trim().parse::<IpAddr>().ok())
            .unwrap_or(peer)
    }

    fn usage(&self) -> MutexGuard<'_, HashMap<IpAddr, Usage>> {
        // A panic while counting leaves counts, not broken invariants.
        self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request from `address`; false if it is over a limit.
    fn admit(&self, address: IpAddr) -> bool {
        let now = Instant::now();
        let mut limits = self.usage();
        if limits.len() >= ADDRESSES_KEPT && !limits.contains_key(&address) {
            limits.retain(|_, u| {
                u.streams > 0 || now.duration_since(u.hour_from) < Duration::from_secs(3600)
            });
        }
        let u = limits.entry(address).or_insert(Usage {
            minute_from: now,
            requests: 0,
            hour_from: now,
            bad_links: 0,
            streams: 0,
            codes: 0,
        });
        if now.duration_since(u.minute_from) >= Duration::from_secs(60) {
            u.minute_from = now;
            u.requests = 0;
        }
        if now.duration_since(u.hour_from) >= Duration::from_secs(3600) {
            u.hour_from = now;
            u.bad_links = 0;
            u.codes = 0;
        }
        u.requests = u.requests.saturating_add(1);
        u.requests <= self.options.per_address_per_minute
            && u.bad_links < self.options.bad_links_per_address_per_hour
    }

    /// A refused link from `address`: guessing is counted.
    fn bad_link(&self, address: IpAddr) {
        if let Some(u) = self.usage().get_mut(&address) {
            u.bad_links = u.bad_links.saturating_add(1);
        }
    }

    /// Counts one code asked for by `address` (already admitted); false
    /// if it is over [`CODES_PER_ADDRESS_PER_HOUR`].
    fn code_asked(&self, address: IpAddr) -> bool {
        let mut limits = self.usage();
        let Some(u) = limits.get_mut(&address) else {
            return false;
        };
        if u.codes >= CODES_PER_ADDRESS_PER_HOUR {
            return false;
        }
        u.codes += 1;
        true
    }

    fn stream_opened(&self, address: IpAddr) -> bool {
        let mut limits = self.usage();
        let Some(u) = limits.get_mut(&address) else {
            return false;
        };
        if u.streams >= STREAMS_PER_ADDRESS {
            return false;
        }
        u.streams += 1;
        true
    }

    fn stream_closed(&self, address: IpAddr) {
        if let Some(u) = self.usage().get_mut(&address) {
            u.streams = u.streams.saturating_sub(1);
        }
    }

    /// Asks hallqd; the page's JSON, and whether the link was refused.
    async fn ask(&self, request: Request, address: IpAddr) -> Value {
        let answer = match self.client.request(&request).await {
            Ok(Answer::Follow(ticket)) => {
                let mut shown = serde_json::to_value(&ticket).unwrap_or_default();
                // "A012", as printed, not the number's parts.
                shown["ticket"] = json!(ticket.ticket.to_string());
                json!({ "ok": true, "ticket": shown })
            }
            Ok(Answer::KioskView(v)) => {
                let items: Vec<Value> = v
                    .items
                    .iter()
                    .map(|i| {
                        json!({
                            "code": i.code.to_string(),
                            "name": i.name,
                            "waiting": i.waiting.iter().sum::<u32>(),
                            "eta_secs": i.eta_secs,
                            "full": i.daily_cap.is_some_and(|c| i.issued_today >= c),
                        })
                    })
                    .collect();
                json!({
                    "ok": true,
                    "hall_name": v.hall_name,
                    "open_now": v.open_now,
                    "issuing": v.issuing,
                    "items": items,
                })
            }
            Ok(Answer::CodeSent {
                phone,
                expires_in_secs,
            }) => json!({ "ok": true, "phone": phone, "expires_in_secs": expires_in_secs }),
            Ok(Answer::FollowLink { ticket, token, .. }) => {
                json!({ "ok": true, "ticket": ticket.to_string(), "token": token })
            }
            Ok(Answer::Rated { ticket, rating, .. }) => {
                json!({ "ok": true, "rated": ticket.to_string(), "rating": rating.value() })
            }
            Ok(Answer::Error(e)) => refusal(&e.code),
            Ok(_) => refusal(&ErrorCode::Internal),
            Err(ClientError::Refused(e)) => refusal(&e.code),
            Err(e) => {
                tracing::warn!("visitor page: {e}");
                json!({ "ok": false, "code": ErrorCode::Io.as_str(), "offline": true })
            }
        };
        let code = answer["code"].as_str().unwrap_or("");
        // A wrong 线上取号 code is guessing too: it counts like a bad link.
        if code == ErrorCode::LinkInvalid.as_str()
            || code == ErrorCode::LinkExpired.as_str()
            || code == ErrorCode::CodeWrong.as_str()
        {
            self.bad_link(address);
        }
        answer
    }
}

/// A refusal for the page: the code only; the page words it.
fn refusal(code: &ErrorCode) -> Value {
    json!({ "ok": false, "code": code.as_str() })
}

/// The routes.
pub fn router(page: VisitorPage) -> Router {
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/t/{token}", get(|| async { Html(INDEX_HTML) }))
        .route(
            "/visitor.css",
            get(|| async { asset("text/css; charset=utf-8", VISITOR_CSS) }),
        )
        .route(
            "/visitor.js",
            get(|| async { asset("text/javascript; charset=utf-8", VISITOR_JS) }),
        )
        .route("/t/{token}/events", get(events))
        .route("/t/{token}/step-back", post(step_back))
        .route("/t/{token}/leave", post(leave))
        .route("/t/{token}/rate", post(rate))
        .route("/rate", get(|| async { Html(INDEX_HTML) }))
        .route("/rate/events", get(tablet_events))
        .route("/hall", get(|| async { Html(HALL_HTML) }))
        .route(
            "/hall.js",
            get(|| async { asset("text/javascript; charset=utf-8", HALL_JS) }),
        )
        .route("/hall/items", get(hall_items))
        .route("/hall/code", post(hall_code))
        .route("/hall/ticket", post(hall_ticket))
        .with_state(page)
}

/// Serves the page on `listener` until the process ends.
pub async fn serve(listener: TcpListener, page: VisitorPage) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(page).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

fn json_response(v: &Value) -> Response {
    let status = if v["code"] == ErrorCode::RateLimited.as_str()
        || v["code"] == ErrorCode::CodeRateLimited.as_str()
    {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::OK
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        v.to_string(),
    )
        .into_response()
}

fn limited() -> Response {
    json_response(&refusal(&ErrorCode::RateLimited))
}

/// Releases an address's stream count when the stream is dropped.
struct StreamSeat {
    page: VisitorPage,
    address: IpAddr,
}

impl Drop for StreamSeat {
    fn drop(&mut self) {
        self.page.stream_closed(self.address);
    }
}

async fn events(
    State(page): State<VisitorPage>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let address = page.address(peer, &headers);
    if !page.admit(address) || !page.stream_opened(address) {
        return limited();
    }
    let seat = StreamSeat {
        page: page.clone(),
        address,
    };
    let mut changes = page.changes.clone();
    changes.mark_changed();
    struct Follow {
        seat: StreamSeat,
        changes: watch::Receiver<u64>,
        token: String,
        last: Option<String>,
        done: bool,
    }
    let state = Follow {
        seat,
        changes,
        token,
        last: None,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            tokio::select! {
                changed = s.changes.changed() => { changed.ok()?; }
                () = tokio::time::sleep(PING_INTERVAL) => {
                    return Some((Ok::<_, Infallible>(Event::default().event("ping").data("")), s));
                }
            }
            let page = &s.seat.page;
            let answer = page
                .ask(
                    Request::Follow {
                        token: s.token.clone(),
                    },
                    s.seat.address,
                )
                .await;
            // hallqd's per-connection request limit (many pages asking
            // after one change) or a lost link: ask again shortly rather
            // than wait for the next change, so no page is left behind.
            let code = answer["code"].as_str().unwrap_or("");
            if code == ErrorCode::RateLimited.as_str() || answer["offline"] == true {
                tokio::time::sleep(RETRY_AFTER_REFUSAL).await;
                s.changes.mark_changed();
                // The page is told it is offline (once: the same answer is
                // not sent twice); a refusal for rate only delays it.
                if answer["offline"] != true {
                    continue;
                }
            }
            // A link that names no ticket will not start to: say so once
            // and end the stream (the page does not reconnect then).
            if code == ErrorCode::LinkInvalid.as_str()
                || code == ErrorCode::LinkExpired.as_str()
                || code == ErrorCode::UnknownTicket.as_str()
            {
                s.done = true;
            }
            let data = answer.to_string();
            if s.last.as_deref() == Some(&data) {
                continue;
            }
            s.last = Some(data.clone());
            let event = Event::default()
                .event("ticket")
                .retry(Duration::from_secs(2))
                .data(data);
            return Some((Ok(event), s));
        }
    });
    Sse::new(stream).into_response()
}

/// The rating tablet's stream: whenever the hall changes, the service
/// window N finished last, with its rating token while it may be rated.
/// Only for the addresses named by `--tablet`: the token rates a
/// stranger's service, so the internet must not get it.
async fn tablet_events(
    State(page): State<VisitorPage>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let address = page.address(peer, &headers);
    if !page.admit(address) {
        return limited();
    }
    if !page.options.tablets.contains(&address) {
        let mut answer = json_response(&refusal(&ErrorCode::Forbidden));
        *answer.status_mut() = StatusCode::FORBIDDEN;
        return answer;
    }
    let window = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("window="))
        .and_then(|n| n.parse::<u16>().ok());
    let Some(window) = window else {
        return json_response(&refusal(&ErrorCode::BadRequest));
    };
    let mut changes = page.changes.clone();
    changes.mark_changed();
    let state = (page, changes, None::<String>);
    let stream = futures_util::stream::unfold(state, move |(page, mut changes, last)| async move {
        let mut last = last;
        loop {
            tokio::select! {
                changed = changes.changed() => { changed.ok()?; }
                () = tokio::time::sleep(PING_INTERVAL) => {
                    let ping = Event::default().event("ping").data("");
                    return Some((Ok::<_, Infallible>(ping), (page, changes, last)));
                }
            }
            let request = Request::WindowRating {
                window: hallq_proto::types::WindowNo(window),
            };
            let answer = match page.client.request(&request).await {
                Ok(Answer::WindowRating { ticket, token, .. }) => {
                    let shown = ticket.map(|t| {
                        let mut v = serde_json::to_value(&t).unwrap_or_default();
                        v["ticket"] = json!(t.ticket.to_string());
                        v
                    });
                    json!({ "ok": true, "window": window, "ticket": shown, "token": token })
                }
                Ok(Answer::Error(e)) | Err(ClientError::Refused(e)) => refusal(&e.code),
                Ok(_) => refusal(&ErrorCode::Internal),
                Err(_) => json!({ "ok": false, "code": ErrorCode::Io.as_str(), "offline": true }),
            };
            let data = answer.to_string();
            if last.as_deref() == Some(&data) {
                continue;
            }
            last = Some(data.clone());
            let event = Event::default()
                .event("tablet")
                .retry(Duration::from_secs(2))
                .data(data);
            return Some((Ok(event), (page, changes, last)));
        }
    });
    Sse::new(stream).into_response()
}

async fn act(
    page: VisitorPage,
    peer: SocketAddr,
    headers: &HeaderMap,
    request: impl FnOnce() -> Option<Request>,
) -> Response {
    let address = page.address(peer, headers);
    if !page.admit(address) {
        return limited();
    }
    let Some(request) = request() else {
        return json_response(&refusal(&ErrorCode::BadRequest));
    };
    json_response(&page.ask(request, address).await)
}

async fn step_back(
    State(page): State<VisitorPage>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    act(page, peer, &headers, || Some(Request::StepBack { token })).await
}

async fn leave(
    State(page): State<VisitorPage>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    act(page, peer, &headers, || Some(Request::Leave { token })).await
}

async fn rate(
    State(page): State<VisitorPage>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Response {
    act(page, peer, &headers, || {
        let body: Value = serde_json::from_str(&body).ok()?;
        let rating = u8::try_from(body["rating"].as_u64()?).ok()?;
        let rating = Rating::new(rating).ok()?;
        Some(Request::RateService { token, rating })
    })
    .await
}

/// 线上取号's hall page data: the items and their waiting counts.
async fn hall_items(
    State(page): State<VisitorPage>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    act(page, peer, &headers, || Some(Request::RemoteHall)).await
}

/// `{"item":"A","phone":"…"}` from a body, if it is one.
fn item_and_phone(body: &Value) -> Option<(hallq_proto::types::ItemCode, String)> {
    let item = body["item"].as_str()?.parse().ok()?;
    let phone = body["phone"].as_str()?;
    (phone.len() <= 32).then(|| (item, phone.to_owned()))
}

async fn hall_code(
    State(page): State<VisitorPage>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let address = page.address(peer, &headers);
    if !page.admit(address) {
        return limited();
    }
    let Some((item, phone)) = serde_json::from_str(&body)
        .ok()
        .and_then(|b| item_and_phone(&b))
    else {
        return json_response(&refusal(&ErrorCode::BadRequest));
    };
    if !page.code_asked(address) {
        return json_response(&refusal(&ErrorCode::CodeRateLimited));
    }
    json_response(&page.ask(Request::RemoteCode { item, phone }, address).await)
}

async fn hall_ticket(
    State(page): State<VisitorPage>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Response {
    act(page, peer, &headers, || {
        let body: Value = serde_json::from_str(&body).ok()?;
        let (item, phone) = item_and_phone(&body)?;
        let code = body["code"].as_str()?;
        (code.len() <= 16).then(|| Request::RemoteTicket {
            item,
            phone,
            code: code.to_owned(),
        })
    })
    .await
}
