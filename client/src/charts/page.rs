//! The day in charts as HTML: each chart a `<figure>` with its inline SVG,
//! buttons to save it as SVG or PNG and its data as CSV ([`SAVE_JS`], no
//! script from the internet), and [`report`], the whole self-contained
//! page `hallq report --out FILE` writes for a manager to mail: style and
//! script inline, nothing fetched.

use std::fmt::Write as _;

use super::day::{Chart, DayData};
use crate::text::Lang;

/// The save buttons' script (SVG, PNG through a canvas, CSV).
pub const SAVE_JS: &str = include_str!("save.js");

/// The figures' style, shared by the report and the console.
pub const CHART_CSS: &str = "
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,560px),1fr));gap:14px}
figure.chart{margin:0;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;padding:6px}
figure.chart svg{width:100%;height:auto;display:block}
figure.chart figcaption{display:flex;gap:8px;justify-content:flex-end;align-items:center;padding:4px 6px}
figure.chart figcaption .empty{margin-right:auto;color:#666;font-size:14px}
figure.chart button{font:inherit;font-size:14px;padding:4px 12px;border:1px solid #1f5fa8;
 color:#1f5fa8;background:#fff;border-radius:6px;cursor:pointer}
figure.chart button:hover{background:#eaf1fb}
figure.chart .csv{display:none}
@media print{figure.chart figcaption{display:none}figure.chart{box-shadow:none;border:1px solid #ccc}}
";

/// `&`, `<`, `>`, `"` escaped: item names come from a config a person typed.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `yyyy-mm-dd` of a `yyyymmdd` day.
pub fn date(day: u32) -> String {
    format!("{:04}-{:02}-{:02}", day / 10000, day / 100 % 100, day % 100)
}

/// The charts as `<figure>`s in a grid; `day` names the downloads
/// (`arrivals-2026-12-02.svg`).
pub fn figures(charts: &[Chart], day: u32, lang: Lang) -> String {
    let mut html = String::from("<div class=\"charts\">");
    for c in charts {
        let _ = write!(
            html,
            "<figure class=\"chart\" data-chart=\"{id}\" data-file=\"{id}-{d}\" data-marks=\"{m}\">",
            id = c.id,
            d = date(day),
            m = c.marks
        );
        match &c.svg {
            Ok(svg) => html.push_str(svg),
            Err(e) => {
                let _ = write!(html, "<p class=\"note\">{}: {}</p>", esc(&c.title), esc(e));
            }
        }
        html.push_str("<figcaption>");
        if c.marks == 0 {
            let _ = write!(
                html,
                "<span class=\"empty\">{}</span>",
                lang.pick("当日无数据", "nothing that day")
            );
        }
        let _ = write!(
            html,
            "<button type=\"button\" data-save=\"svg\">SVG</button>\
             <button type=\"button\" data-save=\"png\">PNG</button>\
             <button type=\"button\" data-save=\"csv\">CSV</button>\
             <pre class=\"csv\">{}</pre></figcaption></figure>",
            esc(&c.csv)
        );
    }
    html.push_str("</div>");
    html
}

const STYLE: &str = "
body{font-family:'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei','PingFang SC',sans-serif;
 margin:24px auto;max-width:1280px;color:#1b1f24;background:#f4f6f9;padding:0 16px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:28px 0 8px}
.summary{font-size:16px;color:#333;margin:4px 0 16px}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.kpi{background:#fff;border-radius:8px;padding:10px 16px;box-shadow:0 1px 3px #0002;min-width:140px}
.kpi b{display:block;font-size:26px;color:#1f5fa8}.kpi.bad b{color:#c0272d}
.note{color:#555;font-size:14px}
@media print{body{background:#fff}.kpi{box-shadow:none;border:1px solid #ccc}}
";

/// A share in per mille as `87.5%`, `—` when there is nothing to share.
fn share(permille: Option<u32>) -> String {
    permille.map_or_else(|| "—".into(), |p| format!("{:.1}%", f64::from(p) / 10.0))
}

/// The day's headline figures (the report's and the console's).
pub fn kpis(data: &DayData, lang: Lang) -> String {
    let t = &data.by_item.stats.totals;
    let r = &data.by_item.totals;
    let mut html = String::from("<div class=\"kpis\">");
    let mut kpi = |label: &str, value: String, bad: bool| {
        let _ = write!(
            html,
            "<div class=\"kpi{}\"><b>{}</b>{}</div>",
            if bad { " bad" } else { "" },
            esc(&value),
            esc(label)
        );
    };
    kpi(lang.pick("取号", "issued"), t.issued.to_string(), false);
    kpi(lang.pick("办结", "served"), t.served.to_string(), false);
    kpi(lang.pick("过号", "no-shows"), t.no_shows.to_string(), false);
    kpi(
        lang.pick("等候 p90", "p90 wait"),
        crate::text::minutes(t.waiting.p90_secs, lang),
        data.by_item.wait_target_secs > 0 && t.waiting.p90_secs > data.by_item.wait_target_secs,
    );
    kpi(
        lang.pick("等候超过目标", "waited over target"),
        r.waited_over_target.to_string(),
        r.waited_over_target > 0,
    );
    kpi(
        lang.pick("满意率", "satisfied"),
        share(r.satisfied_permille),
        r.satisfied_permille.is_some_and(|p| p < 900),
    );
    kpi(
        lang.pick("差评工单", "work orders"),
        t.work_orders.to_string(),
        t.work_orders > 0,
    );
    kpi(
        lang.pick("通知发送失败", "notifications failed"),
        data.by_item.stats.notifications_failed.to_string(),
        data.by_item.stats.notifications_failed > 0,
    );
    html.push_str("</div>");
    html
}

/// The whole page: one file, style and script inline, nothing fetched.
pub fn report(data: &DayData, charts: &[Chart], lang: Lang) -> String {
    let title = match lang {
        Lang::Zh => format!("{} 运行日报 {}", data.hall_name, date(data.day)),
        Lang::En => format!("{} — the day in charts, {}", data.hall_name, date(data.day)),
    };
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{t}</title><style>{STYLE}{CHART_CSS}</style></head><body>\
         <h1>{t}</h1>",
        lang.pick("zh-CN", "en"),
        t = esc(&title)
    );
    let _ = write!(
        page,
        "<p class=\"summary\">{}</p>",
        esc(&match lang {
            Lang::Zh => format!(
                "{} 张票的记录，来自 hallqd 的日志；等候目标 {} 分钟。",
                data.records.len(),
                data.by_item.wait_target_secs / 60
            ),
            Lang::En => format!(
                "{} tickets' records, from hallqd's journal; waiting target {} min.",
                data.records.len(),
                data.by_item.wait_target_secs / 60
            ),
        })
    );
    page.push_str(&kpis(data, lang));
    page.push_str(&figures(charts, data.day, lang));
    let _ = write!(
        page,
        "<p class=\"note\">{}</p><script>{SAVE_JS}</script></body></html>",
        esc(lang.pick(
            "由 hallq report 生成。每张图可另存为 SVG、PNG，数据可存为 CSV（Excel 可直接打开）。\
             窗口利用率 = 办理时长 ÷（首次叫号至末次办结 − 暂停）。",
            "Made by hallq report. Each chart saves as SVG or PNG, its data as CSV (opens in Excel). \
             Window use = service time ÷ (first call to last finish − paused).",
        ))
    );
    page
}
