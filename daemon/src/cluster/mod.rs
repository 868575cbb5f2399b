//! Cluster mode (`[cluster]`): several hallqd nodes share the halls, each
//! hall owned by exactly one node at a time, its journal replicated by etcd.
//!
//! - Every node holds a lease (`lease_ttl_secs`) kept alive every half of
//!   its time to live, and registers itself (address, halls it may own).
//! - A hall is owned by the node that created its owner key under its
//!   lease; that key's create-revision is the owner's fence. Every append
//!   is fenced by it ([`store::Store::append`]), so a node that lost the
//!   hall — paused, partitioned, its lease expired — cannot add a record.
//! - Halls are spread by rendezvous hashing over the live nodes that may
//!   own them; an unowned hall is taken by the node it hashes to, or by any
//!   eligible node once it has been unowned for [`UNOWNED_GRACE`]. A node
//!   that joins gets its share handed over, one hall at a time.
//! - Appends of several halls waiting at the same time go to etcd in one
//!   transaction ([`appender`]).
//! - Every node follows the halls it does not own (an etcd watch on the
//!   log, plus a periodic catch-up), so a takeover only reads the last few
//!   records before serving.
//! - A node whose lease cannot be kept alive stops serving at once: it
//!   cannot tell whether another node has taken its halls.
//! - etcd keeps each hall's current business day, and older records until
//!   every node has them in its own journal files (`applied` marks); then
//!   the owner deletes them.
//!
//! The loops reach the halls through [`Halls`], which this module defines
//! and the daemon implements: the cluster imports no shard and no daemon,
//! the shards import [`ClusterLink`] and [`store`] from here.

pub mod appender;
mod halls;
mod lease;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::time::Instant;

use crate::config::ClusterConfig;
pub use halls::{Applied, Halls, SharedHall};
pub use lease::LeaseClock;
use store::{NodeInfo, OwnerKey, Store, StoreError};

/// How often ownership is looked at.
const OWNERSHIP_TICK: Duration = Duration::from_millis(100);
/// How long a hall may stay unowned before any eligible node takes it
/// (not only the one it hashes to).
pub const UNOWNED_GRACE: Duration = Duration::from_secs(2);
/// How long a node must have been registered before halls are handed to it.
const SETTLE: Duration = Duration::from_secs(3);
/// At most one hall handed over per this long, per node.
const HANDOVER_EVERY: Duration = Duration::from_secs(2);
/// How often followers catch up by reading, besides the watch.
const CATCH_UP_EVERY: Duration = Duration::from_secs(2);
/// How often `applied` marks are written and old records deleted.
const APPLIED_EVERY: Duration = Duration::from_secs(5);
/// After a hall could not be taken over here, how long before trying again.
const RETRY_TAKEOVER: Duration = Duration::from_secs(10);

/// What a shard needs of the cluster: etcd, and whether this node's lease
/// is surely alive.
#[derive(Debug, Clone)]
pub struct ClusterLink {
    /// etcd.
    pub store: Store,
    /// Appends, several halls' to a transaction.
    pub appender: appender::Appender,
    /// This node's lease.
    pub lease: Arc<LeaseClock>,
}

/// The cluster as this node sees it.
#[derive(Debug)]
pub struct Cluster {
    config: ClusterConfig,
    link: ClusterLink,
    /// The halls the loops take, keep, follow and hand over. Shared with
    /// the daemon, not a way back to it: the loops end when aborted
    /// ([`Cluster::shutdown`]) or with the runtime.
    halls: Arc<dyn Halls>,
    /// The current lease (0: none).
    lease: AtomicI64,
    view: RwLock<View>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct View {
    nodes: HashMap<String, (NodeInfo, Instant)>,
    owners: HashMap<String, OwnerKey>,
    unowned_since: HashMap<String, Instant>,
    last_handover: Option<Instant>,
    /// Halls this node failed to take over, and when.
    failed_takeover: HashMap<String, Instant>,
}

/// Connects to etcd (retrying until it answers) and makes the link the
/// halls use.
pub async fn connect(config: &ClusterConfig) -> ClusterLink {
    let mut logged = false;
    loop {
        match Store::connect(config).await {
            Ok(store) => {
                return ClusterLink {
                    appender: appender::Appender::start(store.clone()),
                    store,
                    lease: Arc::new(LeaseClock::new(Duration::from_secs(config.lease_ttl_secs))),
                }
            }
            Err(e) => {
                if !logged {
                    tracing::warn!(endpoints = ?config.endpoints, error = %e, "cannot reach etcd yet; retrying");
                    logged = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

impl Cluster {
    /// Starts the lease, ownership, follow and compaction loops.
    pub fn start(halls: Arc<dyn Halls>, config: ClusterConfig, link: ClusterLink) -> Arc<Cluster> {
        let cluster = Arc::new(Cluster {
            config,
            link,
            halls,
            lease: AtomicI64::new(0),
            view: RwLock::default(),
            tasks: Mutex::default(),
        });
        let tasks = vec![
            tokio::spawn(cluster.clone().keep_lease()),
            tokio::spawn(cluster.clone().own()),
            tokio::spawn(cluster.clone().follow()),
            tokio::spawn(cluster.clone().mark_applied()),
        ];
        *cluster.tasks.lock() = tasks;
        tracing::info!(node = %cluster.config.node, endpoints = ?cluster.config.endpoints, "cluster mode");
        cluster
    }

    /// Where a client asking for `hall` should go: its owner's address, if
    /// another node owns it.
    pub fn redirect(&self, hall: &str) -> Option<String> {
        let view = self.view.read();
        let owner = view.owners.get(hall)?;
        if owner.node == self.config.node {
            return None;
        }
        view.nodes
            .get(&owner.node)
            .map(|(info, _)| info.address.clone())
    }

    /// The node owning `hall`, as last seen.
    pub fn owner_of(&self, hall: &str) -> Option<String> {
        self.view.read().owners.get(hall).map(|o| o.node.clone())
    }

    /// At shutdown: hands every owned hall back (after its last records
    /// are stored) and ends the lease, so other nodes take over at once.
    pub async fn shutdown(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
        for shard in self.halls.halls() {
            if let Some(fence) = shard.fence() {
                if let Some(pipe) = shard.give_up("hallqd is shutting down") {
                    let _ = pipe.await;
                }
                let _ = self.link.store.release(shard.id(), fence).await;
            }
        }
        let lease = self.lease.swap(0, Ordering::AcqRel);
        if lease != 0 {
            let _ = self.link.store.revoke_lease(lease).await;
        }
    }

    fn give_up_all(&self, why: &str) {
        for shard in self.halls.halls() {
            shard.give_up(why);
        }
    }

    fn info(&self) -> NodeInfo {
        NodeInfo {
            address: self.config.advertise.clone().unwrap_or_default(),
            halls: self
                .halls
                .halls()
                .iter()
                .map(|h| h.id().to_owned())
                .filter(|id| self.config.may_own(id))
                .collect(),
        }
    }

    /// Holds a lease and this node's registration under it. When the
    /// lease cannot be renewed in time, every hall is given up.
    async fn keep_lease(self: Arc<Self>) {
        let store = &self.link.store;
        let clock = &self.link.lease;
        let ttl = clock.ttl;
        loop {
            let sent = Instant::now();
            let lease = match store.grant_lease(ttl.as_secs()).await {
                Ok(id) => id,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot get a lease from etcd; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if let Err(e) = store.register(lease, &self.info()).await {
                tracing::warn!(error = %e, "cannot register this node; retrying");
                let _ = store.revoke_lease(lease).await;
                continue;
            }
            clock.renewed(sent);
            self.lease.store(lease, Ordering::Release);
            tracing::info!(
                lease,
                ttl_secs = ttl.as_secs(),
                "lease granted; node registered"
            );
            loop {
                // Every half of the time to live: a dead node's lease ends
                // 1.5–3 s after its last renewal (with 3 s), while a live
                // one has half the TTL to get an answer through.
                tokio::time::sleep(ttl / 2).await;
                let sent = Instant::now();
                match store.keep_alive_once(lease).await {
                    Ok(left) if left > 0 => clock.renewed(sent),
                    Ok(_) => {
                        tracing::error!(
                            lease,
                            "lease expired: another node may own this node's halls now"
                        );
                        break;
                    }
                    Err(e) if clock.alive() => {
                        tracing::warn!(error = %e, "lease keep-alive failed; retrying");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "lease could not be renewed in time");
                        break;
                    }
                }
            }
            clock.lost();
            self.lease.store(0, Ordering::Release);
            self.give_up_all("this node's lease was lost");
            metrics::counter!("hallq_cluster_leases_lost_total").increment(1);
            // Its keys may still be there: let them go now if etcd answers.
            let _ = store.revoke_lease(lease).await;
        }
    }

    /// Reads nodes and owners, then takes, keeps, hands over or gives up
    /// halls.
    async fn own(self: Arc<Self>) {
        let mut tick = tokio::time::interval(OWNERSHIP_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let store = &self.link.store;
            let (nodes, owners) = match tokio::try_join!(store.nodes(), store.owners()) {
                Ok(read) => read,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read the cluster's owners");
                    continue;
                }
            };
            self.refresh(nodes, owners);
            for shard in self.halls.halls() {
                if let Err(e) = self.decide(&shard).await {
                    tracing::warn!(hall = shard.id(), error = %e, "ownership step failed");
                }
            }
        }
    }

    fn refresh(&self, nodes: Vec<(String, NodeInfo)>, owners: Vec<OwnerKey>) {
        let now = Instant::now();
        let mut view = self.view.write();
        let mut seen = HashMap::new();
        for (name, info) in nodes {
            let since = view.nodes.get(&name).map_or(now, |(_, since)| *since);
            seen.insert(name, (info, since));
        }
        view.nodes = seen;
        view.owners = owners.into_iter().map(|o| (o.hall.clone(), o)).collect();
        let owned: HashSet<String> = view.owners.keys().cloned().collect();
        view.unowned_since.retain(|hall, _| !owned.contains(hall));
    }

    /// The live node hall `hall` belongs on: rendezvous hashing over the
    /// nodes that may own it.
    fn desired(&self, hall: &str) -> Option<String> {
        let view = self.view.read();
        view.nodes
            .iter()
            .filter(|(_, (info, _))| info.halls.iter().any(|h| h == hall))
            .max_by_key(|(name, _)| rendezvous(hall, name))
            .map(|(name, _)| name.clone())
    }

    async fn decide(&self, shard: &Arc<dyn SharedHall>) -> Result<(), StoreError> {
        let me = self.config.node.as_str();
        let hall = shard.id().to_owned();
        let lease = self.lease.load(Ordering::Acquire);
        let owner = self.view.read().owners.get(&hall).cloned();
        match owner {
            Some(owner) if owner.node == me && owner.lease == lease && lease != 0 => {
                match shard.fence() {
                    Some(fence) if fence == owner.fence => self.maybe_hand_over(shard, fence).await,
                    Some(_) => {
                        shard.give_up("the ownership key changed");
                        Ok(())
                    }
                    // Ours, but not serving: it was given up for a failed
                    // write that left the key in place (etcd full, or not
                    // answering). Serve again once caught up.
                    None if self.link.lease.alive() => self.take(shard, owner.fence).await,
                    None => Ok(()),
                }
            }
            Some(owner) if owner.node == me => {
                // A key of an earlier lease of this node (a restart): that
                // lease is dead to us; end it so the hall is free at once.
                shard.give_up("the ownership key is from an earlier lease");
                tracing::info!(
                    hall,
                    lease = owner.lease,
                    "ending an earlier lease of this node"
                );
                self.link.store.revoke_lease(owner.lease).await
            }
            Some(owner) => {
                if shard.fence().is_some() {
                    shard.give_up(&format!("node {:?} owns the hall now", owner.node));
                }
                Ok(())
            }
            None => {
                if shard.fence().is_some() {
                    shard.give_up("the ownership key is gone");
                }
                if lease == 0 || !self.link.lease.alive() || !self.config.may_own(&hall) {
                    return Ok(());
                }
                let now = Instant::now();
                let (waited, recently_failed) = {
                    let mut view = self.view.write();
                    let since = *view.unowned_since.entry(hall.clone()).or_insert(now);
                    let failed = view
                        .failed_takeover
                        .get(&hall)
                        .is_some_and(|at| now.duration_since(*at) < RETRY_TAKEOVER);
                    (now.duration_since(since), failed)
                };
                let mine = self.desired(&hall).as_deref() == Some(me);
                if recently_failed || !(mine || waited >= UNOWNED_GRACE) {
                    return Ok(());
                }
                match self.link.store.acquire(&hall, lease).await? {
                    Some(fence) => self.take(shard, fence).await,
                    None => Ok(()),
                }
            }
        }
    }

    /// Serves `shard` under `fence`: catches up, then journals the
    /// configured items and windows if they changed.
    async fn take(&self, shard: &Arc<dyn SharedHall>, fence: i64) -> Result<(), StoreError> {
        let started = Instant::now();
        match shard.clone().promote(fence).await {
            Ok(true) => {}
            // The last ownership's pipe is still finishing: next tick.
            Ok(false) => return Ok(()),
            Err(e) => {
                tracing::error!(hall = shard.id(), error = %e, "cannot take the hall over; letting it go");
                self.view
                    .write()
                    .failed_takeover
                    .insert(shard.id().to_owned(), Instant::now());
                let _ = self.link.store.release(shard.id(), fence).await;
                return Err(e);
            }
        }
        metrics::counter!("hallq_cluster_takeovers_total").increment(1);
        tracing::info!(
            hall = shard.id(),
            fence,
            took_ms = started.elapsed().as_millis() as u64,
            "took the hall over"
        );
        if let Some(spec) = self.halls.configured(shard.id()) {
            if let Err(e) = shard.adopt(spec).await {
                tracing::error!(hall = shard.id(), error = %e, "cannot record the hall's configuration");
            }
        }
        Ok(())
    }

    /// Hands `shard` to the node it belongs on, if that is another node
    /// that has been up a while (one hall at a time).
    async fn maybe_hand_over(
        &self,
        shard: &Arc<dyn SharedHall>,
        fence: i64,
    ) -> Result<(), StoreError> {
        let Some(desired) = self.desired(shard.id()) else {
            return Ok(());
        };
        if desired == self.config.node {
            return Ok(());
        }
        let now = Instant::now();
        {
            let mut view = self.view.write();
            let settled = view
                .nodes
                .get(&desired)
                .is_some_and(|(_, since)| now.duration_since(*since) >= SETTLE);
            let quiet = view
                .last_handover
                .is_none_or(|at| now.duration_since(at) >= HANDOVER_EVERY);
            if !settled || !quiet {
                return Ok(());
            }
            view.last_handover = Some(now);
        }
        tracing::info!(hall = shard.id(), to = %desired, "handing the hall over");
        if let Some(pipe) = shard.give_up(&format!("handing the hall over to {desired:?}")) {
            let _ = pipe.await;
        }
        self.link.store.release(shard.id(), fence).await
    }

    /// Follows the halls this node does not own: an etcd watch on every
    /// hall's log, with a catch-up by reading whenever a record is missing
    /// and every [`CATCH_UP_EVERY`].
    async fn follow(self: Arc<Self>) {
        let store = self.link.store.clone();
        let prefix = store.logs_prefix();
        loop {
            let mut client = store.client();
            let watch = client
                .watch(
                    prefix.clone(),
                    Some(etcd_client::WatchOptions::new().with_prefix()),
                )
                .await;
            let mut stream = match watch {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot watch the cluster's logs; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            // Whatever was written before the watch began.
            self.catch_up_all().await;
            let mut every = tokio::time::interval(CATCH_UP_EVERY);
            loop {
                tokio::select! {
                    message = stream.message() => {
                        let response = match message {
                            Ok(Some(response)) if !response.canceled() => response,
                            Ok(_) => break,
                            Err(e) => {
                                tracing::debug!(error = %e, "log watch ended; restarting it");
                                break;
                            }
                        };
                        let mut behind = HashSet::new();
                        for event in response.events() {
                            if event.event_type() != etcd_client::EventType::Put {
                                continue;
                            }
                            let Some(kv) = event.kv() else { continue };
                            let Some((hall, seq)) = store.parse_log_key(kv.key()) else { continue };
                            let Some(shard) = self.halls.hall(&hall) else { continue };
                            if shard.apply_replicated(seq, kv.value()) == Applied::Gap {
                                behind.insert(hall);
                            }
                        }
                        for hall in behind {
                            if let Some(shard) = self.halls.hall(&hall) {
                                if let Err(e) = shard.catch_up().await {
                                    tracing::warn!(hall, error = %e, "cannot catch up");
                                }
                            }
                        }
                    }
                    _ = every.tick() => self.catch_up_all().await,
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn catch_up_all(&self) {
        for shard in self.halls.halls() {
            if shard.fence().is_none() {
                if let Err(e) = shard.catch_up().await {
                    tracing::warn!(hall = shard.id(), error = %e, "cannot catch up");
                }
            }
        }
    }

    /// Tells the others how much of each hall this node has on disk; the
    /// owner deletes from etcd what every node has.
    async fn mark_applied(self: Arc<Self>) {
        let mut tick = tokio::time::interval(APPLIED_EVERY);
        let mut compacted: HashMap<String, u64> = HashMap::new();
        // The marks written last: a mark that has not moved is not written
        // again (every put is a new etcd revision).
        let mut marked: HashMap<String, u64> = HashMap::new();
        loop {
            tick.tick().await;
            let store = &self.link.store;
            for shard in self.halls.halls() {
                let hall = shard.id();
                let durable = shard.durable_seq();
                if marked.get(hall) != Some(&durable) {
                    if let Err(e) = store.set_applied(hall, durable).await {
                        tracing::debug!(hall, error = %e, "cannot write the applied mark");
                        continue;
                    }
                    marked.insert(hall.to_owned(), durable);
                }
                if shard.fence().is_none() {
                    continue;
                }
                // etcd keeps the current business day, and whatever some
                // node has not written to its own disk yet.
                let Ok(Some(applied)) = store.min_applied(hall).await else {
                    continue;
                };
                let upto = applied.min(shard.day_start_seq());
                if compacted.get(hall).is_some_and(|done| *done >= upto) {
                    continue;
                }
                match store.compact_log(hall, upto).await {
                    Ok(deleted) => {
                        if deleted > 0 {
                            tracing::info!(
                                hall,
                                below = upto,
                                deleted,
                                "deleted log records every node has"
                            );
                        }
                        compacted.insert(hall.to_owned(), upto);
                    }
                    Err(e) => tracing::debug!(hall, error = %e, "cannot delete old log records"),
                }
            }
        }
    }
}

/// The rendezvous weight of `node` for `hall` (FNV-1a: the same on every
/// node and every build).
fn rendezvous(hall: &str, node: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in hall.bytes().chain([0]).chain(node.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV's low bits mix poorly for short keys: finish with a mixer.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::rendezvous;

    #[test]
    fn rendezvous_spreads_halls_evenly_and_moves_few() {
        let halls: Vec<String> = (0..300).map(|i| format!("hall-{i}")).collect();
        fn pick<'a>(nodes: &[&'a str], hall: &str) -> &'a str {
            nodes.iter().max_by_key(|n| rendezvous(hall, n)).unwrap()
        }
        let three = ["a", "b", "c"];
        let mut counts = std::collections::HashMap::new();
        for hall in &halls {
            *counts.entry(pick(&three, hall)).or_insert(0) += 1;
        }
        for node in three {
            let n = counts[node];
            assert!((70..=130).contains(&n), "{node} got {n} of 300 halls");
        }
        // Removing a node moves only its own halls.
        let two = ["a", "b"];
        for hall in &halls {
            let before = pick(&three, hall);
            if before != "c" {
                assert_eq!(pick(&two, hall), before, "{hall} moved needlessly");
            }
        }
    }
}
