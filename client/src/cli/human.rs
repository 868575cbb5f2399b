//! Text output for people at a kiosk, a window or an admin's terminal:
//! short lines, the hall's own words (the announcement is printed as the hall
//! hears it), tables aligned even with Chinese item names.
//!
//! Pure functions from an answer to a `String` (no trailing newline), so
//! every shape is unit-tested. Phone numbers are only ever printed masked
//! (SPEC §2 item 8).

use hallq_proto::types::{Lane, Phone, Post, Timestamp, WindowNo};
use hallq_proto::views::{HallView, WaitingTicket, WindowState, WindowView};
use hallq_proto::wire::{
    CallShown, DisplayUpdate, IssuedTicket, Notification, NotificationKind, Response, Status,
};

use hallq_client::text::{self, Lang};
use hallq_proto::wire::{DayReport, ReportFigures, StatsBy, StatsFigures};

use super::json::kind_name;
use super::table::Table;

/// The text for one answer of the daemon in the process's language
/// (`--lang`). `now` is used for "waited 12 min".
pub fn response(r: &Response, now: Timestamp) -> String {
    response_in(r, now, text::lang())
}

/// [`response`] in `lang`.
pub fn response_in(r: &Response, now: Timestamp, lang: Lang) -> String {
    if let Some(text) = super::appointments::human_in(r, lang) {
        return text;
    }
    if let Some(text) = super::alerts::human_in(r, now, lang) {
        return text;
    }
    match r {
        Response::Welcome(w) if lang == Lang::Zh => {
            let window = w.window.map_or(String::new(), |n| format!("，{n}号窗口"));
            format!(
                "已连接 {}（{}），身份 {}{window}",
                w.hall_name, w.hall, w.role
            )
        }
        Response::Welcome(w) => {
            let window = w.window.map_or(String::new(), |n| format!(", window {n}"));
            format!(
                "Connected to {} ({}) as {}{window}",
                w.hall_name, w.hall, w.role
            )
        }
        Response::Issued(t) if lang == Lang::Zh => issued_zh(t),
        Response::Issued(t) => issued(t),
        Response::Window {
            action,
            ticket,
            announcement,
            window,
        } => {
            let label = text::action_done(action, lang);
            let what = match (announcement, ticket) {
                // The announcement is what the hall hears (§7.3.6); print it as is.
                (Some(text), _) => text.clone(),
                (None, Some(t)) => format!("{label}{}{t}", lang.pick("：", ": ")),
                (None, None) => label.to_owned(),
            };
            format!("{what}\n{}", window_line_in(window, lang))
        }
        Response::Reinstated { ticket, position } => match lang {
            Lang::Zh => format!("{ticket} 已回到队列 · 前面 {position} 人"),
            Lang::En => format!("{ticket} is back in line · {}", ahead(*position)),
        },
        Response::Issuing { open } if lang == Lang::Zh => {
            if *open {
                "已开始取号".to_owned()
            } else {
                // Seed 000 §四(八)5: closing stops issuing, not serving.
                "已停止取号：不再发放现场号，已取号的仍会办理".to_owned()
            }
        }
        Response::Issuing { open: true } => "Issuing open: walk-in tickets are issued".into(),
        Response::Issuing { open: false } => {
            // Seed 000 §四(八)5: closing stops issuing, not serving.
            "Issuing closed: no new walk-in tickets; everyone waiting will still be served".into()
        }
        Response::Status(s) if lang == Lang::Zh => status_zh(s, now),
        Response::StatusPage(p) if lang == Lang::Zh => status_zh(&p.status, now),
        Response::Status(s) => status(s, now),
        Response::StatusPage(p) => status(&p.status, now),
        Response::Watching => lang.pick("正在接收大厅动态", "Watching the hall").into(),
        Response::Notifying => lang.pick("正在接收通知", "Receiving notifications").into(),
        Response::Pipelining => lang.pick("请求流水线已建立", "Pipeline open").into(),
        Response::Reloaded { changes } if changes.is_empty() => lang
            .pick(
                "配置已重新加载：没有改动",
                "Config reloaded: nothing changed",
            )
            .to_owned(),
        // The changes are hallqd's log words (hall ids, keys): kept as they are.
        Response::Reloaded { changes } => format!(
            "{}\n  {}",
            lang.pick("配置已重新加载：", "Config reloaded:"),
            changes.join("\n  ")
        ),
        Response::Health(report) => health(report, lang),
        // The code is the contract: its text comes from the catalogue.
        Response::Error(e) if lang == Lang::Zh => {
            format!("错误：{}（{}）", text::error(&e.code, lang), e.code)
        }
        Response::Error(e) => format!("error: {} ({})", e.message, e.code),
        Response::Rated {
            ticket,
            rating,
            work_order,
        } if lang == Lang::Zh => {
            let order = if *work_order {
                " · 差评工单已转12345热线"
            } else {
                ""
            };
            format!(
                "{ticket} 已评价：{}{order}",
                text::rating(rating.value(), lang)
            )
        }
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
        Response::Stats(stats) => day_stats(stats, lang),
        Response::Report(report) => day_report(report, lang),
        Response::ExportDetailed(page) => records(page.records.len(), page.next, lang),
        Response::Export { records: r, next } => records(r.len(), *next, lang),
        Response::Console(_)
        | Response::Alerts(_)
        | Response::WorkOrders(_)
        | Response::WorkOrder(_)
        | Response::RatingAppealed(_)
        | Response::Appeals(_) => {
            unreachable!("rendered by alerts::human_in")
        }
        Response::Booked(_) | Response::Bookings(_) | Response::BookingCancelled(_) => {
            unreachable!("rendered by appointments::human_in")
        }
        Response::KioskView(v) => kiosk_view(v, lang),
        Response::PrintFailures(p) => print_failures(p),
        Response::PhoneAttached { ticket, position } => match lang {
            Lang::Zh => format!("{ticket}：已登记手机号，叫号时短信通知 · 前面 {position} 人"),
            Lang::En => format!(
                "{ticket}: phone left, a text comes with the call · {}",
                ahead(*position)
            ),
        },
        // No command asks for it (the web board does); listed for completeness.
        Response::BoardLines(l) => format!(
            "请准备 {} · 过号 {}",
            l.next
                .iter()
                .flat_map(|n| n.tickets.iter().map(ToString::to_string))
                .collect::<Vec<_>>()
                .join(" "),
            l.no_shows
                .iter()
                .map(|n| n.ticket.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Response::FollowLink {
            ticket,
            token,
            link,
        } => format!(
            "{ticket}：访客链接 · visitor link: {}",
            link.as_deref().unwrap_or(token)
        ),
        Response::WindowRating { window, ticket, .. } => format!(
            "{window}号窗口：{}",
            ticket
                .as_ref()
                .map_or("-".to_owned(), |t| t.ticket.to_string())
        ),
        Response::Follow(f) => format!(
            "{}：{:?} · {} ahead",
            f.ticket,
            f.state,
            f.position.map_or("-".to_owned(), |p| p.to_string())
        ),
        Response::Simulation(r) => super::staffing::text::report(r, lang),
        Response::Forecast(f) => super::staffing::text::forecast(f, lang),
        Response::CodeSent {
            phone,
            expires_in_secs,
        } => lang
            .pick(
                &format!(
                    "验证码已发送至{phone}，{}分钟内有效",
                    expires_in_secs.div_ceil(60)
                ),
                &format!(
                    "code sent to {phone}, good for {} min",
                    expires_in_secs.div_ceil(60)
                ),
            )
            .to_owned(),
    }
}

/// "12 records (more from 40)": an export page.
fn records(count: usize, next: Option<u32>, lang: Lang) -> String {
    match (lang, next) {
        (Lang::Zh, None) => format!("{count} 条记录"),
        (Lang::Zh, Some(n)) => format!("{count} 条记录（后续从 {n} 起）"),
        (Lang::En, None) => format!("{count} records"),
        (Lang::En, Some(n)) => format!("{count} records (more from {n})"),
    }
}

/// `hallq admin health`: one line for the whole, one per hall.
fn health(report: &hallq_proto::wire::HealthReport, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut lines = vec![match (report.healthy, zh) {
        (true, true) => "运行正常".to_owned(),
        (false, true) => "异常：有记录文件无法写入".to_owned(),
        (true, false) => "healthy".to_owned(),
        (false, false) => "UNHEALTHY: a journal cannot be written".to_owned(),
    }];
    for h in &report.halls {
        let fsync = match (h.last_fsync_age_secs, zh) {
            (None, true) => "尚未落盘".to_owned(),
            (Some(s), true) => format!("{s} 秒前落盘"),
            (None, false) => "no fsync yet".to_owned(),
            (Some(s), false) => format!("last fsync {s} s ago"),
        };
        // The journal's error is the operating system's word: a detail
        // for the administrator, after the sentence.
        let journal = match (&h.journal_error, zh) {
            (None, true) => "记录可写".to_owned(),
            (Some(e), true) => format!("记录不可写：{e}"),
            (None, false) => "journal writable".to_owned(),
            (Some(e), false) => format!("journal NOT writable: {e}"),
        };
        let role = match (h.role.as_str(), &h.owner, zh) {
            ("alone", _, _) => String::new(),
            (role, Some(owner), true) => {
                format!(" · {role}，由节点 {owner} 负责 · {} 条记录", h.records)
            }
            (role, None, true) => format!(" · {role}，暂无负责节点 · {} 条记录", h.records),
            (role, Some(owner), false) => {
                format!(" · {role}, owned by node {owner} · {} records", h.records)
            }
            (role, None, false) => {
                format!(" · {role}, no owner right now · {} records", h.records)
            }
        };
        lines.push(if zh {
            format!(
                "{}：{journal} · {fsync} · {} 人等候 · {} 条通知待发{role}",
                h.hall, h.waiting, h.pending_notifications
            )
        } else {
            format!(
                "{}: {journal} · {fsync} · {} waiting · {} notifications pending{role}",
                h.hall, h.waiting, h.pending_notifications
            )
        });
    }
    lines.join("\n")
}

/// What a kiosk offers: one line per item.
fn kiosk_view(v: &hallq_proto::views::KioskView, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let state = match (v.issuing, v.open_now, zh) {
        (false, _, true) => "已停止取号".to_owned(),
        (false, _, false) => "issuing closed".to_owned(),
        (true, false, true) => match v.opens {
            Some(at) => format!("未到营业时间，{at} 开始"),
            None => "非营业时间".to_owned(),
        },
        (true, false, false) => match v.opens {
            Some(at) => format!("closed, opens {at}"),
            None => "closed".to_owned(),
        },
        (true, true, true) => "正在取号".to_owned(),
        (true, true, false) => "issuing".to_owned(),
    };
    let mut lines = vec![if zh {
        format!("{}（{}）· {state}", v.hall_name, v.hall)
    } else {
        format!("{} ({}) · {state}", v.hall_name, v.hall)
    }];
    for it in &v.items {
        let waiting: u32 = it.waiting.iter().sum();
        lines.push(if zh {
            let cap = it.daily_cap.map_or(String::new(), |c| {
                format!(" · 已发 {}/{c}", it.issued_today)
            });
            let wait = it
                .eta_secs
                .map_or("暂无开放窗口".to_owned(), |secs| match secs {
                    0 => "无需等候".to_owned(),
                    1..=59 => "不到 1 分钟".to_owned(),
                    s => format!("约 {} 分钟", (s + 30) / 60),
                });
            format!("  {} {} · {waiting} 人等候 · {wait}{cap}", it.code, it.name)
        } else {
            let cap = it.daily_cap.map_or(String::new(), |c| {
                format!(" · {}/{c} issued", it.issued_today)
            });
            let wait = it.eta_secs.map_or("no open window".to_owned(), eta);
            format!(
                "  {} {} · {waiting} waiting · {wait}{cap}",
                it.code, it.name
            )
        });
    }
    lines.join("\n")
}

/// The hall's print failures, for `status` and `admin health`, in the
/// process's language.
pub fn print_failures(p: &hallq_proto::views::PrintFailures) -> String {
    print_failures_in(p, text::lang())
}

/// [`print_failures`] in `lang`. The reason is the kiosk's own word
/// ("paper out"), kept as a detail.
pub fn print_failures_in(p: &hallq_proto::views::PrintFailures, lang: Lang) -> String {
    if lang == Lang::Zh {
        if p.total == 0 {
            return format!("取号机打印故障（{}）：无", p.hall);
        }
        let mut lines = vec![format!(
            "取号机打印故障（{}）：hallqd 启动以来 {} 次；号码均已发出，取号人可在取号机屏幕上看到号码",
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
        return lines.join("\n");
    }
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

/// [`issued`] in Chinese: 号码 A012（社保，普通）/ 前面 3 人 · 1、2号窗口 · 约 10 分钟.
fn issued_zh(t: &IssuedTicket) -> String {
    let lang = Lang::Zh;
    let mut parts = vec![match t.position {
        0 => "下一位就是您".to_owned(),
        n => format!("前面 {n} 人"),
    }];
    parts.push(match t.windows.as_slice() {
        [] => "该事项暂无开放窗口".to_owned(),
        many => format!("{}号窗口", join(many, "、")),
    });
    if let Some(secs) = t.eta_secs {
        parts.push(match secs {
            0 => "无需等候".to_owned(),
            1..=59 => "不到 1 分钟".to_owned(),
            s => format!("约 {} 分钟", (s + 30) / 60),
        });
    }
    let mut out = format!(
        "号码 {}（{}，{}）\n{}",
        t.ticket,
        t.item_name,
        text::lane(t.lane, lang),
        parts.join(" · ")
    );
    if t.approaching {
        // §7.3.5 already holds at issue.
        out.push_str("\n请到等候区候办");
    }
    out
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

/// One window on one line in `lang`, after an action.
fn window_line_in(w: &WindowView, lang: Lang) -> String {
    if lang == Lang::En {
        return window_line(w);
    }
    let state = match &w.state {
        WindowState::Closed => "未开放".to_owned(),
        WindowState::Open => "开放".to_owned(),
        WindowState::Paused(reason) => format!("暂停服务（{reason}）"),
    };
    let mut parts = vec![format!("{}号窗口", w.number), state];
    if let Some((id, post)) = &w.staff {
        parts.push(format!("工作人员 {id}（{}）", text::post(*post, lang)));
    }
    parts.push(match (&w.current, w.serving) {
        (Some(t), true) => format!("正在办理 {t}"),
        (Some(t), false) => format!("已叫号 {t}"),
        (None, _) => "空闲".into(),
    });
    parts.join(" · ")
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
    items_table_headed(
        view,
        &["ITEM", "NAME", "APPT", "PRIO", "WALK-IN", "OPEN", "ISSUED"],
    )
}

/// The items' table under `headers`: the same rows in either language.
fn items_table_headed(view: &HallView, headers: &[&str]) -> String {
    let mut t = Table::new(headers);
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

/// The windows' table with the hall's words (`status`, `watch`).
fn windows_table_zh(view: &HallView) -> String {
    let lang = Lang::Zh;
    let mut windows = Table::new(&["窗口", "状态", "工作人员", "当前号", "事项"]);
    for w in &view.windows {
        windows.row(vec![
            w.number.to_string(),
            match &w.state {
                WindowState::Closed => "未开放".to_owned(),
                WindowState::Open => "开放".to_owned(),
                WindowState::Paused(reason) => format!("暂停：{reason}"),
            },
            w.staff.as_ref().map_or("-".into(), |(id, post)| {
                format!("{id}（{}）", text::post(*post, lang))
            }),
            match (&w.current, w.serving) {
                (Some(t), true) => format!("{t} 办理中"),
                (Some(t), false) => format!("{t} 已叫号"),
                (None, _) => "-".into(),
            },
            {
                let mut items = if w.universal {
                    "全部".to_owned()
                } else {
                    join(&w.items, " ")
                };
                if w.fallback {
                    items.push_str(" +绿色通道");
                }
                items
            },
        ]);
    }
    windows.render()
}

/// The items' table with the hall's words (`status`, `watch`).
fn items_table_zh(view: &HallView) -> String {
    items_table_headed(
        view,
        &[
            "事项",
            "名称",
            "预约",
            "优先",
            "普通",
            "开放窗口",
            "今日取号",
        ],
    )
}

/// [`hall_line`] in `lang`.
fn hall_line_in(view: &HallView, lang: Lang) -> String {
    if lang == Lang::En {
        return hall_line(view);
    }
    let mut parts = Vec::new();
    if let Some(day) = view.day {
        parts.push(format!(
            "营业日 {:04}-{:02}-{:02}",
            day / 10000,
            day / 100 % 100,
            day % 100
        ));
    }
    parts.push(
        if view.issuing {
            "正在取号"
        } else {
            "已停止取号"
        }
        .to_owned(),
    );
    parts.join(" · ")
}

/// [`status`] in Chinese: the same tables with the hall's words.
fn status_zh(s: &Status, now: Timestamp) -> String {
    let lang = Lang::Zh;
    let view = &s.view;
    let waiting_count: u32 = view
        .items
        .iter()
        .map(|i| i.waiting.iter().sum::<u32>())
        .sum();
    let listed = if s.waiting.len() < waiting_count as usize {
        format!("（列出前 {} 个）", s.waiting.len())
    } else {
        String::new()
    };
    let mut head = vec![format!("{}（{}）", s.hall_name, s.hall)];
    if let Some(day) = view.day {
        head.push(format!(
            "营业日 {:04}-{:02}-{:02}",
            day / 10000,
            day / 100 % 100,
            day % 100
        ));
    }
    head.push(
        if view.issuing {
            "正在取号"
        } else {
            "已停止取号"
        }
        .to_owned(),
    );
    head.push(format!("{waiting_count} 人等候{listed}"));
    let windows = windows_table_zh(view);
    let waiting = if s.waiting.is_empty() {
        "无人等候。\n".to_owned()
    } else {
        let mut rows: Vec<&WaitingTicket> = s.waiting.iter().collect();
        rows.sort_by_key(|w| (w.ticket.item, w.lane.rank(), w.position));
        let mut t = Table::new(&["号码", "通道", "前面", "转给", "已等"]);
        for w in rows {
            t.row(vec![
                w.ticket.to_string(),
                text::lane(w.lane, lang).to_owned(),
                w.position.to_string(),
                w.for_window.map_or(String::new(), |n| format!("{n}号窗口")),
                format!("{} 分钟", now.secs_since(w.waiting_since) / 60),
            ]);
        }
        t.render()
    };
    let items = items_table_zh(view);
    format!(
        "{}\n\n{}\n{}\n{}",
        head.join(" · "),
        windows,
        waiting,
        items
    )
    .trim_end()
    .to_owned()
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

fn call_line(c: &CallShown, lang: Lang) -> String {
    if c.recall {
        format!("{}{}", c.announcement, lang.pick("（重呼）", " (recall)"))
    } else {
        c.announcement.clone()
    }
}

/// One update of `hallq watch` in the process's language, each line
/// prefixed with the change number.
pub fn display_update(u: &DisplayUpdate) -> String {
    display_update_in(u, text::lang())
}

/// [`display_update`] in `lang`.
pub fn display_update_in(u: &DisplayUpdate, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    match u {
        DisplayUpdate::Snapshot {
            seq,
            view,
            recent_calls,
        } => {
            let (windows, items) = if zh {
                (windows_table_zh(view), items_table_zh(view))
            } else {
                (windows_table(view), items_table(view))
            };
            let mut out = format!(
                "#{seq} {} · {}\n{windows}\n{items}",
                lang.pick("全貌", "snapshot"),
                hall_line_in(view, lang),
            );
            for c in recent_calls {
                out.push_str(&format!("\n#{seq} {}", call_line(c, lang)));
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
            let mut lines: Vec<String> = calls.iter().map(|c| call_line(c, lang)).collect();
            lines.extend(windows.iter().map(|w| window_line_in(w, lang)));
            lines.extend(items.iter().map(|(code, [appointment, priority, walk_in])| {
                if zh {
                    format!("{code} 等候：预约 {appointment} · 优先 {priority} · 普通 {walk_in}")
                } else {
                    format!(
                        "{code} waiting: {appointment} appointment, {priority} priority, {walk_in} walk-in"
                    )
                }
            }));
            match issuing {
                Some(true) => lines.push(lang.pick("已开始取号", "issuing open").into()),
                Some(false) => lines.push(lang.pick("已停止取号", "issuing closed").into()),
                None => {}
            }
            if lines.is_empty() {
                lines.push(lang.pick("（无可见变化）", "(no visible change)").into());
            }
            lines
                .iter()
                .map(|l| format!("#{seq} {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        DisplayUpdate::Dropped { reason } if zh => {
            format!("hallqd 断开了本显示（{reason}）；重新连接可得到新的全貌")
        }
        DisplayUpdate::Dropped { reason } => {
            format!("hallqd dropped this display ({reason}); reconnect for a fresh snapshot")
        }
    }
}

/// What a notification is, for a person.
fn kind_label(k: NotificationKind, lang: Lang) -> &'static str {
    if lang == Lang::En {
        return kind_name(k);
    }
    match k {
        NotificationKind::Issued => "取号",
        NotificationKind::Approaching => "即将到号",
        NotificationKind::Called => "叫号",
        NotificationKind::WorkOrder => "差评工单",
        NotificationKind::BookingConfirmed => "预约成功",
        NotificationKind::BookingCancelled => "预约取消",
        NotificationKind::BookingForfeited => "预约失效",
        NotificationKind::RemoteCode => "线上取号验证码",
        NotificationKind::Alert => "大厅告警",
    }
}

/// One notification in the process's language, with the phone number
/// masked.
pub fn notification(n: &Notification) -> String {
    notification_in(n, text::lang())
}

/// [`notification`] in `lang`.
pub fn notification_in(n: &Notification, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    // An unparsable number is not printed at all rather than risk leaking it.
    let to = match &n.work_order {
        Some(order) if zh => format!(
            "12345热线：{}号窗口 · {} · 评价 {}",
            order.window,
            order.staff.as_deref().unwrap_or("无人登录"),
            order.rating
        ),
        Some(order) => format!(
            "hotline: window {} · {} · rating {}",
            order.window,
            order.staff.as_deref().unwrap_or("no staff logged in"),
            order.rating
        ),
        None => Phone::new(n.phone.as_str()).map_or_else(
            |_| lang.pick("（号码无效）", "(invalid number)").into(),
            |p| p.masked(),
        ),
    };
    let about = match (&n.ticket, &n.booking) {
        (Some(t), _) => t.to_string(),
        (None, Some(code)) => format!("{}{code}", lang.pick("预约 ", "booking ")),
        (None, None) => "-".to_owned(),
    };
    format!(
        "{}  {}  {about}  {to}  {}",
        n.id,
        kind_label(n.kind, lang),
        n.text
    )
}

fn join<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// `hallq stats` from a hallqd that predates `Report`: the totals, then
/// one block per group (headings in `lang`; the figures as they were).
fn day_stats(s: &hallq_proto::wire::DayStats, lang: Lang) -> String {
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
    for g in &s.groups {
        lines.push(String::new());
        lines.push(group_heading(s.by, &g.key, lang));
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

/// Per mille as a percentage with one decimal, or "-".
fn percent(permille: Option<u32>) -> String {
    permille.map_or("-".into(), |p| format!("{}.{}%", p / 10, p % 10))
}

/// The five grades as a labelled distribution, best first:
/// `非常满意 8 · 满意 3 · 基本满意 1 · 不满意 2 · 非常不满意 1`.
fn ratings_line(ratings: &[u64; 5], lang: Lang) -> String {
    (1..=5u8)
        .rev()
        .map(|v| format!("{} {}", text::rating(v, lang), ratings[usize::from(v) - 1]))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `hallq stats`: the totals, the hours, then one block per group, with
/// what a manager asks for (满意率, over the target, paused time).
fn day_report(r: &DayReport, lang: Lang) -> String {
    let s = &r.stats;
    let zh = lang == Lang::Zh;
    let mut lines = vec![format!(
        "{} · {}-{:02}-{:02}",
        s.hall,
        s.day / 10_000,
        s.day / 100 % 100,
        s.day % 100
    )];
    let target_min = r.wait_target_secs / 60;
    lines.extend(report_figures(&s.totals, &r.totals, true, target_min, lang));
    lines.push(if zh {
        format!(
            "  预约到场 {} · 预约失约 {} · 短信已发 {} · 失败 {}",
            s.appointments_kept, s.forfeited_bookings, s.notifications_sent, s.notifications_failed
        )
    } else {
        format!(
            "  appointments kept {} · bookings forfeited {} · notifications sent {} · failed {}",
            s.appointments_kept, s.forfeited_bookings, s.notifications_sent, s.notifications_failed
        )
    });
    if !r.hours.is_empty() {
        lines.push(String::new());
        let mut t = Table::new(&if zh {
            ["时段", "取号", "叫号", "办结", "过号", "平均等候"]
        } else {
            [
                "HOUR",
                "ISSUED",
                "CALLED",
                "SERVED",
                "NO-SHOWS",
                "MEAN WAIT",
            ]
        });
        for h in &r.hours {
            t.row(vec![
                format!("{:02}:00", h.hour),
                h.issued.to_string(),
                h.called.to_string(),
                h.served.to_string(),
                h.no_shows.to_string(),
                minutes(h.mean_wait_secs, lang),
            ]);
        }
        lines.push(t.render().trim_end().to_owned());
    }
    for (g, extra) in s.groups.iter().zip(&r.groups) {
        lines.push(String::new());
        lines.push(group_heading(s.by, &g.key, lang));
        lines.extend(report_figures(
            &g.figures,
            &extra.figures,
            s.by == Some(StatsBy::Item),
            target_min,
            lang,
        ));
    }
    lines.join("\n")
}

/// A `stats --by` group's heading: 事项 A / 3号窗口 / 工作人员 S1002, or
/// item A / window 3 / staff S1002; service with nobody logged in is
/// named as such, not "-".
fn group_heading(by: Option<StatsBy>, key: &str, lang: Lang) -> String {
    match (by, lang) {
        (Some(StatsBy::Staff), _) if key == "-" => lang
            .pick("工作人员（未登录）", "staff (nobody logged in)")
            .to_owned(),
        (_, _) if key == "-" => lang.pick("（无）", "(none)").to_owned(),
        (Some(StatsBy::Item), Lang::Zh) => format!("事项 {key}"),
        (Some(StatsBy::Window), Lang::Zh) => format!("{key}号窗口"),
        (Some(StatsBy::Staff), Lang::Zh) => format!("工作人员 {key}"),
        (Some(StatsBy::Item), Lang::En) => format!("item {key}"),
        (Some(StatsBy::Window), Lang::En) => format!("window {key}"),
        (Some(StatsBy::Staff), Lang::En) => format!("staff {key}"),
        (None, _) => key.to_owned(),
    }
}

fn minutes(secs: u64, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{} 分 {:02} 秒", secs / 60, secs % 60),
        Lang::En => format!("{}m{:02}s", secs / 60, secs % 60),
    }
}

fn report_figures(
    f: &StatsFigures,
    x: &ReportFigures,
    issued: bool,
    target_min: u64,
    lang: Lang,
) -> Vec<String> {
    let d = |d: &hallq_proto::wire::Durations| match lang {
        Lang::Zh => format!(
            "平均 {} · 中位 {} · 90% {} · 最长 {}（{} 人）",
            minutes(d.mean_secs, lang),
            minutes(d.p50_secs, lang),
            minutes(d.p90_secs, lang),
            minutes(d.max_secs, lang),
            d.count
        ),
        Lang::En => format!(
            "mean {} · p50 {} · p90 {} · max {} (n={})",
            minutes(d.mean_secs, lang),
            minutes(d.p50_secs, lang),
            minutes(d.p90_secs, lang),
            minutes(d.max_secs, lang),
            d.count
        ),
    };
    let paused = minutes(x.paused_secs, lang);
    match lang {
        Lang::Zh => vec![
            format!(
                "  {}办结 {} · 过号 {}（过号率 {}）· 转出 {} · 叫号 {}",
                if issued {
                    format!("取号 {} · ", f.issued)
                } else {
                    String::new()
                },
                f.served,
                f.no_shows,
                percent(x.no_show_permille),
                f.transfers,
                x.calls
            ),
            format!("  等候：{}", d(&f.waiting)),
            format!(
                "  等候超过 {target_min} 分钟：{} 人（{}）",
                x.waited_over_target,
                percent(x.waited_over_target_permille)
            ),
            format!("  办理：{}", d(&f.service)),
            format!(
                "  评价：{} · 满意率 {} · 差评工单 {}",
                ratings_line(&f.ratings, lang),
                percent(x.satisfied_permille),
                f.work_orders
            ),
            format!("  暂停时长 {paused}"),
            format!("  手机上放弃 {} · 延后 {}", x.left, x.stepped_back),
        ],
        Lang::En => vec![
            format!(
                "  {}served {} · no-shows {} (rate {}) · transfers out {} · calls {}",
                if issued {
                    format!("issued {} · ", f.issued)
                } else {
                    String::new()
                },
                f.served,
                f.no_shows,
                percent(x.no_show_permille),
                f.transfers,
                x.calls
            ),
            format!("  waiting: {}", d(&f.waiting)),
            format!(
                "  waited over {target_min} min: {} ({})",
                x.waited_over_target,
                percent(x.waited_over_target_permille)
            ),
            format!("  service: {}", d(&f.service)),
            format!(
                "  ratings: {} · satisfied {} · work orders {}",
                ratings_line(&f.ratings, lang),
                percent(x.satisfied_permille),
                f.work_orders
            ),
            format!("  paused {paused}"),
            format!(
                "  given up on the phone {} · stepped back {}",
                x.left, x.stepped_back
            ),
        ],
    }
}
