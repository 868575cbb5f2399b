//! Daemon side of hallq's transport security: the certificate `hallqd`
//! presents and the QUIC server configuration built around it.
//!
//! A hall box usually has no CA-issued certificate, so on first start the
//! daemon makes a self-signed one under `state_dir/tls/` and keeps it: the
//! certificate is what clients pin (`hallq --cert`), so it must survive
//! restarts and is never silently replaced. An operator who has a real
//! certificate configures `[tls] cert/key` instead ([`load_pair`]).
//!
//! rustls gets the ring provider explicitly and only TLS 1.3 (QUIC requires
//! it), so no process-wide default provider is needed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::QuicServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use hallq_proto::codec::{ALPN, ALPN_CHANGE_IDS, ALPN_PIPELINE};

/// Names and addresses the generated certificate is issued for. Clients pin
/// the certificate rather than check names, but other tools (curl, openssl
/// s_client) are happier when the usual local names are present.
const SUBJECT_ALT_NAMES: [&str; 4] = ["hallq", "localhost", "127.0.0.1", "::1"];

/// Per-connection limits: a counter terminal or display needs a handful of
/// streams at once; these bound what one misbehaving peer can make us hold.
const MAX_BIDI_STREAMS: u32 = 64;
const MAX_UNI_STREAMS: u32 = 16;

/// A client silent for this long is dropped. Clients send keep-alives every
/// 5 s, so only a vanished client hits this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the daemon's TLS identity or server configuration could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file or directory could not be read, written or synced.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What we were doing ("read", "write", "create directory", ...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A PEM file held no usable certificate or key.
    #[error("{}: {reason}", path.display())]
    Pem {
        /// The file concerned.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The certificate exists but its key is gone. Regenerating would break
    /// every client that pinned the old certificate, so we stop instead.
    #[error(
        "found {} but not {}: restore the key, or delete the certificate to generate a new pair (clients must then be given the new cert.pem)",
        cert.display(),
        key.display()
    )]
    MissingKey {
        /// The existing certificate.
        cert: PathBuf,
        /// The missing key.
        key: PathBuf,
    },
    /// The private key file may be read by other users: refused, since a
    /// copied key lets anyone impersonate the daemon to pinned clients.
    #[error(
        "private key {} is readable by group or others (mode {mode:04o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// rcgen could not generate the self-signed certificate.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls or quinn refused the certificate, key or configuration.
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

impl TlsError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> TlsError {
        let path = path.to_path_buf();
        move |source| TlsError::Io {
            action,
            path,
            source,
        }
    }
}

/// The daemon's certificate chain, its private key, and the path of
/// `cert.pem` (the file operators hand to clients for `--cert`).
pub type Identity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    PathBuf,
);

/// Loads the daemon's certificate from `state_dir/tls/`, generating and
/// storing a self-signed one on first start.
pub fn load_or_generate(state_dir: &Path) -> Result<Identity, TlsError> {
    let dir = state_dir.join("tls");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");

    if cert_path.exists() {
        if !key_path.exists() {
            return Err(TlsError::MissingKey {
                cert: cert_path,
                key: key_path,
            });
        }
        let (certs, key) = load_pair(&cert_path, &key_path)?;
        return Ok((certs, key, cert_path));
    }

    // No certificate yet. A lone key.pem can only be left over from a start
    // that died before writing cert.pem; no client can have pinned anything,
    // so it is safe to replace.
    let names: Vec<String> = SUBJECT_ALT_NAMES.iter().map(|s| s.to_string()).collect();
    generate(&dir, &names)
}

/// Generates a self-signed certificate for `names` (host names or IP
/// addresses) into `dir/cert.pem` and `dir/key.pem` (mode 0600), as
/// `hallqd gen-cert` and the first start do.
pub fn generate(dir: &Path, names: &[String]) -> Result<Identity, TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(TlsError::io("create directory", dir))?;

    let key_pair = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hallqd");
    let cert = params.self_signed(&key_pair)?;

    // Key first: cert.pem's presence is what marks the pair as complete.
    write_atomically(&key_path, key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_atomically(&cert_path, cert.pem().as_bytes(), 0o644)?;
    sync_dir(dir)?;
    tracing::info!(cert = %cert_path.display(), "generated self-signed TLS certificate");

    let key = PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    Ok((vec![cert.der().clone()], key, cert_path))
}

/// Loads a certificate chain and private key from PEM files, for a daemon
/// configured with `[tls] cert = ...` and `key = ...`.
pub fn load_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_error(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(cert, e))?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: cert.to_path_buf(),
            reason: "no PEM certificate (BEGIN CERTIFICATE) in the file".into(),
        });
    }
    check_key_permissions(key)?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Pem {
            path: key.to_path_buf(),
            reason: "no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file".into(),
        },
        other => pem_error(key, other),
    })?;
    Ok((certs, key_der))
}

/// Refuses a key file that group or others may read (mode & 0o077), as
/// ssh does for its keys: better not to start than to serve with a key that
/// may already have been copied. The mode of the file itself counts (a
/// symlink is followed).
pub fn check_key_permissions(key: &Path) -> Result<(), TlsError> {
    let mode = fs::metadata(key)
        .map_err(TlsError::io("read", key))?
        .permissions()
        .mode()
        & 0o7777;
    if mode & 0o077 != 0 {
        return Err(TlsError::KeyPermissions {
            path: key.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

fn pem_error(path: &Path, e: rustls_pki_types::pem::Error) -> TlsError {
    match e {
        rustls_pki_types::pem::Error::Io(source) => TlsError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        },
        other => TlsError::Pem {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

/// Writes `contents` to `path` so that a crash leaves either the old file or
/// the complete new one: temp file, fsync, rename. The caller syncs the
/// directory once after its last rename.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let tmp = path.with_extension("pem.tmp");
    // A temp file left by a crash may carry another mode; `mode()` below only
    // applies to files we create, so start from nothing.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(TlsError::io("remove", &tmp)(e)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(TlsError::io("create", &tmp))?;
    // The umask may have narrowed the mode; make it exactly what was asked.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(TlsError::io("set permissions on", &tmp))?;
    file.write_all(contents)
        .map_err(TlsError::io("write", &tmp))?;
    file.sync_all().map_err(TlsError::io("sync", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(TlsError::io("rename into place", path))
}

fn sync_dir(dir: &Path) -> Result<(), TlsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TlsError::io("sync directory", dir))
}

/// Whether the client of `connection` chose protocol 2 (pipelines).
pub(crate) fn speaks_pipeline(connection: &quinn::Connection) -> bool {
    hallq_proto::codec::protocol_of(connection).is_some_and(|p| p == ALPN_PIPELINE)
}

/// QUIC server configuration presenting `certs`/`key`, speaking ALPN
/// [`ALPN_PIPELINE`], [`ALPN_CHANGE_IDS`] and [`ALPN`] over TLS 1.3,
/// without client certificates.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<quinn::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        // Clients authenticate with tokens inside the protocol, not certificates.
        .with_no_client_auth()
        // Also checks that the key belongs to the certificate.
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    // Without this a client offering `hallq/1` is refused with
    // NoApplicationProtocol (quinn's with_single_cert sets no ALPN).
    // The daemon's preference first: a client offering protocol 2 gets
    // pipelines and change ids, one offering `hallq/1.1` change ids; an
    // older one, offering `hallq/1` alone, is served as before.
    tls.alpn_protocols = vec![
        ALPN_PIPELINE.to_vec(),
        ALPN_CHANGE_IDS.to_vec(),
        ALPN.to_vec(),
    ];
    // max_early_data_size stays 0: no 0-RTT, because a replayed "take a
    // ticket" or "call next" would act twice.

    let crypto = QuicServerConfig::try_from(tls).map_err(|e| TlsError::Config(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));

    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(MAX_BIDI_STREAMS.into())
        .max_concurrent_uni_streams(MAX_UNI_STREAMS.into())
        // Clients keep the connection alive; the server only notices absence.
        .keep_alive_interval(None)
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(IDLE_TIMEOUT)
                .map_err(|e| TlsError::Config(e.to_string()))?,
        ));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_client::tls::{self, TlsError as ClientTlsError};
    use hallq_proto::codec::{encode, read_frame, write_frame};
    use serde::{Deserialize, Serialize};
    use std::net::SocketAddr;

    /// Bound on every network step, so a broken handshake fails the test
    /// instead of hanging the suite.
    const STEP: Duration = Duration::from_secs(10);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Msg {
        Hello { hall: String },
        Echo(Vec<u8>),
    }

    fn server_endpoint(dir: &Path) -> (quinn::Endpoint, CertificateDer<'static>, SocketAddr) {
        let (certs, key, _) = load_or_generate(dir).unwrap();
        let pinned = certs[0].clone();
        let config = server_config(certs, key).unwrap();
        let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = endpoint.local_addr().unwrap();
        (endpoint, pinned, addr)
    }

    /// Accepts one connection and echoes every frame on its first bidi stream.
    fn spawn_echo(endpoint: quinn::Endpoint) -> tokio::task::JoinHandle<Result<(), String>> {
        tokio::spawn(async move {
            let incoming = endpoint.accept().await.ok_or("endpoint closed")?;
            let conn = incoming.await.map_err(|e| e.to_string())?;
            let (mut send, mut recv) = conn.accept_bi().await.map_err(|e| e.to_string())?;
            while let Some(msg) = read_frame::<Msg>(&mut recv)
                .await
                .map_err(|e| e.to_string())?
            {
                let frame = encode(&msg).map_err(|e| e.to_string())?;
                write_frame(&mut send, &frame)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            send.finish().map_err(|e| e.to_string())?;
            // Wait for the client to hang up so our FIN is delivered.
            conn.closed().await;
            Ok(())
        })
    }

    #[test]
    fn generates_once_then_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (certs1, key1, path1) = load_or_generate(dir.path()).unwrap();
        let (certs2, key2, path2) = load_or_generate(dir.path()).unwrap();
        assert_eq!(path1, dir.path().join("tls/cert.pem"));
        assert_eq!(path1, path2);
        assert_eq!(certs1, certs2, "second start must load, not regenerate");
        assert_eq!(key1.secret_der(), key2.secret_der());

        let key_mode = fs::metadata(dir.path().join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(key_mode & 0o777, 0o600);
        let cert_mode = fs::metadata(&path1).unwrap().permissions().mode();
        assert_eq!(cert_mode & 0o777, 0o644);
        assert!(!dir.path().join("tls/key.pem.tmp").exists());

        // The file a client is given parses back to the same certificate.
        assert_eq!(tls::load_cert_pem(&path1).unwrap(), certs1[0]);
        // And the pair is usable.
        server_config(certs2, key2).unwrap();
    }

    #[test]
    fn certificate_without_key_is_an_error_not_a_regeneration() {
        let dir = tempfile::tempdir().unwrap();
        let (_, _, cert_path) = load_or_generate(dir.path()).unwrap();
        let before = fs::read(&cert_path).unwrap();
        fs::remove_file(dir.path().join("tls/key.pem")).unwrap();
        let err = load_or_generate(dir.path()).unwrap_err();
        assert!(matches!(err, TlsError::MissingKey { .. }), "{err:?}");
        assert_eq!(fs::read(&cert_path).unwrap(), before);
    }

    #[test]
    fn mismatched_key_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (certs, _, _) = load_or_generate(a.path()).unwrap();
        let (_, other_key, _) = load_or_generate(b.path()).unwrap();
        let err = server_config(certs, other_key).unwrap_err();
        assert!(matches!(err, TlsError::Config(_)), "{err:?}");
    }

    #[test]
    fn load_pair_names_the_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        fs::write(&cert, "junk").unwrap();
        fs::write(&key, "junk").unwrap();
        let err = load_pair(&cert, &key).unwrap_err();
        assert!(err.to_string().contains("cert.pem"), "{err}");
        let err = load_pair(&dir.path().join("absent.pem"), &key).unwrap_err();
        assert!(err.to_string().contains("absent.pem"), "{err}");
    }

    #[test]
    fn configured_key_readable_by_others_is_refused() {
        // A valid pair, copied out of a generated directory.
        let src = tempfile::tempdir().unwrap();
        load_or_generate(src.path()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        fs::copy(src.path().join("tls/cert.pem"), &cert).unwrap();
        fs::copy(src.path().join("tls/key.pem"), &key).unwrap();
        for mode in [0o640, 0o604, 0o644, 0o660, 0o666, 0o610] {
            fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
            let err = load_pair(&cert, &key).unwrap_err();
            assert!(
                matches!(&err, TlsError::KeyPermissions { mode: m, .. } if *m == mode),
                "{mode:o}: {err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&format!("chmod 600 {}", key.display())),
                "{message}"
            );
        }
        for mode in [0o600, 0o400] {
            fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
            load_pair(&cert, &key).unwrap_or_else(|e| panic!("{mode:o}: {e}"));
        }
    }

    #[test]
    fn generated_key_made_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        load_or_generate(dir.path()).unwrap();
        let key = dir.path().join("tls/key.pem");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_generate(dir.path()).unwrap_err();
        assert!(matches!(err, TlsError::KeyPermissions { .. }), "{err:?}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        // Refused, not replaced: the pinned certificate stays valid once fixed.
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        load_or_generate(dir.path()).unwrap();
    }

    #[test]
    fn quic_cannot_run_below_tls_1_3() {
        // QUIC carries TLS 1.3 only (RFC 9001 §4.2): rustls refuses to start
        // a QUIC connection, client or server side, from a TLS 1.2-only
        // config. (quinn would then panic in `start_session`, so this is
        // checked one layer down, where the refusal is an error.) Our own
        // server config enables TLS 1.3 alone besides.
        let dir = tempfile::tempdir().unwrap();
        let (certs, key, _) = load_or_generate(dir.path()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls12_client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let err = rustls::quic::ClientConnection::new(
            Arc::new(tls12_client),
            rustls::quic::Version::V1,
            "localhost".try_into().unwrap(),
            Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("TLS 1.3"), "{err}");
        let tls12_server = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let err = rustls::quic::ServerConnection::new(
            Arc::new(tls12_server),
            rustls::quic::Version::V1,
            Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("TLS 1.3"), "{err}");
    }

    #[tokio::test]
    async fn pinned_client_round_trips_a_frame() {
        let dir = tempfile::tempdir().unwrap();
        let (endpoint, pinned, addr) = server_endpoint(dir.path());
        let server = spawn_echo(endpoint.clone());

        let conn = tokio::time::timeout(STEP, tls::connect(addr, pinned))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            conn.handshake_data()
                .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
                .and_then(|d| d.protocol),
            Some(ALPN_PIPELINE.to_vec()),
            "a client offering every version gets protocol 2"
        );
        let (mut send, mut recv) = tokio::time::timeout(STEP, conn.open_bi())
            .await
            .unwrap()
            .unwrap();
        let sent = [
            Msg::Hello {
                hall: "east".into(),
            },
            Msg::Echo(vec![7; 40_000]),
        ];
        for msg in &sent {
            write_frame(&mut send, &encode(msg).unwrap()).await.unwrap();
        }
        send.finish().unwrap();
        for msg in &sent {
            let got = tokio::time::timeout(STEP, read_frame::<Msg>(&mut recv))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got.as_ref(), Some(msg));
        }
        let end = tokio::time::timeout(STEP, read_frame::<Msg>(&mut recv))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(end, None);

        conn.close(0u32.into(), b"done");
        tokio::time::timeout(STEP, server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        endpoint.close(0u32.into(), b"");
        tokio::time::timeout(STEP, endpoint.wait_idle())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn client_pinned_to_another_cert_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let (endpoint, _, addr) = server_endpoint(dir.path());
        let (other_certs, _, _) = load_or_generate(other.path()).unwrap();
        let server = spawn_echo(endpoint.clone());

        let err = tokio::time::timeout(STEP, tls::connect(addr, other_certs[0].clone()))
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, ClientTlsError::PinMismatch), "{err:?}");
        assert_eq!(
            err.to_string(),
            "server certificate does not match the pinned one (--cert)"
        );

        // The server saw a failed handshake, not a connection.
        let served = tokio::time::timeout(STEP, server).await.unwrap().unwrap();
        assert!(served.is_err(), "{served:?}");
        endpoint.close(0u32.into(), b"");
    }

    #[tokio::test]
    async fn an_older_client_offering_hallq_1_alone_is_served_hallq_1() {
        let dir = tempfile::tempdir().unwrap();
        let (endpoint, pinned, addr) = server_endpoint(dir.path());
        let server = spawn_echo(endpoint.clone());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pinned).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client_tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client_tls.alpn_protocols = vec![ALPN.to_vec()];
        let client_config = quinn::ClientConfig::new(Arc::new(
            quinn::crypto::rustls::QuicClientConfig::try_from(client_tls).unwrap(),
        ));
        let client = tls::client_endpoint(addr).unwrap();
        let conn = tokio::time::timeout(
            STEP,
            client
                .connect_with(client_config, addr, "localhost")
                .unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            conn.handshake_data()
                .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
                .and_then(|d| d.protocol),
            Some(ALPN.to_vec())
        );
        conn.close(0u32.into(), b"");
        server.abort();
        client.close(0u32.into(), b"");
        endpoint.close(0u32.into(), b"");
    }

    #[tokio::test]
    async fn client_with_another_alpn_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (endpoint, pinned, addr) = server_endpoint(dir.path());
        let server = spawn_echo(endpoint.clone());

        // A plain webpki client trusting the self-signed cert as a root, as
        // a third-party tool would, but speaking another protocol version.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pinned).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client_tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client_tls.alpn_protocols = vec![b"hallq/0".to_vec()];
        let client_config = quinn::ClientConfig::new(Arc::new(
            quinn::crypto::rustls::QuicClientConfig::try_from(client_tls).unwrap(),
        ));
        let client = tls::client_endpoint(addr).unwrap();
        let connecting = client
            .connect_with(client_config, addr, "localhost")
            .unwrap();
        let err = tokio::time::timeout(STEP, connecting)
            .await
            .unwrap()
            .unwrap_err();
        let no_alpn = quinn::TransportErrorCode::crypto(u8::from(
            rustls::AlertDescription::NoApplicationProtocol,
        ));
        assert!(
            matches!(&err, quinn::ConnectionError::ConnectionClosed(c) if c.error_code == no_alpn),
            "{err:?}"
        );

        let served = tokio::time::timeout(STEP, server).await.unwrap().unwrap();
        assert!(served.is_err(), "{served:?}");
        client.close(0u32.into(), b"");
        endpoint.close(0u32.into(), b"");
    }
}
