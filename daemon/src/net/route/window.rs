//! Requests from a window terminal (or an admin acting for a window): the
//! window's actions — call, recall, start, finish, no-show, transfer,
//! pause, resume, open, close, login, logout — putting a no-show back in
//! line, and rating a finished service (好差评).
//!
//! A window terminal acts only for the window its token names; an admin
//! names the window it acts for.

use hallq_core::{Command, Event, TransferTarget};
use hallq_proto::types::{Rating, Role, TicketNo, WindowNo};
use hallq_proto::wire::{ErrorReply, Response, Target, WindowAction};
use hallq_proto::ErrorCode;

use crate::fanout::display::announcement;
use crate::net::rights::{refused, reply, require, Session};

/// Carries out `action` at `window` (the terminal's own if left out) and
/// answers with the window as it is now.
pub(super) async fn act(
    session: &Session,
    window: Option<WindowNo>,
    action: WindowAction,
) -> Result<Response, ErrorReply> {
    let window = match (session.role, window) {
        (Role::Window, None) => session
            .window
            .ok_or_else(|| reply(ErrorCode::Forbidden, "no window"))?,
        (Role::Window, Some(w)) if Some(w) == session.window => w,
        (Role::Window, Some(w)) => {
            return Err(reply(
                ErrorCode::Forbidden,
                format!(
                    "this terminal is window {}; it may not act for window {w}",
                    session.window.map_or(0, |w| w.0)
                ),
            ))
        }
        (Role::Admin, Some(w)) => w,
        (Role::Admin, None) => {
            return Err(reply(ErrorCode::BadRequest, "name the window (--window N)"))
        }
        _ => return Err(require(session, &[Role::Window, Role::Admin]).unwrap_err()),
    };
    if let WindowAction::Finish { rating: Some(_) }
    | WindowAction::FinishBatch {
        rating: Some(_), ..
    } = &action
    {
        clerk_may_rate(session)?;
    }
    let name = action.name().to_owned();
    let command = window_command(window, action);
    session
        .execute(command, |hall, events| {
            let (ticket, announced) = events
                .iter()
                .find_map(|e| match e {
                    Event::Called { number, .. } | Event::Recalled { number, .. } => {
                        Some((Some(*number), Some(announcement(*number, window))))
                    }
                    Event::Started { number, .. }
                    | Event::Finished { number, .. }
                    | Event::NoShow { number, .. }
                    | Event::Transferred { number, .. } => Some((Some(*number), None)),
                    _ => None,
                })
                .unwrap_or((None, None));
            hall.window_view_of(window).map(|view| Response::Window {
                action: name,
                ticket,
                announcement: announced,
                window: view,
            })
        })
        .await
        .map_err(refused)?
        .map_err(|e| reply(e.code(), e.to_string()))
}

/// Puts no-show `ticket` back into its line.
pub(super) async fn reinstate(session: &Session, ticket: TicketNo) -> Result<Response, ErrorReply> {
    require(session, &[Role::Window, Role::Admin])?;
    // Any window of the ticket's item, not only the one that marked it
    // (see `Hall::check_reinstate_at`).
    if let (Role::Window, Some(window)) = (session.role, session.window) {
        session
            .hall
            .read(|h| h.check_reinstate_at(window, ticket))
            .map_err(|e| reply(e.code(), e.to_string()))?;
    }
    session
        .execute(Command::Reinstate { ticket }, |_, events| {
            reinstated(ticket, events)
        })
        .await
        .map_err(refused)
}

/// Records the visitor's rating of the service of `ticket`.
pub(super) async fn rate(
    session: &Session,
    ticket: TicketNo,
    rating: Rating,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Window, Role::Admin])?;
    clerk_may_rate(session)?;
    // A window's rating terminal rates only what it served.
    let window = session.window.filter(|_| session.role == Role::Window);
    session
        .execute(
            Command::Rate {
                ticket,
                rating,
                window,
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

/// 好差评 is the visitor's own (国办发〔2019〕51号; issue 18): a window
/// terminal enters a rating only where the hall's `clerk_rating` allows
/// it. An admin (the hall's back office, entering paper forms) may.
fn clerk_may_rate(session: &Session) -> Result<(), ErrorReply> {
    if session.role == Role::Window && !session.hall.visitor().clerk_rating {
        return Err(reply(
            ErrorCode::ClerkRatingOff,
            "this hall has visitors rate on their phones; the window may not enter ratings \
             (clerk_rating = false)",
        ));
    }
    Ok(())
}

fn reinstated(ticket: TicketNo, events: &[Event]) -> Response {
    let position = events
        .iter()
        .find_map(|e| match e {
            Event::Reinstated { position, .. } => Some(*position),
            _ => None,
        })
        .unwrap_or_default();
    Response::Reinstated { ticket, position }
}

/// The hall's command for a window's action on the wire.
fn window_command(window: WindowNo, action: WindowAction) -> Command {
    match action {
        WindowAction::Call { ticket: None } => Command::CallNext { window },
        WindowAction::Call {
            ticket: Some(ticket),
        } => Command::CallTicket { window, ticket },
        WindowAction::Recall => Command::Recall { window },
        WindowAction::Start => Command::Start { window },
        WindowAction::Finish { rating } => Command::Finish { window, rating },
        WindowAction::NoShow => Command::NoShow { window },
        WindowAction::Transfer { to } => Command::Transfer {
            window,
            to: match to {
                Target::Item(item) => TransferTarget::Item(item),
                Target::Window(w) => TransferTarget::Window(w),
            },
        },
        WindowAction::Pause { reason } => Command::Pause { window, reason },
        WindowAction::Resume => Command::Resume { window },
        WindowAction::Open => Command::OpenWindow { window },
        WindowAction::Close => Command::CloseWindow { window },
        WindowAction::Login { staff, post } => Command::LogIn {
            window,
            staff,
            post,
        },
        WindowAction::Logout => Command::LogOut { window },
        WindowAction::FinishBatch { with, rating } => Command::FinishBatch {
            window,
            with,
            rating,
        },
    }
}
