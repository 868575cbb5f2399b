//! Deciding a command: the events it would cause, or why it is refused,
//! read off the state without changing it. [`Hall::apply`] then replays
//! the events, so a live hall and a replayed journal take the same path.
//!
//! Each family of commands has its own file: the hall's day
//! ([`day`]), tickets entering their lines ([`tickets`]), a window's state
//! and staff ([`window`]), and a window serving a visitor, from the call to
//! the rating ([`service`]). Appointments and reconfiguring decide next to
//! the state they keep (`appointment.rs`, `reconfigure.rs`).

mod day;
mod service;
mod tickets;
mod window;

use hallq_proto::types::Timestamp;

use super::{appointment, Command, DispatchError, Event, Hall, Touched};

impl Hall {
    /// Checks `command` against the state and says what it would do, without
    /// changing anything: the events in the order they are to be applied,
    /// and in `touched` the lines whose §7.3.5 reminders may come due.
    pub(super) fn decide(
        &self,
        command: Command,
        now: Timestamp,
        touched: &mut Touched,
    ) -> Result<Vec<Event>, DispatchError> {
        let event = match command {
            // The hall's day.
            Command::BeginDay { day } => self.decide_begin_day(day, now),
            Command::CloseIssuing => self.decide_close_issuing(now),
            Command::OpenIssuing => self.decide_open_issuing(now),
            Command::Reconfigure { spec } => self.decide_reconfigure(spec, now, touched),
            // Tickets into their lines.
            Command::Issue { item, lane, phone } => self.decide_issue(item, lane, phone, now),
            Command::Reinstate { ticket } => self.decide_reinstate(ticket, now, touched),
            Command::AttachPhone { ticket, phone } => self.decide_attach_phone(ticket, phone, now),
            Command::StepBack { ticket, places } => {
                self.decide_step_back(ticket, places, now, touched)
            }
            Command::Leave { ticket } => self.decide_leave(ticket, now, touched),
            Command::Transfer { window, to } => self.decide_transfer(window, to, now, touched),
            // A window's state and staff.
            Command::OpenWindow { window } => self.decide_open_window(window, now, touched),
            Command::Pause { window, reason } => self.decide_pause(window, reason, now),
            Command::Resume { window } => self.decide_resume(window, now, touched),
            Command::CloseWindow { window } => self.decide_close_window(window, now),
            Command::LogIn {
                window,
                staff,
                post,
            } => self.decide_log_in(window, staff, post, now),
            Command::LogOut { window } => self.decide_log_out(window, now),
            // A window serving a visitor.
            Command::CallNext { window } => self.decide_call_next(window, now, touched),
            Command::CallTicket { window, ticket } => {
                self.decide_call_ticket(window, ticket, now, touched)
            }
            Command::Recall { window } => self.decide_recall(window, now),
            Command::Start { window } => self.decide_start(window, now),
            Command::Finish { window, rating } => self.decide_finish(window, rating, now),
            Command::NoShow { window } => self.decide_no_show(window, now),
            Command::Rate {
                ticket,
                rating,
                window,
            } => self.decide_rate(ticket, rating, window, now),
            // Appointments.
            Command::Book {
                item,
                slot,
                phone,
                channel,
                code,
            } => self.decide_book(item, slot, phone, channel, code, now),
            Command::CancelBooking {
                code,
                by_hall,
                phone_tail,
            } => self.decide_cancel(
                &appointment::normalize_code(&code),
                by_hall,
                phone_tail.as_deref(),
                now,
            ),
            Command::AdjustSlots { day, change } => self.decide_adjust(day, change, now),
            // The commands that may cause several events answer with all of
            // them. A check-in's ticket comes with its reminder already
            // decided (as an issue's does), and forfeits touch no line, so
            // neither adds to `touched`.
            Command::FinishBatch {
                window,
                with,
                rating,
            } => return self.decide_batch(window, &with, rating, now, touched),
            Command::CheckIn { code } => {
                return self.decide_check_in(&appointment::normalize_code(&code), now)
            }
            Command::ForfeitOverdue => return Ok(self.decide_forfeits(now)),
            // Issue 21: work orders, appeals, alerts.
            Command::CallBackWorkOrder { id, note } => self.decide_call_back(id, note, now),
            Command::CloseWorkOrder { id, note } => self.decide_close_work_order(id, note, now),
            Command::AppealRating {
                ticket,
                day,
                reason,
            } => self.decide_appeal(ticket, day, reason, now),
            Command::RecordAlerts {
                changes,
                notify,
                webhook,
            } => return Ok(self.decide_alerts(changes, notify, webhook, now)),
        }?;
        Ok(vec![event])
    }
}
