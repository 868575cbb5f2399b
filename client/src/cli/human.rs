//! Text output for people at a kiosk, a window or an admin's terminal:
//! short lines, the hall's own words (the announcement is printed as the hall
//! hears it), tables aligned even with Chinese item names.
//!
//! Pure functions from an answer to a `String` (no trailing newline), so
//! every shape is unit-tested. Phone numbers are only ever printed masked
//! (SPEC §2 item 8).

use hallq_proto::types::{Lane, Phone, Post, Timestamp, WindowNo};
use hallq_proto::views::{HallView, WaitingTicket, WindowState, WindowView};
use hallq_proto::wire::{CallShown, DisplayUpdate, IssuedTicket, Notification, Response, Status};

use super::json::kind_name;
use super::table::Table;

/// The text for one answer of the daemon. `now` is used for "waited 12 min".
pub fn response(r: &Response, now: Timestamp) -> String {
    if let Some(text) = super::appointments::human(r) {
        return text;
    }
    match r {
        Response::Welcome(w) => {
            let window = w.window.map_or(String::new(), |n| format!(", window {n}"));
            format!(
                "Connected to {} ({}) as {}{window}",
                w.hall_name, w.hall, w.role
            )
        }
        Response::Issued(t) => issued(t),
        Response::Window {
            action,
            ticket,
            announcement,
            window,
        } => {
            let what = match (announcement, ticket) {
                // The announcement is what the hall hears (§7.3.6); print it as is.
                (Some(text), _) => text.clone(),
                (None, Some(t)) => format!("{}: {t}", action_label(action)),
                (None, None) => action_label(action).to_owned(),
            };
            format!("{what}\n{}", window_line(window))
        }
        Response::Reinstated { ticket, position } => {
            format!("{ticket} is back in line · {}", ahead(*position))
        }
        Response::Issuing { open: true } => "Issuing open: walk-in tickets are issued".into(),
        Response::Issuing { open: false } => {
            // Seed 000 §四(八)5: closing stops issuing, not serving.
            "Issuing closed: no new walk-in tickets; everyone waiting will still be served".into()
        }
        Response::Status(s) => status(s, now),
        Response::StatusPage(p) => status(&p.status, now),
        Response::Watching => "Watching the hall".into(),
        Response::Notifying => "Receiving notifications".into(),
        Response::Reloaded { changes } if changes.is_empty() => {
            "Config reloaded: nothing changed".to_owned()
        }
        Response::Reloaded { changes } => format!("Config reloaded:\n  {}", changes.join("\n  ")),
        Response::Health(report) => {
            let mut lines = vec![if report.healthy {
                "healthy".to_owned()
            } else {
                "UNHEALTHY: a journal cannot be written".to_owned()
            }];
            for h in &report.halls {
                let fsync = h
                    .last_fsync_age_secs
                    .map_or("no fsync yet".to_owned(), |s| {
                        format!("last fsync {s} s ago")
                    });
                let journal = match &h.journal_error {
                    None => "journal writable".to_owned(),
                    Some(e) => format!("journal NOT writable: {e}"),
                };
                let role = match (h.role.as_str(), &h.owner) {
                    ("alone", _) => String::new(),
                    (role, Some(owner)) => {
                        format!(" · {role}, owned by node {owner} · {} records", h.records)
                    }
                    (role, None) => {
                        format!(" · {role}, no owner right now · {} records", h.records)
                    }
                };
                lines.push(format!(
                    "{}: {journal} · {fsync} · {} waiting · {} notifications pending{role}",
                    h.hall, h.waiting, h.pending_notifications
                ));
            }
            lines.join("\n")
        }
        Response::Error(e) => format!("error: {} ({})", e.message, e.code),
        Response::Rated {
            ticket,
            rating,
            work_order,
        } => {
            let order = if *work_order {
                " · work order (差评工单) sent to the hotline"
            } else {
                ""
            };
            format!("{ticket} rated {}{order}", rating.value())
        }
        Response::Stats(stats) => day_stats(stats),
        Response::Export { records, next } => {
            let more = next.map_or(String::new(), |n| format!(" (more from {n})"));
            format!("{} records{more}", records.len())
        }
        Response::Booked(_) | Response::Bookings(_) | Response::BookingCancelled(_) => {
            unreachable!("rendered by appointments::human")
        }
        Response::KioskView(v) => kiosk_view(v),
        Response::PrintFailures(p) => print_failures(p),
        Response::PhoneAttached { ticket, position } => {
            format!("{ticket}：已登记手机号，叫号时短信通知 · phone left, {position} ahead")
        }
        Response::Simulation(r) => super::staffing::text::report(r, Default::default()),
        Response::Forecast(f) => super::staffing::text::forecast(f, Default::default()),
    }
}

/// What a kiosk offers: one line per item.
fn kiosk_view(v: &hallq_proto::views::KioskView) -> String {
    let state = match (v.issuing, v.open_now) {
        (false, _) => "issuing closed".to_owned(),
        (true, false) => match v.opens {
            Some(at) => format!("closed, opens {at}"),
            None => "closed".to_owned(),
        },
        (true, true) => "issuing".to_owned(),
    };
    let mut lines = vec![format!("{} ({}) · {state}", v.hall_name, v.hall)];
    for it in &v.items {
        let waiting: u32 = it.waiting.iter().sum();
        let cap = it.daily_cap.map_or(String::new(), |c| {
            format!(" · {}/{c} issued", it.issued_today)
        });
        let wait = it.eta_secs.map_or("no open window".to_owned(), eta);
        lines.push(format!(
            "  {} {} · {waiting} waiting · {wait}{cap}",
            it.code, it.name
        ));
    }
    lines.join("\n")
}

/// The hall's print failures, for `status` and `admin health`.
pub fn print_failures(p: &hallq_proto::views::PrintFailures) -> String {
    if p.total == 0 {
        return format!("kiosk print failures ({}): none", p.hall);
    }
    let mut lines = vec![format!(
        "kiosk print failures ({}): {} since hallqd started; the tickets are issued, \
         their holders have the number on the kiosk's screen",
        p.hall, p.total
    )];
    for f in p.recent.iter().rev() {
        lines.push(format!(
            "  {} {} — {}",
            hallq_client::screen::clock(f.at),
            f.ticket,
            f.reason
        ));
    }
    lines.join("\n")
}

/// A kiosk's slip: number, item, lane, then how long it will be.
fn issued(t: &IssuedTicket) -> String {
    let mut parts = vec![ahead(t.position), windows_phrase(&t.windows)];
    if let Some(secs) = t.eta_secs {
        parts.push(eta(secs));
    }
    let mut out = format!(
        "Ticket {}  ({}, {})\n{}",
        t.ticket,
        t.item_name,
        lane_label(t.lane),
        parts.join(" · ")
    );
    if t.approaching {
        // §7.3.5 already holds at issue: say so instead of a later reminder.
        out.push_str("\n请到等候区候办 · please go to the waiting area now");
    }
    out
}

fn ahead(position: u32) -> String {
    match position {
        0 => "you are next".into(),
        n => format!("{n} ahead of you"),
    }
}

fn windows_phrase(windows: &[WindowNo]) -> String {
    match windows {
        [] => "no window open for this item yet".into(),
        [one] => format!("window {one}"),
        many => format!("windows {}", join(many, ", ")),
    }
}

/// Rounded to whole minutes: a visitor plans by minutes, not seconds.
fn eta(secs: u32) -> String {
    match secs {
        0 => "no wait".into(),
        1..=59 => "under a minute".into(),
        s => format!("about {} min", (s + 30) / 60),
    }
}

fn lane_label(lane: Lane) -> String {
    match lane {
        Lane::Appointment => "appointment".into(),
        Lane::Priority(reason) => format!("priority: {reason}"),
        Lane::WalkIn => "walk-in".into(),
    }
}

fn post_label(post: Post) -> &'static str {
    match post {
        Post::A => "A",
        Post::B => "B",
    }
}

/// What a window action did, when there is no announcement to print.
fn action_label(action: &str) -> &str {
    match action {
        "call" => "Called",
        "recall" => "Recalled",
        "start" => "Serving",
        "finish" => "Finished",
        "no-show" => "No-show (过号)",
        "transfer" => "Transferred",
        "pause" => "Paused",
        "resume" => "Resumed",
        "open" => "Opened",
        "close" => "Closed",
        "login" => "Logged in",
        "logout" => "Logged out",
        // A newer daemon's action: its wire name is still meaningful.
        other => other,
    }
}

fn state_label(state: &WindowState) -> String {
    match state {
        WindowState::Closed => "closed".into(),
        WindowState::Open => "open".into(),
        WindowState::Paused(reason) => format!("paused: {reason}"),
    }
}

fn staff_label(w: &WindowView) -> String {
    w.staff.as_ref().map_or("-".into(), |(id, post)| {
        format!("{id} ({})", post_label(*post))
    })
}

fn current_label(w: &WindowView) -> String {
    match (&w.current, w.serving) {
        (Some(t), true) => format!("{t} serving"),
        (Some(t), false) => format!("{t} called"),
        (None, _) => "-".into(),
    }
}

fn items_label(w: &WindowView) -> String {
    let mut s = if w.universal {
        "all".to_owned()
    } else {
        join(&w.items, " ")
    };
    if w.fallback {
        // 兜底窗口: also takes green-channel tickets of any item.
        s.push_str(" +green");
    }
    s
}

/// One window on one line, after an action or in a watch change.
pub fn window_line(w: &WindowView) -> String {
    let mut parts = vec![format!("Window {}", w.number), state_label(&w.state)];
    if w.staff.is_some() {
        parts.push(staff_label(w));
    }
    parts.push(match (&w.current, w.serving) {
        (Some(t), true) => format!("serving {t}"),
        (Some(t), false) => format!("called {t}"),
        (None, _) => "idle".into(),
    });
    parts.join(" · ")
}

fn windows_table(view: &HallView) -> String {
    let mut t = Table::new(&["WINDOW", "STATE", "STAFF", "CURRENT", "ITEMS"]);
    for w in &view.windows {
        t.row(vec![
            w.number.to_string(),
            state_label(&w.state),
            staff_label(w),
            current_label(w),
            items_label(w),
        ]);
    }
    t.render()
}

fn items_table(view: &HallView) -> String {
    let mut t = Table::new(&["ITEM", "NAME", "APPT", "PRIO", "WALK-IN", "OPEN", "ISSUED"]);
    for i in &view.items {
        let [appointment, priority, walk_in] = i.waiting;
        t.row(vec![
            i.code.to_string(),
            i.name.clone(),
            appointment.to_string(),
            priority.to_string(),
            walk_in.to_string(),
            i.open_windows.to_string(),
            i.issued_today.to_string(),
        ]);
    }
    t.render()
}

fn waiting_table(waiting: &[WaitingTicket], now: Timestamp) -> String {
    if waiting.is_empty() {
        return "Nobody waiting.\n".into();
    }
    // By item, then place in line: how a window clerk reads a queue.
    let mut rows: Vec<&WaitingTicket> = waiting.iter().collect();
    rows.sort_by_key(|w| (w.ticket.item, w.lane.rank(), w.position));
    let mut t = Table::new(&["TICKET", "LANE", "AHEAD", "FOR", "WAITED"]);
    for w in rows {
        t.row(vec![
            w.ticket.to_string(),
            lane_label(w.lane),
            w.position.to_string(),
            w.for_window
                .map_or(String::new(), |n| format!("window {n}")),
            format!("{} min", now.secs_since(w.waiting_since) / 60),
        ]);
    }
    t.render()
}

fn hall_line(view: &HallView) -> String {
    let mut parts = Vec::new();
    if let Some(day) = view.day {
        parts.push(format!(
            "day {:04}-{:02}-{:02}",
            day / 10000,
            day / 100 % 100,
            day % 100
        ));
    }
    parts.push(if view.issuing {
        "issuing open".to_owned()
    } else {
        "issuing closed".to_owned()
    });
    parts.join(" · ")
}

/// `hallq status`: the hall, its windows, who waits, and each item's line.
fn status(s: &Status, now: Timestamp) -> String {
    // The view counts every waiting ticket; the list may be one page of
    // them (a hall of thousands: issue 19).
    let waiting_count: u32 = s
        .view
        .items
        .iter()
        .map(|i| i.waiting.iter().sum::<u32>())
        .sum();
    let listed = if s.waiting.len() < waiting_count as usize {
        format!(" (the first {} listed)", s.waiting.len())
    } else {
        String::new()
    };
    format!(
        "{} ({}) · {} · {waiting_count} waiting{listed}\n\n{}\n{}\n{}",
        s.hall_name,
        s.hall,
        hall_line(&s.view),
        windows_table(&s.view),
        waiting_table(&s.waiting, now),
        items_table(&s.view),
    )
    .trim_end()
    .to_owned()
}

fn call_line(c: &CallShown) -> String {
    if c.recall {
        format!("{} (recall)", c.announcement)
    } else {
        c.announcement.clone()
    }
}

/// One update of `hallq watch`, each line prefixed with the change number.
pub fn display_update(u: &DisplayUpdate) -> String {
    match u {
        DisplayUpdate::Snapshot {
            seq,
            view,
            recent_calls,
        } => {
            let mut out = format!(
                "#{seq} snapshot · {}\n{}\n{}",
                hall_line(view),
                windows_table(view),
                items_table(view)
            );
            for c in recent_calls {
                out.push_str(&format!("\n#{seq} {}", call_line(c)));
            }
            out.trim_end().to_owned()
        }
        DisplayUpdate::Change {
            seq,
            calls,
            windows,
            items,
            issuing,
        } => {
            let mut lines: Vec<String> = calls.iter().map(call_line).collect();
            lines.extend(windows.iter().map(window_line));
            lines.extend(items.iter().map(|(code, [appointment, priority, walk_in])| {
                format!(
                    "{code} waiting: {appointment} appointment, {priority} priority, {walk_in} walk-in"
                )
            }));
            match issuing {
                Some(true) => lines.push("issuing open".into()),
                Some(false) => lines.push("issuing closed".into()),
                None => {}
            }
            if lines.is_empty() {
                lines.push("(no visible change)".into());
            }
            lines
                .iter()
                .map(|l| format!("#{seq} {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        DisplayUpdate::Dropped { reason } => {
            format!("hallqd dropped this display ({reason}); reconnect for a fresh snapshot")
        }
    }
}

/// One notification, with the phone number masked.
pub fn notification(n: &Notification) -> String {
    // An unparsable number is not printed at all rather than risk leaking it.
    let to = match &n.work_order {
        Some(order) => format!(
            "hotline: window {} · {} · rating {}",
            order.window,
            order.staff.as_deref().unwrap_or("no staff logged in"),
            order.rating
        ),
        None => {
            Phone::new(n.phone.as_str()).map_or_else(|_| "(invalid number)".into(), |p| p.masked())
        }
    };
    let about = match (&n.ticket, &n.booking) {
        (Some(t), _) => t.to_string(),
        (None, Some(code)) => format!("booking {code}"),
        (None, None) => "-".to_owned(),
    };
    format!("{}  {}  {about}  {to}  {}", n.id, kind_name(n.kind), n.text)
}

fn join<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// `hallq stats`: the totals, then one block per group.
fn day_stats(s: &hallq_proto::wire::DayStats) -> String {
    let mut lines = vec![format!(
        "{} · {}-{:02}-{:02}",
        s.hall,
        s.day / 10_000,
        s.day / 100 % 100,
        s.day % 100
    )];
    lines.extend(figures(&s.totals, true));
    lines.push(format!(
        "appointments kept {} · bookings forfeited {} · notifications sent {} · failed {}",
        s.appointments_kept, s.forfeited_bookings, s.notifications_sent, s.notifications_failed
    ));
    let by = match s.by {
        Some(hallq_proto::wire::StatsBy::Item) => "item",
        Some(hallq_proto::wire::StatsBy::Window) => "window",
        Some(hallq_proto::wire::StatsBy::Staff) => "staff",
        None => "",
    };
    for g in &s.groups {
        lines.push(String::new());
        lines.push(format!("{by} {}", g.key));
        lines.extend(figures(
            &g.figures,
            s.by == Some(hallq_proto::wire::StatsBy::Item),
        ));
    }
    lines.join("\n")
}

fn figures(f: &hallq_proto::wire::StatsFigures, issued: bool) -> Vec<String> {
    let d = |d: &hallq_proto::wire::Durations| {
        format!(
            "mean {} s · p50 {} s · p90 {} s · max {} s (n={})",
            d.mean_secs, d.p50_secs, d.p90_secs, d.max_secs, d.count
        )
    };
    let issued = if issued {
        format!("issued {} · ", f.issued)
    } else {
        String::new()
    };
    vec![
        format!(
            "  {issued}served {} · no-shows {} · transfers {}",
            f.served, f.no_shows, f.transfers
        ),
        format!("  waiting: {}", d(&f.waiting)),
        format!("  service: {}", d(&f.service)),
        format!(
            "  ratings 1..5: {:?} · work orders {}",
            f.ratings, f.work_orders
        ),
    ]
}
