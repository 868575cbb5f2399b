//! Writing frames to a QUIC stream, finishing it so the last frame
//! arrives, and closing a connection whose peer sent a bad frame.
//!
//! Shared by the connection side ([`super::session`]) and the subscription
//! pumps ([`super::route::stream`]): both answer on streams and both must
//! not lose a final frame to a connection dropped too early.

use std::time::Duration;

use hallq_proto::codec::{self, CodecError};
use hallq_proto::wire::Response;

use super::rights::reply;

/// QUIC application close codes, shared with the client library.
pub(super) mod close {
    pub use hallq_proto::wire::{
        CLOSE_NOT_OWNER as NOT_OWNER, CLOSE_PROTOCOL as PROTOCOL,
        CLOSE_UNAUTHORIZED as UNAUTHORIZED,
    };
}

/// Writes one message as a frame; false if the peer is gone.
pub(super) async fn write<T: serde::Serialize>(send: &mut quinn::SendStream, message: &T) -> bool {
    match codec::encode(message) {
        Ok(frame) => codec::write_frame(send, &frame).await.is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a reply");
            false
        }
    }
}

/// Writes the one answer of a request stream and finishes the stream.
pub(super) async fn send_reply(send: &mut quinn::SendStream, response: &Response) {
    if !write(send, response).await {
        tracing::debug!("client left before its answer");
    }
    finish(send).await;
}

/// Finishes a stream and waits (briefly) until the peer has it: when this
/// task held the connection's last handle, dropping it would close the
/// connection and discard what was not yet sent (a shutdown's `Dropped`).
pub(super) async fn finish(send: &mut quinn::SendStream) {
    let _ = send.finish();
    let _ = tokio::time::timeout(Duration::from_secs(1), send.stopped()).await;
}

/// Answers a frame that is oversized, truncated or not what was expected,
/// then closes the connection: a peer that sends garbage is not trusted
/// with more.
pub(super) async fn protocol_error(
    connection: &quinn::Connection,
    send: &mut quinn::SendStream,
    e: &CodecError,
) {
    tracing::warn!(error = %e, "bad frame: closing the connection");
    send_reply(send, &Response::Error(reply(e.code(), e.to_string()))).await;
    // Give the answer a moment to leave before closing.
    let _ = tokio::time::timeout(Duration::from_millis(200), send.stopped()).await;
    connection.close(close::PROTOCOL.into(), e.to_string().as_bytes());
}
