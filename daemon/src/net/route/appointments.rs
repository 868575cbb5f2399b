//! Requests about appointments (SPEC §2 items 9–10): book, list, cancel,
//! check in, and an admin's slot changes. Rights as SPEC §3 gives them:
//! kiosks (the help desk) book, list, cancel for a visitor and check in;
//! only an admin changes slots or cancels on the hall's behalf.
//!
//! Issue 19 (SPEC §6, abuse): a booking code is drawn here from the
//! operating system's CSPRNG (`ring::rand::SystemRandom`), never derived
//! from anything a visitor can see, and handed to the core in the command;
//! a kiosk's listing hides every visitor's code and phone; a kiosk cancels
//! only with the phone's last four digits.

use hallq_core::{Command, DispatchError, Event};
use hallq_proto::appointment::SlotChange;
use hallq_proto::types::{Phone, Role};
use hallq_proto::wire::{ErrorReply, Response};
use hallq_proto::ErrorCode;
use ring::rand::{SecureRandom, SystemRandom};

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
    // A code already held is drawn again: with 31⁶ codes and a few
    // thousand bookings held, a second draw is rare and a ninth never.
    let mut tries = CODE_DRAWS;
    loop {
        tries -= 1;
        let result = session
            .execute(
                Command::Book {
                    item,
                    slot,
                    phone: phone.clone(),
                    channel,
                    code: fresh_code()?,
                },
                |h, events| {
                    events.iter().find_map(|e| match e {
                        Event::Booked { booking, .. } => {
                            h.booking(&booking.code).map(Response::Booked)
                        }
                        _ => None,
                    })
                },
            )
            .await;
        match result {
            Err(crate::shard::ShardError::Refused(DispatchError::BookingCodeTaken(_)))
                if tries > 0 =>
            {
                continue
            }
            other => {
                return other
                    .map_err(refused)?
                    .ok_or_else(|| reply(ErrorCode::Internal, "no booking was made"))
            }
        }
    }
}

/// How many codes a booking may draw before it gives up.
const CODE_DRAWS: u32 = 8;

/// A booking code from the CSPRNG (≈ 29.7 bits: guessing one of a day's
/// codes takes hundreds of thousands of tries per booking held, and the
/// per-connection request limit makes that days).
fn fresh_code() -> Result<String, ErrorReply> {
    let rng = SystemRandom::new();
    loop {
        let mut bytes = [0u8; 8];
        rng.fill(&mut bytes)
            .map_err(|_| reply(ErrorCode::Internal, "no random source for a booking code"))?;
        if let Some(code) = hallq_core::appointment::random_code(u64::from_le_bytes(bytes)) {
            return Ok(code);
        }
    }
}

/// What a kiosk sees of another visitor's booking: neither the code (the
/// key to check it in or cancel it) nor the phone's digits (the proof).
const HIDDEN_CODE: &str = "******";
const HIDDEN_PHONE: &str = "***********";

/// The slots and bookings of `day` (today if left out).
pub(super) fn bookings(session: &Session, day: Option<u32>) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    let now = clock::now();
    let mut listed = session
        .hall
        .read(|h| h.day_bookings(day.unwrap_or_else(|| h.local_day(now))));
    // Issue 19: a kiosk is a public machine; the slots' counts are what it
    // needs, not who booked them.
    if session.role == Role::Kiosk {
        for b in &mut listed.bookings {
            b.code = HIDDEN_CODE.into();
            b.phone = HIDDEN_PHONE.into();
        }
    }
    Ok(Response::Bookings(listed))
}

/// Cancels a booking, for the visitor or (`by_hall`) by the hall. A kiosk
/// must bring the phone's last four digits (`phone_last4`); an admin may.
pub(super) async fn cancel(
    session: &Session,
    code: &str,
    by_hall: bool,
    phone_last4: Option<String>,
) -> Result<Response, ErrorReply> {
    if by_hall {
        // §四(七)7 is the hall's decision: an admin's.
        require(session, &[Role::Admin])?;
    } else {
        require(session, &[Role::Kiosk, Role::Admin])?;
    }
    if session.role == Role::Kiosk && phone_last4.is_none() {
        return Err(reply(
            ErrorCode::BookingProofRequired,
            "a kiosk cancels a booking only with the last 4 digits of its phone \
             (hallq cancel-booking CODE --phone-last4 NNNN)",
        ));
    }
    let code = hallq_core::appointment::normalize_code(code);
    session
        .execute(
            Command::CancelBooking {
                code: code.clone(),
                by_hall,
                phone_tail: phone_last4,
            },
            |h, _| h.booking(&code).map(Response::BookingCancelled),
        )
        .await
        .map_err(refused)?
        .ok_or_else(|| reply(ErrorCode::Internal, "the booking is gone"))
}

/// Checks a visitor in: their booking becomes an appointment-lane ticket.
pub(super) async fn check_in(session: &Session, code: &str) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    let code = hallq_core::appointment::normalize_code(code);
    let result = session
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
