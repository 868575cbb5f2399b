//! The config file as written: serde structs that mirror the TOML, key for
//! key, with `deny_unknown_fields` and named defaults.
//!
//! The `Raw*` types are private to the config room: `validate.rs` turns
//! them into the typed [`Config`](super::Config). The sections with a file
//! of their own keep their raw form there (`[[token]]` in `tokens.rs`,
//! `[hall.templates]` in `templates.rs`, `[cluster]` in
//! `cluster_config.rs`); the layout of the whole file is here. `[limits]`
//! and `log_format` need no more than serde and an "at least 1" check, so
//! they are read straight into the public types kept here.

use std::path::PathBuf;

use hallq_core::{HallDay, HallSpec};
use hallq_proto::types::{ItemCode, Role, WindowNo};
use serde::{Deserialize, Deserializer};

use super::templates::RawTemplates;
use super::tokens::RawToken;
use super::{ClusterConfig, Secret};

/// Default `shutdown_grace_secs`: how long a shutdown waits for in-flight
/// requests and the journal to drain before it gives up and says so.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;

/// Default `timezone_offset_minutes`: UTC+8, China Standard Time. The offset
/// decides when a hall's business day starts (ticket numbers restart daily).
pub const DEFAULT_TIMEZONE_OFFSET_MINUTES: i32 = 8 * 60;

/// `[limits]`: what one client, or all of them, may take of the daemon.
/// Every limit refuses with a clear error or close reason and counts in the
/// metrics.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open connections in all.
    pub connections: usize,
    /// Open connections per role.
    pub per_role: RoleLimits,
    /// Requests (streams) a connection may have open at once.
    pub streams_per_connection: u32,
    /// Requests per second a connection may make, sustained; bursts of up
    /// to twice that are allowed. A kiosk stuck in a loop is slowed down
    /// alone and cannot starve window terminals.
    pub requests_per_second: u32,
    /// Seconds a request may take to arrive whole after its stream opened:
    /// a client that opens streams and never finishes a frame (slow loris)
    /// is cut off.
    pub frame_timeout_secs: u64,
    /// Seconds of silence after which a connection is closed (clients send
    /// keep-alives every 2 s).
    pub idle_timeout_secs: u64,
    /// Display subscribers per hall.
    pub displays_per_hall: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 16384,
            per_role: RoleLimits::default(),
            streams_per_connection: 64,
            requests_per_second: 100,
            frame_timeout_secs: 10,
            idle_timeout_secs: 30,
            displays_per_hall: 2048,
        }
    }
}

/// `[limits.per_role]`: open connections per role.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoleLimits {
    /// Kiosks.
    pub kiosk: usize,
    /// Window terminals.
    pub window: usize,
    /// Display boards (each board process is one connection).
    pub display: usize,
    /// SMS gateway bridges.
    pub notifier: usize,
    /// Admin tools.
    pub admin: usize,
    /// Visitor page processes (`hallq visitor --serve`; issue 18).
    pub visitor: usize,
}

impl Default for RoleLimits {
    fn default() -> Self {
        RoleLimits {
            kiosk: 512,
            window: 1024,
            display: 8192,
            notifier: 16,
            admin: 64,
            visitor: 16,
        }
    }
}

impl RoleLimits {
    /// The limit for `role`.
    pub fn of(&self, role: Role) -> usize {
        match role {
            Role::Kiosk => self.kiosk,
            Role::Window => self.window,
            Role::Display => self.display,
            Role::Notifier => self.notifier,
            Role::Admin => self.admin,
            Role::Visitor => self.visitor,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

fn default_shutdown_grace_secs() -> u64 {
    DEFAULT_SHUTDOWN_GRACE_SECS
}
fn default_reminder_factor() -> f64 {
    HallSpec::DEFAULT_REMINDER_FACTOR
}
fn default_max_wait_secs() -> u32 {
    HallSpec::DEFAULT_MAX_WAIT_SECS
}
fn default_reinstate_places() -> u32 {
    HallSpec::DEFAULT_REINSTATE_PLACES
}
fn default_timezone_offset_minutes() -> i32 {
    DEFAULT_TIMEZONE_OFFSET_MINUTES
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    // A string, not a `SocketAddr`, so a bad address gets our message (which
    // says host names are not resolved) rather than serde's.
    pub(super) listen: String,
    pub(super) state_dir: PathBuf,
    #[serde(default = "default_shutdown_grace_secs")]
    pub(super) shutdown_grace_secs: u64,
    #[serde(default)]
    pub(super) log_format: LogFormat,
    #[serde(default)]
    pub(super) metrics_listen: Option<String>,
    #[serde(default)]
    pub(super) limits: Limits,
    #[serde(default)]
    pub(super) tls: Option<RawTls>,
    #[serde(default, rename = "token")]
    pub(super) tokens: Vec<RawToken>,
    #[serde(default, rename = "hall")]
    pub(super) halls: Vec<RawHall>,
    #[serde(default)]
    pub(super) cluster: Option<ClusterConfig>,
}

// Both optional here so that "one without the other" is our error, which
// says what the missing half is for, instead of serde's "missing field".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) cert: Option<PathBuf>,
    pub(super) key: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHall {
    pub(super) id: String,
    pub(super) name: String,
    #[serde(default = "default_reminder_factor")]
    pub(super) reminder_factor: f64,
    pub(super) walk_in_every: Option<u32>,
    #[serde(default = "default_max_wait_secs")]
    pub(super) max_wait_secs: u32,
    #[serde(default = "default_reinstate_places")]
    pub(super) reinstate_places: u32,
    #[serde(default = "default_timezone_offset_minutes")]
    pub(super) timezone_offset_minutes: i32,
    #[serde(default, rename = "item")]
    pub(super) items: Vec<RawItem>,
    #[serde(default, rename = "window")]
    pub(super) windows: Vec<RawWindow>,
    #[serde(default)]
    pub(super) templates: RawTemplates,
    pub(super) export_key: Option<Secret>,
    /// `[hall.hours]`; absent: always open.
    #[serde(default)]
    pub(super) hours: Option<RawHours>,
    /// `[hall.appointments]`.
    #[serde(default)]
    pub(super) appointments: Option<RawAppointments>,
    /// SPEC §6: appointments one phone may hold on one day (0: no limit).
    #[serde(default = "default_bookings_per_phone_per_day")]
    pub(super) bookings_per_phone_per_day: u32,
    /// SPEC §6: tickets one phone may hold of one item at once (0: no limit).
    #[serde(default = "default_active_tickets_per_phone_per_item")]
    pub(super) active_tickets_per_phone_per_item: u32,
    /// SPEC §6: visitor messages one phone gets per hour (0: no limit).
    #[serde(default = "default_sms_per_phone_per_hour")]
    pub(super) sms_per_phone_per_hour: u32,
    /// AB岗: a window calls only with staff logged in (default off).
    #[serde(default)]
    pub(super) require_login_to_call: bool,
    /// 过号 only this many seconds after the call (default 0: none).
    #[serde(default)]
    pub(super) no_show_min_seconds: u32,
    /// 过号 only after one recall (重呼) (default off).
    #[serde(default)]
    pub(super) no_show_after_recall: bool,
    /// The hall's waiting target: `hallq stats` gives the share of visitors
    /// who waited longer.
    #[serde(default = "default_wait_target_minutes")]
    pub(super) wait_target_minutes: u32,
    /// Issue 18: the phone page's public base URL.
    pub(super) visitor_url: Option<String>,
    /// Issue 18: how far "I need more time" moves a ticket.
    #[serde(default = "default_step_back_places")]
    pub(super) step_back_places: u32,
    /// Issue 18: the window terminal may enter ratings (off by default).
    #[serde(default)]
    pub(super) clerk_rating: bool,
    /// Issue 18 item 4: 线上取号 from the hall page (off by default).
    #[serde(default)]
    pub(super) remote_tickets: bool,
    /// Issue 18 item 4: how long a one-time code is good for.
    #[serde(default = "default_remote_code_seconds")]
    pub(super) remote_code_seconds: u32,
    /// Issue 18 item 4: codes one phone may ask for in 10 minutes.
    #[serde(default = "default_remote_codes_per_phone")]
    pub(super) remote_codes_per_phone: u32,
    /// Issue 21: `[hall.alerts]`.
    #[serde(default)]
    pub(super) alerts: super::alerts_config::RawAlerts,
    /// Issue 21: `[hall.work_orders]`.
    #[serde(default)]
    pub(super) work_orders: super::alerts_config::RawWorkOrders,
}

fn default_remote_code_seconds() -> u32 {
    super::RemoteSettings::DEFAULT_CODE_SECS
}

fn default_remote_codes_per_phone() -> u32 {
    super::RemoteSettings::DEFAULT_CODES_PER_PHONE
}

fn default_step_back_places() -> u32 {
    super::VisitorSettings::DEFAULT_STEP_BACK_PLACES
}

/// Default `wait_target_minutes`: many provincial halls promise a wait
/// under 30 minutes (最多等候30分钟).
pub const DEFAULT_WAIT_TARGET_MINUTES: u32 = 30;

fn default_wait_target_minutes() -> u32 {
    DEFAULT_WAIT_TARGET_MINUTES
}

fn default_sms_per_phone_per_hour() -> u32 {
    DEFAULT_SMS_PER_PHONE_PER_HOUR
}

/// Default `sms_per_phone_per_hour`: a visitor with a ticket and a booking
/// gets about five messages a day; ten an hour leaves room.
pub const DEFAULT_SMS_PER_PHONE_PER_HOUR: u32 = 10;

fn default_bookings_per_phone_per_day() -> u32 {
    hallq_core::PhoneLimits::DEFAULT_BOOKINGS_PER_DAY
}

fn default_active_tickets_per_phone_per_item() -> u32 {
    hallq_core::PhoneLimits::DEFAULT_ACTIVE_TICKETS_PER_ITEM
}

/// One time span per weekday, each `"09:00-17:00"` or `"closed"`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeek {
    pub(super) mon: Option<String>,
    pub(super) tue: Option<String>,
    pub(super) wed: Option<String>,
    pub(super) thu: Option<String>,
    pub(super) fri: Option<String>,
    pub(super) sat: Option<String>,
    pub(super) sun: Option<String>,
}

impl RawWeek {
    pub(super) fn days(&self) -> [&Option<String>; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }
}

/// `[hall.hours]`: opening hours (seed 000 §四(八)).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHours {
    pub(super) mon: Option<String>,
    pub(super) tue: Option<String>,
    pub(super) wed: Option<String>,
    pub(super) thu: Option<String>,
    pub(super) fri: Option<String>,
    pub(super) sat: Option<String>,
    pub(super) sun: Option<String>,
    /// `"12:00-13:30"` (default) or `"none"`.
    pub(super) lunch: Option<String>,
    /// `[hall.hours.extended]`: extended hours (延时服务), appointments only.
    #[serde(default)]
    pub(super) extended: RawWeek,
}

/// `[hall.appointments]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAppointments {
    #[serde(default = "default_slot_minutes")]
    pub(super) slot_minutes: u16,
    #[serde(default = "default_check_in_early_minutes")]
    pub(super) check_in_early_minutes: u16,
}

fn default_slot_minutes() -> u16 {
    HallDay::DEFAULT_SLOT_MINUTES
}
fn default_check_in_early_minutes() -> u16 {
    HallDay::DEFAULT_CHECK_IN_EARLY_MINUTES
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawItem {
    #[serde(deserialize_with = "item_code")]
    pub(super) code: ItemCode,
    pub(super) name: String,
    pub(super) avg_service_secs: u32,
    pub(super) daily_cap: Option<u32>,
    /// Bookings per appointment slot; absent or 0: no appointments.
    #[serde(default)]
    pub(super) appointment_capacity: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    pub(super) number: WindowNo,
    #[serde(default, deserialize_with = "item_codes")]
    pub(super) items: Vec<ItemCode>,
    #[serde(default)]
    pub(super) universal: bool,
    #[serde(default)]
    pub(super) fallback: bool,
    /// Staffed through the lunch duty period (§四(八)2).
    #[serde(default)]
    pub(super) duty: bool,
}

// `ItemCode`'s own Deserialize reads a `char`, whose error for "AB" is a
// generic "expected a character"; parsing the string gives the type's own
// message ("one capital letter A-Z") at the same line and column.
fn item_code<'de, D: Deserializer<'de>>(d: D) -> Result<ItemCode, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

fn item_codes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ItemCode>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::fixtures::*;
    use super::super::TlsFiles;
    use super::*;

    #[test]
    fn base_document_is_valid_and_gets_the_defaults() {
        let c = parse(&doc("", KIOSK, HALL)).unwrap();
        assert_eq!(c.listen, "127.0.0.1:7878".parse().unwrap());
        assert_eq!(
            c.shutdown_grace,
            Duration::from_secs(DEFAULT_SHUTDOWN_GRACE_SECS)
        );
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.tls.is_none());
        let hall = c.hall("main").unwrap();
        assert_eq!(hall.timezone_offset_minutes, 480);
        assert_eq!(hall.spec.reminder_factor, HallSpec::DEFAULT_REMINDER_FACTOR);
        assert_eq!(hall.spec.max_wait_secs, HallSpec::DEFAULT_MAX_WAIT_SECS);
        assert_eq!(
            hall.spec.reinstate_places,
            HallSpec::DEFAULT_REINSTATE_PLACES
        );
        assert_eq!(hall.spec.walk_in_every, None);
        assert_eq!(hall.spec.items[0].daily_cap, None);
        assert!(!hall.spec.windows[0].fallback);
        // Counter rules off by default: existing halls keep working.
        assert_eq!(hall.counter_rules, hallq_core::CounterRules::NONE);
        assert_eq!(hall.wait_target_secs, 30 * 60);
        // Issue 21: alerts on, to nobody's phone; work orders due in 10
        // working days (seed 000 §四(六)6).
        assert_eq!(
            hall.alerts,
            hallq_core::AlertSettings {
                wait_target_secs: 30 * 60,
                ..hallq_core::AlertSettings::default()
            }
        );
        assert_eq!(
            hall.alert_recipients,
            crate::config::AlertRecipients::default()
        );
        assert_eq!(hall.work_order_rules.deadline_working_days, 10);
    }

    #[test]
    fn alert_and_work_order_settings_are_read() {
        let halls = HALL.replace(
            "name = \"测试大厅\"",
            "name = \"测试大厅\"\nwait_target_minutes = 20\n[hall.alerts]\n\
             manager_phones = [\"13800138000\"]\npaused_max_minutes = 15\n\
             unstaffed_max_minutes = 2\nidle_max_minutes = 3\nwait_clear_margin_minutes = 4\n\
             raise_after_seconds = 30\nclear_after_seconds = 120\nevent_alert_minutes = 60\n\
             [hall.work_orders]\ndeadline_working_days = 5\nholidays = [\"2026-10-01\"]",
        );
        let c = parse(&doc("", KIOSK, &halls)).unwrap();
        let hall = &c.halls[0];
        assert_eq!(
            hall.alerts,
            hallq_core::AlertSettings {
                wait_target_secs: 1200,
                wait_clear_margin_secs: 240,
                paused_max_secs: 900,
                unstaffed_max_secs: 120,
                idle_max_secs: 180,
                raise_after_secs: 30,
                clear_after_secs: 120,
                event_hold_secs: 3600,
            }
        );
        assert_eq!(hall.alert_recipients.phones[0].expose(), "13800138000");
        assert!(!hall.alert_recipients.webhook);
        assert_eq!(hall.work_order_rules.deadline_working_days, 5);
        assert!(hall.work_order_rules.holidays.contains(&20261001));
    }

    #[test]
    fn counter_rules_and_the_wait_target_are_read() {
        let halls = HALL.replace(
            "name = \"测试大厅\"",
            "name = \"测试大厅\"\nrequire_login_to_call = true\nno_show_min_seconds = 180\n\
             no_show_after_recall = true\nwait_target_minutes = 20",
        );
        let c = parse(&doc("", KIOSK, &halls)).unwrap();
        let hall = &c.halls[0];
        assert_eq!(
            hall.counter_rules,
            hallq_core::CounterRules {
                require_login_to_call: true,
                no_show_min_secs: 180,
                no_show_after_recall: true,
            }
        );
        assert_eq!(hall.wait_target_secs, 20 * 60);
        // A misspelt rule is an error, not a silent default.
        let halls = HALL.replace(
            "name = \"测试大厅\"",
            "name = \"测试大厅\"\nno_show_min_secs = 1",
        );
        assert!(parse(&doc("", KIOSK, &halls)).is_err());
    }

    #[test]
    fn every_setting_is_read() {
        let halls = HALL.replace(
            "name = \"测试大厅\"",
            "name = \"测试大厅\"\nreminder_factor = 2\nwalk_in_every = 4\nmax_wait_secs = 60\n\
             reinstate_places = 5\ntimezone_offset_minutes = -300",
        );
        let top = "shutdown_grace_secs = 30\nlog_format = \"json\"\n\
                   [tls]\ncert = \"/etc/hallq/cert.pem\"\nkey = \"/etc/hallq/key.pem\"\n";
        let c = parse(&doc(top, KIOSK, &halls)).unwrap();
        assert_eq!(c.shutdown_grace, Duration::from_secs(30));
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(
            c.tls,
            Some(TlsFiles {
                cert: "/etc/hallq/cert.pem".into(),
                key: "/etc/hallq/key.pem".into()
            })
        );
        let hall = &c.halls[0];
        // An integer where a float is expected is fine: people write `2`.
        assert_eq!(hall.spec.reminder_factor, 2.0);
        assert_eq!(hall.spec.walk_in_every, Some(4));
        assert_eq!(hall.spec.max_wait_secs, 60);
        assert_eq!(hall.spec.reinstate_places, 5);
        assert_eq!(hall.timezone_offset_minutes, -300);
    }

    #[test]
    fn unknown_keys_are_named() {
        for (text, key) in [
            (doc("lisen = \"0.0.0.0:1\"", KIOSK, HALL), "lisen"),
            (
                doc("", &KIOSK.replace("hall = ", "halls = "), HALL),
                "halls",
            ),
            (
                doc("", KIOSK, &HALL.replace("universal", "unversal")),
                "unversal",
            ),
            (
                doc(
                    "",
                    KIOSK,
                    &HALL.replace("avg_service_secs = 240", "avg_secs = 240"),
                ),
                "avg_secs",
            ),
            (
                doc("[tls]\ncert = \"c\"\nkey = \"k\"\nca = \"x\"", KIOSK, HALL),
                "ca",
            ),
        ] {
            let err = error_of(&text);
            assert!(
                err.contains(&format!("unknown field `{key}`")),
                "{key}: {err}"
            );
        }
    }
}
