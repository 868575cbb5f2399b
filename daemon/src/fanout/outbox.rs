//! The notification outbox (SPEC §2 items 5–8): messages for visitors who
//! gave a phone number, kept until the SMS gateway acknowledges them.
//!
//! Notifications are derived from events as they are applied, numbered by a
//! per-hall counter: replaying the same events gives the same numbers, so a
//! notification keeps its id (`<hall>-<n>`) across restarts and a gateway
//! can deduplicate redeliveries by it. An acknowledgement is journaled too,
//! so an acknowledged notification stays gone after a restart.
//!
//! Issue 19 (SPEC §6, abuse): one phone gets at most
//! `sms_per_phone_per_hour` visitor messages in any hour (by the events'
//! own times, so a replay drops exactly what the live run dropped). A
//! message over the limit is dropped with its reason (`phone_rate`) and
//! counted (`hallq_sms_dropped_total`); it still takes its number, so the
//! numbers — and the ids gateways deduplicate by — do not depend on the
//! limit. "Go to window N now" (called) and work orders are never dropped:
//! they come from a window's action, not from a kiosk anyone can press.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use hallq_proto::console::{cut, FailedNotification, MAX_DETAIL_CHARS};
use hallq_proto::types::{Phone, Rating, StaffId, TicketId, TicketNo, Timestamp, WindowNo};
use hallq_proto::wire::{Notification, NotificationKind, WorkOrder};

use hallq_core::{Event, Hall, Issued};

use crate::config::Templates;

/// The outbox of one hall.
#[derive(Debug, Clone)]
pub struct Outbox {
    hall: String,
    /// The hall's name, for the managers' alerts.
    hall_name: String,
    templates: Templates,
    /// The number the next notification gets.
    next: u64,
    pending: BTreeMap<u64, Arc<Notification>>,
    failed: u64,
    last_failure: Option<String>,
    /// The latest failures (issue 21: the console lists them, an alert is
    /// raised), oldest first, at most [`FAILURES_KEPT`].
    failures: VecDeque<FailedNotification>,
    /// Visitor messages one phone may get per hour (0: no limit).
    sms_per_hour: u32,
    /// When each phone was last sent a limited message, oldest first,
    /// within the last hour (at most `sms_per_hour` each).
    sent: HashMap<String, VecDeque<Timestamp>>,
    /// Messages dropped by the per-phone limit since start (or replay).
    dropped: u64,
    /// The visitor page's links and public address (issue 18): the issue
    /// message carries the ticket's link when the hall has a `visitor_url`.
    visitor_link: Option<(Arc<super::link::VisitorLinks>, String)>,
}

/// The per-phone window of [`Outbox`]'s SMS limit.
const SMS_WINDOW_SECS: u64 = 3600;
pub use crate::config::DEFAULT_SMS_PER_PHONE_PER_HOUR;

impl Outbox {
    /// An empty outbox for `hall`.
    pub fn new(hall: &str, templates: Templates) -> Outbox {
        Outbox {
            hall: hall.to_owned(),
            hall_name: hall.to_owned(),
            templates,
            next: 0,
            pending: BTreeMap::new(),
            failed: 0,
            last_failure: None,
            failures: VecDeque::new(),
            sms_per_hour: DEFAULT_SMS_PER_PHONE_PER_HOUR,
            sent: HashMap::new(),
            dropped: 0,
            visitor_link: None,
        }
    }

    /// The hall's name for people, in the managers' alerts.
    pub fn set_hall_name(&mut self, name: &str) {
        self.hall_name = name.to_owned();
    }

    /// Issue messages from now on carry the ticket's visitor link under
    /// `url` (`None`: no link).
    pub fn set_visitor_link(&mut self, links: Arc<super::link::VisitorLinks>, url: Option<String>) {
        self.visitor_link = url.map(|url| (links, url));
    }

    /// Visitor messages per phone and hour from now on (0: no limit).
    pub fn set_sms_limit(&mut self, per_hour: u32) {
        self.sms_per_hour = per_hour;
    }

    /// Visitor messages per phone and hour in force.
    pub fn sms_limit(&self) -> u32 {
        self.sms_per_hour
    }

    /// Messages dropped by the per-phone limit so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether `phone` may get one more limited message at `at`; records it
    /// if so.
    fn within_limit(&mut self, phone: &str, kind: NotificationKind, at: Timestamp) -> bool {
        if self.sms_per_hour == 0
            || matches!(
                kind,
                NotificationKind::Called | NotificationKind::WorkOrder | NotificationKind::Alert
            )
        {
            return true;
        }
        // Bounded memory: phones quiet for an hour are forgotten once the
        // map grows (each entry holds at most `sms_per_hour` instants).
        if self.sent.len() > SMS_PHONES_KEPT {
            self.sent.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| at.secs_since(*t) < SMS_WINDOW_SECS)
            });
        }
        let times = self.sent.entry(phone.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| at.secs_since(*t) >= SMS_WINDOW_SECS)
        {
            times.pop_front();
        }
        if times.len() >= self.sms_per_hour as usize {
            self.dropped += 1;
            tracing::warn!(
                hall = %self.hall,
                phone = %mask(phone),
                kind = ?kind,
                reason = "phone_rate",
                "message dropped: this phone had {} in the last hour",
                times.len()
            );
            return false;
        }
        times.push_back(at);
        true
    }

    /// The texts in force.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Texts for notifications from now on (a reload); pending ones keep
    /// theirs.
    pub fn set_templates(&mut self, templates: Templates) {
        self.templates = templates;
    }

    /// Numbers `notification` (its id is set here) and makes it pending.
    fn push(&mut self, mut notification: Notification, out: &mut Vec<Arc<Notification>>) {
        let n = self.next;
        self.next += 1;
        if !self.within_limit(&notification.phone, notification.kind, notification.at) {
            return;
        }
        notification.id = format!("{}-{n}", self.hall);
        let notification = Arc::new(notification);
        self.pending.insert(n, notification.clone());
        out.push(notification);
    }

    /// The number the next notification will get: every notification below
    /// it has been created.
    pub fn next_number(&self) -> u64 {
        self.next
    }

    /// Pending notifications numbered below `upto`, oldest first.
    pub fn pending_below(&self, upto: u64) -> Vec<Arc<Notification>> {
        self.pending.range(..upto).map(|(_, n)| n.clone()).collect()
    }

    /// How many notifications wait for acknowledgement.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The notifications `events` cause, read from `hall` right after the
    /// events were applied. They are pending from now on.
    pub fn on_events(&mut self, events: &[Event], hall: &Hall) -> Vec<Arc<Notification>> {
        let mut out = Vec::new();
        for event in events {
            // Seed 000 §四(六)6: a rating of 1 or 2 raises one work order,
            // whether given at finishing or afterwards (a service is rated
            // once, so it raises at most one).
            let bad_rating = match event {
                Event::Finished {
                    ticket,
                    number,
                    window,
                    staff,
                    rating: Some(rating),
                    at,
                }
                | Event::Rated {
                    ticket,
                    number,
                    window,
                    staff,
                    rating,
                    at,
                } if rating.value() <= 2 => {
                    Some((*ticket, *number, *window, staff.as_ref(), *rating, *at))
                }
                _ => None,
            };
            if let Some((ticket, number, window, staff, rating, at)) = bad_rating {
                let order = self.work_order(hall, ticket, number, window, staff, rating, at);
                out.push(order);
                continue;
            }
            // Issue 21: an alert goes to each manager phone it names, and
            // once, with no phone, to the bridge's alerts webhook if asked.
            if let Event::AlertRaised {
                alert,
                notify,
                webhook,
                at,
            } = event
            {
                let text = self.alert_text(alert, hall);
                let mut phones: Vec<String> =
                    notify.iter().map(|p| p.expose().to_owned()).collect();
                if *webhook {
                    phones.push(String::new());
                }
                for phone in phones {
                    self.push(
                        Notification {
                            id: String::new(),
                            hall: self.hall.clone(),
                            kind: NotificationKind::Alert,
                            ticket: alert.ticket,
                            phone,
                            text: text.clone(),
                            position: None,
                            window: alert.window,
                            at: *at,
                            booking: Some(alert.id.clone()),
                            work_order: None,
                        },
                        &mut out,
                    );
                }
                continue;
            }
            if let Some((kind, code, phone, text)) =
                super::appointments::message(&self.templates, event, hall)
            {
                self.push(
                    Notification {
                        id: String::new(),
                        hall: self.hall.clone(),
                        kind,
                        ticket: None,
                        phone: phone.expose().to_owned(),
                        text,
                        position: None,
                        window: None,
                        at: event.at(),
                        booking: Some(code),
                        work_order: None,
                    },
                    &mut out,
                );
                continue;
            }
            let (kind, ticket, phone, position, window, text) = match event {
                Event::Issued { issued, .. } => match &issued.phone {
                    Some(phone) => (
                        NotificationKind::Issued,
                        issued.number,
                        phone.clone(),
                        Some(issued.position),
                        None,
                        self.issued_text(issued, hall.day()),
                    ),
                    None => continue,
                },
                // The number left after a failed print: confirmed by SMS,
                // as §7.3.4's message confirms a ticket issued with one.
                Event::PhoneAttached {
                    number,
                    phone,
                    position,
                    approaching,
                    ..
                } => (
                    NotificationKind::Issued,
                    *number,
                    phone.clone(),
                    Some(*position),
                    None,
                    fill(
                        if *approaching {
                            &self.templates.phone_attached_approaching
                        } else {
                            &self.templates.phone_attached
                        },
                        *number,
                        Some(*position),
                        "",
                        None,
                        "",
                    ),
                ),
                Event::Approaching {
                    ticket,
                    number,
                    position,
                    ..
                } => match phone(hall, *ticket) {
                    Some(phone) => (
                        NotificationKind::Approaching,
                        *number,
                        phone,
                        Some(*position),
                        None,
                        fill(
                            &self.templates.approaching,
                            *number,
                            Some(*position),
                            "",
                            None,
                            "",
                        ),
                    ),
                    None => continue,
                },
                Event::Called {
                    ticket,
                    number,
                    window,
                    ..
                } => match phone(hall, *ticket) {
                    Some(phone) => (
                        NotificationKind::Called,
                        *number,
                        phone,
                        None,
                        Some(*window),
                        fill(&self.templates.called, *number, None, "", Some(*window), ""),
                    ),
                    None => continue,
                },
                _ => continue,
            };
            let n = self.next;
            self.next += 1;
            if !self.within_limit(phone.expose(), kind, event.at()) {
                continue;
            }
            let notification = Arc::new(Notification {
                id: format!("{}-{n}", self.hall),
                hall: self.hall.clone(),
                kind,
                ticket: Some(ticket),
                phone: phone.expose().to_owned(),
                text,
                position,
                window,
                at: event.at(),
                booking: None,
                work_order: None,
            });
            self.pending.insert(n, notification.clone());
            out.push(notification);
        }
        out
    }

    /// A 差评工单 for the hotline's webhook, pending like any notification.
    #[allow(clippy::too_many_arguments)]
    fn work_order(
        &mut self,
        hall: &Hall,
        ticket: TicketId,
        number: TicketNo,
        window: WindowNo,
        staff: Option<&StaffId>,
        rating: Rating,
        at: Timestamp,
    ) -> Arc<Notification> {
        let item = hall.item_of(ticket).unwrap_or(number.item);
        let item_name = hall
            .spec()
            .items
            .iter()
            .find(|i| i.code == item)
            .map(|i| i.name.clone())
            .unwrap_or_default();
        let order = WorkOrder {
            hall: self.hall.clone(),
            window,
            staff: staff.map(|s| s.to_string()),
            item,
            item_name,
            ticket: number,
            rating: rating.value(),
            at,
        };
        let text = self
            .templates
            .work_order
            .replace("{hall}", &order.hall)
            .replace("{window}", &window.to_string())
            .replace("{staff}", order.staff.as_deref().unwrap_or("未登录"))
            .replace("{item_name}", &order.item_name)
            .replace("{item}", &item.to_string())
            .replace("{ticket}", &number.to_string())
            .replace("{rating}", &order.rating.to_string());
        let n = self.next;
        self.next += 1;
        let notification = Arc::new(Notification {
            id: format!("{}-{n}", self.hall),
            hall: self.hall.clone(),
            kind: NotificationKind::WorkOrder,
            ticket: Some(number),
            phone: String::new(),
            text,
            position: None,
            window: Some(window),
            at,
            booking: None,
            work_order: Some(order),
        });
        self.pending.insert(n, notification.clone());
        notification
    }

    /// An alert's SMS text, from the hall's template for its kind.
    fn alert_text(&self, alert: &hallq_proto::console::AlertView, hall: &Hall) -> String {
        use hallq_proto::console::AlertKind;
        let t = &self.templates;
        let template = match alert.kind {
            AlertKind::Wait => &t.alert_wait,
            AlertKind::Paused => &t.alert_paused,
            AlertKind::NobodyLoggedIn => &t.alert_nobody_logged_in,
            AlertKind::Idle => &t.alert_idle,
            AlertKind::BadRating => &t.alert_bad_rating,
            AlertKind::NotificationFailed => &t.alert_notification_failed,
            AlertKind::PrintFailed => &t.alert_print_failed,
            AlertKind::WorkOrderOverdue => &t.alert_work_order_overdue,
        };
        let item_name = alert
            .item
            .and_then(|c| hall.spec().items.iter().find(|i| i.code == c))
            .map(|i| i.name.clone())
            .unwrap_or_default();
        let windows = if alert.open_windows.is_empty() {
            "增开窗口".to_owned()
        } else {
            let n: Vec<String> = alert
                .open_windows
                .iter()
                .map(|w| format!("{w}号"))
                .collect();
            format!("{}窗口", n.join("、"))
        };
        let minutes = |s: Option<u64>| s.map_or(String::new(), |s| (s / 60).to_string());
        let grade = alert
            .rating
            .and_then(|r| Rating::new(r).ok())
            .map_or("", Rating::grade);
        template
            .replace("{hall}", &self.hall_name)
            .replace("{item_name}", &item_name)
            .replace(
                "{item}",
                &alert.item.map(|i| i.to_string()).unwrap_or_default(),
            )
            .replace(
                "{window}",
                &alert.window.map(|w| w.to_string()).unwrap_or_default(),
            )
            .replace(
                "{ticket}",
                &alert.ticket.map(|t| t.to_string()).unwrap_or_default(),
            )
            .replace("{minutes}", &minutes(alert.value_secs))
            .replace("{limit}", &minutes(alert.limit_secs))
            .replace("{windows}", &windows)
            .replace("{grade}", grade)
            .replace("{detail}", &alert.detail)
            .replace("{id}", &alert.subject)
    }

    /// §7.3.4: the ticket, the people ahead, the windows, the wait.
    fn issued_text(&self, issued: &Issued, day: Option<u32>) -> String {
        let template = if issued.approaching {
            &self.templates.issued_approaching
        } else {
            &self.templates.issued
        };
        let windows = if issued.windows.is_empty() {
            "暂无窗口开放".to_owned()
        } else {
            let numbers: Vec<String> = issued.windows.iter().map(|w| w.to_string()).collect();
            format!("{}号窗口", numbers.join("、"))
        };
        let eta = issued.eta_secs.map_or(String::new(), |s| {
            format!("预计等候约{}分钟。", s.div_ceil(60))
        });
        let text = fill(
            template,
            issued.number,
            Some(issued.position),
            &windows,
            None,
            &eta,
        );
        // Issue 18: the link to the ticket's phone page, as on the slip.
        match (&self.visitor_link, day) {
            (Some((links, url)), Some(day)) => {
                let token = links.token(&self.hall, day, issued.number);
                format!("{text}查看排队进度：{url}/t/{token}")
            }
            _ => text,
        }
    }

    /// The number inside `id` if it names a pending notification of this hall.
    pub fn pending_number(&self, id: &str) -> Option<u64> {
        let n: u64 = id
            .strip_prefix(&self.hall)?
            .strip_prefix('-')?
            .parse()
            .ok()?;
        self.pending.contains_key(&n).then_some(n)
    }

    /// Removes notification `n`: the gateway has it.
    pub fn ack(&mut self, n: u64) {
        self.pending.remove(&n);
    }

    /// Removes notification `n`: the gateway gave up on it, for `reason`,
    /// at `at` (a journal older than issue 21 does not say: the
    /// notification's own time stands in).
    pub fn fail(&mut self, n: u64, reason: &str, at: Option<Timestamp>) {
        if let Some(gone) = self.pending.remove(&n) {
            self.failed += 1;
            self.last_failure = Some(reason.to_owned());
            if self.failures.len() == FAILURES_KEPT {
                self.failures.pop_front();
            }
            self.failures.push_back(FailedNotification {
                id: gone.id.clone(),
                kind: kind_key(gone.kind).to_owned(),
                ticket: gone.ticket,
                reason: cut(reason, MAX_DETAIL_CHARS),
                at: at.unwrap_or(gone.at).0 / 1000,
            });
        }
    }

    /// The latest failures, oldest first.
    pub fn recent_failures(&self) -> &VecDeque<FailedNotification> {
        &self.failures
    }

    /// The latest failure as the alert rules read it.
    pub fn last_failure_at(&self) -> Option<(Timestamp, String, String)> {
        self.failures
            .back()
            .map(|f| (Timestamp(f.at * 1000), f.id.clone(), f.reason.clone()))
    }

    /// Notifications the gateway gave up on since the journal began, and the
    /// last reason.
    pub fn failures(&self) -> (u64, Option<&str>) {
        (self.failed, self.last_failure.as_deref())
    }
}

/// How many failures an outbox keeps for the console.
pub const FAILURES_KEPT: usize = 1000;

/// A notification kind's name as its JSON says it (`called`, `alert`).
pub fn kind_key(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Issued => "issued",
        NotificationKind::Approaching => "approaching",
        NotificationKind::Called => "called",
        NotificationKind::WorkOrder => "work_order",
        NotificationKind::BookingConfirmed => "booking_confirmed",
        NotificationKind::BookingCancelled => "booking_cancelled",
        NotificationKind::BookingForfeited => "booking_forfeited",
        NotificationKind::RemoteCode => "remote_code",
        NotificationKind::Alert => "alert",
    }
}

/// Phones remembered by the SMS limit before quiet ones are forgotten.
const SMS_PHONES_KEPT: usize = 65_536;

/// `phone` for a log line: `138****8000`.
fn mask(phone: &str) -> String {
    Phone::new(phone).map_or_else(|_| "***".to_owned(), |p| format!("{p}"))
}

fn phone(hall: &Hall, ticket: TicketId) -> Option<Phone> {
    hall.phone_of(ticket).cloned()
}

fn fill(
    template: &str,
    ticket: TicketNo,
    position: Option<u32>,
    windows: &str,
    window: Option<WindowNo>,
    eta: &str,
) -> String {
    template
        .replace("{ticket}", &ticket.to_string())
        .replace(
            "{position}",
            &position.map(|p| p.to_string()).unwrap_or_default(),
        )
        .replace("{windows}", windows)
        .replace(
            "{window}",
            &window.map(|w| w.to_string()).unwrap_or_default(),
        )
        .replace("{eta}", eta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_core::{Command, HallSpec, ItemSpec, WindowSpec};
    use hallq_proto::types::{ItemCode, Lane, Timestamp};

    /// One item A called `name`, one window serving it.
    fn spec(name: &str) -> HallSpec {
        let a = ItemCode::new('A').unwrap();
        HallSpec::new(
            vec![ItemSpec {
                code: a,
                name: name.into(),
                avg_service_secs: 300,
                daily_cap: None,
            }],
            vec![WindowSpec {
                number: WindowNo(1),
                items: vec![a],
                universal: false,
                fallback: false,
            }],
        )
    }

    fn hall() -> Hall {
        let mut hall = Hall::new(spec("社保")).unwrap();
        hall.apply(Command::BeginDay { day: 20261122 }, Timestamp(0))
            .unwrap();
        hall
    }

    fn issue(hall: &mut Hall, outbox: &mut Outbox, phone: Option<&str>) -> Vec<Arc<Notification>> {
        let events = hall
            .apply(
                Command::Issue {
                    item: ItemCode::new('A').unwrap(),
                    lane: Lane::WalkIn,
                    phone: phone.map(|p| Phone::new(p).unwrap()),
                },
                Timestamp(1),
            )
            .unwrap();
        outbox.on_events(&events, hall)
    }

    #[test]
    fn the_issue_message_carries_the_visitor_link_when_the_hall_has_one() {
        let dir = tempfile::tempdir().unwrap();
        let links = Arc::new(crate::fanout::link::VisitorLinks::open(dir.path()).unwrap());
        let mut hall = hall();
        let mut outbox = Outbox::new("main", Templates::default());
        let plain = issue(&mut hall, &mut outbox, Some("13800138000"));
        assert!(!plain[0].text.contains("http"), "{}", plain[0].text);
        outbox.set_visitor_link(links.clone(), Some("https://q.example.gov.cn".into()));
        let linked = issue(&mut hall, &mut outbox, Some("13900139000"));
        let text = &linked[0].text;
        let token = links.token("main", 20261122, "A002".parse().unwrap());
        assert!(
            text.ends_with(&format!("查看排队进度：https://q.example.gov.cn/t/{token}")),
            "{text}"
        );
        assert_eq!(
            links.check("main", 20261122, &token),
            Ok("A002".parse().unwrap())
        );
    }

    #[test]
    fn a_phone_left_after_issue_gets_a_confirmation_reminder_and_call() {
        let mut hall = hall();
        let mut outbox = Outbox::new("main", Templates::default());
        hall.apply(
            Command::OpenWindow {
                window: WindowNo(1),
            },
            Timestamp(1),
        )
        .unwrap();
        for _ in 0..4 {
            assert!(issue(&mut hall, &mut outbox, None).is_empty());
        }
        let a004: TicketNo = "A004".parse().unwrap();
        let events = hall
            .apply(
                Command::AttachPhone {
                    ticket: a004,
                    phone: Phone::mobile("13800138000").unwrap(),
                },
                Timestamp(2),
            )
            .unwrap();
        let n = outbox.on_events(&events, &hall);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].phone, "13800138000");
        assert_eq!(n[0].ticket, Some(a004));
        assert_eq!(
            n[0].text,
            "您的号码A004已登记本手机号，前面还有3人，即将轮到您时和叫号时将短信通知您。"
        );
        let mut sent = Vec::new();
        for at in 3..20 {
            let Ok(events) = hall.apply(
                Command::CallNext {
                    window: WindowNo(1),
                },
                Timestamp(at),
            ) else {
                break;
            };
            sent.extend(outbox.on_events(&events, &hall));
            hall.apply(
                Command::Finish {
                    window: WindowNo(1),
                    rating: None,
                },
                Timestamp(at),
            )
            .unwrap();
        }
        let kinds: Vec<_> = sent.iter().map(|n| (n.kind, n.phone.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (NotificationKind::Approaching, "13800138000"),
                (NotificationKind::Called, "13800138000"),
            ]
        );
        assert_eq!(sent[1].text, "请A004号立即到1号窗口办理。");
    }

    #[test]
    fn texts_say_the_ticket_windows_and_wait() {
        let mut hall = hall();
        let mut outbox = Outbox::new("main", Templates::default());
        let n = issue(&mut hall, &mut outbox, Some("13800138000"));
        assert_eq!(
            n[0].text,
            "您已取号A001，前面还有0人，办理窗口：暂无窗口开放。"
        );
        assert!(
            issue(&mut hall, &mut outbox, None).is_empty(),
            "no phone, no message"
        );
        let events = hall
            .apply(
                Command::OpenWindow {
                    window: WindowNo(1),
                },
                Timestamp(2),
            )
            .unwrap();
        let n = outbox.on_events(&events, &hall);
        assert_eq!(n.len(), 1, "A001 approaching; A002 has no phone");
        assert_eq!(n[0].kind, NotificationKind::Approaching);
        for _ in 0..2 {
            issue(&mut hall, &mut outbox, None);
        }
        let n = issue(&mut hall, &mut outbox, Some("13800138000"));
        assert_eq!(
            n[0].text,
            "您已取号A005，前面还有4人，办理窗口：1号窗口。预计等候约20分钟。"
        );
        let events = hall
            .apply(
                Command::CallNext {
                    window: WindowNo(1),
                },
                Timestamp(3),
            )
            .unwrap();
        let n = outbox.on_events(&events, &hall);
        assert_eq!(n[0].text, "请A001号立即到1号窗口办理。");
        assert_eq!(n[0].id, "main-3");
    }

    #[test]
    fn acks_remove_by_id_and_ignore_strangers() {
        let mut hall = hall();
        let mut outbox = Outbox::new("main", Templates::default());
        issue(&mut hall, &mut outbox, Some("13800138000"));
        assert_eq!(outbox.pending_number("main-0"), Some(0));
        assert_eq!(outbox.pending_number("east-0"), None);
        assert_eq!(outbox.pending_number("main-x"), None);
        outbox.ack(0);
        assert_eq!(outbox.pending_number("main-0"), None);
        assert_eq!(outbox.pending_count(), 0);
    }

    /// 好差评 (seed 000 §四(六)6): a bad rating raises exactly one work
    /// order; a batch rated once counts once.
    #[test]
    fn a_bad_rating_raises_exactly_one_work_order() {
        let a = ItemCode::new('A').unwrap();
        let mut hall = Hall::new(spec("item A")).unwrap();
        let mut outbox = Outbox::new("main", Templates::default());
        let mut orders = Vec::new();
        let mut now = 1_000_000;
        let mut step = |hall: &mut Hall, outbox: &mut Outbox, command: Command| {
            now += 1;
            let events = hall.apply(command, Timestamp(now)).unwrap();
            let raised = outbox.on_events(&events, hall);
            orders.extend(
                raised
                    .into_iter()
                    .filter(|n| n.kind == NotificationKind::WorkOrder),
            );
            orders.len()
        };
        let no = |s: &str| -> TicketNo { s.parse().unwrap() };
        let rating = |r: u8| Rating::new(r).unwrap();
        let w1 = WindowNo(1);
        let issue = || Command::Issue {
            item: a,
            lane: Lane::WalkIn,
            phone: None,
        };
        step(&mut hall, &mut outbox, Command::BeginDay { day: 20261122 });
        step(&mut hall, &mut outbox, Command::OpenWindow { window: w1 });
        for _ in 0..3 {
            step(&mut hall, &mut outbox, issue());
        }
        step(&mut hall, &mut outbox, Command::CallNext { window: w1 });
        step(
            &mut hall,
            &mut outbox,
            Command::FinishBatch {
                window: w1,
                with: vec![no("A002")],
                rating: Some(rating(1)),
            },
        );
        step(&mut hall, &mut outbox, Command::CallNext { window: w1 });
        step(
            &mut hall,
            &mut outbox,
            Command::Finish {
                window: w1,
                rating: Some(rating(3)),
            },
        );
        // A later rating of 2 raises one too; rating 3+ none.
        step(&mut hall, &mut outbox, issue());
        step(&mut hall, &mut outbox, Command::CallNext { window: w1 });
        let after_first_two = step(
            &mut hall,
            &mut outbox,
            Command::Finish {
                window: w1,
                rating: None,
            },
        );
        assert_eq!(after_first_two, 1, "a batch rated 1 is one work order");
        step(
            &mut hall,
            &mut outbox,
            Command::Rate {
                ticket: no("A004"),
                rating: rating(2),
                window: None,
            },
        );
        let order = orders[0].work_order.as_ref().unwrap();
        assert_eq!(
            (
                order.ticket,
                order.window,
                order.rating,
                order.item_name.as_str()
            ),
            (no("A001"), w1, 1, "item A")
        );
        assert!(orders[0].phone.is_empty());
        assert!(orders[0].text.contains("A001"), "{}", orders[0].text);
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[1].id, format!("main-{}", outbox.next_number() - 1));
    }

    /// The attack: 25 issue messages to one number within seconds. With a
    /// limit of 10 an hour the eleventh on is dropped (counted), another
    /// phone is untouched, numbers are still taken (ids do not depend on
    /// the limit), and an hour later the phone gets messages again.
    #[test]
    fn one_phone_gets_at_most_the_hourly_limit() {
        let mut hall = hall();
        let mut outbox = Outbox::new("main", Templates::default());
        outbox.set_sms_limit(10);
        let mut sent = 0;
        for _ in 0..25 {
            sent += issue(&mut hall, &mut outbox, Some("13800138000")).len();
        }
        assert_eq!(sent, 10);
        assert_eq!(outbox.dropped(), 15);
        assert_eq!(
            outbox.next_number(),
            25,
            "dropped messages keep their numbers"
        );
        assert_eq!(issue(&mut hall, &mut outbox, Some("13900139000")).len(), 1);
        let later = hall
            .apply(
                Command::Issue {
                    item: ItemCode::new('A').unwrap(),
                    lane: Lane::WalkIn,
                    phone: Some(Phone::new("13800138000").unwrap()),
                },
                Timestamp(3_600_001 + 1),
            )
            .unwrap();
        assert_eq!(outbox.on_events(&later, &hall).len(), 1, "an hour later");
        // 0: no limit.
        let mut open = Outbox::new("main", Templates::default());
        open.set_sms_limit(0);
        let mut all = 0;
        for _ in 0..25 {
            all += issue(&mut hall, &mut open, Some("13700137000")).len();
        }
        assert_eq!((all, open.dropped()), (25, 0));
    }

    /// Issue 21: an alert goes to each manager phone its event names, as
    /// kind `alert` with its id in `booking`, never held to the visitors'
    /// hourly limit; with no phone, once, for the webhook. A failure is
    /// kept with its time for the console.
    #[test]
    fn an_alert_goes_to_each_manager_phone_or_once_to_the_webhook() {
        use hallq_core::AlertChange;
        use hallq_proto::console::{AlertKind, AlertView};
        let mut hall = hall();
        let mut outbox = Outbox::new("main", Templates::default());
        outbox.set_hall_name("测试大厅");
        outbox.set_sms_limit(1);
        let alert = |id: &str| AlertView {
            id: format!("wait:{id}"),
            kind: AlertKind::Wait,
            subject: id.into(),
            item: Some(ItemCode::new('A').unwrap()),
            window: None,
            ticket: None,
            value_secs: Some(2400),
            limit_secs: Some(1800),
            open_windows: vec![WindowNo(1)],
            rating: None,
            detail: String::new(),
            raised_at: 1,
            cleared_at: None,
        };
        let phones = vec![
            Phone::new("13900139000").unwrap(),
            Phone::new("13900139001").unwrap(),
        ];
        let events = hall
            .apply(
                Command::RecordAlerts {
                    changes: vec![
                        AlertChange::Raise(alert("A")),
                        AlertChange::Raise(alert("A")),
                    ],
                    notify: phones,
                    webhook: false,
                },
                Timestamp(2_000_000),
            )
            .unwrap();
        // The same id twice in one command is raised once.
        assert_eq!(events.len(), 1);
        let sent = outbox.on_events(&events, &hall);
        assert_eq!(sent.len(), 2);
        for (n, phone) in sent.iter().zip(["13900139000", "13900139001"]) {
            assert_eq!(n.kind, NotificationKind::Alert);
            assert_eq!(n.phone, phone);
            assert_eq!(n.booking.as_deref(), Some("wait:A"));
            assert_eq!(
                n.text,
                "【测试大厅】告警：社保（A）等候已达40分钟，超过目标30分钟，建议开放1号窗口。"
            );
        }
        // A second alert to the same phones within the hour: not limited.
        let events = hall
            .apply(
                Command::RecordAlerts {
                    changes: vec![
                        AlertChange::Raise(alert("B")),
                        AlertChange::Raise(alert("C")),
                    ],
                    notify: Vec::new(),
                    webhook: true,
                },
                Timestamp(2_001_000),
            )
            .unwrap();
        let sent = outbox.on_events(&events, &hall);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].phone, "", "no phone: the webhook's");
        // Neither phones nor the webhook: journaled, sent to nobody.
        let events = hall
            .apply(
                Command::RecordAlerts {
                    changes: vec![AlertChange::Raise(alert("D"))],
                    notify: Vec::new(),
                    webhook: false,
                },
                Timestamp(2_002_000),
            )
            .unwrap();
        assert_eq!(events.len(), 1);
        assert!(outbox.on_events(&events, &hall).is_empty());
        // The gateway gives up on one: kept, with its time.
        let n = outbox.pending_number(&sent[0].id).unwrap();
        outbox.fail(
            n,
            "no hotline endpoint configured",
            Some(Timestamp(5_000_000)),
        );
        let failed = outbox.recent_failures().back().unwrap();
        assert_eq!((failed.kind.as_str(), failed.at), ("alert", 5000));
        assert_eq!(
            outbox.last_failure_at().map(|f| f.0),
            Some(Timestamp(5_000_000))
        );
    }
}
