//! The staffing report as one self-contained HTML page (`hallq simulate
//! --html FILE`): the tables of the text report and four charts drawn as
//! inline SVG by `plotters` — arrivals and open windows per hour, the p90
//! wait per hour against the target, the queue through the day, each
//! window's use. No script, no CDN, no external file: a hall's network
//! often has no internet, and the page is mailed or printed as it is.

use std::fmt::Write as _;

use hallq_proto::staffing::{minute_string, SimulationReport};
use plotters::prelude::*;

use super::{date, item, lane, mapping, wait, Lang};

/// Chart size in SVG user units (the page scales them to its width).
const CHART: (u32, u32) = (720, 300);
/// The hall's blue (the board's) for bars and lines; red for the target.
const BLUE: RGBColor = RGBColor(0x1f, 0x5f, 0xa8);
const ORANGE: RGBColor = RGBColor(0xe0, 0x8a, 0x1e);
const RED: RGBColor = RGBColor(0xc0, 0x27, 0x2d);

/// An hour axis label: `09:00` at whole hours, nothing between (plotters
/// may put ticks at half hours).
fn hour_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{:02}:00", x.round() as u32 % 24)
    } else {
        String::new()
    }
}

/// `&`, `<`, `>`, `"` escaped: item names and everything else come from a
/// config a person typed.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Bars per hour (`values[i]` for `hours[i]`), with an optional line on the
/// same axis (open windows) scaled to its own maximum.
fn hour_bars(
    title: &str,
    hours: &[u8],
    values: &[f64],
    y_desc: &str,
    line: Option<(&str, &[f64], &str)>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CHART).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let first = f64::from(*hours.first().unwrap_or(&9));
        let last = f64::from(*hours.last().unwrap_or(&17)) + 1.0;
        let top = values.iter().cloned().fold(1.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .right_y_label_area_size(if line.is_some() { 56 } else { 0 })
            .build_cartesian_2d(first..last, 0.0..top)
            .map_err(err)?
            .set_secondary_coord(
                first..last,
                0.0..line
                    .map(|(_, v, _)| v.iter().cloned().fold(1.0, f64::max) * 1.15)
                    .unwrap_or(1.0),
            );
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(hours.len() + 1)
            .x_label_formatter(&hour_label)
            .y_desc(y_desc)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(hours.iter().zip(values).map(|(&h, &v)| {
                let h = f64::from(h);
                Rectangle::new([(h + 0.12, 0.0), (h + 0.88, v)], BLUE.mix(0.85).filled())
            }))
            .map_err(err)?
            .label(y_desc)
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLUE.filled()));
        if let Some((name, v, desc)) = line {
            chart
                .configure_secondary_axes()
                .y_desc(desc)
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(err)?;
            chart
                .draw_secondary_series(LineSeries::new(
                    hours.iter().zip(v).map(|(&h, &y)| (f64::from(h) + 0.5, y)),
                    ORANGE.stroke_width(3),
                ))
                .map_err(err)?
                .label(name)
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], ORANGE.stroke_width(3)));
            chart
                .draw_secondary_series(
                    hours
                        .iter()
                        .zip(v)
                        .map(|(&h, &y)| Circle::new((f64::from(h) + 0.5, y), 4, ORANGE.filled())),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The p90 wait per hour (minutes) with the target as a red line.
fn p90_chart(title: &str, r: &SimulationReport, lang: Lang) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CHART).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let hours: Vec<f64> = r.hours.iter().map(|h| f64::from(h.hour)).collect();
        let first = hours.first().copied().unwrap_or(9.0);
        let last = hours.last().copied().unwrap_or(17.0) + 1.0;
        let target = f64::from(r.target_secs) / 60.0;
        let top = r
            .hours
            .iter()
            .map(|h| f64::from(h.p90_secs) / 60.0)
            .fold(target, f64::max)
            * 1.2;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(first..last, 0.0..top.max(1.0))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(r.hours.len() + 1)
            .x_label_formatter(&hour_label)
            .y_desc(lang.pick("p90 等候（分钟）", "p90 wait (min)"))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(r.hours.iter().map(|h| {
                let x = f64::from(h.hour);
                let y = f64::from(h.p90_secs) / 60.0;
                let color = if y > target { RED } else { BLUE };
                Rectangle::new([(x + 0.12, 0.0), (x + 0.88, y)], color.mix(0.85).filled())
            }))
            .map_err(err)?
            .label(lang.pick("每小时到达者的 p90 等候", "p90 wait of the hour's arrivals"))
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLUE.filled()));
        chart
            .draw_series(LineSeries::new(
                [(first, target), (last, target)],
                RED.stroke_width(2),
            ))
            .map_err(err)?
            .label(lang.pick("等候目标", "target"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Tickets waiting through the day (a point every 5 minutes).
fn queue_chart(title: &str, r: &SimulationReport, lang: Lang) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CHART).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let step = f64::from(QUEUE_STEP_MINUTES) / 60.0;
        let from = f64::from(r.queue_from) / 60.0;
        let to = from + step * r.queue.len().max(1) as f64;
        let top = r.queue.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(from.floor()..to.ceil(), 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(((to.ceil() - from.floor()) as usize / 2).max(2) + 1)
            .x_label_formatter(&hour_label)
            .y_desc(lang.pick("等候人数", "tickets waiting"))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        let points: Vec<(f64, f64)> = r
            .queue
            .iter()
            .enumerate()
            .map(|(i, &q)| (from + step * i as f64, f64::from(q)))
            .collect();
        chart
            .draw_series(AreaSeries::new(points.clone(), 0.0, BLUE.mix(0.2)))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Minutes between the queue's points: hallq-core's
/// `staffing::engine::QUEUE_STEP_MINUTES` (the client does not compile the
/// core).
const QUEUE_STEP_MINUTES: u16 = 5;

/// Each window's busy share of its open time.
fn use_chart(title: &str, r: &SimulationReport, lang: Lang) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CHART).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = r.windows.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..n, 0.0..100.0)
            .map_err(err)?;
        let labels: Vec<String> = r.windows.iter().map(|w| w.window.to_string()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(r.windows.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 0.01 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc(lang.pick("窗口", "window"))
            .y_desc(lang.pick("利用率 %", "use %"))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(r.windows.iter().enumerate().map(|(i, w)| {
                let u = if w.open_secs == 0 {
                    0.0
                } else {
                    f64::from(w.busy_secs) * 100.0 / f64::from(w.open_secs)
                };
                let x = i as f64;
                Rectangle::new([(x + 0.15, 0.0), (x + 0.85, u)], BLUE.mix(0.85).filled())
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
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
        hour_bars(
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
