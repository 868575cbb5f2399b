//! Commands: everything that can happen in a hall, as plain data.

use hallq_proto::types::{ItemCode, Lane, Phone, Post, Rating, StaffId, TicketNo, WindowNo};
use serde::{Deserialize, Serialize};

use hallq_proto::appointment::{Channel, SlotAt, SlotChange};

use super::HallSpec;

/// A business day, as `yyyymmdd` (20261122). Ticket numbers restart with
/// each one (SPEC §2 item 11).
pub type BusinessDay = u32;

/// Where a window sends its current ticket (首问负责: a referral keeps the
/// visitor's original issue time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTarget {
    /// To the line of another item, in the ticket's lane, at the place its
    /// original issue time gives it.
    Item(ItemCode),
    /// To one window, which takes it before its other lines.
    Window(WindowNo),
}

/// One thing that happens in a hall. Applied by [`super::Hall::apply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Starts a business day: ticket numbers restart, tickets left over
    /// from an earlier day expire, windows close and staff are logged out.
    BeginDay {
        /// The day, `yyyymmdd`; must be later than the current one.
        day: BusinessDay,
    },
    /// Closing time (seed 000 §四(八)5): no new walk-in or priority tickets;
    /// everyone already waiting is still served. Appointments still check in.
    CloseIssuing,
    /// Undoes [`Command::CloseIssuing`] (extended hours, a mistake).
    OpenIssuing,
    /// A kiosk issues a ticket (DB33/T 2036.4 §7.3.4).
    Issue {
        /// The item the visitor comes for.
        item: ItemCode,
        /// Appointment, priority (with its reason) or walk-in.
        lane: Lane,
        /// For SMS notifications, if the visitor gave one.
        phone: Option<Phone>,
    },
    /// The window calls the next ticket by the call policy.
    CallNext {
        /// The calling window.
        window: WindowNo,
    },
    /// The window calls one waiting ticket by its number.
    CallTicket {
        /// The calling window.
        window: WindowNo,
        /// The waiting ticket to call.
        ticket: TicketNo,
    },
    /// Announces the window's called ticket again.
    Recall {
        /// The window.
        window: WindowNo,
    },
    /// The called visitor arrived; service starts.
    Start {
        /// The window.
        window: WindowNo,
    },
    /// Service is done, optionally rated 1–5 by the visitor.
    Finish {
        /// The window.
        window: WindowNo,
        /// 好差评, if given.
        rating: Option<Rating>,
    },
    /// The called visitor did not come (过号).
    NoShow {
        /// The window.
        window: WindowNo,
    },
    /// A no-show visitor came back: back into their line, a few places
    /// behind its head.
    Reinstate {
        /// The no-show ticket.
        ticket: TicketNo,
    },
    /// The window hands its current ticket to another item or window.
    Transfer {
        /// The window.
        window: WindowNo,
        /// Where the ticket goes.
        to: TransferTarget,
    },
    /// 暂停办理: the window takes no calls until resumed.
    Pause {
        /// The window.
        window: WindowNo,
        /// Shown to visitors ("午休", "系统故障").
        reason: String,
    },
    /// The paused window takes calls again.
    Resume {
        /// The window.
        window: WindowNo,
    },
    /// The window opens for service.
    OpenWindow {
        /// The window.
        window: WindowNo,
    },
    /// The window closes (it must not have a current ticket).
    CloseWindow {
        /// The window.
        window: WindowNo,
    },
    /// A staff member logs in at the window on post A or B (AB岗).
    LogIn {
        /// The window.
        window: WindowNo,
        /// Who.
        staff: StaffId,
        /// A or B.
        post: Post,
    },
    /// The staff member at the window logs out.
    LogOut {
        /// The window.
        window: WindowNo,
    },
    /// The hall's configuration changed (a reload): new items, windows,
    /// mappings and settings take effect; every waiting ticket keeps its
    /// place. Refused if it would strand a ticket: an item with tickets
    /// today, or a window that is not closed or has referrals, cannot go.
    Reconfigure {
        /// The new configuration.
        spec: HallSpec,
    },
    /// 好差评 given after the service (seed 000 §四(六)5): one rating per
    /// service. A ticket served in a batch rates the batch's service.
    Rate {
        /// The finished ticket (today's).
        ticket: TicketNo,
        /// 1 非常不满意 … 5 非常满意.
        rating: Rating,
        /// The rating terminal's window, if it asks for its own services
        /// only (a window token may rate only what it served).
        window: Option<WindowNo>,
    },
    /// The window finishes its current ticket together with waiting tickets
    /// of the same item the same visitor brought (a batch, 批量办理): one
    /// service, so one rating (seed 000 §四(六)5).
    FinishBatch {
        /// The window.
        window: WindowNo,
        /// The other tickets served with the current one.
        with: Vec<TicketNo>,
        /// 好差评 for the whole batch, if given.
        rating: Option<Rating>,
    },
    /// Books a slot (seed 000 §四(七)): a booking code, or a refusal for a
    /// full, past or unknown slot or a day closed for bookings.
    Book {
        /// The item.
        item: ItemCode,
        /// The slot's start, hall's local time.
        slot: SlotAt,
        /// For the confirmation SMS and reminders.
        phone: Phone,
        /// On-site, phone or online.
        channel: Channel,
        /// The booking code, chosen by the daemon from a CSPRNG (see
        /// [`appointment::random_code`](crate::appointment::random_code)):
        /// decided outside the core so the core stays pure, and carried in
        /// the `Booked` event so a replay gives every booking its code.
        code: String,
    },
    /// Cancels a booking: by the visitor any time, by the hall at least 8
    /// hours before the slot (§四(七)7). The visitor is told either way.
    CancelBooking {
        /// The booking code.
        code: String,
        /// The hall cancels.
        by_hall: bool,
        /// The last digits of the booking's phone, the visitor's proof
        /// (SPEC §6); `None` only for an admin.
        phone_tail: Option<String>,
    },
    /// A visitor checks a booking in at a kiosk (§四(七)8): an
    /// appointment-lane ticket, or the booking forfeited if too late.
    CheckIn {
        /// The booking code.
        code: String,
    },
    /// An admin changes one day's slots.
    AdjustSlots {
        /// The day.
        day: BusinessDay,
        /// What changes.
        change: SlotChange,
    },
    /// Forfeits every booking whose check-in window has passed unused
    /// (§四(七)8: more than 30 minutes after its start), so the visitor is
    /// told and the statistics count it even if nobody ever comes. Run by
    /// the daemon's timer; a no-op when nothing is due.
    ForfeitOverdue,
    /// A visitor leaves a mobile number for their waiting ticket after the
    /// kiosk could not print it: from now on the ticket gets the §7.3.5
    /// reminder and the §7.3.6 call by SMS, as if issued with the number.
    /// Only a waiting ticket without a phone may get one.
    AttachPhone {
        /// The waiting ticket.
        ticket: TicketNo,
        /// The visitor's mobile number.
        phone: Phone,
    },
    /// "I need more time" (issue 18): the visitor, from their phone, moves
    /// their waiting ticket `places` places back in its lane, once per
    /// ticket, as a reinstated no-show goes a few places behind the head.
    StepBack {
        /// The waiting ticket.
        ticket: TicketNo,
        /// How many places (the hall's `step_back_places`, at least 1).
        places: u32,
    },
    /// "I'm leaving" (issue 18): the visitor gives up their ticket, waiting
    /// or called; a window that had called it is free again.
    Leave {
        /// The ticket.
        ticket: TicketNo,
    },
    /// Alerts raised and cleared by the daemon's [`crate::Tracker`] (issue
    /// 21). A raise of an active id or a clear of an inactive one is
    /// skipped, so a repeated command changes nothing.
    RecordAlerts {
        /// What to raise and clear.
        changes: Vec<crate::AlertChange>,
        /// The managers' phones a raised alert goes to.
        notify: Vec<Phone>,
        /// A raised alert also goes, once, to the bridge's alerts webhook.
        webhook: bool,
    },
    /// 回访 of an open work order (issue 21).
    CallBackWorkOrder {
        /// The work order.
        id: u64,
        /// 回访记录.
        note: String,
    },
    /// Close a work order, open or called back (issue 21).
    CloseWorkOrder {
        /// The work order.
        id: u64,
        /// 处理结果.
        note: String,
    },
    /// 申诉复核 (issue 21): set a service's rating aside.
    AppealRating {
        /// The service's ticket.
        ticket: TicketNo,
        /// Its business day; today if `None`.
        day: Option<BusinessDay>,
        /// Why.
        reason: String,
    },
}

impl Command {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::BeginDay { .. } => "begin_day",
            Command::CloseIssuing => "close_issuing",
            Command::OpenIssuing => "open_issuing",
            Command::Issue { .. } => "issue",
            Command::CallNext { .. } => "call_next",
            Command::CallTicket { .. } => "call_ticket",
            Command::Recall { .. } => "recall",
            Command::Start { .. } => "start",
            Command::Finish { .. } => "finish",
            Command::NoShow { .. } => "no_show",
            Command::Reinstate { .. } => "reinstate",
            Command::Transfer { .. } => "transfer",
            Command::Pause { .. } => "pause",
            Command::Resume { .. } => "resume",
            Command::OpenWindow { .. } => "open_window",
            Command::CloseWindow { .. } => "close_window",
            Command::LogIn { .. } => "log_in",
            Command::LogOut { .. } => "log_out",
            Command::Reconfigure { .. } => "reconfigure",
            Command::ForfeitOverdue => "forfeit_overdue",
            Command::Rate { .. } => "rate",
            Command::FinishBatch { .. } => "finish_batch",
            Command::Book { .. } => "book",
            Command::CancelBooking { .. } => "cancel_booking",
            Command::CheckIn { .. } => "check_in",
            Command::AdjustSlots { .. } => "adjust_slots",
            Command::AttachPhone { .. } => "attach_phone",
            Command::StepBack { .. } => "step_back",
            Command::Leave { .. } => "leave",
            Command::RecordAlerts { .. } => "record_alerts",
            Command::CallBackWorkOrder { .. } => "call_back_work_order",
            Command::CloseWorkOrder { .. } => "close_work_order",
            Command::AppealRating { .. } => "appeal_rating",
        }
    }
}
