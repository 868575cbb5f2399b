//! Limits under abuse (issue 10 item 4): a kiosk stuck in a loop is slowed
//! down alone, connection caps per role and in all, a cap on displays per
//! hall, and a slow-loris client cut off — each with a clear error or close
//! reason, and the daemon serving everyone else meanwhile.

use std::time::Duration;

use hallq_client::client::ClientError;
use hallq_proto::codec::encode;
use hallq_proto::wire::CLOSE_PROTOCOL;
use hallq_proto::wire::{Hello, Request, Response};
use hallq_tests::{
    expect_refused, window_token, within, Daemon, TestHall, ADMIN, DISPLAY, KIOSK, STEP_TIMEOUT,
};

/// A running test hall whose config has `limits` (TOML lines for
/// `[limits]`).
fn hall_with_limits(limits: &str) -> (TestHall, Daemon) {
    let hall = TestHall::with_limits(limits).expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    (hall, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_kiosk_is_slowed_alone() {
    let (_hall, daemon) = hall_with_limits("requests_per_second = 5");
    let kiosk = daemon.connect(KIOSK).await;
    let window = daemon.connect(&window_token(1)).await;
    // 40 requests at once: the burst (10) passes, the rest is refused.
    let answers = futures_join(&kiosk, 40).await;
    let limited = answers
        .iter()
        .filter(|r| matches!(r, Err(ClientError::Refused(e)) if e.code == "rate_limited"))
        .count();
    assert!(limited >= 20, "only {limited} of 40 were rate limited");
    assert!(answers.iter().any(Result::is_ok), "the burst passes");
    // The window terminal, on its own connection, is not held up.
    for _ in 0..5 {
        window.status().await.expect("a window terminal is served");
    }
    // And the kiosk is served again once it slows down.
    tokio::time::sleep(Duration::from_millis(400)).await;
    kiosk
        .status()
        .await
        .expect("served again after slowing down");
}

async fn futures_join(
    client: &hallq_client::client::Client,
    n: usize,
) -> Vec<Result<Response, ClientError>> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client.request(&Request::Status).await
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("request task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_per_role_and_in_all() {
    let (_hall, daemon) = hall_with_limits("connections = 4\n[limits.per_role]\ndisplay = 2");
    let _d1 = daemon.connect(DISPLAY).await;
    let _d2 = daemon.connect(DISPLAY).await;
    let third = daemon.client(DISPLAY).await;
    let refusal = expect_refused(third, "too_many_connections");
    assert!(
        refusal.contains("display") && refusal.contains("limit 2"),
        "{refusal}"
    );
    // Other roles still get in, up to the total.
    let _k = daemon.connect(KIOSK).await;
    let _a = daemon.connect(ADMIN).await;
    let over = daemon.client(ADMIN).await;
    assert!(over.is_err(), "a fifth connection is refused: {over:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn displays_per_hall_are_capped() {
    let (_hall, daemon) = hall_with_limits("displays_per_hall = 1");
    let first = daemon.connect(DISPLAY).await;
    let _stream = first.watch().await.expect("the first display subscribes");
    let second = daemon.connect(ADMIN).await;
    let refused = second.watch().await;
    assert!(
        matches!(&refused, Err(ClientError::Refused(e)) if e.code == "too_many_displays"),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_is_cut_off() {
    let (_hall, daemon) = hall_with_limits("frame_timeout_secs = 1");
    let connection = within(
        STEP_TIMEOUT,
        hallq_client::tls::connect(daemon.addr(), daemon.cert()),
    )
    .await
    .expect("QUIC handshake");
    let (mut send, mut recv) = connection.open_bi().await.expect("hello stream");
    let hello = encode(&Hello {
        token: KIOSK.into(),
        hall: None,
        client: "slow loris".into(),
    })
    .expect("hello");
    send.write_all(&hello).await.expect("send hello");
    let _ = send.finish();
    let welcome = within(
        STEP_TIMEOUT,
        hallq_proto::codec::read_frame::<Response>(&mut recv),
    )
    .await
    .expect("welcome");
    assert!(matches!(welcome, Some(Response::Welcome(_))));
    // Open a request stream, send half a length prefix, and stop.
    let (mut slow, _slow_recv) = connection.open_bi().await.expect("request stream");
    slow.write_all(&[0, 0]).await.expect("two bytes");
    let reason = within(STEP_TIMEOUT, connection.closed()).await;
    match reason {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code, CLOSE_PROTOCOL.into());
            assert!(
                String::from_utf8_lossy(&close.reason).contains("no complete request"),
                "{close:?}"
            );
        }
        other => panic!("closed otherwise: {other:?}"),
    }
    // Everyone else is served.
    daemon
        .connect(KIOSK)
        .await
        .status()
        .await
        .expect("the daemon serves others");
}
