//! `hallqd`: parse arguments, load the config, replay the halls, serve QUIC
//! until SIGTERM or SIGINT, then drain and flush.
//!
//! Exit codes: 0 after a clean shutdown; 64 the config (or its TLS files)
//! cannot be used; 65 a journal is corrupt or of a newer format; 1 anything
//! else.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use hallq_daemon::config::{Config, LogFormat, Role, TokenCheck, EX_CONFIG};
use hallq_daemon::journal::JournalError;
use hallq_daemon::net::{self, Daemon};
use hallq_daemon::shard::OpenError;
use hallq_daemon::systemd;

/// Exit code for a corrupt journal (`EX_DATAERR`): restarting will not help.
const EX_DATA: u8 = 65;

/// The hallq ticket-and-call daemon.
#[derive(Debug, Parser)]
#[command(args_conflicts_with_subcommands = true)]
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
    #[command(subcommand)]
    tool: Option<Tool>,
}

/// Setup tools that run instead of the daemon.
#[derive(Debug, clap::Subcommand)]
enum Tool {
    /// Generate a self-signed server certificate and key (key mode 0600).
    GenCert {
        /// Directory for cert.pem and key.pem (must not hold a cert.pem yet).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A host name or IP address clients connect to; repeat for more.
        /// localhost, 127.0.0.1 and ::1 are always included.
        #[arg(long = "name", value_name = "HOST", required = true)]
        names: Vec<String>,
    },
    /// Print a strong random token and the TOML lines to paste into the config.
    GenToken {
        /// kiosk, window, display, notifier or admin.
        #[arg(long)]
        role: String,
        /// The hall (an admin may leave it out: every hall).
        #[arg(long)]
        hall: Option<String>,
        /// For role window: the window.
        #[arg(long)]
        window: Option<u16>,
        /// Put only the token's SHA-256 in the TOML lines, so the config
        /// file does not hold the token itself.
        #[arg(long)]
        hashed: bool,
    },
    /// Offline staffing what-if (issue 22) from a state directory (a copy
    /// will do): the report as JSON on stdout, for `hallq simulate --report`.
    Simulate {
        #[command(flatten)]
        hall: OfflineHall,
        /// The day whose arrivals are replayed (2026-11-23).
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        date: u32,
        /// The staffing to try (TOML, `[[window]]` tables); the day's own
        /// if left out.
        #[arg(long, value_name = "FILE")]
        plan_file: Option<PathBuf>,
        /// Seed of the service-time draws.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Waiting target in minutes (default: the hall's wait_target_minutes).
        #[arg(long, value_name = "MINUTES")]
        target_minutes: Option<u32>,
        /// Search the fewest window-hours keeping p90 under the target.
        #[arg(long)]
        plan: bool,
        /// Arrivals from the forecast of this many past weeks instead of
        /// the day's own.
        #[arg(long, value_name = "N")]
        forecast_weeks: Option<u8>,
    },
    /// Offline arrivals forecast from a state directory, as JSON.
    Forecast {
        #[command(flatten)]
        hall: OfflineHall,
        /// The day to forecast.
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        date: u32,
        /// Past weeks of the same weekday to use.
        #[arg(long, default_value_t = hallq_daemon::staffing::DEFAULT_FORECAST_WEEKS)]
        weeks: u8,
    },
}

/// Which hall of which state directory an offline tool reads.
#[derive(Debug, clap::Args)]
struct OfflineHall {
    /// The hall's config (its items, windows and calendar); the demo's if
    /// left out.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The state directory (default: the config's state_dir).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The hall (default: the config's only hall).
    #[arg(long, value_name = "ID")]
    hall: Option<String>,
}

fn parse_date(s: &str) -> Result<u32, String> {
    hallq_proto::appointment::parse_day(s).map_err(|e| e.to_string())
}

/// The hall's spec, target and journal directory, or why not (exit 64).
fn offline_hall(args: &OfflineHall) -> Result<(hallq_daemon::config::HallConfig, PathBuf), String> {
    let config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::demo(PathBuf::from("./hallq-state")),
    };
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| config.state_dir.clone());
    let hall = match &args.hall {
        Some(id) => config.halls.iter().find(|h| &h.id == id),
        None if config.halls.len() == 1 => config.halls.first(),
        None => return Err("the config has several halls: name one with --hall".into()),
    }
    .ok_or_else(|| format!("no hall {:?} in the config", args.hall))?;
    let dir = hallq_daemon::daemon::hall_dir(&state, &hall.id);
    if !dir.is_dir() {
        return Err(format!("{} is not a hall's state directory", dir.display()));
    }
    Ok((hall.clone(), dir))
}

/// Prints `value` as one JSON object, or the refusal (exit 1, as a
/// refused request).
fn print_answer<T: serde::Serialize>(
    answer: Result<T, hallq_daemon::staffing::StaffingRefusal>,
) -> ExitCode {
    match answer {
        Ok(value) => match serde_json::to_string(&value) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hallqd: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("hallqd: {} ({})", e, e.code());
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(tool) = args.tool {
        return run_tool(tool);
    }
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

fn run_tool(tool: Tool) -> ExitCode {
    match tool {
        Tool::Simulate {
            hall,
            date,
            plan_file,
            seed,
            target_minutes,
            plan,
            forecast_weeks,
        } => {
            let (hall, dir) = match offline_hall(&hall) {
                Ok(found) => found,
                Err(e) => {
                    eprintln!("hallqd: {e}");
                    return ExitCode::from(EX_CONFIG as u8);
                }
            };
            let staffing = match plan_file.map(|f| {
                std::fs::read_to_string(&f)
                    .map_err(|e| format!("{}: {e}", f.display()))
                    .and_then(|text| {
                        toml::from_str::<hallq_proto::staffing::StaffingPlan>(&text)
                            .map_err(|e| format!("{}: {e}", f.display()))
                    })
            }) {
                Some(Err(e)) => {
                    eprintln!("hallqd: {e}");
                    return ExitCode::from(2);
                }
                Some(Ok(p)) => Some(p),
                None => None,
            };
            let ask = hallq_proto::staffing::SimulationAsk {
                day: date,
                plan: staffing,
                seed,
                target_secs: target_minutes.map(|m| m.saturating_mul(60)),
                search: plan,
                forecast_weeks,
            };
            print_answer(hallq_daemon::staffing::simulate(
                &hall.spec,
                &dir,
                &ask,
                u32::try_from(hall.wait_target_secs).unwrap_or(u32::MAX),
            ))
        }
        Tool::Forecast { hall, date, weeks } => {
            let (hall, dir) = match offline_hall(&hall) {
                Ok(found) => found,
                Err(e) => {
                    eprintln!("hallqd: {e}");
                    return ExitCode::from(EX_CONFIG as u8);
                }
            };
            print_answer(hallq_daemon::staffing::forecast_day(
                &hall.spec, &dir, date, weeks,
            ))
        }
        Tool::GenCert { out, mut names } => {
            if out.join("cert.pem").exists() {
                eprintln!(
                    "hallqd: {} already exists; clients pin it, so it is never overwritten \
                     (move it aside to make a new one)",
                    out.join("cert.pem").display()
                );
                return ExitCode::from(EX_CONFIG as u8);
            }
            for local in ["localhost", "127.0.0.1", "::1"] {
                if !names.iter().any(|n| n == local) {
                    names.push(local.to_owned());
                }
            }
            match net::certificate::generate(&out, &names) {
                Ok((_, _, cert)) => {
                    println!(
                        "wrote {} and {} (mode 0600)",
                        cert.display(),
                        out.join("key.pem").display()
                    );
                    println!("names: {}", names.join(", "));
                    println!(
                        "config:\n[tls]\ncert = {:?}\nkey = {:?}",
                        cert,
                        out.join("key.pem")
                    );
                    println!("give {} to every client (hallq --cert)", cert.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("hallqd: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Tool::GenToken {
            role,
            hall,
            window,
            hashed,
        } => {
            let role: Role = match role.parse() {
                Ok(role) => role,
                Err(e) => {
                    eprintln!("hallqd: {e}");
                    return ExitCode::from(2);
                }
            };
            if (role == Role::Window) != window.is_some() {
                eprintln!("hallqd: --window is needed for role window, and only for it");
                return ExitCode::from(2);
            }
            if hall.is_none() && role != Role::Admin {
                eprintln!("hallqd: --hall is needed (only an admin may cover every hall)");
                return ExitCode::from(2);
            }
            let token = match hallq_daemon::config::random_token() {
                Ok(token) => token,
                Err(e) => {
                    eprintln!("hallqd: {e}");
                    return ExitCode::FAILURE;
                }
            };
            println!("token: {token}");
            println!("# paste into the config (then `systemctl reload hallqd`):");
            println!("[[token]]");
            if hashed {
                println!(
                    "token_sha256 = \"{}\"",
                    hallq_daemon::config::sha256_hex(token.as_bytes())
                );
            } else {
                println!("token = \"{token}\"");
            }
            println!("role = \"{role}\"");
            if let Some(hall) = hall {
                println!("hall = \"{hall}\"");
            }
            if let Some(window) = window {
                println!("window = {window}");
            }
            ExitCode::SUCCESS
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
                net::certificate::load_pair(&files.cert, &files.key).map_err(|e| Failure {
                    error: e.into(),
                    code: EX_CONFIG as u8,
                })?;
            (certs, key, files.cert.clone())
        }
        None => net::certificate::load_or_generate(&config.state_dir).map_err(|e| {
            // A key others can read is for the operator to fix (chmod), as
            // a configured one is: exit 64 like any unusable config.
            let code = match e {
                net::certificate::TlsError::KeyPermissions { .. } => EX_CONFIG as u8,
                _ => 1,
            };
            Failure {
                error: anyhow::Error::from(e)
                    .context("cannot set up the TLS certificate in state_dir"),
                code,
            }
        })?,
    };
    let mut server_config = net::certificate::server_config(certs, key)?;
    server_config.transport_config(Arc::new(net::transport(&config.limits)));
    net::admission::bound_handshakes(&mut server_config);
    let listen = config.listen;
    let grace = config.shutdown_grace;
    let metrics_listen = config.metrics_listen;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hallqd")
        .build()?;
    runtime.block_on(survive_file_size_limits());
    let daemon = runtime
        .block_on(Daemon::open(config, config_path))
        .map_err(|(hall, e)| Failure {
            code: match &e {
                // A journal written by a newer hallqd is data this build
                // cannot read, not a passing failure (issue 19).
                OpenError::Journal(
                    JournalError::Corrupt { .. }
                    | JournalError::UnsupportedVersion { .. }
                    | JournalError::Shrunk { .. },
                )
                | OpenError::Decode { .. } => EX_DATA,
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
        if let Some(at) = metrics_listen {
            match hallq_daemon::metrics::install() {
                Ok(handle) => {
                    for hall in daemon.halls() {
                        hall.read(|h| hallq_daemon::metrics::record_gauges(hall.id(), h));
                    }
                    let daemon = daemon.clone();
                    tokio::spawn(hallq_daemon::metrics::serve(at, handle, move || {
                        daemon.health()
                    }));
                }
                Err(e) => tracing::error!(error = %e, "cannot set up metrics"),
            }
        }
        daemon.start_cluster();
        systemd::ready();
        let probed = daemon.clone();
        tokio::spawn(systemd::watchdog(move || {
            for hall in probed.halls() {
                hall.read(|h| h.waiting_count());
            }
        }));
        tokio::spawn(reload_on_sighup(daemon.clone()));
        let drained = net::run(endpoint, daemon.clone(), shutdown_signal(), grace).await;
        if let Some(cluster) = daemon.cluster() {
            // Hand the halls back and end the lease: the other nodes take
            // over at once instead of after the lease's time to live.
            let handed = tokio::time::timeout(grace, cluster.shutdown()).await;
            if handed.is_err() {
                tracing::warn!("could not hand every hall back in time; its lease will expire");
            }
        }
        anyhow::Ok(drained)
    })?;
    systemd::stopping();
    daemon.close();
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    tracing::info!(drained, "stopped");
    Ok(())
}

/// A write past a file size limit (`LimitFSIZE=`, `ulimit -f`) raises
/// SIGXFSZ, whose default action kills the process. With a handler
/// installed the write fails with EFBIG instead, which the journal treats
/// like a full disk: changes are refused until writes succeed again.
async fn survive_file_size_limits() {
    use tokio::signal::unix::{signal, SignalKind};
    /// SIGXFSZ on Linux.
    const SIGXFSZ: i32 = 25;
    // tokio keeps the handler installed for the life of the process.
    if let Err(e) = signal(SignalKind::from_raw(SIGXFSZ)) {
        tracing::warn!(error = %e, "cannot handle SIGXFSZ; a file size limit would kill hallqd");
    }
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
        match &grant.token {
            TokenCheck::Plain(token) => println!("  {what:<10} {}", token.expose()),
            TokenCheck::Sha256(_) => println!("  {what:<10} (kept as its SHA-256)"),
        }
    }
}
