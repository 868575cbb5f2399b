//! What the hall shows and tells: display updates and the notification
//! outbox, both derived from the dispatch core's events.
//!
//! Both are deterministic functions of the event sequence, so replaying the
//! journal rebuilds them exactly (the same pending notifications under the
//! same ids, the same recent calls).

pub mod appointments;
pub mod display;
pub mod link;
pub mod outbox;
pub mod remote;
