//! What a hall manager's console reads (issue 21): the hall live in one
//! answer ([`ConsoleView`]), the alerts ([`AlertView`]) and the 差评工单
//! with their lifecycle ([`WorkOrderView`]).
//!
//! Every instant here is **unix seconds on the daemon's clock** (not the
//! milliseconds of [`crate::types::Timestamp`]): a page shows "paused for
//! 12 minutes" as `now - since` with the answer's own `now`, so a browser
//! whose clock is off still shows the right durations.
//!
//! A [`ConsoleView`] of a 60-window, 30-item hall with its lists full fits
//! one 64 KiB frame (tested in this module): the lists are capped
//! ([`CONSOLE_LIST_MAX`]) and every count beside them stays whole.

use serde::{Deserialize, Serialize};

use crate::types::{ItemCode, Post, StaffId, TicketNo, WindowNo};

/// How many entries each of [`ConsoleView`]'s lists carries at most (the
/// most urgent work orders, the latest failures, the alerts): the counts
/// beside them stay whole.
pub const CONSOLE_LIST_MAX: usize = 20;

/// Which condition an alert is about. Its [`AlertKind::key`] is the first
/// half of an alert's id (`wait:A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// An item's oldest wait, or the estimated wait of a new ticket, is over
    /// the hall's `wait_target_minutes`; the alert names the windows to open.
    Wait,
    /// A window has been paused longer than allowed.
    Paused,
    /// A window is open with nobody logged in (AB岗: an open counter must
    /// be staffed).
    NobodyLoggedIn,
    /// A window is open and idle while its items have people waiting.
    Idle,
    /// A service was rated 不满意 or 非常不满意.
    BadRating,
    /// The SMS gateway gave up on a notification.
    NotificationFailed,
    /// A kiosk could not print a ticket's slip.
    PrintFailed,
    /// A work order is past its deadline and not closed.
    WorkOrderOverdue,
}

impl AlertKind {
    /// Every kind, in this order.
    pub const ALL: [AlertKind; 8] = [
        AlertKind::Wait,
        AlertKind::Paused,
        AlertKind::NobodyLoggedIn,
        AlertKind::Idle,
        AlertKind::BadRating,
        AlertKind::NotificationFailed,
        AlertKind::PrintFailed,
        AlertKind::WorkOrderOverdue,
    ];

    /// The stable short name: an alert id's first half, the metrics'
    /// `kind` label, the JSON value (`wait`, `paused`, …).
    pub fn key(self) -> &'static str {
        match self {
            AlertKind::Wait => "wait",
            AlertKind::Paused => "paused",
            AlertKind::NobodyLoggedIn => "nobody_logged_in",
            AlertKind::Idle => "idle",
            AlertKind::BadRating => "bad_rating",
            AlertKind::NotificationFailed => "notification_failed",
            AlertKind::PrintFailed => "print_failed",
            AlertKind::WorkOrderOverdue => "work_order_overdue",
        }
    }
}

/// One alert, raised once when its condition had held for the raise delay
/// and cleared once it had ended for the clear delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    /// Stable: kind and subject, `wait:A`, `paused:3`, `bad_rating:A012`,
    /// `work_order_overdue:7`. The same condition coming back after it
    /// cleared is raised again under the same id, with a new `raised_at`.
    pub id: String,
    /// Which condition.
    pub kind: AlertKind,
    /// What it is about: an item letter, a window number, a ticket, a
    /// notification id or a work order number, as in `id`.
    pub subject: String,
    /// The item, for `wait` and `bad_rating`.
    pub item: Option<ItemCode>,
    /// The window, for `paused`, `nobody_logged_in`, `idle`, `bad_rating`.
    pub window: Option<WindowNo>,
    /// The ticket, for `bad_rating` and `print_failed`.
    pub ticket: Option<TicketNo>,
    /// The figure that raised it, seconds: the wait (`wait`), how long
    /// paused (`paused`), open without staff (`nobody_logged_in`), idle
    /// (`idle`), past the deadline (`work_order_overdue`).
    pub value_secs: Option<u64>,
    /// The limit it went over, seconds.
    pub limit_secs: Option<u64>,
    /// For `wait`: the closed or paused windows that serve the item, best
    /// first (a paused one before a closed one, then fewer items served,
    /// then the lower number): open the first.
    pub open_windows: Vec<WindowNo>,
    /// For `bad_rating`: 1 (非常不满意) or 2 (不满意).
    pub rating: Option<u8>,
    /// What a device or the gateway said in its own words (a printer's
    /// reason, the SMS provider's answer); empty otherwise.
    pub detail: String,
    /// Raised at, unix seconds.
    pub raised_at: u64,
    /// Cleared at, unix seconds; `None` while active.
    pub cleared_at: Option<u64>,
}

/// Where a work order is in its life (seed 000 §四(六)6: 回访核实, then
/// 处理及反馈).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderState {
    /// Raised by a bad rating; nobody has called the visitor back yet.
    Open,
    /// 回访: the visitor was called back (with a note).
    CalledBack,
    /// Handled and closed (with a note).
    Closed,
}

/// What a manager does to a work order ([`crate::wire::Request::WorkOrderUpdate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderAction {
    /// 回访: the visitor was called back; what they said. Allowed on an
    /// open work order.
    CalledBack {
        /// 回访记录, 1–500 characters.
        note: String,
    },
    /// Handled: what was done (处理及反馈). Allowed on an open or called
    /// back work order.
    Closed {
        /// 处理结果, 1–500 characters.
        note: String,
    },
}

/// Longest note or reason a work order or appeal takes, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// [`ConsoleView::work_orders`] carries notes and reasons cut to this many
/// characters (with `…`), so the answer stays one frame;
/// [`crate::wire::Request::WorkOrders`] has them whole.
pub const CONSOLE_NOTE_CHARS: usize = 40;

/// Longest `detail` an alert or a listed failure carries, in characters (a
/// gateway's answer can be long; the log has it whole).
pub const MAX_DETAIL_CHARS: usize = 120;

/// `text` cut to `max` characters, with `…` when it was longer.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A rating a manager marked as appealed and invalid (申诉复核): it stays
/// in the journal and the export, and counts in no satisfaction figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppealView {
    /// The business day of the service, `yyyymmdd`.
    pub day: u32,
    /// The service's (lead) ticket.
    pub ticket: TicketNo,
    /// The rating set aside, 1–5.
    pub rating: u8,
    /// Why (申诉复核的理由).
    pub reason: String,
    /// When, unix seconds.
    pub at: u64,
}

/// One 差评工单 (seed 000 §四(六)6; 国办发〔2019〕51号).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderView {
    /// The hall's work order number, from 1: what `hallq workorder` takes.
    pub id: u64,
    /// The business day of the service, `yyyymmdd`.
    pub day: u32,
    /// The service's ticket.
    pub ticket: TicketNo,
    /// The item.
    pub item: ItemCode,
    /// The item's name.
    pub item_name: String,
    /// The window that served.
    pub window: WindowNo,
    /// Who served, if logged in.
    pub staff: Option<StaffId>,
    /// 1 (非常不满意) or 2 (不满意).
    pub rating: u8,
    /// Where it is now.
    pub state: WorkOrderState,
    /// Opened at (the rating's instant), unix seconds.
    pub opened_at: u64,
    /// The deadline: the end of the last working day allowed, unix seconds.
    pub deadline: u64,
    /// That day, `yyyymmdd` in the hall's time.
    pub deadline_day: u32,
    /// Past its deadline and not closed (at the answer's instant).
    pub overdue: bool,
    /// 回访 at, unix seconds, and its note.
    pub called_back_at: Option<u64>,
    /// 回访记录.
    pub callback_note: Option<String>,
    /// Closed at, unix seconds.
    pub closed_at: Option<u64>,
    /// 处理结果.
    pub close_note: Option<String>,
    /// The rating was appealed and set aside (申诉复核).
    pub appeal: Option<AppealView>,
}

/// A window's state as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleWindowState {
    /// Closed.
    Closed,
    /// Open.
    Open,
    /// Paused, with the reason.
    Paused {
        /// As the window gave it.
        reason: String,
    },
}

/// One window on the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleWindow {
    /// The window.
    pub number: WindowNo,
    /// Open, paused (why) or closed.
    pub state: ConsoleWindowState,
    /// In that state since, unix seconds (the day's start if unchanged
    /// since).
    pub state_since: u64,
    /// Who is logged in.
    pub staff: Option<StaffId>,
    /// On which post (AB岗).
    pub post: Option<Post>,
    /// The ticket called here or being served.
    pub current: Option<TicketNo>,
    /// Being served (not just called).
    pub serving: bool,
    /// The current ticket called (or its service started, once started)
    /// at, unix seconds.
    pub current_since: Option<u64>,
    /// Services finished here today (batch companions included).
    pub served_today: u32,
    /// Seconds open with no ticket today (up to `now`).
    pub idle_secs_today: u64,
    /// Seconds paused today (up to `now`).
    pub paused_secs_today: u64,
    /// The items it serves (every item for a universal window).
    pub items: Vec<ItemCode>,
}

/// One item on the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleItem {
    /// The item.
    pub code: ItemCode,
    /// Its name.
    pub name: String,
    /// Waiting per lane: appointment, priority, walk-in.
    pub waiting: [u32; 3],
    /// The oldest waiting ticket has waited this long, seconds.
    pub oldest_wait_secs: Option<u64>,
    /// A ticket issued now would wait about this long, seconds; `None`
    /// while no window serving the item is open.
    pub estimated_wait_secs: Option<u64>,
    /// The open windows serving it.
    pub open_windows: Vec<WindowNo>,
    /// Tickets issued today.
    pub issued_today: u32,
    /// Services finished today.
    pub served_today: u32,
    /// The daily cap, if any.
    pub daily_cap: Option<u32>,
    /// Of the cap, used today (tickets issued).
    pub cap_used: u32,
}

/// A failed notification, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedNotification {
    /// The notification's id.
    pub id: String,
    /// Its kind, as [`crate::wire::NotificationKind`] names it in JSON
    /// (`called`, `work_order`, …).
    pub kind: String,
    /// The ticket, if any.
    pub ticket: Option<TicketNo>,
    /// The gateway's reason, in its own words.
    pub reason: String,
    /// When the gateway gave up, unix seconds.
    pub at: u64,
}

/// A failed print, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedPrint {
    /// The ticket whose slip did not print.
    pub ticket: TicketNo,
    /// The kiosk's reason, in its own words.
    pub reason: String,
    /// When, unix seconds.
    pub at: u64,
}

/// [`crate::wire::Response::Console`]: everything the live console shows,
/// in one answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleView {
    /// The hall's id.
    pub hall: String,
    /// The hall's name.
    pub hall_name: String,
    /// The daemon's clock when it answered, unix seconds: durations are
    /// `now - since`.
    pub now: u64,
    /// The current business day, `yyyymmdd`.
    pub day: u32,
    /// Walk-in tickets are being issued.
    pub issuing: bool,
    /// The hall's waiting target (`wait_target_minutes`), seconds.
    pub wait_target_secs: u64,
    /// Every window, by number.
    pub windows: Vec<ConsoleWindow>,
    /// Every item, in the config's order.
    pub items: Vec<ConsoleItem>,
    /// Work orders not closed.
    pub open_work_orders: u32,
    /// Of those, past their deadline.
    pub overdue_work_orders: u32,
    /// The most urgent open ones (earliest deadline first), at most
    /// [`CONSOLE_LIST_MAX`], their notes cut to [`CONSOLE_NOTE_CHARS`].
    pub work_orders: Vec<WorkOrderView>,
    /// Notifications the gateway gave up on today.
    pub failed_notifications: u32,
    /// The latest of them, newest first, at most [`CONSOLE_LIST_MAX`].
    pub latest_failed_notifications: Vec<FailedNotification>,
    /// Print failures kiosks reported today.
    pub print_failures: u32,
    /// The latest of them, newest first, at most [`CONSOLE_LIST_MAX`].
    pub latest_print_failures: Vec<FailedPrint>,
    /// Alerts active now.
    pub active_alerts: u32,
    /// The active alerts, newest first, at most [`CONSOLE_LIST_MAX`].
    pub alerts: Vec<AlertView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console of a 60-window, 30-item hall with every list full and
    /// every text at its longest still fits the 64 KiB frame.
    #[test]
    fn a_full_console_of_a_large_hall_fits_one_frame() {
        let letter = |i: usize| ItemCode::new((b'A' + (i % 26) as u8) as char).unwrap();
        let ticket = |i: usize| TicketNo {
            item: letter(i),
            seq: 999,
        };
        let long = cut(&"因打印机缺纸未能出票".repeat(50), MAX_DETAIL_CHARS);
        let note = cut(&"回".repeat(MAX_NOTE_CHARS), CONSOLE_NOTE_CHARS);
        let work_order = |i: usize| WorkOrderView {
            id: 1_000_000 + i as u64,
            day: 20261202,
            ticket: ticket(i),
            item: letter(i),
            item_name: "不动产登记及抵押权变更登记".into(),
            window: WindowNo(60),
            staff: Some(StaffId::new("S123456789").unwrap()),
            rating: 1,
            state: WorkOrderState::CalledBack,
            opened_at: u64::MAX,
            deadline: u64::MAX,
            deadline_day: 20261216,
            overdue: true,
            called_back_at: Some(u64::MAX),
            callback_note: Some(note.clone()),
            closed_at: None,
            close_note: None,
            appeal: Some(AppealView {
                day: 20261202,
                ticket: ticket(i),
                rating: 1,
                reason: note.clone(),
                at: u64::MAX,
            }),
        };
        let view = ConsoleView {
            hall: "h".repeat(64),
            hall_name: "某某市某某区政务服务中心".into(),
            now: u64::MAX,
            day: 20261202,
            issuing: true,
            wait_target_secs: 1800,
            windows: (1..=60)
                .map(|n| ConsoleWindow {
                    number: WindowNo(n),
                    state: ConsoleWindowState::Paused {
                        reason: "暂".repeat(64),
                    },
                    state_since: u64::MAX,
                    staff: Some(StaffId::new("S123456789").unwrap()),
                    post: Some(Post::B),
                    current: Some(ticket(n as usize)),
                    serving: true,
                    current_since: Some(u64::MAX),
                    served_today: u32::MAX,
                    idle_secs_today: u64::MAX,
                    paused_secs_today: u64::MAX,
                    items: (0..26).map(letter).collect(),
                })
                .collect(),
            items: (0..30)
                .map(|i| ConsoleItem {
                    code: letter(i),
                    name: "不动产登记及抵押权变更登记".into(),
                    waiting: [u32::MAX; 3],
                    oldest_wait_secs: Some(u64::MAX),
                    estimated_wait_secs: Some(u64::MAX),
                    open_windows: (1..=60).map(WindowNo).collect(),
                    issued_today: u32::MAX,
                    served_today: u32::MAX,
                    daily_cap: Some(u32::MAX),
                    cap_used: u32::MAX,
                })
                .collect(),
            open_work_orders: u32::MAX,
            overdue_work_orders: u32::MAX,
            work_orders: (0..CONSOLE_LIST_MAX).map(work_order).collect(),
            failed_notifications: u32::MAX,
            latest_failed_notifications: (0..CONSOLE_LIST_MAX)
                .map(|i| FailedNotification {
                    id: format!("{}-{}", "h".repeat(64), u64::MAX - i as u64),
                    kind: "booking_confirmed".into(),
                    ticket: Some(ticket(i)),
                    reason: long.clone(),
                    at: u64::MAX,
                })
                .collect(),
            print_failures: u32::MAX,
            latest_print_failures: (0..CONSOLE_LIST_MAX)
                .map(|i| FailedPrint {
                    ticket: ticket(i),
                    reason: long.clone(),
                    at: u64::MAX,
                })
                .collect(),
            active_alerts: u32::MAX,
            alerts: (0..CONSOLE_LIST_MAX)
                .map(|i| AlertView {
                    id: format!("notification_failed:{}-{}", "h".repeat(64), u64::MAX),
                    kind: AlertKind::NotificationFailed,
                    subject: format!("{}-{}", "h".repeat(64), u64::MAX),
                    item: Some(letter(i)),
                    window: Some(WindowNo(60)),
                    ticket: Some(ticket(i)),
                    value_secs: Some(u64::MAX),
                    limit_secs: Some(u64::MAX),
                    open_windows: (1..=60).map(WindowNo).collect(),
                    rating: Some(1),
                    detail: long.clone(),
                    raised_at: u64::MAX,
                    cleared_at: None,
                })
                .collect(),
        };
        let response = crate::wire::Response::Console(Box::new(view));
        let frame = crate::codec::encode(&response).expect("fits one frame");
        assert!(frame.len() < crate::codec::MAX_FRAME, "{}", frame.len());
        let back: crate::wire::Response = crate::codec::decode(&frame[4..]).unwrap();
        assert_eq!(back, response);
    }
}
