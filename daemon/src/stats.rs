//! Statistics and exports of a business day (SPEC §2 item 13; DB33/T
//! 2036.4 §7.3.1 数据统一汇聚), computed from the hall's journal file of
//! that day, through the same decoding as a replay: they survive restarts,
//! and any past day can be asked for as long as its file is kept.
//!
//! Pure functions of the day's records: [`read_day`] is the only I/O.

use std::collections::BTreeMap;
use std::path::Path;

use hallq_proto::codec;
use hallq_proto::types::{ItemCode, Lane, Phone, StaffId, TicketId, TicketNo, Timestamp, WindowNo};
use hallq_proto::wire::{DayStats, Durations, StatsBy, StatsFigures, StatsGroup, TicketRecord};

use crate::clock;
use crate::journal::{self, Entry, JournalError};
use hallq_core::{Event, TransferTarget};

/// Records per [`export`] page: a page must fit in one frame (64 KiB).
pub const EXPORT_PAGE: usize = 150;

/// One page of [`export`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPage {
    /// The records.
    pub records: Vec<TicketRecord>,
    /// Where the next page starts, if there is one.
    pub next: Option<u32>,
}

/// The decodable entries of hall directory `dir`'s file for `day`
/// (`yyyymmdd`). A record that does not decode (a newer release's) is
/// skipped: statistics are best effort over what this release knows.
pub fn read_day(dir: &Path, day: u32) -> Result<Vec<Entry>, JournalError> {
    Ok(journal::read_day(dir, &clock::day_string(day))?
        .iter()
        .filter_map(|payload| codec::decode_record::<Entry>(payload).ok())
        .collect())
}

/// How a ticket's day ended (so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Waiting,
    Called,
    Serving,
    Served,
    ServedInBatch,
    NoShow,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Waiting => "waiting",
            Outcome::Called => "called",
            Outcome::Serving => "serving",
            Outcome::Served => "served",
            Outcome::ServedInBatch => "served_in_batch",
            Outcome::NoShow => "no_show",
        }
    }
}

/// Everything the day's events say about one ticket.
#[derive(Debug, Clone)]
struct Ticket {
    number: TicketNo,
    /// The item it is in now (transfers move it).
    item: ItemCode,
    lane: Lane,
    phone: Option<Phone>,
    issued: Timestamp,
    called: Option<Timestamp>,
    started: Option<Timestamp>,
    finished: Option<Timestamp>,
    window: Option<WindowNo>,
    staff: Option<StaffId>,
    rating: Option<u8>,
    outcome: Outcome,
    /// Times it was handed on.
    transfers: u64,
    /// Marked a no-show at least once.
    no_show: bool,
}

/// The day, ticket by ticket, and the outbox's settlements.
#[derive(Debug, Default)]
struct Day {
    tickets: BTreeMap<TicketId, Ticket>,
    sent: u64,
    failed: u64,
}

impl Day {
    fn read(entries: &[Entry]) -> Day {
        let mut day = Day::default();
        // Who is logged in where, for batch companions (their event does
        // not name the staff).
        let mut staff: BTreeMap<WindowNo, StaffId> = BTreeMap::new();
        for entry in entries {
            match entry {
                Entry::Events(events) => {
                    for event in events {
                        day.apply(event, &mut staff);
                    }
                }
                Entry::Acked(_) => day.sent += 1,
                Entry::NotificationFailed { .. } => day.failed += 1,
                Entry::Probe => {}
            }
        }
        day
    }

    fn apply(&mut self, event: &Event, staff: &mut BTreeMap<WindowNo, StaffId>) {
        match event {
            Event::DayBegun { .. } => {
                // A file holds one day; a second begin (a clock set back)
                // starts the day's tickets over, as the hall does.
                self.tickets.clear();
                staff.clear();
            }
            Event::Issued { issued, at } => {
                self.tickets.insert(
                    issued.ticket,
                    Ticket {
                        number: issued.number,
                        item: issued.number.item,
                        lane: issued.lane,
                        phone: issued.phone.clone(),
                        issued: *at,
                        called: None,
                        started: None,
                        finished: None,
                        window: None,
                        staff: None,
                        rating: None,
                        outcome: Outcome::Waiting,
                        transfers: 0,
                        no_show: false,
                    },
                );
            }
            Event::Called {
                ticket, window, at, ..
            } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.called.get_or_insert(*at);
                    t.window = Some(*window);
                    t.outcome = Outcome::Called;
                }
            }
            Event::Started {
                ticket, window, at, ..
            } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.started.get_or_insert(*at);
                    t.window = Some(*window);
                    t.outcome = Outcome::Serving;
                }
            }
            Event::Finished {
                ticket,
                window,
                staff: who,
                rating,
                at,
                ..
            } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.finished = Some(*at);
                    t.window = Some(*window);
                    t.staff = who.clone();
                    t.rating = rating.map(|r| r.value());
                    t.outcome = Outcome::Served;
                }
            }
            Event::ServedWith {
                ticket, window, at, ..
            } => {
                let who = staff.get(window).cloned();
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.finished = Some(*at);
                    t.window = Some(*window);
                    t.staff = who;
                    t.outcome = Outcome::ServedInBatch;
                }
            }
            Event::Rated { ticket, rating, .. } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.rating = Some(rating.value());
                }
            }
            Event::NoShow { ticket, window, .. } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.window = Some(*window);
                    t.outcome = Outcome::NoShow;
                    t.no_show = true;
                }
            }
            Event::Reinstated { ticket, .. } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.outcome = Outcome::Waiting;
                }
            }
            Event::Transferred { ticket, to, .. } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.transfers += 1;
                    t.outcome = Outcome::Waiting;
                    if let TransferTarget::Item(item) = to {
                        t.item = *item;
                    }
                }
            }
            Event::StaffLoggedIn {
                window, staff: who, ..
            } => {
                staff.insert(*window, who.clone());
            }
            Event::StaffLoggedOut { window, .. } => {
                staff.remove(window);
            }
            _ => {}
        }
    }
}

/// Adds up `tickets` into figures; `issued` counts them all.
fn figures<'a>(tickets: impl Iterator<Item = &'a Ticket>, count_issued: bool) -> StatsFigures {
    let mut f = StatsFigures::default();
    let mut waits = Vec::new();
    let mut services = Vec::new();
    for t in tickets {
        if count_issued {
            f.issued += 1;
        }
        match t.outcome {
            Outcome::Served | Outcome::ServedInBatch => f.served += 1,
            _ => {}
        }
        if t.no_show {
            f.no_shows += 1;
        }
        f.transfers += t.transfers;
        if let Some(called) = t.called {
            waits.push(called.0.saturating_sub(t.issued.0));
        }
        if let (Outcome::Served, Some(finished)) = (t.outcome, t.finished) {
            if let Some(from) = t.started.or(t.called) {
                services.push(finished.0.saturating_sub(from.0));
            }
        }
        if let Some(r) = t.rating {
            f.ratings[usize::from(r.clamp(1, 5)) - 1] += 1;
            if r <= 2 {
                f.work_orders += 1;
            }
        }
    }
    f.waiting = durations(waits);
    f.service = durations(services);
    f
}

/// Mean, nearest-rank percentiles and maximum of `ms`, in seconds.
fn durations(mut ms: Vec<u64>) -> Durations {
    if ms.is_empty() {
        return Durations::default();
    }
    ms.sort_unstable();
    let n = ms.len();
    let secs = |v: u64| (v + 500) / 1000;
    let rank = |p: usize| ms[(p * n).div_ceil(100).max(1) - 1];
    Durations {
        count: n as u64,
        mean_secs: secs(ms.iter().sum::<u64>() / n as u64),
        p50_secs: secs(rank(50)),
        p90_secs: secs(rank(90)),
        max_secs: secs(ms[n - 1]),
    }
}

/// The statistics of hall `hall`'s day `day` from its journal `entries`.
pub fn compute(hall: &str, day: u32, entries: &[Entry], by: Option<StatsBy>) -> DayStats {
    let d = Day::read(entries);
    let all = || d.tickets.values();
    let mut groups: BTreeMap<String, Vec<&Ticket>> = BTreeMap::new();
    if let Some(by) = by {
        for t in all() {
            let key = match by {
                StatsBy::Item => Some(t.item.to_string()),
                StatsBy::Window => t.window.map(|w| format!("{:>5}", w.0)),
                StatsBy::Staff => t.staff.as_ref().map(|s| s.to_string()),
            };
            if let Some(key) = key {
                groups.entry(key).or_default().push(t);
            }
        }
    }
    DayStats {
        hall: hall.to_owned(),
        day,
        totals: figures(all(), true),
        // Bookings arrive with appointments (issue 4); until then none.
        forfeited_bookings: 0,
        appointments_kept: all().filter(|t| t.lane == Lane::Appointment).count() as u64,
        notifications_sent: d.sent,
        notifications_failed: d.failed,
        by,
        groups: groups
            .into_iter()
            .map(|(key, tickets)| StatsGroup {
                // Window keys were padded only to sort numerically.
                key: key.trim_start().to_owned(),
                figures: figures(tickets.into_iter(), by == Some(StatsBy::Item)),
            })
            .collect(),
    }
}

/// The keyed hash that stands for a phone number in exports: HMAC-SHA256
/// with the hall's `export_key`, hex. The same number hashes the same
/// within a hall (so upstream can count returning visitors) but cannot be
/// recovered or tested without the key.
pub fn phone_hash(key: &[u8], phone: &Phone) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, phone.expose().as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Page `from..` of the day's per-ticket records, in issue order. Without
/// a `key`, phone numbers are left out entirely.
pub fn export(hall: &str, entries: &[Entry], from: u32, key: Option<&[u8]>) -> ExportPage {
    let d = Day::read(entries);
    let from = from as usize;
    let records: Vec<TicketRecord> = d
        .tickets
        .values()
        .skip(from)
        .take(EXPORT_PAGE)
        .map(|t| TicketRecord {
            hall: hall.to_owned(),
            ticket: t.number,
            item: t.item,
            lane: t.lane,
            issued: t.issued,
            called: t.called,
            started: t.started,
            finished: t.finished,
            window: t.window,
            staff: t.staff.as_ref().map(|s| s.to_string()),
            rating: t.rating,
            outcome: t.outcome.as_str().to_owned(),
            phone_hash: match (key, &t.phone) {
                (Some(key), Some(phone)) => Some(phone_hash(key, phone)),
                _ => None,
            },
        })
        .collect();
    let end = from + records.len();
    ExportPage {
        next: (end < d.tickets.len()).then_some(end as u32),
        records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let d = durations((1..=10).map(|s| s * 1000).collect());
        assert_eq!(
            (d.count, d.mean_secs, d.p50_secs, d.p90_secs, d.max_secs),
            (10, 6, 5, 9, 10)
        );
        let d = durations(vec![4000]);
        assert_eq!((d.p50_secs, d.p90_secs, d.max_secs), (4, 4, 4));
        assert_eq!(durations(Vec::new()), Durations::default());
    }

    #[test]
    fn phone_hashes_are_keyed() {
        let phone = Phone::new("13800138000").unwrap();
        let a = phone_hash(b"0123456789abcdef", &phone);
        assert_eq!(a.len(), 64);
        assert_ne!(a, phone_hash(b"fedcba9876543210", &phone));
        assert!(!a.contains("13800138000"));
    }
}
