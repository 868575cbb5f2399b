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
use crate::fanout::display::{RecentCalls, RecentNoShows};
use crate::fanout::outbox::Outbox;
use crate::journal::{self, Entry, Journal};

/// Replays hall `config`'s journal in `dir` into a fresh state (starting
/// from `spec` until the journal's own configuration record) and starts a
/// writer whose commit hook publishes to `display` and `notifications`.
/// `links` make the visitor links the replayed issue messages carry, so a
/// replay rebuilds them as first sent.
// The shard's parts, each needed here once; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub(super) fn load(
    config: &HallConfig,
    dir: &Path,
    spec: &hallq_core::HallSpec,
    display: &broadcast::Sender<DisplayBatch>,
    notifications: &broadcast::Sender<Arc<Notification>>,
    commits: &Arc<Commits>,
    mode: Mode,
    links: &Arc<crate::fanout::link::VisitorLinks>,
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
    hall.set_counter_rules(config.counter_rules);
    hall.set_work_order_rules(config.work_order_rules.clone());
    let mut derived = Derived {
        outbox: {
            let mut outbox = Outbox::new(&config.id, config.templates.clone());
            outbox.set_sms_limit(config.sms_per_phone_per_hour);
            outbox.set_visitor_link(links.clone(), config.visitor.url.clone());
            outbox.set_hall_name(&config.name);
            outbox
        },
        recent: RecentCalls::default(),
        no_shows: RecentNoShows::default(),
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
        wait_target_secs: config.wait_target_secs,
        alerts: super::AlertState::new(config.alerts, config.alert_recipients.clone()),
    };
    Ok((state, writer))
}

/// How much room the hall's directory must have, shown by writing and
/// removing a scratch file of this size, before a failed journal is tried
/// again. A disk with room for the few-byte probe record but not for the
/// next batch would otherwise flip the hall writable and failed every tick
/// (issue 19: under `prlimit --fsize` it did, five times in ten seconds).
pub(super) const HEADROOM: usize = 1 << 20;

/// Whether `dir` has room for [`HEADROOM`] bytes more, durably: written,
/// fsynced (a full disk may only say so then), removed.
fn has_headroom(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let scratch = dir.join(".hallq-headroom");
    let result = (|| {
        let mut file = std::fs::File::create(&scratch)?;
        file.write_all(&vec![0u8; HEADROOM])?;
        file.sync_all()
    })();
    let _ = std::fs::remove_file(&scratch);
    result
}

impl HallShard {
    /// After a journal failure (a full disk, an I/O error). First, once:
    /// what was applied but not stored is undone by rebuilding the hall from
    /// what the journal holds — exactly what was acknowledged, since a failed
    /// batch is cut off the file. Displays are not dropped: they were only
    /// ever sent what was durable, which is what the rebuilt hall holds.
    /// Then, on each call until it works: once the directory shows room
    /// ([`HEADROOM`]), a new writer is started on the files as they are (the
    /// hall is not rebuilt again) and tested with a probe record. Until a
    /// probe succeeds the hall refuses changes but serves reads and
    /// displays. Returns whether the hall takes changes again.
    ///
    /// Blocking file I/O (and once a full replay): call it from a blocking
    /// thread.
    pub fn recover(&self) -> bool {
        // One recovery at a time: two would replay and start writers on the
        // same files.
        let _one = self.recovering.lock();
        if self.state.lock().failed.is_none() {
            return true;
        }
        if self.cluster.is_some() {
            // Every record must match the cluster's log: no probe record.
            // The next record followed tests the disk again.
            if !self.reload_locked(true) {
                return false;
            }
            self.state.lock().failed = None;
            return true;
        }
        // Records numbered from `durable_seq` on were applied but never
        // stored: undo them (once; afterwards the two agree).
        let undone = self.state.lock().next_seq != self.commits.durable_seq.load(Ordering::Acquire);
        if undone && !self.reload_locked(false) {
            return false;
        }
        if let Err(e) = has_headroom(&self.dir) {
            tracing::debug!(hall = %self.id, error = %e, "journal directory still has no room");
            return false;
        }
        if !undone && !self.restart_writer() {
            return false;
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
        } else {
            // The probe took a number but is not stored, and it changed
            // nothing else: give the number back (nothing else appends to a
            // failed hall). The next try compares with the files again.
            tracing::debug!(hall = %self.id, "journal probe failed");
            st.next_seq = self.commits.durable_seq.load(Ordering::Acquire);
        }
        ok
    }

    /// Replaces a failed writer by a new one on the journal files as they
    /// are, without rebuilding the hall (its state already matches them).
    /// Falls back to a rebuild if the files say otherwise.
    fn restart_writer(&self) -> bool {
        if let Some(writer) = self.writer.lock().take() {
            let _ = writer.close();
        }
        let replay = match journal::open(&self.dir) {
            Ok(replay) => replay,
            Err(e) => {
                tracing::error!(hall = %self.id, error = %e, "journal still unusable");
                return false;
            }
        };
        let mut st = self.state.lock();
        if replay.next_seq != st.next_seq {
            drop(st);
            return self.reload_locked(false);
        }
        let today = clock::business_day(clock::now(), self.offset_minutes);
        let day = st.hall.day().map_or(today, |d| d.max(today));
        let on_commit = commit_hook(&self.display, &self.notifications, &self.commits);
        match Journal::start(&replay, &clock::day_string(day), on_commit) {
            Ok(writer) => {
                st.journal = writer.handle();
                *self.writer.lock() = Some(writer);
                true
            }
            Err(e) => {
                tracing::error!(hall = %self.id, error = %e, "cannot start a journal writer");
                false
            }
        }
    }

    /// Rebuilds the hall from its journal files (cluster mode, after giving
    /// the hall up): what was applied but not stored is undone.
    pub(super) fn reload(&self) -> bool {
        let _one = self.recovering.lock();
        self.reload_locked(true)
    }

    /// Stops the writer, replays the journal files into a fresh state and
    /// starts a new writer; with `resync`, displays start over (cluster
    /// mode: what they were sent may not match what this node stored). A
    /// failure mark stays.
    fn reload_locked(&self, resync: bool) -> bool {
        if let Some(writer) = self.writer.lock().take() {
            // A failed writer refuses everything; closing joins its thread
            // (after it wrote what was queued) so the files can be read.
            let _ = writer.close();
        }
        // One lock, released before `load`: a second `lock()` inside the
        // same expression would wait for the first forever.
        let (
            templates,
            phone_limits,
            sms_per_phone_per_hour,
            counter_rules,
            wait_target_secs,
            (alerts, alert_recipients, work_order_rules),
        ) = {
            let st = self.state.lock();
            (
                st.derived.outbox.templates().clone(),
                st.hall.phone_limits(),
                st.derived.outbox.sms_limit(),
                st.hall.counter_rules(),
                st.wait_target_secs,
                (
                    st.alerts.settings,
                    st.alerts.recipients.clone(),
                    st.hall.work_order_rules().clone(),
                ),
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
            counter_rules,
            wait_target_secs,
            visitor: self.visitor(),
            alerts,
            alert_recipients,
            work_order_rules,
        };
        let (mut rebuilt, writer) = match load(
            &hall,
            &self.dir,
            &self.spec,
            &self.display,
            &self.notifications,
            &self.commits,
            Mode::initial(self.cluster.is_some()),
            &self.links,
        ) {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(hall = %self.id, error = %e, "journal still unusable");
                return false;
            }
        };
        let mut st = self.state.lock();
        // Keep the change counter moving forward: a display ignores changes
        // not newer than what it has, and may have seen numbers the undone
        // changes took.
        rebuilt.derived.seq = st.derived.seq.max(rebuilt.derived.seq) + 1;
        if resync {
            let _ = self.display.send(DisplayBatch::resync());
        }
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
