//! What one journal record holds: the [`Entry`] a request produced.
//!
//! The journal itself frames opaque payloads (see [`crate::journal`]); this
//! is the one type every payload of a hall's journal decodes to, through
//! `hallq_proto::codec::{encode_record, decode_record}`. It lives beside the
//! framing rather than with the shard that writes it because everything
//! that reads a journal back needs it and nothing else of the shard: the
//! replay, a follower applying records another node wrote, and the
//! statistics of a past day.
//!
//! Its serialised form is the on-disk (and, in cluster mode, the etcd)
//! format: variants are only ever appended, never reordered or removed.

use hallq_core::Event;
use hallq_proto::wire::{ChangeId, Response};
use serde::{Deserialize, Serialize};

/// One journal record: what one request changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Entry {
    /// The events of one command (with a business-day roll before it, if
    /// the day changed).
    Events(Vec<Event>),
    /// The gateway acknowledged notification `n`.
    Acked(u64),
    /// The gateway gave up on notification `n`.
    NotificationFailed {
        /// The notification.
        n: u64,
        /// Why.
        reason: String,
    },
    /// A test write after a journal failure; changes nothing.
    Probe,
    /// The gateway gave up on notification `n` at `at` (issue 21: the
    /// console shows when). Written instead of `NotificationFailed` from
    /// this build on; added after the rest, so older journals replay.
    NotificationFailedAt {
        /// The notification.
        n: u64,
        /// Why.
        reason: String,
        /// When (the daemon's clock).
        at: hallq_proto::types::Timestamp,
    },
    /// [`Entry::Events`] of a change the client sent with its id
    /// (`Request::Once`), with the id and the answer it got: one record,
    /// so an acknowledged change and its id are never separated, and a
    /// replay (a restart, a cluster follower, a takeover) remembers both.
    Change(Box<ChangeRecord>),
}

/// What [`Entry::Change`] holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The client's id for the change.
    pub id: ChangeId,
    /// A digest of who sent what (role, window, request): a resend must
    /// match it.
    pub digest: [u8; 16],
    /// The answer the change got; `None` if it had none to give.
    pub answer: Option<Response>,
    /// What the change did, as in [`Entry::Events`].
    pub events: Vec<Event>,
}

impl Entry {
    /// The events the record holds, if it is one of a command.
    pub fn events(&self) -> Option<&[Event]> {
        match self {
            Entry::Events(events) => Some(events),
            Entry::Change(change) => Some(&change.events),
            Entry::Acked(_)
            | Entry::NotificationFailed { .. }
            | Entry::NotificationFailedAt { .. }
            | Entry::Probe => None,
        }
    }
}
