//! `hallq forecast`: tomorrow's arrivals per hour and item from the same
//! weekday of the last weeks (a hall's Monday is not its Thursday), and a
//! day of visitors generated from it for the plan search.
//!
//! The estimate of a cell (item, hour) is the mean count over the past
//! days used. Its uncertainty is an 80% prediction interval for one new
//! day, mean ± 1.2816 · s · √(1 + 1/n), where s² is the larger of the
//! days' sample variance and the mean itself: counts of independent
//! visitors vary at least as a Poisson count does, so two weeks that
//! happen to agree do not claim certainty. With one past day, s² is the
//! Poisson variance alone.

use std::collections::BTreeMap;

use hallq_proto::staffing::{Forecast, ForecastCell, LaneKind};
use hallq_proto::types::{ItemCode, Lane, PriorityReason, Timestamp};

use super::rng::SplitMix64;
use super::{lane_kind, lane_of, local_instant, local_minute, Arrival, RecordedDay};
use crate::{BusinessDay, HallSpec};

/// z of the 90th percentile of the normal distribution: the two-sided 80%
/// interval.
const Z80: f64 = 1.2816;

/// A lane as the mix counts it: its kind, and whether green channel.
type LaneKey = (LaneKind, bool);

/// The forecast of `day` from `past` (the same weekday of earlier weeks,
/// newest first; days without records in `missing`).
pub fn forecast(
    spec: &HallSpec,
    day: BusinessDay,
    past: &[RecordedDay],
    missing: Vec<BusinessDay>,
) -> Forecast {
    let n = past.len();
    let mut counts: BTreeMap<(ItemCode, u8), Vec<u32>> = BTreeMap::new();
    for (d, recorded) in past.iter().enumerate() {
        for a in &recorded.arrivals {
            let hour = (local_minute(spec, a.at) / 60) as u8;
            counts.entry((a.item, hour)).or_insert_with(|| vec![0; n])[d] += 1;
        }
    }
    let cells = counts
        .into_iter()
        .map(|((item, hour), history)| {
            let mean = history.iter().map(|&c| f64::from(c)).sum::<f64>() / n as f64;
            let var = if n > 1 {
                history
                    .iter()
                    .map(|&c| (f64::from(c) - mean).powi(2))
                    .sum::<f64>()
                    / (n - 1) as f64
            } else {
                0.0
            };
            let sd = var.max(mean).sqrt() * (1.0 + 1.0 / n as f64).sqrt();
            ForecastCell {
                item,
                hour,
                mean: mean as f32,
                low: (mean - Z80 * sd).max(0.0) as f32,
                high: (mean + Z80 * sd) as f32,
                history,
            }
        })
        .collect();
    Forecast {
        day,
        days_used: past.iter().map(|d| d.day).collect(),
        days_missing: missing,
        items: super::item_names(spec),
        cells,
    }
}

/// A day of visitors for `day` as the forecast expects it: each cell's
/// mean count (rounded), at seeded uniform instants within its hour (the
/// arrivals of a Poisson process, given their number), in the lanes the
/// past days had for the item.
pub fn arrivals(
    spec: &HallSpec,
    day: BusinessDay,
    forecast: &Forecast,
    past: &[RecordedDay],
    seed: u64,
) -> Vec<Arrival> {
    // Lane mix per item over the past days: (lane kind, green) → count.
    let mut mix: BTreeMap<ItemCode, Vec<(LaneKey, u32)>> = BTreeMap::new();
    for a in past.iter().flat_map(|d| &d.arrivals) {
        let key = (
            lane_kind(a.lane),
            matches!(a.lane, Lane::Priority(PriorityReason::Green)),
        );
        let v = mix.entry(a.item).or_default();
        match v.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => *c += 1,
            None => v.push((key, 1)),
        }
    }
    let midnight = local_instant(spec, day, 0).0;
    let mut out = Vec::new();
    for (c, cell) in forecast.cells.iter().enumerate() {
        let count = cell.mean.round() as u64;
        let mut rng = SplitMix64::for_item(seed ^ 0x00F0_CA57, c as u64);
        let start = midnight + u64::from(cell.hour) * 3_600_000;
        for _ in 0..count {
            let at = start + (rng.unit() * 3_600_000.0) as u64;
            let lane = match mix.get(&cell.item) {
                Some(v) if !v.is_empty() => {
                    let total: u32 = v.iter().map(|(_, n)| n).sum();
                    let mut pick = rng.below(total as usize) as u32;
                    let mut lane = Lane::WalkIn;
                    for ((kind, green), n) in v {
                        if pick < *n {
                            lane = lane_of(*kind, *green);
                            break;
                        }
                        pick -= n;
                    }
                    lane
                }
                _ => Lane::WalkIn,
            };
            out.push(Arrival {
                at: Timestamp(at),
                item: cell.item,
                lane,
                recorded_wait_ms: None,
            });
        }
    }
    out.sort_by_key(|a| a.at);
    out
}
