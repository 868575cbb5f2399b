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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hallq_proto::types::{ItemCode, WindowNo};
use serde::{Deserialize, Deserializer};

use hallq_core::{DispatchError, HallDay, HallSpec, ItemSpec, Span, WindowSpec};
use crate::fanout::outbox::Templates;

/// Exit status for an unusable config: `EX_USAGE` from BSD `sysexits.h`, as
/// linkerd2-proxy uses, so a supervisor can tell "fix the file" apart from a
/// crash and stop restarting.
pub const EX_CONFIG: i32 = 64;

/// The bundled demo hall that `hallqd` runs with no arguments
/// (`config/demo.toml`).
pub const DEMO_TOML: &str = include_str!("../../config/demo.toml");

/// Default `shutdown_grace_secs`: how long a shutdown waits for in-flight
/// requests and the journal to drain before it gives up and says so.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;

/// Default `timezone_offset_minutes`: UTC+8, China Standard Time. The offset
/// decides when a hall's business day starts (ticket numbers restart daily).
pub const DEFAULT_TIMEZONE_OFFSET_MINUTES: i32 = 8 * 60;

/// Allowed `timezone_offset_minutes`: the offsets in use on Earth, UTC−12:00
/// to UTC+14:00.
pub const TIMEZONE_OFFSET_RANGE: RangeInclusive<i32> = -720..=840;

/// Shortest token accepted. A token is the only thing that stops anyone on
/// the hall's network from calling tickets or reading visitors' data, so it
/// must not be guessable: 16 characters of `openssl rand -hex` is 64 bits.
pub const MIN_TOKEN_LEN: usize = 16;

/// Longest hall id accepted.
pub const MAX_HALL_ID_LEN: usize = 32;

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

/// `[cluster]`: hall ownership and a fenced, replicated journal on etcd.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// etcd's client URLs (`http://10.0.0.1:2379`); any member will do, the
    /// others are tried when one fails.
    pub endpoints: Vec<String>,
    /// This daemon's name in the cluster: unique, stable across restarts.
    pub node: String,
    /// Seconds this node's lease lives without a keep-alive: a dead node's
    /// halls are taken over after at most this long.
    #[serde(default = "default_lease_ttl_secs")]
    pub lease_ttl_secs: u64,
    /// The halls this node may own (default: every configured hall). It
    /// follows the others as a hot standby.
    #[serde(default)]
    pub halls: Option<Vec<String>>,
    /// The address clients are sent to when this node owns a hall they
    /// asked another node for (default: `listen`, which must then not be
    /// 0.0.0.0 or [::]).
    #[serde(default)]
    pub advertise: Option<String>,
    /// Every key hallq writes in etcd starts with this.
    #[serde(default = "default_cluster_prefix")]
    pub prefix: String,
}

/// `[cluster] lease_ttl_secs` when not set.
pub const DEFAULT_LEASE_TTL_SECS: u64 = 3;

fn default_lease_ttl_secs() -> u64 {
    DEFAULT_LEASE_TTL_SECS
}

fn default_cluster_prefix() -> String {
    "/hallq".to_owned()
}

impl ClusterConfig {
    /// Whether this node may own hall `id`.
    pub fn may_own(&self, id: &str) -> bool {
        self.halls
            .as_ref()
            .is_none_or(|halls| halls.iter().any(|h| h == id))
    }

    /// Checks the section against the rest of the config.
    fn validate(
        &mut self,
        listen: Option<SocketAddr>,
        halls: &[HallConfig],
        problems: &mut Vec<String>,
    ) {
        if self.endpoints.is_empty() {
            problems.push(
                "[cluster] endpoints is empty: list etcd's client URLs, e.g. \
                 [\"http://10.0.0.1:2379\"]"
                    .to_owned(),
            );
        }
        for e in &self.endpoints {
            let rest = e
                .strip_prefix("http://")
                .or_else(|| e.strip_prefix("https://"))
                .unwrap_or(e);
            if rest
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                problems.push(format!(
                    "[cluster] endpoint {e:?} is not a URL such as \"http://10.0.0.1:2379\""
                ));
            }
        }
        if self.node.is_empty()
            || self.node.len() > 64
            || !self
                .node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            problems.push(format!(
                "[cluster] node = {:?} must be 1-64 letters, digits, '-', '_' or '.'",
                self.node
            ));
        }
        if !(2..=60).contains(&self.lease_ttl_secs) {
            problems.push(format!(
                "[cluster] lease_ttl_secs = {} must be 2-60",
                self.lease_ttl_secs
            ));
        }
        for id in self.halls.iter().flatten() {
            if !halls.iter().any(|h| &h.id == id) {
                problems.push(format!(
                    "[cluster] halls names {id:?}, which is no configured [[hall]]"
                ));
            }
        }
        if !self.prefix.starts_with('/') || self.prefix.ends_with('/') {
            problems.push(format!(
                "[cluster] prefix = {:?} must start with '/' and not end with one",
                self.prefix
            ));
        }
        match &self.advertise {
            Some(a) => {
                if a.rsplit_once(':')
                    .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().map_or(true, |p| p == 0))
                {
                    problems.push(format!(
                        "[cluster] advertise = {a:?} is not HOST:PORT such as \"10.0.0.5:7878\""
                    ));
                }
            }
            None => match listen {
                Some(l) if l.ip().is_unspecified() => problems.push(format!(
                    "[cluster] advertise is needed: listen = \"{l}\" is no address a client \
                     can be sent to; give this node's own, e.g. advertise = \"10.0.0.5:{}\"",
                    l.port()
                )),
                Some(l) => self.advertise = Some(l.to_string()),
                None => {}
            },
        }
    }
}

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
}

impl Default for RoleLimits {
    fn default() -> Self {
        RoleLimits {
            kiosk: 512,
            window: 1024,
            display: 8192,
            notifier: 16,
            admin: 64,
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
        }
    }
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
}

/// `export_key`: a [`Secret`] compared in constant time.
#[derive(Debug, Clone)]
pub struct ExportKey(pub Secret);

impl PartialEq for ExportKey {
    fn eq(&self, other: &ExportKey) -> bool {
        self.0.ct_eq(other.0.expose().as_bytes())
    }
}

/// Shortest `export_key` accepted: a guessable key would let anyone with
/// an export test phone numbers against it.
pub const MIN_EXPORT_KEY_LEN: usize = 16;

pub use hallq_proto::types::Role;

/// One `[[token]]`: a client's secret and what it grants.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The token the client presents (or its digest).
    pub token: TokenCheck,
    /// What the client may do.
    pub role: Role,
    /// The hall it acts in; `None` only for an admin, meaning every hall.
    pub hall: Option<String>,
    /// For role `window` (and only then), the window it acts as.
    pub window: Option<WindowNo>,
}

/// How a config keeps a token: as written, or only its SHA-256 (so the
/// file does not hold the secret itself).
#[derive(Debug, Clone)]
pub enum TokenCheck {
    /// `token = "…"`.
    Plain(Secret),
    /// `token_sha256 = "<64 hex digits>"`: the digest of the token.
    Sha256(Secret),
}

impl TokenCheck {
    /// Whether `presented` is this token, in constant time.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        match self {
            TokenCheck::Plain(secret) => secret.ct_eq(presented),
            TokenCheck::Sha256(digest) => digest.ct_eq(sha256_hex(presented).as_bytes()),
        }
    }

    /// The stored form, for telling two entries apart.
    fn stored(&self) -> &str {
        match self {
            TokenCheck::Plain(secret) | TokenCheck::Sha256(secret) => secret.expose(),
        }
    }
}

/// A new token: 32 random bytes from the system's CSPRNG, as hex (64
/// characters, far beyond [`MIN_TOKEN_LEN`]).
pub fn random_token() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random number generator failed".to_owned())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl TokenGrant {
    /// Whether this grant is the same as `other` (token, role, hall, window).
    pub fn same_as(&self, other: &TokenGrant) -> bool {
        self.token.stored() == other.token.stored()
            && self.role == other.role
            && self.hall == other.hall
            && self.window == other.window
    }

    /// Whether this grant reaches `hall`: its own hall, or any for an admin
    /// without one.
    pub fn covers_hall(&self, hall: &str) -> bool {
        match &self.hall {
            Some(own) => own == hall,
            None => self.role == Role::Admin,
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

/// A secret string (a client token). `Debug` and `Display` print `***`, as
/// rathole's `MaskedString` does, so it cannot leak through a log line or an
/// error; [`Secret::expose`] is the one way to read it. There is no
/// `PartialEq` on purpose: compare with [`Secret::ct_eq`].
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Use only to compare or to hand to whatever needs
    /// it; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` equals the secret, in time that depends only on
    /// `presented.len()`: every presented byte is compared whatever earlier
    /// bytes did, so response timing does not tell an attacker how much of a
    /// guess was right. A length mismatch is folded into the same result
    /// rather than returned early.
    pub fn ct_eq(&self, presented: &[u8]) -> bool {
        #[cfg(test)]
        token_tests::CT_EQ_CALLS.with(|n| n.set(n.get() + 1));
        let ours = self.0.as_bytes();
        let mut diff = u8::from(ours.len() != presented.len());
        for (i, &byte) in presented.iter().enumerate() {
            // Past our end compare against 0; the length flag above already
            // makes the result false.
            diff |= ours.get(i).copied().unwrap_or(0) ^ byte;
        }
        // Keep the optimiser from turning the fold back into an early exit.
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
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
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            origin: origin.to_owned(),
            error,
        })?;
        raw.validate().map_err(|problems| ConfigError::Invalid {
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

    /// The grant whose token is `presented`, if any. Every token is compared
    /// in constant time and the scan does not stop at a match, so timing does
    /// not reveal which token, or how much of one, was guessed.
    pub fn grant_for(&self, presented: &[u8]) -> Option<&TokenGrant> {
        let mut found = None;
        for grant in &self.tokens {
            if grant.token.accepts(presented) && found.is_none() {
                found = Some(grant);
            }
        }
        found
    }
}

// ─── The file as written ───────────────────────────────────────────────────

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
struct RawConfig {
    // A string, not a `SocketAddr`, so a bad address gets our message (which
    // says host names are not resolved) rather than serde's.
    listen: String,
    state_dir: PathBuf,
    #[serde(default = "default_shutdown_grace_secs")]
    shutdown_grace_secs: u64,
    #[serde(default)]
    log_format: LogFormat,
    #[serde(default)]
    metrics_listen: Option<String>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    tls: Option<RawTls>,
    #[serde(default, rename = "token")]
    tokens: Vec<RawToken>,
    #[serde(default, rename = "hall")]
    halls: Vec<RawHall>,
    #[serde(default)]
    cluster: Option<ClusterConfig>,
}

// Both optional here so that "one without the other" is our error, which
// says what the missing half is for, instead of serde's "missing field".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    token: Option<Secret>,
    token_sha256: Option<Secret>,
    role: Role,
    hall: Option<String>,
    window: Option<WindowNo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHall {
    id: String,
    name: String,
    #[serde(default = "default_reminder_factor")]
    reminder_factor: f64,
    walk_in_every: Option<u32>,
    #[serde(default = "default_max_wait_secs")]
    max_wait_secs: u32,
    #[serde(default = "default_reinstate_places")]
    reinstate_places: u32,
    #[serde(default = "default_timezone_offset_minutes")]
    timezone_offset_minutes: i32,
    #[serde(default, rename = "item")]
    items: Vec<RawItem>,
    #[serde(default, rename = "window")]
    windows: Vec<RawWindow>,
    #[serde(default)]
    templates: RawTemplates,
    export_key: Option<Secret>,
    /// `[hall.hours]`; absent: always open.
    #[serde(default)]
    hours: Option<RawHours>,
    /// `[hall.appointments]`.
    #[serde(default)]
    appointments: Option<RawAppointments>,
}

/// `[hall.templates]`: each text optional, the default where left out.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTemplates {
    issued: Option<String>,
    issued_approaching: Option<String>,
    approaching: Option<String>,
    called: Option<String>,
    booking_confirmed: Option<String>,
    booking_cancelled: Option<String>,
    booking_cancelled_by_hall: Option<String>,
    booking_forfeited: Option<String>,
    work_order: Option<String>,
}

impl RawTemplates {
    fn validate(self, hall: &str, problems: &mut Vec<String>) -> Templates {
        let defaults = Templates::default();
        let mut pick = |name: &str, given: Option<String>, default: String| match given {
            Some(text) if text.trim().is_empty() => {
                problems.push(format!("hall {hall:?}: templates.{name} is empty"));
                default
            }
            Some(text) => text,
            None => default,
        };
        Templates {
            issued: pick("issued", self.issued, defaults.issued),
            issued_approaching: pick(
                "issued_approaching",
                self.issued_approaching,
                defaults.issued_approaching,
            ),
            approaching: pick("approaching", self.approaching, defaults.approaching),
            called: pick("called", self.called, defaults.called),
            booking_confirmed: pick(
                "booking_confirmed",
                self.booking_confirmed,
                defaults.booking_confirmed,
            ),
            booking_cancelled: pick(
                "booking_cancelled",
                self.booking_cancelled,
                defaults.booking_cancelled,
            ),
            booking_cancelled_by_hall: pick(
                "booking_cancelled_by_hall",
                self.booking_cancelled_by_hall,
                defaults.booking_cancelled_by_hall,
            ),
            booking_forfeited: pick(
                "booking_forfeited",
                self.booking_forfeited,
                defaults.booking_forfeited,
            ),
            work_order: pick("work_order", self.work_order, defaults.work_order),
        }
    }
}

/// One time span per weekday, each `"09:00-17:00"` or `"closed"`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWeek {
    mon: Option<String>,
    tue: Option<String>,
    wed: Option<String>,
    thu: Option<String>,
    fri: Option<String>,
    sat: Option<String>,
    sun: Option<String>,
}

impl RawWeek {
    fn days(&self) -> [&Option<String>; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }
}

/// `[hall.hours]`: opening hours (seed 000 §四(八)).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHours {
    mon: Option<String>,
    tue: Option<String>,
    wed: Option<String>,
    thu: Option<String>,
    fri: Option<String>,
    sat: Option<String>,
    sun: Option<String>,
    /// `"12:00-13:30"` (default) or `"none"`.
    lunch: Option<String>,
    /// `[hall.hours.extended]`: extended hours (延时服务), appointments only.
    #[serde(default)]
    extended: RawWeek,
}

/// `[hall.appointments]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppointments {
    #[serde(default = "default_slot_minutes")]
    slot_minutes: u16,
    #[serde(default = "default_check_in_early_minutes")]
    check_in_early_minutes: u16,
}

fn default_slot_minutes() -> u16 {
    HallDay::DEFAULT_SLOT_MINUTES
}
fn default_check_in_early_minutes() -> u16 {
    HallDay::DEFAULT_CHECK_IN_EARLY_MINUTES
}

/// `"09:00-17:00"` → a span; `"closed"` (or `"none"`) → `None`.
fn parse_span(text: &str) -> Result<Option<Span>, String> {
    let t = text.trim();
    if t == "closed" || t == "none" {
        return Ok(None);
    }
    let bad = || format!("{text:?} is not a time span like \"09:00-17:00\" (or \"closed\")");
    let (from, to) = t.split_once('-').ok_or_else(bad)?;
    let from = hallq_proto::booking::parse_minute(from.trim()).map_err(|_| bad())?;
    let to = hallq_proto::booking::parse_minute(to.trim()).map_err(|_| bad())?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    #[serde(deserialize_with = "item_code")]
    code: ItemCode,
    name: String,
    avg_service_secs: u32,
    daily_cap: Option<u32>,
    /// Bookings per appointment slot; absent or 0: no appointments.
    #[serde(default)]
    appointment_capacity: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    number: WindowNo,
    #[serde(default, deserialize_with = "item_codes")]
    items: Vec<ItemCode>,
    #[serde(default)]
    universal: bool,
    #[serde(default)]
    fallback: bool,
    /// Staffed through the lunch duty period (§四(八)2).
    #[serde(default)]
    duty: bool,
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

// ─── Validation ─────────────────────────────────────────────────────────────

impl RawConfig {
    /// The typed config, or every problem found. Checks go on after a
    /// problem wherever later checks do not depend on the broken part.
    fn validate(self) -> Result<Config, Vec<String>> {
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
        let templates = hall.templates.validate(&id, problems);
        if let Some(key) = &hall.export_key {
            if key.expose().len() < MIN_EXPORT_KEY_LEN {
                problems.push(format!(
                    "hall {id:?}: export_key must be at least {MIN_EXPORT_KEY_LEN} characters"
                ));
            }
        }
        halls.push(HallConfig {
            id,
            name: hall.name,
            timezone_offset_minutes: hall.timezone_offset_minutes,
            spec,
            templates,
            export_key: hall.export_key.map(ExportKey),
        });
    }
    halls
}

fn validate_tokens(
    raw: Vec<RawToken>,
    halls: &[HallConfig],
    problems: &mut Vec<String>,
) -> Vec<TokenGrant> {
    if raw.is_empty() {
        problems.push(
            "no [[token]] is defined: every client authenticates with a token, \
             so no kiosk, window or display could connect"
                .to_owned(),
        );
    }
    // Tokens are secret, so problems name a token by its place in the file
    // (1-based, as people count) and its role, never by its text.
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (i, t) in raw.iter().enumerate() {
        let n = i + 1;
        let label = format!("[[token]] #{n} (role {})", t.role);
        let text = match (&t.token, &t.token_sha256) {
            (Some(plain), None) => {
                let text = plain.expose();
                let len = text.chars().count();
                if len < MIN_TOKEN_LEN {
                    problems.push(format!(
                        "{label}: token is {len} characters; use at least {MIN_TOKEN_LEN} \
                         random ones (e.g. `hallqd gen-token`) so it cannot be guessed"
                    ));
                }
                if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    problems.push(format!(
                        "{label}: token contains spaces or control characters (a copy-paste slip?)"
                    ));
                }
                text
            }
            (None, Some(digest)) => {
                let text = digest.expose();
                if text.len() != 64
                    || !text
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    problems.push(format!(
                        "{label}: token_sha256 must be 64 lower-case hex digits (as `hallqd gen-token` prints)"
                    ));
                }
                text
            }
            (Some(_), Some(_)) => {
                problems.push(format!("{label}: give token or token_sha256, not both"));
                continue;
            }
            (None, None) => {
                problems.push(format!("{label}: token (or token_sha256) is missing"));
                continue;
            }
        };
        if let Some(&first) = first_seen.get(text) {
            problems.push(format!(
                "[[token]] #{first} and #{n} are the same token: give each client its own, \
                 so clients can be told apart and one can be revoked alone"
            ));
        } else {
            first_seen.insert(text, n);
        }

        let hall = match &t.hall {
            None if t.role == Role::Admin => None,
            None => {
                problems.push(format!(
                    "{label}: hall is missing (only role admin may leave it out, \
                     meaning every hall)"
                ));
                None
            }
            Some(id) => match halls.iter().find(|h| h.id == *id) {
                Some(hall) => Some(hall),
                None => {
                    problems.push(format!("{label}: hall {id:?} is not defined"));
                    None
                }
            },
        };

        match (t.role, t.window) {
            (Role::Window, None) => problems.push(format!(
                "{label}: window is missing: a window terminal's token names its window"
            )),
            (Role::Window, Some(number)) => {
                // Without a known hall there is nothing to check the window
                // against; that problem is already reported.
                if let Some(hall) = hall {
                    if !hall.spec.windows.iter().any(|w| w.number == number) {
                        problems.push(format!(
                            "{label}: window {number} is not defined in hall {:?}",
                            hall.id
                        ));
                    }
                }
            }
            (role, Some(number)) => problems.push(format!(
                "{label}: window = {number} is only for role window, not {role}"
            )),
            (_, None) => {}
        }
    }

    // Entries with no token at all were reported above; a config with
    // problems is refused as a whole anyway.
    raw.into_iter()
        .filter_map(|t| {
            let token = match (t.token, t.token_sha256) {
                (Some(plain), _) => TokenCheck::Plain(plain),
                (None, Some(digest)) => TokenCheck::Sha256(digest),
                (None, None) => return None,
            };
            Some(TokenGrant {
                token,
                role: t.role,
                hall: t.hall,
                window: t.window,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE_TOML: &str = include_str!("../../config/hallq.toml");

    fn item(c: char) -> ItemCode {
        ItemCode::new(c).unwrap()
    }

    const TOP: &str = "listen = \"127.0.0.1:7878\"\nstate_dir = \"/tmp/hallq-test\"\n";
    const KIOSK: &str = r#"
[[token]]
token = "kiosk-token-0123456789"
role = "kiosk"
hall = "main"
"#;
    const HALL: &str = r#"
[[hall]]
id = "main"
name = "测试大厅"
[[hall.item]]
code = "A"
name = "社保"
avg_service_secs = 300
[[hall.item]]
code = "B"
name = "医保"
avg_service_secs = 240
[[hall.window]]
number = 1
items = ["A"]
[[hall.window]]
number = 2
universal = true
"#;

    /// A config document: the valid base with `top` added to the top-level
    /// keys and `tokens`/`halls` in place of the default sections.
    fn doc(top: &str, tokens: &str, halls: &str) -> String {
        format!("{TOP}{top}\n{tokens}\n{halls}")
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, "test.toml")
    }

    fn error_of(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

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
        for role in [Role::Kiosk, Role::Display, Role::Notifier, Role::Admin] {
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
    fn parse_errors_carry_line_and_column() {
        let err = error_of(&doc("", KIOSK, HALL).replace("number = 1", "number = \"one\""));
        assert!(err.contains("line "), "{err}");
        assert!(err.contains("column "), "{err}");
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

    #[test]
    fn admin_may_omit_the_hall_and_others_are_confined() {
        let tokens = format!(
            "{KIOSK}[[token]]\ntoken = \"admin-token-0123456789\"\nrole = \"admin\"\n\
             [[token]]\ntoken = \"window-token-0123456789\"\nrole = \"window\"\nhall = \"main\"\nwindow = 2\n"
        );
        let c = parse(&doc("", &tokens, HALL)).unwrap();
        let admin = c.grant_for(b"admin-token-0123456789").unwrap();
        assert_eq!((admin.role, admin.hall.as_deref()), (Role::Admin, None));
        assert!(admin.covers_hall("anything"));
        let window = c.grant_for(b"window-token-0123456789").unwrap();
        assert_eq!(window.window, Some(WindowNo(2)));
        assert!(window.covers_hall("main") && !window.covers_hall("east"));
        assert!(c.grant_for(b"window-token-012345678").is_none());
        assert!(c.grant_for(b"").is_none());
    }

    #[test]
    fn secrets_never_show() {
        let s = Secret::new("hunter2-hunter2-hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "hunter2-hunter2-hunter2");

        let demo = Config::demo(PathBuf::from("state"));
        let debug = format!("{demo:?}");
        assert!(debug.contains("***"));
        for t in &demo.tokens {
            assert!(!debug.contains(t.token.stored()), "token leaked into Debug");
        }
        assert!(!debug.contains("demo-"), "token text leaked into Debug");

        // Nor do error messages quote a token, even a bad one.
        let err = error_of(&doc("", &format!("{KIOSK}{KIOSK}"), HALL));
        assert!(err.contains("same token"), "{err}");
        assert!(!err.contains("kiosk-token-0123456789"), "{err}");
        let err = error_of(&doc(
            "",
            &KIOSK.replace("kiosk-token-0123456789", "tiny"),
            HALL,
        ));
        assert!(
            err.contains("token is 4 characters") && !err.contains("tiny"),
            "{err}"
        );
    }

    #[test]
    fn a_token_may_be_kept_as_its_sha256() {
        let token = "window-token-kept-hashed-01";
        let text = doc(
            "metrics_listen = \"127.0.0.1:9478\"",
            &format!(
                "[[token]]\ntoken_sha256 = \"{}\"\nrole = \"kiosk\"\nhall = \"main\"",
                sha256_hex(token.as_bytes())
            ),
            HALL,
        );
        let config = parse(&text).unwrap();
        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9478".parse().unwrap())
        );
        assert!(config.grant_for(token.as_bytes()).is_some());
        assert!(config.grant_for(b"window-token-kept-hashed-02").is_none());
        assert!(
            config
                .grant_for(sha256_hex(token.as_bytes()).as_bytes())
                .is_none(),
            "the digest itself is no token"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ct_eq_compares_whole_tokens() {
        let s = Secret::new("0123456789abcdef");
        assert!(s.ct_eq(b"0123456789abcdef"));
        assert!(!s.ct_eq(b"0123456789abcdeF"));
        assert!(!s.ct_eq(b"X123456789abcdef"));
        // Length mismatches: a prefix, an extension, nothing.
        assert!(!s.ct_eq(b"0123456789abcde"));
        assert!(!s.ct_eq(b"0123456789abcdef0"));
        assert!(!s.ct_eq(b""));
        // An extension by NUL bytes must not pass as "compared against 0".
        assert!(!s.ct_eq(b"0123456789abcdef\0"));
        assert!(Secret::new("").ct_eq(b""));
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

    #[test]
    fn cluster_section_is_read_with_its_defaults() {
        let text = format!(
            "{}\n[cluster]\nendpoints = [\"http://127.0.0.1:2379\"]\nnode = \"node-a\"\n",
            doc("", KIOSK, HALL)
        );
        let cluster = parse(&text).unwrap().cluster.unwrap();
        assert_eq!(cluster.lease_ttl_secs, DEFAULT_LEASE_TTL_SECS);
        assert_eq!(cluster.prefix, "/hallq");
        // Clients are sent to the listen address unless told otherwise.
        assert_eq!(cluster.advertise.as_deref(), Some("127.0.0.1:7878"));
        assert!(cluster.may_own("main"));
        // Without the section: one daemon, no etcd.
        assert!(parse(&doc("", KIOSK, HALL)).unwrap().cluster.is_none());
    }

    #[test]
    fn a_bad_cluster_section_names_every_problem() {
        let text = format!(
            "listen = \"0.0.0.0:7878\"\nstate_dir = \"/tmp/x\"\n{KIOSK}\n{HALL}\n[cluster]\n\
             endpoints = []\nnode = \"no spaces\"\nlease_ttl_secs = 1\nhalls = [\"north\"]\n\
             prefix = \"hallq/\"\n"
        );
        let Err(ConfigError::Invalid { problems, .. }) = parse(&text) else {
            panic!("accepted: {text}");
        };
        let all = problems.join("\n");
        for expected in [
            "endpoints is empty",
            "node = \"no spaces\"",
            "lease_ttl_secs = 1",
            "\"north\", which is no configured [[hall]]",
            "prefix = \"hallq/\"",
            "advertise is needed",
        ] {
            assert!(all.contains(expected), "{expected:?} not in:\n{all}");
        }
        // A misspelt key is an error too, not a setting left at its default.
        let typo = format!(
            "{}\n[cluster]\nendpoints = [\"http://e:2379\"]\nnode = \"a\"\nlease_ttl = 3\n",
            doc("", KIOSK, HALL)
        );
        assert!(matches!(parse(&typo), Err(ConfigError::Parse { .. })));
    }
}

/// Issue 10 item 5: `grant_for` compares the presented token with every
/// configured one, whether or not an earlier one matched.
#[cfg(test)]
mod token_tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        /// How many times [`Secret::ct_eq`] ran on this thread.
        pub(super) static CT_EQ_CALLS: Cell<usize> = const { Cell::new(0) };
    }

    fn comparisons(f: impl FnOnce()) -> usize {
        CT_EQ_CALLS.with(|n| n.set(0));
        f();
        CT_EQ_CALLS.with(Cell::get)
    }

    const TOKENS: [&str; 4] = [
        "kiosk-token-0123456789",
        "window-token-0123456789",
        "display-token-0123456789",
        "admin-token-0123456789",
    ];

    fn config() -> Config {
        let text = format!(
            "listen = \"127.0.0.1:7878\"\nstate_dir = \"/tmp/hallq-test\"\n\
             [[token]]\ntoken = {:?}\nrole = \"kiosk\"\nhall = \"main\"\n\
             [[token]]\ntoken = {:?}\nrole = \"window\"\nhall = \"main\"\nwindow = 1\n\
             [[token]]\ntoken = {:?}\nrole = \"display\"\nhall = \"main\"\n\
             [[token]]\ntoken_sha256 = {:?}\nrole = \"admin\"\n\
             [[hall]]\nid = \"main\"\nname = \"大厅\"\n\
             [[hall.item]]\ncode = \"A\"\nname = \"社保\"\navg_service_secs = 300\n\
             [[hall.window]]\nnumber = 1\nuniversal = true\n",
            TOKENS[0],
            TOKENS[1],
            TOKENS[2],
            sha256_hex(TOKENS[3].as_bytes()),
        );
        Config::from_toml_str(&text, "test.toml").unwrap()
    }

    #[test]
    fn every_token_is_compared_whatever_matches() {
        let c = config();
        assert_eq!(c.tokens.len(), TOKENS.len());
        // The first, a middle, the last (hashed) token, and none at all:
        // always one comparison per configured token, no early exit.
        for presented in [
            TOKENS[0],
            TOKENS[1],
            TOKENS[3],
            "no-such-token-0123456789",
            "",
        ] {
            let n = comparisons(|| {
                let _ = c.grant_for(presented.as_bytes());
            });
            assert_eq!(n, TOKENS.len(), "{presented:?}");
        }
    }

    #[test]
    fn near_misses_are_refused() {
        let c = config();
        for token in TOKENS {
            assert!(c.grant_for(token.as_bytes()).is_some(), "{token}");
            let bytes = token.as_bytes();
            // Every proper prefix, including the empty one.
            for end in 0..bytes.len() {
                assert!(
                    c.grant_for(&bytes[..end]).is_none(),
                    "prefix {end} of {token}"
                );
            }
            // The token plus one byte.
            let mut longer = bytes.to_vec();
            longer.push(b'0');
            assert!(c.grant_for(&longer).is_none(), "{token} + 1 byte");
            // One byte changed, at the first, a middle and the last place.
            for at in [0, bytes.len() / 2, bytes.len() - 1] {
                let mut changed = bytes.to_vec();
                changed[at] ^= 0x01;
                assert!(c.grant_for(&changed).is_none(), "{token} changed at {at}");
            }
        }
        // The stored digest of a hashed token is not itself a token.
        let digest = sha256_hex(TOKENS[3].as_bytes());
        assert!(c.grant_for(digest.as_bytes()).is_none());
    }
}
