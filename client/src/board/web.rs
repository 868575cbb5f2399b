//! The board's web server, for the browser on the hall's TV and on the
//! small screens over the windows: one page with its script and style
//! embedded in the binary (no CDN: a hall's display network often has no
//! internet), and a server-sent event stream that pushes the whole board
//! every time it changes.
//!
//! | path | what |
//! |---|---|
//! | `/` | the page; `?window=3` the window-top screen, `?speak=1` announces calls |
//! | `/events` | `text/event-stream`: `state` events (the board as JSON), `ping` every few seconds |
//! | `/state` | the board as JSON once, for scripts and monitoring |
//! | `/voice.json` | how the page sounds: `{"engine", "repeat"}` (see [`super::voice`]) |
//! | `/announce.wav?call=ID` | chime and announcement of the board's call `ID`, spoken by espeak-ng (`--voice espeak`) |
//! | `/chime.wav` | the chime alone (`--voice browser`: the browser speaks after it) |
//!
//! Only calls the board holds are announced (by their id): the endpoint
//! never speaks text a browser sends it.
//!
//! Pushing the whole board (a few kilobytes) rather than deltas keeps the
//! page trivially correct: whatever it missed, the next event is complete.

use std::convert::Infallible;
use std::time::Duration;

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::Stream;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::model::Board;
use super::voice::{Voice, VoiceEngine, VoiceSettings};
use crate::web::asset;

/// What the routes read: the board and its voice.
#[derive(Debug, Clone)]
struct Page {
    board: watch::Receiver<Board>,
    voice: Voice,
}

/// How often an idle event stream says it is alive. The page treats a
/// stream silent for three of these as dead (a board process that hangs
/// or a cable pulled does not always close the TCP connection).
pub const PING_INTERVAL: Duration = Duration::from_secs(5);

const INDEX_HTML: &str = include_str!("assets/index.html");
const BOARD_CSS: &str = include_str!("assets/board.css");
const BOARD_JS: &str = include_str!("assets/board.js");

/// The routes, reading the board from `board`, sounding as `voice` says.
pub fn router(board: watch::Receiver<Board>, voice: VoiceSettings) -> Router {
    let page = Arc::new(Page {
        board,
        voice: Voice::new(voice),
    });
    Router::new()
        .route("/", get(index))
        .route("/board.css", get(css))
        .route("/board.js", get(js))
        .route("/state", get(state))
        .route("/events", get(events))
        .route("/voice.json", get(voice_json))
        .route("/announce.wav", get(announce))
        .route("/chime.wav", get(chime))
        .with_state(page)
}

/// Serves the board on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    board: watch::Receiver<Board>,
    voice: VoiceSettings,
) -> std::io::Result<()> {
    // No graceful shutdown: event streams never end by themselves, and a
    // board has nothing to save; the process simply exits.
    axum::serve(listener, router(board, voice)).await
}

async fn voice_json(State(page): State<Arc<Page>>) -> Response {
    let settings = page.voice.settings();
    let json = serde_json::json!({
        "engine": settings.engine,
        "repeat": settings.repeat,
        "chime": settings.chime_volume > 0,
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        json.to_string(),
    )
        .into_response()
}

fn audio(wav: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "audio/wav"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        wav,
    )
        .into_response()
}

async fn chime(State(page): State<Arc<Page>>) -> Response {
    if page.voice.settings().engine == VoiceEngine::Off {
        return (StatusCode::NOT_FOUND, "the board's voice is off").into_response();
    }
    audio(page.voice.chime())
}

/// `?call=ID`: the call's chime and words, made by espeak-ng. A failure
/// is answered 503 with the reason (the page then plays the chime alone)
/// and logged on the board's stderr.
async fn announce(State(page): State<Arc<Page>>, RawQuery(query): RawQuery) -> Response {
    if page.voice.settings().engine != VoiceEngine::Espeak {
        return (StatusCode::NOT_FOUND, "the board does not speak (--voice)").into_response();
    }
    let id: Option<u64> = query.as_deref().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("call="))
            .and_then(|c| c.parse().ok())
    });
    let call = id.and_then(|id| {
        page.board
            .borrow()
            .calls()
            .find(|c| c.id == id)
            .map(|c| (c.call.ticket, c.call.window))
    });
    let Some((ticket, window)) = call else {
        return (StatusCode::NOT_FOUND, "no such call on the board").into_response();
    };
    match page.voice.announcement(ticket, window).await {
        Ok(wav) => audio(wav.as_ref().clone()),
        Err(e) => {
            eprintln!("hallq board: cannot announce {ticket} at window {window}: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
        }
    }
}

async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", BOARD_CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", BOARD_JS)
}

async fn state(State(page): State<Arc<Page>>) -> Response {
    let json = page.board.borrow().to_json().to_string();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        json,
    )
        .into_response()
}

/// The event stream: the board at once, then again after every change, and
/// a `ping` when nothing changed for [`PING_INTERVAL`].
async fn events(
    State(page): State<Arc<Page>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    crate::web::state_events(page.board.clone(), "state", PING_INTERVAL, |board| {
        board.to_json().to_string()
    })
}
