//! The simulator against days whose truth is known.

use hallq_proto::staffing::{MinuteSpan, PlannedWindow, StaffingPlan};
use hallq_proto::types::{ItemCode, Lane, Timestamp, WindowNo};

use super::generate::Script;
use super::*;
use crate::{HallSpec, ItemSpec, WindowSpec};

const DAY: BusinessDay = 20261123;

fn code(c: char) -> ItemCode {
    ItemCode::new(c).unwrap()
}

/// A scripted day, recorded as its journal would have it.
fn recorded(scale: f64, seed: u64) -> (Script, RecordedDay) {
    let script = Script::demo(DAY, scale, seed);
    let day = RecordedDay::from_events(&script.events());
    (script, day)
}

#[test]
fn the_same_seed_gives_the_same_report_and_another_seed_another() {
    let (script, day) = recorded(1.0, 3);
    let pool = ServicePool::new(&script.spec, &day.services);
    let staffing = Staffing::recorded(&script.spec, &day);
    let (_, a) = simulate(DAY, &day.arrivals, &pool, &staffing, 42, 1200).unwrap();
    let (_, b) = simulate(DAY, &day.arrivals, &pool, &staffing, 42, 1200).unwrap();
    assert_eq!(a, b);
    let (_, c) = simulate(DAY, &day.arrivals, &pool, &staffing, 43, 1200).unwrap();
    assert_ne!(a.waits, c.waits, "another seed draws other service times");
    assert_eq!(a.tickets as usize, day.arrivals.len());
}

#[test]
fn a_recorded_day_keeps_its_visitors_services_and_shifts() {
    let (script, day) = recorded(1.0, 5);
    assert_eq!(day.day, DAY);
    assert_eq!(day.arrivals, {
        let mut a = script.arrivals();
        for (x, y) in a.iter_mut().zip(&day.arrivals) {
            x.recorded_wait_ms = y.recorded_wait_ms;
        }
        a
    });
    assert!(day.arrivals.iter().all(|a| a.recorded_wait_ms.is_some()));
    // One service per visitor (everyone is served by the end of the day).
    assert_eq!(day.services.len(), day.arrivals.len());
    // Window 2 worked 09:00–12:00 (finishing its visitor) and from 13:30.
    let w2: Vec<_> = day
        .shifts
        .iter()
        .filter(|s| s.window == WindowNo(2))
        .collect();
    assert_eq!(w2.len(), 2);
    assert_eq!(w2[0].from, local_instant(&script.spec, DAY, 540));
    assert!(w2[0].to >= local_instant(&script.spec, DAY, 720));
    assert_eq!(w2[1].from, local_instant(&script.spec, DAY, 810));
}

/// Relative error of `sim` against `truth`, with a floor of one minute in
/// the denominator (a 20 s wait simulated as 40 s is not "100% off").
fn error(sim: u32, truth: u32) -> f64 {
    (f64::from(sim) - f64::from(truth)).abs() / f64::from(truth.max(60))
}

/// The median of `runs` simulations of `day` (seeds `seed..seed+runs`):
/// (p50, p90) per item, all lanes.
fn replicated(
    script: &Script,
    day: &RecordedDay,
    seed: u64,
    runs: u64,
) -> Vec<(ItemCode, u32, u32)> {
    let pool = ServicePool::new(&script.spec, &day.services);
    let staffing = Staffing::recorded(&script.spec, day);
    let reports: Vec<_> = (seed..seed + runs)
        .map(|s| {
            simulate(DAY, &day.arrivals, &pool, &staffing, s, 1200)
                .unwrap()
                .1
        })
        .collect();
    let items: Vec<ItemCode> = reports[0]
        .waits
        .iter()
        .filter(|w| w.lane.is_none())
        .map(|w| w.item)
        .collect();
    items
        .into_iter()
        .map(|item| {
            let mut p50: Vec<u32> = Vec::new();
            let mut p90: Vec<u32> = Vec::new();
            for r in &reports {
                let w = r
                    .waits
                    .iter()
                    .find(|w| w.item == item && w.lane.is_none())
                    .unwrap();
                p50.push(w.p50_secs);
                p90.push(w.p90_secs);
            }
            p50.sort_unstable();
            p90.sort_unstable();
            (item, p50[p50.len() / 2], p90[p90.len() / 2])
        })
        .collect()
}

#[test]
fn simulating_a_day_with_its_own_staffing_reproduces_its_waits() {
    // Ten scripted days, a normal load (about 390 visitors, the peak near
    // what the windows take) and a heavy one (×1.3, queues of half an hour
    // and more). The simulator sees only their events and must find their
    // waits again, with service times resampled from the day's own: the
    // median of 9 runs (seeds other than the clerks'). `cargo test … --
    // --nocapture` prints the figures the README quotes.
    //
    // A single day's p90 is itself a random draw: the same visitors with
    // the same clerks' speeds give another p90 on another day. The floor of
    // any simulator is the model itself: the median of 9 runs with the
    // script's *true* service distribution (`floor`), against which the
    // simulator (which only sees the day's recorded services) is measured.
    let mut p50 = Vec::new();
    let mut p90 = Vec::new();
    let mut floor90 = Vec::new();
    for scale in [1.0, 1.3] {
        for seed in 1..=5 {
            let (script, day) = recorded(scale, seed);
            let arrivals = script.arrivals();
            let truth_runs: Vec<Outcome> = (0..9)
                .map(|s| {
                    engine::run(
                        DAY,
                        &arrivals,
                        &generate::Clerks(&script),
                        &script.staffing(),
                        77 + s,
                        None,
                    )
                })
                .collect();
            for (item, s50, s90) in replicated(&script, &day, 1000 * seed, 9) {
                let mut model: Vec<u32> = truth_runs
                    .iter()
                    .map(|o| {
                        let mut w: Vec<u64> = arrivals
                            .iter()
                            .zip(&o.waits)
                            .filter(|(a, _)| a.item == item)
                            .filter_map(|(_, w)| w.map(|w| w.ms))
                            .collect();
                        w.sort_unstable();
                        secs(percentile(&w, 90))
                    })
                    .collect();
                model.sort_unstable();
                let m90 = model[model.len() / 2];
                let mut v: Vec<u64> = day
                    .arrivals
                    .iter()
                    .filter(|a| a.item == item)
                    .filter_map(|a| a.recorded_wait_ms)
                    .collect();
                v.sort_unstable();
                let (r50, r90) = (secs(percentile(&v, 50)), secs(percentile(&v, 90)));
                eprintln!(
                    "scale {scale} seed {seed} item {item}: {} tickets, p50 {s50} s (recorded {r50} s), p90 {s90} s (recorded {r90} s, true model {m90} s)",
                    v.len()
                );
                p50.push(error(s50, r50));
                p90.push(error(s90, r90));
                floor90.push(error(m90, r90));
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let worst = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    let within = |v: &[f64], x: f64| v.iter().filter(|&&e| e <= x).count();
    eprintln!(
        "p50 error: mean {:.3}, worst {:.3}; p90 error: mean {:.3}, worst {:.3}; p90 within 25%: {} of {} item-days; \
         the true model's own p90 error: mean {:.3}, worst {:.3}",
        mean(&p50),
        worst(&p50),
        mean(&p90),
        worst(&p90),
        within(&p90, 0.25),
        p90.len(),
        mean(&floor90),
        worst(&floor90)
    );
    // Within a third of the day's own figures on average, and no further
    // from them than the true model is, give or take 10 points.
    assert!(mean(&p90) < 0.35, "p90 off by {:.2} on average", mean(&p90));
    assert!(mean(&p50) < 0.35, "p50 off by {:.2} on average", mean(&p50));
    assert!(
        mean(&p90) < mean(&floor90) + 0.10,
        "p90 error {:.2} against the true model's {:.2}",
        mean(&p90),
        mean(&floor90)
    );
}

#[test]
fn a_plan_replaces_the_staffing_and_lunch_closes_windows_without_duty() {
    let (script, day) = recorded(1.0, 7);
    let pool = ServicePool::new(&script.spec, &day.services);
    let span = |s: &str| MinuteSpan::parse(s).unwrap();
    let plan = StaffingPlan {
        windows: vec![
            PlannedWindow {
                number: WindowNo(1),
                items: None,
                universal: Some(true),
                open: vec![span("09:00-17:00")],
                lunch_duty: true,
                post: None,
            },
            PlannedWindow {
                number: WindowNo(2),
                items: Some(vec![code('A'), code('B'), code('C')]),
                universal: None,
                open: vec![span("09:00-17:00")],
                lunch_duty: false,
                post: None,
            },
        ],
    };
    let staffing = Staffing::from_plan(&script.spec, &plan, DAY).unwrap();
    assert_eq!(staffing.spec.windows.len(), 2);
    // Window 2 is closed 12:00–13:30: 6.5 h; window 1 all 8 h.
    assert!((staffing.window_hours() - 14.5).abs() < 1e-3);
    let (_, understaffed) = simulate(DAY, &day.arrivals, &pool, &staffing, 1, 1200).unwrap();
    let (_, own) = simulate(
        DAY,
        &day.arrivals,
        &pool,
        &Staffing::recorded(&script.spec, &day),
        1,
        1200,
    )
    .unwrap();
    assert!(understaffed.over_target > own.over_target);
    assert!(understaffed.longest_queue > own.longest_queue);
    // Only windows 1 and 2 worked.
    assert!(understaffed
        .windows
        .iter()
        .all(|w| w.window == WindowNo(1) || w.window == WindowNo(2)));

    let bad = |plan: StaffingPlan| Staffing::from_plan(&script.spec, &plan, DAY).unwrap_err();
    let mut unknown = plan.clone();
    unknown.windows[0].number = WindowNo(99);
    unknown.windows[0].universal = None;
    assert!(matches!(bad(unknown), StaffingError::PlanInvalid(m) if m.contains("99")));
    let mut item = plan.clone();
    item.windows[1].items = Some(vec![code('Z')]);
    assert!(matches!(bad(item), StaffingError::PlanInvalid(m) if m.contains('Z')));
    let mut twice = plan.clone();
    twice.windows[1].number = WindowNo(1);
    assert!(matches!(bad(twice), StaffingError::PlanInvalid(m) if m.contains("twice")));
}

/// Items A (windows 1–3) and C (windows 4–5); every service exactly 300 s;
/// from 09:00 an A visitor every 100 s and a C every 150 s, from 10:00 one
/// of each every 300 s. With a 60 s target the optimum is known by
/// construction: 09:00 three A windows and two C windows (exactly the
/// arrival rate × service time, no wait at all), 10:00 one of each; any
/// fewer and the queue grows by a visitor every 300 s.
fn known_hall() -> (HallSpec, Vec<Arrival>, ServicePool, Staffing) {
    let item = |c, secs| ItemSpec {
        code: code(c),
        name: format!("item {c}"),
        avg_service_secs: secs,
        daily_cap: None,
    };
    let window = |n, c| WindowSpec {
        number: WindowNo(n),
        items: vec![code(c)],
        universal: false,
        fallback: false,
    };
    let spec = HallSpec::new(
        vec![item('A', 300), item('C', 300)],
        vec![
            window(1, 'A'),
            window(2, 'A'),
            window(3, 'A'),
            window(4, 'C'),
            window(5, 'C'),
        ],
    );
    let nine = local_instant(&spec, DAY, 540).0;
    let mut arrivals = Vec::new();
    let mut add = |c, from: u64, gap: u64, n: u64| {
        for k in 0..n {
            arrivals.push(Arrival {
                at: Timestamp(nine + (from + k * gap) * 1000),
                item: code(c),
                lane: Lane::WalkIn,
                recorded_wait_ms: None,
            });
        }
    };
    add('A', 0, 100, 36);
    add('C', 0, 150, 24);
    add('A', 3600, 300, 12);
    add('C', 3600, 300, 12);
    arrivals.sort_by_key(|a| a.at);
    let services: Vec<ServiceSample> = [('A', 1), ('A', 2), ('A', 3), ('C', 4), ('C', 5)]
        .iter()
        .flat_map(|&(c, w)| {
            (0..MIN_WINDOW_SAMPLES).map(move |_| ServiceSample {
                item: code(c),
                window: WindowNo(w),
                total_ms: 300_000,
                no_show: false,
            })
        })
        .collect();
    let pool = ServicePool::new(&spec, &services);
    let base = Staffing {
        spec: spec.clone(),
        shifts: (1..=5)
            .map(|w| Shift {
                window: WindowNo(w),
                from: local_instant(&spec, DAY, 540),
                to: local_instant(&spec, DAY, 660),
            })
            .collect(),
    };
    (spec, arrivals, pool, base)
}

#[test]
fn the_plan_search_finds_the_optimum_of_a_hall_built_to_have_one() {
    let (_, arrivals, pool, base) = known_hall();
    let found = search::search(DAY, &arrivals, &pool, &base, 9, 60).unwrap();
    let plan = &found.advice;
    assert_eq!(plan.hours, vec![9, 10]);
    let open = |c: char| {
        plan.groups
            .iter()
            .find(|g| g.items == vec![code(c)])
            .map(|g| g.open.clone())
            .unwrap()
    };
    assert_eq!(open('A'), vec![3, 1], "{plan:#?}");
    assert_eq!(open('C'), vec![2, 1], "{plan:#?}");
    assert!(plan.shortfalls.is_empty());
    assert!((plan.window_hours - 7.0).abs() < 1e-3);
    assert!((plan.baseline_window_hours - 10.0).abs() < 1e-3);
    assert!(plan.expected_p90_secs.iter().all(|&p| p <= 60));
    // The rota, as a plan file, simulates to the same day.
    let again = Staffing::from_plan(&base.spec, &plan.rota, DAY).unwrap();
    let (_, report) = simulate(DAY, &arrivals, &pool, &again, 9, 60).unwrap();
    assert_eq!(report.over_target, 0);
    assert_eq!(report.hours.iter().map(|h| h.p90_secs).max(), Some(0));
}

#[test]
fn the_plan_search_reports_what_no_staffing_can_save() {
    let (spec, mut arrivals, pool, mut base) = known_hall();
    // Only window 4 serves C now, and C visitors keep coming every 150 s.
    base.spec.windows.retain(|w| w.number != WindowNo(5));
    base.shifts.retain(|s| s.window != WindowNo(5));
    arrivals.retain(|a| a.item == code('C'));
    let _ = spec;
    let found = search::search(DAY, &arrivals, &pool, &base, 9, 60).unwrap();
    assert!(found.advice.shortfalls.contains(&(9, code('C'))));
}

#[test]
fn the_forecast_is_the_mean_of_the_same_weekday_with_a_poisson_floor() {
    let script = Script::demo(DAY, 1.0, 1);
    let past: Vec<RecordedDay> = [10u32, 14, 12, 16]
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            let day = DAY - 7 * (k as u32 + 1);
            let nine = local_instant(&script.spec, day, 540).0;
            RecordedDay {
                day,
                arrivals: (0..n)
                    .map(|i| Arrival {
                        at: Timestamp(nine + u64::from(i) * 60_000),
                        item: code('A'),
                        lane: Lane::WalkIn,
                        recorded_wait_ms: None,
                    })
                    .collect(),
                ..RecordedDay::default()
            }
        })
        .collect();
    let f = forecast::forecast(&script.spec, DAY, &past, vec![20261026]);
    assert_eq!(f.days_used.len(), 4);
    assert_eq!(f.days_missing, vec![20261026]);
    assert_eq!(f.cells.len(), 1);
    let cell = &f.cells[0];
    assert_eq!((cell.item, cell.hour), (code('A'), 9));
    assert_eq!(cell.history, vec![10, 14, 12, 16]);
    assert!((cell.mean - 13.0).abs() < 1e-4);
    // s² = max(6.67, 13) = 13: ±1.2816·√13·√1.25 = ±5.17.
    assert!((cell.high - 18.17).abs() < 0.02, "{cell:?}");
    assert!((cell.low - 7.83).abs() < 0.02, "{cell:?}");
    let generated = forecast::arrivals(&script.spec, DAY, &f, &past, 3);
    assert_eq!(generated.len(), 13);
    let nine = local_instant(&script.spec, DAY, 540);
    assert!(generated
        .iter()
        .all(|a| a.at >= nine && a.at < nine.plus_secs(3600) && a.lane == Lane::WalkIn));
}
