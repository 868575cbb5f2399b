//! The window terminal as state: keys in, intents out; answers in, screen
//! out (on ratatui's test backend). The same terminal against a real
//! daemon is in `tests/tests/board.rs`.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::screen::render_text;
use hallq_proto::types::{Post, Role, StaffId};
use hallq_proto::views::{HallView, ItemView};
use hallq_proto::wire::ErrorReply;

/// 2025-03-03 09:00 in Beijing, in ms.
const T0: u64 = 1_740_963_600_000;

fn code(c: char) -> ItemCode {
    ItemCode::new(c).unwrap()
}

fn ticket(s: &str) -> TicketNo {
    s.parse().unwrap()
}

fn window3(state: WindowState, current: Option<&str>, serving: bool) -> WindowView {
    WindowView {
        number: WindowNo(3),
        state,
        current: current.map(ticket),
        serving,
        staff: Some((StaffId::new("S1024").unwrap(), Post::A)),
        items: vec![code('B'), code('C')],
        universal: false,
        fallback: false,
    }
}

fn waiting(t: &str, lane: Lane, position: u32, for_window: Option<u16>) -> WaitingTicket {
    WaitingTicket {
        ticket: ticket(t),
        lane,
        position,
        for_window: for_window.map(WindowNo),
        waiting_since: Timestamp(T0 - 5 * 60_000),
    }
}

fn status(window: WindowView) -> Status {
    let item = |c: char, name: &str| ItemView {
        code: code(c),
        name: name.into(),
        waiting: [0, 0, 1],
        open_windows: 1,
        issued_today: 3,
    };
    Status {
        hall: "main".into(),
        hall_name: "政务服务中心".into(),
        view: HallView {
            day: Some(20250303),
            issuing: true,
            windows: vec![window],
            items: vec![
                item('A', "社保"),
                item('B', "医保"),
                item('C', "不动产登记"),
            ],
        },
        waiting: vec![
            waiting("B004", Lane::WalkIn, 0, None),
            waiting("C002", Lane::Priority(PriorityReason::Elderly), 0, None),
            // Another item's line, and a ticket referred to another window.
            waiting("A007", Lane::WalkIn, 0, None),
            waiting("B009", Lane::WalkIn, 1, Some(5)),
        ],
    }
}

fn terminal() -> WindowTerminal {
    let welcome = Welcome {
        role: Role::Window,
        hall: "main".into(),
        hall_name: "政务服务中心".into(),
        window: Some(WindowNo(3)),
    };
    let mut app = WindowTerminal::new(&welcome).unwrap();
    app.refreshed(
        Ok(status(window3(WindowState::Open, None, false))),
        Timestamp(T0),
    );
    app
}

fn key(app: &mut WindowTerminal, code: KeyCode) -> Option<Intent> {
    app.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut WindowTerminal, text: &str) -> Option<Intent> {
    for c in text.chars() {
        assert_eq!(key(app, KeyCode::Char(c)), None);
    }
    key(app, KeyCode::Enter)
}

/// The screen as text without the padding of wide characters and without
/// borders, so assertions read as the clerk reads.
fn screen(app: &WindowTerminal, now: u64) -> String {
    render_text(90, 20, |f| app.draw(f, Timestamp(now))).replace([' ', '│', '─'], "")
}

fn act(action: WindowAction) -> Option<Intent> {
    Some(Intent::Act(action))
}

#[test]
fn single_keys_are_window_actions() {
    let mut app = terminal();
    assert_eq!(
        key(&mut app, KeyCode::Char('n')),
        act(WindowAction::Call { ticket: None })
    );
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        act(WindowAction::Call { ticket: None })
    );
    assert_eq!(key(&mut app, KeyCode::Char('r')), act(WindowAction::Recall));
    assert_eq!(key(&mut app, KeyCode::Char('S')), act(WindowAction::Start));
    // 过号 asks first: y records it, anything else does not.
    assert_eq!(key(&mut app, KeyCode::Char('x')), None);
    assert_eq!(app.mode(), &Mode::ConfirmNoShow);
    assert_eq!(key(&mut app, KeyCode::Char('y')), act(WindowAction::NoShow));
    key(&mut app, KeyCode::Char('x'));
    assert_eq!(key(&mut app, KeyCode::Char('n')), None);
    assert_eq!(app.mode(), &Mode::Keys);
    assert_eq!(key(&mut app, KeyCode::Char('o')), act(WindowAction::Open));
    assert_eq!(key(&mut app, KeyCode::Char('u')), Some(Intent::Refresh));
    assert_eq!(key(&mut app, KeyCode::Char('z')), None);
    assert_eq!(key(&mut app, KeyCode::Char('q')), Some(Intent::Quit));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.key(ctrl_c), Some(Intent::Quit));
}

#[test]
fn finishing_asks_for_the_rating_only_where_the_clerk_may_enter_it() {
    let mut app = terminal();
    // By default the visitor rates on their phone: `f` just finishes.
    assert_eq!(
        key(&mut app, KeyCode::Char('f')),
        act(WindowAction::Finish { rating: None })
    );
    app.allow_clerk_rating(true);
    assert_eq!(key(&mut app, KeyCode::Char('f')), None);
    assert_eq!(app.mode(), &Mode::Rating);
    assert!(screen(&app, T0).contains("5非常满意"));
    // A key that is no rating keeps asking.
    assert_eq!(key(&mut app, KeyCode::Char('9')), None);
    assert_eq!(
        key(&mut app, KeyCode::Char('4')),
        act(WindowAction::Finish {
            rating: Some(Rating::new(4).unwrap())
        })
    );
    assert_eq!(app.mode(), &Mode::Keys);
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        act(WindowAction::Finish { rating: None })
    );
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(key(&mut app, KeyCode::Esc), None);
    assert_eq!(app.mode(), &Mode::Keys);
}

#[test]
fn prompts_take_text_and_refuse_nonsense() {
    let mut app = terminal();
    key(&mut app, KeyCode::Char('t'));
    assert_eq!(
        typed(&mut app, "b"),
        act(WindowAction::Transfer {
            to: Target::Item(code('B'))
        })
    );
    key(&mut app, KeyCode::Char('t'));
    assert_eq!(
        typed(&mut app, "5"),
        act(WindowAction::Transfer {
            to: Target::Window(WindowNo(5))
        })
    );
    key(&mut app, KeyCode::Char('t'));
    assert_eq!(typed(&mut app, "??"), None);
    assert!(
        matches!(app.mode(), Mode::Transfer(_)),
        "stays in the prompt"
    );
    assert!(!app.feedback().unwrap().ok);
    key(&mut app, KeyCode::Esc);

    key(&mut app, KeyCode::Char('g'));
    assert_eq!(
        typed(&mut app, "c002"),
        act(WindowAction::Call {
            ticket: Some(ticket("C002"))
        })
    );

    // Pause with the default reason, or one typed (Backspace works).
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        act(WindowAction::Pause {
            reason: DEFAULT_PAUSE_REASON.into()
        })
    );
    key(&mut app, KeyCode::Char('p'));
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Backspace);
    assert_eq!(
        typed(&mut app, "午休"),
        act(WindowAction::Pause {
            reason: "午休".into()
        })
    );

    // Closing needs a y.
    assert_eq!(key(&mut app, KeyCode::Char('c')), None);
    assert_eq!(key(&mut app, KeyCode::Char('n')), None);
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(key(&mut app, KeyCode::Char('y')), act(WindowAction::Close));
}

#[test]
fn a_paused_window_resumes_with_the_same_key() {
    let mut app = terminal();
    app.refreshed(
        Ok(status(window3(
            WindowState::Paused("午休".into()),
            None,
            false,
        ))),
        Timestamp(T0),
    );
    assert_eq!(key(&mut app, KeyCode::Char('p')), act(WindowAction::Resume));
    assert!(screen(&app, T0).contains("暂停服务（午休）"));
}

#[test]
fn the_screen_shows_the_window_its_queue_and_the_answer() {
    let mut app = terminal();
    let text = screen(&app, T0);
    assert!(text.contains("3号窗口开放工作人员S1024（A岗）"), "{text}");
    assert!(text.contains("09:00:00"), "{text}");
    // B and C are this window's; A007 and the ticket referred to window 5 are not.
    assert!(text.contains("排队2人·医保B不动产登记C"), "{text}");
    assert!(text.contains("C002不动产登记优先·老人005:00"), "{text}");
    assert!(text.contains("B004医保普通005:00"), "{text}");
    assert!(!text.contains("A007") && !text.contains("B009"), "{text}");
    // Priority before walk-in, as the call policy takes them.
    assert!(text.find("C002") < text.find("B004"), "{text}");

    let call = WindowAction::Call { ticket: None };
    app.acted(
        &call,
        Ok(Response::Window {
            action: "call".into(),
            ticket: Some(ticket("C002")),
            announcement: Some("请C002号到3号窗口办理".into()),
            window: window3(WindowState::Open, Some("C002"), false),
        }),
        Timestamp(T0),
    );
    let text = screen(&app, T0 + 35_000);
    assert!(text.contains("✔叫号：请C002号到3号窗口办理"), "{text}");
    // Item and lane with the number, from the queue it was called from.
    assert!(
        text.contains("当前C002不动产登记·优先·老人已叫号，等待到窗00:35"),
        "{text}"
    );

    // Service starts: the timer restarts and counts the service.
    app.acted(
        &WindowAction::Start,
        Ok(Response::Window {
            action: "start".into(),
            ticket: Some(ticket("C002")),
            announcement: None,
            window: window3(WindowState::Open, Some("C002"), true),
        }),
        Timestamp(T0 + 60_000),
    );
    let text = screen(&app, T0 + 60_000 + 252_000);
    assert!(text.contains("✔开始办理C002"), "{text}");
    assert!(
        text.contains("当前C002不动产登记·优先·老人正在办理04:12"),
        "{text}"
    );

    // A refusal is told from its code and what the terminal knows, never
    // with the daemon's English words.
    app.acted(
        &call,
        Err(ClientError::Refused(ErrorReply::new(
            "window_busy",
            "window 3 still has ticket C002",
        ))),
        Timestamp(T0),
    );
    let text = screen(&app, T0);
    assert!(
        text.contains("✘叫号未成功：当前号C002尚未处理完：请先办结、过号或转办"),
        "{text}"
    );
    assert!(!text.contains("window3"), "{text}");
}

#[test]
fn in_english_with_lang_en() {
    let mut app = terminal().with_lang(Lang::En);
    app.refreshed(
        Ok(status(window3(WindowState::Open, None, false))),
        Timestamp(T0),
    );
    let text = screen(&app, T0);
    assert!(text.contains("Window3openstaffS1024(postA)"), "{text}");
    assert!(text.contains("[n]call"), "{text}");
    app.acted(
        &WindowAction::NoShow,
        Err(ClientError::Refused(ErrorReply::new(
            "no_show_too_soon",
            "ticket C002 was called 3 s ago",
        ))),
        Timestamp(T0),
    );
    let text = screen(&app, T0);
    assert!(
        text.contains("✘No-showfailed:toosoonafterthecall"),
        "{text}"
    );
}

#[test]
fn reinstate_and_login_keys() {
    let mut app = terminal();
    key(&mut app, KeyCode::Char('b'));
    assert!(screen(&app, T0).contains("过号恢复号码"));
    assert_eq!(
        typed(&mut app, "a003"),
        Some(Intent::Reinstate(ticket("A003")))
    );
    app.reinstated(
        Ok(Response::Reinstated {
            ticket: ticket("A003"),
            position: 3,
        }),
        Timestamp(T0),
    );
    assert!(screen(&app, T0).contains("✔过号恢复A003：已回到队列，前面3人"));

    // Logged in: l logs out after a y.
    assert_eq!(key(&mut app, KeyCode::Char('l')), None);
    assert_eq!(app.mode(), &Mode::ConfirmLogout);
    assert_eq!(key(&mut app, KeyCode::Char('y')), act(WindowAction::Logout));
    // Nobody logged in: l asks for 工号 and post.
    let mut nobody = window3(WindowState::Open, None, false);
    nobody.staff = None;
    app.refreshed(Ok(status(nobody)), Timestamp(T0));
    assert!(screen(&app, T0).contains("未登录（按l登录）"));
    key(&mut app, KeyCode::Char('l'));
    assert_eq!(
        typed(&mut app, "S1002 b"),
        act(WindowAction::Login {
            staff: StaffId::new("S1002").unwrap(),
            post: Post::B
        })
    );
    key(&mut app, KeyCode::Char('l'));
    assert_eq!(typed(&mut app, "S1002 C"), None);
    assert!(matches!(app.mode(), Mode::Login(_)));
}

#[test]
fn the_link_state_shows_at_once_and_a_stale_error_goes() {
    let mut app = terminal();
    // An action on its way: the screen says so, and a second is held back.
    app.sending(&Intent::Act(WindowAction::Call { ticket: None }));
    assert!(screen(&app, T0).contains("叫号发送中…"));
    assert_eq!(key(&mut app, KeyCode::Char('n')), None);
    app.acted(
        &WindowAction::Call { ticket: None },
        Err(ClientError::Timeout),
        Timestamp(T0),
    );
    let text = screen(&app, T0 + 12_000);
    // Not 开放: the window's state is not known while hallqd is away.
    assert!(text.contains("连不上hallqd（00:12）·状态未知"), "{text}");
    assert!(!text.contains("开放"), "{text}");
    assert!(text.contains("✘叫号未成功：hallqd未及时应答"), "{text}");
    assert_eq!(app.link(), Link::Down(Timestamp(T0)));
    // The link is back: the header and the error line say so.
    app.refreshed(
        Ok(status(window3(WindowState::Open, None, false))),
        Timestamp(T0 + 20_000),
    );
    let text = screen(&app, T0 + 20_000);
    assert!(text.contains("3号窗口开放"), "{text}");
    assert!(!text.contains("✘"), "{text}");
    assert_eq!(app.link(), Link::Up);
}

#[test]
fn a_token_that_is_not_a_window_gets_no_terminal() {
    let welcome = Welcome {
        role: Role::Display,
        hall: "main".into(),
        hall_name: "x".into(),
        window: None,
    };
    assert!(WindowTerminal::new(&welcome).is_none());
}
