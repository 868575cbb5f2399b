//! The board's subscription to `hallqd`: connect, watch, apply every frame
//! to the shared [`Board`], and when the daemon drops the board or goes
//! away, say so on the board and reconnect with backoff for a fresh
//! snapshot. In a cluster the board follows its hall to whichever daemon
//! serves it ([`FollowingClient`]). A board runs unattended for days: it
//! never gives up.
//!
//! Besides the stream, the board reads the 请…准备 and 过号 lists
//! ([`Request::BoardLines`]) after its snapshot and after every change, on
//! the same connection; changes that arrive while a read is under way are
//! folded into one more read, so a busy hall costs at most one read in
//! flight. A hallqd that predates the request is asked once only.
//!
//! [`Request::BoardLines`]: hallq_proto::wire::Request::BoardLines

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::model::Board;
use super::{now, Hallqd};
use crate::client::{Client, ClientError, DisplayStream};
use crate::follow::{FollowingClient, Outcome};
use crate::text;
use hallq_proto::wire::DisplayUpdate;
use hallq_proto::ErrorCode;

/// Set by the terminal board (`hallq board` without `--serve`): its stderr
/// is the screen it draws on, so a line there would land over its header
/// (issue 17); the board itself shows the lost link.
static STDERR_IS_THE_SCREEN: AtomicBool = AtomicBool::new(false);

/// Keeps the feed off stderr: the board is drawn there.
pub(super) fn keep_off_stderr() {
    STDERR_IS_THE_SCREEN.store(true, Ordering::Relaxed);
}

/// A line of the board's log: its stderr, for whoever looks at the display
/// machine; nothing when stderr is the board's screen.
fn log(line: std::fmt::Arguments) {
    if !STDERR_IS_THE_SCREEN.load(Ordering::Relaxed) {
        eprintln!("hallq board: {line}");
    }
}

/// The first wait before reconnecting; doubled after every failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The longest wait between two attempts: a restarted daemon is back on the
/// board within this long.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How soon a failed read of the lists is tried again.
const LINES_RETRY: Duration = Duration::from_secs(2);

/// Keeps `board` up to date for as long as the task runs. Returns only if
/// the very first attempt is refused (a wrong token or role: retrying would
/// not help, and the operator setting up the board should see why at once);
/// an unreachable daemon is retried, since a board may boot before hallqd,
/// and so is a cluster where nobody serves the hall yet.
pub async fn run(hallqd: &Hallqd, board: watch::Sender<Board>) -> ClientError {
    let link = FollowingClient::new(hallqd.clone());
    let mut backoff = FIRST_BACKOFF;
    let mut ever_connected = false;
    let no_lines = AtomicBool::new(false);
    loop {
        // Subscribing again on a connection that is still open is fine: a
        // daemon that no longer serves the hall refuses, and the client
        // follows it to the one that does.
        match link.watch().await {
            Ok(mut stream) => {
                ever_connected = true;
                let client = link.connected().await.map(|(client, _)| client);
                if let Some(client) = &client {
                    let hall_name = client.welcome().hall_name.clone();
                    board.send_modify(|b| b.connected(&hall_name));
                }
                let (wanted, asked) = watch::channel(());
                let reason = tokio::select! {
                    reason = follow(&mut stream, &board, &mut backoff, &wanted) => reason,
                    never = read_lines(client.as_ref(), &board, asked, &no_lines) => match never {},
                };
                log(format_args!(
                    "link to hallqd lost ({}); reconnecting",
                    reason.log
                ));
                board.send_modify(|b| b.lost(reason.shown, now()));
            }
            Err(e @ ClientError::Refused(_))
                if !ever_connected && Outcome::of(&e) == Outcome::Final =>
            {
                link.close().await;
                return e;
            }
            Err(e) => {
                // The screen tells it from the error's kind, in the board's
                // language; the transport's own words are for the log.
                board.send_modify(|b| b.lost(text::client_error(&e, text::lang()), now()));
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Why the display stream ended: in the board's language for its screen
/// (made from the error's code by [`text`]), in full for the log.
struct Ended {
    shown: String,
    log: String,
}

impl Ended {
    fn failed(e: &ClientError) -> Ended {
        Ended {
            shown: text::client_error(e, text::lang()),
            log: e.to_string(),
        }
    }
}

/// Applies frames until the stream ends; returns why it ended. A snapshot
/// resets the backoff: the link worked.
async fn follow(
    stream: &mut DisplayStream,
    board: &watch::Sender<Board>,
    backoff: &mut Duration,
    lines_wanted: &watch::Sender<()>,
) -> Ended {
    loop {
        match stream.next().await {
            Ok(Some(DisplayUpdate::Dropped { reason })) => {
                return Ended {
                    shown: text::display_dropped(&reason, text::lang()),
                    log: format!("hallqd dropped this board: {reason}"),
                }
            }
            Ok(Some(update)) => {
                if matches!(update, DisplayUpdate::Snapshot { .. }) {
                    *backoff = FIRST_BACKOFF;
                }
                board.send_if_modified(|b| b.apply(update, now()));
                // Every change may move a line's head or add a no-show.
                lines_wanted.send_replace(());
            }
            Ok(None) => {
                return Ended {
                    shown: text::stream_ended(text::lang()).to_owned(),
                    log: "hallqd ended the display stream".into(),
                }
            }
            Err(e) => return Ended::failed(&e),
        }
    }
}

/// Reads the 请…准备 and 过号 lists each time `asked` says a change came
/// (the first time at once, for the snapshot). Never returns: when reads
/// stop making sense (no connection, or a hallqd that does not know the
/// request) it waits for the stream's end, which ends the select.
async fn read_lines(
    client: Option<&Client>,
    board: &watch::Sender<Board>,
    mut asked: watch::Receiver<()>,
    unsupported: &AtomicBool,
) -> std::convert::Infallible {
    asked.mark_changed();
    if let Some(client) = client {
        while !unsupported.load(Ordering::Relaxed) && asked.changed().await.is_ok() {
            match client.board_lines().await {
                Ok(lines) => {
                    board.send_if_modified(|b| b.set_lines(lines));
                }
                Err(ClientError::Refused(reply))
                    if matches!(
                        reply.code,
                        ErrorCode::MalformedFrame | ErrorCode::BadRequest
                    ) =>
                {
                    // An older hallqd cannot decode the request (and closes
                    // the connection): the board does without the lists.
                    log(format_args!(
                        "hallqd does not give the 请…准备/过号 lists ({}); \
                         the board shows windows and calls only",
                        reply.message
                    ));
                    unsupported.store(true, Ordering::Relaxed);
                }
                // A lost connection ends the stream too (and this with it);
                // anything else (a timeout) is tried again shortly.
                Err(e) => {
                    log(format_args!(
                        "cannot read the 请…准备/过号 lists ({e}); retrying"
                    ));
                    tokio::time::sleep(LINES_RETRY).await;
                    asked.mark_changed();
                }
            }
        }
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_board_tells_a_lost_link_from_its_kind_not_the_transports_words() {
        // The process's language is Chinese unless set (as on the board).
        let e = ClientError::Connection("closed by peer: 0x0 ApplicationClose".into());
        let ended = Ended::failed(&e);
        assert_eq!(ended.shown, "与 hallqd 的连接已断开");
        assert!(ended.log.contains("ApplicationClose"), "{}", ended.log);
        assert_eq!(
            text::client_error(&ClientError::Timeout, text::Lang::En),
            "hallqd did not answer in time"
        );
        assert_eq!(
            text::client_error(&e, text::Lang::En),
            "the connection to hallqd was lost"
        );
    }
}
