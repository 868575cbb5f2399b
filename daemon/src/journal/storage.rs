//! The storage seam: everything the journal asks of a disk, as a trait, so
//! that tests can run the real reader and writer on a simulated disk that
//! loses what was not synced (see `sim::SimDisk` in the tests).

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A directory tree of journal files.
pub trait Storage: Send + Sync + Debug + 'static {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the files in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// A whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Creates a file that must not exist yet, for appending.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Opens an existing file for appending.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Makes the directory's entries (new names) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// One file open for appending.
pub trait StorageFile: Send + Debug {
    /// The file's length now.
    fn size(&self) -> io::Result<u64>;
    /// Appends `bytes` (not yet durable).
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything appended durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts (or extends) the file to `len` bytes, not yet durable.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSystem;

impl Storage for FileSystem {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Some(name) = entry?.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)?;
        Ok(Box::new(RealFile {
            path: path.to_path_buf(),
            file,
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(RealFile {
            path: path.to_path_buf(),
            file,
        }))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir).and_then(|d| d.sync_all())
    }
}

#[derive(Debug)]
struct RealFile {
    path: PathBuf,
    file: File,
}

impl StorageFile for RealFile {
    fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        #[cfg(test)]
        if faults::sync_fails(&self.path) {
            return Err(io::Error::other("injected fsync failure"));
        }
        let _ = &self.path;
        self.file.sync_data()
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

/// Test-only fault injection on the real file system (the simulated disk
/// in the tests has its own).
#[cfg(test)]
pub(crate) mod faults {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, PoisonError};

    /// Directories in which every data sync fails.
    static FAILING_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    /// Makes every later `JournalFile::sync` of a file in `dir` fail.
    pub(crate) fn fail_syncs_in(dir: &Path) {
        FAILING_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(dir.to_path_buf());
    }

    /// Lets syncs in `dir` succeed again (the disk has room again).
    pub(crate) fn heal_syncs_in(dir: &Path) {
        FAILING_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|d| d != dir);
    }

    pub(crate) fn sync_fails(path: &Path) -> bool {
        let dirs = FAILING_DIRS.lock().unwrap_or_else(PoisonError::into_inner);
        path.parent().is_some_and(|p| dirs.iter().any(|d| d == p))
    }
}
