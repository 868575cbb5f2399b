//! `--json` output: one object per answer, shaped for scripts rather than
//! mirroring the wire types' serde shape. Ticket numbers are strings
//! ("A012"), windows plain integers, lanes a name plus an optional
//! priority reason, instants milliseconds since the Unix epoch.
//!
//! Phone numbers appear only in a notification, in full: the notifier
//! stream exists to hand them to the SMS gateway (SPEC §2 item 8).

use hallq_proto::ErrorCode;
use serde_json::{json, Value};

use hallq_proto::types::{ItemCode, Lane, TicketNo, Timestamp};
use hallq_proto::views::{HallView, ItemView, WaitingTicket, WindowState, WindowView};
use hallq_proto::wire::{
    CallShown, DisplayUpdate, IssuedTicket, Notification, NotificationKind, Response, Status,
};

/// The JSON object for one answer of the daemon.
pub fn response(r: &Response) -> Value {
    if let Some(value) = super::appointments::json(r) {
        return value;
    }
    if let Some(value) = super::alerts::json(r) {
        return value;
    }
    match r {
        Response::Welcome(w) => json!({
            "role": w.role.as_str(),
            "hall": w.hall,
            "hall_name": w.hall_name,
            "window": w.window.map(|n| n.0),
        }),
        Response::Issued(t) => issued(t),
        Response::KioskView(v) => json!(v),
        Response::PrintFailures(p) => json!(p),
        Response::BoardLines(l) => json!(l),
        Response::PhoneAttached { ticket, position } => {
            json!({ "ticket": ticket.to_string(), "position": position })
        }
        Response::FollowLink {
            ticket,
            token,
            link,
        } => json!({ "ticket": ticket.to_string(), "token": token, "link": link }),
        Response::WindowRating {
            window,
            ticket,
            token,
        } => json!({
            "window": window.0,
            "ticket": ticket.as_ref().map(|t| t.ticket.to_string()),
            "can_rate": token.is_some(),
        }),
        Response::Follow(f) => {
            let mut v = serde_json::to_value(f).unwrap_or_default();
            v["ticket"] = json!(f.ticket.to_string());
            v
        }
        Response::Window {
            action,
            ticket: t,
            announcement,
            window: w,
        } => json!({
            "action": action,
            "ticket": t.as_ref().map(ticket),
            "announcement": announcement,
            "window": window(w),
        }),
        Response::Reinstated {
            ticket: t,
            position,
        } => json!({ "ticket": ticket(t), "position": position }),
        Response::Issuing { open } => json!({ "issuing": open }),
        Response::Status(s) => status(s),
        Response::StatusPage(p) => {
            let mut v = status(&p.status);
            v["waiting_from"] = json!(p.from);
            v["waiting_total"] = json!(p.waiting_total);
            v
        }
        Response::Watching => json!({ "subscribed": "watch" }),
        Response::Notifying => json!({ "subscribed": "notifications" }),
        Response::Pipelining => json!({ "pipeline": true }),
        Response::Reloaded { changes } => json!({ "reloaded": true, "changes": changes }),
        Response::Health(report) => json!(report),
        Response::Error(e) => error(&e.code, &e.message, e.redirect.as_deref()),
        Response::Rated {
            ticket: t,
            rating,
            work_order,
        } => json!({ "ticket": ticket(t), "rating": rating.value(), "work_order": work_order }),
        Response::Stats(stats) => json!(stats),
        // `stats` as before (every field of `Stats`), the rest under "report".
        Response::Report(report) => {
            let mut value = json!(report.stats);
            value["report"] = json!({
                "wait_target_secs": report.wait_target_secs,
                "totals": report.totals,
                "groups": report.groups,
                "hours": report.hours,
            });
            value
        }
        Response::ExportDetailed(page) => json!({
            "day": page.day,
            "records": page.records.iter().zip(&page.trails)
                .map(|(r, t)| ticket_record_detailed(r, t, page.offset_minutes))
                .collect::<Vec<_>>(),
            "next": page.next,
        }),
        Response::Simulation(r) => json!(r),
        Response::Forecast(f) => json!(f),
        Response::CodeSent {
            phone,
            expires_in_secs,
        } => json!({ "phone": phone, "expires_in_secs": expires_in_secs }),
        Response::Export { records, next } => json!({
            "records": records.iter().map(ticket_record).collect::<Vec<_>>(),
            "next": next,
        }),
        Response::Console(_)
        | Response::Alerts(_)
        | Response::WorkOrders(_)
        | Response::WorkOrder(_)
        | Response::RatingAppealed(_)
        | Response::Appeals(_) => {
            unreachable!("rendered by alerts::json")
        }
        Response::Booked(_) | Response::Bookings(_) | Response::BookingCancelled(_) => {
            unreachable!("rendered by appointments::json")
        }
    }
}

/// The header line of `hallq export --format csv`.
pub const CSV_HEADER: &str =
    "hall,ticket,item,lane,issued,called,started,finished,window,staff,rating,outcome,phone_hash";

/// The header of `hallq export --format csv` (issue 17): the columns of
/// [`CSV_HEADER`] unchanged (a contract), then the new ones at the end.
pub fn csv_header_detailed() -> String {
    format!("{CSV_HEADER},{CSV_ADDED}")
}

/// `hallq export`'s header: [`csv_header_detailed`] and the column issue
/// 21 added at the end, `appeal`: the reason a rating was set aside
/// (申诉复核), empty if it was not.
pub fn csv_header_export() -> String {
    format!("{},appeal", csv_header_detailed())
}

/// One `hallq export` CSV line: [`csv_record_detailed`] and the `appeal`
/// column (quoted as RFC 4180 asks when it holds a comma, quote or line
/// break: a manager types the reason freely).
pub fn csv_record_export(
    r: &hallq_proto::wire::TicketRecord,
    t: &hallq_proto::wire::RecordTrail,
    offset_minutes: i32,
    appeal: Option<&str>,
) -> String {
    let appeal = appeal.unwrap_or_default();
    let cell = if appeal.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", appeal.replace('"', "\"\""))
    } else {
        appeal.to_owned()
    };
    format!("{},{cell}", csv_record_detailed(r, t, offset_minutes))
}

/// The columns issue 17 added: ISO 8601 local times, the trail, seconds.
const CSV_ADDED: &str =
    "issued_at,called_at,started_at,finished_at,original_item,transfers,waiting_secs,service_secs";

/// An instant as ISO 8601 in the hall's zone: `2025-03-03T09:00:00+08:00`.
pub fn iso8601(at: Timestamp, offset_minutes: i32) -> String {
    let local = at.0 as i64 / 1000 + i64::from(offset_minutes) * 60;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days: proleptic Gregorian, no table.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

/// [`ticket_record`] with the trail and ISO 8601 times (new keys only).
pub fn ticket_record_detailed(
    r: &hallq_proto::wire::TicketRecord,
    t: &hallq_proto::wire::RecordTrail,
    offset_minutes: i32,
) -> Value {
    let iso = |at: Option<Timestamp>| at.map(|at| iso8601(at, offset_minutes));
    let mut value = ticket_record(r);
    value["issued_at"] = json!(iso8601(r.issued, offset_minutes));
    value["called_at"] = json!(iso(r.called));
    value["started_at"] = json!(iso(r.started));
    value["finished_at"] = json!(iso(r.finished));
    value["original_item"] = json!(t.original_item.to_string());
    value["transfers"] = json!(t.transfers);
    value["waiting_secs"] = json!(t.waiting_secs);
    value["service_secs"] = json!(t.service_secs);
    value
}

/// [`csv_record`] then the columns [`csv_header_detailed`] adds; the
/// transfer trail is `1>B;3>W5` (window 1 to item B, then window 3 to
/// window 5).
pub fn csv_record_detailed(
    r: &hallq_proto::wire::TicketRecord,
    t: &hallq_proto::wire::RecordTrail,
    offset_minutes: i32,
) -> String {
    let iso = |at: Option<Timestamp>| at.map_or(String::new(), |at| iso8601(at, offset_minutes));
    let num = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
    [
        csv_record(r),
        iso8601(r.issued, offset_minutes),
        iso(r.called),
        iso(r.started),
        iso(r.finished),
        t.original_item.to_string(),
        t.transfers.join(";"),
        num(t.waiting_secs),
        num(t.service_secs),
    ]
    .join(",")
}

/// One per-ticket record as a JSON object (instants in ms since the epoch).
pub fn ticket_record(r: &hallq_proto::wire::TicketRecord) -> Value {
    json!({
        "hall": r.hall,
        "ticket": ticket(&r.ticket),
        "item": r.item.to_string(),
        "lane": r.lane.label(),
        "issued": r.issued.0,
        "called": r.called.map(|t| t.0),
        "started": r.started.map(|t| t.0),
        "finished": r.finished.map(|t| t.0),
        "window": r.window.map(|w| w.0),
        "staff": r.staff,
        "rating": r.rating,
        "outcome": r.outcome,
        "phone_hash": r.phone_hash,
    })
}

/// One per-ticket record as a CSV line (RFC 4180 quoting where needed).
pub fn csv_record(r: &hallq_proto::wire::TicketRecord) -> String {
    let field = |s: String| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let opt = |v: Option<String>| v.unwrap_or_default();
    [
        field(r.hall.clone()),
        r.ticket.to_string(),
        r.item.to_string(),
        field(r.lane.label()),
        r.issued.0.to_string(),
        opt(r.called.map(|t| t.0.to_string())),
        opt(r.started.map(|t| t.0.to_string())),
        opt(r.finished.map(|t| t.0.to_string())),
        opt(r.window.map(|w| w.0.to_string())),
        field(opt(r.staff.clone())),
        opt(r.rating.map(|v| v.to_string())),
        r.outcome.clone(),
        opt(r.phone_hash.clone()),
    ]
    .join(",")
}

/// `{"error":{"code":…,"message":…}}`, what every failing command prints;
/// with `"redirect"` when a daemon named the hall's owner.
pub fn error(code: &ErrorCode, message: &str, redirect: Option<&str>) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if let Some(owner) = redirect {
        // A `not_owner` refusal naming the hall's owner (cluster mode).
        error["redirect"] = json!(owner);
    }
    json!({ "error": error })
}

fn ticket(t: &TicketNo) -> Value {
    Value::String(t.to_string())
}

fn item(code: &ItemCode) -> Value {
    Value::String(code.to_string())
}

/// `("walk_in", null)`, `("appointment", null)` or `("priority", "elderly")`.
fn lane(l: &Lane) -> (Value, Value) {
    match l {
        Lane::Appointment => (json!("appointment"), Value::Null),
        Lane::Priority(reason) => (json!("priority"), json!(reason.to_string())),
        Lane::WalkIn => (json!("walk_in"), Value::Null),
    }
}

fn issued(t: &IssuedTicket) -> Value {
    let (lane, priority) = lane(&t.lane);
    json!({
        "ticket": ticket(&t.ticket),
        "item_name": t.item_name,
        "lane": lane,
        "priority": priority,
        "position": t.position,
        "windows": t.windows.iter().map(|w| w.0).collect::<Vec<_>>(),
        "eta_secs": t.eta_secs,
        "approaching": t.approaching,
        "issued_at": t.issued_at.0,
    })
}

fn window(w: &WindowView) -> Value {
    let (state, reason) = match &w.state {
        WindowState::Closed => ("closed", None),
        WindowState::Open => ("open", None),
        WindowState::Paused(reason) => ("paused", Some(reason)),
    };
    json!({
        "number": w.number.0,
        "state": state,
        "pause_reason": reason,
        "current": w.current.as_ref().map(ticket),
        "serving": w.serving,
        "staff": w.staff.as_ref().map(|(id, post)| json!({
            "id": id.as_str(),
            "post": format!("{post:?}"),
        })),
        "items": w.items.iter().map(item).collect::<Vec<_>>(),
        "universal": w.universal,
        "fallback": w.fallback,
    })
}

fn waiting_by_lane(w: &[u32; 3]) -> Value {
    // Index order is Lane::rank: appointment, priority, walk-in.
    json!({ "appointment": w[0], "priority": w[1], "walk_in": w[2] })
}

fn item_view(i: &ItemView) -> Value {
    json!({
        "code": item(&i.code),
        "name": i.name,
        "waiting": waiting_by_lane(&i.waiting),
        "open_windows": i.open_windows,
        "issued_today": i.issued_today,
    })
}

fn hall_view(v: &HallView) -> Value {
    json!({
        "day": v.day,
        "issuing": v.issuing,
        "windows": v.windows.iter().map(window).collect::<Vec<_>>(),
        "items": v.items.iter().map(item_view).collect::<Vec<_>>(),
    })
}

fn waiting_ticket(t: &WaitingTicket) -> Value {
    let (lane, priority) = lane(&t.lane);
    json!({
        "ticket": ticket(&t.ticket),
        "lane": lane,
        "priority": priority,
        "position": t.position,
        "for_window": t.for_window.map(|w| w.0),
        "waiting_since": t.waiting_since.0,
    })
}

fn status(s: &Status) -> Value {
    json!({
        "hall": s.hall,
        "hall_name": s.hall_name,
        "day": s.view.day,
        "issuing": s.view.issuing,
        "windows": s.view.windows.iter().map(window).collect::<Vec<_>>(),
        "items": s.view.items.iter().map(item_view).collect::<Vec<_>>(),
        "waiting": s.waiting.iter().map(waiting_ticket).collect::<Vec<_>>(),
        // Every waiting ticket, also when `waiting` lists only the first
        // ones (issue 19).
        "waiting_total": s.view.items.iter().map(|i| i.waiting.iter().sum::<u32>()).sum::<u32>(),
    })
}

fn call(c: &CallShown) -> Value {
    json!({
        "ticket": ticket(&c.ticket),
        "window": c.window.0,
        "announcement": c.announcement,
        "recall": c.recall,
        "at": c.at.0,
    })
}

/// One line of `hallq watch --json`, tagged by `"type"`.
pub fn display_update(u: &DisplayUpdate) -> Value {
    match u {
        DisplayUpdate::Snapshot {
            seq,
            view,
            recent_calls,
        } => json!({
            "type": "snapshot",
            "seq": seq,
            "view": hall_view(view),
            "recent_calls": recent_calls.iter().map(call).collect::<Vec<_>>(),
        }),
        DisplayUpdate::Change {
            seq,
            calls,
            windows,
            items,
            issuing,
        } => json!({
            "type": "change",
            "seq": seq,
            "calls": calls.iter().map(call).collect::<Vec<_>>(),
            "windows": windows.iter().map(window).collect::<Vec<_>>(),
            "items": items.iter().map(|(code, waiting)| json!({
                "code": item(code),
                "waiting": waiting_by_lane(waiting),
            })).collect::<Vec<_>>(),
            "issuing": issuing,
        }),
        DisplayUpdate::Dropped { reason } => json!({ "type": "dropped", "reason": reason }),
    }
}

/// The wire name of a notification kind.
pub fn kind_name(k: NotificationKind) -> &'static str {
    match k {
        NotificationKind::Issued => "issued",
        NotificationKind::Approaching => "approaching",
        NotificationKind::Called => "called",
        NotificationKind::WorkOrder => "work_order",
        NotificationKind::BookingConfirmed => "booking_confirmed",
        NotificationKind::BookingCancelled => "booking_cancelled",
        NotificationKind::BookingForfeited => "booking_forfeited",
        NotificationKind::RemoteCode => "remote_code",
        NotificationKind::Alert => "alert",
    }
}

/// One line of `hallq notifications --json`, for an SMS gateway: the one
/// place a full phone number is printed.
pub fn notification(n: &Notification) -> Value {
    json!({
        "id": n.id,
        "hall": n.hall,
        "kind": kind_name(n.kind),
        "ticket": n.ticket.as_ref().map(ticket),
        "phone": n.phone,
        "text": n.text,
        "position": n.position,
        "window": n.window.map(|w| w.0),
        "at": n.at.0,
        "booking": n.booking,
        "work_order": n.work_order.as_ref().map(|o| json!({
            "hall": o.hall,
            "window": o.window.0,
            "staff": o.staff,
            "item": o.item.to_string(),
            "item_name": o.item_name,
            "ticket": ticket(&o.ticket),
            "rating": o.rating,
            "at": o.at.0,
        })),
    })
}
