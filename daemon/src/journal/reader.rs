//! Replay: reading every journal file of a directory at start, and repairing
//! a torn tail of the newest one (see the module doc for the rule).

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::{
    check_file_header, checksum, valid_frame_at, FileHeader, FrameHeader, FILE_HEADER_LEN,
    RECORD_HEADER_LEN,
};
use super::storage::{FileSystem, Storage};
use super::{file, io_error, marker, JournalError, MAX_RECORD_LEN};

/// One record read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Global sequence number: position over all files, from 0.
    pub seq: u64,
    /// Business day of the file it came from.
    pub day: Arc<str>,
    /// The file it came from (shared by all records of that file).
    pub file: Arc<Path>,
    /// Byte offset of the record's header in that file.
    pub offset: u64,
    /// The payload, exactly as appended.
    pub payload: Vec<u8>,
}

/// A torn tail that [`open`] cut off the newest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedTail {
    /// The file that was cut.
    pub file: PathBuf,
    /// The new length of the file: where the dropped bytes began.
    pub offset: u64,
    /// How many bytes were dropped.
    pub dropped_bytes: u64,
}

/// Everything in a journal directory, as [`open`] found it.
///
/// Only [`open`] makes one, which is how [`Journal::start`](super::Journal::start)
/// knows the directory was replayed (and repaired) before it writes.
#[derive(Debug)]
pub struct Replay {
    /// The directory.
    pub dir: PathBuf,
    /// All records, oldest first. Take them with `std::mem::take` to apply
    /// them without copying; [`Journal::start`](super::Journal::start) does
    /// not need them.
    pub records: Vec<Record>,
    /// Sequence number the next appended record gets.
    pub next_seq: u64,
    /// Business day of the newest file, if there is one.
    pub last_day: Option<String>,
    /// Set when a torn tail was cut off the newest file.
    pub truncated: Option<TruncatedTail>,
    /// Length of the newest file after repair, checked again by `start`.
    pub(super) last_file_len: u64,
    /// The storage the files are on; the writer appends through it.
    pub(super) storage: Arc<dyn Storage>,
}

/// Reads all journal files in `dir` (creating `dir` if missing), oldest first.
///
/// A torn tail of the newest file is cut off durably and reported with a
/// warning; any other defect is an error (see the module doc), so no record
/// that was ever acknowledged is dropped silently.
///
/// Call it only while no [`Journal`](super::Journal) writes to `dir`: a batch
/// being written would look like a torn tail and be cut.
pub fn open(dir: impl AsRef<Path>) -> Result<Replay, JournalError> {
    open_in(Arc::new(FileSystem), dir)
}

/// [`open`] on any [`Storage`] (a simulated disk in tests).
pub fn open_in(storage: Arc<dyn Storage>, dir: impl AsRef<Path>) -> Result<Replay, JournalError> {
    let dir = dir.as_ref().to_path_buf();
    storage.create_dir_all(&dir).map_err(io_error(&dir))?;
    let files = file::list(storage.as_ref(), &dir)?;
    // Issue 19: what was acknowledged, if a marker says (see `marker.rs`).
    let acked = marker::read(storage.as_ref(), &dir)?;
    let shrunk = |found: usize, detail: String| JournalError::Shrunk {
        dir: dir.clone(),
        marker: marker::path_in(&dir),
        acknowledged: acked.unwrap_or(0),
        found: found as u64,
        detail,
    };

    let mut records = Vec::new();
    let mut truncated = None;
    let mut last_file_len = 0;
    for (i, (day, path)) in files.iter().enumerate() {
        let is_last = i + 1 == files.len();
        let scan =
            read_file(storage.as_ref(), path, day, is_last, acked, &mut records).map_err(|e| {
                match e {
                    Refusal::Journal(e) => e,
                    Refusal::Short { found, detail } => shrunk(found, detail),
                }
            })?;
        // Only the last file can have been repaired, so this keeps its result.
        truncated = scan.truncated;
        last_file_len = scan.len;
    }
    if acked.is_some_and(|a| (records.len() as u64) < a) {
        let detail = match files.last() {
            Some((_, path)) => format!(
                " (a journal file was deleted or emptied? the newest is {}, {} bytes)",
                path.display(),
                last_file_len
            ),
            None => " (every journal file is gone)".to_owned(),
        };
        return Err(shrunk(records.len(), detail));
    }
    Ok(Replay {
        dir,
        next_seq: records.len() as u64,
        records,
        last_day: files.last().map(|(day, _)| day.clone()),
        truncated,
        last_file_len,
        storage,
    })
}

/// Why a file's reading stopped the start.
enum Refusal {
    Journal(JournalError),
    /// The tail would be cut below what the marker says was acknowledged.
    Short {
        /// Records read, all files so far.
        found: usize,
        /// Where and why.
        detail: String,
    },
}

impl From<JournalError> for Refusal {
    fn from(e: JournalError) -> Refusal {
        Refusal::Journal(e)
    }
}

/// What reading one file found besides its records.
struct FileScan {
    /// File length after any repair.
    len: u64,
    truncated: Option<TruncatedTail>,
}

/// One step of reading records: a record, or a defect with its reason.
enum Step {
    Record(Vec<u8>),
    Defect(String),
}

fn read_file(
    storage: &dyn Storage,
    path: &Path,
    day: &str,
    is_last: bool,
    acked: Option<u64>,
    out: &mut Vec<Record>,
) -> Result<FileScan, Refusal> {
    // Whole files: a day's journal is megabytes, and one read is simplest to
    // get right on any storage.
    let bytes = storage.read(path).map_err(io_error(path))?;
    let len = bytes.len() as u64;
    let mut r = Cursor::new(&bytes[..]);

    // The header. A bad header on a last file that holds nothing beyond it is
    // a crash right after creation: nothing can be lost by rewriting it.
    let mut head = [0u8; FILE_HEADER_LEN];
    let header = if len < FILE_HEADER_LEN as u64 {
        None
    } else {
        r.read_exact(&mut head).map_err(io_error(path))?;
        Some(check_file_header(&head))
    };
    match header {
        Some(FileHeader::Valid) => {}
        // A complete header with our magic was written whole: not torn, and
        // a newer release's file must not be rewritten as ours.
        Some(FileHeader::Version(found)) => {
            return Err(JournalError::UnsupportedVersion {
                file: path.to_path_buf(),
                found,
            }
            .into())
        }
        // Emptied after acknowledgements: not a crash after creation.
        _ if is_last
            && len <= FILE_HEADER_LEN as u64
            && acked.is_some_and(|a| (out.len() as u64) < a) =>
        {
            return Err(Refusal::Short {
                found: out.len(),
                detail: format!(
                    ", the newest file {} is {len} bytes (emptied or cut)",
                    path.display()
                ),
            })
        }
        _ if is_last && len <= FILE_HEADER_LEN as u64 => {
            file::rewrite_header(storage, path)?;
            tracing::warn!(
                file = %path.display(),
                offset = 0,
                dropped_bytes = len,
                "journal file had a torn header (crash right after it was created); rewrote it"
            );
            return Ok(FileScan {
                len: FILE_HEADER_LEN as u64,
                truncated: Some(TruncatedTail {
                    file: path.to_path_buf(),
                    offset: 0,
                    dropped_bytes: len,
                }),
            });
        }
        None => return Err(corrupt(path, 0, "file is shorter than its 8-byte header").into()),
        Some(FileHeader::WrongMagic) => {
            return Err(corrupt(path, 0, "wrong magic: not a hallq journal file").into())
        }
    }

    let file_arc: Arc<Path> = Arc::from(path);
    let day_arc: Arc<str> = Arc::from(day);
    let mut pos = FILE_HEADER_LEN as u64;
    while pos < len {
        match next_record(&mut r, len - pos).map_err(|e| Refusal::Journal(io_error(path)(e)))? {
            Step::Record(payload) => {
                let advance = (RECORD_HEADER_LEN + payload.len()) as u64;
                out.push(Record {
                    seq: out.len() as u64,
                    day: day_arc.clone(),
                    file: file_arc.clone(),
                    offset: pos,
                    payload,
                });
                pos += advance;
            }
            Step::Defect(reason) => {
                // Issue 19: a "torn" tail that would take acknowledged
                // records with it is damage.
                // (Damage followed by valid records is reported as such.)
                if is_last
                    && acked.is_some_and(|a| (out.len() as u64) < a)
                    && valid_record_after(&bytes, pos).is_none()
                {
                    return Err(Refusal::Short {
                        found: out.len(),
                        detail: format!(
                            ", the newest file {} ends in a damaged record at byte {pos} ({reason})",
                            path.display()
                        ),
                    });
                }
                return Ok(settle_defect(storage, path, &bytes, pos, reason, is_last)?);
            }
        }
    }
    Ok(FileScan {
        len,
        truncated: None,
    })
}

/// Reads the record at the reader's position; `remaining` is the number of
/// bytes from there to end of file.
fn next_record(r: &mut impl Read, remaining: u64) -> std::io::Result<Step> {
    if remaining < RECORD_HEADER_LEN as u64 {
        return Ok(Step::Defect(format!(
            "incomplete record header ({remaining} of {RECORD_HEADER_LEN} bytes)"
        )));
    }
    let mut head = [0u8; RECORD_HEADER_LEN];
    r.read_exact(&mut head)?;
    let h = FrameHeader::parse(&head);
    let len = h.len();
    // Both checks come before the allocation: a damaged length must not make
    // us allocate up to 4 GiB.
    if len > MAX_RECORD_LEN as u64 {
        return Ok(Step::Defect(format!(
            "record length {len} is over the limit of {MAX_RECORD_LEN} bytes"
        )));
    }
    let available = remaining - RECORD_HEADER_LEN as u64;
    if len > available {
        return Ok(Step::Defect(format!(
            "record of {len} bytes runs past end of file ({available} bytes left)"
        )));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)?;
    if checksum(h.len_bytes, &payload) != h.crc {
        return Ok(Step::Defect("checksum mismatch".to_owned()));
    }
    Ok(Step::Record(payload))
}

/// Decides whether the defect at `offset` is a torn tail (cut it off) or
/// corruption (refuse), per the rule in the module doc.
fn settle_defect(
    storage: &dyn Storage,
    path: &Path,
    bytes: &[u8],
    offset: u64,
    reason: String,
    is_last: bool,
) -> Result<FileScan, JournalError> {
    let len = bytes.len() as u64;
    if !is_last {
        return Err(corrupt(path, offset, &reason));
    }
    if let Some(valid_at) = valid_record_after(bytes, offset) {
        return Err(corrupt(
            path,
            offset,
            &format!(
                "{reason}, yet a valid record follows at byte {valid_at}, \
                 so this is damage, not an interrupted write"
            ),
        ));
    }
    file::truncate(storage, path, offset)?;
    let dropped_bytes = len - offset;
    tracing::warn!(
        file = %path.display(),
        offset,
        dropped_bytes,
        reason = %reason,
        "journal ended in a torn record (interrupted write); cut it off"
    );
    Ok(FileScan {
        len: offset,
        truncated: Some(TruncatedTail {
            file: path.to_path_buf(),
            offset,
            dropped_bytes,
        }),
    })
}

/// Looks for a valid record starting anywhere after `offset` (exclusive) in
/// the file's `bytes`.
fn valid_record_after(bytes: &[u8], offset: u64) -> Option<u64> {
    let rest = &bytes[offset as usize..];
    (1..rest.len())
        .find(|&i| valid_frame_at(&rest[i..]))
        .map(|i| offset + i as u64)
}

fn corrupt(path: &Path, offset: u64, reason: &str) -> JournalError {
    JournalError::Corrupt {
        file: path.to_path_buf(),
        offset,
        reason: reason.to_owned(),
    }
}

/// The records of one business day's file, for reading while a writer may
/// be appending to it (statistics, exports): nothing is repaired, and
/// reading stops quietly at the first incomplete or damaged record (a batch
/// being written). A day with no file has no records.
pub fn read_day(dir: impl AsRef<Path>, day: &str) -> Result<Vec<Vec<u8>>, JournalError> {
    let path = file::path_for(dir.as_ref(), day);
    let bytes = match FileSystem.read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&path)(e)),
    };
    let len = bytes.len() as u64;
    let mut r = Cursor::new(&bytes[..]);
    let mut head = [0u8; FILE_HEADER_LEN];
    if len < FILE_HEADER_LEN as u64 {
        return Ok(Vec::new());
    }
    r.read_exact(&mut head).map_err(io_error(&path))?;
    match check_file_header(&head) {
        FileHeader::Valid => {}
        FileHeader::Version(found) => {
            return Err(JournalError::UnsupportedVersion { file: path, found })
        }
        _ => return Err(corrupt(&path, 0, "wrong magic: not a hallq journal file")),
    }
    let mut out = Vec::new();
    let mut pos = FILE_HEADER_LEN as u64;
    while pos < len {
        match next_record(&mut r, len - pos).map_err(io_error(&path))? {
            Step::Record(payload) => {
                pos += (RECORD_HEADER_LEN + payload.len()) as u64;
                out.push(payload);
            }
            Step::Defect(_) => break,
        }
    }
    Ok(out)
}
