//! The staffing reports as text tables for a terminal (columns aligned
//! for Chinese, see [`Table`]).

use hallq_proto::staffing::{ArrivalSource, Forecast, PlanAdvice, SimulationReport};
use hallq_proto::types::ItemCode;

use super::{date, item, lane, mapping, wait, Lang};
use crate::cli::table::Table;

/// `hallq simulate`.
pub fn report(r: &SimulationReport, lang: Lang) -> String {
    let mut out = String::new();
    let source = match (r.source, lang) {
        (ArrivalSource::Recorded, Lang::Zh) => "当日记录的到达",
        (ArrivalSource::Recorded, Lang::En) => "the day's recorded arrivals",
        (ArrivalSource::Forecast, Lang::Zh) => "按往周同日预测的到达",
        (ArrivalSource::Forecast, Lang::En) => "arrivals forecast from past weeks",
    };
    let staffing = match (r.planned, lang) {
        (false, Lang::Zh) => "当日实际排班",
        (false, Lang::En) => "the staffing the day had",
        (true, Lang::Zh) => "排班方案",
        (true, Lang::En) => "the plan",
    };
    out.push_str(&match lang {
        Lang::Zh => format!(
            "模拟 {}：{source} {} 张，{staffing}，{:.1} 窗口·小时 · 等候目标 {} · 随机种子 {}\n\n",
            date(r.day),
            r.tickets,
            r.window_hours,
            wait(r.target_secs, lang),
            r.seed
        ),
        Lang::En => format!(
            "Simulated {}: {} tickets of {source}, {staffing}, {:.1} window-hours · target wait {} · seed {}\n\n",
            date(r.day),
            r.tickets,
            r.window_hours,
            wait(r.target_secs, lang),
            r.seed
        ),
    });
    let recorded = r.waits.iter().any(|w| w.recorded.is_some());
    let mut head = match lang {
        Lang::Zh => vec![
            "事项",
            "通道",
            "票数",
            "p50",
            "p90",
            "最长",
            "超目标",
            "未叫",
        ],
        Lang::En => vec![
            "item", "lane", "tickets", "p50", "p90", "max", "over", "unserved",
        ],
    };
    if recorded {
        head.extend(match lang {
            Lang::Zh => ["记录 p50", "记录 p90"],
            Lang::En => ["rec. p50", "rec. p90"],
        });
    }
    let mut t = Table::new(&head);
    for w in &r.waits {
        let mut row = vec![
            if w.lane.is_none() {
                item(w.item, &r.items)
            } else {
                String::new()
            },
            lane(w.lane, lang).to_owned(),
            w.tickets.to_string(),
            wait(w.p50_secs, lang),
            wait(w.p90_secs, lang),
            wait(w.max_secs, lang),
            w.over_target.to_string(),
            w.unserved.to_string(),
        ];
        if let Some(rec) = w.recorded {
            row.push(wait(rec.p50_secs, lang));
            row.push(wait(rec.p90_secs, lang));
        }
        t.row(row);
    }
    out.push_str(&t.render());
    let at = hallq_proto::staffing::minute_string(r.longest_queue_at);
    out.push_str(&match lang {
        Lang::Zh => format!(
            "\n最长排队 {} 人（{at}）· §7.3.5 候办提醒 {} 次 · 等候超过目标 {} 张\n\n",
            r.longest_queue, r.reminders, r.over_target
        ),
        Lang::En => format!(
            "\nLongest queue {} waiting (at {at}) · §7.3.5 reminders {} · waits over target {}\n\n",
            r.longest_queue, r.reminders, r.over_target
        ),
    });
    let mut t = Table::new(&match lang {
        Lang::Zh => ["窗口", "开放", "忙碌", "利用率", "叫号"],
        Lang::En => ["window", "open", "busy", "use", "calls"],
    });
    for w in &r.windows {
        t.row(vec![
            w.window.to_string(),
            format!("{:.1} h", f64::from(w.open_secs) / 3600.0),
            format!("{:.1} h", f64::from(w.busy_secs) / 3600.0),
            format!("{}%", percent(w.busy_secs, w.open_secs)),
            w.calls.to_string(),
        ]);
    }
    out.push_str(&t.render());
    out.push('\n');
    let mut t = Table::new(&match lang {
        Lang::Zh => ["时段", "到达", "开窗", "p90", "最长排队"],
        Lang::En => ["hour", "arrivals", "windows", "p90", "longest queue"],
    });
    for h in &r.hours {
        t.row(vec![
            format!("{:02}:00", h.hour),
            h.arrivals.to_string(),
            format!("{:.1}", h.open_windows),
            if h.arrivals == 0 {
                "—".to_owned()
            } else {
                wait(h.p90_secs, lang)
            },
            h.queue_peak.to_string(),
        ]);
    }
    out.push_str(&t.render());
    if let Some(plan) = &r.plan {
        out.push('\n');
        out.push_str(&rota(plan, r.day, r.source, r.target_secs, lang));
    }
    out.trim_end().to_owned()
}

fn percent(part: u32, whole: u32) -> u32 {
    if whole == 0 {
        0
    } else {
        ((u64::from(part) * 100 + u64::from(whole) / 2) / u64::from(whole)) as u32
    }
}

/// The rota of `--plan`: hours with the same counts run together
/// ("09:00–11:00  3  2  1").
pub fn rota(plan: &PlanAdvice, day: u32, source: ArrivalSource, target: u32, lang: Lang) -> String {
    let mut out = String::new();
    let from = match (source, lang) {
        (ArrivalSource::Forecast, Lang::Zh) => "，按往周同日预测",
        (ArrivalSource::Forecast, Lang::En) => ", from the forecast",
        (ArrivalSource::Recorded, Lang::Zh) => "，按当日记录的到达",
        (ArrivalSource::Recorded, Lang::En) => ", for the day's recorded arrivals",
    };
    out.push_str(&match lang {
        Lang::Zh => format!(
            "排班建议 {}{from}（各事项每小时 p90 等候 ≤ {}）：\n",
            date(day),
            wait(target, lang)
        ),
        Lang::En => format!(
            "Rota for {}{from} (p90 wait of every item ≤ {} in every hour):\n",
            date(day),
            wait(target, lang)
        ),
    });
    let mut head: Vec<String> = vec![lang.pick("时段", "hours").to_owned()];
    for g in &plan.groups {
        let windows: Vec<String> = g.windows.iter().map(|w| w.to_string()).collect();
        head.push(format!(
            "{} ({}{})",
            mapping(&g.items, g.universal, lang),
            lang.pick("窗口 ", "windows "),
            windows.join(",")
        ));
    }
    head.push(lang.pick("预计 p90", "expected p90").to_owned());
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut t = Table::new(&head_refs);
    let n = plan.hours.len();
    let mut h = 0;
    while h < n {
        let counts = |k: usize| plan.groups.iter().map(|g| g.open[k]).collect::<Vec<_>>();
        let mut end = h + 1;
        while end < n && counts(end) == counts(h) {
            end += 1;
        }
        let worst = plan.expected_p90_secs[h..end]
            .iter()
            .max()
            .copied()
            .unwrap_or(0);
        let mut row = vec![format!(
            "{:02}:00–{:02}:00",
            plan.hours[h],
            u32::from(plan.hours[end - 1]) + 1
        )];
        row.extend(counts(h).iter().map(u16::to_string));
        row.push(wait(worst, lang));
        t.row(row);
        h = end;
    }
    out.push_str(&t.render());
    for note in rota_notes(plan, lang) {
        out.push_str(&note);
        out.push('\n');
    }
    out
}

/// What follows the rota's table: its window-hours and lunch duty, and what
/// no staffing of the mappings can save.
pub fn rota_notes(plan: &PlanAdvice, lang: Lang) -> Vec<String> {
    let mut notes = Vec::new();
    let mut out = String::new();
    let lunch: Vec<String> = plan.lunch_windows.iter().map(|w| w.to_string()).collect();
    out.push_str(&match lang {
        Lang::Zh => format!(
            "共 {:.1} 窗口·小时（原排班 {:.1}）",
            plan.window_hours, plan.baseline_window_hours
        ),
        Lang::En => format!(
            "{:.1} window-hours in all (the staffing compared: {:.1})",
            plan.window_hours, plan.baseline_window_hours
        ),
    });
    if !lunch.is_empty() {
        out.push_str(&match lang {
            Lang::Zh => format!("；午间值班窗口 {}（B岗顶岗，A岗午休）", lunch.join("、")),
            Lang::En => format!(
                "; lunch duty at window {} (post B stands in while A lunches)",
                lunch.join(", ")
            ),
        });
    }
    notes.push(out);
    if !plan.shortfalls.is_empty() {
        let list: Vec<String> = plan
            .shortfalls
            .iter()
            .map(|(h, i)| format!("{h:02}:00 {i}"))
            .collect();
        notes.push(match lang {
            Lang::Zh => format!(
                "无法达标：{}（现有映射的窗口全开也不够：需增加窗口或调整事项映射）",
                list.join("，")
            ),
            Lang::En => format!(
                "Cannot keep the target: {} (even every window of its mappings is not enough: \
                 more windows or other mappings are needed)",
                list.join(", ")
            ),
        });
    }
    notes
}

/// `hallq forecast`.
pub fn forecast(f: &Forecast, lang: Lang) -> String {
    let mut out = String::new();
    let used: Vec<String> = f.days_used.iter().map(|d| date(*d)).collect();
    out.push_str(&match lang {
        Lang::Zh => format!(
            "预测 {}：依据往周同日 {} 天（{}）",
            date(f.day),
            f.days_used.len(),
            used.join("、")
        ),
        Lang::En => format!(
            "Forecast for {}: from {} past day(s) of the same weekday ({})",
            date(f.day),
            f.days_used.len(),
            used.join(", ")
        ),
    });
    if !f.days_missing.is_empty() {
        let missing: Vec<String> = f.days_missing.iter().map(|d| date(*d)).collect();
        out.push_str(&match lang {
            Lang::Zh => format!("；无记录：{}", missing.join("、")),
            Lang::En => format!("; no records: {}", missing.join(", ")),
        });
    }
    out.push_str(lang.pick(
        "\n每格：预计张数（80% 区间）\n\n",
        "\nEach cell: expected tickets (80% interval)\n\n",
    ));
    let mut items: Vec<ItemCode> = f.cells.iter().map(|c| c.item).collect();
    items.sort();
    items.dedup();
    let mut hours: Vec<u8> = f.cells.iter().map(|c| c.hour).collect();
    hours.sort();
    hours.dedup();
    let mut head: Vec<String> = vec![lang.pick("时段", "hour").to_owned()];
    head.extend(items.iter().map(|i| item(*i, &f.items)));
    head.push(lang.pick("合计", "total").to_owned());
    let refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut t = Table::new(&refs);
    for h in &hours {
        let mut row = vec![format!("{h:02}:00")];
        let mut total = 0.0;
        for i in &items {
            match f.cells.iter().find(|c| c.item == *i && c.hour == *h) {
                Some(c) => {
                    total += c.mean;
                    row.push(format!("{:.0} ({:.0}–{:.0})", c.mean, c.low, c.high));
                }
                None => row.push("0".into()),
            }
        }
        row.push(format!("{total:.0}"));
        t.row(row);
    }
    out.push_str(&t.render());
    out.push_str(&match lang {
        Lang::Zh => format!("\n全天预计 {:.0} 张", f.total()),
        Lang::En => format!("\nExpected tickets in the day: {:.0}", f.total()),
    });
    out
}
