//! Issue 21, end to end over QUIC: a scripted hall raises a wait alert
//! once, delivers it to the managers' phone through the outbox as a
//! `NotificationKind::Alert`, keeps it (and does not raise it again)
//! across a restart, and clears it when the queue is served; a bad rating
//! opens a work order that goes 回访 → closed; an appeal (申诉复核) takes a
//! rating out of `hallq stats` and stays after a restart; the console's one
//! answer shows it all; `hallq alerts` and `hallq workorders` speak Chinese
//! by default and English with `--lang en`.

use std::time::{Duration, Instant};

use hallq_client::client::Client;
use hallq_proto::console::{AlertKind, WorkOrderAction, WorkOrderState};
use hallq_proto::types::{Lane, Post, Rating, StaffId, WindowNo};
use hallq_proto::wire::{NotificationKind, Request, Response, StatsBy, WindowAction};
use hallq_tests::{
    expect_refused, item, next_notification, pending_notifications, ticket, within, TestHall,
    ADMIN, KIOSK, NOTIFIER, STEP_TIMEOUT,
};

const MANAGER: &str = "13900139000";

/// A hall whose wait target is 10 minutes and whose alerts raise and clear
/// without delay, to the manager's phone.
fn hall() -> TestHall {
    TestHall::with_hall_settings(&format!(
        "wait_target_minutes = 10\n\
         [hall.alerts]\n\
         manager_phones = [\"{MANAGER}\"]\n\
         raise_after_seconds = 0\n\
         clear_after_seconds = 0\n\
         wait_clear_margin_minutes = 2\n"
    ))
    .unwrap()
}

async fn act(admin: &Client, window: u16, action: WindowAction) {
    admin
        .window(Some(WindowNo(window)), action)
        .await
        .unwrap_or_else(|e| panic!("window {window}: {e}"));
}

async fn open_staffed(admin: &Client, window: u16, staff: &str) {
    act(admin, window, WindowAction::Open).await;
    act(
        admin,
        window,
        WindowAction::Login {
            staff: StaffId::new(staff).unwrap(),
            post: Post::A,
        },
    )
    .await;
}

async fn alerts(admin: &Client, since: Option<u64>) -> Vec<hallq_proto::console::AlertView> {
    match admin
        .request(&Request::Alerts {
            include_cleared_since: since,
        })
        .await
        .unwrap()
    {
        Response::Alerts(a) => a,
        other => panic!("{other:?}"),
    }
}

/// The active alerts once `done` holds for them: the rules run after a
/// change at most once a second and on the daemon's 2-second timer.
async fn alerts_until(
    admin: &Client,
    done: impl Fn(&[hallq_proto::console::AlertView]) -> bool,
) -> Vec<hallq_proto::console::AlertView> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let active = alerts(admin, None).await;
        if done(&active) {
            return active;
        }
        assert!(
            Instant::now() < deadline,
            "alerts never got there: {active:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn work_orders(admin: &Client, all: bool) -> Vec<hallq_proto::console::WorkOrderView> {
    match admin
        .request(&Request::WorkOrders {
            include_closed: all,
            after: None,
        })
        .await
        .unwrap()
    {
        Response::WorkOrders(page) => {
            assert_eq!(page.next, None);
            page.orders
        }
        other => panic!("{other:?}"),
    }
}

/// Runs `hallq` against `daemon` with the admin token and `args`; stdout.
fn hallq(hall: &TestHall, daemon: &hallq_tests::Daemon, args: &[&str]) -> String {
    let out = std::process::Command::new(hallq_tests::browser::hallq_path())
        .arg("--server")
        .arg(daemon.addr().to_string())
        .arg("--cert")
        .arg(hall.dir().join("state/tls/cert.pem"))
        .args(["--token", ADMIN])
        .args(args)
        .output()
        .expect("hallq runs");
    assert!(
        out.status.success(),
        "hallq {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_alert_is_raised_once_delivered_kept_across_a_restart_and_cleared() {
    let hall = hall();
    let mut daemon = hall.start().unwrap();
    let admin = daemon.connect(ADMIN).await;
    let kiosk = daemon.connect(KIOSK).await;
    let gateway = daemon.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.unwrap();
    // Window 3 (items B and C) open; two of C (600 s each) waiting for it:
    // a new ticket would wait 20 minutes, over the 10-minute target.
    open_staffed(&admin, 3, "S3").await;
    kiosk.issue(item('C'), Lane::WalkIn, None).await.unwrap();
    // Past the timer's next run: one ticket is 10 min, not over.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        alerts(&admin, None).await.is_empty(),
        "one ticket: 10 min, not over"
    );
    kiosk.issue(item('C'), Lane::WalkIn, None).await.unwrap();
    let active = alerts_until(&admin, |a| !a.is_empty()).await;
    assert_eq!(active.len(), 1, "{active:?}");
    let alert = &active[0];
    assert_eq!(alert.id, "wait:C");
    assert_eq!(alert.kind, AlertKind::Wait);
    assert_eq!(alert.value_secs, Some(1200));
    assert_eq!(alert.limit_secs, Some(600));
    // Closed windows serving C, best first: 4 (C and D) before the
    // universal 6.
    assert_eq!(alert.open_windows, vec![WindowNo(4), WindowNo(6)]);
    // To the manager's phone, through the outbox (the C tickets have no
    // phone: nothing else is sent).
    let sms = next_notification(&mut outbox).await;
    assert_eq!(sms.kind, NotificationKind::Alert);
    assert_eq!(sms.phone, MANAGER);
    assert_eq!(sms.booking.as_deref(), Some("wait:C"));
    assert!(
        sms.text.contains("不动产登记") && sms.text.contains("4号"),
        "{}",
        sms.text
    );
    // A third ticket: still the one alert.
    kiosk.issue(item('C'), Lane::WalkIn, None).await.unwrap();
    let again = alerts(&admin, None).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].raised_at, alert.raised_at);
    gateway.close().await;
    // The console shows it, with the item's figures.
    let console = match admin.request(&Request::Console).await.unwrap() {
        Response::Console(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(console.active_alerts, 1);
    let c = console.items.iter().find(|i| i.code == item('C')).unwrap();
    assert_eq!(c.waiting, [0, 0, 3]);
    assert_eq!(c.estimated_wait_secs, Some(1800));
    assert_eq!(c.open_windows, vec![WindowNo(3)]);
    assert_eq!(c.daily_cap, Some(200));
    assert_eq!(c.cap_used, 3);
    let w3 = console
        .windows
        .iter()
        .find(|w| w.number == WindowNo(3))
        .unwrap();
    assert_eq!(w3.staff.as_ref().map(|s| s.as_str()), Some("S3"));

    // Restart: the alert is still active, raised at the same instant, and
    // its message is pending once — not raised (nor sent) again.
    daemon.stop().unwrap();
    let daemon = hall.start().unwrap();
    let admin = daemon.connect(ADMIN).await;
    let active = alerts(&admin, None).await;
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].raised_at, alert.raised_at);
    let (pending, _marker) = pending_notifications(&daemon, &admin).await;
    let sent: Vec<_> = pending
        .iter()
        .filter(|n| n.kind == NotificationKind::Alert)
        .collect();
    assert_eq!(sent.len(), 1, "{pending:?}");
    assert_eq!(sent[0].id, sms.id);

    // Served: the wait ends and the alert clears (on the next evaluation:
    // after a change or the daemon's 2-second timer).
    for _ in 0..3 {
        act(&admin, 3, WindowAction::Call { ticket: None }).await;
        act(&admin, 3, WindowAction::Finish { rating: None }).await;
    }
    alerts_until(&admin, |a| a.is_empty()).await;
    let all = alerts(&admin, Some(0)).await;
    let cleared = all
        .iter()
        .find(|a| a.id == "wait:C")
        .expect("kept as cleared");
    assert!(cleared.cleared_at.is_some_and(|c| c >= cleared.raised_at));

    // `hallq alerts --all`, in Chinese and in English; `--json` stable.
    let zh = tokio::task::block_in_place(|| hallq(&hall, &daemon, &["alerts", "--all"]));
    assert!(
        zh.contains("wait:C") && zh.contains("等候超时") && zh.contains("已解除"),
        "{zh}"
    );
    let en =
        tokio::task::block_in_place(|| hallq(&hall, &daemon, &["--lang", "en", "alerts", "--all"]));
    assert!(en.contains("long wait") && en.contains("cleared"), "{en}");
    let json =
        tokio::task::block_in_place(|| hallq(&hall, &daemon, &["--json", "alerts", "--all"]));
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["alerts"][0]["id"], "wait:C", "{v}");
    assert_eq!(v["alerts"][0]["kind"], "wait", "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_rating_opens_a_work_order_called_back_and_closed_and_an_appeal_leaves_the_figures() {
    let hall = hall();
    let mut daemon = hall.start().unwrap();
    let admin = daemon.connect(ADMIN).await;
    let kiosk = daemon.connect(KIOSK).await;
    let gateway = daemon.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.unwrap();
    open_staffed(&admin, 1, "S1").await;
    for _ in 0..2 {
        kiosk.issue(item('A'), Lane::WalkIn, None).await.unwrap();
    }
    // A001 rated 非常不满意, A002 非常满意.
    for r in [1, 5] {
        act(&admin, 1, WindowAction::Call { ticket: None }).await;
        act(
            &admin,
            1,
            WindowAction::Finish {
                rating: Some(Rating::new(r).unwrap()),
            },
        )
        .await;
    }
    // The hotline's 差评工单 and the managers' alert, both through the outbox.
    let seen = hallq_tests::notifications_until(&mut outbox, |seen| {
        seen.iter().any(|n| n.kind == NotificationKind::WorkOrder)
            && seen.iter().any(|n| n.kind == NotificationKind::Alert)
    })
    .await;
    let alert = seen
        .iter()
        .find(|n| n.kind == NotificationKind::Alert)
        .unwrap();
    assert_eq!(alert.booking.as_deref(), Some("bad_rating:A001"));
    assert!(alert.text.contains("非常不满意"), "{}", alert.text);
    gateway.close().await;

    let orders = work_orders(&admin, false).await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    let order = &orders[0];
    assert_eq!(
        (order.id, order.ticket, order.rating),
        (1, ticket("A001"), 1)
    );
    assert_eq!(order.state, WorkOrderState::Open);
    assert_eq!(order.staff.as_ref().map(|s| s.as_str()), Some("S1"));
    assert!(
        order.deadline > order.opened_at + 10 * 86_400,
        "ten working days: two weeks"
    );
    assert!(!order.overdue);

    // Bad input is refused and changes nothing.
    let update = |id: u64, action: WorkOrderAction| Request::WorkOrderUpdate { id, action };
    expect_refused(
        admin
            .request(&update(9, WorkOrderAction::Closed { note: "x".into() }))
            .await,
        "unknown_work_order",
    );
    expect_refused(
        admin
            .request(&update(1, WorkOrderAction::CalledBack { note: " ".into() }))
            .await,
        "note_required",
    );
    expect_refused(
        kiosk
            .request(&update(1, WorkOrderAction::Closed { note: "x".into() }))
            .await,
        "forbidden",
    );
    // 回访, then closed; nothing more after that.
    let called = match admin
        .request(&update(
            1,
            WorkOrderAction::CalledBack {
                note: "已电话回访，群众反映等候时间长".into(),
            },
        ))
        .await
        .unwrap()
    {
        Response::WorkOrder(o) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(called.state, WorkOrderState::CalledBack);
    assert!(called.called_back_at.is_some());
    let zh = tokio::task::block_in_place(|| hallq(&hall, &daemon, &["workorders"]));
    assert!(
        zh.contains("#1") && zh.contains("已回访") && zh.contains("非常不满意"),
        "{zh}"
    );
    let out = tokio::task::block_in_place(|| {
        hallq(
            &hall,
            &daemon,
            &["workorder", "close", "1", "--note", "已约谈整改"],
        )
    });
    assert!(
        out.contains("已办结") && out.contains("已约谈整改"),
        "{out}"
    );
    expect_refused(
        admin
            .request(&update(
                1,
                WorkOrderAction::Closed {
                    note: "again".into(),
                },
            ))
            .await,
        "work_order_state",
    );
    assert!(work_orders(&admin, false).await.is_empty());
    let all = work_orders(&admin, true).await;
    assert_eq!(all[0].state, WorkOrderState::Closed);
    assert_eq!(all[0].close_note.as_deref(), Some("已约谈整改"));

    // 满意率 before the appeal: one of two satisfied.
    let report = |admin: Client| async move {
        match admin
            .request(&Request::Report {
                day: None,
                by: Some(StatsBy::Window),
            })
            .await
            .unwrap()
        {
            Response::Report(r) => r,
            other => panic!("{other:?}"),
        }
    };
    let before = report(admin.clone()).await;
    assert_eq!(before.stats.totals.ratings, [1, 0, 0, 0, 1]);
    assert_eq!(before.totals.satisfied_permille, Some(500));
    // 申诉复核 by `hallq rating appeal`: out of the figures, everywhere.
    let out = tokio::task::block_in_place(|| {
        hallq(
            &hall,
            &daemon,
            &[
                "rating",
                "appeal",
                "A001",
                "--reason",
                "评价人误操作，经调取录像核实",
            ],
        )
    });
    assert!(
        out.contains("申诉复核") && out.contains("非常不满意"),
        "{out}"
    );
    expect_refused(
        admin
            .request(&Request::AppealRating {
                ticket: ticket("A001"),
                day: None,
                reason: "again".into(),
            })
            .await,
        "already_appealed",
    );
    let after = report(admin.clone()).await;
    assert_eq!(after.stats.totals.ratings, [0, 0, 0, 0, 1]);
    assert_eq!(after.totals.satisfied_permille, Some(1000));
    assert_eq!(after.stats.groups[0].figures.ratings, [0, 0, 0, 0, 1]);
    // Kept after a restart, and in the export's last column.
    drop(admin);
    daemon.stop().unwrap();
    let daemon = hall.start().unwrap();
    let admin = daemon.connect(ADMIN).await;
    let again = report(admin.clone()).await;
    assert_eq!(again.stats.totals.ratings, [0, 0, 0, 0, 1]);
    let csv = tokio::task::block_in_place(|| hallq(&hall, &daemon, &["export"]));
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",appeal"), "{csv}");
    let a001 = lines.find(|l| l.contains(",A001,")).unwrap();
    assert!(a001.ends_with(",评价人误操作，经调取录像核实"), "{a001}");
    // The work order remembers its appeal.
    let all = work_orders(&admin, true).await;
    assert!(all[0].appeal.is_some());
    within(STEP_TIMEOUT, admin.close()).await;
}

/// The console of a 60-window, 26-item hall (every letter; a hall has at
/// most 26 items) with every window open and staffed, a pause reason at its
/// longest and people waiting everywhere: one answer, decoded whole.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_of_a_sixty_window_hall_is_one_answer() {
    let hall = TestHall::sized(60, 26).unwrap();
    let daemon = hall.start().unwrap();
    let admin = daemon.connect(ADMIN).await;
    let kiosk = daemon.connect(KIOSK).await;
    for n in 1..=60u16 {
        open_staffed(&admin, n, &format!("S{n:04}")).await;
        if n % 2 == 0 {
            act(
                &admin,
                n,
                WindowAction::Pause {
                    reason: "暂".repeat(64),
                },
            )
            .await;
        }
    }
    for i in 0..26u8 {
        for _ in 0..3 {
            kiosk
                .issue(item((b'A' + i) as char), Lane::WalkIn, None)
                .await
                .unwrap();
        }
    }
    let console = match admin.request(&Request::Console).await.unwrap() {
        Response::Console(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(console.windows.len(), 60);
    assert_eq!(console.items.len(), 26);
    assert!(console.items.iter().all(|i| i.waiting[2] == 3));
    assert_eq!(
        console
            .windows
            .iter()
            .filter(|w| matches!(
                w.state,
                hallq_proto::console::ConsoleWindowState::Paused { .. }
            ))
            .count(),
        30
    );
    let w60 = console.windows.last().unwrap();
    assert_eq!(
        w60.items.len(),
        26,
        "the universal window serves every item"
    );
    assert!(console.now >= w60.state_since);
}
