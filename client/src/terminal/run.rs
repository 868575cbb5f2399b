//! The window terminal's I/O: the real terminal (raw mode, alternate
//! screen, restored on exit and on panic by `ratatui::init`), the keyboard
//! read on its own thread, and the requests to `hallqd`, reconnecting when
//! the link breaks so a restarted daemon does not need a restarted terminal,
//! and following the hall to whichever daemon serves it in a cluster.

use hallq_proto::ErrorCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::Event;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use super::{Intent, WindowTerminal};
use crate::client::{Client, ClientError};
use crate::follow::FollowingClient;
use crate::follow::Hallqd;
use crate::screen::{key_reader, now};
use hallq_proto::wire::{Request, Response, Status, WindowAction};

/// How often the queue is fetched while nobody presses a key: other
/// windows call from the same lines, kiosks add to them.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// A request unanswered this long means the link is down, as far as the
/// clerk is told: hallqd answers a status in milliseconds on a hall's LAN,
/// and the request's own timeout (10 s) is far too long to leave 开放 up.
const NO_ANSWER: Duration = Duration::from_secs(3);

/// Why the window terminal could not run.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The first connection failed or was refused.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The token is not a window terminal's.
    #[error("this token is for a {0} client, not a window terminal: use the window's own token")]
    NotAWindow(String),
    /// The terminal could not be drawn on.
    #[error("terminal error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the window terminal until the clerk quits; with `clerk_rating`,
/// `f` asks for the visitor's rating (a hall with `clerk_rating = true`).
pub async fn run(hallqd: &Hallqd, clerk_rating: bool) -> Result<(), TerminalError> {
    let desk = Arc::new(FollowingClient::new(hallqd.clone()));
    // Connect before taking over the screen, so a wrong token or address
    // is reported as plain text.
    let welcome = desk.welcome().await?;
    let Some(mut app) = WindowTerminal::new(&welcome) else {
        desk.close().await;
        return Err(TerminalError::NotAWindow(welcome.role.to_string()));
    };
    app.allow_clerk_rating(clerk_rating);
    app.refreshed(desk.status().await, now());
    let mut terminal = ratatui::try_init().inspect_err(|_| ratatui::restore())?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut keys = key_reader(stop.clone());
    let result = drive(&mut terminal, &mut app, &desk, &mut keys).await;
    ratatui::restore();
    stop.store(true, Ordering::Relaxed);
    desk.close().await;
    result
}

/// An answer from a request made in the background.
enum Answer {
    Acted(WindowAction, Result<Response, ClientError>),
    Reinstated(Result<Response, ClientError>),
    Refreshed(Result<Status, ClientError>),
}

async fn drive(
    terminal: &mut DefaultTerminal,
    app: &mut WindowTerminal,
    desk: &Arc<FollowingClient>,
    keys: &mut mpsc::UnboundedReceiver<Event>,
) -> Result<(), TerminalError> {
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The service timer counts seconds.
    let mut redraw = tokio::time::interval(Duration::from_secs(1));
    // Requests run on tasks of their own and answer here, so the screen
    // keeps drawing and taking keys while hallqd is slow or gone (issue 17:
    // each key froze the screen ~10 s).
    let (answers_tx, mut answers) = mpsc::unbounded_channel::<Answer>();
    let mut refreshing = false;
    // When the oldest request still unanswered was sent.
    let mut waiting_since: Option<(std::time::Instant, hallq_proto::types::Timestamp)> = None;
    loop {
        if let Some((sent, at)) = waiting_since {
            if sent.elapsed() >= NO_ANSWER {
                app.no_answer_since(at);
            }
        }
        if refreshing || app.is_sending() {
            waiting_since.get_or_insert_with(|| (std::time::Instant::now(), now()));
        } else {
            waiting_since = None;
        }
        terminal.draw(|frame| app.draw(frame, now()))?;
        tokio::select! {
            key = keys.recv() => {
                let Some(key) = key else { return Ok(()) };
                let Event::Key(key) = key else { continue };
                match app.key(key) {
                    Some(Intent::Quit) => return Ok(()),
                    Some(Intent::Refresh) if !refreshing => {
                        refreshing = true;
                        spawn_refresh(desk, &answers_tx);
                    }
                    Some(Intent::Refresh) => {}
                    Some(intent) => {
                        app.sending(&intent);
                        let (desk, tx) = (desk.clone(), answers_tx.clone());
                        tokio::spawn(async move {
                            let answer = match intent {
                                Intent::Act(action) => {
                                    let result = desk.window(None, action.clone()).await;
                                    Answer::Acted(action, result)
                                }
                                Intent::Reinstate(ticket) => Answer::Reinstated(
                                    desk.request(&Request::Reinstate { ticket }).await,
                                ),
                                Intent::Refresh | Intent::Quit => return,
                            };
                            let _ = tx.send(answer);
                        });
                        refresh.reset();
                    }
                    None => {}
                }
            }
            Some(answer) = answers.recv() => {
                // An answer: the link works (or says why not) right now.
                waiting_since = None;
                match answer {
                    Answer::Acted(action, result) => {
                        app.acted(&action, result, now());
                        // The queue changed with the action: fetch it now.
                        if !refreshing {
                            refreshing = true;
                            spawn_refresh(desk, &answers_tx);
                        }
                    }
                    Answer::Reinstated(result) => {
                        app.reinstated(result, now());
                        if !refreshing {
                            refreshing = true;
                            spawn_refresh(desk, &answers_tx);
                        }
                    }
                    Answer::Refreshed(result) => {
                        refreshing = false;
                        // An action's refusal stays on the screen rather
                        // than a refresh that found the link broken as
                        // well; the header says the link is down either way.
                        app.refreshed(result, now());
                    }
                }
            }
            _ = refresh.tick() => {
                if !refreshing {
                    refreshing = true;
                    spawn_refresh(desk, &answers_tx);
                }
            }
            _ = redraw.tick() => {}
        }
    }
}

/// Fetches the status on a task of its own.
fn spawn_refresh(desk: &Arc<FollowingClient>, tx: &mpsc::UnboundedSender<Answer>) {
    let (desk, tx) = (desk.clone(), tx.clone());
    tokio::spawn(async move {
        let _ = tx.send(Answer::Refreshed(desk.status().await));
    });
}

/// Carries out `intent` for `app` over `client`: the action (if any), then
/// a fresh status. Returns `false` if the link to hallqd broke (the caller
/// should reconnect); refusals are shown on the screen and are not that.
///
/// One connection, no following: what tests drive; the terminal itself
/// goes through a [`FollowingClient`].
pub async fn perform(app: &mut WindowTerminal, client: &Client, intent: &Intent) -> bool {
    if let Intent::Act(action) = intent {
        let result = client.window(None, action.clone()).await;
        let broken = matches!(&result, Err(e) if link_broken(e));
        app.acted(action, result, now());
        if broken {
            return false;
        }
    }
    if let Intent::Reinstate(ticket) = intent {
        let result = client
            .request(&Request::Reinstate { ticket: *ticket })
            .await;
        let broken = matches!(&result, Err(e) if link_broken(e));
        app.reinstated(result, now());
        if broken {
            return false;
        }
    }
    let status = client.status().await;
    let broken = matches!(&status, Err(e) if link_broken(e));
    if !broken || matches!(intent, Intent::Refresh) {
        app.refreshed(status, now());
    }
    !broken
}

/// Whether `e` means the connection is gone (rather than a refusal).
pub(crate) fn link_broken(e: &ClientError) -> bool {
    match e {
        ClientError::Connect(_)
        | ClientError::Connection(_)
        | ClientError::Timeout
        | ClientError::Resolve { .. } => true,
        ClientError::Codec(c) => c.code() == ErrorCode::Io,
        ClientError::Refused(_) | ClientError::Unexpected(_) => false,
    }
}
