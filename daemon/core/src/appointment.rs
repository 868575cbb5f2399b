//! Appointments and the hall's day (SPEC §2 items 9–11; seed 000 §四(七),
//! §四(八)).
//!
//! # The hall's day
//! [`HallDay`] is the hall's calendar: opening hours per weekday (none
//! configured: always open), extended hours (延时服务) per weekday, the
//! lunch duty period (12:00–13:30 by default, §四(八)2) with the windows on
//! duty, and how appointment slots are cut. Everything is decided in the
//! hall's local time, computed from the injected `now` and the hall's UTC
//! offset, so tests move time without sleeping and a replay decides alike.
//!
//! At closing time walk-in and priority tickets are refused with the hour
//! the hall opens again, while every ticket already waiting is still
//! called (§四(八)5: 17:00后已经在排队等候的企业群众也应继续为其提供服务).
//! Outside the opening hours only bookings for extended-hours slots check in.
//!
//! # Slots and bookings
//! A slot is an item's start time on one day with a capacity. Slots are not
//! stored: they follow from the configuration (every `slot_minutes` through
//! the opening and extended hours, `capacity` per item), changed for single
//! days by an admin's [`SlotChange`]s, which are stored. A booking holds its
//! slot; its code is six characters of an alphabet without look-alikes
//! (no 0/O, 1/I/L), from a per-hall counter mixed by a bijection, so codes
//! are short, unique and the same on every replay.
//!
//! Check-in is allowed from `check_in_early_minutes` before the start until
//! [`LATE_MINUTES`] after it (§四(七)8); later the booking is forfeited. A
//! hall cancels only at least [`HALL_CANCEL_NOTICE_HOURS`] ahead (§四(七)7).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hallq_proto::appointment::{
    day_string, minute_string, AppointmentState, AppointmentView, Channel, DayAppointments, SlotAt,
    SlotChange, SlotView,
};
use hallq_proto::types::{ItemCode, Lane, Phone, TicketNo, Timestamp, WindowNo};
use serde::{Deserialize, Serialize};

use super::command::BusinessDay;
use super::{DispatchError, Event, Hall};

/// §四(七)8: a visitor more than this late has given the booking up.
pub const LATE_MINUTES: u16 = 30;
/// §四(七)7: the hall tells the visitor at least this long ahead.
pub const HALL_CANCEL_NOTICE_HOURS: u64 = 8;
/// The booking code alphabet: digits and capitals without 0/O, 1/I/L.
const CODE_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters in a booking code.
pub const CODE_LEN: usize = 6;
/// How many codes there are: 31⁶.
const CODE_SPACE: u64 = 887_503_681;
/// The old builds' code mixing multiplier, coprime to [`CODE_SPACE`]
/// (= 31⁶). Kept only for [`booking_code`]; journals hold the codes
/// themselves, so nothing depends on the formula any more.
const CODE_MUL: u64 = 510_511_163;
const CODE_ADD: u64 = 104_729_003;
/// Digits of the phone a visitor gives to cancel (SPEC §6).
pub const PHONE_TAIL_LEN: usize = 4;

/// A stretch of a local day, in minutes after midnight: `from` ≤ t < `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Start (0–1439).
    pub from: u16,
    /// End (1–1440), after `from`.
    pub to: u16,
}

impl Span {
    fn contains(self, minute: u16) -> bool {
        (self.from..self.to).contains(&minute)
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", minute_string(self.from), minute_string(self.to))
    }
}

/// The hall's calendar and appointment settings (SPEC §2 items 9–11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HallDay {
    /// Local time minus UTC in minutes (480: Asia/Shanghai).
    pub offset_minutes: i32,
    /// Opening hours Monday … Sunday (`None` in a day: closed). `None`
    /// altogether: always open, the default, so a hall that sets no hours
    /// keeps issuing around the clock.
    pub hours: Option<[Option<Span>; 7]>,
    /// Extended hours (延时服务) Monday … Sunday: appointment slots only.
    pub extended: [Option<Span>; 7],
    /// Lunch duty period (§四(八)2): only `duty_windows` are expected open.
    pub lunch: Option<Span>,
    /// Windows staffed through lunch.
    pub duty_windows: Vec<WindowNo>,
    /// Length of one appointment slot.
    pub slot_minutes: u16,
    /// Check-in opens this long before a slot's start.
    pub check_in_early_minutes: u16,
    /// Bookings per slot, per item; an item not listed takes none.
    pub capacities: Vec<(ItemCode, u32)>,
}

impl Default for HallDay {
    fn default() -> Self {
        HallDay {
            offset_minutes: HallDay::DEFAULT_OFFSET_MINUTES,
            hours: None,
            extended: [None; 7],
            lunch: Some(HallDay::DEFAULT_LUNCH),
            duty_windows: Vec::new(),
            slot_minutes: HallDay::DEFAULT_SLOT_MINUTES,
            check_in_early_minutes: HallDay::DEFAULT_CHECK_IN_EARLY_MINUTES,
            capacities: Vec::new(),
        }
    }
}

impl HallDay {
    /// UTC+8.
    pub const DEFAULT_OFFSET_MINUTES: i32 = 480;
    /// 12:00–13:30 (§四(八)2).
    pub const DEFAULT_LUNCH: Span = Span { from: 720, to: 810 };
    /// Mon–Fri when `[hall.hours]` is given without them: 09:00–17:00.
    pub const DEFAULT_WEEKDAY_HOURS: Span = Span {
        from: 540,
        to: 1020,
    };
    /// Default slot length.
    pub const DEFAULT_SLOT_MINUTES: u16 = 30;
    /// Default check-in lead.
    pub const DEFAULT_CHECK_IN_EARLY_MINUTES: u16 = 30;

    /// What the core relies on.
    pub fn validate(&self, windows: &[WindowNo], items: &[ItemCode]) -> Result<(), String> {
        if !(-720..=840).contains(&self.offset_minutes) {
            return Err("timezone offset must be between -720 and 840 minutes".into());
        }
        let spans = self
            .hours
            .iter()
            .flatten()
            .chain(&self.extended)
            .chain(std::iter::once(&self.lunch));
        for span in spans.flatten() {
            if span.from >= span.to || span.to > 1440 {
                return Err(format!("hours {span}: the end must be after the start"));
            }
        }
        if let Some(hours) = &self.hours {
            if hours.iter().all(Option::is_none) {
                return Err("opening hours close every day of the week; leave [hall.hours] out for always open".into());
            }
        }
        for (day, (regular, extended)) in self
            .hours
            .unwrap_or_default()
            .iter()
            .zip(&self.extended)
            .enumerate()
        {
            if let (Some(r), Some(e)) = (regular, extended) {
                if e.from < r.to && r.from < e.to {
                    return Err(format!(
                        "{}: extended hours {e} overlap the opening hours {r}",
                        WEEKDAYS[day]
                    ));
                }
            }
        }
        if !(5..=240).contains(&self.slot_minutes) {
            return Err("slot_minutes must be 5-240".into());
        }
        if self.check_in_early_minutes > 240 {
            return Err("check_in_early_minutes must be at most 240".into());
        }
        for w in &self.duty_windows {
            if !windows.contains(w) {
                return Err(format!("duty window {w} is not a window of the hall"));
            }
        }
        for (item, _) in &self.capacities {
            if !items.contains(item) {
                return Err(format!("appointment capacity for unknown item {item}"));
            }
        }
        Ok(())
    }

    fn capacity(&self, item: ItemCode) -> u32 {
        self.capacities
            .iter()
            .find(|(code, _)| *code == item)
            .map_or(0, |(_, c)| *c)
    }

    /// Opening hours of business day `day`: `None` closed, the whole day
    /// for a hall that sets no hours (the staffing planner's working day).
    pub fn opening_on(&self, day: BusinessDay) -> Option<Span> {
        self.regular(weekday(days_of(day)))
    }

    /// Opening hours on `weekday` (0 = Monday); always open: the whole day.
    fn regular(&self, weekday: usize) -> Option<Span> {
        match &self.hours {
            None => Some(Span { from: 0, to: 1440 }),
            Some(hours) => hours[weekday],
        }
    }
}

/// Weekday names as the config spells them.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

// ----- calendar arithmetic (pure) ------------------------------------------

/// Days since 1970-01-01 of `yyyymmdd`.
pub fn days_of(day: BusinessDay) -> i64 {
    let (y, m, d) = (
        i64::from(day / 10_000),
        i64::from(day / 100 % 100),
        i64::from(day % 100),
    );
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `yyyymmdd` of days since 1970-01-01 (proleptic Gregorian calendar).
pub fn day_of(days: i64) -> BusinessDay {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y * 10_000 + m * 100 + d) as BusinessDay
}

/// 0 = Monday (1970-01-01 was a Thursday).
fn weekday(days: i64) -> usize {
    (days + 3).rem_euclid(7) as usize
}

impl HallDay {
    /// `now` in the hall's local time: (days since the epoch, minute of day).
    fn local(&self, now: Timestamp) -> (i64, u16) {
        let ms = now.0 as i64 + i64::from(self.offset_minutes) * 60_000;
        let minutes = ms.div_euclid(60_000);
        (minutes.div_euclid(1440), minutes.rem_euclid(1440) as u16)
    }

    /// The local slot time of `now`.
    pub fn slot_at(&self, now: Timestamp) -> SlotAt {
        let (days, minute) = self.local(now);
        SlotAt {
            day: day_of(days),
            minute,
        }
    }

    /// The instant local time `at` begins.
    pub fn instant(&self, at: SlotAt) -> Timestamp {
        let minutes =
            days_of(at.day) * 1440 + i64::from(at.minute) - i64::from(self.offset_minutes);
        Timestamp((minutes.max(0) * 60_000) as u64)
    }

    /// Whether the hall is open for walk-ins at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        let (days, minute) = self.local(now);
        self.regular(weekday(days))
            .is_some_and(|s| s.contains(minute))
    }

    /// When the hall opens next after `now` (local day and minute), for a
    /// kiosk to say in its own language; `None` without opening hours or
    /// with no open day in the coming week.
    pub fn next_opening_at(&self, now: Timestamp) -> Option<SlotAt> {
        self.hours.as_ref()?;
        let (days, minute) = self.local(now);
        (0..=7).find_map(|ahead| {
            let d = days + ahead;
            let span = self.regular(weekday(d))?;
            (ahead > 0 || span.from > minute).then(|| SlotAt {
                day: day_of(d),
                minute: span.from,
            })
        })
    }

    /// When the hall opens next after `now`, for people: "09:00 today",
    /// "09:00 tomorrow (2026-11-24)", "09:00 on Mon 2026-11-30".
    pub fn next_opening(&self, now: Timestamp) -> String {
        let (days, minute) = self.local(now);
        for ahead in 0..=7 {
            let d = days + ahead;
            let Some(span) = self.regular(weekday(d)) else {
                continue;
            };
            if ahead == 0 && span.from <= minute {
                continue;
            }
            let time = minute_string(span.from);
            let date = day_string(day_of(d));
            return match ahead {
                0 => format!("{time} today"),
                1 => format!("{time} tomorrow ({date})"),
                _ => format!(
                    "{time} on {} {date}",
                    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][weekday(d)]
                ),
            };
        }
        "no day this week (no opening hours are configured)".into()
    }

    /// The windows expected open at `now`: during the lunch duty period
    /// only the duty windows (§四(八)2); otherwise `None` (all of them).
    pub fn lunch_duty(&self, now: Timestamp) -> Option<&[WindowNo]> {
        let (days, minute) = self.local(now);
        let open_day = self.regular(weekday(days)).is_some();
        (open_day && self.lunch.is_some_and(|l| l.contains(minute)))
            .then_some(self.duty_windows.as_slice())
    }

    /// Whether a slot at `minute` on `days` lies outside the opening hours.
    fn is_extended(&self, days: i64, minute: u16) -> bool {
        !self
            .regular(weekday(days))
            .is_some_and(|s| s.contains(minute))
    }

    /// The slots the configuration gives `item` on `day`: (start, extended).
    fn generated(&self, day: BusinessDay, item: ItemCode) -> Vec<(u16, bool)> {
        if self.capacity(item) == 0 {
            return Vec::new();
        }
        let days = days_of(day);
        let wd = weekday(days);
        let mut out = Vec::new();
        for (span, extended) in [(self.regular(wd), false), (self.extended[wd], true)] {
            let Some(span) = span else { continue };
            let mut m = span.from;
            while m + self.slot_minutes <= span.to {
                out.push((m, extended));
                m += self.slot_minutes;
            }
        }
        out.sort_unstable();
        out
    }
}

// ----- state -----------------------------------------------------------------

/// One booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Its code.
    pub code: String,
    /// The item.
    pub item: ItemCode,
    /// The slot.
    pub slot: SlotAt,
    /// The visitor's phone.
    pub phone: Phone,
    /// How it was booked.
    pub channel: Channel,
    /// Where it stands.
    pub state: AppointmentState,
    /// When it was booked.
    pub booked_at: Timestamp,
}

/// A slot: day, item, start minute.
type SlotKey = (BusinessDay, ItemCode, u16);

/// The hall's bookings and single-day slot changes. Survives business days
/// (a booking is usually for a later day); bookings of days gone by are
/// dropped when a new day begins (the journal keeps them).
#[derive(Debug, Clone, Default)]
pub(super) struct Appointments {
    /// By booking number.
    bookings: BTreeMap<u64, Booking>,
    by_code: HashMap<String, u64>,
    /// Bookings holding each slot (not cancelled).
    held: BTreeMap<SlotKey, u32>,
    /// Capacities an admin set for one day's slots (added or cut).
    overrides: BTreeMap<SlotKey, u32>,
    /// Days an admin closed for bookings.
    closed: BTreeSet<BusinessDay>,
    /// The next booking's number (never reused).
    next: u64,
    /// Booking numbers by phone, for the SPEC §6 limit (pruned with the
    /// bookings; not part of the dump: it is an index of `bookings`).
    by_phone: HashMap<Phone, Vec<u64>>,
}

/// See [`Hall::dump`](super::Hall::dump).
pub(super) type AppointmentsDump = (
    Vec<(u64, Booking)>,
    Vec<(SlotKey, u32)>,
    Vec<(SlotKey, u32)>,
    Vec<BusinessDay>,
    u64,
);

impl Appointments {
    /// Whether an admin closed `day` (for bookings: the hall is closed).
    pub(super) fn is_closed(&self, day: BusinessDay) -> bool {
        self.closed.contains(&day)
    }

    pub(super) fn dump(&self) -> AppointmentsDump {
        (
            self.bookings.iter().map(|(n, b)| (*n, b.clone())).collect(),
            self.held.iter().map(|(k, v)| (*k, *v)).collect(),
            self.overrides.iter().map(|(k, v)| (*k, *v)).collect(),
            self.closed.iter().copied().collect(),
            self.next,
        )
    }

    /// A new day began: forget earlier days.
    pub(super) fn prune(&mut self, today: BusinessDay) {
        let old: Vec<u64> = self
            .bookings
            .iter()
            .filter(|(_, b)| b.slot.day < today)
            .map(|(n, _)| *n)
            .collect();
        for n in old {
            if let Some(b) = self.bookings.remove(&n) {
                self.by_code.remove(&b.code);
                if let Some(ns) = self.by_phone.get_mut(&b.phone) {
                    ns.retain(|m| *m != n);
                    if ns.is_empty() {
                        self.by_phone.remove(&b.phone);
                    }
                }
            }
        }
        self.held.retain(|k, _| k.0 >= today);
        self.overrides.retain(|k, _| k.0 >= today);
        self.closed.retain(|d| *d >= today);
    }

    /// Bookings `phone` holds on `day` (booked or checked in, not
    /// cancelled or forfeited): over that phone's bookings only.
    fn held_by(&self, phone: &Phone, day: BusinessDay) -> u32 {
        self.by_phone.get(phone).map_or(0, |ns| {
            ns.iter()
                .filter_map(|n| self.bookings.get(n))
                .filter(|b| {
                    b.slot.day == day
                        && matches!(
                            b.state,
                            AppointmentState::Booked | AppointmentState::CheckedIn(_)
                        )
                })
                .count() as u32
        })
    }

    fn get(&self, code: &str) -> Option<&Booking> {
        self.bookings.get(self.by_code.get(code)?)
    }

    fn get_mut(&mut self, code: &str) -> Option<&mut Booking> {
        self.bookings.get_mut(self.by_code.get(code)?)
    }
}

/// The code the builds before issue 19 gave booking number `n`: a fixed
/// bijection of `0..31⁶`, so anyone could work out the codes of others.
/// Only tests use it now (old journals carry their codes in `Booked`).
pub fn booking_code(n: u64) -> String {
    spell_code(((n % CODE_SPACE) * CODE_MUL + CODE_ADD) % CODE_SPACE)
}

/// A booking code from 30 random bits or more (`entropy` from a CSPRNG,
/// drawn by the daemon): uniform over the 31⁶ codes (≈ 2^29.7) by
/// rejection of the few values above the largest multiple of 31⁶, so no
/// code is likelier than another. `None`: draw again.
pub fn random_code(entropy: u64) -> Option<String> {
    let limit = u64::MAX - u64::MAX % CODE_SPACE;
    (entropy < limit).then(|| spell_code(entropy % CODE_SPACE))
}

/// `x < 31⁶` written in the code alphabet, six characters.
fn spell_code(mut x: u64) -> String {
    let mut code = [0u8; CODE_LEN];
    for c in code.iter_mut().rev() {
        *c = CODE_ALPHABET[(x % 31) as usize];
        x /= 31;
    }
    String::from_utf8_lossy(&code).into_owned()
}

/// A booking code as typed at a kiosk: case and spaces do not matter.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A new booking, as [`Event::Booked`] carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAppointment {
    /// Its number.
    pub n: u64,
    /// Its code.
    pub code: String,
    /// The item.
    pub item: ItemCode,
    /// The slot.
    pub slot: SlotAt,
    /// The visitor's phone.
    pub phone: Phone,
    /// How.
    pub channel: Channel,
}

impl Hall {
    /// The number the next booking gets (tests derive codes from it).
    #[cfg(test)]
    pub(crate) fn next_booking(&self) -> u64 {
        self.appointments.next
    }

    fn calendar(&self) -> &HallDay {
        &self.spec.day
    }

    /// A slot's capacity on its day and whether it is an extended-hours
    /// slot, if the slot exists.
    fn slot(&self, item: ItemCode, at: SlotAt) -> Option<(u32, bool)> {
        let cal = self.calendar();
        let extended = cal.is_extended(days_of(at.day), at.minute);
        if let Some(cap) = self.appointments.overrides.get(&(at.day, item, at.minute)) {
            return Some((*cap, extended));
        }
        cal.generated(at.day, item)
            .into_iter()
            .find(|(m, _)| *m == at.minute)
            .map(|(_, ext)| (cal.capacity(item), ext))
    }

    /// Seed 000 §四(八)5: no new walk-in or priority tickets outside the
    /// opening hours.
    pub(super) fn check_open(&self, now: Timestamp) -> Result<(), DispatchError> {
        let cal = self.calendar();
        if cal.is_open(now) {
            Ok(())
        } else {
            Err(DispatchError::HallClosed {
                opens: cal.next_opening(now),
            })
        }
    }

    pub(super) fn decide_book(
        &self,
        item: ItemCode,
        slot: SlotAt,
        phone: Phone,
        channel: Channel,
        code: String,
        now: Timestamp,
    ) -> Result<Event, DispatchError> {
        self.item_idx(item)?;
        if self.appointments.by_code.contains_key(&code) {
            return Err(DispatchError::BookingCodeTaken(code));
        }
        let cal = self.calendar();
        if cal.capacity(item) == 0
            && !self
                .appointments
                .overrides
                .keys()
                .any(|(d, i, _)| *d == slot.day && *i == item)
        {
            return Err(DispatchError::NotBookable(item));
        }
        if self.appointments.closed.contains(&slot.day) {
            return Err(DispatchError::BookingDayClosed(day_string(slot.day)));
        }
        let Some((capacity, _)) = self.slot(item, slot) else {
            return Err(DispatchError::NoSuchSlot {
                item,
                slot: slot.to_string(),
            });
        };
        if cal.instant(slot) <= now {
            return Err(DispatchError::SlotPast(slot.to_string()));
        }
        let held = self
            .appointments
            .held
            .get(&(slot.day, item, slot.minute))
            .copied()
            .unwrap_or(0);
        if held >= capacity {
            return Err(DispatchError::SlotFull {
                item,
                slot: slot.to_string(),
                capacity,
            });
        }
        // SPEC §6 (hoarding): one phone cannot take a day's slots.
        let limit = self.phone_limits.bookings_per_day;
        if limit > 0 && self.appointments.held_by(&phone, slot.day) >= limit {
            return Err(DispatchError::PhoneBookingLimit {
                day: day_string(slot.day),
                limit,
            });
        }
        let n = self.appointments.next;
        Ok(Event::Booked {
            booking: NewAppointment {
                n,
                code,
                item,
                slot,
                phone,
                channel,
            },
            at: now,
        })
    }

    fn active_booking(&self, code: &str) -> Result<&Booking, DispatchError> {
        let b = self
            .appointments
            .get(code)
            .ok_or_else(|| DispatchError::UnknownBooking(code.to_owned()))?;
        if b.state != AppointmentState::Booked {
            return Err(DispatchError::BookingNotActive {
                code: code.to_owned(),
                state: b.state.label(),
            });
        }
        Ok(b)
    }

    pub(super) fn decide_cancel(
        &self,
        code: &str,
        by_hall: bool,
        phone_tail: Option<&str>,
        now: Timestamp,
    ) -> Result<Event, DispatchError> {
        if let Some(tail) = phone_tail {
            // SPEC §6: the visitor proves the booking is theirs. An unknown
            // code and a wrong phone answer alike, so the answer tells a
            // guesser nothing about which codes exist.
            let mismatch = || DispatchError::BookingProofMismatch {
                code: code.to_owned(),
                tail: tail.to_owned(),
            };
            let b = self.appointments.get(code).ok_or_else(mismatch)?;
            let digits = b.phone.expose();
            if tail.len() != PHONE_TAIL_LEN || !digits.ends_with(tail) {
                return Err(mismatch());
            }
        }
        let b = self.active_booking(code)?;
        // §四(七)7: the hall tells the visitor at least 8 hours ahead.
        let start = self.calendar().instant(b.slot);
        if by_hall && now.plus_secs(HALL_CANCEL_NOTICE_HOURS * 3600) > start {
            return Err(DispatchError::HallCancelTooLate {
                code: code.to_owned(),
                slot: b.slot.to_string(),
            });
        }
        Ok(Event::BookingCancelled {
            code: code.to_owned(),
            by_hall,
            at: now,
        })
    }

    /// [`Command::CheckIn`](super::Command::CheckIn), §四(七)8: a
    /// `CheckedIn` and an appointment-lane `Issued`, or, past the deadline,
    /// a `BookingForfeited` (a change, recorded, that the kiosk reports as a
    /// refusal).
    pub(super) fn decide_check_in(
        &self,
        code: &str,
        now: Timestamp,
    ) -> Result<Vec<Event>, DispatchError> {
        let b = self.active_booking(code)?;
        let cal = self.calendar();
        let start = cal.instant(b.slot);
        let from = Timestamp(
            start
                .0
                .saturating_sub(u64::from(cal.check_in_early_minutes) * 60_000),
        );
        let until = start.plus_secs(u64::from(LATE_MINUTES) * 60);
        if now < from {
            return Err(DispatchError::CheckInTooEarly {
                code: code.to_owned(),
                from: cal.slot_at(from).to_string().replace('T', " "),
            });
        }
        if now > until {
            return Ok(vec![Event::BookingForfeited {
                code: code.to_owned(),
                at: now,
            }]);
        }
        let (_, extended) = self.slot(b.item, b.slot).unwrap_or((0, false));
        // §四(八): outside the opening hours only extended-hours slots.
        if !extended && !cal.is_open(now) {
            return Err(DispatchError::CheckInOutsideHours {
                opens: cal.next_opening(now),
            });
        }
        let issued = self.new_ticket(b.item, Lane::Appointment, Some(b.phone.clone()), now)?;
        Ok(vec![
            Event::CheckedIn {
                code: code.to_owned(),
                ticket: issued.number,
                at: now,
            },
            Event::Issued { issued, at: now },
        ])
    }

    /// [`Command::ForfeitOverdue`](super::Command::ForfeitOverdue): every
    /// booking still open more than [`LATE_MINUTES`] after its start is
    /// forfeited now. O(bookings of today and later), every few seconds: a
    /// hall has hundreds, not millions.
    pub(super) fn decide_forfeits(&self, now: Timestamp) -> Vec<Event> {
        let cal = self.calendar();
        let late = u64::from(LATE_MINUTES) * 60;
        self.appointments
            .bookings
            .values()
            .filter(|b| {
                b.state == AppointmentState::Booked && now > cal.instant(b.slot).plus_secs(late)
            })
            .map(|b| Event::BookingForfeited {
                code: b.code.clone(),
                at: now,
            })
            .collect()
    }

    pub(super) fn decide_adjust(
        &self,
        day: BusinessDay,
        change: SlotChange,
        now: Timestamp,
    ) -> Result<Event, DispatchError> {
        let today = self.calendar().slot_at(now).day;
        if day < today {
            return Err(DispatchError::BadSlotChange(format!(
                "{} is in the past",
                day_string(day)
            )));
        }
        match change {
            SlotChange::Add {
                item,
                minute,
                capacity,
            }
            | SlotChange::Capacity {
                item,
                minute,
                capacity,
            } => {
                self.item_idx(item)?;
                if minute >= 1440 {
                    return Err(DispatchError::BadSlotChange(
                        "a slot starts between 00:00 and 23:59".into(),
                    ));
                }
                if capacity > 10_000 {
                    return Err(DispatchError::BadSlotChange(
                        "capacity must be at most 10000".into(),
                    ));
                }
                let at = SlotAt { day, minute };
                if matches!(change, SlotChange::Capacity { .. }) && self.slot(item, at).is_none() {
                    return Err(DispatchError::NoSuchSlot {
                        item,
                        slot: at.to_string(),
                    });
                }
                if matches!(change, SlotChange::Add { .. }) && capacity == 0 {
                    return Err(DispatchError::BadSlotChange(
                        "a new slot needs a capacity of at least 1".into(),
                    ));
                }
            }
            SlotChange::CloseDay => {
                if self.appointments.closed.contains(&day) {
                    return Err(DispatchError::BadSlotChange(format!(
                        "{} is already closed for bookings",
                        day_string(day)
                    )));
                }
            }
            SlotChange::OpenDay => {
                if !self.appointments.closed.contains(&day) {
                    return Err(DispatchError::BadSlotChange(format!(
                        "{} is not closed for bookings",
                        day_string(day)
                    )));
                }
            }
        }
        Ok(Event::SlotsAdjusted {
            day,
            change,
            at: now,
        })
    }

    /// Applies an appointment event (from [`Hall::replay`]).
    pub(super) fn replay_appointment(&mut self, event: &Event) {
        let a = &mut self.appointments;
        match event {
            Event::Booked { booking, at } => {
                *a.held
                    .entry((booking.slot.day, booking.item, booking.slot.minute))
                    .or_default() += 1;
                a.by_code.insert(booking.code.clone(), booking.n);
                a.by_phone
                    .entry(booking.phone.clone())
                    .or_default()
                    .push(booking.n);
                a.bookings.insert(
                    booking.n,
                    Booking {
                        code: booking.code.clone(),
                        item: booking.item,
                        slot: booking.slot,
                        phone: booking.phone.clone(),
                        channel: booking.channel,
                        state: AppointmentState::Booked,
                        booked_at: *at,
                    },
                );
                a.next = a.next.max(booking.n + 1);
            }
            Event::BookingCancelled { code, by_hall, .. } => {
                if let Some(b) = a.get_mut(code) {
                    b.state = if *by_hall {
                        AppointmentState::CancelledByHall
                    } else {
                        AppointmentState::CancelledByVisitor
                    };
                    let key = (b.slot.day, b.item, b.slot.minute);
                    if let Some(held) = a.held.get_mut(&key) {
                        *held = held.saturating_sub(1);
                    }
                }
            }
            Event::CheckedIn { code, ticket, .. } => {
                if let Some(b) = a.get_mut(code) {
                    b.state = AppointmentState::CheckedIn(*ticket);
                }
            }
            Event::BookingForfeited { code, .. } => {
                if let Some(b) = a.get_mut(code) {
                    b.state = AppointmentState::Forfeited;
                }
            }
            Event::SlotsAdjusted { day, change, .. } => match *change {
                SlotChange::Add {
                    item,
                    minute,
                    capacity,
                }
                | SlotChange::Capacity {
                    item,
                    minute,
                    capacity,
                } => {
                    a.overrides.insert((*day, item, minute), capacity);
                }
                SlotChange::CloseDay => {
                    a.closed.insert(*day);
                }
                SlotChange::OpenDay => {
                    a.closed.remove(day);
                }
            },
            _ => {}
        }
    }

    // ----- queries -------------------------------------------------------

    /// Booking `code` as clients see it.
    pub fn booking(&self, code: &str) -> Option<AppointmentView> {
        self.appointments.get(code).map(|b| self.booking_view(b))
    }

    /// The phone of booking `code`, for its messages.
    pub fn booking_phone(&self, code: &str) -> Option<&Phone> {
        self.appointments.get(code).map(|b| &b.phone)
    }

    fn booking_view(&self, b: &Booking) -> AppointmentView {
        let cal = self.calendar();
        let start = cal.instant(b.slot);
        AppointmentView {
            code: b.code.clone(),
            item: b.item,
            slot: b.slot,
            slot_minutes: cal.slot_minutes,
            channel: b.channel,
            phone: b.phone.masked(),
            state: b.state,
            booked_at: b.booked_at,
            check_in_from: cal.slot_at(Timestamp(
                start
                    .0
                    .saturating_sub(u64::from(cal.check_in_early_minutes) * 60_000),
            )),
            check_in_until: cal.slot_at(start.plus_secs(u64::from(LATE_MINUTES) * 60)),
        }
    }

    /// Day `day`'s slots and bookings. O(slots + bookings): for listings.
    pub fn day_bookings(&self, day: BusinessDay) -> DayAppointments {
        let a = &self.appointments;
        let cal = self.calendar();
        let mut slots = Vec::new();
        for item in &self.spec.items {
            let code = item.code;
            let mut starts: BTreeMap<u16, (u32, bool)> = cal
                .generated(day, code)
                .into_iter()
                .map(|(m, ext)| (m, (cal.capacity(code), ext)))
                .collect();
            for ((_, _, m), cap) in a.overrides.range((day, code, 0)..=(day, code, u16::MAX)) {
                starts.insert(*m, (*cap, cal.is_extended(days_of(day), *m)));
            }
            for ((_, _, m), held) in a.held.range((day, code, 0)..=(day, code, u16::MAX)) {
                starts
                    .entry(*m)
                    .or_insert((0, cal.is_extended(days_of(day), *m)));
                let _ = held;
            }
            for (minute, (capacity, extended)) in starts {
                slots.push(SlotView {
                    item: code,
                    slot: SlotAt { day, minute },
                    capacity,
                    booked: a.held.get(&(day, code, minute)).copied().unwrap_or(0),
                    extended,
                });
            }
        }
        let mut bookings: Vec<AppointmentView> = a
            .bookings
            .values()
            .filter(|b| b.slot.day == day)
            .map(|b| self.booking_view(b))
            .collect();
        bookings.sort_by(|x, y| (x.slot, &x.code).cmp(&(y.slot, &y.code)));
        DayAppointments {
            day,
            closed: a.closed.contains(&day),
            slots,
            bookings,
        }
    }

    /// The business day at `now` by the hall's calendar.
    pub fn local_day(&self, now: Timestamp) -> BusinessDay {
        self.calendar().slot_at(now).day
    }

    /// The ticket a booking became, if checked in.
    pub fn booking_ticket(&self, code: &str) -> Option<TicketNo> {
        match self.appointments.get(code)?.state {
            AppointmentState::CheckedIn(t) => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_unambiguous_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..20_000 {
            let code = booking_code(n);
            assert_eq!(code.len(), CODE_LEN);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
            assert!(seen.insert(code), "duplicate at {n}");
        }
        assert_eq!(normalize_code(" k7m-2qx "), "K7M2QX");
    }

    #[test]
    fn calendar_round_trips() {
        for day in [19700101, 20000229, 20261123, 20261231, 20270101] {
            assert_eq!(day_of(days_of(day)), day);
        }
        // 2026-11-23 is a Monday.
        assert_eq!(weekday(days_of(20261123)), 0);
        let cal = HallDay::default();
        let at = SlotAt {
            day: 20261123,
            minute: 570,
        };
        assert_eq!(cal.slot_at(cal.instant(at)), at);
    }

    #[test]
    fn a_kiosk_learns_when_the_hall_opens() {
        let nine = Span {
            from: 540,
            to: 1020,
        };
        let mut cal = HallDay::default();
        assert_eq!(cal.next_opening_at(Timestamp(0)), None, "always open");
        // Monday to Friday 09:00–17:00.
        cal.hours = Some([
            Some(nine),
            Some(nine),
            Some(nine),
            Some(nine),
            Some(nine),
            None,
            None,
        ]);
        let at = |day, minute| cal.instant(SlotAt { day, minute });
        // Monday 08:00: today at 09:00.
        let monday_early = at(20261123, 480);
        assert!(!cal.is_open(monday_early));
        assert_eq!(
            cal.next_opening_at(monday_early),
            Some(SlotAt {
                day: 20261123,
                minute: 540
            })
        );
        // Monday 18:00: Tuesday at 09:00.
        assert_eq!(
            cal.next_opening_at(at(20261123, 1080)),
            Some(SlotAt {
                day: 20261124,
                minute: 540
            })
        );
        // Saturday noon: Monday.
        assert_eq!(
            cal.next_opening_at(at(20261128, 720)),
            Some(SlotAt {
                day: 20261130,
                minute: 540
            })
        );
        let monday = at(20261123, 480);
        cal.hours = Some([None; 7]);
        assert_eq!(cal.next_opening_at(monday), None, "never open");
    }
}
