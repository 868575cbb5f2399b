//! `[hall.alerts]` and `[hall.work_orders]` (issue 21): when the hall's
//! managers are alerted and whom the alerts go to; how long a 差评工单
//! may stay open.
//!
//! ```toml
//! [hall.alerts]
//! manager_phones = ["13800138000"]   # each alert is an SMS to each
//! webhook = false                    # also one message for the bridge's [alerts] endpoint
//! paused_max_minutes = 30            # a window paused longer
//! unstaffed_max_minutes = 5          # open with nobody logged in
//! idle_max_minutes = 5               # open and idle while people wait
//! wait_clear_margin_minutes = 5      # a wait alert clears below target − this
//! raise_after_seconds = 60           # a threshold held this long raises
//! clear_after_seconds = 300          # a condition gone this long clears
//! event_alert_minutes = 30           # bad rating, SMS or print failure: active this long
//!
//! [hall.work_orders]
//! deadline_working_days = 10        # seed 000 §四(六)6: 10个工作日
//! holidays = ["2026-10-01", "2026-10-02"]
//! ```
//!
//! The wait target is the hall's `wait_target_minutes`.

use std::collections::BTreeSet;

use hallq_core::{AlertSettings, WorkOrderRules};
use hallq_proto::types::Phone;
use serde::Deserialize;

/// `[hall.alerts]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAlerts {
    manager_phones: Vec<String>,
    webhook: bool,
    paused_max_minutes: u32,
    unstaffed_max_minutes: u32,
    idle_max_minutes: u32,
    wait_clear_margin_minutes: u32,
    raise_after_seconds: u32,
    clear_after_seconds: u32,
    event_alert_minutes: u32,
}

impl Default for RawAlerts {
    fn default() -> Self {
        let d = AlertSettings::default();
        RawAlerts {
            manager_phones: Vec::new(),
            webhook: false,
            paused_max_minutes: (d.paused_max_secs / 60) as u32,
            unstaffed_max_minutes: (d.unstaffed_max_secs / 60) as u32,
            idle_max_minutes: (d.idle_max_secs / 60) as u32,
            wait_clear_margin_minutes: (d.wait_clear_margin_secs / 60) as u32,
            raise_after_seconds: d.raise_after_secs as u32,
            clear_after_seconds: d.clear_after_secs as u32,
            event_alert_minutes: (d.event_hold_secs / 60) as u32,
        }
    }
}

/// `[hall.work_orders]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawWorkOrders {
    deadline_working_days: u32,
    holidays: Vec<String>,
}

impl Default for RawWorkOrders {
    fn default() -> Self {
        RawWorkOrders {
            deadline_working_days: WorkOrderRules::DEFAULT_DEADLINE_WORKING_DAYS,
            holidays: Vec::new(),
        }
    }
}

/// At most this many manager phones per hall (each alert is one SMS each).
pub const MAX_MANAGER_PHONES: usize = 10;

/// Whom a hall's alerts go to: `manager_phones` by SMS, and one message for
/// the bridge's alerts webhook when `webhook` is on. Neither: the alerts are
/// journaled, shown and counted, and sent to nobody.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertRecipients {
    /// Each gets an SMS per alert.
    pub phones: Vec<Phone>,
    /// One message per alert for the bridge's `[alerts]` endpoint.
    pub webhook: bool,
}

/// The hall's alert settings and recipients; problems pushed.
pub(super) fn alerts(
    id: &str,
    raw: RawAlerts,
    wait_target_secs: u64,
    problems: &mut Vec<String>,
) -> (AlertSettings, AlertRecipients) {
    let mut phones = Vec::new();
    for p in &raw.manager_phones {
        match Phone::mobile(p.as_str()) {
            Ok(phone) => phones.push(phone),
            Err(e) => problems.push(format!(
                "hall {id:?}: [hall.alerts] manager_phones: {p:?} is not a mainland mobile number ({e})"
            )),
        }
    }
    if phones.len() > MAX_MANAGER_PHONES {
        problems.push(format!(
            "hall {id:?}: [hall.alerts] manager_phones: at most {MAX_MANAGER_PHONES}, got {}",
            phones.len()
        ));
    }
    let mut minutes = |key: &str, v: u32, range: std::ops::RangeInclusive<u32>| {
        if !range.contains(&v) {
            problems.push(format!(
                "hall {id:?}: [hall.alerts] {key} must be {}-{}, got {v}",
                range.start(),
                range.end()
            ));
        }
        u64::from(v)
    };
    let settings = AlertSettings {
        wait_target_secs,
        wait_clear_margin_secs: minutes(
            "wait_clear_margin_minutes",
            raw.wait_clear_margin_minutes,
            0..=600,
        ) * 60,
        paused_max_secs: minutes("paused_max_minutes", raw.paused_max_minutes, 1..=600) * 60,
        unstaffed_max_secs: minutes("unstaffed_max_minutes", raw.unstaffed_max_minutes, 1..=600)
            * 60,
        idle_max_secs: minutes("idle_max_minutes", raw.idle_max_minutes, 1..=600) * 60,
        raise_after_secs: minutes("raise_after_seconds", raw.raise_after_seconds, 0..=3600),
        clear_after_secs: minutes("clear_after_seconds", raw.clear_after_seconds, 0..=3600),
        event_hold_secs: minutes("event_alert_minutes", raw.event_alert_minutes, 1..=1440) * 60,
    };
    if settings.wait_clear_margin_secs >= wait_target_secs {
        problems.push(format!(
            "hall {id:?}: [hall.alerts] wait_clear_margin_minutes ({}) must be less than \
             wait_target_minutes ({}): a wait alert clears below the target minus the margin",
            settings.wait_clear_margin_secs / 60,
            wait_target_secs / 60
        ));
    }
    (
        settings,
        AlertRecipients {
            phones,
            webhook: raw.webhook,
        },
    )
}

/// The hall's work order rules; problems pushed.
pub(super) fn work_orders(
    id: &str,
    raw: RawWorkOrders,
    problems: &mut Vec<String>,
) -> WorkOrderRules {
    if !(1..=60).contains(&raw.deadline_working_days) {
        problems.push(format!(
            "hall {id:?}: [hall.work_orders] deadline_working_days must be 1-60, got {}",
            raw.deadline_working_days
        ));
    }
    let mut holidays = BTreeSet::new();
    for h in &raw.holidays {
        match hallq_proto::appointment::parse_day(h) {
            Ok(day) => {
                holidays.insert(day);
            }
            Err(e) => problems.push(format!(
                "hall {id:?}: [hall.work_orders] holidays: {h:?} is not a date yyyy-mm-dd ({e})"
            )),
        }
    }
    WorkOrderRules {
        deadline_working_days: raw.deadline_working_days,
        holidays,
    }
}
