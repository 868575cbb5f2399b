//! One etcd transaction for the records of several halls.
//!
//! Every owned hall's pipe has one append in flight at a time; on a node
//! owning many halls those appends are small and many, and etcd spends its
//! time on transactions rather than records. The appender takes whatever
//! appends are waiting, from any halls, and sends them as one transaction
//! (within etcd's limits), one transaction at a time. If it fails — one
//! hall's fence broke, or etcd did not answer — each hall's append is
//! retried alone, so one hall's trouble is no other hall's: a refused
//! transaction changed nothing, and an unanswered one is checked record by
//! record ([`Store::append`] with `maybe_there`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::store::{Append, Store, StoreError, MAX_BATCH_BYTES, MAX_TXN_OPS};

/// One hall's append, waiting for the appender.
struct Request {
    hall: String,
    fence: i64,
    first: u64,
    records: Vec<Vec<u8>>,
    deadline: Instant,
    done: oneshot::Sender<Result<(), StoreError>>,
}

impl Request {
    /// etcd operations it takes: the fence, and a compare and a put per
    /// record.
    fn ops(&self) -> usize {
        1 + self.records.len()
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
}

/// The node's appender (cheap to clone).
#[derive(Debug, Clone)]
pub struct Appender {
    tx: mpsc::UnboundedSender<Request>,
    stats: Arc<AppenderStats>,
}

impl Appender {
    /// Starts the appender on `store` (needs a tokio runtime).
    pub fn start(store: Store) -> Appender {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(AppenderStats::default());
        tokio::spawn(run(store, rx, stats.clone()));
        Appender { tx, stats }
    }

    /// Appends `records` to hall `hall`'s log as numbers `first..`, fenced
    /// by `fence` — together with other halls' appends waiting meanwhile.
    /// Answers as [`Store::append`] does.
    pub async fn append(
        &self,
        hall: &str,
        fence: i64,
        first: u64,
        records: Vec<Vec<u8>>,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let request = Request {
            hall: hall.to_owned(),
            fence,
            first,
            records,
            deadline,
            done,
        };
        if self.tx.send(request).is_err() {
            return Err(StoreError::Unavailable("the appender stopped".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the appender stopped".into())))
    }

    /// Its counters.
    pub fn stats(&self) -> &AppenderStats {
        &self.stats
    }
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<Request>, stats: Arc<AppenderStats>) {
    let mut waiting = Vec::new();
    while rx.recv_many(&mut waiting, 256).await > 0 {
        stats
            .appends
            .fetch_add(waiting.len() as u64, Ordering::Relaxed);
        for group in groups(std::mem::take(&mut waiting)) {
            send(&store, group, &stats).await;
        }
    }
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

async fn send(store: &Store, group: Vec<Request>, stats: &AppenderStats) {
    if group.len() > 1 {
        let slices: Vec<Vec<&[u8]>> = group
            .iter()
            .map(|r| r.records.iter().map(Vec::as_slice).collect())
            .collect();
        let appends: Vec<Append<'_>> = group
            .iter()
            .zip(&slices)
            .map(|(r, records)| Append {
                hall: &r.hall,
                fence: r.fence,
                first: r.first,
                records,
            })
            .collect();
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        let outcome = store.append_together(&appends).await;
        drop(appends);
        match outcome {
            Ok(true) => {
                for r in group {
                    let _ = r.done.send(Ok(()));
                }
                return;
            }
            // Refused (a fence, or etcd's limits): nothing went in. Each
            // alone below says whose it was.
            Ok(false) | Err(StoreError::Refused(_)) | Err(StoreError::Fenced) => {
                return alone(store, group, false, stats).await
            }
            // Unknown: each alone, checking what is there already.
            Err(StoreError::Unavailable(_)) => return alone(store, group, true, stats).await,
        }
    }
    alone(store, group, false, stats).await;
}

/// Each request of `group` in a transaction of its own.
async fn alone(store: &Store, group: Vec<Request>, maybe_there: bool, stats: &AppenderStats) {
    for r in group {
        let records: Vec<&[u8]> = r.records.iter().map(Vec::as_slice).collect();
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        let result = store
            .append(&r.hall, r.fence, r.first, &records, r.deadline, maybe_there)
            .await;
        let _ = r.done.send(result);
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
            deadline: Instant::now(),
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
}
