//! A pipeline (protocol `hallq/2`): many requests in flight on one stream.
//!
//! A client that chose ALPN `hallq/2` opens a stream and sends
//! [`Request::Pipeline`]; from then on it writes [`Tagged`] requests
//! without waiting, and this task answers each with its tag as soon as the
//! answer is ready (a change's once it is durable), in whatever order they
//! finish. The requests are carried out side by side, exactly as if each
//! had come on a stream of its own (the same route, rights, rate limit and
//! answers), but without a stream, a task and a stream's bookkeeping each:
//! the answers that one group commit releases are encoded into one buffer
//! and leave in one write.
//!
//! A frame that is oversized, truncated, malformed or tagged 0 (the
//! daemon's own tag) ends the pipeline: the daemon's last word is
//! `Tagged { tag: 0, .. }` with the error, then the connection is closed,
//! as on any stream. A frame begun and not finished within the frame
//! timeout is a slow loris, cut the same way. At most [`IN_FLIGHT`]
//! requests are carried out at once; beyond that the daemon stops reading,
//! and QUIC's flow control holds the client back.

use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use hallq_proto::codec::{self, CodecError, FrameReader};
use hallq_proto::wire::{Request, Response, Tagged, PIPELINE_TAG};
use hallq_proto::ErrorCode;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{answer_of, Bucket};
use crate::net::frame::{close, finish, send_reply, write};
use crate::net::rights::{reply, Session};
use crate::net::route::{self, Routed};
use crate::net::Daemon;

/// Requests of one pipeline carried out at once.
pub(super) const IN_FLIGHT: usize = 256;

/// The connection a pipeline's stream belongs to.
pub(super) struct Pipe<'a> {
    /// Every hall, and the limits.
    pub daemon: &'a Daemon,
    /// The rights its token granted.
    pub session: &'a Session,
    /// Closed after a bad frame.
    pub connection: &'a quinn::Connection,
    /// Fires (or closes) when the daemon shuts down.
    pub shutdown: &'a mut broadcast::Receiver<()>,
    /// The connection's rate, shared with its other streams.
    pub bucket: &'a Bucket,
    /// How long a frame may take to arrive whole.
    pub frame_timeout: Duration,
}

/// Serves a pipeline until the client finishes its side (every request
/// answered, then the stream finished), the connection goes, or the daemon
/// shuts down (the requests in flight are answered first).
pub(super) async fn serve(
    pipe: Pipe<'_>,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    if !crate::net::certificate::speaks_pipeline(pipe.connection) {
        let refusal = reply(
            ErrorCode::BadRequest,
            "a pipeline needs protocol hallq/2; this connection chose an older one",
        );
        return send_reply(&mut send, &Response::Error(refusal)).await;
    }
    if !write(&mut send, &Response::Pipelining).await {
        return;
    }
    let mut reader = FrameReader::new();
    let mut in_flight = FuturesUnordered::new();
    let mut out = Vec::with_capacity(4096);
    let mut reading = true;
    // When the unfinished frame at the front of the reader began.
    let mut partial_since: Option<Instant> = None;
    loop {
        let cut_at = partial_since.map(|since| since + pipe.frame_timeout);
        tokio::select! {
            biased;
            Some(answer) = in_flight.next(), if !in_flight.is_empty() => {
                push(&mut out, &answer);
                // The others the same wake-up finished (one group commit
                // releases many) go in the same write.
                while let Some(Some(answer)) = in_flight.next().now_or_never() {
                    push(&mut out, &answer);
                }
                if !flush(&mut send, &mut out).await {
                    return;
                }
            }
            frame = reader.next::<Tagged<Request>>(&mut recv), if reading && in_flight.len() < IN_FLIGHT => {
                match frame {
                    Ok(Some(Tagged { tag, .. })) if tag == PIPELINE_TAG => {
                        let e = CodecError::Malformed(format!("tag {PIPELINE_TAG} is the daemon's own"));
                        return end(&pipe, &mut send, &e).await;
                    }
                    Ok(Some(Tagged { tag, body })) => {
                        if pipe.bucket.take() {
                            in_flight.push(carry_out(pipe.daemon, pipe.session, tag, body));
                        } else {
                            push(&mut out, &Tagged { tag, body: pipe.bucket.refusal(pipe.session.role) });
                            if !flush(&mut send, &mut out).await {
                                return;
                            }
                        }
                    }
                    // The client is done: answer what is in flight, then finish.
                    Ok(None) => reading = false,
                    Err(e) => return end(&pipe, &mut send, &e).await,
                }
            }
            () = sleep_until(cut_at), if reading && cut_at.is_some() => {
                metrics::counter!("hallq_slow_clients_cut_total").increment(1);
                let e = CodecError::Malformed(format!(
                    "no complete request within {} s",
                    pipe.frame_timeout.as_secs()
                ));
                return end(&pipe, &mut send, &e).await;
            }
            _ = pipe.shutdown.recv(), if reading => reading = false,
        }
        if !reading && in_flight.is_empty() {
            return finish(&mut send).await;
        }
        // The clock runs only while the rest of the frame could be read:
        // with IN_FLIGHT requests at work the daemon reads nothing.
        partial_since = if reader.partial() && in_flight.len() < IN_FLIGHT {
            partial_since.or_else(|| Some(Instant::now()))
        } else {
            None
        };
    }
}

/// One request of the pipeline, carried out as on a stream of its own.
async fn carry_out(
    daemon: &Daemon,
    session: &Session,
    tag: u64,
    request: Request,
) -> Tagged<Response> {
    let kind = request.kind();
    let started = Instant::now();
    // The route hands a subscription or a pipeline back (asked for as
    // itself or wrapped in a change id) without starting it: refused here.
    let answer = match route::handle(daemon, session, request).await {
        Routed::Answer(answer) => answer,
        Routed::Watch | Routed::Notifications | Routed::Pipeline => Err(reply(
            ErrorCode::BadRequest,
            "a subscription or a pipeline takes a stream of its own, not a pipeline's",
        )),
    };
    let body = answer_of(daemon, session, kind, started, answer);
    Tagged { tag, body }
}

/// Appends one answer to the pending write.
fn push(out: &mut Vec<u8>, answer: &Tagged<Response>) {
    if let Err(e) = codec::encode_into(out, answer) {
        // An answer too big for a frame is the daemon's bug; the client
        // still hears of its request.
        tracing::error!(error = %e, tag = answer.tag, "cannot encode a pipelined answer");
        let refusal = Tagged {
            tag: answer.tag,
            body: Response::Error(reply(e.code(), format!("the answer cannot be sent: {e}"))),
        };
        let _ = codec::encode_into(out, &refusal);
    }
}

/// Writes the pending answers; false if the client is gone.
async fn flush(send: &mut quinn::SendStream, out: &mut Vec<u8>) -> bool {
    let written = codec::write_frame(send, out).await.is_ok();
    out.clear();
    if !written {
        tracing::debug!("client left before its pipelined answers");
    }
    written
}

/// The daemon's last word on a pipeline that sent a bad frame, then the
/// connection closed (as a bad frame on any stream does).
async fn end(pipe: &Pipe<'_>, send: &mut quinn::SendStream, e: &CodecError) {
    tracing::warn!(error = %e, "bad pipelined frame: closing the connection");
    let last = Tagged {
        tag: PIPELINE_TAG,
        body: Response::Error(reply(e.code(), e.to_string())),
    };
    if write(send, &last).await {
        let _ = send.finish();
        // Give the answer a moment to leave before closing.
        let _ = tokio::time::timeout(Duration::from_millis(200), send.stopped()).await;
    }
    pipe.connection
        .close(close::PROTOCOL.into(), e.to_string().as_bytes());
}

/// Sleeps until `at`; forever without one (the branch is off then).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
