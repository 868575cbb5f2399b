//! SPEC §3 over the wire: every action outside a token's role is refused
//! with a stable code ("forbidden", "unauthorized", "bad_request") and
//! changes nothing: the hall's `status` is identical before and after.

use hallq_client::client::{Client, ClientError};
use hallq_proto::types::{Lane, PriorityReason, WindowNo};
use hallq_proto::wire::{Request, Status, WindowAction};
use hallq_tests::{
    expect_refused, item, open_windows, ticket, window_token, Daemon, TestHall, ADMIN, DISPLAY,
    KIOSK, NOTIFIER,
};

/// A running hall with window 1 open and two tickets waiting, and a
/// display client to read its status with.
struct Setup {
    _hall: TestHall,
    daemon: Daemon,
    observer: Client,
    before: Status,
}

impl Setup {
    async fn new() -> Setup {
        let hall = TestHall::new().expect("test hall");
        let daemon = hall.start().expect("hallqd starts");
        let admin = daemon.connect(ADMIN).await;
        open_windows(&admin, &[1]).await;
        let kiosk = daemon.connect(KIOSK).await;
        // Two visitors (a phone holds one active ticket per item, SPEC §6).
        for phone in ["13800138000", "13800138001"] {
            kiosk
                .issue(item('A'), Lane::WalkIn, Some(phone.into()))
                .await
                .expect("kiosk issues");
        }
        let observer = daemon.connect(DISPLAY).await;
        let before = observer.status().await.expect("status");
        assert_eq!(before.waiting.len(), 2);
        Setup {
            _hall: hall,
            daemon,
            observer,
            before,
        }
    }

    /// Asserts that `result` is refused with `code` and that the hall did
    /// not change.
    async fn denied<T: std::fmt::Debug>(
        &self,
        what: &str,
        result: Result<T, ClientError>,
        code: &str,
    ) {
        let message = expect_refused(result, code);
        assert!(!message.is_empty(), "{what}: a refusal says why");
        let after = self.observer.status().await.expect("status");
        assert_eq!(after, self.before, "{what} changed the hall");
    }
}

#[tokio::test]
async fn every_role_is_held_to_its_rights() {
    let s = Setup::new().await;
    let call = || WindowAction::Call { ticket: None };

    let display = s.daemon.connect(DISPLAY).await;
    s.denied(
        "display calls",
        display.window(None, call()).await,
        "forbidden",
    )
    .await;
    s.denied(
        "display calls for window 1",
        display.window(Some(WindowNo(1)), call()).await,
        "forbidden",
    )
    .await;
    s.denied(
        "display subscribes to notifications",
        display.notifications().await,
        "forbidden",
    )
    .await;

    let window2 = s.daemon.connect(&window_token(2)).await;
    s.denied(
        "window 2 calls for window 1",
        window2.window(Some(WindowNo(1)), call()).await,
        "forbidden",
    )
    .await;
    s.denied(
        "window 2 opens window 1",
        window2.window(Some(WindowNo(1)), WindowAction::Open).await,
        "forbidden",
    )
    .await;
    s.denied(
        "window 2 issues",
        window2.issue(item('A'), Lane::WalkIn, None).await,
        "forbidden",
    )
    .await;

    let kiosk = s.daemon.connect(KIOSK).await;
    s.denied(
        "kiosk pauses window 1",
        kiosk
            .window(
                Some(WindowNo(1)),
                WindowAction::Pause {
                    reason: "午休".into(),
                },
            )
            .await,
        "forbidden",
    )
    .await;
    s.denied("kiosk watches", kiosk.watch().await, "forbidden")
        .await;
    s.denied(
        "kiosk issues an appointment ticket",
        kiosk.issue(item('A'), Lane::Appointment, None).await,
        "forbidden",
    )
    .await;
    s.denied(
        "kiosk closes issuing",
        kiosk.request(&Request::CloseIssuing).await,
        "forbidden",
    )
    .await;
    s.denied(
        "kiosk reinstates",
        kiosk
            .request(&Request::Reinstate {
                ticket: ticket("A001"),
            })
            .await,
        "forbidden",
    )
    .await;

    let notifier = s.daemon.connect(NOTIFIER).await;
    s.denied(
        "notifier issues",
        notifier
            .issue(item('A'), Lane::Priority(PriorityReason::Green), None)
            .await,
        "forbidden",
    )
    .await;
    s.denied("notifier watches", notifier.watch().await, "forbidden")
        .await;
    s.denied(
        "notifier calls",
        notifier.window(Some(WindowNo(1)), call()).await,
        "forbidden",
    )
    .await;

    let admin = s.daemon.connect(ADMIN).await;
    s.denied(
        "admin names no window",
        admin.window(None, call()).await,
        "bad_request",
    )
    .await;

    // A bad phone number is refused before anything is issued.
    s.denied(
        "kiosk issues with a bad phone number",
        kiosk
            .issue(item('A'), Lane::WalkIn, Some("not-a-phone".into()))
            .await,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn unknown_token_cannot_connect() {
    let s = Setup::new().await;
    for token in ["no-such-token-000000000", "", KIOSK.trim_end_matches('1')] {
        match s.daemon.client(token).await {
            Err(ClientError::Refused(reply)) => assert_eq!(reply.code, "unauthorized", "{reply:?}"),
            Err(ClientError::Connection(message)) => {
                assert!(message.contains("unknown token"), "{message}")
            }
            other => panic!("token {token:?} was not refused: {other:?}"),
        }
    }
    let after = s.observer.status().await.expect("status");
    assert_eq!(after, s.before);
}

/// SPEC/proto: `Status` is for "every role but notifier" (the SMS bridge
/// has no business reading the hall's lines).
#[tokio::test]
async fn notifier_cannot_read_status() {
    let s = Setup::new().await;
    let notifier = s.daemon.connect(NOTIFIER).await;
    s.denied(
        "notifier reads status",
        notifier.status().await,
        "forbidden",
    )
    .await;
}

/// The rights that are granted work (so the refusals above are about the
/// role, not a broken hall): window 1 calls for itself, the admin for any
/// window, and after that the change shows.
#[tokio::test]
async fn granted_actions_work() {
    let s = Setup::new().await;
    let window1 = s.daemon.connect(&window_token(1)).await;
    window1
        .window(Some(WindowNo(1)), WindowAction::Call { ticket: None })
        .await
        .expect("window 1 calls for itself");
    let admin = s.daemon.connect(ADMIN).await;
    admin
        .window(Some(WindowNo(1)), WindowAction::Finish { rating: None })
        .await
        .expect("admin finishes for window 1");
    let after = s.observer.status().await.expect("status");
    assert_eq!(after.waiting.len(), 1);
    assert_ne!(after, s.before);
}
