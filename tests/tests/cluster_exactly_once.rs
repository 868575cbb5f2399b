//! Exactly once across failover (SPEC §6, issue 20 item 2), on a real
//! 3-member etcd cluster on 127.0.0.1 and three `hallqd` nodes sharing hall
//! `main`.
//!
//! Kiosks issue without pause through clients that follow the hall; the
//! hall's owner is SIGKILLed with their changes in flight, round after
//! round (the killed node is started again, as a follower). A change the
//! dead owner had committed to etcd is in the log the new owner replays,
//! with its id and answer: the kiosk's resend gets that answer. One it had
//! not committed is carried out by the new owner. So every issue succeeds
//! and the hall holds exactly the acknowledged tickets, none twice.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hallq_proto::types::Lane;
use hallq_tests::cluster::{Etcd, Nodes};
use hallq_tests::{every_waiting, item, within, ADMIN, KIOSK};

/// Owner kills.
const ROUNDS: usize = 3;
/// Kiosks issuing at once.
const KIOSKS: usize = 3;
/// Tickets acknowledged between two kills.
const ACKS_PER_ROUND: usize = 15;
/// How long a hall may take to get an owner, or a round to finish.
const SETTLE: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Seen {
    acked: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
    count: AtomicUsize,
}

async fn acks_reach(seen: &Seen, target: usize) {
    within(SETTLE, async {
        while seen.count.load(Ordering::Relaxed) < target {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_owner_with_changes_in_flight_issues_each_ticket_once() {
    let etcd = Etcd::start(3, &[]).expect("etcd");
    let mut nodes = Nodes::start(&etcd, &["a", "b", "c"]).expect("nodes");
    nodes.owner(SETTLE).await.expect("an owner");

    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let kiosks: Vec<_> = (0..KIOSKS)
        .map(|k| {
            let client = nodes.client(KIOSK);
            let (seen, stop) = (seen.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = k;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let letter = ['A', 'B', 'D'][i % 3];
                    match client.issue(item(letter), Lane::WalkIn, None).await {
                        Ok(t) => {
                            seen.acked.lock().unwrap().push(t.ticket.to_string());
                            seen.count.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            seen.errors
                                .lock()
                                .unwrap()
                                .push(format!("{} ({e})", e.code()));
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                client.close().await;
            })
        })
        .collect();

    for round in 0..ROUNDS {
        acks_reach(&seen, seen.count.load(Ordering::Relaxed) + ACKS_PER_ROUND).await;
        let owner = nodes.owner(SETTLE).await.expect("an owner");
        nodes.kill(owner);
        eprintln!("round {round}: owner {} killed", nodes.name(owner));
        // The kiosks carry on with the new owner...
        acks_reach(&seen, seen.count.load(Ordering::Relaxed) + ACKS_PER_ROUND).await;
        // ...and the dead node comes back as a follower.
        nodes.restart(owner).expect("the killed node restarts");
    }
    acks_reach(&seen, seen.count.load(Ordering::Relaxed) + ACKS_PER_ROUND).await;
    stop.store(true, Ordering::Relaxed);
    for k in kiosks {
        within(SETTLE, k).await.expect("kiosk task");
    }

    // Informational: resends the new owners answered from the records.
    let resent: usize = (0..3)
        .map(|i| {
            nodes
                .stderr(i)
                .matches("resent change answered as first")
                .count()
        })
        .sum();
    eprintln!("{resent} resends answered from the replayed log by the running nodes");
    let errors = seen.errors.lock().unwrap().clone();
    let acked = seen.acked.lock().unwrap().clone();
    eprintln!(
        "{} tickets over {ROUNDS} owner kills; errors: {errors:?}",
        acked.len()
    );
    // A change lost with its connection would say connection_lost or
    // timeout: with change ids none may.
    let lost: Vec<&String> = errors
        .iter()
        .filter(|e| e.starts_with("connection_lost") || e.starts_with("timeout"))
        .collect();
    assert!(lost.is_empty(), "changes reported lost: {lost:?}");
    let unique: BTreeSet<&String> = acked.iter().collect();
    assert_eq!(unique.len(), acked.len(), "a number acknowledged twice");

    let admin = nodes.client(ADMIN);
    let held: BTreeSet<String> = within(
        SETTLE,
        every_waiting(|r| {
            let admin = &admin;
            async move { admin.request(&r).await }
        }),
    )
    .await
    .expect("the waiting list")
    .into_iter()
    .collect();
    let acked: BTreeSet<String> = acked.into_iter().collect();
    let extra: Vec<_> = held.difference(&acked).collect();
    let missing: Vec<_> = acked.difference(&held).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "issued but never acknowledged (carried out twice): {extra:?}; acknowledged but \
         gone: {missing:?}"
    );
    admin.close().await;
}
