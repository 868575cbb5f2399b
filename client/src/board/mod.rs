//! Display boards (DB33/T 2036.4 §6.5, §8.2.2.2): what visitors in the
//! hall look at. `hallq board --serve ADDR` subscribes to `hallqd` as a
//! display and serves a page for the hall's TV and for the small screen
//! over each window; `hallq board --tui` shows the same board in a
//! terminal.
//!
//! - [`model`]: the board's state, built from the display stream (pure).
//! - [`feed`]: the subscription, following the hall and reconnecting with
//!   backoff.
//! - [`web`]: the HTTP server with the embedded page and its event stream.
//! - [`voice`]: the chime and the spoken announcement, made offline.
//! - [`tui`]: the board drawn with ratatui.

pub mod feed;
pub mod model;
pub mod tui;
pub mod voice;
pub mod web;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::client::ClientError;
use crate::screen::now;
use model::Board;

/// Where `hallqd` is and as whom to connect: what a board or a window
/// terminal needs to (re)connect on its own, to a single daemon or to the
/// hall's owner in a cluster.
pub use crate::follow::Hallqd;

/// Why a board stopped.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// hallqd refused the board's token (wrong token, or not a display's).
    #[error(transparent)]
    Refused(#[from] ClientError),
    /// The web server or the terminal failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Follows `hallqd` and serves the board's web page on `listener` until
/// the process ends, or until hallqd refuses the board's token at once.
pub async fn serve(
    hallqd: &Hallqd,
    listener: TcpListener,
    voice: voice::VoiceSettings,
) -> Result<(), BoardError> {
    let (board, page) = watch::channel(Board::new(now()));
    tokio::select! {
        refused = feed::run(hallqd, board) => Err(refused.into()),
        served = web::serve(listener, page, voice) => Ok(served?),
    }
}
