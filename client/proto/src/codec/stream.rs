//! Frames on QUIC streams and other async byte streams (feature `stream`,
//! which brings in tokio and quinn; the dispatch core builds without it).

use std::io;

use bytes::{Buf, BytesMut};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{decode, CodecError, MAX_FRAME, PREFIX_LEN};

impl From<quinn::ReadError> for CodecError {
    fn from(e: quinn::ReadError) -> Self {
        CodecError::Stream(e.to_string())
    }
}

impl From<quinn::WriteError> for CodecError {
    fn from(e: quinn::WriteError) -> Self {
        CodecError::Stream(e.to_string())
    }
}

/// The protocol (ALPN) the handshake of `connection` settled on: which of
/// `hallq/1`, `hallq/1.1` and `hallq/2` both sides speak on it.
pub fn protocol_of(connection: &quinn::Connection) -> Option<Vec<u8>> {
    connection
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.protocol)
}

/// Writes a frame produced by [`encode`] to a QUIC send stream.
pub async fn write_frame(send: &mut quinn::SendStream, frame: &[u8]) -> Result<(), CodecError> {
    // Use quinn's own write_all so a stream reset keeps its QUIC meaning
    // instead of being flattened into an io::Error.
    send.write_all(frame).await?;
    Ok(())
}

/// Writes a frame produced by [`encode`] to any async byte sink (tests use
/// in-memory duplex pipes).
pub async fn write_frame_to<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frame: &[u8],
) -> Result<(), CodecError> {
    writer.write_all(frame).await?;
    Ok(())
}

/// Reads and decodes the next frame from a QUIC receive stream.
///
/// Returns `Ok(None)` when the peer finished the stream cleanly between
/// frames; a stream that ends inside a frame is [`CodecError::Truncated`].
pub async fn read_frame<T: DeserializeOwned>(
    recv: &mut quinn::RecvStream,
) -> Result<Option<T>, CodecError> {
    read_frame_from(recv).await
}

/// Reads and decodes the next frame from any async byte source; see [`read_frame`].
pub async fn read_frame_from<T, R>(reader: &mut R) -> Result<Option<T>, CodecError>
where
    T: DeserializeOwned,
    R: AsyncRead + Unpin,
{
    let mut prefix = [0u8; PREFIX_LEN];
    let mut filled = 0;
    while filled < PREFIX_LEN {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            // EOF before the first prefix byte is the peer saying "done";
            // EOF after some of it is a broken frame.
            return if filled == 0 {
                Ok(None)
            } else {
                Err(CodecError::Truncated)
            };
        }
        filled += n;
    }
    let len = u32::from_be_bytes(prefix) as usize;
    // Checked before allocating: a forged prefix must not cost us 4 GiB.
    if len > MAX_FRAME {
        return Err(CodecError::Oversized {
            len,
            max: MAX_FRAME,
        });
    }
    let mut payload = vec![0u8; len];
    reader
        .read_exact(&mut payload)
        .await
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => CodecError::Truncated,
            _ => CodecError::Io(e),
        })?;
    decode(&payload).map(Some)
}

/// Reads the frames of a long-lived stream (a pipeline) through a buffer of
/// its own: one read takes whatever has arrived, often several frames, and
/// each is decoded straight from the buffer, with no buffer per frame.
///
/// [`FrameReader::next`] is cancel-safe (what was read stays in the
/// buffer), so it may wait in a `select!` beside other work. The buffer
/// holds at most one unfinished frame and one read's chunk: a prefix over
/// [`MAX_FRAME`] is refused as soon as its four bytes are in.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: BytesMut,
}

impl FrameReader {
    /// A reader with nothing read yet.
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    /// Whether part of a frame has arrived and the rest not yet (a peer
    /// that stops halfway is a slow loris). Whole frames read but not yet
    /// taken are not partial.
    pub fn partial(&self) -> bool {
        !self.buf.is_empty() && !matches!(self.whole_frame(), Ok(Some(_)))
    }

    /// The next frame, decoded; `Ok(None)` when the peer finished the
    /// stream between frames. A stream that ends inside a frame is
    /// [`CodecError::Truncated`].
    pub async fn next<T: DeserializeOwned>(
        &mut self,
        recv: &mut quinn::RecvStream,
    ) -> Result<Option<T>, CodecError> {
        loop {
            if let Some(len) = self.whole_frame()? {
                let value = decode(&self.buf[PREFIX_LEN..PREFIX_LEN + len]);
                self.buf.advance(PREFIX_LEN + len);
                return value.map(Some);
            }
            match recv.read_chunk(PREFIX_LEN + MAX_FRAME, true).await? {
                Some(chunk) => self.buf.extend_from_slice(&chunk.bytes),
                None if self.buf.is_empty() => return Ok(None),
                None => return Err(CodecError::Truncated),
            }
        }
    }

    /// The payload length of the whole frame at the front of the buffer,
    /// if it is all there.
    fn whole_frame(&self) -> Result<Option<usize>, CodecError> {
        let Some(prefix) = self.buf.get(..PREFIX_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len > MAX_FRAME {
            return Err(CodecError::Oversized {
                len,
                max: MAX_FRAME,
            });
        }
        Ok((self.buf.len() >= PREFIX_LEN + len).then_some(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;
    use crate::codec::tests::{samples, Sample};

    #[tokio::test]
    async fn stream_round_trip_then_clean_end() {
        let (mut a, mut b) = tokio::io::duplex(256 * 1024);
        for msg in samples() {
            write_frame_to(&mut a, &encode(&msg).unwrap())
                .await
                .unwrap();
        }
        drop(a);
        for msg in samples() {
            let got: Option<Sample> = read_frame_from(&mut b).await.unwrap();
            assert_eq!(got, Some(msg));
        }
        let end: Option<Sample> = read_frame_from(&mut b).await.unwrap();
        assert_eq!(end, None);
    }

    #[tokio::test]
    async fn oversized_prefix_refused_before_allocation() {
        let (mut a, mut b) = tokio::io::duplex(64);
        // Only the prefix is ever sent: if the reader tried to allocate and
        // read 4 GiB it would block or abort instead of returning.
        a.write_all(&0xFFFF_FFFFu32.to_be_bytes()).await.unwrap();
        let err = read_frame_from::<Sample, _>(&mut b).await.unwrap_err();
        assert!(
            matches!(
                err,
                CodecError::Oversized {
                    len: 0xFFFF_FFFF,
                    max: MAX_FRAME
                }
            ),
            "{err:?}"
        );
        // One past the limit is refused too.
        a.write_all(&((MAX_FRAME as u32) + 1).to_be_bytes())
            .await
            .unwrap();
        let err = read_frame_from::<Sample, _>(&mut b).await.unwrap_err();
        assert_eq!(err.code(), "frame_too_large");
    }

    #[tokio::test]
    async fn truncated_frames_are_errors() {
        let frame = encode(&Sample::Take {
            hall: "h".into(),
            item: 1,
        })
        .unwrap();
        // Cut inside the payload.
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&frame[..frame.len() - 1]).await.unwrap();
        drop(a);
        let err = read_frame_from::<Sample, _>(&mut b).await.unwrap_err();
        assert!(matches!(err, CodecError::Truncated), "{err:?}");
        assert_eq!(err.code(), "truncated_frame");
        // Cut inside the prefix.
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&frame[..2]).await.unwrap();
        drop(a);
        let err = read_frame_from::<Sample, _>(&mut b).await.unwrap_err();
        assert!(matches!(err, CodecError::Truncated), "{err:?}");
    }

    #[tokio::test]
    async fn garbage_frame_on_stream_is_malformed() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&[0, 0, 0, 3, 0xEE, 0xEE, 0xEE]).await.unwrap();
        let err = read_frame_from::<Sample, _>(&mut b).await.unwrap_err();
        assert!(matches!(err, CodecError::Malformed(_)), "{err:?}");
    }
}
