//! What the cluster's loops need of the halls, and nothing more: the
//! interface this module defines and the daemon's halls implement, so that
//! the cluster depends on no shard and holds no pointer back to the daemon.
//!
//! [`Halls`] is the set of halls this node serves (and the configuration
//! they are served under); [`SharedHall`] is one of them as a hall shared by
//! the cluster's nodes: owned here, or followed from the etcd log. The
//! loops only take ownership decisions; how a hall serves, follows or gives
//! itself up is the hall's business.

use std::error::Error;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use hallq_core::HallSpec;
use tokio::task::JoinHandle;

use super::store::StoreError;

/// Every hall this node serves, as the cluster's loops see them.
pub trait Halls: std::fmt::Debug + Send + Sync {
    /// Every hall, in no particular order.
    fn halls(&self) -> Vec<Arc<dyn SharedHall>>;

    /// The hall `id`, if served here.
    fn hall(&self, id: &str) -> Option<Arc<dyn SharedHall>>;

    /// The items and windows hall `id` is configured with now (a reload may
    /// have changed them since the hall was opened): journaled by the node
    /// that takes the hall over.
    fn configured(&self, id: &str) -> Option<HallSpec>;
}

/// One hall whose journal the cluster replicates.
pub trait SharedHall: Send + Sync {
    /// The hall's id.
    fn id(&self) -> &str;

    /// The fence this node owns the hall with, if it does.
    fn fence(&self) -> Option<i64>;

    /// Takes the hall over with `fence` (the owner key this node just
    /// created): catches up, then serves. `Ok(false)`: not serving yet (an
    /// earlier ownership is still finishing); ask again later.
    fn promote(self: Arc<Self>, fence: i64) -> BoxFuture<'static, Result<bool, StoreError>>;

    /// Stops serving the hall at once. Returns, if this node owned it, the
    /// task that finishes once what was sent is stored and the hall rebuilt.
    fn give_up(&self, why: &str) -> Option<JoinHandle<()>>;

    /// Journals `spec` unless the journal already records it (the owner
    /// does this right after taking the hall over).
    fn adopt(&self, spec: HallSpec) -> BoxFuture<'_, Result<(), Box<dyn Error + Send + Sync>>>;

    /// Applies record `seq` another node wrote, if it is the next one.
    fn apply_replicated(&self, seq: u64, payload: &[u8]) -> Applied;

    /// Applies every record etcd has that this node has not; how many.
    fn catch_up(&self) -> BoxFuture<'_, Result<usize, StoreError>>;

    /// Every record numbered below this is in this node's journal files.
    fn durable_seq(&self) -> u64;

    /// The number of the record that began the current business day (etcd
    /// keeps the day's records from here on).
    fn day_start_seq(&self) -> u64;
}

/// What [`SharedHall::apply_replicated`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied and queued to the local journal.
    Yes,
    /// Already had it, or this node owns the hall.
    Skipped,
    /// Records before it are missing here: catch up first.
    Gap,
}
