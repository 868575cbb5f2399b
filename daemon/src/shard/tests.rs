//! One hall's shard over a real journal in a temporary directory: what it
//! answers, what it journals, and that the journal alone rebuilds it.

use hallq_proto::types::{ItemCode, Lane, Phone, WindowNo};
use hallq_proto::views::HallView;
use hallq_proto::ErrorCode;

use super::*;
use crate::config::Config;

/// The demo's hall (items A and B, windows 1–7).
fn demo_hall() -> HallConfig {
    let config = Config::demo(PathBuf::from("unused"));
    config.halls.into_iter().next().unwrap()
}

/// Opens the hall as the daemon does without a cluster: replay, then
/// journal the configuration if the journal does not hold it yet.
async fn open(config: &HallConfig, dir: &Path) -> HallShard {
    let shard = HallShard::open(config, dir, None).unwrap();
    shard.adopt(config.spec.clone()).await.unwrap();
    shard
}

fn issue(item: char, phone: Option<&str>) -> Command {
    Command::Issue {
        item: ItemCode::new(item).unwrap(),
        lane: Lane::WalkIn,
        phone: phone.map(|p| Phone::new(p).unwrap()),
    }
}

/// Everything the shard keeps that a replay must rebuild.
#[derive(Debug, PartialEq)]
struct Seen {
    view: HallView,
    next_seq: u64,
    display_seq: u64,
    recent_calls: String,
    pending: Vec<String>,
    next_notification: u64,
    configured: bool,
    day_start_seq: u64,
}

fn seen(shard: &HallShard) -> Seen {
    let st = shard.state.lock();
    Seen {
        view: st.hall.view(),
        next_seq: st.next_seq,
        display_seq: st.derived.seq,
        recent_calls: format!("{:?}", st.derived.recent.to_vec()),
        pending: st
            .derived
            .outbox
            .pending_below(u64::MAX)
            .iter()
            .map(|n| n.id.clone())
            .collect(),
        next_notification: st.derived.outbox.next_number(),
        configured: st.derived.configured,
        day_start_seq: st.derived.day_start_seq,
    }
}

#[tokio::test]
async fn replaying_the_journal_rebuilds_the_same_hall() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_hall();
    let shard = open(&config, dir.path()).await;
    let window = WindowNo(1);
    for command in [
        issue('A', Some("13800000001")),
        issue('A', Some("13800000002")),
        issue('A', None),
        Command::OpenWindow { window },
        Command::CallNext { window },
    ] {
        shard.execute(command, |_, _| ()).await.unwrap();
    }
    // Settle one notification both ways, so the replay has all three kinds
    // of record to read back.
    let pending = seen(&shard).pending;
    assert!(pending.len() >= 2, "calling A001 notifies: {pending:?}");
    let shard = Arc::new(shard);
    shard.ack(&pending[0]).unwrap().unwrap().await.unwrap();
    shard
        .fail_notification(&pending[1], "no such subscriber")
        .unwrap()
        .unwrap()
        .await
        .unwrap();
    let before = seen(&shard);
    assert!(before.configured && before.view.windows.iter().any(|w| w.current.is_some()));
    let health = shard.health(None);
    assert_eq!(health.role, "alone", "the JSON value admin health prints");
    assert_eq!(health.records, before.next_seq);
    shard.close();
    drop(shard);

    let reopened = open(&config, dir.path()).await;
    assert_eq!(
        seen(&reopened),
        before,
        "adopting the same spec journals nothing"
    );
    reopened.close();
}

#[tokio::test]
async fn a_refused_command_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_hall();
    let shard = open(&config, dir.path()).await;
    shard.execute(issue('A', None), |_, _| ()).await.unwrap();
    let before = seen(&shard);
    // Window 1 is not open: nothing to call from it.
    let window = WindowNo(1);
    let refused = shard
        .execute(Command::CallNext { window }, |_, _| ())
        .await
        .unwrap_err();
    assert!(matches!(refused, ShardError::Refused(_)), "{refused:?}");
    assert_ne!(refused.code(), ErrorCode::StorageFailed);
    // An unknown notification is ignored, not journaled.
    let shard = Arc::new(shard);
    assert!(shard.ack("main-999").unwrap().is_none());
    assert_eq!(seen(&shard), before);
    shard.close();
    drop(shard);

    let reopened = open(&config, dir.path()).await;
    assert_eq!(seen(&reopened), before, "the journal holds no trace of it");
    assert!(!reopened.is_failed());
    reopened.close();
}

#[tokio::test]
async fn a_display_feed_continues_its_snapshot_after_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let shard = open(&demo_hall(), dir.path()).await;
    let mut feed = shard.watch();
    shard.execute(issue('B', None), |_, _| ()).await.unwrap();
    let batch = feed.updates.recv().await.unwrap();
    assert!(!batch.is_resync());
    assert_eq!((batch.first, batch.last), (feed.seq + 1, feed.seq + 1));
    assert!(batch
        .after(feed.seq)
        .is_some_and(|frames| !frames.is_empty()));
    assert!(
        batch.after(batch.last).is_none(),
        "nothing past what was seen"
    );
    shard.close();
}

/// Issue 20: a change sent with an id is carried out once; its id and
/// answer are in the change's own record, so a reopened hall answers a
/// resend as the first time, and a journal failure's rebuild forgets only
/// what was never stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_id_is_carried_out_once_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_hall();
    let tag = ChangeTag {
        id: ChangeId { client: 42, seq: 1 },
        digest: [7; 16],
    };
    let ticket = |hall: &Hall, _: &[Event]| {
        Some(Response::Issuing {
            open: hall.waiting_count() % 2 == 0,
        })
    };
    let shard = open(&config, dir.path()).await;
    let first = shard
        .execute_tagged(Some(&tag), issue('A', None), ticket)
        .await
        .unwrap();
    let again = shard
        .execute_tagged(Some(&tag), issue('A', None), ticket)
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(shard.read(|h| h.waiting_count()), 1, "carried out once");
    // Another request under the id: refused, nothing changed.
    let other = ChangeTag {
        digest: [8; 16],
        ..tag
    };
    let refused = shard
        .execute_tagged(Some(&other), issue('B', None), ticket)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::ChangeIdReused);
    let before = seen(&shard);
    shard.close();
    drop(shard);

    let reopened = open(&config, dir.path()).await;
    assert_eq!(seen(&reopened), before, "the same hall");
    assert_eq!(
        reopened.recall_change(&tag).await.unwrap().unwrap(),
        first.clone().unwrap(),
        "the answer, from the journal"
    );
    let resent = reopened
        .execute_tagged(Some(&tag), issue('A', None), ticket)
        .await
        .unwrap();
    assert_eq!(resent, first);
    assert_eq!(reopened.read(|h| h.waiting_count()), 1);
    // Without an id the same request is a new change.
    reopened.execute(issue('A', None), |_, _| ()).await.unwrap();
    assert_eq!(reopened.read(|h| h.waiting_count()), 2);
}
