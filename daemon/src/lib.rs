//! hallqd: the ticket-and-call daemon of a government service hall, the I/O
//! around the dispatch core.
//!
//! Command → [`hallq_core`] (the pure state machine, a crate of its own) →
//! events → { [`journal`], displays and outbox ([`fanout`]), [`metrics`] }.
//! The modules are layered; each uses only the layers below it
//! (`tests/tests/layout.rs` checks this and that no two modules import each
//! other):
//!
//! | layer | modules | what they are |
//! |---|---|---|
//! | 1 | [`config`], [`journal`], [`clock`], [`systemd`] | the TOML read and checked; the append-only log (records, group-commit writer, replay); the wall clock; sd_notify |
//! | 2 | [`fanout`], [`stats`], [`staffing`], [`metrics`], [`cluster`] | display snapshots and deltas, the notification outbox; statistics and export from the journal; the staffing simulator's journal reading; Prometheus; etcd leases, the fenced log |
//! | 3 | [`shard`] | one hall: its core behind a lock, journal first, then displays and notifiers; replay on start; its ownership in a cluster |
//! | 4 | [`daemon`] | every hall of the config, wired to the cluster |
//! | 5 | [`net`] | QUIC: the listener, one session per connection, one route per request family |
//!
//! `main.rs` parses the arguments, loads the config, starts all of it and
//! waits for shutdown. See `ARCHITECTURE.md` in the shared folder.

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
pub mod staffing;
pub mod stats;
pub mod systemd;
