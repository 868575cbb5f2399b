//! One hall's shard: its dispatch state, outbox and display feed behind one
//! uncontended lock, and its own journal.
//!
//! A command is applied under the lock, its events queued to the journal in
//! the same critical section (so the journal's order is the order they were
//! applied in), and the caller is answered once the journal says the record
//! is on disk. The journal's commit hook then feeds displays and notifiers,
//! in journal order, with what is durable. Halls never wait on each other.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the shard: its state behind the lock, applying a command, acknowledging a notification |
//! | `derived.rs` | what is derived from events (outbox, recent calls, display counter), live and on replay alike |
//! | `replay.rs` | opening a hall from its journal; rebuilding it after a journal failure |
//! | `alerting.rs` | the alert rules run on the daemon's clock, the console's view, work order pages (issue 21) |
//! | `feeds.rs` | what is published once durable (the commit hook), display and notifier subscriptions |
//! | `changes.rs` | the change ids the hall remembers with their answers (exactly once across resends) |
//! | `ownership.rs` | cluster mode: the hall's `Mode` here, owning it through etcd or following its log |
//! | `error.rs` | [`ShardError`], [`OpenError`] |

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hallq_core::{Command, Event, Hall};
use hallq_proto::codec;
use hallq_proto::types::Timestamp;
use hallq_proto::wire::{
    ChangeId, DayReport, DayStats, HallHealth, Notification, Response, StatsBy,
};
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::clock;
use crate::cluster::ClusterLink;
use crate::config::HallConfig;
use crate::config::Templates;
use crate::journal::{ChangeRecord, Entry, Journal, JournalError, JournalHandle};
use crate::staffing;
use crate::stats::{self, ExportPage};

mod alerting;
pub mod changes;
mod derived;
mod error;
mod feeds;
mod ownership;
mod replay;
#[cfg(test)]
mod tests;

use alerting::AlertState;
use changes::{ChangeIdError, Lookup};
use derived::Derived;
pub use error::{OpenError, ShardError};
use feeds::{empty_publish, Commits};
pub use feeds::{
    DisplayBatch, DisplayFeed, DisplaySeat, NotifierFeed, Published, DISPLAY_BUFFER,
    NOTIFIER_BUFFER,
};
use ownership::{Mode, Receipt};

/// Resolves once an acknowledgement is durable.
pub type AckDurable =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ShardError>> + Send>>;

/// A hall's state: everything its lock guards.
struct State {
    hall: Hall,
    /// The current journal writer's handle (replaced when recovering).
    journal: JournalHandle<Published>,
    derived: Derived,
    /// Set after a journal failure: no more changes.
    failed: Option<String>,
    /// Who writes the journal: this node alone, this node as the cluster's
    /// owner of the hall, or another node (this one follows).
    mode: Mode,
    /// The number the next journal record gets (records of every day
    /// counted; in cluster mode, the record's number in the etcd log).
    next_seq: u64,
    /// The hall's waiting target (`wait_target_minutes`), for statistics.
    wait_target_secs: u64,
    /// Issue 21: the alert settings, the managers' phones, the tracker.
    alerts: AlertState,
}

/// One hall.
pub struct HallShard {
    id: String,
    name: String,
    offset_minutes: i32,
    dir: PathBuf,
    /// The spec a fresh replay starts from (the journal's own first record
    /// replaces it).
    spec: hallq_core::HallSpec,
    state: Mutex<State>,
    writer: Mutex<Option<Journal<Published>>>,
    display: broadcast::Sender<DisplayBatch>,
    notifications: broadcast::Sender<Arc<Notification>>,
    /// What the commit hook shares with the shard.
    commits: Arc<Commits>,
    /// Held while recovering from a journal failure.
    recovering: Mutex<()>,
    /// Display subscribers now, against `[limits] displays_per_hall`.
    displays: Arc<std::sync::atomic::AtomicUsize>,
    /// Cluster mode: the link to etcd this hall's records go through.
    cluster: Option<ClusterLink>,
    /// Bumped whenever this node stops serving the hall (cluster mode):
    /// display and notifier streams end, so their clients find the owner.
    moved: tokio::sync::watch::Sender<u64>,
    /// Serialises taking the hall over and rebuilding it after giving up.
    transition: tokio::sync::Mutex<()>,
    /// An owner pipe runs (or is still finishing and rebuilding after the
    /// hall was given up): the hall cannot be taken over again yet.
    pipe_running: std::sync::atomic::AtomicBool,
    /// A fence this node must not serve the hall under again: an append
    /// sent under it may still go in (cluster mode; 0: none).
    loose_fence: std::sync::atomic::AtomicI64,
    /// Tickets whose slip a kiosk could not print: kept in memory for the
    /// hall's staff (`hallq status`, `hallq admin health`) and counted in
    /// `hallq_kiosk_print_failures_total`. Not journaled: the ticket itself
    /// is, and a failed slip changes nothing in the queue.
    print_failures: Mutex<PrintLog>,
    /// What the hall lets visitors do from their phones (issue 18); a
    /// reload replaces it.
    visitor: Mutex<crate::config::VisitorSettings>,
    /// The key of the visitor links (issue 18), kept in `dir`.
    links: Arc<crate::fanout::link::VisitorLinks>,
    /// 线上取号's pending one-time codes (issue 18 item 4): in memory only,
    /// see [`crate::fanout::remote`].
    remote: Mutex<crate::fanout::remote::RemoteCodes>,
    /// Woken whenever a change sent with an id became durable (or failed):
    /// a resend of it waits for that.
    settled: tokio::sync::Notify,
}

/// A change's id and the digest of who asked what, as the net layer read
/// them from `Request::Once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeTag {
    /// The client's id.
    pub id: ChangeId,
    /// Of the role, window and request: a resend must match.
    pub digest: [u8; 16],
}

/// An answer a change id is remembered with: what [`HallShard::execute_tagged`]
/// journals of a command's answer, and makes of it again for a resend.
pub trait Answer: Sized {
    /// The answer to remember, if it is one.
    fn remembered(&self) -> Option<Response>;
    /// The remembered answer as this type.
    fn recalled(answer: Response) -> Self;
}

impl Answer for () {
    fn remembered(&self) -> Option<Response> {
        None
    }
    fn recalled(_: Response) -> Self {}
}

impl Answer for Response {
    fn remembered(&self) -> Option<Response> {
        Some(self.clone())
    }
    fn recalled(answer: Response) -> Self {
        answer
    }
}

impl Answer for Option<Response> {
    fn remembered(&self) -> Option<Response> {
        self.clone()
    }
    fn recalled(answer: Response) -> Self {
        Some(answer)
    }
}

impl<E> Answer for Result<Response, E> {
    fn remembered(&self) -> Option<Response> {
        self.as_ref().ok().cloned()
    }
    fn recalled(answer: Response) -> Self {
        Ok(answer)
    }
}

/// What [`HallShard::apply_locked`] did.
enum Applied<R> {
    /// Nothing to journal (refused, or a command that changes nothing).
    Unjournaled(Result<R, hallq_core::DispatchError>),
    /// Queued to the journal: answer once the receipt says it is durable.
    Journaled(Result<R, hallq_core::DispatchError>, Option<Receipt>),
}

/// How long a resend waits for the original of its change, still on its
/// way to the disk (or to etcd), before it is told to try again.
const PENDING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The print failures a hall's kiosks reported since start.
#[derive(Debug, Default)]
struct PrintLog {
    total: u64,
    /// (business day, count) of the current day.
    today: (u32, u32),
    recent: std::collections::VecDeque<hallq_proto::views::PrintFailure>,
}

/// How many print failures a hall keeps for `hallq status`.
const RECENT_PRINT_FAILURES: usize = 20;

impl std::fmt::Debug for HallShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HallShard")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl HallShard {
    /// Opens hall `config`'s journal in `dir`, replays it through the
    /// dispatch core and starts its journal writer.
    ///
    /// With `cluster`, the hall starts as a follower of the etcd log; the
    /// cluster's ownership loop decides whether this node takes it.
    pub fn open(
        config: &HallConfig,
        dir: &Path,
        cluster: Option<ClusterLink>,
    ) -> Result<HallShard, OpenError> {
        let (display, _) = broadcast::channel(DISPLAY_BUFFER);
        let (notifications, _) = broadcast::channel(NOTIFIER_BUFFER);
        let commits = Arc::new(Commits::default());
        let links =
            Arc::new(crate::fanout::link::VisitorLinks::open(dir).map_err(OpenError::LinkKey)?);
        let (state, writer) = replay::load(
            config,
            dir,
            &config.spec,
            &display,
            &notifications,
            &commits,
            Mode::initial(cluster.is_some()),
            &links,
        )?;
        Ok(HallShard {
            id: config.id.clone(),
            name: config.name.clone(),
            offset_minutes: config.timezone_offset_minutes,
            dir: dir.to_path_buf(),
            spec: config.spec.clone(),
            writer: Mutex::new(Some(writer)),
            state: Mutex::new(state),
            display,
            notifications,
            commits,
            recovering: Mutex::new(()),
            displays: Arc::default(),
            cluster,
            moved: tokio::sync::watch::channel(0).0,
            transition: tokio::sync::Mutex::new(()),
            pipe_running: std::sync::atomic::AtomicBool::new(false),
            loose_fence: std::sync::atomic::AtomicI64::new(0),
            print_failures: Mutex::default(),
            visitor: Mutex::new(config.visitor.clone()),
            remote: Mutex::new(crate::fanout::remote::RemoteCodes::new()),
            links,
            settled: tokio::sync::Notify::new(),
        })
    }

    /// What the hall lets visitors do from their phones now.
    pub fn visitor(&self) -> crate::config::VisitorSettings {
        self.visitor.lock().clone()
    }

    /// New visitor settings (a reload); whether they differ.
    pub fn set_visitor(&self, settings: crate::config::VisitorSettings) -> bool {
        let mut now = self.visitor.lock();
        let changed = *now != settings;
        self.state
            .lock()
            .derived
            .outbox
            .set_visitor_link(self.links.clone(), settings.url.clone());
        *now = settings;
        changed
    }

    /// 线上取号: makes a one-time code for `phone` and `item` and hands it
    /// to the SMS bridge (a notification of kind `remote_code`, published
    /// at once and never journaled: a notifier that is not connected now
    /// misses it, and the visitor asks again). Returns the code's life in
    /// seconds.
    pub fn send_remote_code(
        &self,
        item: hallq_proto::types::ItemCode,
        phone: &hallq_proto::types::Phone,
    ) -> Result<u32, crate::fanout::remote::CodeError> {
        let settings = self.visitor().remote;
        let now = clock::now();
        let code = self
            .remote
            .lock()
            .issue(phone.expose(), item, now, settings)?;
        let (template, item_name) = {
            let st = self.state.lock();
            let name = st
                .hall
                .spec()
                .items
                .iter()
                .find(|i| i.code == item)
                .map_or_else(|| item.to_string(), |i| i.name.clone());
            (st.derived.outbox.templates().remote_code.clone(), name)
        };
        let text = template
            .replace("{code}", &code)
            .replace("{item}", &item_name)
            .replace("{minutes}", &settings.code_secs.div_ceil(60).to_string());
        let mut nonce = [0u8; 8];
        use ring::rand::SecureRandom;
        ring::rand::SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| crate::fanout::remote::CodeError::Random)?;
        // No outbox number: `<hall>-code<hex>` is unique without one, and
        // keeps the journaled notifications' numbers as replay makes them.
        let id = format!("{}-code{:016x}", self.id, u64::from_le_bytes(nonce));
        let _ = self.notifications.send(Arc::new(Notification {
            id,
            hall: self.id.clone(),
            kind: hallq_proto::wire::NotificationKind::RemoteCode,
            ticket: None,
            phone: phone.expose().to_owned(),
            text,
            position: None,
            window: None,
            at: now,
            booking: None,
            work_order: None,
        }));
        metrics::counter!("hallq_remote_codes_sent_total", "hall" => self.id.clone()).increment(1);
        Ok(settings.code_secs)
    }

    /// 线上取号: checks the code typed back; the right one is used up.
    pub fn check_remote_code(
        &self,
        item: hallq_proto::types::ItemCode,
        phone: &hallq_proto::types::Phone,
        code: &str,
    ) -> Result<(), crate::fanout::remote::CodeError> {
        self.remote
            .lock()
            .check(phone.expose(), item, code, clock::now())
    }

    /// The visitor link token of today's `ticket`.
    pub fn link_token(&self, ticket: hallq_proto::types::TicketNo) -> String {
        self.links.token(&self.id, self.today(), ticket)
    }

    /// [`HallShard::link_token`] with the hall in hand (under its lock, as
    /// in a change's answer).
    pub fn link_token_in(&self, hall: &Hall, ticket: hallq_proto::types::TicketNo) -> String {
        let today = clock::business_day(clock::now(), self.offset_minutes);
        let day = hall.day().map_or(today, |d| d.max(today));
        self.links.token(&self.id, day, ticket)
    }

    /// The ticket a visitor link token names, if this hall made it today.
    pub fn link_ticket(
        &self,
        token: &str,
    ) -> Result<hallq_proto::types::TicketNo, crate::fanout::link::LinkError> {
        self.links.check(&self.id, self.today(), token)
    }

    /// Whether the hall refuses changes after a journal failure.
    pub fn is_failed(&self) -> bool {
        self.state.lock().failed.is_some()
    }

    /// For `hallq admin health` and `/healthz`; `owner` is the owning
    /// node in cluster mode.
    pub fn health(&self, owner: Option<String>) -> HallHealth {
        let st = self.state.lock();
        let last = self.commits.last_ms.load(Ordering::Acquire);
        HallHealth {
            hall: self.id.clone(),
            journal_writable: st.failed.is_none(),
            journal_error: st.failed.clone(),
            last_fsync_age_secs: (last > 0).then(|| clock::now().secs_since(Timestamp(last))),
            waiting: st.hall.waiting_count() as u64,
            pending_notifications: st.derived.outbox.pending_count() as u64,
            role: st.mode.as_str().to_owned(),
            owner,
            records: st.next_seq,
        }
    }

    /// Brings the hall onto `spec` if the journal does not already record
    /// it: the journal's first record is always the configuration it
    /// started with, and every later change is journaled, so a replay
    /// rebuilds each state on the configuration it had.
    pub async fn adopt(&self, spec: hallq_core::HallSpec) -> Result<(), OpenError> {
        let current = {
            let st = self.state.lock();
            st.derived.configured.then(|| st.hall.spec().clone())
        };
        if current.as_ref() == Some(&spec) {
            return Ok(());
        }
        match self.execute(Command::Reconfigure { spec }, |_, _| ()).await {
            Ok(()) => {
                tracing::info!(hall = %self.id, "hall configuration recorded in the journal");
                Ok(())
            }
            Err(ShardError::Refused(e)) => Err(OpenError::Spec(e)),
            Err(e) => Err(OpenError::Storage(e)),
        }
    }

    /// The current business day (`yyyymmdd`): the hall's, or the calendar's
    /// if none has begun.
    pub fn today(&self) -> u32 {
        let today = clock::business_day(clock::now(), self.offset_minutes);
        self.read(|h| h.day()).map_or(today, |d| d.max(today))
    }

    /// Records that a kiosk could not print `ticket`'s slip (the ticket
    /// stays issued and in line) and answers with the hall's failures.
    pub fn print_failed(
        &self,
        ticket: hallq_proto::types::TicketNo,
        reason: String,
    ) -> hallq_proto::views::PrintFailures {
        let day = self.today();
        {
            let mut log = self.print_failures.lock();
            log.total += 1;
            if log.today.0 != day {
                log.today = (day, 0);
            }
            log.today.1 += 1;
            if log.recent.len() == RECENT_PRINT_FAILURES {
                log.recent.pop_front();
            }
            log.recent.push_back(hallq_proto::views::PrintFailure {
                ticket,
                reason,
                at: clock::now(),
            });
        }
        if crate::metrics::enabled() {
            metrics::counter!("hallq_kiosk_print_failures_total", "hall" => self.id.clone())
                .increment(1);
        }
        self.print_failures()
    }

    /// The print failures kiosks reported since start, the latest listed.
    pub fn print_failures(&self) -> hallq_proto::views::PrintFailures {
        let log = self.print_failures.lock();
        hallq_proto::views::PrintFailures {
            hall: self.id.clone(),
            total: log.total,
            recent: log.recent.iter().cloned().collect(),
        }
    }

    /// Print failures reported on the current business day.
    pub fn print_failures_today(&self) -> u32 {
        let day = self.today();
        let log = self.print_failures.lock();
        if log.today.0 == day {
            log.today.1
        } else {
            0
        }
    }

    /// The hall's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The hall's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Applies `command` now and, once its events are durable, answers with
    /// what `answer` made of the hall right after it.
    pub async fn execute<R: Answer>(
        &self,
        command: Command,
        answer: impl FnOnce(&Hall, &[Event]) -> R,
    ) -> Result<R, ShardError> {
        self.execute_tagged(None, command, answer).await
    }

    /// [`HallShard::execute`] for a change its client sent with an id
    /// (`tag`): carried out once. A resend of a change already carried
    /// out gets the answer it got then (once that is durable) and changes
    /// nothing; see [`changes`]. The id, the answer and the events go into
    /// one journal record.
    pub async fn execute_tagged<R: Answer>(
        &self,
        tag: Option<&ChangeTag>,
        command: Command,
        answer: impl FnOnce(&Hall, &[Event]) -> R,
    ) -> Result<R, ShardError> {
        let mut job = Some((command, answer));
        loop {
            if let Some(tag) = tag {
                if let Some(known) = self.recall_change(tag).await {
                    return known.map(R::recalled);
                }
            }
            let applied =
                {
                    let mut st = self.state.lock();
                    // Looked up again under the lock that applies: a resend
                    // racing its original is carried out by one of them only,
                    // the other waits for its answer (the loop).
                    if tag.is_some_and(|tag| {
                        !matches!(
                            st.derived.changes.lookup(tag.id, &tag.digest),
                            Lookup::Fresh
                        )
                    }) {
                        None
                    } else {
                        Some(job.take().map(|(command, answer)| {
                            self.apply_locked(&mut st, tag, command, answer)
                        }))
                    }
                };
            let Some(applied) = applied else { continue };
            // Taken once: every path after applying returns.
            let Some(applied) = applied else {
                return Err(ShardError::Unconfirmed("applied twice".into()));
            };
            let (outcome, receiver) = match applied? {
                Applied::Unjournaled(outcome) => return outcome.map_err(ShardError::from),
                Applied::Journaled(outcome, receiver) => (outcome, receiver),
            };
            let durable = self.await_durable(receiver).await;
            if let Some(tag) = tag {
                if durable.is_ok() {
                    self.state.lock().derived.changes.settle(tag.id);
                }
                self.settled.notify_waiters();
            }
            durable?;
            return outcome.map_err(ShardError::from);
        }
    }

    /// Applies `command` under the lock and queues its record (with `tag`'s
    /// id and the answer, if any) to the journal.
    fn apply_locked<R: Answer>(
        &self,
        st: &mut State,
        tag: Option<&ChangeTag>,
        command: Command,
        answer: impl FnOnce(&Hall, &[Event]) -> R,
    ) -> Result<Applied<R>, ShardError> {
        self.check_serving(st)?;
        let now = clock::now();
        let mut events = self.roll_day(st, now);
        let outcome = st.hall.apply(command, now).map(|command_events| {
            let reply = answer(&st.hall, &command_events);
            events.extend(command_events);
            reply
        });
        // Issue 21: a change may raise or clear alerts, in the same
        // record; a bad rating's at once.
        if !events.is_empty() {
            let urgent = events
                .iter()
                .any(|e| matches!(e, Event::WorkOrderOpened { .. }));
            self.evaluate_alerts(st, now, urgent, &mut events);
        }
        if crate::metrics::enabled() && !events.is_empty() {
            crate::metrics::record_events(&self.id, &st.hall, &events);
            metrics::gauge!("hallq_outbox_pending", "hall" => self.id.clone())
                .set(st.derived.outbox.pending_count() as f64);
        }
        if events.is_empty() {
            return Ok(Applied::Unjournaled(outcome));
        }
        let change = match (tag, &outcome) {
            (Some(tag), Ok(reply)) => Some((*tag, reply.remembered())),
            _ => None,
        };
        let receipt = self.journal_events(st, events, change);
        Ok(Applied::Journaled(outcome, receipt))
    }

    /// What the hall remembers of change `tag`: `None` if it is new;
    /// else its original answer (waiting, for at most [`PENDING_WAIT`],
    /// until that is durable) or the refusal of the id.
    pub async fn recall_change(&self, tag: &ChangeTag) -> Option<Result<Response, ShardError>> {
        let deadline = tokio::time::Instant::now() + PENDING_WAIT;
        loop {
            let woken = self.settled.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            {
                let st = self.state.lock();
                let shown = || changes::shown(tag.id);
                match st.derived.changes.lookup(tag.id, &tag.digest) {
                    Lookup::Fresh => return None,
                    Lookup::Known {
                        answer,
                        pending: false,
                    } => {
                        metrics::counter!("hallq_changes_resent_total", "hall" => self.id.clone())
                            .increment(1);
                        tracing::info!(hall = %self.id, change = %shown(), "resent change answered as first");
                        return Some(
                            answer
                                .clone()
                                .ok_or_else(|| ChangeIdError::NoAnswer(shown()).into()),
                        );
                    }
                    Lookup::Known { pending: true, .. } => {}
                    Lookup::Reused => return Some(Err(ChangeIdError::Reused(shown()).into())),
                    Lookup::Expired => return Some(Err(ChangeIdError::Expired(shown()).into())),
                }
            }
            // Its first sending is still on its way to the disk: answer
            // once it is there (or, if it failed, carry it out afresh).
            // The timeout also covers a wake-up missed by a rebuild.
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Some(Err(ShardError::Unconfirmed(
                    "the change's first sending is not confirmed yet".into(),
                )));
            }
            let _ =
                tokio::time::timeout(left.min(std::time::Duration::from_millis(500)), woken).await;
        }
    }

    /// A business day that has begun since the last command (at the hall's
    /// local midnight) is begun first, in the same record.
    fn roll_day(&self, st: &mut State, now: Timestamp) -> Vec<Event> {
        let today = clock::business_day(now, self.offset_minutes);
        if st.hall.day().is_some_and(|day| day >= today) {
            return Vec::new();
        }
        match st.hall.apply(Command::BeginDay { day: today }, now) {
            Ok(events) => {
                tracing::info!(hall = %self.id, day = today, "business day begun");
                events
            }
            Err(e) => {
                tracing::error!(hall = %self.id, error = %e, "cannot begin the business day");
                Vec::new()
            }
        }
    }

    /// Begins a new business day if one has started (called by a timer, so
    /// displays turn over at midnight even in a quiet hall).
    pub async fn tick(&self) -> Result<(), ShardError> {
        let receiver = {
            let mut st = self.state.lock();
            if self.check_serving(&st).is_err() {
                return Ok(());
            }
            let now = clock::now();
            let mut events = self.roll_day(&mut st, now);
            // Bookings nobody came for are forfeited on time (§四(七)8).
            if let Ok(forfeited) = st.hall.apply(Command::ForfeitOverdue, now) {
                events.extend(forfeited);
            }
            // Issue 21: conditions that held (or ended) long enough.
            self.evaluate_alerts(&mut st, now, true, &mut events);
            if crate::metrics::enabled() && !events.is_empty() {
                crate::metrics::record_events(&self.id, &st.hall, &events);
            }
            if events.is_empty() {
                return Ok(());
            }
            self.journal_events(&mut st, events, None)
        };
        self.await_durable(receiver).await
    }

    /// Queues `events` (already applied) to the journal, in one record with
    /// the change's id and answer if it came with one; derives their
    /// display update and notifications for the commit hook.
    fn journal_events(
        &self,
        st: &mut State,
        events: Vec<Event>,
        change: Option<(ChangeTag, Option<Response>)>,
    ) -> Option<Receipt> {
        let dropped = st.derived.outbox.dropped();
        let (display, notifications) = st.derived.absorb(&st.hall, &events, st.next_seq);
        // Counted live only: a replay drops the same messages again.
        let newly = st.derived.outbox.dropped() - dropped;
        if newly > 0 {
            metrics::counter!("hallq_sms_dropped_total", "hall" => self.id.clone(), "reason" => "phone_rate")
                .increment(newly);
        }
        let published = Published {
            display,
            notifications,
            notifications_upto: st.derived.outbox.next_number(),
        };
        let entry = match change {
            None => Entry::Events(events),
            Some((tag, answer)) => {
                st.derived
                    .changes
                    .remember(tag.id, tag.digest, answer.clone(), st.next_seq, true);
                Entry::Change(Box::new(ChangeRecord {
                    id: tag.id,
                    digest: tag.digest,
                    answer,
                    events,
                }))
            }
        };
        self.append(st, &entry, published)
    }

    fn append(&self, st: &mut State, entry: &Entry, published: Published) -> Option<Receipt> {
        let day = journal_day(&st.hall);
        match codec::encode_record(entry) {
            Ok(payload) => {
                let seq = st.next_seq;
                st.next_seq += 1;
                Some(match &st.mode {
                    Mode::Alone => Receipt::Local(st.journal.append(payload, &day, published)),
                    Mode::Owner(pipe) => pipe.send(seq, payload, day, published),
                    Mode::Follower => Receipt::refused(ShardError::NotOwner(self.id.clone())),
                })
            }
            Err(e) => {
                // Cannot happen for well-formed events; refuse further changes
                // rather than run on with state the journal does not have.
                let why = format!("cannot encode a journal record: {e}");
                tracing::error!(hall = %self.id, error = %why);
                st.failed = Some(why);
                None
            }
        }
    }

    async fn await_durable(&self, receiver: Option<Receipt>) -> Result<(), ShardError> {
        let result = match receiver {
            // Cluster mode: a failure is the owner pipe's to handle (it
            // gives the hall up and rebuilds it from what was stored).
            Some(Receipt::Cluster(receiver)) => {
                return match receiver.await {
                    Ok(result) => result,
                    Err(_) => Err(ShardError::NotOwner(self.id.clone())),
                }
            }
            Some(Receipt::Local(receiver)) => match receiver.await {
                Ok(Ok(_seq)) => return Ok(()),
                // Shutting down: nothing failed, the change just did not
                // make it in.
                Ok(Err(e @ JournalError::Closed)) => {
                    return Err(ShardError::Storage(e.to_string()))
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "the journal writer stopped".to_owned(),
            },
            None => self
                .state
                .lock()
                .failed
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        };
        tracing::error!(hall = %self.id, error = %result, "journal failed: refusing changes until it can write again");
        self.state.lock().failed.get_or_insert(result.clone());
        // Undo what was applied but not stored before answering, so that
        // nobody reads a change they were told failed. (The daemon runs on
        // the multi-threaded runtime, where blocking in place is allowed.)
        tokio::task::block_in_place(|| self.recover());
        Err(ShardError::Storage(result))
    }

    /// Records the gateway's acknowledgement of notification `id` and
    /// returns, without waiting for the disk, what resolves once it is
    /// durable — so a gateway acknowledging quickly is not held to one
    /// fsync per message (its acknowledgements are group-committed).
    /// Unknown or already acknowledged ids are ignored (`None`): redelivery
    /// is harmless.
    pub fn ack(self: &Arc<Self>, id: &str) -> Result<Option<AckDurable>, ShardError> {
        self.settle(id, None)
    }

    /// Records that the gateway gave up on notification `id` (after its
    /// retries), with `reason`: it leaves the outbox and counts as failed.
    /// Like [`HallShard::ack`], returns what resolves once durable.
    pub fn fail_notification(
        self: &Arc<Self>,
        id: &str,
        reason: &str,
    ) -> Result<Option<AckDurable>, ShardError> {
        self.settle(id, Some(reason))
    }

    /// Takes notification `id` out of the outbox: acknowledged (`failed`
    /// is `None`) or failed for good.
    fn settle(
        self: &Arc<Self>,
        id: &str,
        failed: Option<&str>,
    ) -> Result<Option<AckDurable>, ShardError> {
        let receiver = {
            let mut st = self.state.lock();
            self.check_serving(&st)?;
            let Some(n) = st.derived.outbox.pending_number(id) else {
                return Ok(None);
            };
            let entry = match failed {
                None => {
                    st.derived.outbox.ack(n);
                    Entry::Acked(n)
                }
                Some(reason) => {
                    tracing::warn!(hall = %self.id, notification = id, reason, "notification failed for good");
                    metrics::counter!("hallq_outbox_failed_total", "hall" => self.id.clone())
                        .increment(1);
                    let at = clock::now();
                    st.derived.outbox.fail(n, reason, Some(at));
                    Entry::NotificationFailedAt {
                        n,
                        reason: reason.to_owned(),
                        at,
                    }
                }
            };
            let published = empty_publish(&st.derived.outbox);
            self.append(&mut st, &entry, published)
        };
        let shard = self.clone();
        Ok(Some(Box::pin(async move {
            shard.await_durable(receiver).await
        })))
    }

    /// New message texts (a reload): notifications from now on use them.
    /// Returns whether they differ from the ones in force.
    pub fn set_templates(&self, templates: Templates) -> bool {
        let mut st = self.state.lock();
        let changed = st.derived.outbox.templates() != &templates;
        st.derived.outbox.set_templates(templates);
        changed
    }

    /// New per-phone limits (a reload, SPEC §6): new commands are held to
    /// them. Returns whether they differ from the ones in force.
    pub fn set_phone_limits(&self, limits: hallq_core::PhoneLimits, sms_per_hour: u32) -> bool {
        let mut st = self.state.lock();
        let changed =
            st.hall.phone_limits() != limits || st.derived.outbox.sms_limit() != sms_per_hour;
        st.hall.set_phone_limits(limits);
        st.derived.outbox.set_sms_limit(sms_per_hour);
        changed
    }

    /// New counter rules and waiting target (a reload): new commands are
    /// held to the rules, the next statistics use the target.
    pub fn set_counter_rules(&self, rules: hallq_core::CounterRules, wait_target_secs: u64) {
        let mut st = self.state.lock();
        st.hall.set_counter_rules(rules);
        st.wait_target_secs = wait_target_secs;
    }

    /// Statistics of business day `day` (SPEC §2 item 13), from the
    /// journal file of that day: they survive restarts and any past day
    /// can be asked for. Blocking file I/O: call it from a blocking thread.
    pub fn stats(&self, day: u32, by: Option<StatsBy>) -> Result<DayStats, JournalError> {
        let entries = stats::read_day(&self.dir, day)?;
        Ok(stats::compute(
            &self.id,
            day,
            &entries,
            by,
            &self.appealed_on(day),
        ))
    }

    /// `hallq simulate` on this hall's journal (issue 22): the day replayed
    /// through a copy of the core, or tomorrow's rota searched. Blocking
    /// and CPU-bound (a plan search takes seconds): run it off the async
    /// threads, as [`HallShard::stats`].
    pub fn simulate(
        &self,
        ask: &hallq_proto::staffing::SimulationAsk,
        target_secs: u32,
    ) -> Result<hallq_proto::staffing::SimulationReport, staffing::StaffingRefusal> {
        let spec = self.read(|h| h.spec().clone());
        staffing::simulate(&spec, &self.dir, ask, target_secs)
    }

    /// `hallq forecast` on this hall's journal. Blocking file I/O.
    pub fn forecast(
        &self,
        day: u32,
        weeks: u8,
    ) -> Result<hallq_proto::staffing::Forecast, staffing::StaffingRefusal> {
        let spec = self.read(|h| h.spec().clone());
        staffing::forecast_day(&spec, &self.dir, day, weeks)
    }

    /// Per-ticket records of business day `day` for upstream aggregation
    /// (§7.3.1), from `from` on, phone numbers as keyed hashes. Blocking
    /// file I/O, like [`HallShard::stats`].
    pub fn export(
        &self,
        day: u32,
        from: u32,
        key: Option<&[u8]>,
    ) -> Result<ExportPage, JournalError> {
        let entries = stats::read_day(&self.dir, day)?;
        Ok(stats::export(&self.id, &entries, from, key))
    }

    /// [`HallShard::stats`] and what a manager asks for besides (issue
    /// 17), with the hall's zone and waiting target. Blocking file I/O.
    pub fn report(&self, day: u32, by: Option<StatsBy>) -> Result<DayReport, JournalError> {
        let entries = stats::read_day(&self.dir, day)?;
        let target = self.state.lock().wait_target_secs;
        Ok(stats::report(
            &self.id,
            day,
            &entries,
            by,
            self.offset_minutes,
            target,
            &self.appealed_on(day),
        ))
    }

    /// [`HallShard::export`] with each record's trail. Blocking file I/O.
    pub fn export_detailed(
        &self,
        day: u32,
        from: u32,
        key: Option<&[u8]>,
    ) -> Result<hallq_proto::wire::ExportPage, JournalError> {
        let entries = stats::read_day(&self.dir, day)?;
        let (records, trails, next) = stats::export_detailed(&self.id, &entries, from, key);
        Ok(hallq_proto::wire::ExportPage {
            day,
            offset_minutes: self.offset_minutes,
            records,
            trails,
            next,
        })
    }

    /// The services of business day `day` whose rating was appealed and set
    /// aside (申诉复核): the hall keeps every appeal, whatever day it was
    /// made on, so a past day's figures leave them out too.
    fn appealed_on(&self, day: u32) -> std::collections::BTreeSet<hallq_proto::types::TicketNo> {
        self.read(|h| {
            h.appeals()
                .keys()
                .filter(|(d, _)| *d == day)
                .map(|(_, t)| *t)
                .collect()
        })
    }

    /// The appeals of business day `day`, for the export's column: as many
    /// as fit one frame (reasons are at most 500 characters, so about 40).
    pub fn appeals(&self, day: u32) -> Vec<hallq_proto::console::AppealView> {
        let mut bytes = 0;
        self.read(|h| {
            h.appeals()
                .iter()
                .filter(|((d, _), _)| *d == day)
                .map(|((d, t), a)| hallq_core::workorders::appeal_view(*d, *t, a, false))
                .take_while(|a| {
                    bytes += 64 + a.reason.len();
                    bytes <= 48 * 1024
                })
                .collect()
        })
    }

    /// Reads the hall under its lock.
    pub fn read<R>(&self, f: impl FnOnce(&Hall) -> R) -> R {
        f(&self.state.lock().hall)
    }

    /// Flushes and stops the journal writer (at shutdown).
    pub fn close(&self) {
        if let Some(writer) = self.writer.lock().take() {
            match writer.close() {
                Ok(stats) => tracing::info!(
                    hall = %self.id,
                    records = stats.records,
                    fsyncs = stats.fsyncs,
                    "journal closed"
                ),
                Err(e) => {
                    tracing::error!(hall = %self.id, error = %e, "journal closed with an error")
                }
            }
        }
    }
}

/// The journal file day for the hall's current business day.
fn journal_day(hall: &Hall) -> String {
    clock::day_string(hall.day().unwrap_or_default())
}
