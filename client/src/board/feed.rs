//! The board's subscription to `hallqd`: connect, watch, apply every frame
//! to the shared [`Board`], and when the daemon drops the board or goes
//! away, say so on the board and reconnect with backoff for a fresh
//! snapshot. In a cluster the board follows its hall to whichever daemon
//! serves it ([`FollowingClient`]). A board runs unattended for days: it
//! never gives up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::model::Board;
use super::{now, Hallqd};
use crate::client::{ClientError, DisplayStream};
use crate::follow::{FollowingClient, Outcome};
use hallq_proto::wire::DisplayUpdate;

/// Set by the terminal board (`hallq board` without `--serve`): its stderr
/// is the screen it draws on, so a line there would land over its header
/// (issue 17); the board itself shows the lost link.
static STDERR_IS_THE_SCREEN: AtomicBool = AtomicBool::new(false);

/// Keeps the feed off stderr: the board is drawn there.
pub(super) fn keep_off_stderr() {
    STDERR_IS_THE_SCREEN.store(true, Ordering::Relaxed);
}

/// The first wait before reconnecting; doubled after every failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The longest wait between two attempts: a restarted daemon is back on the
/// board within this long.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Keeps `board` up to date for as long as the task runs. Returns only if
/// the very first attempt is refused (a wrong token or role: retrying would
/// not help, and the operator setting up the board should see why at once);
/// an unreachable daemon is retried, since a board may boot before hallqd,
/// and so is a cluster where nobody serves the hall yet.
pub async fn run(hallqd: &Hallqd, board: watch::Sender<Board>) -> ClientError {
    let link = FollowingClient::new(hallqd.clone());
    let mut backoff = FIRST_BACKOFF;
    let mut ever_connected = false;
    loop {
        // Subscribing again on a connection that is still open is fine: a
        // daemon that no longer serves the hall refuses, and the client
        // follows it to the one that does.
        match link.watch().await {
            Ok(mut stream) => {
                ever_connected = true;
                if let Some((client, _)) = link.connected().await {
                    let hall_name = client.welcome().hall_name.clone();
                    board.send_modify(|b| b.connected(&hall_name));
                }
                let reason = follow(&mut stream, &board, &mut backoff).await;
                // The board's log is its stderr, for whoever looks at the
                // display machine; not when stderr is the board's screen.
                if !STDERR_IS_THE_SCREEN.load(Ordering::Relaxed) {
                    eprintln!("hallq board: link to hallqd lost ({reason}); reconnecting");
                }
                board.send_modify(|b| b.lost(reason, now()));
            }
            Err(e @ ClientError::Refused(_))
                if !ever_connected && Outcome::of(&e) == Outcome::Final =>
            {
                link.close().await;
                return e;
            }
            Err(e) => {
                board.send_modify(|b| b.lost(e.to_string(), now()));
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Applies frames until the stream ends; returns why it ended. A snapshot
/// resets the backoff: the link worked.
async fn follow(
    stream: &mut DisplayStream,
    board: &watch::Sender<Board>,
    backoff: &mut Duration,
) -> String {
    loop {
        match stream.next().await {
            Ok(Some(DisplayUpdate::Dropped { reason })) => {
                return format!("hallqd dropped this board: {reason}")
            }
            Ok(Some(update)) => {
                if matches!(update, DisplayUpdate::Snapshot { .. }) {
                    *backoff = FIRST_BACKOFF;
                }
                board.send_if_modified(|b| b.apply(update, now()));
            }
            Ok(None) => return "hallqd ended the display stream".into(),
            Err(e) => return e.to_string(),
        }
    }
}
