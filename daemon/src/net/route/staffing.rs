//! An admin's staffing questions (issue 22): a past day replayed under
//! another staffing, tomorrow's rota, the arrivals forecast. The admin's
//! alone (SPEC §3: hall managers); answered from the hall's journal off the
//! async threads, since reading weeks of journal and a plan search (seconds
//! of CPU on a busy day) must not hold up a kiosk's ticket.

use hallq_proto::staffing::SimulationAsk;
use hallq_proto::types::Role;
use hallq_proto::wire::{ErrorReply, Response};
use hallq_proto::ErrorCode;

use crate::net::rights::{reply, require, Session};
use crate::net::Daemon;
use crate::staffing::StaffingRefusal;

fn refused(e: StaffingRefusal) -> ErrorReply {
    reply(e.code(), e.to_string())
}

/// `hallq simulate`, with the hall's `wait_target_minutes` unless the ask
/// names a target.
pub(super) async fn simulate(
    daemon: &Daemon,
    session: &Session,
    ask: SimulationAsk,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let target = daemon
        .config()
        .hall(session.hall.id())
        .map_or(crate::config::DEFAULT_WAIT_TARGET_MINUTES * 60, |h| {
            u32::try_from(h.wait_target_secs).unwrap_or(u32::MAX)
        });
    let shard = session.hall.clone();
    tokio::task::spawn_blocking(move || shard.simulate(&ask, target))
        .await
        .map_err(|e| reply(ErrorCode::Internal, e.to_string()))?
        .map(|report| Response::Simulation(Box::new(report)))
        .map_err(refused)
}

/// `hallq forecast`.
pub(super) async fn forecast(
    session: &Session,
    day: u32,
    weeks: u8,
) -> Result<Response, ErrorReply> {
    require(session, &[Role::Admin])?;
    let shard = session.hall.clone();
    tokio::task::spawn_blocking(move || shard.forecast(day, weeks))
        .await
        .map_err(|e| reply(ErrorCode::Internal, e.to_string()))?
        .map(|f| Response::Forecast(Box::new(f)))
        .map_err(refused)
}
