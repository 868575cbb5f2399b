//! The hall's day: a business day begins, and issuing closes at closing time
//! and opens again.

use hallq_proto::types::Timestamp;
use hallq_proto::views::TicketState;

use crate::{BusinessDay, DispatchError, Event, Hall};

impl Hall {
    /// [`Command::BeginDay`](crate::Command::BeginDay): the tickets still
    /// open from the ending day expire. O(I + W + tickets of the ending
    /// day): once a day.
    pub(super) fn decide_begin_day(
        &self,
        day: BusinessDay,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        if let Some(current) = self.day {
            if day <= current {
                return Err(DispatchError::DayNotLater {
                    current,
                    requested: day,
                });
            }
        }
        let expired = self
            .tickets
            .iter()
            .filter(|t| {
                matches!(
                    t.state,
                    TicketState::Waiting | TicketState::Called(_) | TicketState::Serving(_)
                )
            })
            .count() as u32;
        Ok(Event::DayBegun { day, expired, at })
    }

    /// [`Command::CloseIssuing`](crate::Command::CloseIssuing). O(1).
    pub(super) fn decide_close_issuing(&self, at: Timestamp) -> Result<Event, DispatchError> {
        self.require_day()?;
        Ok(Event::IssuingClosed { at })
    }

    /// [`Command::OpenIssuing`](crate::Command::OpenIssuing). O(1).
    pub(super) fn decide_open_issuing(&self, at: Timestamp) -> Result<Event, DispatchError> {
        self.require_day()?;
        Ok(Event::IssuingOpened { at })
    }
}
