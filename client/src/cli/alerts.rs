//! `hallq` and the hall manager's data (issue 21): the commands `alerts`,
//! `workorders`, `workorder callback|close`, `rating appeal|appeals`, and
//! how their answers print, as text (Chinese by default, `--lang en`) and
//! as `--json` (the wire shapes, field for field).

use clap::Subcommand;
use serde_json::{json, Value};

use hallq_proto::console::{AlertView, AppealView, WorkOrderAction, WorkOrderView};
use hallq_proto::types::{TicketNo, Timestamp};
use hallq_proto::wire::{Request, Response};

use hallq_client::text::{self, Lang};

use super::table::Table;

/// `hallq workorder …`: a 差评工单's lifecycle (admin).
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum WorkOrderCommand {
    /// 回访: the visitor was called back; what they said.
    Callback {
        /// The work order's number (`hallq workorders`).
        id: u64,
        /// 回访记录.
        #[arg(long)]
        note: String,
    },
    /// Handled: close it with what was done (处理结果).
    Close {
        /// The work order's number.
        id: u64,
        /// 处理结果.
        #[arg(long)]
        note: String,
    },
}

impl WorkOrderCommand {
    /// The request it sends.
    pub fn request(&self) -> Request {
        match self {
            WorkOrderCommand::Callback { id, note } => Request::WorkOrderUpdate {
                id: *id,
                action: WorkOrderAction::CalledBack { note: note.clone() },
            },
            WorkOrderCommand::Close { id, note } => Request::WorkOrderUpdate {
                id: *id,
                action: WorkOrderAction::Closed { note: note.clone() },
            },
        }
    }
}

/// `hallq rating …`: 申诉复核 (admin).
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum RatingCommand {
    /// Mark a service's rating appealed and invalid: it leaves 满意率 and
    /// the distribution, stays in the journal and the export.
    Appeal {
        /// The service's ticket (any ticket of a batch names the batch).
        ticket: TicketNo,
        /// Why (申诉复核的理由).
        #[arg(long)]
        reason: String,
        /// The service's day, YYYY-MM-DD; today if left out (a past day's
        /// rating is found through its work order).
        #[arg(long, value_parser = parse_date)]
        date: Option<u32>,
    },
    /// A day's appeals (today by default).
    Appeals {
        /// The day, YYYY-MM-DD.
        #[arg(long, value_parser = parse_date)]
        date: Option<u32>,
    },
}

impl RatingCommand {
    /// The request it sends.
    pub fn request(&self) -> Request {
        match self {
            RatingCommand::Appeal {
                ticket,
                reason,
                date,
            } => Request::AppealRating {
                ticket: *ticket,
                day: *date,
                reason: reason.clone(),
            },
            RatingCommand::Appeals { date } => Request::Appeals { day: *date },
        }
    }
}

/// `--date`: `2026-11-22` (or `20261122`).
fn parse_date(s: &str) -> Result<u32, String> {
    let dashed = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..])
    } else {
        s.to_owned()
    };
    hallq_proto::appointment::parse_day(&dashed).map_err(|e| e.0)
}

/// The `--json` object of one of this module's answers, if `r` is one.
/// The shapes are the wire's (serde), so they stay stable with it.
pub fn json(r: &Response) -> Option<Value> {
    Some(match r {
        Response::Console(v) => json!(v),
        Response::Alerts(alerts) => json!({ "alerts": alerts }),
        Response::WorkOrders(page) => json!({ "work_orders": page.orders, "next": page.next }),
        Response::WorkOrder(order) => json!(order),
        Response::RatingAppealed(appeal) => json!(appeal),
        Response::Appeals(appeals) => json!({ "appeals": appeals }),
        _ => return None,
    })
}

/// The text of one of this module's answers in `lang` at `now`, if `r` is
/// one.
pub fn human_in(r: &Response, now: Timestamp, lang: Lang) -> Option<String> {
    let now = now.0 / 1000;
    Some(match r {
        Response::Console(v) => format!(
            "{} · {} · {} {} · {} {}",
            v.hall_name,
            v.day,
            lang.pick("告警", "alerts"),
            v.active_alerts,
            lang.pick("未办结工单", "open work orders"),
            v.open_work_orders
        ),
        Response::Alerts(alerts) => alert_table(alerts, now, lang),
        Response::WorkOrders(page) => {
            let mut text = work_order_table(&page.orders, now, lang);
            if let Some(next) = page.next {
                text.push_str(&match lang {
                    Lang::Zh => format!("（还有更多：hallq workorders --after {next}）\n"),
                    Lang::En => format!("(more: hallq workorders --after {next})\n"),
                });
            }
            text
        }
        Response::WorkOrder(order) => work_order_detail(order, lang),
        Response::RatingAppealed(appeal) => appeal_line(appeal, lang),
        Response::Appeals(appeals) if appeals.is_empty() => lang
            .pick("当日没有申诉复核", "no appeals that day")
            .to_owned(),
        Response::Appeals(appeals) => appeals
            .iter()
            .map(|a| appeal_line(a, lang))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => return None,
    })
}

/// "12分钟" / "12 min", from seconds.
fn minutes(secs: u64, lang: Lang) -> String {
    let m = secs / 60;
    match lang {
        Lang::Zh => format!("{m}分钟"),
        Lang::En => format!("{m} min"),
    }
}

/// "3分钟前" / "3 min ago".
fn ago(at: u64, now: u64, lang: Lang) -> String {
    let m = now.saturating_sub(at) / 60;
    match lang {
        Lang::Zh => format!("{m}分钟前"),
        Lang::En => format!("{m} min ago"),
    }
}

/// What an alert is about, in a sentence fragment.
fn alert_about(a: &AlertView, lang: Lang) -> String {
    use hallq_proto::console::AlertKind as K;
    let value = a.value_secs.map(|v| minutes(v, lang)).unwrap_or_default();
    let limit = a.limit_secs.map(|v| minutes(v, lang)).unwrap_or_default();
    let window = a.window.map(|w| w.to_string()).unwrap_or_default();
    let ticket = a.ticket.map(|t| t.to_string()).unwrap_or_default();
    match (a.kind, lang) {
        (K::Wait, Lang::Zh) => {
            let open = if a.open_windows.is_empty() {
                "无可开放的窗口".to_owned()
            } else {
                let w: Vec<String> = a.open_windows.iter().map(|w| format!("{w}号")).collect();
                format!("建议开放{}窗口", w.join("、"))
            };
            format!("事项 {} 等候 {value}（目标 {limit}），{open}", a.subject)
        }
        (K::Wait, Lang::En) => {
            let open = if a.open_windows.is_empty() {
                "no window to open".to_owned()
            } else {
                let w: Vec<String> = a.open_windows.iter().map(|w| w.to_string()).collect();
                format!("open window {}", w.join(", "))
            };
            format!("item {} waits {value} (target {limit}); {open}", a.subject)
        }
        (K::Paused, Lang::Zh) => format!("{window}号窗口暂停 {value}（{}）", a.detail),
        (K::Paused, Lang::En) => format!("window {window} paused {value} ({})", a.detail),
        (K::NobodyLoggedIn, Lang::Zh) => format!("{window}号窗口开放无人登录 {value}"),
        (K::NobodyLoggedIn, Lang::En) => format!("window {window} open, nobody logged in {value}"),
        (K::Idle, Lang::Zh) => format!("{window}号窗口空闲 {value}，有人等候"),
        (K::Idle, Lang::En) => format!("window {window} idle {value} while people wait"),
        (K::BadRating, _) => format!(
            "{window}{} {ticket} {} · {}",
            lang.pick("号窗口", ""),
            a.rating.map_or("", |r| text::rating(r, lang)),
            a.detail
        ),
        (K::NotificationFailed | K::PrintFailed, _) => format!("{ticket} {}", a.detail),
        (K::WorkOrderOverdue, Lang::Zh) => {
            format!("工单 #{} 已超期 {value}（{ticket}）", a.subject)
        }
        (K::WorkOrderOverdue, Lang::En) => {
            format!("work order #{} overdue by {value} ({ticket})", a.subject)
        }
    }
}

fn alert_table(alerts: &[AlertView], now: u64, lang: Lang) -> String {
    if alerts.is_empty() {
        return lang.pick("当前没有告警\n", "no alerts\n").to_owned();
    }
    let mut table = Table::new(match lang {
        Lang::Zh => &["告警", "类型", "内容", "发生", "状态"],
        Lang::En => &["alert", "kind", "what", "raised", "state"],
    });
    for a in alerts {
        let state = match a.cleared_at {
            None => lang.pick("未解除", "active").to_owned(),
            Some(c) => format!("{} {}", lang.pick("已解除", "cleared"), ago(c, now, lang)),
        };
        table.row(vec![
            a.id.clone(),
            text::alert_kind(a.kind, lang).to_owned(),
            alert_about(a, lang),
            ago(a.raised_at, now, lang),
            state,
        ]);
    }
    table.render()
}

/// `2026-12-16` from `20261216`.
fn date(day: u32) -> String {
    hallq_proto::appointment::day_string(day)
}

fn work_order_table(orders: &[WorkOrderView], _now: u64, lang: Lang) -> String {
    if orders.is_empty() {
        return lang.pick("没有差评工单\n", "no work orders\n").to_owned();
    }
    let mut table = Table::new(match lang {
        Lang::Zh => &[
            "工单",
            "日期",
            "号",
            "事项",
            "窗口",
            "工作人员",
            "评价",
            "状态",
            "时限",
        ],
        Lang::En => &[
            "order", "day", "ticket", "item", "window", "staff", "rating", "state", "deadline",
        ],
    });
    for o in orders {
        let mut state = text::work_order_state(o.state, lang).to_owned();
        if o.overdue {
            state.push_str(lang.pick("（超期）", " (overdue)"));
        }
        if o.appeal.is_some() {
            state.push_str(lang.pick("（已申诉）", " (appealed)"));
        }
        table.row(vec![
            format!("#{}", o.id),
            date(o.day),
            o.ticket.to_string(),
            format!("{} {}", o.item, o.item_name),
            o.window.to_string(),
            o.staff
                .as_ref()
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            text::rating(o.rating, lang).to_owned(),
            state,
            date(o.deadline_day),
        ]);
    }
    table.render()
}

fn work_order_detail(o: &WorkOrderView, lang: Lang) -> String {
    let mut lines = vec![match lang {
        Lang::Zh => format!(
            "差评工单 #{} · {} · {}号 · {}号窗口 · {} · {} · 时限 {}",
            o.id,
            date(o.day),
            o.ticket,
            o.window,
            text::rating(o.rating, lang),
            text::work_order_state(o.state, lang),
            date(o.deadline_day)
        ),
        Lang::En => format!(
            "work order #{} · {} · {} · window {} · {} · {} · due {}",
            o.id,
            date(o.day),
            o.ticket,
            o.window,
            text::rating(o.rating, lang),
            text::work_order_state(o.state, lang),
            date(o.deadline_day)
        ),
    }];
    if let Some(note) = &o.callback_note {
        lines.push(format!("{}：{note}", lang.pick("回访记录", "callback")));
    }
    if let Some(note) = &o.close_note {
        lines.push(format!("{}：{note}", lang.pick("处理结果", "outcome")));
    }
    lines.join("\n")
}

fn appeal_line(a: &AppealView, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!(
            "{} {}号 的评价“{}”已申诉复核，不计入满意度：{}",
            date(a.day),
            a.ticket,
            text::rating(a.rating, lang),
            a.reason
        ),
        Lang::En => format!(
            "{} {}: rating \"{}\" appealed, left out of satisfaction: {}",
            date(a.day),
            a.ticket,
            text::rating(a.rating, lang),
            a.reason
        ),
    }
}
