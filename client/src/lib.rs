//! hallq's client side: the async client library that kiosks, window
//! terminals, display boards and the SMS bridge use, and the `hallq`
//! program with its screens. The wire protocol itself (messages, error
//! codes, codec) is the `hallq_proto` crate, which `hallqd` compiles
//! against too; nothing here is compiled into the daemon.
//!
//! - [`client`]: one authenticated QUIC connection to `hallqd`: requests,
//!   display and notification streams.
//! - [`follow`]: following a hall to whichever `hallqd` serves it (cluster
//!   mode), and the reconnecting handle the long-running screens keep.
//! - [`tls`]: the client side of the handshake: the pinned certificate.
//! - [`screen`]: what the screens share (the clock, keys, text rendering).
//! - [`board`], [`terminal`], [`bridge`]: the display board (web and
//!   terminal), the window terminal, the SMS gateway bridge.
//! - [`text`]: the message catalogue, Chinese and English, made from codes.
//! - [`kiosk`]: the self-service kiosk's touch page and ticket printer.
//! - [`charts`]: the day in charts (`hallq report`, the console, simulate's
//!   HTML), drawn as SVG by plotters.
//! - [`console`]: the hall manager's live web console.
//! - `cli` (in the binary): the `hallq` command, human and `--json` output.

pub mod board;
pub mod bridge;
pub mod charts;
pub mod client;
pub mod console;
pub mod follow;
pub mod kiosk;
pub mod screen;
pub mod terminal;
pub mod text;
pub mod tls;
pub mod visitor;
pub mod web;
