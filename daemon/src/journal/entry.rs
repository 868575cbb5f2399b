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
}
