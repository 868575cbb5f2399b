//! What the console shows, made from hallqd's answers at one instant
//! (pure: the answers and `now` in, JSON out, so it is tested without a
//! daemon). The page turns codes and numbers into words in the reader's
//! language; nothing here is a sentence.
//!
//! Until hallqd answers a console request of its own, the view is put
//! together from what every hallqd answers an admin: `Status` (windows,
//! lines, the waiting tickets with their times), `KioskView` (estimated
//! waits, caps), today's `Report` by window and by item (served, paused),
//! `PrintFailures`, and today's records (`ExportDetailed`: when the
//! current ticket was called, the bad ratings that raised work orders).

use std::collections::HashMap;

use hallq_proto::types::{ItemCode, Timestamp, WindowNo};
use hallq_proto::views::{KioskView, PrintFailures, WindowState};
use hallq_proto::wire::{DayReport, RecordTrail, Status, TicketRecord};
use serde_json::{json, Value};

/// hallqd's answers one refresh of the console is made from.
#[derive(Debug, Clone)]
pub struct Answers {
    /// Windows, lines and waiting tickets.
    pub status: Status,
    /// Estimated waits, open windows per item, caps.
    pub kiosk: Option<KioskView>,
    /// Today's report by window.
    pub by_window: Option<DayReport>,
    /// Today's report by item.
    pub by_item: Option<DayReport>,
    /// The hall's print failures.
    pub print_failures: Option<PrintFailures>,
    /// Today's records with their trails.
    pub records: Vec<(TicketRecord, RecordTrail)>,
    /// The hall's local time minus UTC, minutes (from the records' answer;
    /// UTC+8, hallqd's default, without it).
    pub offset_minutes: Option<i32>,
}

/// The console's "now": the local clock, or the newest instant hallqd's
/// answers name if that is later. A console PC whose clock runs behind
/// hallqd's would otherwise show waits that shrink or a visitor served
/// for no time; the answers carry no clock of their own, and the newest
/// instant in them is a floor for hallqd's.
pub fn hall_now(a: &Answers, local: Timestamp) -> Timestamp {
    let records = a
        .records
        .iter()
        .flat_map(|(r, _)| [Some(r.issued), r.called, r.started, r.finished]);
    let waiting = a.status.waiting.iter().map(|t| Some(t.waiting_since));
    let prints = a
        .print_failures
        .iter()
        .flat_map(|p| p.recent.iter().map(|f| Some(f.at)));
    records
        .chain(waiting)
        .chain(prints)
        .flatten()
        .fold(local, Timestamp::max)
}

/// Served, paused and busy seconds of group `key` of a report.
fn group_figures(report: Option<&DayReport>, key: &str) -> (u64, u64) {
    let Some(r) = report else { return (0, 0) };
    let Some(i) = r.stats.groups.iter().position(|g| g.key == key) else {
        return (0, 0);
    };
    (
        r.stats.groups[i].figures.served,
        r.groups.get(i).map_or(0, |g| g.figures.paused_secs),
    )
}

fn state_name(state: &WindowState) -> (&'static str, Option<&str>) {
    match state {
        WindowState::Closed => ("closed", None),
        WindowState::Open => ("open", None),
        WindowState::Paused(reason) => ("paused", Some(reason.as_str())),
    }
}

/// The console's view as the page reads it (see console.js for the
/// fields' use), at `local` by the console's clock (see [`hall_now`]).
pub fn view(a: &Answers, local: Timestamp) -> Value {
    let now = hall_now(a, local);
    let target = a
        .by_item
        .as_ref()
        .map_or(0, |r| r.wait_target_secs)
        .max(a.by_window.as_ref().map_or(0, |r| r.wait_target_secs));
    // The current ticket's record: when it was called and started.
    let by_ticket: HashMap<String, &TicketRecord> = a
        .records
        .iter()
        .map(|(r, _)| (r.ticket.to_string(), r))
        .collect();
    // Per window: busy seconds, first call, last finish (idle = the span
    // less busy and paused: the answers carry no opening times).
    let mut busy: HashMap<WindowNo, (u64, Option<Timestamp>, Option<Timestamp>)> = HashMap::new();
    for (r, t) in &a.records {
        if let Some(w) = r.window {
            let e = busy.entry(w).or_default();
            e.0 += t.service_secs.unwrap_or(0);
            e.1 = match (e.1, r.called) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
            let end = r.finished.or(r.started).or(r.called);
            e.2 = e.2.max(end);
        }
    }
    let windows: Vec<Value> = a
        .status
        .view
        .windows
        .iter()
        .map(|w| {
            let (state, reason) = state_name(&w.state);
            let current = w.current.map(|t| t.to_string());
            let record = current.as_ref().and_then(|t| by_ticket.get(t));
            let since = record.and_then(|r| {
                if w.serving {
                    r.started.or(r.called)
                } else {
                    r.called
                }
            });
            let (served, paused) = group_figures(a.by_window.as_ref(), &w.number.to_string());
            let (busy_secs, first, last) = busy.get(&w.number).copied().unwrap_or_default();
            // A window at work now counts up to now, not its last finish.
            let end = if w.current.is_some() || state == "open" {
                Some(now)
            } else {
                last
            };
            let span = match (first, end) {
                (Some(f), Some(e)) => e.0.saturating_sub(f.0) / 1000,
                _ => 0,
            };
            let idle = span.saturating_sub(busy_secs).saturating_sub(paused);
            json!({
                "number": w.number.0,
                "state": state,
                "reason": reason,
                "staff": w.staff.as_ref().map(|(s, _)| s.to_string()),
                "post": w.staff.as_ref().map(|(_, p)| format!("{p:?}")),
                "items": w.items.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
                "universal": w.universal,
                "fallback": w.fallback,
                "current": current,
                "serving": w.serving,
                "since": since.map(|t| t.0),
                "served_today": served,
                "busy_secs": busy_secs,
                "paused_secs": paused,
                "idle_secs": idle,
            })
        })
        .collect();
    // The oldest waiting ticket per item (by its number's letter: a
    // transferred ticket counts where it was issued).
    let mut oldest: HashMap<ItemCode, Timestamp> = HashMap::new();
    for t in &a.status.waiting {
        let e = oldest.entry(t.ticket.item).or_insert(t.waiting_since);
        *e = (*e).min(t.waiting_since);
    }
    let mut alerts = Vec::new();
    let items: Vec<Value> = a
        .status
        .view
        .items
        .iter()
        .map(|i| {
            let kiosk = a
                .kiosk
                .as_ref()
                .and_then(|k| k.items.iter().find(|k| k.code == i.code));
            let (served, _) = group_figures(a.by_item.as_ref(), &i.code.to_string());
            let oldest_secs = oldest.get(&i.code).map(|t| now.0.saturating_sub(t.0) / 1000);
            let eta = kiosk.and_then(|k| k.eta_secs);
            let serving: Vec<&hallq_proto::views::WindowView> = a
                .status
                .view
                .windows
                .iter()
                .filter(|w| w.universal || w.items.contains(&i.code))
                .collect();
            let over = target > 0
                && (oldest_secs.is_some_and(|s| s > target)
                    || eta.is_some_and(|e| u64::from(e) > target));
            if over {
                // Which window to open: a paused or closed one serving the item.
                let to_open: Vec<u16> = serving
                    .iter()
                    .filter(|w| w.state != WindowState::Open)
                    .map(|w| w.number.0)
                    .collect();
                alerts.push(json!({
                    "kind": "wait_over_target",
                    "item": i.code.to_string(),
                    "name": i.name,
                    "oldest_secs": oldest_secs,
                    "eta_secs": eta,
                    "target_secs": target,
                    "open": to_open,
                }));
            }
            json!({
                "code": i.code.to_string(),
                "name": i.name,
                "waiting": i.waiting,
                "oldest_secs": oldest_secs,
                "eta_secs": eta,
                "open_windows": kiosk.map_or_else(
                    || serving.iter().filter(|w| w.state == WindowState::Open).map(|w| w.number.0).collect(),
                    |k| k.windows.iter().map(|w| w.0).collect::<Vec<_>>(),
                ),
                "issued_today": i.issued_today,
                "served_today": served,
                "daily_cap": kiosk.and_then(|k| k.daily_cap),
                "over_target": over,
            })
        })
        .collect();
    // 差评工单: the day's ratings of 1 or 2 (seed 000 §四(六)6).
    let work_orders: Vec<Value> = a
        .records
        .iter()
        .filter(|(r, _)| r.rating.is_some_and(|g| g <= 2))
        .map(|(r, _)| {
            json!({
                "ticket": r.ticket.to_string(),
                "item": r.item.to_string(),
                "window": r.window.map(|w| w.0),
                "staff": r.staff,
                "rating": r.rating,
                "at": r.finished.map(|t| t.0),
            })
        })
        .collect();
    let failed_notifications = a
        .by_item
        .as_ref()
        .map_or(0, |r| r.stats.notifications_failed);
    let prints = a.print_failures.as_ref();
    json!({
        "hall": a.status.hall,
        "hall_name": a.status.hall_name,
        "day": a.status.view.day,
        "issuing": a.status.view.issuing,
        "now": now.0,
        "offset_minutes": a.offset_minutes.unwrap_or(480),
        "wait_target_secs": target,
        "waiting_total": a.status.view.items.iter().map(|i| i.waiting.iter().sum::<u32>()).sum::<u32>(),
        "windows": windows,
        "items": items,
        "alerts": alerts,
        "work_orders": work_orders,
        "failed_notifications": failed_notifications,
        "print_failures": prints.map(|p| p.recent.iter().rev().map(|f| json!({
            "ticket": f.ticket.to_string(),
            "reason": f.reason,
            "at": f.at.0,
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "print_failures_total": prints.map_or(0, |p| p.total),
        "print_failures_today": a.kiosk.as_ref().map_or(0, |k| k.print_failures_today),
    })
}
