//! Client side of hallq's transport security: QUIC to `hallqd` with a pinned
//! server certificate.
//!
//! Halls run `hallqd` on a LAN box reached by IP address, usually with a
//! self-signed certificate, so there is no CA and no useful server name to
//! check. Instead the client is given the daemon's certificate (`--cert`) and
//! trusts that one certificate and nothing else, whatever name or address it
//! is reached by. The handshake signature is still verified, so a peer that
//! merely replays the certificate without its private key is refused.
//!
//! The ring provider is passed to rustls explicitly, so nothing here depends
//! on a process-wide default provider being installed.

use hallq_proto::ErrorCode;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::QuicClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{AlertDescription, CertificateError, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use hallq_proto::codec::{protocol_of, ALPN, ALPN_CHANGE_IDS, ALPN_PIPELINE};

/// Server name sent in the handshake. The pinning verifier ignores it; it
/// only has to be a syntactically valid DNS name for rustls.
const SERVER_NAME: &str = "hallq";

/// How long [`connect`] waits for the handshake before giving up. Shorter
/// than the idle timeout so a wrong address fails fast at the counter.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default keep-alive interval (`HALLQ_KEEP_ALIVE_MS`): a quarter of
/// [`DEAD_AFTER`]. Every keep-alive is answered (acknowledged) by a live
/// daemon, so a request waiting on a live but busy daemon still hears from
/// it several times a second.
pub const KEEP_ALIVE: Duration = Duration::from_millis(250);

/// Default for `HALLQ_DEAD_AFTER_MS`: a request in flight on a connection
/// that heard nothing from hallqd (not even an acknowledgement of a
/// keep-alive) for this long takes the daemon for dead, closes the
/// connection and, in [`crate::follow::FollowingClient`], sends the request
/// again elsewhere or after a restart, with its change id (issue 20: a
/// killed node was noticed after the 8 s idle timeout).
pub const DEAD_AFTER: Duration = Duration::from_secs(1);

/// Default QUIC idle timeout (`HALLQ_IDLE_TIMEOUT_MS`): a connection with
/// nothing in flight (a display's stream) is gone after this much silence.
/// It is not 1 s like [`DEAD_AFTER`] because QUIC's idle timeout is the
/// shorter of both sides' (RFC 9000 §10.1) and binds the daemon too: a
/// daemon busy for a second (a handshake flood) would drop every healthy
/// connection it has. Only the client that waits on an answer gives up
/// that early, and it sends again.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(8);

// A live daemon answers several keep-alives within the silence that
// counts as dead, and the dead-after time is what a request meets first.
const _: () = assert!(4 * KEEP_ALIVE.as_millis() <= DEAD_AFTER.as_millis());
const _: () = assert!(DEAD_AFTER.as_millis() < IDLE_TIMEOUT.as_millis());

/// The liveness settings in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// QUIC keep-alive interval.
    pub keep_alive: Duration,
    /// Silence after which a request in flight takes the daemon for dead.
    pub dead_after: Duration,
    /// QUIC idle timeout.
    pub idle_timeout: Duration,
}

/// The defaults, or `HALLQ_KEEP_ALIVE_MS`, `HALLQ_DEAD_AFTER_MS` and
/// `HALLQ_IDLE_TIMEOUT_MS` (milliseconds) for a hall network that needs
/// more slack. A value that is not a number of milliseconds above 0, or a
/// keep-alive not shorter than the other two, is reported once (a warning
/// in the log) and the defaults are used.
pub fn liveness() -> Liveness {
    static CHOSEN: std::sync::OnceLock<Liveness> = std::sync::OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let read = |name: &str, default: Duration| match std::env::var(name) {
            Err(_) => default,
            Ok(text) => match text.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    tracing::warn!(variable = name, value = %text, "not a number of milliseconds above 0; using the default");
                    default
                }
            },
        };
        let chosen = Liveness {
            keep_alive: read("HALLQ_KEEP_ALIVE_MS", KEEP_ALIVE),
            dead_after: read("HALLQ_DEAD_AFTER_MS", DEAD_AFTER),
            idle_timeout: read("HALLQ_IDLE_TIMEOUT_MS", IDLE_TIMEOUT),
        };
        if chosen.keep_alive >= chosen.dead_after || chosen.keep_alive >= chosen.idle_timeout {
            tracing::warn!(
                ?chosen,
                "the keep-alive must be shorter than the dead-after time and the idle timeout; \
                 using the defaults"
            );
            return Liveness {
                keep_alive: KEEP_ALIVE,
                dead_after: DEAD_AFTER,
                idle_timeout: IDLE_TIMEOUT,
            };
        }
        chosen
    })
}

/// The protocols a client offers, its preference first: protocol 2
/// (pipelines and change ids), protocol 1 with change ids, then protocol 1
/// as older daemons speak it.
pub const OFFERED: &[&[u8]] = &[ALPN_PIPELINE, ALPN_CHANGE_IDS, ALPN];

/// [`OFFERED`] without protocol 2: a request per stream, as before it.
pub const OFFERED_WITHOUT_PIPELINE: &[&[u8]] = &[ALPN_CHANGE_IDS, ALPN];

/// What this process offers: [`OFFERED`], or with `HALLQ_PIPELINE=0` in
/// the environment [`OFFERED_WITHOUT_PIPELINE`] (to compare the two, or
/// as a way around a middlebox that mishandles long-lived streams).
pub fn offered() -> &'static [&'static [u8]] {
    static CHOSEN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let pipeline = *CHOSEN.get_or_init(|| std::env::var("HALLQ_PIPELINE").as_deref() != Ok("0"));
    if pipeline {
        OFFERED
    } else {
        OFFERED_WITHOUT_PIPELINE
    }
}

/// Why a secure connection to `hallqd` could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The pinned certificate file could not be read or holds no certificate.
    #[error("cannot load certificate from {}: {reason}", path.display())]
    CertFile {
        /// The file named by `--cert`.
        path: PathBuf,
        /// What went wrong, for humans.
        reason: String,
    },
    /// The daemon did not answer, or the address cannot be used.
    #[error("cannot reach hallqd at {addr}: {reason}")]
    Unreachable {
        /// The address we tried.
        addr: SocketAddr,
        /// What went wrong, for humans.
        reason: String,
    },
    /// The daemon presented a certificate other than the pinned one.
    #[error("server certificate does not match the pinned one (--cert)")]
    PinMismatch,
    /// The daemon does not speak our protocol version (ALPN refused).
    #[error(
        "hallqd at {addr} does not speak protocol {} (version mismatch?)",
        String::from_utf8_lossy(ALPN)
    )]
    ProtocolMismatch {
        /// The address we tried.
        addr: SocketAddr,
    },
    /// The TLS/QUIC handshake failed for another reason.
    #[error("secure handshake with hallqd at {addr} failed: {reason}")]
    Handshake {
        /// The address we tried.
        addr: SocketAddr,
        /// What went wrong, for humans.
        reason: String,
    },
    /// The local UDP socket could not be opened.
    #[error("cannot open a local UDP socket: {0}")]
    Socket(#[source] std::io::Error),
    /// rustls or quinn refused the configuration (a bug, not a user error).
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

impl TlsError {
    /// Stable short code for this error, for logs and scripts.
    pub fn code(&self) -> ErrorCode {
        match self {
            TlsError::CertFile { .. } => ErrorCode::CertFile,
            TlsError::Unreachable { .. } => ErrorCode::Unreachable,
            TlsError::PinMismatch => ErrorCode::CertMismatch,
            TlsError::ProtocolMismatch { .. } => ErrorCode::ProtocolMismatch,
            TlsError::Handshake { .. } => ErrorCode::HandshakeFailed,
            TlsError::Socket(_) => ErrorCode::Socket,
            TlsError::Config(_) => ErrorCode::TlsConfig,
        }
    }
}

/// Accepts exactly one server certificate, compared byte for byte.
struct PinnedCertVerifier {
    pinned: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
    /// Set when a handshake was refused because of the pin. quinn reports
    /// our own refusal only as a TLS alert code, which other failures share;
    /// this flag lets [`connect`] say precisely what happened.
    mismatch_seen: Arc<AtomicBool>,
}

impl fmt::Debug for PinnedCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedCertVerifier")
            .field("pinned_len", &self.pinned.len())
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Name and validity dates are deliberately not checked: the pinned
        // certificate *is* the daemon's identity, and it is reached by IP.
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            self.mismatch_seen.store(true, Ordering::Relaxed);
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Unreachable in practice (QUIC is TLS 1.3 only), but if it is ever
        // called it must verify, never wave through.
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Builds the client config and returns the verifier's mismatch flag with it.
fn build_client_config(
    pinned_cert_der: CertificateDer<'static>,
    alpn: &[&[u8]],
) -> Result<(quinn::ClientConfig, Arc<AtomicBool>), TlsError> {
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
    let mismatch_seen = Arc::new(AtomicBool::new(false));
    let verifier = PinnedCertVerifier {
        pinned: pinned_cert_der,
        algorithms: provider.signature_verification_algorithms,
        mismatch_seen: Arc::clone(&mismatch_seen),
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();

    let crypto = QuicClientConfig::try_from(tls).map_err(|e| TlsError::Config(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(client_transport()?));
    Ok((config, mismatch_seen))
}

fn client_transport() -> Result<quinn::TransportConfig, TlsError> {
    let liveness = liveness();
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(liveness.keep_alive));
    transport.max_idle_timeout(Some(
        quinn::IdleTimeout::try_from(liveness.idle_timeout)
            .map_err(|e| TlsError::Config(e.to_string()))?,
    ));
    Ok(transport)
}

/// QUIC client configuration that trusts exactly `pinned_cert_der`, offers
/// the protocols in [`offered`], and keeps the connection alive while idle.
pub fn client_config(
    pinned_cert_der: CertificateDer<'static>,
) -> Result<quinn::ClientConfig, TlsError> {
    build_client_config(pinned_cert_der, offered()).map(|(config, _)| config)
}

/// Whether the daemon chose a protocol with change ids on `connection`
/// (`hallq/1.1` or `hallq/2`).
pub fn takes_change_ids(connection: &quinn::Connection) -> bool {
    protocol_of(connection).is_some_and(|p| p == ALPN_CHANGE_IDS || p == ALPN_PIPELINE)
}

/// Whether the daemon chose protocol 2 (pipelines) on `connection`.
pub fn takes_pipeline(connection: &quinn::Connection) -> bool {
    protocol_of(connection).is_some_and(|p| p == ALPN_PIPELINE)
}

/// Reads the first certificate from a PEM file (the daemon's `cert.pem`).
pub fn load_cert_pem(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    CertificateDer::from_pem_file(path).map_err(|e| TlsError::CertFile {
        path: path.to_path_buf(),
        reason: match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no PEM certificate (BEGIN CERTIFICATE) in the file".to_string()
            }
            rustls_pki_types::pem::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        },
    })
}

/// A client-only QUIC endpoint on an ephemeral port of the same address
/// family as `server` (an IPv4 socket cannot send to an IPv6 address).
///
/// Must be called inside a tokio runtime.
pub fn client_endpoint(server: SocketAddr) -> Result<quinn::Endpoint, TlsError> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    quinn::Endpoint::client(local).map_err(TlsError::Socket)
}

/// Opens a QUIC connection to `hallqd` at `server`, trusting only `pinned`.
///
/// Creates its own endpoint; it lives as long as the returned connection.
pub async fn connect(
    server: SocketAddr,
    pinned: CertificateDer<'static>,
) -> Result<quinn::Connection, TlsError> {
    let endpoint = client_endpoint(server)?;
    connect_on(&endpoint, server, pinned).await
}

/// Like [`connect`], but over an existing endpoint, so many connections (a
/// load generator, a display wall) can share one socket.
pub async fn connect_on(
    endpoint: &quinn::Endpoint,
    server: SocketAddr,
    pinned: CertificateDer<'static>,
) -> Result<quinn::Connection, TlsError> {
    connect_with(endpoint, server, pinned, offered(), CONNECT_TIMEOUT).await
}

/// The body of [`connect_on`], with ALPN and timeout as parameters so tests
/// can offer a wrong protocol or give up sooner.
pub async fn connect_with(
    endpoint: &quinn::Endpoint,
    server: SocketAddr,
    pinned: CertificateDer<'static>,
    alpn: &[&[u8]],
    timeout: Duration,
) -> Result<quinn::Connection, TlsError> {
    let (config, mismatch_seen) = build_client_config(pinned, alpn)?;
    let connecting = endpoint
        .connect_with(config, server, SERVER_NAME)
        .map_err(|e| match e {
            quinn::ConnectError::InvalidRemoteAddress(_) => TlsError::Unreachable {
                addr: server,
                reason: "invalid address".into(),
            },
            other => TlsError::Config(other.to_string()),
        })?;
    let result = match tokio::time::timeout(timeout, connecting).await {
        Ok(result) => result,
        Err(_elapsed) => {
            return Err(TlsError::Unreachable {
                addr: server,
                reason: "timed out".into(),
            })
        }
    };
    result.map_err(|e| classify_connection_error(e, server, &mismatch_seen))
}

/// Turns quinn's handshake failure into something a person at the counter
/// can act on.
fn classify_connection_error(
    e: quinn::ConnectionError,
    addr: SocketAddr,
    mismatch_seen: &AtomicBool,
) -> TlsError {
    if mismatch_seen.load(Ordering::Relaxed) {
        return TlsError::PinMismatch;
    }
    let no_alpn =
        quinn::TransportErrorCode::crypto(u8::from(AlertDescription::NoApplicationProtocol));
    match e {
        quinn::ConnectionError::TimedOut => TlsError::Unreachable {
            addr,
            reason: "timed out".into(),
        },
        quinn::ConnectionError::ConnectionClosed(close) if close.error_code == no_alpn => {
            TlsError::ProtocolMismatch { addr }
        }
        quinn::ConnectionError::TransportError(te) if te.code == no_alpn => {
            TlsError::ProtocolMismatch { addr }
        }
        other => TlsError::Handshake {
            addr,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_cert_file_names_the_file() {
        let err = load_cert_pem(Path::new("/nonexistent/hallq/cert.pem")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/hallq/cert.pem"), "{text}");
        assert_eq!(err.code(), "cert_file");
    }

    #[test]
    fn file_without_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = load_cert_pem(&path).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn client_config_builds_without_a_default_provider() {
        // No install_default() anywhere in this crate: this must not panic.
        let cert = CertificateDer::from(vec![0x30, 0x00]);
        assert!(client_config(cert).is_ok());
    }

    #[test]
    fn error_messages_read_well() {
        let addr: SocketAddr = "127.0.0.1:7878".parse().unwrap();
        let err = TlsError::Unreachable {
            addr,
            reason: "timed out".into(),
        };
        assert_eq!(
            err.to_string(),
            "cannot reach hallqd at 127.0.0.1:7878: timed out"
        );
        assert_eq!(
            TlsError::PinMismatch.to_string(),
            "server certificate does not match the pinned one (--cert)"
        );
    }

    #[test]
    fn refused_alpn_is_reported_as_protocol_mismatch() {
        let addr: SocketAddr = "127.0.0.1:7878".parse().unwrap();
        let close = quinn::ConnectionClose {
            error_code: quinn::TransportErrorCode::crypto(u8::from(
                AlertDescription::NoApplicationProtocol,
            )),
            frame_type: None,
            reason: bytes::Bytes::new(),
        };
        let err = classify_connection_error(
            quinn::ConnectionError::ConnectionClosed(close),
            addr,
            &AtomicBool::new(false),
        );
        assert!(matches!(err, TlsError::ProtocolMismatch { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "hallqd at 127.0.0.1:7878 does not speak protocol hallq/1 (version mismatch?)"
        );
    }

    #[tokio::test]
    async fn silent_address_times_out() {
        // Nothing listens on this socket: bound and never read, so packets
        // vanish without an ICMP error, like an unplugged daemon.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let cert = CertificateDer::from(vec![0x30, 0x00]);
        let endpoint = client_endpoint(addr).unwrap();
        let attempt = connect_with(&endpoint, addr, cert, OFFERED, Duration::from_millis(300));
        let err = tokio::time::timeout(Duration::from_secs(5), attempt)
            .await
            .expect("connect must give up by itself")
            .unwrap_err();
        endpoint.close(0u32.into(), b"");
        assert!(matches!(err, TlsError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().ends_with("timed out"), "{err}");
    }
}
