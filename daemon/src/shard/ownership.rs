//! A hall in cluster mode: owning it (records go to etcd, fenced, then to
//! the local journal) or following it (records another node wrote are
//! applied and written to the local journal too, so a takeover only
//! catches up the last few).
//!
//! Ownership changes go through [`HallShard::promote`] and
//! [`HallShard::give_up`]; the cluster's loop (`crate::cluster`) decides
//! when, through [`SharedHall`], which the shard implements here. Giving
//! up undoes whatever was applied but not stored: the owner pipe finishes
//! what it had sent, then the hall is rebuilt from its local journal files,
//! which only ever hold records etcd has acknowledged.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use hallq_core::HallSpec;
use hallq_proto::codec;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::feeds::{empty_publish, Published};
use super::{journal_day, HallShard, ShardError, State};
use crate::cluster::appender::Pipeline;
use crate::cluster::store::{Store, StoreError, MAX_BATCH_BYTES, MAX_BATCH_RECORDS};
use crate::cluster::{Applied, ClusterLink, SharedHall};
use crate::journal::{self, Entry, JournalHandle};

/// Appends of one hall in etcd's hands at once (each a transaction). One
/// (what waits meanwhile goes in the next, up to etcd's limits): with 2 and
/// 4, `bench/cluster.sh` stored fewer records per second — etcd, short of
/// CPU there, took longer per transaction, and took about half of the
/// appends sent together in the other order, so those went again alone
/// ([`crate::cluster::appender`]).
const PIPELINE_DEPTH: usize = 1;

/// The hall's mode on this node: who writes its journal.
#[derive(Debug)]
pub(super) enum Mode {
    /// No cluster: this node, to its local journal alone.
    Alone,
    /// This node owns the hall: records go to etcd, then the local journal.
    Owner(OwnerPipe),
    /// Another node owns the hall (or nobody, mid-failover); this node
    /// follows its log.
    Follower,
}

impl Mode {
    /// How a hall starts: alone, or following the cluster's log.
    pub(super) fn initial(cluster: bool) -> Mode {
        if cluster {
            Mode::Follower
        } else {
            Mode::Alone
        }
    }

    /// As shown by `hallq admin health` (and `/healthz`): the JSON value
    /// clients and scripts match on.
    pub(super) fn as_str(&self) -> &'static str {
        match self {
            Mode::Alone => "alone",
            Mode::Owner(_) => "owner",
            Mode::Follower => "follower",
        }
    }
}

/// The way into the owner pipe: records in journal order.
#[derive(Debug)]
pub(super) struct OwnerPipe {
    fence: i64,
    tx: mpsc::UnboundedSender<Outgoing>,
    task: Option<JoinHandle<()>>,
}

/// One record on its way to etcd and then the local journal.
struct Outgoing {
    seq: u64,
    payload: Vec<u8>,
    day: String,
    published: Published,
    done: oneshot::Sender<Result<(), ShardError>>,
}

/// Resolves once a record is stored, or says why not.
pub(super) enum Receipt {
    /// The local journal's answer.
    Local(journal::AppendReceiver),
    /// The owner pipe's answer.
    Cluster(oneshot::Receiver<Result<(), ShardError>>),
}

impl Receipt {
    /// A receipt that already says no.
    pub(super) fn refused(e: ShardError) -> Receipt {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(e));
        Receipt::Cluster(rx)
    }
}

impl OwnerPipe {
    pub(super) fn send(
        &self,
        seq: u64,
        payload: Vec<u8>,
        day: String,
        published: Published,
    ) -> Receipt {
        let (done, rx) = oneshot::channel();
        let outgoing = Outgoing {
            seq,
            payload,
            day,
            published,
            done,
        };
        if let Err(mpsc::error::SendError(o)) = self.tx.send(outgoing) {
            let _ = o.done.send(Err(ShardError::Unconfirmed(
                "the hall's owner pipe stopped".into(),
            )));
        }
        Receipt::Cluster(rx)
    }
}

impl HallShard {
    /// Refuses changes unless this node may make them now: it serves the
    /// hall ([`HallShard::serving`]) and its journal takes records.
    pub(super) fn check_serving(&self, st: &State) -> Result<(), ShardError> {
        self.check_owning(st)?;
        match &st.failed {
            Some(why) => Err(ShardError::Storage(why.clone())),
            None => Ok(()),
        }
    }

    /// Refuses unless this node is the one that answers for the hall.
    fn check_owning(&self, st: &State) -> Result<(), ShardError> {
        match &st.mode {
            Mode::Alone => Ok(()),
            Mode::Owner(_) if self.cluster.as_ref().is_some_and(|c| c.lease.alive()) => Ok(()),
            _ => Err(ShardError::NotOwner(self.id.clone())),
        }
    }

    /// Whether this node serves the hall's clients now (always, without a
    /// cluster) — reads, displays and new connections. A failed journal
    /// does not change that (issue 19): only changes are refused then,
    /// with `storage_failed`, by [`HallShard::check_serving`].
    pub fn serving(&self) -> bool {
        self.check_owning(&self.state.lock()).is_ok()
    }

    /// The fence this node owns the hall with, if it does.
    pub fn fence(&self) -> Option<i64> {
        match &self.state.lock().mode {
            Mode::Owner(pipe) => Some(pipe.fence),
            _ => None,
        }
    }

    /// Changes whenever this node stops serving the hall.
    pub fn moved(&self) -> tokio::sync::watch::Receiver<u64> {
        self.moved.subscribe()
    }

    /// Every record numbered below this is in this node's journal files.
    pub fn durable_seq(&self) -> u64 {
        self.commits.durable_seq.load(Ordering::Acquire)
    }

    /// The number of the record that began the current business day.
    pub fn day_start_seq(&self) -> u64 {
        self.state.lock().derived.day_start_seq
    }

    /// The number of the next record.
    pub fn next_seq(&self) -> u64 {
        self.state.lock().next_seq
    }

    /// Takes the hall over with `fence` (the owner key this node just
    /// created): catches up on the records it has not applied yet, then
    /// serves. Nobody else can append meanwhile — the fence changed.
    /// Returns `false` (not serving yet; ask again) while the pipe of an
    /// earlier ownership is still finishing: until its rebuild, the state
    /// may hold changes that were never stored.
    pub async fn promote(self: &Arc<Self>, fence: i64) -> Result<bool, StoreError> {
        let link = self.link();
        let _one = self.transition.lock().await;
        if self.pipe_running.load(Ordering::Acquire) {
            return Ok(false);
        }
        if self.loose_fence.load(Ordering::Acquire) == fence {
            // An append of the last ownership may still go in under this
            // fence: give the key up, so the hall is taken with a new one.
            tracing::warn!(hall = %self.id, fence, "letting the ownership key go, to take the hall anew");
            if let Err(e) = link.store.release(&self.id, fence).await {
                tracing::warn!(hall = %self.id, error = %e, "cannot let the ownership key go yet");
            }
            return Ok(false);
        }
        self.catch_up_locked(&link.store).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut st = self.state.lock();
            if !matches!(st.mode, Mode::Follower) {
                return Ok(false);
            }
            st.mode = Mode::Owner(OwnerPipe {
                fence,
                tx,
                task: None,
            });
            self.pipe_running.store(true, Ordering::Release);
        }
        let task = tokio::spawn(self.clone().run_pipe(link, fence, rx));
        if let Mode::Owner(pipe) = &mut self.state.lock().mode {
            pipe.task = Some(task);
        }
        tracing::info!(hall = %self.id, fence, next = self.next_seq(), "serving the hall (owner)");
        Ok(true)
    }

    /// Stops serving the hall at once: requests are refused from now on,
    /// displays and notifiers are told to go. Records already sent on
    /// finish; then the hall is rebuilt from what is stored. Returns the
    /// pipe's task (finished once the rebuild is done), if this node owned
    /// the hall.
    pub fn give_up(&self, why: &str) -> Option<JoinHandle<()>> {
        let mut st = self.state.lock();
        let Mode::Owner(pipe) = std::mem::replace(&mut st.mode, Mode::Follower) else {
            return None;
        };
        drop(st);
        tracing::warn!(hall = %self.id, fence = pipe.fence, reason = why, "no longer serving the hall");
        self.moved.send_modify(|n| *n += 1);
        let OwnerPipe { task, .. } = pipe;
        task
    }

    fn link(&self) -> ClusterLink {
        self.cluster
            .clone()
            .expect("cluster calls are made in cluster mode only")
    }

    /// Sends records to etcd in batches (one transaction each, fenced), up
    /// to [`PIPELINE_DEPTH`] in flight, then to the local journal in order;
    /// answers each once both have it and every earlier record is in
    /// both. Ends when the hall is given up; then rebuilds the hall from
    /// disk.
    async fn run_pipe(
        self: Arc<Self>,
        link: ClusterLink,
        fence: i64,
        mut rx: mpsc::UnboundedReceiver<Outgoing>,
    ) {
        // After a failure, what the records queued behind it are told: they
        // were applied on top of a change that was not stored.
        let mut failure: Option<ShardError> = None;
        let mut pipeline = Pipeline::new(link.appender.clone(), &self.id, fence, PIPELINE_DEPTH);
        // The batches in flight, as the pipeline has them, and when each
        // went out.
        let mut sent: VecDeque<(Vec<Outgoing>, tokio::time::Instant)> = VecDeque::new();
        let mut waiting: VecDeque<Outgoing> = VecDeque::new();
        let mut batch = Vec::new();
        let mut open = true;
        loop {
            while failure.is_none() && pipeline.ready() && !waiting.is_empty() {
                let part = next_part(&mut waiting);
                let records: Vec<Vec<u8>> = part.iter().map(|o| o.payload.clone()).collect();
                let started = tokio::time::Instant::now();
                let deadline = started + link.lease.ttl + Duration::from_secs(2);
                pipeline.send(part[0].seq, records, deadline);
                sent.push_back((part, started));
            }
            if let Some(refused) = &failure {
                for o in waiting.drain(..) {
                    let _ = o.done.send(Err(refused.clone()));
                }
            }
            if !open && sent.is_empty() && waiting.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                () = pipeline.answered(), if !sent.is_empty() => {}
                n = rx.recv_many(&mut batch, MAX_BATCH_RECORDS), if open => {
                    open = n > 0;
                    waiting.extend(batch.drain(..));
                    continue;
                }
            }
            let (Some(result), Some((part, started))) = (pipeline.next().await, sent.pop_front())
            else {
                continue;
            };
            match result {
                Ok(()) => {
                    metrics::histogram!("hallq_cluster_append_seconds")
                        .record(started.elapsed().as_secs_f64());
                    metrics::counter!("hallq_cluster_records_total").increment(part.len() as u64);
                    self.store_locally(part);
                }
                Err(e) => {
                    let refused = failure.get_or_insert_with(|| {
                        tracing::error!(hall = %self.id, error = %e, "cluster append failed");
                        self.give_up(&e.to_string());
                        refusal(&e, &self.id)
                    });
                    for o in part {
                        let _ = o.done.send(Err(refused.clone()));
                    }
                }
            }
        }
        if pipeline.loose() {
            // An append sent after the failed one may still go in: this
            // fence must not serve again ([`HallShard::promote`]).
            tracing::warn!(hall = %self.id, fence, "an append of this ownership is unanswered; the hall is to be taken anew");
            self.loose_fence.store(fence, Ordering::Release);
        }
        // The hall was given up and every record sent before that is
        // answered: rebuild from what is stored.
        let _one = self.transition.lock().await;
        let shard = self.clone();
        let _ = tokio::task::spawn_blocking(move || shard.reload()).await;
        self.pipe_running.store(false, Ordering::Release);
    }

    /// Writes records etcd has acknowledged to the local journal, in
    /// order, and answers each once it is on the local disk too (the next
    /// etcd transaction goes out meanwhile).
    fn store_locally(self: &Arc<Self>, part: Vec<Outgoing>) {
        let journal: JournalHandle<Published> = self.state.lock().journal.clone();
        let receipts: Vec<_> = part
            .into_iter()
            .map(|o| (journal.append(o.payload, &o.day, o.published), o.done))
            .collect();
        let shard = self.clone();
        tokio::spawn(async move {
            for (receipt, done) in receipts {
                let result = match receipt.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("the journal writer stopped".to_owned()),
                };
                if let Err(why) = &result {
                    // etcd has the record; this disk does not. Stop serving:
                    // the rebuild catches up from etcd once the disk works.
                    tracing::error!(hall = %shard.id, error = %why, "local journal failed in cluster mode");
                    shard.give_up(why);
                }
                let _ = done.send(result.map_err(ShardError::Storage));
            }
        });
    }

    /// Applies record `seq` another node wrote, if it is the next one.
    pub fn apply_replicated(&self, seq: u64, payload: &[u8]) -> Applied {
        let mut st = self.state.lock();
        if !matches!(st.mode, Mode::Follower) || seq < st.next_seq {
            return Applied::Skipped;
        }
        if seq > st.next_seq {
            return Applied::Gap;
        }
        let entry: Entry = match codec::decode_record(payload) {
            Ok(entry) => entry,
            Err(e) => {
                // A record this build cannot read: following further would
                // build a wrong state. Stop here, loudly.
                let why = format!("cluster record {seq} cannot be decoded: {e}");
                tracing::error!(hall = %self.id, error = %why);
                st.failed.get_or_insert(why);
                return Applied::Skipped;
            }
        };
        let State { hall, derived, .. } = &mut *st;
        derived.replay(hall, entry, seq);
        let day = journal_day(&st.hall);
        let mut receipt =
            st.journal
                .append(payload.to_vec(), &day, empty_publish(&st.derived.outbox));
        st.next_seq += 1;
        match receipt.try_recv() {
            // A closed writer is one being replaced by a rebuild, which reads
            // the files again: not a failure.
            Ok(Ok(_)) | Ok(Err(journal::JournalError::Closed)) | Err(_) => {}
            Ok(Err(e)) => {
                // The writer refuses at once once it has failed: rebuild
                // from disk (the ticker's recovery) and catch up again.
                tracing::error!(hall = %self.id, error = %e, "local journal failed while following");
                st.failed.get_or_insert(e.to_string());
            }
        }
        Applied::Yes
    }

    /// Applies every record etcd has that this node has not.
    pub async fn catch_up(&self) -> Result<usize, StoreError> {
        let link = self.link();
        let _one = self.transition.lock().await;
        self.catch_up_locked(&link.store).await
    }

    async fn catch_up_locked(&self, store: &Store) -> Result<usize, StoreError> {
        let mut applied = 0;
        loop {
            let from = self.next_seq();
            let page = store.range(&self.id, from, 500).await?;
            let Some(&(first, _)) = page.first() else {
                return Ok(applied);
            };
            if first > from {
                return Err(StoreError::Refused(format!(
                    "this node's journal of hall {:?} ends before record {from}, but etcd keeps \
                     records from {first} on (older ones were compacted): copy the hall's \
                     journal directory from a node that has it, then restart",
                    self.id
                )));
            }
            for (seq, value) in &page {
                match self.apply_replicated(*seq, value) {
                    Applied::Yes => applied += 1,
                    Applied::Skipped if self.is_failed() => {
                        return Err(StoreError::Refused(format!(
                            "hall {:?} cannot follow the cluster's log (see the error above)",
                            self.id
                        )))
                    }
                    Applied::Skipped => {
                        if !matches!(self.state.lock().mode, Mode::Follower) {
                            return Ok(applied);
                        }
                    }
                    Applied::Gap => break,
                }
            }
        }
    }
}

/// The cluster's loops drive the hall through these; each is the inherent
/// method of the same name.
impl SharedHall for HallShard {
    fn id(&self) -> &str {
        HallShard::id(self)
    }

    fn fence(&self) -> Option<i64> {
        HallShard::fence(self)
    }

    fn promote(self: Arc<Self>, fence: i64) -> BoxFuture<'static, Result<bool, StoreError>> {
        Box::pin(async move { HallShard::promote(&self, fence).await })
    }

    fn give_up(&self, why: &str) -> Option<JoinHandle<()>> {
        HallShard::give_up(self, why)
    }

    fn adopt(
        &self,
        spec: HallSpec,
    ) -> BoxFuture<'_, Result<(), Box<dyn std::error::Error + Send + Sync>>> {
        Box::pin(async move { Ok(HallShard::adopt(self, spec).await?) })
    }

    fn apply_replicated(&self, seq: u64, payload: &[u8]) -> Applied {
        HallShard::apply_replicated(self, seq, payload)
    }

    fn catch_up(&self) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(HallShard::catch_up(self))
    }

    fn durable_seq(&self) -> u64 {
        HallShard::durable_seq(self)
    }

    fn day_start_seq(&self) -> u64 {
        HallShard::day_start_seq(self)
    }
}

/// The records at the front of `waiting` that go in one append: at most
/// [`MAX_BATCH_RECORDS`] and [`MAX_BATCH_BYTES`] (a record larger than that
/// goes alone), to stay under etcd's limits.
fn next_part(waiting: &mut VecDeque<Outgoing>) -> Vec<Outgoing> {
    let mut part = Vec::new();
    let mut bytes = 0;
    while let Some(o) = waiting.front() {
        // Key and framing: a few dozen bytes a record.
        let size = o.payload.len() + 64;
        if !part.is_empty() && (bytes + size > MAX_BATCH_BYTES || part.len() >= MAX_BATCH_RECORDS) {
            break;
        }
        bytes += size;
        part.extend(waiting.pop_front());
    }
    part
}

/// The error a record in the owner pipe is answered with when etcd did not
/// take its batch.
fn refusal(e: &StoreError, hall: &str) -> ShardError {
    match e {
        StoreError::Fenced => ShardError::NotOwner(hall.to_owned()),
        StoreError::Refused(_) => ShardError::Storage(e.to_string()),
        StoreError::Unavailable(_) => ShardError::Unconfirmed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(seq: u64, len: usize) -> Outgoing {
        Outgoing {
            seq,
            payload: vec![0; len],
            day: "2026-11-22".into(),
            published: Published {
                display: None,
                notifications: Vec::new(),
                notifications_upto: 0,
            },
            done: oneshot::channel().0,
        }
    }

    fn parts(batch: Vec<Outgoing>) -> Vec<Vec<u64>> {
        let mut waiting: VecDeque<Outgoing> = batch.into();
        let mut parts = Vec::new();
        while !waiting.is_empty() {
            parts.push(next_part(&mut waiting).iter().map(|o| o.seq).collect());
        }
        parts
    }

    #[test]
    fn batches_are_cut_under_etcds_limits_in_order() {
        // Three records of 300 KiB fit in 1 MiB, a fourth does not.
        let seqs = parts((0..10).map(|i| outgoing(i, 300 * 1024)).collect());
        assert_eq!(seqs, [vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8], vec![9]]);
        // A record over the limit goes alone (etcd then refuses it).
        let seqs = parts(vec![outgoing(0, 10), outgoing(1, 2 << 20), outgoing(2, 10)]);
        assert_eq!(seqs, [vec![0], vec![1], vec![2]]);
        // At most MAX_BATCH_RECORDS a transaction.
        let seqs = parts((0..250).map(|i| outgoing(i, 10)).collect());
        let lens: Vec<usize> = seqs.iter().map(Vec::len).collect();
        assert_eq!(lens, [MAX_BATCH_RECORDS, MAX_BATCH_RECORDS, 50]);
        assert_eq!(seqs.concat(), (0..250).collect::<Vec<u64>>());
    }
}
