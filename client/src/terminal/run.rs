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

/// How often the queue is fetched while nobody presses a key: other
/// windows call from the same lines, kiosks add to them.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

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
    let desk = FollowingClient::new(hallqd.clone());
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

async fn drive(
    terminal: &mut DefaultTerminal,
    app: &mut WindowTerminal,
    desk: &FollowingClient,
    keys: &mut mpsc::UnboundedReceiver<Event>,
) -> Result<(), TerminalError> {
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The service timer counts seconds.
    let mut redraw = tokio::time::interval(Duration::from_secs(1));
    loop {
        terminal.draw(|frame| app.draw(frame, now()))?;
        tokio::select! {
            key = keys.recv() => {
                let Some(key) = key else { return Ok(()) };
                let Event::Key(key) = key else { continue };
                match app.key(key) {
                    Some(Intent::Quit) => return Ok(()),
                    Some(intent) => {
                        carry_out(app, desk, &intent).await;
                        refresh.reset();
                    }
                    None => {}
                }
            }
            _ = refresh.tick() => carry_out(app, desk, &Intent::Refresh).await,
            _ = redraw.tick() => {}
        }
    }
}

/// Carries out `intent` for `app` through `desk`, which follows the hall:
/// the action (if any), then a fresh status. An action whose connection
/// was lost is not repeated (it may have been carried out); the status
/// that follows, over a new connection, shows whether it was.
async fn carry_out(app: &mut WindowTerminal, desk: &FollowingClient, intent: &Intent) {
    if let Intent::Act(action) = intent {
        let result = desk.window(None, action.clone()).await;
        app.acted(action, result, now());
    }
    let status = desk.status().await;
    // Keep an action's answer on the screen rather than a refresh that
    // could not reach hallqd either.
    if !matches!(&status, Err(e) if link_broken(e)) || matches!(intent, Intent::Refresh) {
        app.refreshed(status, now());
    }
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
    let status = client.status().await;
    let broken = matches!(&status, Err(e) if link_broken(e));
    if !broken || matches!(intent, Intent::Refresh) {
        app.refreshed(status, now());
    }
    !broken
}

/// Whether `e` means the connection is gone (rather than a refusal).
fn link_broken(e: &ClientError) -> bool {
    match e {
        ClientError::Connect(_)
        | ClientError::Connection(_)
        | ClientError::Timeout
        | ClientError::Resolve { .. } => true,
        ClientError::Codec(c) => c.code() == ErrorCode::Io,
        ClientError::Refused(_) | ClientError::Unexpected(_) => false,
    }
}
