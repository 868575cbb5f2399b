//! Exactly once across reconnects and restarts (SPEC §6, issue 20 item 2).
//!
//! Every change a `FollowingClient` sends goes with its change id
//! (`Request::Once`, ALPN `hallq/1.1`). When the daemon dies with changes
//! in flight, the client notices within a second of silence, reconnects
//! and sends them again with the same ids; the restarted daemon, which
//! replayed the ids from its journal, answers a change it had made with
//! the first answer and makes one it had not.
//!
//! - `kill_9_with_changes_in_flight_issues_each_ticket_once`: kiosks
//!   issue without pause while the daemon is killed with SIGKILL and
//!   restarted, round after round. Every issue must succeed (none reports
//!   `connection_lost`), and the hall must hold exactly the tickets that
//!   were acknowledged: one more would be a change carried out twice, one
//!   less an acknowledged change lost.
//! - `a_resend_after_a_restart_gets_the_original_ticket`: the same id
//!   sent before and after a restart gets the same ticket and changes
//!   nothing; the same id with another request is refused.
//!
//! The daemon is restarted on the port the kernel gave its first start
//! (port 0), so that the clients find it where it was.

use std::collections::BTreeSet;
use std::fs;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hallq_client::follow::{FollowingClient, Hallqd};
use hallq_proto::types::Lane;
use hallq_proto::wire::{ChangeId, Request, Response};
use hallq_tests::{every_waiting, item, within, Daemon, TestHall, ADMIN, KIOSK};

/// Kill-and-restart rounds.
const ROUNDS: usize = 20;
/// Kiosks issuing at once, each with its own connection and change ids.
const KIOSKS: usize = 4;
/// Tickets acknowledged between two kills (so that every kill finds
/// changes in flight: the kiosks never pause).
const ACKS_PER_ROUND: usize = 12;
/// How long a whole round may take (start, issue, kill) at most.
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

/// A hall whose daemon listens on a fixed port from its second start on:
/// the one its first start got from the kernel.
fn pinned_port(hall: &TestHall, daemon: &Daemon) {
    let config = fs::read_to_string(hall.config()).expect("config");
    let pinned = config.replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"{}\"", daemon.addr()),
        1,
    );
    assert_ne!(config, pinned, "the test config listens on port 0");
    fs::write(hall.config(), pinned).expect("config written");
}

/// What the kiosks saw.
#[derive(Default)]
struct Seen {
    acked: std::sync::Mutex<Vec<(String, u64)>>,
    failures: std::sync::Mutex<Vec<String>>,
    count: AtomicUsize,
    /// The slowest issue, in ms (informational: across a kill it is the
    /// time to notice the death, reconnect and resend).
    slowest_ms: AtomicUsize,
}

/// One kiosk: issues A and B tickets until told to stop.
async fn kiosk(client: FollowingClient, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let letter = if n % 2 == 0 { 'A' } else { 'B' };
        let started = std::time::Instant::now();
        let issued = client.issue(item(letter), Lane::WalkIn, None).await;
        seen.slowest_ms
            .fetch_max(started.elapsed().as_millis() as usize, Ordering::Relaxed);
        match issued {
            Ok(ticket) => {
                seen.acked
                    .lock()
                    .unwrap()
                    .push((ticket.ticket.to_string(), ticket.issued_at.0));
                seen.count.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                seen.failures
                    .lock()
                    .unwrap()
                    .push(format!("{} ({e})", e.code()));
                // Not expected at all; do not spin on a broken daemon.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_with_changes_in_flight_issues_each_ticket_once() {
    let hall = TestHall::new().expect("test hall");
    let first = hall.start().expect("hallqd starts");
    pinned_port(&hall, &first);
    let addr = first.addr();
    let cert = first.cert();
    drop(first);
    let mut daemon = hall.start().expect("hallqd starts on its port");

    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let kiosks: Vec<_> = (0..KIOSKS)
        .map(|_| {
            let client = FollowingClient::new(Hallqd::single(addr, cert.clone(), KIOSK, None));
            tokio::spawn(kiosk(client, seen.clone(), stop.clone()))
        })
        .collect();

    let mut resent = 0;
    for round in 0..ROUNDS {
        let target = seen.count.load(Ordering::Relaxed) + ACKS_PER_ROUND;
        within(ROUND_TIMEOUT, async {
            while seen.count.load(Ordering::Relaxed) < target {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        // Mid-load: the kiosks have their next changes in flight now.
        daemon.kill();
        resent += daemon
            .stderr()
            .matches("resent change answered as first")
            .count();
        daemon = hall
            .start()
            .unwrap_or_else(|e| panic!("round {round}: hallqd restarts: {e:#}"));
    }
    // The last round's resends land on the last daemon; then stop.
    let target = seen.count.load(Ordering::Relaxed) + ACKS_PER_ROUND;
    within(ROUND_TIMEOUT, async {
        while seen.count.load(Ordering::Relaxed) < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for k in kiosks {
        within(ROUND_TIMEOUT, k).await.expect("kiosk task");
    }
    resent += daemon
        .stderr()
        .matches("resent change answered as first")
        .count();

    let failures = seen.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "every change must be acknowledged across the kills; failures: {failures:?}"
    );
    let acked = seen.acked.lock().unwrap().clone();
    let numbers: BTreeSet<&str> = acked.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        numbers.len(),
        acked.len(),
        "a ticket number acknowledged twice"
    );

    // The hall holds exactly what was acknowledged: nobody calls, so every
    // ticket ever issued is waiting.
    let admin = daemon.connect(ADMIN).await;
    let waiting: BTreeSet<String> = within(
        Duration::from_secs(10),
        every_waiting(|r| {
            let admin = &admin;
            async move { admin.request(&r).await }
        }),
    )
    .await
    .expect("the waiting list")
    .into_iter()
    .collect();
    let acked_set: BTreeSet<String> = numbers.iter().map(|s| s.to_string()).collect();
    let extra: Vec<_> = waiting.difference(&acked_set).collect();
    let lost: Vec<_> = acked_set.difference(&waiting).collect();
    assert!(
        extra.is_empty() && lost.is_empty(),
        "issued but never acknowledged (a change carried out twice): {extra:?}; \
         acknowledged but gone: {lost:?}"
    );
    assert!(acked.len() >= ROUNDS * ACKS_PER_ROUND);
    eprintln!(
        "{} tickets over {ROUNDS} kills, each once; {resent} resends answered from the journal; \
         slowest issue (across a kill and restart) {} ms",
        acked.len(),
        seen.slowest_ms.load(Ordering::Relaxed)
    );
    admin.close().await;
    daemon.stop().expect("hallqd stops");
}

#[tokio::test]
async fn a_resend_after_a_restart_gets_the_original_ticket() {
    let hall = TestHall::new().expect("test hall");
    let mut daemon = hall.start().expect("hallqd starts");
    let kiosk = daemon.connect(KIOSK).await;
    assert!(
        kiosk.takes_change_ids(),
        "hallqd chose hallq/2 (or hallq/1.1)"
    );
    let id = ChangeId {
        client: 0x5eed_0000_0000_0000_0000_0000_0000_0001,
        seq: 1,
    };
    let issue = |letter| Request::Once {
        id,
        request: Box::new(Request::Issue {
            item: item(letter),
            lane: Lane::WalkIn,
            phone: None,
        }),
    };
    let Response::Issued(first) = kiosk.request(&issue('A')).await.expect("issued") else {
        panic!("not a ticket")
    };
    // Sent again on the same connection: the same ticket, nothing new.
    let Response::Issued(again) = kiosk.request(&issue('A')).await.expect("answered") else {
        panic!("not a ticket")
    };
    assert_eq!(again, first);
    // An old-style request (no id) still works beside it.
    let plain = kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("issued without an id");
    assert_ne!(plain.ticket, first.ticket);
    kiosk.close().await;

    daemon.kill();
    let daemon = hall.start().expect("hallqd restarts");
    let kiosk = daemon.connect(KIOSK).await;
    let Response::Issued(after) = kiosk.request(&issue('A')).await.expect("answered") else {
        panic!("not a ticket")
    };
    assert_eq!(after, first, "the original ticket, from the journal");
    // Another request under the same id is refused, and changes nothing.
    let reused = kiosk.request(&issue('B')).await;
    hallq_tests::expect_refused(reused, "change_id_reused");
    // A Once inside a Once is refused.
    let nested = Request::Once {
        id: ChangeId { seq: 2, ..id },
        request: Box::new(issue('A')),
    };
    hallq_tests::expect_refused(kiosk.request(&nested).await, "bad_request");
    let admin = daemon.connect(ADMIN).await;
    let status = admin.status().await.expect("status");
    let waiting: Vec<String> = status
        .waiting
        .iter()
        .map(|w| w.ticket.to_string())
        .collect();
    assert_eq!(waiting, ["A001", "A002"], "two tickets, each once");
    admin.close().await;
    kiosk.close().await;
}
