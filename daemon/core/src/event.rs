//! Events: what a command changed. The journal stores them; replaying them
//! through [`super::Hall::replay`] rebuilds the hall exactly. Displays, the
//! notification outbox and statistics are all derived from them.

use hallq_proto::types::{
    Lane, Phone, Post, Rating, StaffId, TicketId, TicketNo, Timestamp, WindowNo,
};
use serde::{Deserialize, Serialize};

use super::command::{BusinessDay, TransferTarget};
use hallq_proto::appointment::SlotChange;

use super::appointment::NewAppointment;
use super::workorders::WorkOrder;
use super::HallSpec;
use hallq_proto::console::AlertView;

/// A ticket was issued (DB33/T 2036.4 §7.3.4: the visitor is told their
/// number, how many wait ahead and which windows serve them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issued {
    /// The new ticket's id.
    pub ticket: TicketId,
    /// Its printed number.
    pub number: TicketNo,
    /// Its lane.
    pub lane: Lane,
    /// For SMS, if given.
    pub phone: Option<Phone>,
    /// People ahead of it in its item's line.
    pub position: u32,
    /// The open windows serving its item, by number.
    pub windows: Vec<WindowNo>,
    /// Estimated wait: position × average service time ÷ open windows;
    /// `None` while no window serving the item is open.
    pub eta_secs: Option<u32>,
    /// DB33/T 2036.4 §7.3.5 already holds at issue: the issue message says
    /// "come to the waiting area" and no separate reminder follows.
    pub approaching: bool,
}

/// Something that happened in a hall, at instant `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A business day began; tickets of the old day that were still open
    /// expired, windows closed, staff were logged out.
    DayBegun {
        /// `yyyymmdd`.
        day: BusinessDay,
        /// How many tickets expired.
        expired: u32,
        /// When.
        at: Timestamp,
    },
    /// Walk-in issuing stopped (closing time).
    IssuingClosed {
        /// When.
        at: Timestamp,
    },
    /// Walk-in issuing resumed.
    IssuingOpened {
        /// When.
        at: Timestamp,
    },
    /// A ticket was issued.
    Issued {
        /// The ticket.
        issued: Issued,
        /// When.
        at: Timestamp,
    },
    /// §7.3.5: the ticket's position fell below the reminder threshold for
    /// the first time.
    Approaching {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// People ahead of it now.
        position: u32,
        /// When.
        at: Timestamp,
    },
    /// §7.3.6: a ticket was called to a window.
    Called {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// The window.
        window: WindowNo,
        /// When.
        at: Timestamp,
    },
    /// The called ticket was announced again.
    Recalled {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// The window.
        window: WindowNo,
        /// When.
        at: Timestamp,
    },
    /// Service started.
    Started {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// The window.
        window: WindowNo,
        /// When.
        at: Timestamp,
    },
    /// Service finished.
    Finished {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// The window.
        window: WindowNo,
        /// Who served, if logged in.
        staff: Option<StaffId>,
        /// The visitor's rating, if given.
        rating: Option<Rating>,
        /// When.
        at: Timestamp,
    },
    /// The called visitor did not come.
    NoShow {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// The window.
        window: WindowNo,
        /// When.
        at: Timestamp,
    },
    /// A no-show went back into its line.
    Reinstated {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// People ahead of it now.
        position: u32,
        /// When.
        at: Timestamp,
    },
    /// A window handed its current ticket on.
    Transferred {
        /// The ticket.
        ticket: TicketId,
        /// Its number (unchanged: the visitor keeps their slip).
        number: TicketNo,
        /// The window that handed it on.
        from: WindowNo,
        /// Where it went.
        to: TransferTarget,
        /// People ahead of it in its new line.
        position: u32,
        /// When.
        at: Timestamp,
    },
    /// A window opened.
    WindowOpened {
        /// The window.
        window: WindowNo,
        /// When.
        at: Timestamp,
    },
    /// A window closed.
    WindowClosed {
        /// The window.
        window: WindowNo,
        /// When.
        at: Timestamp,
    },
    /// A window paused.
    WindowPaused {
        /// The window.
        window: WindowNo,
        /// Why, for the display.
        reason: String,
        /// When.
        at: Timestamp,
    },
    /// A paused window resumed.
    WindowResumed {
        /// The window.
        window: WindowNo,
        /// When.
        at: Timestamp,
    },
    /// Staff logged in at a window.
    StaffLoggedIn {
        /// The window.
        window: WindowNo,
        /// Who.
        staff: StaffId,
        /// A or B.
        post: Post,
        /// When.
        at: Timestamp,
    },
    /// Staff logged out of a window.
    StaffLoggedOut {
        /// The window.
        window: WindowNo,
        /// Who.
        staff: StaffId,
        /// When.
        at: Timestamp,
    },
    /// The hall runs on a new configuration from now on.
    Reconfigured {
        /// The configuration.
        spec: HallSpec,
        /// When.
        at: Timestamp,
    },
    /// A waiting ticket was served as part of `lead`'s batch (one service,
    /// one rating: seed 000 §四(六)5). Always followed, in the same
    /// command, by `lead`'s [`Event::Finished`].
    ServedWith {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// The window.
        window: WindowNo,
        /// The batch's lead ticket (the window's current one).
        lead: TicketId,
        /// When.
        at: Timestamp,
    },
    /// A finished service was rated afterwards (seed 000 §四(六)5).
    Rated {
        /// The service's (lead) ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// The window that served it.
        window: WindowNo,
        /// Who served it, if logged in.
        staff: Option<StaffId>,
        /// 1–5.
        rating: Rating,
        /// When.
        at: Timestamp,
    },
    /// A slot was booked (SPEC §2 item 9).
    Booked {
        /// The booking.
        booking: NewAppointment,
        /// When.
        at: Timestamp,
    },
    /// A booking was cancelled (§四(七)7 when by the hall).
    BookingCancelled {
        /// The booking code.
        code: String,
        /// The hall cancelled, not the visitor.
        by_hall: bool,
        /// When.
        at: Timestamp,
    },
    /// A booking was checked in; the `Issued` of its ticket follows.
    CheckedIn {
        /// The booking code.
        code: String,
        /// Its appointment-lane ticket.
        ticket: TicketNo,
        /// When.
        at: Timestamp,
    },
    /// A booking was forfeited: checked in more than 30 minutes after its
    /// start (§四(七)8).
    BookingForfeited {
        /// The booking code.
        code: String,
        /// When.
        at: Timestamp,
    },
    /// An admin changed one day's slots.
    SlotsAdjusted {
        /// The day.
        day: BusinessDay,
        /// What changed.
        change: SlotChange,
        /// When.
        at: Timestamp,
    },
    /// A visitor left a mobile number for a waiting ticket issued without
    /// one (after a failed print). Added after the rest: the journal
    /// stores an event's variant index, so older journals replay as they
    /// were written.
    PhoneAttached {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// The number left.
        phone: Phone,
        /// People ahead of it now.
        position: u32,
        /// §7.3.5 holds already (its reminder is past): the confirmation
        /// says "come to the waiting area" and no separate reminder follows.
        approaching: bool,
        /// When.
        at: Timestamp,
    },
    /// The visitor stepped back from their phone ("I need more time",
    /// issue 18): the ticket went `places` places back in its lane, or
    /// last if the lane was shorter. Added after the rest.
    SteppedBack {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// How many places it was to go back.
        places: u32,
        /// People ahead of it now.
        position: u32,
        /// When.
        at: Timestamp,
    },
    /// The visitor gave the ticket up from their phone ("I'm leaving",
    /// issue 18). Added after the rest.
    Left {
        /// The ticket.
        ticket: TicketId,
        /// Its number.
        number: TicketNo,
        /// The window that had called it, if it was called: free again.
        called_to: Option<WindowNo>,
        /// When.
        at: Timestamp,
    },
    /// A bad rating opened a 差评工单 (seed 000 §四(六)6), its deadline
    /// fixed (issue 21). Follows the `Finished` or `Rated` in the same
    /// record. Added after the rest.
    WorkOrderOpened {
        /// The work order.
        order: WorkOrder,
        /// When.
        at: Timestamp,
    },
    /// 回访: the visitor was called back.
    WorkOrderCalledBack {
        /// The work order.
        id: u64,
        /// 回访记录.
        note: String,
        /// When.
        at: Timestamp,
    },
    /// A work order was handled and closed.
    WorkOrderClosed {
        /// The work order.
        id: u64,
        /// 处理结果.
        note: String,
        /// When.
        at: Timestamp,
    },
    /// 申诉复核: a rating was set aside (kept here and in the export,
    /// counted in no satisfaction figure).
    RatingAppealed {
        /// The business day of the service.
        day: BusinessDay,
        /// The service's (lead) ticket.
        ticket: TicketNo,
        /// The rating set aside.
        rating: Rating,
        /// Why.
        reason: String,
        /// When.
        at: Timestamp,
    },
    /// An alert was raised (issue 21), to be sent to `notify`.
    AlertRaised {
        /// The alert.
        alert: AlertView,
        /// The managers' phones it goes to (decided when raised, so a
        /// replay makes the same messages whatever the config says now).
        notify: Vec<Phone>,
        /// It also goes, once, to the bridge's alerts webhook.
        webhook: bool,
        /// When.
        at: Timestamp,
    },
    /// An active alert was cleared: its condition ended.
    AlertCleared {
        /// The alert's id.
        id: String,
        /// When.
        at: Timestamp,
    },
}

impl Event {
    /// When it happened.
    pub fn at(&self) -> Timestamp {
        match self {
            Event::DayBegun { at, .. }
            | Event::IssuingClosed { at }
            | Event::IssuingOpened { at }
            | Event::Issued { at, .. }
            | Event::Approaching { at, .. }
            | Event::Called { at, .. }
            | Event::Recalled { at, .. }
            | Event::Started { at, .. }
            | Event::Finished { at, .. }
            | Event::NoShow { at, .. }
            | Event::Reinstated { at, .. }
            | Event::Transferred { at, .. }
            | Event::WindowOpened { at, .. }
            | Event::WindowClosed { at, .. }
            | Event::WindowPaused { at, .. }
            | Event::WindowResumed { at, .. }
            | Event::StaffLoggedIn { at, .. }
            | Event::StaffLoggedOut { at, .. }
            | Event::Reconfigured { at, .. }
            | Event::ServedWith { at, .. }
            | Event::Rated { at, .. } => *at,
            Event::Booked { at, .. }
            | Event::BookingCancelled { at, .. }
            | Event::CheckedIn { at, .. }
            | Event::BookingForfeited { at, .. }
            | Event::SlotsAdjusted { at, .. }
            | Event::PhoneAttached { at, .. }
            | Event::SteppedBack { at, .. }
            | Event::Left { at, .. } => *at,
            Event::WorkOrderOpened { at, .. }
            | Event::WorkOrderCalledBack { at, .. }
            | Event::WorkOrderClosed { at, .. }
            | Event::RatingAppealed { at, .. }
            | Event::AlertRaised { at, .. }
            | Event::AlertCleared { at, .. } => *at,
        }
    }
}
