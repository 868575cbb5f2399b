//! Appends to etcd: one transaction for the records of several halls, and
//! several transactions of one hall in flight at once.
//!
//! On a node owning many halls the appends are small and many, and etcd
//! spends its time on transactions rather than records. The appender takes
//! whatever appends are waiting, from any halls, and sends them as one
//! transaction (within etcd's limits), up to [`MAX_IN_FLIGHT`] transactions
//! at a time (one by default). Each append is tried once there; if that did not store it —
//! another hall's fence broke, etcd did not answer — its hall retries it
//! alone, so one hall's trouble is no other hall's: a refused transaction
//! changed nothing, and an unanswered one is checked record by record
//! ([`Store::append`] with `maybe_there`).
//!
//! A hall sends its next records before the last ones are answered
//! ([`Pipeline`]): each append sent while an earlier one is in flight
//! carries a compare that the earlier one's last record is in the log.
//! etcd may take transactions sent together in another order, or lose
//! one; with that compare, a later one never goes in without the earlier
//! ones, so the log has no gap and each record its one number. The
//! answers are taken in order: an append that did not go in at its first
//! try is retried alone once every earlier one is in (then it needs no such
//! compare), and after one fails for good, every later one is failed too.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::store::{Append, Store, StoreError, MAX_BATCH_BYTES, MAX_TXN_OPS};

/// etcd transactions the appender has in flight at once (all halls). One:
/// on the 2-core machine of `bench/cluster.sh` etcd is short of CPU, and
/// each transaction costs it about as much as its records do, so fewer,
/// fuller transactions store more records per second than more in flight
/// (measured with up to 8).
pub const MAX_IN_FLIGHT: usize = 1;

/// What one try of an append did.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// The records are in etcd.
    Stored,
    /// Nothing went in, and trying again alone will not change that: the
    /// append was alone in its transaction, and its own fence or records
    /// said no ([`StoreError::Fenced`]), or etcd refused it.
    Failed(StoreError),
    /// Nothing went in, but alone it may: the transaction it shared was
    /// refused, or the record it follows was not there yet.
    NotStored,
    /// etcd did not answer: the records may be there.
    Unknown(StoreError),
}

/// One hall's append, waiting for the appender.
struct Request {
    hall: String,
    fence: i64,
    first: u64,
    records: Vec<Vec<u8>>,
    after: Option<u64>,
    done: oneshot::Sender<Attempt>,
}

impl Request {
    /// etcd compares it takes (as many as or more than its puts): the
    /// fence, the record it follows, and one per record.
    fn ops(&self) -> usize {
        1 + usize::from(self.after.is_some()) + self.records.len()
    }

    fn bytes(&self) -> usize {
        self.records.iter().map(|r| r.len() + 64).sum()
    }
}

/// Counters, for tests and metrics.
#[derive(Debug, Default)]
pub struct AppenderStats {
    /// Appends asked for.
    pub appends: AtomicU64,
    /// Transactions sent (shared ones and the per-hall retries).
    pub transactions: AtomicU64,
    /// Appends retried alone after their first try.
    pub retries: AtomicU64,
}

/// The node's appender (cheap to clone).
#[derive(Debug, Clone)]
pub struct Appender {
    tx: mpsc::UnboundedSender<Request>,
    store: Store,
    stats: Arc<AppenderStats>,
}

impl Appender {
    /// Starts the appender on `store` (needs a tokio runtime).
    pub fn start(store: Store) -> Appender {
        Appender::with_in_flight(store, MAX_IN_FLIGHT)
    }

    /// Starts the appender on `store`, with up to `in_flight` transactions
    /// in flight at once.
    pub fn with_in_flight(store: Store, in_flight: usize) -> Appender {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(AppenderStats::default());
        tokio::spawn(run(store.clone(), rx, stats.clone(), in_flight.max(1)));
        Appender { tx, store, stats }
    }

    /// Tries once to append `records` to hall `hall`'s log as numbers
    /// `first..`, fenced by `fence`, after record `after` if given —
    /// together with other appends waiting meanwhile.
    pub fn try_append(
        &self,
        hall: &str,
        fence: i64,
        first: u64,
        records: Vec<Vec<u8>>,
        after: Option<u64>,
    ) -> oneshot::Receiver<Attempt> {
        let (done, answer) = oneshot::channel();
        let request = Request {
            hall: hall.to_owned(),
            fence,
            first,
            records,
            after,
            done,
        };
        if let Err(mpsc::error::SendError(r)) = self.tx.send(request) {
            let _ = r.done.send(Attempt::Failed(stopped()));
        }
        answer
    }

    /// Appends `records` to hall `hall`'s log as numbers `first..`, fenced
    /// by `fence` — together with other halls' appends waiting meanwhile,
    /// else alone. Answers as [`Store::append`] does.
    pub async fn append(
        &self,
        hall: &str,
        fence: i64,
        first: u64,
        records: Vec<Vec<u8>>,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let attempt = self.try_append(hall, fence, first, records.clone(), None);
        let attempt = attempt.await.unwrap_or(Attempt::Unknown(stopped()));
        self.settle(hall, fence, first, &records, deadline, attempt)
            .await
    }

    /// What an append whose first try did `attempt` came to: retried alone
    /// unless that try settled it (every append before it must be in).
    async fn settle(
        &self,
        hall: &str,
        fence: i64,
        first: u64,
        records: &[Vec<u8>],
        deadline: Instant,
        attempt: Attempt,
    ) -> Result<(), StoreError> {
        let maybe_there = match attempt {
            Attempt::Stored => return Ok(()),
            Attempt::Failed(e) => return Err(e),
            Attempt::NotStored => false,
            Attempt::Unknown(_) => true,
        };
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        self.stats.transactions.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("hallq_cluster_append_retries_total").increment(1);
        let records: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        self.store
            .append(hall, fence, first, &records, deadline, maybe_there)
            .await
    }

    /// Its counters.
    pub fn stats(&self) -> &AppenderStats {
        &self.stats
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the appender stopped".into())
}

async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Request>,
    stats: Arc<AppenderStats>,
    in_flight: usize,
) {
    let mut waiting = Vec::new();
    let mut running = FuturesUnordered::new();
    loop {
        tokio::select! {
            n = rx.recv_many(&mut waiting, 256), if running.len() < in_flight => {
                if n == 0 {
                    break;
                }
                stats.appends.fetch_add(n as u64, Ordering::Relaxed);
                for group in groups(std::mem::take(&mut waiting)) {
                    running.push(send(&store, group, &stats));
                }
            }
            Some(()) = running.next(), if !running.is_empty() => {}
        }
    }
    while running.next().await.is_some() {}
}

/// `requests` in order, cut into groups that fit one transaction.
fn groups(requests: Vec<Request>) -> Vec<Vec<Request>> {
    let mut groups: Vec<Vec<Request>> = Vec::new();
    let (mut ops, mut bytes) = (0, 0);
    for r in requests {
        let (o, b) = (r.ops(), r.bytes());
        match groups.last_mut() {
            Some(group) if ops + o <= MAX_TXN_OPS && bytes + b <= MAX_BATCH_BYTES => {
                ops += o;
                bytes += b;
                group.push(r);
            }
            _ => {
                (ops, bytes) = (o, b);
                groups.push(vec![r]);
            }
        }
    }
    groups
}

/// The record each request of `group` must find in the log: none where the
/// one it follows is in the same transaction (etcd compares before it
/// puts: that record is not there yet, and goes in with it or not at all).
fn afters(group: &[Request]) -> Vec<Option<u64>> {
    let mut next: HashMap<&str, u64> = HashMap::new();
    group
        .iter()
        .map(|r| {
            let after = r
                .after
                .filter(|seq| next.get(r.hall.as_str()) != Some(&(seq + 1)));
            next.insert(&r.hall, r.first + r.records.len() as u64);
            after
        })
        .collect()
}

/// Tries `group` in one transaction and tells each request what it did.
async fn send(store: &Store, group: Vec<Request>, stats: &AppenderStats) {
    let slices: Vec<Vec<&[u8]>> = group
        .iter()
        .map(|r| r.records.iter().map(Vec::as_slice).collect())
        .collect();
    let afters = afters(&group);
    let appends: Vec<Append<'_>> = group
        .iter()
        .zip(&slices)
        .zip(&afters)
        .map(|((r, records), after)| Append {
            hall: &r.hall,
            fence: r.fence,
            first: r.first,
            records,
            after: *after,
        })
        .collect();
    // Alone and after nothing: a no is this append's own.
    let alone = appends.len() == 1 && appends[0].after.is_none();
    stats.transactions.fetch_add(1, Ordering::Relaxed);
    let outcome = store.append_together(&appends).await;
    drop(appends);
    let attempt = match outcome {
        Ok(true) => Attempt::Stored,
        Ok(false) if alone => Attempt::Failed(StoreError::Fenced),
        Err(e @ StoreError::Refused(_)) if alone => Attempt::Failed(e),
        // Refused (a fence, a record not there yet, etcd's limits): nothing
        // went in. Each hall alone says whose it was.
        Ok(false) | Err(StoreError::Refused(_)) | Err(StoreError::Fenced) => Attempt::NotStored,
        Err(e @ StoreError::Unavailable(_)) => Attempt::Unknown(e),
    };
    for r in group {
        let _ = r.done.send(attempt.clone());
    }
}

/// One hall's appends under one fence, several in flight at once, answered
/// in the order they were sent.
#[derive(Debug)]
pub struct Pipeline {
    appender: Appender,
    hall: String,
    fence: i64,
    depth: usize,
    in_flight: VecDeque<Sent>,
    failed: Option<StoreError>,
    loose: bool,
}

/// An append in flight.
#[derive(Debug)]
struct Sent {
    first: u64,
    records: Vec<Vec<u8>>,
    deadline: Instant,
    /// Sent after another one still in flight.
    chained: bool,
    attempt: oneshot::Receiver<Attempt>,
    /// Its first try's answer, once there.
    answer: Option<Attempt>,
}

impl Pipeline {
    /// Appends of hall `hall` under `fence`, up to `depth` in flight.
    pub fn new(appender: Appender, hall: &str, fence: i64, depth: usize) -> Pipeline {
        Pipeline {
            appender,
            hall: hall.to_owned(),
            fence,
            depth: depth.max(1),
            in_flight: VecDeque::new(),
            failed: None,
            loose: false,
        }
    }

    /// Whether another append may be sent now: fewer than `depth` are in
    /// flight, and none has failed.
    pub fn ready(&self) -> bool {
        self.failed.is_none() && self.in_flight.len() < self.depth
    }

    /// Appends in flight (sent, not yet taken with [`Pipeline::next`]).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Sends `records` as numbers `first..` (the next numbers after the
    /// last append sent), to be stored by `deadline`. Their outcome comes
    /// from [`Pipeline::next`], in order.
    pub fn send(&mut self, first: u64, records: Vec<Vec<u8>>, deadline: Instant) {
        let after = self.in_flight.back().map(|last| {
            debug_assert_eq!(last.first + last.records.len() as u64, first);
            first - 1
        });
        let attempt =
            self.appender
                .try_append(&self.hall, self.fence, first, records.clone(), after);
        self.in_flight.push_back(Sent {
            first,
            records,
            deadline,
            chained: after.is_some(),
            attempt,
            answer: None,
        });
    }

    /// Waits until the oldest append in flight has the answer of its first
    /// try (forever if none is in flight). Cancel-safe: for `select!`,
    /// before [`Pipeline::next`].
    pub async fn answered(&mut self) {
        match self.in_flight.front_mut() {
            Some(sent) if sent.answer.is_none() => {
                let attempt = (&mut sent.attempt).await;
                sent.answer = Some(attempt.unwrap_or(Attempt::Unknown(stopped())));
            }
            Some(_) => {}
            None => std::future::pending().await,
        }
    }

    /// The outcome of the oldest append in flight (`None`: none is), once
    /// settled: retried alone if its first try did not store it. After one
    /// has failed, every later one fails with the same error.
    pub async fn next(&mut self) -> Option<Result<(), StoreError>> {
        if self.in_flight.is_empty() {
            return None;
        }
        self.answered().await;
        let sent = self.in_flight.pop_front()?;
        let attempt = sent.answer.expect("answered");
        if let Some(failed) = &self.failed {
            // Sent after one that did not go in (or may not have). One
            // whose first try is unanswered may still go in later — on top
            // of records that are not the ones it followed, if this fence
            // were used again ([`Pipeline::loose`]).
            if sent.chained && matches!(attempt, Attempt::Unknown(_)) {
                self.loose = true;
            }
            return Some(Err(failed.clone()));
        }
        // Every append before this one is in: alone, it needs no compare
        // on them.
        let result = self
            .appender
            .settle(
                &self.hall,
                self.fence,
                sent.first,
                &sent.records,
                sent.deadline,
                attempt,
            )
            .await;
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        Some(result)
    }

    /// The first failure, if one happened.
    pub fn failure(&self) -> Option<&StoreError> {
        self.failed.as_ref()
    }

    /// Whether an append of this pipeline may still go in later that must
    /// not: one sent after an append that failed, whose own try etcd never
    /// answered. Its compares hold again if this fence appends the record
    /// it follows anew, so the fence must not be used again: the owner key
    /// is to be deleted and taken anew (a new fence) instead.
    pub fn loose(&self) -> bool {
        self.loose
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(records: usize, len: usize) -> Request {
        Request {
            hall: "h".into(),
            fence: 1,
            first: 0,
            records: vec![vec![0; len]; records],
            after: None,
            done: oneshot::channel().0,
        }
    }

    #[test]
    fn groups_stay_within_etcds_operation_and_size_limits() {
        // 40 halls of 3 records: 4 operations each, 32 to a transaction.
        let sizes: Vec<usize> = groups((0..40).map(|_| request(3, 100)).collect())
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [32, 8]);
        // Bytes cut too: 300 KiB records, three to a transaction.
        let sizes: Vec<usize> = groups((0..7).map(|_| request(1, 300 * 1024)).collect())
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [3, 3, 1]);
        // Each group fits, and order is kept.
        assert!(groups(Vec::new()).is_empty());
    }

    #[test]
    fn an_append_after_one_in_the_same_transaction_drops_that_compare() {
        let append = |hall: &str, first: u64, records: usize, after: Option<u64>| Request {
            hall: hall.into(),
            first,
            after,
            ..request(records, 10)
        };
        let group = [
            append("h", 10, 2, Some(9)), // after one in an earlier transaction
            append("g", 5, 1, None),
            append("h", 12, 1, Some(11)), // after the first: same transaction
            append("g", 7, 1, Some(6)),   // not after g's 5: keeps it
        ];
        assert_eq!(afters(&group), [Some(9), None, None, Some(6)]);
    }
}
