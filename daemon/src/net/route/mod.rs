//! Routing: one function per request family, as mini-redis's `cmd/`.
//!
//! [`handle`] is the whole route table — a match from [`Request`] variant to
//! the family that carries it out, each family given only the data of its
//! own requests:
//!
//! | file                | requests                                           |
//! |---------------------|----------------------------------------------------|
//! | [`tickets`]         | issue, status, open / close issuing, kiosk view, print failures, board lines |
//! | [`window`]          | window actions (call … login, logout), reinstate, rate |
//! | [`appointments`]    | book, bookings, cancel booking, check in, slots    |
//! | [`admin`]           | reload, health, stats, export                      |
//! | [`staffing`]        | simulate (what-if, `--plan`), forecast             |
//! | [`stream`]          | watch, notifications: the long-lived subscriptions |
//! | [`visitor`]         | a ticket's link; follow, step back, leave, rate by the visitor (issue 18) |
//! | [`console`]         | the manager's console, alerts, work orders, 申诉复核 (issue 21) |
//!
//! Each family checks the role first (SPEC §3), then asks the hall.
//! A change that comes with the client's id (`Request::Once`) is routed
//! as itself, with the id in its session ([`once`]): the hall remembers it
//! with the change, and a resend gets the first answer.
//! Subscriptions keep their stream, so [`handle`] hands them back to the
//! connection ([`super::session`]) instead of answering them.

mod admin;
mod appointments;
mod console;
mod staffing;
pub(super) mod stream;
mod tickets;
mod visitor;
mod window;

use hallq_proto::wire::{ChangeId, ErrorReply, Request, Response};

use super::rights::{refused, serving, Session};
use super::Daemon;
use crate::shard::ChangeTag;

/// Where a request went.
#[derive(Debug)]
pub(super) enum Routed {
    /// Carried out (or refused); the one answer of its stream.
    Answer(Result<Response, ErrorReply>),
    /// A display subscription: [`stream::watch`] serves the stream.
    Watch,
    /// A notifier subscription: [`stream::notify`] serves the stream.
    Notifications,
    /// A pipeline (protocol 2): the connection ([`super::session`]) serves the stream.
    Pipeline,
}

/// Carries out one request within the session's rights (SPEC §3).
pub(super) async fn handle(daemon: &Daemon, session: &Session, request: Request) -> Routed {
    // Cluster mode: only the owner answers for a hall (a follower's state
    // may lag); the daemon-wide requests are answered anywhere. A
    // subscription asks once its role and seat are settled, so that its
    // refusals come in that order.
    let answered_anywhere = matches!(
        request,
        Request::Health
            | Request::Reload
            | Request::Watch
            | Request::Notifications
            | Request::Pipeline
    );
    if !session.hall_named
        && !matches!(
            request,
            Request::Health | Request::Reload | Request::Pipeline
        )
    {
        return Routed::Answer(Err(super::rights::reply(
            hallq_proto::ErrorCode::BadRequest,
            "this daemon serves several halls: name one (--hall)",
        )));
    }
    if !answered_anywhere {
        if let Err(refusal) = serving(daemon, &session.hall) {
            return Routed::Answer(Err(refusal));
        }
    }
    Routed::Answer(match request {
        Request::Issue { item, lane, phone } => tickets::issue(session, item, lane, phone).await,
        Request::Status => tickets::status(session),
        Request::StatusPage { from, limit } => tickets::status_page(session, from, limit),
        Request::CloseIssuing => tickets::issuing(session, false).await,
        Request::OpenIssuing => tickets::issuing(session, true).await,
        Request::Window { window, action } => window::act(session, window, action).await,
        Request::Reinstate { ticket } => window::reinstate(session, ticket).await,
        Request::Rate { ticket, rating } => window::rate(session, ticket, rating).await,
        Request::Book {
            item,
            slot,
            phone,
            channel,
        } => appointments::book(session, item, slot, &phone, channel).await,
        Request::Bookings { day } => appointments::bookings(session, day),
        Request::CancelBooking { code, by_hall } => {
            appointments::cancel(session, &code, by_hall, None).await
        }
        Request::CancelBookingWithPhone { code, phone_last4 } => {
            appointments::cancel(session, &code, false, Some(phone_last4)).await
        }
        Request::CheckIn { code } => appointments::check_in(session, &code).await,
        Request::AdjustSlots { day, change } => {
            appointments::adjust_slots(session, day, change).await
        }
        // Boxed: reloading builds a whole config, and its future would
        // make every request's as big (16 KiB, copied per request).
        Request::Reload => Box::pin(admin::reload(daemon, session)).await,
        Request::Health => admin::health(daemon, session),
        Request::Stats { day, by } => admin::stats(session, day, by).await,
        Request::Export { day, from } => admin::export(daemon, session, day, from).await,
        Request::Report { day, by } => admin::report(session, day, by).await,
        Request::ExportDetailed { day, from } => {
            admin::export_detailed(daemon, session, day, from).await
        }
        Request::KioskView => tickets::kiosk_view(session),
        Request::PrintFailed { ticket, reason } => tickets::print_failed(session, ticket, reason),
        Request::PrintFailures => tickets::print_failures(session),
        Request::AttachPhone { ticket, phone } => {
            tickets::attach_phone(session, ticket, phone).await
        }
        Request::BoardLines => tickets::board_lines(session),
        Request::FollowLink { ticket } => visitor::follow_link(session, ticket),
        Request::Follow { token } => visitor::follow(session, &token),
        Request::StepBack { token } => visitor::step_back(session, &token).await,
        Request::Leave { token } => visitor::leave(session, &token).await,
        Request::RateService { token, rating } => visitor::rate(session, &token, rating).await,
        Request::WindowRating { window } => visitor::window_rating(session, window),
        Request::Simulate(ask) => staffing::simulate(daemon, session, *ask).await,
        Request::Forecast { day, weeks } => staffing::forecast(session, day, weeks).await,
        Request::RemoteHall => visitor::remote_hall(session),
        Request::RemoteCode { item, phone } => visitor::remote_code(session, item, phone),
        Request::RemoteTicket { item, phone, code } => {
            visitor::remote_ticket(session, item, phone, code).await
        }
        Request::Console => console::console(session),
        Request::Alerts {
            include_cleared_since,
        } => console::alerts(session, include_cleared_since),
        Request::WorkOrders {
            include_closed,
            after,
        } => console::work_orders(session, include_closed, after),
        Request::WorkOrderUpdate { id, action } => {
            console::update_work_order(session, id, action).await
        }
        Request::AppealRating {
            ticket,
            day,
            reason,
        } => console::appeal(session, ticket, day, reason).await,
        Request::Appeals { day } => console::appeals(session, day),
        Request::Watch => return Routed::Watch,
        Request::Notifications => return Routed::Notifications,
        Request::Pipeline => return Routed::Pipeline,
        Request::Once { id, request } => return once(daemon, session, id, *request).await,
    })
}

/// A change sent with the client's id (SPEC §6). A resend of one the hall
/// has carried out is answered as the first time before anything else is
/// looked at (the route's own checks may no longer pass: a one-time code
/// is used up, a window's ticket is finished); a new one is routed as
/// itself, and the hall journals the id with it. A read needs no id.
async fn once(daemon: &Daemon, session: &Session, id: ChangeId, request: Request) -> Routed {
    if matches!(request, Request::Once { .. }) {
        return Routed::Answer(Err(super::rights::reply(
            hallq_proto::ErrorCode::BadRequest,
            "a change id wraps one change, not another change id",
        )));
    }
    if request.is_read_only() || !session.hall_named {
        return Box::pin(handle(daemon, session, request)).await;
    }
    let tag = ChangeTag {
        id,
        digest: digest(session, &request),
    };
    if session.hall.serving() {
        if let Some(known) = session.hall.recall_change(&tag).await {
            return Routed::Answer(known.map_err(refused));
        }
    }
    let tagged = Session {
        change: Some(tag),
        ..session.clone()
    };
    Box::pin(handle(daemon, &tagged, request)).await
}

/// What a resend must match: who sent it (role and window: another
/// token's resend is not this change) and what it asks, as encoded on the
/// wire. SHA-256, cut to 128 bits.
fn digest(session: &Session, request: &Request) -> [u8; 16] {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    hash.update(session.role.as_str().as_bytes());
    hash.update(
        &session
            .window
            .map_or(0, |w| u32::from(w.0) + 1)
            .to_le_bytes(),
    );
    // A request that decoded encodes again (the frame it came in is gone).
    if let Ok(frame) = hallq_proto::codec::encode(request) {
        hash.update(&frame);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash.finish().as_ref()[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns, without calling it.
    fn future_size<A, B, C, Fut: std::future::Future>(_: impl FnOnce(A, B, C) -> Fut) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// Every request's future is moved into a task (a stream's) or a
    /// pipeline's set, and a change's once more into a box: its size is
    /// copied per request. A family whose future is big is boxed in
    /// [`handle`] (reload's was 16 KiB and made every request's as big).
    #[test]
    fn a_requests_future_stays_small() {
        let handle = future_size(handle);
        let issue = future_size(|s: &Session, i, l| tickets::issue(s, i, l, None));
        let act = future_size(window::act);
        assert!(handle <= 4096, "route::handle's future is {handle} bytes");
        assert!(
            handle < 2 * issue.max(act),
            "{handle} vs issue {issue}, act {act}"
        );
    }
}
