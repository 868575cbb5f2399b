//! The SMS gateway bridge (`hallq sms-bridge`, SPEC §2 item 8): a notifier
//! that stays connected to `hallqd`, hands each notification to an SMS
//! provider over HTTP — or, for a 差评工单, to the hotline's webhook (seed
//! 000 §四(六)6) — and acknowledges it to the daemon only once the provider
//! accepted it.
//!
//! Delivery is at least once: a notification the provider accepted but
//! whose acknowledgement was lost (the bridge crashed in between) comes
//! again, and the provider deduplicates it by the notification id, sent as
//! an idempotency key header. A provider that keeps failing is retried with
//! exponential backoff and jitter a bounded number of times; then the
//! notification is reported failed with the reason
//! ([`NotifierMessage::Failed`](hallq_proto::wire::NotifierMessage::Failed)), so
//! nothing is dropped silently. Phone numbers appear in full only in the
//! provider request; logs show them masked.
//!
//! In a cluster the bridge follows its hall to whichever daemon serves it
//! ([`FollowingClient`]). A new owner sends every notification still
//! unacknowledged, including those whose acknowledgement died with the
//! old owner: the bridge remembers the verdicts it reached recently
//! ([`Verdicts`]) and acknowledges such a notification again without
//! asking the provider a second time, so the visitor gets one SMS even if
//! the provider ignores the idempotency key.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use crate::client::ClientError;
use crate::follow::{FollowingClient, Hallqd};
use hallq_proto::wire::Notification;

/// Why the provider file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The file cannot be read.
    #[error("cannot read {file}: {reason}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The file is not a valid provider description.
    #[error("{file}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// An API key: `Debug` and `Display` print `***`, so it never reaches a log.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key itself, for the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How values are escaped when put into a body template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escape {
    /// As the inside of a JSON string (the default: most providers take JSON).
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// As they are.
    None,
}

/// One HTTP endpoint: the SMS provider's, or the hotline's webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// `http://` or `https://` URL.
    pub url: String,
    /// HTTP method, `POST` by default.
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra request headers (not secret).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The API key, sent in `api_key_header`.
    pub api_key: Option<ApiKey>,
    /// The header that carries the API key.
    #[serde(default = "default_api_key_header")]
    pub api_key_header: String,
    /// The header that carries the notification id (idempotency key).
    #[serde(default = "default_idempotency_header")]
    pub idempotency_header: String,
    /// The request body with placeholders: `{phone}`, `{text}`, `{id}`,
    /// `{kind}`, `{ticket}`, `{hall}`; for work orders also `{window}`,
    /// `{staff}`, `{item}`, `{item_name}`, `{rating}`, `{at}`.
    pub body: String,
    /// How values are escaped in the body.
    #[serde(default)]
    pub escape: Escape,
    /// `Content-Type` of the body.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// Per-request timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// How often and how patiently a failing provider is retried.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per notification before it is reported failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled after each failure.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Longest wait between attempts.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: default_max_attempts(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
        }
    }
}

fn default_method() -> String {
    "POST".into()
}
fn default_api_key_header() -> String {
    "Authorization".into()
}
fn default_idempotency_header() -> String {
    "Idempotency-Key".into()
}
fn default_content_type() -> String {
    "application/json".into()
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_max_attempts() -> u32 {
    8
}
fn default_initial_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    60_000
}

/// The provider file (`hallq sms-bridge --provider FILE`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Where visitor messages go.
    pub sms: Endpoint,
    /// Where work orders (差评工单) go; without it they are reported failed
    /// ("no hotline configured") rather than sent by SMS to nobody.
    pub hotline: Option<Endpoint>,
    /// Where managers' alerts (issue 21) of a hall with `[hall.alerts]
    /// webhook = true` go; without it they are reported failed ("no alerts
    /// endpoint configured"). Alerts to `manager_phones` go by SMS.
    pub alerts: Option<Endpoint>,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
}

impl Provider {
    /// Reads and checks a provider file.
    pub fn load(path: &Path) -> Result<Provider, ProviderError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProviderError::Read {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        Provider::from_toml_str(&text, &file)
    }

    /// Parses and checks a provider description.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Provider, ProviderError> {
        let invalid = |reason: String| ProviderError::Invalid {
            file: origin.to_owned(),
            reason,
        };
        let provider: Provider = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for (name, endpoint) in [
            ("sms", Some(&provider.sms)),
            ("hotline", provider.hotline.as_ref()),
            ("alerts", provider.alerts.as_ref()),
        ] {
            let Some(endpoint) = endpoint else { continue };
            if !(endpoint.url.starts_with("http://") || endpoint.url.starts_with("https://")) {
                return Err(invalid(format!(
                    "{name}.url must be an http:// or https:// URL"
                )));
            }
            reqwest::Method::from_bytes(endpoint.method.as_bytes()).map_err(|_| {
                invalid(format!(
                    "{name}.method {:?} is not an HTTP method",
                    endpoint.method
                ))
            })?;
            if endpoint.timeout_ms == 0 {
                return Err(invalid(format!("{name}.timeout_ms must be above 0")));
            }
        }
        if provider.retry.max_attempts == 0 {
            return Err(invalid("retry.max_attempts must be at least 1".into()));
        }
        Ok(provider)
    }
}

/// `13800138000` → `138****8000`: how phone numbers appear in logs.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// The request body for `n` from `endpoint`'s template.
pub fn render_body(endpoint: &Endpoint, n: &Notification) -> String {
    let escape = |v: &str| match endpoint.escape {
        Escape::Json => {
            let quoted = serde_json::to_string(v).unwrap_or_default();
            quoted[1..quoted.len() - 1].to_owned()
        }
        Escape::Form => form_encode(v),
        Escape::None => v.to_owned(),
    };
    let kind = serde_json::to_value(n.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut values: Vec<(&str, String)> = vec![
        ("{phone}", n.phone.clone()),
        ("{text}", n.text.clone()),
        ("{id}", n.id.clone()),
        ("{kind}", kind),
        (
            "{ticket}",
            n.ticket.map(|t| t.to_string()).unwrap_or_default(),
        ),
        ("{hall}", n.hall.clone()),
        (
            "{window}",
            n.window.map(|w| w.to_string()).unwrap_or_default(),
        ),
        ("{at}", n.at.0.to_string()),
    ];
    if let Some(order) = &n.work_order {
        values.extend([
            ("{staff}", order.staff.clone().unwrap_or_default()),
            ("{item}", order.item.to_string()),
            ("{item_name}", order.item_name.clone()),
            ("{rating}", order.rating.to_string()),
        ]);
    }
    // One pass over the template, so a value containing "{text}" is not
    // substituted again.
    let template = &endpoint.body;
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template.as_str();
    'outer: while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        for (key, value) in &values {
            if let Some(after) = tail.strip_prefix(key) {
                out.push_str(&escape(value));
                rest = after;
                continue 'outer;
            }
        }
        out.push('{');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

fn form_encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// What one attempt came to.
#[derive(Debug)]
enum Attempt {
    /// The provider took it.
    Accepted,
    /// Worth another try (5xx, 429, timeout, connection error).
    Transient(String),
    /// Will never work (another 4xx): report it failed now.
    Permanent(String),
}

/// Hands notifications to the provider.
#[derive(Debug, Clone)]
pub struct Sender {
    provider: Provider,
    http: reqwest::Client,
}

impl Sender {
    /// A sender for `provider`. Installs ring as the process's rustls
    /// provider if none is yet (the one crypto provider, see
    /// DEPENDENCIES.md).
    pub fn new(provider: Provider) -> Result<Sender, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Sender { provider, http })
    }

    /// Delivers `n`, retrying transient failures per the policy: `Ok` once
    /// the provider accepted it, `Err(reason)` once it should be reported
    /// failed.
    pub async fn deliver(&self, n: &Notification) -> Result<(), String> {
        // Issue 21: a managers' alert for the webhook (no phone) goes to
        // the alerts endpoint; one to a manager's phone is an SMS.
        let endpoint = if n.kind == hallq_proto::wire::NotificationKind::Alert && n.phone.is_empty()
        {
            match &self.provider.alerts {
                Some(alerts) => alerts,
                None => return Err("no alerts endpoint configured".into()),
            }
        } else if n.kind.is_work_order() {
            match &self.provider.hotline {
                Some(hotline) => hotline,
                None => return Err("no hotline endpoint configured for work orders".into()),
            }
        } else {
            &self.provider.sms
        };
        let retry = self.provider.retry;
        let mut backoff = retry.initial_backoff_ms;
        let mut last = String::new();
        for attempt in 1..=retry.max_attempts {
            match self.attempt(endpoint, n).await {
                Attempt::Accepted => {
                    tracing::info!(id = %n.id, kind = ?n.kind, phone = %mask_phone(&n.phone), attempt, "delivered");
                    return Ok(());
                }
                Attempt::Permanent(reason) => {
                    tracing::warn!(id = %n.id, phone = %mask_phone(&n.phone), %reason, "provider refused");
                    return Err(reason);
                }
                Attempt::Transient(reason) => {
                    tracing::warn!(id = %n.id, attempt, %reason, "provider failed; retrying");
                    last = reason;
                }
            }
            if attempt < retry.max_attempts {
                tokio::time::sleep(jitter(backoff, &n.id, attempt)).await;
                backoff = backoff.saturating_mul(2).min(retry.max_backoff_ms);
            }
        }
        Err(format!(
            "gave up after {} attempts: {last}",
            retry.max_attempts
        ))
    }

    async fn attempt(&self, endpoint: &Endpoint, n: &Notification) -> Attempt {
        let method = reqwest::Method::from_bytes(endpoint.method.as_bytes())
            .unwrap_or(reqwest::Method::POST);
        let mut request = self
            .http
            .request(method, &endpoint.url)
            .timeout(Duration::from_millis(endpoint.timeout_ms))
            .header(&endpoint.idempotency_header, &n.id)
            .header(reqwest::header::CONTENT_TYPE, &endpoint.content_type)
            .body(render_body(endpoint, n));
        for (name, value) in &endpoint.headers {
            request = request.header(name, value);
        }
        if let Some(key) = &endpoint.api_key {
            request = request.header(&endpoint.api_key_header, key.expose());
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    Attempt::Accepted
                } else if status.is_server_error()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT
                {
                    Attempt::Transient(format!("provider answered {status}"))
                } else {
                    let body = response.text().await.unwrap_or_default();
                    let body: String = body.chars().take(200).collect();
                    Attempt::Permanent(format!("provider answered {status}: {body}"))
                }
            }
            // The error's text names the URL, never the headers or body.
            Err(e) if e.is_timeout() => Attempt::Transient("provider timed out".into()),
            Err(e) => Attempt::Transient(format!("provider unreachable: {e}")),
        }
    }
}

/// `base` ms, spread over ±25 % so that bridges retrying together do not
/// hammer a recovering provider in step. Derived from the id and attempt
/// (no random source needed: ids differ).
fn jitter(base: u64, id: &str, attempt: u32) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes().chain(attempt.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let spread = base / 2;
    let offset = if spread == 0 { 0 } else { h % (spread + 1) };
    Duration::from_millis(base - base / 4 + offset)
}

/// Where and as whom the bridge connects: a single daemon. A bridge for a
/// cluster is given a [`Hallqd`] with every node's address instead; this
/// converts into one.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// hallqd's address.
    pub server: SocketAddr,
    /// Its pinned certificate.
    pub cert: CertificateDer<'static>,
    /// A notifier token.
    pub token: String,
    /// The hall, for an admin token covering several.
    pub hall: Option<String>,
}

impl From<Daemon> for Hallqd {
    fn from(daemon: Daemon) -> Hallqd {
        Hallqd::single(daemon.server, daemon.cert, daemon.token, daemon.hall)
    }
}

/// The first wait before reconnecting, and the wait after a subscription
/// that worked; doubled after every failure.
const FIRST_RECONNECT: Duration = Duration::from_millis(200);

/// Longest wait between reconnection attempts.
const MAX_RECONNECT: Duration = Duration::from_secs(30);

/// How many verdicts the bridge remembers: far more than a hall's outbox
/// holds unacknowledged at once.
const VERDICTS_KEPT: usize = 4096;

/// What became of the notifications delivered lately, so one sent again
/// (by a new owner of the hall, or after a lost acknowledgement) is
/// answered without a second SMS. Only an identical notification counts as
/// the same: an id met again with another text or phone is delivered, so
/// a mistake here costs a duplicate, never a lost message. Bounded: the
/// oldest verdicts go first.
#[derive(Debug, Default)]
pub struct Verdicts {
    by_id: HashMap<String, (Notification, Result<(), String>)>,
    order: VecDeque<String>,
}

impl Verdicts {
    /// The verdict reached for `n`, if remembered: `Ok` delivered, `Err`
    /// failed for good with the reason.
    pub fn get(&self, n: &Notification) -> Option<&Result<(), String>> {
        match self.by_id.get(&n.id) {
            Some((seen, verdict)) if seen == n => Some(verdict),
            _ => None,
        }
    }

    /// Remembers the verdict for `n`, forgetting the oldest beyond a few
    /// thousand.
    pub fn insert(&mut self, n: &Notification, verdict: Result<(), String>) {
        if self
            .by_id
            .insert(n.id.clone(), (n.clone(), verdict))
            .is_none()
        {
            self.order.push_back(n.id.clone());
        }
        while self.order.len() > VERDICTS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }
}

/// Runs the bridge until `stop` resolves: connects (again and again, with
/// backoff, following the hall in a cluster), delivers every notification,
/// acknowledges or reports it failed. `daemon` is a [`Daemon`] or a
/// [`Hallqd`].
pub async fn run(
    daemon: impl Into<Hallqd>,
    sender: Sender,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let hallqd = FollowingClient::new(daemon.into());
    let mut verdicts = Verdicts::default();
    let mut wait = FIRST_RECONNECT;
    loop {
        tokio::select! {
            result = session(&hallqd, &sender, &mut verdicts, &mut wait) => match result {
                Ok(()) => tracing::info!("hallqd ended the notification stream; reconnecting"),
                Err(e) => tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "connection to hallqd failed"),
            },
            _ = &mut stop => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut stop => break,
        }
        wait = (wait * 2).min(MAX_RECONNECT);
    }
    hallqd.close().await;
}

/// One subscription's worth of deliveries. Once subscribed, the wait
/// before the next attempt starts over: the link worked.
async fn session(
    hallqd: &FollowingClient,
    sender: &Sender,
    verdicts: &mut Verdicts,
    wait: &mut Duration,
) -> Result<(), ClientError> {
    let mut stream = hallqd.notifications().await?;
    *wait = FIRST_RECONNECT;
    let server = hallqd.connected().await.map(|(_, server)| server);
    tracing::info!(
        server = server.as_deref().unwrap_or("?"),
        "receiving notifications"
    );
    while let Some(n) = stream.next().await? {
        let verdict = match verdicts.get(&n) {
            Some(verdict) => {
                tracing::info!(id = %n.id, "sent again by hallqd; answering as before");
                verdict.clone()
            }
            None => {
                let verdict = sender.deliver(&n).await;
                verdicts.insert(&n, verdict.clone());
                verdict
            }
        };
        match verdict {
            Ok(()) => stream.ack(&n.id).await?,
            Err(reason) => {
                tracing::error!(id = %n.id, %reason, "notification failed for good");
                stream.fail(&n.id, &reason).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_proto::types::{ItemCode, Timestamp, WindowNo};
    use hallq_proto::wire::{NotificationKind, WorkOrder};

    const FILE: &str = r#"
[sms]
url = "https://sms.example/send"
api_key = "sk-live-123456"
api_key_header = "X-Api-Key"
body = '{"to":"{phone}","text":"{text}","ref":"{id}"}'
timeout_ms = 2000
[sms.headers]
X-Account = "hall-7"

[hotline]
url = "http://12345.example/orders"
body = '{"hall":"{hall}","window":{window},"staff":"{staff}","item":"{item_name}","ticket":"{ticket}","rating":{rating}}'

[retry]
max_attempts = 3
"#;

    fn notification() -> Notification {
        Notification {
            id: "main-7".into(),
            hall: "main".into(),
            kind: NotificationKind::Called,
            ticket: Some("A012".parse().unwrap()),
            phone: "13800138000".into(),
            text: "请A012号立即到3号窗口办理。\"{text}\"".into(),
            position: None,
            window: Some(WindowNo(3)),
            at: Timestamp(5),
            booking: None,
            work_order: None,
        }
    }

    #[test]
    fn provider_file_parses_and_hides_its_key() {
        let p = Provider::from_toml_str(FILE, "p.toml").unwrap();
        assert_eq!(p.sms.method, "POST");
        assert_eq!(p.retry.max_attempts, 3);
        assert_eq!(p.sms.api_key.as_ref().unwrap().expose(), "sk-live-123456");
        let shown = format!("{p:?}");
        assert!(!shown.contains("sk-live"), "{shown}");
        assert!(shown.contains("***"));
        let err = Provider::from_toml_str(&format!("{FILE}\nbogus = 1\n"), "p.toml").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = Provider::from_toml_str("[sms]\nurl = \"ftp://x\"\nbody = \"\"\n", "p.toml")
            .unwrap_err();
        assert!(err.to_string().contains("http"), "{err}");
    }

    #[test]
    fn bodies_fill_placeholders_once_and_escape() {
        let p = Provider::from_toml_str(FILE, "p.toml").unwrap();
        let body = render_body(&p.sms, &notification());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["to"], "13800138000");
        assert_eq!(v["text"], "请A012号立即到3号窗口办理。\"{text}\"");
        assert_eq!(v["ref"], "main-7");
        let mut order = notification();
        order.kind = NotificationKind::WorkOrder;
        order.phone.clear();
        order.work_order = Some(WorkOrder {
            hall: "main".into(),
            window: WindowNo(3),
            staff: Some("S7".into()),
            item: ItemCode::new('A').unwrap(),
            item_name: "社保".into(),
            ticket: "A012".parse().unwrap(),
            rating: 1,
            at: Timestamp(5),
        });
        let body = render_body(p.hotline.as_ref().unwrap(), &order);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["rating"], 1);
        assert_eq!(v["window"], 3);
        assert_eq!(v["item"], "社保");
        assert_eq!(v["staff"], "S7");
    }

    #[test]
    fn the_example_provider_file_parses() {
        let text = include_str!("../../config/sms-provider.example.toml");
        let p = Provider::from_toml_str(text, "example").unwrap();
        assert!(p.hotline.is_some());
        assert_eq!(p.retry.max_attempts, 8);
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_phone("12345"), "*****");
    }

    #[test]
    fn verdicts_are_remembered_and_bounded() {
        let numbered = |i: usize| Notification {
            id: format!("main-{i}"),
            ..notification()
        };
        let mut verdicts = Verdicts::default();
        verdicts.insert(&numbered(1), Ok(()));
        verdicts.insert(&numbered(2), Err("provider answered 400".into()));
        assert_eq!(verdicts.get(&numbered(1)), Some(&Ok(())));
        assert_eq!(
            verdicts.get(&numbered(2)),
            Some(&Err("provider answered 400".to_string()))
        );
        assert_eq!(verdicts.get(&numbered(3)), None);
        // The same id with another text is another message: delivered.
        let reworded = Notification {
            text: "请A012号立即到4号窗口办理。".into(),
            ..numbered(1)
        };
        assert_eq!(verdicts.get(&reworded), None);
        // Remembering one again does not count twice towards the bound.
        verdicts.insert(&numbered(1), Ok(()));
        for i in 3..=VERDICTS_KEPT + 2 {
            verdicts.insert(&numbered(i), Ok(()));
        }
        assert_eq!(verdicts.order.len(), VERDICTS_KEPT);
        assert_eq!(verdicts.by_id.len(), VERDICTS_KEPT);
        // The oldest went first.
        assert_eq!(verdicts.get(&numbered(1)), None);
        assert_eq!(verdicts.get(&numbered(2)), None);
        assert!(verdicts.get(&numbered(3)).is_some());
        assert!(verdicts.get(&numbered(VERDICTS_KEPT + 2)).is_some());
    }

    #[test]
    fn a_single_daemon_becomes_a_one_address_hallqd() {
        let daemon = Daemon {
            server: "10.0.0.5:7878".parse().unwrap(),
            cert: CertificateDer::from(vec![0x30, 0x00]),
            token: "notifier-token".into(),
            hall: Some("main".into()),
        };
        let hallqd = Hallqd::from(daemon);
        assert_eq!(hallqd.servers, ["10.0.0.5:7878"]);
        assert_eq!(hallqd.hall.as_deref(), Some("main"));
        assert!(!format!("{hallqd:?}").contains("notifier-token"));
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        for attempt in 1..50 {
            let d = jitter(1000, "main-1", attempt).as_millis();
            assert!((750..=1250).contains(&d), "{d}");
        }
    }
}
