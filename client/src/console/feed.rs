//! The console's link to hallqd: a display subscription (as an admin)
//! whose every frame — a call, a ticket issued, a window paused — asks
//! for a fresh view, and a timer that asks every [`TICK`] besides (the
//! day's figures move without a display change: a rating, a failed SMS).
//! Frames that arrive while a view is being read fold into one more read,
//! so a busy hall costs at most one read in flight and the page is at
//! most one read behind.
//!
//! When the daemon goes away the console says so (the last view stays,
//! marked stale) and reconnects with backoff for as long as it runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::model::{self, Answers};
use super::Console;
use crate::client::ClientError;
use crate::follow::{FollowingClient, Outcome};
use crate::screen::now;
use crate::text;
use hallq_proto::wire::{DisplayUpdate, Request, Response, StatsBy};
use hallq_proto::ErrorCode;

/// How often the view is read without a display change.
pub const TICK: Duration = Duration::from_secs(5);

/// The first wait before reconnecting; doubled after every failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Keeps `console` up to date for as long as the task runs, reading it
/// again on every display frame, every [`TICK`], and whenever `poked`
/// says a manager's action was done. Returns only if the very first
/// attempt is refused (a wrong token or role).
pub async fn run(
    link: Arc<FollowingClient>,
    console: watch::Sender<Console>,
    mut poked: watch::Receiver<()>,
) -> ClientError {
    let mut backoff = FIRST_BACKOFF;
    let mut ever_connected = false;
    let no_console = AtomicBool::new(false);
    loop {
        match link.watch().await {
            Ok(mut stream) => {
                ever_connected = true;
                let (wanted, asked) = watch::channel(());
                let why = tokio::select! {
                    why = async {
                        loop {
                            match stream.next().await {
                                Ok(Some(DisplayUpdate::Dropped { reason })) => {
                                    break text::display_dropped(&reason, text::lang())
                                }
                                Ok(Some(_)) => {
                                    backoff = FIRST_BACKOFF;
                                    wanted.send_replace(());
                                }
                                Ok(None) => break text::stream_ended(text::lang()).to_owned(),
                                Err(e) => break text::client_error(&e, text::lang()),
                            }
                        }
                    } => why,
                    never = async {
                        while poked.changed().await.is_ok() {
                            wanted.send_replace(());
                        }
                        std::future::pending::<std::convert::Infallible>().await
                    } => match never {},
                    never = refresh(&link, &console, asked, &no_console) => match never {},
                };
                eprintln!("hallq console: link to hallqd lost ({why}); reconnecting");
                console.send_modify(|c| {
                    c.live = false;
                    c.lost = Some(why);
                });
            }
            Err(e @ ClientError::Refused(_))
                if !ever_connected && Outcome::of(&e) == Outcome::Final =>
            {
                link.close().await;
                return e;
            }
            Err(e) => {
                console.send_modify(|c| {
                    c.live = false;
                    c.lost = Some(text::client_error(&e, text::lang()));
                });
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Reads the view each time `asked` says a frame came, and every
/// [`TICK`]. Never returns: a lost connection ends the stream, and the
/// select with it.
async fn refresh(
    link: &FollowingClient,
    console: &watch::Sender<Console>,
    mut asked: watch::Receiver<()>,
    no_console: &AtomicBool,
) -> std::convert::Infallible {
    loop {
        match read(link, no_console).await {
            Ok(answers) => {
                let view = model::view(&answers, now());
                console.send_modify(|c| {
                    c.live = true;
                    c.lost = None;
                    c.view = Some(view);
                    c.refreshes += 1;
                });
            }
            Err(e) => eprintln!("hallq console: cannot read the hall ({e}); retrying"),
        }
        tokio::select! {
            changed = asked.changed() => {
                if changed.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// One refresh's answers. `Status` must come; the rest add what they can
/// (an older hallqd or a missing right leaves a part empty).
async fn read(link: &FollowingClient, no_console: &AtomicBool) -> Result<Answers, ClientError> {
    let status = link.status().await?;
    let kiosk = match link.request(&Request::KioskView).await {
        Ok(Response::KioskView(k)) => Some(*k),
        _ => None,
    };
    let report = |by| async move {
        match link
            .request(&Request::Report {
                day: None,
                by: Some(by),
            })
            .await
        {
            Ok(Response::Report(r)) => Some(*r),
            _ => None,
        }
    };
    let by_window = report(StatsBy::Window).await;
    let by_item = report(StatsBy::Item).await;
    let print_failures = match link.request(&Request::PrintFailures).await {
        Ok(Response::PrintFailures(p)) => Some(p),
        _ => None,
    };
    let mut records = Vec::new();
    let mut offset_minutes = None;
    let mut from = 0;
    let day = by_item.as_ref().map(|r| r.stats.day);
    while let Ok(Response::ExportDetailed(page)) =
        link.request(&Request::ExportDetailed { day, from }).await
    {
        offset_minutes = Some(page.offset_minutes);
        records.extend(page.records.into_iter().zip(page.trails));
        match page.next {
            Some(n) if n > from => from = n,
            _ => break,
        }
    }
    // An older hallqd cannot decode the request (it answers
    // `malformed_frame` and drops the connection): asked once only.
    let console = if no_console.load(Ordering::Relaxed) {
        None
    } else {
        match tokio::time::timeout(Duration::from_secs(2), link.request(&Request::Console)).await {
            Ok(Ok(Response::Console(c))) => Some(*c),
            Ok(Err(ClientError::Refused(reply)))
                if matches!(
                    reply.code,
                    ErrorCode::MalformedFrame | ErrorCode::BadRequest
                ) =>
            {
                eprintln!(
                    "hallq console: hallqd does not answer the console request ({}); \
                     alerts and work orders are the console's own",
                    reply.message
                );
                no_console.store(true, Ordering::Relaxed);
                None
            }
            _ => None,
        }
    };
    Ok(Answers {
        console,
        status,
        kiosk,
        by_window,
        by_item,
        print_failures,
        records,
        offset_minutes,
    })
}
