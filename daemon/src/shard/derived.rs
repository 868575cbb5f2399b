//! What is derived from a hall's events besides the hall itself: its
//! outbox, its recent calls, its display change counter, and where the
//! business day began. One code path for a command applied now, a record
//! replayed from the journal and a record another node wrote, so the three
//! cannot drift apart.

use std::sync::Arc;

use bytes::Bytes;
use hallq_core::{Event, Hall};
use hallq_proto::codec;
use hallq_proto::wire::Notification;

use crate::fanout::display::{self, RecentCalls, RecentNoShows};
use crate::fanout::outbox::Outbox;
use crate::journal::Entry;

/// What is derived from the events, identically live and on replay.
#[derive(Debug)]
pub(super) struct Derived {
    pub(super) outbox: Outbox,
    pub(super) recent: RecentCalls,
    /// The latest no-shows, for the board's 过号 list.
    pub(super) no_shows: RecentNoShows,
    /// Display change counter.
    pub(super) seq: u64,
    /// The journal records a configuration (a `Reconfigured` event).
    pub(super) configured: bool,
    /// The number of the record that began the current business day (the
    /// cluster keeps the day's records in etcd from here on).
    pub(super) day_start_seq: u64,
}

impl Derived {
    /// Applies journal record number `record`, read back (a replay, or a
    /// record another node wrote), to `hall` and to what is derived from it.
    pub(super) fn replay(&mut self, hall: &mut Hall, entry: Entry, record: u64) {
        match entry {
            Entry::Events(events) => {
                for event in &events {
                    hall.replay(event);
                }
                self.absorb(hall, &events, record);
            }
            Entry::Acked(n) => self.outbox.ack(n),
            Entry::NotificationFailed { n, reason } => self.outbox.fail(n, &reason, None),
            Entry::NotificationFailedAt { n, reason, at } => self.outbox.fail(n, &reason, Some(at)),
            Entry::Probe => {}
        }
    }

    /// Updates what is derived from `events` (applied to `hall` just now,
    /// journal record number `record`): outbox, recent calls, display
    /// counter, where the business day began. Called identically live and
    /// on replay; returns the display frame and the notifications to
    /// publish once the events are durable.
    pub(super) fn absorb(
        &mut self,
        hall: &Hall,
        events: &[Event],
        record: u64,
    ) -> (Option<(u64, Bytes)>, Vec<Arc<Notification>>) {
        for event in events {
            match event {
                Event::Reconfigured { .. } => self.configured = true,
                Event::DayBegun { .. } => self.day_start_seq = record,
                _ => {}
            }
        }
        let notifications = self.outbox.on_events(events, hall);
        self.no_shows.absorb(events);
        let next_seq = self.seq + 1;
        let update = display::change(next_seq, events, hall, &mut self.recent);
        let frame = update.and_then(|update| {
            self.seq = next_seq;
            codec::encode(&update)
                .map(|frame| (next_seq, frame))
                .map_err(|e| tracing::error!(error = %e, "display update too large to send"))
                .ok()
        });
        (frame, notifications)
    }
}
