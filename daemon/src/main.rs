//! `hallqd`: parse arguments, load the config, replay the halls, serve QUIC
//! until SIGTERM or SIGINT, then drain and flush.
//!
//! Exit codes: 0 after a clean shutdown; 64 the config (or its TLS files)
//! cannot be used; 65 a journal is corrupt; 1 anything else.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use hallq_daemon::config::{Config, LogFormat, Role, EX_CONFIG};
use hallq_daemon::journal::JournalError;
use hallq_daemon::net::{self, Daemon};
use hallq_daemon::shard::OpenError;
use hallq_daemon::systemd;

/// Exit code for a corrupt journal (`EX_DATAERR`): restarting will not help.
const EX_DATA: u8 = 65;

/// The hallq ticket-and-call daemon.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "\
With no --config, hallqd runs the bundled demo hall (config/demo.toml) with \
its state in ./hallq-state and prints the demo tokens.\n\n\
Exit codes: 0 clean shutdown · 64 unusable config · 65 corrupt journal · 1 other error."
)]
struct Args {
    /// The TOML config file (see config/hallq.toml).
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Check the config and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let demo = args.config.is_none();
    let config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("hallqd: {e}");
                return ExitCode::from(EX_CONFIG as u8);
            }
        },
        None => Config::demo(PathBuf::from("./hallq-state")),
    };
    if args.check {
        println!(
            "config ok: {} hall(s), {} token(s)",
            config.halls.len(),
            config.tokens.len()
        );
        return ExitCode::SUCCESS;
    }
    init_logging(config.log_format);
    if demo {
        print_demo_tokens(&config);
    }
    match serve(config, args.config.clone()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("hallqd: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

struct Failure {
    error: anyhow::Error,
    code: u8,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            error: e.into(),
            code: 1,
        }
    }
}

fn serve(config: Config, config_path: Option<PathBuf>) -> Result<(), Failure> {
    let (certs, key, cert_path) = match &config.tls {
        Some(files) => {
            let (certs, key) =
                net::tls::load_pair(&files.cert, &files.key).map_err(|e| Failure {
                    error: e.into(),
                    code: EX_CONFIG as u8,
                })?;
            (certs, key, files.cert.clone())
        }
        None => net::tls::load_or_generate(&config.state_dir)
            .context("cannot set up the TLS certificate in state_dir")?,
    };
    let server_config = net::tls::server_config(certs, key)?;
    let listen = config.listen;
    let grace = config.shutdown_grace;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hallqd")
        .build()?;
    let daemon = runtime
        .block_on(Daemon::open(config, config_path))
        .map_err(|(hall, e)| Failure {
            code: match &e {
                OpenError::Journal(JournalError::Corrupt { .. }) | OpenError::Decode { .. } => {
                    EX_DATA
                }
                // The config asks for something the journal's state forbids
                // (removing an item with tickets today): fix the config.
                OpenError::Spec(_) => EX_CONFIG as u8,
                _ => 1,
            },
            error: anyhow::Error::new(e).context(format!("cannot open hall {hall:?}")),
        })?;
    let daemon = Arc::new(daemon);
    let drained = runtime.block_on(async {
        let endpoint = quinn::Endpoint::server(server_config, listen)
            .with_context(|| format!("cannot listen on {listen}"))?;
        let local = endpoint.local_addr()?;
        // The first line on stdout, for scripts and tests: where we listen.
        println!("hallqd listening on {local}");
        println!("server certificate: {}", cert_path.display());
        tracing::info!(%local, cert = %cert_path.display(), halls = daemon.halls().len(), "ready");
        systemd::ready();
        tokio::spawn(systemd::watchdog(daemon.clone()));
        tokio::spawn(reload_on_sighup(daemon.clone()));
        anyhow::Ok(net::run(endpoint, daemon.clone(), shutdown_signal(), grace).await)
    })?;
    systemd::stopping();
    daemon.close();
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    tracing::info!(drained, "stopped");
    Ok(())
}

/// SIGHUP (`systemctl reload hallqd`): re-read the config file.
async fn reload_on_sighup(daemon: Arc<Daemon>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot watch SIGHUP; reload with `hallq admin reload`");
        return;
    };
    while hangup.recv().await.is_some() {
        systemd::reloading();
        match daemon.reload().await {
            Ok(changes) => tracing::info!(?changes, "reloaded on SIGHUP"),
            Err(e) => {
                tracing::error!(error = %e, "reload refused; the old configuration stays in force")
            }
        }
        systemd::ready();
    }
}

/// SIGTERM (systemd, kill) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops hallqd");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HALLQ_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn print_demo_tokens(config: &Config) {
    println!("hallqd demo hall — state in {}", config.state_dir.display());
    println!("demo tokens (published values: never use them in a real hall):");
    for grant in &config.tokens {
        let what = match (grant.role, grant.window) {
            (Role::Window, Some(w)) => format!("window {w}"),
            (role, _) => role.to_string(),
        };
        println!("  {what:<10} {}", grant.token.expose());
    }
}
