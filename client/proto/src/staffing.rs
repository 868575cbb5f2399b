//! Staffing what-ifs, tomorrow's rota and the arrivals forecast (issue 22):
//! what `hallq simulate` and `hallq forecast` ask for and what they get.
//!
//! The simulation itself runs in the daemon's process (or offline in
//! `hallqd simulate`), through the real dispatch core (`hallq-core`'s
//! `staffing` module); these are only the questions and the answers, so the
//! client can render them (a table in Chinese or English, JSON, an HTML
//! report with charts) without compiling the core.
//!
//! Times of day are minutes after local midnight, as in the hall's calendar
//! (`09:30` is 570); waits and durations are whole seconds.

use serde::{Deserialize, Serialize};

use crate::types::{ItemCode, Post, WindowNo};

/// A stretch of a local day, minutes after midnight: `from` ≤ t < `to`.
/// Written `"09:00-12:00"` in plan files and JSON (a person writes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteSpan {
    /// Start, 0–1439.
    pub from: u16,
    /// End, 1–1440, after `from`.
    pub to: u16,
}

impl MinuteSpan {
    /// Parses `"09:00-12:00"` (an en dash or `–` also separates).
    pub fn parse(text: &str) -> Option<MinuteSpan> {
        let (a, b) = text.split_once(['-', '–'])?;
        let from = parse_minute(a.trim())?;
        let to = parse_minute(b.trim())?;
        (from < to && to <= 1440).then_some(MinuteSpan { from, to })
    }

    /// Minutes in the span.
    pub fn minutes(self) -> u32 {
        u32::from(self.to.saturating_sub(self.from))
    }
}

impl std::fmt::Display for MinuteSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", minute_string(self.from), minute_string(self.to))
    }
}

impl Serialize for MinuteSpan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MinuteSpan {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        MinuteSpan::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not a time span like \"09:00-12:00\" (start before end, 24:00 at most)"
            ))
        })
    }
}

/// `"09:30"` → 570; `"24:00"` is the end of the day.
pub fn parse_minute(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// 570 → `"09:30"`.
pub fn minute_string(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// One window in a staffing plan: when it is open, what it serves, who
/// holds it. In a plan file (TOML) a `[[window]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedWindow {
    /// The window's number.
    pub number: WindowNo,
    /// The items it serves in this plan; `None` keeps the configured
    /// mapping (a window the config does not have must say).
    #[serde(default)]
    pub items: Option<Vec<ItemCode>>,
    /// 无差别窗口 in this plan (serves every item); `None` keeps the config's.
    #[serde(default)]
    pub universal: Option<bool>,
    /// When it is open (not paused), local time; may be empty (closed).
    #[serde(default)]
    pub open: Vec<MinuteSpan>,
    /// 午间值班 (seed 000 §四(八)2): open through the hall's lunch period.
    /// A window without lunch duty is closed during lunch even where an
    /// `open` span covers it.
    pub lunch_duty: bool,
    /// Who holds it: post A, or B standing in (AB岗). Informational in a
    /// what-if; the rota from `--plan` names A for the day and B at lunch.
    pub post: Option<Post>,
}

/// Which windows are open when, with which mappings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffingPlan {
    /// The windows of the plan; a configured window left out stays closed.
    #[serde(rename = "window", default)]
    pub windows: Vec<PlannedWindow>,
}

/// Where a simulation's arrivals come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalSource {
    /// The day's own journal: every ticket as it was issued.
    Recorded,
    /// Generated from the forecast of the same weekday of past weeks.
    Forecast,
}

/// What `hallq simulate` asks (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationAsk {
    /// The day whose arrivals are replayed, `yyyymmdd`.
    pub day: u32,
    /// The staffing to try; `None` is the staffing the day had.
    pub plan: Option<StaffingPlan>,
    /// Seed of the service-time draws: the same seed gives the same report.
    pub seed: u64,
    /// The hall's waiting target in seconds; `None` takes the config's.
    pub target_secs: Option<u32>,
    /// Search the fewest window-hours keeping p90 under the target
    /// (`--plan`), starting from the mappings of `plan` or the config.
    pub search: bool,
    /// Arrivals from the forecast of this many past weeks' same weekday
    /// instead of the day's records (also used when the day has none).
    pub forecast_weeks: Option<u8>,
}

/// The lane of a ticket, as the report groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneKind {
    /// 预约.
    Appointment,
    /// 优先.
    Priority,
    /// 现场.
    WalkIn,
}

/// Waiting figures of one group of tickets (an item, or an item in a lane):
/// the wait is from issue to the first call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitFigures {
    /// The item.
    pub item: ItemCode,
    /// The lane; `None` for all lanes of the item.
    pub lane: Option<LaneKind>,
    /// Tickets in the group.
    pub tickets: u32,
    /// Tickets never called before the simulated day ended (counted in the
    /// percentiles with the wait they had by then).
    pub unserved: u32,
    /// Median wait.
    pub p50_secs: u32,
    /// 90th percentile wait.
    pub p90_secs: u32,
    /// Longest wait.
    pub max_secs: u32,
    /// Waits longer than the target.
    pub over_target: u32,
    /// The same figures as the day's journal recorded them, when the
    /// arrivals are the day's own: how close the simulation comes.
    pub recorded: Option<RecordedWaits>,
}

/// Waits as the journal recorded them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedWaits {
    /// Median.
    pub p50_secs: u32,
    /// 90th percentile.
    pub p90_secs: u32,
    /// Longest.
    pub max_secs: u32,
}

/// An item's code and its name ("社保").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemName {
    /// The code.
    pub code: ItemCode,
    /// The name.
    pub name: String,
}

/// One window's day in the simulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowUse {
    /// The window.
    pub window: WindowNo,
    /// Seconds it was open.
    pub open_secs: u32,
    /// Seconds of those it had a visitor called or at the counter.
    pub busy_secs: u32,
    /// Visitors it called.
    pub calls: u32,
}

/// One hour of the simulated day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourFigures {
    /// Local hour, 0–23.
    pub hour: u8,
    /// Tickets issued in the hour.
    pub arrivals: u32,
    /// Open windows, averaged over the hour.
    pub open_windows: f32,
    /// p90 wait of the tickets issued in the hour.
    pub p90_secs: u32,
    /// The longest queue (all items) during the hour.
    pub queue_peak: u32,
}

/// The result of one simulated day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    /// The day, `yyyymmdd`.
    pub day: u32,
    /// Where the arrivals came from.
    pub source: ArrivalSource,
    /// The seed of the draws.
    pub seed: u64,
    /// The waiting target, seconds.
    pub target_secs: u32,
    /// The staffing simulated: the day's own (`false`), or a plan.
    pub planned: bool,
    /// Tickets replayed.
    pub tickets: u32,
    /// The hall's items, for people: code and name.
    pub items: Vec<ItemName>,
    /// Per item, all lanes, then per item and lane.
    pub waits: Vec<WaitFigures>,
    /// The longest queue of the day (tickets waiting, all items) …
    pub longest_queue: u32,
    /// … and when it was, minute of the local day.
    pub longest_queue_at: u16,
    /// §7.3.5 reminders ("come to the waiting area") the day gave,
    /// including those told at issue.
    pub reminders: u32,
    /// Waits longer than the target, all items.
    pub over_target: u32,
    /// Every window that was open.
    pub windows: Vec<WindowUse>,
    /// Hour by hour.
    pub hours: Vec<HourFigures>,
    /// Tickets waiting, every 5 minutes from `queue_from`.
    pub queue: Vec<u32>,
    /// Minute of the local day of `queue[0]`.
    pub queue_from: u16,
    /// Window-hours the staffing used.
    pub window_hours: f32,
    /// With `--plan`: the rota the search found.
    pub plan: Option<PlanAdvice>,
}

/// One mapping group of windows (the same items) and how many of them the
/// rota opens hour by hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingPlan {
    /// The items every window of the group serves; empty for universal.
    pub items: Vec<ItemCode>,
    /// 无差别窗口.
    pub universal: bool,
    /// The group's windows, in the order the rota opens them.
    pub windows: Vec<WindowNo>,
    /// Windows open in each hour of [`PlanAdvice::hours`].
    pub open: Vec<u16>,
}

/// Tomorrow's rota: the fewest window-hours per mapping that keep the p90
/// wait under the target, hour by hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanAdvice {
    /// The hours planned (local hour of each column).
    pub hours: Vec<u8>,
    /// Per mapping group.
    pub groups: Vec<MappingPlan>,
    /// Expected p90 wait (all items) of tickets issued in each hour.
    pub expected_p90_secs: Vec<u32>,
    /// Window-hours of the rota.
    pub window_hours: f32,
    /// Window-hours of the staffing the search started from (the day's own,
    /// or the given plan), for comparison.
    pub baseline_window_hours: f32,
    /// (hour, item) where even every window of the mappings cannot keep
    /// the target: the hall needs more windows or other mappings.
    pub shortfalls: Vec<(u8, ItemCode)>,
    /// Windows on lunch duty (§四(八)2), held by their B post while A
    /// lunches.
    pub lunch_windows: Vec<WindowNo>,
    /// The rota as a plan file (`hallq simulate --plan-file` takes it back).
    pub rota: StaffingPlan,
}

/// Arrivals expected in one hour for one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastCell {
    /// The item.
    pub item: ItemCode,
    /// Local hour.
    pub hour: u8,
    /// Expected tickets.
    pub mean: f32,
    /// 80% prediction interval, low end.
    pub low: f32,
    /// 80% prediction interval, high end.
    pub high: f32,
    /// The counts of the past days, newest first.
    pub history: Vec<u32>,
}

/// `hallq forecast`: arrivals per hour per item from the same weekday of
/// past weeks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The day forecast, `yyyymmdd`.
    pub day: u32,
    /// The past days used (same weekday), newest first.
    pub days_used: Vec<u32>,
    /// Past days asked for that had no records.
    pub days_missing: Vec<u32>,
    /// The hall's items, for people.
    pub items: Vec<ItemName>,
    /// Per item and hour.
    pub cells: Vec<ForecastCell>,
}

impl Forecast {
    /// Expected tickets of the whole day.
    pub fn total(&self) -> f32 {
        self.cells.iter().map(|c| c.mean).sum()
    }
}

// The float figures are counts, their means and intervals, finite by
// construction (never NaN), so `==` on them is an equivalence and the
// answers can be part of `Response`, which is `Eq`.
impl Eq for HourFigures {}
impl Eq for SimulationReport {}
impl Eq for PlanAdvice {}
impl Eq for ForecastCell {}
impl Eq for Forecast {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_print() {
        let s = MinuteSpan::parse("09:00-12:30").unwrap();
        assert_eq!((s.from, s.to), (540, 750));
        assert_eq!(s.to_string(), "09:00-12:30");
        assert_eq!(MinuteSpan::parse("13:30–24:00").unwrap().to, 1440);
        for bad in ["12:00-09:00", "9-10", "09:60-10:00", "25:00-26:00", "10:00"] {
            assert_eq!(MinuteSpan::parse(bad), None, "{bad}");
        }
    }
}
