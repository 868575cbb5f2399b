//! The change ids a hall remembers (SPEC §6: a change is applied exactly
//! once even when its client retries after a lost connection or a
//! failover).
//!
//! A client sends each change with its id (`Request::Once`: a random
//! 128-bit client number and a sequence number). The hall remembers the
//! recent ids with a digest of what they asked and the answer they got, in
//! the change's own journal record ([`crate::journal::ChangeRecord`]), so an
//! acknowledged change is never without its id, and this table is rebuilt by
//! the same replay that rebuilds the hall: on restart, on a cluster follower,
//! on takeover. A resend of a known id gets the original answer and changes
//! nothing.
//!
//! The table is bounded, and the bounds are constants so that a replay
//! evicts exactly what the live hall evicted:
//! - [`PER_CLIENT`] ids per client: a client has at most a few changes in
//!   flight, and resends only those; its oldest goes first;
//! - [`TOTAL`] ids per hall, the oldest (by journal record) going first;
//! - [`IDLE_CLIENTS`] clients whose every id was evicted are still known by
//!   their watermark (the highest sequence number forgotten), so that a very
//!   late resend is refused with `change_id_expired` instead of being
//!   carried out a second time.
//!
//! Only beyond all three (a resend after more than [`IDLE_CLIENTS`] other
//! clients' ids were forgotten too) would an id be taken as new.

use std::collections::{BTreeMap, HashMap, VecDeque};

use hallq_proto::wire::{ChangeId, Response};
use hallq_proto::ErrorCode;

/// Ids remembered per client.
pub const PER_CLIENT: usize = 256;
/// Ids remembered per hall.
pub const TOTAL: usize = 8192;
/// Clients remembered only by their watermark, per hall.
pub const IDLE_CLIENTS: usize = 4096;

/// Why a change id was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeIdError {
    /// The id came before with another request.
    #[error("change id {0} was used before for another request; nothing was changed")]
    Reused(String),
    /// The id is older than the hall remembers for its client.
    #[error(
        "change id {0} is older than this hall remembers for its client; it is not carried \
         out again (look at the hall's status)"
    )]
    Expired(String),
    /// The change was carried out but had no answer to remember.
    #[error("change id {0} was carried out before; its answer was not kept")]
    NoAnswer(String),
}

impl ChangeIdError {
    /// Stable code for clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            ChangeIdError::Reused(_) => ErrorCode::ChangeIdReused,
            ChangeIdError::Expired(_) => ErrorCode::ChangeIdExpired,
            ChangeIdError::NoAnswer(_) => ErrorCode::Internal,
        }
    }
}

/// An id as logs and messages show it: the client's first 32 bits, the
/// sequence number.
pub fn shown(id: ChangeId) -> String {
    format!("{:08x}…/{}", (id.client >> 96) as u32, id.seq)
}

/// One remembered change.
#[derive(Debug, Clone)]
pub(super) struct Remembered {
    digest: [u8; 16],
    answer: Option<Response>,
    /// Its journal record: the age the hall-wide bound evicts by.
    record: u64,
    /// Applied, not yet durable: a resend waits (in memory only; a
    /// replayed change is durable).
    pending: bool,
}

/// What the table says of an id.
#[derive(Debug, PartialEq)]
pub(super) enum Lookup<'a> {
    /// Not seen: carry it out.
    Fresh,
    /// Seen with the same request: its answer, and whether it is still on
    /// its way to the disk.
    Known {
        answer: &'a Option<Response>,
        pending: bool,
    },
    /// Seen with another request.
    Reused,
    /// Older than what is remembered for its client.
    Expired,
}

#[derive(Debug, Default)]
struct Client {
    recent: BTreeMap<u64, Remembered>,
    /// Every sequence number up to this one was forgotten.
    forgotten_upto: u64,
}

/// The recent change ids of one hall.
#[derive(Debug, Default)]
pub(super) struct ChangeLog {
    clients: HashMap<u128, Client>,
    /// Journal record → id, oldest first: the hall-wide bound.
    by_age: BTreeMap<u64, ChangeId>,
    /// Clients that became idle (every id forgotten), oldest first; may
    /// hold clients that became active again (skipped when trimming).
    idle: VecDeque<u128>,
    idle_count: usize,
}

impl ChangeLog {
    /// What the table says of `id` sent with `digest`.
    pub(super) fn lookup(&self, id: ChangeId, digest: &[u8; 16]) -> Lookup<'_> {
        let Some(client) = self.clients.get(&id.client) else {
            return Lookup::Fresh;
        };
        match client.recent.get(&id.seq) {
            Some(known) if &known.digest == digest => Lookup::Known {
                answer: &known.answer,
                pending: known.pending,
            },
            Some(_) => Lookup::Reused,
            None if id.seq <= client.forgotten_upto => Lookup::Expired,
            None => Lookup::Fresh,
        }
    }

    /// Remembers change `id` of journal record `record`, evicting what
    /// the bounds require.
    pub(super) fn remember(
        &mut self,
        id: ChangeId,
        digest: [u8; 16],
        answer: Option<Response>,
        record: u64,
        pending: bool,
    ) {
        let client = self.clients.entry(id.client).or_default();
        if client.recent.is_empty() && client.forgotten_upto > 0 {
            // Idle no more; its place in `idle` is skipped when trimming.
            self.idle_count -= 1;
        }
        if let Some(old) = client.recent.insert(
            id.seq,
            Remembered {
                digest,
                answer,
                record,
                pending,
            },
        ) {
            self.by_age.remove(&old.record);
        }
        self.by_age.insert(record, id);
        if client.recent.len() > PER_CLIENT {
            if let Some((seq, old)) = client.recent.pop_first() {
                client.forgotten_upto = client.forgotten_upto.max(seq);
                self.by_age.remove(&old.record);
            }
        }
        while self.by_age.len() > TOTAL {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.forget(oldest);
        }
        self.trim_idle();
    }

    /// Change `id` is durable: a resend is answered at once.
    pub(super) fn settle(&mut self, id: ChangeId) {
        if let Some(known) = self
            .clients
            .get_mut(&id.client)
            .and_then(|c| c.recent.get_mut(&id.seq))
        {
            known.pending = false;
        }
    }

    /// How many ids are remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_age.len()
    }

    fn forget(&mut self, id: ChangeId) {
        let Some(client) = self.clients.get_mut(&id.client) else {
            return;
        };
        client.recent.remove(&id.seq);
        client.forgotten_upto = client.forgotten_upto.max(id.seq);
        if client.recent.is_empty() {
            self.idle.push_back(id.client);
            self.idle_count += 1;
        }
    }

    fn trim_idle(&mut self) {
        while self.idle_count > IDLE_CLIENTS {
            let Some(oldest) = self.idle.pop_front() else {
                break;
            };
            if self
                .clients
                .get(&oldest)
                .is_some_and(|c| c.recent.is_empty())
            {
                self.clients.remove(&oldest);
                self.idle_count -= 1;
            }
        }
        // Places of clients that became active again pile up only as fast
        // as clients come and go; sweep them now and then.
        if self.idle.len() > 4 * IDLE_CLIENTS {
            let clients = &self.clients;
            self.idle
                .retain(|c| clients.get(c).is_some_and(|c| c.recent.is_empty()));
            self.idle_count = self.idle.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_proto::wire::Response;

    fn id(client: u128, seq: u64) -> ChangeId {
        ChangeId { client, seq }
    }

    fn answer(n: u64) -> Option<Response> {
        Some(Response::Issuing { open: n % 2 == 0 })
    }

    #[test]
    fn a_known_id_gets_its_answer_and_another_body_is_refused() {
        let mut log = ChangeLog::default();
        assert_eq!(log.lookup(id(7, 1), &[1; 16]), Lookup::Fresh);
        log.remember(id(7, 1), [1; 16], answer(0), 0, true);
        assert_eq!(
            log.lookup(id(7, 1), &[1; 16]),
            Lookup::Known {
                answer: &answer(0),
                pending: true
            }
        );
        log.settle(id(7, 1));
        assert_eq!(
            log.lookup(id(7, 1), &[1; 16]),
            Lookup::Known {
                answer: &answer(0),
                pending: false
            }
        );
        assert_eq!(log.lookup(id(7, 1), &[2; 16]), Lookup::Reused);
        // Another client's same sequence number is another change.
        assert_eq!(log.lookup(id(8, 1), &[1; 16]), Lookup::Fresh);
    }

    #[test]
    fn a_client_keeps_its_last_ids_and_older_ones_expire() {
        let mut log = ChangeLog::default();
        let n = PER_CLIENT as u64 + 10;
        for seq in 1..=n {
            log.remember(id(7, seq), [0; 16], answer(seq), seq, false);
        }
        assert_eq!(log.len(), PER_CLIENT);
        for seq in 1..=10 {
            assert_eq!(log.lookup(id(7, seq), &[0; 16]), Lookup::Expired, "{seq}");
        }
        assert!(matches!(
            log.lookup(id(7, 11), &[0; 16]),
            Lookup::Known { .. }
        ));
        assert_eq!(log.lookup(id(7, n + 1), &[0; 16]), Lookup::Fresh);
    }

    #[test]
    fn the_hall_keeps_its_last_ids_in_all_and_idle_clients_by_their_watermark() {
        let mut log = ChangeLog::default();
        // One change per client, as `hallq issue` makes them: the oldest
        // clients lose their id, then (past IDLE_CLIENTS) their watermark.
        let clients = (TOTAL + IDLE_CLIENTS + 100) as u128;
        for c in 0..clients {
            log.remember(id(c, 1), [0; 16], answer(1), c as u64, false);
        }
        assert_eq!(log.len(), TOTAL);
        // The newest are remembered with their answers,
        assert!(matches!(
            log.lookup(id(clients - 1, 1), &[0; 16]),
            Lookup::Known { .. }
        ));
        // the next older ones by their watermark,
        let idle = clients - TOTAL as u128 - 1;
        assert_eq!(log.lookup(id(idle, 1), &[0; 16]), Lookup::Expired);
        assert_eq!(
            log.lookup(
                id(clients - TOTAL as u128 - IDLE_CLIENTS as u128, 1),
                &[0; 16]
            ),
            Lookup::Expired
        );
        // and the oldest not at all.
        assert_eq!(log.lookup(id(0, 1), &[0; 16]), Lookup::Fresh);
        assert!(log.clients.len() <= TOTAL + IDLE_CLIENTS);
    }

    #[test]
    fn replaying_the_same_changes_rebuilds_the_same_table() {
        let play = |log: &mut ChangeLog| {
            for r in 0..(TOTAL as u64 * 2) {
                let client = u128::from(r % 37);
                log.remember(
                    id(client, r / 37 + 1),
                    [r as u8; 16],
                    answer(r),
                    r,
                    r % 3 == 0,
                );
            }
        };
        let (mut live, mut replayed) = (ChangeLog::default(), ChangeLog::default());
        play(&mut live);
        play(&mut replayed);
        assert_eq!(live.len(), replayed.len());
        for r in 0..(TOTAL as u64 * 2) {
            let i = id(u128::from(r % 37), r / 37 + 1);
            let (a, b) = (
                live.lookup(i, &[r as u8; 16]),
                replayed.lookup(i, &[r as u8; 16]),
            );
            assert_eq!(a, b, "{r}");
        }
    }

    #[test]
    fn a_client_that_comes_back_is_no_longer_idle() {
        let mut log = ChangeLog::default();
        log.remember(id(1, 1), [0; 16], answer(1), 0, false);
        // Other clients' changes push client 1's only id out.
        for r in 1..=TOTAL as u64 {
            log.remember(id(u128::from(r) + 1, 1), [0; 16], answer(r), r, false);
        }
        assert_eq!(log.lookup(id(1, 1), &[0; 16]), Lookup::Expired);
        assert_eq!(log.idle_count, 1);
        log.remember(id(1, 2), [0; 16], answer(2), TOTAL as u64 + 1, false);
        // Client 1 is active again; client 2 is the one pushed out now.
        assert_eq!(log.idle_count, 1);
        assert_eq!(log.lookup(id(2, 1), &[0; 16]), Lookup::Expired);
        assert!(matches!(
            log.lookup(id(1, 2), &[0; 16]),
            Lookup::Known { .. }
        ));
        assert_eq!(log.lookup(id(1, 1), &[0; 16]), Lookup::Expired);
    }
}
