//! Cluster mode (`[cluster]`): a real 3-member etcd cluster on 127.0.0.1
//! and several `hallqd` nodes sharing hall `main`.
//!
//! - the owner is SIGKILLed under load: another node serves the hall within
//!   a few seconds, every acknowledged ticket is there, no number is
//!   reused, the kiosks carry on;
//! - the etcd leader is SIGKILLed under load: requests stall for the
//!   election at most, nothing is lost;
//! - the owner is SIGSTOPped until its lease expires, another node takes
//!   over, the old owner is resumed: it refuses to serve (two nodes never
//!   serve one hall);
//! - etcd's space quota runs out: issuing is refused with a clear error,
//!   nothing acknowledged is lost, and it resumes once etcd has room;
//! - a display and the SMS gateway's outbox follow the hall to its new
//!   owner: a fresh snapshot with every ticket, the undelivered
//!   notifications again under the same ids, the delivered one not.
//!
//! The tests run one at a time (each starts its own etcd and nodes): on a
//! two-core machine, two clusters at once would make lease timing the
//! thing under test.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hallq_client::client::ClientError;
use hallq_client::follow::FollowingClient;
use hallq_proto::types::{Lane, TicketNo};
use hallq_proto::wire::{DisplayUpdate, Notification};
use hallq_tests::cluster::{Etcd, Nodes, LEASE_TTL_SECS};
use hallq_tests::{
    every_waiting, item, waiting, within, ADMIN, DISPLAY, KIOSK, NOTIFIER, STEP_TIMEOUT,
};

/// One cluster at a time (an async lock: each test has its own runtime).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a hall may take to get its first owner.
const SETTLE: Duration = Duration::from_secs(20);

/// What the kiosks saw.
#[derive(Debug, Default)]
struct Seen {
    /// Acknowledged tickets, with when the answer came.
    acked: Vec<(TicketNo, Instant)>,
    /// Each kiosk's last acknowledged ticket: when its answer came.
    last_ack: HashMap<usize, Instant>,
    /// Refusals and failures, by code.
    errors: Vec<String>,
    /// The slowest answer.
    slowest: Duration,
}

/// Kiosks issuing tickets through clients that follow the hall, until
/// `stop`.
fn start_kiosks(
    nodes: &Nodes,
    kiosks: usize,
    stop: &Arc<AtomicBool>,
    seen: &Arc<Mutex<Seen>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..kiosks)
        .map(|k| {
            let client = nodes.client(KIOSK);
            let stop = stop.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let letters = ['A', 'B', 'D'];
                let mut i = k;
                while !stop.load(Ordering::Acquire) {
                    let started = Instant::now();
                    let result = client
                        .issue(item(letters[i % letters.len()]), Lane::WalkIn, None)
                        .await;
                    i += 1;
                    {
                        let mut s = seen.lock().unwrap();
                        s.slowest = s.slowest.max(started.elapsed());
                        match result {
                            Ok(t) => {
                                let now = Instant::now();
                                s.acked.push((t.ticket, now));
                                s.last_ack.insert(k, now);
                            }
                            Err(e) => s.errors.push(e.code().to_string()),
                        }
                    }
                    // About 60 requests/s per kiosk, under the default
                    // per-connection rate limit.
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
                client.close().await;
            })
        })
        .collect()
}

/// Every acknowledged ticket is waiting in the hall as its owner sees it
/// now, and no number was handed out twice.
async fn assert_all_acked_present(nodes: &Nodes, seen: &Seen) {
    let tickets: Vec<String> = seen.acked.iter().map(|(t, _)| t.to_string()).collect();
    let unique: HashSet<&String> = tickets.iter().collect();
    assert_eq!(
        unique.len(),
        tickets.len(),
        "a ticket number was acknowledged twice"
    );
    let admin = nodes.client(ADMIN);
    let present = every_waiting(|r| {
        let admin = &admin;
        async move { admin.request(&r).await }
    })
    .await
    .expect("the waiting list from the owner");
    let missing: Vec<&String> = tickets.iter().filter(|t| !present.contains(*t)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    admin.close().await;
}

/// The first ticket any running node issues, asking each in turn (a
/// fresh connection each time: a node that does not serve the hall turns
/// the kiosk away at its hello).
async fn first_ticket_from_survivors(nodes: &Nodes, give_up: Duration) -> Option<TicketNo> {
    let deadline = Instant::now() + give_up;
    while Instant::now() < deadline {
        for i in 0..3 {
            let Some(node) = nodes.node(i) else { continue };
            if let Ok(kiosk) = node.client(KIOSK).await {
                let issued = kiosk.issue(item('E'), Lane::WalkIn, None).await;
                kiosk.close().await;
                if let Ok(t) = issued {
                    return Some(t.ticket);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

async fn first_ticket(
    client: &FollowingClient,
    give_up: Duration,
) -> Result<TicketNo, ClientError> {
    let deadline = Instant::now() + give_up;
    loop {
        match client.issue(item('E'), Lane::WalkIn, None).await {
            Ok(t) => return Ok(t.ticket),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_owner_under_load_moves_the_hall_and_loses_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let etcd = Etcd::start(3, &[]).expect("etcd");
    let mut nodes = Nodes::start(&etcd, &["a", "b", "c"]).expect("nodes");
    let owner = nodes.owner(SETTLE).await.expect("an owner");

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let kiosks = start_kiosks(&nodes, 3, &stop, &seen);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = seen.lock().unwrap().acked.len();
    assert!(
        before > 0,
        "no ticket issued before the kill: {:?}",
        seen.lock().unwrap().errors
    );

    let killed_at = Instant::now();
    nodes.kill(owner);
    // How long until a surviving node issues a ticket: asked every 20 ms.
    let ticket = first_ticket_from_survivors(&nodes, Duration::from_secs(15))
        .await
        .expect("another node serves the hall");
    let takeover = killed_at.elapsed();
    eprintln!(
        "owner {} killed: first ticket ({ticket}) from the new owner after {takeover:?}",
        nodes.name(owner)
    );
    // The target is 3 s with a 3 s lease; the bound here leaves room for a
    // loaded machine.
    assert!(
        takeover < Duration::from_secs(2 * LEASE_TTL_SECS),
        "takeover took {takeover:?}"
    );

    // The kiosks that were connected to the dead node notice (keep-alive)
    // and carry on with the new owner: wait (bounded) until every kiosk
    // has been answered after the kill and more than ten answers came,
    // instead of a fixed 10 s.
    let kiosk_count = kiosks.len();
    let carried_on = |seen: &Seen| {
        let all = (0..kiosk_count).all(|k| seen.last_ack.get(&k).is_some_and(|at| *at > killed_at));
        let after = seen.acked.iter().filter(|(_, at)| *at > killed_at).count();
        all && after > 10
    };
    let deadline = killed_at + Duration::from_secs(30);
    while Instant::now() < deadline && !carried_on(&seen.lock().unwrap()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Release);
    for k in kiosks {
        k.await.unwrap();
    }
    let mut seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
    seen.acked.push((ticket, Instant::now()));
    let after = seen.acked.iter().filter(|(_, at)| *at > killed_at).count();
    eprintln!(
        "{} tickets acknowledged ({before} before the kill, {after} after); errors: {:?}",
        seen.acked.len(),
        seen.errors
    );
    assert!(
        after > 10,
        "the kiosks did not carry on: {after} tickets after the kill"
    );
    assert!(
        carried_on(&seen),
        "a kiosk was not answered after the kill: {:?}",
        seen.last_ack
    );
    assert_all_acked_present(&nodes, &seen).await;
    nodes.owner(SETTLE).await.expect("one owner in the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_etcd_leader_stalls_requests_briefly_and_loses_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut etcd = Etcd::start(3, &[]).expect("etcd");
    let nodes = Nodes::start(&etcd, &["a", "b"]).expect("nodes");
    nodes.owner(SETTLE).await.expect("an owner");

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let kiosks = start_kiosks(&nodes, 3, &stop, &seen);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let leader = etcd.leader().expect("an etcd leader");
    let killed_at = Instant::now();
    etcd.kill(leader);
    // Requests go on once etcd has a new leader, or, when the election
    // outlasts the owner's lease on a loaded machine, once the other node
    // has taken the hall over: wait (bounded) for ten answers after the
    // kill instead of a fixed 6 s, then a little more under load.
    let deadline = killed_at + Duration::from_secs(20);
    while Instant::now() < deadline {
        let after = {
            let seen = seen.lock().unwrap();
            seen.acked.iter().filter(|(_, at)| *at > killed_at).count()
        };
        if after > 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Release);
    for k in kiosks {
        k.await.unwrap();
    }
    let seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
    let after = seen.acked.iter().filter(|(_, at)| *at > killed_at).count();
    eprintln!(
        "etcd leader killed: {} tickets ({after} after the kill); slowest answer {:?}; errors: {:?}",
        seen.acked.len(),
        seen.slowest,
        seen.errors
    );
    assert!(
        after > 10,
        "requests did not go on after the election: {after}"
    );
    // A stall, not a failure: the election is waited out.
    assert!(
        seen.slowest < Duration::from_secs(10),
        "a request stalled for {:?}",
        seen.slowest
    );
    assert!(etcd.leader().is_some(), "etcd elected no new leader");
    assert_all_acked_present(&nodes, &seen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_owner_that_lost_its_lease_steps_down_when_resumed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let etcd = Etcd::start(3, &[]).expect("etcd");
    let nodes = Nodes::start(&etcd, &["a", "b"]).expect("nodes");
    let old = nodes.owner(SETTLE).await.expect("an owner");
    let other = 1 - old;
    let old_daemon = nodes.node(old).unwrap();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &old_daemon.pid().to_string()])
            .status()
            .expect("kill(1)")
            .success();
        assert!(ok, "kill {sig} failed");
    };
    let kiosk = old_daemon.connect(KIOSK).await;
    kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("the owner issues");

    signal("-STOP");
    let paused_at = Instant::now();
    let taken = async {
        loop {
            if nodes.health(other).await.is_ok_and(|h| h.role == "owner") {
                return paused_at.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let taken = tokio::time::timeout(Duration::from_secs(15), taken).await;
    let new_kiosk = nodes.node(other).unwrap().connect(KIOSK).await;
    let issued = new_kiosk.issue(item('A'), Lane::WalkIn, None).await;
    signal("-CONT");
    let taken = taken.expect("the other node takes the hall over");
    eprintln!("owner paused: taken over after {taken:?}");
    let issued = issued.expect("the new owner issues");
    assert_eq!(issued.ticket.to_string(), "A002");

    // Resumed, the old owner must not serve: its lease is gone. Once it
    // has looked at etcd again, its refusals name the new owner.
    let new_owner = nodes.addr(other).unwrap().to_string();
    let mut named = false;
    // Every answer of the resumed old owner is a refusal; one of them names
    // the new owner once the new owner's address is in etcd (bounded, not
    // a fixed count: a busy machine is slow to get there).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !named && std::time::Instant::now() < deadline {
        let refused = kiosk.issue(item('A'), Lane::WalkIn, None).await;
        match refused {
            Err(ClientError::Refused(reply)) => {
                assert_eq!(reply.code, "not_owner", "{reply:?}");
                named |= reply.redirect.as_deref() == Some(new_owner.as_str());
            }
            Err(ClientError::Connection(_)) => {}
            other => panic!("the resumed old owner answered {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(named, "no refusal named the new owner {new_owner}");
    let owner = nodes.owner(SETTLE).await.expect("exactly one owner");
    assert_eq!(owner, other);
    assert!(
        nodes.stderr(old).contains("no longer serving the hall"),
        "{}",
        nodes.stderr(old)
    );
    let status = nodes.client(ADMIN).status().await.unwrap();
    let tickets: Vec<String> = waiting(&status).into_iter().map(|(t, _)| t).collect();
    assert_eq!(tickets, ["A001", "A002"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_etcd_refuses_changes_cleanly_and_resumes() {
    let _one = ONE_AT_A_TIME.lock().await;
    // A 4 MiB quota, filled below.
    let etcd = Etcd::start(1, &["--quota-backend-bytes", "4194304"]).expect("etcd");
    let nodes = Nodes::start(&etcd, &["a"]).expect("nodes");
    nodes.owner(SETTLE).await.expect("an owner");
    let kiosk = nodes.client(KIOSK);
    let first = kiosk.issue(item('A'), Lane::WalkIn, None).await.unwrap();
    assert_eq!(first.ticket.to_string(), "A001");

    // (One argument may be at most 128 KiB on Linux.)
    let filler = "x".repeat(100 * 1024);
    let mut full = false;
    for i in 0..200 {
        match etcd.ctl(&["put", &format!("/filler/{i}"), &filler]) {
            Ok(_) => {}
            Err(e) if e.to_string().contains("space") => {
                full = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(full, "etcd did not run out of space");

    let refused = kiosk.issue(item('A'), Lane::WalkIn, None).await;
    match refused {
        Err(ClientError::Refused(reply)) => {
            assert_eq!(reply.code, "storage_failed", "{reply:?}");
            assert!(reply.message.contains("space"), "{}", reply.message);
        }
        other => panic!("a full etcd answered {other:?}"),
    }
    let status = nodes.client(ADMIN).status().await.unwrap();
    let tickets: Vec<String> = waiting(&status).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        tickets,
        ["A001"],
        "the refused ticket is not there, the acked one is"
    );

    // The operator makes room (README: "etcd is full").
    etcd.ctl(&["del", "--prefix", "/filler/"]).unwrap();
    let status = etcd.ctl(&["endpoint", "status", "-w", "json"]).unwrap();
    let revision = serde_json::from_str::<serde_json::Value>(&status).unwrap()[0]["Status"]
        ["header"]["revision"]
        .as_u64()
        .unwrap();
    etcd.ctl(&["compact", &revision.to_string()]).unwrap();
    etcd.ctl(&["defrag"]).unwrap();
    etcd.ctl(&["alarm", "disarm"]).unwrap();
    let next = first_ticket(&kiosk, Duration::from_secs(15)).await.unwrap();
    assert_eq!(next.to_string(), "E001");
    let again = kiosk.issue(item('A'), Lane::WalkIn, None).await.unwrap();
    assert_eq!(
        again.ticket.to_string(),
        "A002",
        "numbering goes on, nothing reused"
    );
}

/// Waiting tickets of item A as a display snapshot shows them.
fn waiting_a(update: &DisplayUpdate) -> u32 {
    match update {
        DisplayUpdate::Snapshot { view, .. } => view
            .items
            .iter()
            .find(|i| i.code == item('A'))
            .map_or(0, |i| i.waiting.iter().sum()),
        other => panic!("expected a snapshot first, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn displays_and_the_outbox_follow_the_hall_to_its_new_owner() {
    let _one = ONE_AT_A_TIME.lock().await;
    let etcd = Etcd::start(3, &[]).expect("etcd");
    let mut nodes = Nodes::start(&etcd, &["a", "b"]).expect("nodes");
    let owner = nodes.owner(SETTLE).await.expect("an owner");

    // Three visitors who left their number: three "issued" SMS queued.
    let kiosk = nodes.client(KIOSK);
    for phone in ["13800138001", "13800138002", "13800138003"] {
        kiosk
            .issue(item('A'), Lane::WalkIn, Some(phone.into()))
            .await
            .expect("issued");
    }
    kiosk.close().await;
    let notifier = nodes.client(NOTIFIER);
    let mut outbox = within(STEP_TIMEOUT, notifier.notifications())
        .await
        .expect("notifier subscribed");
    let mut before = Vec::new();
    for _ in 0..3 {
        before.push(within(STEP_TIMEOUT, outbox.next()).await.unwrap().unwrap());
    }
    // The gateway delivered the first one only.
    outbox.ack(&before[0].id).await.unwrap();
    let display = nodes.client(DISPLAY);
    let mut board = display.watch().await.expect("display subscribed");
    let first = within(STEP_TIMEOUT, board.next()).await.unwrap().unwrap();
    assert_eq!(waiting_a(&first), 3);
    // Let the acknowledgement reach etcd and the follower.
    tokio::time::sleep(Duration::from_millis(500)).await;

    nodes.kill(owner);
    // Both streams end: the node is gone (keep-alive notices within 8 s).
    let ended = within(Duration::from_secs(20), async {
        loop {
            match board.next().await {
                Ok(Some(DisplayUpdate::Dropped { .. })) | Ok(None) | Err(_) => break,
                Ok(Some(_)) => {}
            }
        }
    });
    ended.await;

    // Subscribed again (the client finds the new owner): a fresh snapshot
    // with every ticket, and the outbox with exactly the two undelivered
    // notifications, under the same ids.
    let mut board = within(Duration::from_secs(20), display.watch())
        .await
        .expect("display subscribed to the new owner");
    let snapshot = within(STEP_TIMEOUT, board.next()).await.unwrap().unwrap();
    assert_eq!(waiting_a(&snapshot), 3, "{snapshot:?}");
    let mut outbox = within(Duration::from_secs(20), notifier.notifications())
        .await
        .expect("notifier subscribed to the new owner");
    let mut after = Vec::new();
    for _ in 0..2 {
        after.push(within(STEP_TIMEOUT, outbox.next()).await.unwrap().unwrap());
    }
    let ids = |ns: &[Notification]| ns.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&after), ids(&before[1..]), "the outbox carried over");
    assert_eq!(after[0].text, before[1].text);

    // A new ticket reaches the display through the new owner.
    let kiosk = nodes.client(KIOSK);
    kiosk.issue(item('A'), Lane::WalkIn, None).await.unwrap();
    let change = within(STEP_TIMEOUT, board.next()).await.unwrap().unwrap();
    assert!(matches!(change, DisplayUpdate::Change { .. }), "{change:?}");
    kiosk.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_halls_share_a_transaction_and_a_broken_fence_fails_only_its_hall() {
    use hallq_daemon::cluster::appender::Appender;
    use hallq_daemon::cluster::store::{Store, StoreError};
    use hallq_daemon::config::ClusterConfig;

    let _one = ONE_AT_A_TIME.lock().await;
    let etcd = Etcd::start(1, &[]).expect("etcd");
    let config = ClusterConfig {
        endpoints: etcd.endpoints(),
        node: "t".into(),
        lease_ttl_secs: 10,
        halls: None,
        advertise: None,
        prefix: "/t".into(),
    };
    let store = Store::connect(&config).await.unwrap();
    let lease = store.grant_lease(10).await.unwrap();
    let halls: Vec<String> = (0..8).map(|h| format!("h{h}")).collect();
    let mut fences = Vec::new();
    for hall in &halls {
        fences.push(
            store
                .acquire(hall, lease)
                .await
                .unwrap()
                .expect("free hall"),
        );
    }
    let appender = Appender::start(store.clone());
    // Every hall appends record `n` at the same moment.
    let round = |n: u64| {
        let tasks: Vec<_> = halls
            .iter()
            .zip(&fences)
            .map(|(hall, fence)| {
                let (appender, hall, fence) = (appender.clone(), hall.clone(), *fence);
                tokio::spawn(async move {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                    let record = format!("{hall} record {n}").into_bytes();
                    appender
                        .append(&hall, fence, n, vec![record], deadline)
                        .await
                })
            })
            .collect();
        async move {
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.unwrap());
            }
            results
        }
    };
    for n in 0..3 {
        for (hall, result) in halls.iter().zip(round(n).await) {
            result.unwrap_or_else(|e| panic!("{hall} record {n}: {e}"));
        }
    }
    // Another node took h3: only h3's append is refused.
    etcd.ctl(&["del", "/t/owner/h3"]).unwrap();
    for (hall, result) in halls.iter().zip(round(3).await) {
        match (hall.as_str(), result) {
            ("h3", Err(StoreError::Fenced)) => {}
            ("h3", other) => panic!("h3 appended past a broken fence: {other:?}"),
            (_, Ok(())) => {}
            (hall, Err(e)) => panic!("{hall} refused for h3's fence: {e}"),
        }
    }
    for hall in &halls {
        let records = store.range(hall, 0, 100).await.unwrap();
        let expected = if hall == "h3" { 3 } else { 4 };
        assert_eq!(records.len(), expected, "{hall}: {records:?}");
        for (seq, value) in &records {
            assert_eq!(value, &format!("{hall} record {seq}").into_bytes());
        }
    }
    let stats = appender.stats();
    let appends = stats.appends.load(std::sync::atomic::Ordering::Relaxed);
    let transactions = stats
        .transactions
        .load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("{appends} appends in {transactions} transactions");
    assert_eq!(appends, 32);
    assert!(transactions < appends, "no transaction was shared");
}

/// A store of its own for node `node` (prefix `/p`), a 10 s lease, and an
/// appender on it with up to 8 transactions in flight.
async fn pipelined_store(
    etcd: &Etcd,
    node: &str,
) -> (
    hallq_daemon::cluster::store::Store,
    i64,
    hallq_daemon::cluster::appender::Appender,
) {
    use hallq_daemon::cluster::appender::Appender;
    use hallq_daemon::cluster::store::Store;
    use hallq_daemon::config::ClusterConfig;
    let config = ClusterConfig {
        endpoints: etcd.endpoints(),
        node: node.into(),
        lease_ttl_secs: 10,
        halls: None,
        advertise: None,
        prefix: "/p".into(),
    };
    let store = Store::connect(&config).await.unwrap();
    let lease = store.grant_lease(10).await.unwrap();
    // Several transactions in flight at once, as many as a pipeline sends.
    let appender = Appender::with_in_flight(store.clone(), 8);
    (store, lease, appender)
}

fn record(node: &str, seq: u64) -> Vec<u8> {
    format!("{node} record {seq}").into_bytes()
}

/// Every answer the pipeline has left, in order.
async fn all_answers(
    pipeline: &mut hallq_daemon::cluster::appender::Pipeline,
) -> Vec<Result<(), hallq_daemon::cluster::store::StoreError>> {
    let mut answers = Vec::new();
    while let Some(answer) = pipeline.next().await {
        answers.push(answer);
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_lost_the_hall_gets_none_of_its_appends_in_flight_in_after_the_takeover() {
    use hallq_daemon::cluster::appender::Pipeline;
    use hallq_daemon::cluster::store::StoreError;

    let _one = ONE_AT_A_TIME.lock().await;
    let etcd = Etcd::start(1, &[]).expect("etcd");
    let (store_a, lease_a, appender_a) = pipelined_store(&etcd, "a").await;
    let (store_b, lease_b, appender_b) = pipelined_store(&etcd, "b").await;
    let fence_a = store_a.acquire("h", lease_a).await.unwrap().expect("free");
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(10);
    let mut old = Pipeline::new(appender_a.clone(), "h", fence_a, 4);
    // Three appends of two records in flight at once: all in, in order.
    for first in [0, 2, 4] {
        assert!(old.ready());
        old.send(
            first,
            vec![record("a", first), record("a", first + 1)],
            deadline(),
        );
    }
    assert_eq!(old.in_flight(), 3);
    for answer in all_answers(&mut old).await {
        answer.expect("appended");
    }

    // Four more in flight, and meanwhile node a's lease ends and node b
    // takes the hall.
    for first in [6, 8, 10, 12] {
        assert!(old.ready());
        old.send(
            first,
            vec![record("a", first), record("a", first + 1)],
            deadline(),
        );
    }
    store_a.revoke_lease(lease_a).await.unwrap();
    let fence_b = store_b.acquire("h", lease_b).await.unwrap().expect("free");
    let answers = all_answers(&mut old).await;
    // Answered in order: those that went in before the lease ended, then
    // refusals only.
    let acked = answers.iter().take_while(|a| a.is_ok()).count();
    assert!(
        answers[acked..]
            .iter()
            .all(|a| matches!(a, Err(StoreError::Fenced))),
        "{answers:?}"
    );
    assert_eq!(old.ready(), acked == 4, "a failed pipeline sends no more");
    assert!(!old.loose());
    eprintln!("{acked} of 4 appends in flight went in before the takeover");
    let next = 6 + 2 * acked as u64;

    // Node a, not knowing yet, sends four more at once: all refused.
    let mut unaware = Pipeline::new(appender_a.clone(), "h", fence_a, 4);
    for first in (next..).step_by(2).take(4) {
        unaware.send(
            first,
            vec![record("a", first), record("a", first + 1)],
            deadline(),
        );
    }
    assert_eq!(unaware.in_flight(), 4);
    let refused = all_answers(&mut unaware).await;
    assert_eq!(refused.len(), 4);
    assert!(
        refused.iter().all(|a| matches!(a, Err(StoreError::Fenced))),
        "{refused:?}"
    );

    // Node b goes on from where the log ends: it holds exactly a's
    // acknowledged records.
    let log = store_b.range("h", 0, 100).await.unwrap();
    let expected: Vec<(u64, Vec<u8>)> = (0..next).map(|s| (s, record("a", s))).collect();
    assert_eq!(log, expected);
    let mut new = Pipeline::new(appender_b, "h", fence_b, 4);
    for seq in next..next + 4 {
        new.send(seq, vec![record("b", seq)], deadline());
    }
    for answer in all_answers(&mut new).await {
        answer.expect("the new owner appends");
    }
    // The old owner cannot add one either, alone.
    let late = appender_a
        .append(
            "h",
            fence_a,
            next + 4,
            vec![record("a", next + 4)],
            deadline(),
        )
        .await;
    assert!(matches!(late, Err(StoreError::Fenced)), "{late:?}");

    // The log as it was when node b took the hall: a's acknowledged
    // records, no more; now b's follow them, and nothing of a's since.
    let then = etcd
        .ctl(&[
            "get",
            "--prefix",
            "/p/log/h/",
            "--rev",
            &fence_b.to_string(),
            "-w",
            "json",
        ])
        .unwrap();
    let then: serde_json::Value = serde_json::from_str(&then).unwrap();
    assert_eq!(then["count"].as_u64().unwrap_or(0), next, "{then}");
    let log = store_b.range("h", 0, 100).await.unwrap();
    let expected: Vec<(u64, Vec<u8>)> = (0..next + 4)
        .map(|s| (s, record(if s < next { "a" } else { "b" }, s)))
        .collect();
    assert_eq!(log, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_append_in_the_middle_of_a_pipeline_leaves_no_gap() {
    use hallq_daemon::cluster::appender::Pipeline;
    use hallq_daemon::cluster::store::StoreError;

    let _one = ONE_AT_A_TIME.lock().await;
    let etcd = Etcd::start(1, &[]).expect("etcd");
    let (store, lease, appender) = pipelined_store(&etcd, "a").await;
    let fence = store.acquire("h", lease).await.unwrap().expect("free");
    // Record 4 is there already: the append of 4..5 cannot go in.
    etcd.ctl(&["put", &store.log_key("h", 4), "stray"]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut pipeline = Pipeline::new(appender, "h", fence, 8);
    let parts: [&[u64]; 6] = [&[0, 1], &[2, 3], &[4, 5], &[6, 7], &[8], &[9]];
    for part in parts {
        assert!(pipeline.ready());
        let records = part.iter().map(|&s| record("a", s)).collect();
        pipeline.send(part[0], records, deadline);
    }
    assert_eq!(pipeline.in_flight(), 6);
    let answers = all_answers(&mut pipeline).await;
    // In order: the two before it in, the failed one and every one after
    // it refused (those sent after it were in flight with it).
    assert!(answers[0].is_ok() && answers[1].is_ok(), "{answers:?}");
    assert!(
        answers[2..]
            .iter()
            .all(|a| matches!(a, Err(StoreError::Fenced))),
        "{answers:?}"
    );
    assert!(!pipeline.loose());
    // etcd has records 0..3 and the stray 4: none of 6..9, which would
    // have left 5 a gap.
    let log = store.range("h", 0, 100).await.unwrap();
    let mut expected: Vec<(u64, Vec<u8>)> = (0..4).map(|s| (s, record("a", s))).collect();
    expected.push((4, b"stray".to_vec()));
    assert_eq!(log, expected);
}
