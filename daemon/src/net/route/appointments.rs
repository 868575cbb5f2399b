//! Requests about appointments (SPEC §2 items 9–10): book, list, cancel,
//! check in, and an admin's slot changes. Rights as SPEC §3 gives them:
//! kiosks (the help desk) book, list, cancel for a visitor and check in;
//! only an admin changes slots or cancels on the hall's behalf.

use hallq_core::{Command, Event};
use hallq_proto::appointment::SlotChange;
use hallq_proto::types::{Phone, Role};
use hallq_proto::wire::{ErrorReply, Response};
use hallq_proto::ErrorCode;

use super::tickets::issued_ticket;
use crate::clock;
use crate::net::rights::{refused, reply, require, Session};

/// Books `slot` for the visitor at `phone`.
pub(super) async fn book(
    session: &Session,
    item: hallq_proto::types::ItemCode,
    slot: hallq_proto::appointment::SlotAt,
    phone: &str,
    channel: hallq_proto::appointment::Channel,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    let phone = Phone::new(phone).map_err(|e| reply(ErrorCode::BadRequest, e.0))?;
    session
        .hall
        .execute(
            Command::Book {
                item,
                slot,
                phone,
                channel,
            },
            |h, events| {
                events.iter().find_map(|e| match e {
                    Event::Booked { booking, .. } => h.booking(&booking.code),
                    _ => None,
                })
            },
        )
        .await
        .map_err(refused)?
        .map(Response::Booked)
        .ok_or_else(|| reply(ErrorCode::Internal, "no booking was made"))
}

/// The slots and bookings of `day` (today if left out).
pub(super) fn bookings(session: &Session, day: Option<u32>) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    let now = clock::now();
    Ok(Response::Bookings(session.hall.read(|h| {
        h.day_bookings(day.unwrap_or_else(|| h.local_day(now)))
    })))
}

/// Cancels a booking, for the visitor or (`by_hall`) by the hall.
pub(super) async fn cancel(
    session: &Session,
    code: &str,
    by_hall: bool,
) -> Result<Response, ErrorReply> {
    if by_hall {
        // §四(七)7 is the hall's decision: an admin's.
        require(session, &[Role::Admin])?;
    } else {
        require(session, &[Role::Kiosk, Role::Admin])?;
    }
    let code = hallq_core::appointment::normalize_code(code);
    session
        .hall
        .execute(
            Command::CancelBooking {
                code: code.clone(),
                by_hall,
            },
            |h, _| h.booking(&code),
        )
        .await
        .map_err(refused)?
        .map(Response::BookingCancelled)
        .ok_or_else(|| reply(ErrorCode::Internal, "the booking is gone"))
}

/// Checks a visitor in: their booking becomes an appointment-lane ticket.
pub(super) async fn check_in(session: &Session, code: &str) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    let code = hallq_core::appointment::normalize_code(code);
    let result = session
        .hall
        .execute(Command::CheckIn { code: code.clone() }, |h, events| {
            for e in events {
                match e {
                    // §四(七)8: recorded, and the kiosk says so.
                    Event::BookingForfeited { .. } => return Err(forfeited(h, &code)),
                    Event::Issued { issued, at } => {
                        return Ok(Response::Issued(issued_ticket(h, issued, *at)))
                    }
                    _ => {}
                }
            }
            Err(reply(ErrorCode::Internal, "the check-in issued no ticket"))
        })
        .await;
    match result {
        // Forfeited already (by the daemon's timer, before the visitor came):
        // the kiosk says the same as for a late check-in.
        Err(crate::shard::ShardError::Refused(hallq_core::DispatchError::BookingNotActive {
            state: "forfeited",
            ..
        })) => Err(session.hall.read(|h| forfeited(h, &code))),
        other => other.map_err(refused)?,
    }
}

/// Changes the slots of `day`; answered with the day's bookings as they
/// are now.
pub(super) async fn adjust_slots(
    session: &Session,
    day: u32,
    change: SlotChange,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    session
        .hall
        .execute(Command::AdjustSlots { day, change }, |h, _| {
            Response::Bookings(h.day_bookings(day))
        })
        .await
        .map_err(refused)
}

/// The kiosk's answer to a check-in after the booking's window closed.
fn forfeited(h: &hallq_core::Hall, code: &str) -> ErrorReply {
    let until = h
        .booking(code)
        .map(|b| b.check_in_until.to_string().replace('T', " "))
        .unwrap_or_default();
    reply(
        ErrorCode::BookingForfeited,
        format!(
            "too late: booking {code} could be checked in until {until}; \
             it is forfeited (seed 000 §四(七)8). Take a walk-in ticket instead"
        ),
    )
}
