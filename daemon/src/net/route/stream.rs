//! The long-lived subscriptions: a display's feed ([`watch`]) and a
//! notifier's outbox ([`notify`]), pumped from the hall to a QUIC stream.
//!
//! A subscription owns its stream until the peer leaves, falls behind, the
//! hall moves to another node or the daemon shuts down; in each of the last
//! three the peer is told why (a `Dropped` frame) and reconnects for a fresh
//! start. The hall's side — snapshot and deltas, the outbox and its
//! acknowledgements — is [`crate::fanout`]'s, reached through the shard;
//! this file only writes and reads frames.

use futures_util::stream::{FuturesUnordered, StreamExt};
use hallq_proto::codec;
use hallq_proto::types::Role;
use hallq_proto::wire::{DisplayUpdate, NotifierFrame, NotifierMessage, Response};
use hallq_proto::ErrorCode;
use tokio::sync::broadcast;

use crate::net::frame::{finish, protocol_error, send_reply, write};
use crate::net::rights::{reply, require, serving, Session};
use crate::net::Daemon;
use crate::shard::HallShard;

/// Why a display or notifier stream ends when the hall moves to another
/// node (cluster mode).
const MOVED: &str = "not_owner: this hallqd no longer serves the hall; reconnect to find its owner";

/// The connection a subscription's stream belongs to.
#[derive(Debug)]
pub(in crate::net) struct Subscriber<'a> {
    /// Every hall, and the limits.
    pub daemon: &'a Daemon,
    /// The rights its token granted.
    pub session: &'a Session,
    /// Closed on a bad acknowledgement frame.
    pub connection: &'a quinn::Connection,
    /// Fires (or closes) when the daemon shuts down.
    pub shutdown: &'a mut broadcast::Receiver<()>,
}

/// A display subscription: snapshot, then every change.
pub(in crate::net) async fn watch(
    sub: Subscriber<'_>,
    mut send: quinn::SendStream,
    // Held open for the life of the subscription; a display sends nothing.
    _recv: quinn::RecvStream,
) {
    // The visitor page follows the display stream as its push trigger
    // (issue 18): it shows what the hall's boards show anyway.
    if let Err(refusal) = require(sub.session, &[Role::Display, Role::Visitor, Role::Admin]) {
        return send_reply(&mut send, &Response::Error(refusal)).await;
    }
    let hall = &sub.session.hall;
    let limit = sub.daemon.config().limits.displays_per_hall;
    let Some(_display) = hall.add_display(limit) else {
        metrics::counter!("hallq_connections_refused_total", "reason" => "displays_per_hall")
            .increment(1);
        let refusal = reply(
            ErrorCode::TooManyDisplays,
            format!("this hall already has {limit} displays subscribed"),
        );
        return send_reply(&mut send, &Response::Error(refusal)).await;
    };
    if let Err(refusal) = serving(sub.daemon, hall) {
        return send_reply(&mut send, &Response::Error(refusal)).await;
    }
    let mut moved = hall.moved();
    let mut feed = hall.watch();
    let hall_id = hall.id().to_owned();
    metrics::gauge!("hallq_display_subscribers", "hall" => hall_id.clone()).increment(1.0);
    let mut ok =
        write(&mut send, &Response::Watching).await && write(&mut send, &feed.snapshot).await;
    while ok {
        tokio::select! {
            update = feed.updates.recv() => match update {
                Ok(batch) if batch.is_resync() => {
                    // The hall was rebuilt from its journal after a
                    // storage failure: what this display holds may be
                    // undone. Start over from a fresh snapshot.
                    let dropped = DisplayUpdate::Dropped {
                        reason: "the hall was rebuilt from its journal; reconnect for a fresh snapshot".into(),
                    };
                    let _ = write(&mut send, &dropped).await;
                    break;
                }
                Ok(batch) => {
                    // Encoded once, shared by every display; skip what
                    // the snapshot already had.
                    let Some(frame) = batch.after(feed.seq) else {
                        continue;
                    };
                    ok = codec::write_frame(&mut send, &frame).await.is_ok();
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "display fell behind: dropped");
                    metrics::counter!("hallq_display_dropped_total", "hall" => hall_id.clone()).increment(1);
                    let dropped = DisplayUpdate::Dropped {
                        reason: format!("fell behind by {missed} updates; reconnect for a fresh snapshot"),
                    };
                    let _ = write(&mut send, &dropped).await;
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = sub.shutdown.recv() => {
                let dropped = DisplayUpdate::Dropped { reason: "hallqd is shutting down".into() };
                let _ = write(&mut send, &dropped).await;
                break;
            }
            _ = moved.changed() => {
                let dropped = DisplayUpdate::Dropped { reason: MOVED.into() };
                let _ = write(&mut send, &dropped).await;
                break;
            }
        }
    }
    metrics::gauge!("hallq_display_subscribers", "hall" => hall_id).decrement(1.0);
    finish(&mut send).await;
}

/// A notifier subscription: pending notifications, then new ones; acks
/// arrive on the same stream.
pub(in crate::net) async fn notify(
    sub: Subscriber<'_>,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    if let Err(refusal) = require(sub.session, &[Role::Notifier, Role::Admin]) {
        return send_reply(&mut send, &Response::Error(refusal)).await;
    }
    let hall = &sub.session.hall;
    if let Err(refusal) = serving(sub.daemon, hall) {
        return send_reply(&mut send, &Response::Error(refusal)).await;
    }
    let mut moved = hall.moved();
    let mut feed = hall.notifications();
    // Acknowledgements on their way to disk; awaited as they complete,
    // so the next one is read meanwhile.
    let mut storing = FuturesUnordered::new();
    let mut ok = write(&mut send, &Response::Notifying).await;
    for n in feed.pending.drain(..) {
        ok = ok
            && write(
                &mut send,
                &NotifierFrame::Notification(Box::new((*n).clone())),
            )
            .await;
    }
    while ok {
        tokio::select! {
            update = feed.updates.recv() => match update {
                Ok(n) => {
                    // Already sent among the pending ones.
                    if HallShard::notification_number(&n).is_some_and(|k| k < feed.upto) {
                        continue;
                    }
                    ok = write(&mut send, &NotifierFrame::Notification(Box::new((*n).clone()))).await;
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let reason = format!("fell behind by {missed} notifications; reconnect to receive every pending one");
                    let _ = write(&mut send, &NotifierFrame::Dropped { reason }).await;
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            ack = codec::read_frame::<NotifierMessage>(&mut recv) => match ack {
                Ok(Some(message)) => match match &message {
                    NotifierMessage::Ack { id } => hall.ack(id),
                    NotifierMessage::Failed { id, reason } => hall.fail_notification(id, reason),
                } {
                    Ok(Some(durable)) => storing.push(durable),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "cannot store an acknowledgement");
                        break;
                    }
                },
                Ok(None) => break,
                Err(e) => return protocol_error(sub.connection, &mut send, &e).await,
            },
            Some(stored) = storing.next(), if !storing.is_empty() => {
                if let Err(e) = stored {
                    tracing::error!(error = %e, "cannot store an acknowledgement");
                    break;
                }
            }
            _ = moved.changed() => {
                let _ = write(&mut send, &NotifierFrame::Dropped { reason: MOVED.into() }).await;
                break;
            }
            _ = sub.shutdown.recv() => {
                let _ = write(&mut send, &NotifierFrame::Dropped { reason: "hallqd is shutting down".into() }).await;
                break;
            }
        }
    }
    // An acknowledgement still on its way is stored or fails on its
    // own; a lost one only means a redelivery the gateway deduplicates.
    while storing.next().await.is_some() {}
    finish(&mut send).await;
}
