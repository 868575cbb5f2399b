//! SPEC §4 "safe with bad input", over raw QUIC streams: garbage bytes, an
//! oversized length prefix, a truncated frame and a well-formed frame that
//! is no request each get an error answer with a stable code (when the
//! answer can still be read), the daemon closes that connection, and a
//! fresh client finds the daemon alive with the hall unchanged. Garbage in
//! place of the hello closes the connection too.

use hallq_proto::codec::{self, encode};
use hallq_proto::types::Lane;
use hallq_proto::wire::{Hello, Request, Response, Status};
use hallq_proto::wire::{CLOSE_PROTOCOL, CLOSE_UNAUTHORIZED};
use hallq_tests::{
    item, open_windows, within, Daemon, TestHall, ADMIN, DISPLAY, KIOSK, NOTIFIER, STEP_TIMEOUT,
};

/// What the peer's misbehaving stream carries, and which error codes may
/// answer it.
struct Case {
    bytes: Vec<u8>,
    codes: &'static [&'static str],
}

/// Any codec code: for bytes whose first four happen to be read as a prefix.
const ANY_FRAME_ERROR: &[&str] = &["frame_too_large", "truncated_frame", "malformed_frame"];

/// A running hall with a little state, and that state.
async fn hall_with_tickets() -> (TestHall, Daemon, Status) {
    let hall = TestHall::new().expect("test hall");
    let daemon = hall.start().expect("hallqd starts");
    let admin = daemon.connect(ADMIN).await;
    open_windows(&admin, &[1, 6]).await;
    let kiosk = daemon.connect(KIOSK).await;
    for letter in ['A', 'B', 'A'] {
        kiosk
            .issue(item(letter), Lane::WalkIn, None)
            .await
            .expect("kiosk issues");
    }
    let status = kiosk.status().await.expect("status");
    (hall, daemon, status)
}

/// A raw QUIC connection that said a good hello with `token`.
async fn raw_connect(daemon: &Daemon, token: &str) -> quinn::Connection {
    let connection = within(
        STEP_TIMEOUT,
        hallq_client::tls::connect(daemon.addr(), daemon.cert()),
    )
    .await
    .expect("QUIC handshake");
    let hello = encode(&Hello {
        token: token.into(),
        hall: None,
        client: "hallq-tests raw".into(),
    })
    .expect("hello encodes");
    match send_raw(&connection, &hello).await {
        Some(Response::Welcome(welcome)) => assert_eq!(welcome.hall, "main"),
        other => panic!("expected a welcome, got {other:?}"),
    }
    connection
}

/// Opens a stream, writes `bytes`, finishes it, and reads the answer if
/// one can be read (the daemon may close the connection first).
async fn send_raw(connection: &quinn::Connection, bytes: &[u8]) -> Option<Response> {
    let (mut send, mut recv) = within(STEP_TIMEOUT, connection.open_bi())
        .await
        .expect("open a stream");
    // Writing can fail if the daemon already closed on a bad prefix.
    let _ = send.write_all(bytes).await;
    let _ = send.finish();
    within(STEP_TIMEOUT, codec::read_frame::<Response>(&mut recv))
        .await
        .ok()
        .flatten()
}

/// The daemon closes `connection` (with an application close), soon.
async fn assert_closed_by_daemon(connection: &quinn::Connection, expected_code: u32) {
    match within(STEP_TIMEOUT, connection.closed()).await {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code, expected_code.into(), "{close:?}")
        }
        other => panic!("expected the daemon to close the connection, got {other:?}"),
    }
}

/// Sends `case` after a good hello and checks answer, close and recovery.
async fn check(case: Case) {
    let (_hall, daemon, before) = hall_with_tickets().await;
    let connection = raw_connect(&daemon, KIOSK).await;
    match send_raw(&connection, &case.bytes).await {
        Some(Response::Error(reply)) => assert!(
            case.codes.contains(&reply.code.as_str()),
            "code {:?} not among {:?}: {reply:?}",
            reply.code,
            case.codes
        ),
        Some(other) => panic!("bad input answered with {other:?}"),
        None => {} // closed before the answer could be read: allowed
    }
    assert_closed_by_daemon(&connection, CLOSE_PROTOCOL).await;
    assert_alive_and_unchanged(&daemon, &before).await;
}

/// A new client connects and sees `before`, and the hall still takes work.
async fn assert_alive_and_unchanged(daemon: &Daemon, before: &Status) {
    let display = daemon.connect(DISPLAY).await;
    let after = display.status().await.expect("status after bad input");
    assert_eq!(&after, before, "bad input changed the hall");
    let kiosk = daemon.connect(KIOSK).await;
    let next = kiosk
        .issue(item('A'), Lane::WalkIn, None)
        .await
        .expect("the daemon still issues");
    assert_eq!(next.ticket.to_string(), "A003");
}

/// Deterministic noise (xorshift), so a failure can be replayed.
fn garbage(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[tokio::test]
async fn random_garbage_is_refused() {
    check(Case {
        bytes: garbage(200, 0x9E37_79B9_7F4A_7C15),
        codes: ANY_FRAME_ERROR,
    })
    .await;
}

#[tokio::test]
async fn garbage_behind_a_plausible_prefix_is_malformed() {
    let mut bytes = 64u32.to_be_bytes().to_vec();
    bytes.extend(garbage(64, 0xDEAD_BEEF_0BAD_F00D));
    check(Case {
        bytes,
        codes: &["malformed_frame"],
    })
    .await;
}

#[tokio::test]
async fn oversized_prefix_is_refused_before_reading() {
    let mut bytes = 0xFFFF_FFFFu32.to_be_bytes().to_vec();
    bytes.extend_from_slice(b"abcdef");
    check(Case {
        bytes,
        codes: &["frame_too_large"],
    })
    .await;
}

#[tokio::test]
async fn truncated_frame_is_refused() {
    let mut bytes = 100u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0u8; 10]);
    check(Case {
        bytes,
        codes: &["truncated_frame"],
    })
    .await;
}

#[tokio::test]
async fn well_formed_frame_that_is_no_request_is_malformed() {
    // bincode varint: 251 marks a u16 follows; variant index 999 exists in
    // no enum of the protocol.
    let payload = [251u8, 0xE7, 0x03];
    let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&payload);
    check(Case {
        bytes,
        codes: &["malformed_frame"],
    })
    .await;
}

#[tokio::test]
async fn hello_sized_message_of_the_wrong_type_is_malformed() {
    // A valid frame, but a Hello where a Request belongs: its bytes are no
    // request (or one with bytes left over).
    let frame = encode(&Hello {
        token: KIOSK.into(),
        hall: Some("main".into()),
        client: "x".repeat(300),
    })
    .expect("hello encodes");
    check(Case {
        bytes: frame.to_vec(),
        codes: &["malformed_frame"],
    })
    .await;
}

#[tokio::test]
async fn garbage_hello_closes_the_connection() {
    let (_hall, daemon, before) = hall_with_tickets().await;
    for (seed, bytes) in [
        (1, garbage(100, 0x1234_5678_9ABC_DEF1)),
        (2, [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3].to_vec()),
        (3, [0, 0, 0, 3, 0xEE, 0xEE, 0xEE].to_vec()),
    ] {
        let connection = within(
            STEP_TIMEOUT,
            hallq_client::tls::connect(daemon.addr(), daemon.cert()),
        )
        .await
        .expect("QUIC handshake");
        match send_raw(&connection, &bytes).await {
            Some(Response::Error(reply)) => assert!(
                ANY_FRAME_ERROR.contains(&reply.code.as_str()),
                "case {seed}: {reply:?}"
            ),
            Some(other) => panic!("case {seed}: garbage hello answered with {other:?}"),
            None => {}
        }
        assert_closed_by_daemon(&connection, CLOSE_UNAUTHORIZED).await;
    }
    assert_alive_and_unchanged(&daemon, &before).await;
}

#[tokio::test]
async fn garbage_instead_of_an_ack_ends_the_notifier_connection() {
    let (_hall, daemon, before) = hall_with_tickets().await;
    let connection = raw_connect(&daemon, NOTIFIER).await;
    let (mut send, mut recv) = within(STEP_TIMEOUT, connection.open_bi())
        .await
        .expect("open a stream");
    let subscribe = encode(&Request::Notifications).expect("request encodes");
    send.write_all(&subscribe).await.expect("subscribe");
    let answer = within(STEP_TIMEOUT, codec::read_frame::<Response>(&mut recv)).await;
    assert!(
        matches!(answer, Ok(Some(Response::Notifying))),
        "{answer:?}"
    );
    // No phone numbers were given: nothing is pending, so the next frame on
    // the stream is the daemon's answer to the garbage.
    let _ = send.write_all(&[0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF]).await;
    match within(STEP_TIMEOUT, codec::read_frame::<Response>(&mut recv)).await {
        Ok(Some(Response::Error(reply))) => assert_eq!(reply.code, "malformed_frame"),
        Ok(Some(other)) => panic!("garbage ack answered with {other:?}"),
        Ok(None) | Err(_) => {} // closed before the answer could be read
    }
    assert_closed_by_daemon(&connection, CLOSE_PROTOCOL).await;
    assert_alive_and_unchanged(&daemon, &before).await;
}
