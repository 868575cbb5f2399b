//! What the load generator does: how many of each client, how fast, for how
//! long, and which tickets the kiosks issue.
//!
//! Every choice is deterministic (a seeded xorshift per kiosk), so two runs
//! with the same workload issue the same tickets in the same order per
//! kiosk, whichever backend they drive.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A load to put on a backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workload {
    /// Kiosk clients issuing tickets.
    pub kiosks: usize,
    /// Window clients calling, starting and finishing (windows 1..=W).
    pub windows: usize,
    /// Display subscribers.
    pub displays: usize,
    /// Whether one notifier subscribes and acknowledges (hallqd only: the
    /// baselines have no outbox).
    pub notifier: bool,
    /// Tickets per second over all kiosks (open loop: latency is measured
    /// from each ticket's scheduled time, so a stall is not hidden);
    /// `None` issues as fast as answers come back (closed loop).
    pub rate: Option<f64>,
    /// How long kiosks and windows run.
    pub duration: Duration,
    /// Stop issuing after this many tickets over all kiosks.
    pub max_tickets: Option<u64>,
    /// Service items A, B, …: how many (1–26).
    pub items: usize,
    /// Share of tickets in the priority lane (elderly, disabled, …).
    pub priority_share: f64,
    /// Share of tickets with a phone number (each causes notifications).
    pub phone_share: f64,
    /// After the run, how long displays may take to show the last calls.
    pub drain: Duration,
    /// How many connections are set up at once (handshakes are CPU work
    /// the daemon shares with the run; this keeps setup from timing out).
    pub connect_parallelism: usize,
}

impl Workload {
    /// "32 kiosks, 32 windows, 20 displays, closed loop", as reports print
    /// it.
    pub fn describe(&self) -> String {
        let pace = match self.rate {
            Some(rate) => format!("open loop {rate:.0} tickets/s"),
            None => "closed loop".to_owned(),
        };
        format!(
            "{} kiosks, {} windows, {} displays, {pace}",
            self.kiosks, self.windows, self.displays
        )
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            kiosks: 32,
            windows: 32,
            displays: 10,
            notifier: true,
            rate: None,
            duration: Duration::from_secs(10),
            max_tickets: None,
            items: 5,
            priority_share: 0.1,
            phone_share: 0.3,
            drain: Duration::from_secs(10),
            connect_parallelism: 32,
        }
    }
}

/// Which lane a generated ticket goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneChoice {
    /// Walk-in.
    WalkIn,
    /// Priority, with reason number 0–3 (elderly, disabled, pregnant, green).
    Priority(u8),
}

impl LaneChoice {
    /// 0 for priority, 1 for walk-in: the order windows call in.
    pub fn rank(self) -> i16 {
        match self {
            LaneChoice::Priority(_) => 0,
            LaneChoice::WalkIn => 1,
        }
    }
}

/// One ticket a kiosk is about to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketSpec {
    /// Item index, 0 = A.
    pub item: u8,
    /// Lane.
    pub lane: LaneChoice,
    /// Phone number, if the visitor left one.
    pub phone: Option<String>,
}

/// The tickets one kiosk issues, in order.
#[derive(Debug, Clone)]
pub struct TicketMix {
    state: u64,
    count: u64,
    items: u8,
    priority_share: f64,
    phone_share: f64,
    kiosk: u64,
}

impl TicketMix {
    /// The sequence of kiosk `kiosk` under `workload`.
    pub fn new(workload: &Workload, kiosk: usize) -> TicketMix {
        TicketMix {
            // Never zero (xorshift's fixed point), different per kiosk.
            state: 0x9E37_79B9_7F4A_7C15 ^ ((kiosk as u64 + 1) * 0x2545_F491_4F6C_DD1D),
            count: 0,
            items: workload.items.clamp(1, 26) as u8,
            priority_share: workload.priority_share,
            phone_share: workload.phone_share,
            kiosk: kiosk as u64,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next ticket.
    pub fn next_ticket(&mut self) -> TicketSpec {
        self.count += 1;
        let item = (self.next_u64() % u64::from(self.items)) as u8;
        let lane = if self.next_unit() < self.priority_share {
            LaneChoice::Priority((self.next_u64() % 4) as u8)
        } else {
            LaneChoice::WalkIn
        };
        // A phone per ticket (kiosk and count): a phone holds one active
        // ticket per item (SPEC §6), and a load run is many visitors.
        let phone = (self.next_unit() < self.phone_share)
            .then(|| format!("1{:04}{:06}", self.kiosk % 10_000, self.count % 1_000_000));
        TicketSpec { item, lane, phone }
    }
}

/// Every eighth window is universal (无差别窗口): it serves every item.
pub fn is_universal(window: u16) -> bool {
    window % 8 == 0
}

/// The items window `window` (1-based) serves, as indices (0 = A): two
/// neighbouring items, so mappings overlap as in a real hall, or all of
/// them for a universal window.
pub fn window_items(window: u16, items: usize) -> Vec<u8> {
    let items = items.clamp(1, 26) as u8;
    if is_universal(window) || items == 1 {
        return (0..items).collect();
    }
    let first = ((window - 1) % u16::from(items)) as u8;
    vec![first, (first + 1) % items]
}

/// The letter of item index `item`.
pub fn item_letter(item: u8) -> char {
    char::from(b'A' + item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_deterministic_and_respects_shares() {
        let workload = Workload::default();
        let a: Vec<_> = {
            let mut mix = TicketMix::new(&workload, 3);
            (0..1000).map(|_| mix.next_ticket()).collect()
        };
        let mut mix = TicketMix::new(&workload, 3);
        let b: Vec<_> = (0..1000).map(|_| mix.next_ticket()).collect();
        assert_eq!(a, b);
        let priority = a.iter().filter(|t| t.lane != LaneChoice::WalkIn).count();
        assert!((50..150).contains(&priority), "{priority}");
        assert!(a.iter().all(|t| t.item < 5));
    }

    #[test]
    fn every_item_is_served() {
        for items in 1..=26 {
            let mut served = [false; 26];
            for w in 1..=7u16 {
                for i in window_items(w, items) {
                    served[usize::from(i)] = true;
                }
            }
            assert!(served[..items].iter().all(|s| *s) || items > 8, "{items}");
        }
    }
}
