//! The window terminal's I/O: the real terminal (raw mode, alternate
//! screen, restored on exit and on panic by `ratatui::init`), the keyboard
//! read on its own thread, and the requests to `hallqd`, reconnecting when
//! the link breaks so a restarted daemon does not need a restarted terminal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event};
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use super::{Intent, WindowTerminal};
use crate::board::{now, Hallqd};
use crate::client::{Client, ClientError};

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

/// Runs the window terminal until the clerk quits.
pub async fn run(hallqd: &Hallqd) -> Result<(), TerminalError> {
    // Connect before taking over the screen, so a wrong token or address
    // is reported as plain text.
    let client = hallqd.connect().await?;
    let welcome = client.welcome().clone();
    let Some(mut app) = WindowTerminal::new(&welcome) else {
        client.close().await;
        return Err(TerminalError::NotAWindow(welcome.role.to_string()));
    };
    app.refreshed(client.status().await, now());
    let mut desk = Desk {
        hallqd,
        client: Some(client),
    };
    let mut terminal = ratatui::try_init().inspect_err(|_| ratatui::restore())?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut keys = key_reader(stop.clone());
    let result = drive(&mut terminal, &mut app, &mut desk, &mut keys).await;
    ratatui::restore();
    stop.store(true, Ordering::Relaxed);
    if let Some(client) = desk.client.take() {
        client.close().await;
    }
    result
}

async fn drive(
    terminal: &mut DefaultTerminal,
    app: &mut WindowTerminal,
    desk: &mut Desk<'_>,
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
                        desk.perform(app, &intent).await;
                        refresh.reset();
                    }
                    None => {}
                }
            }
            _ = refresh.tick() => desk.perform(app, &Intent::Refresh).await,
            _ = redraw.tick() => {}
        }
    }
}

/// The connection to `hallqd`, made again when it broke.
struct Desk<'a> {
    hallqd: &'a Hallqd,
    client: Option<Client>,
}

impl Desk<'_> {
    async fn perform(&mut self, app: &mut WindowTerminal, intent: &Intent) {
        if self.client.is_none() {
            match self.hallqd.connect().await {
                Ok(client) => self.client = Some(client),
                Err(e) => {
                    let e = ClientError::Connection(format!("cannot reach hallqd: {e}"));
                    match intent {
                        Intent::Act(action) => app.acted(action, Err(e), now()),
                        _ => app.refreshed(Err(e), now()),
                    }
                    return;
                }
            }
        }
        if let Some(client) = &self.client {
            if !perform(app, client, intent).await {
                if let Some(client) = self.client.take() {
                    client.close().await;
                }
            }
        }
    }
}

/// Carries out `intent` for `app` over `client`: the action (if any), then
/// a fresh status. Returns `false` if the link to hallqd broke (the caller
/// should reconnect); refusals are shown on the screen and are not that.
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
        ClientError::Connect(_) | ClientError::Connection(_) | ClientError::Timeout => true,
        ClientError::Codec(c) => c.code() == "io",
        ClientError::Refused(_) | ClientError::Unexpected(_) => false,
    }
}

/// Reads the keyboard on its own thread (crossterm's reads block) and
/// hands the events over; the thread ends soon after `stop` is set.
pub(crate) fn key_reader(stop: Arc<AtomicBool>) -> mpsc::UnboundedReceiver<Event> {
    let (send, receive) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(100)) {
                Ok(true) => {
                    let sent = event::read().map(|ev| send.send(ev).is_ok());
                    if !matches!(sent, Ok(true)) {
                        break;
                    }
                }
                Ok(false) => {}
                Err(_) => break,
            }
        }
    });
    receive
}
