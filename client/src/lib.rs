//! hallq's client side: the hall's vocabulary ([`types`]), the wire protocol
//! both `hallqd` and its clients compile against, and the async client that
//! kiosks, window terminals, display boards and the SMS bridge use.

pub mod board;
pub mod bridge;
pub mod client;
pub mod follow;
pub mod screen;
pub mod terminal;
pub mod tls;
