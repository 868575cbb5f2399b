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
//!
//! A hallqd that answers `Console` (issue 21's daemon half) adds what only
//! it knows: the alerts its rules raised (with hysteresis, journaled), the
//! work orders with their lifecycle and deadlines (回访, 关闭, 申诉复核), and
//! the failed notifications with the gateway's reason. Those replace the
//! console's own stand-ins (its wait-over-target warning, the day's bad
//! ratings). It also fills the window and item figures from what it keeps
//! (a window's opening, pause and call instants; the items' oldest and
//! estimated waits, the cap used): those replace the estimates made from
//! the records (idle as the span from the first call less busy and
//! paused), which stay for an older hallqd without the console request.

use std::collections::HashMap;

use hallq_proto::console::{AlertView, ConsoleView, WorkOrderState, WorkOrderView};
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
    /// hallqd's console answer, if it gives one.
    pub console: Option<ConsoleView>,
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
    // hallqd's own clock, when it answers the console request.
    let daemon = a
        .console
        .as_ref()
        .map(|c| Timestamp(c.now.saturating_mul(1000)));
    records
        .chain(waiting)
        .chain(prints)
        .chain([daemon])
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
    // hallqd's own figures, where it answers the console request: the
    // windows' idle and paused time from their opening times, the items'
    // oldest and estimated waits, the cap used (its clock, its rules).
    let (windows, items, target): (Vec<Value>, Vec<Value>, u64) = match &a.console {
        Some(c) if !c.windows.is_empty() || !c.items.is_empty() => (
            windows
                .into_iter()
                .map(|w| with_console_window(w, c))
                .collect(),
            items.into_iter().map(|i| with_console_item(i, c)).collect(),
            c.wait_target_secs,
        ),
        _ => (windows, items, target),
    };
    let failed_notifications = a
        .by_item
        .as_ref()
        .map_or(0, |r| r.stats.notifications_failed);
    let prints = a.print_failures.as_ref();
    let (alerts, work_orders, lifecycle) = match &a.console {
        Some(c) => (
            c.alerts.iter().map(alert).collect(),
            c.work_orders.iter().map(work_order).collect(),
            true,
        ),
        None => (alerts, work_orders, false),
    };
    let failed_notifications = a
        .console
        .as_ref()
        .map_or(failed_notifications, |c| u64::from(c.failed_notifications));
    let failed_list: Vec<Value> = a
        .console
        .iter()
        .flat_map(|c| &c.latest_failed_notifications)
        .map(|n| {
            json!({
                "id": n.id,
                "kind": n.kind,
                "ticket": n.ticket.map(|t| t.to_string()),
                "reason": n.reason,
                "at": n.at.saturating_mul(1000),
            })
        })
        .collect();
    json!({
        "lifecycle": lifecycle,
        "failed_list": failed_list,
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

/// Window `w` of the view with hallqd's figures of it from `c` (the
/// answers' shape stays: universal, fallback, items as configured).
fn with_console_window(mut w: Value, c: &ConsoleView) -> Value {
    let Some(cw) = c
        .windows
        .iter()
        .find(|cw| Some(u64::from(cw.number.0)) == w["number"].as_u64())
    else {
        return w;
    };
    w["served_today"] = json!(cw.served_today);
    w["idle_secs"] = json!(cw.idle_secs_today);
    w["paused_secs"] = json!(cw.paused_secs_today);
    w["state_since"] = json!(cw.state_since.saturating_mul(1000));
    if let Some(since) = cw.current_since {
        w["since"] = json!(since.saturating_mul(1000));
    }
    w["figures_from"] = json!("hallqd");
    w
}

/// Item `i` of the view with hallqd's figures of it from `c`; marked over
/// the target by hallqd's waits.
fn with_console_item(mut i: Value, c: &ConsoleView) -> Value {
    let Some(ci) = c
        .items
        .iter()
        .find(|ci| i["code"].as_str() == Some(ci.code.to_string().as_str()))
    else {
        return i;
    };
    i["oldest_secs"] = json!(ci.oldest_wait_secs);
    i["eta_secs"] = json!(ci.estimated_wait_secs);
    i["open_windows"] = json!(ci.open_windows.iter().map(|w| w.0).collect::<Vec<_>>());
    i["issued_today"] = json!(ci.issued_today);
    i["served_today"] = json!(ci.served_today);
    i["daily_cap"] = json!(ci.daily_cap);
    i["cap_used"] = json!(ci.cap_used);
    i["waiting"] = json!(ci.waiting);
    let target = c.wait_target_secs;
    i["over_target"] = json!(
        target > 0
            && (ci.oldest_wait_secs.is_some_and(|s| s > target)
                || ci.estimated_wait_secs.is_some_and(|e| e > target))
    );
    i
}

/// One of hallqd's alerts as the page reads it (instants in ms).
fn alert(a: &AlertView) -> Value {
    json!({
        "id": a.id,
        "kind": a.kind.key(),
        "subject": a.subject,
        "item": a.item.map(|i| i.to_string()),
        "window": a.window.map(|w| w.0),
        "ticket": a.ticket.map(|t| t.to_string()),
        "value_secs": a.value_secs,
        "limit_secs": a.limit_secs,
        "open": a.open_windows.iter().map(|w| w.0).collect::<Vec<_>>(),
        "rating": a.rating,
        "detail": a.detail,
        "raised_at": a.raised_at.saturating_mul(1000),
    })
}

/// One of hallqd's work orders as the page reads it (instants in ms).
fn work_order(w: &WorkOrderView) -> Value {
    let state = match w.state {
        WorkOrderState::Open => "open",
        WorkOrderState::CalledBack => "called_back",
        WorkOrderState::Closed => "closed",
    };
    json!({
        "id": w.id,
        "day": w.day,
        "ticket": w.ticket.to_string(),
        "item": w.item.to_string(),
        "item_name": w.item_name,
        "window": w.window.0,
        "staff": w.staff.as_ref().map(|s| s.to_string()),
        "rating": w.rating,
        "state": state,
        "at": w.opened_at.saturating_mul(1000),
        "deadline": w.deadline.saturating_mul(1000),
        "deadline_day": w.deadline_day,
        "overdue": w.overdue,
        "callback_note": w.callback_note,
        "close_note": w.close_note,
        "appealed": w.appeal.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_proto::console::AlertKind;
    use hallq_proto::types::TicketNo;
    use hallq_proto::views::{HallView, WaitingTicket};

    fn answers() -> Answers {
        Answers {
            status: Status {
                hall: "main".into(),
                hall_name: "测试大厅".into(),
                view: HallView {
                    day: Some(20261202),
                    issuing: true,
                    windows: Vec::new(),
                    items: Vec::new(),
                },
                waiting: vec![WaitingTicket {
                    ticket: TicketNo {
                        item: ItemCode::new('A').unwrap(),
                        seq: 1,
                    },
                    lane: hallq_proto::types::Lane::WalkIn,
                    position: 0,
                    for_window: None,
                    waiting_since: Timestamp(5_000_000),
                }],
            },
            kiosk: None,
            by_window: None,
            by_item: None,
            print_failures: None,
            records: Vec::new(),
            offset_minutes: None,
            console: None,
        }
    }

    #[test]
    fn a_console_behind_hallqds_clock_counts_from_hallqds_newest_instant() {
        let a = answers();
        assert_eq!(hall_now(&a, Timestamp(1_000)), Timestamp(5_000_000));
        assert_eq!(hall_now(&a, Timestamp(9_000_000)), Timestamp(9_000_000));
    }

    #[test]
    fn hallqds_alerts_and_work_orders_replace_the_consoles_own() {
        let mut a = answers();
        let v = view(&a, Timestamp(6_000_000));
        assert_eq!(v["lifecycle"], false);
        assert_eq!(v["alerts"], json!([]));
        a.console = Some(ConsoleView {
            hall: "main".into(),
            hall_name: "测试大厅".into(),
            now: 7_000,
            day: 20261202,
            issuing: true,
            wait_target_secs: 1800,
            windows: Vec::new(),
            items: Vec::new(),
            open_work_orders: 0,
            overdue_work_orders: 0,
            work_orders: Vec::new(),
            failed_notifications: 3,
            latest_failed_notifications: Vec::new(),
            print_failures: 0,
            latest_print_failures: Vec::new(),
            active_alerts: 1,
            alerts: vec![AlertView {
                id: "paused:3".into(),
                kind: AlertKind::Paused,
                subject: "3".into(),
                item: None,
                window: Some(WindowNo(3)),
                ticket: None,
                value_secs: Some(2400),
                limit_secs: Some(1800),
                open_windows: Vec::new(),
                rating: None,
                detail: String::new(),
                raised_at: 6_900,
                cleared_at: None,
            }],
        });
        let v = view(&a, Timestamp(6_000_000));
        assert_eq!(v["lifecycle"], true);
        assert_eq!(v["now"], 7_000_000, "hallqd's clock");
        assert_eq!(v["alerts"][0]["kind"], "paused");
        assert_eq!(v["alerts"][0]["window"], 3);
        assert_eq!(v["failed_notifications"], 3);
    }

    #[test]
    fn hallqds_window_and_item_figures_replace_the_estimates_from_the_records() {
        use hallq_proto::console::{ConsoleItem, ConsoleWindow, ConsoleWindowState};
        use hallq_proto::views::{ItemView, WindowView};
        let a_item = ItemCode::new('A').unwrap();
        let mut a = answers();
        a.status.view.windows = vec![WindowView {
            number: WindowNo(1),
            state: WindowState::Open,
            current: None,
            serving: false,
            staff: None,
            items: vec![a_item],
            universal: false,
            fallback: false,
        }];
        a.status.view.items = vec![ItemView {
            code: a_item,
            name: "社保".into(),
            waiting: [0, 0, 1],
            open_windows: 1,
            issued_today: 4,
        }];
        // Without hallqd's console: idle is the span from the first call
        // (none here), the oldest wait from the waiting ticket.
        let v = view(&a, Timestamp(6_000_000));
        assert_eq!(v["windows"][0]["idle_secs"], 0);
        assert_eq!(v["items"][0]["oldest_secs"], 1000);
        assert_eq!(v["items"][0]["over_target"], false);
        a.console = Some(ConsoleView {
            hall: "main".into(),
            hall_name: "测试大厅".into(),
            now: 6_000,
            day: 20261202,
            issuing: true,
            wait_target_secs: 600,
            windows: vec![ConsoleWindow {
                number: WindowNo(1),
                state: ConsoleWindowState::Open,
                state_since: 4_000,
                staff: None,
                post: None,
                current: None,
                serving: false,
                current_since: None,
                served_today: 3,
                idle_secs_today: 1_200,
                paused_secs_today: 300,
                items: vec![a_item],
            }],
            items: vec![ConsoleItem {
                code: a_item,
                name: "社保".into(),
                waiting: [0, 0, 1],
                oldest_wait_secs: Some(1_000),
                estimated_wait_secs: Some(700),
                open_windows: vec![WindowNo(1)],
                issued_today: 4,
                served_today: 3,
                daily_cap: Some(200),
                cap_used: 4,
            }],
            open_work_orders: 0,
            overdue_work_orders: 0,
            work_orders: Vec::new(),
            failed_notifications: 0,
            latest_failed_notifications: Vec::new(),
            print_failures: 0,
            latest_print_failures: Vec::new(),
            active_alerts: 0,
            alerts: Vec::new(),
        });
        let v = view(&a, Timestamp(6_000_000));
        let w = &v["windows"][0];
        assert_eq!(
            (&w["idle_secs"], &w["paused_secs"], &w["served_today"]),
            (&json!(1_200), &json!(300), &json!(3))
        );
        assert_eq!(w["state_since"], 4_000_000, "ms for the page");
        let i = &v["items"][0];
        assert_eq!(i["eta_secs"], 700);
        assert_eq!((&i["daily_cap"], &i["cap_used"]), (&json!(200), &json!(4)));
        assert_eq!(i["over_target"], true, "hallqd's target: 10 minutes");
        assert_eq!(v["wait_target_secs"], 600);
        // hallqd answered: no stand-in alert of the console's own.
        assert_eq!(v["alerts"], json!([]));
    }
}
