//! Issue 19, item 5: a hostile kiosk against the day's bookings, over real
//! QUIC. Each test is the attack the red team ran, now refused:
//! predictable codes (every fresh daemon used to hand out 5PEG7Y first),
//! a kiosk listing every visitor's code, cancelling with the code alone,
//! one phone taking a slot's whole capacity, one phone holding many places
//! in a line.

use hallq_core::HallDay;
use hallq_proto::appointment::{AppointmentState, Channel, SlotAt};
use hallq_proto::types::{Lane, Timestamp};
use hallq_proto::wire::{Request, Response};
use hallq_tests::{expect_refused, item, Daemon, TestHall, ADMIN, KIOSK};

const PHONE: &str = "13800138000";
const OTHER: &str = "13900139000";
const HALF_HOUR_MS: u64 = 30 * 60 * 1000;

/// A slot a day ahead, at a half-hour boundary inside the default hours
/// whatever the time of the run: the daemon's clock is left alone and the
/// slot is tomorrow's 10:00 (or later day's) in the hall's zone.
fn tomorrow(minute: u16) -> SlotAt {
    #[allow(clippy::disallowed_methods)] // the test's own clock
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // Two days on, so the slot is never today's, whatever the hour.
    let later = HallDay::default().slot_at(Timestamp(ms + 48 * 2 * HALF_HOUR_MS));
    SlotAt {
        day: later.day,
        minute,
    }
}

async fn book(daemon: &Daemon, token: &str, phone: &str, slot: SlotAt) -> Result<String, String> {
    let client = daemon.connect(token).await;
    match client
        .request(&Request::Book {
            item: item('A'),
            slot,
            phone: phone.into(),
            channel: Channel::Online,
        })
        .await
    {
        Ok(Response::Booked(b)) => Ok(b.code),
        Ok(other) => panic!("expected a booking, got {other:?}"),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// Two fresh daemons used to give the same first code (a formula of the
/// booking's number). Now the codes are drawn from a CSPRNG: six
/// characters without 0/O/1/I/L, different on every fresh hall.
#[tokio::test]
async fn booking_codes_are_not_predictable() {
    let mut firsts = Vec::new();
    for _ in 0..3 {
        let hall = TestHall::new().expect("test hall");
        let daemon = hall.start().expect("hallqd starts");
        let code = book(&daemon, KIOSK, PHONE, tomorrow(10 * 60))
            .await
            .expect("books");
        assert_eq!(code.len(), 6, "{code}");
        assert!(
            code.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
            "{code}"
        );
        assert!(!code.chars().any(|c| "0O1IL".contains(c)), "{code}");
        assert_ne!(code, "5PEG7Y", "the old formula's first code");
        firsts.push(code);
    }
    firsts.sort();
    firsts.dedup();
    assert_eq!(
        firsts.len(),
        3,
        "three fresh halls, three codes: {firsts:?}"
    );
}

/// A kiosk lists the day's slots and counts but no visitor's code or phone
/// digits; an admin sees them. A kiosk cancels only with the phone's last
/// four digits: without them, or with wrong ones, nothing changes.
#[tokio::test]
async fn a_kiosk_cannot_see_or_cancel_other_visitors_bookings() {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let slot = tomorrow(10 * 60);
    let code = book(&daemon, KIOSK, PHONE, slot).await.expect("books");
    let kiosk = daemon.connect(KIOSK).await;
    let admin = daemon.connect(ADMIN).await;

    let listed = |r: Response| match r {
        Response::Bookings(d) => d,
        other => panic!("expected bookings, got {other:?}"),
    };
    let seen = listed(
        kiosk
            .request(&Request::Bookings {
                day: Some(slot.day),
            })
            .await
            .expect("kiosk lists"),
    );
    assert_eq!(seen.bookings.len(), 1);
    assert_ne!(seen.bookings[0].code, code);
    assert!(!seen.bookings[0].code.chars().any(|c| c.is_alphanumeric()));
    assert!(
        !seen.bookings[0].phone.contains("8000"),
        "{:?}",
        seen.bookings[0].phone
    );
    let a_slot = seen
        .slots
        .iter()
        .find(|s| s.item == item('A') && s.slot == slot)
        .expect("slot listed");
    assert_eq!(a_slot.booked, 1, "counts are still shown");
    let full = listed(
        admin
            .request(&Request::Bookings {
                day: Some(slot.day),
            })
            .await
            .expect("admin lists"),
    );
    assert_eq!(full.bookings[0].code, code, "an admin sees the codes");
    assert_eq!(full.bookings[0].phone, "138****8000");

    // The attack: cancel by code alone.
    expect_refused(
        kiosk
            .request(&Request::CancelBooking {
                code: code.clone(),
                by_hall: false,
            })
            .await,
        "booking_proof_required",
    );
    expect_refused(
        kiosk
            .request(&Request::CancelBookingWithPhone {
                code: code.clone(),
                phone_last4: "1234".into(),
            })
            .await,
        "booking_proof_mismatch",
    );
    // An unknown code answers the same as a wrong phone.
    expect_refused(
        kiosk
            .request(&Request::CancelBookingWithPhone {
                code: "ZZZZZZ".into(),
                phone_last4: "8000".into(),
            })
            .await,
        "booking_proof_mismatch",
    );
    let still = listed(
        admin
            .request(&Request::Bookings {
                day: Some(slot.day),
            })
            .await
            .unwrap(),
    );
    assert_eq!(still.bookings[0].state, AppointmentState::Booked);
    match kiosk
        .request(&Request::CancelBookingWithPhone {
            code: code.to_lowercase(),
            phone_last4: "8000".into(),
        })
        .await
        .expect("the visitor cancels")
    {
        Response::BookingCancelled(b) => {
            assert_eq!(b.state, AppointmentState::CancelledByVisitor)
        }
        other => panic!("{other:?}"),
    }
    // An admin still cancels with the code alone (the help desk's manager).
    let second = book(&daemon, KIOSK, OTHER, slot).await.expect("books");
    admin
        .request(&Request::CancelBooking {
            code: second,
            by_hall: false,
        })
        .await
        .expect("admin cancels");
}

/// The attack: one phone booked a slot's whole capacity (4 of 4). With the
/// default `bookings_per_phone_per_day = 2`, its third booking of the day
/// is refused while another phone still books.
#[tokio::test]
async fn one_phone_cannot_book_a_whole_slot() {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let slot = tomorrow(10 * 60);
    book(&daemon, KIOSK, PHONE, slot).await.expect("first");
    book(&daemon, KIOSK, PHONE, slot).await.expect("second");
    let third = book(&daemon, KIOSK, PHONE, slot).await.unwrap_err();
    assert!(third.contains("PhoneBookingLimit"), "{third}");
    let later = book(&daemon, KIOSK, PHONE, tomorrow(11 * 60))
        .await
        .unwrap_err();
    assert!(later.contains("PhoneBookingLimit"), "{later}");
    book(&daemon, KIOSK, OTHER, slot)
        .await
        .expect("another phone");
}

/// The attack: one phone holds many places in one line. At most one active
/// ticket per phone and item (default); another item, or no phone, is fine.
#[tokio::test]
async fn one_phone_holds_one_place_per_line() {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let kiosk = daemon.connect(KIOSK).await;
    kiosk
        .issue(item('A'), Lane::WalkIn, Some(PHONE.into()))
        .await
        .expect("first ticket");
    expect_refused(
        kiosk
            .issue(item('A'), Lane::WalkIn, Some(PHONE.into()))
            .await,
        "phone_ticket_limit",
    );
    kiosk
        .issue(item('B'), Lane::WalkIn, Some(PHONE.into()))
        .await
        .expect("another item");
    kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("no phone");
}
