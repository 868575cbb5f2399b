//! This node's lease as the halls see it: until when it surely lives.
//!
//! The lease loop renews it; every change a hall's owner makes is first
//! checked against it, so a node whose keep-alives stopped getting through
//! refuses changes before etcd could hand its halls to another node.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Until when this node's lease surely lives, by the monotonic clock.
#[derive(Debug)]
pub struct LeaseClock {
    start: tokio::time::Instant,
    /// Milliseconds after `start`; 0: no lease.
    valid_until_ms: AtomicU64,
    /// The lease's time to live.
    pub ttl: Duration,
}

impl LeaseClock {
    /// A clock for leases of `ttl`, with no lease yet.
    pub fn new(ttl: Duration) -> LeaseClock {
        LeaseClock {
            start: tokio::time::Instant::now(),
            valid_until_ms: AtomicU64::new(0),
            ttl,
        }
    }

    /// A keep-alive sent at `sent` was answered: the lease lives at least
    /// until `sent + ttl` (less a margin for clock drift between hosts).
    pub fn renewed(&self, sent: tokio::time::Instant) {
        let until = sent.duration_since(self.start) + self.ttl.mul_f64(0.8);
        self.valid_until_ms
            .fetch_max(until.as_millis() as u64, Ordering::AcqRel);
    }

    /// The lease is gone (expired, revoked, or a new one is being made).
    pub fn lost(&self) {
        self.valid_until_ms.store(0, Ordering::Release);
    }

    /// Whether the lease surely lives now.
    pub fn alive(&self) -> bool {
        let now = tokio::time::Instant::now().duration_since(self.start);
        (now.as_millis() as u64) < self.valid_until_ms.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_lease_is_trusted_for_less_than_its_time_to_live() {
        let clock = LeaseClock::new(Duration::from_secs(3));
        assert!(!clock.alive(), "no lease yet");
        let sent = tokio::time::Instant::now();
        tokio::time::advance(Duration::from_millis(100)).await;
        clock.renewed(sent);
        assert!(clock.alive());
        // 0.8 × 3 s after the keep-alive was sent, not after its answer:
        // etcd counts from when it got it, which is later.
        tokio::time::advance(Duration::from_millis(2_250)).await;
        assert!(clock.alive());
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(!clock.alive(), "trusted past 2.4 s");
        // A late answer to an older keep-alive does not move it back.
        clock.renewed(tokio::time::Instant::now());
        clock.renewed(sent);
        assert!(clock.alive());
        clock.lost();
        assert!(!clock.alive());
    }
}
