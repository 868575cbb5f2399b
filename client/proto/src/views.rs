//! Read-only views of a hall: what `hallq status` prints and what a display
//! board receives as its snapshot. Produced by the daemon's dispatch core,
//! sent over the wire as they are.

use serde::{Deserialize, Serialize};

use crate::types::{ItemCode, Lane, Post, StaffId, TicketNo, Timestamp, WindowNo};

/// Whether a window takes calls (DB33/T 2036.4 §8.2.2.2: a paused window
/// shows that it is paused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowState {
    /// Not staffed; takes no calls, does not count as open.
    Closed,
    /// Takes calls.
    Open,
    /// 暂停办理, with the reason shown to visitors; takes no calls and does
    /// not count as open.
    Paused(String),
}

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// In a line, waiting to be called.
    Waiting,
    /// Called to a window; the visitor is on their way.
    Called(WindowNo),
    /// Being served at a window.
    Serving(WindowNo),
    /// Served.
    Done,
    /// Did not come when called (过号); may be reinstated.
    NoShow,
    /// Still waiting when the business day ended.
    Expired,
    /// The visitor gave the ticket up on their phone ("I'm leaving",
    /// issue 18). Added after the rest.
    Left,
}

/// One window as a display shows it (DB33/T 2036.4 §6.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowView {
    /// The window's number.
    pub number: WindowNo,
    /// Open, paused or closed.
    pub state: WindowState,
    /// The ticket called to or served at this window, if any.
    pub current: Option<TicketNo>,
    /// Whether the current ticket is being served (not just called).
    pub serving: bool,
    /// Who is logged in, and on which post.
    pub staff: Option<(StaffId, Post)>,
    /// The items this window serves.
    pub items: Vec<ItemCode>,
    /// 无差别窗口.
    pub universal: bool,
    /// 兜底窗口.
    pub fallback: bool,
}

/// One item's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemView {
    /// The prefix letter.
    pub code: ItemCode,
    /// The item's name.
    pub name: String,
    /// Waiting tickets per lane: appointment, priority, walk-in.
    pub waiting: [u32; 3],
    /// Open windows serving this item.
    pub open_windows: u32,
    /// Tickets issued today.
    pub issued_today: u32,
}

/// A hall at one instant: every window and every item's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HallView {
    /// The business day (yyyymmdd), if one has begun.
    pub day: Option<u32>,
    /// Whether walk-in tickets are being issued (false after closing time).
    pub issuing: bool,
    /// Every window, by number.
    pub windows: Vec<WindowView>,
    /// Every item, in configuration order.
    pub items: Vec<ItemView>,
}

/// A waiting ticket as `hallq status` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingTicket {
    /// The ticket's number.
    pub ticket: TicketNo,
    /// Its lane.
    pub lane: Lane,
    /// People ahead of it in its line.
    pub position: u32,
    /// Set when the ticket was transferred to one window (首问负责) and waits
    /// for that window only.
    pub for_window: Option<WindowNo>,
    /// When its place in line counts from (the original issue time for a
    /// transferred ticket).
    pub waiting_since: Timestamp,
}

/// One item as a kiosk offers it (DB33/T 2036.4 §7.3.2 取号): its line,
/// what a new ticket would wait, and whether today's cap is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskItem {
    /// The prefix letter.
    pub code: ItemCode,
    /// The item's name.
    pub name: String,
    /// Waiting tickets per lane: appointment, priority, walk-in.
    pub waiting: [u32; 3],
    /// The open windows serving this item, by number.
    pub windows: Vec<WindowNo>,
    /// Estimated wait of a new walk-in ticket, if a window is open.
    pub eta_secs: Option<u32>,
    /// Estimated wait of a new priority ticket, if a window is open.
    pub eta_priority_secs: Option<u32>,
    /// Today's cap, if the item has one.
    pub daily_cap: Option<u32>,
    /// Tickets issued today.
    pub issued_today: u32,
}

/// What a kiosk shows on its start screen ([`Request::KioskView`]): the
/// hall's items and whether walk-ins are taken now (seed 000 §四(八)).
///
/// [`Request::KioskView`]: crate::wire::Request::KioskView
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskView {
    /// The hall's id.
    pub hall: String,
    /// The hall's name.
    pub hall_name: String,
    /// The business day (yyyymmdd), if one has begun.
    pub day: Option<u32>,
    /// Walk-in tickets are issued (false after close-issuing).
    pub issuing: bool,
    /// Within the opening hours now.
    pub open_now: bool,
    /// When the hall opens next (local day and minute), when it is closed
    /// now and opening hours are configured.
    pub opens: Option<crate::appointment::SlotAt>,
    /// Every item, in configuration order.
    pub items: Vec<KioskItem>,
    /// Print failures kiosks reported today.
    pub print_failures_today: u32,
}

/// A kiosk's print failure as the hall sees it (`hallq status`,
/// `hallq admin health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintFailure {
    /// The ticket whose slip did not print (it was issued and is in line).
    pub ticket: TicketNo,
    /// Why, as the kiosk saw it ("paper out", "connection refused").
    pub reason: String,
    /// When the kiosk reported it.
    pub at: Timestamp,
}

/// [`Response::PrintFailures`]: the print failures of one hall.
///
/// [`Response::PrintFailures`]: crate::wire::Response::PrintFailures
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintFailures {
    /// The hall.
    pub hall: String,
    /// How many since hallqd started.
    pub total: u64,
    /// The latest, newest last (at most 20).
    pub recent: Vec<PrintFailure>,
}

/// What a hall's board shows besides its windows and calls (issue 17):
/// the next numbers of every line, to get ready (请…准备), and the latest
/// no-shows (过号), so a visitor who missed the call sees it and goes to
/// the help desk or the window (DB33/T 2036.4 §7.3.6).
///
/// [`Request::BoardLines`]: crate::wire::Request::BoardLines
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BoardLines {
    /// The hall's display change number this was read at: a board keeps
    /// the newest answer only.
    pub seq: u64,
    /// Per item in configuration order (items with no one waiting left
    /// out): the first tickets of its line in calling order.
    pub next: Vec<NextUp>,
    /// The latest no-shows not reinstated, newest first.
    pub no_shows: Vec<NoShowShown>,
}

/// The head of one item's line: appointments, then priority, then
/// walk-ins, as a window serving the item takes them (§7.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextUp {
    /// The item.
    pub item: ItemCode,
    /// Its first waiting tickets, the next to be called first.
    pub tickets: Vec<TicketNo>,
}

/// A ticket called that did not come (过号).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoShowShown {
    /// The ticket.
    pub ticket: TicketNo,
    /// Where it was called to.
    pub window: WindowNo,
    /// When the window marked it.
    pub at: Timestamp,
}

/// One ticket as its visitor's phone page shows it (issue 18): no phone
/// number, no name, nothing of other visitors but how many are ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFollow {
    /// The hall's name.
    pub hall_name: String,
    /// The ticket.
    pub ticket: TicketNo,
    /// The item's name.
    pub item_name: String,
    /// Its state now.
    pub state: TicketState,
    /// People ahead, while it waits.
    pub position: Option<u32>,
    /// Estimated wait, while it waits and a window serving it is open.
    pub eta_secs: Option<u32>,
    /// The open windows serving its item.
    pub windows: Vec<WindowNo>,
    /// DB33/T 2036.4 §7.3.5: its turn is near (the reminder has fired).
    pub approaching: bool,
    /// It has stepped back once ("I need more time"): once per ticket.
    pub stepped_back: bool,
    /// How many places a step back moves it (the hall's setting).
    pub step_back_places: u32,
    /// Its service was finished and may still be rated.
    pub can_rate: bool,
    /// The window that served it, once finished.
    pub served_at: Option<WindowNo>,
}
