//! The booking messages of the outbox (SPEC §2 item 9 SMS confirmation,
//! §四(七)7 the hall's cancellation, §四(七)8 the forfeit): which event says
//! what, in Chinese by default.

use hallq_proto::appointment::{minute_string, AppointmentView};
use hallq_proto::types::Phone;
use hallq_proto::wire::NotificationKind;

use crate::config::Templates;
use hallq_core::{Event, Hall};

/// The message `event` causes, read from `hall` right after it was
/// applied: (kind, booking code, phone, text). `None` for other events.
pub fn message(
    templates: &Templates,
    event: &Event,
    hall: &Hall,
) -> Option<(NotificationKind, String, Phone, String)> {
    let (kind, code, template) = match event {
        Event::Booked { booking, .. } => (
            NotificationKind::BookingConfirmed,
            &booking.code,
            &templates.booking_confirmed,
        ),
        Event::BookingCancelled { code, by_hall, .. } => (
            NotificationKind::BookingCancelled,
            code,
            if *by_hall {
                &templates.booking_cancelled_by_hall
            } else {
                &templates.booking_cancelled
            },
        ),
        Event::BookingForfeited { code, .. } => (
            NotificationKind::BookingForfeited,
            code,
            &templates.booking_forfeited,
        ),
        _ => return None,
    };
    let booking = hall.booking(code)?;
    let phone = hall.booking_phone(code)?.clone();
    let item = hall
        .spec()
        .items
        .iter()
        .find(|i| i.code == booking.item)
        .map_or_else(|| booking.item.to_string(), |i| i.name.clone());
    Some((kind, code.clone(), phone, fill(template, &booking, &item)))
}

fn fill(template: &str, b: &AppointmentView, item: &str) -> String {
    let at = |s: hallq_proto::appointment::SlotAt| {
        if s.day == b.slot.day {
            minute_string(s.minute)
        } else {
            s.to_string().replace('T', " ")
        }
    };
    template
        .replace("{code}", &b.code)
        .replace("{booking}", &b.code)
        .replace("{item}", item)
        .replace("{slot}", &b.slot.to_string().replace('T', " "))
        .replace("{from}", &at(b.check_in_from))
        .replace("{until}", &at(b.check_in_until))
}
