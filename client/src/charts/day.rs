//! The day in charts, computed from what hallqd's journal answers for a
//! business day (today or any past one): the per-ticket records with
//! their trails (`ExportDetailed`) and the day's report broken down by
//! item, window and staff (`Report`). Pure functions of those answers:
//! the same day gives the same charts, the same CSV.
//!
//! | chart | from |
//! |---|---|
//! | arrivals per 15 minutes per item | each record's issue time, by the item it was issued for |
//! | served per 15 minutes per item | each finished record's finish time, by the item it ended in |
//! | waiting p50/p90 per hour | issue to first call, by the hour of the call |
//! | window utilisation | service time over the window's working span less its pauses |
//! | paused time per window | the report by window (`paused_secs`) |
//! | satisfaction and no-shows per item, window, staff | the report's 满意率 and 过号率 |
//!
//! A window's working span is from its first call to its last finish of
//! the day: the journal answers carry no opening times, so time a window
//! stood open before its first call is not counted against it.

use hallq_proto::types::{ItemCode, Timestamp};
use hallq_proto::wire::{DayReport, RecordTrail, ReportGroup, StatsGroup, TicketRecord};

use super::draw::{self, Series};
use crate::text::Lang;

/// Minutes per slot of the arrivals and served charts.
pub const SLOT_MINUTES: u32 = 15;

/// What the charts of one day are made from.
#[derive(Debug, Clone, PartialEq)]
pub struct DayData {
    /// The hall's id.
    pub hall: String,
    /// The hall's name, for the title.
    pub hall_name: String,
    /// `yyyymmdd`.
    pub day: u32,
    /// The hall's local time minus UTC, minutes.
    pub offset_minutes: i32,
    /// The items' names, in configuration order (today's config).
    pub items: Vec<(ItemCode, String)>,
    /// Every ticket of the day with its trail, in issue order.
    pub records: Vec<(TicketRecord, RecordTrail)>,
    /// The day's report by item.
    pub by_item: DayReport,
    /// By window.
    pub by_window: DayReport,
    /// By staff.
    pub by_staff: DayReport,
}

/// One chart: its picture and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// A file name stem: `arrivals`, `waits`, … (the downloads' names).
    pub id: &'static str,
    /// As the page heads it.
    pub title: String,
    /// The SVG, or why it could not be drawn.
    pub svg: Result<String, String>,
    /// The chart's data as CSV, a header line first.
    pub csv: String,
    /// Data marks drawn (bars, points): 0 says "nothing that day".
    pub marks: usize,
}

/// The local minute of the day of `at` (0–1439).
pub fn local_minute(at: Timestamp, offset_minutes: i32) -> u32 {
    let minutes = (at.0 / 60_000) as i64 + i64::from(offset_minutes);
    minutes.rem_euclid(1440) as u32
}

/// `hh:mm` of a minute of the day.
pub fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// A CSV field, quoted when it has to be (RFC 4180 §2.6–2.7).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted `values`.
fn percentile(sorted: &[u64], p: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

impl DayData {
    fn item_name(&self, code: ItemCode) -> String {
        self.items
            .iter()
            .find(|(c, _)| *c == code)
            .map_or_else(|| code.to_string(), |(_, n)| format!("{n}（{code}）"))
    }

    /// The items that appear that day, in configuration order (then any
    /// the config no longer has, by letter).
    fn day_items(&self) -> Vec<ItemCode> {
        let mut seen: Vec<ItemCode> = Vec::new();
        for (r, t) in &self.records {
            for code in [t.original_item, r.item] {
                if !seen.contains(&code) {
                    seen.push(code);
                }
            }
        }
        let position = |c: &ItemCode| {
            self.items
                .iter()
                .position(|(k, _)| k == c)
                .unwrap_or(usize::MAX)
        };
        seen.sort_by_key(|c| (position(c), c.to_string()));
        seen
    }

    /// Arrivals (`served == false`) or services finished per slot and
    /// item: the first slot (minute of the day) and per item its counts.
    fn slots(&self, served: bool) -> (u32, Vec<(ItemCode, Vec<u32>)>) {
        let events: Vec<(ItemCode, u32)> = self
            .records
            .iter()
            .filter_map(|(r, t)| {
                if served {
                    let done = matches!(r.outcome.as_str(), "served" | "served_in_batch");
                    r.finished.filter(|_| done).map(|at| (r.item, at))
                } else {
                    Some((t.original_item, r.issued))
                }
            })
            .map(|(item, at)| (item, local_minute(at, self.offset_minutes) / SLOT_MINUTES))
            .collect();
        // Both charts share the day's span, so they line up on the page.
        let all: Vec<u32> = self
            .records
            .iter()
            .flat_map(|(r, _)| [Some(r.issued), r.finished])
            .flatten()
            .map(|at| local_minute(at, self.offset_minutes) / SLOT_MINUTES)
            .collect();
        let first = all.iter().copied().min().unwrap_or(9 * 60 / SLOT_MINUTES);
        let last = all.iter().copied().max().unwrap_or(first);
        let n = (last - first + 1) as usize;
        let rows = self
            .day_items()
            .into_iter()
            .map(|item| {
                let mut counts = vec![0; n];
                for (_, slot) in events.iter().filter(|(i, _)| *i == item) {
                    counts[(slot - first) as usize] += 1;
                }
                (item, counts)
            })
            .filter(|(_, c)| c.iter().any(|&n| n > 0))
            .collect();
        (first * SLOT_MINUTES, rows)
    }

    /// Per hour of the first call: the waits' p50 and p90 (seconds) and
    /// how many.
    fn waits(&self) -> Vec<(u8, u64, u64, usize)> {
        let mut by_hour: std::collections::BTreeMap<u8, Vec<u64>> = Default::default();
        for (r, t) in &self.records {
            if let (Some(called), Some(w)) = (r.called, t.waiting_secs) {
                let hour = (local_minute(called, self.offset_minutes) / 60) as u8;
                by_hour.entry(hour).or_default().push(w);
            }
        }
        let (Some(&first), Some(&last)) = (by_hour.keys().next(), by_hour.keys().last()) else {
            return Vec::new();
        };
        (first..=last)
            .map(|h| {
                let mut w = by_hour.remove(&h).unwrap_or_default();
                w.sort_unstable();
                (h, percentile(&w, 50), percentile(&w, 90), w.len())
            })
            .collect()
    }

    /// Per window that worked that day: busy, span and paused seconds.
    fn windows(&self) -> Vec<(String, u64, u64, u64)> {
        let mut keys: Vec<u16> = self
            .records
            .iter()
            .filter_map(|(r, _)| r.window.map(|w| w.0))
            .chain(
                self.by_window
                    .stats
                    .groups
                    .iter()
                    .filter_map(|g| g.key.parse().ok()),
            )
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
            .map(|w| {
                let mine = || {
                    self.records
                        .iter()
                        .filter(move |(r, _)| r.window.map(|n| n.0) == Some(w))
                };
                let busy: u64 = mine().filter_map(|(_, t)| t.service_secs).sum();
                let from = mine().filter_map(|(r, _)| r.called).min();
                let to = mine()
                    .filter_map(|(r, _)| r.finished.or(r.started).or(r.called))
                    .max();
                let span = match (from, to) {
                    (Some(a), Some(b)) => b.0.saturating_sub(a.0) / 1000,
                    _ => 0,
                };
                let paused = group(&self.by_window, &w.to_string())
                    .map_or(0, |(_, g)| g.figures.paused_secs);
                (w.to_string(), busy, span, paused)
            })
            .collect()
    }
}

/// The stats and report figures of group `key`.
fn group<'a>(report: &'a DayReport, key: &str) -> Option<(&'a StatsGroup, &'a ReportGroup)> {
    let i = report.stats.groups.iter().position(|g| g.key == key)?;
    Some((&report.stats.groups[i], report.groups.get(i)?))
}

/// Per mille as per cent, 0 when there is nothing to share.
fn percent(permille: Option<u32>) -> f64 {
    f64::from(permille.unwrap_or(0)) / 10.0
}

/// The satisfaction and no-show chart of one breakdown.
fn quality_chart(
    id: &'static str,
    title: String,
    report: &DayReport,
    label: impl Fn(&str) -> String,
    x_desc: &str,
    lang: Lang,
) -> Chart {
    let keys: Vec<&ReportGroup> = report.groups.iter().collect();
    let labels: Vec<String> = keys.iter().map(|g| label(&g.key)).collect();
    let satisfied: Vec<f64> = keys
        .iter()
        .map(|g| percent(g.figures.satisfied_permille))
        .collect();
    let no_shows: Vec<f64> = keys
        .iter()
        .map(|g| percent(g.figures.no_show_permille))
        .collect();
    let marks = satisfied
        .iter()
        .chain(&no_shows)
        .filter(|v| **v > 0.0)
        .count();
    let svg = draw::category_bars(
        &title,
        &labels,
        &[
            Series::new(lang.pick("满意率 %", "satisfied %"), satisfied),
            Series::new(lang.pick("过号率 %", "no-shows %"), no_shows),
        ],
        x_desc,
        "%",
        Some(100.0),
    );
    let mut csv = lang
        .pick(
            "分组,评价数,满意率%,过号,叫号,过号率%,差评工单\n",
            "group,ratings,satisfied %,no-shows,calls,no-show %,work orders\n",
        )
        .to_string();
    for (g, label) in keys.iter().zip(&labels) {
        let stats = report.stats.groups.iter().find(|s| s.key == g.key);
        let ratings: u64 = stats.map_or(0, |s| s.figures.ratings.iter().sum());
        let no_shows = stats.map_or(0, |s| s.figures.no_shows);
        let orders = stats.map_or(0, |s| s.figures.work_orders);
        let opt =
            |p: Option<u32>| p.map_or(String::new(), |p| format!("{:.1}", f64::from(p) / 10.0));
        csv.push_str(&format!(
            "{},{ratings},{},{no_shows},{},{},{orders}\n",
            field(label),
            opt(g.figures.satisfied_permille),
            g.figures.calls,
            opt(g.figures.no_show_permille),
        ));
    }
    Chart {
        id,
        title,
        svg,
        csv,
        marks,
    }
}

/// Every chart of the day, in the page's order.
pub fn charts(data: &DayData, lang: Lang) -> Vec<Chart> {
    let mut out = Vec::new();
    for served in [false, true] {
        let (from, rows) = data.slots(served);
        let (id, title, what) = if served {
            (
                "served",
                lang.pick("每 15 分钟办结（按事项）", "Served per 15 minutes, by item"),
                lang.pick("办结", "served"),
            )
        } else {
            (
                "arrivals",
                lang.pick(
                    "每 15 分钟到达（按事项）",
                    "Arrivals per 15 minutes, by item",
                ),
                lang.pick("到达", "arrivals"),
            )
        };
        let series: Vec<Series> = rows
            .iter()
            .map(|(item, counts)| {
                Series::new(
                    data.item_name(*item),
                    counts.iter().map(|&c| f64::from(c)).collect(),
                )
            })
            .collect();
        let svg = draw::stacked_slots(
            title,
            f64::from(from) / 60.0,
            f64::from(SLOT_MINUTES) / 60.0,
            &series,
            lang.pick("张", "tickets"),
        );
        let mut csv = format!(
            "{},{},{what}\n",
            lang.pick("时段", "from"),
            lang.pick("事项", "item")
        );
        for (item, counts) in &rows {
            for (i, c) in counts.iter().enumerate().filter(|(_, &c)| c > 0) {
                let at = from + SLOT_MINUTES * i as u32;
                csv.push_str(&format!("{},{},{c}\n", hhmm(at), field(&item.to_string())));
            }
        }
        let marks = rows
            .iter()
            .map(|(_, c)| c.iter().filter(|&&n| n > 0).count())
            .sum();
        out.push(Chart {
            id,
            title: title.to_string(),
            svg,
            csv,
            marks,
        });
    }

    let waits = data.waits();
    let hours: Vec<u8> = waits.iter().map(|w| w.0).collect();
    let minutes = |s: u64| s as f64 / 60.0;
    let title = lang.pick("每小时等候 p50 / p90", "Waiting time p50 / p90 per hour");
    let target = data.by_item.wait_target_secs;
    let target_label = match lang {
        Lang::Zh => format!("等候目标 {} 分钟", target / 60),
        Lang::En => format!("target {} min", target / 60),
    };
    let svg = draw::hour_groups(
        title,
        &hours,
        &[
            Series::new("p50", waits.iter().map(|w| minutes(w.1)).collect()),
            Series::new("p90", waits.iter().map(|w| minutes(w.2)).collect()),
        ],
        lang.pick("分钟", "minutes"),
        (target > 0).then_some((minutes(target), target_label.as_str())),
    );
    let mut csv = lang
        .pick(
            "叫号时段,叫号数,p50 等候秒,p90 等候秒\n",
            "hour,called,p50 wait s,p90 wait s\n",
        )
        .to_string();
    for (h, p50, p90, n) in &waits {
        csv.push_str(&format!("{h:02}:00,{n},{p50},{p90}\n"));
    }
    out.push(Chart {
        id: "waits",
        title: title.to_string(),
        svg,
        csv,
        marks: waits.iter().filter(|w| w.3 > 0).count(),
    });

    let windows = data.windows();
    let labels: Vec<String> = windows.iter().map(|w| w.0.clone()).collect();
    let utilisation: Vec<f64> = windows
        .iter()
        .map(|(_, busy, span, paused)| {
            let working = span.saturating_sub(*paused).max(*busy);
            if working == 0 {
                0.0
            } else {
                *busy as f64 * 100.0 / working as f64
            }
        })
        .collect();
    let title = lang.pick("窗口利用率", "Window utilisation");
    let svg = draw::category_bars(
        title,
        &labels,
        &[Series::new(
            lang.pick("利用率 %", "use %"),
            utilisation.clone(),
        )],
        lang.pick("窗口", "window"),
        lang.pick("利用率 %", "use %"),
        Some(100.0),
    );
    let mut csv = lang
        .pick(
            "窗口,办理秒,工作跨度秒,暂停秒,利用率%\n",
            "window,busy s,working span s,paused s,use %\n",
        )
        .to_string();
    for ((w, busy, span, paused), u) in windows.iter().zip(&utilisation) {
        csv.push_str(&format!("{w},{busy},{span},{paused},{u:.1}\n"));
    }
    out.push(Chart {
        id: "utilisation",
        title: title.to_string(),
        svg,
        csv,
        marks: utilisation.iter().filter(|u| **u > 0.0).count(),
    });

    let paused: Vec<f64> = windows.iter().map(|w| w.3 as f64 / 60.0).collect();
    let title = lang.pick("窗口暂停时长", "Paused time per window");
    let svg = draw::category_bars(
        title,
        &labels,
        &[Series::new(
            lang.pick("暂停（分钟）", "paused (min)"),
            paused.clone(),
        )],
        lang.pick("窗口", "window"),
        lang.pick("分钟", "minutes"),
        None,
    );
    let mut csv = lang.pick("窗口,暂停秒\n", "window,paused s\n").to_string();
    for (w, _, _, p) in &windows {
        csv.push_str(&format!("{w},{p}\n"));
    }
    out.push(Chart {
        id: "paused",
        title: title.to_string(),
        svg,
        csv,
        marks: paused.iter().filter(|p| **p > 0.0).count(),
    });

    out.push(quality_chart(
        "quality-items",
        lang.pick(
            "满意率与过号率（按事项）",
            "Satisfaction and no-shows, by item",
        )
        .to_string(),
        &data.by_item,
        |k| {
            k.parse::<ItemCode>()
                .map_or_else(|_| k.to_string(), |c| data.item_name(c))
        },
        lang.pick("事项", "item"),
        lang,
    ));
    out.push(quality_chart(
        "quality-windows",
        lang.pick(
            "满意率与过号率（按窗口）",
            "Satisfaction and no-shows, by window",
        )
        .to_string(),
        &data.by_window,
        |k| k.to_string(),
        lang.pick("窗口", "window"),
        lang,
    ));
    out.push(quality_chart(
        "quality-staff",
        lang.pick(
            "满意率与过号率（按工作人员）",
            "Satisfaction and no-shows, by staff",
        )
        .to_string(),
        &data.by_staff,
        |k| {
            if k == "-" {
                lang.pick("未登录", "nobody").to_string()
            } else {
                k.to_string()
            }
        },
        lang.pick("工作人员", "staff"),
        lang,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), 5);
        assert_eq!(percentile(&v, 90), 9);
        assert_eq!(percentile(&[7], 90), 7);
        assert_eq!(percentile(&[], 90), 0);
    }

    #[test]
    fn local_minutes_wrap_at_midnight() {
        // 2026-12-02 01:30 UTC is 09:30 in UTC+8.
        let at = Timestamp(1_796_175_000_000);
        assert_eq!(hhmm(local_minute(at, 480)), "09:30");
        assert_eq!(hhmm(local_minute(at, -120)), "23:30");
    }

    #[test]
    fn csv_fields_with_commas_are_quoted() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("社保"), "社保");
        assert_eq!(field("x\"y,"), "\"x\"\"y,\"");
    }
}
