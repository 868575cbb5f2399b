//! Running hallqd in production (issue 7): reload without losing the queue,
//! Prometheus metrics and the health check, tokens kept as a SHA-256, and a
//! systemd unit that `systemd-analyze verify` accepts.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use hallq_client::client::ClientError;
use hallq_proto::types::{Lane, WindowNo};
use hallq_proto::wire::{Request, Response, WindowAction};
use hallq_tests::{
    expect_refused, hallqd_path, item, open_windows, waiting, window_token, TestHall, ADMIN, KIOSK,
    STEP_TIMEOUT,
};

/// Rewrites the test hall's config file with `edit`.
fn edit_config(hall: &TestHall, edit: impl FnOnce(String) -> String) {
    let text = fs::read_to_string(hall.config()).expect("read config");
    fs::write(hall.config(), edit(text)).expect("write config");
}

/// A loopback TCP port that was free a moment ago.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr")
}

/// `GET path` over plain HTTP/1.1; (status line, body).
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut stream = loop {
        match TcpStream::connect(addr) {
            Ok(stream) => break stream,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("cannot reach the metrics endpoint {addr}: {e}"),
        }
    };
    stream
        .set_read_timeout(Some(STEP_TIMEOUT))
        .expect("read timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: hallq\r\n\r\n").expect("send request");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read response");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// The value of the sample `name{labels}` in a Prometheus exposition.
fn sample(exposition: &str, name_and_labels: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|line| line.starts_with(name_and_labels))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_changes_mappings_tokens_and_keeps_the_queue() {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("start hallqd");
    let kiosk = daemon.connect(KIOSK).await;
    let admin = daemon.connect(ADMIN).await;
    open_windows(&admin, &[2, 3]).await;
    for c in ['A', 'A', 'B', 'C', 'A'] {
        kiosk
            .issue(item(c), Lane::WalkIn, None)
            .await
            .expect("issue");
    }
    let before = waiting(&admin.status().await.expect("status"));

    // Window 2 now serves C as well; a new token for a second kiosk.
    let new_kiosk = "e2e-kiosk-token-000002";
    edit_config(&hall, |text| {
        text.replace(
            "number = 2\nitems = [\"A\"]",
            "number = 2\nitems = [\"A\", \"C\"]",
        )
        .replacen(
            "[[token]]",
            &format!(
                "[[token]]\ntoken = {new_kiosk:?}\nrole = \"kiosk\"\nhall = \"main\"\n\n[[token]]"
            ),
            1,
        )
    });
    let changes = match admin.request(&Request::Reload).await.expect("reload") {
        Response::Reloaded { changes } => changes,
        other => panic!("unexpected answer {other:?}"),
    };
    assert!(
        changes.iter().any(|c| c.contains("reconfigured")),
        "{changes:?}"
    );
    assert!(changes.iter().any(|c| c.contains("tokens")), "{changes:?}");
    let status = admin.status().await.expect("status");
    assert_eq!(waiting(&status), before, "nobody moved");
    let w2 = status
        .view
        .windows
        .iter()
        .find(|w| w.number == WindowNo(2))
        .expect("window 2");
    assert_eq!(w2.items, vec![item('A'), item('C')]);
    assert_eq!(
        w2.state,
        hallq_proto::views::WindowState::Open,
        "state kept"
    );
    daemon
        .connect(new_kiosk)
        .await
        .issue(item('D'), Lane::WalkIn, None)
        .await
        .expect("the new token works at once");

    // A reload that would strand tickets is refused and changes nothing.
    edit_config(&hall, |text| {
        text.replace("[[hall.item]]\ncode = \"C\"", "[[hall.item]]\ncode = \"Z\"")
            .replace("\"A\", \"C\"]", "\"A\", \"Z\"]")
            .replace("items = [\"B\", \"C\"]", "items = [\"B\", \"Z\"]")
            .replace("items = [\"C\", \"D\"]", "items = [\"Z\", \"D\"]")
    });
    let refusal = expect_refused(admin.request(&Request::Reload).await, "reload_refused");
    assert!(
        refusal.contains("item C has 1 ticket(s) today"),
        "{refusal}"
    );
    assert!(admin
        .status()
        .await
        .expect("status")
        .view
        .items
        .iter()
        .any(|i| i.code == item('C')));

    // SIGHUP does the same as `hallq admin reload`: restore the file, and
    // the removed token stops working.
    edit_config(&hall, |text| {
        text.replace("[[hall.item]]\ncode = \"Z\"", "[[hall.item]]\ncode = \"C\"")
            .replace("\"A\", \"Z\"]", "\"A\"]")
            .replace("items = [\"B\", \"Z\"]", "items = [\"B\", \"C\"]")
            .replace("items = [\"Z\", \"D\"]", "items = [\"C\", \"D\"]")
            .replace(
                &format!("[[token]]\ntoken = {new_kiosk:?}\nrole = \"kiosk\"\nhall = \"main\"\n\n"),
                "",
            )
    });
    let status = Command::new("kill")
        .args(["-HUP", &daemon.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let status = admin.status().await.expect("status");
        let w2 = status
            .view
            .windows
            .iter()
            .find(|w| w.number == WindowNo(2))
            .expect("window 2");
        if w2.items == vec![item('A')] {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = daemon.client(new_kiosk).await;
    assert!(
        matches!(&refused, Err(ClientError::Refused(r)) if r.code == "unauthorized"),
        "{refused:?}"
    );

    // The reconfigurations are journaled: a restart replays them in order.
    drop(daemon);
    let daemon = hall.start().expect("restart");
    let admin = daemon.connect(ADMIN).await;
    let status = admin.status().await.expect("status");
    assert_eq!(waiting(&status).len(), before.len() + 1);
    let window = daemon.connect(&window_token(2)).await;
    let called = window
        .window(None, WindowAction::Call { ticket: None })
        .await
        .expect("call");
    assert!(matches!(called, Response::Window { ticket: Some(t), .. } if t.item == item('A')));
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_health_after_traffic() {
    let hall = TestHall::new().expect("test hall");
    let metrics = free_port();
    edit_config(&hall, |text| {
        format!("metrics_listen = \"{metrics}\"\n{text}")
    });
    let daemon = hall.start().expect("start hallqd");
    let kiosk = daemon.connect(KIOSK).await;
    let admin = daemon.connect(ADMIN).await;
    open_windows(&admin, &[1]).await;
    for _ in 0..3 {
        kiosk
            .issue(item('A'), Lane::WalkIn, None)
            .await
            .expect("issue");
    }
    let window = daemon.connect(&window_token(1)).await;
    window
        .window(None, WindowAction::Call { ticket: None })
        .await
        .expect("call");
    window
        .window(None, WindowAction::Finish { rating: None })
        .await
        .expect("finish");

    let (status, body) = http_get(metrics, "/metrics");
    assert!(status.contains("200"), "{status}");
    assert_eq!(
        sample(
            &body,
            "hallq_tickets_issued_total{hall=\"main\",item=\"A\",lane=\"walk_in\"}"
        ),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "hallq_tickets_called_total{hall=\"main\",item=\"A\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &body,
            "hallq_tickets_served_total{hall=\"main\",item=\"A\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&body, "hallq_tickets_waiting{hall=\"main\",item=\"A\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&body, "hallq_windows_open{hall=\"main\"}"),
        Some(1.0)
    );
    for name in [
        "hallq_request_duration_seconds_bucket",
        "hallq_journal_fsync_duration_seconds_bucket",
        "hallq_journal_batch_records_count",
        "hallq_connections{role=\"admin\"}",
        "hallq_oldest_wait_seconds{hall=\"main\",item=\"A\"}",
    ] {
        assert!(body.contains(name), "{name} missing from:\n{body}");
    }
    assert!(!body.contains(KIOSK), "no token in metrics");

    let (status, body) = http_get(metrics, "/healthz");
    assert!(status.contains("200"), "{status}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
    assert_eq!(health["healthy"], true);
    assert_eq!(health["halls"][0]["hall"], "main");
    assert_eq!(health["halls"][0]["journal_writable"], true);
    assert!(health["halls"][0]["last_fsync_age_secs"].as_u64().is_some());
    let (status, _) = http_get(metrics, "/nothing");
    assert!(status.contains("404"), "{status}");

    match admin.request(&Request::Health).await.expect("admin health") {
        Response::Health(report) => {
            assert!(report.healthy);
            assert_eq!(report.halls[0].waiting, 2);
        }
        other => panic!("unexpected answer {other:?}"),
    }
    expect_refused(kiosk.request(&Request::Health).await, "forbidden");
    expect_refused(kiosk.request(&Request::Reload).await, "forbidden");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_token_kept_as_its_sha256_connects() {
    let out = Command::new(hallqd_path())
        .args(["gen-token", "--role", "kiosk", "--hall", "main", "--hashed"])
        .output()
        .expect("run hallqd gen-token");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("token line")
        .to_owned();
    let toml: String = text
        .lines()
        .skip_while(|l| !l.starts_with("[[token]]"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!toml.contains(&token), "the TOML holds only the digest");
    let hall = TestHall::new().expect("test hall");
    edit_config(&hall, |text| {
        text.replacen("[[token]]", &format!("{toml}\n[[token]]"), 1)
    });
    let daemon = hall.start().expect("start hallqd");
    let kiosk = daemon.connect(&token).await;
    kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("issue with the hashed token");
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../systemd/hallqd.service"
    ))
    .expect("read systemd/hallqd.service");
    for must in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "StateDirectory=hallq",
        "ConfigurationDirectory=hallq",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=",
        "RestartPreventExitStatus=64 65",
    ] {
        assert!(unit.contains(must), "the unit lacks {must:?}");
    }
    // verify checks that the binary exists: point it at the one under test.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hallqd.service");
    fs::write(
        &path,
        unit.replace(
            "/usr/local/bin/hallqd",
            &hallqd_path().display().to_string(),
        ),
    )
    .expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd; .ci/run installs it)");
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
