//! The booking messages of the outbox (SPEC §2 item 9 SMS confirmation,
//! §四(七)7 the hall's cancellation, §四(七)8 the forfeit): which event says
//! what, in Chinese by default.

use hallq_client::booking::{minute_string, BookingView};
use hallq_client::proto::NotificationKind;
use hallq_client::types::Phone;

use crate::dispatch::{Event, Hall};

/// Booking message texts; `{code}`, `{item}` (the item's name), `{slot}`
/// ("2026-11-23 09:30"), `{from}` and `{until}` (check-in times) are filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingTemplates {
    /// A booking was made.
    pub confirmed: String,
    /// The visitor cancelled.
    pub cancelled: String,
    /// The hall cancelled (§四(七)7).
    pub cancelled_by_hall: String,
    /// Not checked in within 30 minutes of the start (§四(七)8).
    pub forfeited: String,
}

impl Default for BookingTemplates {
    fn default() -> Self {
        BookingTemplates {
            confirmed: "您已预约{slot}办理{item}，预约码{code}。请于{from}至{until}在大厅取号机凭预约码签到取号，超过预约时间30分钟未签到视为放弃预约。".into(),
            cancelled: "您{slot}办理{item}的预约（预约码{code}）已取消。".into(),
            cancelled_by_hall: "很抱歉，因特殊情况，您{slot}办理{item}的预约（预约码{code}）已被取消，请重新预约，给您带来不便敬请谅解。".into(),
            forfeited: "您{slot}办理{item}的预约（预约码{code}）超过预约时间30分钟未签到，已视为放弃预约。".into(),
        }
    }
}

/// The message `event` causes, read from `hall` right after it was
/// applied: (kind, booking code, phone, text). `None` for other events.
pub fn message(
    templates: &BookingTemplates,
    event: &Event,
    hall: &Hall,
) -> Option<(NotificationKind, String, Phone, String)> {
    let (kind, code, template) = match event {
        Event::Booked { booking, .. } => (
            NotificationKind::BookingConfirmed,
            &booking.code,
            &templates.confirmed,
        ),
        Event::BookingCancelled { code, by_hall, .. } => (
            NotificationKind::BookingCancelled,
            code,
            if *by_hall {
                &templates.cancelled_by_hall
            } else {
                &templates.cancelled
            },
        ),
        Event::BookingForfeited { code, .. } => (
            NotificationKind::BookingForfeited,
            code,
            &templates.forfeited,
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

fn fill(template: &str, b: &BookingView, item: &str) -> String {
    let at = |s: hallq_client::booking::SlotAt| {
        if s.day == b.slot.day {
            minute_string(s.minute)
        } else {
            s.to_string().replace('T', " ")
        }
    };
    template
        .replace("{code}", &b.code)
        .replace("{item}", item)
        .replace("{slot}", &b.slot.to_string().replace('T', " "))
        .replace("{from}", &at(b.check_in_from))
        .replace("{until}", &at(b.check_in_until))
}
