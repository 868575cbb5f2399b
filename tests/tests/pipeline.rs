//! Protocol 2 (issue 20 item 1): many requests in flight on one pipelined
//! stream, answered by tag, with protocols 1 and 1.1 still served.
//!
//! - A client offering `hallq/2` gets a pipeline; 300 issues sent at once
//!   on it each get their own ticket, none twice, and the hall holds
//!   exactly those.
//! - On a raw pipeline, answers carry their requests' tags; a
//!   subscription asked on it is refused with its tag and the pipeline
//!   goes on; finishing the client's side gets every answer in flight and
//!   then the end of the stream.
//! - Bad input ends the pipeline with the daemon's last word (tag 0) and
//!   a closed connection, the hall unchanged: garbage, an oversized
//!   prefix, the daemon's own tag, a frame begun and never finished.
//! - A pipeline asked for on a connection that chose `hallq/1.1` is
//!   refused; clients offering `hallq/1.1` or `hallq/1` alone are served
//!   a stream per request, as before.

use std::collections::HashSet;
use std::time::Duration;

use hallq_client::tls;
use hallq_proto::codec::{self, encode, FrameReader, ALPN, ALPN_CHANGE_IDS};
use hallq_proto::types::Lane;
use hallq_proto::wire::{Hello, Request, Response, Tagged, CLOSE_PROTOCOL, PIPELINE_TAG};
use hallq_tests::{every_waiting, item, within, Daemon, TestHall, ADMIN, KIOSK, STEP_TIMEOUT};

/// A raw QUIC connection offering `alpn` that said a good hello.
async fn raw_connect(daemon: &Daemon, token: &str, alpn: &[&[u8]]) -> quinn::Connection {
    let endpoint = tls::client_endpoint(daemon.addr()).expect("endpoint");
    let connection = tls::connect_with(&endpoint, daemon.addr(), daemon.cert(), alpn, STEP_TIMEOUT)
        .await
        .expect("QUIC handshake");
    let hello = encode(&Hello {
        token: token.into(),
        hall: None,
        client: "hallq-tests pipeline".into(),
    })
    .expect("hello encodes");
    let (mut send, mut recv) = connection.open_bi().await.expect("hello stream");
    send.write_all(&hello).await.expect("hello sent");
    let _ = send.finish();
    match within(STEP_TIMEOUT, codec::read_frame::<Response>(&mut recv)).await {
        Ok(Some(Response::Welcome(_))) => connection,
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// A raw pipeline: its stream, opened with `Request::Pipeline` and taken.
struct RawPipe {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    reader: FrameReader,
}

impl RawPipe {
    async fn open(connection: &quinn::Connection) -> RawPipe {
        let (mut send, mut recv) = connection.open_bi().await.expect("pipeline stream");
        let frame = encode(&Request::Pipeline).expect("encodes");
        send.write_all(&frame).await.expect("sent");
        let mut reader = FrameReader::new();
        let first = within(STEP_TIMEOUT, reader.next::<Response>(&mut recv)).await;
        assert!(
            matches!(first, Ok(Some(Response::Pipelining))),
            "expected Pipelining, got {first:?}"
        );
        RawPipe { send, recv, reader }
    }

    async fn send(&mut self, tag: u64, request: &Request) {
        let frame = encode(&Tagged { tag, body: request }).expect("encodes");
        self.send.write_all(&frame).await.expect("sent");
    }

    async fn next(&mut self) -> Option<Tagged<Response>> {
        within(
            STEP_TIMEOUT,
            self.reader.next::<Tagged<Response>>(&mut self.recv),
        )
        .await
        .expect("a whole frame or the end")
    }
}

fn issue(letter: char) -> Request {
    Request::Issue {
        item: item(letter),
        lane: Lane::WalkIn,
        phone: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_issues_at_once_on_one_pipeline() {
    // The default rate (100 a second, bursts of 200) would refuse some.
    let hall = TestHall::with_limits("requests_per_second = 1000").expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let kiosk = daemon.connect(KIOSK).await;
    assert!(kiosk.pipelined(), "hallqd chose hallq/2");
    assert!(kiosk.takes_change_ids());
    let mut issues = tokio::task::JoinSet::new();
    for i in 0..300 {
        let kiosk = kiosk.clone();
        issues.spawn(async move {
            let letter = ['A', 'B', 'C'][i % 3];
            kiosk.issue(item(letter), Lane::WalkIn, None).await
        });
    }
    let answers = within(Duration::from_secs(60), issues.join_all()).await;
    let mut tickets = HashSet::new();
    for answer in answers {
        let issued = answer.expect("every issue is answered");
        assert!(
            tickets.insert(issued.ticket.to_string()),
            "{} twice",
            issued.ticket
        );
    }
    assert_eq!(tickets.len(), 300);
    let admin = daemon.connect(ADMIN).await;
    let waiting = every_waiting(|request| {
        let admin = admin.clone();
        async move { admin.request(&request).await }
    })
    .await
    .expect("status pages");
    assert_eq!(
        waiting, tickets,
        "the hall holds exactly the answered tickets"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_their_tags_and_a_finished_pipeline_is_answered_in_full() {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let connection = raw_connect(&daemon, KIOSK, &[codec::ALPN_PIPELINE]).await;
    let mut pipe = RawPipe::open(&connection).await;
    // Tags are the client's: any order, any gaps.
    pipe.send(7, &issue('A')).await;
    pipe.send(3, &Request::Status).await;
    pipe.send(1000, &Request::Watch).await;
    pipe.send(42, &issue('B')).await;
    let _ = pipe.send.finish();
    let mut seen = Vec::new();
    while let Some(Tagged { tag, body }) = pipe.next().await {
        match (tag, &body) {
            (7, Response::Issued(t)) => assert_eq!(t.ticket.to_string(), "A001"),
            (42, Response::Issued(t)) => assert_eq!(t.ticket.to_string(), "B001"),
            (3, Response::Status(_)) => {}
            (1000, Response::Error(e)) => {
                assert_eq!(e.code, "bad_request");
                assert!(e.message.contains("stream of its own"), "{}", e.message);
            }
            other => panic!("unexpected answer {other:?}"),
        }
        seen.push(tag);
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        [3, 7, 42, 1000],
        "one answer per request, then the end"
    );
    // The connection itself is fine: a stream per request still works.
    assert!(connection.close_reason().is_none());
}

/// What each kind of bad pipelined input gets: the daemon's last word,
/// tag 0 with the code, and the connection closed; the hall unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_ends_the_pipeline_with_the_daemons_last_word() {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let kiosk = daemon.connect(KIOSK).await;
    kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("issued");
    let oversized = (u32::try_from(codec::MAX_FRAME).unwrap() + 1)
        .to_be_bytes()
        .to_vec();
    let daemons_tag = encode(&Tagged {
        tag: PIPELINE_TAG,
        body: issue('A'),
    })
    .unwrap()
    .to_vec();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "garbage",
            vec![0, 0, 0, 3, 0xEE, 0xEE, 0xEE],
            "malformed_frame",
        ),
        ("oversized prefix", oversized, "frame_too_large"),
        ("the daemon's tag", daemons_tag, "malformed_frame"),
    ];
    for (what, bytes, code) in cases {
        let connection = raw_connect(&daemon, KIOSK, &[codec::ALPN_PIPELINE]).await;
        let mut pipe = RawPipe::open(&connection).await;
        pipe.send.write_all(&bytes).await.expect("sent");
        match pipe.next().await {
            Some(Tagged {
                tag: PIPELINE_TAG,
                body: Response::Error(e),
            }) => assert_eq!(e.code, code, "{what}: {}", e.message),
            other => panic!("{what}: expected the daemon's last word, got {other:?}"),
        }
        let closed = within(STEP_TIMEOUT, connection.closed()).await;
        assert!(
            matches!(&closed, quinn::ConnectionError::ApplicationClosed(c) if c.error_code == CLOSE_PROTOCOL.into()),
            "{what}: {closed:?}"
        );
    }
    let status = kiosk.status().await.expect("hallqd serves on");
    assert_eq!(status.waiting.len(), 1, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_begun_and_never_finished_is_cut() {
    let hall = TestHall::with_limits("frame_timeout_secs = 1").expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let connection = raw_connect(&daemon, KIOSK, &[codec::ALPN_PIPELINE]).await;
    let mut pipe = RawPipe::open(&connection).await;
    let whole = encode(&Tagged {
        tag: 1,
        body: issue('A'),
    })
    .unwrap();
    // A whole request is answered; then half of one stays half.
    pipe.send.write_all(&whole).await.expect("sent");
    pipe.send.write_all(&whole[..3]).await.expect("sent");
    assert!(matches!(
        pipe.next().await,
        Some(Tagged {
            tag: 1,
            body: Response::Issued(_)
        })
    ));
    match pipe.next().await {
        Some(Tagged {
            tag: PIPELINE_TAG,
            body: Response::Error(e),
        }) => {
            assert_eq!(e.code, "malformed_frame");
            assert!(e.message.contains("no complete request"), "{}", e.message);
        }
        other => panic!("expected the daemon's last word, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_protocols_are_served_and_refuse_a_pipeline() {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    for alpn in [ALPN_CHANGE_IDS, ALPN] {
        let connection = raw_connect(&daemon, KIOSK, &[alpn]).await;
        let protocol = String::from_utf8_lossy(alpn).into_owned();
        // A request on a stream of its own, as protocol 1 has it.
        let (mut send, mut recv) = connection.open_bi().await.expect("stream");
        send.write_all(&encode(&issue('C')).unwrap())
            .await
            .expect("sent");
        let _ = send.finish();
        let answer = within(STEP_TIMEOUT, codec::read_frame::<Response>(&mut recv)).await;
        assert!(
            matches!(answer, Ok(Some(Response::Issued(_)))),
            "{protocol}: {answer:?}"
        );
        // No pipeline on it.
        let (mut send, mut recv) = connection.open_bi().await.expect("stream");
        send.write_all(&encode(&Request::Pipeline).unwrap())
            .await
            .expect("sent");
        let _ = send.finish();
        match within(STEP_TIMEOUT, codec::read_frame::<Response>(&mut recv)).await {
            Ok(Some(Response::Error(e))) => {
                assert_eq!(e.code, "bad_request", "{protocol}");
                assert!(e.message.contains("hallq/2"), "{protocol}: {}", e.message);
            }
            other => panic!("{protocol}: expected a refusal, got {other:?}"),
        }
    }
}

/// A pipeline's requests share the connection's rate with its other
/// streams: over it, each is refused with its own tag, the rest served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_each_pipelined_request_by_its_tag() {
    let hall = TestHall::with_limits("requests_per_second = 5").expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let connection = raw_connect(&daemon, KIOSK, &[codec::ALPN_PIPELINE]).await;
    let mut pipe = RawPipe::open(&connection).await;
    for tag in 1..=40 {
        pipe.send(tag, &Request::Status).await;
    }
    let _ = pipe.send.finish();
    let (mut served, mut limited) = (HashSet::new(), HashSet::new());
    while let Some(Tagged { tag, body }) = pipe.next().await {
        match body {
            Response::Status(_) => assert!(served.insert(tag)),
            Response::Error(e) if e.code == "rate_limited" => assert!(limited.insert(tag)),
            other => panic!("tag {tag}: {other:?}"),
        }
    }
    assert_eq!(
        served.len() + limited.len(),
        40,
        "each request answered once"
    );
    assert!(!served.is_empty(), "the burst passes");
    assert!(limited.len() >= 20, "only {} of 40 limited", limited.len());
}
