//! hallqd: the ticket-and-call daemon of a government service hall.
//!
//! Command → [`dispatch`] (pure state machine) → events → journal, displays,
//! outbox, metrics. See `ARCHITECTURE.md` in the shared folder.

pub mod clock;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod fanout;
pub mod journal;
pub mod metrics;
pub mod net;
pub mod shard;
#[cfg(test)]
mod simulation;
pub mod stats;
pub mod systemd;
