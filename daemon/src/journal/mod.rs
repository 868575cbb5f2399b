//! The journal: hallqd's append-only, durable event log.
//!
//! Every batch of events the dispatch core produces is appended here as one
//! record and acknowledged only after it is on disk (`fdatasync`). On start the
//! daemon replays all records through the same core to rebuild each hall's
//! state, so the journal is the source of truth; everything else is derived.
//!
//! The journal's framing treats payloads as opaque bytes; what a payload
//! holds is an [`Entry`] (`entry.rs`), encoded with bincode by the writer
//! of the record.
//!
//! # Pieces
//! - [`open`] reads every file of a hall's directory, repairs a torn tail and
//!   returns a [`Replay`].
//! - [`Journal::start`] spawns the writer thread; [`JournalHandle::append`]
//!   queues a record and returns a oneshot that resolves once the record is
//!   durable (group commit: one fsync for everything that arrived meanwhile).
//!
//! # On-disk format (format version 1)
//! One directory per hall. One file per business day, named
//! `journal-YYYY-MM-DD.log`; names sort lexicographically = chronologically.
//! Old files are kept; only the newest one is ever appended to.
//!
//! Each file starts with an 8-byte header:
//!
//! | bytes | content                                  |
//! |-------|------------------------------------------|
//! | 0..6  | magic `b"HALLQJ"`                         |
//! | 6..8  | format version, u16 little-endian (= 1)  |
//!
//! followed by zero or more records, back to back:
//!
//! | bytes       | content                                                   |
//! |-------------|-----------------------------------------------------------|
//! | 0..4        | `len`: payload length, u32 little-endian, at most [`MAX_RECORD_LEN`] |
//! | 4..8        | `crc`: CRC-32 (IEEE, as `crc32fast`) over bytes 0..4 **and** the payload, u32 LE |
//! | 8..8+len    | payload                                                   |
//!
//! The CRC covers the length bytes too, so a damaged length is detected rather
//! than trusted, and a run of zero bytes (what some filesystems leave after a
//! crash) is never a valid record: `crc32([0, 0, 0, 0]) != 0`.
//!
//! A record's sequence number is not stored: it is its position counted over
//! all files of the directory in order, starting at 0. Deleting or archiving
//! old files would therefore renumber; keep them (that is also the rule).
//!
//! # Torn tails versus corruption
//! A crash can leave the newest file ending in a partly written record (or a
//! partly written batch of records). Such a tail was never acknowledged, so
//! [`open`] cuts it off, logs a warning and reports it in
//! [`Replay::truncated`]. Anything else is corruption and stops the start with
//! [`JournalError::Corrupt`], naming the file and byte offset. The rule:
//!
//! - A defect (short record header, length over the limit, record extending
//!   past end of file, checksum mismatch) in the **last** file is a torn tail
//!   **only if no valid record starts anywhere after it**: the rest of the file
//!   is scanned byte by byte for a frame whose length fits and whose CRC
//!   matches. If one is found, the defect is damage followed by acknowledged
//!   data, and we refuse to start rather than drop it.
//! - A last file shorter than or equal to its 8-byte header with a bad header
//!   (crash right after creating it) is a torn tail; the header is rewritten.
//! - Any defect in an earlier file is corruption: a file is fsynced before the
//!   next day's file is created, so earlier files are never torn.
//!
//! The scan is conservative the other way round as well: a crash in the middle
//! of a multi-page batch write can, on some filesystems, persist a later page
//! but not an earlier one. Then a valid (never acknowledged) record follows a
//! hole and the start is refused; an operator decides, no data is dropped
//! silently.

mod entry;
mod file;
pub mod marker;
mod reader;
mod record;
pub mod storage;
#[cfg(test)]
mod tests;
mod writer;

use std::io;
use std::path::PathBuf;

pub use entry::{ChangeRecord, Entry};
pub use reader::{open, open_in, read_day, Record, Replay, TruncatedTail};
pub use record::{FILE_HEADER_LEN, FORMAT_VERSION, MAGIC, RECORD_HEADER_LEN};
pub use writer::{AppendReceiver, Journal, JournalHandle, JournalStats, OnCommit};

/// Largest payload one record may carry, in bytes. Checked on append and, on
/// replay, before any buffer for a payload is allocated, so a damaged length
/// cannot make the daemon allocate gigabytes.
pub const MAX_RECORD_LEN: usize = 1 << 20;

/// The writer stops draining the queue into one batch after this many records
/// (bounds the time the first request of a batch waits for its fsync).
pub const MAX_BATCH_RECORDS: usize = 4096;

/// ... or after this many bytes of encoded records.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// Everything that can go wrong in the journal. Each message says what
/// happened and what a person can do about it.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading, writing or syncing a file (or the directory) failed.
    #[error("journal I/O error on {}: {source}; check the disk (space, permissions, health)", file.display())]
    Io {
        /// The file or directory the operation was on.
        file: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A file holds something that is neither valid records nor a torn tail.
    #[error(
        "journal {} is corrupt at byte {offset}: {reason}; refusing to start \
         (move the file aside or restore it from backup)",
        file.display()
    )]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged record (or 0 for the file header).
        offset: u64,
        /// What is wrong there.
        reason: String,
    },

    /// A file was written by a hallqd with another on-disk format.
    #[error(
        "journal {} has format version {found}, but this hallqd reads version {}; \
         run a hallqd release that matches the file",
        file.display(),
        FORMAT_VERSION
    )]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version found in its header.
        found: u16,
    },

    /// The journal directory holds a `journal-*.log` whose name is no day.
    #[error(
        "unexpected file {} in the journal directory: journal files must be named \
         journal-YYYY-MM-DD.log; move it elsewhere",
        file.display()
    )]
    StrayFile {
        /// The file.
        file: PathBuf,
    },

    /// The newest file changed between [`open`] and [`Journal::start`].
    #[error(
        "journal {} changed after it was replayed (was {expected} bytes, now {found}); \
         is another hallqd using this directory? Stop it, then restart",
        file.display()
    )]
    ChangedSinceReplay {
        /// The file.
        file: PathBuf,
        /// Its length as replayed.
        expected: u64,
        /// Its length now.
        found: u64,
    },

    /// A payload is larger than [`MAX_RECORD_LEN`]; nothing was written.
    #[error("journal record of {len} bytes is over the limit of {max} bytes; nothing was written (split the event batch)")]
    TooLarge {
        /// Payload length asked for.
        len: usize,
        /// The limit, [`MAX_RECORD_LEN`].
        max: usize,
    },

    /// A business day that is malformed or earlier than the current file's.
    #[error("bad business day: {0}")]
    BadDay(String),

    /// Fewer records are on disk than the acknowledgement marker says were
    /// acknowledged: a file was deleted, emptied or damaged at its end
    /// (issue 19). Nothing is repaired or cut.
    #[error(
        "journal {} holds {found} records, but {acknowledged} were acknowledged \
         (marker {}): records {found}..{acknowledged} are missing{detail}; refusing \
         to start (restore the journal files from backup; nothing was changed)",
        dir.display(),
        marker.display()
    )]
    Shrunk {
        /// The hall's journal directory.
        dir: PathBuf,
        /// The marker file.
        marker: PathBuf,
        /// Records acknowledged, by the marker.
        acknowledged: u64,
        /// Records that are there (whole and valid).
        found: u64,
        /// Where it ends short: ", the newest file … ends in a damaged record at byte …".
        detail: String,
    },

    /// The writer has shut down; the record was not written.
    #[error("journal is closed (the daemon is shutting down); the record was not written")]
    Closed,

    /// An earlier write or fsync failed; this writer accepts nothing more.
    #[error(
        "journal write failed earlier: {0}; nothing more is recorded until hallqd has \
         recovered the journal (it retries by itself; a restart does the same)"
    )]
    Failed(String),
}

/// Checks that `day` looks like `YYYY-MM-DD` (month 01–12, day 01–31).
///
/// The daemon decides what a business day is; the journal only needs names
/// that are safe in a file name and sort chronologically.
pub fn validate_day(day: &str) -> Result<(), JournalError> {
    let b = day.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    // `shaped` guarantees ASCII digits here, so `- b'0'` cannot underflow.
    let in_range = shaped && {
        let month = (b[5] - b'0') * 10 + (b[6] - b'0');
        let dom = (b[8] - b'0') * 10 + (b[9] - b'0');
        (1..=12).contains(&month) && (1..=31).contains(&dom)
    };
    if in_range {
        Ok(())
    } else {
        Err(JournalError::BadDay(format!(
            "{day:?} is not a day of the form YYYY-MM-DD"
        )))
    }
}

/// Wraps an `io::Error` with the path it happened on.
fn io_error(file: &std::path::Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        file: file.to_path_buf(),
        source,
    }
}
