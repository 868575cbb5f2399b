//! The journal's files: names, listing, repairs and the file the writer
//! appends to — all through a [`Storage`], so the same code runs on the real
//! file system and on a simulated disk.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::{file_header, FILE_HEADER_LEN};
use super::storage::{Storage, StorageFile};
use super::{io_error, validate_day, JournalError};

const PREFIX: &str = "journal-";
const SUFFIX: &str = ".log";

/// Path of the journal file for `day` in `dir`.
pub(crate) fn path_for(dir: &Path, day: &str) -> PathBuf {
    dir.join(format!("{PREFIX}{day}{SUFFIX}"))
}

/// The journal files in `dir`, oldest first, as `(day, path)`.
///
/// Files that do not look like `journal-*.log` are ignored: that is how an
/// operator moves a damaged file aside (`mv x.log x.log.bad`). A
/// `journal-*.log` whose middle is not a day is an error rather than ignored,
/// because skipping it could skip acknowledged records.
pub(crate) fn list(
    storage: &dyn Storage,
    dir: &Path,
) -> Result<Vec<(String, PathBuf)>, JournalError> {
    let mut files = Vec::new();
    for name in storage.list(dir).map_err(io_error(dir))? {
        let Some(day) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_suffix(SUFFIX))
        else {
            continue;
        };
        if validate_day(day).is_err() {
            return Err(JournalError::StrayFile {
                file: dir.join(&name),
            });
        }
        files.push((day.to_owned(), dir.join(&name)));
    }
    // `YYYY-MM-DD` sorts chronologically as a string.
    files.sort();
    Ok(files)
}

/// Cuts a file to `len` bytes (dropping a torn tail) and makes that durable.
pub(crate) fn truncate(storage: &dyn Storage, path: &Path, len: u64) -> Result<(), JournalError> {
    let mut f = storage.open_append(path).map_err(io_error(path))?;
    f.set_len(len).map_err(io_error(path))?;
    f.sync().map_err(io_error(path))?;
    storage.sync_dir(parent(path)).map_err(io_error(path))
}

/// Replaces a torn file header by a complete one (the file then holds no
/// records), durably.
pub(crate) fn rewrite_header(storage: &dyn Storage, path: &Path) -> Result<(), JournalError> {
    let mut f = storage.open_append(path).map_err(io_error(path))?;
    f.set_len(0).map_err(io_error(path))?;
    f.append(&file_header()).map_err(io_error(path))?;
    f.sync().map_err(io_error(path))?;
    storage.sync_dir(parent(path)).map_err(io_error(path))
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// The file the writer appends to.
#[derive(Debug)]
pub(crate) struct JournalFile {
    path: PathBuf,
    file: Box<dyn StorageFile>,
    /// Length known to be on disk: everything up to the last successful sync.
    durable: u64,
}

impl JournalFile {
    /// Creates the file for `day` with its header. The header is fsynced and
    /// then the directory, before any record goes in, so that a crash can
    /// never leave records behind a missing header or a missing name.
    /// Returns the file and the number of fsyncs it took.
    pub(crate) fn create(
        storage: &Arc<dyn Storage>,
        dir: &Path,
        day: &str,
    ) -> Result<(Self, u64), JournalError> {
        let path = path_for(dir, day);
        // `create_new`: a file that already exists was not replayed; never
        // append to (or clobber) it blindly.
        let mut file = storage.create_new(&path).map_err(io_error(&path))?;
        file.append(&file_header()).map_err(io_error(&path))?;
        file.sync().map_err(io_error(&path))?;
        storage.sync_dir(dir).map_err(io_error(dir))?;
        let durable = FILE_HEADER_LEN as u64;
        Ok((
            JournalFile {
                path,
                file,
                durable,
            },
            2,
        ))
    }

    /// Opens an existing, replayed file for appending. Its length must still be
    /// what replay saw; otherwise someone else wrote to it meanwhile.
    pub(crate) fn open_append(
        storage: &Arc<dyn Storage>,
        path: PathBuf,
        expected_len: u64,
    ) -> Result<Self, JournalError> {
        let file = storage.open_append(&path).map_err(io_error(&path))?;
        let found = file.size().map_err(io_error(&path))?;
        if found != expected_len || found < FILE_HEADER_LEN as u64 {
            return Err(JournalError::ChangedSinceReplay {
                file: path,
                expected: expected_len,
                found,
            });
        }
        Ok(JournalFile {
            path,
            file,
            durable: found,
        })
    }

    /// The file's path, for error messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `bytes` (a whole batch) and syncs them: one `write` call and
    /// one `fdatasync`, after which data and file length are durable.
    ///
    /// If either fails (a full disk, an I/O error), the batch is cut off
    /// again: the file goes back to its last synced length, so what is left
    /// is exactly what was acknowledged, and a later replay cannot resurrect
    /// records whose writers were told they failed. The failed fsync itself
    /// is never retried (after one, nobody knows which pages reached the
    /// disk); the cut is synced on its own.
    /// Takes the last `len` bytes written by [`JournalFile::write_batch`]
    /// back off the file (its batch could not be acknowledged after all);
    /// a failure is logged, the next start then sees a torn tail.
    pub(crate) fn cut_last(&mut self, len: u64) {
        self.durable = self.durable.saturating_sub(len);
        let cut = self
            .file
            .set_len(self.durable)
            .and_then(|()| self.file.sync());
        if let Err(e) = cut {
            tracing::error!(
                file = %self.path.display(),
                error = %e,
                "cannot cut an unacknowledged batch off the journal; the next start will treat it as a torn tail"
            );
        }
    }

    pub(crate) fn write_batch(&mut self, bytes: &[u8]) -> io::Result<()> {
        let result = self.file.append(bytes).and_then(|()| self.file.sync());
        match result {
            Ok(()) => {
                self.durable += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let cut = self
                    .file
                    .set_len(self.durable)
                    .and_then(|()| self.file.sync());
                if let Err(cut) = cut {
                    tracing::error!(
                        file = %self.path.display(),
                        error = %cut,
                        "cannot cut a failed batch off the journal; the next start will treat it as a torn tail"
                    );
                }
                Err(e)
            }
        }
    }
}
