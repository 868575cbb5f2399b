//! The hall's vocabulary: the small value types that the wire protocol, the
//! daemon's dispatch core and its journal all speak.
//!
//! Every type here validates on construction (and on deserialisation), so a
//! value that exists is a valid one: an [`ItemCode`] is one letter A–Z, a
//! [`Rating`] is 1–5, a [`Phone`] is a plausible number.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that failed validation, with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// An instant, in milliseconds since the Unix epoch (UTC).
///
/// The dispatch core never reads a clock: every command carries the instant
/// it happens at, so replaying a journal reproduces the same state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// This instant plus `secs` seconds.
    pub fn plus_secs(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// Whole seconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn secs_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0) / 1000
    }
}

/// A service item's code: the ticket prefix letter, `A`–`Z` (SPEC §1 事项).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemCode(u8);

impl ItemCode {
    /// How many distinct item codes a hall can have.
    pub const COUNT: usize = 26;

    /// The code for `letter`, which must be an ASCII capital letter.
    pub fn new(letter: char) -> Result<ItemCode, InvalidValue> {
        if letter.is_ascii_uppercase() {
            Ok(ItemCode(letter as u8))
        } else {
            Err(InvalidValue(format!(
                "item code must be one capital letter A-Z, got {letter:?}"
            )))
        }
    }

    /// The prefix letter.
    pub fn letter(self) -> char {
        self.0 as char
    }

    /// 0 for `A` … 25 for `Z`: a dense index for per-item tables.
    pub fn index(self) -> usize {
        usize::from(self.0 - b'A')
    }
}

impl fmt::Display for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

impl fmt::Debug for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

impl FromStr for ItemCode {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => ItemCode::new(c),
            _ => Err(InvalidValue(format!(
                "item code must be one capital letter A-Z, got {s:?}"
            ))),
        }
    }
}

impl Serialize for ItemCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_char(self.letter())
    }
}

impl<'de> Deserialize<'de> for ItemCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let c = char::deserialize(d)?;
        ItemCode::new(c).map_err(serde::de::Error::custom)
    }
}

/// A service window's number, as painted over the counter (SPEC §1 窗口).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WindowNo(pub u16);

impl fmt::Display for WindowNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A hall-unique, never reused identifier of a ticket (unlike its number,
/// which restarts every business day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub u64);

/// A ticket's printed number: the item's prefix letter and the item's daily
/// sequence, zero-padded to three digits ("A012"); past 999 it simply grows
/// ("A1000") rather than wrapping onto a number already handed out that day.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TicketNo {
    /// The item the ticket was issued for.
    pub item: ItemCode,
    /// 1 for the first ticket of the day.
    pub seq: u32,
}

impl fmt::Display for TicketNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", self.item, self.seq)
    }
}

impl fmt::Debug for TicketNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for TicketNo {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidValue(format!("ticket number looks like A012, got {s:?}"));
        let first = s.chars().next().ok_or_else(bad)?;
        let item = ItemCode::new(first).map_err(|_| bad())?;
        let digits = &s[1..];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let seq: u32 = digits.parse().map_err(|_| bad())?;
        if seq == 0 {
            return Err(bad());
        }
        Ok(TicketNo { item, seq })
    }
}

/// Why a visitor is in the priority lane (SPEC §1; seed 004: the elderly,
/// the disabled and pregnant women go first; 绿色通道 for urgent cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityReason {
    /// 老年人
    Elderly,
    /// 残疾人
    Disabled,
    /// 孕妇
    Pregnant,
    /// 绿色通道: may also be taken by a fallback window of any item.
    Green,
}

impl FromStr for PriorityReason {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "elderly" => Ok(PriorityReason::Elderly),
            "disabled" => Ok(PriorityReason::Disabled),
            "pregnant" => Ok(PriorityReason::Pregnant),
            "green" => Ok(PriorityReason::Green),
            _ => Err(InvalidValue(format!(
                "priority must be elderly, disabled, pregnant or green, got {s:?}"
            ))),
        }
    }
}

impl fmt::Display for PriorityReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PriorityReason::Elderly => "elderly",
            PriorityReason::Disabled => "disabled",
            PriorityReason::Pregnant => "pregnant",
            PriorityReason::Green => "green",
        })
    }
}

/// Which line of an item a ticket waits in; earlier lanes are called first
/// (DB33/T 2036.4 §7.3.2: booked items go first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// 预约: a checked-in appointment.
    Appointment,
    /// 优先: elderly, disabled, pregnant, green channel.
    Priority(PriorityReason),
    /// 现场取号: everyone else.
    WalkIn,
}

impl Lane {
    /// Number of lanes.
    pub const COUNT: usize = 3;

    /// The lane's place in the call order: 0 is called first.
    pub fn rank(self) -> usize {
        match self {
            Lane::Appointment => 0,
            Lane::Priority(_) => 1,
            Lane::WalkIn => 2,
        }
    }

    /// A short name for people: "appointment", "priority (elderly)", "walk-in".
    pub fn label(self) -> String {
        match self {
            Lane::Appointment => "appointment".into(),
            Lane::Priority(r) => format!("priority ({r})"),
            Lane::WalkIn => "walk-in".into(),
        }
    }
}

/// The AB post system (AB岗): A is the post holder, B the stand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Post {
    /// A岗
    A,
    /// B岗
    B,
}

impl FromStr for Post {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "A" | "a" => Ok(Post::A),
            "B" | "b" => Ok(Post::B),
            _ => Err(InvalidValue(format!("post must be A or B, got {s:?}"))),
        }
    }
}

/// What a client may do (SPEC §3). Written in lower case in the config and
/// on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Ticket machines and the help desk: issue, check in, book.
    Kiosk,
    /// The terminal at one window: acts on its own window only.
    Window,
    /// Display boards: subscribe, read only.
    Display,
    /// The SMS gateway bridge: receives and acknowledges notifications.
    Notifier,
    /// Hall managers: everything, including statistics.
    Admin,
    /// The visitor's phone page (`hallq visitor --serve`, issue 18): follows,
    /// steps back, gives up and rates one ticket, named by its link's
    /// capability token; nothing else. Added after the rest.
    Visitor,
}

impl Role {
    /// The role's name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kiosk => "kiosk",
            Role::Window => "window",
            Role::Display => "display",
            Role::Notifier => "notifier",
            Role::Admin => "admin",
            Role::Visitor => "visitor",
        }
    }
}

impl FromStr for Role {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "kiosk" => Ok(Role::Kiosk),
            "window" => Ok(Role::Window),
            "display" => Ok(Role::Display),
            "notifier" => Ok(Role::Notifier),
            "admin" => Ok(Role::Admin),
            "visitor" => Ok(Role::Visitor),
            _ => Err(InvalidValue(format!(
                "role must be kiosk, window, display, notifier, admin or visitor, got {s:?}"
            ))),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A visitor's rating of one service, 1 (非常不满意) to 5 (非常满意).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Rating(u8);

impl Rating {
    /// A rating, if `value` is 1–5.
    pub fn new(value: u8) -> Result<Rating, InvalidValue> {
        if (1..=5).contains(&value) {
            Ok(Rating(value))
        } else {
            Err(InvalidValue(format!("rating must be 1-5, got {value}")))
        }
    }

    /// 1–5.
    pub fn value(self) -> u8 {
        self.0
    }

    /// The grade as the national 好差评 rules (国办发〔2019〕51号) name it:
    /// 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意.
    pub fn grade(self) -> &'static str {
        match self.0 {
            5 => "非常满意",
            4 => "满意",
            3 => "基本满意",
            2 => "不满意",
            _ => "非常不满意",
        }
    }
}

impl<'de> Deserialize<'de> for Rating {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Rating::new(u8::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A staff member's id as the hall knows them (工号).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StaffId(String);

impl StaffId {
    /// Longest id accepted.
    pub const MAX_LEN: usize = 32;

    /// A staff id: 1–32 printable characters without spaces.
    pub fn new(id: impl Into<String>) -> Result<StaffId, InvalidValue> {
        let id = id.into();
        if id.is_empty()
            || id.chars().count() > Self::MAX_LEN
            || id.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidValue(format!(
                "staff id must be 1-{} characters without spaces, got {id:?}",
                Self::MAX_LEN
            )));
        }
        Ok(StaffId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StaffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StaffId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StaffId::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A visitor's phone number. Personal data (SPEC §2 item 8): `Debug` and
/// `Display` print it masked (`138****0000`); only [`Phone::expose`] gives
/// the digits, for the SMS provider request.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// A phone number: 5–20 digits, optionally with a leading `+`.
    pub fn new(number: impl Into<String>) -> Result<Phone, InvalidValue> {
        let number = number.into();
        let digits = number.strip_prefix('+').unwrap_or(&number);
        if !(5..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue(
                "phone number must be 5-20 digits, optionally starting with +".into(),
            ));
        }
        Ok(Phone(number))
    }

    /// A mainland China mobile number: 11 digits, `1`, then `3`–`9` (the
    /// numbering plan's mobile blocks), as SMS reminders need.
    pub fn mobile(number: impl Into<String>) -> Result<Phone, InvalidValue> {
        let number = number.into();
        let b = number.as_bytes();
        let ok = b.len() == 11
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
            && b.iter().all(u8::is_ascii_digit);
        if !ok {
            return Err(InvalidValue(
                "not a mainland mobile number: 11 digits starting 13-19".into(),
            ));
        }
        Ok(Phone(number))
    }

    /// The full number. Use only where the number must leave the system
    /// (the SMS provider request); everywhere else print the masked form.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The number with its middle hidden: `13800138000` → `138****8000`.
    pub fn masked(&self) -> String {
        // At least a third of the digits stay hidden, however short the number.
        let n = self.0.len();
        let keep_head = 3.min(n / 3);
        let keep_tail = 4.min((n + 1) / 3);
        let hidden = n - keep_head - keep_tail;
        format!(
            "{}{}{}",
            &self.0[..keep_head],
            "*".repeat(hidden.min(4)),
            &self.0[n - keep_tail..]
        )
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Phone::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_print_and_parse() {
        let a = ItemCode::new('A').unwrap();
        assert_eq!(TicketNo { item: a, seq: 12 }.to_string(), "A012");
        assert_eq!(TicketNo { item: a, seq: 1000 }.to_string(), "A1000");
        assert_eq!("B007".parse::<TicketNo>().unwrap().to_string(), "B007");
        for bad in ["", "A", "a012", "A-12", "A000", "AB12", "１２"] {
            assert!(
                bad.parse::<TicketNo>().is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn item_codes_are_one_capital_letter() {
        assert_eq!(ItemCode::new('Z').unwrap().index(), 25);
        assert!(ItemCode::new('a').is_err());
        assert!("AB".parse::<ItemCode>().is_err());
        assert!("社".parse::<ItemCode>().is_err());
    }

    #[test]
    fn ratings_are_one_to_five() {
        assert!(Rating::new(0).is_err());
        assert!(Rating::new(6).is_err());
        assert_eq!(Rating::new(5).unwrap().value(), 5);
    }

    #[test]
    fn phones_are_masked_in_debug_and_display() {
        let p = Phone::new("13800138000").unwrap();
        assert_eq!(p.masked(), "138****8000");
        assert_eq!(format!("{p}"), "138****8000");
        assert!(!format!("{p:?}").contains("0013"));
        assert_eq!(p.expose(), "13800138000");
        assert_eq!(Phone::new("12345").unwrap().masked(), "1**45");
        assert_eq!(
            Phone::new("+8613800138000").unwrap().masked(),
            "+86****8000"
        );
        assert!(Phone::new("1380013800a").is_err());
        assert!(Phone::new("123").is_err());
    }

    #[test]
    fn staff_ids_have_no_spaces() {
        assert!(StaffId::new("zhang 3").is_err());
        assert!(StaffId::new("").is_err());
        assert_eq!(StaffId::new("S1024").unwrap().as_str(), "S1024");
    }
}
