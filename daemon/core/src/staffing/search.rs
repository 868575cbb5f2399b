//! `hallq simulate --plan`: the fewest window-hours, per item mapping, that
//! keep every item's p90 wait under the hall's target, hour by hour.
//!
//! The windows are grouped by mapping (the same items, universal, fallback):
//! within a group windows are interchangeable, so a rota is a count per
//! group and hour. The search runs on the real core ([`engine`]) and is
//! greedy in time order, because a queue only carries forward:
//!
//! 1. **Cover** (AB岗, 不空岗): every hour, every item has at least one open
//!    window serving it — the AB post system exists so that no post is ever
//!    empty; the group covering most items takes it.
//! 2. **Sweep** the hours in order: while some item's p90 (of the tickets
//!    issued in the hour) is over the target, open one more window of the
//!    group that lowers the excess most, in that hour (or, if all of them
//!    are open, in the hour before, where the queue built up). An item no
//!    window can save is reported as a shortfall.
//! 3. **Prune**, latest hour first: close one window-hour wherever the
//!    target still holds everywhere without it (the sweep may open an early
//!    window a later one made unnecessary).
//!
//! Lunch duty (seed 000 §四(八)2): during the hall's lunch period only the
//! duty windows may be open; the rota opens them first in each group, and
//! a non-duty window counted in an hour that overlaps lunch is closed for
//! the lunch part of it. A hall that names no duty windows has no lunch
//! restriction. Each run of the sweep stops as soon as every ticket of the
//! hours looked at is called, so the search costs a few full days.

use std::collections::BTreeMap;

use hallq_proto::staffing::{MappingPlan, MinuteSpan, PlanAdvice, PlannedWindow, StaffingPlan};
use hallq_proto::types::{ItemCode, Post, WindowNo};

use super::engine::{self, Outcome};
use super::{
    local_instant, minus_lunch, percentile, Arrival, ServicePool, Shift, Staffing, StaffingError,
};
use crate::{BusinessDay, HallSpec};

const HOUR_MS: u64 = 3_600_000;

/// Windows of one mapping.
#[derive(Debug, Clone)]
struct Group {
    items: Vec<ItemCode>,
    universal: bool,
    /// Duty windows first, then by number.
    windows: Vec<WindowNo>,
    duty: usize,
}

impl Group {
    fn serves(&self, item: ItemCode) -> bool {
        self.universal || self.items.contains(&item)
    }
}

struct Search<'a> {
    day: BusinessDay,
    arrivals: &'a [Arrival],
    pool: &'a ServicePool,
    spec: &'a HallSpec,
    seed: u64,
    target_ms: u64,
    midnight: u64,
    groups: Vec<Group>,
    /// Local hours planned: first..first + n.
    first: u8,
    /// `open[g][h]`.
    open: Vec<Vec<u16>>,
    /// Lunch (from, to) minutes when duty windows restrict it.
    lunch: Option<(u16, u16)>,
    duty: Vec<WindowNo>,
    items: Vec<ItemCode>,
    runs: u32,
}

/// What [`search`] found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The rota.
    pub advice: PlanAdvice,
    /// The rota as a staffing.
    pub staffing: Staffing,
    /// Its full simulated day.
    pub outcome: Outcome,
    /// Simulated days the search ran (prefix runs included).
    pub runs: u32,
}

/// Searches the rota for `arrivals`, with the windows and mappings of
/// `base` (its shifts give the baseline); the hours planned are those the
/// visitors come in.
pub fn search(
    day: BusinessDay,
    arrivals: &[Arrival],
    pool: &ServicePool,
    base: &Staffing,
    seed: u64,
    target_secs: u32,
) -> Result<Found, StaffingError> {
    if arrivals.is_empty() {
        return Err(StaffingError::NoArrivals(day));
    }
    let spec = &base.spec;
    let midnight = local_instant(spec, day, 0).0;
    let hour_of = |t: u64| (t.saturating_sub(midnight) / HOUR_MS).min(23) as u8;
    // The hours visitors come in: windows open after the last of them only
    // to serve who is still waiting (they drain the queue on their own).
    let first = arrivals.iter().map(|a| hour_of(a.at.0)).min().unwrap_or(9);
    let last = arrivals
        .iter()
        .map(|a| hour_of(a.at.0))
        .max()
        .unwrap_or(first)
        .max(first);
    let duty = spec.day.duty_windows.clone();
    let lunch = (!duty.is_empty())
        .then_some(spec.day.lunch)
        .flatten()
        .map(|l| (l.from, l.to));
    let mut by_mapping: BTreeMap<(Vec<ItemCode>, bool, bool), Vec<WindowNo>> = BTreeMap::new();
    for w in &spec.windows {
        let mut items = if w.universal {
            Vec::new()
        } else {
            w.items.clone()
        };
        items.sort();
        by_mapping
            .entry((items, w.universal, w.fallback))
            .or_default()
            .push(w.number);
    }
    let groups: Vec<Group> = by_mapping
        .into_iter()
        .map(|((items, universal, _), mut windows)| {
            windows.sort_by_key(|w| (!duty.contains(w), *w));
            let on_duty = windows.iter().filter(|w| duty.contains(w)).count();
            Group {
                items,
                universal,
                windows,
                duty: on_duty,
            }
        })
        .collect();
    let hours = usize::from(last - first) + 1;
    let mut s = Search {
        day,
        arrivals,
        pool,
        spec,
        seed,
        target_ms: u64::from(target_secs) * 1000,
        midnight,
        open: vec![vec![0; hours]; groups.len()],
        groups,
        first,
        lunch,
        duty,
        items: spec.items.iter().map(|i| i.code).collect(),
        runs: 0,
    };
    s.cover();
    let mut shortfalls = Vec::new();
    for h in 0..hours {
        shortfalls.extend(s.sweep(h));
    }
    s.prune(&shortfalls);
    let staffing = s.staffing();
    let outcome = engine::run(day, arrivals, pool, &staffing, seed, None);
    s.runs += 1;
    let expected = (0..hours)
        .map(|h| {
            let hour = usize::from(s.first) + h;
            outcome
                .hours
                .iter()
                .find(|x| usize::from(x.hour) == hour)
                .map_or(0, |x| (x.p90_ms / 1000) as u32)
        })
        .collect();
    let advice = PlanAdvice {
        hours: (0..hours).map(|h| s.first + h as u8).collect(),
        groups: s
            .groups
            .iter()
            .zip(&s.open)
            .map(|(g, open)| MappingPlan {
                items: g.items.clone(),
                universal: g.universal,
                windows: g.windows.clone(),
                open: open.clone(),
            })
            .collect(),
        expected_p90_secs: expected,
        window_hours: staffing.window_hours(),
        baseline_window_hours: base.window_hours(),
        shortfalls: shortfalls
            .iter()
            .map(|&(h, item)| (s.first + h as u8, item))
            .collect(),
        lunch_windows: s.lunch_windows(),
        rota: s.rota(),
    };
    Ok(Found {
        advice,
        staffing,
        outcome,
        runs: s.runs,
    })
}

impl Search<'_> {
    fn hours(&self) -> usize {
        self.open.first().map_or(0, Vec::len)
    }

    /// The most windows of group `g` hour `h` may have open.
    fn cap(&self, g: usize, h: usize) -> u16 {
        let group = &self.groups[g];
        let all = group.windows.len() as u16;
        match self.lunch {
            // An hour wholly inside lunch: its duty windows only.
            Some((from, to)) => {
                let start = (usize::from(self.first) + h) as u16 * 60;
                if start >= from && start + 60 <= to {
                    group.duty as u16
                } else {
                    all
                }
            }
            None => all,
        }
    }

    fn cover(&mut self) {
        for h in 0..self.hours() {
            for i in 0..self.items.len() {
                let item = self.items[i];
                let covered = (0..self.groups.len())
                    .any(|g| self.open[g][h] > 0 && self.groups[g].serves(item));
                if covered {
                    continue;
                }
                let best = (0..self.groups.len())
                    .filter(|&g| self.groups[g].serves(item) && self.cap(g, h) > 0)
                    .max_by_key(|&g| {
                        let group = &self.groups[g];
                        let reach = if group.universal {
                            usize::MAX
                        } else {
                            group.items.len()
                        };
                        (reach, std::cmp::Reverse(group.windows[0]))
                    });
                if let Some(g) = best {
                    self.open[g][h] = 1;
                }
            }
        }
    }

    /// The least each group must keep open in each hour for cover.
    fn covered_without(&self, g: usize, h: usize) -> bool {
        self.items.iter().all(|&item| {
            !self.groups[g].serves(item)
                || (0..self.groups.len()).any(|o| {
                    self.groups[o].serves(item)
                        && (if o == g {
                            self.open[o][h] > 1
                        } else {
                            self.open[o][h] > 0
                        })
                })
                || !(0..self.groups.len())
                    .any(|o| self.groups[o].serves(item) && self.cap(o, h) > 0)
        })
    }

    /// Opens windows in hour `h` until its tickets keep the target;
    /// answers the items it could not save.
    fn sweep(&mut self, h: usize) -> Vec<(usize, ItemCode)> {
        let mut short = Vec::new();
        loop {
            let p90 = self.p90s(Some(h));
            let target = self.target_ms;
            let excess = move |p: &BTreeMap<(usize, ItemCode), u64>| -> u64 {
                p.iter()
                    .filter(|((hh, _), _)| *hh <= h)
                    .map(|(_, &v)| v.saturating_sub(target))
                    .sum()
            };
            let Some((&(_, worst), _)) = p90
                .iter()
                .filter(|((hh, item), &v)| *hh == h && v > target && !short.contains(&(h, *item)))
                .max_by_key(|(_, &v)| v)
            else {
                return short;
            };
            let now = excess(&p90);
            let mut best: Option<(u64, usize, usize)> = None;
            for hh in [h, h.wrapping_sub(1)] {
                if hh >= self.hours() || best.is_some() {
                    continue;
                }
                for g in 0..self.groups.len() {
                    if !self.groups[g].serves(worst) || self.open[g][hh] >= self.cap(g, hh) {
                        continue;
                    }
                    self.open[g][hh] += 1;
                    let e = excess(&self.p90s(Some(h)));
                    self.open[g][hh] -= 1;
                    // Fewer items first on a tie: keep the universal and
                    // the wide mappings for the items only they serve.
                    let better = match best {
                        None => true,
                        Some((be, bg, _)) => e < be || (e == be && self.reach(g) < self.reach(bg)),
                    };
                    if better {
                        best = Some((e, g, hh));
                    }
                }
            }
            match best {
                Some((e, g, hh)) if e < now || hh == h => self.open[g][hh] += 1,
                _ => short.push((h, worst)),
            }
        }
    }

    fn reach(&self, g: usize) -> usize {
        if self.groups[g].universal {
            usize::MAX
        } else {
            self.groups[g].items.len()
        }
    }

    /// Closes window-hours the target does not need, latest first. A
    /// closing stands if every (hour, item) still keeps the target, and a
    /// shortfall (over the target whatever is open) gets no worse.
    fn prune(&mut self, shortfalls: &[(usize, ItemCode)]) {
        let mut before = self.p90s(None);
        for h in (0..self.hours()).rev() {
            for g in 0..self.groups.len() {
                while self.open[g][h] > 0 && self.covered_without(g, h) {
                    self.open[g][h] -= 1;
                    let after = self.p90s(None);
                    let ok = after.iter().all(|(k, &v)| {
                        v <= self.target_ms
                            || (shortfalls.contains(k) && v <= before.get(k).copied().unwrap_or(0))
                    });
                    if ok {
                        before = after;
                        continue;
                    }
                    self.open[g][h] += 1;
                    break;
                }
            }
        }
    }

    /// p90 wait per (hour index, item) of the tickets issued in the hours
    /// up to `upto` (all with `None`).
    fn p90s(&mut self, upto: Option<usize>) -> BTreeMap<(usize, ItemCode), u64> {
        let staffing = self.staffing();
        let stop = upto.map(|h| {
            hallq_proto::types::Timestamp(
                self.midnight + (u64::from(self.first) + h as u64 + 1) * HOUR_MS,
            )
        });
        let out = engine::run(
            self.day,
            self.arrivals,
            self.pool,
            &staffing,
            self.seed,
            stop,
        );
        self.runs += 1;
        let mut waits: BTreeMap<(usize, ItemCode), Vec<u64>> = BTreeMap::new();
        for (a, w) in self.arrivals.iter().zip(&out.waits) {
            let Some(w) = w else { continue };
            let hour = (a.at.0.saturating_sub(self.midnight) / HOUR_MS) as usize;
            let Some(h) = hour.checked_sub(usize::from(self.first)) else {
                continue;
            };
            if upto.is_some_and(|u| h > u) || h >= self.hours() {
                continue;
            }
            waits.entry((h, a.item)).or_default().push(w.ms);
        }
        waits
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_unstable();
                (k, percentile(&v, 90))
            })
            .collect()
    }

    /// Local minute spans each window is open in the current counts.
    fn spans(&self) -> Vec<(WindowNo, bool, Vec<MinuteSpan>)> {
        let mut out = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            for (k, &w) in group.windows.iter().enumerate() {
                let duty = self.duty.contains(&w);
                let mut spans: Vec<MinuteSpan> = Vec::new();
                for h in 0..self.hours() {
                    if usize::from(self.open[g][h]) <= k {
                        continue;
                    }
                    let from = (usize::from(self.first) + h) as u16 * 60;
                    let hour = MinuteSpan {
                        from,
                        to: from + 60,
                    };
                    let parts = if duty {
                        vec![hour]
                    } else {
                        minus_lunch(hour, self.lunch)
                    };
                    for p in parts {
                        match spans.last_mut() {
                            Some(last) if last.to == p.from => last.to = p.to,
                            _ => spans.push(p),
                        }
                    }
                }
                out.push((w, duty, spans));
            }
        }
        out
    }

    fn staffing(&self) -> Staffing {
        let mut shifts = Vec::new();
        for (window, _, spans) in self.spans() {
            for s in spans {
                shifts.push(Shift {
                    window,
                    from: local_instant(self.spec, self.day, s.from),
                    to: local_instant(self.spec, self.day, s.to),
                });
            }
        }
        Staffing {
            spec: self.spec.clone(),
            shifts,
        }
    }

    fn opens_at_lunch(&self, spans: &[MinuteSpan]) -> bool {
        self.lunch
            .is_some_and(|(f, t)| spans.iter().any(|s| s.from < t && s.to > f))
    }

    fn lunch_windows(&self) -> Vec<WindowNo> {
        let mut v: Vec<WindowNo> = self
            .spans()
            .into_iter()
            .filter(|(_, duty, spans)| *duty && self.opens_at_lunch(spans))
            .map(|(w, ..)| w)
            .collect();
        v.sort();
        v
    }

    fn rota(&self) -> StaffingPlan {
        let mut windows: Vec<PlannedWindow> = self
            .spans()
            .into_iter()
            .filter(|(_, _, spans)| !spans.is_empty())
            .map(|(number, duty, spans)| PlannedWindow {
                number,
                items: None,
                universal: None,
                lunch_duty: duty && self.opens_at_lunch(&spans),
                open: spans,
                post: Some(Post::A),
            })
            .collect();
        windows.sort_by_key(|w| w.number);
        StaffingPlan { windows }
    }
}
