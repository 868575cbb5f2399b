//! 差评工单 with a lifecycle, and 申诉复核 (issue 21).
//!
//! Seed 000 §四(六)6: a rating of 不满意 or 非常不满意 raises a work order
//! to the 12345 hotline, and the hall must 回访核实 and handle it "在10个
//! 工作日内" — within ten working days. 国办发〔2019〕51号 (the national
//! 好差评 rules) names the five grades 非常满意、满意、基本满意、不满意、
//! 非常不满意 and asks that bad ratings be called back (回访) and put
//! right; a rating found, on review, not to be about the service (申诉复核)
//! is set aside from the figures but never deleted.
//!
//! So a work order goes open → called back (回访, with a note) → closed
//! (with a note); it may also be closed straight from open. Its deadline
//! is fixed when it opens and journaled with it
//! ([`Event::WorkOrderOpened`]), so a later change of the rules or the
//! calendar does not move it. Working days are Monday to Friday in the
//! hall's time zone, except the weekdays its opening hours close, the days
//! an admin closed (`hallq slots close-day`) and the hall's listed
//! `holidays`.
//!
//! Work orders live across business days: a new day does not clear them.

use std::collections::{BTreeMap, BTreeSet};

use hallq_proto::console::{
    cut, AppealView, WorkOrderState, WorkOrderView, CONSOLE_NOTE_CHARS, MAX_NOTE_CHARS,
};
use hallq_proto::types::{ItemCode, Rating, StaffId, TicketNo, Timestamp, WindowNo};
use serde::{Deserialize, Serialize};

use crate::appointment::day_of;
use crate::{BusinessDay, DispatchError, Event, Hall};

/// How work orders are handled in this hall; set by the daemon from its
/// config, never replayed (each work order's deadline is in its event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOrderRules {
    /// Working days a work order may stay open (seed 000 §四(六)6: 10).
    pub deadline_working_days: u32,
    /// Days that are not working days besides weekends (public holidays).
    pub holidays: BTreeSet<BusinessDay>,
}

impl WorkOrderRules {
    /// Seed 000 §四(六)6: "承办单位应在10个工作日内进行回访核实并作相应处理及反馈".
    pub const DEFAULT_DEADLINE_WORKING_DAYS: u32 = 10;
}

impl Default for WorkOrderRules {
    fn default() -> Self {
        WorkOrderRules {
            deadline_working_days: Self::DEFAULT_DEADLINE_WORKING_DAYS,
            holidays: BTreeSet::new(),
        }
    }
}

/// One work order, as the hall keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrder {
    /// The hall's number, from 1.
    pub id: u64,
    /// The business day of the service.
    pub day: BusinessDay,
    /// The service's ticket.
    pub ticket: TicketNo,
    /// The item it was served for.
    pub item: ItemCode,
    /// The window that served.
    pub window: WindowNo,
    /// Who served, if logged in.
    pub staff: Option<StaffId>,
    /// 1 or 2.
    pub rating: Rating,
    /// Opened at.
    pub opened_at: Timestamp,
    /// The last working day allowed, `yyyymmdd`, local.
    pub deadline_day: BusinessDay,
    /// The end of that day (local midnight after it).
    pub deadline: Timestamp,
    /// 回访: when, and the note.
    pub called_back: Option<(Timestamp, String)>,
    /// Closed: when, and the note.
    pub closed: Option<(Timestamp, String)>,
}

impl WorkOrder {
    /// Where it is now.
    pub fn state(&self) -> WorkOrderState {
        match (&self.called_back, &self.closed) {
            (_, Some(_)) => WorkOrderState::Closed,
            (Some(_), None) => WorkOrderState::CalledBack,
            (None, None) => WorkOrderState::Open,
        }
    }

    /// Past its deadline at `now` and not closed.
    pub fn overdue(&self, now: Timestamp) -> bool {
        self.closed.is_none() && now >= self.deadline
    }
}

/// An appeal (申诉复核), as the hall keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appeal {
    /// The rating set aside.
    pub rating: Rating,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// The hall's work orders and appeals.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkOrderBook {
    pub(crate) orders: BTreeMap<u64, WorkOrder>,
    /// By (business day, ticket): a rating appealed and set aside.
    pub(crate) appeals: BTreeMap<(BusinessDay, TicketNo), Appeal>,
}

/// Unix seconds of a timestamp.
fn secs(t: Timestamp) -> u64 {
    t.0 / 1000
}

/// The deadline of a work order opened at `at`: the `n`th working day
/// after the day it opened (the opening day does not count, as a deadline
/// "within N working days" is read), and the instant that day ends.
/// `is_working` says whether a local day is a working day.
pub fn deadline(
    at: Timestamp,
    offset_minutes: i32,
    n: u32,
    is_working: impl Fn(BusinessDay, usize) -> bool,
) -> (BusinessDay, Timestamp) {
    let local_ms = at.0 as i64 + i64::from(offset_minutes) * 60_000;
    let mut days = local_ms.div_euclid(86_400_000);
    let mut left = n;
    // At most n working days to find; a calendar with none (every day a
    // holiday) stops after ten years rather than loop for ever.
    let mut budget = 3660;
    while left > 0 && budget > 0 {
        days += 1;
        budget -= 1;
        let weekday = (days + 3).rem_euclid(7) as usize;
        if is_working(day_of(days), weekday) {
            left -= 1;
        }
    }
    let end_ms = (days + 1) * 86_400_000 - i64::from(offset_minutes) * 60_000;
    (day_of(days), Timestamp(end_ms.max(0) as u64))
}

fn check_note(note: &str) -> Result<(), DispatchError> {
    if note.trim().is_empty() {
        return Err(DispatchError::NoteRequired);
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(DispatchError::TooLong {
            field: "note",
            max: MAX_NOTE_CHARS,
        });
    }
    Ok(())
}

impl Hall {
    /// Sets how work orders are handled, from the hall's config.
    pub fn set_work_order_rules(&mut self, rules: WorkOrderRules) {
        self.work_order_rules = rules;
    }

    /// Whether `day` (`weekday` 0 = Monday) is a working day: Monday to
    /// Friday, open by the hall's hours, not closed by an admin, not a
    /// listed holiday.
    fn is_working_day(&self, day: BusinessDay, weekday: usize) -> bool {
        weekday < 5
            && self
                .spec
                .day
                .hours
                .as_ref()
                .is_none_or(|week| week[weekday].is_some())
            && !self.appointments.is_closed(day)
            && !self.work_order_rules.holidays.contains(&day)
    }

    /// The work order `events` (just decided) raise: one per service rated
    /// 1 or 2 (seed 000 §四(六)6), numbered after the last.
    pub(crate) fn work_orders_for(&self, events: &[Event]) -> Vec<Event> {
        let mut next = self
            .work_orders
            .orders
            .keys()
            .next_back()
            .map_or(1, |n| n + 1);
        let mut out = Vec::new();
        for event in events {
            let (ticket, number, window, staff, rating, at) = match event {
                Event::Finished {
                    ticket,
                    number,
                    window,
                    staff,
                    rating: Some(rating),
                    at,
                }
                | Event::Rated {
                    ticket,
                    number,
                    window,
                    staff,
                    rating,
                    at,
                } if rating.value() <= 2 => (ticket, number, window, staff, rating, at),
                _ => continue,
            };
            let (deadline_day, deadline) = deadline(
                *at,
                self.spec.day.offset_minutes,
                self.work_order_rules.deadline_working_days,
                |d, w| self.is_working_day(d, w),
            );
            out.push(Event::WorkOrderOpened {
                order: WorkOrder {
                    id: next,
                    day: self.day.unwrap_or_default(),
                    ticket: *number,
                    item: self.item_of(*ticket).unwrap_or(number.item),
                    window: *window,
                    staff: staff.clone(),
                    rating: *rating,
                    opened_at: *at,
                    deadline_day,
                    deadline,
                    called_back: None,
                    closed: None,
                },
                at: *at,
            });
            next += 1;
        }
        out
    }

    /// [`crate::Command::CallBackWorkOrder`]: 回访, on an open work order.
    pub(crate) fn decide_call_back(
        &self,
        id: u64,
        note: String,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let order = self
            .work_orders
            .orders
            .get(&id)
            .ok_or(DispatchError::UnknownWorkOrder(id))?;
        check_note(&note)?;
        if order.state() != WorkOrderState::Open {
            return Err(DispatchError::WorkOrderState {
                id,
                state: order.state(),
            });
        }
        Ok(Event::WorkOrderCalledBack { id, note, at })
    }

    /// [`crate::Command::CloseWorkOrder`]: closed, from open or called back.
    pub(crate) fn decide_close_work_order(
        &self,
        id: u64,
        note: String,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let order = self
            .work_orders
            .orders
            .get(&id)
            .ok_or(DispatchError::UnknownWorkOrder(id))?;
        check_note(&note)?;
        if order.state() == WorkOrderState::Closed {
            return Err(DispatchError::WorkOrderState {
                id,
                state: order.state(),
            });
        }
        Ok(Event::WorkOrderClosed { id, note, at })
    }

    /// [`crate::Command::AppealRating`]: 申诉复核 of service `ticket`'s
    /// rating on `day` (today if `None`): today's services from their
    /// tickets, a past day's through its work order.
    pub(crate) fn decide_appeal(
        &self,
        ticket: TicketNo,
        day: Option<BusinessDay>,
        reason: String,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        check_note(&reason)?;
        let today = self.day.ok_or(DispatchError::NoBusinessDay)?;
        let day = day.unwrap_or(today);
        let mut lead = ticket;
        let rating = if day == today {
            let mut id = self.ticket_by_number(ticket)?;
            let service = self.ticket(id).service.as_ref();
            // A batch companion's rating is its lead's (one service).
            if let Some(l) = service.and_then(|s| s.lead) {
                id = l;
            }
            lead = self.ticket(id).number;
            self.ticket(id).service.as_ref().and_then(|s| s.rating)
        } else {
            self.work_orders
                .orders
                .values()
                .find(|o| o.day == day && o.ticket == ticket)
                .map(|o| o.rating)
        };
        let rating = rating.ok_or(DispatchError::NotRated(ticket))?;
        if self.work_orders.appeals.contains_key(&(day, lead)) {
            return Err(DispatchError::AlreadyAppealed(lead));
        }
        Ok(Event::RatingAppealed {
            day,
            ticket: lead,
            rating,
            reason,
            at,
        })
    }

    /// Applies a work order or appeal event.
    pub(crate) fn replay_work_order(&mut self, event: &Event) {
        match event {
            Event::WorkOrderOpened { order, .. } => {
                self.work_orders.orders.insert(order.id, order.clone());
            }
            Event::WorkOrderCalledBack { id, note, at } => {
                if let Some(o) = self.work_orders.orders.get_mut(id) {
                    o.called_back = Some((*at, note.clone()));
                }
            }
            Event::WorkOrderClosed { id, note, at } => {
                if let Some(o) = self.work_orders.orders.get_mut(id) {
                    o.closed = Some((*at, note.clone()));
                }
            }
            Event::RatingAppealed {
                day,
                ticket,
                rating,
                reason,
                at,
            } => {
                self.work_orders.appeals.insert(
                    (*day, *ticket),
                    Appeal {
                        rating: *rating,
                        reason: reason.clone(),
                        at: *at,
                    },
                );
            }
            _ => {}
        }
    }

    /// Every work order, by number.
    pub fn work_orders(&self) -> impl Iterator<Item = &WorkOrder> {
        self.work_orders.orders.values()
    }

    /// Work order `id`.
    pub fn work_order(&self, id: u64) -> Option<&WorkOrder> {
        self.work_orders.orders.get(&id)
    }

    /// Every appeal, by (business day, ticket).
    pub fn appeals(&self) -> &BTreeMap<(BusinessDay, TicketNo), Appeal> {
        &self.work_orders.appeals
    }

    /// Work order `order` as a client sees it at `now`; notes cut to
    /// [`CONSOLE_NOTE_CHARS`] when `short`.
    pub fn work_order_view(&self, order: &WorkOrder, now: Timestamp, short: bool) -> WorkOrderView {
        let note = |n: &str| {
            if short {
                cut(n, CONSOLE_NOTE_CHARS)
            } else {
                n.to_owned()
            }
        };
        let item_name = self
            .spec
            .items
            .iter()
            .find(|i| i.code == order.item)
            .map_or_else(|| order.item.to_string(), |i| i.name.clone());
        WorkOrderView {
            id: order.id,
            day: order.day,
            ticket: order.ticket,
            item: order.item,
            item_name,
            window: order.window,
            staff: order.staff.clone(),
            rating: order.rating.value(),
            state: order.state(),
            opened_at: secs(order.opened_at),
            deadline: secs(order.deadline),
            deadline_day: order.deadline_day,
            overdue: order.overdue(now),
            called_back_at: order.called_back.as_ref().map(|(t, _)| secs(*t)),
            callback_note: order.called_back.as_ref().map(|(_, n)| note(n)),
            closed_at: order.closed.as_ref().map(|(t, _)| secs(*t)),
            close_note: order.closed.as_ref().map(|(_, n)| note(n)),
            appeal: self
                .work_orders
                .appeals
                .get(&(order.day, order.ticket))
                .map(|a| appeal_view(order.day, order.ticket, a, short)),
        }
    }
}

/// An appeal as a client sees it; the reason cut when `short`.
pub fn appeal_view(day: BusinessDay, ticket: TicketNo, a: &Appeal, short: bool) -> AppealView {
    AppealView {
        day,
        ticket,
        rating: a.rating.value(),
        reason: if short {
            cut(&a.reason, CONSOLE_NOTE_CHARS)
        } else {
            a.reason.clone()
        },
        at: secs(a.at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointment::days_of;

    /// 2026-12-02 is a Wednesday; noon there, UTC+8.
    fn wednesday_noon() -> Timestamp {
        let days = days_of(20261202);
        Timestamp(((days * 86_400 + 4 * 3600) * 1000) as u64)
    }

    #[test]
    fn ten_working_days_skip_weekends_and_holidays() {
        let weekdays = |_: BusinessDay, w: usize| w < 5;
        // Wed 2 Dec + 10 working days: Thu 3, Fri 4, Mon 7 … Fri 11, Mon 14,
        // Tue 15, Wed 16.
        let (day, end) = deadline(wednesday_noon(), 480, 10, weekdays);
        assert_eq!(day, 20261216);
        // The end of that local day: 17 Dec 00:00 UTC+8 = 16 Dec 16:00 UTC.
        assert_eq!(
            end.0 as i64,
            (days_of(20261216) * 86_400 + 16 * 3600) * 1000
        );
        // A holiday on Mon 7 Dec moves it a day on.
        let (day, _) = deadline(wednesday_noon(), 480, 10, |d, w| w < 5 && d != 20261207);
        assert_eq!(day, 20261217);
        // A calendar with no working day at all ends, far away.
        let (day, _) = deadline(wednesday_noon(), 480, 10, |_, _| false);
        assert!(day > 20300000);
    }

    #[test]
    fn the_local_day_decides_not_the_utc_one() {
        // Fri 4 Dec 23:30 local (15:30 UTC): the next working day is Monday.
        let days = days_of(20261204);
        let at = Timestamp(((days * 86_400 + 15 * 3600 + 1800) * 1000) as u64);
        let (day, _) = deadline(at, 480, 1, |_, w| w < 5);
        assert_eq!(day, 20261207);
        let _ = days_of(day);
    }
}
