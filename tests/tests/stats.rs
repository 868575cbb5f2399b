//! Statistics and export of a scripted day (SPEC §2 item 13): the counts are
//! worked out by hand below; the durations are checked against the export's
//! own timestamps (the daemon runs on the wall clock). Both come from the
//! journal, so they are the same after a restart. Phone numbers leave only
//! as keyed hashes.

use hallq_client::client::Client;
use hallq_proto::types::{Lane, Phone, Post, Rating, StaffId, WindowNo};
use hallq_proto::wire::{
    DayStats, Durations, Request, Response, StatsBy, StatsFigures, TicketRecord, WindowAction,
};
use hallq_tests::{config_toml, item, ticket, TestHall, ADMIN, NOTIFIER};

const PHONE: &str = "13800138000";
const EXPORT_KEY: &str = "test-export-key-0123456789";

async fn act(admin: &Client, window: u16, action: WindowAction) {
    admin
        .window(Some(WindowNo(window)), action)
        .await
        .unwrap_or_else(|e| panic!("window {window}: {e}"));
}

fn call(t: &str) -> WindowAction {
    WindowAction::Call {
        ticket: Some(ticket(t)),
    }
}

async fn stats(admin: &Client, by: Option<StatsBy>) -> DayStats {
    match admin
        .request(&Request::Stats { day: None, by })
        .await
        .unwrap()
    {
        Response::Stats(s) => *s,
        other => panic!("{other:?}"),
    }
}

async fn export(admin: &Client, day: u32) -> Vec<TicketRecord> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        match admin.request(&Request::Export { day, from }).await.unwrap() {
            Response::Export { records, next } => {
                out.extend(records);
                match next {
                    Some(n) => from = n,
                    None => return out,
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Nearest-rank statistics, in seconds, worked out independently.
fn by_hand(mut ms: Vec<u64>) -> Durations {
    if ms.is_empty() {
        return Durations::default();
    }
    ms.sort();
    let n = ms.len();
    let s = |v: u64| (v + 500) / 1000;
    let rank = |p: f64| ms[((p * n as f64).ceil() as usize).max(1) - 1];
    Durations {
        count: n as u64,
        mean_secs: s(ms.iter().sum::<u64>() / n as u64),
        p50_secs: s(rank(0.5)),
        p90_secs: s(rank(0.9)),
        max_secs: s(*ms.last().unwrap()),
    }
}

#[tokio::test]
async fn a_scripted_day_adds_up() {
    let hall = TestHall::new().unwrap();
    std::fs::write(
        hall.config(),
        config_toml(&hall.dir().join("state")).replace(
            "walk_in_every = 3\n",
            &format!("walk_in_every = 3\nexport_key = {EXPORT_KEY:?}\n"),
        ),
    )
    .unwrap();
    let mut daemon = hall.start().unwrap();
    let admin = daemon.connect(ADMIN).await;
    for (w, staff) in [(1, "S1"), (2, "S2")] {
        act(&admin, w, WindowAction::Open).await;
        act(
            &admin,
            w,
            WindowAction::Login {
                staff: StaffId::new(staff).unwrap(),
                post: Post::A,
            },
        )
        .await;
    }
    // Issued: A001 (with a phone) … A004, B001, and D001 from a booking.
    admin
        .issue(item('A'), Lane::WalkIn, Some(PHONE.into()))
        .await
        .unwrap();
    for _ in 0..3 {
        admin.issue(item('A'), Lane::WalkIn, None).await.unwrap();
    }
    admin.issue(item('B'), Lane::WalkIn, None).await.unwrap();
    admin
        .issue(item('D'), Lane::Appointment, None)
        .await
        .unwrap();
    // A001 served at 1, rated 5.
    act(&admin, 1, call("A001")).await;
    act(
        &admin,
        1,
        WindowAction::Finish {
            rating: Some(Rating::new(5).unwrap()),
        },
    )
    .await;
    // A002 does not come to window 2.
    act(&admin, 2, call("A002")).await;
    act(&admin, 2, WindowAction::NoShow).await;
    // A003 is referred from window 1 to item B …
    act(&admin, 1, call("A003")).await;
    act(
        &admin,
        1,
        WindowAction::Transfer {
            to: hallq_proto::wire::Target::Item(item('B')),
        },
    )
    .await;
    // … and served with B001 as one batch, rated 2: one work order.
    act(&admin, 1, call("B001")).await;
    act(&admin, 1, WindowAction::Start).await;
    act(
        &admin,
        1,
        WindowAction::FinishBatch {
            with: vec![ticket("A003")],
            rating: Some(Rating::new(2).unwrap()),
        },
    )
    .await;
    // A004 served at 2, rated 4 afterwards.
    act(&admin, 2, call("A004")).await;
    act(&admin, 2, WindowAction::Start).await;
    act(&admin, 2, WindowAction::Finish { rating: None }).await;
    let rated = admin
        .request(&Request::Rate {
            ticket: ticket("A004"),
            rating: Rating::new(4).unwrap(),
        })
        .await
        .unwrap();
    assert!(matches!(
        rated,
        Response::Rated {
            work_order: false,
            ..
        }
    ));
    // The gateway takes A001's issue message and gives up on its call
    // message; the work order stays pending.
    let gateway = daemon.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.unwrap();
    let first = outbox.next().await.unwrap().unwrap();
    let second = outbox.next().await.unwrap().unwrap();
    outbox.ack(&first.id).await.unwrap();
    outbox
        .fail(&second.id, "test: provider refused")
        .await
        .unwrap();
    let settled = async {
        loop {
            if let Response::Health(h) = admin.request(&Request::Health).await.unwrap() {
                if h.halls[0].pending_notifications == 1 {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    hallq_tests::within(std::time::Duration::from_secs(10), settled).await;
    gateway.close().await;

    let day = stats(&admin, None).await;
    let records = export(&admin, day.day).await;
    let check = |day: &DayStats| {
        let t = &day.totals;
        assert_eq!(
            (t.issued, t.served, t.no_shows, t.transfers),
            (6, 4, 1, 1),
            "{t:?}"
        );
        assert_eq!(t.ratings, [0, 1, 0, 1, 1]);
        assert_eq!(t.work_orders, 1);
        assert_eq!(day.appointments_kept, 1);
        assert_eq!(day.forfeited_bookings, 0);
        assert_eq!((day.notifications_sent, day.notifications_failed), (1, 1));
        // Waiting: issue to first call, for every ticket called (A001–A004,
        // B001). Service: start (or call) to finish, for served leads.
        let waits: Vec<u64> = records
            .iter()
            .filter_map(|r| r.called.map(|c| c.0 - r.issued.0))
            .collect();
        assert_eq!(waits.len(), 5);
        assert_eq!(t.waiting, by_hand(waits));
        let services: Vec<u64> = records
            .iter()
            .filter(|r| r.outcome == "served")
            .map(|r| r.finished.unwrap().0 - r.started.or(r.called).unwrap().0)
            .collect();
        assert_eq!(services.len(), 3, "A001, B001, A004");
        assert_eq!(t.service, by_hand(services));
    };
    check(&day);

    // Per window and staff: 1 served A001, B001 and (in the batch) A003.
    let figures = |day: &DayStats, key: &str| -> StatsFigures {
        day.groups
            .iter()
            .find(|g| g.key == key)
            .unwrap_or_else(|| panic!("no group {key}: {:?}", day.groups))
            .figures
            .clone()
    };
    let windows = stats(&admin, Some(StatsBy::Window)).await;
    let w1 = figures(&windows, "1");
    assert_eq!((w1.served, w1.no_shows, w1.transfers), (3, 0, 1));
    assert_eq!(w1.ratings, [0, 1, 0, 0, 1]);
    let w2 = figures(&windows, "2");
    assert_eq!((w2.served, w2.no_shows), (1, 1));
    let staff = stats(&admin, Some(StatsBy::Staff)).await;
    assert_eq!(figures(&staff, "S1").served, 3);
    assert_eq!(figures(&staff, "S2").served, 1);
    let items = stats(&admin, Some(StatsBy::Item)).await;
    let a = figures(&items, "A");
    assert_eq!((a.issued, a.served, a.no_shows), (3, 2, 1));
    // A003 ended in item B.
    assert_eq!(
        (figures(&items, "B").issued, figures(&items, "B").served),
        (2, 2)
    );
    assert_eq!(figures(&items, "D").issued, 1);

    // The export: one record per ticket, the phone only as its keyed hash.
    assert_eq!(records.len(), 6);
    let outcomes: Vec<(String, &str)> = records
        .iter()
        .map(|r| (r.ticket.to_string(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("A001".into(), "served"),
            ("A002".into(), "no_show"),
            ("A003".into(), "served_in_batch"),
            ("A004".into(), "served"),
            ("B001".into(), "served"),
            ("D001".into(), "waiting"),
        ]
    );
    let hash = hallq_daemon::stats::phone_hash(EXPORT_KEY.as_bytes(), &Phone::new(PHONE).unwrap());
    assert_eq!(records[0].phone_hash.as_deref(), Some(hash.as_str()));
    assert!(records[1..].iter().all(|r| r.phone_hash.is_none()));
    assert!(!format!("{records:?}").contains(PHONE));
    assert_eq!(records[4].rating, Some(2));
    assert_eq!(records[4].staff.as_deref(), Some("S1"));

    // From the journal: the same after a restart.
    admin.close().await;
    daemon.stop().unwrap();
    let daemon = hall.start().unwrap();
    let admin = daemon.connect(ADMIN).await;
    let again = stats(&admin, None).await;
    assert_eq!(again, day);
    check(&again);
    // A day with no journal has nothing.
    match admin
        .request(&Request::Stats {
            day: Some(20200101),
            by: None,
        })
        .await
        .unwrap()
    {
        Response::Stats(s) => assert_eq!(s.totals, StatsFigures::default()),
        other => panic!("{other:?}"),
    }
    // Statistics are for admins.
    let notifier = daemon.connect(NOTIFIER).await;
    hallq_tests::expect_refused(
        notifier
            .request(&Request::Stats {
                day: None,
                by: None,
            })
            .await,
        "forbidden",
    );
}

/// The `hallq` binary, next to `hallqd`; built if missing (as board.rs does).
fn hallq_path() -> std::path::PathBuf {
    let path =
        hallq_tests::hallqd_path().with_file_name(format!("hallq{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests crate sits in the workspace root");
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "hallq-client", "--bin", "hallq"])
            .current_dir(workspace)
            .status()
            .expect("cannot run cargo to build hallq");
        assert!(status.success(), "cargo build of hallq failed: {status}");
    }
    path
}

/// Issue 19: `hallq --json export` refused (a kiosk token may not export)
/// used to print the CSV header line on stdout before its JSON error. Now
/// stdout is exactly one JSON object, the refusal, and the exit status 1.
#[tokio::test]
async fn a_refused_json_export_prints_only_its_json_error() {
    let hall = TestHall::new().unwrap();
    let daemon = hall.start().unwrap();
    let out = tokio::task::spawn_blocking({
        let cert = hall.dir().join("state/tls/cert.pem");
        let server = daemon.addr().to_string();
        move || {
            std::process::Command::new(hallq_path())
                .arg("--server")
                .arg(server)
                .arg("--cert")
                .arg(cert)
                .args([
                    "--token",
                    hallq_tests::KIOSK,
                    "--json",
                    "export",
                    "--date",
                    "2026-11-22",
                ])
                .output()
                .expect("hallq runs")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stdout}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).expect("stdout is JSON");
    assert_eq!(v["error"]["code"], "forbidden", "{v}");
}

/// Issue 17: `hallq export` without `--date` is today's, `--excel` starts
/// with a UTF-8 BOM, the old columns come first and the new at the end;
/// `hallq stats` speaks Chinese by default and English with `--lang en`,
/// and its `--json` is the same in both languages.
#[tokio::test]
async fn export_defaults_to_today_and_stats_speak_the_clerks_language() {
    // The clerk enters the rating: a hall that allows it (issue 18).
    let hall = TestHall::with_hall_settings("clerk_rating = true").unwrap();
    let daemon = hall.start().unwrap();
    let kiosk = daemon.connect(hallq_tests::KIOSK).await;
    let clerk = daemon.connect(&hallq_tests::window_token(1)).await;
    clerk.window(None, WindowAction::Open).await.unwrap();
    kiosk
        .issue(hallq_tests::item('A'), Lane::WalkIn, None)
        .await
        .unwrap();
    clerk
        .window(None, WindowAction::Call { ticket: None })
        .await
        .unwrap();
    clerk
        .window(
            None,
            WindowAction::Finish {
                rating: Some(hallq_proto::types::Rating::new(5).unwrap()),
            },
        )
        .await
        .unwrap();
    let cert = hall.dir().join("state/tls/cert.pem");
    let server = daemon.addr().to_string();
    let run = move |args: Vec<&'static str>| {
        let (cert, server) = (cert.clone(), server.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(hallq_path())
                    .arg("--server")
                    .arg(server)
                    .arg("--cert")
                    .arg(cert)
                    .args(["--token", hallq_tests::ADMIN])
                    .args(args)
                    .env_remove("HALLQ_LANG")
                    .output()
                    .expect("hallq runs")
            })
            .await
            .unwrap()
        }
    };
    let out = run(vec!["export", "--excel"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with('\u{feff}'), "a BOM first: {stdout:?}");
    let mut lines = stdout.trim_start_matches('\u{feff}').lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with(
        "hall,ticket,item,lane,issued,called,started,finished,window,staff,rating,outcome,phone_hash,issued_at"
    ));
    let record = lines.next().unwrap();
    assert!(record.starts_with("main,A001,A,walk-in,"), "{record}");
    assert_eq!(
        record.split(',').count(),
        header.split(',').count(),
        "{record}"
    );
    assert!(
        record.contains("+08:00,"),
        "ISO 8601 in the hall's zone: {record}"
    );
    let out = run(vec!["export"]).await;
    assert!(!String::from_utf8(out.stdout)
        .unwrap()
        .starts_with('\u{feff}'));

    let zh = String::from_utf8(run(vec!["stats"]).await.stdout).unwrap();
    assert!(zh.contains("满意率 100.0%"), "{zh}");
    assert!(zh.contains("非常满意 1 · 满意 0"), "{zh}");
    let en = String::from_utf8(run(vec!["--lang", "en", "stats"]).await.stdout).unwrap();
    assert!(en.contains("satisfied 100.0%"), "{en}");
    let json_zh = run(vec!["--json", "stats"]).await.stdout;
    let json_en = run(vec!["--json", "--lang", "en", "stats"]).await.stdout;
    assert_eq!(json_zh, json_en, "JSON does not depend on the language");
    let v: serde_json::Value = serde_json::from_slice(&json_zh).unwrap();
    assert_eq!(v["totals"]["served"], 1);
    assert_eq!(v["totals"]["ratings"], serde_json::json!([0, 0, 0, 0, 1]));
    assert_eq!(v["report"]["totals"]["satisfied_permille"], 1000);
}
