//! One hall's shard: its dispatch state, outbox and display feed behind one
//! uncontended lock, and its own journal.
//!
//! A command is applied under the lock, its events queued to the journal in
//! the same critical section (so the journal's order is the order they were
//! applied in), and the caller is answered once the journal says the record
//! is on disk. The journal's commit hook then feeds displays and notifiers,
//! in journal order, with what is durable. Halls never wait on each other.

use hallq_proto::ErrorCode;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use hallq_proto::codec;
use hallq_proto::wire::{DisplayUpdate, HallHealth, Notification};
use hallq_proto::types::Timestamp;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::clock;
use crate::config::{HallConfig, Templates};
use hallq_core::{Command, DispatchError, Event, Hall};
use crate::fanout::display::{self, RecentCalls};
use crate::fanout::outbox::Outbox;
use crate::journal::{self, Journal, JournalError, JournalHandle};
use crate::stats::{self, ExportPage};
use hallq_proto::wire::{DayStats, StatsBy};

mod cluster;
pub use cluster::{Applied, ClusterLink, LeaseClock, Role};
use cluster::{Mode, Receipt};

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
    fn resync() -> DisplayBatch {
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

/// One journal record: what one request changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Entry {
    /// The events of one command (with a business-day roll before it, if
    /// the day changed).
    Events(Vec<Event>),
    /// The gateway acknowledged notification `n`.
    Acked(u64),
    /// The gateway gave up on notification `n`.
    NotificationFailed {
        /// The notification.
        n: u64,
        /// Why.
        reason: String,
    },
    /// A test write after a journal failure; changes nothing.
    Probe,
}

/// Resolves once an acknowledgement is durable.
pub type AckDurable =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ShardError>> + Send>>;

/// What the journal's commit hook publishes once a record is durable.
#[derive(Debug)]
pub struct Published {
    /// The encoded display update and its change number.
    display: Option<(u64, Bytes)>,
    notifications: Vec<Arc<Notification>>,
    /// Every notification numbered below this is durable.
    notifications_upto: u64,
}

/// Why a request to a shard failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ShardError {
    /// The dispatch core refused the command; nothing changed.
    #[error(transparent)]
    Refused(#[from] DispatchError),
    /// The journal could not make the change durable (a full disk, an I/O
    /// error); the hall takes no changes until it can write again, and
    /// retries by itself. Reads and displays go on.
    #[error(
        "the journal could not store the change ({0}); nothing was changed, and the hall \
         takes no changes until its disk can be written again"
    )]
    Storage(String),
    /// Cluster mode: another node serves this hall (or, mid-failover, none
    /// yet). Nothing was changed; ask the owner.
    #[error("hall {0:?} is served by another hallqd node now; nothing was changed here")]
    NotOwner(String),
    /// Cluster mode: etcd did not confirm the change in time. It may or
    /// may not have been recorded; the hall answers again once it knows.
    #[error(
        "the cluster could not confirm the change ({0}); it may or may not have been \
         recorded — look before repeating it"
    )]
    Unconfirmed(String),
}

impl ShardError {
    /// Stable code for clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            ShardError::Refused(e) => e.code(),
            ShardError::Storage(_) => ErrorCode::StorageFailed,
            ShardError::NotOwner(_) => ErrorCode::NotOwner,
            ShardError::Unconfirmed(_) => ErrorCode::ClusterUnavailable,
        }
    }
}

/// Why a shard could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The journal could not be read or is corrupt.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A record could not be decoded.
    #[error("journal {file} record at byte {offset}: cannot decode: {reason}")]
    Decode {
        /// The file.
        file: PathBuf,
        /// The record's offset.
        offset: u64,
        /// Why.
        reason: String,
    },
    /// The hall's configuration is invalid, or cannot replace the one the
    /// journal holds (it would strand tickets).
    #[error(transparent)]
    Spec(#[from] DispatchError),
    /// The configuration could not be journaled.
    #[error(transparent)]
    Storage(ShardError),
}

struct State {
    hall: Hall,
    /// The current journal writer's handle (replaced when recovering).
    journal: JournalHandle<Published>,
    derived: Derived,
    /// Set after a journal failure: no more changes.
    failed: Option<String>,
    /// Who writes the journal: this node alone, this node as the cluster's
    /// owner of the hall, or another node (this one follows).
    mode: Mode,
    /// The number the next journal record gets (records of every day
    /// counted; in cluster mode, the record's number in the etcd log).
    next_seq: u64,
}

/// What is derived from the events, identically live and on replay.
#[derive(Debug)]
struct Derived {
    outbox: Outbox,
    recent: RecentCalls,
    /// Display change counter.
    seq: u64,
    /// The journal records a configuration (a `Reconfigured` event).
    configured: bool,
    /// The number of the record that began the current business day (the
    /// cluster keeps the day's records in etcd from here on).
    day_start_seq: u64,
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

/// One hall.
pub struct HallShard {
    id: String,
    name: String,
    offset_minutes: i32,
    dir: PathBuf,
    /// The spec a fresh replay starts from (the journal's own first record
    /// replaces it).
    spec: hallq_core::HallSpec,
    state: Mutex<State>,
    writer: Mutex<Option<Journal<Published>>>,
    display: broadcast::Sender<DisplayBatch>,
    notifications: broadcast::Sender<Arc<Notification>>,
    /// What the commit hook shares with the shard.
    commits: Arc<Commits>,
    /// Held while recovering from a journal failure.
    recovering: Mutex<()>,
    /// Display subscribers now, against `[limits] displays_per_hall`.
    displays: Arc<std::sync::atomic::AtomicUsize>,
    /// Cluster mode: the link to etcd this hall's records go through.
    cluster: Option<ClusterLink>,
    /// Bumped whenever this node stops serving the hall (cluster mode):
    /// display and notifier streams end, so their clients find the owner.
    moved: tokio::sync::watch::Sender<u64>,
    /// Serialises taking the hall over and rebuilding it after giving up.
    transition: tokio::sync::Mutex<()>,
    /// An owner pipe runs (or is still finishing and rebuilding after the
    /// hall was given up): the hall cannot be taken over again yet.
    pipe_running: std::sync::atomic::AtomicBool,
}

/// A display's place in its hall's count; given back on drop.
#[derive(Debug)]
pub struct DisplaySeat(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DisplaySeat {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Updated by the journal's commit hook (the writer thread).
#[derive(Debug, Default)]
struct Commits {
    /// Every notification numbered below this is durable.
    notifications_upto: AtomicU64,
    /// When the last record became durable (ms since the epoch; 0: none yet).
    last_ms: AtomicU64,
    /// Every record numbered below this is in the local journal files.
    durable_seq: AtomicU64,
}

impl std::fmt::Debug for HallShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HallShard")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl HallShard {
    /// Opens hall `config`'s journal in `dir`, replays it through the
    /// dispatch core and starts its journal writer.
    ///
    /// With `cluster`, the hall starts as a follower of the etcd log; the
    /// cluster's ownership loop decides whether this node takes it.
    pub fn open(
        config: &HallConfig,
        dir: &Path,
        cluster: Option<ClusterLink>,
    ) -> Result<HallShard, OpenError> {
        let (display, _) = broadcast::channel(DISPLAY_BUFFER);
        let (notifications, _) = broadcast::channel(NOTIFIER_BUFFER);
        let commits = Arc::new(Commits::default());
        let (state, writer) = load(
            config,
            dir,
            &config.spec,
            &display,
            &notifications,
            &commits,
            Mode::initial(cluster.is_some()),
        )?;
        Ok(HallShard {
            id: config.id.clone(),
            name: config.name.clone(),
            offset_minutes: config.timezone_offset_minutes,
            dir: dir.to_path_buf(),
            spec: config.spec.clone(),
            writer: Mutex::new(Some(writer)),
            state: Mutex::new(state),
            display,
            notifications,
            commits,
            recovering: Mutex::new(()),
            displays: Arc::default(),
            cluster,
            moved: tokio::sync::watch::channel(0).0,
            transition: tokio::sync::Mutex::new(()),
            pipe_running: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Counts one more display subscriber, if fewer than `limit` are.
    pub fn add_display(&self, limit: usize) -> Option<DisplaySeat> {
        self.displays
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| DisplaySeat(self.displays.clone()))
    }

    /// After a journal failure (a full disk, an I/O error): stops the failed
    /// writer, rebuilds the hall from what the journal holds — exactly what
    /// was acknowledged, since a failed batch is cut off the file — starts a
    /// new writer and tests it with a probe record. Until a probe succeeds
    /// the hall keeps refusing changes but serves reads and displays from
    /// the rebuilt state. Returns whether the hall takes changes again.
    ///
    /// Blocking file I/O and a full replay: call it from a blocking thread.
    pub fn recover(&self) -> bool {
        // One recovery at a time: two would replay and start writers on the
        // same files.
        let _one = self.recovering.lock();
        if self.state.lock().failed.is_none() {
            return true;
        }
        if !self.reload_locked() {
            return false;
        }
        if self.cluster.is_some() {
            // Every record must match the cluster's log: no probe record.
            // The next record followed tests the disk again.
            self.state.lock().failed = None;
            return true;
        }
        // Through `append`, like every record, so the record count holds.
        let probe = {
            let mut st = self.state.lock();
            let published = empty_publish(&st.derived.outbox);
            self.append(&mut st, &Entry::Probe, published)
        };
        let ok = match probe {
            Some(Receipt::Local(rx)) => matches!(rx.blocking_recv(), Ok(Ok(_))),
            _ => false,
        };
        let mut st = self.state.lock();
        if ok {
            tracing::warn!(hall = %self.id, "journal writable again: taking changes");
            st.failed = None;
        }
        ok
    }

    /// Rebuilds the hall from its journal files (cluster mode, after giving
    /// the hall up): what was applied but not stored is undone.
    fn reload(&self) -> bool {
        let _one = self.recovering.lock();
        self.reload_locked()
    }

    /// Stops the writer, replays the journal files into a fresh state and
    /// starts a new writer; displays start over. A failure mark stays.
    fn reload_locked(&self) -> bool {
        if let Some(writer) = self.writer.lock().take() {
            // A failed writer refuses everything; closing joins its thread
            // (after it wrote what was queued) so the files can be read.
            let _ = writer.close();
        }
        let hall = HallConfig {
            id: self.id.clone(),
            name: self.name.clone(),
            timezone_offset_minutes: self.offset_minutes,
            spec: self.spec.clone(),
            templates: self.state.lock().derived.outbox.templates().clone(),
            export_key: None,
        };
        let (mut rebuilt, writer) = match load(
            &hall,
            &self.dir,
            &self.spec,
            &self.display,
            &self.notifications,
            &self.commits,
            Mode::initial(self.cluster.is_some()),
        ) {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(hall = %self.id, error = %e, "journal still unusable");
                return false;
            }
        };
        let mut st = self.state.lock();
        // Displays saw changes that are now undone: keep the change counter
        // moving forward and make every display start over.
        rebuilt.derived.seq = st.derived.seq.max(rebuilt.derived.seq) + 1;
        let _ = self.display.send(DisplayBatch::resync());
        rebuilt.failed = st.failed.take();
        if matches!(st.mode, Mode::Owner(_)) {
            // Taken over again while the files were read: keep serving.
            rebuilt.mode = std::mem::replace(&mut st.mode, Mode::Replica);
        }
        *st = rebuilt;
        *self.writer.lock() = Some(writer);
        true
    }

    /// Whether the hall refuses changes after a journal failure.
    pub fn is_failed(&self) -> bool {
        self.state.lock().failed.is_some()
    }

    /// For `hallq admin health` and `/healthz`; `owner` is the owning
    /// node in cluster mode.
    pub fn health(&self, owner: Option<String>) -> HallHealth {
        let role = self.role();
        let st = self.state.lock();
        let last = self.commits.last_ms.load(Ordering::Acquire);
        HallHealth {
            hall: self.id.clone(),
            journal_writable: st.failed.is_none(),
            journal_error: st.failed.clone(),
            last_fsync_age_secs: (last > 0).then(|| clock::now().secs_since(Timestamp(last))),
            waiting: st.hall.waiting_count() as u64,
            pending_notifications: st.derived.outbox.pending_count() as u64,
            role: role.as_str().to_owned(),
            owner,
            records: st.next_seq,
        }
    }

    /// Brings the hall onto `spec` if the journal does not already record
    /// it: the journal's first record is always the configuration it
    /// started with, and every later change is journaled, so a replay
    /// rebuilds each state on the configuration it had.
    pub async fn adopt(&self, spec: hallq_core::HallSpec) -> Result<(), OpenError> {
        let current = {
            let st = self.state.lock();
            st.derived.configured.then(|| st.hall.spec().clone())
        };
        if current.as_ref() == Some(&spec) {
            return Ok(());
        }
        match self.execute(Command::Reconfigure { spec }, |_, _| ()).await {
            Ok(()) => {
                tracing::info!(hall = %self.id, "hall configuration recorded in the journal");
                Ok(())
            }
            Err(ShardError::Refused(e)) => Err(OpenError::Spec(e)),
            Err(e) => Err(OpenError::Storage(e)),
        }
    }

    /// The current business day (`yyyymmdd`): the hall's, or the calendar's
    /// if none has begun.
    pub fn today(&self) -> u32 {
        let today = clock::business_day(clock::now(), self.offset_minutes);
        self.read(|h| h.day()).map_or(today, |d| d.max(today))
    }

    /// The hall's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The hall's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Applies `command` now and, once its events are durable, answers with
    /// what `answer` made of the hall right after it.
    pub async fn execute<R>(
        &self,
        command: Command,
        answer: impl FnOnce(&Hall, &[Event]) -> R,
    ) -> Result<R, ShardError> {
        let (outcome, receiver) = {
            let mut st = self.state.lock();
            self.check_serving(&st)?;
            let now = clock::now();
            let mut events = self.roll_day(&mut st, now);
            let outcome = st.hall.apply(command, now).map(|command_events| {
                let reply = answer(&st.hall, &command_events);
                events.extend(command_events);
                reply
            });
            if crate::metrics::enabled() && !events.is_empty() {
                crate::metrics::record_events(&self.id, &st.hall, &events);
                metrics::gauge!("hallq_outbox_pending", "hall" => self.id.clone())
                    .set(st.derived.outbox.pending_count() as f64);
            }
            if events.is_empty() {
                return outcome.map_err(ShardError::from);
            }
            (outcome, self.journal_events(&mut st, events))
        };
        self.await_durable(receiver).await?;
        outcome.map_err(ShardError::from)
    }

    /// A business day that has begun since the last command (at the hall's
    /// local midnight) is begun first, in the same record.
    fn roll_day(&self, st: &mut State, now: Timestamp) -> Vec<Event> {
        let today = clock::business_day(now, self.offset_minutes);
        if st.hall.day().is_some_and(|day| day >= today) {
            return Vec::new();
        }
        match st.hall.apply(Command::BeginDay { day: today }, now) {
            Ok(events) => {
                tracing::info!(hall = %self.id, day = today, "business day begun");
                events
            }
            Err(e) => {
                tracing::error!(hall = %self.id, error = %e, "cannot begin the business day");
                Vec::new()
            }
        }
    }

    /// Begins a new business day if one has started (called by a timer, so
    /// displays turn over at midnight even in a quiet hall).
    pub async fn tick(&self) -> Result<(), ShardError> {
        let receiver = {
            let mut st = self.state.lock();
            if self.check_serving(&st).is_err() {
                return Ok(());
            }
            let now = clock::now();
            let mut events = self.roll_day(&mut st, now);
            // Bookings nobody came for are forfeited on time (§四(七)8).
            if let Ok(forfeited) = st.hall.apply(Command::ForfeitOverdue, now) {
                events.extend(forfeited);
            }
            if events.is_empty() {
                return Ok(());
            }
            self.journal_events(&mut st, events)
        };
        self.await_durable(receiver).await
    }

    /// Queues `events` (already applied) to the journal; derives their
    /// display update and notifications for the commit hook.
    fn journal_events(&self, st: &mut State, events: Vec<Event>) -> Option<Receipt> {
        let (display, notifications) = st.derived.absorb(&st.hall, &events, st.next_seq);
        let published = Published {
            display,
            notifications,
            notifications_upto: st.derived.outbox.next_number(),
        };
        self.append(st, &Entry::Events(events), published)
    }

    fn append(&self, st: &mut State, entry: &Entry, published: Published) -> Option<Receipt> {
        let day = journal_day(&st.hall);
        match codec::encode_record(entry) {
            Ok(payload) => {
                let seq = st.next_seq;
                st.next_seq += 1;
                Some(match &st.mode {
                    Mode::Local => Receipt::Local(st.journal.append(payload, &day, published)),
                    Mode::Owner(pipe) => pipe.send(seq, payload, day, published),
                    Mode::Replica => Receipt::refused(ShardError::NotOwner(self.id.clone())),
                })
            }
            Err(e) => {
                // Cannot happen for well-formed events; refuse further changes
                // rather than run on with state the journal does not have.
                let why = format!("cannot encode a journal record: {e}");
                tracing::error!(hall = %self.id, error = %why);
                st.failed = Some(why);
                None
            }
        }
    }

    async fn await_durable(&self, receiver: Option<Receipt>) -> Result<(), ShardError> {
        let result = match receiver {
            // Cluster mode: a failure is the owner pipe's to handle (it
            // gives the hall up and rebuilds it from what was stored).
            Some(Receipt::Cluster(receiver)) => {
                return match receiver.await {
                    Ok(result) => result,
                    Err(_) => Err(ShardError::NotOwner(self.id.clone())),
                }
            }
            Some(Receipt::Local(receiver)) => match receiver.await {
                Ok(Ok(_seq)) => return Ok(()),
                // Shutting down: nothing failed, the change just did not
                // make it in.
                Ok(Err(e @ JournalError::Closed)) => {
                    return Err(ShardError::Storage(e.to_string()))
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "the journal writer stopped".to_owned(),
            },
            None => self
                .state
                .lock()
                .failed
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        };
        tracing::error!(hall = %self.id, error = %result, "journal failed: refusing changes until it can write again");
        self.state.lock().failed.get_or_insert(result.clone());
        // Undo what was applied but not stored before answering, so that
        // nobody reads a change they were told failed. (The daemon runs on
        // the multi-threaded runtime, where blocking in place is allowed.)
        tokio::task::block_in_place(|| self.recover());
        Err(ShardError::Storage(result))
    }

    /// Records the gateway's acknowledgement of notification `id` and
    /// returns, without waiting for the disk, what resolves once it is
    /// durable — so a gateway acknowledging quickly is not held to one
    /// fsync per message (its acknowledgements are group-committed).
    /// Unknown or already acknowledged ids are ignored (`None`): redelivery
    /// is harmless.
    pub fn ack(self: &Arc<Self>, id: &str) -> Result<Option<AckDurable>, ShardError> {
        self.settle(id, None)
    }

    /// Records that the gateway gave up on notification `id` (after its
    /// retries), with `reason`: it leaves the outbox and counts as failed.
    /// Like [`HallShard::ack`], returns what resolves once durable.
    pub fn fail_notification(
        self: &Arc<Self>,
        id: &str,
        reason: &str,
    ) -> Result<Option<AckDurable>, ShardError> {
        self.settle(id, Some(reason))
    }

    /// Takes notification `id` out of the outbox: acknowledged (`failed`
    /// is `None`) or failed for good.
    fn settle(
        self: &Arc<Self>,
        id: &str,
        failed: Option<&str>,
    ) -> Result<Option<AckDurable>, ShardError> {
        let receiver = {
            let mut st = self.state.lock();
            self.check_serving(&st)?;
            let Some(n) = st.derived.outbox.pending_number(id) else {
                return Ok(None);
            };
            let entry = match failed {
                None => {
                    st.derived.outbox.ack(n);
                    Entry::Acked(n)
                }
                Some(reason) => {
                    tracing::warn!(hall = %self.id, notification = id, reason, "notification failed for good");
                    metrics::counter!("hallq_outbox_failed_total", "hall" => self.id.clone())
                        .increment(1);
                    st.derived.outbox.fail(n, reason);
                    Entry::NotificationFailed {
                        n,
                        reason: reason.to_owned(),
                    }
                }
            };
            let published = empty_publish(&st.derived.outbox);
            self.append(&mut st, &entry, published)
        };
        let shard = self.clone();
        Ok(Some(Box::pin(async move {
            shard.await_durable(receiver).await
        })))
    }

    /// New message texts (a reload): notifications from now on use them.
    /// Returns whether they differ from the ones in force.
    pub fn set_templates(&self, templates: Templates) -> bool {
        let mut st = self.state.lock();
        let changed = st.derived.outbox.templates() != &templates;
        st.derived.outbox.set_templates(templates);
        changed
    }

    /// Statistics of business day `day` (SPEC §2 item 13), from the
    /// journal file of that day: they survive restarts and any past day
    /// can be asked for. Blocking file I/O: call it from a blocking thread.
    pub fn stats(&self, day: u32, by: Option<StatsBy>) -> Result<DayStats, JournalError> {
        let entries = stats::read_day(&self.dir, day)?;
        Ok(stats::compute(&self.id, day, &entries, by))
    }

    /// Per-ticket records of business day `day` for upstream aggregation
    /// (§7.3.1), from `from` on, phone numbers as keyed hashes. Blocking
    /// file I/O, like [`HallShard::stats`].
    pub fn export(
        &self,
        day: u32,
        from: u32,
        key: Option<&[u8]>,
    ) -> Result<ExportPage, JournalError> {
        let entries = stats::read_day(&self.dir, day)?;
        Ok(stats::export(&self.id, &entries, from, key))
    }

    /// Reads the hall under its lock.
    pub fn read<R>(&self, f: impl FnOnce(&Hall) -> R) -> R {
        f(&self.state.lock().hall)
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

    /// Flushes and stops the journal writer (at shutdown).
    pub fn close(&self) {
        if let Some(writer) = self.writer.lock().take() {
            match writer.close() {
                Ok(stats) => tracing::info!(
                    hall = %self.id,
                    records = stats.records,
                    fsyncs = stats.fsyncs,
                    "journal closed"
                ),
                Err(e) => {
                    tracing::error!(hall = %self.id, error = %e, "journal closed with an error")
                }
            }
        }
    }
}

/// The journal file day for the hall's current business day.
fn journal_day(hall: &Hall) -> String {
    clock::day_string(hall.day().unwrap_or_default())
}

/// What a record that publishes nothing tells the commit hook.
fn empty_publish(outbox: &Outbox) -> Published {
    Published {
        display: None,
        notifications: Vec::new(),
        notifications_upto: outbox.next_number(),
    }
}

/// Replays hall `config`'s journal in `dir` into a fresh state (starting
/// from `spec` until the journal's own configuration record) and starts a
/// writer whose commit hook publishes to `display` and `notifications`.
fn load(
    config: &HallConfig,
    dir: &Path,
    spec: &hallq_core::HallSpec,
    display: &broadcast::Sender<DisplayBatch>,
    notifications: &broadcast::Sender<Arc<Notification>>,
    commits: &Arc<Commits>,
    mode: Mode,
) -> Result<(State, Journal<Published>), OpenError> {
    let replay = journal::open(dir)?;
    if let Some(cut) = &replay.truncated {
        tracing::warn!(
            hall = %config.id,
            file = %cut.file.display(),
            offset = cut.offset,
            dropped_bytes = cut.dropped_bytes,
            "journal ended in a torn record (a crash mid-write); cut it off"
        );
    }
    let mut hall = Hall::new(spec.clone())?;
    let mut derived = Derived {
        outbox: Outbox::new(&config.id, config.templates.clone()),
        recent: RecentCalls::default(),
        seq: 0,
        configured: false,
        day_start_seq: 0,
    };
    for (seq, record) in replay.records.iter().enumerate() {
        let entry: Entry =
            codec::decode_record(&record.payload).map_err(|e| OpenError::Decode {
                file: record.file.to_path_buf(),
                offset: record.offset,
                reason: e.to_string(),
            })?;
        derived.replay(&mut hall, entry, seq as u64);
    }
    let today = clock::business_day(clock::now(), config.timezone_offset_minutes);
    // The journal's day never goes backwards, even if the clock did.
    let day = hall.day().map_or(today, |d| d.max(today));
    commits
        .notifications_upto
        .store(derived.outbox.next_number(), Ordering::Release);
    commits
        .durable_seq
        .store(replay.next_seq, Ordering::Release);
    let on_commit = {
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
    };
    let writer = Journal::start(&replay, &clock::day_string(day), on_commit)?;
    tracing::info!(
        hall = %config.id,
        records = replay.records.len(),
        waiting = hall.waiting_count(),
        pending_notifications = derived.outbox.pending_count(),
        "hall replayed"
    );
    let state = State {
        journal: writer.handle(),
        hall,
        derived,
        failed: None,
        mode,
        next_seq: replay.next_seq,
    };
    Ok((state, writer))
}

impl Derived {
    /// Applies journal record number `record`, read back (a replay, or a
    /// record another node wrote), to `hall` and to what is derived from it.
    fn replay(&mut self, hall: &mut Hall, entry: Entry, record: u64) {
        match entry {
            Entry::Events(events) => {
                for event in &events {
                    hall.replay(event);
                }
                self.absorb(hall, &events, record);
            }
            Entry::Acked(n) => self.outbox.ack(n),
            Entry::NotificationFailed { n, reason } => self.outbox.fail(n, &reason),
            Entry::Probe => {}
        }
    }

    /// Updates what is derived from `events` (applied to `hall` just now,
    /// journal record number `record`): outbox, recent calls, display
    /// counter, where the business day began. Called identically live and
    /// on replay; returns the display frame and the notifications to
    /// publish once the events are durable.
    fn absorb(
        &mut self,
        hall: &Hall,
        events: &[Event],
        record: u64,
    ) -> (Option<(u64, Bytes)>, Vec<Arc<Notification>>) {
        for event in events {
            match event {
                Event::Reconfigured { .. } => self.configured = true,
                Event::DayBegun { .. } => self.day_start_seq = record,
                _ => {}
            }
        }
        let notifications = self.outbox.on_events(events, hall);
        let next_seq = self.seq + 1;
        let update = display::change(next_seq, events, hall, &mut self.recent);
        let frame = update.and_then(|update| {
            self.seq = next_seq;
            codec::encode(&update)
                .map(|frame| (next_seq, frame))
                .map_err(|e| tracing::error!(error = %e, "display update too large to send"))
                .ok()
        });
        (frame, notifications)
    }
}
