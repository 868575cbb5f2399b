//! A new configuration for a running hall (a reload): items, windows,
//! mappings and settings change; every ticket keeps its number, lane, place
//! and state.
//!
//! Lines are keyed by [`Place`](super::Place), which does not depend on the
//! configuration, so they move over whole; only the indices that tickets and
//! windows hold (item index, window index) are remapped.

use std::collections::HashMap;

use hallq_proto::types::{ItemCode, Timestamp};
use hallq_proto::views::WindowState;

use super::{DispatchError, Event, Hall, HallSpec, Line, Touched};

impl Hall {
    /// [`Command::Reconfigure`](super::Command::Reconfigure). O(I + W + k log n):
    /// a rare, operator-driven change.
    pub(super) fn decide_reconfigure(
        &self,
        spec: HallSpec,
        at: Timestamp,
        touched: &mut Touched,
    ) -> Result<Event, DispatchError> {
        self.check_reconfigure(&spec)?;
        // Any item's or window's threshold may move (windows come and go,
        // mappings change), so every line is looked at from its head.
        touched.items = u32::MAX >> (32 - ItemCode::COUNT);
        touched.all_windows = true;
        Ok(Event::Reconfigured { spec, at })
    }

    /// Whether `spec` can replace the current configuration now. An item can
    /// go only if it has no tickets today (its numbers are on slips in
    /// visitors' hands); a window only if it is closed with nothing waiting
    /// for it.
    pub fn check_reconfigure(&self, spec: &HallSpec) -> Result<(), DispatchError> {
        spec.validate()?;
        for item in &self.items {
            let kept = spec.items.iter().any(|i| i.code == item.spec.code);
            if !kept && !item.by_seq.is_empty() {
                return Err(DispatchError::ReconfigureRefused(format!(
                    "item {} has {} ticket(s) today; remove it after the business day ends",
                    item.spec.code,
                    item.by_seq.len()
                )));
            }
        }
        for w in &self.windows {
            let kept = spec.windows.iter().any(|n| n.number == w.spec.number);
            if kept {
                continue;
            }
            if w.state != WindowState::Closed || w.current.is_some() {
                return Err(DispatchError::ReconfigureRefused(format!(
                    "window {} is still in use; close it before removing it",
                    w.spec.number
                )));
            }
            if !w.referrals.is_empty() {
                return Err(DispatchError::ReconfigureRefused(format!(
                    "window {} has {} referred ticket(s) waiting",
                    w.spec.number,
                    w.referrals.len()
                )));
            }
        }
        Ok(())
    }

    /// Rebuilds the hall on `spec`, moving every ticket, line and window
    /// state over. [`Hall::check_reconfigure`] has approved `spec`.
    pub(super) fn rebuild(&mut self, spec: HallSpec) {
        let mut next = Hall::new(spec).expect("validated before the event was made");
        let mut item_map = HashMap::new();
        for (old, item) in std::mem::take(&mut self.items).into_iter().enumerate() {
            if let Ok(new) = next.item_idx(item.spec.code) {
                item_map.insert(old, new);
                next.items[new].lanes = item.lanes;
                next.items[new].by_seq = item.by_seq;
            }
        }
        let mut window_map = HashMap::new();
        for (old, w) in std::mem::take(&mut self.windows).into_iter().enumerate() {
            if let Ok(new) = next.window_idx(w.spec.number) {
                window_map.insert(old, new);
                let target = &mut next.windows[new];
                target.state = w.state;
                target.current = w.current;
                target.staff = w.staff;
                target.priority_streak = w.priority_streak;
                target.referrals = w.referrals;
                target.called_at = w.called_at;
                target.recalls = w.recalls;
                target.last_finished = w.last_finished;
            }
        }
        for t in &mut self.tickets {
            // Removed items had no tickets today and removed windows held
            // none, so every index has a new home.
            t.item = item_map[&t.item];
            t.line = t.line.map(|line| match line {
                Line::Item(item, lane) => Line::Item(item_map[&item], lane),
                Line::Window(w) => Line::Window(window_map[&w]),
            });
        }
        next.tickets = std::mem::take(&mut self.tickets);
        next.first_ticket = self.first_ticket;
        next.next_issue = self.next_issue;
        next.next_behind = self.next_behind;
        next.day = self.day;
        next.issuing = self.issuing;
        next.appointments = std::mem::take(&mut self.appointments);
        // Not part of the spec: the daemon's limits and their index stay.
        next.phone_limits = self.phone_limits;
        next.counter_rules = self.counter_rules;
        next.tickets_by_phone = std::mem::take(&mut self.tickets_by_phone);
        // Issue 21: the day's floor figures, work orders and alerts are the
        // hall's, not its layout's.
        next.floor = std::mem::take(&mut self.floor);
        next.work_orders = std::mem::take(&mut self.work_orders);
        next.work_order_rules = std::mem::take(&mut self.work_order_rules);
        next.alerts = std::mem::take(&mut self.alerts);
        for (i, item) in next.items.iter().enumerate() {
            for (lane, q) in item.lanes.iter().enumerate() {
                if !q.is_empty() {
                    next.nonempty[lane] |= 1 << i;
                }
            }
        }
        for w in 0..next.windows.len() {
            if next.windows[w].is_open() {
                next.count_open(w, true);
            }
        }
        *self = next;
    }
}
