//! `hallq-scripted-days`: writes weeks of scripted hall days (hallq-core's
//! `staffing::generate::Script::demo`, the hall of
//! `config/scripted-hall.toml`) into a state directory through hallqd's
//! own journal writer (records, CRCs, fsync), for trying `hallq simulate`
//! and `hallq forecast` on a hall whose truth is known.
//!
//! ```sh
//! cargo run --release -p hallq-bench --bin hallq-scripted-days -- \
//!     --state ./scripted-state --last 2026-11-23 --weeks 4
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Parser;
use hallq_core::appointment::{day_of, days_of};
use hallq_core::staffing::generate::Script;
use hallq_daemon::journal::{self, Entry, Journal};
use hallq_proto::codec;

/// Write scripted hall days into a state directory.
#[derive(Debug, Parser)]
struct Args {
    /// The state directory (its halls/<hall>/ gets the journal files).
    #[arg(long)]
    state: PathBuf,
    /// The hall's id.
    #[arg(long, default_value = "main")]
    hall: String,
    /// The newest day written (YYYY-MM-DD); the others are the same weekday
    /// of the weeks before.
    #[arg(long, value_parser = |s: &str| hallq_proto::appointment::parse_day(s).map_err(|e| e.to_string()))]
    last: u32,
    /// How many weeks.
    #[arg(long, default_value_t = 4)]
    weeks: u32,
    /// Visitors: 1.0 is about 650 a day.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = hallq_daemon::daemon::hall_dir(&args.state, &args.hall);
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} is not empty: the days are written into a fresh hall",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir)?;
    let days: Vec<u32> = (0..args.weeks)
        .rev()
        .map(|k| day_of(days_of(args.last) - 7 * i64::from(k)))
        .collect();
    let replay = journal::open(&dir).context("open the journal")?;
    let first = hallq_daemon::clock::day_string(days[0]);
    let journal: Journal<()> = Journal::start(&replay, &first, Box::new(|_| {}))?;
    let handle = journal.handle();
    for (k, &day) in days.iter().enumerate() {
        let script = Script::demo(day, args.scale * (1.0 + 0.05 * k as f64), 100 + k as u64);
        let name = hallq_daemon::clock::day_string(day);
        let events = script.events();
        let mut pending = Vec::new();
        for event in &events {
            let payload = codec::encode_record(&Entry::Events(vec![event.clone()]))?;
            pending.push(handle.append(payload, &name, ()));
        }
        for rx in pending {
            rx.blocking_recv().context("journal writer stopped")??;
        }
        println!(
            "{name}: {} events, {} visitors",
            events.len(),
            script.arrivals().len()
        );
    }
    journal.close()?;
    Ok(())
}
