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
