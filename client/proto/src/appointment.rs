//! Appointments on the wire (SPEC §2 items 9–10; seed 000 §四(七)): the
//! booking channel, a slot's time, a booking and a slot as clients see
//! them, and an admin's change to one day's slots.
//!
//! Times are the hall's local time: a business day (`yyyymmdd`) and the
//! minute of that day, as visitors read them on the booking slip.
//!
//! Vocabulary: the concept is the *appointment* (预约), in every crate's
//! type and module names; a visitor *books* one and is given its *booking
//! code*. "booking" stays where it is a contract and never changes: the
//! `book` / `bookings` / `cancel-booking` commands, the `booking_*` message
//! templates and error codes, `booking_code` in JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::types::{InvalidValue, ItemCode, TicketNo, Timestamp};

/// How a booking was made (seed 000 §四(七)1: 现场预约、电话预约、网上预约).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 现场预约: at the help desk.
    Onsite,
    /// 电话预约: by phone.
    Phone,
    /// 网上预约: online.
    Online,
}

impl Channel {
    /// As `hallq` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Onsite => "onsite",
            Channel::Phone => "phone",
            Channel::Online => "online",
        }
    }
}

impl FromStr for Channel {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "onsite" => Ok(Channel::Onsite),
            "phone" => Ok(Channel::Phone),
            "online" => Ok(Channel::Online),
            _ => Err(InvalidValue(format!(
                "channel must be onsite, phone or online, got {s:?}"
            ))),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A slot's start in the hall's local time: `2026-11-23T09:30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SlotAt {
    /// The business day, `yyyymmdd`.
    pub day: u32,
    /// Minutes after local midnight (0–1439).
    pub minute: u16,
}

impl fmt::Display for SlotAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}T{}", day_string(self.day), minute_string(self.minute))
    }
}

impl FromStr for SlotAt {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidValue(format!("a slot looks like 2026-11-23T09:30, got {s:?}"));
        let (day, time) = s.split_once('T').ok_or_else(bad)?;
        Ok(SlotAt {
            day: parse_day(day).map_err(|_| bad())?,
            minute: parse_minute(time).map_err(|_| bad())?,
        })
    }
}

/// `20261123` → `"2026-11-23"`.
pub fn day_string(day: u32) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day / 10_000,
        day / 100 % 100,
        day % 100
    )
}

/// `570` → `"09:30"`; `1440` → `"24:00"`.
pub fn minute_string(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// `"2026-11-23"` → `20261123`, checking the month and day ranges.
pub fn parse_day(s: &str) -> Result<u32, InvalidValue> {
    let bad = || InvalidValue(format!("a date looks like 2026-11-23, got {s:?}"));
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (u32, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1970..=9999).contains(&y) || d == 0 || d > days_in_month {
        return Err(bad());
    }
    Ok(y * 10_000 + m * 100 + d)
}

/// `"09:30"` → `570`; `"24:00"` → `1440` (only meaningful as an end).
pub fn parse_minute(s: &str) -> Result<u16, InvalidValue> {
    let bad = || InvalidValue(format!("a time looks like 09:30, got {s:?}"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Where a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentState {
    /// Booked, not yet checked in.
    Booked,
    /// Checked in at a kiosk: it became this appointment-lane ticket.
    CheckedIn(TicketNo),
    /// Cancelled by the visitor.
    CancelledByVisitor,
    /// Cancelled by the hall (at least 8 hours ahead, §四(七)7).
    CancelledByHall,
    /// Not checked in within 30 minutes of the start (§四(七)8).
    Forfeited,
}

impl AppointmentState {
    /// For messages and listings.
    pub fn label(self) -> &'static str {
        match self {
            AppointmentState::Booked => "booked",
            AppointmentState::CheckedIn(_) => "checked in",
            AppointmentState::CancelledByVisitor => "cancelled by the visitor",
            AppointmentState::CancelledByHall => "cancelled by the hall",
            AppointmentState::Forfeited => "forfeited",
        }
    }
}

/// One booking as clients see it. The phone number is masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentView {
    /// The booking code the visitor checks in with ("K7M2QX").
    pub code: String,
    /// The item.
    pub item: ItemCode,
    /// The slot's start.
    pub slot: SlotAt,
    /// The slot's length in minutes.
    pub slot_minutes: u16,
    /// How it was booked.
    pub channel: Channel,
    /// The visitor's phone, masked (`138****8000`).
    pub phone: String,
    /// Where it stands.
    pub state: AppointmentState,
    /// When it was booked.
    pub booked_at: Timestamp,
    /// Check-in opens at (hall's local time, same day).
    pub check_in_from: SlotAt,
    /// Check-in closes at; later the booking is forfeited.
    pub check_in_until: SlotAt,
}

/// One slot of one item on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotView {
    /// The item.
    pub item: ItemCode,
    /// Its start.
    pub slot: SlotAt,
    /// Bookings it takes.
    pub capacity: u32,
    /// Bookings it has (checked in and forfeited ones count; cancelled
    /// ones do not).
    pub booked: u32,
    /// Outside the regular opening hours (延时服务): its visitors may
    /// check in while the hall is otherwise closed.
    pub extended: bool,
}

/// An admin's change to one day's slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotChange {
    /// Add a slot (or set an existing one's capacity).
    Add {
        /// The item.
        item: ItemCode,
        /// Its start, minutes after midnight.
        minute: u16,
        /// Bookings it takes.
        capacity: u32,
    },
    /// Set a slot's capacity (0 removes it from booking; existing
    /// bookings stay).
    Capacity {
        /// The item.
        item: ItemCode,
        /// Its start.
        minute: u16,
        /// The new capacity.
        capacity: u32,
    },
    /// No bookings at all that day (existing bookings stay: cancel them).
    CloseDay,
    /// Undo [`SlotChange::CloseDay`].
    OpenDay,
}

/// A day's slots and bookings ([`crate::wire::Response::Bookings`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayAppointments {
    /// The day, `yyyymmdd`.
    pub day: u32,
    /// Closed for bookings by an admin.
    pub closed: bool,
    /// Every slot of the day, by item then start.
    pub slots: Vec<SlotView>,
    /// Every booking of the day, by slot then code.
    pub bookings: Vec<AppointmentView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_parse_and_print() {
        let s: SlotAt = "2026-11-23T09:30".parse().unwrap();
        assert_eq!(
            s,
            SlotAt {
                day: 20261123,
                minute: 570
            }
        );
        assert_eq!(s.to_string(), "2026-11-23T09:30");
        for bad in [
            "2026-11-23 09:30",
            "2026-02-30T09:30",
            "2026-11-23T9:30",
            "2026-11-23T09:60",
        ] {
            assert!(bad.parse::<SlotAt>().is_err(), "{bad}");
        }
        assert_eq!(parse_minute("24:00").unwrap(), 1440);
        assert_eq!("phone".parse::<Channel>().unwrap(), Channel::Phone);
    }
}
