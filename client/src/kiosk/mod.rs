//! The kiosk (自助取号机, DB33/T 2036.4 §7.4, §7.3.2): `hallq kiosk --serve
//! ADDR` runs on the kiosk's own computer with a kiosk token and serves a
//! touch page to the kiosk's browser; tickets print on the kiosk's printer.
//!
//! - [`web`]: the HTTP server: the embedded page, its event stream, and the
//!   issue and check-in actions (one ticket per tap, however often tapped).
//! - [`escpos`]: the slip as ESC/POS bytes (GB18030, the printer's QR).
//! - [`printer`]: raw TCP 9100, a device file, or the browser.
//!
//! The page never talks to hallqd itself: this process keeps the one
//! connection, polls the hall's [`KioskView`] and pushes it to the page.

pub mod escpos;
pub mod printer;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use hallq_proto::views::KioskView;
use hallq_proto::wire::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::client::ClientError;
use crate::follow::{FollowingClient, Hallqd};
use crate::screen::now;
use hallq_proto::types::Timestamp;

/// How often the kiosk asks hallqd for the hall's items and waits. Also
/// how soon it notices hallqd is gone (and then offers nothing).
pub const POLL: Duration = Duration::from_secs(2);

/// The kiosk's options (`hallq kiosk …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where slips go.
    pub printer: printer::Printer,
    /// Seconds without a touch after which the page goes back to the start.
    pub idle_secs: u32,
}

/// What the page shows: the hall, or that hallqd cannot be reached.
#[derive(Debug, Clone, Default)]
pub struct Hall {
    /// The hall's items and state, while hallqd answers.
    pub view: Option<KioskView>,
    /// hallqd answered the last poll.
    pub connected: bool,
    /// When the link was lost (for the page), if it is.
    pub lost_at: Option<Timestamp>,
}

/// Why the kiosk stopped.
#[derive(Debug, thiserror::Error)]
pub enum KioskError {
    /// hallqd refused the kiosk's token (wrong token, or not a kiosk's).
    #[error(transparent)]
    Refused(#[from] ClientError),
    /// The web server failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Follows hallqd and serves the kiosk page on `listener` until the
/// process ends, or until hallqd refuses the token at once.
pub async fn serve(
    hallqd: &Hallqd,
    listener: TcpListener,
    options: Options,
) -> Result<(), KioskError> {
    let client = Arc::new(FollowingClient::new(hallqd.clone()));
    match client.welcome().await {
        Err(e) if crate::follow::Outcome::of(&e) == crate::follow::Outcome::Final => {
            return Err(e.into())
        }
        _ => {}
    }
    let (hall, page) = watch::channel(Hall::default());
    let kiosk = web::Kiosk::new(client.clone(), page, options);
    tokio::select! {
        () = poll(&client, hall) => Ok(()),
        served = web::serve(listener, kiosk) => Ok(served?),
    }
}

/// Asks hallqd for the kiosk view every [`POLL`], forever.
async fn poll(client: &FollowingClient, hall: watch::Sender<Hall>) {
    loop {
        let answer = tokio::time::timeout(POLL * 2, client.request(&Request::KioskView)).await;
        match answer {
            Ok(Ok(Response::KioskView(view))) => {
                hall.send_if_modified(|h| {
                    let new = Hall {
                        view: Some(*view),
                        connected: true,
                        lost_at: None,
                    };
                    let changed = h.view != new.view || !h.connected;
                    *h = new;
                    changed
                });
            }
            other => {
                if let Ok(Err(e)) = &other {
                    tracing::warn!("kiosk view: {e}");
                }
                hall.send_if_modified(|h| {
                    let changed = h.connected || h.lost_at.is_none();
                    if changed {
                        h.connected = false;
                        h.lost_at = Some(now());
                    }
                    changed
                });
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
