//! Requests of the visitor's phone page (issue 18): a ticket's link for
//! its slip (kiosk, admin), and what a link's holder may do with their
//! own ticket — follow it, step back once, give it up, rate the service
//! (visitor, admin).
//!
//! The visitor role reaches these and the display stream (the page's push
//! trigger) only: whatever the page process is made to send, no window,
//! kiosk or admin request is answered for it (SPEC §3, `rights`). Every
//! ticket request carries the link's token, checked against the hall's
//! key ([`crate::fanout::link`]) before the hall is asked: a forged token
//! learns nothing, not even whether the ticket exists.

use hallq_core::{Command, Event};
use hallq_proto::types::{ItemCode, Lane, Phone, Rating, Role, TicketNo};
use hallq_proto::wire::{ErrorReply, Response};
use hallq_proto::ErrorCode;

use crate::fanout::link::LinkError;
use crate::fanout::remote::CodeError;
use crate::net::rights::{refused, reply, require, Session};

/// The link of today's `ticket`, for its slip's QR code.
pub(super) fn follow_link(session: &Session, ticket: TicketNo) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    session
        .hall
        .read(|h| h.ticket_state(ticket))
        .map_err(|e| reply(e.code(), e.to_string()))?;
    let token = session.hall.link_token(ticket);
    let link = session
        .hall
        .visitor()
        .url
        .map(|url| format!("{url}/t/{token}"));
    Ok(Response::FollowLink {
        ticket,
        token,
        link,
    })
}

/// The ticket `token` names, or the refusal.
fn ticket_of(session: &Session, token: &str) -> Result<TicketNo, ErrorReply> {
    require(session, &[Role::Visitor, Role::Admin])?;
    session.hall.link_ticket(token).map_err(|e| {
        metrics::counter!("hallq_visitor_links_refused_total", "why" => match e {
            LinkError::Invalid => "invalid",
            LinkError::Expired(_) => "expired",
        })
        .increment(1);
        match e {
            LinkError::Invalid => reply(ErrorCode::LinkInvalid, e.to_string()),
            LinkError::Expired(_) => reply(ErrorCode::LinkExpired, e.to_string()),
        }
    })
}

/// The ticket as the page shows it.
fn follow_view(session: &Session, ticket: TicketNo) -> Result<Response, ErrorReply> {
    let places = session.hall.visitor().step_back_places;
    let name = session.hall.name().to_owned();
    session.hall.read(|h| follow_in(h, ticket, &name, places))
}

/// [`follow_view`] of a hall already in hand (the answer to a change is
/// made under the hall's lock, to be remembered with its id).
fn follow_in(
    h: &hallq_core::Hall,
    ticket: TicketNo,
    name: &str,
    places: u32,
) -> Result<Response, ErrorReply> {
    h.ticket_follow(ticket, name, places)
        .map(|f| Response::Follow(Box::new(f)))
        .map_err(|e| reply(e.code(), e.to_string()))
}

/// What the rating tablet at `window` shows: the service finished there
/// last, and while it is not rated the token that rates it.
pub(super) fn window_rating(
    session: &Session,
    window: hallq_proto::types::WindowNo,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Visitor, Role::Admin])?;
    let last = session
        .hall
        .read(|h| h.last_finished_at(window))
        .map_err(|e| reply(e.code(), e.to_string()))?;
    let Some(ticket) = last else {
        return Ok(Response::WindowRating {
            window,
            ticket: None,
            token: None,
        });
    };
    let Response::Follow(follow) = follow_view(session, ticket)? else {
        return Err(reply(ErrorCode::Internal, "no ticket view"));
    };
    let token = follow.can_rate.then(|| session.hall.link_token(ticket));
    Ok(Response::WindowRating {
        window,
        ticket: Some(follow),
        token,
    })
}

/// The ticket `token` names, now.
pub(super) fn follow(session: &Session, token: &str) -> Result<Response, ErrorReply> {
    let ticket = ticket_of(session, token)?;
    follow_view(session, ticket)
}

/// "I need more time": back the hall's `step_back_places`, once.
pub(super) async fn step_back(session: &Session, token: &str) -> Result<Response, ErrorReply> {
    let ticket = ticket_of(session, token)?;
    let places = session.hall.visitor().step_back_places;
    let name = session.hall.name().to_owned();
    let answer = session
        .execute(Command::StepBack { ticket, places }, |h, _| {
            follow_in(h, ticket, &name, places)
        })
        .await
        .map_err(refused)?;
    tracing::info!(hall = session.hall.id(), %ticket, places, "visitor stepped back");
    answer
}

/// "I'm leaving": the ticket is given up.
pub(super) async fn leave(session: &Session, token: &str) -> Result<Response, ErrorReply> {
    let ticket = ticket_of(session, token)?;
    let places = session.hall.visitor().step_back_places;
    let name = session.hall.name().to_owned();
    let answer = session
        .execute(Command::Leave { ticket }, |h, _| {
            follow_in(h, ticket, &name, places)
        })
        .await
        .map_err(refused)?;
    tracing::info!(hall = session.hall.id(), %ticket, "visitor gave up the ticket");
    answer
}

/// 好差评 by the visitor: one rating per service (a batch's is its lead's).
pub(super) async fn rate(
    session: &Session,
    token: &str,
    rating: Rating,
) -> Result<Response, ErrorReply> {
    let ticket = ticket_of(session, token)?;
    session
        .execute(
            Command::Rate {
                ticket,
                rating,
                window: None,
            },
            |_, events| {
                events.iter().find_map(|e| match e {
                    Event::Rated { number, rating, .. } => Some(Response::Rated {
                        ticket: *number,
                        rating: *rating,
                        // Seed 000 §四(六)6: the outbox derives one from it.
                        work_order: rating.value() <= 2,
                    }),
                    _ => None,
                })
            },
        )
        .await
        .map_err(refused)?
        .ok_or_else(|| reply(ErrorCode::Internal, "no rating was recorded"))
}

/// 线上取号 is on in this hall, and the caller is the visitor page (or an
/// admin): else the refusal.
fn remote_allowed(session: &Session) -> Result<(), ErrorReply> {
    require(session, &[Role::Visitor, Role::Admin])?;
    if session.hall.visitor().remote.enabled {
        Ok(())
    } else {
        Err(reply(
            ErrorCode::RemoteTicketsOff,
            "this hall does not give numbers from outside (remote_tickets = false)",
        ))
    }
}

/// A refused code, with its own code for the client's text.
fn code_refused(e: CodeError) -> ErrorReply {
    let (code, why) = match e {
        CodeError::RateLimited(_) => (ErrorCode::CodeRateLimited, "rate"),
        CodeError::Expired => (ErrorCode::CodeExpired, "expired"),
        CodeError::Wrong(_) => (ErrorCode::CodeWrong, "wrong"),
        CodeError::TriesUsed => (ErrorCode::CodeTriesUsed, "tries"),
        CodeError::Random => (ErrorCode::Internal, "random"),
    };
    metrics::counter!("hallq_remote_codes_refused_total", "why" => why).increment(1);
    reply(code, e.to_string())
}

/// A mainland mobile, as the visitor typed it.
fn mobile(phone: String) -> Result<Phone, ErrorReply> {
    Phone::mobile(phone.trim().to_owned()).map_err(|e| reply(ErrorCode::NotMobileNumber, e.0))
}

/// The hall page: the items and their waiting counts, as at the kiosk.
pub(super) fn remote_hall(session: &Session) -> Result<Response, ErrorReply> {
    remote_allowed(session)?;
    super::tickets::kiosk_view_of(session)
}

/// Sends a one-time code for `item` to `phone`. The item must exist and
/// be offered; opening hours, caps and the phone's active tickets are
/// checked again when the ticket is issued.
pub(super) fn remote_code(
    session: &Session,
    item: ItemCode,
    phone: String,
) -> Result<Response, ErrorReply> {
    remote_allowed(session)?;
    let phone = mobile(phone)?;
    let known = session
        .hall
        .read(|h| h.spec().items.iter().any(|i| i.code == item));
    if !known {
        return Err(reply(ErrorCode::UnknownItem, format!("no item {item}")));
    }
    let expires_in_secs = session
        .hall
        .send_remote_code(item, &phone)
        .map_err(code_refused)?;
    tracing::info!(hall = session.hall.id(), %item, phone = %phone, "remote ticket code sent");
    Ok(Response::CodeSent {
        phone: phone.masked(),
        expires_in_secs,
    })
}

/// The code typed back: the walk-in ticket, issued through the dispatch
/// core as the kiosk's (same hours, caps, closing and per-phone rules;
/// journaled), with the phone attached for the usual SMS, and its link.
pub(super) async fn remote_ticket(
    session: &Session,
    item: ItemCode,
    phone: String,
    code: String,
) -> Result<Response, ErrorReply> {
    remote_allowed(session)?;
    let phone = mobile(phone)?;
    session
        .hall
        .check_remote_code(item, &phone, code.trim())
        .map_err(code_refused)?;
    let url = session.hall.visitor().url;
    let hall = &session.hall;
    let answer = session
        .execute(
            Command::Issue {
                item,
                lane: Lane::WalkIn,
                phone: Some(phone),
            },
            |h, events| {
                events.iter().find_map(|e| match e {
                    Event::Issued { issued, .. } => {
                        let ticket = issued.number;
                        let token = hall.link_token_in(h, ticket);
                        Some(Response::FollowLink {
                            ticket,
                            link: url.as_ref().map(|url| format!("{url}/t/{token}")),
                            token,
                        })
                    }
                    _ => None,
                })
            },
        )
        .await
        .map_err(refused)?
        .ok_or_else(|| reply(ErrorCode::Internal, "no ticket was issued"))?;
    if let Response::FollowLink { ticket, .. } = &answer {
        tracing::info!(hall = session.hall.id(), %ticket, "remote ticket issued");
    }
    Ok(answer)
}
