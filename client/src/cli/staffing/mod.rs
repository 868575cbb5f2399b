//! The hall manager's staffing reports (issue 22): what `hallq simulate`
//! and `hallq forecast` print — a table in Chinese (default) or English,
//! and a self-contained HTML report with SVG charts ([`html`]).
//!
//! The figures come from hallqd (or `hallqd simulate` offline) as
//! [`SimulationReport`](hallq_proto::staffing::SimulationReport) and
//! [`Forecast`](hallq_proto::staffing::Forecast); every word a person
//! reads is made here, from the figures and the codes, never by the daemon.

pub mod html;
pub mod text;

use std::io::Read as _;
use std::path::Path;

use hallq_client::client::ClientError;
use hallq_client::follow::FollowingClient;
use hallq_proto::staffing::{ItemName, LaneKind, SimulationAsk, SimulationReport, StaffingPlan};
use hallq_proto::types::ItemCode;
use hallq_proto::wire::{Request, Response};
use hallq_proto::ErrorCode;

use super::args::SimulatePlan;
use super::{Failure, Output};

fn usage(message: String) -> Failure {
    Failure::Usage(clap::Error::raw(
        clap::error::ErrorKind::InvalidValue,
        format!("{message}\n"),
    ))
}

/// A plan file: TOML `[[window]]` tables (see the README).
pub fn read_plan(file: &Path) -> Result<StaffingPlan, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {}", file.display(), e.to_string().trim_end()))
}

/// `hallq simulate`: asks hallqd, prints the report, writes the HTML.
pub(super) async fn simulate(
    client: &FollowingClient,
    sim: &SimulatePlan,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    let plan = match &sim.plan_file {
        Some(file) => Some(read_plan(file).map_err(usage)?),
        None => None,
    };
    let Some(day) = sim.day else {
        return Err(usage("--date is needed".into()));
    };
    let ask = SimulationAsk {
        day,
        plan,
        seed: sim.seed,
        target_secs: sim.target_minutes.map(|m| m.saturating_mul(60)),
        search: sim.search,
        forecast_weeks: sim.forecast_weeks,
    };
    let report = match client.request(&Request::Simulate(Box::new(ask))).await? {
        Response::Simulation(r) => *r,
        other => return Err(ClientError::Unexpected(format!("{other:?}")).into()),
    };
    show(&report, sim, json, out)
}

/// `hallq simulate --report FILE`: a saved report (`hallqd simulate`'s).
pub(super) fn render_saved(
    file: &Path,
    sim: &SimulatePlan,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    let mut text = String::new();
    let read = if file == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    read.map_err(|e| usage(format!("{}: {e}", file.display())))?;
    let report: SimulationReport = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "{}: not a staffing report (hallqd simulate's JSON): {e}",
            file.display()
        ))
    })?;
    show(&report, sim, json, out)
}

fn show(
    report: &SimulationReport,
    sim: &SimulatePlan,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    let lang = hallq_client::text::lang();
    if let Some(file) = &sim.html {
        std::fs::write(file, html::report(report, lang)).map_err(|e| Failure::Local {
            code: ErrorCode::Output,
            message: format!("cannot write {}: {e}", file.display()),
        })?;
    }
    out.line(&if json {
        serde_json::to_string(report).unwrap_or_default()
    } else {
        text::report(report, lang)
    })?;
    Ok(())
}

/// `hallq forecast`.
pub(super) async fn forecast(
    client: &FollowingClient,
    day: u32,
    weeks: u8,
    json: bool,
    out: &mut Output,
) -> Result<(), Failure> {
    let f = match client.request(&Request::Forecast { day, weeks }).await? {
        Response::Forecast(f) => *f,
        other => return Err(ClientError::Unexpected(format!("{other:?}")).into()),
    };
    out.line(&if json {
        serde_json::to_string(&f).unwrap_or_default()
    } else {
        text::forecast(&f, hallq_client::text::lang())
    })?;
    Ok(())
}

/// The reader's language (`hallq --lang`).
pub use hallq_client::text::Lang;

/// `20261123` → `2026-11-23`.
pub fn date(day: u32) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day / 10_000,
        day / 100 % 100,
        day % 100
    )
}

/// A wait for people: `45 s`, `12 min`, `1 h 05 min`.
pub fn wait(secs: u32, lang: Lang) -> String {
    let (s, min, h) = match lang {
        Lang::Zh => ("秒", "分", "小时"),
        Lang::En => (" s", " min", " h"),
    };
    if secs < 60 {
        format!("{secs}{s}")
    } else if secs < 3600 {
        format!("{}{min}", (secs + 30) / 60)
    } else {
        let m = (secs + 30) / 60;
        format!("{}{h}{:02}{min}", m / 60, m % 60)
    }
}

/// An item's code with its name: `A 社保`.
pub fn item(code: ItemCode, names: &[ItemName]) -> String {
    match names.iter().find(|n| n.code == code) {
        Some(n) => format!("{code} {}", n.name),
        None => code.to_string(),
    }
}

/// A lane for people; `None` is every lane of the item.
pub fn lane(lane: Option<LaneKind>, lang: Lang) -> &'static str {
    match (lane, lang) {
        (None, Lang::Zh) => "全部",
        (None, Lang::En) => "all",
        (Some(LaneKind::Appointment), Lang::Zh) => "预约",
        (Some(LaneKind::Appointment), Lang::En) => "appointment",
        (Some(LaneKind::Priority), Lang::Zh) => "优先",
        (Some(LaneKind::Priority), Lang::En) => "priority",
        (Some(LaneKind::WalkIn), Lang::Zh) => "现场",
        (Some(LaneKind::WalkIn), Lang::En) => "walk-in",
    }
}

/// A mapping group for people: `A/B`, or `通办` for universal windows.
pub fn mapping(items: &[ItemCode], universal: bool, lang: Lang) -> String {
    if universal {
        lang.pick("无差别", "universal").to_owned()
    } else {
        items
            .iter()
            .map(ItemCode::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(wait(45, Lang::En), "45 s");
        assert_eq!(wait(719, Lang::En), "12 min");
        assert_eq!(wait(3900, Lang::En), "1 h05 min");
        assert_eq!(wait(600, Lang::Zh), "10分");
    }

    #[test]
    fn a_forecast_reads_per_hour_and_item_with_its_interval() {
        use hallq_proto::staffing::{Forecast, ForecastCell};
        let a = ItemCode::new('A').unwrap();
        let f = Forecast {
            day: 20261130,
            days_used: vec![20261123, 20261116],
            days_missing: vec![20261109],
            items: vec![ItemName {
                code: a,
                name: "社保".into(),
            }],
            cells: vec![ForecastCell {
                item: a,
                hour: 9,
                mean: 13.0,
                low: 7.8,
                high: 18.2,
                history: vec![12, 14],
            }],
        };
        let zh = text::forecast(&f, Lang::Zh);
        assert!(zh.contains("预测 2026-11-30"), "{zh}");
        assert!(zh.contains("无记录：2026-11-09"), "{zh}");
        assert!(zh.contains("A 社保") && zh.contains("13 (8–18)"), "{zh}");
        assert!(zh.contains("全天预计 13 张"), "{zh}");
        let en = text::forecast(&f, Lang::En);
        assert!(
            en.contains("from 2 past day(s)") && en.contains("no records: 2026-11-09"),
            "{en}"
        );
    }
}
