//! Appointments over real QUIC (SPEC §2 items 9–10): a kiosk books a slot
//! and gets a code, the visitor checks in and their appointment-lane ticket
//! is called before a walk-in who came earlier, the SMS gateway gets the
//! confirmation; and a booking checked in more than 30 minutes after its
//! start is forfeited — refused at the kiosk, recorded across a restart,
//! the visitor told.
//!
//! The daemon's clock is shifted (`TestHall::start_shifted`) so the tests
//! sit at a known place in the hall's day whatever the time they run at.

use hallq_core::HallDay;
use hallq_proto::appointment::{AppointmentState, Channel, SlotAt};
use hallq_proto::types::{Lane, Timestamp};
use hallq_proto::wire::{NotificationKind, Request, Response, WindowAction};
use hallq_tests::{
    expect_refused, item, notifications_until, window_token, TestHall, ADMIN, KIOSK, NOTIFIER,
};

const PHONE: &str = "13800138000";
const HALF_HOUR_MS: u64 = 30 * 60 * 1000;

fn real_now() -> Timestamp {
    #[allow(clippy::disallowed_methods)] // the test's own clock, to shift the daemon's
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    Timestamp(ms)
}

/// A half-hour boundary a day from now (so the journal's day moves
/// forward) and the clock offset that puts the daemon `minutes_after` it.
fn boundary_and_offset(minutes_after: u64) -> (Timestamp, i64) {
    let now = real_now();
    let boundary = Timestamp((now.0 / HALF_HOUR_MS + 48) * HALF_HOUR_MS);
    let target = boundary.0 + minutes_after * 60_000;
    (boundary, (target as i64 - now.0 as i64) / 1000)
}

fn slot_at(t: Timestamp) -> SlotAt {
    HallDay::default().slot_at(t)
}

#[tokio::test]
async fn book_check_in_and_call_first() {
    let hall = TestHall::new().expect("test hall");
    let (boundary, offset) = boundary_and_offset(10);
    let daemon = hall.start_shifted(offset).expect("hallqd starts");
    let kiosk = daemon.connect(KIOSK).await;
    let gateway = daemon.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.expect("notifier subscribes");
    let slot = slot_at(Timestamp(boundary.0 + HALF_HOUR_MS));

    let booked = match kiosk
        .request(&Request::Book {
            item: item('A'),
            slot,
            phone: PHONE.into(),
            channel: Channel::Phone,
        })
        .await
        .expect("the kiosk books")
    {
        Response::Booked(b) => b,
        other => panic!("expected a booking, got {other:?}"),
    };
    assert_eq!(booked.code.len(), 6);
    assert_eq!(booked.slot, slot);
    assert_eq!(booked.phone, "138****8000", "masked");
    assert_eq!(booked.state, AppointmentState::Booked);

    // Item B takes no appointments in the test hall.
    expect_refused(
        kiosk
            .request(&Request::Book {
                item: item('B'),
                slot,
                phone: PHONE.into(),
                channel: Channel::Online,
            })
            .await,
        "not_bookable",
    );

    let listed = match kiosk
        .request(&Request::Bookings {
            day: Some(slot.day),
        })
        .await
        .expect("bookings")
    {
        Response::Bookings(d) => d,
        other => panic!("expected bookings, got {other:?}"),
    };
    assert_eq!(listed.bookings.len(), 1);
    let a_slot = listed
        .slots
        .iter()
        .find(|s| s.item == item('A') && s.slot == slot)
        .expect("the slot is listed");
    assert_eq!((a_slot.booked, a_slot.capacity), (1, 4));

    // A walk-in first, then the booked visitor checks in (20 minutes early,
    // within the 30 allowed): the appointment is called first.
    let walk_in = kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("walk-in");
    let ticket = match kiosk
        .request(&Request::CheckIn {
            code: booked.code.to_lowercase(),
        })
        .await
        .expect("check-in")
    {
        Response::Issued(t) => t,
        other => panic!("expected a ticket, got {other:?}"),
    };
    assert_eq!(ticket.lane, Lane::Appointment);
    assert_eq!(ticket.position, 0);
    let again = expect_refused(
        kiosk
            .request(&Request::CheckIn {
                code: booked.code.clone(),
            })
            .await,
        "booking_not_active",
    );
    assert!(again.contains("checked in"), "{again}");

    let window2 = daemon.connect(&window_token(2)).await;
    window2
        .window(None, WindowAction::Open)
        .await
        .expect("window 2 opens");
    match window2
        .window(None, WindowAction::Call { ticket: None })
        .await
        .expect("window 2 calls")
    {
        Response::Window { ticket: t, .. } => assert_eq!(t, Some(ticket.ticket)),
        other => panic!("{other:?}"),
    }
    assert_ne!(walk_in.ticket, ticket.ticket);

    let seen = notifications_until(&mut outbox, |n| {
        n.iter().any(|n| n.kind == NotificationKind::Called)
    })
    .await;
    let confirmed = seen
        .iter()
        .find(|n| n.kind == NotificationKind::BookingConfirmed)
        .expect("a confirmation SMS");
    assert_eq!(confirmed.booking.as_deref(), Some(booked.code.as_str()));
    assert_eq!(confirmed.ticket, None);
    assert_eq!(confirmed.phone, PHONE);
    assert!(confirmed.text.contains(&booked.code), "{}", confirmed.text);
    assert!(confirmed.text.contains("社保"), "{}", confirmed.text);
}

#[tokio::test]
async fn a_late_check_in_forfeits_the_booking() {
    let hall = TestHall::new().expect("test hall");
    let (boundary, offset) = boundary_and_offset(10);
    let slot = slot_at(Timestamp(boundary.0 + HALF_HOUR_MS));
    let code = {
        let daemon = hall.start_shifted(offset).expect("hallqd starts");
        let kiosk = daemon.connect(KIOSK).await;
        match kiosk
            .request(&Request::Book {
                item: item('A'),
                slot,
                phone: PHONE.into(),
                channel: Channel::Onsite,
            })
            .await
            .expect("the kiosk books")
        {
            Response::Booked(b) => b.code,
            other => panic!("{other:?}"),
        }
    };
    // 51 minutes later: 31 minutes after the slot's start.
    let daemon = hall
        .start_shifted(offset + 51 * 60)
        .expect("hallqd starts again");
    let kiosk = daemon.connect(KIOSK).await;
    let message = expect_refused(
        kiosk
            .request(&Request::CheckIn { code: code.clone() })
            .await,
        "booking_forfeited",
    );
    assert!(message.contains("forfeited"), "{message}");
    assert!(message.contains("too late"), "{message}");
    // Recorded: listed as forfeited, and a second try is refused as such.
    let admin = daemon.connect(ADMIN).await;
    match admin
        .request(&Request::Bookings {
            day: Some(slot.day),
        })
        .await
        .expect("bookings")
    {
        Response::Bookings(d) => {
            assert_eq!(d.bookings[0].code, code);
            assert_eq!(d.bookings[0].state, AppointmentState::Forfeited);
        }
        other => panic!("{other:?}"),
    }
    // (However it got forfeited — a late check-in or the daemon's timer —
    // the kiosk says the same.)
    let again = expect_refused(
        kiosk
            .request(&Request::CheckIn { code: code.clone() })
            .await,
        "booking_forfeited",
    );
    assert!(again.contains("forfeited"), "{again}");
    // The visitor is told.
    let gateway = daemon.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.expect("notifier subscribes");
    let seen = notifications_until(&mut outbox, |n| {
        n.iter()
            .any(|n| n.kind == NotificationKind::BookingForfeited)
    })
    .await;
    assert!(seen
        .iter()
        .any(|n| n.kind == NotificationKind::BookingConfirmed));
    // A kiosk may not cancel on the hall's behalf.
    expect_refused(
        kiosk
            .request(&Request::CancelBooking {
                code,
                by_hall: true,
            })
            .await,
        "forbidden",
    );
}
