//! Opening a hall from its journal: every record read back through the
//! same dispatch core that applied it, into a fresh state, then a writer
//! started on the newest file. The same path rebuilds a hall after a
//! journal failure ([`HallShard::recover`]) and, in cluster mode, after
//! this node gave the hall up: what was applied but never stored is undone
//! by rebuilding from what is.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hallq_core::Hall;
use hallq_proto::codec;
use hallq_proto::wire::Notification;
use tokio::sync::broadcast;

use super::derived::Derived;
use super::feeds::{commit_hook, empty_publish, Commits, DisplayBatch, Published};
use super::ownership::{Mode, Receipt};
use super::{HallShard, OpenError, State};
use crate::clock;
use crate::config::HallConfig;
use crate::fanout::display::RecentCalls;
use crate::fanout::outbox::Outbox;
use crate::journal::{self, Entry, Journal};

/// Replays hall `config`'s journal in `dir` into a fresh state (starting
/// from `spec` until the journal's own configuration record) and starts a
/// writer whose commit hook publishes to `display` and `notifications`.
pub(super) fn load(
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
    hall.set_phone_limits(config.phone_limits);
    let mut derived = Derived {
        outbox: {
            let mut outbox = Outbox::new(&config.id, config.templates.clone());
            outbox.set_sms_limit(config.sms_per_phone_per_hour);
            outbox
        },
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
    let on_commit = commit_hook(display, notifications, commits);
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

impl HallShard {
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
    pub(super) fn reload(&self) -> bool {
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
        // One lock, released before `load`: a second `lock()` inside the
        // same expression would wait for the first forever.
        let (templates, phone_limits, sms_per_phone_per_hour) = {
            let st = self.state.lock();
            (
                st.derived.outbox.templates().clone(),
                st.hall.phone_limits(),
                st.derived.outbox.sms_limit(),
            )
        };
        let hall = HallConfig {
            id: self.id.clone(),
            name: self.name.clone(),
            timezone_offset_minutes: self.offset_minutes,
            spec: self.spec.clone(),
            templates,
            export_key: None,
            phone_limits,
            sms_per_phone_per_hour,
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
            rebuilt.mode = std::mem::replace(&mut st.mode, Mode::Follower);
        }
        *st = rebuilt;
        *self.writer.lock() = Some(writer);
        true
    }
}
