//! The visitor's phone page (issue 18): `hallq visitor --serve ADDR` runs
//! with a visitor token and serves, on a listener of its own, the page a
//! ticket's QR code and issue SMS link to (`/t/<token>`): the number, the
//! people ahead, the wait, the windows, pushed live; "请到3号窗口" full
//! screen with vibration and a sound when called; the §7.3.5 reminder;
//! "I need more time", "I'm leaving", and the five grades after the
//! service; and, when the hall has `remote_tickets = true`, 线上取号 at
//! `/hall` (the items, a mobile number, the SMS code, then the new
//! ticket's page).
//!
//! - [`web`]: the HTTP server, the embedded page, its event stream, the
//!   visitor's three actions, and the per-address limits.
//!
//! The page is meant to face the internet (behind the hall's reverse
//! proxy): this process holds the one connection to hallqd, with a token
//! whose role reaches only the visitor's requests, and hallqd checks every
//! link's token against the hall's key. What pushes the page is the hall's
//! display stream: every change there makes each open page ask for its
//! own ticket again.

pub mod web;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::client::ClientError;
use crate::follow::{FollowingClient, Hallqd, Outcome};

/// The visitor page's options (`hallq visitor …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Reverse proxies whose `X-Forwarded-For` is believed: a request from
    /// one of them counts against the address it forwarded for; from any
    /// other peer the header is ignored (it could be forged).
    pub trusted_proxies: Vec<IpAddr>,
    /// Requests one address may make per minute.
    pub per_address_per_minute: u32,
    /// Links one address may get refused (forged, mistyped, stale) per
    /// hour before it is turned away altogether.
    pub bad_links_per_address_per_hour: u32,
    /// The rating tablets at the windows (`/rate?window=N`): only these
    /// addresses get the tablet page's stream, which hands out the token
    /// of the service a window finished last.
    pub tablets: Vec<IpAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            trusted_proxies: Vec::new(),
            per_address_per_minute: 120,
            bad_links_per_address_per_hour: 20,
            tablets: Vec::new(),
        }
    }
}

/// Why the visitor page stopped.
#[derive(Debug, thiserror::Error)]
pub enum VisitorError {
    /// hallqd refused the token at once.
    #[error(transparent)]
    Refused(#[from] ClientError),
    /// The web server failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How long to wait before subscribing again after the stream ended.
const RESUBSCRIBE: Duration = Duration::from_secs(1);

/// Follows hallqd and serves the page on `listener` until the process
/// ends, or until hallqd refuses the token at once.
pub async fn serve(
    hallqd: &Hallqd,
    listener: TcpListener,
    options: Options,
) -> Result<(), VisitorError> {
    let client = Arc::new(FollowingClient::new(hallqd.clone()));
    match client.welcome().await {
        Err(e) if Outcome::of(&e) == Outcome::Final => return Err(e.into()),
        _ => {}
    }
    let (changes, seen) = watch::channel(0u64);
    let page = web::VisitorPage::new(client.clone(), seen, options);
    tokio::select! {
        () = follow_changes(&client, changes) => Ok(()),
        served = web::serve(listener, page) => Ok(served?),
    }
}

/// Bumps `changes` on every frame of the hall's display stream (and on
/// every new subscription, which may follow a gap), forever.
async fn follow_changes(client: &FollowingClient, changes: watch::Sender<u64>) {
    loop {
        match client.watch().await {
            Ok(mut stream) => loop {
                changes.send_modify(|n| *n += 1);
                match stream.next().await {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("visitor page: display stream: {e}");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!("visitor page: cannot follow the hall: {e}"),
        }
        tokio::time::sleep(RESUBSCRIBE).await;
    }
}
