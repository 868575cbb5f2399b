//! A journal written by an older build replays (issue 15: "a journal written
//! by an older build must replay"): the fixture in
//! `tests/fixtures/journal-before-issue-15/` was written by hallqd before the
//! core and the protocol moved into crates of their own; today's hallqd must
//! rebuild exactly the hall that build showed, with the same notifications
//! pending, and go on numbering where it left off.

use std::path::PathBuf;

use hallq_proto::types::Lane;
use hallq_proto::wire::{Request, Response};
use hallq_tests::{item, pending_notifications, TestHall, ADMIN};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/journal-before-issue-15")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture file")
}

#[tokio::test]
async fn a_journal_from_before_the_crates_split_replays_identically() {
    let hall = TestHall::new().expect("test hall");
    std::fs::create_dir_all(hall.journal_dir()).unwrap();
    std::fs::copy(
        fixture("journal-2026-12-02.log"),
        hall.journal_dir().join("journal-2026-12-02.log"),
    )
    .unwrap();
    // The daemon's clock runs from just after the recording, so it is the
    // same business day and nothing of it has expired.
    let recorded: i64 = read("recorded_at").trim().parse().unwrap();
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let daemon = hall
        .start_shifted(recorded + 30 - now)
        .expect("hallqd starts");

    let admin = daemon.connect(ADMIN).await;
    let status = admin.status().await.expect("status");
    assert_eq!(format!("{status:#?}"), read("status.txt"));

    let (pending, _marker) = pending_notifications(&daemon, &admin).await;
    let ids: Vec<String> = pending.iter().map(|n| n.id.clone()).collect();
    let expected: Vec<String> = read("pending.txt").lines().map(str::to_owned).collect();
    assert_eq!(ids, expected, "pending notifications");

    // The booking made then is still there, under its code.
    let code = read("booking");
    match admin
        .request(&Request::Bookings {
            day: Some(20261203),
        })
        .await
    {
        Ok(Response::Bookings(day)) => assert!(
            day.bookings.iter().any(|b| b.code == code.trim()),
            "{day:?}"
        ),
        other => panic!("bookings: {other:?}"),
    }

    // Numbering goes on: issuing is closed, so the admin issues an
    // appointment-lane ticket; it must not reuse a number of the morning.
    let issued = admin
        .issue(item('A'), Lane::Appointment, None)
        .await
        .expect("issue after replay");
    assert!(
        !read("status.txt").contains(&format!("{}", issued.ticket)),
        "{} was issued before the restart",
        issued.ticket
    );
}
