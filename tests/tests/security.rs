//! Issue 10 item 5, over the wire: tokens and phone numbers stay out of the
//! logs even at debug level, and a token is confined to its own hall (its
//! own window is covered by `roles.rs`). The TLS 1.3-only and key-permission
//! checks are unit tests in `daemon/src/net/certificate.rs`; constant-time token
//! comparison is tested in `daemon/src/config/tokens.rs`.

use std::ffi::OsStr;
use std::fs;

use hallq_client::client::{Client, ClientError};
use hallq_proto::types::{Lane, WindowNo};
use hallq_proto::wire::WindowAction;
use hallq_tests::{
    config_toml, item, run_hallqd, waiting, window_token, within, Daemon, TestHall, ADMIN, KIOSK,
    STEP_TIMEOUT,
};

/// A token nobody configured, long enough to be found in a log if echoed.
const BAD_TOKEN: &str = "e2e-bad-token-must-never-be-logged-42";
const PHONE: &str = "13912345678";

#[tokio::test]
async fn tokens_and_phone_numbers_stay_out_of_debug_logs() {
    let hall = TestHall::new().unwrap();
    let daemon = Daemon::start_logging(
        &[OsStr::new("--config"), hall.config().as_os_str()],
        "debug",
    )
    .unwrap();

    let kiosk = daemon.connect(KIOSK).await;
    kiosk
        .issue(item('A'), Lane::WalkIn, Some(PHONE.into()))
        .await
        .unwrap();
    let window = daemon.connect(&window_token(1)).await;
    window.window(None, WindowAction::Open).await.unwrap();
    window
        .window(None, WindowAction::Call { ticket: None })
        .await
        .unwrap();
    match daemon.client(BAD_TOKEN).await {
        Err(ClientError::Refused(reply)) => assert_eq!(reply.code, "unauthorized"),
        other => panic!("a bad token was not refused: {other:?}"),
    }
    // A bad token sent as the hall name too, where a careless log of the
    // whole Hello would put it.
    let hello_hall = within(
        STEP_TIMEOUT,
        Client::connect(daemon.addr(), daemon.cert(), BAD_TOKEN, Some(BAD_TOKEN)),
    )
    .await;
    assert!(hello_hall.is_err());
    kiosk.close().await;
    window.close().await;
    let mut daemon = daemon;
    daemon.stop().unwrap();

    let stderr = daemon.stderr();
    // The test means something only if debug output was on.
    assert!(stderr.contains("DEBUG"), "no debug lines:\n{stderr}");
    assert!(stderr.contains("role=kiosk"), "{stderr}");
    // rustls says at debug which suite it chose: TLS 1.3 ones only.
    assert!(stderr.contains("decided upon suite TLS13_"), "{stderr}");
    assert!(!stderr.contains("suite TLS_ECDHE"), "{stderr}");
    for secret in [KIOSK, BAD_TOKEN, &window_token(1), PHONE] {
        assert!(
            !stderr.contains(secret),
            "{secret:?} is in hallqd's log:\n{stderr}"
        );
    }
}

/// The test hall plus a second hall `east` with its own kiosk and window 1.
fn two_halls(hall: &TestHall) -> String {
    let mut toml = config_toml(&hall.dir().join("state"));
    toml.push_str(&format!(
        r#"
[[token]]
token = "{EAST_KIOSK}"
role = "kiosk"
hall = "east"

[[token]]
token = "{EAST_WINDOW}"
role = "window"
hall = "east"
window = 1

[[hall]]
id = "east"
name = "东区分厅"

[[hall.item]]
code = "A"
name = "社保"
avg_service_secs = 300

[[hall.window]]
number = 1
universal = true
"#
    ));
    toml
}

const EAST_KIOSK: &str = "e2e-east-kiosk-token-001";
const EAST_WINDOW: &str = "e2e-east-window-token-01";

async fn connect(daemon: &Daemon, token: &str, hall: Option<&str>) -> Result<Client, ClientError> {
    within(
        STEP_TIMEOUT,
        Client::connect(daemon.addr(), daemon.cert(), token, hall),
    )
    .await
}

/// A refusal at hello: the daemon answers with the reason, then closes the
/// connection (which the client may see first; the close carries the reason).
fn refused_at_hello(result: Result<Client, ClientError>, what: &str) -> String {
    match result {
        Err(ClientError::Refused(reply)) => {
            assert!(
                ["forbidden", "unauthorized"].contains(&reply.code.as_str()),
                "{what}: {reply:?}"
            );
            reply.message
        }
        Err(other) => panic!("{what}: expected a refusal, got {other:?}"),
        Ok(client) => panic!("{what}: accepted as {:?}", client.welcome()),
    }
}

#[tokio::test]
async fn a_token_cannot_act_in_another_hall() {
    let hall = TestHall::new().unwrap();
    fs::write(hall.config(), two_halls(&hall)).unwrap();
    let daemon = hall.start().unwrap();

    // Naming the other hall at hello is refused, for a window and a kiosk
    // of either hall.
    let main_window = window_token(1);
    let main_window = main_window.as_str();
    for (token, other) in [
        (main_window, "east"),
        (KIOSK, "east"),
        (EAST_WINDOW, "main"),
        (EAST_KIOSK, "main"),
    ] {
        let message = refused_at_hello(connect(&daemon, token, Some(other)).await, token);
        assert!(message.contains(other), "{token}: {message}");
    }

    // Without a hall name each token lands in its own hall, whatever it does.
    let east_kiosk = connect(&daemon, EAST_KIOSK, None).await.unwrap();
    assert_eq!(east_kiosk.welcome().hall, "east");
    let east_ticket = east_kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .unwrap();
    let east_admin = connect(&daemon, ADMIN, Some("east")).await.unwrap();
    let east_before = east_admin.status().await.unwrap();
    assert_eq!(waiting(&east_before).len(), 1);

    let window = connect(&daemon, main_window, None).await.unwrap();
    assert_eq!(window.welcome().hall, "main");
    assert_eq!(window.welcome().window, Some(WindowNo(1)));
    window.window(None, WindowAction::Open).await.unwrap();
    // Hall main has nobody waiting: main's window 1 must not reach east's
    // ticket, neither as "the next" nor by its number.
    assert!(window
        .window(None, WindowAction::Call { ticket: None })
        .await
        .is_err());
    assert!(window
        .window(
            None,
            WindowAction::Call {
                ticket: Some(east_ticket.ticket)
            }
        )
        .await
        .is_err());
    window.window(None, WindowAction::Close).await.unwrap();
    assert_eq!(
        east_admin.status().await.unwrap(),
        east_before,
        "hall main's window changed hall east"
    );

    // East's own window 1 is a different terminal and calls east's ticket.
    let east_window = connect(&daemon, EAST_WINDOW, None).await.unwrap();
    east_window.window(None, WindowAction::Open).await.unwrap();
    east_window
        .window(None, WindowAction::Call { ticket: None })
        .await
        .unwrap();
    assert!(waiting(&east_admin.status().await.unwrap()).is_empty());
}

#[test]
fn a_key_readable_by_others_stops_the_start_with_exit_64() {
    use std::os::unix::fs::PermissionsExt;
    let hall = TestHall::new().unwrap();
    // The generated key under state_dir/tls/: made at first start, 0600.
    hall.start().unwrap().stop().unwrap();
    let key = hall.dir().join("state/tls/key.pem");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let exited = run_hallqd(&[OsStr::new("--config"), hall.config().as_os_str()]).unwrap();
    assert_eq!(exited.code(), Some(64), "{}", exited.stderr);
    assert!(
        exited
            .stderr
            .contains(&format!("chmod 600 {}", key.display())),
        "{}",
        exited.stderr
    );

    // The same pair configured as [tls] files.
    let cert = hall.dir().join("state/tls/cert.pem");
    // A table header after the halls starts a new top-level table.
    let mut toml = fs::read_to_string(hall.config()).unwrap();
    toml.push_str(&format!(
        "\n[tls]\ncert = {:?}\nkey = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    ));
    fs::write(hall.config(), &toml).unwrap();
    let exited = run_hallqd(&[OsStr::new("--config"), hall.config().as_os_str()]).unwrap();
    assert_eq!(exited.code(), Some(64), "{}", exited.stderr);
    assert!(exited.stderr.contains("chmod 600"), "{}", exited.stderr);

    // Fixed, it starts.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    hall.start().unwrap().stop().unwrap();
}

/// Issue 19: an all-halls admin token without `--hall` on a two-hall daemon
/// used to be refused at hello ("name one (--hall)") even for `admin health`
/// and `admin reload`, which are daemon-wide. Now those two work and report
/// both halls; anything about one hall still asks for its name.
#[tokio::test]
async fn an_all_halls_admin_needs_no_hall_for_health_and_reload() {
    use hallq_proto::wire::{Request, Response};
    let hall = TestHall::new().unwrap();
    fs::write(hall.config(), two_halls(&hall)).unwrap();
    let daemon = hall.start().unwrap();
    let admin = connect(&daemon, ADMIN, None).await.expect("admin connects");
    match admin.request(&Request::Health).await.expect("health") {
        Response::Health(report) => {
            let mut halls: Vec<&str> = report.halls.iter().map(|h| h.hall.as_str()).collect();
            halls.sort();
            assert_eq!(halls, ["east", "main"]);
            assert!(report.healthy);
        }
        other => panic!("expected health, got {other:?}"),
    }
    match admin.request(&Request::Reload).await.expect("reload") {
        Response::Reloaded { .. } => {}
        other => panic!("expected a reload, got {other:?}"),
    }
    for request in [Request::Status, Request::CloseIssuing] {
        let message = hallq_tests::expect_refused(admin.request(&request).await, "bad_request");
        assert!(message.contains("--hall"), "{message}");
    }
    // Nothing was closed by the refused request.
    let main = connect(&daemon, ADMIN, Some("main")).await.unwrap();
    main.issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("main still issues");
}
