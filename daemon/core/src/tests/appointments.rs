//! Appointments and the hall's day: slot capacity, the check-in window's
//! edges (§四(七)8), the hall's 8-hour rule (§四(七)7), double check-in,
//! lane order, closing time with a queue still served (§四(八)5), lunch duty
//! and the day rollover. Every test also replays its events into a fresh
//! hall and compares.

use super::*;
use hallq_proto::appointment::{AppointmentState, Channel, SlotAt, SlotChange};

/// Monday.
const MON: BusinessDay = 20261123;
const TUE: BusinessDay = 20261124;
const FRI: BusinessDay = 20261127;
const SAT: BusinessDay = 20261128;

fn hhmm(s: &str) -> u16 {
    hallq_proto::appointment::parse_minute(s).unwrap()
}

fn at(day: BusinessDay, time: &str) -> SlotAt {
    SlotAt {
        day,
        minute: hhmm(time),
    }
}

/// Mon–Fri 09:00–17:00, Saturday extended 09:00–12:00, lunch duty at
/// window 1; A takes 4 bookings a slot, B 1, C none.
fn calendar() -> HallDay {
    let mut hours = [Some(HallDay::DEFAULT_WEEKDAY_HOURS); 7];
    hours[5] = None;
    hours[6] = None;
    let mut extended = [None; 7];
    extended[5] = Some(Span {
        from: hhmm("09:00"),
        to: hhmm("12:00"),
    });
    HallDay {
        hours: Some(hours),
        extended,
        duty_windows: vec![w(1)],
        capacities: vec![(code('A'), 4), (code('B'), 1)],
        ..HallDay::default()
    }
}

/// [`Run::basic`] with [`calendar`], its clock at Sunday 2026-11-22 20:00.
fn hall() -> Run {
    let mut spec = HallSpec::new(
        vec![item('A', 300), item('B', 120), item('C', 600)],
        vec![window(1, "AB"), window(2, "A"), window(3, "C")],
    );
    spec.day = calendar();
    let mut run = Run::new(spec);
    run.now = time(at(DAY, "20:00"));
    run
}

fn time(slot: SlotAt) -> Timestamp {
    calendar().instant(slot)
}

impl Run {
    fn set(&mut self, day: BusinessDay, hhmmss: &str) {
        let (hm, secs) = hhmmss.split_at(5);
        let secs: u64 = secs.trim_start_matches(':').parse().unwrap_or(0);
        self.now = time(at(day, hm)).plus_secs(secs);
    }

    fn book(&mut self, c: char, slot: SlotAt) -> String {
        match &self.ok(Command::Book {
            item: code(c),
            slot,
            phone: Phone::new("13800138000").unwrap(),
            channel: Channel::Phone,
            code: appointment::booking_code(self.hall.next_booking()),
        })[0]
        {
            Event::Booked { booking, .. } => booking.code.clone(),
            other => panic!("expected Booked, got {other:?}"),
        }
    }

    fn book_err(&mut self, c: char, slot: SlotAt) -> DispatchError {
        self.err(Command::Book {
            item: code(c),
            slot,
            phone: Phone::new("13800138000").unwrap(),
            channel: Channel::Online,
            code: appointment::booking_code(self.hall.next_booking()),
        })
    }

    fn check_in(&mut self, code: &str) -> Result<Vec<Event>, DispatchError> {
        self.try_(Command::CheckIn { code: code.into() })
    }

    fn state(&self, code: &str) -> AppointmentState {
        self.hall.booking(code).unwrap().state
    }

    /// Replaying the log into a fresh hall gives the same state.
    fn assert_replays(&self) {
        let mut fresh = Hall::new(self.hall.spec().clone()).unwrap();
        for e in &self.log {
            fresh.replay(e);
        }
        assert_eq!(fresh.dump(), self.hall.dump(), "replay differs");
    }
}

#[test]
fn slots_follow_the_config_and_take_their_capacity() {
    let mut run = hall();
    for _ in 0..4 {
        run.book('A', at(MON, "10:00"));
    }
    let full = run.book_err('A', at(MON, "10:00"));
    assert_eq!(full.code(), "slot_full");
    assert!(full.to_string().contains("full (4 bookings)"), "{full}");
    run.book('B', at(MON, "10:00"));
    assert_eq!(run.book_err('B', at(MON, "10:00")).code(), "slot_full");
    assert_eq!(run.book_err('C', at(MON, "10:00")).code(), "not_bookable");
    // Every 30 minutes through the opening hours, the last at 16:30.
    assert_eq!(run.book_err('A', at(MON, "10:15")).code(), "no_such_slot");
    assert_eq!(run.book_err('A', at(MON, "17:00")).code(), "no_such_slot");
    run.book('A', at(MON, "16:30"));
    run.book('A', at(MON, "09:00"));
    // Weekends: only Saturday's extended hours.
    run.book('A', at(SAT, "11:30"));
    assert_eq!(run.book_err('A', at(SAT, "12:00")).code(), "no_such_slot");
    assert_eq!(
        run.book_err('A', at(SAT + 1, "10:00")).code(),
        "no_such_slot"
    );
    // A slot that has begun.
    assert_eq!(run.book_err('A', at(DAY, "19:30")).code(), "no_such_slot");
    run.set(MON, "10:00");
    assert_eq!(run.book_err('A', at(MON, "10:00")).code(), "slot_past");

    // A cancellation frees its place.
    run.set(DAY, "20:00");
    let day = run.hall.day_bookings(MON);
    let ten = day
        .slots
        .iter()
        .find(|s| s.item == code('A') && s.slot == at(MON, "10:00"))
        .unwrap();
    assert_eq!((ten.booked, ten.capacity, ten.extended), (4, 4, false));
    let first = day.bookings[1].code.clone();
    run.ok(Command::CancelBooking {
        code: first.clone(),
        by_hall: false,
        phone_tail: None,
    });
    assert_eq!(run.state(&first), AppointmentState::CancelledByVisitor);
    run.book('A', at(MON, "10:00"));
    assert!(run.hall.day_bookings(SAT).slots.iter().all(|s| s.extended));
    run.assert_replays();
}

#[test]
fn admins_add_slots_cut_capacity_and_close_days() {
    let mut run = hall();
    let add = |item, time: &str, capacity| Command::AdjustSlots {
        day: SAT,
        change: SlotChange::Add {
            item: code(item),
            minute: hhmm(time),
            capacity,
        },
    };
    // C takes no appointments, except in a slot an admin adds.
    run.ok(add('C', "14:00", 1));
    run.book('C', at(SAT, "14:00"));
    assert_eq!(run.book_err('C', at(SAT, "14:00")).code(), "slot_full");
    assert!(run
        .hall
        .day_bookings(SAT)
        .slots
        .iter()
        .any(|s| s.item == code('C') && s.extended));
    // Cutting capacity keeps bookings, takes no more.
    run.book('A', at(SAT, "09:00"));
    run.ok(Command::AdjustSlots {
        day: SAT,
        change: SlotChange::Capacity {
            item: code('A'),
            minute: hhmm("09:00"),
            capacity: 1,
        },
    });
    assert_eq!(run.book_err('A', at(SAT, "09:00")).code(), "slot_full");
    assert_eq!(
        run.err(Command::AdjustSlots {
            day: SAT,
            change: SlotChange::Capacity {
                item: code('A'),
                minute: hhmm("13:00"),
                capacity: 1,
            },
        })
        .code(),
        "no_such_slot"
    );
    // A closed day takes no bookings; reopened, it does.
    run.ok(Command::AdjustSlots {
        day: MON,
        change: SlotChange::CloseDay,
    });
    assert_eq!(
        run.book_err('A', at(MON, "10:00")).code(),
        "booking_day_closed"
    );
    assert_eq!(
        run.err(Command::AdjustSlots {
            day: MON,
            change: SlotChange::CloseDay,
        })
        .code(),
        "bad_slot_change"
    );
    assert!(run.hall.day_bookings(MON).closed);
    run.ok(Command::AdjustSlots {
        day: MON,
        change: SlotChange::OpenDay,
    });
    run.book('A', at(MON, "10:00"));
    // Days gone by cannot change.
    assert_eq!(
        run.err(Command::AdjustSlots {
            day: 20261101,
            change: SlotChange::CloseDay,
        })
        .code(),
        "bad_slot_change"
    );
    run.assert_replays();
}

#[test]
fn check_in_window_edges_and_double_check_in() {
    let mut run = hall();
    let codes: Vec<String> = (0..4).map(|_| run.book('A', at(MON, "10:00"))).collect();
    run.set(MON, "08:00");
    run.ok(Command::BeginDay { day: MON });

    // 30 minutes early at the most (the configured default).
    run.set(MON, "09:29:59");
    let early = run.check_in(&codes[0]).unwrap_err();
    assert_eq!(early.code(), "check_in_too_early");
    assert!(
        early.to_string().contains("from 2026-11-23 09:30"),
        "{early}"
    );
    run.set(MON, "09:30");
    run.check_in(&codes[0]).unwrap();
    // At the start.
    run.set(MON, "10:00");
    let events = run.check_in(&codes[1]).unwrap();
    assert!(matches!(&events[0], Event::CheckedIn { ticket, .. } if *ticket == no("A002")));
    assert!(
        matches!(&events[1], Event::Issued { issued, .. } if issued.lane == Lane::Appointment && issued.phone.is_some())
    );
    // 30 minutes after the start, to the second.
    run.set(MON, "10:30");
    run.check_in(&codes[2]).unwrap();
    assert_eq!(
        run.state(&codes[2]),
        AppointmentState::CheckedIn(no("A003"))
    );
    // One second later the booking is forfeited: recorded, not a ticket.
    run.set(MON, "10:30:01");
    let events = run.check_in(&codes[3]).unwrap();
    assert!(
        matches!(events.as_slice(), [Event::BookingForfeited { code, .. }] if *code == codes[3]),
        "{events:?}"
    );
    assert_eq!(run.state(&codes[3]), AppointmentState::Forfeited);
    assert_eq!(run.hall.view().items[0].issued_today, 3);

    // Neither a second check-in nor a forfeited one.
    let again = run.check_in(&codes[0]).unwrap_err();
    assert_eq!(again.code(), "booking_not_active");
    assert!(again.to_string().contains("checked in"), "{again}");
    assert_eq!(
        run.check_in(&codes[3]).unwrap_err().code(),
        "booking_not_active"
    );
    assert_eq!(
        run.check_in("ZZZZZZ").unwrap_err().code(),
        "unknown_booking"
    );
    // Codes are read as typed at a kiosk.
    assert_eq!(
        run.check_in(&codes[0].to_lowercase()).unwrap_err().code(),
        "booking_not_active"
    );
    run.assert_replays();
}

#[test]
fn the_hall_cancels_only_eight_hours_ahead() {
    let mut run = hall();
    let a = run.book('A', at(MON, "10:00"));
    let b = run.book('A', at(MON, "10:00"));
    run.set(MON, "02:00");
    run.ok(Command::CancelBooking {
        code: a.clone(),
        by_hall: true,
        phone_tail: None,
    });
    assert_eq!(run.state(&a), AppointmentState::CancelledByHall);
    run.set(MON, "02:00:01");
    let late = run.err(Command::CancelBooking {
        code: b.clone(),
        by_hall: true,
        phone_tail: None,
    });
    assert_eq!(late.code(), "hall_cancel_too_late");
    // The visitor may cancel any time.
    run.set(MON, "09:59");
    run.ok(Command::CancelBooking {
        code: b.clone(),
        by_hall: false,
        phone_tail: None,
    });
    assert_eq!(
        run.err(Command::CancelBooking {
            code: b,
            by_hall: false,
            phone_tail: None,
        })
        .code(),
        "booking_not_active"
    );
    run.assert_replays();
}

#[test]
fn appointments_go_before_priority_before_walk_ins() {
    let mut run = hall();
    let code = run.book('A', at(MON, "10:00"));
    run.set(MON, "09:45");
    run.ok(Command::BeginDay { day: MON });
    run.open(1);
    let walk_in = run.walk_in('A');
    let elderly = run
        .issue('A', Lane::Priority(PriorityReason::Elderly))
        .number;
    let events = run.check_in(&code).unwrap();
    let appointment = match &events[1] {
        Event::Issued { issued, .. } => {
            assert_eq!(issued.position, 0, "first in line");
            issued.number
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(run.serve_next(1), appointment);
    assert_eq!(run.serve_next(1), elderly);
    assert_eq!(run.serve_next(1), walk_in);
    run.assert_replays();
}

#[test]
fn closing_time_stops_walk_ins_and_serves_the_queue() {
    let mut run = hall();
    let regular = run.book('A', at(MON, "16:30"));
    let extended = run.book('A', at(SAT, "09:00"));
    run.set(MON, "08:59");
    run.ok(Command::BeginDay { day: MON });
    let early = run.err(Command::Issue {
        item: code('A'),
        lane: Lane::WalkIn,
        phone: None,
    });
    assert_eq!(
        early.to_string(),
        "the hall is closed for today, opens at 09:00 today; visitors already waiting will be served"
    );
    run.set(MON, "16:59:59");
    let waiting = run.walk_in('A');
    run.set(MON, "17:00");
    let closed = run.err(Command::Issue {
        item: code('A'),
        lane: Lane::Priority(PriorityReason::Elderly),
        phone: None,
    });
    assert_eq!(closed.code(), "hall_closed");
    assert!(
        closed
            .to_string()
            .starts_with("the hall is closed for today, opens at 09:00 tomorrow (2026-11-24)"),
        "{closed}"
    );
    // §四(八)5: whoever waits is still served.
    run.open(2);
    assert_eq!(run.serve_next(2), waiting);
    // A regular slot does not check in after hours…
    run.set(MON, "17:00");
    assert_eq!(
        run.check_in(&regular).unwrap_err().code(),
        "check_in_outside_hours"
    );
    // …an extended-hours one does.
    run.set(SAT, "08:50");
    run.ok(Command::BeginDay { day: SAT });
    run.check_in(&extended).unwrap();
    // Friday evening: Monday.
    run.set(FRI, "18:00");
    let weekend = run.err(Command::Issue {
        item: code('B'),
        lane: Lane::WalkIn,
        phone: None,
    });
    assert!(
        weekend
            .to_string()
            .contains("opens at 09:00 on Mon 2026-11-30"),
        "{weekend}"
    );
    run.assert_replays();
}

#[test]
fn no_hours_configured_is_always_open() {
    let mut run = Run::basic();
    run.now = time(at(MON, "03:00"));
    run.walk_in('A');
    assert!(run.hall.spec().day.lunch_duty(run.now).is_none());
}

#[test]
fn lunch_is_kept_by_the_duty_windows() {
    let cal = calendar();
    assert_eq!(cal.lunch_duty(time(at(MON, "12:30"))), Some(&[w(1)][..]));
    assert_eq!(cal.lunch_duty(time(at(MON, "11:59"))), None);
    assert_eq!(cal.lunch_duty(time(at(MON, "13:30"))), None);
    // Not on a closed day.
    assert_eq!(cal.lunch_duty(time(at(SAT + 1, "12:30"))), None);
}

#[test]
fn a_new_day_restarts_numbers_and_keeps_later_bookings() {
    let mut run = hall();
    let today = run.book('A', at(MON, "10:00"));
    let tomorrow = run.book('A', at(TUE, "10:00"));
    run.set(MON, "09:45");
    run.ok(Command::BeginDay { day: MON });
    run.check_in(&today).unwrap();
    assert_eq!(run.walk_in('A'), no("A002"));
    run.set(TUE, "00:00");
    run.ok(Command::BeginDay { day: TUE });
    // Monday's bookings are gone, Tuesday's stays; numbers restart.
    assert!(run.hall.booking(&today).is_none());
    assert_eq!(run.state(&tomorrow), AppointmentState::Booked);
    run.set(TUE, "09:40");
    let events = run.check_in(&tomorrow).unwrap();
    assert!(matches!(&events[0], Event::CheckedIn { ticket, .. } if *ticket == no("A001")));
    // A later booking never reuses a code.
    let next = run.book('A', at(TUE, "15:00"));
    assert!(next != today && next != tomorrow);
    run.assert_replays();
}

#[test]
fn bookings_nobody_comes_for_are_forfeited_on_time() {
    let mut run = hall();
    let late = run.book('A', at(MON, "10:00"));
    let kept = run.book('A', at(MON, "10:00"));
    let later = run.book('A', at(MON, "11:00"));
    run.set(MON, "08:00");
    run.ok(Command::BeginDay { day: MON });
    run.set(MON, "10:10");
    run.check_in(&kept).unwrap();
    // 30 minutes after the start, to the second: not yet.
    run.set(MON, "10:30");
    assert!(run.ok(Command::ForfeitOverdue).is_empty());
    run.set(MON, "10:30:01");
    let events = run.ok(Command::ForfeitOverdue);
    assert!(
        matches!(events.as_slice(), [Event::BookingForfeited { code, .. }] if *code == late),
        "{events:?}"
    );
    assert_eq!(run.state(&late), AppointmentState::Forfeited);
    assert_eq!(run.state(&kept), AppointmentState::CheckedIn(no("A001")));
    assert_eq!(run.state(&later), AppointmentState::Booked);
    assert!(run.ok(Command::ForfeitOverdue).is_empty(), "once only");
    run.assert_replays();
}

// ----- issue 19: abuse of bookings and tickets (SPEC §6) ---------------------

fn book_for(run: &mut Run, phone: &str, slot: SlotAt, code: &str) -> Result<(), DispatchError> {
    run.try_(Command::Book {
        item: code_of('A'),
        slot,
        phone: Phone::new(phone).unwrap(),
        channel: Channel::Online,
        code: code.into(),
    })
    .map(|_| ())
}

fn code_of(c: char) -> ItemCode {
    code(c)
}

/// The attack: one phone booked a slot's whole capacity (4 of 4). With the
/// limit at 2 a day, the third booking of that phone for the day is refused,
/// other phones still book, and a cancellation gives the phone its place back.
#[test]
fn one_phone_cannot_take_a_days_slots() {
    let mut run = hall();
    run.hall.set_phone_limits(PhoneLimits {
        bookings_per_day: 2,
        active_tickets_per_item: 1,
    });
    book_for(&mut run, "13800138000", at(MON, "10:00"), "AAAAA2").unwrap();
    book_for(&mut run, "13800138000", at(MON, "10:30"), "AAAAA3").unwrap();
    let third = book_for(&mut run, "13800138000", at(MON, "10:00"), "AAAAA4").unwrap_err();
    assert_eq!(third.code(), "phone_booking_limit");
    // Another day, another phone: fine.
    book_for(&mut run, "13800138000", at(TUE, "10:00"), "AAAAA5").unwrap();
    book_for(&mut run, "13900139000", at(MON, "10:00"), "AAAAA6").unwrap();
    run.ok(Command::CancelBooking {
        code: "AAAAA2".into(),
        by_hall: false,
        phone_tail: Some("8000".into()),
    });
    book_for(&mut run, "13800138000", at(MON, "11:00"), "AAAAA7").unwrap();
    run.assert_replays();
}

/// A code the daemon drew twice is refused (the daemon draws again), never
/// given to a second booking.
#[test]
fn a_taken_code_is_refused() {
    let mut run = hall();
    book_for(&mut run, "13800138000", at(MON, "10:00"), "K7M2QX").unwrap();
    let again = book_for(&mut run, "13900139000", at(MON, "10:00"), "K7M2QX").unwrap_err();
    assert_eq!(again.code(), "booking_code_taken");
}

/// The attack: a kiosk cancelled every booking knowing only the codes.
/// With the phone's last four digits as proof, a wrong tail and an unknown
/// code are refused alike and change nothing; the right tail cancels.
#[test]
fn cancelling_needs_the_phones_last_digits() {
    let mut run = hall();
    book_for(&mut run, "13800138000", at(MON, "10:00"), "K7M2QX").unwrap();
    for (code, tail) in [("K7M2QX", "0000"), ("K7M2QX", "800"), ("ZZZZZZ", "8000")] {
        let e = run.err(Command::CancelBooking {
            code: code.into(),
            by_hall: false,
            phone_tail: Some(tail.into()),
        });
        assert_eq!(e.code(), "booking_proof_mismatch", "{code} {tail}");
    }
    assert_eq!(run.state("K7M2QX"), AppointmentState::Booked);
    run.ok(Command::CancelBooking {
        code: "k7m2qx".into(),
        by_hall: false,
        phone_tail: Some("8000".into()),
    });
    assert_eq!(run.state("K7M2QX"), AppointmentState::CancelledByVisitor);
    run.assert_replays();
}

/// The attack: one phone holds many places in a line. At most one active
/// ticket per phone and item: a second is refused, another item or phone is
/// fine, and once the first is served the phone may take another.
#[test]
fn one_phone_holds_one_active_ticket_per_item() {
    let mut run = Run::basic();
    run.hall.set_phone_limits(PhoneLimits {
        bookings_per_day: 2,
        active_tickets_per_item: 1,
    });
    let issue = |c: char, phone: &str| Command::Issue {
        item: code(c),
        lane: Lane::WalkIn,
        phone: Some(Phone::new(phone).unwrap()),
    };
    run.ok(issue('A', "13800138000"));
    assert_eq!(
        run.err(issue('A', "13800138000")).code(),
        "phone_ticket_limit"
    );
    run.ok(issue('B', "13800138000"));
    run.ok(issue('A', "13900139000"));
    // Without a phone nothing is limited.
    run.ok(Command::Issue {
        item: code('A'),
        lane: Lane::WalkIn,
        phone: None,
    });
    run.ok(Command::OpenWindow { window: w(1) });
    run.ok(Command::CallNext { window: w(1) });
    // Called is still active.
    assert_eq!(
        run.err(issue('A', "13800138000")).code(),
        "phone_ticket_limit"
    );
    run.ok(Command::Start { window: w(1) });
    run.ok(Command::Finish {
        window: w(1),
        rating: None,
    });
    run.ok(issue('A', "13800138000"));
    run.assert_replays();
}

/// Codes from random bits: six characters of the alphabet (no 0/O, 1/I/L),
/// and the few values that would bias the distribution are drawn again.
#[test]
fn random_codes_are_short_and_typeable() {
    for x in [0u64, 1, 887_503_680, 887_503_681, u64::MAX / 3] {
        let c = appointment::random_code(x).unwrap();
        assert_eq!(c.len(), appointment::CODE_LEN);
        assert!(c.chars().all(|ch| !"0O1IL".contains(ch)), "{c}");
    }
    assert_eq!(appointment::random_code(u64::MAX), None);
    assert_ne!(
        appointment::random_code(5).unwrap(),
        appointment::random_code(6).unwrap()
    );
}

/// A reconfiguration rebuilds the hall: the phone limits and the index of
/// tickets by phone come along, so a reload is no way around them.
#[test]
fn phone_limits_survive_a_reconfiguration() {
    let mut run = Run::basic();
    run.hall.set_phone_limits(PhoneLimits {
        bookings_per_day: 2,
        active_tickets_per_item: 1,
    });
    let issue = || Command::Issue {
        item: code('A'),
        lane: Lane::WalkIn,
        phone: Some(Phone::new("13800138000").unwrap()),
    };
    run.ok(issue());
    let mut spec = run.hall.spec().clone();
    spec.reinstate_places += 1;
    run.ok(Command::Reconfigure { spec });
    assert_eq!(run.err(issue()).code(), "phone_ticket_limit");
}

/// Issue 19, decided: a no-show made at window 1 may be reinstated at
/// window 2 (it serves A too), not at window 3 (C only).
#[test]
fn any_window_of_the_item_reinstates_a_no_show() {
    let mut run = Run::basic();
    let a = run.walk_in('A');
    run.ok(Command::OpenWindow { window: w(1) });
    run.ok(Command::CallNext { window: w(1) });
    run.ok(Command::NoShow { window: w(1) });
    assert_eq!(
        run.hall.check_reinstate_at(w(3), a),
        Err(DispatchError::NotServedHere {
            window: w(3),
            item: code('A')
        })
    );
    assert_eq!(run.hall.check_reinstate_at(w(2), a), Ok(()));
    run.ok(Command::Reinstate { ticket: a });
}
