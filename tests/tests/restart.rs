//! Replay restores identical state (SPEC §4 "durable"): after a day's worth
//! of different actions — windows opened, paused, staffed; tickets of every
//! lane issued, called, marked no-show, reinstated, started, transferred;
//! issuing closed — a restart shows the same `status`, the same display
//! snapshot (recent calls and change counter included) and the same pending
//! notifications, minus the acknowledged ones. Both after SIGTERM and after
//! SIGKILL once every answer was received: acknowledged means durable.

use std::collections::HashSet;

use hallq_client::client::Client;
use hallq_proto::types::{Lane, Post, PriorityReason, StaffId, WindowNo};
use hallq_proto::wire::{
    DisplayUpdate, Notification, Request, Response, Status, Target, WindowAction,
};
use hallq_tests::{
    assert_acks_stick, item, next_update, open_windows, pending_notifications, window_token,
    Daemon, TestHall, ADMIN, DISPLAY, KIOSK, NOTIFIER,
};

/// How the first daemon ends.
#[derive(Debug, Clone, Copy)]
enum Ending {
    Sigterm,
    Sigkill,
}

/// A window action that must be carried out; returns its ticket, if any.
async fn act(
    client: &Client,
    window: u16,
    action: WindowAction,
) -> Option<hallq_proto::types::TicketNo> {
    let name = action.name();
    match client.window(Some(WindowNo(window)), action).await {
        Ok(Response::Window { ticket, .. }) => ticket,
        other => panic!("window {window} {name}: {other:?}"),
    }
}

/// Many kinds of change, all acknowledged.
async fn busy_morning(daemon: &Daemon) {
    let admin = daemon.connect(ADMIN).await;
    let kiosk = daemon.connect(KIOSK).await;
    open_windows(&admin, &[1, 2, 3, 6, 7]).await;
    act(
        &admin,
        1,
        WindowAction::Login {
            staff: StaffId::new("S1024").expect("staff id"),
            post: Post::A,
        },
    )
    .await;
    act(
        &admin,
        3,
        WindowAction::Pause {
            reason: "午休".into(),
        },
    )
    .await;
    let lanes = [
        ('A', Lane::WalkIn),
        ('A', Lane::WalkIn),
        ('B', Lane::Priority(PriorityReason::Elderly)),
        ('E', Lane::Priority(PriorityReason::Green)),
        ('C', Lane::WalkIn),
        ('A', Lane::Priority(PriorityReason::Pregnant)),
        ('B', Lane::WalkIn),
    ];
    for (i, (letter, lane)) in lanes.into_iter().enumerate() {
        let phone = (i % 2 == 0).then(|| format!("1380013800{i}"));
        kiosk
            .issue(item(letter), lane, phone)
            .await
            .expect("kiosk issues");
    }
    admin
        .issue(item('B'), Lane::Appointment, Some("13600136000".into()))
        .await
        .expect("admin issues an appointment ticket");

    let window1 = daemon.connect(&window_token(1)).await;
    let skipped = act(&window1, 1, WindowAction::Call { ticket: None })
        .await
        .expect("window 1 calls someone");
    act(&window1, 1, WindowAction::NoShow).await;
    match window1
        .request(&Request::Reinstate { ticket: skipped })
        .await
    {
        Ok(Response::Reinstated { ticket, .. }) => assert_eq!(ticket, skipped),
        other => panic!("reinstate {skipped}: {other:?}"),
    }
    act(&window1, 1, WindowAction::Call { ticket: None }).await;
    act(&admin, 2, WindowAction::Call { ticket: None }).await;
    act(&admin, 2, WindowAction::Start).await;
    act(&admin, 6, WindowAction::Call { ticket: None }).await;
    act(
        &admin,
        6,
        WindowAction::Transfer {
            to: Target::Window(WindowNo(7)),
        },
    )
    .await;
    act(&admin, 7, WindowAction::Call { ticket: None }).await;
    act(&admin, 7, WindowAction::Recall).await;
    act(&admin, 2, WindowAction::Finish { rating: None }).await;
    match admin.request(&Request::CloseIssuing).await {
        Ok(Response::Issuing { open: false }) => {}
        other => panic!("close issuing: {other:?}"),
    }
}

/// Everything a restart must reproduce, as clients see it.
#[derive(Debug, PartialEq)]
struct Seen {
    status: Status,
    snapshot: DisplayUpdate,
}

async fn look(daemon: &Daemon) -> Seen {
    let display = daemon.connect(DISPLAY).await;
    let status = display.status().await.expect("status");
    let mut screen = display.watch().await.expect("display subscribes");
    let snapshot = next_update(&mut screen).await;
    assert!(
        matches!(snapshot, DisplayUpdate::Snapshot { .. }),
        "{snapshot:?}"
    );
    Seen { status, snapshot }
}

async fn restart_reproduces_everything(ending: Ending) {
    let hall = TestHall::new().expect("test hall");
    let mut first = hall.start().expect("hallqd starts");
    busy_morning(&first).await;

    // Acknowledge every other pending notification, and wait until that
    // holds (acks have no answer; see assert_acks_stick).
    let admin = first.connect(ADMIN).await;
    let (mut pending, marker) = pending_notifications(&first, &admin).await;
    pending.push(marker);
    assert!(pending.len() >= 6, "notifications pending: {pending:#?}");
    let gateway = first.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.expect("notifier subscribes");
    let acked: HashSet<String> = pending.iter().step_by(2).map(|n| n.id.clone()).collect();
    for id in &acked {
        outbox.ack(id).await.expect("ack");
    }
    assert_acks_stick(&first, &admin, &acked).await;

    let (still_pending, marker) = pending_notifications(&first, &admin).await;
    let before = look(&first).await;
    match ending {
        Ending::Sigterm => {
            let status = first.stop().expect("hallqd stops");
            assert_eq!(status.code(), Some(0), "stderr:\n{}", first.stderr());
        }
        Ending::Sigkill => first.kill(),
    }

    let second = hall.start().expect("hallqd restarts");
    let after = look(&second).await;
    assert_eq!(after, before, "{ending:?} and replay changed the hall");
    let admin = second.connect(ADMIN).await;
    let (again, _) = pending_notifications(&second, &admin).await;
    let mut expected: Vec<Notification> = still_pending;
    expected.push(marker);
    assert_eq!(again, expected, "pending notifications after {ending:?}");
    assert!(again.iter().all(|n| !acked.contains(&n.id)));
}

#[tokio::test]
async fn sigterm_and_replay_reproduce_the_hall() {
    restart_reproduces_everything(Ending::Sigterm).await;
}

#[tokio::test]
async fn sigkill_after_the_last_answer_loses_nothing() {
    restart_reproduces_everything(Ending::Sigkill).await;
}
