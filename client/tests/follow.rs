//! Following a hall between daemons, over real QUIC on loopback, against
//! fake daemons that answer as a cluster's nodes would (`not_owner` with
//! or without a redirect, connections that die mid-request). The real
//! cluster is tested end to end in `tests/`; here the client's side of the
//! bargain is pinned down: what it sends again, and where.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hallq_client::client::Client;
use hallq_client::follow::{FollowingClient, Hallqd};
use hallq_proto::types::{ItemCode, Lane, Role, Timestamp};
use hallq_proto::wire::{
    DisplayUpdate, ErrorReply, HealthReport, Hello, IssuedTicket, Request, Response, Welcome,
};
use hallq_proto::{codec, wire, ErrorCode};
use quinn::crypto::rustls::QuicServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// How long any one step of a test may take.
const STEP: Duration = Duration::from_secs(15);

/// What a fake daemon does with one frame.
enum Answer {
    /// Write this response on the stream.
    Reply(Response),
    /// Close the whole connection without answering (a node that died
    /// after reading the request).
    Vanish,
}

/// Decides a fake daemon's answers: given what it has been asked so far
/// (request kinds, "hello" for a Hello) and the new frame's kind.
type Script = dyn Fn(&[String], &str) -> Answer + Send + Sync;

/// A daemon on loopback that answers by its script and records every
/// frame it read.
struct FakeDaemon {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    endpoint: quinn::Endpoint,
}

impl FakeDaemon {
    fn start(
        identity: &(CertificateDer<'static>, PrivateKeyDer<'static>),
        script: impl Fn(&[String], &str) -> Answer + Send + Sync + 'static,
    ) -> FakeDaemon {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![identity.0.clone()], identity.1.clone_key())
            .unwrap();
        tls.alpn_protocols = vec![codec::ALPN.to_vec()];
        let crypto = QuicServerConfig::try_from(tls).unwrap();
        let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = endpoint.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let accepting = endpoint.clone();
        let log = asked.clone();
        tokio::spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                let (script, log) = (script.clone(), log.clone());
                tokio::spawn(async move {
                    let Ok(connection) = incoming.await else {
                        return;
                    };
                    serve(connection, &*script, &log).await;
                });
            }
        });
        FakeDaemon {
            addr,
            asked,
            endpoint,
        }
    }

    fn server(&self) -> String {
        self.addr.to_string()
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.endpoint.close(0u32.into(), b"test over");
    }
}

/// One connection: the Hello first, then one request per stream.
async fn serve(connection: quinn::Connection, script: &Script, log: &Mutex<Vec<String>>) {
    let mut first = true;
    while let Ok((mut send, mut recv)) = connection.accept_bi().await {
        let kind = if std::mem::take(&mut first) {
            match codec::read_frame::<Hello>(&mut recv).await {
                Ok(Some(_)) => "hello".to_owned(),
                _ => return,
            }
        } else {
            match codec::read_frame::<Request>(&mut recv).await {
                Ok(Some(request)) => request.kind().to_owned(),
                _ => return,
            }
        };
        let answer = {
            let mut log = log.lock().unwrap();
            let answer = script(&log, &kind);
            log.push(kind);
            answer
        };
        match answer {
            Answer::Reply(response) => {
                let watching = matches!(response, Response::Watching);
                let frame = codec::encode(&response).unwrap();
                let _ = codec::write_frame(&mut send, &frame).await;
                if watching {
                    let dropped = DisplayUpdate::Dropped {
                        reason: "first frame".into(),
                    };
                    let _ = codec::write_frame(&mut send, &codec::encode(&dropped).unwrap()).await;
                }
                let _ = send.finish();
                // Keep the stream until the client is done with it (a
                // subscription's for as long as it watches).
                tokio::spawn(async move {
                    let _ = send.stopped().await;
                });
            }
            Answer::Vanish => {
                connection.close(0u32.into(), b"gone");
                return;
            }
        }
    }
}

fn identity() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
}

fn welcome() -> Answer {
    Answer::Reply(Response::Welcome(Welcome {
        role: Role::Admin,
        hall: "main".into(),
        hall_name: "政务服务中心".into(),
        window: None,
    }))
}

fn not_owner(redirect: Option<&FakeDaemon>) -> Answer {
    Answer::Reply(Response::Error(ErrorReply {
        redirect: redirect.map(FakeDaemon::server),
        ..ErrorReply::new(ErrorCode::NotOwner, "hall main is not served here")
    }))
}

fn healthy() -> Answer {
    Answer::Reply(Response::Health(HealthReport {
        healthy: true,
        halls: vec![],
    }))
}

fn issued() -> Answer {
    Answer::Reply(Response::Issued(IssuedTicket {
        ticket: "A001".parse().unwrap(),
        item_name: "社保".into(),
        lane: Lane::WalkIn,
        position: 0,
        windows: vec![],
        eta_secs: None,
        approaching: false,
        issued_at: Timestamp(0),
    }))
}

fn hallqd(
    identity: &(CertificateDer<'static>, PrivateKeyDer<'static>),
    servers: &[&FakeDaemon],
) -> Hallqd {
    Hallqd {
        servers: servers.iter().map(|d| d.server()).collect(),
        cert: identity.0.clone(),
        token: "token".into(),
        hall: None,
    }
}

fn issue() -> Request {
    Request::Issue {
        item: ItemCode::new('A').unwrap(),
        lane: Lane::WalkIn,
        phone: None,
    }
}

async fn within<T>(what: &str, work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, work)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {STEP:?}"))
}

#[tokio::test]
async fn connect_any_follows_the_redirect_to_the_owner() {
    let id = identity();
    let owner = FakeDaemon::start(&id, |_, _| welcome());
    let owner_addr = owner.server();
    let other = FakeDaemon::start(&id, move |_, _| {
        Answer::Reply(Response::Error(ErrorReply {
            redirect: Some(owner_addr.clone()),
            ..ErrorReply::new(ErrorCode::NotOwner, "hall main is served elsewhere")
        }))
    });
    // The owner is not even among the addresses given.
    let client = within(
        "connecting",
        Client::connect_any(&[other.server()], id.0.clone(), "token", None),
    )
    .await
    .unwrap();
    assert_eq!(client.remote_address(), owner.addr);
    assert_eq!(other.asked(), ["hello"]);
    assert_eq!(owner.asked(), ["hello"]);
    client.close().await;
}

#[tokio::test]
async fn a_hall_without_owner_is_asked_again_until_one_takes_it() {
    let id = identity();
    // Mid-failover: nobody owns the hall for the first two hellos.
    let node = FakeDaemon::start(&id, |asked, _| {
        if asked.len() < 2 {
            not_owner(None)
        } else {
            welcome()
        }
    });
    let started = std::time::Instant::now();
    let client = within(
        "connecting",
        Client::connect_any(&[node.server()], id.0.clone(), "token", None),
    )
    .await
    .unwrap();
    assert_eq!(node.asked(), ["hello", "hello", "hello"]);
    // Backed off between the attempts: 100 ms, then 200 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    client.close().await;
}

#[tokio::test]
async fn a_wrong_token_is_not_retried() {
    let id = identity();
    let node = FakeDaemon::start(&id, |_, _| {
        Answer::Reply(Response::Error(ErrorReply::new(
            "unauthorized",
            "unknown token",
        )))
    });
    let err = within(
        "connecting",
        Client::connect_any(&[node.server(), node.server()], id.0.clone(), "token", None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "unauthorized");
    assert_eq!(node.asked(), ["hello"]);
}

#[tokio::test]
async fn a_refused_change_is_sent_again_to_the_owner() {
    let id = identity();
    let owner = FakeDaemon::start(&id, |_, kind| match kind {
        "hello" => welcome(),
        _ => issued(),
    });
    let owner_addr = owner.server();
    // Served the hall at Hello time, handed it on before the request.
    let former = FakeDaemon::start(&id, move |_, kind| match kind {
        "hello" => welcome(),
        _ => Answer::Reply(Response::Error(ErrorReply {
            redirect: Some(owner_addr.clone()),
            ..ErrorReply::new(ErrorCode::NotOwner, "hall main moved")
        })),
    });
    let kiosk = FollowingClient::new(hallqd(&id, &[&former]));
    let ticket = within(
        "issuing",
        kiosk.issue(ItemCode::new('A').unwrap(), Lane::WalkIn, None),
    )
    .await
    .unwrap();
    assert_eq!(ticket.ticket.to_string(), "A001");
    assert_eq!(former.asked(), ["hello", "issue"]);
    assert_eq!(owner.asked(), ["hello", "issue"]);
    // The next request goes straight to the owner.
    within("health", kiosk.request(&Request::Health))
        .await
        .unwrap();
    assert_eq!(owner.asked(), ["hello", "issue", "health"]);
    kiosk.close().await;
}

#[tokio::test]
async fn a_change_lost_after_it_was_sent_is_not_sent_again() {
    let id = identity();
    // The node dies having read the request: it may have issued the ticket.
    let node = FakeDaemon::start(&id, |_, kind| match kind {
        "hello" => welcome(),
        "issue" => Answer::Vanish,
        _ => healthy(),
    });
    let kiosk = FollowingClient::new(hallqd(&id, &[&node]));
    let err = within("issuing", kiosk.request(&issue()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connection_lost", "{err}");
    assert_eq!(node.asked(), ["hello", "issue"]);
    // The next request reconnects by itself.
    within("health", kiosk.request(&Request::Health))
        .await
        .unwrap();
    assert_eq!(node.asked(), ["hello", "issue", "hello", "health"]);
    kiosk.close().await;
}

#[tokio::test]
async fn a_read_lost_with_its_connection_is_sent_again() {
    let id = identity();
    let node = FakeDaemon::start(&id, |asked, kind| match kind {
        "hello" => welcome(),
        // The first connection dies under the first read.
        _ if asked.len() == 1 => Answer::Vanish,
        _ => healthy(),
    });
    let admin = FollowingClient::new(hallqd(&id, &[&node]));
    within("health", admin.request(&Request::Health))
        .await
        .unwrap();
    assert_eq!(node.asked(), ["hello", "health", "hello", "health"]);
    admin.close().await;
}

#[tokio::test]
async fn a_subscription_follows_the_owner() {
    let id = identity();
    let owner = FakeDaemon::start(&id, |_, kind| match kind {
        "hello" => welcome(),
        _ => Answer::Reply(Response::Watching),
    });
    let owner_addr = owner.server();
    let former = FakeDaemon::start(&id, move |_, kind| match kind {
        "hello" => welcome(),
        _ => Answer::Reply(Response::Error(ErrorReply {
            redirect: Some(owner_addr.clone()),
            ..ErrorReply::new(ErrorCode::NotOwner, "hall main moved")
        })),
    });
    let display = FollowingClient::new(hallqd(&id, &[&former, &owner]));
    let mut stream = within("watching", display.watch()).await.unwrap();
    let first = within("the first frame", stream.next()).await.unwrap();
    assert!(
        matches!(first, Some(wire::DisplayUpdate::Dropped { .. })),
        "{first:?}"
    );
    assert_eq!(former.asked(), ["hello", "watch"]);
    assert_eq!(owner.asked(), ["hello", "watch"]);
    display.close().await;
}
