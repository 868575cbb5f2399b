//! Requests about tickets at the dispenser: issuing one (kiosk, admin),
//! the hall's status (every role but notifier), and opening or closing
//! issuing at the end of the day (admin).

use hallq_core::{Command, Event, Issued};
use hallq_proto::types::{ItemCode, Lane, Phone, Role, TicketNo, Timestamp};
use hallq_proto::views::KioskView;
use hallq_proto::wire::{ErrorReply, IssuedTicket, Response, Status, StatusPage, WAITING_PAGE_MAX};
use hallq_proto::ErrorCode;

use crate::net::rights::{refused, reply, require, Session};

/// Issues a walk-in or priority ticket; an appointment-lane one only for
/// an admin, as a visitor's comes from checking in their booking.
pub(super) async fn issue(
    session: &Session,
    item: ItemCode,
    lane: Lane,
    phone: Option<String>,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    if lane == Lane::Appointment && session.role != Role::Admin {
        return Err(reply(
            ErrorCode::Forbidden,
            "appointment tickets are issued by checking in a booking",
        ));
    }
    let phone = phone
        .map(Phone::new)
        .transpose()
        .map_err(|e| reply(ErrorCode::BadRequest, e.0))?;
    session
        .execute(Command::Issue { item, lane, phone }, |hall, events| {
            events.iter().find_map(|e| match e {
                Event::Issued { issued, at } => {
                    Some(Response::Issued(issued_ticket(hall, issued, *at)))
                }
                _ => None,
            })
        })
        .await
        .map_err(refused)?
        .ok_or_else(|| reply(ErrorCode::Internal, "no ticket was issued"))
}

/// Every window and the waiting tickets, the list capped at
/// [`WAITING_PAGE_MAX`] so that the answer fits a frame at any hall size
/// (issue 19: past ~3,500 waiting it did not, and the client lost the
/// connection); the view's counts are whole.
pub(super) fn status(session: &Session) -> Result<Response, ErrorReply> {
    require(
        session,
        &[Role::Kiosk, Role::Window, Role::Display, Role::Admin],
    )?;
    let page = page(session, 0, WAITING_PAGE_MAX);
    Ok(Response::Status(page.status))
}

/// A board's 请…准备 and 过号 lists (display, admin): read by the board
/// after each display change.
pub(super) fn board_lines(session: &Session) -> Result<Response, ErrorReply> {
    require(session, &[Role::Display, Role::Admin])?;
    Ok(Response::BoardLines(session.hall.board_lines()))
}

/// Every window and one page of the waiting list.
pub(super) fn status_page(
    session: &Session,
    from: u32,
    limit: u32,
) -> Result<Response, ErrorReply> {
    require(
        session,
        &[Role::Kiosk, Role::Window, Role::Display, Role::Admin],
    )?;
    Ok(Response::StatusPage(page(
        session,
        from,
        limit.min(WAITING_PAGE_MAX),
    )))
}

fn page(session: &Session, from: u32, limit: u32) -> StatusPage {
    session.hall.read(|h| {
        let waiting = h.waiting();
        let total = waiting.len();
        let start = (from as usize).min(total);
        let end = start.saturating_add(limit as usize).min(total);
        StatusPage {
            status: Status {
                hall: session.hall.id().to_owned(),
                hall_name: session.hall.name().to_owned(),
                view: h.view(),
                waiting: waiting[start..end].to_vec(),
            },
            from: start as u32,
            waiting_total: total as u32,
        }
    })
}

/// What a kiosk's start screen shows: items with their waits and caps,
/// whether walk-ins are taken now and when the hall opens next.
pub(super) fn kiosk_view(session: &Session) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    kiosk_view_of(session)
}

/// The kiosk's start screen, whoever may see it (also 线上取号's hall page).
pub(super) fn kiosk_view_of(session: &Session) -> Result<Response, ErrorReply> {
    let now = crate::clock::now();
    let (items, day, issuing, (open_now, opens)) = session
        .hall
        .read(|h| (h.kiosk_items(), h.day(), h.view().issuing, h.opening(now)));
    Ok(Response::KioskView(Box::new(KioskView {
        hall: session.hall.id().to_owned(),
        hall_name: session.hall.name().to_owned(),
        day,
        issuing,
        open_now,
        opens,
        items,
        print_failures_today: session.hall.print_failures_today(),
    })))
}

/// A kiosk could not print `ticket`'s slip: logged, counted, shown to the
/// hall. The ticket stays issued — the visitor has its number on the
/// kiosk's screen — so no number is left that nobody holds.
pub(super) fn print_failed(
    session: &Session,
    ticket: TicketNo,
    reason: String,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    if reason.chars().count() > 200 {
        return Err(reply(
            ErrorCode::TooLong,
            "a print failure's reason is at most 200 characters",
        ));
    }
    let issued = session.hall.read(|h| h.ticket_state(ticket).is_ok());
    if !issued {
        return Err(reply(
            ErrorCode::UnknownTicket,
            format!("no ticket {ticket} today"),
        ));
    }
    tracing::warn!(hall = session.hall.id(), %ticket, reason = %reason, "kiosk could not print a ticket");
    Ok(Response::PrintFailures(
        session.hall.print_failed(ticket, reason),
    ))
}

/// A visitor leaves a mobile number for their waiting ticket (after a
/// failed print): the §7.3.5 reminder and §7.3.6 call then go to it by SMS.
/// The number is checked as a mainland mobile and logged masked only.
pub(super) async fn attach_phone(
    session: &Session,
    ticket: TicketNo,
    phone: String,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Admin])?;
    let phone = Phone::mobile(phone).map_err(|e| reply(ErrorCode::NotMobileNumber, e.0))?;
    let masked = phone.masked();
    let answer = session
        .execute(Command::AttachPhone { ticket, phone }, |_, events| {
            events.iter().find_map(|e| match e {
                Event::PhoneAttached {
                    number, position, ..
                } => Some(Response::PhoneAttached {
                    ticket: *number,
                    position: *position,
                }),
                _ => None,
            })
        })
        .await
        .map_err(refused)?
        .ok_or_else(|| reply(ErrorCode::Internal, "no phone was attached"))?;
    tracing::info!(hall = session.hall.id(), %ticket, phone = %masked, "phone left for a ticket");
    Ok(answer)
}

/// The hall's print failures since hallqd started.
pub(super) fn print_failures(session: &Session) -> Result<Response, ErrorReply> {
    require(session, &[Role::Kiosk, Role::Window, Role::Admin])?;
    Ok(Response::PrintFailures(session.hall.print_failures()))
}

/// Opens (`open`) or closes issuing of walk-in tickets.
pub(super) async fn issuing(session: &Session, open: bool) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let command = if open {
        Command::OpenIssuing
    } else {
        Command::CloseIssuing
    };
    session
        .execute(command, |_, _| Response::Issuing { open })
        .await
        .map_err(refused)
}

/// What a kiosk prints for a new ticket (DB33/T 2036.4 §7.3.4); also the
/// answer to an appointment's check-in.
pub(super) fn issued_ticket(
    hall: &hallq_core::Hall,
    issued: &Issued,
    at: Timestamp,
) -> IssuedTicket {
    IssuedTicket {
        ticket: issued.number,
        item_name: hall
            .spec()
            .items
            .iter()
            .find(|i| i.code == issued.number.item)
            .map(|i| i.name.clone())
            .unwrap_or_default(),
        lane: issued.lane,
        position: issued.position,
        windows: issued.windows.clone(),
        eta_secs: issued.eta_secs,
        approaching: issued.approaching,
        issued_at: at,
    }
}
