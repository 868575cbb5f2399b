//! The hall manager's requests (issue 21): the console's one answer, the
//! alerts, the 差评工单 and their lifecycle (回访, closing), 申诉复核. All
//! are the admin's alone (SPEC §3).

use hallq_core::{Command, Event};
use hallq_proto::console::WorkOrderAction;
use hallq_proto::types::{Role, TicketNo};
use hallq_proto::wire::{ErrorReply, Response};
use hallq_proto::ErrorCode;

use crate::net::rights::{refused, reply, require, Session};

/// Everything the live console shows, in one answer.
pub(super) fn console(session: &Session) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    Ok(Response::Console(Box::new(session.hall.console())))
}

/// The active alerts, and those cleared since `since` (unix seconds).
pub(super) fn alerts(session: &Session, since: Option<u64>) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    Ok(Response::Alerts(session.hall.alerts(since)))
}

/// A page of the hall's work orders.
pub(super) fn work_orders(
    session: &Session,
    include_closed: bool,
    after: Option<u64>,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    Ok(Response::WorkOrders(
        session.hall.work_order_page(include_closed, after),
    ))
}

/// 回访 or close a work order; answers with it afterwards.
pub(super) async fn update_work_order(
    session: &Session,
    id: u64,
    action: WorkOrderAction,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let command = match action {
        WorkOrderAction::CalledBack { note } => Command::CallBackWorkOrder { id, note },
        WorkOrderAction::Closed { note } => Command::CloseWorkOrder { id, note },
    };
    session
        .hall
        .execute(command, |_, _| ())
        .await
        .map_err(refused)?;
    session
        .hall
        .work_order_view(id)
        .map(|order| Response::WorkOrder(Box::new(order)))
        .ok_or_else(|| {
            reply(
                ErrorCode::Internal,
                format!("work order {id} vanished after its update"),
            )
        })
}

/// A day's appeals (today by default).
pub(super) fn appeals(session: &Session, day: Option<u32>) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let day = day.unwrap_or_else(|| session.hall.today());
    Ok(Response::Appeals(session.hall.appeals(day)))
}

/// 申诉复核: sets the rating of service `ticket` on `day` aside.
pub(super) async fn appeal(
    session: &Session,
    ticket: TicketNo,
    day: Option<u32>,
    reason: String,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    session
        .hall
        .execute(
            Command::AppealRating {
                ticket,
                day,
                reason,
            },
            |_, events| {
                events.iter().find_map(|e| match e {
                    Event::RatingAppealed {
                        day,
                        ticket,
                        rating,
                        reason,
                        at,
                    } => Some(hallq_core::workorders::appeal_view(
                        *day,
                        *ticket,
                        &hallq_core::Appeal {
                            rating: *rating,
                            reason: reason.clone(),
                            at: *at,
                        },
                        false,
                    )),
                    _ => None,
                })
            },
        )
        .await
        .map_err(refused)?
        .map(Response::RatingAppealed)
        .ok_or_else(|| reply(ErrorCode::Internal, "the appeal made no event"))
}
