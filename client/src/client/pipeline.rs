//! The client's side of a pipeline (protocol `hallq/2`): every request of
//! a [`crate::client::Client`] on one stream, many in flight at once.
//!
//! A request gets a tag, is queued for the stream's writer and waits for
//! the answer with its tag; the reader hands each answer to its waiter as
//! it arrives, in whatever order hallqd finishes them. The writer takes
//! every frame queued meanwhile into one write, so a page server's or a
//! gateway's concurrent requests leave together, and hallqd's answers of
//! one group commit come back in one write.
//!
//! Queuing cannot be torn by a caller that gives up (a timeout, a dropped
//! future): a frame is queued whole or not at all, and a waiter that
//! leaves takes its tag out. When the stream or the connection ends, every
//! waiter hears why, and so does every later request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hallq_proto::codec::{self, FrameReader};
use hallq_proto::wire::{Request, Response, Tagged, PIPELINE_TAG};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use super::{ClientError, Failed};

/// An answer, or why none will come.
type Answer = Result<Response, ClientError>;

/// The requests waiting for their answers, by tag.
#[derive(Debug, Default)]
struct Waiting {
    answers: HashMap<u64, oneshot::Sender<Answer>>,
    /// Set once the pipeline ended: why, for every later request.
    ended: Option<Ended>,
}

/// Why a pipeline ended.
#[derive(Debug, Clone)]
enum Ended {
    /// hallqd's last word (tag 0): it refused a frame of ours.
    Refused(hallq_proto::wire::ErrorReply),
    /// The stream or the connection went.
    Lost(String),
}

impl Ended {
    fn error(&self) -> ClientError {
        match self {
            Ended::Refused(reply) => ClientError::Refused(reply.clone()),
            Ended::Lost(why) => ClientError::Connection(why.clone()),
        }
    }
}

/// One connection's pipeline (cheap to share: the client's clones use the
/// same one).
#[derive(Debug)]
pub(crate) struct Pipeline {
    /// Whole frames for the writer.
    queue: mpsc::UnboundedSender<Bytes>,
    waiting: Arc<Mutex<Waiting>>,
    next_tag: AtomicU64,
}

impl Pipeline {
    /// Opens the pipeline on `connection` (which chose `hallq/2`) and waits
    /// at most `timeout` for hallqd to take it.
    pub(crate) async fn open(
        connection: &quinn::Connection,
        timeout: Duration,
    ) -> Result<Pipeline, ClientError> {
        let opening = async {
            let (mut send, mut recv) = connection.open_bi().await?;
            codec::write_frame(&mut send, &codec::encode(&Request::Pipeline)?).await?;
            let mut reader = FrameReader::new();
            match reader.next::<Response>(&mut recv).await? {
                Some(Response::Pipelining) => Ok((send, recv, reader)),
                Some(Response::Error(reply)) => Err(ClientError::Refused(reply)),
                Some(other) => Err(ClientError::Unexpected(format!("{other:?}"))),
                None => Err(ClientError::Connection(
                    "hallqd ended the pipeline before taking it".into(),
                )),
            }
        };
        let (send, recv, reader) = tokio::time::timeout(timeout, opening)
            .await
            .map_err(|_| ClientError::Timeout)??;
        let (queue, frames) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(Waiting::default()));
        tokio::spawn(write_all(send, frames));
        tokio::spawn(read_all(recv, reader, waiting.clone(), connection.clone()));
        Ok(Pipeline {
            queue,
            waiting,
            next_tag: AtomicU64::new(1),
        })
    }

    /// Whether the pipeline has ended: every request on it fails.
    pub(crate) fn ended(&self) -> bool {
        self.waiting.lock().ended.is_some()
    }

    /// Sends `request` and waits at most `timeout` for its answer. A
    /// failure says whether the request was queued whole (so hallqd may
    /// have carried it out).
    pub(crate) async fn exchange(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, Failed> {
        let unsent = |error: ClientError| Failed {
            error,
            sent: false,
            once: false,
        };
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
        let frame = codec::encode(&Tagged { tag, body: request }).map_err(|e| unsent(e.into()))?;
        let (answer, answered) = oneshot::channel();
        {
            let mut waiting = self.waiting.lock();
            if let Some(ended) = &waiting.ended {
                return Err(unsent(ended.error()));
            }
            waiting.answers.insert(tag, answer);
        }
        // From here on the tag is ours until the answer comes or we leave.
        let _leave = Leave {
            tag,
            waiting: &self.waiting,
        };
        if self.queue.send(frame).is_err() {
            return Err(unsent(ClientError::Connection(
                "the pipeline's writer is gone".into(),
            )));
        }
        let sent = |error: ClientError| Failed {
            error,
            sent: true,
            once: false,
        };
        match tokio::time::timeout(timeout, answered).await {
            Ok(Ok(Ok(response))) => Ok(response),
            Ok(Ok(Err(error))) => Err(sent(error)),
            Ok(Err(_dropped)) => Err(sent(ClientError::Connection(
                "the pipeline ended before the answer".into(),
            ))),
            Err(_elapsed) => Err(sent(ClientError::Timeout)),
        }
    }
}

/// Takes a waiter's tag out when it stops waiting, answered or not.
struct Leave<'a> {
    tag: u64,
    waiting: &'a Mutex<Waiting>,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.waiting.lock().answers.remove(&self.tag);
    }
}

/// The writer: every frame queued meanwhile in one write, until the
/// client's last handle is gone; then the stream is finished, which tells
/// hallqd to answer what is in flight and end the pipeline.
async fn write_all(mut send: quinn::SendStream, mut frames: mpsc::UnboundedReceiver<Bytes>) {
    let mut batch = Vec::with_capacity(64);
    let mut out = Vec::with_capacity(4096);
    while frames.recv_many(&mut batch, 256).await > 0 {
        for frame in batch.drain(..) {
            out.extend_from_slice(&frame);
        }
        if codec::write_frame(&mut send, &out).await.is_err() {
            return;
        }
        out.clear();
    }
    let _ = send.finish();
}

/// The reader: each answer to its waiter; at the end, every waiter and
/// every later request told why.
async fn read_all(
    mut recv: quinn::RecvStream,
    mut reader: FrameReader,
    waiting: Arc<Mutex<Waiting>>,
    connection: quinn::Connection,
) {
    let ended = loop {
        match reader.next::<Tagged<Response>>(&mut recv).await {
            Ok(Some(Tagged { tag, body })) if tag == PIPELINE_TAG => {
                break match body {
                    Response::Error(reply) => Ended::Refused(reply),
                    other => Ended::Lost(format!("hallqd ended the pipeline: {other:?}")),
                };
            }
            Ok(Some(Tagged { tag, body })) => {
                // A waiter that left (timed out) no longer has its tag.
                if let Some(answer) = waiting.lock().answers.remove(&tag) {
                    let _ = answer.send(Ok(body));
                }
            }
            Ok(None) => break Ended::Lost("hallqd ended the pipeline".into()),
            Err(e) => {
                break Ended::Lost(match connection.close_reason() {
                    Some(reason) => ClientError::from(reason).to_string(),
                    None => format!("the pipeline broke: {e}"),
                })
            }
        }
    };
    let answers = {
        let mut waiting = waiting.lock();
        waiting.ended = Some(ended.clone());
        std::mem::take(&mut waiting.answers)
    };
    for (_, answer) in answers {
        let _ = answer.send(Err(ended.error()));
    }
}
