//! The daemon's configuration: one TOML file, read once at start and turned
//! into a typed, validated [`Config`] before the runtime starts.
//!
//! Two layers. The private `Raw*` structs mirror the file: serde with
//! `deny_unknown_fields`, so a misspelt key is an error instead of a setting
//! silently left at its default, and named defaults (`DEFAULT_*`), so the
//! defaults are written down once and the example config can quote them.
//! [`Config`] is what the rest of the daemon uses; it is only built by
//! checking a raw one, so a `Config` that exists has passed every check and
//! nothing downstream re-validates.
//!
//! A bad config stops the daemon before it listens: `main` prints the
//! [`ConfigError`] to stderr and exits with [`EX_CONFIG`]. The error names
//! the file and every problem found, not just the first, so a hall's IT
//! staff can fix the file in one go.
//!
//! Client tokens are [`Secret`]s: `Debug` and `Display` print `***`, so a
//! logged config, token grant or error message never carries one.
//!
//! This is the bottom layer of the daemon: it imports from no other module
//! of it, so anything may read the config without a circle.
//!
//! | file                | holds                                                          |
//! |---------------------|----------------------------------------------------------------|
//! | `mod.rs`            | [`Config`], [`HallConfig`], [`ConfigError`]: load and parse     |
//! | `schema.rs`         | the layout of the file (`Raw*`), `[limits]`, named defaults     |
//! | `validate.rs`       | raw → [`Config`]: the checks, every problem collected           |
//! | `tokens.rs`         | `[[token]]`, [`Secret`], SHA-256, [`Config::grant_for`]         |
//! | `cluster_config.rs` | `[cluster]`: etcd endpoints, this node, its lease               |
//! | `templates.rs`      | `[hall.templates]`: [`Templates`], the texts and their defaults |
//! | `fixtures.rs`       | tests only: the config documents the unit tests vary            |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hallq_core::HallSpec;

mod alerts_config;
mod cluster_config;
#[cfg(test)]
mod fixtures;
mod schema;
mod templates;
mod tokens;
mod validate;

pub use alerts_config::AlertRecipients;
pub use cluster_config::{ClusterConfig, DEFAULT_LEASE_TTL_SECS};
pub use hallq_proto::types::Role;
pub use schema::{
    Limits, LogFormat, RoleLimits, DEFAULT_SHUTDOWN_GRACE_SECS, DEFAULT_SMS_PER_PHONE_PER_HOUR,
    DEFAULT_TIMEZONE_OFFSET_MINUTES, DEFAULT_WAIT_TARGET_MINUTES,
};
pub use templates::Templates;
pub use tokens::{
    random_token, sha256_hex, ExportKey, Secret, TokenCheck, TokenGrant, MIN_EXPORT_KEY_LEN,
    MIN_TOKEN_LEN,
};
pub use validate::{MAX_HALL_ID_LEN, TIMEZONE_OFFSET_RANGE};

use schema::RawConfig;

/// Exit status for an unusable config: `EX_USAGE` from BSD `sysexits.h`, as
/// linkerd2-proxy uses, so a supervisor can tell "fix the file" apart from a
/// crash and stop restarting.
pub const EX_CONFIG: i32 = 64;

/// The bundled demo hall that `hallqd` runs with no arguments
/// (`config/demo.toml`).
pub const DEMO_TOML: &str = include_str!("../../../config/demo.toml");

/// The daemon's validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// UDP address the QUIC endpoint binds.
    pub listen: SocketAddr,
    /// Where the journal (and a generated TLS pair) are kept.
    pub state_dir: PathBuf,
    /// The certificate and key to present; `None` means a self-signed pair is
    /// generated once in `state_dir` and reused.
    pub tls: Option<TlsFiles>,
    /// Every client's token and what it grants; tokens are unique.
    pub tokens: Vec<TokenGrant>,
    /// The halls this daemon serves; ids are unique, at least one.
    pub halls: Vec<HallConfig>,
    /// How long a graceful shutdown may take.
    pub shutdown_grace: Duration,
    /// How logs are written.
    pub log_format: LogFormat,
    /// Where the Prometheus endpoint (`/metrics`, `/healthz`) listens, if
    /// anywhere (HTTP, TCP).
    pub metrics_listen: Option<SocketAddr>,
    /// Limits that keep one misbehaving client from hurting the others.
    pub limits: Limits,
    /// `[cluster]`: several daemons share the halls through etcd. `None`:
    /// this daemon alone serves every hall from its local journal.
    pub cluster: Option<ClusterConfig>,
}

/// The TLS certificate chain and private key files (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The leaf's private key.
    pub key: PathBuf,
}

/// One hall: its name, its clock and what the dispatch core runs.
#[derive(Debug, Clone, PartialEq)]
pub struct HallConfig {
    /// Short id (1–32 of `a-z0-9_-`): used in tokens, file names and metric
    /// labels, hence the narrow alphabet.
    pub id: String,
    /// The hall's name for people ("政务服务中心").
    pub name: String,
    /// Local time minus UTC, in minutes: where the business day starts.
    pub timezone_offset_minutes: i32,
    /// Items, windows and dispatch settings, already checked by
    /// [`HallSpec::validate`].
    pub spec: HallSpec,
    /// Message texts (`[hall.templates]`), the Chinese defaults where not set.
    pub templates: Templates,
    /// The key of the keyed hash (HMAC-SHA256) that stands for phone
    /// numbers in exports (`export_key`); none: exports carry no phone.
    pub export_key: Option<ExportKey>,
    /// SPEC §6: what one phone may hold (`bookings_per_phone_per_day`,
    /// `active_tickets_per_phone_per_item`).
    pub phone_limits: hallq_core::PhoneLimits,
    /// SPEC §6: visitor messages one phone gets per hour
    /// (`sms_per_phone_per_hour`, 0: no limit).
    pub sms_per_phone_per_hour: u32,
    /// Who may call and when a no-show may be recorded
    /// (`require_login_to_call`, `no_show_min_seconds`, `no_show_after_recall`).
    pub counter_rules: hallq_core::CounterRules,
    /// The hall's waiting target in seconds (`wait_target_minutes`).
    pub wait_target_secs: u64,
    /// The visitor's phone page (issue 18): `visitor_url`,
    /// `step_back_places`, `clerk_rating`.
    pub visitor: VisitorSettings,
    /// Issue 21, `[hall.alerts]`: when managers are alerted.
    pub alerts: hallq_core::AlertSettings,
    /// Issue 21, `[hall.alerts] manager_phones` and `webhook`: whom alerts
    /// go to.
    pub alert_recipients: AlertRecipients,
    /// Issue 21, `[hall.work_orders]`: deadlines of 差评工单.
    pub work_order_rules: hallq_core::WorkOrderRules,
}

/// What a hall lets its visitors do from their phones (issue 18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorSettings {
    /// `visitor_url`: the phone page's public address as visitors reach it
    /// (`https://q.example.gov.cn`, no trailing slash); links are
    /// `<visitor_url>/t/<token>`. `None`: slips carry no link.
    pub url: Option<String>,
    /// `step_back_places`: how far "I need more time" moves a ticket.
    pub step_back_places: u32,
    /// `clerk_rating`: the window terminal may enter the rating on the
    /// visitor's behalf (off by default: 好差评 is the visitor's own, 国办发
    /// 〔2019〕51号).
    pub clerk_rating: bool,
    /// 线上取号 (issue 18 item 4): `remote_tickets` (off by default), and
    /// its limits `remote_code_seconds` (how long a code is good for) and
    /// `remote_codes_per_phone` (codes one phone may ask for in 10
    /// minutes).
    pub remote: RemoteSettings,
}

/// 线上取号's switch and limits (issue 18 item 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteSettings {
    /// `remote_tickets`: the hall page gives numbers from outside.
    pub enabled: bool,
    /// `remote_code_seconds`: a code's life.
    pub code_secs: u32,
    /// `remote_codes_per_phone`: codes one phone may ask for per 10 minutes.
    pub codes_per_phone: u32,
}

impl RemoteSettings {
    /// Default `remote_code_seconds`: five minutes, as SMS codes usually are.
    pub const DEFAULT_CODE_SECS: u32 = 300;
    /// Default `remote_codes_per_phone` (per 10 minutes).
    pub const DEFAULT_CODES_PER_PHONE: u32 = 3;
    /// Wrong tries a code allows before it is void.
    pub const TRIES: u32 = 3;
}

impl Default for RemoteSettings {
    fn default() -> Self {
        RemoteSettings {
            enabled: false,
            code_secs: Self::DEFAULT_CODE_SECS,
            codes_per_phone: Self::DEFAULT_CODES_PER_PHONE,
        }
    }
}

impl VisitorSettings {
    /// Default `step_back_places`.
    pub const DEFAULT_STEP_BACK_PLACES: u32 = 3;
    /// Most `step_back_places` accepted.
    pub const MAX_STEP_BACK_PLACES: u32 = 100;
}

impl Default for VisitorSettings {
    fn default() -> Self {
        VisitorSettings {
            url: None,
            step_back_places: Self::DEFAULT_STEP_BACK_PLACES,
            clerk_rating: false,
            remote: RemoteSettings::default(),
        }
    }
}

/// Why a config could not be used. Every message starts with
/// `config <file>:`; the underlying I/O or TOML error is part of the message
/// (not a `source()`), because `main` prints it once and exits.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config {origin}: cannot read the file: {error}")]
    Read {
        /// The file.
        origin: String,
        /// Why.
        error: std::io::Error,
    },
    /// Not valid TOML, or a key or value the config does not have. toml's
    /// message carries the line, the column and the offending text.
    #[error("config {origin}: {}", error.to_string().trim_end())]
    Parse {
        /// The file.
        origin: String,
        /// The parser's complaint.
        error: toml::de::Error,
    },
    /// Well-formed but inconsistent: every problem found, each a sentence
    /// naming the hall or token it concerns.
    #[error("config {origin}: {}", list_problems(problems))]
    Invalid {
        /// The file.
        origin: String,
        /// At least one problem.
        problems: Vec<String>,
    },
}

/// Unknown keys reported in one go at most; past that the file is likely
/// not a hallqd config at all.
const MAX_UNKNOWN_KEYS: usize = 32;

/// `message` with the line and column of byte `at` of `text`.
fn located(text: &str, at: usize, message: &str) -> String {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {}", message.trim_end())
}

/// Turns the key at byte `at` into a comment, if it begins its line (a key
/// inside an inline table is left: commenting it would break the rest).
fn comment_out(text: &mut String, at: usize) -> bool {
    let line_start = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let alone = text[line_start..at].chars().all(|c| c == ' ' || c == '\t');
    if !alone || !text.as_bytes().get(at).is_some_and(u8::is_ascii) {
        return false;
    }
    text.replace_range(at..at + 1, "#");
    true
}

/// One problem inline; several as an indented list under a count.
fn list_problems(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => {
            let mut out = format!("{} problems:", many.len());
            for p in many {
                out.push_str("\n  - ");
                out.push_str(p);
            }
            out
        }
    }
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            origin: origin.clone(),
            error,
        })?;
        Config::from_toml_str(&text, &origin)
    }

    /// Parses and validates `text`; `origin` names it in errors (a path, or
    /// something like `"<demo>"`).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        // Issue 19: an unknown key used to hide every other problem (serde
        // stops at the first). Each unknown key standing on a line of its
        // own is noted, commented out (same byte offsets, so lines and
        // columns stay true) and the file read again, so one start reports
        // the typos and the inconsistencies together.
        let mut text = text.to_owned();
        let mut unknown = Vec::new();
        let raw = loop {
            match toml::from_str::<RawConfig>(&text) {
                Ok(raw) => break Some(raw),
                Err(error) => {
                    let at = error.span().map(|s| s.start);
                    let key = error.message().starts_with("unknown field");
                    match at {
                        Some(at) if key && unknown.len() < MAX_UNKNOWN_KEYS => {
                            unknown.push(located(&text, at, error.message()));
                            if comment_out(&mut text, at) {
                                continue;
                            }
                            break None;
                        }
                        _ if unknown.is_empty() => {
                            return Err(ConfigError::Parse {
                                origin: origin.to_owned(),
                                error,
                            })
                        }
                        _ => {
                            unknown.push(error.to_string().trim_end().to_owned());
                            break None;
                        }
                    }
                }
            }
        };
        let mut problems = unknown;
        if let Some(raw) = raw {
            match raw.validate() {
                Ok(config) if problems.is_empty() => return Ok(config),
                Ok(_) => {}
                Err(more) => problems.extend(more),
            }
        }
        Err(ConfigError::Invalid {
            origin: origin.to_owned(),
            problems,
        })
    }

    /// The bundled demo hall ([`DEMO_TOML`]) with its state kept in
    /// `state_dir`.
    pub fn demo(state_dir: PathBuf) -> Config {
        // The demo is compiled in and checked by this module's tests, so a
        // failure here is a bug in the build, not something a user can fix.
        let mut config = Config::from_toml_str(DEMO_TOML, "<bundled demo>")
            .unwrap_or_else(|e| panic!("the bundled demo config is invalid: {e}"));
        config.state_dir = state_dir;
        config
    }

    /// The hall with this id.
    pub fn hall(&self, id: &str) -> Option<&HallConfig> {
        self.halls.iter().find(|h| h.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use hallq_core::WindowSpec;
    use hallq_proto::types::{ItemCode, WindowNo};

    const EXAMPLE_TOML: &str = include_str!("../../../config/hallq.toml");

    fn item(c: char) -> ItemCode {
        ItemCode::new(c).unwrap()
    }

    #[test]
    fn demo_parses_and_has_the_demo_hall() {
        let c = Config::demo(PathBuf::from("/tmp/demo-state"));
        assert_eq!(c.state_dir, PathBuf::from("/tmp/demo-state"));
        assert_eq!(c.listen, "127.0.0.1:7878".parse().unwrap());
        assert_eq!(c.halls.len(), 1);
        let hall = &c.halls[0];
        assert_eq!(hall.id, "main");
        assert_eq!(hall.name, "政务服务中心（演示）");
        assert_eq!(hall.spec.reminder_factor, 1.5);
        assert_eq!(hall.spec.walk_in_every, Some(3));

        let items: Vec<_> = hall
            .spec
            .items
            .iter()
            .map(|i| {
                (
                    i.code.letter(),
                    i.name.as_str(),
                    i.avg_service_secs,
                    i.daily_cap,
                )
            })
            .collect();
        assert_eq!(
            items,
            [
                ('A', "社保", 300, None),
                ('B', "医保", 240, None),
                ('C', "不动产登记", 600, Some(200)),
                ('D', "公积金", 180, None),
                ('E', "税务", 420, None),
            ]
        );

        let w = |n: u16, items: &[char], universal: bool, fallback: bool| WindowSpec {
            number: WindowNo(n),
            items: items.iter().map(|&c| item(c)).collect(),
            universal,
            fallback,
        };
        assert_eq!(
            hall.spec.windows,
            [
                w(1, &['A', 'B'], false, false),
                w(2, &['A'], false, false),
                w(3, &['B', 'C'], false, false),
                w(4, &['C', 'D'], false, false),
                w(5, &['D', 'E'], false, false),
                w(6, &[], true, false),
                w(7, &['E'], false, true),
            ]
        );

        // One window token per window, and one of each other role.
        for n in 1..=7 {
            assert!(c
                .tokens
                .iter()
                .any(|t| t.role == Role::Window && t.window == Some(WindowNo(n))));
        }
        for role in [
            Role::Kiosk,
            Role::Display,
            Role::Notifier,
            Role::Admin,
            Role::Visitor,
        ] {
            assert_eq!(c.tokens.iter().filter(|t| t.role == role).count(), 1);
        }
        let admin = c.grant_for(b"demo-admin-token-00001").unwrap();
        assert_eq!(admin.role, Role::Admin);
        assert!(admin.covers_hall("main") && admin.covers_hall("elsewhere"));
    }

    #[test]
    fn example_parses() {
        let c =
            Config::from_toml_str(EXAMPLE_TOML, "example.toml").unwrap_or_else(|e| panic!("{e}"));
        assert!(c.tls.is_some());
        for role in [
            Role::Kiosk,
            Role::Window,
            Role::Display,
            Role::Notifier,
            Role::Admin,
        ] {
            assert!(c.tokens.iter().any(|t| t.role == role), "no {role} token");
        }
    }

    #[test]
    fn an_unknown_key_hides_no_other_problem() {
        // Issue 19: two typos and two inconsistencies, all in one report.
        let text = doc(
            "lisen = \"0.0.0.0:1\"",
            KIOSK,
            &HALL
                .replace(
                    "universal = true",
                    "unversal = true\nitems = [\"A\", \"A\"]",
                )
                .replace("number = 1", "number = 0"),
        );
        let err = error_of(&text);
        for part in [
            "unknown field `lisen`",
            "unknown field `unversal`",
            "line 3, column 1",
            "window number 0",
            "lists item A twice",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        assert!(err.contains("problems:"), "{err}");
    }

    #[test]
    fn a_window_listing_an_item_twice_or_numbered_0_is_refused() {
        let twice = error_of(&doc(
            "",
            KIOSK,
            &HALL.replace("items = [\"A\"]", "items = [\"A\", \"A\"]"),
        ));
        assert!(twice.contains("window 1 lists item A twice"), "{twice}");
        let zero = error_of(&doc("", KIOSK, &HALL.replace("number = 1", "number = 0")));
        assert!(zero.contains("window number 0"), "{zero}");
    }

    #[test]
    fn remote_tickets_are_off_by_default_and_their_limits_are_checked() {
        let c = parse(&doc("", KIOSK, HALL)).unwrap();
        assert_eq!(c.halls[0].visitor.remote, RemoteSettings::default());
        assert!(!c.halls[0].visitor.remote.enabled);
        let on = HALL.replace(
            "name = \"测试大厅\"",
            "name = \"测试大厅\"\nremote_tickets = true\nremote_code_seconds = 120\nremote_codes_per_phone = 5",
        );
        let c = parse(&doc("", KIOSK, &on)).unwrap();
        assert_eq!(
            c.halls[0].visitor.remote,
            RemoteSettings {
                enabled: true,
                code_secs: 120,
                codes_per_phone: 5
            }
        );
        let bad = HALL.replace(
            "name = \"测试大厅\"",
            "name = \"测试大厅\"\nremote_code_seconds = 0\nremote_codes_per_phone = 0\n\
             [hall.templates]\nremote_code = \"没有验证码\"",
        );
        let err = error_of(&doc("", KIOSK, &bad));
        assert!(err.contains("remote_code_seconds must be 1-1800"), "{err}");
        assert!(err.contains("remote_codes_per_phone must be 1-20"), "{err}");
        assert!(
            err.contains("templates.remote_code must contain {code}"),
            "{err}"
        );
    }

    #[test]
    fn parse_errors_carry_line_and_column() {
        let err = error_of(&doc("", KIOSK, HALL).replace("number = 1", "number = \"one\""));
        assert!(err.contains("line "), "{err}");
        assert!(err.contains("column "), "{err}");
    }

    #[test]
    fn load_reads_a_file_and_names_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let err = Config::load(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "config {}: cannot read the file: ",
                missing.display()
            )),
            "{err}"
        );

        let file = dir.path().join("hallq.toml");
        std::fs::write(&file, doc("", KIOSK, HALL)).unwrap();
        let c = Config::load(&file).unwrap();
        assert_eq!(c.halls[0].id, "main");

        std::fs::write(
            &file,
            doc("", KIOSK, &HALL.replace("number = 2", "number = 1")),
        )
        .unwrap();
        let err = Config::load(&file).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "config {}: hall \"main\": window 1 is defined twice",
                file.display()
            )
        );
    }
}
