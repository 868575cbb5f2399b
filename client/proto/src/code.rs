//! The error codes: one stable snake_case name per reason a request is
//! refused or a client call fails.
//!
//! Programs match on these names: kiosks, gateways and scripts read them in
//! [`ErrorReply::code`](crate::wire::ErrorReply) and in `hallq --json`
//! output, and the text a person reads is made from them on the client side.
//! On the wire a code is its name as a string, so a code added by a newer
//! daemon still decodes here, as [`ErrorCode::Other`], and an older peer
//! reads every code this build sends.
//!
//! Add a code by adding a line to the table below; never rename one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// Why a request was refused or a call failed; see the module doc.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code this build does not know (a newer peer's), as sent.
            Other(String),
        }

        impl ErrorCode {
            /// Every code this build knows, in the table's order.
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The stable name, as on the wire and in JSON.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                    ErrorCode::Other(name) => name,
                }
            }

            /// The code of a name; a name this build does not know is
            /// kept as [`ErrorCode::Other`].
            pub fn from_name(name: &str) -> ErrorCode {
                match name {
                    $($name => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    // Requests and roles (the daemon's session).
    /// The request is not well formed (a bad phone number, no hello first).
    BadRequest = "bad_request",
    /// The token is unknown.
    Unauthorized = "unauthorized",
    /// The token's role may not do this, or not for this window.
    Forbidden = "forbidden",
    /// The token names a hall this daemon does not have.
    UnknownHall = "unknown_hall",
    /// Too many requests per second on one connection.
    RateLimited = "rate_limited",
    /// The daemon is at its connection limit.
    TooManyConnections = "too_many_connections",
    /// The hall is at its display limit.
    TooManyDisplays = "too_many_displays",
    /// A bug in the daemon: the request had no answer it should have had.
    Internal = "internal",
    /// `admin reload` found the new configuration unusable; nothing changed.
    ReloadRefused = "reload_refused",
    /// The journal could not be read for statistics or an export.
    JournalUnreadable = "journal_unreadable",

    // Storage and cluster (the daemon's shard).
    /// The change could not be made durable; nothing was changed.
    StorageFailed = "storage_failed",
    /// Another node serves the hall; nothing was changed (cluster mode).
    NotOwner = "not_owner",
    /// etcd did not confirm the change; it may or may not be recorded.
    ClusterUnavailable = "cluster_unavailable",

    // The dispatch core.
    /// The hall's configuration is invalid.
    InvalidSpec = "invalid_spec",
    /// The hall has not begun a business day.
    NoBusinessDay = "no_business_day",
    /// A new business day must come after the current one.
    DayNotLater = "day_not_later",
    /// No such item.
    UnknownItem = "unknown_item",
    /// No such window.
    UnknownWindow = "unknown_window",
    /// No such ticket today.
    UnknownTicket = "unknown_ticket",
    /// The item's tickets for today are all issued.
    DailyCapReached = "daily_cap_reached",
    /// The hall has stopped issuing walk-in tickets for today.
    IssuingClosed = "issuing_closed",
    /// The window is paused or closed.
    WindowNotOpen = "window_not_open",
    /// The window is already in the asked state.
    WindowAlready = "window_already",
    /// The window still has a current ticket.
    WindowBusy = "window_busy",
    /// The window has no current ticket.
    NoCurrentTicket = "no_current_ticket",
    /// Nobody is waiting for the window's items.
    NothingWaiting = "nothing_waiting",
    /// The ticket is not in a state that allows this.
    WrongTicketState = "wrong_ticket_state",
    /// The window does not serve the ticket's item.
    NotServedHere = "not_served_here",
    /// A transfer to the line the ticket is already in.
    SameLine = "same_line",
    /// A transfer to a window that is not open.
    TargetClosed = "target_closed",
    /// The staff member is logged in at another window.
    StaffAlreadyLoggedIn = "staff_already_logged_in",
    /// Nobody is logged in on that post.
    NoStaff = "no_staff",
    /// A text (a reason, a name) is longer than allowed.
    TooLong = "too_long",
    /// A configuration change would strand waiting tickets.
    ReconfigureRefused = "reconfigure_refused",
    /// The service was rated already (§四(六)5: one rating per service).
    AlreadyRated = "already_rated",
    /// The ticket was not served at that window.
    NotServedAt = "not_served_at",
    /// The ticket is not in the batch being rated.
    NotInBatch = "not_in_batch",
    /// The hall is closed at this hour.
    HallClosed = "hall_closed",
    /// The item takes no appointments.
    NotBookable = "not_bookable",
    /// No such appointment slot.
    NoSuchSlot = "no_such_slot",
    /// The slot has begun or passed.
    SlotPast = "slot_past",
    /// The slot is fully booked.
    SlotFull = "slot_full",
    /// Appointments for that day are closed.
    BookingDayClosed = "booking_day_closed",
    /// No appointment has that booking code.
    UnknownBooking = "unknown_booking",
    /// The appointment was cancelled, checked in or forfeited already.
    BookingNotActive = "booking_not_active",
    /// Check-in opens later.
    CheckInTooEarly = "check_in_too_early",
    /// Check-in is outside the hall's hours.
    CheckInOutsideHours = "check_in_outside_hours",
    /// A hall cancels at least 8 hours ahead (§四(七)7).
    HallCancelTooLate = "hall_cancel_too_late",
    /// An admin's slot change does not make sense.
    BadSlotChange = "bad_slot_change",
    /// Checked in more than 30 minutes after the slot began (§四(七)8).
    BookingForfeited = "booking_forfeited",

    // Frames (the codec).
    /// A frame larger than the limit.
    FrameTooLarge = "frame_too_large",
    /// A stream that ended inside a frame.
    TruncatedFrame = "truncated_frame",
    /// A frame that is not a valid message.
    MalformedFrame = "malformed_frame",
    /// The transport under a frame failed.
    Io = "io",

    // The client side: never sent by the daemon.
    /// The connection to hallqd was lost.
    ConnectionLost = "connection_lost",
    /// hallqd answered something this client did not ask for.
    UnexpectedAnswer = "unexpected_answer",
    /// hallqd did not answer in time.
    Timeout = "timeout",
    /// hallqd could not be reached (or its address did not resolve).
    Unreachable = "unreachable",
    /// The pinned certificate file could not be read.
    CertFile = "cert_file",
    /// hallqd's certificate is not the pinned one.
    CertMismatch = "cert_mismatch",
    /// hallqd speaks another protocol version.
    ProtocolMismatch = "protocol_mismatch",
    /// The TLS handshake failed.
    HandshakeFailed = "handshake_failed",
    /// No local UDP socket.
    Socket = "socket",
    /// The TLS configuration is invalid.
    TlsConfig = "tls_config",
    /// The command line is wrong.
    Usage = "usage",
    /// The output could not be written.
    Output = "output",
    /// A listening address could not be bound.
    Bind = "bind",
    /// The board's screen failed.
    Board = "board",
    /// The window terminal's screen failed.
    Terminal = "terminal",
    /// The kiosk's web server failed.
    Kiosk = "kiosk",

    // Added later (new codes go at the end of the table).
    /// The booking code chosen for a new booking is taken; the daemon picks
    /// another (never reaches a client unless the random source fails).
    BookingCodeTaken = "booking_code_taken",
    /// A cancellation named a code and phone digits that do not match a
    /// booking (SPEC §6: only the visitor, or an admin, cancels).
    BookingProofMismatch = "booking_proof_mismatch",
    /// A kiosk cancelled without the phone's last four digits.
    BookingProofRequired = "booking_proof_required",
    /// The phone has booked as many appointments for that day as allowed
    /// (SPEC §6 hoarding).
    PhoneBookingLimit = "phone_booking_limit",
    /// The phone already holds as many active tickets for the item as
    /// allowed (SPEC §6 hoarding).
    PhoneTicketLimit = "phone_ticket_limit",
    /// The ticket already has a phone number: one per ticket.
    PhoneAlreadyGiven = "phone_already_given",
    /// Not a mainland China mobile number (11 digits, 1 then 3–9).
    NotMobileNumber = "not_mobile_number",
    /// The hall calls only with staff logged in at the window (the hall's
    /// `require_login_to_call`).
    LoginRequired = "login_required",
    /// A no-show (过号) before the hall's minimum wait after the call, or
    /// before the recall the hall asks for (`no_show_min_seconds`,
    /// `no_show_after_recall`).
    NoShowTooSoon = "no_show_too_soon",
    /// A visitor's link is not one the hall made (a forged or mistyped
    /// token): nothing is shown or changed (issue 18).
    LinkInvalid = "link_invalid",
    /// A visitor's link is from an earlier business day: ticket numbers
    /// restart each day, so it names no ticket of today's.
    LinkExpired = "link_expired",
    /// The visitor has stepped back once already: once per ticket.
    AlreadySteppedBack = "already_stepped_back",
    /// The clerk's terminal may not enter the visitor's rating: the hall
    /// has the visitor rate on their phone (`clerk_rating = false`, the
    /// default).
    ClerkRatingOff = "clerk_rating_off",
    /// `hallq visitor --serve` failed locally (its web server).
    VisitorPage = "visitor_page",
    /// A staffing plan names an unknown window or item, a bad time span, or
    /// a window without items (`hallq simulate --plan-file`).
    PlanInvalid = "plan_invalid",
    /// The day asked for has no arrivals in the journal and no past weeks
    /// to forecast it from (`hallq simulate`, `hallq forecast`).
    NoRecords = "no_records",
    /// The hall does not give numbers from outside (线上取号 is off:
    /// `remote_tickets = false`, the default).
    RemoteTicketsOff = "remote_tickets_off",
    /// This phone (or address) asked for too many codes lately: wait a few
    /// minutes.
    CodeRateLimited = "code_rate_limited",
    /// The code is not the one sent (a try is used up).
    CodeWrong = "code_wrong",
    /// The code has expired (or none was sent): ask for a new one.
    CodeExpired = "code_expired",
    /// The code was tried wrong too many times: ask for a new one.
    CodeTriesUsed = "code_tries_used",

    // The manager's console (issue 21).
    /// No work order has that number in this hall.
    UnknownWorkOrder = "unknown_work_order",
    /// The work order is not in a state that allows it (closed already, or
    /// called back already).
    WorkOrderState = "work_order_state",
    /// A note or reason is required and was empty.
    NoteRequired = "note_required",
    /// That service has no rating to appeal (not rated, or no such service
    /// that day).
    NotRated = "not_rated",
    /// That rating was appealed already.
    AlreadyAppealed = "already_appealed",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ErrorCode {
    fn from(name: &str) -> ErrorCode {
        ErrorCode::from_name(name)
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ErrorCode, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(ErrorCode::from_name(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::KNOWN {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name} is not snake_case"
            );
            assert_eq!(&ErrorCode::from_name(name), code);
        }
    }

    #[test]
    fn an_unknown_code_from_a_newer_peer_decodes_and_is_sent_on_as_is() {
        let wire = crate::codec::encode(&"seat_reserved".to_owned()).unwrap();
        let code: ErrorCode = crate::codec::decode(&wire[4..]).unwrap();
        assert_eq!(code, ErrorCode::Other("seat_reserved".into()));
        assert_eq!(crate::codec::encode(&code).unwrap(), wire);
    }

    #[test]
    fn on_the_wire_and_in_json_a_code_is_its_name() {
        let as_string = crate::codec::encode(&"window_busy".to_owned()).unwrap();
        assert_eq!(
            crate::codec::encode(&ErrorCode::WindowBusy).unwrap(),
            as_string
        );
        assert_eq!(
            serde_json::to_string(&ErrorCode::WindowBusy).unwrap(),
            "\"window_busy\""
        );
    }
}
