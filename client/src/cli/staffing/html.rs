//! The staffing report as one self-contained HTML page (`hallq simulate
//! --html FILE`): the tables of the text report and four charts drawn as
//! inline SVG by `plotters` — arrivals and open windows per hour, the p90
//! wait per hour against the target, the queue through the day, each
//! window's use. No script, no CDN, no external file: a hall's network
//! often has no internet, and the page is mailed or printed as it is.
//! The drawing is the day-in-charts module's ([`hallq_client::charts::draw`]).

use std::fmt::Write as _;

use hallq_client::charts::draw::{self, Series};
use hallq_client::charts::page::esc;
use hallq_proto::staffing::{minute_string, SimulationReport};

use super::{date, item, lane, mapping, wait, Lang};

/// The p90 wait per hour (minutes) with the target as a red line.
fn p90_chart(title: &str, r: &SimulationReport, lang: Lang) -> Result<String, String> {
    let hours: Vec<u8> = r.hours.iter().map(|h| h.hour).collect();
    let p90: Vec<f64> = r
        .hours
        .iter()
        .map(|h| f64::from(h.p90_secs) / 60.0)
        .collect();
    draw::hour_groups(
        title,
        &hours,
        &[Series::new(
            lang.pick("每小时到达者的 p90 等候", "p90 wait of the hour's arrivals"),
            p90,
        )],
        lang.pick("p90 等候（分钟）", "p90 wait (min)"),
        Some((
            f64::from(r.target_secs) / 60.0,
            lang.pick("等候目标", "target"),
        )),
    )
}

/// Tickets waiting through the day (a point every 5 minutes).
fn queue_chart(title: &str, r: &SimulationReport, lang: Lang) -> Result<String, String> {
    let values: Vec<f64> = r.queue.iter().map(|&q| f64::from(q)).collect();
    draw::area(
        title,
        f64::from(r.queue_from) / 60.0,
        f64::from(QUEUE_STEP_MINUTES) / 60.0,
        &values,
        lang.pick("等候人数", "tickets waiting"),
    )
}

/// Minutes between the queue's points: hallq-core's
/// `staffing::engine::QUEUE_STEP_MINUTES` (the client does not compile the
/// core).
const QUEUE_STEP_MINUTES: u16 = 5;

/// Each window's busy share of its open time.
fn use_chart(title: &str, r: &SimulationReport, lang: Lang) -> Result<String, String> {
    let labels: Vec<String> = r.windows.iter().map(|w| w.window.to_string()).collect();
    let use_: Vec<f64> = r
        .windows
        .iter()
        .map(|w| {
            if w.open_secs == 0 {
                0.0
            } else {
                f64::from(w.busy_secs) * 100.0 / f64::from(w.open_secs)
            }
        })
        .collect();
    draw::category_bars(
        title,
        &labels,
        &[Series::new(lang.pick("利用率 %", "use %"), use_)],
        lang.pick("窗口", "window"),
        lang.pick("利用率 %", "use %"),
        Some(100.0),
    )
}

const STYLE: &str = "
body{font-family:'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei','PingFang SC',sans-serif;
 margin:24px auto;max-width:1180px;color:#1b1f24;background:#f4f6f9;padding:0 16px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:28px 0 8px}
.summary{font-size:16px;color:#333;margin:4px 0 16px}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.kpi{background:#fff;border-radius:8px;padding:10px 16px;box-shadow:0 1px 3px #0002;min-width:150px}
.kpi b{display:block;font-size:26px;color:#1f5fa8}.kpi.bad b{color:#c0272d}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.chart{background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;padding:6px}
.chart svg{width:100%;height:auto;display:block}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 3px #0002;font-size:15px;margin-bottom:8px}
th,td{padding:5px 12px;border-bottom:1px solid #e3e7ec;text-align:right}
th{background:#1f5fa8;color:#fff;font-weight:600}td:first-child,th:first-child{text-align:left}
tr.item td{font-weight:600;background:#f0f4fa}td.over{color:#c0272d;font-weight:600}
.tables{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.note{color:#555;font-size:14px}
@media print{body{background:#fff}.chart,table,.kpi{box-shadow:none;border:1px solid #ccc}}
";

/// The whole page.
pub fn report(r: &SimulationReport, lang: Lang) -> String {
    let mut page = String::new();
    let title = match lang {
        Lang::Zh => format!("排班模拟报告 {}", date(r.day)),
        Lang::En => format!("Staffing simulation {}", date(r.day)),
    };
    let _ = write!(
        page,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        lang.pick("zh-CN", "en"),
        esc(&title)
    );
    let _ = write!(page, "<h1>{}</h1>", esc(&title));
    let summary = super::text::report(r, lang);
    let first_line = summary.lines().next().unwrap_or("");
    let _ = write!(page, "<p class=\"summary\">{}</p>", esc(first_line));
    let kpi = |page: &mut String, label: &str, value: String, bad: bool| {
        let _ = write!(
            page,
            "<div class=\"kpi{}\"><b>{}</b>{}</div>",
            if bad { " bad" } else { "" },
            esc(&value),
            esc(label)
        );
    };
    page.push_str("<div class=\"kpis\">");
    let worst_p90 = r
        .waits
        .iter()
        .filter(|w| w.lane.is_none())
        .map(|w| w.p90_secs)
        .max()
        .unwrap_or(0);
    kpi(
        &mut page,
        lang.pick("张票", "tickets"),
        r.tickets.to_string(),
        false,
    );
    kpi(
        &mut page,
        lang.pick("最差事项 p90 等候", "worst item's p90 wait"),
        wait(worst_p90, lang),
        worst_p90 > r.target_secs,
    );
    kpi(
        &mut page,
        lang.pick("等候超过目标", "waits over target"),
        r.over_target.to_string(),
        r.over_target > 0,
    );
    kpi(
        &mut page,
        &match lang {
            Lang::Zh => format!("最长排队（{}）", minute_string(r.longest_queue_at)),
            Lang::En => format!("longest queue (at {})", minute_string(r.longest_queue_at)),
        },
        r.longest_queue.to_string(),
        false,
    );
    kpi(
        &mut page,
        lang.pick("§7.3.5 候办提醒", "§7.3.5 reminders"),
        r.reminders.to_string(),
        false,
    );
    kpi(
        &mut page,
        lang.pick("窗口·小时", "window-hours"),
        format!("{:.1}", r.window_hours),
        false,
    );
    page.push_str("</div>");

    if let Some(plan) = &r.plan {
        let _ = write!(page, "<h2>{}</h2>", lang.pick("排班建议", "The rota"));
        let text = super::text::rota(plan, r.day, r.source, r.target_secs, lang);
        if let Some(head) = text.lines().next() {
            let _ = write!(page, "<p class=\"note\">{}</p>", esc(head));
        }
        page.push_str("<table><tr><th>");
        page.push_str(lang.pick("时段", "hours"));
        page.push_str("</th>");
        for g in &plan.groups {
            let windows: Vec<String> = g.windows.iter().map(|w| w.to_string()).collect();
            let _ = write!(
                page,
                "<th>{}<br><small>{}{}</small></th>",
                esc(&mapping(&g.items, g.universal, lang)),
                lang.pick("窗口 ", "windows "),
                windows.join(",")
            );
        }
        let _ = write!(
            page,
            "<th>{}</th></tr>",
            lang.pick("预计 p90", "expected p90")
        );
        for (k, h) in plan.hours.iter().enumerate() {
            let _ = write!(page, "<tr><td>{h:02}:00–{:02}:00</td>", u32::from(*h) + 1);
            for g in &plan.groups {
                let _ = write!(page, "<td>{}</td>", g.open[k]);
            }
            let p = plan.expected_p90_secs[k];
            let _ = write!(
                page,
                "<td{}>{}</td></tr>",
                if p > r.target_secs {
                    " class=\"over\""
                } else {
                    ""
                },
                esc(&wait(p, lang))
            );
        }
        page.push_str("</table>");
        for note in super::text::rota_notes(plan, lang) {
            let _ = write!(page, "<p class=\"note\">{}</p>", esc(&note));
        }
    }

    let _ = write!(
        page,
        "<h2>{}</h2><div class=\"charts\">",
        lang.pick("图表", "Charts")
    );
    let hours: Vec<u8> = r.hours.iter().map(|h| h.hour).collect();
    let arrivals: Vec<f64> = r.hours.iter().map(|h| f64::from(h.arrivals)).collect();
    let open: Vec<f64> = r.hours.iter().map(|h| f64::from(h.open_windows)).collect();
    let charts = [
        draw::hour_bars(
            lang.pick("每小时到达与开放窗口", "Arrivals and open windows per hour"),
            &hours,
            &arrivals,
            lang.pick("到达（张）", "arrivals"),
            Some((
                lang.pick("开放窗口", "open windows"),
                &open,
                lang.pick("窗口数", "windows"),
            )),
        ),
        p90_chart(
            lang.pick("每小时 p90 等候与目标", "p90 wait per hour and the target"),
            r,
            lang,
        ),
        queue_chart(
            lang.pick("全天排队人数", "The queue through the day"),
            r,
            lang,
        ),
        use_chart(lang.pick("窗口利用率", "Window use"), r, lang),
    ];
    for chart in charts {
        match chart {
            Ok(svg) => {
                let _ = write!(page, "<div class=\"chart\">{svg}</div>");
            }
            Err(e) => {
                let _ = write!(page, "<div class=\"chart note\">chart: {}</div>", esc(&e));
            }
        }
    }
    page.push_str("</div>");

    let _ = write!(
        page,
        "<h2>{}</h2><div class=\"tables\">",
        lang.pick("等候", "Waits")
    );
    let _ = write!(
        page,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>p50</th><th>p90</th><th>{}</th><th>{}</th>",
        lang.pick("事项", "item"),
        lang.pick("通道", "lane"),
        lang.pick("票数", "tickets"),
        lang.pick("最长", "max"),
        lang.pick("超目标", "over target"),
    );
    let recorded = r.waits.iter().any(|w| w.recorded.is_some());
    if recorded {
        let _ = write!(
            page,
            "<th>{}</th><th>{}</th>",
            lang.pick("记录 p50", "recorded p50"),
            lang.pick("记录 p90", "recorded p90")
        );
    }
    page.push_str("</tr>");
    for w in &r.waits {
        let name = if w.lane.is_none() {
            item(w.item, &r.items)
        } else {
            String::new()
        };
        let _ =
            write!(
            page,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td>",
            if w.lane.is_none() { " class=\"item\"" } else { "" },
            esc(&name),
            lane(w.lane, lang),
            w.tickets,
            esc(&wait(w.p50_secs, lang)),
            if w.p90_secs > r.target_secs { " class=\"over\"" } else { "" },
            esc(&wait(w.p90_secs, lang)),
            esc(&wait(w.max_secs, lang)),
            w.over_target
        );
        if recorded {
            match w.recorded {
                Some(rec) => {
                    let _ = write!(
                        page,
                        "<td>{}</td><td>{}</td>",
                        esc(&wait(rec.p50_secs, lang)),
                        esc(&wait(rec.p90_secs, lang))
                    );
                }
                None => page.push_str("<td></td><td></td>"),
            }
        }
        page.push_str("</tr>");
    }
    page.push_str("</table>");
    let _ = write!(
        page,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.pick("窗口", "window"),
        lang.pick("开放", "open"),
        lang.pick("忙碌", "busy"),
        lang.pick("利用率", "use"),
        lang.pick("叫号", "calls")
    );
    for w in &r.windows {
        let u = if w.open_secs == 0 {
            0
        } else {
            (u64::from(w.busy_secs) * 100 / u64::from(w.open_secs)) as u32
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{:.1} h</td><td>{:.1} h</td><td>{u}%</td><td>{}</td></tr>",
            w.window,
            f64::from(w.open_secs) / 3600.0,
            f64::from(w.busy_secs) / 3600.0,
            w.calls
        );
    }
    page.push_str("</table></div>");
    let _ = write!(
        page,
        "<p class=\"note\">{}</p></body></html>",
        esc(lang.pick(
            "由 hallq 模拟：当日到达经真实派号内核（同一叫号规则）重放，服务时长取自当日记录。",
            "Simulated by hallq: the arrivals replayed through the real dispatch core (the same call \
             policy), service times drawn from the day's recorded services.",
        ))
    );
    page
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        assert_eq!(
            super::esc("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }
}
