//! The SMS gateway bridge against a real HTTP server on 127.0.0.1 standing
//! in for the SMS provider and the hotline's webhook: messages arrive with
//! the right texts; a provider failing for a while then recovering loses
//! nothing and gets nothing twice; a provider refusing a message for good
//! gets it reported failed; the bridge stopped mid-delivery and started
//! again redelivers only what was not acknowledged; a bad rating produces
//! exactly one work order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hallq_client::bridge::{self, Provider, Sender};
use hallq_proto::types::{Lane, Rating, WindowNo};
use hallq_proto::wire::{Request, Response, WindowAction};
use hallq_tests::{expect_refused, item, ticket, Daemon, TestHall, ADMIN, KIOSK, NOTIFIER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PHONE: &str = "13800138000";
/// The provider refuses this number for good (HTTP 400).
const BAD_PHONE: &str = "13900139000";

/// Visitor `n`'s phone: one per ticket, as a phone holds one active ticket
/// per item (SPEC §6).
fn visitor(n: u32) -> String {
    format!("1380013{n:04}")
}

/// One request the provider saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    key: String,
    body: String,
    accepted: bool,
}

#[derive(Debug, Default)]
struct ProviderState {
    /// Answer 503 to this many requests first.
    fail_next: u32,
    /// Never answer (a provider hanging mid-request).
    hang: bool,
    seen: Vec<Seen>,
}

/// The stand-in provider: HTTP/1.1 with keep-alive, Content-Length bodies.
#[derive(Debug, Clone)]
struct FakeProvider {
    port: u16,
    state: Arc<Mutex<ProviderState>>,
}

impl FakeProvider {
    async fn start() -> FakeProvider {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(ProviderState::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared.clone()));
            }
        });
        FakeProvider { port, state }
    }

    fn provider(&self, max_attempts: u32) -> Provider {
        let toml = format!(
            r#"
[sms]
url = "http://127.0.0.1:{port}/sms"
api_key = "sk-test-0123456789"
api_key_header = "X-Api-Key"
body = '{{"to":"{{phone}}","text":"{{text}}"}}'
timeout_ms = 60000

[hotline]
url = "http://127.0.0.1:{port}/hotline"
body = '{{"ticket":"{{ticket}}","window":{{window}},"item":"{{item_name}}","rating":{{rating}},"staff":"{{staff}}"}}'

[retry]
max_attempts = {max_attempts}
initial_backoff_ms = 20
max_backoff_ms = 200
"#,
            port = self.port
        );
        Provider::from_toml_str(&toml, "test").unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How often each idempotency key was accepted.
    fn accepted(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for s in self.seen().into_iter().filter(|s| s.accepted) {
            *out.entry(s.key).or_default() += 1;
        }
        out
    }
}

async fn serve(mut socket: tokio::net::TcpStream, state: Arc<Mutex<ProviderState>>) {
    let mut buf = Vec::new();
    loop {
        // Headers.
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        let len: usize = header("content-length").parse().unwrap_or(0);
        while buf.len() < end + len {
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[end..end + len]).to_string();
        buf.drain(..end + len);
        let path = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_default()
            .to_owned();
        if path == "/sms" {
            assert_eq!(header("x-api-key"), "sk-test-0123456789");
        }
        let key = header("idempotency-key");
        let status = {
            let mut st = state.lock().unwrap();
            let status = if st.hang {
                None
            } else if body.contains(BAD_PHONE) {
                Some("400 Bad Request")
            } else if st.fail_next > 0 {
                st.fail_next -= 1;
                Some("503 Service Unavailable")
            } else {
                Some("200 OK")
            };
            // A provider deduplicates by the idempotency key: a repeat of an
            // accepted key is answered 200 but not sent again.
            let repeat = st.seen.iter().any(|s| s.accepted && s.key == key);
            st.seen.push(Seen {
                path,
                key,
                body,
                accepted: status == Some("200 OK") && !repeat,
            });
            status
        };
        let Some(status) = status else {
            // Hang until the client goes away.
            let mut sink = [0u8; 64];
            let _ = socket.read(&mut sink).await;
            return;
        };
        let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
        if socket.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A bridge running in this process until the returned sender fires.
fn start_bridge(daemon: &Daemon, provider: Provider) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let target = bridge::Daemon {
        server: daemon.addr(),
        cert: daemon.cert(),
        token: NOTIFIER.into(),
        hall: None,
    };
    let sender = Sender::new(provider).unwrap();
    tokio::spawn(bridge::run(target, sender, async {
        let _ = stopped.await;
    }));
    stop
}

async fn pending(admin: &hallq_client::client::Client) -> u64 {
    match admin.request(&Request::Health).await.unwrap() {
        Response::Health(h) => h.halls[0].pending_notifications,
        other => panic!("{other:?}"),
    }
}

/// Waits until `check` holds, at most 20 s.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn texts_arrive_and_a_bad_rating_makes_one_work_order() {
    let hall = TestHall::new().unwrap();
    let daemon = hall.start().unwrap();
    let provider = FakeProvider::start().await;
    let _bridge = start_bridge(&daemon, provider.provider(5));
    let admin = daemon.connect(ADMIN).await;
    let kiosk = daemon.connect(KIOSK).await;
    let w1 = Some(WindowNo(1));
    admin.window(w1, WindowAction::Open).await.unwrap();
    admin
        .window(
            w1,
            WindowAction::Login {
                staff: hallq_proto::types::StaffId::new("S7").unwrap(),
                post: hallq_proto::types::Post::A,
            },
        )
        .await
        .unwrap();
    kiosk
        .issue(item('A'), Lane::WalkIn, Some(PHONE.into()))
        .await
        .unwrap();
    admin
        .window(w1, WindowAction::Call { ticket: None })
        .await
        .unwrap();
    admin
        .window(
            w1,
            WindowAction::Finish {
                rating: Some(Rating::new(1).unwrap()),
            },
        )
        .await
        .unwrap();
    // One service, one rating: a second is refused and raises nothing.
    expect_refused(
        admin
            .request(&Request::Rate {
                ticket: ticket("A001"),
                rating: Rating::new(2).unwrap(),
            })
            .await,
        "already_rated",
    );
    until("all delivered", async || {
        provider.accepted().len() == 3 && pending(&admin).await == 0
    })
    .await;
    let seen = provider.seen();
    let sms: Vec<&Seen> = seen.iter().filter(|s| s.path == "/sms").collect();
    let texts: Vec<String> = sms
        .iter()
        .map(|s| {
            let v: serde_json::Value = serde_json::from_str(&s.body).unwrap();
            assert_eq!(v["to"], PHONE);
            v["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            "您已取号A001，前面还有0人，办理窗口：1号窗口。即将轮到您，请到等候区等候叫号。",
            "请A001号立即到1号窗口办理。",
        ]
    );
    let orders: Vec<&Seen> = seen.iter().filter(|s| s.path == "/hotline").collect();
    assert_eq!(orders.len(), 1, "exactly one work order: {orders:?}");
    let v: serde_json::Value = serde_json::from_str(&orders[0].body).unwrap();
    assert_eq!(v["ticket"], "A001");
    assert_eq!(v["window"], 1);
    assert_eq!(v["rating"], 1);
    assert_eq!(v["item"], "社保");
    assert_eq!(v["staff"], "S7");
    // Idempotency keys are the notification ids.
    assert!(seen.iter().all(|s| s.key.starts_with("main-")));
}

#[tokio::test]
async fn a_failing_provider_loses_nothing_and_sends_nothing_twice() {
    let hall = TestHall::new().unwrap();
    let daemon = hall.start().unwrap();
    let provider = FakeProvider::start().await;
    provider.state.lock().unwrap().fail_next = 7;
    let _bridge = start_bridge(&daemon, provider.provider(20));
    let admin = daemon.connect(ADMIN).await;
    let kiosk = daemon.connect(KIOSK).await;
    for n in 0..5 {
        kiosk
            .issue(item('B'), Lane::WalkIn, Some(visitor(n)))
            .await
            .unwrap();
    }
    // Refused for good: reported failed after one attempt, not retried.
    kiosk
        .issue(item('B'), Lane::WalkIn, Some(BAD_PHONE.into()))
        .await
        .unwrap();
    until("every message accepted", async || {
        provider.accepted().len() == 5 && pending(&admin).await == 0
    })
    .await;
    let accepted = provider.accepted();
    assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
    let seen = provider.seen();
    let failures = seen.iter().filter(|s| !s.accepted).count();
    assert!(failures >= 7, "the provider failed 7 times first");
    for seq in 1..=5 {
        let text = format!("您已取号B00{seq}，");
        assert!(
            seen.iter().any(|s| s.accepted && s.body.contains(&text)),
            "B00{seq} missing"
        );
    }
    let bad: Vec<&Seen> = seen.iter().filter(|s| s.body.contains(BAD_PHONE)).collect();
    assert_eq!(bad.len(), 1, "a permanent refusal is not retried");
    // The failure is counted in the day's statistics.
    match admin
        .request(&Request::Stats {
            day: None,
            by: None,
        })
        .await
        .unwrap()
    {
        Response::Stats(stats) => {
            assert_eq!(stats.notifications_sent, 5);
            assert_eq!(stats.notifications_failed, 1);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_restarted_bridge_redelivers_only_what_was_not_acknowledged() {
    let hall = TestHall::new().unwrap();
    let daemon = hall.start().unwrap();
    let provider = FakeProvider::start().await;
    let admin = daemon.connect(ADMIN).await;
    let kiosk = daemon.connect(KIOSK).await;
    let first = start_bridge(&daemon, provider.provider(5));
    for n in 0..3 {
        kiosk
            .issue(item('C'), Lane::WalkIn, Some(visitor(n)))
            .await
            .unwrap();
    }
    until("the first three acknowledged", async || {
        provider.accepted().len() == 3 && pending(&admin).await == 0
    })
    .await;
    // The provider hangs: the bridge is mid-delivery when it is stopped.
    provider.state.lock().unwrap().hang = true;
    for n in 3..5 {
        kiosk
            .issue(item('C'), Lane::WalkIn, Some(visitor(n)))
            .await
            .unwrap();
    }
    until("a request in flight", async || provider.seen().len() == 4).await;
    let _ = first.send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pending(&admin).await, 2);
    provider.state.lock().unwrap().hang = false;
    let _second = start_bridge(&daemon, provider.provider(5));
    until("the rest delivered", async || {
        provider.accepted().len() == 5 && pending(&admin).await == 0
    })
    .await;
    let seen = provider.seen();
    let mut requests: HashMap<&str, usize> = HashMap::new();
    for s in &seen {
        *requests.entry(s.key.as_str()).or_default() += 1;
    }
    let first_three: Vec<&Seen> = seen.iter().take(3).collect();
    for s in &first_three {
        assert_eq!(
            requests[s.key.as_str()],
            1,
            "acknowledged {} sent again",
            s.key
        );
    }
    let in_flight = &seen[3].key;
    assert_eq!(
        requests[in_flight.as_str()],
        2,
        "the unacknowledged one comes again"
    );
    assert!(provider.accepted().values().all(|n| *n == 1));
}
