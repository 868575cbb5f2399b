//! `hallq` and appointments: the commands (`book`, `bookings`,
//! `cancel-booking`, `check-in`, `slots …`) and how their answers print,
//! as text and as `--json`.

use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};

use hallq_proto::appointment::{
    day_string, minute_string, parse_day, parse_minute, AppointmentView, Channel, DayAppointments,
    SlotAt, SlotChange,
};
use hallq_proto::types::ItemCode;
use hallq_proto::wire::{Request, Response};

use hallq_client::text::{self, Lang};

use super::table::Table;

/// `--channel`: how the booking was made (seed 000 §四(七)1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChannelArg {
    /// 现场预约: at the help desk.
    Onsite,
    /// 电话预约: by phone.
    Phone,
    /// 网上预约: online.
    Online,
}

impl From<ChannelArg> for Channel {
    fn from(c: ChannelArg) -> Channel {
        match c {
            ChannelArg::Onsite => Channel::Onsite,
            ChannelArg::Phone => Channel::Phone,
            ChannelArg::Online => Channel::Online,
        }
    }
}

/// `hallq slots …`: change one day's appointment slots (admin).
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum SlotsCommand {
    /// Add a slot (e.g. extended hours on a Saturday), or set its capacity.
    Add {
        /// The day, 2026-11-23.
        #[arg(long, value_parser = parse_date)]
        date: u32,
        /// The item's letter.
        #[arg(long)]
        item: ItemCode,
        /// The slot's start, 09:30.
        #[arg(long, value_parser = parse_time)]
        time: u16,
        /// Bookings it takes.
        #[arg(long)]
        capacity: u32,
    },
    /// Cut (or raise) one slot's capacity; 0 takes no more bookings.
    Capacity {
        /// The day, 2026-11-23.
        #[arg(long, value_parser = parse_date)]
        date: u32,
        /// The item's letter.
        #[arg(long)]
        item: ItemCode,
        /// The slot's start, 09:30.
        #[arg(long, value_parser = parse_time)]
        time: u16,
        /// The new capacity.
        #[arg(long)]
        capacity: u32,
    },
    /// Take no bookings on a day (existing ones stay: cancel them).
    CloseDay {
        /// The day, 2026-11-23.
        #[arg(long, value_parser = parse_date)]
        date: u32,
    },
    /// Take bookings on a closed day again.
    OpenDay {
        /// The day, 2026-11-23.
        #[arg(long, value_parser = parse_date)]
        date: u32,
    },
}

impl SlotsCommand {
    /// The request.
    pub fn request(&self) -> Request {
        let (day, change) = match *self {
            SlotsCommand::Add {
                date,
                item,
                time,
                capacity,
            } => (
                date,
                SlotChange::Add {
                    item,
                    minute: time,
                    capacity,
                },
            ),
            SlotsCommand::Capacity {
                date,
                item,
                time,
                capacity,
            } => (
                date,
                SlotChange::Capacity {
                    item,
                    minute: time,
                    capacity,
                },
            ),
            SlotsCommand::CloseDay { date } => (date, SlotChange::CloseDay),
            SlotsCommand::OpenDay { date } => (date, SlotChange::OpenDay),
        };
        Request::AdjustSlots { day, change }
    }
}

/// `--slot 2026-11-23T09:30`.
pub fn parse_slot(s: &str) -> Result<SlotAt, String> {
    s.parse::<SlotAt>().map_err(|e| e.0)
}

/// `--date 2026-11-23`.
pub fn parse_date(s: &str) -> Result<u32, String> {
    parse_day(s).map_err(|e| e.0)
}

fn parse_time(s: &str) -> Result<u16, String> {
    match parse_minute(s) {
        Ok(m) if m < 1440 => Ok(m),
        _ => Err(format!("a time looks like 09:30 (00:00-23:59), got {s:?}")),
    }
}

fn local(s: SlotAt) -> String {
    format!("{} {}", day_string(s.day), minute_string(s.minute))
}

/// Text for the appointment answers in `lang`; `None` for other answers.
pub fn human_in(r: &Response, lang: Lang) -> Option<String> {
    let zh = lang == Lang::Zh;
    Some(match r {
        Response::Booked(b) if zh => format!(
            "预约码 {}（事项 {}，{}，{} 分钟，{}）\n请于 {} 至 {} 在取号机签到；手机 {}",
            b.code,
            b.item,
            local(b.slot),
            b.slot_minutes,
            text::channel(b.channel, lang),
            local(b.check_in_from),
            local(b.check_in_until),
            b.phone
        ),
        Response::Booked(b) => format!(
            "Booking {}  (item {}, {}, {} min, {})\nCheck in at a kiosk from {} until {}; phone {}",
            b.code,
            b.item,
            local(b.slot),
            b.slot_minutes,
            text::channel(b.channel, lang),
            local(b.check_in_from),
            local(b.check_in_until),
            b.phone
        ),
        Response::BookingCancelled(b) if zh => format!(
            "预约 {}（{}，事项 {}）{}",
            b.code,
            local(b.slot),
            b.item,
            text::booking_state(b.state, lang)
        ),
        Response::BookingCancelled(b) => format!(
            "Booking {} ({}, item {}) is {}",
            b.code,
            local(b.slot),
            b.item,
            text::booking_state(b.state, lang)
        ),
        Response::Bookings(d) => day_bookings(d, lang),
        _ => return None,
    })
}

fn day_bookings(d: &DayAppointments, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut out = if zh {
        format!("{} 的预约", day_string(d.day))
    } else {
        format!("Appointments on {}", day_string(d.day))
    };
    if d.closed {
        out.push_str(lang.pick("（当天已停止预约）", " — closed for bookings"));
    }
    let mut slots = Table::new(&if zh {
        ["事项", "时段", "已约", "容量", ""]
    } else {
        ["ITEM", "SLOT", "BOOKED", "CAPACITY", ""]
    });
    for s in &d.slots {
        slots.row(vec![
            s.item.to_string(),
            minute_string(s.slot.minute),
            s.booked.to_string(),
            s.capacity.to_string(),
            if s.extended {
                lang.pick("延时服务", "extended hours")
            } else {
                ""
            }
            .into(),
        ]);
    }
    if d.slots.is_empty() {
        out.push_str(lang.pick("\n没有预约时段。", "\nNo slots."));
    } else {
        out.push('\n');
        out.push_str(&slots.render());
    }
    if d.bookings.is_empty() {
        out.push_str(lang.pick("\n没有预约。", "\nNo bookings."));
    } else {
        let mut t = Table::new(&if zh {
            ["预约码", "事项", "时段", "渠道", "手机", "状态"]
        } else {
            ["CODE", "ITEM", "SLOT", "CHANNEL", "PHONE", "STATE"]
        });
        for b in &d.bookings {
            t.row(vec![
                b.code.clone(),
                b.item.to_string(),
                minute_string(b.slot.minute),
                text::channel(b.channel, lang).to_owned(),
                b.phone.clone(),
                text::booking_state(b.state, lang),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    out
}

fn booking_json(b: &AppointmentView) -> Value {
    let (state, ticket) = match b.state {
        hallq_proto::appointment::AppointmentState::Booked => ("booked", None),
        hallq_proto::appointment::AppointmentState::CheckedIn(t) => {
            ("checked_in", Some(t.to_string()))
        }
        hallq_proto::appointment::AppointmentState::CancelledByVisitor => {
            ("cancelled_by_visitor", None)
        }
        hallq_proto::appointment::AppointmentState::CancelledByHall => ("cancelled_by_hall", None),
        hallq_proto::appointment::AppointmentState::Forfeited => ("forfeited", None),
    };
    json!({
        "code": b.code,
        "item": b.item.to_string(),
        "slot": b.slot.to_string(),
        "slot_minutes": b.slot_minutes,
        "channel": b.channel.as_str(),
        "phone": b.phone,
        "state": state,
        "ticket": ticket,
        "booked_at": b.booked_at.0,
        "check_in_from": b.check_in_from.to_string(),
        "check_in_until": b.check_in_until.to_string(),
    })
}

/// `--json` for the appointment answers; `None` for other answers.
pub fn json(r: &Response) -> Option<Value> {
    Some(match r {
        Response::Booked(b) => json!({ "booked": booking_json(b) }),
        Response::BookingCancelled(b) => json!({ "cancelled": booking_json(b) }),
        Response::Bookings(d) => json!({
            "day": day_string(d.day),
            "closed": d.closed,
            "slots": d.slots.iter().map(|s| json!({
                "item": s.item.to_string(),
                "slot": s.slot.to_string(),
                "capacity": s.capacity,
                "booked": s.booked,
                "extended": s.extended,
            })).collect::<Vec<_>>(),
            "bookings": d.bookings.iter().map(booking_json).collect::<Vec<_>>(),
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_proto::appointment::AppointmentState;
    use hallq_proto::types::Timestamp;

    #[test]
    fn a_booking_prints_its_code_and_check_in_times() {
        let slot = SlotAt {
            day: 20261123,
            minute: 570,
        };
        let b = AppointmentView {
            code: "K7M2QX".into(),
            item: ItemCode::new('A').unwrap(),
            slot,
            slot_minutes: 30,
            channel: Channel::Phone,
            phone: "138****8000".into(),
            state: AppointmentState::Booked,
            booked_at: Timestamp(0),
            check_in_from: SlotAt {
                minute: 540,
                ..slot
            },
            check_in_until: SlotAt {
                minute: 600,
                ..slot
            },
        };
        let text = human_in(&Response::Booked(b.clone()), Lang::En).unwrap();
        assert!(
            text.starts_with("Booking K7M2QX  (item A, 2026-11-23 09:30"),
            "{text}"
        );
        assert!(
            text.contains("from 2026-11-23 09:00 until 2026-11-23 10:00"),
            "{text}"
        );
        let zh = human_in(&Response::Booked(b.clone()), Lang::Zh).unwrap();
        assert!(
            zh.starts_with("预约码 K7M2QX（事项 A，2026-11-23 09:30，30 分钟，电话预约）"),
            "{zh}"
        );
        assert!(
            zh.contains("请于 2026-11-23 09:00 至 2026-11-23 10:00 在取号机签到"),
            "{zh}"
        );
        let day = DayAppointments {
            day: 20261123,
            closed: true,
            slots: vec![],
            bookings: vec![AppointmentView {
                state: AppointmentState::CheckedIn("A003".parse().unwrap()),
                ..b.clone()
            }],
        };
        let zh = human_in(&Response::Bookings(day.clone()), Lang::Zh).unwrap();
        assert!(
            zh.contains("当天已停止预约") && zh.contains("已签到，号码 A003"),
            "{zh}"
        );
        assert!(zh.contains("没有预约时段"), "{zh}");
        let en = human_in(&Response::Bookings(day), Lang::En).unwrap();
        assert!(
            en.contains("checked in as A003") && en.contains("No slots."),
            "{en}"
        );
        let v = json(&Response::Booked(b)).unwrap();
        assert_eq!(v["booked"]["code"], "K7M2QX");
        assert_eq!(v["booked"]["slot"], "2026-11-23T09:30");
    }
}
