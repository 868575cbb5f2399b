//! The notification outbox (SPEC §2 items 5–8): messages for visitors who
//! gave a phone number, kept until the SMS gateway acknowledges them.
//!
//! Notifications are derived from events as they are applied, numbered by a
//! per-hall counter: replaying the same events gives the same numbers, so a
//! notification keeps its id (`<hall>-<n>`) across restarts and a gateway
//! can deduplicate redeliveries by it. An acknowledgement is journaled too,
//! so an acknowledged notification stays gone after a restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use hallq_client::proto::{Notification, NotificationKind};
use hallq_client::types::{Phone, TicketId, TicketNo, WindowNo};

use crate::dispatch::{Event, Hall};

/// Message texts; `{ticket}`, `{position}`, `{windows}`, `{window}` and
/// `{eta_min}` are filled in. Chinese by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    /// §7.3.4, at issue.
    pub issued: String,
    /// §7.3.4 + §7.3.5 when the reminder already holds at issue.
    pub issued_approaching: String,
    /// §7.3.5.
    pub approaching: String,
    /// §7.3.6.
    pub called: String,
}

impl Default for Templates {
    fn default() -> Self {
        Templates {
            issued: "您已取号{ticket}，前面还有{position}人，办理窗口：{windows}号，预计等候约{eta_min}分钟。".into(),
            issued_approaching: "您已取号{ticket}，前面还有{position}人，办理窗口：{windows}号。即将轮到您，请到等候区等候叫号。".into(),
            approaching: "您的号码{ticket}前面还有{position}人，即将轮到您，请到等候区等候叫号。".into(),
            called: "请{ticket}号立即到{window}号窗口办理。".into(),
        }
    }
}

/// The outbox of one hall.
#[derive(Debug, Clone)]
pub struct Outbox {
    hall: String,
    templates: Templates,
    /// The number the next notification gets.
    next: u64,
    pending: BTreeMap<u64, Arc<Notification>>,
}

impl Outbox {
    /// An empty outbox for `hall`.
    pub fn new(hall: &str, templates: Templates) -> Outbox {
        Outbox {
            hall: hall.to_owned(),
            templates,
            next: 0,
            pending: BTreeMap::new(),
        }
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
            let made = match event {
                Event::Issued { issued, at } => issued.phone.as_ref().map(|phone| {
                    let template = if issued.approaching {
                        &self.templates.issued_approaching
                    } else {
                        &self.templates.issued
                    };
                    let windows = issued
                        .windows
                        .iter()
                        .map(|w| w.to_string())
                        .collect::<Vec<_>>()
                        .join("、");
                    let eta_min = issued.eta_secs.map_or("—".to_owned(), |s| s.div_ceil(60).to_string());
                    let text = fill(template, issued.number, Some(issued.position), &windows, None, &eta_min);
                    (NotificationKind::Issued, issued.number, phone.clone(), text, Some(issued.position), None, *at)
                }),
                Event::Approaching {
                    ticket,
                    number,
                    position,
                    at,
                } => phone(hall, *ticket).map(|phone| {
                    let text = fill(&self.templates.approaching, *number, Some(*position), "", None, "");
                    (NotificationKind::Approaching, *number, phone, text, Some(*position), None, *at)
                }),
                Event::Called {
                    ticket,
                    number,
                    window,
                    at,
                } => phone(hall, *ticket).map(|phone| {
                    let text = fill(&self.templates.called, *number, None, "", Some(*window), "");
                    (NotificationKind::Called, *number, phone, text, None, Some(*window), *at)
                }),
                _ => None,
            };
            if let Some((kind, ticket, phone, text, position, window, at)) = made {
                let n = self.next;
                self.next += 1;
                let notification = Arc::new(Notification {
                    id: format!("{}-{n}", self.hall),
                    hall: self.hall.clone(),
                    kind,
                    ticket,
                    phone: phone.expose().to_owned(),
                    text,
                    position,
                    window,
                    at,
                });
                self.pending.insert(n, notification.clone());
                out.push(notification);
            }
        }
        out
    }

    /// The number inside `id` if it names a pending notification of this hall.
    pub fn pending_number(&self, id: &str) -> Option<u64> {
        let n: u64 = id.strip_prefix(&self.hall)?.strip_prefix('-')?.parse().ok()?;
        self.pending.contains_key(&n).then_some(n)
    }

    /// Removes notification `n`: the gateway has it.
    pub fn ack(&mut self, n: u64) {
        self.pending.remove(&n);
    }
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
    eta_min: &str,
) -> String {
    template
        .replace("{ticket}", &ticket.to_string())
        .replace("{position}", &position.map(|p| p.to_string()).unwrap_or_default())
        .replace("{windows}", windows)
        .replace("{window}", &window.map(|w| w.to_string()).unwrap_or_default())
        .replace("{eta_min}", eta_min)
}
