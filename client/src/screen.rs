//! What the hallq screens share: the wall clock, the hall's time of day,
//! the keyboard of a terminal screen and, for tests, a terminal screen read
//! back as text. The board and the window terminal both build on this; it
//! builds on neither.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hallq_proto::types::Timestamp;
use ratatui::crossterm::event::{self, Event};
use ratatui::Frame;
use tokio::sync::mpsc;

/// The wall clock, as the protocol writes instants. Only the I/O layers
/// read it; the board and terminal states take `now` as an argument.
pub fn now() -> Timestamp {
    #[allow(clippy::disallowed_methods)]
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(ms)
}

/// The hall's time of day. The protocol carries UTC instants but not the
/// hall's zone; hallq's halls are in China (UTC+8, hallqd's default
/// `timezone_offset_minutes`).
pub fn clock(now: Timestamp) -> String {
    const OFFSET_SECS: u64 = 8 * 3600;
    let secs = (now.0 / 1000 + OFFSET_SECS) % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// What `draw` puts on a `width` × `height` screen, as text: one line per
/// row, every cell's symbol. For tests of the window terminal and the
/// board, which read the screen as a person would.
pub fn render_text(width: u16, height: u16, draw: impl FnOnce(&mut Frame)) -> String {
    let backend = ratatui::backend::TestBackend::new(width, height);
    let mut terminal = ratatui::Terminal::new(backend).expect("a test backend never fails");
    terminal
        .draw(draw)
        .expect("drawing on a test backend never fails");
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
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
