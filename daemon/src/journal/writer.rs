//! The writer thread and the handles that feed it.
//!
//! Group commit: the thread blocks for one request, drains whatever else is
//! already queued (up to [`MAX_BATCH_RECORDS`] / [`MAX_BATCH_BYTES`]), writes
//! the whole batch with one `write_all`, makes it durable with one
//! `fdatasync`, tells the daemon the committed order through the `on_commit`
//! hook and only then completes each request's oneshot. Under load, many
//! appends share one fsync; with no load, a lone append pays exactly one.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};

use crossbeam::channel::{self, Receiver, SendError, Sender};
use tokio::sync::oneshot;

use super::file::{self, JournalFile};
use super::marker::Marker;
use super::{
    io_error, record, validate_day, JournalError, Replay, MAX_BATCH_BYTES, MAX_BATCH_RECORDS,
    MAX_RECORD_LEN,
};

/// The commit hook: called on the writer thread after each successful fsync,
/// with the batch's `(seq, tag)` pairs in journal order, before any of the
/// batch's appends is acknowledged. Keep it short (it delays the acks); a
/// panic in it stops the writer.
pub type OnCommit<T> = Box<dyn FnMut(Vec<(u64, T)>) + Send>;

/// Resolves to the record's sequence number once it is durable, or to the
/// error that kept it from being written. If the sender is dropped instead
/// (`RecvError`), the writer stopped: treat it as [`JournalError::Closed`].
pub type AppendReceiver = oneshot::Receiver<Result<u64, JournalError>>;

/// Counters of the writer, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Records made durable.
    pub records: u64,
    /// Batches written (each with one data sync).
    pub batches: u64,
    /// Successful fsyncs of any kind: one per batch, plus two (file and
    /// directory) per journal file created.
    pub fsyncs: u64,
}

/// State shared between the handles and the writer thread.
#[derive(Debug, Default)]
struct Shared {
    records: AtomicU64,
    batches: AtomicU64,
    fsyncs: AtomicU64,
    /// Set by `shutdown` and when the writer exits: appends fail at once.
    closed: AtomicBool,
    /// Set once, on the first write or sync error. Never cleared: after a
    /// failed fsync nobody knows what is on disk (PostgreSQL's "fsyncgate"),
    /// so retrying could acknowledge lost data. Only a restart (replay) can
    /// tell.
    failed: OnceLock<String>,
}

enum Request<T> {
    Append(Append<T>),
    /// Everything queued before this is committed, then the writer exits.
    Shutdown,
}

struct Append<T> {
    payload: Vec<u8>,
    day: String,
    tag: T,
    done: oneshot::Sender<Result<u64, JournalError>>,
}

/// A cheap, cloneable way to append to the journal from any thread.
pub struct JournalHandle<T> {
    tx: Sender<Request<T>>,
    shared: Arc<Shared>,
}

// Manual impls: `T` itself need be neither `Clone` nor `Debug`.
impl<T> Clone for JournalHandle<T> {
    fn clone(&self) -> Self {
        JournalHandle {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for JournalHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalHandle")
            .field("queued", &self.tx.len())
            .field("stats", &self.stats())
            .finish()
    }
}

impl<T> JournalHandle<T> {
    /// Queues `payload` as one record of business day `day`, with `tag`
    /// handed to the commit hook once it is durable.
    ///
    /// Never blocks (the queue is unbounded; callers are bounded by awaiting
    /// their acks), so it may be called while holding a hall's lock; that is
    /// also what fixes the journal order to the dispatch order. Invalid
    /// requests (too large, malformed day, journal closed or failed) are
    /// answered at once through the returned receiver.
    pub fn append(&self, payload: Vec<u8>, day: &str, tag: T) -> AppendReceiver {
        let (done, rx) = oneshot::channel();
        if let Err(e) = self.admit(payload.len(), day) {
            // The receiver is still in our hands, so this send cannot fail.
            let _ = done.send(Err(e));
            return rx;
        }
        let req = Request::Append(Append {
            payload,
            day: day.to_owned(),
            tag,
            done,
        });
        // The writer is gone (exited or panicked): answer instead of dropping.
        if let Err(SendError(Request::Append(a))) = self.tx.send(req) {
            let _ = a.done.send(Err(JournalError::Closed));
        }
        rx
    }

    /// Checks that can be made without the writer, so bad requests never
    /// reach the file.
    fn admit(&self, len: usize, day: &str) -> Result<(), JournalError> {
        if len > MAX_RECORD_LEN {
            return Err(JournalError::TooLarge {
                len,
                max: MAX_RECORD_LEN,
            });
        }
        validate_day(day)?;
        if let Some(msg) = self.shared.failed.get() {
            return Err(JournalError::Failed(msg.clone()));
        }
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(JournalError::Closed);
        }
        Ok(())
    }

    /// Asks the writer to commit everything queued so far and exit. Appends
    /// made after this fail with [`JournalError::Closed`]. Does not wait; use
    /// [`Journal::close`] for that.
    pub fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::Release);
        // An error means the writer is already gone, which is the goal.
        let _ = self.tx.send(Request::Shutdown);
    }

    /// The writer's counters so far.
    pub fn stats(&self) -> JournalStats {
        JournalStats {
            records: self.shared.records.load(Ordering::Relaxed),
            batches: self.shared.batches.load(Ordering::Relaxed),
            fsyncs: self.shared.fsyncs.load(Ordering::Relaxed),
        }
    }
}

/// The running journal: owns the writer thread. Hand out [`JournalHandle`]s
/// with [`Journal::handle`]; call [`Journal::close`] on shutdown.
pub struct Journal<T> {
    handle: JournalHandle<T>,
    thread: JoinHandle<()>,
}

impl<T> fmt::Debug for Journal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Journal<T> {
    /// Starts the writer for business day `day` after `replay`.
    ///
    /// If `day` is the newest file's day, appends continue in that file; if it
    /// is later (or there is no file yet), `journal-<day>.log` is created. An
    /// earlier day is refused: the journal never goes back in time.
    pub fn start(replay: &Replay, day: &str, on_commit: OnCommit<T>) -> Result<Self, JournalError> {
        validate_day(day)?;
        let shared = Arc::new(Shared::default());
        let file = match replay.last_day.as_deref() {
            Some(last) if day < last => {
                return Err(JournalError::BadDay(format!(
                    "{day} is earlier than the newest journal file's day {last}; \
                     check the system clock and time zone"
                )))
            }
            Some(last) if day == last => JournalFile::open_append(
                &replay.storage,
                file::path_for(&replay.dir, last),
                replay.last_file_len,
            )?,
            _ => {
                let (file, fsyncs) = JournalFile::create(&replay.storage, &replay.dir, day)?;
                shared.fsyncs.fetch_add(fsyncs, Ordering::Relaxed);
                file
            }
        };
        let marker = Marker::open(&replay.storage, &replay.dir)?;
        let (tx, rx) = channel::unbounded();
        let writer = Writer {
            marker,
            rx,
            storage: replay.storage.clone(),
            dir: replay.dir.clone(),
            file,
            day: day.to_owned(),
            next_seq: replay.next_seq,
            on_commit,
            shared: shared.clone(),
            buf: Vec::new(),
            pending: Vec::new(),
        };
        let thread = thread::Builder::new()
            .name("hallq-journal".to_owned())
            .spawn(move || writer.run())
            .map_err(io_error(&replay.dir))?;
        Ok(Journal {
            handle: JournalHandle { tx, shared },
            thread,
        })
    }
}

impl<T> Journal<T> {
    /// A new handle to append with.
    pub fn handle(&self) -> JournalHandle<T> {
        self.handle.clone()
    }

    /// Commits everything queued, stops the writer and waits for it. For
    /// SIGTERM: once this returns, every acknowledged record is on disk.
    /// Returns the final counters, or the error that had failed the journal.
    pub fn close(self) -> Result<JournalStats, JournalError> {
        self.handle.shutdown();
        self.thread.join().map_err(|_| {
            JournalError::Failed(
                "the journal writer thread panicked (in the on_commit hook?)".to_owned(),
            )
        })?;
        if let Some(msg) = self.handle.shared.failed.get() {
            return Err(JournalError::Failed(msg.clone()));
        }
        Ok(self.handle.stats())
    }
}

/// A record written but not yet durable.
struct Pending<T> {
    seq: u64,
    tag: T,
    done: oneshot::Sender<Result<u64, JournalError>>,
}

/// The writer thread's state. Only this thread touches the file.
struct Writer<T> {
    rx: Receiver<Request<T>>,
    /// How many records were acknowledged, for the reader (`marker.rs`).
    marker: Marker,
    storage: Arc<dyn super::storage::Storage>,
    dir: PathBuf,
    file: JournalFile,
    /// Business day of `file`.
    day: String,
    next_seq: u64,
    on_commit: OnCommit<T>,
    shared: Arc<Shared>,
    /// Encoded records of the current batch.
    buf: Vec<u8>,
    /// Their requests, in the same order.
    pending: Vec<Pending<T>>,
}

impl<T> Writer<T> {
    fn run(mut self) {
        // `recv` fails only when every handle is dropped: same as shutdown.
        while let Ok(first) = self.rx.recv() {
            let mut stop = self.take(first);
            // Drain what is already queued into the same batch, bounded so the
            // first request's wait (and the write size) stays bounded.
            while !stop
                && self.pending.len() < MAX_BATCH_RECORDS
                && self.buf.len() < MAX_BATCH_BYTES
            {
                match self.rx.try_recv() {
                    Ok(req) => stop = self.take(req),
                    Err(_) => break,
                }
            }
            self.commit();
            if stop {
                break;
            }
        }
        self.shared.closed.store(true, Ordering::Release);
        // Requests that raced past the shutdown: answer them rather than let
        // their senders drop.
        while let Ok(req) = self.rx.try_recv() {
            if let Request::Append(a) = req {
                let _ = a.done.send(Err(JournalError::Closed));
            }
        }
        tracing::debug!(file = %self.file.path().display(), next_seq = self.next_seq, "journal writer stopped");
    }

    /// Adds one request to the batch; true if it asks the writer to stop.
    fn take(&mut self, req: Request<T>) -> bool {
        match req {
            Request::Shutdown => true,
            Request::Append(a) => {
                self.accept(a);
                false
            }
        }
    }

    fn accept(&mut self, a: Append<T>) {
        if let Some(msg) = self.shared.failed.get() {
            let _ = a.done.send(Err(JournalError::Failed(msg.clone())));
            return;
        }
        // `append` checked this already; repeated because nothing larger
        // may ever reach the file (the reader would call it corrupt).
        if a.payload.len() > MAX_RECORD_LEN {
            let len = a.payload.len();
            let _ = a.done.send(Err(JournalError::TooLarge {
                len,
                max: MAX_RECORD_LEN,
            }));
            return;
        }
        match a.day.as_str().cmp(self.day.as_str()) {
            std::cmp::Ordering::Less => {
                let err = JournalError::BadDay(format!(
                    "{} is earlier than the journal's current day {}; a past day cannot be appended to",
                    a.day, self.day
                ));
                let _ = a.done.send(Err(err));
            }
            std::cmp::Ordering::Greater => {
                // The old day's batch must be durable before the new file
                // exists, so that only the newest file can ever be torn.
                self.commit();
                if let Err(e) = self.rotate(&a.day) {
                    let _ = a.done.send(Err(e));
                    return;
                }
                self.push(a);
            }
            std::cmp::Ordering::Equal => self.push(a),
        }
    }

    fn push(&mut self, a: Append<T>) {
        record::encode(&mut self.buf, &a.payload);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.push(Pending {
            seq,
            tag: a.tag,
            done: a.done,
        });
    }

    /// Switches to a new file for `day`; the old one is kept as it is.
    fn rotate(&mut self, day: &str) -> Result<(), JournalError> {
        if let Some(msg) = self.shared.failed.get() {
            return Err(JournalError::Failed(msg.clone()));
        }
        match JournalFile::create(&self.storage, &self.dir, day) {
            Ok((file, fsyncs)) => {
                self.shared.fsyncs.fetch_add(fsyncs, Ordering::Relaxed);
                tracing::info!(day, file = %file.path().display(), "new business day: started a new journal file");
                self.file = file;
                self.day = day.to_owned();
                Ok(())
            }
            Err(e) => {
                // Without the new file nothing of the new day can be kept;
                // stop cleanly rather than write it into the wrong file.
                self.fail(e.to_string());
                Err(e)
            }
        }
    }

    /// Writes and syncs the batch, runs the hook, then acknowledges.
    fn commit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        #[allow(clippy::disallowed_methods)] // I/O layer: timing the disk
        let started = std::time::Instant::now();
        // The marker goes after the batch is durable and before any ack:
        // it never counts a record that is not on disk, and it counts
        // every record acknowledged (issue 19).
        let next_seq = self.next_seq;
        let result = self.file.write_batch(&self.buf).and_then(|()| {
            self.marker.record(next_seq).map_err(|e| {
                // Nobody is told the batch is durable, so it must not be
                // replayed either: cut it off again, as a failed write is.
                self.file.cut_last(self.buf.len() as u64);
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "{e} (acknowledgement marker {})",
                        self.marker.path().display()
                    ),
                )
            })
        });
        metrics::histogram!("hallq_journal_fsync_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!("hallq_journal_batch_records").record(batch.len() as f64);
        self.buf.clear();
        match result {
            Ok(()) => {
                let n = batch.len() as u64;
                // Counters first: whoever sees an ack also sees them.
                self.shared.records.fetch_add(n, Ordering::Relaxed);
                self.shared.batches.fetch_add(1, Ordering::Relaxed);
                self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
                let mut committed = Vec::with_capacity(batch.len());
                let mut acks = Vec::with_capacity(batch.len());
                for p in batch {
                    committed.push((p.seq, p.tag));
                    acks.push((p.seq, p.done));
                }
                (self.on_commit)(committed);
                for (seq, done) in acks {
                    // A dropped receiver only means nobody waits; the
                    // record is durable all the same.
                    let _ = done.send(Ok(seq));
                }
            }
            Err(e) => {
                let file = self.file.path().to_path_buf();
                self.fail(format!("{e} (on {})", file.display()));
                for p in batch {
                    // `io::Error` is not `Clone`; each request gets an equal copy.
                    let source = io::Error::new(e.kind(), e.to_string());
                    let _ = p.done.send(Err(JournalError::Io {
                        file: file.clone(),
                        source,
                    }));
                }
            }
        }
    }

    /// Enters the failed state for good (see [`Shared::failed`]): this
    /// writer takes no more appends. The daemon recovers by closing it,
    /// replaying the files and starting a new one.
    fn fail(&mut self, msg: String) {
        tracing::error!(error = %msg, "journal write failed; this writer takes no more appends");
        let _ = self.shared.failed.set(msg);
    }
}
