//! The hall manager's console (issue 21): `hallq console --serve ADDR`
//! with an admin token. A web page embedded in the binary (no CDN) shows
//! the hall live: every window, every item's line, failures and work
//! orders, and the day in charts for today or any past day.
//!
//! - [`model`]: the console's view from hallqd's answers (pure).
//! - [`feed`]: the display subscription that says when to look again, and
//!   the reads that make the view.
//! - [`web`]: the HTTP server with the page, its event stream and the
//!   charts.

pub mod feed;
pub mod model;
pub mod web;

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::client::ClientError;
use crate::follow::{FollowingClient, Hallqd};

/// Why the console stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// hallqd refused the console's token (wrong token, or not an admin's).
    #[error(transparent)]
    Refused(#[from] ClientError),
    /// The web server failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What the page is pushed: the link to hallqd and the latest view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Console {
    /// Connected and the view is fresh.
    pub live: bool,
    /// Why the link is down, in the console's language (from the error's
    /// kind, as the board says it).
    pub lost: Option<String>,
    /// The latest view ([`model::view`]); kept while the link is down, so
    /// the manager still sees the last state, marked as stale.
    pub view: Option<Value>,
    /// Refreshes so far: the page tells a new push from a repeated one.
    pub refreshes: u64,
}

impl Console {
    /// The JSON the page reads.
    pub fn to_json(&self) -> Value {
        json!({
            "link": if self.live { "live" } else if self.lost.is_some() { "lost" } else { "connecting" },
            "lost": self.lost,
            "refreshes": self.refreshes,
            "view": self.view,
        })
    }
}

/// Follows hallqd and serves the console on `listener` until the process
/// ends, or until hallqd refuses the console's token at once.
pub async fn serve(hallqd: &Hallqd, listener: TcpListener) -> Result<(), ConsoleError> {
    let link = Arc::new(FollowingClient::new(hallqd.clone()));
    // The charts' reads go on a connection of their own: a long day's
    // records must not hold up the live view's refresh.
    let charts = Arc::new(FollowingClient::new(hallqd.clone()));
    let (console, page) = watch::channel(Console::default());
    let (refresh, refresh_asked) = watch::channel(());
    tokio::select! {
        refused = feed::run(link, console, refresh_asked) => Err(refused.into()),
        served = web::serve(listener, page, charts, refresh) => Ok(served?),
    }
}
