//! The hallq wire protocol, versions 1, 1.1 and 2 (ALPN `hallq/1`,
//! `hallq/1.1`, `hallq/2`): the one contract `hallqd` and every client
//! compile against.
//!
//! A connection starts with one bidirectional stream carrying [`Hello`] and
//! its [`Welcome`] (or an [`ErrorReply`], after which the daemon closes the
//! connection). After that, every request opens its own bidirectional
//! stream: one [`Request`] frame, one [`Response`] frame. Two requests are
//! streams that never wait on each other.
//!
//! [`Request::Watch`] and [`Request::Notifications`] keep their stream open:
//! the daemon writes a [`Response::Watching`] / [`Response::Notifying`] and
//! then one frame per change ([`DisplayUpdate`], [`Notification`]); a
//! notifier writes [`NotifierMessage::Ack`] frames back on the same stream.
//!
//! Protocol `hallq/1.1` (ALPN [`crate::codec::ALPN_CHANGE_IDS`]) is this
//! protocol plus [`Request::Once`]: a change wrapped with the client's
//! [`ChangeId`], carried out at most once however often it is sent (SPEC
//! §6). A daemon that offers `hallq/1.1` takes it; a client sends it only
//! when the daemon chose `hallq/1.1`.
//!
//! Protocol `hallq/2` (ALPN [`crate::codec::ALPN_PIPELINE`]) is `hallq/1.1`
//! plus [`Request::Pipeline`]: after the hello, a client opens one stream,
//! sends `Pipeline` on it and then any number of [`Tagged`] requests
//! without waiting; the daemon answers [`Response::Pipelining`] and then
//! one [`Tagged`] answer per request, with the request's tag, in the order
//! the answers are ready (a change's once it is durable). Many requests in
//! flight on one stream, no stream per request, and the answers finished
//! by one group commit leave in one write. Tag 0 is the daemon's: a
//! `Tagged { tag: 0, body: Response::Error(..) }` says why it ends the
//! pipeline (a malformed frame), after which it closes the connection.
//! Subscriptions keep a stream of their own, as in protocol 1.
//!
//! Frames are built by [`crate::codec`], the only place that knows how.

use serde::{Deserialize, Serialize};

use crate::appointment::{AppointmentView, Channel, DayAppointments, SlotAt, SlotChange};
use crate::code::ErrorCode;
use crate::types::{ItemCode, Lane, Post, Rating, Role, StaffId, TicketNo, Timestamp, WindowNo};
use crate::views::{
    BoardLines, HallView, KioskView, PrintFailures, TicketFollow, WaitingTicket, WindowView,
};

/// The first frame of a connection. Its `Debug` masks the token, so a
/// hello that ends up in a log or an error message does not carry it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The client's token from the daemon's config.
    pub token: String,
    /// The hall to act in; needed only by an admin token that covers every
    /// hall while the daemon serves more than one.
    pub hall: Option<String>,
    /// What the client is, for the daemon's logs ("hallq 0.1.0").
    pub client: String,
}

impl std::fmt::Debug for Hello {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hello")
            .field("token", &"***")
            .field("hall", &self.hall)
            .field("client", &self.client)
            .finish()
    }
}

#[cfg(test)]
mod hello_tests {
    use super::Hello;

    #[test]
    fn debug_masks_the_token() {
        let hello = Hello {
            token: "secret-token-0123456789".into(),
            hall: Some("main".into()),
            client: "hallq 0.1.0".into(),
        };
        let shown = format!("{hello:?} {hello:#?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(shown.contains("***") && shown.contains("main"), "{shown}");
    }
}

/// The daemon's answer to a good [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// What this connection may do.
    pub role: Role,
    /// The hall it acts in.
    pub hall: String,
    /// The hall's name for people.
    pub hall_name: String,
    /// For a window terminal, its window.
    pub window: Option<WindowNo>,
}

/// Where a window sends its current ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Another item's line (the ticket keeps its original issue time).
    Item(ItemCode),
    /// One window's own line.
    Window(WindowNo),
}

/// A window's action. `window` names the window; a window terminal may
/// leave it out (it acts on its own window and on no other).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowAction {
    /// Call the next ticket by the call policy, or one ticket by number.
    Call {
        /// A waiting ticket to call instead of the next.
        ticket: Option<TicketNo>,
    },
    /// Announce the called ticket again.
    Recall,
    /// The visitor arrived: service starts.
    Start,
    /// Service done, with the visitor's rating if given.
    Finish {
        /// 1–5.
        rating: Option<Rating>,
    },
    /// The visitor did not come (过号).
    NoShow,
    /// Hand the current ticket on.
    Transfer {
        /// Where to.
        to: Target,
    },
    /// 暂停办理.
    Pause {
        /// Shown to visitors.
        reason: String,
    },
    /// End a pause.
    Resume,
    /// Open the window.
    Open,
    /// Close the window.
    Close,
    /// Staff log in (AB岗).
    Login {
        /// 工号.
        staff: StaffId,
        /// A or B.
        post: Post,
    },
    /// Staff log out.
    Logout,
    /// Service done for the current ticket and waiting tickets of the same
    /// item served with it (批量办理): one service, one rating (seed 000
    /// §四(六)5).
    FinishBatch {
        /// The other tickets served together with the current one.
        with: Vec<TicketNo>,
        /// 1–5, for the whole batch.
        rating: Option<Rating>,
    },
}

impl WindowAction {
    /// The action's name, as `hallq` spells the command.
    pub fn name(&self) -> &'static str {
        match self {
            WindowAction::Call { .. } => "call",
            WindowAction::Recall => "recall",
            WindowAction::Start => "start",
            WindowAction::Finish { .. } => "finish",
            WindowAction::NoShow => "no-show",
            WindowAction::Transfer { .. } => "transfer",
            WindowAction::Pause { .. } => "pause",
            WindowAction::Resume => "resume",
            WindowAction::Open => "open",
            WindowAction::Close => "close",
            WindowAction::Login { .. } => "login",
            WindowAction::Logout => "logout",
            WindowAction::FinishBatch { .. } => "finish",
        }
    }
}

/// One request, on its own stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Issue a ticket (kiosk, admin). Appointment-lane tickets come from a
    /// booking's check-in and are for admins only here.
    Issue {
        /// The item.
        item: ItemCode,
        /// Walk-in or priority (with its reason).
        lane: Lane,
        /// For SMS notifications, as the visitor typed it.
        phone: Option<String>,
    },
    /// A window's action (window terminal for its own window, admin).
    Window {
        /// The window; a window terminal may leave it out.
        window: Option<WindowNo>,
        /// What to do.
        action: WindowAction,
    },
    /// Put a no-show back into its line (window, admin).
    Reinstate {
        /// The no-show ticket.
        ticket: TicketNo,
    },
    /// Stop issuing walk-in tickets: closing time (admin).
    CloseIssuing,
    /// Resume issuing walk-in tickets (admin).
    OpenIssuing,
    /// Every window and every waiting ticket (every role but notifier).
    Status,
    /// Subscribe to the hall's display stream (display, admin).
    Watch,
    /// Subscribe to the notification outbox (notifier, admin).
    Notifications,
    /// Re-read the daemon's config file (admin), as SIGHUP does.
    Reload,
    /// Journal writable, last fsync age, halls loaded (admin).
    Health,
    /// 好差评 after the service (window for what it served, admin): one
    /// rating per service.
    Rate {
        /// A ticket finished today.
        ticket: TicketNo,
        /// 1–5.
        rating: Rating,
    },
    /// Statistics of one business day, from the journal (admin).
    Stats {
        /// `yyyymmdd`; the current business day if left out.
        day: Option<u32>,
        /// Broken down by item, window or staff, besides the totals.
        by: Option<StatsBy>,
    },
    /// One page of per-ticket records of a business day (admin).
    Export {
        /// `yyyymmdd`.
        day: u32,
        /// The first record wanted (0, then each answer's `next`).
        from: u32,
    },
    /// Book a slot (kiosk, admin): answered with [`Response::Booked`].
    Book {
        /// The item.
        item: ItemCode,
        /// The slot's start, hall's local time.
        slot: SlotAt,
        /// The visitor's phone, for the confirmation SMS.
        phone: String,
        /// How the booking was made.
        channel: Channel,
    },
    /// A day's slots and bookings (kiosk, admin); today if `day` is `None`.
    Bookings {
        /// `yyyymmdd`.
        day: Option<u32>,
    },
    /// Cancel a booking (kiosk, admin). By the visitor any time; by the
    /// hall (admin only) at least 8 hours before the slot (§四(七)7).
    CancelBooking {
        /// The booking code.
        code: String,
        /// The hall cancels, not the visitor.
        by_hall: bool,
    },
    /// Check a booking in (kiosk, admin): answered with the
    /// appointment-lane ticket as [`Response::Issued`].
    CheckIn {
        /// The booking code.
        code: String,
    },
    /// Change one day's slots (admin); answered with [`Response::Bookings`].
    AdjustSlots {
        /// `yyyymmdd`.
        day: u32,
        /// What to change.
        change: SlotChange,
    },
    /// What a kiosk's start screen shows (kiosk, admin): answered with
    /// [`Response::KioskView`]. Added after the rest so that older peers'
    /// variant numbers stay as they were.
    KioskView,
    /// A kiosk could not print ticket `ticket` (kiosk, admin): the ticket
    /// stays issued (the visitor has its number on the screen); the hall
    /// counts and shows the failure. Answered with [`Response::PrintFailures`].
    PrintFailed {
        /// The ticket whose slip did not print.
        ticket: TicketNo,
        /// Why, as the kiosk saw it.
        reason: String,
    },
    /// The hall's print failures (every role but notifier and display).
    PrintFailures,
    /// The hall's status with one page of its waiting list: at most
    /// `limit` (capped at [`WAITING_PAGE_MAX`]) waiting tickets from place
    /// `from` on, in [`Status`]'s order (every role but notifier); answered
    /// with [`Response::StatusPage`]. Every answer fits one frame at any
    /// hall size (issue 19).
    StatusPage {
        /// The first place in the waiting list to include (0: the first).
        from: u32,
        /// How many waiting tickets at most.
        limit: u32,
    },
    /// Cancel a booking for the visitor, who proves it is theirs with the
    /// last four digits of the phone it was booked with (kiosk, admin;
    /// SPEC §6). A kiosk must use this one: [`Request::CancelBooking`]
    /// from a kiosk is refused with `booking_proof_required`. Answered
    /// with [`Response::BookingCancelled`].
    CancelBookingWithPhone {
        /// The booking code.
        code: String,
        /// The phone's last four digits.
        phone_last4: String,
    },
    /// Leave a mobile number for a waiting ticket issued without one
    /// (kiosk, admin): after a failed print the visitor gets the §7.3.5
    /// reminder and the §7.3.6 call by SMS. Answered with
    /// [`Response::PhoneAttached`].
    AttachPhone {
        /// The waiting ticket.
        ticket: TicketNo,
        /// A mainland mobile number, as the visitor typed it.
        phone: String,
    },
    /// [`Request::Stats`] with what a manager asks for besides (admin,
    /// issue 17): 满意率, the share over the hall's waiting target, paused
    /// time, no-show rates, the day hour by hour. Answered with
    /// [`Response::Report`]; `Stats` stays as it was for older clients.
    Report {
        /// `yyyymmdd`; the current business day if left out.
        day: Option<u32>,
        /// Broken down by item, window or staff, besides the totals.
        by: Option<StatsBy>,
    },
    /// [`Request::Export`] with each record's trail (admin, issue 17): the
    /// original item, the transfers, waiting and service seconds, and the
    /// hall's zone for local times. The current business day if `day` is
    /// left out. Answered with [`Response::ExportDetailed`].
    ExportDetailed {
        /// `yyyymmdd`; the current business day if left out.
        day: Option<u32>,
        /// The first record wanted (0, then each answer's `next`).
        from: u32,
    },
    /// The next numbers of every line and the latest no-shows, for a
    /// board's 请…准备 and 过号 lists (display, admin). A board asks again
    /// after each display change; answered with [`Response::BoardLines`].
    /// A daemon that predates it cannot decode it (it answers
    /// `malformed_frame` and closes the connection), so a board that got
    /// that answer once does not ask again.
    BoardLines,
    /// The visitor's link of today's ticket `ticket` (kiosk, admin; issue
    /// 18): the slip prints it as its QR code. Answered with
    /// [`Response::FollowLink`].
    FollowLink {
        /// The ticket.
        ticket: TicketNo,
    },
    /// The ticket a visitor's link names, as the phone page shows it
    /// (visitor, admin). Answered with [`Response::Follow`].
    Follow {
        /// The link's capability token.
        token: String,
    },
    /// "I need more time": the waiting ticket steps back the hall's
    /// `step_back_places` places, once (visitor, admin). Answered with
    /// [`Response::Follow`].
    StepBack {
        /// The link's capability token.
        token: String,
    },
    /// "I'm leaving": the visitor gives the ticket up (visitor, admin).
    /// Answered with [`Response::Follow`].
    Leave {
        /// The link's capability token.
        token: String,
    },
    /// 好差评 by the visitor on their phone, after the service (visitor,
    /// admin): one rating per service. Answered with [`Response::Rated`].
    RateService {
        /// The link's capability token.
        token: String,
        /// 1–5.
        rating: Rating,
    },
    /// What the rating tablet at window `window` shows (visitor, admin;
    /// issue 18): the service finished there last, with the token that
    /// rates it while it is not rated. Answered with
    /// [`Response::WindowRating`].
    WindowRating {
        /// The window.
        window: WindowNo,
    },
    /// Replay a past day's arrivals through the dispatch core under another
    /// staffing (admin), or search tomorrow's rota (`search`). Answered
    /// with [`Response::Simulation`].
    Simulate(Box<crate::staffing::SimulationAsk>),
    /// Arrivals per hour per item for `day`, from the same weekday of the
    /// last `weeks` weeks (admin). Answered with [`Response::Forecast`].
    Forecast {
        /// The day to forecast, `yyyymmdd`.
        day: u32,
        /// How many past weeks to look at.
        weeks: u8,
    },
    /// 线上取号 (visitor, admin; issue 18 item 4): the hall page's items,
    /// with their waiting counts, as a kiosk's start screen shows them.
    /// Refused with `remote_tickets_off` unless the hall has
    /// `remote_tickets = true`. Answered with [`Response::KioskView`].
    RemoteHall,
    /// 线上取号: send a one-time code by SMS to `phone` for a walk-in
    /// ticket of `item` (visitor, admin). Answered with
    /// [`Response::CodeSent`].
    RemoteCode {
        /// The item.
        item: ItemCode,
        /// A mainland mobile number, as the visitor typed it.
        phone: String,
    },
    /// 线上取号: the code the SMS carried, for the walk-in ticket (visitor,
    /// admin). Answered with [`Response::FollowLink`]: the new ticket and
    /// its phone page's token.
    RemoteTicket {
        /// The item the code was sent for.
        item: ItemCode,
        /// The phone the code was sent to.
        phone: String,
        /// The six digits.
        code: String,
    },
    /// The hall manager's console (admin, issue 21): every window, every
    /// item, the open work orders, the failures and the active alerts, in
    /// one answer that fits one frame. Answered with [`Response::Console`].
    Console,
    /// The hall's alerts (admin): the active ones and, with
    /// `include_cleared_since` (unix seconds), those cleared since then,
    /// newest first, as many as fit one frame. Answered with
    /// [`Response::Alerts`].
    Alerts {
        /// Also the alerts cleared at or after this instant, unix seconds.
        include_cleared_since: Option<u64>,
    },
    /// The hall's 差评工单 (admin), by number: the open and called back
    /// ones, and with `include_closed` the closed ones too; from number
    /// `after + 1` on, as many as fit one frame. Answered with
    /// [`Response::WorkOrders`]; ask again with its `next` for more.
    WorkOrders {
        /// Closed ones too.
        include_closed: bool,
        /// Only work orders numbered above this (`None`: from the first).
        after: Option<u64>,
    },
    /// 回访 or close a work order (admin). Answered with
    /// [`Response::WorkOrder`]: the work order afterwards.
    WorkOrderUpdate {
        /// The work order's number.
        id: u64,
        /// What was done.
        action: crate::console::WorkOrderAction,
    },
    /// 申诉复核 (admin): the rating of service `ticket` is marked appealed
    /// and invalid, for `reason`: it leaves the satisfaction figures, stays
    /// in the journal and the export. `day` is the service's business day
    /// (`None`: today); a past day's rating is found through its work
    /// order. Answered with [`Response::RatingAppealed`].
    AppealRating {
        /// The service's (lead) ticket.
        ticket: TicketNo,
        /// `yyyymmdd`; today if left out.
        day: Option<u32>,
        /// Why, 1–500 characters.
        reason: String,
    },
    /// The appeals (申诉复核) of business day `day`, today if `None`
    /// (admin): the export's `appeal` column. Answered with
    /// [`Response::Appeals`].
    Appeals {
        /// `yyyymmdd`; today if left out.
        day: Option<u32>,
    },
    /// A change with the client's id for it (SPEC §6; ALPN `hallq/1.1`):
    /// carried out at most once however often it is sent. A resend of a
    /// change the daemon remembers gets the original answer and changes
    /// nothing; the same id with another request is refused with
    /// `change_id_reused`; an id older than the daemon remembers for this
    /// client with `change_id_expired`. Answered as `request` is. A read
    /// inside is simply answered; a `Once` inside a `Once` is refused.
    Once {
        /// The client's id for this change.
        id: ChangeId,
        /// The change.
        request: Box<Request>,
    },
    /// Makes this stream a pipeline (ALPN `hallq/2`): answered with
    /// [`Response::Pipelining`], then [`Tagged`] requests and answers
    /// follow on it (see the module's introduction). Refused on a
    /// pipeline itself and on a connection that chose an older protocol.
    Pipeline,
}

/// A request or an answer on a pipeline ([`Request::Pipeline`]): the
/// client's tag, unique among its requests in flight on that pipeline
/// (from 1; 0 is the daemon's own, see the module's introduction), and the
/// message. An answer carries its request's tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tagged<T> {
    /// The client's tag.
    pub tag: u64,
    /// The request or its answer.
    pub body: T,
}

/// The tag of the daemon's last word on a pipeline ([`Tagged`]).
pub const PIPELINE_TAG: u64 = 0;

/// A client's id for one change: `client`, a random number the client
/// chose once (a process, a kiosk's page server), and `seq`, counting its
/// changes up from 1. Unique without coordination; the daemon remembers
/// the recent ones of each client with their answers (see
/// [`Request::Once`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChangeId {
    /// The client's random 128-bit id.
    pub client: u128,
    /// The change's number among the client's, from 1, increasing.
    pub seq: u64,
}

/// The most waiting tickets one answer carries: [`Request::StatusPage`]'s
/// page size cap, and the cap on [`Response::Status`]'s list (whose
/// `view` still counts every waiting ticket). About 30 bytes each, so a
/// full page stays far below the 64 KiB frame limit.
pub const WAITING_PAGE_MAX: u32 = 1000;

/// The answer to [`Request::StatusPage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPage {
    /// The hall, with the page of waiting tickets in `waiting`.
    pub status: Status,
    /// The place of the page's first ticket in the whole waiting list.
    pub from: u32,
    /// How many tickets wait in all.
    pub waiting_total: u32,
}

impl Request {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Issue { .. } => "issue",
            Request::Window { action, .. } => action.name(),
            Request::Reinstate { .. } => "reinstate",
            Request::CloseIssuing => "close-issuing",
            Request::OpenIssuing => "open-issuing",
            Request::Status => "status",
            Request::Watch => "watch",
            Request::Notifications => "notifications",
            Request::Reload => "reload",
            Request::Health => "health",
            Request::Rate { .. } => "rate",
            Request::Stats { .. } => "stats",
            Request::Export { .. } => "export",
            Request::Book { .. } => "book",
            Request::Bookings { .. } => "bookings",
            Request::CancelBooking { .. } => "cancel-booking",
            Request::CheckIn { .. } => "check-in",
            Request::AdjustSlots { .. } => "slots",
            Request::KioskView => "kiosk-view",
            Request::PrintFailed { .. } => "print-failed",
            Request::PrintFailures => "print-failures",
            Request::StatusPage { .. } => "status",
            Request::CancelBookingWithPhone { .. } => "cancel-booking",
            Request::AttachPhone { .. } => "attach-phone",
            Request::Report { .. } => "stats",
            Request::ExportDetailed { .. } => "export",
            Request::BoardLines => "board-lines",
            Request::FollowLink { .. } => "follow-link",
            Request::Follow { .. } => "follow",
            Request::StepBack { .. } => "step-back",
            Request::Leave { .. } => "leave",
            Request::RateService { .. } => "rate",
            Request::WindowRating { .. } => "window-rating",
            Request::Simulate(_) => "simulate",
            Request::Forecast { .. } => "forecast",
            Request::RemoteHall => "remote-hall",
            Request::RemoteCode { .. } => "remote-code",
            Request::RemoteTicket { .. } => "remote-ticket",
            Request::Console => "console",
            Request::Alerts { .. } => "alerts",
            Request::WorkOrders { .. } => "workorders",
            Request::WorkOrderUpdate { .. } => "workorder",
            Request::AppealRating { .. } => "rating-appeal",
            Request::Appeals { .. } => "appeals",
            Request::Once { request, .. } => request.kind(),
            Request::Pipeline => "pipeline",
        }
    }

    /// Whether carrying the request out changes nothing, so it may be sent
    /// again when its answer was lost (a client following its hall to a
    /// new daemon does). Subscribing changes nothing either: a notifier's
    /// acknowledgements are frames of their own.
    pub fn is_read_only(&self) -> bool {
        match self {
            Request::Status
            | Request::StatusPage { .. }
            | Request::Watch
            | Request::Notifications
            | Request::Health
            | Request::Stats { .. }
            | Request::Export { .. }
            | Request::Bookings { .. }
            | Request::KioskView
            | Request::PrintFailures
            | Request::Report { .. }
            | Request::ExportDetailed { .. }
            | Request::BoardLines
            | Request::FollowLink { .. }
            | Request::Follow { .. }
            | Request::WindowRating { .. }
            | Request::Simulate(_)
            | Request::Forecast { .. }
            | Request::RemoteHall
            | Request::Console
            | Request::Alerts { .. }
            | Request::WorkOrders { .. }
            | Request::Appeals { .. }
            | Request::Pipeline => true,
            // Listed one by one, so a new request must be decided on here.
            Request::Issue { .. }
            | Request::Window { .. }
            | Request::Reinstate { .. }
            | Request::CloseIssuing
            | Request::OpenIssuing
            | Request::Reload
            | Request::Rate { .. }
            | Request::Book { .. }
            | Request::CancelBooking { .. }
            | Request::CheckIn { .. }
            | Request::AdjustSlots { .. }
            | Request::PrintFailed { .. }
            | Request::CancelBookingWithPhone { .. }
            | Request::AttachPhone { .. }
            | Request::StepBack { .. }
            | Request::Leave { .. }
            | Request::RateService { .. }
            | Request::RemoteCode { .. }
            | Request::RemoteTicket { .. }
            | Request::WorkOrderUpdate { .. }
            | Request::AppealRating { .. } => false,
            Request::Once { request, .. } => request.is_read_only(),
        }
    }
}

/// A newly issued ticket, as the kiosk prints it (DB33/T 2036.4 §7.3.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTicket {
    /// The printed number.
    pub ticket: TicketNo,
    /// The item's name.
    pub item_name: String,
    /// Its lane.
    pub lane: Lane,
    /// People ahead.
    pub position: u32,
    /// The open windows serving the item.
    pub windows: Vec<WindowNo>,
    /// Estimated wait, if a window serving the item is open.
    pub eta_secs: Option<u32>,
    /// §7.3.5 holds already: go to the waiting area now.
    pub approaching: bool,
    /// When it was issued.
    pub issued_at: Timestamp,
}

/// The daemon's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Answer to [`Hello`].
    Welcome(Welcome),
    /// A ticket was issued.
    Issued(IssuedTicket),
    /// A window action was carried out.
    Window {
        /// The action.
        action: String,
        /// The ticket it concerned, if any.
        ticket: Option<TicketNo>,
        /// The text announced in the hall, for a call or recall.
        announcement: Option<String>,
        /// The window afterwards.
        window: WindowView,
    },
    /// A no-show went back into line.
    Reinstated {
        /// The ticket.
        ticket: TicketNo,
        /// People ahead of it now.
        position: u32,
    },
    /// Issuing opened or closed.
    Issuing {
        /// Whether walk-in tickets are issued now.
        open: bool,
    },
    /// The hall now.
    Status(Status),
    /// A display subscription started; [`DisplayUpdate`] frames follow.
    Watching,
    /// A notifier subscription started; [`Notification`] frames follow.
    Notifying,
    /// The config was reloaded; what changed.
    Reloaded {
        /// One line per change ("hall \"main\" reconfigured").
        changes: Vec<String>,
    },
    /// The daemon's health.
    Health(HealthReport),
    /// The request was refused or failed; nothing changed.
    Error(ErrorReply),
    /// A service was rated.
    Rated {
        /// The service's ticket (a batch's lead).
        ticket: TicketNo,
        /// 1–5.
        rating: Rating,
        /// A 差评工单 went to the outbox (a rating of 1 or 2).
        work_order: bool,
    },
    /// A day's statistics.
    Stats(Box<DayStats>),
    /// A page of per-ticket records.
    Export {
        /// The records, in issue order.
        records: Vec<TicketRecord>,
        /// Ask again from here for more; `None`: that was all.
        next: Option<u32>,
    },
    /// A booking was made.
    Booked(AppointmentView),
    /// One day's slots and bookings.
    Bookings(DayAppointments),
    /// A booking was cancelled.
    BookingCancelled(AppointmentView),
    /// What a kiosk's start screen shows.
    KioskView(Box<KioskView>),
    /// The hall's print failures (also the answer to a reported one).
    PrintFailures(PrintFailures),
    /// The hall's status and one page of its waiting list.
    StatusPage(StatusPage),
    /// A mobile number was left for a waiting ticket.
    PhoneAttached {
        /// The ticket.
        ticket: TicketNo,
        /// People ahead of it now.
        position: u32,
    },
    /// The answer to [`Request::Report`].
    Report(Box<DayReport>),
    /// The answer to [`Request::ExportDetailed`]: a page of records.
    ExportDetailed(ExportPage),
    /// The next numbers of every line and the latest no-shows.
    BoardLines(BoardLines),
    /// A ticket's visitor link.
    FollowLink {
        /// The ticket.
        ticket: TicketNo,
        /// The capability token (the last part of the link).
        token: String,
        /// The whole link, when the hall has a public `visitor_url`.
        link: Option<String>,
    },
    /// A ticket as its visitor's page shows it.
    Follow(Box<TicketFollow>),
    /// What a window's rating tablet shows.
    WindowRating {
        /// The window.
        window: WindowNo,
        /// The service it finished last today, if any.
        ticket: Option<Box<TicketFollow>>,
        /// The token that rates it, while it may be rated.
        token: Option<String>,
    },
    /// A simulated day (and with `--plan`, the rota found).
    Simulation(Box<crate::staffing::SimulationReport>),
    /// An arrivals forecast.
    Forecast(Box<crate::staffing::Forecast>),
    /// 线上取号: the code is on its way by SMS.
    CodeSent {
        /// The phone, masked (`138****8000`).
        phone: String,
        /// Seconds the code is good for.
        expires_in_secs: u32,
    },
    /// The hall manager's console.
    Console(Box<crate::console::ConsoleView>),
    /// The hall's alerts: the active ones first, then the cleared ones,
    /// each group newest first.
    Alerts(Vec<crate::console::AlertView>),
    /// A page of the hall's work orders.
    WorkOrders(WorkOrderPage),
    /// One work order, after an update.
    WorkOrder(Box<crate::console::WorkOrderView>),
    /// A rating was set aside (申诉复核).
    RatingAppealed(crate::console::AppealView),
    /// A day's appeals.
    Appeals(Vec<crate::console::AppealView>),
    /// A pipeline started ([`Request::Pipeline`]); [`Tagged`] answers
    /// follow.
    Pipelining,
}

/// [`Response::WorkOrders`]: work orders by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderPage {
    /// In number order.
    pub orders: Vec<crate::console::WorkOrderView>,
    /// More follow: ask again with `after` = this; `None`: that was all.
    pub next: Option<u64>,
}

/// How `hallq stats` breaks the totals down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsBy {
    /// Per item (事项), by the item a ticket ended in.
    Item,
    /// Per window that served or marked the no-show.
    Window,
    /// Per staff member who served.
    Staff,
}

/// A distribution of durations, in whole seconds. Percentiles are nearest
/// rank: p50 is the value at rank ⌈0.5 n⌉ of the sorted values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    /// How many.
    pub count: u64,
    /// Arithmetic mean, rounded to the nearest second.
    pub mean_secs: u64,
    /// Median.
    pub p50_secs: u64,
    /// 90th percentile.
    pub p90_secs: u64,
    /// Longest.
    pub max_secs: u64,
}

/// The figures of one group (or of the whole hall).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsFigures {
    /// Tickets issued (by item only; 0 for windows and staff).
    pub issued: u64,
    /// Tickets served, batch companions included.
    pub served: u64,
    /// No-shows (过号), counted once per ticket.
    pub no_shows: u64,
    /// Transfers handed on (首问负责 referrals).
    pub transfers: u64,
    /// Issue (original) to first call.
    pub waiting: Durations,
    /// Start (or call, if never started) to finish, batch leads only.
    pub service: Durations,
    /// Ratings 1…5 (index 0 is 1 非常不满意): one per service.
    pub ratings: [u64; 5],
    /// Work orders raised (ratings of 1 or 2).
    pub work_orders: u64,
}

/// One group of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsGroup {
    /// The item letter, window number or staff id.
    pub key: String,
    /// Its figures.
    pub figures: StatsFigures,
}

/// [`Response::Stats`]: one hall's business day, from its journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStats {
    /// The hall.
    pub hall: String,
    /// `yyyymmdd`.
    pub day: u32,
    /// The hall's totals.
    pub totals: StatsFigures,
    /// Bookings forfeited (not checked in within 30 minutes of their slot).
    pub forfeited_bookings: u64,
    /// Appointment-lane tickets (bookings checked in).
    pub appointments_kept: u64,
    /// Notifications the gateway acknowledged that day.
    pub notifications_sent: u64,
    /// Notifications the gateway gave up on that day.
    pub notifications_failed: u64,
    /// The breakdown asked for, if any.
    pub by: Option<StatsBy>,
    /// Its groups, sorted by key.
    pub groups: Vec<StatsGroup>,
}

/// What a manager reads besides [`StatsFigures`] (issue 17), for the
/// hall or one group. Shares are in per mille (875 = 87.5 %) so they stay
/// exact integers on the wire and in JSON; `None` when nothing to share.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFigures {
    /// Calls made, a reinstated ticket's second call too (recalls not
    /// counted; an item: its tickets called).
    pub calls: u64,
    /// 满意率: ratings 5 (非常满意) and 4 (满意) among all ratings.
    pub satisfied_permille: Option<u32>,
    /// Visitors called after waiting longer than the hall's target.
    pub waited_over_target: u64,
    /// That among every visitor called.
    pub waited_over_target_permille: Option<u32>,
    /// No-shows among the calls made (an item: its no-show tickets among
    /// its tickets called).
    pub no_show_permille: Option<u32>,
    /// Seconds the window (or the staff member's window) was paused.
    pub paused_secs: u64,
    /// Tickets their visitors gave up from the phone page ("I'm leaving",
    /// issue 18); the hall and its items only.
    pub left: u64,
    /// Tickets stepped back from the phone page ("I need more time").
    pub stepped_back: u64,
}

/// One hour of the day, in the hall's local time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourFigures {
    /// 0–23, local time: the figures of hh:00–hh:59.
    pub hour: u8,
    /// Tickets issued.
    pub issued: u64,
    /// First calls.
    pub called: u64,
    /// Services finished (batch companions included).
    pub served: u64,
    /// No-shows recorded.
    pub no_shows: u64,
    /// Mean wait of the visitors first called in this hour, seconds.
    pub mean_wait_secs: u64,
}

/// One group of [`DayReport`]'s breakdown: the same keys as
/// [`DayStats::groups`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportGroup {
    /// The item letter, window number or staff id ("-": nobody logged in).
    pub key: String,
    /// Its figures.
    pub figures: ReportFigures,
}

/// [`Response::Report`]: the day's statistics and what a manager asks
/// for besides. Window and staff groups count each event where and by
/// whom it happened: a no-show at the window that called it, a transfer
/// by the window that handed it on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayReport {
    /// The figures [`Request::Stats`] answers.
    pub stats: DayStats,
    /// The hall's waiting target (`wait_target_minutes`), seconds.
    pub wait_target_secs: u64,
    /// The hall's extra figures.
    pub totals: ReportFigures,
    /// Per group, in `stats.groups`' order.
    pub groups: Vec<ReportGroup>,
    /// Hours with anything in them, in order.
    pub hours: Vec<HourFigures>,
}

/// What [`TicketRecord`] does not say about a ticket (issue 17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordTrail {
    /// The item the ticket was issued for (its number's letter).
    pub original_item: ItemCode,
    /// Each transfer, in order: `"1>B"` (window 1 to item B) or `"1>W3"`
    /// (window 1 to window 3).
    pub transfers: Vec<String>,
    /// Issue to first call, seconds.
    pub waiting_secs: Option<u64>,
    /// Start (or call) to finish at the serving window, seconds.
    pub service_secs: Option<u64>,
}

/// [`Response::ExportDetailed`]: one page of a day's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPage {
    /// `yyyymmdd`: the day asked for, or the hall's current one.
    pub day: u32,
    /// The hall's local time minus UTC, minutes: for ISO 8601 times.
    pub offset_minutes: i32,
    /// The records, in issue order.
    pub records: Vec<TicketRecord>,
    /// Each record's trail, in the same order.
    pub trails: Vec<RecordTrail>,
    /// Ask again from here for more; `None`: that was all.
    pub next: Option<u32>,
}

/// One ticket's record for upstream aggregation (§7.3.1 数据统一汇聚).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    /// The hall.
    pub hall: String,
    /// The ticket.
    pub ticket: TicketNo,
    /// The item it ended in.
    pub item: ItemCode,
    /// Its lane.
    pub lane: Lane,
    /// Issued at.
    pub issued: Timestamp,
    /// First called at.
    pub called: Option<Timestamp>,
    /// Service started at.
    pub started: Option<Timestamp>,
    /// Finished at.
    pub finished: Option<Timestamp>,
    /// The window that served it (or marked it a no-show).
    pub window: Option<WindowNo>,
    /// Who served it.
    pub staff: Option<String>,
    /// The service's rating.
    pub rating: Option<u8>,
    /// "served", "served_in_batch", "no_show", "waiting", "called",
    /// "serving".
    pub outcome: String,
    /// HMAC-SHA256 of the phone number with the hall's `export_key` (hex),
    /// never the number itself.
    pub phone_hash: Option<String>,
}

/// [`Response::Health`] and the metrics endpoint's `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Every hall's journal is writable.
    pub healthy: bool,
    /// Each hall.
    pub halls: Vec<HallHealth>,
}

/// One hall's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HallHealth {
    /// The hall.
    pub hall: String,
    /// Changes are being recorded.
    pub journal_writable: bool,
    /// Why not, if not.
    pub journal_error: Option<String>,
    /// Seconds since a record last became durable, if one has since start.
    pub last_fsync_age_secs: Option<u64>,
    /// Tickets waiting now.
    pub waiting: u64,
    /// Notifications not yet acknowledged by the gateway.
    pub pending_notifications: u64,
    /// The hall's role on this daemon: "alone" (no cluster), "owner" (this
    /// node serves it) or "follower" (another node does; this one keeps a
    /// hot copy).
    pub role: String,
    /// Cluster mode: the node that owns the hall now, if any.
    pub owner: Option<String>,
    /// Journal records this daemon has of the hall (in cluster mode, the
    /// position in the cluster's log: equal on every node that caught up).
    pub records: u64,
}

/// [`Response::Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The hall's id.
    pub hall: String,
    /// The hall's name.
    pub hall_name: String,
    /// Every window and item.
    pub view: HallView,
    /// The waiting tickets with their positions: every one up to
    /// [`WAITING_PAGE_MAX`]; beyond that the first ones only (the counts in
    /// `view` are whole; [`Request::StatusPage`] pages through the rest).
    pub waiting: Vec<WaitingTicket>,
}

/// The QUIC close code with which the daemon refuses a token.
pub const CLOSE_UNAUTHORIZED: u32 = 1;
/// The QUIC close code with which the daemon drops a peer that broke the
/// protocol (oversized, truncated or malformed frames).
pub const CLOSE_PROTOCOL: u32 = 2;
/// The QUIC close code with which a cluster node turns away a connection
/// for a hall it does not serve (after a `not_owner` answer with the
/// owner's address).
pub const CLOSE_NOT_OWNER: u32 = 3;

/// A refusal: a stable code for programs, a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// Stable, machine-readable: "forbidden", "window_busy", … (a string on
    /// the wire; see [`ErrorCode`]).
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// With `not_owner` in cluster mode: the address (`host:port`) of the
    /// daemon that serves the hall now, when known. A client reconnects
    /// there and asks again; the refused request changed nothing.
    pub redirect: Option<String>,
}

impl ErrorReply {
    /// A refusal with no redirect.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> ErrorReply {
        ErrorReply {
            code: code.into(),
            message: message.into(),
            redirect: None,
        }
    }
}

/// One call as the hall's screens show and announce it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallShown {
    /// The ticket called.
    pub ticket: TicketNo,
    /// To which window.
    pub window: WindowNo,
    /// "请A012号到3号窗口办理".
    pub announcement: String,
    /// A repeated announcement.
    pub recall: bool,
    /// When.
    pub at: Timestamp,
}

/// One frame of a display subscription. Every update carries `seq`, the
/// hall's change counter: a display ignores updates not newer than its
/// snapshot's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplayUpdate {
    /// The whole hall, first thing after subscribing.
    Snapshot {
        /// Changes up to and including this one are in it.
        seq: u64,
        /// The hall.
        view: HallView,
        /// The latest calls, newest last.
        recent_calls: Vec<CallShown>,
    },
    /// What one change did.
    Change {
        /// The change's number.
        seq: u64,
        /// Calls and recalls to show and announce.
        calls: Vec<CallShown>,
        /// The windows that changed, as they are now.
        windows: Vec<WindowView>,
        /// Waiting per lane of the items that changed, as they are now.
        items: Vec<(ItemCode, [u32; 3])>,
        /// Whether walk-in tickets are issued, if that changed.
        issuing: Option<bool>,
    },
    /// The daemon is dropping this subscriber (it fell behind, or the
    /// daemon is shutting down); reconnect for a fresh snapshot.
    Dropped {
        /// Why.
        reason: String,
    },
}

/// Which message a notification is (SPEC §2 items 5–7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// §7.3.4: the ticket, position and windows, at issue.
    Issued,
    /// §7.3.5: your turn is near, come to the waiting area.
    Approaching,
    /// §7.3.6: go to window N now.
    Called,
    /// 差评工单 (seed 000 §四(六)6): a rating of 1 or 2, for the hotline's
    /// webhook rather than an SMS; see [`Notification::work_order`].
    WorkOrder,
    /// A booking was made (SPEC §2 item 9).
    BookingConfirmed,
    /// A booking was cancelled, by the visitor or the hall (§四(七)7).
    BookingCancelled,
    /// A booking was forfeited: not checked in within 30 minutes of its
    /// start (§四(七)8).
    BookingForfeited,
    /// 线上取号 (issue 18): the one-time code for a ticket taken from
    /// outside. Not journaled: its id is `<hall>-code<random>` (no
    /// outbox number), and a code is good for minutes only.
    RemoteCode,
    /// An alert for the hall's managers (issue 21): to each of the hall's
    /// `manager_phones` by SMS, or, with none, with an empty `phone` for
    /// the bridge's webhook. `ticket` and `window` name what it is about
    /// when they can; `booking` carries the alert's id (`wait:A`).
    Alert,
}

impl NotificationKind {
    /// Whether this goes to the hotline's webhook rather than the visitor.
    pub fn is_work_order(self) -> bool {
        self == NotificationKind::WorkOrder
    }
}

/// A bad rating's work order (差评工单): everything the hotline needs to
/// follow it up (seed 000 §四(六)6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrder {
    /// The hall.
    pub hall: String,
    /// The window that served.
    pub window: WindowNo,
    /// Who served, if logged in.
    pub staff: Option<String>,
    /// The item.
    pub item: ItemCode,
    /// The item's name.
    pub item_name: String,
    /// The ticket served.
    pub ticket: TicketNo,
    /// 1 (非常不满意) or 2 (不满意).
    pub rating: u8,
    /// When the service was rated.
    pub at: Timestamp,
}

/// One message for a visitor, from the outbox. Delivered at least once:
/// a gateway deduplicates by `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable across restarts and redeliveries: "main-17".
    pub id: String,
    /// The hall.
    pub hall: String,
    /// Which message.
    pub kind: NotificationKind,
    /// The ticket (none for a booking's messages).
    pub ticket: Option<TicketNo>,
    /// The visitor's phone number in full: for the SMS provider only.
    /// Empty for a work order.
    pub phone: String,
    /// The message text.
    pub text: String,
    /// People ahead, for issued and approaching.
    pub position: Option<u32>,
    /// The window, for called.
    pub window: Option<WindowNo>,
    /// When the event happened.
    pub at: Timestamp,
    /// The booking code, for booking messages.
    pub booking: Option<String>,
    /// The work order, for [`NotificationKind::WorkOrder`].
    pub work_order: Option<WorkOrder>,
}

/// What a notifier sends on its subscription stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifierMessage {
    /// The gateway accepted this notification: remove it from the outbox.
    Ack {
        /// The notification's id.
        id: String,
    },
    /// The gateway gave up on this notification after its retries: remove
    /// it from the outbox and record why (counted in stats, alertable).
    Failed {
        /// The notification's id.
        id: String,
        /// Why (the provider's last answer).
        reason: String,
    },
}

/// One frame on a notifier's subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifierFrame {
    /// A notification to deliver (boxed: it is by far the largest frame).
    Notification(Box<Notification>),
    /// The subscription ends (shutdown, or the notifier fell behind).
    Dropped {
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};
    use crate::types::PriorityReason;
    use crate::views::WindowState;

    fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
        let frame = encode(&v).unwrap();
        assert_eq!(decode::<T>(&frame[4..]).unwrap(), v);
    }

    #[test]
    fn messages_survive_the_codec() {
        let a = ItemCode::new('A').unwrap();
        round_trip(Request::Issue {
            item: a,
            lane: Lane::Priority(PriorityReason::Green),
            phone: Some("13800138000".into()),
        });
        round_trip(Request::Window {
            window: Some(WindowNo(3)),
            action: WindowAction::Pause {
                reason: "午休".into(),
            },
        });
        let window = WindowView {
            number: WindowNo(3),
            state: WindowState::Paused("午休".into()),
            current: Some(TicketNo { item: a, seq: 12 }),
            serving: false,
            staff: Some((StaffId::new("S1").unwrap(), Post::B)),
            items: vec![a],
            universal: false,
            fallback: true,
        };
        round_trip(Response::Window {
            action: "pause".into(),
            ticket: None,
            announcement: None,
            window: window.clone(),
        });
        round_trip(DisplayUpdate::Change {
            seq: 9,
            calls: vec![],
            windows: vec![window],
            items: vec![(a, [1, 2, 3])],
            issuing: Some(false),
        });
    }
}
