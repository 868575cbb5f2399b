//! Statistics and exports of a business day (SPEC §2 item 13; DB33/T
//! 2036.4 §7.3.1 数据统一汇聚), computed from the hall's journal file of
//! that day, through the same decoding as a replay: they survive restarts,
//! and any past day can be asked for as long as its file is kept.
//!
//! Pure functions of the day's records: [`read_day`] is the only I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hallq_proto::codec;
use hallq_proto::types::{ItemCode, Lane, Phone, StaffId, TicketId, TicketNo, Timestamp, WindowNo};
use hallq_proto::wire::{
    DayReport, DayStats, Durations, HourFigures, RecordTrail, ReportFigures, ReportGroup, StatsBy,
    StatsFigures, StatsGroup, TicketRecord,
};

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
    /// The visitor gave the ticket up from their phone (issue 18).
    Left,
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
            Outcome::Left => "left",
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
    /// The last call and start: a transferred ticket's service is the one
    /// at the window that finished it, not its first call elsewhere.
    last_called: Option<Timestamp>,
    last_started: Option<Timestamp>,
    window: Option<WindowNo>,
    staff: Option<StaffId>,
    rating: Option<u8>,
    outcome: Outcome,
    /// Times it was handed on.
    transfers: u64,
    /// Each transfer: `"1>B"`, `"1>W3"`.
    trail: Vec<String>,
    /// Marked a no-show at least once.
    no_show: bool,
    /// Stepped back from the visitor's phone ("I need more time").
    stepped_back: bool,
    /// Its rating was set aside (申诉复核, issue 21).
    appealed: bool,
}

/// The key a staff group has when nobody was logged in: calls without a
/// login still count, under this key (issue 17: 17 against 18 served).
pub const NO_STAFF: &str = "-";

/// What one window or one staff member did: each event counted where and
/// by whom it happened (issue 17), not where the ticket ended up.
#[derive(Debug, Clone, Default)]
struct Tally {
    served: u64,
    no_shows: u64,
    transfers: u64,
    calls: u64,
    /// Issue to first call (ms), of the tickets first called here.
    waits: Vec<u64>,
    /// Start (or call) to finish (ms), of the services finished here.
    services: Vec<u64>,
    ratings: [u64; 5],
    paused_ms: u64,
    /// Tickets their visitors gave up, and tickets stepped back (issue 18;
    /// by ticket: the hall and its items).
    left: u64,
    stepped_back: u64,
}

impl Tally {
    fn rate(&mut self, rating: u8) {
        self.ratings[usize::from(rating.clamp(1, 5)) - 1] += 1;
    }

    fn figures(&self) -> StatsFigures {
        StatsFigures {
            issued: 0,
            served: self.served,
            no_shows: self.no_shows,
            transfers: self.transfers,
            waiting: durations(self.waits.clone()),
            service: durations(self.services.clone()),
            ratings: self.ratings,
            work_orders: self.ratings[0] + self.ratings[1],
        }
    }

    fn report(&self, target_ms: u64) -> ReportFigures {
        let over = self.waits.iter().filter(|&&w| w > target_ms).count() as u64;
        ReportFigures {
            calls: self.calls,
            satisfied_permille: satisfied(&self.ratings),
            waited_over_target: over,
            waited_over_target_permille: permille(over, self.waits.len() as u64),
            no_show_permille: permille(self.no_shows, self.calls),
            paused_secs: (self.paused_ms + 500) / 1000,
            left: self.left,
            stepped_back: self.stepped_back,
        }
    }
}

/// `part` of `whole` in per mille, rounded; `None` of nothing.
fn permille(part: u64, whole: u64) -> Option<u32> {
    (whole > 0).then(|| u32::try_from((part * 1000 + whole / 2) / whole).unwrap_or(u32::MAX))
}

/// 满意率: 非常满意 (5) and 满意 (4) among the ratings given.
fn satisfied(ratings: &[u64; 5]) -> Option<u32> {
    permille(ratings[3] + ratings[4], ratings.iter().sum())
}

/// Per hour of local time.
#[derive(Debug, Clone, Default)]
struct Hour {
    issued: u64,
    called: u64,
    served: u64,
    no_shows: u64,
    waits_ms: u64,
}

/// The day, ticket by ticket, window by window, staff by staff, hour by
/// hour, and the outbox's settlements.
#[derive(Debug, Default)]
struct Day {
    tickets: BTreeMap<TicketId, Ticket>,
    windows: BTreeMap<WindowNo, Tally>,
    staff: BTreeMap<String, Tally>,
    hours: BTreeMap<u8, Hour>,
    /// Who is logged in where now: the staff of an event at a window.
    logged_in: BTreeMap<WindowNo, StaffId>,
    /// Windows paused now, since when.
    paused: BTreeMap<WindowNo, Timestamp>,
    /// Local time minus UTC, for the hours.
    offset_minutes: i32,
    /// The last instant the day's records mention: open pauses end there.
    last: u64,
    sent: u64,
    failed: u64,
    /// Issue 21, 申诉复核: services whose rating was set aside; they count
    /// in no rating figure (distribution, 满意率, work orders raised).
    appealed: BTreeSet<TicketNo>,
}

impl Day {
    fn read(entries: &[Entry], offset_minutes: i32, appealed: &BTreeSet<TicketNo>) -> Day {
        let mut day = Day {
            offset_minutes,
            appealed: appealed.clone(),
            ..Day::default()
        };
        for entry in entries {
            match entry {
                Entry::Events(events) => {
                    for event in events {
                        day.last = day.last.max(event.at().0);
                        day.apply(event);
                    }
                }
                Entry::Acked(_) => day.sent += 1,
                Entry::NotificationFailed { .. } | Entry::NotificationFailedAt { .. } => {
                    day.failed += 1
                }
                Entry::Probe => {}
            }
        }
        for t in day.tickets.values_mut() {
            t.appealed = day.appealed.contains(&t.number);
        }
        // A pause still running when the records end counts up to then.
        for (window, since) in std::mem::take(&mut day.paused) {
            day.end_pause(window, since, Timestamp(day.last));
        }
        day
    }

    /// The tallies of `window` and of whoever is logged in there now.
    fn at(&mut self, window: WindowNo, f: impl Fn(&mut Tally)) {
        f(self.windows.entry(window).or_default());
        let who = self
            .logged_in
            .get(&window)
            .map_or_else(|| NO_STAFF.to_owned(), |s| s.to_string());
        f(self.staff.entry(who).or_default());
    }

    fn hour(&mut self, at: Timestamp) -> &mut Hour {
        let local_ms = at.0 as i64 + i64::from(self.offset_minutes) * 60_000;
        let hour = local_ms.rem_euclid(86_400_000) / 3_600_000;
        self.hours.entry(hour as u8).or_default()
    }

    fn end_pause(&mut self, window: WindowNo, since: Timestamp, until: Timestamp) {
        let ms = until.0.saturating_sub(since.0);
        self.at(window, |t| t.paused_ms += ms);
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::DayBegun { .. } => {
                // A file holds one day; a second begin (a clock set back)
                // starts the day over, as the hall does.
                let (offset_minutes, last) = (self.offset_minutes, self.last);
                *self = Day {
                    offset_minutes,
                    last,
                    sent: self.sent,
                    failed: self.failed,
                    appealed: std::mem::take(&mut self.appealed),
                    ..Day::default()
                };
            }
            Event::Issued { issued, at } => {
                self.hour(*at).issued += 1;
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
                        last_called: None,
                        last_started: None,
                        window: None,
                        staff: None,
                        rating: None,
                        outcome: Outcome::Waiting,
                        transfers: 0,
                        trail: Vec::new(),
                        no_show: false,
                        stepped_back: false,
                        appealed: false,
                    },
                );
            }
            Event::Called {
                ticket, window, at, ..
            } => {
                let Some(t) = self.tickets.get_mut(ticket) else {
                    return;
                };
                let first = t.called.is_none();
                t.called.get_or_insert(*at);
                t.last_called = Some(*at);
                t.last_started = None;
                t.window = Some(*window);
                t.outcome = Outcome::Called;
                let wait = at.0.saturating_sub(t.issued.0);
                self.at(*window, |t| t.calls += 1);
                if first {
                    // The wait belongs to the window that ended it.
                    self.at(*window, |t| t.waits.push(wait));
                    let hour = self.hour(*at);
                    hour.called += 1;
                    hour.waits_ms += wait;
                }
            }
            Event::Started {
                ticket, window, at, ..
            } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.started.get_or_insert(*at);
                    t.last_started = Some(*at);
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
                let Some(t) = self.tickets.get_mut(ticket) else {
                    return;
                };
                t.finished = Some(*at);
                t.window = Some(*window);
                t.staff = who.clone();
                t.rating = rating.map(|r| r.value());
                t.outcome = Outcome::Served;
                let service = t
                    .last_started
                    .or(t.last_called)
                    .map(|from| at.0.saturating_sub(from.0));
                let rating = t.rating.filter(|_| !self.appealed.contains(&t.number));
                self.at(*window, |t| {
                    t.served += 1;
                    t.services.extend(service);
                    if let Some(r) = rating {
                        t.rate(r);
                    }
                });
                self.hour(*at).served += 1;
            }
            Event::ServedWith {
                ticket, window, at, ..
            } => {
                let who = self.logged_in.get(window).cloned();
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.finished = Some(*at);
                    t.window = Some(*window);
                    t.staff = who;
                    t.outcome = Outcome::ServedInBatch;
                    self.at(*window, |t| t.served += 1);
                    self.hour(*at).served += 1;
                }
            }
            Event::Rated { ticket, rating, .. } => {
                let Some(t) = self.tickets.get_mut(ticket) else {
                    return;
                };
                t.rating = Some(rating.value());
                if self.appealed.contains(&t.number) {
                    return;
                }
                // To whoever gave the service: its window and staff, even
                // if someone else is logged in there by now.
                let r = rating.value();
                if let Some(w) = t.window {
                    self.windows.entry(w).or_default().rate(r);
                }
                let who = t
                    .staff
                    .as_ref()
                    .map_or(NO_STAFF.to_owned(), |s| s.to_string());
                self.staff.entry(who).or_default().rate(r);
            }
            Event::NoShow {
                ticket, window, at, ..
            } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.window = Some(*window);
                    t.outcome = Outcome::NoShow;
                    t.no_show = true;
                }
                // Where it was called and given up, not where it is served later.
                self.at(*window, |t| t.no_shows += 1);
                self.hour(*at).no_shows += 1;
            }
            Event::Reinstated { ticket, .. } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.outcome = Outcome::Waiting;
                }
            }
            Event::Transferred {
                ticket, from, to, ..
            } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.transfers += 1;
                    t.outcome = Outcome::Waiting;
                    t.trail.push(match to {
                        TransferTarget::Item(item) => format!("{}>{item}", from.0),
                        TransferTarget::Window(w) => format!("{}>W{}", from.0, w.0),
                    });
                    if let TransferTarget::Item(item) = to {
                        t.item = *item;
                    }
                }
                // 首问负责: the window that handed it on made the transfer.
                self.at(*from, |t| t.transfers += 1);
            }
            Event::SteppedBack { ticket, .. } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.stepped_back = true;
                }
            }
            Event::Left { ticket, .. } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.outcome = Outcome::Left;
                }
            }
            Event::WindowPaused { window, at, .. } => {
                self.paused.entry(*window).or_insert(*at);
            }
            Event::WindowResumed { window, at } | Event::WindowClosed { window, at } => {
                if let Some(since) = self.paused.remove(window) {
                    self.end_pause(*window, since, *at);
                }
            }
            Event::StaffLoggedIn {
                window,
                staff: who,
                at,
                ..
            } => {
                // A pause runs on under the next clerk: split it.
                if let Some(since) = self.paused.get(window).copied() {
                    self.end_pause(*window, since, *at);
                    self.paused.insert(*window, *at);
                }
                self.logged_in.insert(*window, who.clone());
            }
            Event::StaffLoggedOut { window, at, .. } => {
                if let Some(since) = self.paused.get(window).copied() {
                    self.end_pause(*window, since, *at);
                    self.paused.insert(*window, *at);
                }
                self.logged_in.remove(window);
            }
            _ => {}
        }
    }
}

/// The figures and the report's tally of `tickets` (the hall's
/// totals and the item groups: by ticket, not by event).
fn tally<'a>(
    tickets: impl Iterator<Item = &'a Ticket>,
    count_issued: bool,
) -> (StatsFigures, Tally) {
    let mut f = StatsFigures::default();
    let mut all = Tally::default();
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
        if t.outcome == Outcome::Left {
            all.left += 1;
        }
        if t.stepped_back {
            all.stepped_back += 1;
        }
        f.transfers += t.transfers;
        if let Some(called) = t.called {
            all.calls += 1;
            all.waits.push(called.0.saturating_sub(t.issued.0));
        }
        if let (Outcome::Served, Some(finished)) = (t.outcome, t.finished) {
            if let Some(from) = t.last_started.or(t.last_called) {
                all.services.push(finished.0.saturating_sub(from.0));
            }
        }
        if let Some(r) = t.rating.filter(|_| !t.appealed) {
            f.ratings[usize::from(r.clamp(1, 5)) - 1] += 1;
            if r <= 2 {
                f.work_orders += 1;
            }
        }
    }
    f.waiting = durations(all.waits.clone());
    f.service = durations(all.services.clone());
    all.no_shows = f.no_shows;
    all.ratings = f.ratings;
    (f, all)
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
/// `appealed`: the day's services whose rating was set aside (申诉复核).
pub fn compute(
    hall: &str,
    day: u32,
    entries: &[Entry],
    by: Option<StatsBy>,
    appealed: &BTreeSet<TicketNo>,
) -> DayStats {
    report(hall, day, entries, by, 0, 0, appealed).stats
}

/// [`compute`] and what a manager asks for besides: `offset_minutes` is
/// the hall's zone (for the hours), `target_secs` its waiting target.
pub fn report(
    hall: &str,
    day: u32,
    entries: &[Entry],
    by: Option<StatsBy>,
    offset_minutes: i32,
    target_secs: u64,
    appealed: &BTreeSet<TicketNo>,
) -> DayReport {
    let d = Day::read(entries, offset_minutes, appealed);
    let target_ms = target_secs * 1000;
    let all = || d.tickets.values();
    let mut groups: Vec<(String, StatsFigures, ReportFigures)> = Vec::new();
    match by {
        Some(StatsBy::Item) => {
            let mut items: BTreeMap<ItemCode, Vec<&Ticket>> = BTreeMap::new();
            for t in all() {
                items.entry(t.item).or_default().push(t);
            }
            for (item, tickets) in items {
                let (f, t) = tally(tickets.into_iter(), true);
                groups.push((item.to_string(), f, t.report(target_ms)));
            }
        }
        Some(StatsBy::Window) => {
            for (w, t) in &d.windows {
                groups.push((w.0.to_string(), t.figures(), t.report(target_ms)));
            }
        }
        Some(StatsBy::Staff) => {
            for (s, t) in &d.staff {
                groups.push((s.clone(), t.figures(), t.report(target_ms)));
            }
        }
        None => {}
    }
    let (totals, tally_all) = tally(all(), true);
    let mut totals_report = tally_all.report(target_ms);
    // The hall's calls and no-show rate as a window's are: per call made
    // (a reinstated ticket called again is a second chance, a second call).
    let calls: u64 = d.windows.values().map(|t| t.calls).sum();
    let no_shows: u64 = d.windows.values().map(|t| t.no_shows).sum();
    totals_report.calls = calls;
    totals_report.no_show_permille = permille(no_shows, calls);
    totals_report.paused_secs = (d.windows.values().map(|t| t.paused_ms).sum::<u64>() + 500) / 1000;
    DayReport {
        stats: DayStats {
            hall: hall.to_owned(),
            day,
            totals,
            // Bookings arrive with appointments (issue 4); until then none.
            forfeited_bookings: 0,
            appointments_kept: all().filter(|t| t.lane == Lane::Appointment).count() as u64,
            notifications_sent: d.sent,
            notifications_failed: d.failed,
            by,
            groups: groups
                .iter()
                .map(|(key, figures, _)| StatsGroup {
                    key: key.clone(),
                    figures: figures.clone(),
                })
                .collect(),
        },
        wait_target_secs: target_secs,
        totals: totals_report,
        groups: groups
            .into_iter()
            .map(|(key, _, figures)| ReportGroup { key, figures })
            .collect(),
        hours: d
            .hours
            .iter()
            .map(|(&hour, h)| HourFigures {
                hour,
                issued: h.issued,
                called: h.called,
                served: h.served,
                no_shows: h.no_shows,
                mean_wait_secs: h
                    .waits_ms
                    .checked_div(h.called)
                    .map_or(0, |ms| (ms + 500) / 1000),
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
    let (records, _, next) = export_page(hall, entries, from, key, EXPORT_PAGE);
    ExportPage { records, next }
}

/// Records per [`export_detailed`] page: each record carries its trail too.
pub const EXPORT_DETAILED_PAGE: usize = 100;

/// [`export`] with each record's trail (original item, transfers, waiting
/// and service seconds).
pub fn export_detailed(
    hall: &str,
    entries: &[Entry],
    from: u32,
    key: Option<&[u8]>,
) -> (Vec<TicketRecord>, Vec<RecordTrail>, Option<u32>) {
    export_page(hall, entries, from, key, EXPORT_DETAILED_PAGE)
}

fn export_page(
    hall: &str,
    entries: &[Entry],
    from: u32,
    key: Option<&[u8]>,
    page: usize,
) -> (Vec<TicketRecord>, Vec<RecordTrail>, Option<u32>) {
    let d = Day::read(entries, 0, &BTreeSet::new());
    let from = from as usize;
    let (records, trails): (Vec<TicketRecord>, Vec<RecordTrail>) = d
        .tickets
        .values()
        .skip(from)
        .take(page)
        .map(|t| {
            let record = TicketRecord {
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
            };
            let secs = |ms: u64| (ms + 500) / 1000;
            let trail = RecordTrail {
                original_item: t.number.item,
                transfers: t.trail.clone(),
                waiting_secs: t.called.map(|c| secs(c.0.saturating_sub(t.issued.0))),
                service_secs: match (t.outcome, t.finished) {
                    (Outcome::Served | Outcome::ServedInBatch, Some(f)) => t
                        .last_started
                        .or(t.last_called)
                        .map(|from| secs(f.0.saturating_sub(from.0))),
                    _ => None,
                },
            };
            (record, trail)
        })
        .unzip();
    let end = from + records.len();
    let next = (end < d.tickets.len()).then_some(end as u32);
    (records, trails, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_core::{Command, Hall, HallSpec, ItemSpec, WindowSpec};
    use hallq_proto::types::{Post, Rating};

    /// 2026-11-22 09:00 in Beijing (01:00 UTC), in ms.
    const T0: u64 = 1_795_309_200_000;

    /// A scripted morning with known answers (issue 17): A003 is a no-show
    /// at window 2 (S1002) and served later at window 6; window 1 (S1001)
    /// transfers A001 to item B, then with nobody logged in serves it and
    /// B001 and pauses ten minutes; A002 and A003 are rated 5 and 4, A001 2.
    fn scripted_day() -> Vec<Entry> {
        let mut hall = test_hall();
        let w = WindowNo;
        let t = |s: &str| s.parse::<TicketNo>().unwrap();
        let staff = |s: &str| StaffId::new(s).unwrap();
        let rating = |r: u8| Some(Rating::new(r).unwrap());
        let script: Vec<(u64, Command)> = vec![
            (0, Command::BeginDay { day: 20261122 }),
            (0, Command::OpenWindow { window: w(1) }),
            (0, Command::OpenWindow { window: w(2) }),
            (0, Command::OpenWindow { window: w(6) }),
            (
                0,
                Command::LogIn {
                    window: w(1),
                    staff: staff("S1001"),
                    post: Post::A,
                },
            ),
            (
                0,
                Command::LogIn {
                    window: w(2),
                    staff: staff("S1002"),
                    post: Post::A,
                },
            ),
            (
                0,
                Command::LogIn {
                    window: w(6),
                    staff: staff("S1006"),
                    post: Post::B,
                },
            ),
            (
                0,
                Command::Issue {
                    item: ItemCode::new('A').unwrap(),
                    lane: Lane::WalkIn,
                    phone: None,
                },
            ),
            (
                0,
                Command::Issue {
                    item: ItemCode::new('A').unwrap(),
                    lane: Lane::WalkIn,
                    phone: None,
                },
            ),
            (
                0,
                Command::Issue {
                    item: ItemCode::new('A').unwrap(),
                    lane: Lane::WalkIn,
                    phone: None,
                },
            ),
            (
                0,
                Command::Issue {
                    item: ItemCode::new('B').unwrap(),
                    lane: Lane::WalkIn,
                    phone: None,
                },
            ),
            (
                60,
                Command::CallTicket {
                    window: w(2),
                    ticket: t("A003"),
                },
            ),
            (100, Command::NoShow { window: w(2) }),
            (
                120,
                Command::CallTicket {
                    window: w(1),
                    ticket: t("A001"),
                },
            ),
            (130, Command::Start { window: w(1) }),
            (
                200,
                Command::CallTicket {
                    window: w(6),
                    ticket: t("A002"),
                },
            ),
            (
                260,
                Command::Finish {
                    window: w(6),
                    rating: rating(5),
                },
            ),
            (300, Command::Reinstate { ticket: t("A003") }),
            (
                400,
                Command::Transfer {
                    window: w(1),
                    to: TransferTarget::Item(ItemCode::new('B').unwrap()),
                },
            ),
            (450, Command::LogOut { window: w(1) }),
            (
                500,
                Command::CallTicket {
                    window: w(1),
                    ticket: t("A001"),
                },
            ),
            (
                800,
                Command::Finish {
                    window: w(1),
                    rating: rating(2),
                },
            ),
            (
                900,
                Command::Pause {
                    window: w(1),
                    reason: "午休".into(),
                },
            ),
            (1500, Command::Resume { window: w(1) }),
            (
                2000,
                Command::CallTicket {
                    window: w(1),
                    ticket: t("B001"),
                },
            ),
            (
                2050,
                Command::Finish {
                    window: w(1),
                    rating: None,
                },
            ),
            (
                2100,
                Command::CallTicket {
                    window: w(6),
                    ticket: t("A003"),
                },
            ),
            (2110, Command::Start { window: w(6) }),
            (
                2400,
                Command::Finish {
                    window: w(6),
                    rating: rating(4),
                },
            ),
        ];
        play(&mut hall, script)
    }

    /// Items A and B; windows 1 (A, B), 2 (A) and 6 (A, B).
    fn test_hall() -> Hall {
        let item = |c: char| ItemSpec {
            code: ItemCode::new(c).unwrap(),
            name: format!("item {c}"),
            avg_service_secs: 300,
            daily_cap: None,
        };
        let window = |n: u16, items: &str| WindowSpec {
            number: WindowNo(n),
            items: items.chars().map(|c| ItemCode::new(c).unwrap()).collect(),
            universal: false,
            fallback: false,
        };
        Hall::new(HallSpec::new(
            vec![item('A'), item('B')],
            vec![window(1, "AB"), window(2, "A"), window(6, "AB")],
        ))
        .unwrap()
    }

    /// The journal's records of `script` (seconds after [`T0`], command).
    fn play(hall: &mut Hall, script: Vec<(u64, Command)>) -> Vec<Entry> {
        script
            .into_iter()
            .map(|(secs, command)| {
                let shown = format!("{command:?}");
                let events = hall
                    .apply(command, Timestamp(T0 + secs * 1000))
                    .unwrap_or_else(|e| panic!("{shown}: {e}"));
                Entry::Events(events)
            })
            .collect()
    }

    /// Issue 18: A002 steps back from the phone, A001 is given up; both
    /// are counted for the hall and the item, and the export says "left".
    #[test]
    fn stepping_back_and_leaving_are_counted() {
        let mut hall = test_hall();
        let t = |s: &str| s.parse::<TicketNo>().unwrap();
        let issue = || Command::Issue {
            item: ItemCode::new('A').unwrap(),
            lane: Lane::WalkIn,
            phone: None,
        };
        let day = play(
            &mut hall,
            vec![
                (0, Command::BeginDay { day: 20261122 }),
                (
                    0,
                    Command::OpenWindow {
                        window: WindowNo(2),
                    },
                ),
                (10, issue()),
                (20, issue()),
                (30, issue()),
                (
                    40,
                    Command::StepBack {
                        ticket: t("A002"),
                        places: 1,
                    },
                ),
                (50, Command::Leave { ticket: t("A001") }),
            ],
        );
        let r = report(
            "main",
            20261122,
            &day,
            Some(StatsBy::Item),
            480,
            1800,
            &BTreeSet::new(),
        );
        assert_eq!((r.totals.left, r.totals.stepped_back), (1, 1));
        let (f, x) = group(&r, "A");
        assert_eq!((f.issued, f.served, x.left, x.stepped_back), (3, 0, 1, 1));
        let (records, _, _) = export_detailed("main", &day, 0, None);
        let outcome = |n: &str| {
            records
                .iter()
                .find(|r| r.ticket.to_string() == n)
                .map(|r| r.outcome.clone())
                .unwrap()
        };
        assert_eq!(outcome("A001"), "left");
        assert_eq!(outcome("A002"), "waiting");
    }

    fn group<'a>(r: &'a DayReport, key: &str) -> (&'a StatsFigures, &'a ReportFigures) {
        let i = r
            .stats
            .groups
            .iter()
            .position(|g| g.key == key)
            .unwrap_or_else(|| panic!("no group {key} in {:?}", r.stats.groups));
        (&r.stats.groups[i].figures, &r.groups[i].figures)
    }

    #[test]
    fn each_event_is_counted_where_and_by_whom_it_happened() {
        let day = scripted_day();
        let r = report(
            "main",
            20261122,
            &day,
            Some(StatsBy::Window),
            480,
            1800,
            &BTreeSet::new(),
        );
        // The no-show at window 2, not at window 6 where A003 was served.
        let (f, x) = group(&r, "2");
        assert_eq!(
            (f.no_shows, f.served, x.calls, f.waiting.count),
            (1, 0, 1, 1)
        );
        assert_eq!(x.no_show_permille, Some(1000));
        // The transfer by window 1, which handed A001 on.
        let (f, x) = group(&r, "1");
        assert_eq!((f.transfers, f.served, x.calls), (1, 2, 3));
        assert_eq!(f.waiting.count, 2, "A001 and B001 were first called here");
        assert_eq!(f.service.mean_secs, 175, "300 s and 50 s");
        assert_eq!(f.ratings, [0, 1, 0, 0, 0]);
        assert_eq!(x.paused_secs, 600);
        assert_eq!(x.waited_over_target, 1, "B001 waited 2000 s > 1800 s");
        let (f, x) = group(&r, "6");
        assert_eq!((f.no_shows, f.transfers, f.served), (0, 0, 2));
        assert_eq!(f.ratings, [0, 0, 0, 1, 1]);
        assert_eq!(x.satisfied_permille, Some(1000));
        assert_eq!(f.service.max_secs, 290);

        let r = report(
            "main",
            20261122,
            &day,
            Some(StatsBy::Staff),
            480,
            1800,
            &BTreeSet::new(),
        );
        let (f, _) = group(&r, "S1002");
        assert_eq!((f.no_shows, f.served), (1, 0));
        let (f, _) = group(&r, "S1001");
        assert_eq!((f.transfers, f.served), (1, 0));
        // Served with nobody logged in: still counted, under "-" (issue 17:
        // 17 against 18 served).
        let (f, x) = group(&r, NO_STAFF);
        assert_eq!((f.served, x.calls, x.paused_secs), (2, 2, 600));
        let (f, _) = group(&r, "S1006");
        assert_eq!(f.served, 2);
        let served: u64 = r.stats.groups.iter().map(|g| g.figures.served).sum();
        assert_eq!(served, r.stats.totals.served);

        // The hall: 满意率 2 of 3, one of four over the target, one no-show
        // in six calls, ten minutes paused, all in the 09:00 hour.
        let t = &r.stats.totals;
        assert_eq!((t.issued, t.served, t.no_shows, t.transfers), (4, 4, 1, 1));
        assert_eq!(t.ratings, [0, 1, 0, 1, 1]);
        assert_eq!(r.totals.satisfied_permille, Some(667));
        assert_eq!(r.totals.waited_over_target, 1);
        assert_eq!(r.totals.waited_over_target_permille, Some(250));
        assert_eq!(r.totals.calls, 6);
        assert_eq!(r.totals.no_show_permille, Some(167));
        assert_eq!(r.totals.paused_secs, 600);
        assert_eq!(r.hours.len(), 1);
        let h = &r.hours[0];
        assert_eq!(
            (h.hour, h.issued, h.called, h.served, h.no_shows),
            (9, 4, 4, 4, 1)
        );
        assert_eq!(h.mean_wait_secs, (60 + 120 + 200 + 2000) / 4);

        // By item: the no-show rate per item (A003 of A's three).
        let r = report(
            "main",
            20261122,
            &day,
            Some(StatsBy::Item),
            480,
            1800,
            &BTreeSet::new(),
        );
        let (f, x) = group(&r, "A");
        assert_eq!((f.issued, f.no_shows), (2, 1), "A001 ended in B");
        assert_eq!(x.no_show_permille, Some(500));
    }

    #[test]
    fn the_export_carries_the_original_item_and_the_trail() {
        let day = scripted_day();
        let (records, trails, next) = export_detailed("main", &day, 0, None);
        assert_eq!(next, None);
        let a001 = records
            .iter()
            .position(|r| r.ticket.to_string() == "A001")
            .unwrap();
        assert_eq!(records[a001].item.to_string(), "B");
        assert_eq!(records[a001].window, Some(WindowNo(1)));
        assert_eq!(records[a001].staff, None, "nobody was logged in");
        let trail = &trails[a001];
        assert_eq!(trail.original_item.to_string(), "A");
        assert_eq!(trail.transfers, vec!["1>B".to_owned()]);
        assert_eq!(
            (trail.waiting_secs, trail.service_secs),
            (Some(120), Some(300))
        );
        let a003 = records
            .iter()
            .position(|r| r.ticket.to_string() == "A003")
            .unwrap();
        assert_eq!(
            (trails[a003].waiting_secs, trails[a003].service_secs),
            (Some(60), Some(290))
        );
    }

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
