//! hallq-proto: the one contract that `hallqd`, the `hallq` client program
//! and the load generator compile against.
//!
//! - [`types`], [`views`], [`appointment`]: the hall's vocabulary (items,
//!   windows, tickets, lanes, appointments) as values that travel.
//! - [`wire`]: the messages of protocol `hallq/1`, requests to answers.
//! - [`code`]: [`ErrorCode`], the stable name of every refusal.
//! - [`console`]: the hall manager's console: the hall live, alerts, work
//!   orders (issue 21).
//! - [`codec`]: the only place where messages and journal records become
//!   bytes, with the size limits checked before anything is allocated.
//!   Reading and writing frames on QUIC streams is its `stream` feature, so
//!   that the dispatch core, which uses this crate's types, compiles no
//!   tokio and no quinn.

pub mod appointment;
pub mod code;
pub mod codec;
pub mod console;
pub mod staffing;
pub mod types;
pub mod views;
pub mod wire;

pub use code::ErrorCode;
