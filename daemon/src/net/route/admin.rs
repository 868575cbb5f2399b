//! An admin's requests about the daemon and the hall's records: reloading
//! the config (as SIGHUP does), health, a day's statistics and the export
//! of its per-ticket records. All are the admin's alone (SPEC §3).
//!
//! Reload and health concern the whole daemon, so every node of a cluster
//! answers them; stats and export read the hall's journal off the async
//! threads, as a day's journal may be long.

use hallq_proto::types::Role;
use hallq_proto::wire::{ErrorReply, Response, StatsBy};
use hallq_proto::ErrorCode;

use crate::net::rights::{reply, require, Session};
use crate::net::Daemon;
use crate::shard::HallShard;

/// Re-reads the config file and answers with what changed.
pub(super) async fn reload(daemon: &Daemon, session: &Session) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    daemon
        .reload()
        .await
        .map(|changes| Response::Reloaded { changes })
        .map_err(|e| reply(ErrorCode::ReloadRefused, e.to_string()))
}

/// Journal writable, last fsync age, halls loaded.
pub(super) fn health(daemon: &Daemon, session: &Session) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    Ok(Response::Health(daemon.health()))
}

/// Runs `read`, a read of the hall's journal, off the async threads (a
/// day's journal may be long); a journal that cannot be read is
/// `journal_unreadable`.
async fn read_journal<T, E>(
    session: &Session,
    read: impl FnOnce(&HallShard) -> Result<T, E> + Send + 'static,
) -> Result<T, ErrorReply>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let shard = session.hall.clone();
    tokio::task::spawn_blocking(move || read(&shard))
        .await
        .map_err(|e| reply(ErrorCode::Internal, e.to_string()))?
        .map_err(|e| reply(ErrorCode::JournalUnreadable, e.to_string()))
}

/// The hall's `export_key`: phone numbers appear in exports only as hashes
/// keyed with it, and not at all without it.
fn export_key(daemon: &Daemon, session: &Session) -> Option<Vec<u8>> {
    daemon.config().hall(session.hall.id()).and_then(|h| {
        h.export_key
            .as_ref()
            .map(|k| k.0.expose().as_bytes().to_vec())
    })
}

/// Statistics of business day `day` (the current one if left out).
pub(super) async fn stats(
    session: &Session,
    day: Option<u32>,
    by: Option<StatsBy>,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let day = day.unwrap_or_else(|| session.hall.today());
    let stats = read_journal(session, move |shard| shard.stats(day, by)).await?;
    Ok(Response::Stats(Box::new(stats)))
}

/// One page of the per-ticket records of `day`, from record `from`.
/// Phone numbers appear only as keyed hashes, and only if the hall has an
/// `export_key`.
pub(super) async fn export(
    daemon: &Daemon,
    session: &Session,
    day: u32,
    from: u32,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let key = export_key(daemon, session);
    let page = read_journal(session, move |shard| {
        shard.export(day, from, key.as_deref())
    })
    .await?;
    Ok(Response::Export {
        records: page.records,
        next: page.next,
    })
}

/// [`stats`] and what a manager asks for besides (issue 17).
pub(super) async fn report(
    session: &Session,
    day: Option<u32>,
    by: Option<StatsBy>,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let day = day.unwrap_or_else(|| session.hall.today());
    let report = read_journal(session, move |shard| shard.report(day, by)).await?;
    Ok(Response::Report(Box::new(report)))
}

/// [`export`] with each record's trail, of `day` or the current day.
pub(super) async fn export_detailed(
    daemon: &Daemon,
    session: &Session,
    day: Option<u32>,
    from: u32,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let key = export_key(daemon, session);
    let day = day.unwrap_or_else(|| session.hall.today());
    let page = read_journal(session, move |shard| {
        shard.export_detailed(day, from, key.as_deref())
    })
    .await?;
    Ok(Response::ExportDetailed(page))
}
