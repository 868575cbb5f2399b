//! The staffing simulator's I/O (issue 22): a past day read from the hall's
//! journal file of that day, the same weekday of past weeks for a forecast,
//! and the question of `hallq simulate` / `hallq forecast` answered through
//! [`hallq_core::staffing`] (the pure simulator on the real dispatch core).
//!
//! Used by the admin route (online, off the async threads: a day's journal
//! may be long and a plan search takes seconds) and by `hallqd simulate` /
//! `hallqd forecast` (offline, from a copy of a state directory). Reading
//! goes through [`journal::read_day`], as statistics do: a record this
//! release cannot decode is skipped, a file being written is read up to its
//! last complete record.

use std::path::Path;

use hallq_core::appointment::{day_of, days_of};
use hallq_core::staffing::{
    forecast, search, simulate as run, RecordedDay, ServicePool, ServiceSample, Staffing,
    StaffingError,
};
use hallq_core::{Event, HallSpec, Span};
use hallq_proto::codec;
use hallq_proto::staffing::{
    Forecast, MinuteSpan, PlannedWindow, SimulationAsk, SimulationReport, StaffingPlan,
};
use hallq_proto::ErrorCode;

use crate::clock;
use crate::journal::{self, Entry, JournalError};

/// Past weeks a forecast looks at unless told.
pub const DEFAULT_FORECAST_WEEKS: u8 = 4;
/// At most this many past weeks (a year).
pub const MAX_FORECAST_WEEKS: u8 = 52;

/// Why a simulation or forecast is refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffingRefusal {
    /// A journal file could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The plan does not fit the hall.
    #[error(transparent)]
    Plan(#[from] StaffingError),
    /// Neither the day nor the weeks before it have arrivals.
    #[error("no arrivals on {0} and none on the same weekday of the {1} weeks before")]
    NoRecords(u32, u8),
    /// A weeks count out of range.
    #[error("weeks must be 1 to {MAX_FORECAST_WEEKS}")]
    Weeks,
}

impl StaffingRefusal {
    /// The code a client gets.
    pub fn code(&self) -> ErrorCode {
        match self {
            StaffingRefusal::Journal(_) => ErrorCode::JournalUnreadable,
            StaffingRefusal::Plan(StaffingError::NoArrivals(_))
            | StaffingRefusal::NoRecords(..) => ErrorCode::NoRecords,
            StaffingRefusal::Plan(_) => ErrorCode::PlanInvalid,
            StaffingRefusal::Weeks => ErrorCode::BadRequest,
        }
    }
}

/// Business day `day` of hall directory `dir`, as its journal tells it.
pub fn recorded_day(dir: &Path, day: u32) -> Result<RecordedDay, JournalError> {
    let entries: Vec<Entry> = journal::read_day(dir, &clock::day_string(day))?
        .iter()
        .filter_map(|payload| codec::decode_record::<Entry>(payload).ok())
        .collect();
    let events: Vec<&Event> = entries.iter().filter_map(Entry::events).flatten().collect();
    let mut recorded = RecordedDay::from_events(events);
    recorded.day = day;
    Ok(recorded)
}

/// The same weekday of the `weeks` weeks before `day`, newest first: the
/// days with arrivals, and the days without.
fn past_weeks(
    dir: &Path,
    day: u32,
    weeks: u8,
) -> Result<(Vec<RecordedDay>, Vec<u32>), StaffingRefusal> {
    if weeks == 0 || weeks > MAX_FORECAST_WEEKS {
        return Err(StaffingRefusal::Weeks);
    }
    let mut used = Vec::new();
    let mut missing = Vec::new();
    for k in 1..=i64::from(weeks) {
        let past = day_of(days_of(day) - 7 * k);
        let recorded = recorded_day(dir, past)?;
        if recorded.arrivals.is_empty() {
            missing.push(past);
        } else {
            used.push(recorded);
        }
    }
    Ok((used, missing))
}

/// `hallq forecast`: arrivals per hour and item of `day`.
pub fn forecast_day(
    spec: &HallSpec,
    dir: &Path,
    day: u32,
    weeks: u8,
) -> Result<Forecast, StaffingRefusal> {
    let (used, missing) = past_weeks(dir, day, weeks)?;
    if used.is_empty() {
        return Err(StaffingRefusal::NoRecords(day, weeks));
    }
    Ok(forecast::forecast(spec, day, &used, missing))
}

/// Every configured window open in the day's opening hours (09:00–17:00
/// for a hall that sets none), closed at lunch unless on duty: the
/// staffing a forecast day is compared with.
fn all_windows(spec: &HallSpec, day: u32) -> StaffingPlan {
    let hours = match spec.day.opening_on(day) {
        Some(Span { from: 0, to: 1440 }) | None => MinuteSpan {
            from: 540,
            to: 1020,
        },
        Some(s) => MinuteSpan {
            from: s.from,
            to: s.to,
        },
    };
    StaffingPlan {
        windows: spec
            .windows
            .iter()
            .map(|w| PlannedWindow {
                number: w.number,
                items: None,
                universal: None,
                open: vec![hours],
                lunch_duty: spec.day.duty_windows.is_empty()
                    || spec.day.duty_windows.contains(&w.number),
                post: None,
            })
            .collect(),
    }
}

/// `hallq simulate`: the day replayed (or forecast) under the staffing
/// asked for, or with `search`, tomorrow's rota.
pub fn simulate(
    spec: &HallSpec,
    dir: &Path,
    ask: &SimulationAsk,
    target_secs: u32,
) -> Result<SimulationReport, StaffingRefusal> {
    let target = ask.target_secs.unwrap_or(target_secs);
    let recorded = recorded_day(dir, ask.day)?;
    let (arrivals, services, base) =
        if ask.forecast_weeks.is_none() && !recorded.arrivals.is_empty() {
            let base = match &ask.plan {
                Some(plan) => Staffing::from_plan(spec, plan, ask.day)?,
                None => Staffing::recorded(spec, &recorded),
            };
            (recorded.arrivals, recorded.services, base)
        } else {
            let weeks = ask.forecast_weeks.unwrap_or(DEFAULT_FORECAST_WEEKS);
            let (used, missing) = past_weeks(dir, ask.day, weeks)?;
            if used.is_empty() {
                return Err(StaffingRefusal::NoRecords(ask.day, weeks));
            }
            let f = forecast::forecast(spec, ask.day, &used, missing);
            let arrivals = forecast::arrivals(spec, ask.day, &f, &used, ask.seed);
            let services: Vec<ServiceSample> = used
                .iter()
                .flat_map(|d| d.services.iter().copied())
                .collect();
            let plan = ask
                .plan
                .clone()
                .unwrap_or_else(|| all_windows(spec, ask.day));
            let base = Staffing::from_plan(spec, &plan, ask.day)?;
            (arrivals, services, base)
        };
    let pool = ServicePool::new(&base.spec, &services);
    let mut report = if ask.search {
        let found = search::search(ask.day, &arrivals, &pool, &base, ask.seed, target)?;
        let mut report = hallq_core::staffing::report(
            ask.day,
            &arrivals,
            &found.staffing,
            &found.outcome,
            ask.seed,
            target,
        );
        report.plan = Some(found.advice);
        report
    } else {
        run(ask.day, &arrivals, &pool, &base, ask.seed, target)?.1
    };
    report.planned = ask.plan.is_some() || ask.search;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_core::staffing::generate::Script;
    use hallq_proto::staffing::ArrivalSource;

    /// A scripted day written as a journal file in the documented format
    /// (`journal/mod.rs`): header, then one record per event batch.
    fn write_day(dir: &Path, script: &Script) {
        let mut bytes = journal::MAGIC.to_vec();
        bytes.extend_from_slice(&journal::FORMAT_VERSION.to_le_bytes());
        for event in script.events() {
            let payload = codec::encode_record(&Entry::Events(vec![event])).unwrap();
            let len = (payload.len() as u32).to_le_bytes();
            let mut crc = crc32fast::Hasher::new();
            crc.update(&len);
            crc.update(&payload);
            bytes.extend_from_slice(&len);
            bytes.extend_from_slice(&crc.finalize().to_le_bytes());
            bytes.extend_from_slice(&payload);
        }
        let name = format!("journal-{}.log", clock::day_string(script.day));
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    #[test]
    fn a_day_read_back_from_its_journal_file_simulates_like_the_script() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::demo(20261123, 1.0, 11);
        write_day(dir.path(), &script);
        let day = recorded_day(dir.path(), 20261123).unwrap();
        assert_eq!(day.arrivals.len(), script.arrivals().len());
        let ask = SimulationAsk {
            day: 20261123,
            plan: None,
            seed: 5,
            target_secs: None,
            search: false,
            forecast_weeks: None,
        };
        let report = simulate(&script.spec, dir.path(), &ask, 1200).unwrap();
        assert_eq!(report.source, ArrivalSource::Recorded);
        assert_eq!(report.target_secs, 1200);
        assert!(report.waits.iter().all(|w| w.recorded.is_some()));
        // A day with nothing, and no weeks before it: refused with a code.
        let none = SimulationAsk {
            day: 20261124,
            ..ask.clone()
        };
        let err = simulate(&script.spec, dir.path(), &none, 1200).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoRecords);
        // The Monday a week later is forecast from this one.
        let next = SimulationAsk {
            day: 20261130,
            search: true,
            ..ask
        };
        let report = simulate(&script.spec, dir.path(), &next, 1200).unwrap();
        assert_eq!(report.source, ArrivalSource::Forecast);
        let plan = report.plan.expect("a plan was asked for");
        assert!(plan.window_hours <= plan.baseline_window_hours);
        let f = forecast_day(&script.spec, dir.path(), 20261130, 2).unwrap();
        assert_eq!(f.days_used, vec![20261123]);
        assert_eq!(f.days_missing, vec![20261116]);
    }
}
