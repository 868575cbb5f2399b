//! Everything hallq keeps in etcd, behind a few calls: the node's lease,
//! node registrations, hall ownership keys and each hall's fenced log.
//!
//! Keys, under `[cluster] prefix` (`/hallq` by default):
//!
//! | key | value | lease |
//! |---|---|---|
//! | `<p>/nodes/<node>` | [`NodeInfo`] (JSON) | the node's |
//! | `<p>/owner/<hall>` | owning node's name | the owner's |
//! | `<p>/log/<hall>/<seq, 20 digits>` | one journal record | none |
//! | `<p>/applied/<hall>/<node>` | records that node has on its disk | none |
//!
//! An append is one transaction: it succeeds only if the owner key still
//! has the create-revision this node got when it took the hall (the fence)
//! and none of the record keys exists yet — and, when it was sent while the
//! append before it was still unanswered, only if that append's last record
//! is there (so appends in flight together go in in order or not at all:
//! no gap). etcd acknowledges only what a majority has on disk, so an
//! acknowledged append survives any minority of members failing.

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, PutOptions, Txn, TxnOp,
};
use serde::{Deserialize, Serialize};

use crate::config::ClusterConfig;

/// Compares (or puts) one transaction may carry: etcd's `--max-txn-ops`
/// default.
pub const MAX_TXN_OPS: usize = 128;
/// Records one hall's append may carry: each takes one compare and one put,
/// plus the owner's compare, all within [`MAX_TXN_OPS`].
pub const MAX_BATCH_RECORDS: usize = 100;
/// Bytes one append may carry (etcd's default request limit is 1.5 MiB).
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// Records fetched per range read when catching up.
const RANGE_PAGE: i64 = 500;
/// How long one etcd call may take before it is retried or given up.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// What a node tells the others about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Where clients reach it (`host:port`).
    pub address: String,
    /// The halls it may own.
    pub halls: Vec<String>,
}

/// One hall's part of an append.
#[derive(Debug, Clone, Copy)]
pub struct Append<'a> {
    /// The hall.
    pub hall: &'a str,
    /// The owner's fence.
    pub fence: i64,
    /// The first record's number.
    pub first: u64,
    /// The records.
    pub records: &'a [&'a [u8]],
    /// The number of a record that must be in the log already (the last
    /// one of an append still unanswered when this one was sent).
    pub after: Option<u64>,
}

/// A hall's owner key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerKey {
    /// The hall.
    pub hall: String,
    /// The owning node.
    pub node: String,
    /// The key's create-revision: the owner's fence.
    pub fence: i64,
    /// The lease the key lives under.
    pub lease: i64,
}

/// Why an etcd call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The fence no longer holds: another node owns the hall now (or
    /// nobody does). Nothing was written.
    #[error("this node no longer owns the hall (its ownership key changed)")]
    Fenced,
    /// etcd refused the write for good (its space quota is used up, a
    /// request too large); nothing was written.
    #[error("etcd refused the write: {0}")]
    Refused(String),
    /// etcd could not be reached or did not answer in time; the outcome of
    /// a write is unknown until it is read back.
    #[error("etcd unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    fn from_etcd(e: etcd_client::Error) -> StoreError {
        let text = e.to_string();
        if let etcd_client::Error::GRpcStatus(status) = &e {
            let msg = status.message();
            // "etcdserver: mvcc: database space exceeded" (the NOSPACE alarm)
            // and "etcdserver: request is too large" are refusals: nothing
            // was applied.
            if msg.contains("space exceeded")
                || msg.contains("too large")
                || msg.contains("too many operations")
            {
                return StoreError::Refused(msg.to_owned());
            }
        }
        StoreError::Unavailable(text)
    }

    /// Whether etcd's space quota is used up.
    pub fn is_no_space(&self) -> bool {
        matches!(self, StoreError::Refused(m) if m.contains("space exceeded"))
    }
}

/// A connection to the cluster's etcd, with this node's key layout.
#[derive(Clone)]
pub struct Store {
    client: Client,
    prefix: String,
    node: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("prefix", &self.prefix)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// Runs one etcd call with [`CALL_TIMEOUT`].
async fn timed<T>(
    call: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(StoreError::from_etcd),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} s",
            CALL_TIMEOUT.as_secs()
        ))),
    }
}

impl Store {
    /// Connects to `config.endpoints` (lazily: the first call does).
    pub async fn connect(config: &ClusterConfig) -> Result<Store, StoreError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(CALL_TIMEOUT)
            .with_timeout(CALL_TIMEOUT)
            .with_keep_alive(Duration::from_secs(1), CALL_TIMEOUT)
            .with_require_leader(true);
        let client = timed(Client::connect(&config.endpoints, Some(options))).await?;
        Ok(Store {
            client,
            prefix: config.prefix.clone(),
            node: config.node.clone(),
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push('/');
            key.push_str(part);
        }
        key
    }

    /// `<p>/log/<hall>/<seq>`.
    pub fn log_key(&self, hall: &str, seq: u64) -> String {
        self.key(&["log", hall, &format!("{seq:020}")])
    }

    /// The prefix every hall's log key starts with.
    pub fn logs_prefix(&self) -> String {
        self.key(&["log", ""])
    }

    /// `(hall, seq)` of a log key.
    pub fn parse_log_key(&self, key: &[u8]) -> Option<(String, u64)> {
        let rest = std::str::from_utf8(key)
            .ok()?
            .strip_prefix(&self.logs_prefix())?;
        let (hall, seq) = rest.split_once('/')?;
        Some((hall.to_owned(), seq.parse().ok()?))
    }

    fn owner_key(&self, hall: &str) -> String {
        self.key(&["owner", hall])
    }

    /// Grants a lease of `ttl_secs`.
    pub async fn grant_lease(&self, ttl_secs: u64) -> Result<i64, StoreError> {
        let mut c = self.client.clone();
        Ok(timed(c.lease_grant(ttl_secs as i64, None)).await?.id())
    }

    /// Keeps `lease` alive once; returns its remaining TTL (0: expired).
    pub async fn keep_alive_once(&self, lease: i64) -> Result<i64, StoreError> {
        let mut c = self.client.clone();
        let (mut keeper, mut stream) = timed(c.lease_keep_alive(lease)).await?;
        timed(keeper.keep_alive()).await?;
        match timed(stream.message()).await? {
            Some(resp) => Ok(resp.ttl()),
            None => Err(StoreError::Unavailable("keep-alive stream closed".into())),
        }
    }

    /// Revokes `lease` (a clean shutdown): this node's keys go at once.
    pub async fn revoke_lease(&self, lease: i64) -> Result<(), StoreError> {
        let mut c = self.client.clone();
        timed(c.lease_revoke(lease)).await.map(|_| ())
    }

    /// Registers this node under `lease`.
    pub async fn register(&self, lease: i64, info: &NodeInfo) -> Result<(), StoreError> {
        let mut c = self.client.clone();
        let value = serde_json::to_vec(info).map_err(|e| StoreError::Refused(e.to_string()))?;
        let key = self.key(&["nodes", &self.node]);
        timed(c.put(key, value, Some(PutOptions::new().with_lease(lease))))
            .await
            .map(|_| ())
    }

    /// Every registered (live) node.
    pub async fn nodes(&self) -> Result<Vec<(String, NodeInfo)>, StoreError> {
        let prefix = self.key(&["nodes", ""]);
        let kvs = self.list(&prefix).await?;
        Ok(kvs
            .into_iter()
            .filter_map(|(name, value)| Some((name, serde_json::from_slice(&value).ok()?)))
            .collect())
    }

    /// Every hall's owner.
    pub async fn owners(&self) -> Result<Vec<OwnerKey>, StoreError> {
        let prefix = self.key(&["owner", ""]);
        let mut c = self.client.clone();
        let resp = timed(c.get(prefix.clone(), Some(GetOptions::new().with_prefix()))).await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                let hall = std::str::from_utf8(kv.key()).ok()?.strip_prefix(&prefix)?;
                let node = std::str::from_utf8(kv.value()).ok()?;
                Some(OwnerKey {
                    hall: hall.to_owned(),
                    node: node.to_owned(),
                    fence: kv.create_revision(),
                    lease: kv.lease(),
                })
            })
            .collect())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut c = self.client.clone();
        let resp = timed(c.get(prefix, Some(GetOptions::new().with_prefix()))).await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                let name = std::str::from_utf8(kv.key()).ok()?.strip_prefix(prefix)?;
                Some((name.to_owned(), kv.value().to_vec()))
            })
            .collect())
    }

    /// Takes hall `hall` if nobody owns it: the owner key is created under
    /// `lease`. Returns the fence (the key's create-revision), or `None` if
    /// another node owns it.
    pub async fn acquire(&self, hall: &str, lease: i64) -> Result<Option<i64>, StoreError> {
        let key = self.owner_key(hall);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                self.node.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        let mut c = self.client.clone();
        let resp = timed(c.txn(txn)).await?;
        Ok(resp
            .succeeded()
            .then(|| resp.header().map(|h| h.revision()))
            .flatten())
    }

    /// Gives hall `hall` up, if the owner key is still this node's `fence`.
    pub async fn release(&self, hall: &str, fence: i64) -> Result<(), StoreError> {
        let key = self.owner_key(hall);
        let txn = Txn::new()
            .when([Compare::create_revision(
                key.clone(),
                CompareOp::Equal,
                fence,
            )])
            .and_then([TxnOp::delete(key, None)]);
        let mut c = self.client.clone();
        timed(c.txn(txn)).await.map(|_| ())
    }

    /// Whether the owner key of `hall` still has `fence`.
    pub async fn holds(&self, hall: &str, fence: i64) -> Result<bool, StoreError> {
        let mut c = self.client.clone();
        let resp = timed(c.get(self.owner_key(hall), None)).await?;
        Ok(resp.kvs().first().map(|kv| kv.create_revision()) == Some(fence))
    }

    /// The compares and puts of append `a`.
    fn append_ops(&self, a: &Append<'_>, compares: &mut Vec<Compare>, puts: &mut Vec<TxnOp>) {
        compares.push(Compare::create_revision(
            self.owner_key(a.hall),
            CompareOp::Equal,
            a.fence,
        ));
        if let Some(seq) = a.after {
            compares.push(Compare::create_revision(
                self.log_key(a.hall, seq),
                CompareOp::Greater,
                0,
            ));
        }
        for (i, record) in a.records.iter().enumerate() {
            let key = self.log_key(a.hall, a.first + i as u64);
            compares.push(Compare::create_revision(key.clone(), CompareOp::Equal, 0));
            puts.push(TxnOp::put(key, record.to_vec(), None));
        }
    }

    /// Appends the records of several halls in one transaction, once (no
    /// retry): `Ok(true)` if all went in, `Ok(false)` if a fence, a record
    /// key or a record that should be there already said no — then nothing
    /// went in.
    pub async fn append_together(&self, appends: &[Append<'_>]) -> Result<bool, StoreError> {
        let mut compares = Vec::new();
        let mut puts = Vec::new();
        for a in appends {
            self.append_ops(a, &mut compares, &mut puts);
        }
        let mut c = self.client.clone();
        let resp = timed(c.txn(Txn::new().when(compares).and_then(puts))).await?;
        Ok(resp.succeeded())
    }

    /// Appends `records` to hall `hall`'s log as numbers `first..`, fenced
    /// by `fence`. A call that could not tell whether etcd applied it is
    /// retried until `deadline`; a retry that finds the records already
    /// there (with this content, under the same fence) succeeded. With
    /// `maybe_there`, an earlier attempt (another call) may have applied
    /// them already.
    pub async fn append(
        &self,
        hall: &str,
        fence: i64,
        first: u64,
        records: &[&[u8]],
        deadline: tokio::time::Instant,
        maybe_there: bool,
    ) -> Result<(), StoreError> {
        let mut compares = Vec::new();
        let mut puts = Vec::with_capacity(records.len());
        let append = Append {
            hall,
            fence,
            first,
            records,
            after: None,
        };
        self.append_ops(&append, &mut compares, &mut puts);
        let txn = Txn::new().when(compares).and_then(puts);
        let mut tried_before = maybe_there;
        let mut backoff = Duration::from_millis(50);
        loop {
            let mut c = self.client.clone();
            match timed(c.txn(txn.clone())).await {
                Ok(resp) if resp.succeeded() => return Ok(()),
                Ok(_) if tried_before => {
                    // An earlier attempt may have been applied after all.
                    return match self.already_there(hall, fence, first, records).await {
                        Ok(true) => Ok(()),
                        Ok(false) => Err(StoreError::Fenced),
                        Err(e) => Err(e),
                    };
                }
                Ok(_) => return Err(StoreError::Fenced),
                Err(e @ StoreError::Refused(_)) => return Err(e),
                Err(e) => {
                    tried_before = true;
                    if tokio::time::Instant::now() + backoff >= deadline {
                        return Err(e);
                    }
                    tracing::debug!(hall, error = %e, "etcd append retried");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    async fn already_there(
        &self,
        hall: &str,
        fence: i64,
        first: u64,
        records: &[&[u8]],
    ) -> Result<bool, StoreError> {
        if !self.holds(hall, fence).await? {
            return Ok(false);
        }
        let got = self.range(hall, first, records.len()).await?;
        Ok(got.len() == records.len()
            && got
                .iter()
                .zip(records)
                .enumerate()
                .all(|(i, ((seq, value), want))| *seq == first + i as u64 && value == want))
    }

    /// Up to `limit` records of hall `hall` from number `from` on, in order.
    pub async fn range(
        &self,
        hall: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let start = self.log_key(hall, from);
        let end = self.log_key(hall, u64::MAX);
        let mut c = self.client.clone();
        let resp = timed(
            c.get(
                start,
                Some(
                    GetOptions::new()
                        .with_range(end)
                        .with_limit((limit as i64).min(RANGE_PAGE)),
                ),
            ),
        )
        .await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                let (_, seq) = self.parse_log_key(kv.key())?;
                Some((seq, kv.value().to_vec()))
            })
            .collect())
    }

    /// Records that this node has hall `hall`'s records below `upto` on
    /// its own disk.
    pub async fn set_applied(&self, hall: &str, upto: u64) -> Result<(), StoreError> {
        let mut c = self.client.clone();
        let key = self.key(&["applied", hall, &self.node]);
        timed(c.put(key, upto.to_string(), None)).await.map(|_| ())
    }

    /// What every node has of hall `hall` on its disk: the lowest mark.
    pub async fn min_applied(&self, hall: &str) -> Result<Option<u64>, StoreError> {
        let prefix = self.key(&["applied", hall, ""]);
        Ok(self
            .list(&prefix)
            .await?
            .iter()
            .filter_map(|(_, v)| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
            .min())
    }

    /// Deletes hall `hall`'s log records below `upto` (every node has them
    /// in its own journal files).
    pub async fn compact_log(&self, hall: &str, upto: u64) -> Result<i64, StoreError> {
        let mut c = self.client.clone();
        let resp = timed(c.delete(
            self.log_key(hall, 0),
            Some(DeleteOptions::new().with_range(self.log_key(hall, upto))),
        ))
        .await?;
        Ok(resp.deleted())
    }

    /// The underlying client (for watches).
    pub fn client(&self) -> Client {
        self.client.clone()
    }
}
