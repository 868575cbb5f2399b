//! The staffing simulator end to end (issue 22): `hallq simulate` asked of
//! a running hallqd over QUIC answers from the hall's journal, `hallqd
//! simulate` offline from the same state directory gives the very same
//! report for the same seed, refusals carry their codes, and the HTML
//! report renders in headless Chromium with its charts.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use hallq_core::staffing::generate::Script;
use hallq_core::staffing::{search, RecordedDay, ServicePool, Staffing};
use hallq_proto::staffing::{
    ArrivalSource, MinuteSpan, PlannedWindow, SimulationAsk, SimulationReport, StaffingPlan,
};
use hallq_proto::types::{Lane, WindowNo};
use hallq_proto::wire::{Request, Response, WindowAction};
use hallq_tests::browser::{browser_available, hallq_path, WebDriver};
use hallq_tests::{expect_refused, hallqd_path, item, open_windows, TestHall, ADMIN, KIOSK};
use serde_json::Value;

fn ask(day: u32) -> SimulationAsk {
    SimulationAsk {
        day,
        plan: None,
        seed: 7,
        target_secs: None,
        search: false,
        forecast_weeks: None,
    }
}

#[tokio::test]
async fn hallqd_answers_from_its_journal_online_and_offline_alike() {
    let hall = TestHall::new().unwrap();
    let mut daemon = hall.start().unwrap();
    let admin = daemon.connect(ADMIN).await;
    open_windows(&admin, &[1, 2]).await;
    for c in ['A', 'A', 'B', 'A', 'B', 'A'] {
        admin.issue(item(c), Lane::WalkIn, None).await.unwrap();
    }
    for round in 0..3 {
        for w in [1, 2] {
            admin
                .window(Some(WindowNo(w)), WindowAction::Call { ticket: None })
                .await
                .unwrap_or_else(|e| panic!("round {round} window {w}: {e}"));
            admin
                .window(Some(WindowNo(w)), WindowAction::Finish { rating: None })
                .await
                .unwrap();
        }
    }
    let day = match admin
        .request(&Request::Stats {
            day: None,
            by: None,
        })
        .await
        .unwrap()
    {
        Response::Stats(s) => s.day,
        other => panic!("{other:?}"),
    };
    let report = match admin
        .request(&Request::Simulate(Box::new(ask(day))))
        .await
        .unwrap()
    {
        Response::Simulation(r) => *r,
        other => panic!("{other:?}"),
    };
    assert_eq!(report.source, ArrivalSource::Recorded);
    assert_eq!(report.tickets, 6);
    assert_eq!(
        report.target_secs,
        30 * 60,
        "the default wait_target_minutes"
    );
    assert!(!report.planned);
    let a = report
        .waits
        .iter()
        .find(|w| w.item == item('A') && w.lane.is_none())
        .unwrap();
    assert_eq!(a.tickets, 4);
    assert!(
        a.recorded.is_some(),
        "the day's own waits beside the simulated ones"
    );
    let used: Vec<u16> = report.windows.iter().map(|w| w.window.0).collect();
    assert_eq!(used, vec![1, 2]);

    // Only an admin asks; a plan that does not fit the hall is refused.
    let kiosk = daemon.connect(KIOSK).await;
    expect_refused(
        kiosk.request(&Request::Simulate(Box::new(ask(day)))).await,
        "forbidden",
    );
    let mut bad = ask(day);
    bad.plan = Some(StaffingPlan {
        windows: vec![PlannedWindow {
            number: WindowNo(99),
            items: None,
            universal: None,
            open: vec![MinuteSpan::parse("09:00-12:00").unwrap()],
            lunch_duty: false,
            post: None,
        }],
    });
    let message = expect_refused(
        admin.request(&Request::Simulate(Box::new(bad))).await,
        "plan_invalid",
    );
    assert!(message.contains("99"), "{message}");
    expect_refused(
        admin
            .request(&Request::Simulate(Box::new(ask(day - 1))))
            .await,
        "no_records",
    );
    // A week later is forecast from this day.
    let next_week = hallq_core::appointment::day_of(hallq_core::appointment::days_of(day) + 7);
    match admin
        .request(&Request::Forecast {
            day: next_week,
            weeks: 2,
        })
        .await
        .unwrap()
    {
        Response::Forecast(f) => {
            assert_eq!(f.days_used, vec![day]);
            assert_eq!(f.days_missing.len(), 1);
            assert!((f.total() - 6.0).abs() < 1e-3, "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    daemon.stop().unwrap();

    // Offline, from the state directory the daemon left: the same report.
    let out = Command::new(hallqd_path())
        .args([
            OsStr::new("simulate"),
            OsStr::new("--config"),
            hall.config().as_os_str(),
        ])
        .args([
            "--date",
            &format!("{}-{:02}-{:02}", day / 10_000, day / 100 % 100, day % 100),
        ])
        .args(["--seed", "7"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offline: SimulationReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(offline, report);
}

/// A scripted day's report with a rota, as `hallqd simulate --plan` writes it.
fn scripted_report(dir: &Path) -> PathBuf {
    const DAY: u32 = 20261123;
    let script = Script::demo(DAY, 1.2, 3);
    let day = RecordedDay::from_events(&script.events());
    let pool = ServicePool::new(&script.spec, &day.services);
    let base = Staffing::recorded(&script.spec, &day);
    let found = search::search(DAY, &day.arrivals, &pool, &base, 1, 1200).unwrap();
    let mut report =
        hallq_core::staffing::report(DAY, &day.arrivals, &found.staffing, &found.outcome, 1, 1200);
    report.plan = Some(found.advice);
    report.planned = true;
    let file = dir.join("report.json");
    std::fs::write(&file, serde_json::to_vec(&report).unwrap()).unwrap();
    file
}

const PROBE: &str = "return {
    title: document.title,
    charts: [...document.querySelectorAll('.chart svg')].map(s => {
        const r = s.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; }),
    bars: document.querySelectorAll('.chart svg rect').length,
    rota: document.querySelectorAll('h2 + p + table tr').length,
    text: document.body.innerText.slice(0, 4000),
    external: [...document.querySelectorAll('script[src], link[href], img[src]')].length,
};";

#[test]
fn the_html_report_renders_in_chromium_with_its_charts() -> anyhow::Result<()> {
    if !browser_available("staffing report")? {
        return Ok(());
    }
    let scratch = tempfile::tempdir()?;
    let json = scripted_report(scratch.path());
    let shots = hallqd_path()
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf);
    for (lang, title) in [
        ("zh", "排班模拟报告 2026-11-23"),
        ("en", "Staffing simulation 2026-11-23"),
    ] {
        let html = scratch.path().join(format!("report-{lang}.html"));
        let out = Command::new(hallq_path())
            .args([
                OsStr::new("simulate"),
                OsStr::new("--report"),
                json.as_os_str(),
            ])
            .args([
                OsStr::new("--html"),
                html.as_os_str(),
                OsStr::new("--lang"),
                OsStr::new(lang),
            ])
            .output()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let table = String::from_utf8(out.stdout)?;
        assert!(
            table.contains(if lang == "zh" {
                "排班建议"
            } else {
                "Rota for"
            }),
            "{table}"
        );
        let browser = WebDriver::start(scratch.path(), 1280, 2000, PROBE)?;
        browser.open(&format!("file://{}", html.display()))?;
        let page = browser.wait_page("the report", |p| p["title"] == title)?;
        let charts = page["charts"].as_array().cloned().unwrap_or_default();
        assert_eq!(charts.len(), 4, "{page}");
        for c in &charts {
            assert!(
                c[0].as_i64() > Some(300) && c[1].as_i64() > Some(100),
                "{page}"
            );
        }
        assert!(page["bars"].as_i64() > Some(20), "bars drawn: {page}");
        assert!(page["rota"].as_i64() > Some(2), "the rota's rows: {page}");
        assert_eq!(page["external"], Value::from(0), "self-contained: {page}");
        let text = page["text"].as_str().unwrap_or_default();
        assert!(
            text.contains(if lang == "zh" {
                "最长排队"
            } else {
                "longest queue"
            }),
            "{text}"
        );
        browser.screenshot(&shots.join(format!("staffing-report-{lang}.png")))?;
    }
    Ok(())
}
