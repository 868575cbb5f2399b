//! The dispatch core: one hall's state and every operation on it, as a pure
//! state machine. No tokio, no I/O, no clock: the instant is an argument.
//!
//! [`Hall::apply`] takes a [`Command`] and the instant it happens at and
//! answers with the [`Event`]s it caused, or a [`DispatchError`] that left the
//! hall unchanged. State changes *only* by applying events
//! ([`Hall::replay`]), so replaying a journal of events through a fresh hall
//! rebuilds the very same state.
//!
//! # The call policy
//!
//! When window W calls the next ticket ([`Command::CallNext`]), it takes, in
//! this order:
//!
//! 1. **Referrals to W.** Tickets transferred to W by number (首问负责) wait in
//!    W's own line, ordered by their original issue time; W takes them first.
//! 2. **Overdue tickets (the starvation bound).** Among the heads of the lines
//!    W may take from, any head that has waited `max_wait_secs` or longer
//!    goes first, the longest-waiting first. A line's head is its oldest
//!    ticket, so every ticket, in every lane and item, is called at most
//!    `max_wait_secs` after reaching its line's head by the next open window
//!    serving it — no ticket starves, whatever the lanes and balancing prefer.
//! 3. **Lanes** (DB33/T 2036.4 §7.3.2): appointments, then priority (elderly,
//!    disabled, pregnant, green channel), then walk-ins. If the hall sets
//!    `walk_in_every = N`, a window that has made N priority calls in a row
//!    while walk-ins it could take were waiting takes one walk-in next.
//! 4. **Balancing across items** (§7.3.3 均衡窗口办件数量): within the chosen
//!    lane, the item whose backlog (all its waiting tickets) per open window
//!    serving it is largest. An item only W serves counts its whole backlog
//!    against W, so W does not let it pile up while taking tickets other
//!    windows could take. Ties go to the item whose head ticket is older.
//! 5. **First come, first served** within an item and lane: always the head.
//!
//! W may take from the items it serves (every item if it is universal, 无差别
//! 窗口); a fallback window (兜底窗口) may also take a green-channel ticket at
//! the head of the priority lane of any item. Paused and closed windows are
//! offered nothing and do not count as open.
//!
//! # Positions and reminders
//!
//! A ticket's *position* is the number of people ahead of it in its item's
//! line: every ticket of the item in an earlier lane, plus those ahead of it
//! in its own lane (for a referral: ahead of it in the window's own line).
//! §7.3.5: the first time a ticket's position falls below
//! `reminder_factor × open windows serving its item`, it gets one
//! [`Event::Approaching`]; if that already holds at issue, the
//! [`Event::Issued`] says so instead. The tickets below the threshold are a
//! prefix of the line, so after each change only that prefix (a handful of
//! tickets) is checked, never the whole line.
//!
//! Lines are order-statistic trees ([`queue::OrderedQueue`]), so every
//! operation costs O(log n) in the waiting tickets n, times small factors
//! bounded by the configuration (items I ≤ 26, windows W, the reminder
//! prefix k = ⌈factor × open windows⌉); each command says its cost.

pub mod alerts;
pub mod appointment;
mod command;
mod decide;
mod error;
mod event;
pub mod floor;
pub mod queue;
mod reconfigure;
mod spec;
pub mod staffing;
#[cfg(test)]
mod tests;
pub mod workorders;

use hallq_proto::types::{
    ItemCode, Lane, Phone, Post, PriorityReason, StaffId, TicketId, TicketNo, Timestamp, WindowNo,
};
use hallq_proto::views::{HallView, ItemView, TicketState, WaitingTicket, WindowState, WindowView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub use alerts::{AlertChange, AlertSettings, Outside, Reading, Tracker};
pub use appointment::{HallDay, Span};
pub use command::{BusinessDay, Command, TransferTarget};
pub use error::DispatchError;
pub use event::{Event, Issued};
pub use spec::{CounterRules, HallSpec, ItemSpec, PhoneLimits, WindowSpec};
pub use workorders::{Appeal, WorkOrder, WorkOrderRules};

use queue::OrderedQueue;

/// Longest pause reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 64;

/// Lane ranks, as indices into per-lane tables (0 is appointments).
const PRIORITY: usize = 1;
const WALK_IN: usize = 2;

/// A ticket's place in a line. Tickets are ordered by `issue` (the hall-wide
/// issue counter, so first come first served); a reinstated no-show takes
/// the `issue` of the ticket it goes behind and a `behind` counter that puts
/// it after that ticket and after anyone reinstated there before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Place {
    issue: u64,
    behind: u64,
}

/// Which line a waiting ticket is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Its item's line, in a lane (item index, lane rank).
    Item(usize, usize),
    /// A window's own line of referrals (window index).
    Window(usize),
}

/// What a line keeps of each waiting ticket: enough to pick a line's head
/// without touching the ticket itself (at 100,000 waiting, the tickets no
/// longer fit in cache; the line heads do).
#[derive(Debug, Clone, Copy)]
struct Waiter {
    id: TicketId,
    /// The ticket's `waiting_since`, for the starvation bound.
    since: Timestamp,
    /// A green-channel ticket, which fallback windows may take.
    green: bool,
    /// §7.3.5 reminder given. While a ticket waits, this is the
    /// authoritative flag (the ticket's own is synced when it leaves the
    /// line), so the upkeep never touches tickets, which at 100,000
    /// waiting are out of cache.
    reminded: bool,
    /// The ticket's number, for the reminder event.
    number: TicketNo,
}

#[derive(Debug, Clone)]
struct Ticket {
    number: TicketNo,
    /// Index into `Hall::items`; changes when transferred to another item.
    item: usize,
    lane: Lane,
    phone: Option<Phone>,
    issued_at: Timestamp,
    /// When its place in line counts from, for the starvation bound.
    waiting_since: Timestamp,
    state: TicketState,
    place: Place,
    /// Set while the ticket waits.
    line: Option<Line>,
    /// §7.3.5 reminder already given (at most once per ticket). While the
    /// ticket waits, its [`Waiter`] holds the current value instead.
    reminded: bool,
    /// Ratings (seed 000 §四(六)5): who finished it, once finished.
    service: Option<Service>,
    /// The visitor stepped back once (issue 18).
    stepped_back: bool,
}

/// A finished service, for its one rating.
#[derive(Debug, Clone, Default)]
struct Service {
    /// The window that served.
    window: Option<WindowNo>,
    /// Who served, if logged in.
    staff: Option<StaffId>,
    /// The batch's lead, for a ticket served with another (its rating is
    /// the lead's).
    lead: Option<TicketId>,
    /// Rated already.
    rated: bool,
    /// The rating, once rated (for 申诉复核).
    rating: Option<hallq_proto::types::Rating>,
}

#[derive(Debug, Clone)]
struct Item {
    spec: ItemSpec,
    lanes: [OrderedQueue<Place, Waiter>; Lane::COUNT],
    open_windows: u32,
    /// Today's tickets by sequence number − 1.
    by_seq: Vec<TicketId>,
}

impl Item {
    fn waiting(&self) -> usize {
        self.lanes.iter().map(OrderedQueue::len).sum()
    }
}

#[derive(Debug, Clone)]
struct Window {
    spec: WindowSpec,
    /// Bit i set: serves item i.
    serves: u32,
    state: WindowState,
    current: Option<TicketId>,
    staff: Option<(StaffId, Post)>,
    /// Priority calls in a row made while walk-ins it could take waited.
    priority_streak: u32,
    /// Referrals to this window (首问负责).
    referrals: OrderedQueue<Place, Waiter>,
    /// When the current ticket was called here, and how often recalled
    /// since: the counter rules' no-show minimum (from events, so a replay
    /// restores them).
    called_at: Option<Timestamp>,
    recalls: u32,
    /// The service this window finished last today (a batch's lead), for
    /// the rating tablet at the window (issue 18).
    last_finished: Option<TicketId>,
}

impl Window {
    fn is_open(&self) -> bool {
        self.state == WindowState::Open
    }
}

/// Where a command may have brought tickets below the §7.3.5 threshold, and
/// from which position on: every ticket before that position was below the
/// threshold already and so has had its reminder. A removal at or before
/// the threshold brings in only the ticket now at k − 1, an insertion only
/// itself, a threshold raised from k to k′ the positions k … k′ − 1; so the
/// upkeep looks at one or a few positions, not the whole prefix.
#[derive(Debug, Default)]
struct Touched {
    /// Bit i: item i's line or threshold changed.
    items: u32,
    /// For each item in `items`, the first position to look at.
    item_from: [usize; ItemCode::COUNT],
    /// A window whose referral line or threshold changed, and the first
    /// position to look at.
    window: Option<(usize, usize)>,
    /// Every window's referral line, from the head (after reconfiguring).
    all_windows: bool,
}

impl Touched {
    fn item(&mut self, item: usize, from: usize) {
        if self.items & (1 << item) == 0 || from < self.item_from[item] {
            self.item_from[item] = from;
        }
        self.items |= 1 << item;
    }
}

/// One hall's dispatch state. See the [module documentation](self) for the
/// call policy.
#[derive(Debug, Clone)]
pub struct Hall {
    spec: HallSpec,
    /// `reminder_factor` in thousandths, so thresholds are exact integers.
    reminder_milli: u64,
    items: Vec<Item>,
    /// Item index by `ItemCode::index()`.
    item_index: [Option<u8>; ItemCode::COUNT],
    windows: Vec<Window>,
    /// Tickets since the current day began; `tickets[i]` has id `first_ticket + i`.
    tickets: Vec<Ticket>,
    first_ticket: u64,
    next_issue: u64,
    next_behind: u64,
    day: Option<BusinessDay>,
    issuing: bool,
    /// Bit i of `nonempty[lane]`: item i has tickets waiting in that lane.
    nonempty: [u32; Lane::COUNT],
    /// Bookings and single-day slot changes.
    appointments: appointment::Appointments,
    /// SPEC §6: what one phone may hold; set by the daemon, never replayed.
    phone_limits: PhoneLimits,
    /// Who may call and when a no-show may be recorded; set by the daemon,
    /// never replayed.
    counter_rules: CounterRules,
    /// Today's tickets by the phone they were issued to, so the §6 limit is
    /// checked over one visitor's tickets, never by a scan of the hall.
    tickets_by_phone: HashMap<Phone, Vec<TicketId>>,
    /// Issue 21: the floor's day so far (from events).
    floor: floor::Floor,
    /// Issue 21: 差评工单 and appeals (from events; kept across days).
    work_orders: workorders::WorkOrderBook,
    /// Issue 21: how work orders are handled; set by the daemon, never
    /// replayed.
    work_order_rules: WorkOrderRules,
    /// Issue 21: the alerts active and lately cleared (from events).
    alerts: alerts::Alerts,
}

impl Hall {
    /// A hall with no business day begun: issue [`Command::BeginDay`] first.
    pub fn new(spec: HallSpec) -> Result<Hall, DispatchError> {
        spec.validate()?;
        let mut item_index = [None; ItemCode::COUNT];
        let items: Vec<Item> = spec
            .items
            .iter()
            .enumerate()
            .map(|(i, s)| {
                item_index[s.code.index()] = Some(i as u8);
                Item {
                    spec: s.clone(),
                    lanes: Default::default(),
                    open_windows: 0,
                    by_seq: Vec::new(),
                }
            })
            .collect();
        // At most 26 items (one per letter), so the masks fit in a u32.
        let all_items = (1u32 << items.len()) - 1;
        let mut windows: Vec<Window> = spec
            .windows
            .iter()
            .map(|w| Window {
                spec: w.clone(),
                serves: if w.universal {
                    all_items
                } else {
                    w.items.iter().fold(0, |mask, code| {
                        mask | 1 << item_index[code.index()].expect("validated") as u32
                    })
                },
                state: WindowState::Closed,
                current: None,
                staff: None,
                priority_streak: 0,
                referrals: OrderedQueue::new(),
                called_at: None,
                recalls: 0,
                last_finished: None,
            })
            .collect();
        windows.sort_by_key(|w| w.spec.number);
        Ok(Hall {
            reminder_milli: (spec.reminder_factor * 1000.0).round() as u64,
            spec,
            items,
            item_index,
            windows,
            tickets: Vec::new(),
            first_ticket: 0,
            next_issue: 0,
            next_behind: 1,
            day: None,
            issuing: false,
            nonempty: [0; Lane::COUNT],
            appointments: Default::default(),
            phone_limits: PhoneLimits::NONE,
            counter_rules: CounterRules::NONE,
            tickets_by_phone: HashMap::new(),
            floor: Default::default(),
            work_orders: Default::default(),
            work_order_rules: Default::default(),
            alerts: Default::default(),
        })
    }

    /// Sets what one phone may hold (SPEC §6), from the hall's config. Only
    /// new commands are checked against it; events always apply.
    pub fn set_phone_limits(&mut self, limits: PhoneLimits) {
        self.phone_limits = limits;
    }

    /// What one phone may hold.
    pub fn phone_limits(&self) -> PhoneLimits {
        self.phone_limits
    }

    /// Sets the hall's counter rules, from its config. Only new commands
    /// are checked against them; events always apply.
    pub fn set_counter_rules(&mut self, rules: CounterRules) {
        self.counter_rules = rules;
    }

    /// The hall's counter rules.
    pub fn counter_rules(&self) -> CounterRules {
        self.counter_rules
    }

    /// The active tickets (waiting, called, being served) `phone` holds of
    /// item index `item`: over that phone's tickets only.
    pub(crate) fn active_tickets_of(&self, phone: &Phone, item: usize) -> u32 {
        let Some(ids) = self.tickets_by_phone.get(phone) else {
            return 0;
        };
        ids.iter()
            .map(|id| self.ticket(*id))
            .filter(|t| {
                t.item == item
                    && matches!(
                        t.state,
                        TicketState::Waiting | TicketState::Called(_) | TicketState::Serving(_)
                    )
            })
            .count() as u32
    }

    /// The hall's configuration.
    pub fn spec(&self) -> &HallSpec {
        &self.spec
    }

    /// The current business day, if one has begun.
    pub fn day(&self) -> Option<BusinessDay> {
        self.day
    }

    /// Carries out `command` at instant `now`: the events it caused, already
    /// applied, or an error and no change at all.
    pub fn apply(&mut self, command: Command, now: Timestamp) -> Result<Vec<Event>, DispatchError> {
        let mut touched = Touched::default();
        let mut events = self.decide(command, now, &mut touched)?;
        // Seed 000 §四(六)6: a bad rating opens its work order in the same
        // record, with its deadline fixed now.
        let orders = self.work_orders_for(&events);
        events.extend(orders);
        for event in &events {
            self.replay(event);
        }
        self.remind(touched, now, &mut events);
        Ok(events)
    }

    /// Applies one event, as [`Hall::apply`] did when it produced it. The
    /// journal's replay calls this for every event in order.
    pub fn replay(&mut self, event: &Event) {
        let before = self.floor_before(event);
        self.replay_state(event);
        self.track_floor(event, before);
    }

    /// [`Hall::replay`] without the floor's figures.
    fn replay_state(&mut self, event: &Event) {
        match event {
            Event::DayBegun { day, .. } => self.begin_day(*day),
            Event::IssuingClosed { .. } => self.issuing = false,
            Event::IssuingOpened { .. } => self.issuing = true,
            Event::Issued { issued, at } => {
                let item = self
                    .item_idx(issued.number.item)
                    .expect("issued for a known item");
                let place = Place {
                    issue: self.next_issue,
                    behind: 0,
                };
                self.next_issue += 1;
                debug_assert_eq!(
                    issued.ticket.0,
                    self.first_ticket + self.tickets.len() as u64
                );
                self.tickets.push(Ticket {
                    number: issued.number,
                    item,
                    lane: issued.lane,
                    phone: issued.phone.clone(),
                    issued_at: *at,
                    waiting_since: *at,
                    state: TicketState::Waiting,
                    place,
                    line: None,
                    reminded: issued.approaching,
                    service: None,
                    stepped_back: false,
                });
                self.items[item].by_seq.push(issued.ticket);
                if let Some(phone) = &issued.phone {
                    self.tickets_by_phone
                        .entry(phone.clone())
                        .or_default()
                        .push(issued.ticket);
                }
                self.enqueue(issued.ticket, Line::Item(item, issued.lane.rank()));
            }
            Event::Approaching { ticket, .. } => {
                if let Some(waiter) = self.waiter_mut(*ticket) {
                    waiter.reminded = true;
                } else {
                    self.ticket_mut(*ticket).reminded = true;
                }
            }
            Event::Called { ticket, window, .. } => {
                let w = self.window_idx(*window).expect("known window");
                let lane = self.ticket(*ticket).lane.rank();
                if lane == PRIORITY && self.walk_ins_waiting_for(w) {
                    self.windows[w].priority_streak += 1;
                } else if lane == WALK_IN {
                    self.windows[w].priority_streak = 0;
                }
                self.dequeue(*ticket);
                self.ticket_mut(*ticket).state = TicketState::Called(*window);
                self.windows[w].current = Some(*ticket);
                self.windows[w].called_at = Some(event.at());
                self.windows[w].recalls = 0;
            }
            Event::Recalled { window, .. } => {
                let w = self.window_idx(*window).expect("known window");
                self.windows[w].recalls += 1;
            }
            Event::PhoneAttached { ticket, phone, .. } => {
                self.ticket_mut(*ticket).phone = Some(phone.clone());
            }
            Event::Started { ticket, window, .. } => {
                self.ticket_mut(*ticket).state = TicketState::Serving(*window);
            }
            Event::Finished {
                ticket,
                window,
                staff,
                rating,
                ..
            } => {
                let t = self.ticket_mut(*ticket);
                t.state = TicketState::Done;
                t.service = Some(Service {
                    window: Some(*window),
                    staff: staff.clone(),
                    lead: None,
                    rated: rating.is_some(),
                    rating: *rating,
                });
                self.clear_current(*window);
                let w = self.window_idx(*window).expect("known window");
                self.windows[w].last_finished = Some(*ticket);
            }
            Event::ServedWith {
                ticket,
                window,
                lead,
                ..
            } => {
                self.dequeue(*ticket);
                let t = self.ticket_mut(*ticket);
                t.state = TicketState::Done;
                t.service = Some(Service {
                    window: Some(*window),
                    staff: None,
                    lead: Some(*lead),
                    rated: false,
                    rating: None,
                });
            }
            Event::Rated { ticket, rating, .. } => {
                if let Some(service) = &mut self.ticket_mut(*ticket).service {
                    service.rated = true;
                    service.rating = Some(*rating);
                }
            }
            Event::NoShow { ticket, window, .. } => {
                self.ticket_mut(*ticket).state = TicketState::NoShow;
                self.clear_current(*window);
            }
            Event::Reinstated { ticket, at, .. } => {
                let t = self.ticket(*ticket);
                let (item, lane) = (t.item, t.lane.rank());
                let place = self.reinstate_place(item, lane);
                if place.behind == 0 {
                    self.next_issue += 1;
                } else {
                    self.next_behind += 1;
                }
                let t = self.ticket_mut(*ticket);
                t.place = place;
                t.state = TicketState::Waiting;
                t.waiting_since = *at;
                self.enqueue(*ticket, Line::Item(item, lane));
            }
            Event::Transferred {
                ticket, from, to, ..
            } => {
                self.clear_current(*from);
                let line = match to {
                    TransferTarget::Item(code) => {
                        let item = self.item_idx(*code).expect("known item");
                        self.ticket_mut(*ticket).item = item;
                        Line::Item(item, self.ticket(*ticket).lane.rank())
                    }
                    TransferTarget::Window(n) => {
                        Line::Window(self.window_idx(*n).expect("known window"))
                    }
                };
                let t = self.ticket_mut(*ticket);
                t.state = TicketState::Waiting;
                // 首问负责: the referral keeps the visitor's original issue time.
                t.waiting_since = t.issued_at;
                self.enqueue(*ticket, line);
            }
            Event::WindowOpened { window, .. } | Event::WindowResumed { window, .. } => {
                let w = self.window_idx(*window).expect("known window");
                self.windows[w].state = WindowState::Open;
                self.count_open(w, true);
            }
            Event::WindowPaused { window, reason, .. } => {
                let w = self.window_idx(*window).expect("known window");
                if self.windows[w].is_open() {
                    self.count_open(w, false);
                }
                self.windows[w].state = WindowState::Paused(reason.clone());
            }
            Event::WindowClosed { window, .. } => {
                let w = self.window_idx(*window).expect("known window");
                if self.windows[w].is_open() {
                    self.count_open(w, false);
                }
                self.windows[w].state = WindowState::Closed;
                self.windows[w].priority_streak = 0;
            }
            Event::StaffLoggedIn {
                window,
                staff,
                post,
                ..
            } => {
                let w = self.window_idx(*window).expect("known window");
                self.windows[w].staff = Some((staff.clone(), *post));
            }
            Event::StaffLoggedOut { window, .. } => {
                let w = self.window_idx(*window).expect("known window");
                self.windows[w].staff = None;
            }
            Event::Reconfigured { spec, .. } => self.rebuild(spec.clone()),
            Event::SteppedBack { ticket, places, .. } => {
                let place = self.step_back_place(*ticket, *places);
                if place.behind == 0 {
                    self.next_issue += 1;
                } else {
                    self.next_behind += 1;
                }
                let line = self.ticket(*ticket).line.expect("a waiting ticket");
                self.dequeue(*ticket);
                let t = self.ticket_mut(*ticket);
                t.place = place;
                t.stepped_back = true;
                self.enqueue(*ticket, line);
            }
            Event::Left {
                ticket, called_to, ..
            } => {
                match called_to {
                    Some(window) => self.clear_current(*window),
                    None => self.dequeue(*ticket),
                }
                self.ticket_mut(*ticket).state = TicketState::Left;
            }
            Event::Booked { .. }
            | Event::BookingCancelled { .. }
            | Event::CheckedIn { .. }
            | Event::BookingForfeited { .. }
            | Event::SlotsAdjusted { .. } => self.replay_appointment(event),
            Event::WorkOrderOpened { .. }
            | Event::WorkOrderCalledBack { .. }
            | Event::WorkOrderClosed { .. }
            | Event::RatingAppealed { .. } => self.replay_work_order(event),
            Event::AlertRaised { alert, .. } => self.alerts.raise(alert),
            Event::AlertCleared { id, at } => self.alerts.clear(id, *at),
        }
    }

    /// The call policy (see the module documentation): which waiting ticket
    /// window `w` takes next. O(I + log n), no allocation.
    fn choose(&self, w: usize, now: Timestamp) -> Option<TicketId> {
        let window = &self.windows[w];
        // 1. Referrals to this window.
        if let Some((_, waiter)) = window.referrals.first() {
            return Some(waiter.id);
        }
        // The items whose line head this window may take, per lane.
        let mut lanes = [0u32; Lane::COUNT];
        for (lane, mask) in lanes.iter_mut().enumerate() {
            *mask = window.serves & self.nonempty[lane];
        }
        if window.spec.fallback {
            lanes[PRIORITY] |= self.nonempty[PRIORITY] & !window.serves & self.green_heads();
        }
        let head = |item: usize, lane: usize| {
            self.items[item].lanes[lane]
                .first()
                .expect("nonempty lanes have a head")
        };
        // 2. The starvation bound: an overdue head goes first, oldest first.
        let max_wait = u64::from(self.spec.max_wait_secs);
        let mut overdue: Option<(Timestamp, Place, TicketId)> = None;
        for (lane, mask) in lanes.iter().enumerate() {
            for item in bits(*mask) {
                let (place, Waiter { id, since, .. }) = head(item, lane);
                if since.plus_secs(max_wait) <= now
                    && overdue.is_none_or(|o| (since, place) < (o.0, o.1))
                {
                    overdue = Some((since, place, id));
                }
            }
        }
        if let Some((_, _, id)) = overdue {
            return Some(id);
        }
        // 3. Lanes, with the optional walk-in turn.
        let mut lane = lanes.iter().position(|mask| *mask != 0)?;
        if lane == PRIORITY && lanes[WALK_IN] != 0 {
            if let Some(every) = self.spec.walk_in_every {
                if window.priority_streak >= every {
                    lane = WALK_IN;
                }
            }
        }
        // 4. Balancing: the largest backlog per open window, then the older
        // head. Backlogs are compared as wa/oa > wb/ob ⇔ wa·ob > wb·oa, so an
        // item no open window serves (a fallback's green ticket) weighs most.
        let mut best: Option<(u64, u64, Place, TicketId)> = None;
        for item in bits(lanes[lane]) {
            let (place, Waiter { id, .. }) = head(item, lane);
            let backlog = self.items[item].waiting() as u64;
            let open = u64::from(self.items[item].open_windows);
            let better = match best {
                None => true,
                Some((b_backlog, b_open, b_place, _)) => {
                    match (backlog * b_open).cmp(&(b_backlog * open)) {
                        std::cmp::Ordering::Greater => true,
                        std::cmp::Ordering::Less => false,
                        std::cmp::Ordering::Equal => place < b_place,
                    }
                }
            };
            if better {
                best = Some((backlog, open, place, id));
            }
        }
        best.map(|(_, _, _, id)| id)
    }

    /// Bit i: the head of item i's priority lane is a green-channel ticket.
    /// O(I).
    fn green_heads(&self) -> u32 {
        let mut mask = 0;
        for item in bits(self.nonempty[PRIORITY]) {
            if self.items[item].lanes[PRIORITY]
                .first()
                .is_some_and(|(_, waiter)| waiter.green)
            {
                mask |= 1 << item;
            }
        }
        mask
    }

    /// Whether window `w` may call waiting ticket `t` from its item's line.
    fn may_take(&self, w: usize, t: &Ticket) -> bool {
        let window = &self.windows[w];
        window.serves & (1 << t.item) != 0
            || (window.spec.fallback && t.lane == Lane::Priority(PriorityReason::Green))
    }

    fn walk_ins_waiting_for(&self, w: usize) -> bool {
        self.windows[w].serves & self.nonempty[WALK_IN] != 0
    }

    /// §7.3.5: after a command, every ticket whose position is now below the
    /// threshold and that has not been reminded gets its reminder. Only the
    /// positions [`Touched`] names are looked at: O(log n) per touched line
    /// for calls, O(Δk log n) when a window opens.
    fn remind(&mut self, touched: Touched, now: Timestamp, events: &mut Vec<Event>) {
        let mut reminders = Vec::new();
        // Items beyond the hall's own are ignored: `bits` of a wide mask.
        for item in bits(touched.items).take_while(|i| *i < self.items.len()) {
            let k = self.reminder_prefix(self.items[item].open_windows);
            for position in touched.item_from[item]..k {
                let Some(waiter) = self.nth_in_item(item, position) else {
                    break;
                };
                self.push_reminder(waiter, position, now, &mut reminders);
            }
        }
        let windows: Vec<(usize, usize)> = if touched.all_windows {
            (0..self.windows.len()).map(|w| (w, 0)).collect()
        } else {
            touched.window.into_iter().collect()
        };
        for (w, from) in windows {
            let open = u32::from(self.windows[w].is_open());
            let k = self.reminder_prefix(open);
            for position in from..k {
                let Some((_, waiter)) = self.windows[w].referrals.nth(position) else {
                    break;
                };
                self.push_reminder(waiter, position, now, &mut reminders);
            }
        }
        for event in &reminders {
            self.replay(event);
        }
        events.append(&mut reminders);
    }

    fn push_reminder(
        &self,
        waiter: Waiter,
        position: usize,
        at: Timestamp,
        reminders: &mut Vec<Event>,
    ) {
        // The waiter carries `reminded`: the ticket itself, likely out of
        // cache in a long line, is read only when a reminder is due.
        if !waiter.reminded {
            reminders.push(Event::Approaching {
                ticket: waiter.id,
                number: waiter.number,
                position: position as u32,
                at,
            });
        }
    }

    /// How many positions (0, 1, …) are below `factor × open`: ⌈factor × open⌉.
    fn reminder_prefix(&self, open: u32) -> usize {
        (self.reminder_milli * u64::from(open)).div_ceil(1000) as usize
    }

    /// The ticket at `position` in item `item`'s line (all lanes). O(log n).
    fn nth_in_item(&self, item: usize, mut position: usize) -> Option<Waiter> {
        for lane in &self.items[item].lanes {
            if position < lane.len() {
                return lane.nth(position).map(|(_, waiter)| waiter);
            }
            position -= lane.len();
        }
        None
    }

    /// The position `place` has (or would have) in item `item`'s lane `lane`.
    fn item_position(&self, item: usize, lane: usize, place: Place) -> u32 {
        let lanes = &self.items[item].lanes;
        let ahead: usize = lanes[..lane].iter().map(OrderedQueue::len).sum();
        (ahead + lanes[lane].rank(&place)) as u32
    }

    /// Where a reinstated no-show goes: behind the first `reinstate_places`
    /// tickets of its lane, or last if the lane is shorter.
    fn reinstate_place(&self, item: usize, lane: usize) -> Place {
        let places = self.spec.reinstate_places as usize;
        match self.items[item].lanes[lane].nth(places - 1) {
            Some((anchor, _)) => Place {
                issue: anchor.issue,
                behind: self.next_behind,
            },
            None => Place {
                issue: self.next_issue,
                behind: 0,
            },
        }
    }

    /// Where waiting ticket `id` goes when it steps back `places` places:
    /// behind the ticket `places` after it in its lane (as a reinstated
    /// no-show goes behind one), or last if fewer follow it.
    fn step_back_place(&self, id: TicketId, places: u32) -> Place {
        let t = self.ticket(id);
        let Some(Line::Item(item, lane)) = t.line else {
            unreachable!("decided for a ticket in its item's line");
        };
        let q = &self.items[item].lanes[lane];
        let rank = q.rank(&t.place);
        match q.nth(rank + places as usize) {
            Some((anchor, _)) => Place {
                issue: anchor.issue,
                behind: self.next_behind,
            },
            None => Place {
                issue: self.next_issue,
                behind: 0,
            },
        }
    }

    /// Ticket `id` is about to leave its line.
    fn touch_line(&self, id: TicketId, touched: &mut Touched) {
        match self.ticket(id).line {
            Some(Line::Item(item, _)) => {
                let k = self.reminder_prefix(self.items[item].open_windows);
                touched.item(item, k.saturating_sub(1));
            }
            Some(Line::Window(w)) => {
                let k = self.reminder_prefix(u32::from(self.windows[w].is_open()));
                touched.window = Some((w, k.saturating_sub(1)));
            }
            None => {}
        }
    }

    /// Window `w`, not open now, is about to open: thresholds rise.
    fn touch_window(&self, w: usize, touched: &mut Touched) {
        for item in bits(self.windows[w].serves) {
            touched.item(item, self.reminder_prefix(self.items[item].open_windows));
        }
        touched.window = Some((w, 0));
    }

    fn enqueue(&mut self, id: TicketId, line: Line) {
        let t = self.ticket(id);
        let place = t.place;
        let waiter = Waiter {
            id,
            since: t.waiting_since,
            green: t.lane == Lane::Priority(PriorityReason::Green),
            reminded: t.reminded,
            number: t.number,
        };
        match line {
            Line::Item(item, lane) => {
                self.items[item].lanes[lane].insert(place, waiter);
                self.nonempty[lane] |= 1 << item;
            }
            Line::Window(w) => self.windows[w].referrals.insert(place, waiter),
        }
        self.ticket_mut(id).line = Some(line);
    }

    fn dequeue(&mut self, id: TicketId) {
        let place = self.ticket(id).place;
        let waiter = match self.ticket_mut(id).line.take() {
            Some(Line::Item(item, lane)) => {
                let q = &mut self.items[item].lanes[lane];
                let waiter = q.remove(&place);
                if q.is_empty() {
                    self.nonempty[lane] &= !(1 << item);
                }
                waiter
            }
            Some(Line::Window(w)) => self.windows[w].referrals.remove(&place),
            None => None,
        };
        if let Some(waiter) = waiter {
            self.ticket_mut(id).reminded = waiter.reminded;
        }
    }

    /// The line entry of waiting ticket `id`. O(log n).
    fn waiter_mut(&mut self, id: TicketId) -> Option<&mut Waiter> {
        let t = self.ticket(id);
        let place = t.place;
        match t.line? {
            Line::Item(item, lane) => self.items[item].lanes[lane].get_mut(&place),
            Line::Window(w) => self.windows[w].referrals.get_mut(&place),
        }
    }

    /// Whether ticket `id` has had its §7.3.5 reminder. O(log n).
    fn is_reminded(&self, id: TicketId) -> bool {
        let t = self.ticket(id);
        let waiter = match t.line {
            Some(Line::Item(item, lane)) => self.items[item].lanes[lane].get(&t.place),
            Some(Line::Window(w)) => self.windows[w].referrals.get(&t.place),
            None => None,
        };
        waiter.map_or(t.reminded, |w| w.reminded)
    }

    fn count_open(&mut self, w: usize, opened: bool) {
        for item in bits(self.windows[w].serves) {
            let open = &mut self.items[item].open_windows;
            *open = if opened { *open + 1 } else { *open - 1 };
        }
    }

    fn clear_current(&mut self, window: WindowNo) {
        let w = self.window_idx(window).expect("known window");
        self.windows[w].current = None;
    }

    fn begin_day(&mut self, day: BusinessDay) {
        self.day = Some(day);
        self.appointments.prune(day);
        self.issuing = true;
        self.first_ticket += self.tickets.len() as u64;
        self.tickets.clear();
        self.tickets_by_phone.clear();
        self.nonempty = [0; Lane::COUNT];
        for item in &mut self.items {
            item.lanes = Default::default();
            item.open_windows = 0;
            item.by_seq.clear();
        }
        for w in &mut self.windows {
            w.state = WindowState::Closed;
            w.current = None;
            w.staff = None;
            w.priority_streak = 0;
            w.referrals = OrderedQueue::new();
            w.last_finished = None;
        }
    }

    fn require_day(&self) -> Result<(), DispatchError> {
        self.day.map(|_| ()).ok_or(DispatchError::NoBusinessDay)
    }

    fn callable_window(&self, window: WindowNo) -> Result<usize, DispatchError> {
        let w = self.window_idx(window)?;
        let win = &self.windows[w];
        match win.state {
            WindowState::Open => {}
            WindowState::Paused(_) => {
                return Err(DispatchError::WindowNotOpen {
                    window,
                    state: "paused",
                })
            }
            WindowState::Closed => {
                return Err(DispatchError::WindowNotOpen {
                    window,
                    state: "closed",
                })
            }
        }
        if let Some(current) = win.current {
            return Err(DispatchError::WindowBusy {
                window,
                ticket: self.ticket(current).number,
            });
        }
        // AB岗: with the hall's rule on, every call is someone's.
        if self.counter_rules.require_login_to_call && win.staff.is_none() {
            return Err(DispatchError::LoginRequired(window));
        }
        Ok(w)
    }

    fn current(&self, window: WindowNo) -> Result<(TicketId, &Ticket), DispatchError> {
        let w = self.window_idx(window)?;
        let id = self.windows[w]
            .current
            .ok_or(DispatchError::NoCurrentTicket(window))?;
        Ok((id, self.ticket(id)))
    }

    fn wrong_state(&self, id: TicketId, expected: &'static str) -> DispatchError {
        let t = self.ticket(id);
        DispatchError::WrongTicketState {
            ticket: t.number,
            state: t.state,
            expected,
        }
    }

    fn item_idx(&self, code: ItemCode) -> Result<usize, DispatchError> {
        self.item_index[code.index()]
            .map(usize::from)
            .ok_or(DispatchError::UnknownItem(code))
    }

    fn window_idx(&self, number: WindowNo) -> Result<usize, DispatchError> {
        self.windows
            .binary_search_by_key(&number, |w| w.spec.number)
            .map_err(|_| DispatchError::UnknownWindow(number))
    }

    fn ticket_by_number(&self, number: TicketNo) -> Result<TicketId, DispatchError> {
        let item = self.item_idx(number.item)?;
        self.items[item]
            .by_seq
            .get(number.seq as usize - 1)
            .copied()
            .ok_or(DispatchError::UnknownTicket(number))
    }

    fn ticket(&self, id: TicketId) -> &Ticket {
        &self.tickets[(id.0 - self.first_ticket) as usize]
    }

    fn ticket_mut(&mut self, id: TicketId) -> &mut Ticket {
        &mut self.tickets[(id.0 - self.first_ticket) as usize]
    }

    // ----- read-only queries -------------------------------------------

    /// Every window and every item's line, as displays show them. O(W + I).
    pub fn view(&self) -> HallView {
        HallView {
            day: self.day,
            issuing: self.issuing,
            windows: self.windows.iter().map(|w| self.window_view(w)).collect(),
            items: self
                .items
                .iter()
                .map(|it| ItemView {
                    code: it.spec.code,
                    name: it.spec.name.clone(),
                    waiting: [0, 1, 2].map(|l| it.lanes[l].len() as u32),
                    open_windows: it.open_windows,
                    issued_today: it.by_seq.len() as u32,
                })
                .collect(),
        }
    }

    /// The first `per_item` waiting tickets of every item's line, in the
    /// order a window serving the item takes them (appointments, then
    /// priority, then walk-ins, §7.3.2), for a board's 请…准备 list; items
    /// nobody waits for are left out. O(I × per_item × log n).
    pub fn next_up(&self, per_item: usize) -> Vec<hallq_proto::views::NextUp> {
        self.items
            .iter()
            .filter(|it| it.waiting() > 0)
            .map(|it| {
                let mut tickets = Vec::with_capacity(per_item);
                for lane in &it.lanes {
                    let mut i = 0;
                    while tickets.len() < per_item {
                        let Some((_, waiter)) = lane.nth(i) else {
                            break;
                        };
                        tickets.push(self.ticket(waiter.id).number);
                        i += 1;
                    }
                }
                hallq_proto::views::NextUp {
                    item: it.spec.code,
                    tickets,
                }
            })
            .collect()
    }

    /// What a kiosk's start screen shows at `now`: each item's line, the
    /// wait a new walk-in or priority ticket would have (as
    /// [`Command::Issue`] estimates it), today's cap, and whether walk-ins
    /// are taken now (seed 000 §四(八)). O(W × I).
    pub fn kiosk_items(&self) -> Vec<hallq_proto::views::KioskItem> {
        self.items
            .iter()
            .enumerate()
            .map(|(idx, it)| {
                let open = it.open_windows;
                let eta = |ahead: usize| {
                    (open > 0).then(|| {
                        let total = ahead as u64 * u64::from(it.spec.avg_service_secs);
                        total.div_ceil(u64::from(open)).min(u64::from(u32::MAX)) as u32
                    })
                };
                let ahead_of = |lane: Lane| -> usize {
                    it.lanes[..=lane.rank()].iter().map(OrderedQueue::len).sum()
                };
                hallq_proto::views::KioskItem {
                    code: it.spec.code,
                    name: it.spec.name.clone(),
                    waiting: [0, 1, 2].map(|l| it.lanes[l].len() as u32),
                    windows: self
                        .windows
                        .iter()
                        .filter(|w| w.is_open() && w.serves & (1 << idx) != 0)
                        .map(|w| w.spec.number)
                        .collect(),
                    eta_secs: eta(ahead_of(Lane::WalkIn)),
                    eta_priority_secs: eta(ahead_of(Lane::Priority(
                        hallq_proto::types::PriorityReason::Elderly,
                    ))),
                    daily_cap: it.spec.daily_cap,
                    issued_today: it.by_seq.len() as u32,
                }
            })
            .collect()
    }

    /// Whether walk-ins are taken at `now` by the opening hours, and if
    /// not, when the hall opens next.
    pub fn opening(&self, now: Timestamp) -> (bool, Option<hallq_proto::appointment::SlotAt>) {
        let cal = &self.spec.day;
        let open = cal.is_open(now);
        (open, (!open).then(|| cal.next_opening_at(now)).flatten())
    }

    /// One window as displays show it. O(log W).
    pub fn window_view_of(&self, window: WindowNo) -> Result<WindowView, DispatchError> {
        Ok(self.window_view(&self.windows[self.window_idx(window)?]))
    }

    fn window_view(&self, w: &Window) -> WindowView {
        WindowView {
            number: w.spec.number,
            state: w.state.clone(),
            current: w.current.map(|id| self.ticket(id).number),
            serving: w
                .current
                .is_some_and(|id| matches!(self.ticket(id).state, TicketState::Serving(_))),
            staff: w.staff.clone(),
            items: self
                .items
                .iter()
                .enumerate()
                .filter(|(i, _)| w.serves & (1 << i) != 0)
                .map(|(_, it)| it.spec.code)
                .collect(),
            universal: w.spec.universal,
            fallback: w.spec.fallback,
        }
    }

    /// Every waiting ticket with its position: items in configuration order,
    /// then windows' referral lines. O(n): for listings, not dispatch.
    pub fn waiting(&self) -> Vec<WaitingTicket> {
        let mut out = Vec::new();
        for item in &self.items {
            let mut position = 0;
            for lane in &item.lanes {
                for (_, waiter) in lane.to_vec() {
                    out.push(self.waiting_ticket(waiter.id, position, None));
                    position += 1;
                }
            }
        }
        for w in &self.windows {
            for (position, (_, waiter)) in w.referrals.to_vec().into_iter().enumerate() {
                out.push(self.waiting_ticket(waiter.id, position as u32, Some(w.spec.number)));
            }
        }
        out
    }

    fn waiting_ticket(
        &self,
        id: TicketId,
        position: u32,
        for_window: Option<WindowNo>,
    ) -> WaitingTicket {
        let t = self.ticket(id);
        WaitingTicket {
            ticket: t.number,
            lane: t.lane,
            position,
            for_window,
            waiting_since: t.waiting_since,
        }
    }

    /// The state of today's ticket `number`. O(1).
    pub fn ticket_state(&self, number: TicketNo) -> Result<TicketState, DispatchError> {
        Ok(self.ticket(self.ticket_by_number(number)?).state)
    }

    /// Today's ticket `number` as its visitor's phone page shows it (issue
    /// 18); `hall_name` and `step_back_places` are the daemon's. O(W + log n).
    pub fn ticket_follow(
        &self,
        number: TicketNo,
        hall_name: &str,
        step_back_places: u32,
    ) -> Result<hallq_proto::views::TicketFollow, DispatchError> {
        let id = self.ticket_by_number(number)?;
        let t = self.ticket(id);
        let item = &self.items[t.item];
        let position = self.position(number)?;
        let open = item.open_windows;
        let eta_secs = position.filter(|_| open > 0).map(|p| {
            let total = u64::from(p) * u64::from(item.spec.avg_service_secs);
            total.div_ceil(u64::from(open)).min(u64::from(u32::MAX)) as u32
        });
        let windows = self
            .windows
            .iter()
            .filter(|w| w.is_open() && w.serves & (1 << t.item) != 0)
            .map(|w| w.spec.number)
            .collect();
        // A batch companion's rating is its lead's.
        let service = t.service.as_ref().map(|s| match s.lead {
            Some(lead) => self.ticket(lead).service.clone().unwrap_or_default(),
            None => s.clone(),
        });
        Ok(hallq_proto::views::TicketFollow {
            hall_name: hall_name.to_owned(),
            ticket: t.number,
            item_name: item.spec.name.clone(),
            state: t.state,
            position,
            eta_secs,
            windows,
            approaching: self.is_reminded(id),
            stepped_back: t.stepped_back,
            step_back_places,
            can_rate: service.as_ref().is_some_and(|s| !s.rated),
            served_at: service.and_then(|s| s.window),
        })
    }

    /// The service window `window` finished last today (a batch's lead),
    /// for the rating tablet at the window (issue 18). O(1).
    pub fn last_finished_at(&self, window: WindowNo) -> Result<Option<TicketNo>, DispatchError> {
        let w = self.window_idx(window)?;
        Ok(self.windows[w]
            .last_finished
            .map(|id| self.ticket(id).number))
    }

    /// People ahead of waiting ticket `number`, or `None` if it is not
    /// waiting. O(log n).
    pub fn position(&self, number: TicketNo) -> Result<Option<u32>, DispatchError> {
        let t = self.ticket(self.ticket_by_number(number)?);
        Ok(match t.line {
            Some(Line::Item(item, lane)) => Some(self.item_position(item, lane, t.place)),
            Some(Line::Window(w)) => Some(self.windows[w].referrals.rank(&t.place) as u32),
            None => None,
        })
    }

    /// The item ticket `id` is in now (after any transfer), if it is
    /// today's. O(1).
    pub fn item_of(&self, id: TicketId) -> Option<ItemCode> {
        let index = id.0.checked_sub(self.first_ticket)? as usize;
        let item = self.tickets.get(index)?.item;
        Some(self.items[item].spec.code)
    }

    /// The id of today's ticket `number`. O(1).
    pub fn ticket_id(&self, number: TicketNo) -> Result<TicketId, DispatchError> {
        self.ticket_by_number(number)
    }

    /// The phone number given for ticket `id`, if it is today's. O(1).
    pub fn phone_of(&self, id: TicketId) -> Option<&Phone> {
        let index = id.0.checked_sub(self.first_ticket)? as usize;
        self.tickets.get(index)?.phone.as_ref()
    }

    /// When the longest-waiting ticket of `item` started waiting (the
    /// oldest of its lanes' heads), if any waits. O(1).
    pub fn oldest_waiting(&self, item: ItemCode) -> Option<Timestamp> {
        let item = self.item_idx(item).ok()?;
        self.items[item]
            .lanes
            .iter()
            .filter_map(|lane| lane.first().map(|(_, waiter)| waiter.since))
            .min()
    }

    /// Waiting tickets in the hall. O(I).
    pub fn waiting_count(&self) -> usize {
        self.items.iter().map(Item::waiting).sum::<usize>()
            + self
                .windows
                .iter()
                .map(|w| w.referrals.len())
                .sum::<usize>()
    }

    /// A complete, canonical description of the state, for checking that a
    /// replay rebuilt exactly what was there. O(n).
    pub fn dump(&self) -> HallDump {
        HallDump {
            view: self.view(),
            waiting: self.waiting(),
            tickets: self
                .tickets
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        t.number,
                        t.state,
                        t.lane,
                        t.item,
                        self.is_reminded(TicketId(self.first_ticket + i as u64)),
                        t.issued_at,
                        t.waiting_since,
                        (t.place.issue, t.place.behind),
                    )
                })
                .collect(),
            streaks: self.windows.iter().map(|w| w.priority_streak).collect(),
            counters: (self.first_ticket, self.next_issue, self.next_behind),
            appointments: self.appointments.dump(),
        }
    }
}

/// The indices of the set bits of `mask`, lowest first.
fn bits(mut mask: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            i
        })
    })
}

/// See [`Hall::dump`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HallDump {
    view: HallView,
    waiting: Vec<WaitingTicket>,
    #[allow(clippy::type_complexity)]
    tickets: Vec<(
        TicketNo,
        TicketState,
        Lane,
        usize,
        bool,
        Timestamp,
        Timestamp,
        (u64, u64),
    )>,
    streaks: Vec<u32>,
    counters: (u64, u64, u64),
    appointments: appointment::AppointmentsDump,
}
