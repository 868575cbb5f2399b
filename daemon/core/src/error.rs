//! Why a command was refused. Every refusal leaves the hall unchanged.

use hallq_proto::types::{ItemCode, TicketNo, WindowNo};
use hallq_proto::views::TicketState;
use hallq_proto::ErrorCode;

/// A command the hall cannot carry out, with a stable code for clients
/// ([`DispatchError::code`]) and a message for people.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DispatchError {
    /// The hall's configuration is inconsistent.
    #[error("invalid hall: {0}")]
    InvalidSpec(String),
    /// No business day has begun yet.
    #[error("the hall has not begun a business day")]
    NoBusinessDay,
    /// A day must be later than the current one.
    #[error("business day {requested} is not after the current day {current}")]
    DayNotLater {
        /// The current day.
        current: u32,
        /// The day asked for.
        requested: u32,
    },
    /// No item with this code.
    #[error("the hall has no item {0}")]
    UnknownItem(ItemCode),
    /// No window with this number.
    #[error("the hall has no window {0}")]
    UnknownWindow(WindowNo),
    /// No ticket with this number today.
    #[error("there is no ticket {0} today")]
    UnknownTicket(TicketNo),
    /// The item's daily cap is reached.
    #[error("item {item} has reached its daily limit of {cap} tickets")]
    DailyCapReached {
        /// The item.
        item: ItemCode,
        /// Its cap.
        cap: u32,
    },
    /// Closing time: no new walk-in or priority tickets.
    #[error("the hall has closed for new tickets today; visitors already waiting will be served")]
    IssuingClosed,
    /// The window is closed or paused.
    #[error("window {window} is {state}, not open")]
    WindowNotOpen {
        /// The window.
        window: WindowNo,
        /// "closed" or "paused".
        state: &'static str,
    },
    /// The window is already in the state asked for.
    #[error("window {window} is already {state}")]
    WindowAlready {
        /// The window.
        window: WindowNo,
        /// "open", "paused", "closed".
        state: &'static str,
    },
    /// The window still has a ticket called or in service.
    #[error("window {window} still has ticket {ticket}: finish it, mark it a no-show or transfer it first")]
    WindowBusy {
        /// The window.
        window: WindowNo,
        /// Its current ticket.
        ticket: TicketNo,
    },
    /// The window has no current ticket.
    #[error("window {0} has no current ticket")]
    NoCurrentTicket(WindowNo),
    /// Nothing this window serves is waiting.
    #[error("no ticket is waiting for window {0}")]
    NothingWaiting(WindowNo),
    /// The ticket is not in the state the command needs.
    #[error("ticket {ticket} is {state:?}, not {expected}")]
    WrongTicketState {
        /// The ticket.
        ticket: TicketNo,
        /// Its state.
        state: TicketState,
        /// What the command needs.
        expected: &'static str,
    },
    /// The window does not serve the ticket's item.
    #[error("window {window} does not serve item {item}")]
    NotServedHere {
        /// The window.
        window: WindowNo,
        /// The item.
        item: ItemCode,
    },
    /// A transfer to where the ticket already is.
    #[error("ticket {0} is already in that line")]
    SameLine(TicketNo),
    /// A transfer to a window that is closed.
    #[error("window {0} is closed and cannot take a transferred ticket")]
    TargetClosed(WindowNo),
    /// Someone is already logged in at the window.
    #[error("staff {staff} is already logged in at window {window}; log out first")]
    StaffAlreadyLoggedIn {
        /// The window.
        window: WindowNo,
        /// Who.
        staff: String,
    },
    /// Nobody is logged in at the window.
    #[error("nobody is logged in at window {0}")]
    NoStaff(WindowNo),
    /// A new configuration would strand tickets or windows.
    #[error("the new configuration cannot be applied now: {0}")]
    ReconfigureRefused(String),
    /// A text field is too long.
    #[error("{field} is too long: at most {max} characters")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its limit.
        max: usize,
    },
    /// The service was rated already: one rating per service (seed 000
    /// §四(六)5; a batch is one service).
    #[error("ticket {0}'s service has been rated already; one rating per service")]
    AlreadyRated(TicketNo),
    /// A window may rate only the services it gave.
    #[error("ticket {ticket} was not served at window {window}")]
    NotServedAt {
        /// The ticket.
        ticket: TicketNo,
        /// The window that tried to rate it.
        window: WindowNo,
    },
    /// A batch names a ticket that cannot join it.
    #[error("ticket {ticket} cannot be served in this batch: {why}")]
    NotInBatch {
        /// The ticket.
        ticket: TicketNo,
        /// Why not.
        why: &'static str,
    },
    /// Seed 000 §四(八)5: closing time; waiting tickets are still served.
    #[error(
        "the hall is closed for today, opens at {opens}; visitors already waiting will be served"
    )]
    HallClosed {
        /// When it opens next, for people.
        opens: String,
    },
    /// The item has no appointment slots.
    #[error("item {0} takes no appointments")]
    NotBookable(ItemCode),
    /// No such slot.
    #[error("item {item} has no slot at {slot}")]
    NoSuchSlot {
        /// The item.
        item: ItemCode,
        /// The slot asked for.
        slot: String,
    },
    /// The slot has begun or is over.
    #[error("the slot at {0} has already begun; choose a later one")]
    SlotPast(String),
    /// The slot is fully booked.
    #[error("the slot of item {item} at {slot} is full ({capacity} bookings); choose another")]
    SlotFull {
        /// The item.
        item: ItemCode,
        /// The slot.
        slot: String,
        /// Its capacity.
        capacity: u32,
    },
    /// An admin closed the day for bookings.
    #[error("{0} is closed for bookings")]
    BookingDayClosed(String),
    /// No booking with this code.
    #[error("there is no booking {0}")]
    UnknownBooking(String),
    /// The booking was checked in, cancelled or forfeited already.
    #[error("booking {code} is {state}")]
    BookingNotActive {
        /// The code.
        code: String,
        /// Its state, for people.
        state: &'static str,
    },
    /// Check-in before the allowed time.
    #[error("too early: booking {code} can be checked in from {from}")]
    CheckInTooEarly {
        /// The code.
        code: String,
        /// From when, local time.
        from: String,
    },
    /// Check-in outside opening hours for a regular slot.
    #[error("the hall is closed, opens at {opens}; only appointments booked for extended hours check in now")]
    CheckInOutsideHours {
        /// When it opens next.
        opens: String,
    },
    /// §四(七)7: a hall cancels at least 8 hours ahead.
    #[error("booking {code} for {slot} is less than 8 hours away: the hall may no longer cancel it (§四(七)7)")]
    HallCancelTooLate {
        /// The code.
        code: String,
        /// The slot.
        slot: String,
    },
    /// An admin's slot change does not make sense.
    #[error("cannot change the slots: {0}")]
    BadSlotChange(String),
    /// The code the daemon chose for a new booking belongs to another.
    #[error("booking code {0} is taken")]
    BookingCodeTaken(String),
    /// A cancellation's code and phone digits match no active booking.
    #[error("no booking {code} with a phone ending in {tail}")]
    BookingProofMismatch {
        /// The code as given.
        code: String,
        /// The digits as given.
        tail: String,
    },
    /// SPEC §6: one phone books at most this many appointments a day.
    #[error("this phone has {limit} bookings on {day} already, the most allowed")]
    PhoneBookingLimit {
        /// The day.
        day: String,
        /// The limit.
        limit: u32,
    },
    /// SPEC §6: one phone holds at most this many active tickets of an item.
    #[error("this phone already holds {limit} active ticket(s) of item {item}")]
    PhoneTicketLimit {
        /// The item.
        item: ItemCode,
        /// The limit.
        limit: u32,
    },
    /// The ticket has a phone number already: one per ticket.
    #[error("ticket {0} already has a phone number")]
    PhoneAlreadyGiven(TicketNo),
    /// The hall calls only with staff logged in (`require_login_to_call`).
    #[error("window {0} calls only with staff logged in: log in first")]
    LoginRequired(WindowNo),
    /// The hall's minimum before a no-show is not reached yet
    /// (`no_show_min_seconds`, `no_show_after_recall`).
    #[error("ticket {ticket} was called {waited_secs} s ago: a no-show needs {min_secs} s{}", if *.recall_needed { " and a recall first" } else { "" })]
    NoShowTooSoon {
        /// The ticket.
        ticket: TicketNo,
        /// Seconds since it was called.
        waited_secs: u64,
        /// The hall's minimum.
        min_secs: u32,
        /// It has not been recalled and the hall asks for a recall first.
        recall_needed: bool,
    },
    /// The visitor has stepped back once already (issue 18).
    #[error("ticket {0} has stepped back once already; once per ticket")]
    AlreadySteppedBack(TicketNo),
    /// No work order with this number (issue 21).
    #[error("there is no work order {0}")]
    UnknownWorkOrder(u64),
    /// The work order's state does not allow the action.
    #[error("work order {id} is {state:?}: that is not allowed now")]
    WorkOrderState {
        /// The work order.
        id: u64,
        /// Its state.
        state: hallq_proto::console::WorkOrderState,
    },
    /// A note or reason is required.
    #[error("a note is required")]
    NoteRequired,
    /// The service has no rating to appeal.
    #[error("ticket {0}'s service has no rating that day")]
    NotRated(TicketNo),
    /// The rating was appealed already.
    #[error("ticket {0}'s rating was appealed already")]
    AlreadyAppealed(TicketNo),
}

impl DispatchError {
    /// A stable, machine-readable code: clients and scripts match on it.
    pub fn code(&self) -> ErrorCode {
        match self {
            DispatchError::InvalidSpec(_) => ErrorCode::InvalidSpec,
            DispatchError::NoBusinessDay => ErrorCode::NoBusinessDay,
            DispatchError::DayNotLater { .. } => ErrorCode::DayNotLater,
            DispatchError::UnknownItem(_) => ErrorCode::UnknownItem,
            DispatchError::UnknownWindow(_) => ErrorCode::UnknownWindow,
            DispatchError::UnknownTicket(_) => ErrorCode::UnknownTicket,
            DispatchError::DailyCapReached { .. } => ErrorCode::DailyCapReached,
            DispatchError::IssuingClosed => ErrorCode::IssuingClosed,
            DispatchError::WindowNotOpen { .. } => ErrorCode::WindowNotOpen,
            DispatchError::WindowAlready { .. } => ErrorCode::WindowAlready,
            DispatchError::WindowBusy { .. } => ErrorCode::WindowBusy,
            DispatchError::NoCurrentTicket(_) => ErrorCode::NoCurrentTicket,
            DispatchError::NothingWaiting(_) => ErrorCode::NothingWaiting,
            DispatchError::WrongTicketState { .. } => ErrorCode::WrongTicketState,
            DispatchError::NotServedHere { .. } => ErrorCode::NotServedHere,
            DispatchError::SameLine(_) => ErrorCode::SameLine,
            DispatchError::TargetClosed(_) => ErrorCode::TargetClosed,
            DispatchError::StaffAlreadyLoggedIn { .. } => ErrorCode::StaffAlreadyLoggedIn,
            DispatchError::NoStaff(_) => ErrorCode::NoStaff,
            DispatchError::TooLong { .. } => ErrorCode::TooLong,
            DispatchError::ReconfigureRefused(_) => ErrorCode::ReconfigureRefused,
            DispatchError::AlreadyRated(_) => ErrorCode::AlreadyRated,
            DispatchError::PhoneAlreadyGiven(_) => ErrorCode::PhoneAlreadyGiven,
            DispatchError::NotServedAt { .. } => ErrorCode::NotServedAt,
            DispatchError::NotInBatch { .. } => ErrorCode::NotInBatch,
            DispatchError::HallClosed { .. } => ErrorCode::HallClosed,
            DispatchError::NotBookable(_) => ErrorCode::NotBookable,
            DispatchError::NoSuchSlot { .. } => ErrorCode::NoSuchSlot,
            DispatchError::SlotPast(_) => ErrorCode::SlotPast,
            DispatchError::SlotFull { .. } => ErrorCode::SlotFull,
            DispatchError::BookingDayClosed(_) => ErrorCode::BookingDayClosed,
            DispatchError::UnknownBooking(_) => ErrorCode::UnknownBooking,
            DispatchError::BookingNotActive { .. } => ErrorCode::BookingNotActive,
            DispatchError::CheckInTooEarly { .. } => ErrorCode::CheckInTooEarly,
            DispatchError::CheckInOutsideHours { .. } => ErrorCode::CheckInOutsideHours,
            DispatchError::HallCancelTooLate { .. } => ErrorCode::HallCancelTooLate,
            DispatchError::BadSlotChange(_) => ErrorCode::BadSlotChange,
            DispatchError::BookingCodeTaken(_) => ErrorCode::BookingCodeTaken,
            DispatchError::BookingProofMismatch { .. } => ErrorCode::BookingProofMismatch,
            DispatchError::PhoneBookingLimit { .. } => ErrorCode::PhoneBookingLimit,
            DispatchError::PhoneTicketLimit { .. } => ErrorCode::PhoneTicketLimit,
            DispatchError::LoginRequired(_) => ErrorCode::LoginRequired,
            DispatchError::NoShowTooSoon { .. } => ErrorCode::NoShowTooSoon,
            DispatchError::AlreadySteppedBack(_) => ErrorCode::AlreadySteppedBack,
            DispatchError::UnknownWorkOrder(_) => ErrorCode::UnknownWorkOrder,
            DispatchError::WorkOrderState { .. } => ErrorCode::WorkOrderState,
            DispatchError::NoteRequired => ErrorCode::NoteRequired,
            DispatchError::NotRated(_) => ErrorCode::NotRated,
            DispatchError::AlreadyAppealed(_) => ErrorCode::AlreadyAppealed,
        }
    }
}
