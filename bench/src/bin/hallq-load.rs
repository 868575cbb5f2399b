//! `hallq-load`: puts a described load on `hallqd` (or on a PostgreSQL or
//! Redis baseline) and reports throughput and latency as a table and, with
//! `--json FILE`, as JSON. See `BENCHMARKS.md` for the workloads and figures.
//!
//! ```sh
//! # start a hallqd of the right size, 64 clients as fast as they go, 10 s
//! hallq-load --spawn-daemon target/release/hallqd --kiosks 32 --windows 32 --duration 10
//! # a running daemon: its address, certificate and tokens
//! hallq-load --server 127.0.0.1:7878 --cert hallq-state/tls/cert.pem \
//!     --kiosk-token demo-kiosk-token-0001 --window-token 'demo-window{n}-token-0001' \
//!     --display-token demo-display-token-001 --notifier-token demo-notifier-token-01 --windows 7
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use hallq_bench::baseline_pg::PgBackend;
use hallq_bench::baseline_redis::RedisBackend;
use hallq_bench::hallqd::{HallqdBackend, Sharing, SpawnedDaemon, Tokens};
use hallq_bench::report::{comparison, Report};
use hallq_bench::run::run;
use hallq_bench::workload::Workload;

/// Which system to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendKind {
    /// hallqd over QUIC.
    Hallqd,
    /// PostgreSQL: INSERT / SELECT … FOR UPDATE SKIP LOCKED / LISTEN-NOTIFY.
    Postgres,
    /// Redis: INCR + RPUSH / LMPOP + PUBLISH / SUBSCRIBE.
    Redis,
}

/// Load generator for hallqd and its baselines (loopback only).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Cmd>,

    /// The system to drive.
    #[arg(long, value_enum, default_value = "hallqd")]
    backend: BackendKind,

    /// Start this hallqd binary on a generated config (as many window
    /// tokens as --windows) in a temporary directory, and stop it after.
    #[arg(long, value_name = "HALLQD")]
    spawn_daemon: Option<PathBuf>,
    /// Where the spawned daemon's temporary state directory goes.
    #[arg(long, value_name = "DIR")]
    state_parent: Option<PathBuf>,
    /// A running hallqd's address.
    #[arg(long, default_value = "127.0.0.1:7878")]
    server: SocketAddr,
    /// A running hallqd's certificate (PEM).
    #[arg(long, default_value = "hallq-state/tls/cert.pem")]
    cert: PathBuf,
    /// Kiosk token of a running hallqd.
    #[arg(long, default_value = "demo-kiosk-token-0001")]
    kiosk_token: String,
    /// Window token pattern of a running hallqd, `{n}` = window number.
    #[arg(long, default_value = "demo-window{n}-token-0001")]
    window_token: String,
    /// Display token of a running hallqd.
    #[arg(long, default_value = "demo-display-token-001")]
    display_token: String,
    /// Notifier token of a running hallqd.
    #[arg(long, default_value = "demo-notifier-token-01")]
    notifier_token: String,

    /// PostgreSQL connection string (--backend postgres).
    #[arg(
        long,
        default_value = "host=127.0.0.1 port=5433 user=postgres dbname=postgres"
    )]
    pg: String,
    /// Redis URL (--backend redis).
    #[arg(long, default_value = "redis://127.0.0.1:6390/")]
    redis: String,
    /// The server process to report peak RSS (VmHWM) for; a spawned
    /// daemon's is known.
    #[arg(long, value_name = "PID", alias = "daemon-pid")]
    server_pid: Option<u32>,

    /// Kiosk clients.
    #[arg(long, default_value_t = 32)]
    kiosks: usize,
    /// Window clients (windows 1..=N).
    #[arg(long, default_value_t = 32)]
    windows: usize,
    /// Display subscribers.
    #[arg(long, default_value_t = 10)]
    displays: usize,
    /// No notifier (hallqd only has one).
    #[arg(long)]
    no_notifier: bool,
    /// Tickets per second over all kiosks (open loop); without it, closed
    /// loop: each kiosk issues as soon as its last ticket was acknowledged.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds to run (at most 600).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many tickets.
    #[arg(long)]
    max_tickets: Option<u64>,
    /// Service items (1–26).
    #[arg(long, default_value_t = 5)]
    items: usize,
    /// Share of priority-lane tickets.
    #[arg(long, default_value_t = 0.1)]
    priority_share: f64,
    /// Share of tickets with a phone number.
    #[arg(long, default_value_t = 0.3)]
    phone_share: f64,
    /// Connections set up at once.
    #[arg(long, default_value_t = 32)]
    connect_parallelism: usize,
    /// hallqd: kiosks per QUIC connection (a kiosk page server for several
    /// touch screens); their requests share its pipeline.
    #[arg(long, default_value_t = 1, value_name = "N")]
    kiosks_per_connection: usize,
    /// hallqd: display subscriptions per connection, a stream each (a
    /// cheaper display load for the generator).
    #[arg(long, default_value_t = 1, value_name = "N")]
    displays_per_connection: usize,
    /// hallqd: changes without change ids (by default every change carries
    /// one, as every hallq client's does).
    #[arg(long)]
    no_change_ids: bool,
    /// hallqd: a stream per request (protocol hallq/1.1) instead of one
    /// pipelined stream per connection (hallq/2); the same as
    /// HALLQ_PIPELINE=0.
    #[arg(long)]
    no_pipeline: bool,
    /// Write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// Besides a run (the default).
#[derive(Debug, Subcommand)]
enum Cmd {
    /// Prints one table over reports written with --json, the first against
    /// the others (what bench/compare.sh prints).
    Compare {
        /// JSON reports, hallqd's first.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hallq-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(args: Args) -> anyhow::Result<()> {
    if let Some(Cmd::Compare { reports }) = &args.command {
        let reports = reports
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                serde_json::from_str::<Report>(&text)
                    .with_context(|| format!("{} is not a hallq-load report", path.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        print!("{}", comparison(&reports));
        return Ok(());
    }
    if !(args.duration > 0.0 && args.duration <= 600.0) {
        bail!("--duration must be in (0, 600] seconds");
    }
    let workload = Workload {
        kiosks: args.kiosks,
        windows: args.windows,
        displays: args.displays,
        notifier: !args.no_notifier && args.backend == BackendKind::Hallqd,
        rate: args.rate,
        duration: Duration::from_secs_f64(args.duration),
        max_tickets: args.max_tickets,
        items: args.items.clamp(1, 26),
        priority_share: args.priority_share,
        phone_share: args.phone_share,
        connect_parallelism: args.connect_parallelism,
        ..Workload::default()
    };
    if args.no_pipeline {
        // Read once, when the first connection is made; no thread runs yet.
        std::env::set_var("HALLQ_PIPELINE", "0");
    }
    let sharing = Sharing {
        kiosks_per_connection: args.kiosks_per_connection,
        displays_per_connection: args.displays_per_connection,
        change_ids: !args.no_change_ids,
    };
    let progress = (!args.quiet).then_some(Duration::from_secs(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;

    let mut spawned = None;
    let report: Report = runtime.block_on(async {
        match args.backend {
            BackendKind::Hallqd => {
                let backend = match &args.spawn_daemon {
                    Some(hallqd) => {
                        let daemon = SpawnedDaemon::start(
                            hallqd,
                            workload.windows,
                            workload.items,
                            args.state_parent.as_deref(),
                        )?;
                        eprintln!(
                            "hallq-load: started hallqd (pid {}) on {} in {}",
                            daemon.pid(),
                            daemon.addr(),
                            daemon.dir().display()
                        );
                        let backend = daemon.backend();
                        spawned = Some(daemon);
                        backend
                    }
                    None => {
                        let cert = hallq_client::tls::load_cert_pem(&args.cert)?;
                        HallqdBackend::new(
                            args.server,
                            cert,
                            Tokens {
                                kiosk: args.kiosk_token.clone(),
                                display: args.display_token.clone(),
                                notifier: args.notifier_token.clone(),
                                window_pattern: args.window_token.clone(),
                            },
                            args.server_pid,
                        )
                    }
                };
                run(
                    Arc::new(backend.sharing(sharing)),
                    workload.clone(),
                    progress,
                )
                .await
            }
            BackendKind::Postgres => {
                let backend = PgBackend::setup(&args.pg, workload.items, args.server_pid).await?;
                run(Arc::new(backend), workload.clone(), progress).await
            }
            BackendKind::Redis => {
                let backend =
                    RedisBackend::setup(&args.redis, workload.items, args.server_pid).await?;
                run(Arc::new(backend), workload.clone(), progress).await
            }
        }
    })?;
    // Clients are gone with the runtime; then the daemon may go.
    runtime.shutdown_timeout(Duration::from_secs(2));
    if let Some(mut daemon) = spawned {
        if !daemon.stop()? {
            eprintln!("hallq-load: hallqd did not exit cleanly on SIGTERM");
        }
    }
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
