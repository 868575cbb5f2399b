//! How `hallqd` starts and stops, by its exit codes (main.rs): SIGTERM is a
//! graceful shutdown that ends subscriptions (telling them why), exits 0
//! within seconds and says it stopped; a config with an unknown key, or a missing config file,
//! exits 64 (EX_USAGE) naming the problem before anything listens.

use std::ffi::OsStr;
use std::fs;
use std::time::{Duration, Instant};

use hallq_client::client::ClientError;
use hallq_proto::wire::DisplayUpdate;
use hallq_tests::{
    config_toml, next_update, run_hallqd, within, TestHall, DISPLAY, NOTIFIER, STEP_TIMEOUT,
};

#[tokio::test]
async fn sigterm_stops_cleanly() {
    let hall = TestHall::new().expect("test hall");
    let mut daemon = hall.start().expect("hallqd starts");
    // A live subscription must not hold the shutdown up.
    let board = daemon.connect(DISPLAY).await;
    let mut screen = board.watch().await.expect("display subscribes");
    assert!(matches!(
        next_update(&mut screen).await,
        DisplayUpdate::Snapshot { .. }
    ));

    let asked = Instant::now();
    daemon.terminate();
    let status = daemon
        .wait_exit(Duration::from_secs(5))
        .expect("hallqd exits within 5 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", daemon.stderr());
    assert!(asked.elapsed() < Duration::from_secs(5));
    let stderr = daemon.stderr();
    assert!(stderr.contains("shutting down"), "stderr:\n{stderr}");
    assert!(stderr.contains("stopped"), "stderr:\n{stderr}");
    assert!(stderr.contains("journal closed"), "stderr:\n{stderr}");
    // The subscription ends one way or another.
    let end = within(STEP_TIMEOUT, screen.next()).await;
    assert!(
        !matches!(end, Ok(Some(DisplayUpdate::Change { .. }))),
        "{end:?}"
    );
}

/// hallq-proto's wire.rs: `DisplayUpdate::Dropped` / `NotifierFrame::Dropped` tell a
/// subscriber that "the daemon is shutting down".
#[tokio::test]
async fn sigterm_tells_subscribers_why() {
    let hall = TestHall::new().expect("test hall");
    let mut daemon = hall.start().expect("hallqd starts");
    let board = daemon.connect(DISPLAY).await;
    let mut screen = board.watch().await.expect("display subscribes");
    assert!(matches!(
        next_update(&mut screen).await,
        DisplayUpdate::Snapshot { .. }
    ));
    let gateway = daemon.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.expect("notifier subscribes");

    daemon.terminate();
    match within(STEP_TIMEOUT, screen.next()).await {
        Ok(Some(DisplayUpdate::Dropped { reason })) => {
            assert!(reason.contains("shutting down"), "{reason}")
        }
        other => panic!("display: expected Dropped, got {other:?}"),
    }
    match within(STEP_TIMEOUT, outbox.next()).await {
        Err(ClientError::Connection(message)) => {
            assert!(message.contains("shutting down"), "{message}")
        }
        other => panic!("notifier: expected Dropped, got {other:?}"),
    }
    let status = daemon.wait_exit(Duration::from_secs(5)).expect("exits");
    assert_eq!(status.code(), Some(0));
}

/// Writes the test config with `anchor` replaced by `anchor` plus `extra`
/// (an unknown key), runs hallqd on it and checks it exits 64 naming `key`
/// and creating nothing.
fn unknown_key_exits_64(anchor: &str, extra: &str, key: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    let text =
        config_toml(&dir.path().join("state")).replacen(anchor, &format!("{extra}\n{anchor}"), 1);
    fs::write(&config, text).expect("write config");
    let exited = run_hallqd(&[OsStr::new("--config"), config.as_os_str()]).expect("hallqd runs");
    assert_eq!(exited.code(), Some(64), "stderr:\n{}", exited.stderr);
    assert!(exited.stderr.contains(key), "stderr:\n{}", exited.stderr);
    assert!(
        !dir.path().join("state").exists(),
        "nothing is created from a refused config"
    );
}

#[test]
fn unknown_config_key_exits_64_naming_it() {
    unknown_key_exits_64(
        "shutdown_grace_secs",
        "listen_backlog = 5",
        "listen_backlog",
    );
}

#[test]
fn unknown_key_in_a_hall_exits_64_naming_it() {
    unknown_key_exits_64("reminder_factor = 1.5", "remider = 2", "remider");
}

#[test]
fn missing_config_exits_64() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.toml");
    let exited = run_hallqd(&[OsStr::new("--config"), missing.as_os_str()]).expect("hallqd runs");
    assert_eq!(exited.code(), Some(64), "stderr:\n{}", exited.stderr);
    assert!(
        exited.stderr.contains("missing.toml"),
        "stderr:\n{}",
        exited.stderr
    );
}

#[test]
fn check_flag_validates_without_serving() {
    let hall = TestHall::new().expect("test hall");
    let exited = run_hallqd(&[
        OsStr::new("--config"),
        hall.config().as_os_str(),
        OsStr::new("--check"),
    ])
    .expect("hallqd runs");
    assert_eq!(exited.code(), Some(0), "stderr:\n{}", exited.stderr);
}
