//! The frame decoder: `codec::decode::<Request>` on a raw payload, and the
//! async `read_frame_from` over an in-memory stream that hands the bytes
//! over in fuzzer-chosen chunk sizes (a QUIC stream splits frames anywhere).
//!
//! Properties: nothing panics; a frame read off the stream decodes exactly
//! as its payload does on its own; a decoded request re-encodes to a frame
//! that decodes to the same request.

#![no_main]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use hallq_proto::codec::{self, CodecError, MAX_FRAME};
use hallq_proto::wire::Request;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncRead, ReadBuf};

/// Hands out `data` at most `chunk` bytes per read, then EOF.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.chunk.min(self.data.len()).min(buf.remaining());
        let (head, rest) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

/// Polls a future that cannot wait (the reader is always ready) to its end.
fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("read_frame_from waited on a reader that never blocks"),
    }
}

fn check_round_trip(request: &Request) {
    let frame = codec::encode(request).expect("a decoded request re-encodes");
    let again: Request = codec::decode(&frame[4..]).expect("a re-encoded request decodes");
    assert_eq!(&again, request);
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };

    // The payload decoder on its own.
    if let Ok(request) = codec::decode::<Request>(stream) {
        check_round_trip(&request);
    }

    // The same bytes as a stream of frames.
    let mut reader = Chunked {
        data: stream,
        chunk: usize::from(chunk).max(1),
    };
    let mut at = 0usize;
    loop {
        let result = ready(codec::read_frame_from::<Request, _>(&mut reader));
        let rest = &stream[at..];
        match result {
            Ok(None) => {
                assert!(
                    rest.is_empty(),
                    "clean end with {} bytes unread",
                    rest.len()
                );
                break;
            }
            Ok(Some(request)) => {
                let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                assert!(len <= MAX_FRAME);
                let alone: Request = codec::decode(&rest[4..4 + len]).expect("same payload");
                assert_eq!(alone, request);
                check_round_trip(&request);
                at += 4 + len;
            }
            Err(CodecError::Truncated) => {
                assert!(!rest.is_empty());
                break;
            }
            Err(CodecError::Oversized { len, max }) => {
                assert!(len > max);
                break;
            }
            Err(CodecError::Malformed(_)) => break,
            Err(e) => panic!("an in-memory reader cannot fail with {e:?}"),
        }
    }
});
