//! The event loop of one simulated day: the instants at which visitors
//! arrive, windows open and close and services end, in time order, each
//! applied to a real [`Hall`] at its instant.
//!
//! A window behaves as a clerk does: open, it calls the next ticket as soon
//! as it is free (`CallNext`, so the core's call policy picks); the service
//! it then gives lasts a draw from the [`ServicePool`]; at the end of its
//! shift it finishes its visitor and closes. At the day's last closing, the
//! windows still open serve everyone already waiting (seed 000 §四(八)5:
//! closing stops issuing, not serving) and then close.
//!
//! Ties at one instant go: services ending, windows closing, windows
//! opening, visitors arriving; within a kind, the order they were
//! scheduled. So the loop is deterministic: the same input gives the same
//! day, draw for draw.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use hallq_proto::types::{ItemCode, Lane, PriorityReason, TicketId, Timestamp, WindowNo};

use super::{local_instant, local_minute, percentile, Arrival, Shift, Staffing};
use crate::{BusinessDay, Command, Event, Hall, Issued};

/// One drawn service: how long the window is taken, and whether the
/// visitor came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// Call → finish (or no-show).
    pub total_ms: u64,
    /// The visitor did not come (过号).
    pub no_show: bool,
}

/// Where a simulated service's length comes from: the day's recorded
/// services ([`ServicePool`](super::ServicePool)), or a scripted day's
/// known distribution.
pub trait ServiceSource {
    /// The service of arrival number `n`, of `item`, called to `window`;
    /// a function of its arguments only (so a run is reproducible).
    fn draw(&self, seed: u64, n: usize, item: ItemCode, window: WindowNo) -> Service;
}

/// One visitor's wait in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Issue → first call (or → the end of the simulation if never called).
    pub ms: u64,
    /// Never called.
    pub unserved: bool,
}

/// One window's simulated day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowDay {
    /// The window.
    pub window: WindowNo,
    /// Open time.
    pub open_ms: u64,
    /// Time with a visitor called or at the counter.
    pub busy_ms: u64,
    /// Visitors called.
    pub calls: u32,
}

/// One local hour of the simulated day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hour {
    /// Local hour.
    pub hour: u8,
    /// Tickets issued in it.
    pub arrivals: u32,
    /// Window-time open in it (3,600,000 is one window all hour).
    pub open_ms: u64,
    /// p90 wait of its tickets.
    pub p90_ms: u64,
    /// Longest queue in it.
    pub queue_peak: u32,
}

/// Everything one simulated day gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Per arrival, in order; `None` if the core refused the ticket (a
    /// daily cap).
    pub waits: Vec<Option<Wait>>,
    /// §7.3.5 reminders, including those told at issue.
    pub reminders: u32,
    /// Per window of the staffing.
    pub windows: Vec<WindowDay>,
    /// The hours from the first arrival or opening to the last event.
    pub hours: Vec<Hour>,
    /// Tickets waiting every [`QUEUE_STEP_MINUTES`] from `queue_from`.
    pub queue: Vec<u32>,
    /// Local minute of `queue[0]`.
    pub queue_from: u16,
    /// The longest queue (tickets waiting, all items)…
    pub peak: u32,
    /// … first reached then.
    pub peak_at: Timestamp,
    /// The last instant simulated.
    pub end: Timestamp,
}

/// Minutes between two points of [`Outcome::queue`].
pub const QUEUE_STEP_MINUTES: u16 = 5;

const DONE: u8 = 0;
const CLOSE: u8 = 1;
const OPEN: u8 = 2;
const ARRIVE: u8 = 3;

const HOUR_MS: u64 = 3_600_000;

#[derive(Debug)]
struct Win {
    number: WindowNo,
    /// Items it may take, by item index in the spec (bit i).
    serves: u32,
    fallback: bool,
    /// Open in the core.
    open: bool,
    /// Within a shift.
    on_shift: bool,
    /// Past the day's last closing, serving who is left.
    draining: bool,
    /// The arrival it is serving and whether they do not come.
    current: Option<(usize, bool)>,
    open_since: u64,
    busy_since: u64,
    day: WindowDay,
}

struct Run<'a> {
    hall: Hall,
    arrivals: &'a [Arrival],
    pool: &'a dyn ServiceSource,
    /// Every event the core gave, when asked for (a scripted day's journal).
    log: Option<Vec<Event>>,
    seed: u64,
    heap: BinaryHeap<Reverse<(u64, u8, u64, u32)>>,
    seq: u64,
    wins: Vec<Win>,
    /// Merged shifts and whether each ends the day.
    shifts: Vec<(Shift, bool)>,
    /// Item index of each arrival's item (the spec's order).
    item_idx: Vec<Option<usize>>,
    first_ticket: Option<u64>,
    by_ticket: Vec<usize>,
    waits: Vec<Option<Wait>>,
    called: Vec<bool>,
    waiting: u32,
    reminders: u32,
    midnight: u64,
    hours: [Hour; 24],
    queue: Vec<u32>,
    queue_from: u64,
    peak: u32,
    peak_at: u64,
    /// For a prefix run: arrivals before the stop not yet called.
    pending_before_stop: usize,
    stop: Option<u64>,
    /// The instant of the event being applied.
    now: u64,
}

/// Runs one day. With `stop`, the run ends as soon as every ticket issued
/// before `stop` has been called (the plan search only needs those).
pub fn run(
    day: BusinessDay,
    arrivals: &[Arrival],
    pool: &dyn ServiceSource,
    staffing: &Staffing,
    seed: u64,
    stop: Option<Timestamp>,
) -> Outcome {
    run_inner(day, arrivals, pool, staffing, seed, stop, false).0
}

/// [`run`] keeping every event the core gave, in order: the journal the
/// day would have written.
pub fn run_logged(
    day: BusinessDay,
    arrivals: &[Arrival],
    pool: &dyn ServiceSource,
    staffing: &Staffing,
    seed: u64,
) -> (Outcome, Vec<Event>) {
    let (outcome, log) = run_inner(day, arrivals, pool, staffing, seed, None, true);
    (outcome, log.unwrap_or_default())
}

fn run_inner(
    day: BusinessDay,
    arrivals: &[Arrival],
    pool: &dyn ServiceSource,
    staffing: &Staffing,
    seed: u64,
    stop: Option<Timestamp>,
    logged: bool,
) -> (Outcome, Option<Vec<Event>>) {
    let mut spec = staffing.spec.clone();
    // The arrivals were accepted when they came (or are a forecast within
    // the hours); the simulation must not refuse them for the clock.
    spec.day.hours = None;
    let midnight = local_instant(&spec, day, 0).0;
    let items: Vec<ItemCode> = spec.items.iter().map(|i| i.code).collect();
    let wins: Vec<Win> = spec
        .windows
        .iter()
        .map(|w| Win {
            number: w.number,
            serves: if w.universal {
                u32::MAX
            } else {
                w.items
                    .iter()
                    .filter_map(|c| items.iter().position(|i| i == c))
                    .fold(0, |m, i| m | 1 << i)
            },
            fallback: w.fallback,
            open: false,
            on_shift: false,
            draining: false,
            current: None,
            open_since: 0,
            busy_since: 0,
            day: WindowDay {
                window: w.number,
                open_ms: 0,
                busy_ms: 0,
                calls: 0,
            },
        })
        .collect();
    let hall = Hall::new(spec).expect("a staffing's spec is validated when it is made");
    let mut run = Run {
        hall,
        arrivals,
        pool,
        log: logged.then(Vec::new),
        seed,
        heap: BinaryHeap::new(),
        seq: 0,
        wins,
        shifts: merged(&staffing.shifts),
        item_idx: arrivals
            .iter()
            .map(|a| items.iter().position(|i| *i == a.item))
            .collect(),
        first_ticket: None,
        by_ticket: Vec::with_capacity(arrivals.len()),
        waits: vec![None; arrivals.len()],
        called: vec![false; arrivals.len()],
        waiting: 0,
        reminders: 0,
        midnight,
        hours: Default::default(),
        queue: Vec::new(),
        queue_from: 0,
        peak: 0,
        peak_at: 0,
        pending_before_stop: 0,
        stop: stop.map(|s| s.0),
        now: 0,
    };
    run.go(day);
    let log = run.log.take();
    (run.finish(), log)
}

/// Each window's shifts merged where they touch; the ones ending at the
/// day's last closing marked.
fn merged(shifts: &[Shift]) -> Vec<(Shift, bool)> {
    let mut s = shifts.to_vec();
    s.sort_by_key(|s| (s.window, s.from));
    let mut out: Vec<Shift> = Vec::new();
    for shift in s {
        match out.last_mut() {
            Some(last) if last.window == shift.window && shift.from <= last.to => {
                last.to = last.to.max(shift.to);
            }
            _ => out.push(shift),
        }
    }
    let end = out.iter().map(|s| s.to).max().unwrap_or(Timestamp(0));
    out.into_iter().map(|s| (s, s.to == end)).collect()
}

impl Run<'_> {
    /// Applies `command` to the hall, logging its events if asked.
    fn apply(&mut self, command: Command, at: u64) -> Option<Vec<Event>> {
        let events = self.hall.apply(command, Timestamp(at)).ok()?;
        if let Some(log) = &mut self.log {
            log.extend(events.iter().cloned());
        }
        Some(events)
    }

    fn push(&mut self, at: u64, kind: u8, what: usize) {
        self.seq += 1;
        self.heap.push(Reverse((at, kind, self.seq, what as u32)));
    }

    fn go(&mut self, day: BusinessDay) {
        let start = self
            .arrivals
            .iter()
            .map(|a| a.at.0)
            .chain(self.shifts.iter().map(|(s, _)| s.from.0))
            .min()
            .unwrap_or(self.midnight);
        let begin = Timestamp(start.min(self.midnight));
        self.apply(Command::BeginDay { day }, begin.0)
            .expect("a fresh hall begins its day");
        let step = u64::from(QUEUE_STEP_MINUTES) * 60_000;
        self.queue_from = self.midnight + (start.saturating_sub(self.midnight) / step) * step;
        for i in 0..self.arrivals.len() {
            let at = self.arrivals[i].at.0;
            if self.stop.is_some_and(|s| at < s) {
                self.pending_before_stop += 1;
            }
            self.push(at, ARRIVE, i);
        }
        for i in 0..self.shifts.len() {
            let (s, _) = self.shifts[i];
            self.push(s.from.0, OPEN, i);
            self.push(s.to.0, CLOSE, i);
        }
        while let Some(Reverse((at, kind, _, what))) = self.heap.pop() {
            self.sample_queue(at);
            self.now = at;
            let what = what as usize;
            match kind {
                ARRIVE => self.arrive(what, at),
                OPEN => self.open(what, at),
                CLOSE => self.close(what, at),
                _ => self.done(what, at),
            }
            if self.stop.is_some() && self.pending_before_stop == 0 {
                break;
            }
        }
    }

    fn win_of(&self, number: WindowNo) -> Option<usize> {
        self.wins.iter().position(|w| w.number == number)
    }

    fn count(&mut self, events: &[Event]) {
        for e in events {
            match e {
                Event::Approaching { .. } => self.reminders += 1,
                Event::Issued {
                    issued:
                        Issued {
                            approaching: true, ..
                        },
                    ..
                } => self.reminders += 1,
                _ => {}
            }
        }
    }

    fn arrive(&mut self, i: usize, at: u64) {
        let a = &self.arrivals[i];
        let (item, lane) = (a.item, a.lane);
        let Some(events) = self.apply(
            Command::Issue {
                item,
                lane,
                phone: None,
            },
            at,
        ) else {
            // Refused (a daily cap): the visitor got no ticket.
            self.retire_before_stop(i);
            return;
        };
        self.count(&events);
        for e in &events {
            if let Event::Issued { issued, .. } = e {
                let first = *self.first_ticket.get_or_insert(issued.ticket.0);
                let k = (issued.ticket.0 - first) as usize;
                if self.by_ticket.len() <= k {
                    self.by_ticket.resize(k + 1, usize::MAX);
                }
                self.by_ticket[k] = i;
            }
        }
        self.waits[i] = Some(Wait {
            ms: 0,
            unserved: true,
        });
        self.waiting += 1;
        let hour = self.hour_of(at);
        self.hours[hour].arrivals += 1;
        self.note_peak(at);
        let green = matches!(lane, Lane::Priority(PriorityReason::Green));
        let Some(idx) = self.item_idx[i] else { return };
        for w in 0..self.wins.len() {
            let win = &self.wins[w];
            let takes = win.serves & (1 << idx) != 0 || (win.fallback && green);
            if takes
                && win.open
                && win.current.is_none()
                && (win.on_shift || win.draining)
                && self.call(w, at)
            {
                break;
            }
        }
    }

    fn retire_before_stop(&mut self, i: usize) {
        if self.stop.is_some_and(|s| self.arrivals[i].at.0 < s) {
            self.pending_before_stop -= 1;
        }
    }

    fn open(&mut self, s: usize, at: u64) {
        let (shift, _) = self.shifts[s];
        let Some(w) = self.win_of(shift.window) else {
            return;
        };
        self.wins[w].on_shift = true;
        self.wins[w].draining = false;
        if !self.wins[w].open {
            let number = self.wins[w].number;
            if self
                .apply(Command::OpenWindow { window: number }, at)
                .is_some()
            {
                self.wins[w].open = true;
                self.wins[w].open_since = at;
            }
        }
        if self.wins[w].current.is_none() {
            self.call(w, at);
        }
    }

    fn close(&mut self, s: usize, at: u64) {
        let (shift, last) = self.shifts[s];
        let Some(w) = self.win_of(shift.window) else {
            return;
        };
        self.wins[w].on_shift = false;
        self.wins[w].draining = last;
        if self.wins[w].current.is_none() {
            self.free(w, at);
        }
    }

    /// The window has no visitor: call the next, or close if its shift is
    /// over and (at the day's end) nobody it serves is left.
    fn free(&mut self, w: usize, at: u64) {
        let win = &self.wins[w];
        if (win.on_shift || win.draining) && self.call(w, at) {
            return;
        }
        if !self.wins[w].on_shift && self.wins[w].open {
            let number = self.wins[w].number;
            if self
                .apply(Command::CloseWindow { window: number }, at)
                .is_some()
            {
                let since = self.wins[w].open_since;
                self.add_open(w, since, at);
                self.wins[w].open = false;
                self.wins[w].draining = false;
            }
        }
    }

    fn call(&mut self, w: usize, at: u64) -> bool {
        let number = self.wins[w].number;
        let Some(events) = self.apply(Command::CallNext { window: number }, at) else {
            return false;
        };
        self.count(&events);
        let Some(ticket) = events.iter().find_map(|e| match e {
            Event::Called { ticket, .. } => Some(*ticket),
            _ => None,
        }) else {
            return false;
        };
        let i = self.arrival_of(ticket);
        let service = self.pool.draw(self.seed, i, self.arrivals[i].item, number);
        if !self.called[i] {
            self.called[i] = true;
            self.waiting -= 1;
            self.waits[i] = Some(Wait {
                ms: at.saturating_sub(self.arrivals[i].at.0),
                unserved: false,
            });
            self.retire_before_stop(i);
        }
        let win = &mut self.wins[w];
        win.current = Some((i, service.no_show));
        win.busy_since = at;
        win.day.calls += 1;
        // A service of 0 ms still ends after the call (one tick later), so
        // the finish never overtakes the call at the same instant.
        self.push(at + service.total_ms.max(1), DONE, w);
        true
    }

    fn arrival_of(&self, ticket: TicketId) -> usize {
        let first = self.first_ticket.unwrap_or(0);
        self.by_ticket[(ticket.0 - first) as usize]
    }

    fn done(&mut self, w: usize, at: u64) {
        let Some((_, no_show)) = self.wins[w].current.take() else {
            return;
        };
        let number = self.wins[w].number;
        let command = if no_show {
            Command::NoShow { window: number }
        } else {
            Command::Finish {
                window: number,
                rating: None,
            }
        };
        if let Some(events) = self.apply(command, at) {
            self.count(&events);
        }
        let since = self.wins[w].busy_since;
        self.wins[w].day.busy_ms += at.saturating_sub(since);
        self.free(w, at);
    }

    fn hour_of(&self, at: u64) -> usize {
        (at.saturating_sub(self.midnight) / HOUR_MS).min(23) as usize
    }

    /// Adds open time `from..to` to the window and to the hours it spans.
    fn add_open(&mut self, w: usize, from: u64, to: u64) {
        self.wins[w].day.open_ms += to.saturating_sub(from);
        let mut t = from;
        while t < to {
            let h = self.hour_of(t);
            let hour_end = self.midnight + (h as u64 + 1) * HOUR_MS;
            let until = if h == 23 { to } else { to.min(hour_end) };
            self.hours[h].open_ms += until - t;
            t = until;
        }
    }

    fn note_peak(&mut self, at: u64) {
        let h = self.hour_of(at);
        self.hours[h].queue_peak = self.hours[h].queue_peak.max(self.waiting);
        if self.waiting > self.peak {
            self.peak = self.waiting;
            self.peak_at = at;
        }
    }

    /// The queue as it stood at every step up to `at` (before the event).
    fn sample_queue(&mut self, at: u64) {
        let step = u64::from(QUEUE_STEP_MINUTES) * 60_000;
        while self.queue_from + self.queue.len() as u64 * step <= at {
            self.queue.push(self.waiting);
        }
    }

    fn finish(mut self) -> Outcome {
        let end = self.now;
        for w in 0..self.wins.len() {
            if self.wins[w].open {
                let since = self.wins[w].open_since;
                self.add_open(w, since, end);
            }
        }
        for (i, wait) in self.waits.iter_mut().enumerate() {
            if let Some(w) = wait {
                if w.unserved {
                    w.ms = end.saturating_sub(self.arrivals[i].at.0);
                }
            }
        }
        // Per-hour p90 of the tickets issued in the hour.
        let mut by_hour: Vec<Vec<u64>> = vec![Vec::new(); 24];
        for (a, w) in self.arrivals.iter().zip(&self.waits) {
            if let Some(w) = w {
                by_hour[(a.at.0.saturating_sub(self.midnight) / HOUR_MS).min(23) as usize]
                    .push(w.ms);
            }
        }
        for (h, v) in by_hour.iter_mut().enumerate() {
            v.sort_unstable();
            self.hours[h].hour = h as u8;
            self.hours[h].p90_ms = percentile(v, 90);
        }
        let used = |h: &Hour| h.arrivals > 0 || h.open_ms > 0;
        let first = self.hours.iter().position(used).unwrap_or(0);
        let last = self.hours.iter().rposition(used).unwrap_or(0);
        let spec = self.hall.spec();
        Outcome {
            reminders: self.reminders,
            windows: self.wins.iter().map(|w| w.day.clone()).collect(),
            hours: self.hours[first..=last.max(first)].to_vec(),
            queue_from: local_minute(spec, Timestamp(self.queue_from)),
            queue: self.queue,
            peak: self.peak,
            peak_at: Timestamp(self.peak_at),
            end: Timestamp(end),
            waits: self.waits,
        }
    }
}
