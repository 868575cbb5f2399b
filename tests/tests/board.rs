//! Display boards and the window terminal, end to end: the real `hallqd`,
//! the real `hallq board --serve`, and the page in headless Chromium driven
//! over WebDriver (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs when missing). A window terminal is driven by keys
//! against the same daemon and drawn on ratatui's test backend.
//!
//! The browser harness (chromedriver, the WebDriver client, `hallq` as a
//! child process) is `hallq_tests::browser`, shared with tests/kiosk.rs.
//!
//! Without Chromium the browser test fails and says how to install it;
//! `HALLQ_SKIP_BROWSER_TESTS=1` skips it instead (say so when you do).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use hallq_client::screen::now;
use hallq_client::screen::render_text;
use hallq_client::terminal::{perform, WindowTerminal};
use hallq_proto::types::{Lane, WindowNo};
use hallq_proto::wire::WindowAction;
use hallq_tests::browser::{browser_available, WebDriver};
use hallq_tests::serve::Screen;
use hallq_tests::{hallqd_path, item, open_windows, window_token, TestHall, ADMIN, KIOSK};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;

/// The issue's promise: a call is on the board within a second.
const UPDATE_LATENCY: Duration = Duration::from_secs(1);

/// What the page shows, read in one go (see board.js for the attributes).
const PROBE: &str = r#"
const latest = document.getElementById('latest');
const tile = (n) => {
  const t = document.querySelector('.tile[data-window="' + n + '"]');
  return t ? { state: t.dataset.state, text: t.innerText } : null;
};
const overlay = document.getElementById('offline');
const top = document.getElementById('window-top');
return {
  link: document.body.dataset.link,
  ticket: latest.dataset.ticket || null,
  window: latest.dataset.window ? Number(latest.dataset.window) : null,
  at: Number(latest.dataset.at || 0),
  shown_at: Number(latest.dataset.shownAt || 0),
  latest: latest.innerText,
  tiles: [1, 2, 3, 4].map(tile),
  items: document.getElementById('items').innerText,
  announced: Number(document.body.dataset.announced || 0),
  last_announcement: document.body.dataset.lastAnnouncement || null,
  overlay_shown: getComputedStyle(overlay).display !== 'none',
  overlay: overlay.innerText,
  top_state: top.dataset.state || null,
  top: top.hidden ? null : top.innerText,
};
"#;

#[test]
fn the_board_page_follows_the_hall_live_and_shows_a_lost_daemon() -> anyhow::Result<()> {
    if !browser_available("board")? {
        return Ok(());
    }
    let rt = tokio::runtime::Runtime::new()?;
    let hall = TestHall::new()?;
    let mut daemon = hall.start()?;
    let board = Screen::board(&hall, &daemon, &[])?;

    let admin = rt.block_on(daemon.connect(ADMIN));
    let kiosk = rt.block_on(daemon.connect(KIOSK));
    rt.block_on(open_windows(&admin, &[1, 2, 3, 4]));
    for letter in ['A', 'A', 'B', 'C', 'C', 'D'] {
        rt.block_on(kiosk.issue(item(letter), Lane::WalkIn, None))?;
    }

    let browser = WebDriver::start(hall.dir(), 1920, 1080, PROBE)?;
    browser.open(&board.url("/?speak=1"))?;
    let page = browser.wait_page("the board is live", |p| p["link"] == "live")?;
    assert_eq!(page["ticket"], Value::Null, "no call yet: {page}");

    // A call: on the board within a second, as the newest, with its words.
    let window1 = rt.block_on(daemon.connect(&window_token(1)));
    rt.block_on(window1.window(None, WindowAction::Call { ticket: None }))?;
    let page = browser.wait_page("the call of A001", |p| p["ticket"] == "A001")?;
    let latency = page["shown_at"].as_u64().unwrap_or(0) as i64 - page["at"].as_i64().unwrap_or(0);
    eprintln!("board update latency: {latency} ms");
    assert!(
        (0..=UPDATE_LATENCY.as_millis() as i64).contains(&latency),
        "the call took {latency} ms to reach the page: {page}"
    );
    assert_eq!(page["window"], 1);
    let latest = page["latest"].as_str().unwrap_or_default();
    assert!(
        latest.contains("A001") && latest.contains("1号窗口"),
        "{page}"
    );
    assert!(latest.contains("请A001号到1号窗口办理"), "{page}");
    assert_eq!(page["tiles"][0]["state"], "called", "{page}");
    assert!(tile_text(&page, 1).contains("A001"), "{page}");
    // ?speak=1: announced once (speech itself is not observable headless).
    assert_eq!(page["announced"], 1, "{page}");
    assert_eq!(page["last_announcement"], "请A001号到1号窗口办理");
    assert!(
        page["items"]
            .as_str()
            .unwrap_or_default()
            .contains("社保（A）等候 1 人"),
        "{page}"
    );

    // A recall is announced again and marked.
    rt.block_on(window1.window(None, WindowAction::Recall))?;
    let page = browser.wait_page("the recall", |p| p["announced"] == 2)?;
    assert!(
        page["latest"].as_str().unwrap_or_default().contains("重呼"),
        "{page}"
    );

    // Serving, and a paused window with its reason (§8.2.2.2).
    rt.block_on(window1.window(None, WindowAction::Start))?;
    browser.wait_page("window 1 serving", |p| p["tiles"][0]["state"] == "serving")?;
    rt.block_on(admin.window(
        Some(WindowNo(2)),
        WindowAction::Pause {
            reason: "午休".into(),
        },
    ))?;
    let page = browser.wait_page("window 2 paused", |p| p["tiles"][1]["state"] == "paused")?;
    assert!(tile_text(&page, 2).contains("暂停服务"), "{page}");
    assert!(tile_text(&page, 2).contains("午休"), "{page}");

    // Two more calls, so the screenshot shows a hall at work.
    for n in [3u16, 4] {
        rt.block_on(admin.window(Some(WindowNo(n)), WindowAction::Call { ticket: None }))?;
    }
    browser.wait_page("the call at window 4", |p| p["window"] == 4)?;
    let shot = artifact_dir().join("board-screenshot.png");
    browser.screenshot(&shot)?;
    eprintln!("board screenshot: {}", shot.display());

    // The screen over window 2 says it is paused; the one over window 1
    // shows its ticket.
    browser.open(&board.url("/?window=2"))?;
    let page = browser.wait_page("the window-top screen", |p| p["top_state"] == "paused")?;
    let top = page["top"].as_str().unwrap_or_default();
    assert!(
        top.contains("2号窗口") && top.contains("暂停服务") && top.contains("午休"),
        "{page}"
    );
    browser.open(&board.url("/?window=1"))?;
    let page = browser.wait_page("window 1's screen", |p| p["top_state"] == "serving")?;
    assert!(
        page["top"].as_str().unwrap_or_default().contains("A001"),
        "{page}"
    );
    browser.screenshot(&artifact_dir().join("board-window-screenshot.png"))?;

    // hallqd stops: the board says so instead of showing stale numbers as live.
    browser.open(&board.url("/"))?;
    browser.wait_page("the board live again", |p| p["link"] == "live")?;
    daemon.stop()?;
    let page = browser.wait_page("the lost link", |p| p["link"] == "lost")?;
    assert_eq!(page["overlay_shown"], true, "{page}");
    assert!(
        page["overlay"]
            .as_str()
            .unwrap_or_default()
            .contains("连接已中断"),
        "{page}"
    );
    browser.screenshot(&artifact_dir().join("board-disconnected-screenshot.png"))?;
    Ok(())
}

/// The window terminal: keys become calls on the real daemon, the screen
/// shows the answer, and a refusal is spelled out.
#[test]
fn the_window_terminal_acts_by_keys_and_shows_the_result() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    // A hall that lets the clerk enter the visitor's rating (issue 18).
    let hall = TestHall::with_hall_settings("clerk_rating = true")?;
    let daemon = hall.start()?;
    let kiosk = rt.block_on(daemon.connect(KIOSK));
    let clerk = rt.block_on(daemon.connect(&window_token(2)));
    let mut app = WindowTerminal::new(clerk.welcome()).context("a window token")?;
    assert_eq!(app.window_no(), WindowNo(2));
    let press = |app: &mut WindowTerminal, code: KeyCode| -> bool {
        let key = KeyEvent::new(code, KeyModifiers::NONE);
        match app.key(key) {
            Some(intent) => rt.block_on(perform(app, &clerk, &intent)),
            None => true,
        }
    };

    assert!(press(&mut app, KeyCode::Char('o')), "open");
    for _ in 0..2 {
        rt.block_on(kiosk.issue(item('A'), Lane::WalkIn, None))?;
    }
    assert!(press(&mut app, KeyCode::Char('u')), "refresh");
    let screen = draw(&app);
    assert!(screen.contains("2号窗口开放"), "{screen}");
    assert!(screen.contains("排队2人"), "{screen}");
    assert!(screen.contains("A001社保普通0"), "{screen}");

    press(&mut app, KeyCode::Char('n'));
    let screen = draw(&app);
    assert!(screen.contains("✔叫号：请A001号到2号窗口办理"), "{screen}");
    // With its item and lane (issue 17).
    assert!(screen.contains("当前A001社保·普通已叫号"), "{screen}");
    assert!(screen.contains("排队1人"), "{screen}");

    press(&mut app, KeyCode::Char('s'));
    assert!(draw(&app).contains("当前A001社保·普通正在办理"));

    // Calling again while serving: the daemon refuses, the clerk reads why.
    press(&mut app, KeyCode::Char('n'));
    let screen = draw(&app);
    assert!(screen.contains("✘叫号未成功"), "{screen}");
    assert!(screen.contains("A001"), "{screen}");

    // Finish with a rating: f, then 5 (a terminal of a hall that lets the
    // clerk enter ratings; issue 18).
    app.allow_clerk_rating(true);
    press(&mut app, KeyCode::Char('f'));
    assert!(draw(&app).contains("5非常满意"));
    press(&mut app, KeyCode::Char('5'));
    let screen = draw(&app);
    assert!(screen.contains("✔办结A001"), "{screen}");
    assert!(screen.contains("当前无"), "{screen}");

    // Pause with a reason typed in, then resume with the same key.
    press(&mut app, KeyCode::Char('p'));
    for c in "午休".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    let screen = draw(&app);
    assert!(screen.contains("暂停服务（午休）"), "{screen}");
    let status = rt.block_on(clerk.status())?;
    let window2 = status.view.windows.iter().find(|w| w.number == WindowNo(2));
    assert!(
        window2.is_some_and(|w| w.state == hallq_proto::views::WindowState::Paused("午休".into())),
        "{window2:?}"
    );
    press(&mut app, KeyCode::Char('p'));
    assert!(draw(&app).contains("✔恢复办理"));
    Ok(())
}

/// The terminal's screen as text, without the spaces that pad wide
/// characters (and separate columns), so assertions read naturally.
fn draw(app: &WindowTerminal) -> String {
    render_text(100, 24, |frame| app.draw(frame, now())).replace([' ', '│', '─'], "")
}

fn tile_text(page: &Value, window: usize) -> String {
    page["tiles"][window - 1]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `target/`, where test artifacts (the screenshots) are kept.
fn artifact_dir() -> PathBuf {
    // target/<profile>/hallqd → target/
    hallqd_path()
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
}
