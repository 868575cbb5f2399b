//! What the web screens (board, console, kiosk, visitor page) share: their
//! embedded assets served uncached, and the server-sent-event stream that
//! pushes a screen's state as one named event at once and again after
//! every change, with a `ping` when nothing changed for a while, so the
//! page can tell a quiet hall from a lost link.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use tokio::sync::watch;

/// An embedded asset; never cached, so a screen upgraded in place serves
/// its new page at the next reload.
pub fn asset(content_type: &'static str, body: impl Into<Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body.into(),
    )
        .into_response()
}

/// How soon a browser reconnects after the stream broke.
const RETRY: Duration = Duration::from_secs(1);

/// The stream of `receiver`'s value as event `name` (its JSON made by
/// `json`): at once, after every change, and a `ping` after `ping` of
/// quiet. It ends when the sender is gone (the process is ending).
pub fn state_events<T, F>(
    receiver: watch::Receiver<T>,
    name: &'static str,
    ping: Duration,
    json: F,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    T: Send + Sync + 'static,
    F: Fn(&T) -> String + Send + Sync + 'static,
{
    let json = Arc::new(json);
    let stream = futures_util::stream::unfold(
        (receiver, true, json),
        move |(mut receiver, first, json)| async move {
            if !first {
                tokio::select! {
                    changed = receiver.changed() => { changed.ok()?; }
                    () = tokio::time::sleep(ping) => {
                        let event = Event::default().event("ping").data("");
                        return Some((Ok(event), (receiver, false, json)));
                    }
                }
            }
            let data = json(&receiver.borrow_and_update());
            let event = Event::default().event(name).retry(RETRY).data(data);
            Some((Ok(event), (receiver, false, json)))
        },
    );
    Sse::new(stream)
}
