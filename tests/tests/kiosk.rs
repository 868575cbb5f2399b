//! The kiosk, end to end: the real `hallqd`, the real `hallq kiosk
//! --serve`, the page in headless Chromium over WebDriver (as
//! tests/board.rs drives the board), and fake ESC/POS printers on loopback
//! that capture every byte.
//!
//! What a visitor does: takes a ticket (with a mobile number typed on the
//! keypad, a wrong one refused first), double-taps and still gets one
//! ticket, takes a priority ticket, checks in with a booking code typed by
//! a USB scanner (keys and Enter), finds a capped item and an item without
//! an open window refused on their buttons, a closed hall offering only
//! check-in, and a kiosk that has lost hallqd saying so and issuing
//! nothing. What a printer does: gets ESC @, GB18030 text with the number,
//! the QR code (GS ( k) and the cut, after answering DLE EOT; one that
//! refuses the connection, says "paper out" or vanishes mid-ticket leaves
//! the ticket issued, shown on the screen, and counted in the hall's print
//! failures.
//!
//! Without Chromium the browser test fails and says how to install it;
//! `HALLQ_SKIP_BROWSER_TESTS=1` skips it instead (say so when you do).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hallq_client::kiosk::escpos;
use hallq_client::kiosk::printer::{PrintError, Printer};
use hallq_core::HallDay;
use hallq_proto::appointment::Channel;
use hallq_proto::types::{Lane, Timestamp};
use hallq_proto::wire::{Request, Response};
use hallq_tests::browser::{browser_available, hallq_path, WebDriver};
use hallq_tests::serve::Screen;
use hallq_tests::{
    hallqd_path, item, open_windows, pending_notifications, Daemon, TestHall, ADMIN, KIOSK,
    STEP_TIMEOUT,
};
use serde_json::json;

const HALF_HOUR_MS: u64 = 30 * 60 * 1000;

/// What the page shows, read in one go.
const PROBE: &str = r#"
const shown = [...document.querySelectorAll('.screen')].find(s => !s.hidden);
const item = (c) => {
  const b = document.querySelector('.item[data-item="' + c + '"]');
  return b ? { disabled: b.disabled, text: b.innerText } : null;
};
return {
  screen: shown ? shown.id : null,
  lost: !document.getElementById('lost').hidden,
  lost_text: document.getElementById('lost').innerText,
  closed: document.getElementById('closed').hidden ? null : document.getElementById('closed').innerText,
  items: ['A', 'B', 'C', 'D', 'E'].map(item),
  number: document.getElementById('result-number').innerText,
  result: document.getElementById('result').innerText,
  print_failed: !document.getElementById('print-failed').hidden,
  refused: document.getElementById('refused-text').innerText,
  phone_error: document.getElementById('phone-error').hidden ? null : document.getElementById('phone-error').innerText,
  check_in_enabled: !document.getElementById('to-check-in').disabled,
  attach: {
    open: !document.getElementById('attach').hidden,
    error: document.getElementById('attach-error').hidden ? null : document.getElementById('attach-error').innerText,
    done: document.getElementById('attach-done').hidden ? null : document.getElementById('attach-done').innerText,
  },
};
"#;

fn real_now() -> Timestamp {
    #[allow(clippy::disallowed_methods)] // the test's own clock, to shift the daemon's
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    Timestamp(ms)
}

/// A hall where item C is capped at one ticket a day.
fn capped_hall() -> anyhow::Result<TestHall> {
    let hall = TestHall::new()?;
    let config = std::fs::read_to_string(hall.config())?;
    std::fs::write(
        hall.config(),
        config.replace("daily_cap = 200", "daily_cap = 1"),
    )?;
    Ok(hall)
}

#[test]
fn a_visitor_takes_tickets_at_the_kiosk_page() -> anyhow::Result<()> {
    if !browser_available("kiosk")? {
        return Ok(());
    }
    let rt = tokio::runtime::Runtime::new()?;
    let hall = capped_hall()?;
    // Ten minutes past a half hour a day ahead: the next slot's check-in is open.
    let now = real_now();
    let boundary = (now.0 / HALF_HOUR_MS + 48) * HALF_HOUR_MS;
    let offset = (boundary as i64 + 10 * 60_000 - now.0 as i64) / 1000;
    let mut daemon = hall.start_shifted(offset)?;
    let admin = rt.block_on(daemon.connect(ADMIN));
    let kiosk = rt.block_on(daemon.connect(KIOSK));
    // Windows 1–4: item E (windows 5, 6, 7) has no open window.
    rt.block_on(open_windows(&admin, &[1, 2, 3, 4]));
    // Item C's one ticket of the day goes to someone else.
    rt.block_on(kiosk.issue(item('C'), Lane::WalkIn, None))?;
    let slot = HallDay::default().slot_at(Timestamp(boundary + HALF_HOUR_MS));
    let booked = match rt.block_on(kiosk.request(&Request::Book {
        item: item('A'),
        slot,
        phone: "13900139000".into(),
        channel: Channel::Phone,
    }))? {
        Response::Booked(b) => b,
        other => bail!("expected a booking, got {other:?}"),
    };

    let printer = FakePrinter::start(Behaviour::Prints)?;
    let page = kiosk_page(&hall, &daemon, &format!("tcp:{}", printer.addr))?;
    let scratch = tempfile::tempdir()?;
    let browser = WebDriver::start(scratch.path(), 1080, 1920, PROBE)?;
    let docs = docs_dir();

    // Portrait, 1080×1920: the start screen.
    browser.viewport(1080, 1920)?;
    browser.open(&page.url("/"))?;
    let start = browser.wait_page("the items", |p| {
        p["items"][4].is_object() && p["screen"] == "start"
    })?;
    assert!(start["items"][2]["disabled"].as_bool().unwrap(), "{start}");
    assert!(
        start["items"][2]["text"]
            .as_str()
            .unwrap()
            .contains("今日号已取完"),
        "{start}"
    );
    assert!(start["items"][4]["disabled"].as_bool().unwrap(), "{start}");
    assert!(
        start["items"][4]["text"]
            .as_str()
            .unwrap()
            .contains("暂无窗口办理"),
        "{start}"
    );
    assert!(!start["items"][0]["disabled"].as_bool().unwrap(), "{start}");
    assert!(
        start["items"][0]["text"]
            .as_str()
            .unwrap()
            .contains("等候 0 人"),
        "{start}"
    );
    browser.screenshot(&docs.join("kiosk-portrait.png"))?;

    // A ticket for 社保 with a mobile number; a wrong number first.
    browser.click("#items .item[data-item=\"A\"]")?;
    browser.wait_page("the lane choice", |p| p["screen"] == "lane")?;
    browser.click("#lane-walk-in")?;
    browser.wait_page("the keypad", |p| p["screen"] == "phone")?;
    for key in ["1", "2", "3", "4", "5"] {
        browser.click(&format!("#keypad button[data-key=\"{key}\"]"))?;
    }
    browser.click("#phone-ok")?;
    let wrong = browser.wait_page("the phone refused", |p| p["phone_error"].is_string())?;
    assert!(
        wrong["phone_error"]
            .as_str()
            .unwrap()
            .contains("手机号码不正确"),
        "{wrong}"
    );
    browser.click("#keypad button[data-key=\"clear\"]")?;
    for key in "13800138000".chars() {
        browser.click(&format!("#keypad button[data-key=\"{key}\"]"))?;
    }
    // A double tap: two clicks in the same instant.
    browser.script(
        "const b = document.getElementById('phone-ok'); b.click(); b.click(); return null;",
    )?;
    let result = browser.wait_page("the ticket", |p| p["screen"] == "result")?;
    assert_eq!(result["number"], "A001", "{result}");
    let text = result["result"].as_str().unwrap();
    assert!(
        text.contains("您是下一位") && text.contains("请保管好您的号票"),
        "{result}"
    );
    assert!(!result["print_failed"].as_bool().unwrap());
    browser.screenshot(&docs.join("kiosk-ticket-portrait.png"))?;
    let status = rt.block_on(admin.status())?;
    let a_waiting: Vec<_> = status
        .waiting
        .iter()
        .filter(|w| w.ticket.item == item('A'))
        .collect();
    assert_eq!(
        a_waiting.len(),
        1,
        "a double tap issues one ticket: {a_waiting:?}"
    );

    // The slip: initialise, Chinese mode, GB18030 text, the number, QR, cut.
    let slip = printer.wait_jobs(1)?.remove(0);
    let gb = |s: &str| encoding_rs::GB18030.encode(s).0.into_owned();
    assert!(slip.starts_with(&[0x10, 0x04, 0x01]), "DLE EOT first");
    let job = &slip[find(&slip, &escpos::INIT).context("ESC @")?..];
    assert_eq!(&job[2..4], &escpos::CHINESE_ON);
    assert!(find(job, &gb("社保")).is_some() && find(job, &gb("政务服务中心（测试）")).is_some());
    assert!(find(job, b"A001").is_some());
    assert!(find(job, &gb("前面还有 0 人")).is_some());
    let qr = find(job, &[0x1D, 0x28, 0x6B, 13, 0, 0x31, 0x50, 0x30]).context("GS ( k store")?;
    assert_eq!(&job[qr + 8..qr + 18], b"hallq:A001");
    assert!(job.ends_with(&escpos::CUT), "cut last");

    // Priority, by the clear second choice; back to the start first.
    browser.click("#done")?;
    browser.wait_page("the start", |p| p["screen"] == "start")?;
    browser.click("#items .item[data-item=\"B\"]")?;
    browser.wait_page("the lane choice", |p| p["screen"] == "lane")?;
    browser.screenshot(&docs.join("kiosk-priority-portrait.png"))?;
    browser.click("button[data-lane=\"elderly\"]")?;
    browser.wait_page("the keypad", |p| p["screen"] == "phone")?;
    browser.click("#phone-skip")?;
    let priority = browser.wait_page("the priority ticket", |p| p["screen"] == "result")?;
    assert_eq!(priority["number"], "B001", "{priority}");
    assert!(
        priority["result"].as_str().unwrap().contains("优先·老人"),
        "{priority}"
    );

    // Check-in by a USB scanner on the start screen: the code and Enter.
    browser.click("#done")?;
    browser.wait_page("the start", |p| p["screen"] == "start")?;
    browser.type_keys(&format!("{}\u{E007}", booked.code.to_lowercase()))?;
    let checked = browser.wait_page("the appointment ticket", |p| p["screen"] == "result")?;
    assert_eq!(checked["number"], "A002", "{checked}");
    assert!(
        checked["result"].as_str().unwrap().contains("预约"),
        "{checked}"
    );
    // The same code again, typed on the on-screen keyboard: refused in Chinese.
    browser.click("#done")?;
    browser.click("#to-check-in")?;
    for c in booked.code.chars() {
        browser.click(&format!("#keyboard button[data-key=\"{c}\"]"))?;
    }
    browser.click("#code-ok")?;
    let again = browser.wait_page("the refusal", |p| p["screen"] == "refused")?;
    assert!(
        again["refused"]
            .as_str()
            .unwrap()
            .contains("已取消或已签到"),
        "{again}"
    );
    assert!(
        !again["refused"].as_str().unwrap().contains('_'),
        "no code shown: {again}"
    );
    browser.click("#refused-back")?;

    // Landscape, 1920×1080, in English and then large type.
    browser.viewport(1920, 1080)?;
    browser.click("#lang")?;
    browser.wait_page("English", |p| {
        p["items"][2]["text"]
            .as_str()
            .is_some_and(|t| t.contains("No more tickets"))
    })?;
    browser.click("#lang")?;
    browser.wait_page("Chinese", |p| {
        p["items"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("等候"))
    })?;
    browser.screenshot(&docs.join("kiosk-landscape.png"))?;

    // Paper out: the ticket is issued and shown, the visitor told to
    // photograph it, the hall told.
    printer.set(Behaviour::PaperOut);
    browser.click("#items .item[data-item=\"D\"]")?;
    browser.wait_page("the lane choice", |p| p["screen"] == "lane")?;
    browser.click("#lane-walk-in")?;
    browser.wait_page("the keypad", |p| p["screen"] == "phone")?;
    browser.click("#phone-skip")?;
    let unprinted = browser.wait_page("the unprinted ticket", |p| p["screen"] == "result")?;
    assert_eq!(unprinted["number"], "D001", "{unprinted}");
    assert!(unprinted["print_failed"].as_bool().unwrap(), "{unprinted}");
    assert!(
        unprinted["result"]
            .as_str()
            .unwrap()
            .contains("拍下上面的号码"),
        "{unprinted}"
    );
    browser.screenshot(&docs.join("kiosk-print-failed-landscape.png"))?;
    let failures = match rt.block_on(admin.request(&Request::PrintFailures))? {
        Response::PrintFailures(p) => p,
        other => bail!("expected print failures, got {other:?}"),
    };
    assert_eq!(failures.total, 1);
    assert_eq!(failures.recent[0].ticket.to_string(), "D001");
    assert_eq!(failures.recent[0].reason, "paper out");
    assert_eq!(
        printer.slips(),
        3,
        "no slip sent to a printer without paper"
    );

    // The visitor leaves a mobile number on the keypad instead: a wrong
    // number is refused in plain Chinese, the right one is noted and the
    // SMS confirming it goes out to that phone.
    browser.click("#attach-open")?;
    browser.wait_page("the attach keypad", |p| p["attach"]["open"] == true)?;
    for key in "1280013".chars() {
        browser.click(&format!("#attach-keypad button[data-key=\"{key}\"]"))?;
    }
    browser.click("#attach-ok")?;
    let bad = browser.wait_page("a wrong number", |p| p["attach"]["error"].is_string())?;
    assert!(
        bad["attach"]["error"]
            .as_str()
            .unwrap()
            .contains("手机号码不正确"),
        "{bad}"
    );
    browser.click("#attach-keypad button[data-key=\"clear\"]")?;
    for key in "1390013".chars() {
        browser.click(&format!("#attach-keypad button[data-key=\"{key}\"]"))?;
    }
    browser.screenshot(&docs.join("kiosk-print-failed-phone-landscape.png"))?;
    for key in "9000".chars() {
        browser.click(&format!("#attach-keypad button[data-key=\"{key}\"]"))?;
    }
    browser.click("#attach-ok")?;
    let noted = browser.wait_page("the number noted", |p| p["attach"]["done"].is_string())?;
    assert_eq!(noted["attach"]["open"], false, "{noted}");
    assert!(
        noted["attach"]["done"]
            .as_str()
            .unwrap()
            .contains("139****9000"),
        "masked on screen: {noted}"
    );
    assert_eq!(noted["number"], "D001", "the number stays large: {noted}");
    let (pending, _) = rt.block_on(pending_notifications(&daemon, &admin));
    let sms: Vec<_> = pending
        .iter()
        .filter(|n| n.ticket.map(|t| t.to_string()).as_deref() == Some("D001"))
        .collect();
    assert_eq!(sms.len(), 1, "{pending:?}");
    assert_eq!(sms[0].phone, "13900139000");
    assert!(
        sms[0].text.contains("D001") && sms[0].text.contains("已登记"),
        "{sms:?}"
    );
    // A second number for the same ticket is refused, and says so.
    let twice = page.post(
        "/attach-phone",
        &json!({ "ticket": "D001", "phone": "13600136000", "key": "twice" }),
    )?;
    assert_eq!(twice["ok"], false);
    assert_eq!(twice["code"], "phone_already_given");
    printer.set(Behaviour::Prints);
    browser.click("#done")?;

    // Closing time: only check-in is offered.
    rt.block_on(admin.request(&Request::CloseIssuing))?;
    let closed = browser.wait_page("the hall closed", |p| p["closed"].is_string())?;
    assert!(
        closed["closed"]
            .as_str()
            .unwrap()
            .contains("今日已停止取号"),
        "{closed}"
    );
    assert!(
        closed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["disabled"] == true),
        "{closed}"
    );
    assert!(closed["check_in_enabled"].as_bool().unwrap());
    rt.block_on(admin.request(&Request::OpenIssuing))?;
    browser.wait_page("issuing again", |p| p["closed"].is_null())?;

    // hallqd gone: the page says so, and a tap issues nothing.
    daemon.kill();
    let lost = browser.wait_page("the lost link", |p| p["lost"] == true)?;
    assert!(
        lost["lost_text"].as_str().unwrap().contains("连接已中断"),
        "{lost}"
    );
    let refused = page.post(
        "/issue",
        &json!({ "item": "A", "lane": "walk_in", "key": "after-loss" }),
    )?;
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["code"], "connection_lost");
    assert_eq!(printer.slips(), 3, "nothing printed after the loss");
    Ok(())
}

#[test]
fn the_browser_prints_an_80mm_slip_and_large_type_grows() -> anyhow::Result<()> {
    if !browser_available("kiosk")? {
        return Ok(());
    }
    let rt = tokio::runtime::Runtime::new()?;
    let hall = TestHall::new()?;
    let daemon = hall.start()?;
    let admin = rt.block_on(daemon.connect(ADMIN));
    rt.block_on(open_windows(&admin, &[1]));
    let page = kiosk_page(&hall, &daemon, "browser")?;
    let scratch = tempfile::tempdir()?;
    let browser = WebDriver::start(scratch.path(), 1080, 1920, PROBE)?;
    browser.viewport(1080, 1920)?;
    browser.open(&page.url("/?large=1"))?;
    browser.wait_page("the items", |p| p["items"][0].is_object())?;
    let size = |b: &WebDriver| -> anyhow::Result<f64> {
        let v = b.script("return parseFloat(getComputedStyle(document.body).fontSize);")?;
        v.as_f64().context("a font size")
    };
    let large = size(&browser)?;
    browser.click("#large")?;
    let normal = size(&browser)?;
    assert!(
        large > normal * 1.2,
        "large type {large}px against {normal}px"
    );
    // window.print() is a no-op in headless Chromium; the slip it would
    // print is laid out by @media print, emulated here.
    browser
        .script("window.print = () => { document.body.dataset.printed = '1'; }; return null;")?;
    browser.click("#items .item[data-item=\"A\"]")?;
    browser.click("#lane-walk-in")?;
    browser.click("#phone-skip")?;
    let result = browser.wait_page("the ticket", |p| p["screen"] == "result")?;
    assert_eq!(result["number"], "A001");
    assert_eq!(
        browser.script("return document.body.dataset.printed || null;")?,
        "1"
    );
    browser.call(
        "POST",
        "/goog/cdp/execute",
        Some(&json!({ "cmd": "Emulation.setEmulatedMedia", "params": { "media": "print" } })),
    )?;
    let slip = browser.script(
        "const s = document.getElementById('slip'); \
         return { shown: getComputedStyle(s).display !== 'none', text: s.innerText, \
                  width: s.getBoundingClientRect().width, \
                  main: getComputedStyle(document.querySelector('main')).display };",
    )?;
    assert_eq!(slip["shown"], true, "{slip}");
    assert_eq!(slip["main"], "none", "only the slip prints: {slip}");
    let text = slip["text"].as_str().unwrap_or("");
    assert!(
        text.contains("A001") && text.contains("请保管好您的号票"),
        "{slip}"
    );
    // 72 mm printable at 96 px per inch: about 272 px.
    let width = slip["width"].as_f64().unwrap_or(0.0);
    assert!((260.0..=285.0).contains(&width), "72 mm wide: {slip}");
    Ok(())
}

#[test]
fn a_failed_print_leaves_the_ticket_on_screen_and_tells_the_hall() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let hall = TestHall::new()?;
    let daemon = hall.start()?;
    let admin = rt.block_on(daemon.connect(ADMIN));
    rt.block_on(open_windows(&admin, &[1]));
    // A printer port nobody listens on: the connection is refused.
    let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let page = kiosk_page(&hall, &daemon, &format!("tcp:{closed}"))?;
    wait_connected(&page)?;
    let answer = page.post(
        "/issue",
        &json!({ "item": "A", "lane": "walk_in", "key": "k1" }),
    )?;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["ticket"], "A001");
    assert_eq!(answer["print_failed"], true, "{answer}");
    // The same key again (a repeated tap): the same ticket, not a second.
    let again = page.post(
        "/issue",
        &json!({ "item": "A", "lane": "walk_in", "key": "k1" }),
    )?;
    assert_eq!(again["ticket"], "A001");
    let status = rt.block_on(admin.status())?;
    assert_eq!(status.waiting.len(), 1, "the ticket is in line, once");
    let failures = match rt.block_on(admin.request(&Request::PrintFailures))? {
        Response::PrintFailures(p) => p,
        other => bail!("expected print failures, got {other:?}"),
    };
    assert_eq!(failures.total, 1);
    assert_eq!(failures.recent[0].ticket.to_string(), "A001");
    assert!(
        failures.recent[0].reason.to_lowercase().contains("refused"),
        "{failures:?}"
    );
    // `hallq status` shows it to the hall's staff, in Chinese by default
    // and in English with --lang en.
    let status_text = |lang: Option<&str>| -> anyhow::Result<String> {
        let mut command = Command::new(hallq_path());
        command
            .args(["--server", &daemon.addr().to_string(), "--cert"])
            .arg(hall.dir().join("state").join("tls").join("cert.pem"))
            .args(["--token", ADMIN, "--hall", "main"])
            .env_remove("HALLQ_LANG");
        if let Some(lang) = lang {
            command.args(["--lang", lang]);
        }
        let out = command.arg("status").output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        Ok(text)
    };
    let text = status_text(None)?;
    assert!(
        text.contains("取号机打印故障（main）：hallqd 启动以来 1 次") && text.contains("A001"),
        "{text}"
    );
    let text = status_text(Some("en"))?;
    assert!(
        text.contains("kiosk print failures (main): 1") && text.contains("A001"),
        "{text}"
    );
    Ok(())
}

#[test]
fn outside_opening_hours_the_kiosk_says_when_and_issues_nothing() -> anyhow::Result<()> {
    let hall = TestHall::new()?;
    let mut config = std::fs::read_to_string(hall.config())?;
    config.push_str("\n[hall.hours]\n");
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        config.push_str(&format!("{day} = \"09:00-17:00\"\n"));
    }
    std::fs::write(hall.config(), config)?;
    // Tomorrow 20:00 in the hall (UTC+8): closed, opens at 09:00 the day after.
    const DAY_MS: u64 = 86_400_000;
    const LOCAL_MS: u64 = 8 * 3_600_000;
    let now = real_now();
    let target = ((now.0 + LOCAL_MS) / DAY_MS + 1) * DAY_MS + 20 * 3_600_000 - LOCAL_MS;
    let daemon = hall.start_shifted((target as i64 - now.0 as i64) / 1000)?;
    let rt = tokio::runtime::Runtime::new()?;
    let admin = rt.block_on(daemon.connect(ADMIN));
    rt.block_on(open_windows(&admin, &[1]));
    let page = kiosk_page(&hall, &daemon, "none")?;
    wait_connected(&page)?;
    let view = page.get("/hall")?.json()?;
    assert_eq!(view["view"]["open_now"], false, "{view}");
    assert_eq!(view["view"]["opens"]["minute"], 540, "{view}");
    let today = view["view"]["day"].as_u64().context("a business day")?;
    assert_ne!(
        view["view"]["opens"]["day"].as_u64(),
        Some(today),
        "opens the next day: {view}"
    );
    let refused = page.post(
        "/issue",
        &json!({ "item": "A", "lane": "walk_in", "key": "late" }),
    )?;
    assert_eq!(refused["code"], "hall_closed", "{refused}");
    assert!(
        rt.block_on(admin.status())?.waiting.is_empty(),
        "nothing issued"
    );
    Ok(())
}

#[test]
fn printers_answer_status_and_vanish() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let job = b"\x1b@hello\x1dVB\x00".repeat(20_000);
    // Paper out: DLE EOT 4 answers 0x72; no job is sent.
    let out = FakePrinter::start(Behaviour::PaperOut)?;
    let err = rt
        .block_on(Printer::Tcp(out.addr.to_string()).print(&job))
        .unwrap_err();
    assert!(matches!(err, PrintError::Status("paper out")), "{err}");
    thread::sleep(Duration::from_millis(200));
    assert!(
        out.jobs().iter().all(|j| j.len() <= 6),
        "only the status queries: {:?}",
        out.jobs()
    );
    // Vanishes after the first kilobyte: a reset, not a printed slip.
    let gone = FakePrinter::start(Behaviour::Vanishes)?;
    let err = rt.block_on(Printer::Tcp(gone.addr.to_string()).print(&job));
    assert!(err.is_err(), "a vanished printer is a failure");
    // Silent on DLE EOT (many cheap printers): printed anyway.
    let silent = FakePrinter::start(Behaviour::Silent)?;
    rt.block_on(Printer::Tcp(silent.addr.to_string()).print(b"\x1b@slip"))?;
    let got = silent.wait_jobs(1)?;
    assert!(got[0].ends_with(b"\x1b@slip"));
    // A device file gets exactly the job.
    let dir = tempfile::tempdir()?;
    let lp = dir.path().join("lp0");
    std::fs::write(&lp, b"")?;
    rt.block_on(Printer::Device(lp.clone()).print(b"\x1b@slip"))?;
    assert_eq!(std::fs::read(&lp)?, b"\x1b@slip");
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// How a fake printer behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Behaviour {
    /// Answers DLE EOT "ready" and takes the job.
    Prints,
    /// Answers DLE EOT 4 with "paper end".
    PaperOut,
    /// Answers DLE EOT, then drops the connection after 1 KiB.
    Vanishes,
    /// Never answers DLE EOT.
    Silent,
}

/// An ESC/POS printer on loopback: one thread, every connection's bytes
/// captured.
struct FakePrinter {
    addr: SocketAddr,
    jobs: Arc<Mutex<Vec<Vec<u8>>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl FakePrinter {
    fn start(behaviour: Behaviour) -> anyhow::Result<FakePrinter> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let jobs = Arc::new(Mutex::new(Vec::new()));
        let captured = jobs.clone();
        let behaviour = Arc::new(Mutex::new(behaviour));
        let now = behaviour.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let behaviour = *now.lock().unwrap();
                let _ = stream.set_read_timeout(Some(STEP_TIMEOUT));
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let before = got.len();
                    got.extend_from_slice(&buf[..n]);
                    // Answer each DLE EOT n that arrived.
                    for i in before.saturating_sub(2)..got.len().saturating_sub(2) {
                        if got[i] == 0x10 && got[i + 1] == 0x04 {
                            let answer = match (behaviour, got[i + 2]) {
                                (Behaviour::Silent, _) => None,
                                (Behaviour::PaperOut, 4) => Some(0x72),
                                (_, 4) => Some(0x12),
                                (_, _) => Some(0x16),
                            };
                            if let Some(a) = answer {
                                let _ = stream.write_all(&[a]);
                            }
                        }
                    }
                    if behaviour == Behaviour::Vanishes && got.len() > 1024 {
                        break;
                    }
                }
                captured.lock().unwrap().push(got);
                // Dropped with bytes unread: the kernel resets the connection.
            }
        });
        Ok(FakePrinter {
            addr,
            jobs,
            behaviour,
        })
    }

    /// How the printer behaves from its next connection on.
    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// The connections that carried a slip (not only status queries).
    fn slips(&self) -> usize {
        self.jobs()
            .iter()
            .filter(|j| find(j, &escpos::INIT).is_some())
            .count()
    }

    fn jobs(&self) -> Vec<Vec<u8>> {
        self.jobs.lock().unwrap().clone()
    }

    fn wait_jobs(&self, n: usize) -> anyhow::Result<Vec<Vec<u8>>> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let jobs = self.jobs();
            if jobs.len() >= n {
                return Ok(jobs);
            }
            if Instant::now() >= deadline {
                bail!("the printer got {} jobs, not {n}", jobs.len());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `hallq kiosk --serve 127.0.0.1:0 --printer PRINTER` following `daemon`.
fn kiosk_page(hall: &TestHall, daemon: &Daemon, printer: &str) -> anyhow::Result<Screen> {
    Screen::kiosk(hall, daemon, &["--printer", printer, "--idle-secs", "60"])
}

/// Waits until the kiosk has the hall from hallqd.
fn wait_connected(page: &Screen) -> anyhow::Result<()> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let view = page.get("/hall")?.json()?;
        if view["connected"] == true {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("the kiosk did not reach hallqd: {view}");
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// `target/kiosk-screens/`, where the screenshots go; copy the good ones
/// to docs/ (the README shows docs/kiosk-*.png).
fn docs_dir() -> PathBuf {
    let dir = hallqd_path()
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("kiosk-screens");
    let _ = std::fs::create_dir_all(&dir);
    dir
}
