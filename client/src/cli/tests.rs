//! Rendering of every answer, human and JSON, from hand-built values; and
//! the mapping of failures to exit codes.

use serde_json::json;

use hallq_client::client::ClientError;
use hallq_client::text::Lang;
use hallq_client::tls::TlsError;
use hallq_proto::codec::CodecError;
use hallq_proto::types::{
    ItemCode, Lane, Post, PriorityReason, Role, StaffId, TicketNo, Timestamp, WindowNo,
};
use hallq_proto::views::{HallView, ItemView, WaitingTicket, WindowState, WindowView};
use hallq_proto::wire::{
    CallShown, DisplayUpdate, ErrorReply, IssuedTicket, Notification, NotificationKind, Response,
    Status, Welcome,
};

use super::{human, json, Failure};

/// 2025-03-03 09:00 in Beijing, in ms.
const T0: u64 = 1_740_963_600_000;

fn item(c: char) -> ItemCode {
    ItemCode::new(c).unwrap()
}

fn ticket(s: &str) -> TicketNo {
    s.parse().unwrap()
}

fn issued(lane: Lane, position: u32, windows: &[u16], eta: Option<u32>) -> IssuedTicket {
    IssuedTicket {
        ticket: ticket("A012"),
        item_name: "社保".into(),
        lane,
        position,
        windows: windows.iter().copied().map(WindowNo).collect(),
        eta_secs: eta,
        approaching: false,
        issued_at: Timestamp(T0),
    }
}

fn window3() -> WindowView {
    WindowView {
        number: WindowNo(3),
        state: WindowState::Open,
        current: Some(ticket("A012")),
        serving: false,
        staff: Some((StaffId::new("S1024").unwrap(), Post::A)),
        items: vec![item('A'), item('B')],
        universal: false,
        fallback: false,
    }
}

fn hall_view() -> HallView {
    HallView {
        day: Some(20250303),
        issuing: true,
        windows: vec![
            WindowView {
                number: WindowNo(1),
                state: WindowState::Paused("午休".into()),
                current: None,
                serving: false,
                staff: None,
                items: vec![item('A')],
                universal: false,
                fallback: true,
            },
            window3(),
            WindowView {
                number: WindowNo(12),
                state: WindowState::Closed,
                current: None,
                serving: false,
                staff: None,
                items: vec![],
                universal: true,
                fallback: false,
            },
        ],
        items: vec![
            ItemView {
                code: item('A'),
                name: "社保".into(),
                waiting: [0, 1, 2],
                open_windows: 1,
                issued_today: 14,
            },
            ItemView {
                code: item('C'),
                name: "不动产登记".into(),
                waiting: [0, 0, 0],
                open_windows: 0,
                issued_today: 0,
            },
        ],
    }
}

fn status() -> Status {
    Status {
        hall: "main".into(),
        hall_name: "政务服务中心".into(),
        view: hall_view(),
        waiting: vec![
            WaitingTicket {
                ticket: ticket("A014"),
                lane: Lane::WalkIn,
                position: 1,
                for_window: None,
                waiting_since: Timestamp(T0 + 60_000),
            },
            WaitingTicket {
                ticket: ticket("A015"),
                lane: Lane::Priority(PriorityReason::Elderly),
                position: 0,
                for_window: None,
                waiting_since: Timestamp(T0 + 120_000),
            },
            WaitingTicket {
                ticket: ticket("A013"),
                lane: Lane::WalkIn,
                position: 0,
                for_window: Some(WindowNo(3)),
                waiting_since: Timestamp(T0),
            },
        ],
    }
}

fn notification() -> Notification {
    Notification {
        id: "main-17".into(),
        hall: "main".into(),
        kind: NotificationKind::Called,
        ticket: Some(ticket("A012")),
        phone: "13800138000".into(),
        text: "请A012号到3号窗口办理".into(),
        position: None,
        window: Some(WindowNo(3)),
        at: Timestamp(T0),
        booking: None,
        work_order: None,
    }
}

fn call_response() -> Response {
    Response::Window {
        action: "call".into(),
        ticket: Some(ticket("A012")),
        announcement: Some("请A012号到3号窗口办理".into()),
        window: window3(),
    }
}

#[test]
fn issue_human() {
    let r = Response::Issued(issued(Lane::WalkIn, 3, &[1, 2], Some(600)));
    assert_eq!(
        human::response_in(&r, Timestamp(T0), Lang::En),
        "Ticket A012  (社保, walk-in)\n3 ahead of you · windows 1, 2 · about 10 min"
    );
    let mut t = issued(Lane::Priority(PriorityReason::Green), 0, &[4], Some(20));
    t.approaching = true;
    assert_eq!(
        human::response_in(&Response::Issued(t), Timestamp(T0), Lang::En),
        "Ticket A012  (社保, priority: green)\nyou are next · window 4 · under a minute\n\
         请到等候区候办 · please go to the waiting area now"
    );
    let r = Response::Issued(issued(Lane::Appointment, 5, &[], None));
    assert_eq!(
        human::response_in(&r, Timestamp(T0), Lang::En),
        "Ticket A012  (社保, appointment)\n5 ahead of you · no window open for this item yet"
    );
    let r = Response::Issued(issued(Lane::WalkIn, 3, &[1, 2], Some(600)));
    assert_eq!(
        human::response_in(&r, Timestamp(T0), Lang::Zh),
        "号码 A012（社保，普通）\n前面 3 人 · 1、2号窗口 · 约 10 分钟"
    );
}

#[test]
fn issue_json() {
    let r = Response::Issued(issued(Lane::WalkIn, 3, &[1, 2], Some(600)));
    assert_eq!(
        json::response(&r),
        json!({
            "ticket": "A012",
            "item_name": "社保",
            "lane": "walk_in",
            "priority": null,
            "position": 3,
            "windows": [1, 2],
            "eta_secs": 600,
            "approaching": false,
            "issued_at": T0,
        })
    );
    let r = Response::Issued(issued(
        Lane::Priority(PriorityReason::Elderly),
        0,
        &[],
        None,
    ));
    let v = json::response(&r);
    assert_eq!(v["lane"], "priority");
    assert_eq!(v["priority"], "elderly");
    assert_eq!(v["eta_secs"], serde_json::Value::Null);
}

#[test]
fn call_human_prints_the_announcement() {
    // Chinese by default, English with --lang en.
    assert_eq!(
        human::response_in(&call_response(), Timestamp(T0), Lang::Zh),
        "请A012号到3号窗口办理\n3号窗口 · 开放 · 工作人员 S1024（A岗） · 已叫号 A012"
    );
    assert_eq!(
        human::response_in(&call_response(), Timestamp(T0), Lang::En),
        "请A012号到3号窗口办理\nWindow 3 · open · S1024 (A) · called A012"
    );
}

#[test]
fn other_window_actions_human() {
    let mut w = window3();
    w.serving = true;
    let r = Response::Window {
        action: "start".into(),
        ticket: Some(ticket("A012")),
        announcement: None,
        window: w,
    };
    assert_eq!(
        human::response_in(&r, Timestamp(T0), Lang::En),
        "Serving: A012\nWindow 3 · open · S1024 (A) · serving A012"
    );
    assert_eq!(
        human::response_in(&r, Timestamp(T0), Lang::Zh),
        "开始办理：A012\n3号窗口 · 开放 · 工作人员 S1024（A岗） · 正在办理 A012"
    );
    let mut w = window3();
    w.state = WindowState::Paused("暂停服务".into());
    w.current = None;
    w.staff = None;
    let r = Response::Window {
        action: "pause".into(),
        ticket: None,
        announcement: None,
        window: w,
    };
    assert_eq!(
        human::response_in(&r, Timestamp(T0), Lang::En),
        "Paused\nWindow 3 · paused: 暂停服务 · idle"
    );
    assert_eq!(
        human::response_in(&r, Timestamp(T0), Lang::Zh),
        "已暂停\n3号窗口 · 暂停服务（暂停服务） · 空闲"
    );
}

#[test]
fn call_json() {
    assert_eq!(
        json::response(&call_response()),
        json!({
            "action": "call",
            "ticket": "A012",
            "announcement": "请A012号到3号窗口办理",
            "window": {
                "number": 3,
                "state": "open",
                "pause_reason": null,
                "current": "A012",
                "serving": false,
                "staff": {"id": "S1024", "post": "A"},
                "items": ["A", "B"],
                "universal": false,
                "fallback": false,
            },
        })
    );
}

#[test]
fn status_human() {
    let now = Timestamp(T0 + 15 * 60_000);
    let zh = human::response_in(&Response::Status(status()), now, Lang::Zh);
    assert!(
        zh.starts_with("政务服务中心（main） · 营业日 2025-03-03 · 正在取号 · 3 人等候\n"),
        "{zh}"
    );
    assert!(zh.contains("S1024（A岗）"), "{zh}");
    assert!(zh.contains("A012 已叫号"), "{zh}");
    assert!(zh.contains("暂停：午休"), "{zh}");
    assert!(zh.contains("优先·老人"), "{zh}");
    assert!(!zh.contains("open") && !zh.contains("walk-in"), "{zh}");
    let text = human::response_in(&Response::Status(status()), now, Lang::En);
    let expected = "\
政务服务中心 (main) · day 2025-03-03 · issuing open · 3 waiting

WINDOW  STATE         STAFF      CURRENT      ITEMS
1       paused: 午休  -          -            A +green
3       open          S1024 (A)  A012 called  A B
12      closed        -          -            all

TICKET  LANE               AHEAD  FOR       WAITED
A015    priority: elderly  0                13 min
A013    walk-in            0      window 3  15 min
A014    walk-in            1                14 min

ITEM  NAME        APPT  PRIO  WALK-IN  OPEN  ISSUED
A     社保        0     1     2        1     14
C     不动产登记  0     0     0        0     0";
    assert_eq!(text, expected, "\n{text}");
}

#[test]
fn status_human_with_nobody_waiting() {
    let mut s = status();
    s.waiting.clear();
    // The header counts from the view (the list may be one page).
    for i in &mut s.view.items {
        i.waiting = [0; 3];
    }
    s.view.day = None;
    s.view.issuing = false;
    let text = human::response_in(&Response::Status(s.clone()), Timestamp(T0), Lang::En);
    assert!(text.starts_with("政务服务中心 (main) · issuing closed · 0 waiting\n"));
    let zh = human::response_in(&Response::Status(s), Timestamp(T0), Lang::Zh);
    assert!(zh.contains("\n无人等候。\n"), "{zh}");
    assert!(text.contains("\nNobody waiting.\n"));
}

#[test]
fn status_json() {
    let v = json::response(&Response::Status(status()));
    assert_eq!(v["hall"], "main");
    assert_eq!(v["day"], 20250303);
    assert_eq!(v["issuing"], true);
    assert_eq!(v["windows"][0]["number"], 1);
    assert_eq!(v["windows"][0]["state"], "paused");
    assert_eq!(v["windows"][0]["pause_reason"], "午休");
    assert_eq!(v["windows"][0]["fallback"], true);
    assert_eq!(v["windows"][1]["current"], "A012");
    assert_eq!(v["windows"][2]["staff"], serde_json::Value::Null);
    assert_eq!(
        v["items"][0],
        json!({
            "code": "A",
            "name": "社保",
            "waiting": {"appointment": 0, "priority": 1, "walk_in": 2},
            "open_windows": 1,
            "issued_today": 14,
        })
    );
    // Waiting tickets keep the daemon's order in JSON.
    assert_eq!(
        v["waiting"][2],
        json!({
            "ticket": "A013",
            "lane": "walk_in",
            "priority": null,
            "position": 0,
            "for_window": 3,
            "waiting_since": T0,
        })
    );
    assert_eq!(v["waiting"][1]["priority"], "elderly");
}

#[test]
fn reinstate_and_issuing() {
    let r = Response::Reinstated {
        ticket: ticket("B007"),
        position: 2,
    };
    assert_eq!(
        human::response_in(&r, Timestamp(T0), Lang::En),
        "B007 is back in line · 2 ahead of you"
    );
    assert_eq!(
        human::response_in(&r, Timestamp(T0), Lang::Zh),
        "B007 已回到队列 · 前面 2 人"
    );
    assert_eq!(json::response(&r), json!({"ticket": "B007", "position": 2}));
    let closed = Response::Issuing { open: false };
    assert!(human::response_in(&closed, Timestamp(T0), Lang::En).starts_with("Issuing closed"));
    assert!(human::response_in(&closed, Timestamp(T0), Lang::Zh).starts_with("已停止取号"));
    assert_eq!(json::response(&closed), json!({"issuing": false}));
    assert_eq!(
        json::response(&Response::Issuing { open: true }),
        json!({"issuing": true})
    );
}

#[test]
fn welcome_and_error_responses() {
    let w = Response::Welcome(Welcome {
        role: Role::Window,
        hall: "main".into(),
        hall_name: "政务服务中心".into(),
        window: Some(WindowNo(3)),
    });
    assert_eq!(
        human::response_in(&w, Timestamp(T0), Lang::En),
        "Connected to 政务服务中心 (main) as window, window 3"
    );
    assert_eq!(json::response(&w)["window"], 3);
    let e = Response::Error(ErrorReply::new(
        "forbidden",
        "window 3 may act on window 3 only",
    ));
    assert_eq!(
        json::response(&e),
        json!({"error": {"code": "forbidden", "message": "window 3 may act on window 3 only"}})
    );
}

#[test]
fn display_updates() {
    let call = CallShown {
        ticket: ticket("A012"),
        window: WindowNo(3),
        announcement: "请A012号到3号窗口办理".into(),
        recall: true,
        at: Timestamp(T0),
    };
    let change = DisplayUpdate::Change {
        seq: 42,
        calls: vec![call.clone()],
        windows: vec![window3()],
        items: vec![(item('A'), [0, 1, 2])],
        issuing: Some(false),
    };
    assert_eq!(
        human::display_update_in(&change, Lang::Zh),
        "#42 请A012号到3号窗口办理（重呼）\n\
         #42 3号窗口 · 开放 · 工作人员 S1024（A岗） · 已叫号 A012\n\
         #42 A 等候：预约 0 · 优先 1 · 普通 2\n\
         #42 已停止取号"
    );
    assert_eq!(
        human::display_update_in(&change, Lang::En),
        "#42 请A012号到3号窗口办理 (recall)\n\
         #42 Window 3 · open · S1024 (A) · called A012\n\
         #42 A waiting: 0 appointment, 1 priority, 2 walk-in\n\
         #42 issuing closed"
    );
    let v = json::display_update(&change);
    assert_eq!(v["type"], "change");
    assert_eq!(v["seq"], 42);
    assert_eq!(
        v["calls"][0],
        json!({"ticket": "A012", "window": 3, "announcement": "请A012号到3号窗口办理",
               "recall": true, "at": T0})
    );
    assert_eq!(v["windows"][0]["number"], 3);
    assert_eq!(
        v["items"][0],
        json!({"code": "A", "waiting": {"appointment": 0, "priority": 1, "walk_in": 2}})
    );
    assert_eq!(v["issuing"], false);

    let snapshot = DisplayUpdate::Snapshot {
        seq: 7,
        view: hall_view(),
        recent_calls: vec![call],
    };
    let text = human::display_update_in(&snapshot, Lang::En);
    assert!(text.starts_with("#7 snapshot · day 2025-03-03 · issuing open\nWINDOW"));
    assert!(text.ends_with("#7 请A012号到3号窗口办理 (recall)"));
    let zh = human::display_update_in(&snapshot, Lang::Zh);
    assert!(
        zh.starts_with("#7 全貌 · 营业日 2025-03-03 · 正在取号\n窗口"),
        "{zh}"
    );
    assert!(zh.ends_with("#7 请A012号到3号窗口办理（重呼）"), "{zh}");
    assert!(!zh.contains("WINDOW") && !zh.contains("issuing"), "{zh}");
    let v = json::display_update(&snapshot);
    assert_eq!(v["type"], "snapshot");
    assert_eq!(v["view"]["windows"][1]["current"], "A012");
    assert_eq!(v["recent_calls"][0]["ticket"], "A012");

    let dropped = DisplayUpdate::Dropped {
        reason: "fell behind".into(),
    };
    assert!(human::display_update_in(&dropped, Lang::En).contains("fell behind"));
    assert!(human::display_update_in(&dropped, Lang::Zh)
        .starts_with("hallqd 断开了本显示（fell behind）"));
    assert_eq!(
        json::display_update(&dropped),
        json!({"type": "dropped", "reason": "fell behind"})
    );
    // Every JSON line is one line: watch output is read line by line.
    assert!(!json::display_update(&snapshot).to_string().contains('\n'));
}

#[test]
fn notifications_mask_the_phone_for_people_only() {
    let n = notification();
    let text = human::notification_in(&n, Lang::En);
    assert_eq!(
        text,
        "main-17  called  A012  138****8000  请A012号到3号窗口办理"
    );
    assert!(!text.contains("13800138000"));
    assert_eq!(
        human::notification_in(&n, Lang::Zh),
        "main-17  叫号  A012  138****8000  请A012号到3号窗口办理"
    );
    let mut bad = n.clone();
    bad.phone = "not a number 13800138000".into();
    for lang in [Lang::Zh, Lang::En] {
        assert!(!human::notification_in(&bad, lang).contains("13800138000"));
    }
    assert!(human::notification_in(&bad, Lang::Zh).contains("（号码无效）"));
    // The gateway bridge needs the full number; that is what --json is for.
    assert_eq!(
        json::notification(&n),
        json!({
            "id": "main-17",
            "hall": "main",
            "kind": "called",
            "ticket": "A012",
            "phone": "13800138000",
            "text": "请A012号到3号窗口办理",
            "position": null,
            "window": 3,
            "booking": null,
            "work_order": null,
            "at": T0,
        })
    );
}

#[test]
fn failures_map_to_the_documented_exit_codes() {
    let refused = Failure::Client(ClientError::Refused(ErrorReply::new(
        "window_busy",
        "window 3 is serving A012",
    )));
    assert_eq!(refused.exit_code(), 1);
    assert_eq!(refused.code(), "window_busy");
    assert_eq!(refused.message(), "window 3 is serving A012");

    let connect = [
        Failure::Client(ClientError::Connect(TlsError::PinMismatch)),
        Failure::Client(ClientError::Connection("reset".into())),
        Failure::Client(ClientError::Timeout),
        Failure::Client(ClientError::Codec(CodecError::Stream("reset".into()))),
        Failure::Client(ClientError::Resolve {
            server: "nowhere:7878".into(),
            reason: "no such host".into(),
        }),
    ];
    for f in connect {
        assert_eq!(f.exit_code(), 3, "{f:?}");
    }
    assert_eq!(
        Failure::Client(ClientError::Connect(TlsError::PinMismatch)).code(),
        "cert_mismatch"
    );

    let other = [
        Failure::Client(ClientError::Unexpected("Watching".into())),
        Failure::Client(ClientError::Codec(CodecError::Malformed("x".into()))),
        Failure::Output(std::io::Error::other("disk full")),
    ];
    for f in other {
        assert_eq!(f.exit_code(), 4, "{f:?}");
    }
    let usage = Failure::Usage(clap::Error::new(
        clap::error::ErrorKind::MissingRequiredArgument,
    ));
    assert_eq!(usage.exit_code(), 2);

    let pipe = Failure::Output(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
    assert!(pipe.is_quiet());
    assert_eq!(
        json::error(&refused.code(), &refused.message(), refused.redirect()),
        json!({"error": {"code": "window_busy", "message": "window 3 is serving A012"}})
    );
}

#[test]
fn a_hall_no_daemon_took_is_a_refusal_with_the_daemons_message() {
    // What is left after the follow budget: the last daemon's refusal.
    let nobody = Failure::Client(ClientError::Refused(ErrorReply::new(
        "not_owner",
        "hall main has no owner right now (failover under way)",
    )));
    assert_eq!(nobody.exit_code(), 1);
    assert_eq!(nobody.code(), "not_owner");
    assert_eq!(
        nobody.message(),
        "hall main has no owner right now (failover under way)"
    );
    assert_eq!(
        json::error(&nobody.code(), &nobody.message(), nobody.redirect()),
        json!({"error": {
            "code": "not_owner",
            "message": "hall main has no owner right now (failover under way)",
        }})
    );
    let elsewhere = Failure::Client(ClientError::Refused(ErrorReply {
        redirect: Some("10.0.0.6:7878".into()),
        ..ErrorReply::new("not_owner", "hall main is served by 10.0.0.6:7878")
    }));
    assert_eq!(elsewhere.exit_code(), 1);
    assert_eq!(
        json::error(
            &elsewhere.code(),
            &elsewhere.message(),
            elsewhere.redirect()
        ),
        json!({"error": {
            "code": "not_owner",
            "message": "hall main is served by 10.0.0.6:7878",
            "redirect": "10.0.0.6:7878",
        }})
    );
}

#[test]
fn only_changes_lost_with_their_connection_are_unsure() {
    use hallq_proto::wire::{Request, WindowAction};
    let lost = ClientError::Connection("timed out".into());
    let call = Request::Window {
        window: None,
        action: WindowAction::Call { ticket: None },
    };
    assert!(super::unsure(&call, &lost));
    assert!(super::unsure(&call, &ClientError::Timeout));
    // Reads were sent again; refusals changed nothing.
    assert!(!super::unsure(&Request::Status, &lost));
    let busy = ClientError::Refused(ErrorReply::new("window_busy", "busy"));
    assert!(!super::unsure(&call, &busy));
}

fn record() -> hallq_proto::wire::TicketRecord {
    hallq_proto::wire::TicketRecord {
        hall: "main".into(),
        ticket: ticket("A003"),
        item: "B".parse().unwrap(),
        lane: Lane::WalkIn,
        issued: Timestamp(T0),
        called: Some(Timestamp(T0 + 95_000)),
        started: Some(Timestamp(T0 + 200_000)),
        finished: Some(Timestamp(T0 + 500_000)),
        window: Some(WindowNo(6)),
        staff: Some("S1006".into()),
        rating: Some(5),
        outcome: "served".into(),
        phone_hash: None,
    }
}

fn trail_for_appeal() -> hallq_proto::wire::RecordTrail {
    hallq_proto::wire::RecordTrail {
        original_item: "A".parse().unwrap(),
        transfers: vec![],
        waiting_secs: None,
        service_secs: None,
    }
}

#[test]
fn export_csv_keeps_its_columns_and_adds_iso_times_and_the_trail() {
    // The old columns first, unchanged (a contract), the new at the end.
    let header = json::csv_header_detailed();
    assert!(header.starts_with(
        "hall,ticket,item,lane,issued,called,started,finished,window,staff,rating,outcome,phone_hash,"
    ));
    assert!(header.ends_with(
        ",issued_at,called_at,started_at,finished_at,original_item,transfers,waiting_secs,service_secs"
    ));
    // Issue 21: `hallq export` adds the appeal's reason last, quoted when
    // it must be.
    assert_eq!(json::csv_header_export(), format!("{header},appeal"));
    let plain = json::csv_record_export(&record(), &trail_for_appeal(), 480, None);
    assert!(plain.ends_with(','), "{plain}");
    let quoted =
        json::csv_record_export(&record(), &trail_for_appeal(), 480, Some("误评,经\"核实\""));
    assert!(quoted.ends_with(",\"误评,经\"\"核实\"\"\""), "{quoted}");
    let trail = hallq_proto::wire::RecordTrail {
        original_item: "A".parse().unwrap(),
        transfers: vec!["2>B".into(), "4>W6".into()],
        waiting_secs: Some(95),
        service_secs: Some(300),
    };
    let line = json::csv_record_detailed(&record(), &trail, 480);
    assert_eq!(line.split(',').count(), header.split(',').count(), "{line}");
    assert!(
        line.starts_with(&format!("main,A003,B,walk-in,{T0},")),
        "{line}"
    );
    assert!(
        line.ends_with(
            ",2025-03-03T09:00:00+08:00,2025-03-03T09:01:35+08:00,2025-03-03T09:03:20+08:00,\
             2025-03-03T09:08:20+08:00,A,2>B;4>W6,95,300"
        ),
        "{line}"
    );
    let v = json::ticket_record_detailed(&record(), &trail, 480);
    assert_eq!(v["issued"], T0);
    assert_eq!(v["issued_at"], "2025-03-03T09:00:00+08:00");
    assert_eq!(v["transfers"], json!(["2>B", "4>W6"]));
    assert_eq!(
        json::iso8601(Timestamp(0), -300),
        "1969-12-31T19:00:00-05:00"
    );
    assert_eq!(
        json::iso8601(Timestamp(951_782_400_000), 0),
        "2000-02-29T00:00:00+00:00"
    );
}

#[test]
fn stats_print_a_labelled_rating_distribution_and_the_managers_figures() {
    use hallq_proto::wire::{DayReport, DayStats, ReportFigures, StatsFigures};
    let totals = StatsFigures {
        issued: 18,
        served: 16,
        ratings: [1, 2, 1, 3, 8],
        work_orders: 3,
        ..StatsFigures::default()
    };
    let r = DayReport {
        stats: DayStats {
            hall: "main".into(),
            day: 20250303,
            totals,
            forfeited_bookings: 0,
            appointments_kept: 0,
            notifications_sent: 0,
            notifications_failed: 0,
            by: None,
            groups: vec![],
        },
        wait_target_secs: 1800,
        totals: ReportFigures {
            calls: 17,
            satisfied_permille: Some(733),
            waited_over_target: 2,
            waited_over_target_permille: Some(118),
            no_show_permille: Some(59),
            paused_secs: 3600,
            left: 1,
            stepped_back: 2,
        },
        groups: vec![],
        hours: vec![],
    };
    let zh = human::response_in(
        &Response::Report(Box::new(r.clone())),
        Timestamp(T0),
        Lang::Zh,
    );
    assert!(
        zh.contains(
            "评价：非常满意 8 · 满意 3 · 基本满意 1 · 不满意 2 · 非常不满意 1 · 满意率 73.3%"
        ),
        "{zh}"
    );
    assert!(zh.contains("等候超过 30 分钟：2 人（11.8%）"), "{zh}");
    assert!(zh.contains("暂停时长 60 分 00 秒"), "{zh}");
    assert!(!zh.contains("[1, 2, 1, 3, 8]"), "{zh}");
    let en = human::response_in(
        &Response::Report(Box::new(r.clone())),
        Timestamp(T0),
        Lang::En,
    );
    assert!(
        en.contains("ratings: very satisfied 8 · satisfied 3"),
        "{en}"
    );
    // JSON: every field `stats --json` had, the rest under "report".
    let v = json::response(&Response::Report(Box::new(r.clone())));
    assert_eq!(v["totals"], json!(r.stats.totals));
    assert_eq!(v["report"]["totals"]["satisfied_permille"], 733);
    assert_eq!(v["hall"], "main");
}

#[test]
fn health_kiosk_view_and_group_headings_in_both_languages() {
    use hallq_proto::views::{KioskItem, KioskView};
    use hallq_proto::wire::{HallHealth, HealthReport};
    let health = Response::Health(HealthReport {
        healthy: false,
        halls: vec![HallHealth {
            hall: "main".into(),
            journal_writable: false,
            journal_error: Some("No space left on device".into()),
            last_fsync_age_secs: Some(3),
            waiting: 4,
            pending_notifications: 1,
            role: "alone".into(),
            owner: None,
            records: 10,
        }],
    });
    let zh = human::response_in(&health, Timestamp(T0), Lang::Zh);
    assert_eq!(
        zh,
        "异常：有记录文件无法写入\n\
         main：记录不可写：No space left on device · 3 秒前落盘 · 4 人等候 · 1 条通知待发"
    );
    let en = human::response_in(&health, Timestamp(T0), Lang::En);
    assert!(en.starts_with("UNHEALTHY"), "{en}");
    assert!(en.contains("last fsync 3 s ago · 4 waiting"), "{en}");

    let kiosk = Response::KioskView(Box::new(KioskView {
        hall: "main".into(),
        hall_name: "政务服务中心".into(),
        day: Some(20250303),
        issuing: true,
        open_now: true,
        opens: None,
        items: vec![KioskItem {
            code: item('A'),
            name: "社保".into(),
            waiting: [0, 1, 2],
            windows: vec![WindowNo(1)],
            eta_secs: Some(600),
            eta_priority_secs: None,
            daily_cap: Some(100),
            issued_today: 7,
        }],
        print_failures_today: 0,
    }));
    let zh = human::response_in(&kiosk, Timestamp(T0), Lang::Zh);
    assert_eq!(
        zh,
        "政务服务中心（main）· 正在取号\n  A 社保 · 3 人等候 · 约 10 分钟 · 已发 7/100"
    );
    let en = human::response_in(&kiosk, Timestamp(T0), Lang::En);
    assert_eq!(
        en,
        "政务服务中心 (main) · issuing\n  A 社保 · 3 waiting · about 10 min · 7/100 issued"
    );

    for (by, key, zh, en) in [
        (
            hallq_proto::wire::StatsBy::Window,
            "3",
            "3号窗口",
            "window 3",
        ),
        (
            hallq_proto::wire::StatsBy::Staff,
            "S1002",
            "工作人员 S1002",
            "staff S1002",
        ),
        (
            hallq_proto::wire::StatsBy::Staff,
            "-",
            "工作人员（未登录）",
            "staff (nobody logged in)",
        ),
        (hallq_proto::wire::StatsBy::Item, "A", "事项 A", "item A"),
    ] {
        let stats = Response::Stats(Box::new(hallq_proto::wire::DayStats {
            hall: "main".into(),
            day: 20250303,
            totals: Default::default(),
            forfeited_bookings: 0,
            appointments_kept: 0,
            notifications_sent: 0,
            notifications_failed: 0,
            by: Some(by),
            groups: vec![hallq_proto::wire::StatsGroup {
                key: key.into(),
                figures: Default::default(),
            }],
        }));
        let text = human::response_in(&stats, Timestamp(T0), Lang::Zh);
        assert!(text.lines().any(|l| l == zh), "{text}");
        let text = human::response_in(&stats, Timestamp(T0), Lang::En);
        assert!(text.lines().any(|l| l == en), "{text}");
    }

    let refused = Response::Error(ErrorReply::new(
        "window_busy",
        "window 3 still has ticket C005: finish it",
    ));
    let zh = human::response_in(&refused, Timestamp(T0), Lang::Zh);
    assert!(
        zh.starts_with("错误：当前号尚未处理完") && !zh.contains("finish it"),
        "{zh}"
    );
    let watching = human::response_in(&Response::Watching, Timestamp(T0), Lang::Zh);
    assert_eq!(watching, "正在接收大厅动态");
}
