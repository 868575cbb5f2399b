//! Wire framing for the hallq protocol: the one place where messages become bytes.
//!
//! A frame is a `u32` big-endian payload length followed by that many bytes of
//! payload. The payload is a single value encoded with bincode 2 in serde mode.
//! bincode is flagged unmaintained (RUSTSEC-2025-0141), so nothing outside this
//! module names it: swapping the encoding means touching [`encode`] and
//! [`decode`] only.
//!
//! Everything here treats the peer as hostile. A length prefix is checked
//! against [`MAX_FRAME`] before a buffer is allocated, bincode decoding runs
//! with a byte limit (so a length field inside the payload cannot make us
//! allocate gigabytes), and a payload with bytes left over after the value is
//! rejected rather than silently truncated.

use crate::code::ErrorCode;
use std::io;

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use bincode::error::{DecodeError, EncodeError};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest payload a frame may carry, in bytes (the 4-byte prefix not counted).
pub const MAX_FRAME: usize = 64 * 1024;

/// ALPN protocol id; bump it when the wire format changes incompatibly.
pub const ALPN: &[u8] = b"hallq/1";

/// ALPN of protocol 1 with change ids ([`crate::wire::Request::Once`]):
/// the same frames, plus that one request. A client offers it before
/// [`ALPN`] and sends change ids only when the daemon chose it, so a new
/// client talking to an older daemon (which offers `hallq/1` alone) sends
/// its changes as before, without ids, and an older client is served as it
/// always was. A later `hallq/2` carries the same [`crate::wire::ChangeId`].
pub const ALPN_CHANGE_IDS: &[u8] = b"hallq/1.1";

/// ALPN of protocol 2: `hallq/1.1` plus [`crate::wire::Request::Pipeline`],
/// many requests in flight on one stream ([`crate::wire::Tagged`]). Offered
/// first by client and daemon; either side that does not speak it settles
/// on `hallq/1.1` or `hallq/1` as before.
pub const ALPN_PIPELINE: &[u8] = b"hallq/2";

/// Size of the length prefix in front of every payload.
pub(crate) const PREFIX_LEN: usize = 4;

/// bincode's decode limit. bincode counts it in *in-memory* bytes claimed
/// (a `u64` claims 8 even when its varint took 1 wire byte, a `u128` 16), not
/// in wire bytes, so a limit of `MAX_FRAME` would refuse legitimate frames
/// full of small integers. No wire byte claims more than 16, so this limit
/// accepts every well-formed frame and still caps what a forged length can
/// make us allocate at about a megabyte.
const DECODE_LIMIT: usize = 16 * MAX_FRAME;

#[cfg(feature = "stream")]
mod stream;
#[cfg(feature = "stream")]
pub use stream::{
    protocol_of, read_frame, read_frame_from, write_frame, write_frame_to, FrameReader,
};

/// bincode's `standard()` configuration (little-endian, varint) with the limit.
type WireConfig = Configuration<LittleEndian, Varint, Limit<DECODE_LIMIT>>;

fn wire_config() -> WireConfig {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Why a frame could not be encoded, read or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The frame is larger than [`MAX_FRAME`]. When encoding, `len` is the size
    /// reached when encoding stopped, so the real size is at least that.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    Oversized {
        /// Claimed or attempted payload length.
        len: usize,
        /// The limit, [`MAX_FRAME`].
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("stream ended in the middle of a frame")]
    Truncated,
    /// The payload is not a valid encoding of the expected message.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Reading from or writing to the underlying byte stream failed.
    #[error("i/o error on the stream: {0}")]
    Io(#[from] io::Error),
    /// The QUIC stream was reset, stopped or its connection was lost.
    #[error("stream error: {0}")]
    Stream(String),
}

impl CodecError {
    /// Stable short code for this error, safe to send to clients and to match on.
    pub fn code(&self) -> ErrorCode {
        match self {
            CodecError::Oversized { .. } => ErrorCode::FrameTooLarge,
            CodecError::Truncated => ErrorCode::TruncatedFrame,
            CodecError::Malformed(_) => ErrorCode::MalformedFrame,
            // Both are "the transport under the frame failed"; a client has no
            // use for telling an OS error from a QUIC stream reset.
            CodecError::Io(_) | CodecError::Stream(_) => ErrorCode::Io,
        }
    }
}

/// A bincode writer that appends to a `Vec` but refuses to grow past one
/// frame, so encoding an oversized message fails early instead of building
/// the whole thing first.
struct BoundedWriter {
    buf: Vec<u8>,
    /// Where this frame's prefix starts in `buf`.
    start: usize,
    /// Payload size the refused write would have reached; `Some` once over the limit.
    overflow: Option<usize>,
}

impl bincode::enc::write::Writer for BoundedWriter {
    fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let reached = self.buf.len() - self.start - PREFIX_LEN + bytes.len();
        if reached > MAX_FRAME {
            self.overflow = Some(reached);
            return Err(EncodeError::Other("frame_too_large"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }
}

/// Encodes `msg` into a complete frame (length prefix included), ready to be
/// written to a stream or shared between many subscribers.
pub fn encode<T: Serialize>(msg: &T) -> Result<Bytes, CodecError> {
    let mut buf = Vec::new();
    encode_into(&mut buf, msg)?;
    Ok(Bytes::from(buf))
}

/// Appends `msg` to `buf` as a complete frame (length prefix included), so
/// that several frames go out in one write without a buffer each (a
/// pipeline's answers). On an error `buf` is as it was.
pub fn encode_into<T: Serialize>(buf: &mut Vec<u8>, msg: &T) -> Result<(), CodecError> {
    let start = buf.len();
    buf.extend_from_slice(&[0; PREFIX_LEN]);
    let mut writer = BoundedWriter {
        buf: std::mem::take(buf),
        start,
        overflow: None,
    };
    let encoded = bincode::serde::encode_into_writer(msg, &mut writer, wire_config());
    *buf = writer.buf;
    if let Err(e) = encoded {
        buf.truncate(start);
        return Err(match writer.overflow {
            Some(len) => CodecError::Oversized {
                len,
                max: MAX_FRAME,
            },
            // Only a value serde cannot express (e.g. a map with unknown
            // length) gets here: a programming error, reported as such.
            None => CodecError::Malformed(format!("cannot encode message: {e}")),
        });
    }
    let len = buf.len() - start - PREFIX_LEN;
    // Cannot fail: BoundedWriter keeps len <= MAX_FRAME, which fits in a u32.
    let prefix = u32::try_from(len).map_err(|_| CodecError::Oversized {
        len,
        max: MAX_FRAME,
    })?;
    buf[start..start + PREFIX_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(())
}

/// The frames of a run of concatenated frames (as one batched write sends
/// them) after the first `n`; all of them if `n` is 0. A malformed run is
/// returned whole rather than cut at a wrong place.
pub fn skip_frames(frames: &Bytes, n: usize) -> Bytes {
    let mut at = 0usize;
    for _ in 0..n {
        let Some(prefix) = frames.get(at..at + PREFIX_LEN) else {
            return Bytes::new();
        };
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        at += PREFIX_LEN + len;
        if at > frames.len() {
            return frames.clone();
        }
    }
    frames.slice(at..)
}

/// Largest journal record payload the daemon writes (the journal's own
/// `MAX_RECORD_LEN`): records are encoded here too, so that one module owns
/// every use of bincode.
pub const MAX_RECORD: usize = 1 << 20;

/// bincode's decode limit for records; see [`DECODE_LIMIT`] for the factor.
const RECORD_DECODE_LIMIT: usize = 16 * MAX_RECORD;

/// Encodes one journal record's payload (no length prefix: the journal
/// frames its records itself).
pub fn encode_record<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let bytes = bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| CodecError::Malformed(format!("cannot encode record: {e}")))?;
    if bytes.len() > MAX_RECORD {
        return Err(CodecError::Oversized {
            len: bytes.len(),
            max: MAX_RECORD,
        });
    }
    Ok(bytes)
}

/// Decodes one journal record's payload; the whole payload must be used.
pub fn decode_record<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    let config = bincode::config::standard().with_limit::<RECORD_DECODE_LIMIT>();
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(payload, config)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if used != payload.len() {
        return Err(CodecError::Malformed(format!(
            "{} trailing bytes after the record",
            payload.len() - used
        )));
    }
    Ok(value)
}

/// Decodes one message from a frame's payload (the bytes after the prefix).
///
/// The whole payload must be consumed: trailing bytes mean the peer and we
/// disagree about the message type, which is better refused than guessed at.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, CodecError> {
    if payload.len() > MAX_FRAME {
        return Err(CodecError::Oversized {
            len: payload.len(),
            max: MAX_FRAME,
        });
    }
    let (value, used) =
        bincode::serde::decode_from_slice::<T, _>(payload, wire_config()).map_err(|e| match e {
            // A payload that stops inside a value is a malformed payload: the
            // frame itself arrived whole.
            DecodeError::UnexpectedEnd { additional } => {
                CodecError::Malformed(format!("payload ends {additional} bytes early"))
            }
            other => CodecError::Malformed(other.to_string()),
        })?;
    if used != payload.len() {
        return Err(CodecError::Malformed(format!(
            "{} trailing bytes after the message",
            payload.len() - used
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod skip_tests {
    use super::*;

    #[test]
    fn skipping_frames_of_a_run() {
        let a = encode(&1u32).unwrap();
        let b = encode(&"two").unwrap();
        let c = encode(&3u64).unwrap();
        let run = Bytes::from([a.as_ref(), b.as_ref(), c.as_ref()].concat());
        assert_eq!(skip_frames(&run, 0), run);
        assert_eq!(skip_frames(&run, 2), c);
        assert_eq!(skip_frames(&run, 3), Bytes::new());
        assert_eq!(skip_frames(&run, 9), Bytes::new());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub(crate) enum Sample {
        Ping,
        Take {
            hall: String,
            item: u32,
        },
        Called {
            ticket: String,
            window: u16,
            notes: Vec<String>,
        },
        Blob(Vec<u8>),
    }

    pub(crate) fn samples() -> Vec<Sample> {
        vec![
            Sample::Ping,
            Sample::Take {
                hall: "城东办事大厅".into(),
                item: 7,
            },
            Sample::Called {
                ticket: "A012".into(),
                window: 3,
                notes: vec!["vip".into(), String::new()],
            },
            Sample::Blob(vec![0xAB; 1000]),
        ]
    }

    fn payload_of(frame: &[u8]) -> &[u8] {
        &frame[PREFIX_LEN..]
    }

    #[test]
    fn round_trip_sample_enum() {
        for msg in samples() {
            let frame = encode(&msg).unwrap();
            let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
            assert_eq!(len, frame.len() - PREFIX_LEN);
            let back: Sample = decode(payload_of(&frame)).unwrap();
            assert_eq!(back, msg);
        }
    }

    #[test]
    fn encode_refuses_oversized_message() {
        let err = encode(&Sample::Blob(vec![1; MAX_FRAME + 1])).unwrap_err();
        assert!(
            matches!(err, CodecError::Oversized { len, max } if len > MAX_FRAME && max == MAX_FRAME),
            "{err:?}"
        );
        assert_eq!(err.code(), "frame_too_large");
    }

    #[test]
    fn encode_accepts_payload_of_exactly_max_frame() {
        // Vec<u8> of n bytes is a varint length (3 bytes for 65530) + n bytes;
        // the enum tag adds 1.
        let msg = Sample::Blob(vec![9; MAX_FRAME - 4]);
        let frame = encode(&msg).unwrap();
        assert_eq!(frame.len() - PREFIX_LEN, MAX_FRAME);
        let back: Sample = decode(payload_of(&frame)).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn garbage_payload_is_malformed() {
        let err = decode::<Sample>(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap_err();
        assert!(matches!(err, CodecError::Malformed(_)), "{err:?}");
        assert_eq!(err.code(), "malformed_frame");
        let err = decode::<Sample>(&[]).unwrap_err();
        assert!(matches!(err, CodecError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn trailing_bytes_are_malformed() {
        let frame = encode(&Sample::Ping).unwrap();
        let mut payload = payload_of(&frame).to_vec();
        payload.push(0);
        let err = decode::<Sample>(&payload).unwrap_err();
        assert!(
            matches!(&err, CodecError::Malformed(m) if m.contains("trailing")),
            "{err:?}"
        );
    }

    #[test]
    fn forged_inner_length_of_one_gib_is_refused() {
        // Variant 1 (Take), hall: String with varint length 0xFC + u32 LE = 1 GiB.
        // String decoding claims the length against the limit before allocating.
        let mut payload = vec![1u8, 0xFC];
        payload.extend_from_slice(&(1u32 << 30).to_le_bytes());
        let err = decode::<Sample>(&payload).unwrap_err();
        assert!(
            matches!(&err, CodecError::Malformed(m) if m.contains("LimitExceeded")),
            "{err:?}"
        );
        // Variant 3 (Blob): Vec<u8> goes through serde's sequence path, which
        // preallocates at most serde's cautious 1 MiB and then runs out of
        // input: an error, not a 1 GiB allocation.
        let mut payload = vec![3u8, 0xFC];
        payload.extend_from_slice(&(1u32 << 30).to_le_bytes());
        let err = decode::<Sample>(&payload).unwrap_err();
        assert!(matches!(err, CodecError::Malformed(_)), "{err:?}");
        // Same with a u64 length of 2^62 (varint marker 0xFD).
        let mut payload = vec![1u8, 0xFD];
        payload.extend_from_slice(&(1u64 << 62).to_le_bytes());
        let err = decode::<Sample>(&payload).unwrap_err();
        assert!(matches!(err, CodecError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn full_frame_of_small_integers_decodes() {
        // ~64 KiB on the wire but ~512 KiB of claimed u64s: must pass the
        // decode limit, or the sender could build frames we then refuse.
        let msg: Vec<u64> = vec![1; MAX_FRAME - 8];
        let frame = encode(&msg).unwrap();
        assert!(frame.len() - PREFIX_LEN <= MAX_FRAME);
        let back: Vec<u64> = decode(payload_of(&frame)).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift64: deterministic, no rand dependency, good enough for noise.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5000 {
            let len = (next() % 64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = decode::<Sample>(&bytes);
            let _ = decode::<Vec<String>>(&bytes);
            let _ = decode::<(u64, Option<String>, bool)>(&bytes);
        }
    }
}
