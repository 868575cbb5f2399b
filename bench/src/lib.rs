//! Benchmarks and the load generator for hallq.
//!
//! - `benches/`: criterion benches of the parts alone — the dispatch core
//!   (`dispatch`), the journal's group commit (`journal`) and the frame
//!   codec (`codec`).
//! - `hallq-load` (`src/bin/hallq-load.rs`): drives a running `hallqd` over
//!   real QUIC with kiosks, windows, displays and a notifier, and reports
//!   throughput and latency. Behind a backend switch it drives the same
//!   ticket workload against the two ways such a system is usually built,
//!   PostgreSQL ([`baseline_pg`]) and Redis ([`baseline_redis`]), so the
//!   figures compare.
//!
//! The library is what the binary and the smoke test (`tests/tests/
//! load_smoke.rs`) share: describe a [`workload::Workload`], pick a
//! [`backend::Backend`], call [`run::run`], read the [`report::Report`].
//! `BENCHMARKS.md` at the workspace root has the commands and the figures.

pub mod backend;
pub mod baseline_pg;
pub mod baseline_redis;
pub mod hallqd;
pub mod report;
pub mod run;
pub mod workload;
