//! From the file as written to a [`Config`]: every check, and every
//! problem found collected rather than the first returned, so a hall's IT
//! staff can fix the file in one go.
//!
//! The top level, `[tls]` and `[[hall]]` are checked here; the sections
//! with a file of their own check themselves there (`[[token]]` in
//! `tokens.rs`, `[cluster]` in `cluster_config.rs`, `[hall.templates]` in
//! `templates.rs`), called from `RawConfig::validate` in the order the
//! problems are listed.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use hallq_core::{DispatchError, HallDay, HallSpec, ItemSpec, Span, WindowSpec};
use hallq_proto::types::{ItemCode, WindowNo};

use super::schema::{RawAppointments, RawConfig, RawHall, RawHours, RawTls};
use super::tokens::validate_tokens;
use super::{Config, ExportKey, HallConfig, TlsFiles, MIN_EXPORT_KEY_LEN};

/// Allowed `timezone_offset_minutes`: the offsets in use on Earth, UTC−12:00
/// to UTC+14:00.
pub const TIMEZONE_OFFSET_RANGE: RangeInclusive<i32> = -720..=840;

/// Longest hall id accepted.
pub const MAX_HALL_ID_LEN: usize = 32;

impl RawConfig {
    /// The typed config, or every problem found. Checks go on after a
    /// problem wherever later checks do not depend on the broken part.
    pub(super) fn validate(self) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();

        let listen = match self.listen.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                problems.push(format!(
                    "listen = {:?} is not an IP address and port such as \"0.0.0.0:7878\" \
                     (host names are not resolved)",
                    self.listen
                ));
                None
            }
        };
        if self.state_dir.as_os_str().is_empty() {
            problems
                .push("state_dir is empty: give the directory that keeps the journal".to_owned());
        }
        let tls = self.tls.and_then(|tls| tls.validate(&mut problems));
        let l = &self.limits;
        for (name, value) in [
            ("connections", l.connections as u64),
            (
                "streams_per_connection",
                u64::from(l.streams_per_connection),
            ),
            ("requests_per_second", u64::from(l.requests_per_second)),
            ("frame_timeout_secs", l.frame_timeout_secs),
            ("idle_timeout_secs", l.idle_timeout_secs),
            ("displays_per_hall", l.displays_per_hall as u64),
        ] {
            if value == 0 {
                problems.push(format!("[limits] {name} must be >= 1"));
            }
        }
        let metrics_listen = self.metrics_listen.as_deref().and_then(|text| {
            text.parse::<SocketAddr>()
                .map_err(|_| {
                    problems.push(format!(
                        "metrics_listen = {text:?} is not an IP address and port such as \
                         \"127.0.0.1:9478\""
                    ))
                })
                .ok()
        });
        if self.shutdown_grace_secs == 0 {
            problems.push(
                "shutdown_grace_secs must be >= 1: with 0 a shutdown would drop requests \
                 already accepted instead of finishing them"
                    .to_owned(),
            );
        }

        let halls = validate_halls(self.halls, &mut problems);
        let tokens = validate_tokens(self.tokens, &halls, &mut problems);
        let cluster = self.cluster.map(|mut cluster| {
            cluster.validate(listen, &halls, &mut problems);
            cluster
        });

        match listen {
            Some(listen) if problems.is_empty() => Ok(Config {
                listen,
                state_dir: self.state_dir,
                tls,
                tokens,
                halls,
                shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
                log_format: self.log_format,
                metrics_listen,
                limits: self.limits,
                cluster,
            }),
            _ => Err(problems),
        }
    }
}

impl RawTls {
    fn validate(self, problems: &mut Vec<String>) -> Option<TlsFiles> {
        const BOTH: &str = "give both cert and key, or leave [tls] out to use a \
                            self-signed pair generated in state_dir";
        let empty = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| p.as_os_str().is_empty());
        if empty(&self.cert) || empty(&self.key) {
            problems.push(format!("[tls]: a path is empty; {BOTH}"));
            return None;
        }
        match (self.cert, self.key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (Some(_), None) => {
                problems.push(format!("[tls]: cert is given but key is missing; {BOTH}"));
                None
            }
            (None, Some(_)) => {
                problems.push(format!("[tls]: key is given but cert is missing; {BOTH}"));
                None
            }
            (None, None) => {
                problems.push(format!("[tls] is empty; {BOTH}"));
                None
            }
        }
    }
}

/// Whether `id` is 1–32 characters of `a-z0-9_-`.
fn is_valid_hall_id(id: &str) -> bool {
    (1..=MAX_HALL_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn validate_halls(raw: Vec<RawHall>, problems: &mut Vec<String>) -> Vec<HallConfig> {
    if raw.is_empty() {
        problems.push("no [[hall]] is defined: the daemon needs at least one hall".to_owned());
    }
    let mut seen = HashSet::new();
    let mut halls = Vec::with_capacity(raw.len());
    for hall in raw {
        let id = hall.id;
        if !is_valid_hall_id(&id) {
            problems.push(format!(
                "hall {id:?}: id must be 1-{MAX_HALL_ID_LEN} characters of a-z, 0-9, _ and - \
                 (it is used in tokens, file names and metric labels)"
            ));
        }
        if !seen.insert(id.clone()) {
            problems.push(format!("hall {id:?} is defined twice"));
        }
        if hall.name.trim().is_empty() {
            problems.push(format!("hall {id:?}: name is empty"));
        }
        if !TIMEZONE_OFFSET_RANGE.contains(&hall.timezone_offset_minutes) {
            problems.push(format!(
                "hall {id:?}: timezone_offset_minutes must be between {} and {} \
                 (UTC-12:00 to UTC+14:00), got {}",
                TIMEZONE_OFFSET_RANGE.start(),
                TIMEZONE_OFFSET_RANGE.end(),
                hall.timezone_offset_minutes
            ));
        }
        let capacities = hall
            .items
            .iter()
            .filter(|i| i.appointment_capacity > 0)
            .map(|i| (i.code, i.appointment_capacity))
            .collect();
        // Issue 19: a window listing an item twice, or numbered 0 (no
        // counter is number 0, and clients use 0 for "none"), is a typo.
        for w in &hall.windows {
            if w.number.0 == 0 {
                problems.push(format!(
                    "hall {id:?}: window number 0: windows count from 1"
                ));
            }
            let mut listed = HashSet::new();
            for item in &w.items {
                if !listed.insert(*item) {
                    problems.push(format!(
                        "hall {id:?}: window {} lists item {item} twice",
                        w.number.0
                    ));
                }
            }
        }
        let duty = hall
            .windows
            .iter()
            .filter(|w| w.duty)
            .map(|w| w.number)
            .collect();
        let day = hall_day(
            &id,
            hall.timezone_offset_minutes,
            hall.hours,
            hall.appointments,
            capacities,
            duty,
            problems,
        );
        let spec = HallSpec {
            day,
            items: hall
                .items
                .into_iter()
                .map(|i| ItemSpec {
                    code: i.code,
                    name: i.name,
                    avg_service_secs: i.avg_service_secs,
                    daily_cap: i.daily_cap,
                })
                .collect(),
            windows: hall
                .windows
                .into_iter()
                .map(|w| WindowSpec {
                    number: w.number,
                    items: w.items,
                    universal: w.universal,
                    fallback: w.fallback,
                })
                .collect(),
            reminder_factor: hall.reminder_factor,
            walk_in_every: hall.walk_in_every,
            max_wait_secs: hall.max_wait_secs,
            reinstate_places: hall.reinstate_places,
        };
        // The core owns the rules for items and windows; we only say which
        // hall its complaint is about.
        if let Err(e) = spec.validate() {
            let problem = match e {
                DispatchError::InvalidSpec(msg) => msg,
                // The daemon's DispatchError has more variants than the one
                // `validate` returns; keep their message if that ever changes.
                #[allow(unreachable_patterns)]
                other => other.to_string(),
            };
            problems.push(format!("hall {id:?}: {problem}"));
        }
        if hall.wait_target_minutes == 0 || hall.wait_target_minutes > 24 * 60 {
            problems.push(format!(
                "hall {id:?}: wait_target_minutes must be 1 to 1440 (a wait target of a day at most)"
            ));
        }
        let templates = hall.templates.validate(&id, problems);
        if let Some(key) = &hall.export_key {
            if key.expose().len() < MIN_EXPORT_KEY_LEN {
                problems.push(format!(
                    "hall {id:?}: export_key must be at least {MIN_EXPORT_KEY_LEN} characters"
                ));
            }
        }
        let visitor = visitor_settings(
            &id,
            hall.visitor_url,
            hall.step_back_places,
            hall.clerk_rating,
            problems,
        );
        let mut visitor = visitor;
        if !(1..=1800).contains(&hall.remote_code_seconds) {
            problems.push(format!(
                "hall {id:?}: remote_code_seconds must be 1-1800, got {}",
                hall.remote_code_seconds
            ));
        }
        if !(1..=20).contains(&hall.remote_codes_per_phone) {
            problems.push(format!(
                "hall {id:?}: remote_codes_per_phone must be 1-20, got {}",
                hall.remote_codes_per_phone
            ));
        }
        visitor.remote = super::RemoteSettings {
            enabled: hall.remote_tickets,
            code_secs: hall.remote_code_seconds,
            codes_per_phone: hall.remote_codes_per_phone,
        };
        let wait_target_secs = u64::from(hall.wait_target_minutes) * 60;
        let (alerts, alert_recipients) =
            super::alerts_config::alerts(&id, hall.alerts, wait_target_secs, problems);
        let work_order_rules = super::alerts_config::work_orders(&id, hall.work_orders, problems);
        halls.push(HallConfig {
            id,
            name: hall.name,
            timezone_offset_minutes: hall.timezone_offset_minutes,
            spec,
            templates,
            export_key: hall.export_key.map(ExportKey),
            phone_limits: hallq_core::PhoneLimits {
                bookings_per_day: hall.bookings_per_phone_per_day,
                active_tickets_per_item: hall.active_tickets_per_phone_per_item,
            },
            sms_per_phone_per_hour: hall.sms_per_phone_per_hour,
            counter_rules: hallq_core::CounterRules {
                require_login_to_call: hall.require_login_to_call,
                no_show_min_secs: hall.no_show_min_seconds,
                no_show_after_recall: hall.no_show_after_recall,
            },
            wait_target_secs,
            visitor,
            alerts,
            alert_recipients,
            work_order_rules,
        });
    }
    halls
}

/// `visitor_url`, `step_back_places`, `clerk_rating` (issue 18).
fn visitor_settings(
    id: &str,
    url: Option<String>,
    step_back_places: u32,
    clerk_rating: bool,
    problems: &mut Vec<String>,
) -> super::VisitorSettings {
    let url = url.map(|u| u.trim().trim_end_matches('/').to_owned());
    if let Some(u) = &url {
        let scheme_ok = u.starts_with("https://") || u.starts_with("http://");
        if !scheme_ok
            || u.len() > 200
            || u.chars().any(|c| c.is_whitespace() || c == '?' || c == '#')
        {
            problems.push(format!(
                "hall {id:?}: visitor_url must be an http(s) address without a query, \
                 like \"https://q.example.gov.cn\", got {u:?}"
            ));
        }
    }
    let max = super::VisitorSettings::MAX_STEP_BACK_PLACES;
    if !(1..=max).contains(&step_back_places) {
        problems.push(format!(
            "hall {id:?}: step_back_places must be 1-{max}, got {step_back_places}"
        ));
    }
    super::VisitorSettings {
        url,
        step_back_places,
        clerk_rating,
        remote: super::RemoteSettings::default(),
    }
}

/// `"09:00-17:00"` → a span; `"closed"` (or `"none"`) → `None`.
fn parse_span(text: &str) -> Result<Option<Span>, String> {
    let t = text.trim();
    if t == "closed" || t == "none" {
        return Ok(None);
    }
    let bad = || format!("{text:?} is not a time span like \"09:00-17:00\" (or \"closed\")");
    let (from, to) = t.split_once('-').ok_or_else(bad)?;
    let from = hallq_proto::appointment::parse_minute(from.trim()).map_err(|_| bad())?;
    let to = hallq_proto::appointment::parse_minute(to.trim()).map_err(|_| bad())?;
    if from >= to {
        return Err(format!("{text:?}: the end must be after the start"));
    }
    Ok(Some(Span { from, to }))
}

/// The hall's calendar from `[hall.hours]`, `[hall.appointments]`, the
/// items' `appointment_capacity` and the windows' `duty`.
fn hall_day(
    id: &str,
    offset: i32,
    hours: Option<RawHours>,
    appointments: Option<RawAppointments>,
    capacities: Vec<(ItemCode, u32)>,
    duty_windows: Vec<WindowNo>,
    problems: &mut Vec<String>,
) -> HallDay {
    let mut day = HallDay {
        offset_minutes: offset,
        capacities,
        duty_windows,
        ..HallDay::default()
    };
    let mut span = |text: &str, key: &str| match parse_span(text) {
        Ok(span) => span,
        Err(e) => {
            problems.push(format!("hall {id:?}: [hall.hours] {key}: {e}"));
            None
        }
    };
    if let Some(hours) = hours {
        let mut week = [None; 7];
        let regular = [
            &hours.mon, &hours.tue, &hours.wed, &hours.thu, &hours.fri, &hours.sat, &hours.sun,
        ];
        for (i, text) in regular.into_iter().enumerate() {
            let key = hallq_core::appointment::WEEKDAYS[i];
            week[i] = match text {
                Some(text) => span(text, key),
                // Mon–Fri 09:00–17:00, weekends closed, unless configured.
                None if i < 5 => Some(HallDay::DEFAULT_WEEKDAY_HOURS),
                None => None,
            };
        }
        day.hours = Some(week);
        for (i, text) in hours.extended.days().into_iter().enumerate() {
            if let Some(text) = text {
                day.extended[i] = span(
                    text,
                    &format!("extended.{}", hallq_core::appointment::WEEKDAYS[i]),
                );
            }
        }
        if let Some(lunch) = &hours.lunch {
            day.lunch = span(lunch, "lunch");
        }
    }
    if let Some(a) = appointments {
        day.slot_minutes = a.slot_minutes;
        day.check_in_early_minutes = a.check_in_early_minutes;
    }
    day
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;

    #[test]
    fn validation_errors_name_the_problem() {
        let long_id = "h".repeat(33);
        let hall_as = |id: &str| HALL.replace("id = \"main\"", &format!("id = \"{id}\""));
        let hall_with = |line: &str| {
            HALL.replace(
                "name = \"测试大厅\"",
                &format!("name = \"测试大厅\"\n{line}"),
            )
        };
        let token = |body: &str| format!("[[token]]\n{body}\n");
        #[rustfmt::skip]
        let cases: Vec<(&str, String, &str)> = vec![
            ("listen not an address",
             doc("", KIOSK, HALL).replace("127.0.0.1:7878", "localhost:7878"),
             "listen = \"localhost:7878\" is not an IP address and port"),
            ("state_dir empty",
             doc("", KIOSK, HALL).replace("/tmp/hallq-test", ""),
             "state_dir is empty"),
            ("shutdown grace 0", doc("shutdown_grace_secs = 0", KIOSK, HALL),
             "shutdown_grace_secs must be >= 1"),
            ("bad metrics_listen", doc("metrics_listen = \"localhost\"", KIOSK, HALL),
             "metrics_listen = \"localhost\" is not an IP address and port"),
            ("token and token_sha256", doc("", &format!("[[token]]\ntoken = \"kiosk-token-0123456789\"\ntoken_sha256 = \"{}\"\nrole = \"kiosk\"\nhall = \"main\"", "a".repeat(64)), HALL),
             "give token or token_sha256, not both"),
            ("no token at all", doc("", "[[token]]\nrole = \"kiosk\"\nhall = \"main\"", HALL),
             "token (or token_sha256) is missing"),
            ("short sha256", doc("", "[[token]]\ntoken_sha256 = \"abc\"\nrole = \"kiosk\"\nhall = \"main\"", HALL),
             "token_sha256 must be 64 lower-case hex digits"),
            ("unknown log format", doc("log_format = \"xml\"", KIOSK, HALL),
             "unknown variant `xml`, expected `text` or `json`"),
            ("tls cert without key", doc("[tls]\ncert = \"c.pem\"", KIOSK, HALL),
             "[tls]: cert is given but key is missing"),
            ("tls key without cert", doc("[tls]\nkey = \"k.pem\"", KIOSK, HALL),
             "[tls]: key is given but cert is missing"),
            ("tls empty", doc("[tls]", KIOSK, HALL), "[tls] is empty"),
            ("no hall", doc("", "", ""), "no [[hall]] is defined"),
            ("hall id upper case", doc("", "", &hall_as("Main")),
             "hall \"Main\": id must be 1-32 characters of a-z, 0-9, _ and -"),
            ("hall id empty", doc("", "", &hall_as("")), "hall \"\": id must be"),
            ("hall id too long", doc("", "", &hall_as(&long_id)),
             "id must be 1-32 characters"),
            ("hall twice", doc("", KIOSK, &format!("{HALL}{HALL}")),
             "hall \"main\" is defined twice"),
            ("hall name empty", doc("", KIOSK, &HALL.replace("测试大厅", " ")),
             "hall \"main\": name is empty"),
            ("timezone out of range",
             doc("", KIOSK, &hall_with("timezone_offset_minutes = 900")),
             "hall \"main\": timezone_offset_minutes must be between -720 and 840"),
            ("window serves unknown item",
             doc("", KIOSK, &HALL.replace("items = [\"A\"]", "items = [\"Q\"]")),
             "config test.toml: hall \"main\": window 1 serves unknown item Q"),
            ("reminder factor 0", doc("", KIOSK, &hall_with("reminder_factor = 0.0")),
             "hall \"main\": reminder_factor must be > 0"),
            ("walk_in_every 0", doc("", KIOSK, &hall_with("walk_in_every = 0")),
             "hall \"main\": walk_in_every must be >= 1"),
            ("max_wait 0", doc("", KIOSK, &hall_with("max_wait_secs = 0")),
             "hall \"main\": max_wait_secs must be > 0"),
            ("reinstate_places 0", doc("", KIOSK, &hall_with("reinstate_places = 0")),
             "hall \"main\": reinstate_places must be >= 1"),
            ("wait_target_minutes 0", doc("", KIOSK, &hall_with("wait_target_minutes = 0")),
             "hall \"main\": wait_target_minutes must be 1 to 1440"),
            ("manager phone not a mobile",
             doc("", KIOSK, &hall_with("[hall.alerts]\nmanager_phones = [\"12345\"]")),
             "hall \"main\": [hall.alerts] manager_phones: \"12345\" is not a mainland mobile number"),
            ("paused_max_minutes 0",
             doc("", KIOSK, &hall_with("[hall.alerts]\npaused_max_minutes = 0")),
             "hall \"main\": [hall.alerts] paused_max_minutes must be 1-600, got 0"),
            ("margin over the target",
             doc("", KIOSK, &hall_with("wait_target_minutes = 10\n[hall.alerts]\nwait_clear_margin_minutes = 10")),
             "hall \"main\": [hall.alerts] wait_clear_margin_minutes (10) must be less than wait_target_minutes (10)"),
            ("alerts key misspelt",
             doc("", KIOSK, &hall_with("[hall.alerts]\npause_max_minutes = 3")),
             "unknown field `pause_max_minutes`"),
            ("deadline 0 working days",
             doc("", KIOSK, &hall_with("[hall.work_orders]\ndeadline_working_days = 0")),
             "hall \"main\": [hall.work_orders] deadline_working_days must be 1-60, got 0"),
            ("holiday not a date",
             doc("", KIOSK, &hall_with("[hall.work_orders]\nholidays = [\"10-01\"]")),
             "hall \"main\": [hall.work_orders] holidays: \"10-01\" is not a date yyyy-mm-dd"),
            ("item served by no window",
             doc("", KIOSK, &HALL.replace("universal = true", "items = [\"A\"]")),
             "hall \"main\": item B is served by no window"),
            ("item code two letters", doc("", KIOSK, &HALL.replace("code = \"A\"", "code = \"AB\"")),
             "item code must be one capital letter A-Z, got \"AB\""),
            ("item twice", doc("", KIOSK, &HALL.replace("code = \"B\"", "code = \"A\"")),
             "hall \"main\": item A is defined twice"),
            ("no token", doc("", "", HALL), "no [[token]] is defined"),
            ("token too short",
             doc("", &token("token = \"short-secret\"\nrole = \"kiosk\"\nhall = \"main\""), HALL),
             "[[token]] #1 (role kiosk): token is 12 characters; use at least 16"),
            ("token with a space",
             doc("", &token("token = \"kiosk-token-0123456789 \"\nrole = \"kiosk\"\nhall = \"main\""), HALL),
             "token contains spaces"),
            ("token twice", doc("", &format!("{KIOSK}{KIOSK}"), HALL),
             "[[token]] #1 and #2 are the same token"),
            ("unknown role",
             doc("", &token("token = \"kiosk-token-0123456789\"\nrole = \"boss\"\nhall = \"main\""), HALL),
             "unknown variant `boss`"),
            ("kiosk without hall",
             doc("", &token("token = \"kiosk-token-0123456789\"\nrole = \"kiosk\""), HALL),
             "[[token]] #1 (role kiosk): hall is missing (only role admin may leave it out"),
            ("token for unknown hall",
             doc("", &token("token = \"kiosk-token-0123456789\"\nrole = \"display\"\nhall = \"east\""), HALL),
             "[[token]] #1 (role display): hall \"east\" is not defined"),
            ("window token without window",
             doc("", &token("token = \"window-token-0123456789\"\nrole = \"window\"\nhall = \"main\""), HALL),
             "[[token]] #1 (role window): window is missing"),
            ("window token for unknown window",
             doc("", &token("token = \"window-token-0123456789\"\nrole = \"window\"\nhall = \"main\"\nwindow = 9"), HALL),
             "[[token]] #1 (role window): window 9 is not defined in hall \"main\""),
            ("window on a kiosk token",
             doc("", &token("token = \"kiosk-token-0123456789\"\nrole = \"kiosk\"\nhall = \"main\"\nwindow = 1"), HALL),
             "window = 1 is only for role window, not kiosk"),
        ];
        for (name, text, expected) in cases {
            let err = error_of(&text);
            assert!(
                err.contains(expected),
                "{name}: expected {expected:?} in:\n{err}"
            );
            assert!(err.starts_with("config test.toml: "), "{name}: {err}");
        }
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let text = doc(
            "shutdown_grace_secs = 0",
            "",
            &HALL.replace("\"main\"", "\"Main\""),
        );
        let err = error_of(&text);
        assert!(
            err.starts_with("config test.toml: 3 problems:\n  - "),
            "{err}"
        );
        assert!(err.contains("shutdown_grace_secs"), "{err}");
        assert!(err.contains("hall \"Main\": id must be"), "{err}");
        assert!(err.contains("no [[token]]"), "{err}");
    }
}
