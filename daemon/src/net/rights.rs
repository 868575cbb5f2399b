//! What a connection may do: the [`Session`] its token granted at hello,
//! and the refusals every route draws from (role, cluster ownership).
//!
//! Rights are settled once per connection (SPEC §3) and checked before a
//! request reaches the hall, so a refused request changes nothing. Every
//! refusal carries an [`ErrorCode`]; the text a person reads is made from
//! that code on the client side.

use std::sync::Arc;

use hallq_proto::types::{Role, WindowNo};
use hallq_proto::wire::ErrorReply;
use hallq_proto::ErrorCode;

use super::Daemon;
use crate::shard::{Answer, ChangeTag, HallShard, ShardError};

/// Who is on the other end, as their token says.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub(super) role: Role,
    pub(super) hall: Arc<HallShard>,
    pub(super) window: Option<WindowNo>,
    /// False for an all-halls admin that named no hall on a daemon of
    /// several: `hall` is then only a stand-in, and only the daemon-wide
    /// requests (health, reload) are answered (issue 19).
    pub(super) hall_named: bool,
    /// The id the request being carried out came with (`Request::Once`),
    /// for the hall to remember it with the change.
    pub(super) change: Option<ChangeTag>,
}

impl Session {
    /// Applies `command` to the session's hall, as
    /// [`HallShard::execute`], with the request's change id if it came
    /// with one: every route changes the hall through here, so every
    /// change sent with an id is carried out once.
    pub(super) async fn execute<R: Answer>(
        &self,
        command: hallq_core::Command,
        answer: impl FnOnce(&hallq_core::Hall, &[hallq_core::Event]) -> R,
    ) -> Result<R, ShardError> {
        self.hall
            .execute_tagged(self.change.as_ref(), command, answer)
            .await
    }
}

/// A refusal with `code` and the `message` logged beside it.
pub(super) fn reply(code: ErrorCode, message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(code, message)
}

/// Refuses unless the session's role is one of `roles`.
pub(super) fn require(session: &Session, roles: &[Role]) -> Result<(), ErrorReply> {
    if roles.contains(&session.role) {
        Ok(())
    } else {
        Err(reply(
            ErrorCode::Forbidden,
            format!("a {} token may not do this", session.role),
        ))
    }
}

/// The hall refused a command (or could not store it): its own code.
pub(super) fn refused(e: ShardError) -> ErrorReply {
    reply(e.code(), e.to_string())
}

/// Refuses with `not_owner` unless this daemon serves `hall` now (always,
/// without a cluster).
pub(super) fn serving(daemon: &Daemon, hall: &HallShard) -> Result<(), ErrorReply> {
    if hall.serving() {
        Ok(())
    } else {
        Err(not_owner(daemon, hall.id()))
    }
}

/// Cluster mode: hall `hall` is served by another node (named in
/// `redirect` when known). Nothing was changed.
pub(super) fn not_owner(daemon: &Daemon, hall: &str) -> ErrorReply {
    let redirect = daemon.redirect(hall);
    let message = match &redirect {
        Some(at) => format!("hall {hall:?} is served by the hallqd at {at} now; ask there"),
        None => format!(
            "hall {hall:?} is not served by this hallqd now (it is moving between nodes); \
             try again in a moment"
        ),
    };
    ErrorReply {
        redirect,
        ..reply(ErrorCode::NotOwner, message)
    }
}
