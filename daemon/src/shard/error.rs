//! The shard's two error boundaries: [`ShardError`], why a request to a
//! running hall failed (each with the stable code a client gets), and
//! [`OpenError`], why a hall could not be opened or configured.

use std::path::PathBuf;

use hallq_core::DispatchError;
use hallq_proto::ErrorCode;

use crate::journal::JournalError;

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
    /// A change id was refused (`Request::Once`); nothing was changed.
    #[error(transparent)]
    ChangeId(#[from] super::changes::ChangeIdError),
}

impl ShardError {
    /// Stable code for clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            ShardError::Refused(e) => e.code(),
            ShardError::Storage(_) => ErrorCode::StorageFailed,
            ShardError::NotOwner(_) => ErrorCode::NotOwner,
            ShardError::Unconfirmed(_) => ErrorCode::ClusterUnavailable,
            ShardError::ChangeId(e) => e.code(),
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
    /// The visitor links' key (`visitor.key`) could not be read or made.
    #[error("the visitor link key: {0}")]
    LinkKey(std::io::Error),
}
