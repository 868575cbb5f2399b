//! The hall's alerts, run by the daemon's clock (issue 21), and what the
//! manager's console reads of the hall.
//!
//! The rules and the tracker are the core's ([`hallq_core::alerts`]), pure
//! functions of the hall's state and an instant; this file feeds them the
//! daemon's clock and what the core does not see (the gateway's and the
//! kiosks' failures), and journals the raises and clears in the same record
//! as the events that caused them, or in a record of their own when a
//! timer finds a condition held long enough ([`HallShard::tick`]). Their
//! messages to the managers leave through the outbox like any other.
//!
//! Evaluated after every change and on the daemon's timer; after a change
//! at most once per [`EVALUATE_EVERY_MS`], so a busy hall does not pay the
//! O(windows × items) rules on every call (the timer catches up).

use hallq_core::{AlertSettings, Command, Event, Outside, Tracker};
use hallq_proto::console::{
    AlertView, ConsoleItem, ConsoleView, ConsoleWindow, ConsoleWindowState, FailedPrint,
    WorkOrderState, CONSOLE_LIST_MAX,
};
use hallq_proto::types::Timestamp;
use hallq_proto::views::WindowState;
use hallq_proto::wire::WorkOrderPage;

use super::{HallShard, State};
use crate::clock;
use crate::config::AlertRecipients;

/// After a change, the rules run again only this long after their last
/// run (a bad rating's work order runs them at once).
pub const EVALUATE_EVERY_MS: u64 = 1000;

/// What a hall keeps for its alerts besides the active set (which is the
/// core's, from the journal).
#[derive(Debug)]
pub(super) struct AlertState {
    /// Thresholds and delays (`[hall.alerts]`).
    pub(super) settings: AlertSettings,
    /// Whom a raised alert goes to (`manager_phones`, `webhook`).
    pub(super) recipients: AlertRecipients,
    /// Since when pending conditions hold and active ones have ended.
    tracker: Tracker,
    /// When the rules last ran.
    last_run: Timestamp,
}

impl AlertState {
    pub(super) fn new(settings: AlertSettings, recipients: AlertRecipients) -> AlertState {
        AlertState {
            settings,
            recipients,
            tracker: Tracker::new(),
            last_run: Timestamp(0),
        }
    }
}

/// The most bytes of work orders one [`WorkOrderPage`] carries (roughly:
/// the notes' bytes and a fixed allowance each), leaving room in the 64 KiB
/// frame.
const PAGE_BYTES: usize = 48 * 1024;

/// The same budget for an alerts answer.
const ALERTS_BYTES: usize = 48 * 1024;

fn secs(t: Timestamp) -> u64 {
    t.0 / 1000
}

impl HallShard {
    /// Runs the alert rules at `now` (unless they ran less than
    /// [`EVALUATE_EVERY_MS`] ago and `force` is off) and appends the
    /// events of what they raise and clear to `events`.
    pub(super) fn evaluate_alerts(
        &self,
        st: &mut State,
        now: Timestamp,
        force: bool,
        events: &mut Vec<Event>,
    ) {
        if !force && now.0 < st.alerts.last_run.0.saturating_add(EVALUATE_EVERY_MS) {
            return;
        }
        st.alerts.last_run = now;
        let outside = Outside {
            notification_failed: st.derived.outbox.last_failure_at(),
            print_failed: self.latest_print_failure(),
        };
        let readings = st.hall.alert_readings(&st.alerts.settings, &outside, now);
        let State { hall, alerts, .. } = st;
        let changes = alerts
            .tracker
            .step(hall.active_alerts(), readings, &alerts.settings, now);
        if changes.is_empty() {
            return;
        }
        let command = Command::RecordAlerts {
            changes,
            notify: alerts.recipients.phones.clone(),
            webhook: alerts.recipients.webhook,
        };
        match hall.apply(command, now) {
            Ok(recorded) => {
                for e in &recorded {
                    match e {
                        Event::AlertRaised { alert, .. } => {
                            tracing::warn!(hall = %self.id, alert = %alert.id, "alert raised")
                        }
                        Event::AlertCleared { id, .. } => {
                            tracing::info!(hall = %self.id, alert = %id, "alert cleared")
                        }
                        _ => {}
                    }
                }
                events.extend(recorded);
            }
            Err(e) => tracing::error!(hall = %self.id, error = %e, "alerts not recorded"),
        }
    }

    /// New alert settings and work order rules (a reload).
    pub fn set_alert_rules(
        &self,
        settings: AlertSettings,
        recipients: AlertRecipients,
        rules: hallq_core::WorkOrderRules,
    ) -> bool {
        let mut st = self.state.lock();
        let changed = st.alerts.settings != settings
            || st.alerts.recipients != recipients
            || st.hall.work_order_rules() != &rules;
        st.alerts.settings = settings;
        st.alerts.recipients = recipients;
        st.hall.set_work_order_rules(rules);
        changed
    }

    /// The hall's alerts: the active ones, newest first, then those
    /// cleared at or after `since` (unix seconds), newest first; as many as
    /// fit one frame.
    pub fn alerts(&self, since: Option<u64>) -> Vec<AlertView> {
        let st = self.state.lock();
        let mut active: Vec<AlertView> = st.hall.active_alerts().values().cloned().collect();
        active.sort_by(|a, b| b.raised_at.cmp(&a.raised_at).then(a.id.cmp(&b.id)));
        let cleared = since.into_iter().flat_map(|since| {
            st.hall
                .cleared_alerts()
                .rev()
                .filter(move |a| a.cleared_at.is_some_and(|c| c >= since))
                .cloned()
        });
        let mut out = Vec::new();
        let mut bytes = 0;
        for a in active.into_iter().chain(cleared) {
            bytes += alert_bytes(&a);
            if bytes > ALERTS_BYTES {
                break;
            }
            out.push(a);
        }
        out
    }

    /// One page of the hall's work orders: numbers above `after`, closed
    /// ones only with `include_closed`.
    pub fn work_order_page(&self, include_closed: bool, after: Option<u64>) -> WorkOrderPage {
        let st = self.state.lock();
        let now = clock::now();
        let mut orders = Vec::new();
        let mut bytes = 0;
        let mut next = None;
        for order in st.hall.work_orders() {
            if after.is_some_and(|a| order.id <= a)
                || (!include_closed && order.state() == WorkOrderState::Closed)
            {
                continue;
            }
            let view = st.hall.work_order_view(order, now, false);
            bytes += 400
                + view.callback_note.as_ref().map_or(0, String::len)
                + view.close_note.as_ref().map_or(0, String::len)
                + view.appeal.as_ref().map_or(0, |a| a.reason.len());
            if bytes > PAGE_BYTES && !orders.is_empty() {
                next = orders
                    .last()
                    .map(|o: &hallq_proto::console::WorkOrderView| o.id);
                break;
            }
            orders.push(view);
        }
        WorkOrderPage { orders, next }
    }

    /// Work order `id` as a client sees it now.
    pub fn work_order_view(&self, id: u64) -> Option<hallq_proto::console::WorkOrderView> {
        let st = self.state.lock();
        let order = st.hall.work_order(id)?;
        Some(st.hall.work_order_view(order, clock::now(), false))
    }

    /// The latest print failure, for the alert rules.
    fn latest_print_failure(&self) -> Option<(Timestamp, hallq_proto::types::TicketNo, String)> {
        let log = self.print_failures.lock();
        log.recent
            .back()
            .map(|p| (p.at, p.ticket, p.reason.clone()))
    }

    /// Everything the manager's console shows, now.
    pub fn console(&self) -> ConsoleView {
        let print = self.print_failures();
        let print_today = self.print_failures_today();
        let today = self.today();
        let st = self.state.lock();
        let now = clock::now();
        let hall = &st.hall;
        let view = hall.view();
        let windows = view
            .windows
            .iter()
            .map(|w| {
                let day = hall.window_day(w.number);
                ConsoleWindow {
                    number: w.number,
                    state: match &w.state {
                        WindowState::Closed => ConsoleWindowState::Closed,
                        WindowState::Open => ConsoleWindowState::Open,
                        WindowState::Paused(reason) => ConsoleWindowState::Paused {
                            reason: reason.clone(),
                        },
                    },
                    state_since: secs(day.state_since),
                    staff: w.staff.as_ref().map(|(s, _)| s.clone()),
                    post: w.staff.as_ref().map(|(_, p)| *p),
                    current: w.current,
                    serving: w.serving,
                    current_since: day.current_since.map(secs),
                    served_today: day.served,
                    idle_secs_today: day.idle_secs(now),
                    paused_secs_today: day.paused_secs(now),
                    items: if w.universal {
                        view.items.iter().map(|i| i.code).collect()
                    } else {
                        w.items.clone()
                    },
                }
            })
            .collect();
        let items = view
            .items
            .iter()
            .zip(&hall.spec().items)
            .map(|(i, spec)| {
                let waiting: u32 = i.waiting.iter().sum();
                let open_windows: Vec<_> = view
                    .windows
                    .iter()
                    .filter(|w| {
                        w.state == WindowState::Open && (w.universal || w.items.contains(&i.code))
                    })
                    .map(|w| w.number)
                    .collect();
                ConsoleItem {
                    code: i.code,
                    name: i.name.clone(),
                    waiting: i.waiting,
                    oldest_wait_secs: hall.oldest_waiting(i.code).map(|t| now.secs_since(t)),
                    estimated_wait_secs: (i.open_windows > 0).then(|| {
                        u64::from(waiting) * u64::from(spec.avg_service_secs)
                            / u64::from(i.open_windows)
                    }),
                    open_windows,
                    issued_today: i.issued_today,
                    served_today: hall.served_today(i.code),
                    daily_cap: spec.daily_cap,
                    cap_used: i.issued_today,
                }
            })
            .collect();
        let mut open: Vec<_> = hall
            .work_orders()
            .filter(|o| o.state() != WorkOrderState::Closed)
            .collect();
        open.sort_by_key(|o| (o.deadline, o.id));
        let overdue = open.iter().filter(|o| o.overdue(now)).count();
        let day_start = secs(clock::day_start(today, self.offset_minutes));
        let failures = st.derived.outbox.recent_failures();
        let mut alerts: Vec<AlertView> = hall.active_alerts().values().cloned().collect();
        alerts.sort_by(|a, b| b.raised_at.cmp(&a.raised_at).then(a.id.cmp(&b.id)));
        ConsoleView {
            hall: self.id.clone(),
            hall_name: self.name.clone(),
            now: secs(now),
            day: today,
            issuing: view.issuing,
            wait_target_secs: st.alerts.settings.wait_target_secs,
            windows,
            items,
            open_work_orders: open.len() as u32,
            overdue_work_orders: overdue as u32,
            work_orders: open
                .iter()
                .take(CONSOLE_LIST_MAX)
                .map(|o| hall.work_order_view(o, now, true))
                .collect(),
            failed_notifications: failures.iter().filter(|f| f.at >= day_start).count() as u32,
            latest_failed_notifications: failures
                .iter()
                .rev()
                .take(CONSOLE_LIST_MAX)
                .cloned()
                .collect(),
            print_failures: print_today,
            latest_print_failures: print
                .recent
                .iter()
                .rev()
                .take(CONSOLE_LIST_MAX)
                .map(|p| FailedPrint {
                    ticket: p.ticket,
                    reason: hallq_proto::console::cut(
                        &p.reason,
                        hallq_proto::console::MAX_DETAIL_CHARS,
                    ),
                    at: secs(p.at),
                })
                .collect(),
            active_alerts: alerts.len() as u32,
            alerts: alerts.into_iter().take(CONSOLE_LIST_MAX).collect(),
        }
    }
}

/// About how many bytes an alert takes in a frame.
fn alert_bytes(a: &AlertView) -> usize {
    120 + a.id.len() + a.subject.len() + a.detail.len() + 2 * a.open_windows.len()
}
