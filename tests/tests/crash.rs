//! Crash safety (SPEC §2 item 1, §2 item 8, §4 "durable"): `hallqd` is
//! killed with SIGKILL in the middle of a load of kiosks issuing and windows
//! calling and finishing, then restarted on the same state directory. What
//! was acknowledged before the kill is what the restarted daemon has:
//!
//! - every acknowledged ticket exists: waiting, or — if a call for it was in
//!   flight when the daemon died — the current ticket of that window;
//! - an acknowledged call or finish is not undone: such a ticket is not
//!   waiting, and a finished one is no window's current ticket;
//! - numbering continues after the highest number ever acknowledged;
//! - every notification delivered before the crash and not acknowledged is
//!   delivered again, with the same id and content; new ones get new ids,
//!   and no ticket gets a second §7.3.5 reminder.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hallq_client::client::{Client, ClientError};
use hallq_proto::types::{ItemCode, Lane, TicketNo, WindowNo};
use hallq_proto::wire::{Notification, NotificationKind, Response, WindowAction};
use hallq_tests::{
    current_tickets, item, notifications_until, open_windows, window_token, Daemon, TestHall,
    ADMIN, KIOSK, NOTIFIER, STEP_TIMEOUT,
};
use tokio::task::JoinHandle;

/// Operations per worker: enough to be mid-load at the kill, bounded if the
/// kill never came.
const MAX_OPS: usize = 200;
/// The daemon is killed once this many tickets were acknowledged.
const KILL_AFTER_ISSUED: usize = 60;
/// Windows 1 (A, B) and 2 (A) do the calling.
const CALLING_WINDOWS: [u16; 2] = [1, 2];

/// What the daemon acknowledged before it died.
#[derive(Debug, Default, Clone)]
struct Acked {
    issued: Vec<TicketNo>,
    called: Vec<(WindowNo, TicketNo)>,
    finished: Vec<TicketNo>,
}

type Shared<T> = Arc<Mutex<T>>;

fn record(acked: &Shared<Acked>, f: impl FnOnce(&mut Acked)) {
    f(&mut acked.lock().expect("acked lock"));
}

/// A kiosk issuing A and B tickets with a phone number until it fails; a
/// number per ticket (`phone` and the ticket's count), since a phone holds
/// one active ticket per item (SPEC §6).
async fn kiosk_load(kiosk: Client, phone: String, acked: Shared<Acked>) {
    // Across kill cycles too: earlier cycles' tickets may still wait.
    static ISSUED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    for i in 0..MAX_OPS {
        let letter = if i % 3 == 2 { 'B' } else { 'A' };
        let n = ISSUED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match kiosk
            .issue(item(letter), Lane::WalkIn, Some(format!("{phone}{n:05}")))
            .await
        {
            Ok(t) => record(&acked, |a| a.issued.push(t.ticket)),
            Err(_) => return,
        }
    }
}

/// A window calling the next ticket and finishing it until it fails.
async fn window_load(window: Client, number: WindowNo, acked: Shared<Acked>) {
    let mut ops = 0;
    while ops < MAX_OPS {
        ops += 1;
        let call = window
            .window(None, WindowAction::Call { ticket: None })
            .await;
        let ticket = match call {
            Ok(Response::Window {
                ticket: Some(t), ..
            }) => t,
            Ok(other) => panic!("a call answered {other:?}"),
            Err(ClientError::Refused(reply)) if reply.code == "nothing_waiting" => {
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            }
            Err(_) => return,
        };
        record(&acked, |a| a.called.push((number, ticket)));
        match window
            .window(None, WindowAction::Finish { rating: None })
            .await
        {
            Ok(_) => record(&acked, |a| a.finished.push(ticket)),
            Err(_) => return,
        }
    }
}

/// A gateway that reads notifications (never acknowledging) until it fails.
async fn gateway_load(gateway: Client, seen: Shared<Vec<Notification>>) {
    let Ok(mut outbox) = gateway.notifications().await else {
        return;
    };
    while let Ok(Some(n)) = outbox.next().await {
        seen.lock().expect("seen lock").push(n);
    }
}

/// Runs the load against `daemon` and kills it with SIGKILL once
/// `kill_after` tickets were acknowledged. Returns what was acknowledged and
/// the notifications delivered.
async fn load_then_kill(daemon: &mut Daemon, kill_after: usize) -> (Acked, Vec<Notification>) {
    let admin = daemon.connect(ADMIN).await;
    open_windows(&admin, &CALLING_WINDOWS).await;
    let acked: Shared<Acked> = Shared::default();
    let seen: Shared<Vec<Notification>> = Shared::default();

    let gateway = daemon.connect(NOTIFIER).await;
    let mut tasks: Vec<JoinHandle<()>> = vec![tokio::spawn(gateway_load(gateway, seen.clone()))];
    for k in 0..2 {
        let kiosk = daemon.connect(KIOSK).await;
        let phone = format!("1380013800{k}");
        tasks.push(tokio::spawn(kiosk_load(kiosk, phone, acked.clone())));
    }
    for n in CALLING_WINDOWS {
        let window = daemon.connect(&window_token(n)).await;
        tasks.push(tokio::spawn(window_load(
            window,
            WindowNo(n),
            acked.clone(),
        )));
    }

    // Poll the progress (the workers only append), then pull the plug.
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let issued = acked.lock().expect("acked lock").issued.len();
        if issued >= kill_after {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {issued} tickets acknowledged in {STEP_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.kill();
    // Requests in flight can never be answered now; stop waiting for them.
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        if let Err(e) = task.await {
            assert!(e.is_cancelled(), "a worker failed: {e}");
        }
    }
    let acked = acked.lock().expect("acked lock").clone();
    let seen = seen.lock().expect("seen lock").clone();
    (acked, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_sigkill() {
    let hall = TestHall::new().expect("test hall");
    let mut first = hall.start().expect("hallqd starts");
    let (acked, delivered) = load_then_kill(&mut first, KILL_AFTER_ISSUED).await;
    assert!(acked.issued.len() >= KILL_AFTER_ISSUED);
    assert!(
        !acked.finished.is_empty(),
        "windows worked during the load: {acked:?}"
    );
    let unique: HashSet<TicketNo> = acked.issued.iter().copied().collect();
    assert_eq!(
        unique.len(),
        acked.issued.len(),
        "a number was issued twice"
    );

    let (restarted, admin) = restart_and_check(&hall, &acked).await;
    check_notifications(&restarted, &admin, &delivered).await;
}

/// Restarts hallqd on the same state and checks it against everything
/// acknowledged: tickets present and in the right state, no number reused.
async fn restart_and_check(hall: &TestHall, acked: &Acked) -> (Daemon, Client) {
    let restarted = hall.start().expect("hallqd restarts on the same state");
    let admin = restarted.connect(ADMIN).await;
    let status = admin.status().await.expect("status");
    let waiting: HashSet<TicketNo> = status.waiting.iter().map(|w| w.ticket).collect();
    let current: HashMap<TicketNo, WindowNo> = current_tickets(&status)
        .into_iter()
        .map(|(w, t)| (t, w))
        .collect();
    check_tickets(acked, &waiting, &current);
    check_numbering(acked, &admin).await;
    (restarted, admin)
}

/// The long variant of the test above, on the real binary: kill hallqd with
/// SIGKILL again and again under load, at a different point each cycle, and
/// after every restart compare with everything acknowledged in all cycles.
/// `HALLQ_CRASH_CYCLES` sets the number of cycles (3 by default; `bash
/// tests/crash-loop.sh` runs 100).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_kills_lose_nothing() {
    let cycles: usize = std::env::var("HALLQ_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let hall = TestHall::new().expect("test hall");
    let mut all = Acked::default();
    for cycle in 0..cycles {
        let mut daemon = hall.start().expect("hallqd starts");
        let admin = daemon.connect(ADMIN).await;
        // A call made durable but never answered before the last kill
        // stays the window's current ticket: it was called; finish it.
        let status = admin.status().await.expect("status");
        for (window, ticket) in current_tickets(&status) {
            all.called.push((window, ticket));
            admin
                .window(Some(window), WindowAction::Finish { rating: None })
                .await
                .expect("finish a call left from the last cycle");
            all.finished.push(ticket);
        }
        // The load opens its windows itself.
        for n in CALLING_WINDOWS {
            let _ = admin.window(Some(WindowNo(n)), WindowAction::Close).await;
        }
        // Kill at a different moment each cycle.
        let kill_after = 5 + (cycle * 17) % 40;
        let (acked, _) = load_then_kill(&mut daemon, kill_after).await;
        all.issued.extend(acked.issued);
        all.called.extend(acked.called);
        all.finished.extend(acked.finished);

        restart_and_check(&hall, &all).await;
        let unique: HashSet<TicketNo> = all.issued.iter().copied().collect();
        assert_eq!(
            unique.len(),
            all.issued.len(),
            "a number was issued twice (cycle {cycle})"
        );
    }
}

/// Acknowledged ⇒ present; acknowledged calls and finishes stay done.
fn check_tickets(
    acked: &Acked,
    waiting: &HashSet<TicketNo>,
    current: &HashMap<TicketNo, WindowNo>,
) {
    let called: HashMap<TicketNo, WindowNo> = acked.called.iter().map(|&(w, t)| (t, w)).collect();
    let finished: HashSet<TicketNo> = acked.finished.iter().copied().collect();
    let mut in_flight_calls: HashMap<WindowNo, TicketNo> = HashMap::new();
    for t in &acked.issued {
        if let Some(&w) = called.get(t) {
            assert!(
                !waiting.contains(t),
                "{t} was called at window {w} but waits again"
            );
            if finished.contains(t) {
                assert!(!current.contains_key(t), "{t} was finished but is current");
            } else if let Some(&at) = current.get(t) {
                assert_eq!(at, w, "{t} was called to window {w}");
            }
        } else if !waiting.contains(t) {
            // Only a call the daemon made durable but could not answer.
            let &w = current
                .get(t)
                .unwrap_or_else(|| panic!("acknowledged ticket {t} is gone"));
            if let Some(other) = in_flight_calls.insert(w, *t) {
                panic!("window {w} had two unanswered calls: {other} and {t}");
            }
        }
    }
}

/// New tickets continue after the highest acknowledged number of each item.
async fn check_numbering(acked: &Acked, admin: &Client) {
    let mut highest: BTreeMap<ItemCode, u32> = BTreeMap::new();
    for t in &acked.issued {
        let seq = highest.entry(t.item).or_default();
        *seq = (*seq).max(t.seq);
    }
    for (&code, &seq) in &highest {
        let next = admin
            .issue(code, Lane::WalkIn, None)
            .await
            .expect("issuing after the restart");
        assert!(
            next.ticket.seq > seq,
            "{} reuses a number: {code}{seq:03} was acknowledged before the crash",
            next.ticket
        );
    }
}

/// The number inside a notification id `main-17`.
fn id_number(n: &Notification) -> u64 {
    n.id.strip_prefix("main-")
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("notification id {:?} is not main-<n>", n.id))
}

/// Every notification delivered before the crash comes again, unchanged;
/// a new one gets a new id; reminders are not repeated.
async fn check_notifications(daemon: &Daemon, admin: &Client, delivered: &[Notification]) {
    assert!(
        !delivered.is_empty(),
        "the gateway got notifications before the crash"
    );
    let gateway = daemon.connect(NOTIFIER).await;
    let mut outbox = gateway.notifications().await.expect("notifier subscribes");
    let marker = admin
        .issue(item('E'), Lane::WalkIn, Some("13900139000".into()))
        .await
        .expect("issue after the restart");
    let before: HashMap<&str, &Notification> =
        delivered.iter().map(|n| (n.id.as_str(), n)).collect();
    let again = notifications_until(&mut outbox, |seen| {
        let ids: HashSet<&str> = seen.iter().map(|n| n.id.as_str()).collect();
        before.keys().all(|id| ids.contains(id))
            && seen.iter().any(|n| n.ticket == Some(marker.ticket))
    })
    .await;
    for n in &again {
        if let Some(old) = before.get(n.id.as_str()) {
            assert_eq!(&n, old, "notification {} changed across the restart", n.id);
        }
    }
    let highest_before = delivered.iter().map(id_number).max().unwrap_or_default();
    let new = again
        .iter()
        .find(|n| n.ticket == Some(marker.ticket))
        .expect("the marker's notification");
    assert!(
        id_number(new) > highest_before,
        "new notification {} reuses an id at or below main-{highest_before}",
        new.id
    );
    // §7.3.5 at most once per ticket, a restart included.
    let mut reminders: HashMap<TicketNo, HashSet<&str>> = HashMap::new();
    for n in delivered.iter().chain(&again) {
        if n.kind == NotificationKind::Approaching {
            reminders
                .entry(n.ticket.expect("a ticket"))
                .or_default()
                .insert(&n.id);
        }
    }
    for (t, ids) in reminders {
        assert_eq!(ids.len(), 1, "{t} was reminded more than once: {ids:?}");
    }
}
