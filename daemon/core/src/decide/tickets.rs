//! Tickets into their lines: issued at a kiosk, a no-show reinstated, a
//! ticket transferred to another item or window.

use hallq_proto::types::{ItemCode, Lane, Phone, TicketId, TicketNo, Timestamp, WindowNo};
use hallq_proto::views::{TicketState, WindowState};

use crate::queue::OrderedQueue;
use crate::{DispatchError, Event, Hall, Issued, Touched, TransferTarget};

impl Hall {
    /// [`Command::Issue`](crate::Command::Issue). O(W + log n).
    pub(super) fn decide_issue(
        &self,
        code: ItemCode,
        lane: Lane,
        phone: Option<Phone>,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let issued = self.new_ticket(code, lane, phone, at)?;
        Ok(Event::Issued { issued, at })
    }

    /// The ticket a kiosk would issue at `at`, or why not. A check-in
    /// (`appointment.rs`) issues through here too, and needs the ticket's
    /// number for its own event.
    pub(crate) fn new_ticket(
        &self,
        code: ItemCode,
        lane: Lane,
        phone: Option<Phone>,
        at: Timestamp,
    ) -> Result<Issued, DispatchError> {
        self.require_day()?;
        let item = self.item_idx(code)?;
        // Seed 000 §四(八)5: after closing, booked visitors may still check in.
        if !self.issuing && lane != Lane::Appointment {
            return Err(DispatchError::IssuingClosed);
        }
        if lane != Lane::Appointment {
            self.check_open(at)?;
        }
        // SPEC §6 (hoarding): one visitor, one place in each line. A booked
        // visitor checking in is not held to it: the booking was limited.
        let limit = self.phone_limits.active_tickets_per_item;
        if let (Some(phone), true) = (&phone, lane != Lane::Appointment && limit > 0) {
            if self.active_tickets_of(phone, item) >= limit {
                return Err(DispatchError::PhoneTicketLimit { item: code, limit });
            }
        }
        let it = &self.items[item];
        let issued_today = it.by_seq.len() as u32;
        if let Some(cap) = it.spec.daily_cap {
            if issued_today >= cap {
                return Err(DispatchError::DailyCapReached { item: code, cap });
            }
        }
        // A new ticket is last in its lane: everyone in its lane and in the
        // lanes before it is ahead of it.
        let position: usize = it.lanes[..=lane.rank()].iter().map(OrderedQueue::len).sum();
        let open = it.open_windows;
        let windows = self
            .windows
            .iter()
            .filter(|w| w.is_open() && w.serves & (1 << item) != 0)
            .map(|w| w.spec.number)
            .collect();
        let eta_secs = (open > 0).then(|| {
            let total = position as u64 * u64::from(it.spec.avg_service_secs);
            total.div_ceil(u64::from(open)).min(u64::from(u32::MAX)) as u32
        });
        Ok(Issued {
            ticket: TicketId(self.first_ticket + self.tickets.len() as u64),
            number: TicketNo {
                item: code,
                seq: issued_today + 1,
            },
            lane,
            phone,
            position: position as u32,
            windows,
            eta_secs,
            // §7.3.5: below the threshold already at issue, so this says so
            // and no `Approaching` follows.
            approaching: position < self.reminder_prefix(open),
        })
    }

    /// [`Command::AttachPhone`](crate::Command::AttachPhone): a waiting
    /// ticket without a phone gets one. O(log n).
    pub(super) fn decide_attach_phone(
        &self,
        ticket: TicketNo,
        phone: Phone,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let id = self.ticket_by_number(ticket)?;
        if self.ticket(id).state != TicketState::Waiting {
            return Err(self.wrong_state(id, "waiting"));
        }
        if self.phone_of(id).is_some() {
            return Err(DispatchError::PhoneAlreadyGiven(ticket));
        }
        let position = self.position(ticket)?.unwrap_or(0);
        Ok(Event::PhoneAttached {
            ticket: id,
            number: ticket,
            phone,
            position,
            approaching: self.is_reminded(id),
            at,
        })
    }

    /// [`Command::Reinstate`](crate::Command::Reinstate). O(log n).
    /// Whether window `window` may put no-show `ticket` back into line
    /// (issue 19, decided): any window that serves the ticket's item may,
    /// whichever window called it and marked it — the visitor who missed
    /// the call comes back to a counter of their item, and the line they
    /// go back into is one that window draws from. A window that does not
    /// serve the item may not: it would reorder a line it has no part in.
    /// Admins are not asked.
    pub fn check_reinstate_at(
        &self,
        window: WindowNo,
        ticket: TicketNo,
    ) -> Result<(), DispatchError> {
        let w = self.window_idx(window)?;
        let id = self.ticket_by_number(ticket)?;
        let t = self.ticket(id);
        if self.windows[w].serves & (1 << t.item) == 0 {
            return Err(DispatchError::NotServedHere {
                window,
                item: t.number.item,
            });
        }
        Ok(())
    }

    pub(super) fn decide_reinstate(
        &self,
        ticket: TicketNo,
        at: Timestamp,
        touched: &mut Touched,
    ) -> Result<Event, DispatchError> {
        let id = self.ticket_by_number(ticket)?;
        let t = self.ticket(id);
        if t.state != TicketState::NoShow {
            return Err(self.wrong_state(id, "a no-show"));
        }
        let lane = t.lane.rank();
        let place = self.reinstate_place(t.item, lane);
        let position = self.item_position(t.item, lane, place);
        touched.item(t.item, position as usize);
        Ok(Event::Reinstated {
            ticket: id,
            number: ticket,
            position,
            at,
        })
    }

    /// [`Command::StepBack`](crate::Command::StepBack): a waiting ticket in
    /// its item's line goes `places` back, once. A referral to one window
    /// waits for that window alone and does not step back. O(log n).
    pub(super) fn decide_step_back(
        &self,
        ticket: TicketNo,
        places: u32,
        at: Timestamp,
        touched: &mut Touched,
    ) -> Result<Event, DispatchError> {
        let id = self.ticket_by_number(ticket)?;
        let t = self.ticket(id);
        let Some(crate::Line::Item(item, lane)) = t.line else {
            return Err(self.wrong_state(id, "waiting in its item's line"));
        };
        if t.stepped_back {
            return Err(DispatchError::AlreadySteppedBack(ticket));
        }
        if places == 0 {
            return Err(DispatchError::InvalidSpec(
                "a step back is at least one place".into(),
            ));
        }
        let before = self.item_position(item, lane, t.place);
        let place = self.step_back_place(id, places);
        // The ticket itself is counted among those before its new place.
        let position = self.item_position(item, lane, place).saturating_sub(1);
        // Everyone it passes moves up one: their reminders may come due.
        touched.item(item, before as usize);
        Ok(Event::SteppedBack {
            ticket: id,
            number: ticket,
            places,
            position,
            at,
        })
    }

    /// [`Command::Leave`](crate::Command::Leave): a waiting or called ticket
    /// is given up. O(log n).
    pub(super) fn decide_leave(
        &self,
        ticket: TicketNo,
        at: Timestamp,
        touched: &mut Touched,
    ) -> Result<Event, DispatchError> {
        let id = self.ticket_by_number(ticket)?;
        let called_to = match self.ticket(id).state {
            TicketState::Waiting => {
                self.touch_line(id, touched);
                None
            }
            TicketState::Called(window) => Some(window),
            _ => return Err(self.wrong_state(id, "waiting or called")),
        };
        Ok(Event::Left {
            ticket: id,
            number: ticket,
            called_to,
            at,
        })
    }

    /// [`Command::Transfer`](crate::Command::Transfer): the window's current
    /// ticket, to another item's line or another window's. O(log n).
    pub(super) fn decide_transfer(
        &self,
        window: WindowNo,
        to: TransferTarget,
        at: Timestamp,
        touched: &mut Touched,
    ) -> Result<Event, DispatchError> {
        let (id, t) = self.current(window)?;
        let position = match to {
            TransferTarget::Item(code) => {
                let item = self.item_idx(code)?;
                if item == t.item {
                    return Err(DispatchError::SameLine(t.number));
                }
                let position = self.item_position(item, t.lane.rank(), t.place);
                touched.item(item, position as usize);
                position
            }
            TransferTarget::Window(n) => {
                let target = self.window_idx(n)?;
                if n == window {
                    return Err(DispatchError::SameLine(t.number));
                }
                if self.windows[target].state == WindowState::Closed {
                    return Err(DispatchError::TargetClosed(n));
                }
                let position = self.windows[target].referrals.rank(&t.place);
                touched.window = Some((target, position));
                position as u32
            }
        };
        Ok(Event::Transferred {
            ticket: id,
            number: t.number,
            from: window,
            to,
            position,
            at,
        })
    }
}
