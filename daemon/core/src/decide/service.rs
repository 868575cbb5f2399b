//! A window serving a visitor: the call (by the call policy or by number),
//! the recall, start, finish or no-show, a batch finished as one service,
//! and the one rating a service gets (seed 000 §四(六)5).

use hallq_proto::types::{Rating, TicketNo, Timestamp, WindowNo};
use hallq_proto::views::TicketState;

use crate::{DispatchError, Event, Hall, Line, Touched};

impl Hall {
    /// [`Command::CallNext`](crate::Command::CallNext): the ticket the call
    /// policy picks. O(I + log n).
    pub(super) fn decide_call_next(
        &self,
        window: WindowNo,
        at: Timestamp,
        touched: &mut Touched,
    ) -> Result<Event, DispatchError> {
        let w = self.callable_window(window)?;
        let ticket = self
            .choose(w, at)
            .ok_or(DispatchError::NothingWaiting(window))?;
        self.touch_line(ticket, touched);
        Ok(Event::Called {
            ticket,
            number: self.ticket(ticket).number,
            window,
            at,
        })
    }

    /// [`Command::CallTicket`](crate::Command::CallTicket): one waiting
    /// ticket the window may take. O(log n).
    pub(super) fn decide_call_ticket(
        &self,
        window: WindowNo,
        ticket: TicketNo,
        at: Timestamp,
        touched: &mut Touched,
    ) -> Result<Event, DispatchError> {
        let w = self.callable_window(window)?;
        let id = self.ticket_by_number(ticket)?;
        let t = self.ticket(id);
        if t.state != TicketState::Waiting {
            return Err(self.wrong_state(id, "waiting"));
        }
        // A referral (首问负责) is for its window only, whatever it serves.
        let allowed = match t.line {
            Some(Line::Window(target)) => target == w,
            _ => self.may_take(w, t),
        };
        if !allowed {
            return Err(DispatchError::NotServedHere {
                window,
                item: t.number.item,
            });
        }
        self.touch_line(id, touched);
        Ok(Event::Called {
            ticket: id,
            number: ticket,
            window,
            at,
        })
    }

    /// [`Command::Recall`](crate::Command::Recall). O(1).
    pub(super) fn decide_recall(
        &self,
        window: WindowNo,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let (id, t) = self.current(window)?;
        if !matches!(t.state, TicketState::Called(_)) {
            return Err(self.wrong_state(id, "called"));
        }
        Ok(Event::Recalled {
            ticket: id,
            number: t.number,
            window,
            at,
        })
    }

    /// [`Command::Start`](crate::Command::Start). O(1).
    pub(super) fn decide_start(
        &self,
        window: WindowNo,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let (id, t) = self.current(window)?;
        if !matches!(t.state, TicketState::Called(_)) {
            return Err(self.wrong_state(id, "called"));
        }
        Ok(Event::Started {
            ticket: id,
            number: t.number,
            window,
            at,
        })
    }

    /// [`Command::Finish`](crate::Command::Finish). O(1). A called visitor
    /// may be finished directly: short services are often done without
    /// pressing "start".
    pub(super) fn decide_finish(
        &self,
        window: WindowNo,
        rating: Option<Rating>,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let (id, t) = self.current(window)?;
        let w = self.window_idx(window)?;
        Ok(Event::Finished {
            ticket: id,
            number: t.number,
            window,
            staff: self.windows[w].staff.as_ref().map(|(s, _)| s.clone()),
            rating,
            at,
        })
    }

    /// [`Command::NoShow`](crate::Command::NoShow) (过号). O(1).
    pub(super) fn decide_no_show(
        &self,
        window: WindowNo,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let (id, t) = self.current(window)?;
        if !matches!(t.state, TicketState::Called(_)) {
            return Err(self.wrong_state(id, "called"));
        }
        // Many halls give a called visitor a few minutes and a recall
        // before 过号 (DB33/T 2036.4 §7.3.6 叫号 then 过号重排): the hall's rule.
        let rules = self.counter_rules;
        let win = &self.windows[self.window_idx(window)?];
        let waited_ms = win.called_at.map_or(u64::MAX, |c| at.0.saturating_sub(c.0));
        let too_early = waited_ms < u64::from(rules.no_show_min_secs) * 1000;
        let recall_needed = rules.no_show_after_recall && win.recalls == 0;
        if too_early || recall_needed {
            return Err(DispatchError::NoShowTooSoon {
                ticket: t.number,
                waited_secs: waited_ms.min(u64::from(u32::MAX)) / 1000,
                min_secs: rules.no_show_min_secs,
                recall_needed,
            });
        }
        Ok(Event::NoShow {
            ticket: id,
            number: t.number,
            window,
            at,
        })
    }

    /// [`Command::FinishBatch`](crate::Command::FinishBatch), seed 000
    /// §四(六)5: the window's current ticket and waiting tickets of the same
    /// item it may take, finished as one service: a `ServedWith` for each
    /// companion, then the lead's `Finished`. Every companion is checked
    /// before anything changes. O(b log n + k log n).
    pub(super) fn decide_batch(
        &self,
        window: WindowNo,
        with: &[TicketNo],
        rating: Option<Rating>,
        now: Timestamp,
        touched: &mut Touched,
    ) -> Result<Vec<Event>, DispatchError> {
        let (lead, lead_ticket) = self.current(window)?;
        let w = self.window_idx(window)?;
        let mut events = Vec::with_capacity(with.len() + 1);
        let mut seen = Vec::with_capacity(with.len());
        for &number in with {
            let refuse = |why| DispatchError::NotInBatch {
                ticket: number,
                why,
            };
            let id = self.ticket_by_number(number)?;
            if id == lead || seen.contains(&id) {
                return Err(refuse("it is named twice"));
            }
            let t = self.ticket(id);
            if t.state != TicketState::Waiting {
                return Err(self.wrong_state(id, "waiting"));
            }
            if t.item != lead_ticket.item {
                return Err(refuse("a batch is for one item"));
            }
            match t.line {
                Some(Line::Window(target)) if target != w => {
                    return Err(refuse("it was referred to another window"))
                }
                Some(Line::Window(_)) => touched.window = Some((w, 0)),
                _ if !self.may_take(w, t) => {
                    return Err(DispatchError::NotServedHere {
                        window,
                        item: t.number.item,
                    })
                }
                // Several leave the line: look again from its head.
                _ => touched.item(t.item, 0),
            }
            seen.push(id);
            events.push(Event::ServedWith {
                ticket: id,
                number,
                window,
                lead,
                at: now,
            });
        }
        events.push(self.decide_finish(window, rating, now)?);
        Ok(events)
    }

    /// [`Command::Rate`](crate::Command::Rate), seed 000 §四(六)5: one rating
    /// per service, after it. The ticket (or its batch's lead) must have
    /// been finished today and not rated yet. O(1).
    pub(super) fn decide_rate(
        &self,
        number: TicketNo,
        rating: Rating,
        window: Option<WindowNo>,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let mut id = self.ticket_by_number(number)?;
        let Some(service) = &self.ticket(id).service else {
            return Err(self.wrong_state(id, "finished"));
        };
        // A batch is one service: its rating is the lead's.
        if let Some(lead) = service.lead {
            id = lead;
        }
        let t = self.ticket(id);
        let service = t.service.as_ref().expect("a lead was finished");
        let served_at = service.window.expect("a finished service has a window");
        if let Some(window) = window {
            if window != served_at {
                return Err(DispatchError::NotServedAt {
                    ticket: number,
                    window,
                });
            }
        }
        if service.rated {
            return Err(DispatchError::AlreadyRated(t.number));
        }
        Ok(Event::Rated {
            ticket: id,
            number: t.number,
            window: served_at,
            staff: service.staff.clone(),
            rating,
            at,
        })
    }
}
