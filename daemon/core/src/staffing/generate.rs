//! Scripted days whose truth is known: a hall, its visitors and its
//! clerks' speeds set by hand, run through the real core, and the journal
//! (the events) the day writes. The simulator's validation, its tests and
//! the benches start from these.
//!
//! The clerks' service times follow a known distribution (Erlang-2 around
//! each item's mean, with a no-show share): the simulator sees only the
//! events, as it would see a real hall's journal, and must reproduce the
//! waits the scripted day had.

use hallq_proto::types::{ItemCode, Lane, PriorityReason, Timestamp, WindowNo};

use super::engine::{self, Service, ServiceSource};
use super::rng::SplitMix64;
use super::{local_instant, Arrival, Shift, Staffing};
use crate::{BusinessDay, Event, HallSpec, ItemSpec, WindowSpec};

/// Visitors per hour of one item, from 09:00.
#[derive(Debug, Clone)]
pub struct ItemScript {
    /// The item.
    pub item: ItemCode,
    /// Mean service (call → finish), seconds.
    pub mean_secs: u32,
    /// Expected visitors in each hour from 09:00.
    pub per_hour: Vec<f64>,
}

/// A scripted hall day.
#[derive(Debug, Clone)]
pub struct Script {
    /// The hall.
    pub spec: HallSpec,
    /// The day.
    pub day: BusinessDay,
    /// Visitors.
    pub items: Vec<ItemScript>,
    /// Shifts: (window, from minute, to minute).
    pub shifts: Vec<(WindowNo, u16, u16)>,
    /// Share of no-shows.
    pub no_show: f64,
    /// Share of priority tickets.
    pub priority: f64,
    /// Share of appointments.
    pub appointment: f64,
    /// Seed of the visitors and of the clerks.
    pub seed: u64,
}

/// The clerks of a script: Erlang-2 service times around each item's mean.
#[derive(Debug)]
pub(crate) struct Clerks<'a>(pub(crate) &'a Script);

impl ServiceSource for Clerks<'_> {
    fn draw(&self, seed: u64, n: usize, item: ItemCode, window: WindowNo) -> Service {
        let mut rng = SplitMix64::for_item(seed ^ 0xC1E4, n as u64);
        let mean = self
            .0
            .items
            .iter()
            .find(|i| i.item == item)
            .map_or(300.0, |i| f64::from(i.mean_secs));
        // Each window a little faster or slower (±10%), as clerks are.
        let speed = 0.9 + f64::from(window.0 % 5) * 0.05;
        if rng.unit() < self.0.no_show {
            return Service {
                total_ms: 60_000,
                no_show: true,
            };
        }
        let e = -(1.0 - rng.unit()).ln() - (1.0 - rng.unit()).ln();
        Service {
            total_ms: (e / 2.0 * mean * speed * 1000.0) as u64,
            no_show: false,
        }
    }
}

impl Script {
    /// A demo-like hall: items A (社保, 5 min), B (医保, 8 min), C (公积金,
    /// 3 min); windows 1–3 A/B, 4–5 C, 6 universal; lunch duty 1 and 4;
    /// `scale` multiplies the visitors (1.0 is about 390 a day, the peak
    /// hours near what the windows can take).
    pub fn demo(day: BusinessDay, scale: f64, seed: u64) -> Script {
        let item = |c: char, name: &str, secs| ItemSpec {
            code: ItemCode::new(c).unwrap(),
            name: name.into(),
            avg_service_secs: secs,
            daily_cap: None,
        };
        let code = |c: char| ItemCode::new(c).unwrap();
        let window = |n: u16, items: &[char], universal| WindowSpec {
            number: WindowNo(n),
            items: items.iter().map(|&c| code(c)).collect(),
            universal,
            fallback: false,
        };
        let mut spec = HallSpec::new(
            vec![
                item('A', "社保", 300),
                item('B', "医保", 480),
                item('C', "公积金", 180),
            ],
            vec![
                window(1, &['A', 'B'], false),
                window(2, &['A', 'B'], false),
                window(3, &['A', 'B'], false),
                window(4, &['C'], false),
                window(5, &['C'], false),
                window(6, &[], true),
            ],
        );
        spec.day.duty_windows = vec![WindowNo(1), WindowNo(4)];
        let shape = [1.4, 1.6, 1.2, 0.5, 0.6, 1.2, 1.1, 0.8];
        let per = |base: f64| shape.iter().map(|s| s * base * scale).collect();
        let mut shifts = Vec::new();
        for w in 1..=6u16 {
            if w == 1 || w == 4 {
                shifts.push((WindowNo(w), 540, 1020));
            } else if w == 6 {
                shifts.push((WindowNo(w), 540, 720));
                shifts.push((WindowNo(w), 810, 960));
            } else {
                shifts.push((WindowNo(w), 540, 720));
                shifts.push((WindowNo(w), 810, 1020));
            }
        }
        Script {
            spec,
            day,
            items: vec![
                ItemScript {
                    item: code('A'),
                    mean_secs: 300,
                    per_hour: per(15.0),
                },
                ItemScript {
                    item: code('B'),
                    mean_secs: 480,
                    per_hour: per(6.0),
                },
                ItemScript {
                    item: code('C'),
                    mean_secs: 180,
                    per_hour: per(24.0),
                },
            ],
            shifts,
            no_show: 0.05,
            priority: 0.08,
            appointment: 0.05,
            seed,
        }
    }

    /// A hall of `windows` windows (half A/B, 30% C, the rest universal;
    /// lunch duty at the first of each mapping) with about `visitors`
    /// visitors a day on the demo's hourly shape: the benches' 40-window,
    /// 2,000-ticket day.
    pub fn sized(day: BusinessDay, windows: u16, visitors: f64, seed: u64) -> Script {
        let mut s = Script::demo(day, 1.0, seed);
        let ab = (windows / 2).max(1);
        let c = (windows * 3 / 10).max(1);
        let all = windows.saturating_sub(ab + c);
        let mut specs = Vec::new();
        let code = |c: char| ItemCode::new(c).unwrap();
        for n in 1..=windows {
            let (items, universal) = if n <= ab {
                (vec![code('A'), code('B')], false)
            } else if n <= ab + c {
                (vec![code('C')], false)
            } else {
                (Vec::new(), true)
            };
            specs.push(WindowSpec {
                number: WindowNo(n),
                items,
                universal,
                fallback: false,
            });
        }
        s.spec.windows = specs;
        s.spec.day.duty_windows = [1, ab + 1, ab + c + 1]
            .into_iter()
            .filter(|&n| n <= windows)
            .map(WindowNo)
            .collect();
        s.shifts = (1..=windows)
            .flat_map(|n| {
                if s.spec.day.duty_windows.contains(&WindowNo(n)) {
                    vec![(WindowNo(n), 540, 1020)]
                } else {
                    vec![(WindowNo(n), 540, 720), (WindowNo(n), 810, 1020)]
                }
            })
            .collect();
        // The demo's day has about 390 visitors: A 15, B 6, C 24 an hour.
        let k = visitors / 390.0;
        for it in &mut s.items {
            for r in &mut it.per_hour {
                *r *= k;
            }
        }
        let _ = all;
        s
    }

    /// The day's visitors: Poisson arrivals at each hour's rate.
    pub fn arrivals(&self) -> Vec<Arrival> {
        let midnight = local_instant(&self.spec, self.day, 0).0;
        let mut rng = SplitMix64::new(self.seed);
        let mut out = Vec::new();
        for it in &self.items {
            for (h, &rate) in it.per_hour.iter().enumerate() {
                if rate <= 0.0 {
                    continue;
                }
                let start = midnight + (9 + h as u64) * 3_600_000;
                // Exponential gaps at `rate` per hour.
                let mut t = 0.0;
                loop {
                    t += -(1.0 - rng.unit()).ln() / rate;
                    if t >= 1.0 {
                        break;
                    }
                    let u = rng.unit();
                    let lane = if u < self.appointment {
                        Lane::Appointment
                    } else if u < self.appointment + self.priority {
                        Lane::Priority(PriorityReason::Elderly)
                    } else {
                        Lane::WalkIn
                    };
                    out.push(Arrival {
                        at: Timestamp(start + (t * 3_600_000.0) as u64),
                        item: it.item,
                        lane,
                        recorded_wait_ms: None,
                    });
                }
            }
        }
        out.sort_by_key(|a| a.at);
        out
    }

    /// The staffing the script has.
    pub fn staffing(&self) -> Staffing {
        Staffing {
            spec: self.spec.clone(),
            shifts: self
                .shifts
                .iter()
                .map(|&(window, from, to)| Shift {
                    window,
                    from: local_instant(&self.spec, self.day, from),
                    to: local_instant(&self.spec, self.day, to),
                })
                .collect(),
        }
    }

    /// Runs the day through the core: the events it writes to its journal.
    pub fn events(&self) -> Vec<Event> {
        let arrivals = self.arrivals();
        engine::run_logged(
            self.day,
            &arrivals,
            &Clerks(self),
            &self.staffing(),
            self.seed,
        )
        .1
    }
}
