//! What a hall publishes once its records are durable, and to whom.
//!
//! Nothing reaches a display or a notifier before the journal has it: the
//! shard hands each record's [`Published`] part to the journal writer with
//! the record, and the writer's commit hook ([`commit_hook`]) sends it on
//! after the fsync, in journal order, one display batch per group commit.
//! A display subscribes under the hall's lock ([`HallShard::watch`]), so its
//! snapshot and the batches after it neither overlap nor leave a gap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use hallq_proto::codec;
use hallq_proto::views::BoardLines;
use hallq_proto::wire::{DisplayUpdate, Notification};
use tokio::sync::broadcast;

use super::HallShard;
use crate::clock;
use crate::fanout::display;
use crate::fanout::outbox::Outbox;
use crate::journal::OnCommit;

/// How many display updates a subscriber may fall behind before it is
/// dropped (it resynchronises from a fresh snapshot on reconnect).
pub const DISPLAY_BUFFER: usize = 1024;
/// The same for notifier subscribers.
pub const NOTIFIER_BUFFER: usize = 4096;

/// Display updates published together: concatenated frames numbered
/// `first..=last` (consecutive change numbers). One group commit makes one
/// batch, so a display gets one write per fsync, not one per command.
#[derive(Debug, Clone)]
pub struct DisplayBatch {
    /// The first frame's change number (`u64::MAX`: the hall was rebuilt,
    /// every display must start over).
    pub first: u64,
    /// The last frame's change number.
    pub last: u64,
    /// The frames, each with its length prefix.
    pub frames: Bytes,
}

impl DisplayBatch {
    /// The marker that tells displays to resynchronise.
    pub(super) fn resync() -> DisplayBatch {
        DisplayBatch {
            first: u64::MAX,
            last: u64::MAX,
            frames: Bytes::new(),
        }
    }

    /// Whether this is [`DisplayBatch::resync`].
    pub fn is_resync(&self) -> bool {
        self.first == u64::MAX
    }

    /// The frames numbered above `seen`, if any.
    pub fn after(&self, seen: u64) -> Option<Bytes> {
        if self.last <= seen {
            None
        } else if self.first > seen {
            Some(self.frames.clone())
        } else {
            Some(codec::skip_frames(
                &self.frames,
                (seen - self.first + 1) as usize,
            ))
        }
    }
}

/// What the journal's commit hook publishes once a record is durable.
#[derive(Debug)]
pub struct Published {
    /// The encoded display update and its change number.
    pub(super) display: Option<(u64, Bytes)>,
    pub(super) notifications: Vec<Arc<Notification>>,
    /// Every notification numbered below this is durable.
    pub(super) notifications_upto: u64,
}

/// What a record that publishes nothing tells the commit hook.
pub(super) fn empty_publish(outbox: &Outbox) -> Published {
    Published {
        display: None,
        notifications: Vec::new(),
        notifications_upto: outbox.next_number(),
    }
}

/// Updated by the journal's commit hook (the writer thread).
#[derive(Debug, Default)]
pub(super) struct Commits {
    /// Every notification numbered below this is durable.
    pub(super) notifications_upto: AtomicU64,
    /// When the last record became durable (ms since the epoch; 0: none yet).
    pub(super) last_ms: AtomicU64,
    /// Every record numbered below this is in the local journal files.
    pub(super) durable_seq: AtomicU64,
}

/// The journal writer's commit hook (it runs on the writer thread) for a
/// hall publishing to `display` and `notifications`: marks what is durable
/// in `commits`, then sends on what the records publish.
pub(super) fn commit_hook(
    display: &broadcast::Sender<DisplayBatch>,
    notifications: &broadcast::Sender<Arc<Notification>>,
    commits: &Arc<Commits>,
) -> OnCommit<Published> {
    let display = display.clone();
    let notifications = notifications.clone();
    let commits = commits.clone();
    Box::new(move |batch: Vec<(u64, Published)>| {
        commits.last_ms.store(clock::now().0, Ordering::Release);
        let mut frames = bytes::BytesMut::new();
        let mut numbers: Option<(u64, u64)> = None;
        if let Some((seq, _)) = batch.last() {
            commits.durable_seq.store(seq + 1, Ordering::Release);
        }
        for (_, published) in batch {
            commits
                .notifications_upto
                .store(published.notifications_upto, Ordering::Release);
            if let Some((seq, frame)) = published.display {
                frames.extend_from_slice(&frame);
                numbers = Some(numbers.map_or((seq, seq), |(first, _)| (first, seq)));
            }
            for n in published.notifications {
                let _ = notifications.send(n);
            }
        }
        if let Some((first, last)) = numbers {
            // No subscriber is fine; a slow one lags and is dropped.
            let _ = display.send(DisplayBatch {
                first,
                last,
                frames: frames.freeze(),
            });
        }
    })
}

/// A snapshot for a new display, and the feed that continues it.
#[derive(Debug)]
pub struct DisplayFeed {
    /// The first frame to send.
    pub snapshot: DisplayUpdate,
    /// Changes with a `seq` above the snapshot's are new.
    pub seq: u64,
    /// Encoded `DisplayUpdate::Change` frames, batched per group commit,
    /// shared by every subscriber.
    pub updates: broadcast::Receiver<DisplayBatch>,
}

/// What a new notifier gets.
#[derive(Debug)]
pub struct NotifierFeed {
    /// Durable pending notifications at subscription time.
    pub pending: Vec<Arc<Notification>>,
    /// Notifications from the feed numbered below this were in `pending`.
    pub upto: u64,
    /// New notifications as they become durable.
    pub updates: broadcast::Receiver<Arc<Notification>>,
}

/// A display's place in its hall's count; given back on drop.
#[derive(Debug)]
pub struct DisplaySeat(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DisplaySeat {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HallShard {
    /// Counts one more display subscriber, if fewer than `limit` are.
    pub fn add_display(&self, limit: usize) -> Option<DisplaySeat> {
        self.displays
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| DisplaySeat(self.displays.clone()))
    }

    /// Subscribes a display: a snapshot and the changes after it.
    pub fn watch(&self) -> DisplayFeed {
        let st = self.state.lock();
        // Subscribing under the lock: every change after the snapshot's seq
        // is applied later, so committed later, so sent to this receiver.
        let updates = self.display.subscribe();
        DisplayFeed {
            snapshot: DisplayUpdate::Snapshot {
                seq: st.derived.seq,
                view: st.hall.view(),
                recent_calls: st.derived.recent.to_vec(),
            },
            seq: st.derived.seq,
            updates,
        }
    }

    /// What a board lists besides windows and calls: each line's next
    /// tickets (请…准备) and the latest no-shows (过号), as of the display
    /// change number it carries. Read under the hall's lock, so the two
    /// lists and the number agree. O(I × log n).
    pub fn board_lines(&self) -> BoardLines {
        let st = self.state.lock();
        BoardLines {
            seq: st.derived.seq,
            next: st.hall.next_up(display::NEXT_PER_ITEM),
            no_shows: st.derived.no_shows.to_vec(),
        }
    }

    /// Subscribes a notifier: the durable pending notifications, then new
    /// ones as they become durable.
    pub fn notifications(&self) -> NotifierFeed {
        let st = self.state.lock();
        // Subscribe first, then read the durable mark: a notification below
        // the mark is in `pending`; one at or above it is published after
        // the subscription, so it reaches `updates`.
        let updates = self.notifications.subscribe();
        let upto = self.commits.notifications_upto.load(Ordering::Acquire);
        NotifierFeed {
            pending: st.derived.outbox.pending_below(upto),
            upto,
            updates,
        }
    }

    /// The number inside a notification id of this hall.
    pub fn notification_number(id: &Notification) -> Option<u64> {
        id.id.rsplit('-').next()?.parse().ok()
    }
}
