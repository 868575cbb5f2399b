//! One visitor's way through the hall over real QUIC: a kiosk issues
//! tickets with a phone number, window 1 opens and calls, a display board
//! subscribed before the call sees its snapshot and then the call, the SMS
//! gateway receives the §7.3.4 issue, §7.3.5 approaching and §7.3.6 called
//! messages with the right positions and window, and what it acknowledged
//! is never delivered again. `status` lists windows and waiting tickets.

use std::collections::HashSet;

use hallq_proto::types::{Lane, WindowNo};
use hallq_proto::views::WindowState;
use hallq_proto::wire::{DisplayUpdate, Notification, NotificationKind, Response, WindowAction};
use hallq_tests::{
    assert_acks_stick, item, next_update, notifications_until, ticket, waiting, window_token,
    TestHall, ADMIN, DISPLAY, KIOSK, NOTIFIER,
};

/// One visitor per ticket: a phone holds one active ticket per item (SPEC §6).
const PHONES: [&str; 3] = ["13800138000", "13800138001", "13800138002"];

#[tokio::test]
async fn issue_call_display_and_notifications() {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let kiosk = daemon.connect(KIOSK).await;
    let window1 = daemon.connect(&window_token(1)).await;
    let gateway = daemon.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.expect("notifier subscribes");

    // Only window 1 is open among A's windows (1, 2, 6): the §7.3.5
    // threshold is 1.5 × 1, so positions 0 and 1 are "approaching".
    let opened = window1
        .window(None, WindowAction::Open)
        .await
        .expect("window 1 opens");
    assert!(
        matches!(&opened, Response::Window { window, .. } if window.state == WindowState::Open),
        "{opened:?}"
    );
    let mut issued = Vec::new();
    for (expected, phone) in ["A001", "A002", "A003"].into_iter().zip(PHONES) {
        let t = kiosk
            .issue(item('A'), Lane::WalkIn, Some(phone.into()))
            .await
            .expect("kiosk issues");
        assert_eq!(t.ticket.to_string(), expected);
        assert_eq!(t.lane, Lane::WalkIn);
        assert_eq!(t.item_name, "社保");
        assert_eq!(t.windows, vec![WindowNo(1)]);
        issued.push(t);
    }
    let positions: Vec<(u32, bool)> = issued.iter().map(|t| (t.position, t.approaching)).collect();
    assert_eq!(positions, vec![(0, true), (1, true), (2, false)]);
    // Two people ahead, 300 s each, one window.
    assert_eq!(issued[2].eta_secs, Some(600));

    let status = kiosk.status().await.expect("status");
    assert_eq!(status.hall, "main");
    assert_eq!(
        waiting(&status),
        vec![("A001".into(), 0), ("A002".into(), 1), ("A003".into(), 2)]
    );
    let numbers: Vec<u16> = status.view.windows.iter().map(|w| w.number.0).collect();
    assert_eq!(numbers, (1..=7).collect::<Vec<_>>());
    for w in &status.view.windows {
        let expected = if w.number.0 == 1 {
            WindowState::Open
        } else {
            WindowState::Closed
        };
        assert_eq!(w.state, expected, "window {}", w.number);
    }
    assert!(status.view.windows[5].universal && status.view.windows[6].fallback);

    // A display subscribed before the call: snapshot first, then the call.
    let board = daemon.connect(DISPLAY).await;
    let mut screen = board.watch().await.expect("display subscribes");
    let snapshot_seq = match next_update(&mut screen).await {
        DisplayUpdate::Snapshot { seq, view, .. } => {
            let a = view
                .items
                .iter()
                .find(|i| i.code == item('A'))
                .expect("item A");
            assert_eq!(a.waiting, [0, 0, 3]);
            assert_eq!(a.open_windows, 1);
            seq
        }
        other => panic!("expected a snapshot first, got {other:?}"),
    };

    let called = window1
        .window(None, WindowAction::Call { ticket: None })
        .await
        .expect("window 1 calls");
    match &called {
        Response::Window {
            action,
            ticket: t,
            announcement,
            window,
        } => {
            assert_eq!(action, "call");
            assert_eq!(*t, Some(ticket("A001")));
            assert_eq!(announcement.as_deref(), Some("请A001号到1号窗口办理"));
            assert_eq!(window.current, Some(ticket("A001")));
        }
        other => panic!("expected a window answer, got {other:?}"),
    }
    match next_update(&mut screen).await {
        DisplayUpdate::Change {
            seq,
            calls,
            windows,
            ..
        } => {
            assert!(
                seq > snapshot_seq,
                "change {seq} after snapshot {snapshot_seq}"
            );
            assert_eq!(calls.len(), 1, "{calls:?}");
            assert_eq!(calls[0].ticket, ticket("A001"));
            assert_eq!(calls[0].window, WindowNo(1));
            assert_eq!(calls[0].announcement, "请A001号到1号窗口办理");
            assert!(!calls[0].recall);
            let w1 = windows.iter().find(|w| w.number == WindowNo(1));
            assert_eq!(w1.and_then(|w| w.current), Some(ticket("A001")));
        }
        other => panic!("expected the call's change, got {other:?}"),
    }

    let status = kiosk.status().await.expect("status");
    assert_eq!(
        waiting(&status),
        vec![("A002".into(), 0), ("A003".into(), 1)]
    );
    assert_eq!(status.view.windows[0].current, Some(ticket("A001")));

    // Three issued, A001 called, A003 now at position 1 < 1.5: approaching.
    // A001 and A002 were approaching at issue, so they get no reminder.
    let got = notifications_until(&mut outbox, |seen| seen.len() == 5).await;
    check_notifications(&got);

    for n in &got {
        outbox.ack(&n.id).await.expect("ack");
    }
    let acked: HashSet<String> = got.iter().map(|n| n.id.clone()).collect();
    let admin = daemon.connect(ADMIN).await;
    assert_acks_stick(&daemon, &admin, &acked).await;
}

/// The five messages of the scenario, in any order between kinds.
fn check_notifications(got: &[Notification]) {
    let ids: HashSet<&str> = got.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids.len(), got.len(), "ids are unique: {got:#?}");
    let mut summary: Vec<(NotificationKind, String, Option<u32>, Option<WindowNo>)> = got
        .iter()
        .map(|n| {
            (
                n.kind,
                n.ticket.expect("a ticket").to_string(),
                n.position,
                n.window,
            )
        })
        .collect();
    summary.sort_by_key(|(kind, ticket, ..)| (*kind as u8, ticket.clone()));
    use NotificationKind::{Approaching, Called, Issued};
    assert_eq!(
        summary,
        vec![
            (Issued, "A001".into(), Some(0), None),
            (Issued, "A002".into(), Some(1), None),
            (Issued, "A003".into(), Some(2), None),
            (Approaching, "A003".into(), Some(1), None),
            (Called, "A001".into(), None, Some(WindowNo(1))),
        ]
    );
    for n in got {
        assert_eq!(n.hall, "main");
        let number = n.ticket.expect("a ticket");
        assert_eq!(
            n.phone,
            PHONES[number.seq as usize - 1],
            "the gateway gets the full number"
        );
        assert!(n.text.contains(&number.to_string()), "{n:?}");
        match (n.kind, number.seq) {
            // Already approaching at issue: the issue text says so (§7.3.5).
            (Issued, 1 | 2) => assert!(n.text.contains("等候区"), "{n:?}"),
            (Issued, _) => assert!(!n.text.contains("等候区"), "{n:?}"),
            (Called, _) => assert!(n.text.contains("1号窗口"), "{n:?}"),
            (Approaching, _) => assert!(n.text.contains("前面还有1人"), "{n:?}"),
            (other, _) => panic!("unexpected notification kind {other:?}"),
        }
    }
}
