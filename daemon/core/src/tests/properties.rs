//! Property tests: random command sequences against a hall, with the core's
//! invariants checked after every step by brute force (scanning everything,
//! which the core itself never does).

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Op {
    Issue {
        item: usize,
        lane: u8,
    },
    CallNext(u16),
    CallTicket(u16, usize),
    Recall(u16),
    Start(u16),
    Finish(u16),
    NoShow(u16),
    Reinstate(usize),
    TransferItem(u16, usize),
    TransferWindow(u16, u16),
    Pause(u16),
    Resume(u16),
    Open(u16),
    Close(u16),
    CloseIssuing,
    OpenIssuing,
    Advance(u16),
    /// Switch between two configurations with other mappings and settings.
    Reconfigure(bool),
    /// Book item i's k-th slot from now.
    Book(usize, u16),
    /// Check in booking n.
    CheckIn(u64),
    /// Cancel booking n, by the hall or the visitor.
    CancelBooking(u64, bool),
    /// Cut slot k of item i today to capacity c.
    CutSlot(usize, u16, u32),
}

const ITEMS: [char; 4] = ['A', 'B', 'C', 'D'];
const WINDOWS: u16 = 5;

fn op() -> impl Strategy<Value = Op> {
    let win = 1..=WINDOWS;
    prop_oneof![
        8 => (0..ITEMS.len(), 0..8u8).prop_map(|(item, lane)| Op::Issue { item, lane }),
        6 => win.clone().prop_map(Op::CallNext),
        1 => (win.clone(), 0..40usize).prop_map(|(w, t)| Op::CallTicket(w, t)),
        1 => win.clone().prop_map(Op::Recall),
        2 => win.clone().prop_map(Op::Start),
        5 => win.clone().prop_map(Op::Finish),
        1 => win.clone().prop_map(Op::NoShow),
        1 => (0..40usize).prop_map(Op::Reinstate),
        1 => (win.clone(), 0..ITEMS.len()).prop_map(|(w, i)| Op::TransferItem(w, i)),
        1 => (win.clone(), win.clone()).prop_map(|(a, b)| Op::TransferWindow(a, b)),
        1 => win.clone().prop_map(Op::Pause),
        1 => win.clone().prop_map(Op::Resume),
        3 => win.clone().prop_map(Op::Open),
        1 => win.prop_map(Op::Close),
        1 => Just(Op::CloseIssuing),
        1 => Just(Op::OpenIssuing),
        3 => (1..900u16).prop_map(Op::Advance),
        1 => any::<bool>().prop_map(Op::Reconfigure),
        2 => (0..ITEMS.len(), 0..6u16).prop_map(|(i, k)| Op::Book(i, k)),
        2 => (0..12u64).prop_map(Op::CheckIn),
        1 => (0..12u64, any::<bool>()).prop_map(|(n, h)| Op::CancelBooking(n, h)),
        1 => (0..ITEMS.len(), 0..6u16, 0..3u32).prop_map(|(i, k, c)| Op::CutSlot(i, k, c)),
    ]
}

fn spec(factor: f64, walk_in_every: Option<u32>) -> HallSpec {
    let mut spec = HallSpec::new(
        ITEMS.iter().map(|c| item(*c, 120)).collect(),
        vec![
            window(1, "AB"),
            window(2, "A"),
            window(3, "BC"),
            window(4, "C"),
            window(5, "D"),
        ],
    );
    spec.windows[3].universal = true;
    spec.windows[3].items.clear();
    spec.windows[4].fallback = true;
    spec.reminder_factor = factor;
    spec.walk_in_every = walk_in_every;
    spec.max_wait_secs = 1800;
    spec.reinstate_places = 2;
    spec.day.capacities = vec![(code('A'), 2), (code('B'), 1)];
    spec
}

/// The alternative configuration: window 2 also serves C, window 3 serves
/// D, a window 6 serves A and B, other settings.
fn variant(base: &HallSpec) -> HallSpec {
    let mut spec = base.clone();
    spec.windows[1].items.push(code('C'));
    spec.windows[2].items = vec![code('D')];
    spec.windows.push(window(6, "AB"));
    spec.reminder_factor = 2.5;
    spec.walk_in_every = Some(1);
    spec.reinstate_places = 1;
    spec
}

fn lane_of(n: u8) -> Lane {
    match n {
        0 => Lane::Appointment,
        1 => Lane::Priority(PriorityReason::Elderly),
        2 => Lane::Priority(PriorityReason::Green),
        _ => Lane::WalkIn,
    }
}

/// The ticket numbers issued so far, to pick from by index.
fn nth_number(issued: &[TicketNo], i: usize) -> Option<TicketNo> {
    (!issued.is_empty()).then(|| issued[i % issued.len()])
}

fn command(
    op: &Op,
    issued: &[TicketNo],
    base: &HallSpec,
    now: Timestamp,
    next_booking: u64,
) -> Option<Command> {
    let w = WindowNo;
    // The k-th half hour after now, in the hall's local time.
    let slot = |k: u16| {
        let here = base.day.slot_at(now);
        let minute = (here.minute / 30 + 1 + k) * 30;
        (minute < 1440).then_some(hallq_proto::appointment::SlotAt { minute, ..here })
    };
    Some(match *op {
        Op::Issue { item, lane } => Command::Issue {
            item: code(ITEMS[item]),
            lane: lane_of(lane),
            phone: None,
        },
        Op::CallNext(n) => Command::CallNext { window: w(n) },
        Op::CallTicket(n, t) => Command::CallTicket {
            window: w(n),
            ticket: nth_number(issued, t)?,
        },
        Op::Recall(n) => Command::Recall { window: w(n) },
        Op::Start(n) => Command::Start { window: w(n) },
        Op::Finish(n) => Command::Finish {
            window: w(n),
            rating: None,
        },
        Op::NoShow(n) => Command::NoShow { window: w(n) },
        Op::Reinstate(t) => Command::Reinstate {
            ticket: nth_number(issued, t)?,
        },
        Op::TransferItem(n, i) => Command::Transfer {
            window: w(n),
            to: TransferTarget::Item(code(ITEMS[i])),
        },
        Op::TransferWindow(a, b) => Command::Transfer {
            window: w(a),
            to: TransferTarget::Window(w(b)),
        },
        Op::Pause(n) => Command::Pause {
            window: w(n),
            reason: "break".into(),
        },
        Op::Resume(n) => Command::Resume { window: w(n) },
        Op::Open(n) => Command::OpenWindow { window: w(n) },
        Op::Close(n) => Command::CloseWindow { window: w(n) },
        Op::CloseIssuing => Command::CloseIssuing,
        Op::OpenIssuing => Command::OpenIssuing,
        Op::Advance(_) => return None,
        Op::Book(i, k) => Command::Book {
            item: code(ITEMS[i]),
            slot: slot(k)?,
            phone: Phone::new("13800138000").unwrap(),
            channel: hallq_proto::appointment::Channel::Online,
            code: appointment::booking_code(next_booking),
        },
        Op::CheckIn(n) => Command::CheckIn {
            code: appointment::booking_code(n),
        },
        Op::CancelBooking(n, by_hall) => Command::CancelBooking {
            code: appointment::booking_code(n),
            by_hall,
            phone_tail: None,
        },
        Op::CutSlot(i, k, capacity) => Command::AdjustSlots {
            day: slot(k)?.day,
            change: hallq_proto::appointment::SlotChange::Capacity {
                item: code(ITEMS[i]),
                minute: slot(k)?.minute,
                capacity,
            },
        },
        Op::Reconfigure(alternative) => Command::Reconfigure {
            spec: if alternative {
                variant(base)
            } else {
                base.clone()
            },
        },
    })
}

/// §7.3.5 stated directly: position < factor × open, in exact thousandths.
fn below_threshold(hall: &Hall, position: usize, open: u32) -> bool {
    position as u64 * 1000 < hall.reminder_milli * u64::from(open)
}

/// The position of every waiting ticket and whether it is below its line's
/// reminder threshold, by brute force.
fn positions(hall: &Hall) -> HashMap<TicketId, (usize, bool)> {
    let mut out = HashMap::new();
    for item in &hall.items {
        let open = item.open_windows;
        let mut position = 0;
        for lane in &item.lanes {
            for (_, waiter) in lane.to_vec() {
                out.insert(waiter.id, (position, below_threshold(hall, position, open)));
                position += 1;
            }
        }
    }
    for w in &hall.windows {
        let open = u32::from(w.is_open());
        for (position, (_, waiter)) in w.referrals.to_vec().into_iter().enumerate() {
            out.insert(waiter.id, (position, below_threshold(hall, position, open)));
        }
    }
    out
}

/// Every structural invariant of the hall, checked by scanning everything.
fn check_invariants(hall: &Hall) -> Result<(), TestCaseError> {
    let mut in_lines = HashMap::new();
    for (i, item) in hall.items.iter().enumerate() {
        for (lane, q) in item.lanes.iter().enumerate() {
            prop_assert_eq!(hall.nonempty[lane] & (1 << i) != 0, !q.is_empty());
            for (place, waiter) in q.to_vec() {
                let id = waiter.id;
                prop_assert!(in_lines.insert(id, Line::Item(i, lane)).is_none());
                let t = hall.ticket(id);
                prop_assert_eq!(t.waiting_since, waiter.since);
                prop_assert_eq!(t.place, place);
                prop_assert_eq!(t.lane.rank(), lane);
                prop_assert_eq!(t.item, i);
            }
        }
        let open = hall
            .windows
            .iter()
            .filter(|w| w.is_open() && w.serves & (1 << i) != 0)
            .count() as u32;
        prop_assert_eq!(item.open_windows, open);
    }
    let mut at_windows = HashMap::new();
    for (wi, w) in hall.windows.iter().enumerate() {
        for (_, waiter) in w.referrals.to_vec() {
            prop_assert!(in_lines.insert(waiter.id, Line::Window(wi)).is_none());
        }
        if let Some(id) = w.current {
            prop_assert!(w.state != WindowState::Closed);
            at_windows.insert(id, w.spec.number);
        }
    }
    // Each ticket is in exactly one state, and where that state says.
    for (i, t) in hall.tickets.iter().enumerate() {
        let id = TicketId(hall.first_ticket + i as u64);
        match t.state {
            TicketState::Waiting => {
                prop_assert_eq!(in_lines.get(&id).copied(), t.line);
                prop_assert!(t.line.is_some());
                prop_assert!(!at_windows.contains_key(&id));
            }
            TicketState::Called(n) | TicketState::Serving(n) => {
                prop_assert_eq!(at_windows.get(&id), Some(&n));
                prop_assert!(!in_lines.contains_key(&id));
            }
            _ => {
                prop_assert!(!in_lines.contains_key(&id) && !at_windows.contains_key(&id));
            }
        }
    }
    // §7.3.5: every ticket below its line's threshold has been reminded.
    for (id, (position, below)) in positions(hall) {
        if below {
            prop_assert!(
                hall.is_reminded(id),
                "{:?} at {} not reminded",
                id,
                position
            );
        }
    }
    Ok(())
}

/// What must hold of one successful command's events, given the hall before.
fn check_events(
    before: &Hall,
    events: &[Event],
    reminded: &mut HashMap<TicketId, u32>,
) -> Result<(), TestCaseError> {
    for e in events {
        match e {
            Event::Issued { issued, .. } => {
                let open = before.items[before.item_idx(issued.number.item).unwrap()].open_windows;
                prop_assert_eq!(
                    issued.approaching,
                    below_threshold(before, issued.position as usize, open)
                );
                if issued.approaching {
                    *reminded.entry(issued.ticket).or_default() += 1;
                }
            }
            Event::Called { ticket, window, .. } => {
                let t = before.ticket(*ticket);
                let w = before.window_idx(*window).unwrap();
                match t.line {
                    // First come, first served within an item and lane: only
                    // a line's head is ever called (CallTicket aside).
                    Some(Line::Item(..)) => {
                        prop_assert!(
                            before.may_take(w, t),
                            "window {} got item {}",
                            window,
                            t.number.item
                        );
                    }
                    Some(Line::Window(target)) => prop_assert_eq!(target, w),
                    None => prop_assert!(false, "called a ticket that was not waiting"),
                }
            }
            Event::Approaching { ticket, .. } => {
                *reminded.entry(*ticket).or_default() += 1;
                prop_assert!(!before.is_reminded(*ticket));
            }
            _ => {}
        }
    }
    for (id, n) in reminded.iter() {
        prop_assert!(*n <= 1, "{:?} reminded {} times", id, n);
    }
    Ok(())
}

fn run_ops(
    spec: HallSpec,
    ops: &[Op],
) -> Result<(Hall, Vec<Event>, Vec<TicketNo>, Timestamp), TestCaseError> {
    let base = spec.clone();
    let mut hall = Hall::new(spec).unwrap();
    let mut now = Timestamp(1_000_000);
    let mut log = hall.apply(Command::BeginDay { day: DAY }, now).unwrap();
    let mut issued = Vec::new();
    let mut reminded = HashMap::new();
    for op in ops {
        if let Op::Advance(secs) = op {
            now = now.plus_secs(u64::from(*secs));
            continue;
        }
        let Some(command) = command(op, &issued, &base, now, hall.next_booking()) else {
            continue;
        };
        let is_call_next = matches!(command, Command::CallNext { .. });
        let before = hall.clone();
        let before_dump = hall.dump();
        match hall.apply(command, now) {
            Ok(events) => {
                check_events(&before, &events, &mut reminded)?;
                if is_call_next {
                    // CallNext always takes a line's head.
                    if let Event::Called { ticket, .. } = &events[0] {
                        let t = before.ticket(*ticket);
                        let head = match t.line.unwrap() {
                            Line::Item(i, l) => before.items[i].lanes[l].first(),
                            Line::Window(w) => before.windows[w].referrals.first(),
                        };
                        prop_assert_eq!(head.map(|(_, w)| w.id), Some(*ticket), "not FIFO");
                    }
                }
                for e in &events {
                    if let Event::Approaching {
                        ticket, position, ..
                    } = e
                    {
                        // The position it reports is its true position now.
                        let now_positions = positions(&hall);
                        let (p, below) = now_positions[ticket];
                        prop_assert_eq!(p, *position as usize);
                        prop_assert!(below);
                    }
                    if let Event::Issued { issued: i, .. } = e {
                        issued.push(i.number);
                    }
                }
                log.extend(events);
            }
            Err(_) => prop_assert_eq!(before_dump, hall.dump(), "a refusal changed the hall"),
        }
        check_invariants(&hall)?;
    }
    Ok((hall, log, issued, now))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Invariants hold after every step, and replaying the events of the
    /// whole run into a fresh hall gives the same state.
    #[test]
    fn invariants_hold_and_replay_reproduces(
        ops in proptest::collection::vec(op(), 1..250),
        factor in prop_oneof![Just(1.0), Just(1.5), Just(2.3)],
        walk_in_every in prop_oneof![Just(None), Just(Some(1)), Just(Some(3))],
    ) {
        let spec = spec(factor, walk_in_every);
        let (hall, log, _, _) = run_ops(spec.clone(), &ops)?;
        let mut fresh = Hall::new(spec).unwrap();
        for e in &log {
            fresh.replay(e);
        }
        prop_assert_eq!(fresh.dump(), hall.dump());
    }

    /// Whatever happened before, once every window is open and keeps
    /// calling, every waiting ticket is called — also while new visitors
    /// keep arriving for a while.
    #[test]
    fn every_waiting_ticket_is_eventually_called(
        ops in proptest::collection::vec(op(), 1..200),
        arrivals in proptest::collection::vec((0..ITEMS.len(), 0..8u8), 0..60),
    ) {
        let (mut hall, _, _, mut now) = run_ops(spec(1.5, Some(2)), &ops)?;
        for n in 1..=WINDOWS {
            let _ = hall.apply(Command::Resume { window: WindowNo(n) }, now);
            let _ = hall.apply(Command::OpenWindow { window: WindowNo(n) }, now);
        }
        let _ = hall.apply(Command::OpenIssuing, now);
        let mut waiting_since: HashMap<TicketId, Timestamp> = HashMap::new();
        let mut arrivals = arrivals.into_iter();
        let bound = hall.waiting_count() + 60 + 10;
        for _round in 0..bound {
            if let Some((item, lane)) = arrivals.next() {
                hall.apply(Command::Issue { item: code(ITEMS[item]), lane: lane_of(lane), phone: None }, now).unwrap();
            }
            now = now.plus_secs(60);
            for n in 1..=WINDOWS {
                let window = WindowNo(n);
                let _ = hall.apply(Command::Finish { window, rating: None }, now);
                if let Ok(events) = hall.apply(Command::CallNext { window }, now) {
                    if let Event::Called { ticket, .. } = events[0] {
                        waiting_since.remove(&ticket);
                    }
                }
            }
            if hall.waiting_count() == 0 && arrivals.len() == 0 {
                break;
            }
        }
        prop_assert_eq!(hall.waiting_count(), 0, "tickets left waiting: {:?}", hall.waiting());
    }
}
