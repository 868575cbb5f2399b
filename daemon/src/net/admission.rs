//! Letting connections in under a handshake flood (issue 19 item 3): what
//! a connection that is not authenticated yet may hold, in all and per
//! source address, and when its address must be proven first.
//!
//! A QUIC server keeps state for every handshake it answers (about 40 KB in
//! quinn), so a peer sending only Initial packets — one datagram each, from
//! forged addresses if it likes — could otherwise fill memory and, while a
//! seat was taken before the handshake, every seat under `[limits]
//! connections`. Here:
//!
//! - a connection takes its seat only once authenticated (`session.rs`);
//!   until then it holds a [`HalfOpenPass`], at most [`MAX_HALF_OPEN`] in
//!   all and [`PER_SOURCE`] per source address, each for at most the hello
//!   timeout;
//! - above [`RETRY_ABOVE`] half-open connections, a client that has not
//!   proven its address is sent a QUIC Retry (RFC 9000 §8.1.2) — stateless
//!   on the server — and answered only once it echoes the token, so forged
//!   sources cost nothing and the per-source limit counts real ones;
//! - quinn's own buffers for handshakes not yet accepted are bounded
//!   ([`bound_handshakes`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

/// Half-open connections above which unvalidated clients are sent a Retry.
pub const RETRY_ABOVE: usize = 16;
/// Half-open connections in all; a handshake beyond is dropped unanswered
/// (about 40 MB of handshake state at most).
pub const MAX_HALF_OPEN: usize = 1024;
/// Half-open connections from one source address (a hall's kiosks and
/// terminals each open one connection and keep it).
pub const PER_SOURCE: usize = 32;

/// Bounds what quinn buffers for handshakes the listener has not taken
/// yet: how many, and how many bytes of early datagrams each and in all
/// (its defaults are 65,536 handshakes and 100 MiB).
pub fn bound_handshakes(config: &mut quinn::ServerConfig) {
    config
        .max_incoming(MAX_HALF_OPEN)
        .incoming_buffer_size(64 * 1024)
        .incoming_buffer_size_total(8 * 1024 * 1024);
}

/// The connections not authenticated yet, in all and per source address.
#[derive(Debug, Default)]
pub struct HalfOpen {
    per_source: Mutex<HashMap<IpAddr, usize>>,
    total: std::sync::atomic::AtomicUsize,
}

/// What the listener does with a new handshake.
#[derive(Debug)]
pub enum Admit {
    /// Go on with the handshake, holding this pass.
    Pass(HalfOpenPass),
    /// Ask the client to prove its address first (QUIC Retry).
    Retry,
    /// Too many from this source address: refuse (CONNECTION_REFUSED).
    Refuse,
    /// Too many in all: drop the packet, answer nothing.
    Ignore,
}

impl HalfOpen {
    /// Decides about a handshake from `source`, whose address is proven
    /// (`validated`, by a Retry token) or not.
    pub fn admit(self: &Arc<Self>, source: IpAddr, validated: bool) -> Admit {
        use std::sync::atomic::Ordering;
        let mut per_source = self.per_source.lock();
        let total = self.total.load(Ordering::Acquire);
        if total >= MAX_HALF_OPEN {
            return Admit::Ignore;
        }
        if !validated && total >= RETRY_ABOVE {
            return Admit::Retry;
        }
        let here = per_source.entry(source).or_insert(0);
        if *here >= PER_SOURCE {
            return Admit::Refuse;
        }
        *here += 1;
        self.total.fetch_add(1, Ordering::AcqRel);
        Admit::Pass(HalfOpenPass {
            half_open: self.clone(),
            source,
        })
    }

    /// Half-open connections now.
    pub fn count(&self) -> usize {
        self.total.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// One half-open connection's place; given back on drop (authenticated,
/// refused, timed out or gone).
#[derive(Debug)]
pub struct HalfOpenPass {
    half_open: Arc<HalfOpen>,
    source: IpAddr,
}

impl Drop for HalfOpenPass {
    fn drop(&mut self) {
        let mut per_source = self.half_open.per_source.lock();
        if let Some(n) = per_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                per_source.remove(&self.source);
            }
        }
        self.half_open
            .total
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_limited_per_source_and_retried_under_load() {
        let half_open = Arc::new(HalfOpen::default());
        let a: IpAddr = "127.0.0.2".parse().expect("ip");
        let b: IpAddr = "127.0.0.1".parse().expect("ip");
        let mut passes = Vec::new();
        // Below the retry threshold, unproven addresses go straight on.
        for _ in 0..RETRY_ABOVE {
            match half_open.admit(a, false) {
                Admit::Pass(p) => passes.push(p),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(half_open.admit(a, false), Admit::Retry));
        // Proven ones go on up to the per-source limit, then are refused.
        while passes.len() < PER_SOURCE {
            match half_open.admit(a, true) {
                Admit::Pass(p) => passes.push(p),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(half_open.admit(a, true), Admit::Refuse));
        // Another source is not held up by the first.
        assert!(matches!(half_open.admit(b, true), Admit::Pass(_)));
        assert_eq!(half_open.count(), PER_SOURCE);
        // Passes given back free their places.
        passes.clear();
        assert_eq!(half_open.count(), 0);
        assert!(half_open.per_source.lock().is_empty());
        assert!(matches!(half_open.admit(a, false), Admit::Pass(_)));
    }
}
