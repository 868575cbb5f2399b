//! The acknowledgement marker: durable evidence of how many records were
//! ever acknowledged, so a journal cannot shrink silently (issue 19).
//!
//! A torn tail may only lose what was never acknowledged. Without outside
//! evidence the reader cannot tell a torn write from a flipped byte in the
//! last record, nor an empty or deleted newest file from a fresh hall. So
//! after every group commit, once the batch is fsynced and before any of
//! it is acknowledged, the writer appends one 16-byte entry to `acked.mark`
//! in the hall's directory and fsyncs it:
//!
//! | bytes  | content                                                    |
//! |--------|------------------------------------------------------------|
//! | 0..8   | records acknowledged so far (the next sequence number), u64 LE |
//! | 8..12  | CRC-32 of bytes 0..8, u32 LE                                |
//! | 12..16 | `b"HQAK"`                                                  |
//!
//! [`open`](super::open) reads the last whole, valid entry and refuses to
//! start if fewer records are there (or would be after cutting a "torn"
//! tail) than it says. A torn marker entry is skipped: it never covered an
//! acknowledgement. The file is cut back to one entry when it passes
//! [`MARKER_MAX_LEN`]; a crash inside that cut leaves an empty marker,
//! which only means the check is skipped once, as for a journal written
//! before markers existed (those start as they always did).
//!
//! Cost: one more small append and `fdatasync` per batch, not per record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::storage::{Storage, StorageFile};
use super::{io_error, JournalError};

/// The marker's file name in a hall's journal directory.
pub const MARKER_FILE: &str = "acked.mark";

/// Bytes of one entry.
const ENTRY_LEN: usize = 16;

/// Tag of an entry, so that garbage is not taken for a count.
const ENTRY_TAG: [u8; 4] = *b"HQAK";

/// The marker is cut back to its last entry past this length (4096 batches).
pub const MARKER_MAX_LEN: u64 = 64 * 1024;

/// One entry saying `acked` records are acknowledged.
pub(super) fn entry(acked: u64) -> [u8; ENTRY_LEN] {
    let mut e = [0u8; ENTRY_LEN];
    let count = acked.to_le_bytes();
    e[..8].copy_from_slice(&count);
    e[8..12].copy_from_slice(&crc32fast::hash(&count).to_le_bytes());
    e[12..].copy_from_slice(&ENTRY_TAG);
    e
}

fn parse(e: &[u8]) -> Option<u64> {
    let count: [u8; 8] = e[..8].try_into().ok()?;
    let crc = u32::from_le_bytes(e[8..12].try_into().ok()?);
    (e[12..16] == ENTRY_TAG && crc32fast::hash(&count) == crc).then(|| u64::from_le_bytes(count))
}

/// The path of `dir`'s marker.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(MARKER_FILE)
}

/// The acknowledged count `dir`'s marker holds, if it has one: the last
/// whole, valid entry (a torn or damaged last entry is passed over).
pub(super) fn read(storage: &dyn Storage, dir: &Path) -> Result<Option<u64>, JournalError> {
    let names = storage.list(dir).map_err(io_error(dir))?;
    if !names.iter().any(|n| n == MARKER_FILE) {
        return Ok(None);
    }
    let path = path_in(dir);
    let bytes = storage.read(&path).map_err(io_error(&path))?;
    Ok(bytes.chunks_exact(ENTRY_LEN).rev().find_map(parse))
}

/// The marker open for appending, owned by the writer thread.
#[derive(Debug)]
pub(super) struct Marker {
    path: PathBuf,
    file: Box<dyn StorageFile>,
    len: u64,
}

impl Marker {
    /// Opens (or creates, name made durable) `dir`'s marker.
    pub(super) fn open(storage: &Arc<dyn Storage>, dir: &Path) -> Result<Marker, JournalError> {
        let path = path_in(dir);
        let names = storage.list(dir).map_err(io_error(dir))?;
        let file = if names.iter().any(|n| n == MARKER_FILE) {
            storage.open_append(&path).map_err(io_error(&path))?
        } else {
            let f = storage.create_new(&path).map_err(io_error(&path))?;
            storage.sync_dir(dir).map_err(io_error(dir))?;
            f
        };
        let len = file.size().map_err(io_error(&path))?;
        Ok(Marker { path, file, len })
    }

    /// Records durably that `acked` records are acknowledged. On failure
    /// the entry is taken off again (best effort), so the marker does not
    /// claim a batch the writer then takes back.
    pub(super) fn record(&mut self, acked: u64) -> std::io::Result<()> {
        if self.len >= MARKER_MAX_LEN {
            self.file.set_len(0)?;
            self.len = 0;
        }
        let result = self
            .file
            .append(&entry(acked))
            .and_then(|()| self.file.sync());
        match result {
            Ok(()) => {
                self.len += ENTRY_LEN as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len).and_then(|()| self.file.sync());
                Err(e)
            }
        }
    }

    /// The file, for messages.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_garbage_is_no_entry() {
        assert_eq!(parse(&entry(4543)), Some(4543));
        let mut e = entry(7);
        e[0] ^= 1;
        assert_eq!(parse(&e), None);
        assert_eq!(parse(&[0u8; ENTRY_LEN]), None);
    }
}
