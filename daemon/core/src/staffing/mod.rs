//! The staffing simulator (issue 22): a past day's visitors replayed through
//! the real dispatch core under a simulated clock, with another staffing —
//! which windows are open when, with which item mappings, who is on lunch
//! duty — and tomorrow's rota searched for.
//!
//! Why the real core: the call policy (lanes, §7.3.3 balancing, the
//! starvation bound, fallback windows, §7.3.5 reminders) *is* what decides
//! waits; an Erlang-C formula knows none of it. [`Hall`] takes the instant
//! as an argument, so a day runs in milliseconds: the simulator is an event
//! loop ([`engine`]) that applies `Issue`, `OpenWindow`, `CallNext`,
//! `Finish`, `NoShow` and `CloseWindow` at the instants they would happen.
//!
//! What comes from the day's journal ([`RecordedDay::from_events`]): every
//! arrival (issue time, item, lane; appointment check-ins are issues in the
//! appointment lane), every service (call → finish or no-show, per item and
//! window), when each window was open and not paused, and the waits the day
//! really had (issue → first call). Service times are drawn from that
//! day's own services of the item at the window, else of the item at any
//! window, else the item's configured average ([`ServicePool`]), with a
//! seeded generator per ticket ([`rng`]): the same seed gives the same
//! report, and two staffings are compared on the same visitors.
//!
//! Not modelled: transfers (a transferred ticket counts in its first item),
//! reinstated no-shows (they are no-shows), batches (each ticket of a batch
//! is its own service), visitors who would leave because the wait is long.

pub mod engine;
pub mod forecast;
pub mod generate;
pub mod rng;
pub mod search;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use hallq_proto::staffing::{
    ArrivalSource, HourFigures, ItemName, LaneKind, MinuteSpan, RecordedWaits, SimulationReport,
    StaffingPlan, WaitFigures, WindowUse,
};
use hallq_proto::types::{ItemCode, Lane, PriorityReason, TicketId, Timestamp, WindowNo};

use crate::{BusinessDay, Event, HallSpec, WindowSpec};
use hallq_proto::appointment::SlotAt;

pub use engine::{Outcome, Service, ServiceSource};

/// Fewer services of an item at one window than this, and that window's
/// draws come from the item's services at every window: five is too few to
/// stand for a clerk's speed, and a window the day did not have has none.
pub const MIN_WINDOW_SAMPLES: usize = 5;

/// Why a simulation cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffingError {
    /// The plan names a window the hall does not have without saying what
    /// it serves, an item the hall does not have, or an empty span.
    #[error("staffing plan: {0}")]
    PlanInvalid(String),
    /// No arrivals to replay.
    #[error("no arrivals recorded for {0}")]
    NoArrivals(BusinessDay),
}

/// One visitor of the day.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// When the ticket was issued (or the booking checked in).
    pub at: Timestamp,
    /// The item.
    pub item: ItemCode,
    /// The lane.
    pub lane: Lane,
    /// Issue → first call, as the day had it; `None` if never called (or
    /// not a recorded day).
    pub recorded_wait_ms: Option<u64>,
}

/// One service as the journal recorded it: from the call to the finish
/// (or to the no-show), which is how long the window was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSample {
    /// The ticket's item.
    pub item: ItemCode,
    /// The window.
    pub window: WindowNo,
    /// Call → finish or no-show.
    pub total_ms: u64,
    /// The visitor never came (过号).
    pub no_show: bool,
}

/// A window open (not paused) from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    /// The window.
    pub window: WindowNo,
    /// Opens.
    pub from: Timestamp,
    /// Closes (after finishing its visitor).
    pub to: Timestamp,
}

/// A day as its journal tells it, ready to be replayed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedDay {
    /// The business day, `yyyymmdd`.
    pub day: BusinessDay,
    /// Every visitor, in issue order.
    pub arrivals: Vec<Arrival>,
    /// Every service.
    pub services: Vec<ServiceSample>,
    /// When each window was open, in time order.
    pub shifts: Vec<Shift>,
    /// The hall's spec as the day's `Reconfigured` records left it, if any.
    pub spec: Option<HallSpec>,
}

impl RecordedDay {
    /// Reads a day from its events, in journal order. Events of other days
    /// (a second `DayBegun`) start the day over, as the hall does.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> RecordedDay {
        let mut day = RecordedDay::default();
        let mut by_ticket: HashMap<TicketId, usize> = HashMap::new();
        // Window → (arrival, called at) of its current visitor.
        let mut current: HashMap<WindowNo, (usize, Timestamp)> = HashMap::new();
        // Window → open since (not paused).
        let mut open: HashMap<WindowNo, Timestamp> = HashMap::new();
        // Window → (its last call, its last finish), for where a shift
        // really ended (see the close below).
        let mut last_work: HashMap<WindowNo, (Timestamp, Timestamp)> = HashMap::new();
        let mut last = Timestamp(0);
        let close = |open: &mut HashMap<WindowNo, Timestamp>,
                     shifts: &mut Vec<Shift>,
                     window: WindowNo,
                     at: Timestamp| {
            if let Some(from) = open.remove(&window) {
                if at > from {
                    shifts.push(Shift {
                        window,
                        from,
                        to: at,
                    });
                }
            }
        };
        for event in events {
            last = last.max(event.at());
            match event {
                Event::DayBegun { day: d, .. } => {
                    let spec = day.spec.take();
                    day = RecordedDay {
                        day: *d,
                        spec,
                        ..RecordedDay::default()
                    };
                    by_ticket.clear();
                    current.clear();
                    open.clear();
                }
                Event::Reconfigured { spec, .. } => day.spec = Some(spec.clone()),
                Event::Issued { issued, at } => {
                    by_ticket.insert(issued.ticket, day.arrivals.len());
                    day.arrivals.push(Arrival {
                        at: *at,
                        item: issued.number.item,
                        lane: issued.lane,
                        recorded_wait_ms: None,
                    });
                }
                Event::Called {
                    ticket, window, at, ..
                } => {
                    if let Some(&i) = by_ticket.get(ticket) {
                        let a = &mut day.arrivals[i];
                        if a.recorded_wait_ms.is_none() {
                            a.recorded_wait_ms = Some(at.0.saturating_sub(a.at.0));
                        }
                        current.insert(*window, (i, *at));
                        last_work.insert(*window, (*at, *at));
                    }
                }
                Event::Finished { window, at, .. } | Event::NoShow { window, at, .. } => {
                    if let Some(w) = last_work.get_mut(window) {
                        w.1 = *at;
                    }
                    if let Some((i, called)) = current.remove(window) {
                        day.services.push(ServiceSample {
                            item: day.arrivals[i].item,
                            window: *window,
                            total_ms: at.0.saturating_sub(called.0),
                            no_show: matches!(event, Event::NoShow { .. }),
                        });
                    }
                }
                Event::Transferred { from, .. } => {
                    current.remove(from);
                }
                Event::WindowOpened { window, at } | Event::WindowResumed { window, at } => {
                    open.insert(*window, *at);
                }
                Event::WindowPaused { window, at, .. } | Event::WindowClosed { window, at } => {
                    // A clerk closes after finishing the last visitor: the
                    // shift ended somewhere between that visitor's call (no
                    // call after it) and the close. The midpoint, so a
                    // replay neither gains nor loses half a service per
                    // shift end.
                    let end = match last_work.get(window) {
                        Some(&(call, finish))
                            if at.0.saturating_sub(finish.0) <= 1000 && call < finish =>
                        {
                            Timestamp(call.0 + (finish.0 - call.0) / 2)
                        }
                        _ => *at,
                    };
                    close(&mut open, &mut day.shifts, *window, end)
                }
                _ => {}
            }
        }
        // A day still running (or never closed): open until its last event.
        let mut still: Vec<_> = open.keys().copied().collect();
        still.sort();
        for window in still {
            close(&mut open, &mut day.shifts, window, last);
        }
        day.shifts.sort_by_key(|s| (s.from, s.window));
        day
    }
}

/// A staffing to simulate: the hall's spec with the plan's mappings, and
/// when each window is open.
#[derive(Debug, Clone, PartialEq)]
pub struct Staffing {
    /// The hall as the plan has it (windows the plan leaves out are gone).
    pub spec: HallSpec,
    /// Open periods, any order.
    pub shifts: Vec<Shift>,
}

impl Staffing {
    /// The staffing the day had: the configured mappings, the recorded
    /// shifts.
    pub fn recorded(spec: &HallSpec, day: &RecordedDay) -> Staffing {
        Staffing {
            spec: day.spec.clone().unwrap_or_else(|| spec.clone()),
            shifts: day.shifts.clone(),
        }
    }

    /// The staffing `plan` describes on `day` (its spans are local times).
    pub fn from_plan(
        spec: &HallSpec,
        plan: &StaffingPlan,
        day: BusinessDay,
    ) -> Result<Staffing, StaffingError> {
        let bad = |m: String| Err(StaffingError::PlanInvalid(m));
        let mut windows = Vec::new();
        let mut shifts = Vec::new();
        for w in &plan.windows {
            if windows.iter().any(|x: &WindowSpec| x.number == w.number) {
                return bad(format!("window {} is planned twice", w.number));
            }
            let configured = spec.windows.iter().find(|x| x.number == w.number);
            let mut ws = match (configured, &w.items) {
                (Some(c), _) => c.clone(),
                (None, Some(_)) | (None, None) if w.universal == Some(true) => WindowSpec {
                    number: w.number,
                    items: Vec::new(),
                    universal: true,
                    fallback: false,
                },
                (None, Some(_)) => WindowSpec {
                    number: w.number,
                    items: Vec::new(),
                    universal: false,
                    fallback: false,
                },
                (None, None) => {
                    return bad(format!(
                        "window {} is not in the config: say which items it serves",
                        w.number
                    ))
                }
            };
            if let Some(items) = &w.items {
                for item in items {
                    if !spec.items.iter().any(|i| i.code == *item) {
                        return bad(format!("window {}: no item {item} in this hall", w.number));
                    }
                }
                ws.items = items.clone();
            }
            if let Some(u) = w.universal {
                ws.universal = u;
            }
            if ws.universal {
                // A universal window serves every item: the spec wants no
                // list beside it.
                ws.items.clear();
            }
            if !ws.universal && ws.items.is_empty() {
                return bad(format!("window {} serves no item", w.number));
            }
            for span in &w.open {
                if span.from >= span.to || span.to > 1440 {
                    return bad(format!("window {}: bad span {span}", w.number));
                }
                let spans = if w.lunch_duty {
                    vec![*span]
                } else {
                    minus_lunch(*span, spec.day.lunch.map(|l| (l.from, l.to)))
                };
                for s in spans {
                    shifts.push(Shift {
                        window: w.number,
                        from: local_instant(spec, day, s.from),
                        to: local_instant(spec, day, s.to),
                    });
                }
            }
            windows.push(ws);
        }
        if windows.is_empty() {
            return bad("the plan opens no window".into());
        }
        let mut spec = spec.clone();
        spec.windows = windows;
        spec.day
            .duty_windows
            .retain(|d| spec.windows.iter().any(|w| w.number == *d));
        spec.validate()
            .map_err(|e| StaffingError::PlanInvalid(e.to_string()))?;
        Ok(Staffing { spec, shifts })
    }

    /// Window-hours of the shifts.
    pub fn window_hours(&self) -> f32 {
        let ms: u64 = self
            .shifts
            .iter()
            .map(|s| s.to.0.saturating_sub(s.from.0))
            .sum();
        (ms as f64 / 3_600_000.0) as f32
    }
}

/// `span` without the lunch period.
pub(crate) fn minus_lunch(span: MinuteSpan, lunch: Option<(u16, u16)>) -> Vec<MinuteSpan> {
    let Some((lf, lt)) = lunch else {
        return vec![span];
    };
    let mut out = Vec::new();
    if span.from < lf.min(span.to) {
        out.push(MinuteSpan {
            from: span.from,
            to: lf.min(span.to),
        });
    }
    if span.to > lt.max(span.from) {
        out.push(MinuteSpan {
            from: lt.max(span.from),
            to: span.to,
        });
    }
    out
}

/// The instant local minute `minute` of `day` begins.
pub fn local_instant(spec: &HallSpec, day: BusinessDay, minute: u16) -> Timestamp {
    spec.day.instant(SlotAt { day, minute })
}

/// Local minute of the day of `at`.
pub fn local_minute(spec: &HallSpec, at: Timestamp) -> u16 {
    spec.day.slot_at(at).minute
}

/// Where service times come from: the day's own services.
#[derive(Debug, Clone, Default)]
pub struct ServicePool {
    by_item_window: HashMap<(ItemCode, WindowNo), Vec<ServiceSample>>,
    by_item: HashMap<ItemCode, Vec<ServiceSample>>,
    average_ms: HashMap<ItemCode, u64>,
}

impl ServicePool {
    /// A pool of `services`, falling back to `spec`'s averages.
    pub fn new(spec: &HallSpec, services: &[ServiceSample]) -> ServicePool {
        let mut pool = ServicePool::default();
        for s in services {
            pool.by_item_window
                .entry((s.item, s.window))
                .or_default()
                .push(*s);
            pool.by_item.entry(s.item).or_default().push(*s);
        }
        for item in &spec.items {
            pool.average_ms
                .insert(item.code, u64::from(item.avg_service_secs) * 1000);
        }
        pool
    }

    /// Mean service time of `item` (call → finish), ms.
    pub fn mean_ms(&self, item: ItemCode) -> f64 {
        match self.by_item.get(&item) {
            Some(v) if !v.is_empty() => {
                v.iter().map(|s| s.total_ms as f64).sum::<f64>() / v.len() as f64
            }
            _ => self.average_ms.get(&item).copied().unwrap_or(300_000) as f64,
        }
    }
}

impl ServiceSource for ServicePool {
    /// Uniformly one of the services of the item at the window (at least
    /// [`MIN_WINDOW_SAMPLES`] of them), else of the item anywhere, else the
    /// item's configured average; the pick is ticket `n`'s own stream.
    fn draw(&self, seed: u64, n: usize, item: ItemCode, window: WindowNo) -> Service {
        let mut rng = rng::SplitMix64::for_item(seed, n as u64);
        let pick = |v: &Vec<ServiceSample>, rng: &mut rng::SplitMix64| {
            let s = v[rng.below(v.len())];
            Service {
                total_ms: s.total_ms,
                no_show: s.no_show,
            }
        };
        match self.by_item_window.get(&(item, window)) {
            Some(v) if v.len() >= MIN_WINDOW_SAMPLES => pick(v, &mut rng),
            _ => match self.by_item.get(&item) {
                Some(v) if !v.is_empty() => pick(v, &mut rng),
                _ => Service {
                    total_ms: self.average_ms.get(&item).copied().unwrap_or(300_000),
                    no_show: false,
                },
            },
        }
    }
}

/// Simulates `arrivals` under `staffing` and reports it.
pub fn simulate(
    day: BusinessDay,
    arrivals: &[Arrival],
    pool: &ServicePool,
    staffing: &Staffing,
    seed: u64,
    target_secs: u32,
) -> Result<(Outcome, SimulationReport), StaffingError> {
    if arrivals.is_empty() {
        return Err(StaffingError::NoArrivals(day));
    }
    let outcome = engine::run(day, arrivals, pool, staffing, seed, None);
    let report = report(day, arrivals, staffing, &outcome, seed, target_secs);
    Ok((outcome, report))
}

/// The lane as the report groups it.
pub fn lane_kind(lane: Lane) -> LaneKind {
    match lane {
        Lane::Appointment => LaneKind::Appointment,
        Lane::Priority(_) => LaneKind::Priority,
        Lane::WalkIn => LaneKind::WalkIn,
    }
}

/// A lane for a simulated ticket of `kind` (the reason changes nothing in
/// the call order but the green channel, which fallback windows take).
pub fn lane_of(kind: LaneKind, green: bool) -> Lane {
    match kind {
        LaneKind::Appointment => Lane::Appointment,
        LaneKind::Priority if green => Lane::Priority(PriorityReason::Green),
        LaneKind::Priority => Lane::Priority(PriorityReason::Elderly),
        LaneKind::WalkIn => Lane::WalkIn,
    }
}

/// Nearest-rank percentile `p` (0–100) of sorted `v`; 0 for none.
pub fn percentile(sorted: &[u64], p: u32) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (sorted.len() * p as usize).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn secs(ms: u64) -> u32 {
    (ms / 1000).min(u64::from(u32::MAX)) as u32
}

/// The hall's items for people.
pub fn item_names(spec: &HallSpec) -> Vec<ItemName> {
    spec.items
        .iter()
        .map(|i| ItemName {
            code: i.code,
            name: i.name.clone(),
        })
        .collect()
}

/// One group's simulated waits, recorded waits and unserved count (ms).
type Group = (Vec<u64>, Vec<u64>, u32);

/// The report of one simulated day.
pub fn report(
    day: BusinessDay,
    arrivals: &[Arrival],
    staffing: &Staffing,
    outcome: &Outcome,
    seed: u64,
    target_secs: u32,
) -> SimulationReport {
    let spec = &staffing.spec;
    let target_ms = u64::from(target_secs) * 1000;
    // (item, lane) → (simulated waits, recorded waits, unserved).
    let mut groups: std::collections::BTreeMap<(ItemCode, Option<LaneKind>), Group> =
        Default::default();
    for (a, w) in arrivals.iter().zip(&outcome.waits) {
        let Some(w) = w else { continue };
        for key in [(a.item, None), (a.item, Some(lane_kind(a.lane)))] {
            let g = groups.entry(key).or_default();
            g.0.push(w.ms);
            if let Some(r) = a.recorded_wait_ms {
                g.1.push(r);
            }
            g.2 += u32::from(w.unserved);
        }
    }
    let recorded_day = arrivals.iter().any(|a| a.recorded_wait_ms.is_some());
    let mut waits = Vec::new();
    for ((item, lane), (mut sim, mut rec, unserved)) in groups {
        sim.sort_unstable();
        rec.sort_unstable();
        waits.push(WaitFigures {
            item,
            lane,
            tickets: sim.len() as u32,
            unserved,
            p50_secs: secs(percentile(&sim, 50)),
            p90_secs: secs(percentile(&sim, 90)),
            max_secs: secs(sim.last().copied().unwrap_or(0)),
            over_target: sim.iter().filter(|&&w| w > target_ms).count() as u32,
            recorded: (recorded_day && !rec.is_empty()).then(|| RecordedWaits {
                p50_secs: secs(percentile(&rec, 50)),
                p90_secs: secs(percentile(&rec, 90)),
                max_secs: secs(rec.last().copied().unwrap_or(0)),
            }),
        });
    }
    // Items first (lane None sorts first), then their lanes: already so.
    let hours = outcome
        .hours
        .iter()
        .map(|h| HourFigures {
            hour: h.hour,
            arrivals: h.arrivals,
            open_windows: (h.open_ms as f64 / 3_600_000.0) as f32,
            p90_secs: secs(h.p90_ms),
            queue_peak: h.queue_peak,
        })
        .collect();
    let windows = outcome
        .windows
        .iter()
        .filter(|w| w.open_ms > 0)
        .map(|w| WindowUse {
            window: w.window,
            open_secs: secs(w.open_ms),
            busy_secs: secs(w.busy_ms),
            calls: w.calls,
        })
        .collect();
    SimulationReport {
        day,
        source: if recorded_day {
            ArrivalSource::Recorded
        } else {
            ArrivalSource::Forecast
        },
        seed,
        target_secs,
        planned: false,
        tickets: outcome.waits.iter().filter(|w| w.is_some()).count() as u32,
        items: item_names(spec),
        waits,
        longest_queue: outcome.peak,
        longest_queue_at: local_minute(spec, outcome.peak_at),
        reminders: outcome.reminders,
        over_target: outcome
            .waits
            .iter()
            .flatten()
            .filter(|w| w.ms > target_ms)
            .count() as u32,
        windows,
        hours,
        queue: outcome.queue.clone(),
        queue_from: outcome.queue_from,
        window_hours: (outcome.windows.iter().map(|w| w.open_ms).sum::<u64>() as f64 / 3_600_000.0)
            as f32,
        plan: None,
    }
}
