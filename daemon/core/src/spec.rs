//! What the dispatch core needs to know about a hall: its items, its windows
//! and the hall's dispatch settings. Built from the TOML config by
//! `crate::config`; checked here by [`HallSpec::validate`] so the core can
//! rely on it.

use std::collections::HashSet;

use hallq_proto::types::{ItemCode, WindowNo};
use serde::{Deserialize, Serialize};

use super::appointment::HallDay;
use super::DispatchError;

/// A service item (事项).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemSpec {
    /// The ticket prefix letter.
    pub code: ItemCode,
    /// The item's name for people ("社保").
    pub name: String,
    /// Average service time, for the estimated wait told at issue.
    pub avg_service_secs: u32,
    /// At most this many tickets per business day, if set.
    pub daily_cap: Option<u32>,
}

/// A service window (窗口) and the items it serves (DB33/T 2036.4 §7.3.3:
/// the item-to-window mapping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// The number over the counter.
    pub number: WindowNo,
    /// The items this window serves; ignored when `universal`.
    pub items: Vec<ItemCode>,
    /// 无差别窗口: serves every item of the hall.
    pub universal: bool,
    /// 兜底窗口: also takes green-channel tickets of items it does not serve.
    pub fallback: bool,
}

/// SPEC §6 (hoarding): what one phone number may hold. Not part of
/// [`HallSpec`] (whose serialised form is in the journal's `Reconfigured`
/// records): the daemon sets it with [`Hall::set_phone_limits`](crate::Hall::set_phone_limits)
/// from the hall's config, and it only ever refuses new commands, so a
/// replay never depends on it. `0` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneLimits {
    /// Appointments one phone may hold on one day (not cancelled).
    pub bookings_per_day: u32,
    /// Tickets one phone may hold of one item at once (waiting, called or
    /// being served), walk-in and priority lanes; a check-in is not limited.
    pub active_tickets_per_item: u32,
}

impl PhoneLimits {
    /// Default bookings per phone and day.
    pub const DEFAULT_BOOKINGS_PER_DAY: u32 = 2;
    /// Default active tickets per phone and item (SPEC §6: "at most one").
    pub const DEFAULT_ACTIVE_TICKETS_PER_ITEM: u32 = 1;
    /// No limits: a bare [`Hall`](crate::Hall) until the daemon sets the
    /// config's (the core's own tests book many slots for one phone).
    pub const NONE: PhoneLimits = PhoneLimits {
        bookings_per_day: 0,
        active_tickets_per_item: 0,
    };
}

impl Default for PhoneLimits {
    fn default() -> Self {
        PhoneLimits {
            bookings_per_day: Self::DEFAULT_BOOKINGS_PER_DAY,
            active_tickets_per_item: Self::DEFAULT_ACTIVE_TICKETS_PER_ITEM,
        }
    }
}

/// The hall's rules at the counter (issue 17): who may call and when a
/// no-show may be recorded. Like [`PhoneLimits`] not part of [`HallSpec`]
/// (whose serialised form is in the journal): the daemon sets it with
/// [`Hall::set_counter_rules`](crate::Hall::set_counter_rules) from the
/// hall's config, and it only refuses new commands, so a journal written
/// under other rules replays the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterRules {
    /// A window calls only with staff logged in (AB岗: every service is
    /// someone's, so statistics by staff add up).
    pub require_login_to_call: bool,
    /// 过号 only this many seconds after the (first) call: the visitor gets
    /// time to walk to the window. `0`: no minimum.
    pub no_show_min_secs: u32,
    /// 过号 only after at least one recall (重呼).
    pub no_show_after_recall: bool,
}

impl CounterRules {
    /// No rules: a bare [`Hall`](crate::Hall), and the config's default.
    pub const NONE: CounterRules = CounterRules {
        require_login_to_call: false,
        no_show_min_secs: 0,
        no_show_after_recall: false,
    };
}

/// Everything the dispatch core needs to run one hall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HallSpec {
    /// The hall's items, at most 26 (one per prefix letter).
    pub items: Vec<ItemSpec>,
    /// The hall's windows.
    pub windows: Vec<WindowSpec>,
    /// DB33/T 2036.4 §7.3.5: remind a visitor when their position first falls
    /// below this many times the open windows serving their item (default 1.5).
    pub reminder_factor: f64,
    /// If set, a window that has made this many priority-lane calls in a row
    /// while walk-in tickets it could take were waiting takes one walk-in next.
    /// `None` is strict lane order.
    pub walk_in_every: Option<u32>,
    /// The starvation bound: a ticket at the head of its line for this long
    /// is called before any lane or balancing preference.
    pub max_wait_secs: u32,
    /// A reinstated no-show (过号重排) goes back this many places behind the
    /// head of its line.
    pub reinstate_places: u32,
    /// The hall's calendar: opening hours, lunch duty, appointment slots.
    pub day: HallDay,
}

impl HallSpec {
    /// Default §7.3.5 factor.
    pub const DEFAULT_REMINDER_FACTOR: f64 = 1.5;
    /// Default starvation bound: two hours.
    pub const DEFAULT_MAX_WAIT_SECS: u32 = 2 * 60 * 60;
    /// Default places a reinstated no-show goes behind.
    pub const DEFAULT_REINSTATE_PLACES: u32 = 3;

    /// A hall with these items and windows and default settings.
    pub fn new(items: Vec<ItemSpec>, windows: Vec<WindowSpec>) -> HallSpec {
        HallSpec {
            items,
            windows,
            reminder_factor: Self::DEFAULT_REMINDER_FACTOR,
            walk_in_every: None,
            max_wait_secs: Self::DEFAULT_MAX_WAIT_SECS,
            reinstate_places: Self::DEFAULT_REINSTATE_PLACES,
            day: HallDay::default(),
        }
    }

    /// Checks what the core relies on: unique item codes and window numbers,
    /// windows that serve only known items and serve something, sane settings.
    pub fn validate(&self) -> Result<(), DispatchError> {
        let bad = |msg: String| Err(DispatchError::InvalidSpec(msg));
        if self.items.is_empty() {
            return bad("a hall needs at least one item".into());
        }
        let mut codes = HashSet::new();
        for item in &self.items {
            if !codes.insert(item.code) {
                return bad(format!("item {} is defined twice", item.code));
            }
            if item.name.trim().is_empty() {
                return bad(format!("item {} has no name", item.code));
            }
            if item.avg_service_secs == 0 {
                return bad(format!("item {}: avg_service_secs must be > 0", item.code));
            }
            if item.daily_cap == Some(0) {
                return bad(format!(
                    "item {}: daily_cap must be > 0 (leave it out for no cap)",
                    item.code
                ));
            }
        }
        if self.windows.is_empty() {
            return bad("a hall needs at least one window".into());
        }
        let mut numbers = HashSet::new();
        for w in &self.windows {
            if !numbers.insert(w.number) {
                return bad(format!("window {} is defined twice", w.number));
            }
            if w.universal && !w.items.is_empty() {
                return bad(format!(
                    "window {}: give either items or universal = true, not both",
                    w.number
                ));
            }
            if !w.universal && w.items.is_empty() {
                return bad(format!(
                    "window {} serves no item: give items or universal = true",
                    w.number
                ));
            }
            for code in &w.items {
                if !codes.contains(code) {
                    return bad(format!("window {} serves unknown item {code}", w.number));
                }
            }
        }
        for item in &self.items {
            if !self
                .windows
                .iter()
                .any(|w| w.universal || w.items.contains(&item.code))
            {
                return bad(format!(
                    "item {} is served by no window: its tickets could never be called",
                    item.code
                ));
            }
        }
        if !(self.reminder_factor.is_finite()
            && self.reminder_factor > 0.0
            && self.reminder_factor <= 100.0)
        {
            return bad(format!(
                "reminder_factor must be > 0 and <= 100, got {}",
                self.reminder_factor
            ));
        }
        if self.walk_in_every == Some(0) {
            return bad("walk_in_every must be >= 1 (leave it out for strict lane order)".into());
        }
        if self.reinstate_places == 0 {
            return bad("reinstate_places must be >= 1".into());
        }
        if self.max_wait_secs == 0 {
            return bad("max_wait_secs must be > 0".into());
        }
        let windows: Vec<WindowNo> = self.windows.iter().map(|w| w.number).collect();
        let items: Vec<ItemCode> = self.items.iter().map(|i| i.code).collect();
        self.day.validate(&windows, &items).or_else(bad)?;
        Ok(())
    }
}
