//! Alert rules, pure (issue 21): which conditions hold in a hall at an
//! instant ([`Hall::alert_readings`]), and a [`Tracker`] that turns those
//! readings into alerts raised once and cleared once, without flapping.
//!
//! Every condition has a stable id, its kind and subject (`wait:A`,
//! `paused:3`, `bad_rating:A012`). A reading is either *over* (the
//! condition holds) or *near* (a threshold condition that is no longer over
//! but still within the clear margin of its threshold). The tracker:
//!
//! - raises an alert once its condition has been over for the raise delay
//!   (threshold kinds: `raise_after_secs`; the kinds that are events — a
//!   bad rating, a failed SMS or print, an overdue work order — at once);
//! - keeps it while the reading is over *or near*: a wait hovering around
//!   the target stays one alert (hysteresis: it clears only below the
//!   target minus `wait_clear_margin_secs`);
//! - clears it once its reading has been gone for `clear_after_secs`.
//!
//! The active set is the hall's (journaled as [`Event::AlertRaised`] and
//! [`Event::AlertCleared`], so a restart does not raise an alert again);
//! the tracker only remembers since when a pending condition holds or an
//! active one has ended, which a restart may forget at the cost of waiting
//! the delay once more.
//!
//! The rules, and where they come from:
//! - `wait`: an item's oldest wait, or the estimated wait of a ticket
//!   issued now, is over `wait_target_minutes` (the hall's promise,
//!   最多等候30分钟). The alert names the paused or closed windows serving
//!   the item, best first (DB33/T 2036.4 §7.3.3: balance the windows).
//! - `paused`: a window paused longer than `paused_max_minutes` (§8.2.2.2:
//!   a pause is shown, and should be short).
//! - `nobody_logged_in`: an open window without staff for
//!   `unstaffed_max_minutes` (AB岗: a counter is staffed by its A or B post).
//! - `idle`: an open window with no ticket for `idle_max_minutes` while its
//!   items have people waiting.
//! - `bad_rating`: a rating of 不满意 or 非常不满意 whose work order is still
//!   open, for `event_alert_minutes` (seed 000 §四(六)6).
//! - `notification_failed`, `print_failed`: the gateway gave up on an SMS,
//!   a kiosk failed to print, within `event_alert_minutes`.
//! - `work_order_overdue`: a work order past its deadline and not closed.

use std::collections::BTreeMap;

use hallq_proto::console::{cut, AlertKind, AlertView, MAX_DETAIL_CHARS};
use hallq_proto::types::{TicketNo, Timestamp, WindowNo};
use hallq_proto::views::WindowState;

use crate::workorders::WorkOrderRules;
use crate::Hall;

/// The alert thresholds and delays of a hall, from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSettings {
    /// `wait`: over this, seconds (`wait_target_minutes`).
    pub wait_target_secs: u64,
    /// `wait`: cleared only below the target minus this, seconds.
    pub wait_clear_margin_secs: u64,
    /// `paused`: longer than this, seconds.
    pub paused_max_secs: u64,
    /// `nobody_logged_in`: longer than this, seconds.
    pub unstaffed_max_secs: u64,
    /// `idle`: longer than this, seconds.
    pub idle_max_secs: u64,
    /// Threshold kinds are raised after being over this long, seconds.
    pub raise_after_secs: u64,
    /// Every kind is cleared after being gone this long, seconds.
    pub clear_after_secs: u64,
    /// The event kinds hold this long after their event, seconds.
    pub event_hold_secs: u64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            wait_target_secs: 30 * 60,
            wait_clear_margin_secs: 5 * 60,
            paused_max_secs: 30 * 60,
            unstaffed_max_secs: 5 * 60,
            idle_max_secs: 5 * 60,
            raise_after_secs: 60,
            clear_after_secs: 5 * 60,
            event_hold_secs: 30 * 60,
        }
    }
}

/// What the hall's core does not see: the latest failures outside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outside {
    /// The gateway's latest give-up: when, the notification's id, why.
    pub notification_failed: Option<(Timestamp, String, String)>,
    /// The latest failed print: when, the ticket, the kiosk's reason.
    pub print_failed: Option<(Timestamp, TicketNo, String)>,
}

/// One condition at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The alert it would raise (`raised_at` is the reading's instant).
    pub alert: AlertView,
    /// Over the threshold (`true`) or only near it, within the clear
    /// margin (`false`).
    pub over: bool,
}

/// A change of the active set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AlertChange {
    /// Raise this alert.
    Raise(AlertView),
    /// Clear the active alert with this id.
    Clear(String),
}

fn secs(t: Timestamp) -> u64 {
    t.0 / 1000
}

/// An alert of `kind` about `subject`, raised at `now`; the caller fills in
/// the rest.
fn alert(kind: AlertKind, subject: String, now: Timestamp) -> AlertView {
    AlertView {
        id: format!("{}:{subject}", kind.key()),
        kind,
        subject,
        item: None,
        window: None,
        ticket: None,
        value_secs: None,
        limit_secs: None,
        open_windows: Vec::new(),
        rating: None,
        detail: String::new(),
        raised_at: secs(now),
        cleared_at: None,
    }
}

/// How many windows a `wait` alert recommends at most.
const RECOMMENDED_WINDOWS: usize = 5;

impl Hall {
    /// Every condition that holds (or is near its threshold) at `now`. O(W
    /// × I + work orders): no waiting ticket is visited.
    pub fn alert_readings(
        &self,
        settings: &AlertSettings,
        outside: &Outside,
        now: Timestamp,
    ) -> Vec<Reading> {
        let mut out = Vec::new();
        if self.day.is_none() {
            return out;
        }
        // `wait`, per item.
        for (i, item) in self.items.iter().enumerate() {
            let code = item.spec.code;
            let waiting = item.waiting() as u64;
            let oldest = self.oldest_waiting(code).map(|t| now.secs_since(t));
            let estimated = (item.open_windows > 0).then(|| {
                waiting * u64::from(item.spec.avg_service_secs) / u64::from(item.open_windows)
            });
            let Some(value) = oldest.max(estimated.filter(|_| waiting > 0)) else {
                continue;
            };
            let near_from = settings
                .wait_target_secs
                .saturating_sub(settings.wait_clear_margin_secs);
            if value <= near_from {
                continue;
            }
            let mut a = alert(AlertKind::Wait, code.to_string(), now);
            a.item = Some(code);
            a.value_secs = Some(value);
            a.limit_secs = Some(settings.wait_target_secs);
            a.open_windows = self.windows_to_open(i);
            out.push(Reading {
                alert: a,
                over: value > settings.wait_target_secs,
            });
        }
        // The windows.
        for (w, window) in self.windows.iter().enumerate() {
            let number = window.spec.number;
            let day = self.window_day(number);
            // A window condition over its limit since `since`.
            let over = |kind: AlertKind, since: Timestamp, limit: u64| {
                let value = now.secs_since(since);
                (value > limit).then(|| {
                    let mut a = alert(kind, number.to_string(), now);
                    a.window = Some(number);
                    a.value_secs = Some(value);
                    a.limit_secs = Some(limit);
                    Reading {
                        alert: a,
                        over: true,
                    }
                })
            };
            match &window.state {
                WindowState::Paused(reason) => {
                    out.extend(
                        over(AlertKind::Paused, day.state_since, settings.paused_max_secs).map(
                            |mut r| {
                                r.alert.detail = reason.clone();
                                r
                            },
                        ),
                    );
                }
                WindowState::Open => {
                    if window.staff.is_none() {
                        out.extend(over(
                            AlertKind::NobodyLoggedIn,
                            day.state_since.max(day.staff_since),
                            settings.unstaffed_max_secs,
                        ));
                    }
                    if let (None, Some(idle_since)) = (window.current, day.idle_since) {
                        if let Some(oldest) = self.oldest_waiting_for(w) {
                            out.extend(over(
                                AlertKind::Idle,
                                idle_since.max(oldest),
                                settings.idle_max_secs,
                            ));
                        }
                    }
                }
                WindowState::Closed => {}
            }
        }
        // Work orders: a bad rating still open, and overdue ones.
        for order in self.work_orders.orders.values() {
            if order.closed.is_none()
                && order.called_back.is_none()
                && now.secs_since(order.opened_at) < settings.event_hold_secs
            {
                let mut a = alert(AlertKind::BadRating, order.ticket.to_string(), now);
                a.item = Some(order.item);
                a.window = Some(order.window);
                a.ticket = Some(order.ticket);
                a.rating = Some(order.rating.value());
                a.detail = format!("#{}", order.id);
                out.push(Reading {
                    alert: a,
                    over: true,
                });
            }
            if order.overdue(now) {
                let mut a = alert(AlertKind::WorkOrderOverdue, order.id.to_string(), now);
                a.item = Some(order.item);
                a.window = Some(order.window);
                a.ticket = Some(order.ticket);
                a.rating = Some(order.rating.value());
                a.value_secs = Some(now.secs_since(order.deadline));
                out.push(Reading {
                    alert: a,
                    over: true,
                });
            }
        }
        // Failures outside the core: one alert each while recent, however
        // many happened (a printer out of paper fails every slip).
        if let Some((at, id, reason)) = &outside.notification_failed {
            if now.secs_since(*at) < settings.event_hold_secs {
                let mut a = alert(AlertKind::NotificationFailed, "sms".into(), now);
                a.detail = cut(&format!("{id}: {reason}"), MAX_DETAIL_CHARS);
                out.push(Reading {
                    alert: a,
                    over: true,
                });
            }
        }
        if let Some((at, ticket, reason)) = &outside.print_failed {
            if now.secs_since(*at) < settings.event_hold_secs {
                let mut a = alert(AlertKind::PrintFailed, "kiosk".into(), now);
                a.ticket = Some(*ticket);
                a.detail = cut(reason, MAX_DETAIL_CHARS);
                out.push(Reading {
                    alert: a,
                    over: true,
                });
            }
        }
        out
    }

    /// The paused or closed windows serving item index `item`, best first:
    /// a paused one (its staff is at the counter), then a closed one with
    /// staff logged in, then one serving fewer items (it is there for this
    /// item rather than for all), then the lower number.
    fn windows_to_open(&self, item: usize) -> Vec<WindowNo> {
        let mut candidates: Vec<_> = self
            .windows
            .iter()
            .filter(|w| w.serves & (1 << item) != 0 && !w.is_open())
            .map(|w| {
                (
                    !matches!(w.state, WindowState::Paused(_)),
                    w.staff.is_none(),
                    w.serves.count_ones(),
                    w.spec.number,
                )
            })
            .collect();
        candidates.sort();
        candidates
            .into_iter()
            .take(RECOMMENDED_WINDOWS)
            .map(|c| c.3)
            .collect()
    }

    /// Since when the longest-waiting ticket window index `w` could take
    /// waits (its referrals and its items' lines), if any. O(I).
    fn oldest_waiting_for(&self, w: usize) -> Option<Timestamp> {
        let window = &self.windows[w];
        let referral = window.referrals.first().map(|(_, waiter)| waiter.since);
        let items = crate::bits(window.serves).filter_map(|i| {
            self.items[i]
                .lanes
                .iter()
                .filter_map(|lane| lane.first().map(|(_, waiter)| waiter.since))
                .min()
        });
        referral.into_iter().chain(items).min()
    }

    /// [`crate::Command::RecordAlerts`]: the events of the changes that
    /// apply (a raise of an inactive id, a clear of an active one). Never
    /// refused: the tracker decided them from this very state.
    pub(crate) fn decide_alerts(
        &self,
        changes: Vec<AlertChange>,
        notify: Vec<hallq_proto::types::Phone>,
        webhook: bool,
        at: Timestamp,
    ) -> Vec<crate::Event> {
        let mut raised = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for change in changes {
            match change {
                AlertChange::Raise(alert)
                    if !self.alerts.active.contains_key(&alert.id)
                        && raised.insert(alert.id.clone()) =>
                {
                    out.push(crate::Event::AlertRaised {
                        alert,
                        notify: notify.clone(),
                        webhook,
                        at,
                    });
                }
                AlertChange::Clear(id) if self.alerts.active.contains_key(&id) => {
                    out.push(crate::Event::AlertCleared { id, at });
                }
                _ => {}
            }
        }
        out
    }

    /// The alerts active now, by id.
    pub fn active_alerts(&self) -> &BTreeMap<String, AlertView> {
        &self.alerts.active
    }

    /// Alerts cleared lately, oldest first (at most [`CLEARED_KEPT`]).
    pub fn cleared_alerts(&self) -> impl DoubleEndedIterator<Item = &AlertView> {
        self.alerts.cleared.iter()
    }

    /// The hall's work order rules.
    pub fn work_order_rules(&self) -> &WorkOrderRules {
        &self.work_order_rules
    }
}

/// How many cleared alerts a hall keeps for `hallq alerts --all`.
pub const CLEARED_KEPT: usize = 200;

/// The hall's alerts: the active ones and the latest cleared.
#[derive(Debug, Clone, Default)]
pub(crate) struct Alerts {
    pub(crate) active: BTreeMap<String, AlertView>,
    pub(crate) cleared: std::collections::VecDeque<AlertView>,
}

impl Alerts {
    pub(crate) fn raise(&mut self, alert: &AlertView) {
        self.active.insert(alert.id.clone(), alert.clone());
    }

    pub(crate) fn clear(&mut self, id: &str, at: Timestamp) {
        if let Some(mut a) = self.active.remove(id) {
            a.cleared_at = Some(secs(at));
            if self.cleared.len() == CLEARED_KEPT {
                self.cleared.pop_front();
            }
            self.cleared.push_back(a);
        }
    }
}

/// Whether a kind is raised at once (an event) rather than after the raise
/// delay (a threshold held for a while).
fn raised_at_once(kind: AlertKind) -> bool {
    matches!(
        kind,
        AlertKind::BadRating
            | AlertKind::NotificationFailed
            | AlertKind::PrintFailed
            | AlertKind::WorkOrderOverdue
    )
}

/// Since when each pending condition has been over and each active alert's
/// condition has been gone: the memory behind the raise and clear delays.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    over_since: BTreeMap<String, Timestamp>,
    gone_since: BTreeMap<String, Timestamp>,
}

impl Tracker {
    /// A tracker that remembers nothing yet.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// The changes to make to `active` for `readings` taken at `now`.
    pub fn step(
        &mut self,
        active: &BTreeMap<String, AlertView>,
        readings: Vec<Reading>,
        settings: &AlertSettings,
        now: Timestamp,
    ) -> Vec<AlertChange> {
        let mut changes = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for reading in readings {
            let id = reading.alert.id.clone();
            seen.insert(id.clone());
            if active.contains_key(&id) {
                // Over or near: it still holds (hysteresis).
                self.gone_since.remove(&id);
                continue;
            }
            if !reading.over {
                self.over_since.remove(&id);
                continue;
            }
            let since = *self.over_since.entry(id.clone()).or_insert(now);
            let delay = if raised_at_once(reading.alert.kind) {
                0
            } else {
                settings.raise_after_secs
            };
            if now.secs_since(since) >= delay {
                self.over_since.remove(&id);
                changes.push(AlertChange::Raise(reading.alert));
            }
        }
        self.over_since.retain(|id, _| seen.contains(id));
        for id in active.keys() {
            if seen.contains(id) {
                continue;
            }
            let since = *self.gone_since.entry(id.clone()).or_insert(now);
            if now.secs_since(since) >= settings.clear_after_secs {
                self.gone_since.remove(id);
                changes.push(AlertChange::Clear(id.clone()));
            }
        }
        self.gone_since.retain(|id, _| active.contains_key(id));
        changes
    }
}
