//! The command line of `hallq`: global options, one subcommand per thing a
//! kiosk, a window terminal, a display or an admin does, and their
//! translation into [`Request`]s.
//!
//! Everything the daemon would refuse as malformed (a ticket number like
//! `A12x`, a rating of 6, a staff id with a space) is refused here already,
//! as a usage error, so a typo at the counter never costs a round trip.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hallq_client::board;

use hallq_proto::appointment::SlotAt;
use hallq_proto::types::{
    ItemCode, Lane, Phone, Post, PriorityReason, Rating, StaffId, TicketNo, WindowNo,
};
use hallq_proto::wire::{Request, StatsBy, Target, WindowAction};

/// `--lang`: zh or en.
fn parse_lang(text: &str) -> Result<hallq_client::text::Lang, String> {
    hallq_client::text::Lang::from_name(text)
        .ok_or_else(|| format!("{text:?} is not a language hallq has: zh or en"))
}

/// Where the demo daemon listens.
pub const DEFAULT_SERVER: &str = "127.0.0.1:7878";

/// Where the demo daemon writes its self-signed certificate.
pub const DEFAULT_CERT: &str = "./hallq-state/tls/cert.pem";

/// What `pause` shows to visitors when no reason is given.
pub const DEFAULT_PAUSE_REASON: &str = "暂停服务";

/// Where the options every command takes are listed in each command's help.
const GLOBAL: &str = "Global options";

/// Shown at the end of `hallq --help`: scripts at kiosks and in monitoring
/// branch on these, so they are part of the contract.
const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  hallqd refused the request (nothing changed); in a cluster also when no
     daemon took the hall within 10 s (code not_owner)
  2  usage error (bad option or value)
  3  cannot connect: address, TLS, certificate, lost connection, timeout
  4  any other error

A change (issue, call, finish, book, …) whose connection was lost after it was
sent is not sent again: it may have been carried out. Check (status, bookings)
before repeating it. Reads are sent again after reconnecting.

With --json every command prints exactly one JSON object on stdout (watch and
notifications: one per line); on error also {\"error\":{\"code\":…,\"message\":…}},
with \"redirect\" when a daemon named the hall's owner.";

/// `hallq`: command-line client of the hallq ticket-and-call system (叫号系统).
#[derive(Debug, Parser)]
#[command(
    name = "hallq",
    version,
    after_help = EXIT_CODES,
    arg_required_else_help = true
)]
pub struct Cli {
    /// hallqd's address, HOST:PORT; for a cluster, every node's, separated by
    /// commas (a:7878,b:7878): the hall is followed to whichever serves it.
    #[arg(long, global = true, help_heading = GLOBAL, env = "HALLQ_SERVER",
          default_value = DEFAULT_SERVER, value_name = "ADDR[,ADDR…]",
          value_delimiter = ',', value_parser = parse_server)]
    pub server: Vec<String>,

    /// hallqd's certificate (PEM); the only certificate trusted (pinned).
    #[arg(long, global = true, help_heading = GLOBAL, env = "HALLQ_CERT",
          default_value = DEFAULT_CERT, value_name = "FILE")]
    pub cert: PathBuf,

    /// This terminal's token from hallqd's config (decides role, hall, window).
    // Global options cannot be `required` in clap, so presence is checked in
    // `Cli::token`; the value is hidden from `--help` because it is a secret.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "HALLQ_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// The hall to act in (only for an admin token covering several halls).
    #[arg(long, global = true, help_heading = GLOBAL, env = "HALLQ_HALL", value_name = "ID")]
    pub hall: Option<String>,

    /// Print JSON instead of text: one object per command, one per line for streams.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// The language of what people read: zh (中文, the default) or en. JSON
    /// output is the same in both.
    #[arg(long, global = true, help_heading = GLOBAL, env = "HALLQ_LANG",
          default_value = "zh", value_name = "zh|en", value_parser = parse_lang)]
    pub lang: hallq_client::text::Lang,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The token, or the usage error that names `--token` and `HALLQ_TOKEN`.
    pub fn token(&self) -> Result<&str, clap::Error> {
        use clap::CommandFactory;
        self.token.as_deref().ok_or_else(|| {
            Cli::command().error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "a token is required: pass --token TOKEN or set HALLQ_TOKEN",
            )
        })
    }
}

/// One `hallq` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Issue a ticket for a service item (kiosk).
    Issue {
        /// The item's letter, e.g. A.
        #[arg(long)]
        item: ItemCode,
        /// The visitor's mobile number, for SMS notifications.
        #[arg(long, value_parser = parse_phone)]
        phone: Option<String>,
        /// Priority lane and why (seed 004: the elderly, disabled, pregnant first).
        #[arg(long, value_enum)]
        priority: Option<Priority>,
    },
    /// Call the next ticket, or one waiting ticket by number.
    Call {
        /// Call this ticket instead of the next one.
        #[arg(long)]
        ticket: Option<TicketNo>,
        #[command(flatten)]
        at: AtWindow,
    },
    /// Announce the called ticket again.
    Recall {
        #[command(flatten)]
        at: AtWindow,
    },
    /// The visitor arrived: start serving.
    Start {
        #[command(flatten)]
        at: AtWindow,
    },
    /// Service done, with the visitor's rating if given.
    Finish {
        /// 5 非常满意 … 1 非常不满意.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        rating: Option<u8>,
        /// Waiting tickets of the same item served together with the current
        /// one (批量办理): one service, one rating.
        #[arg(long, value_delimiter = ',', value_name = "TICKETS")]
        with: Vec<TicketNo>,
        #[command(flatten)]
        at: AtWindow,
    },
    /// The visitor did not come (过号).
    NoShow {
        #[command(flatten)]
        at: AtWindow,
    },
    /// Hand the current ticket to another item's line or to one window.
    Transfer {
        #[command(flatten)]
        to: TransferTarget,
        /// The window handing the ticket on (an admin token must name it;
        /// `--window` is the destination here).
        #[arg(long, value_name = "N", value_parser = parse_window)]
        from: Option<u16>,
    },
    /// Pause the window (暂停办理); it takes no calls until resumed.
    Pause {
        /// Shown to visitors.
        #[arg(long, default_value = DEFAULT_PAUSE_REASON)]
        reason: String,
        #[command(flatten)]
        at: AtWindow,
    },
    /// End a pause.
    Resume {
        #[command(flatten)]
        at: AtWindow,
    },
    /// Open the window.
    Open {
        #[command(flatten)]
        at: AtWindow,
    },
    /// Close the window.
    Close {
        #[command(flatten)]
        at: AtWindow,
    },
    /// Log staff in at the window (AB岗).
    Login {
        /// Staff id (工号).
        #[arg(long, value_parser = parse_staff)]
        staff: StaffId,
        /// A (post holder) or B (stand-in).
        #[arg(long, value_enum, ignore_case = true)]
        post: PostArg,
        #[command(flatten)]
        at: AtWindow,
    },
    /// Log staff out.
    Logout {
        #[command(flatten)]
        at: AtWindow,
    },
    /// Put a no-show ticket back into its line.
    Reinstate {
        /// The no-show ticket.
        #[arg(long)]
        ticket: TicketNo,
    },
    /// Stop issuing walk-in tickets: closing time (admin).
    CloseIssuing,
    /// Issue walk-in tickets again (admin).
    OpenIssuing,
    /// Every window and every waiting ticket.
    Status,
    /// Follow the display stream until Ctrl-C; when it ends (the daemon
    /// stopped or handed the hall on), subscribe again for a fresh snapshot.
    Watch,
    /// Follow the notification outbox (SMS gateway bridge); when it ends,
    /// subscribe again (unacknowledged notifications come again).
    Notifications {
        /// Acknowledge each notification after printing it.
        #[arg(long)]
        ack: bool,
    },
    /// Display board (display token): serve the hall's board page for TVs
    /// and window-top screens (--serve), or show the board here (--tui).
    Board {
        #[command(flatten)]
        output: BoardOutput,
        #[command(flatten)]
        voice: BoardVoice,
    },
    /// Window terminal (window token): the interactive screen for the clerk.
    Window {
        /// `f` asks for the visitor's rating: only for a hall whose config
        /// has `clerk_rating = true` (hallqd refuses the rating otherwise).
        #[arg(long)]
        clerk_rating: bool,
    },
    /// Self-service kiosk (kiosk token): serve the touch page for the
    /// kiosk's browser and print tickets on its printer.
    Kiosk {
        /// Serve the kiosk page over HTTP on ADDR, e.g. 127.0.0.1:8090.
        #[arg(long, value_name = "ADDR")]
        serve: SocketAddr,
        /// Where tickets print: none (the screen only), browser (the
        /// browser's print dialog, 80 mm), tcp:HOST[:PORT] (ESC/POS on raw
        /// TCP, port 9100 by default) or device:/dev/usb/lp0.
        #[arg(long, value_name = "PRINTER", default_value = "none")]
        printer: hallq_client::kiosk::printer::Printer,
        /// Seconds without a touch before the page goes back to the start.
        #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(5..=600))]
        idle_secs: u32,
    },
    /// The visitor's phone page (visitor token; issue 18): serve the page
    /// a ticket's QR code and issue SMS link to, on its own listener.
    Visitor {
        /// Serve the page over HTTP on ADDR, e.g. 127.0.0.1:8091 (behind
        /// the hall's reverse proxy, which adds TLS).
        #[arg(long, value_name = "ADDR")]
        serve: SocketAddr,
        /// A reverse proxy whose X-Forwarded-For is believed for the
        /// per-address limits (repeat for several); from other peers the
        /// header is ignored.
        #[arg(long, value_name = "IP")]
        trusted_proxy: Vec<std::net::IpAddr>,
        /// Requests one address may make per minute.
        #[arg(long, value_name = "N", default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..))]
        per_address_per_minute: u32,
        /// Refused (forged, mistyped, stale) links one address may try per
        /// hour before it is turned away for the rest of the hour.
        #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        bad_links_per_hour: u32,
        /// A rating tablet at a window (its address on the hall's LAN),
        /// allowed the tablet page /rate?window=N (repeat for each).
        #[arg(long, value_name = "IP")]
        tablet: Vec<std::net::IpAddr>,
    },
    /// Running the daemon (admin).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Rate a finished service (好差评), once per service (window, admin).
    Rate {
        /// The finished ticket (any ticket of a batch rates the batch).
        #[arg(long)]
        ticket: TicketNo,
        /// 5 非常满意 … 1 非常不满意; 1 or 2 raises a work order.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        rating: u8,
    },
    /// A business day's statistics, from the journal (admin).
    Stats {
        /// The day, YYYY-MM-DD or YYYYMMDD; today if left out.
        #[arg(long, value_parser = parse_date)]
        date: Option<u32>,
        /// Break the totals down.
        #[arg(long, value_enum)]
        by: Option<ByArg>,
    },
    /// Per-ticket records of a day for upstream aggregation (admin); phone
    /// numbers only as keyed hashes.
    Export {
        /// The day, YYYY-MM-DD or YYYYMMDD; today if left out (as `stats`).
        #[arg(long, value_parser = parse_date)]
        date: Option<u32>,
        /// CSV with a header line, or one JSON object per line.
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Start the CSV with a UTF-8 byte order mark, so Excel opens the
        /// Chinese text right (Excel reads a CSV without one in the
        /// system's ANSI code page).
        #[arg(long)]
        excel: bool,
    },
    /// Staffing what-if (admin): replay a past day's arrivals through the
    /// dispatch core with another staffing, or with --plan search the rota
    /// that keeps the p90 wait under the hall's target hour by hour. A day
    /// without records (tomorrow) is forecast from the same weekday of past
    /// weeks.
    Simulate {
        /// The day, YYYY-MM-DD or YYYYMMDD.
        #[arg(long, value_parser = parse_date, required_unless_present = "report")]
        date: Option<u32>,
        /// The staffing to try: a TOML file of [[window]] tables (number,
        /// open = ["09:00-12:00", …], items, universal, lunch_duty, post);
        /// the day's own staffing if left out.
        #[arg(long, value_name = "FILE")]
        plan_file: Option<PathBuf>,
        /// Seed of the service-time draws (the same seed, the same report).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Waiting target in minutes (default: the hall's wait_target_minutes).
        #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(1..=1440))]
        target_minutes: Option<u32>,
        /// Search the fewest window-hours per mapping keeping every item's
        /// p90 wait under the target, and print the rota.
        #[arg(long)]
        plan: bool,
        /// Arrivals from the forecast of this many past weeks (same weekday)
        /// instead of the day's own records.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=52))]
        forecast_weeks: Option<u8>,
        /// Also write the report with charts as one HTML file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Render a saved report (`hallqd simulate`'s JSON output, `-` for
        /// stdin) instead of asking hallqd: no token needed.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["date", "plan_file", "plan", "forecast_weeks"])]
        report: Option<PathBuf>,
    },
    /// The day in charts as one self-contained HTML file a manager can
    /// mail (admin): arrivals and served per 15 minutes, waits per hour,
    /// window use and pauses, satisfaction and no-shows; Chinese, or
    /// English with --lang en.
    Report {
        /// The day, YYYY-MM-DD or YYYYMMDD; today if left out.
        #[arg(long, value_parser = parse_date)]
        date: Option<u32>,
        /// The HTML file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// The hall manager's web console (admin): every window and item live,
    /// failures, work orders, and the day in charts.
    Console {
        /// Serve the console over HTTP on ADDR, e.g. 127.0.0.1:8095.
        #[arg(long, value_name = "ADDR")]
        serve: SocketAddr,
    },
    /// Arrivals per hour and item expected on a day, from the same weekday
    /// of the last weeks, with an 80% interval (admin).
    Forecast {
        /// The day, YYYY-MM-DD or YYYYMMDD.
        #[arg(long, value_parser = parse_date)]
        date: u32,
        /// How many past weeks to look at.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=52))]
        weeks: u8,
    },
    /// The SMS gateway bridge: deliver notifications to an SMS provider (and
    /// work orders to the hotline) over HTTP until stopped (notifier).
    SmsBridge {
        /// The provider file (TOML): endpoints, API key, body template, retries.
        #[arg(long, value_name = "FILE")]
        provider: PathBuf,
    },
    /// Book an appointment slot (kiosk, admin); prints the booking code.
    Book {
        /// The item's letter, e.g. A.
        #[arg(long)]
        item: ItemCode,
        /// The slot's start in the hall's local time, 2026-11-23T09:30.
        #[arg(long, value_parser = super::appointments::parse_slot)]
        slot: SlotAt,
        /// The visitor's mobile number, for the confirmation SMS.
        #[arg(long, value_parser = parse_phone)]
        phone: String,
        /// How the booking was made.
        #[arg(long, value_enum, default_value = "onsite")]
        channel: super::appointments::ChannelArg,
    },
    /// A day's appointment slots and bookings (today if no --date).
    Bookings {
        /// The day, 2026-11-23.
        #[arg(long, value_parser = super::appointments::parse_date)]
        date: Option<u32>,
    },
    /// Cancel a booking: for the visitor any time; with --by-hall (admin)
    /// at least 8 hours before the slot (§四(七)7). The visitor gets an SMS.
    CancelBooking {
        /// The booking code.
        code: String,
        /// The hall cancels, not the visitor.
        #[arg(long)]
        by_hall: bool,
        /// The last 4 digits of the phone the booking was made with: the
        /// visitor's proof, required from a kiosk.
        #[arg(long, value_parser = parse_phone_last4, conflicts_with = "by_hall")]
        phone_last4: Option<String>,
    },
    /// Check a booking in at a kiosk: prints its appointment-lane ticket.
    CheckIn {
        /// The booking code.
        code: String,
    },
    /// Change one day's appointment slots (admin).
    #[command(subcommand)]
    Slots(super::appointments::SlotsCommand),
    /// The hall's alerts (admin): the active ones; `--all` also those
    /// cleared lately.
    Alerts {
        /// Also the cleared alerts the hall keeps.
        #[arg(long)]
        all: bool,
    },
    /// The hall's 差评工单 (admin): open and called back; `--all` also the
    /// closed ones.
    Workorders {
        /// Closed ones too.
        #[arg(long)]
        all: bool,
        /// Only work orders numbered above this (the next page).
        #[arg(long, value_name = "ID")]
        after: Option<u64>,
    },
    /// 回访 or close a work order (admin).
    #[command(subcommand)]
    Workorder(super::alerts::WorkOrderCommand),
    /// 申诉复核: set a rating aside, or list a day's appeals (admin).
    #[command(subcommand)]
    Rating(super::alerts::RatingCommand),
}

/// `stats --by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ByArg {
    /// Per item.
    Item,
    /// Per window.
    Window,
    /// Per staff member.
    Staff,
}

impl From<ByArg> for StatsBy {
    fn from(b: ByArg) -> StatsBy {
        match b {
            ByArg::Item => StatsBy::Item,
            ByArg::Window => StatsBy::Window,
            ByArg::Staff => StatsBy::Staff,
        }
    }
}

/// `export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated, with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// `hallq admin …`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum AdminCommand {
    /// Re-read hallqd's config file, as SIGHUP does; prints what changed.
    Reload,
    /// Journal writable, last fsync age, halls loaded.
    Health,
}

/// Where `board` shows the board: exactly one of the two.
#[derive(Debug, Clone, Copy, Args)]
#[group(required = true, multiple = false)]
pub struct BoardOutput {
    /// Serve the board page over HTTP on ADDR, e.g. 127.0.0.1:8080
    /// (0.0.0.0:8080 to reach it from the hall's TVs); `/?window=3` is the
    /// screen over window 3, `?speak=1` announces calls.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<SocketAddr>,
    /// Show the board in this terminal.
    #[arg(long)]
    pub tui: bool,
}

/// How the served board sounds (with `--serve`; the page speaks once it is
/// switched on: `?speak=1`, its button or the S key).
#[derive(Debug, Clone, Args)]
pub struct BoardVoice {
    /// Who speaks each call after the chime: espeak (espeak-ng's Mandarin
    /// voice on this machine, offline), browser (the browser's zh-CN
    /// speech synthesis), off (silent).
    #[arg(long, value_name = "ENGINE", default_value = "espeak", value_parser = parse_engine)]
    pub voice: board::voice::VoiceEngine,
    /// Volume of the spoken words, 0-100.
    #[arg(long, value_name = "0-100", default_value_t = 100, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub voice_volume: u8,
    /// Volume of the chime before each call, 0-100 (0: no chime).
    #[arg(long, value_name = "0-100", default_value_t = 70, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub chime_volume: u8,
    /// How many times each call is said, 1-3.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub repeat: u8,
    /// The espeak-ng program.
    #[arg(long, value_name = "PATH", default_value = "espeak-ng")]
    pub espeak: PathBuf,
}

impl BoardVoice {
    /// The board's voice settings.
    pub fn settings(&self) -> board::voice::VoiceSettings {
        board::voice::VoiceSettings {
            engine: self.voice,
            voice_volume: self.voice_volume,
            chime_volume: self.chime_volume,
            repeat: self.repeat,
            espeak: self.espeak.clone(),
            ..board::voice::VoiceSettings::default()
        }
    }
}

fn parse_engine(s: &str) -> Result<board::voice::VoiceEngine, String> {
    s.parse()
}

/// Which window a window command acts on.
#[derive(Debug, Clone, Copy, Args)]
pub struct AtWindow {
    /// The window; a window token acts on its own window and may omit it.
    #[arg(long, value_name = "N", value_parser = parse_window)]
    pub window: Option<u16>,
}

/// Where `transfer` sends the current ticket: exactly one of the two.
#[derive(Debug, Clone, Copy, Args)]
#[group(required = true, multiple = false)]
pub struct TransferTarget {
    /// Another item's line (the ticket keeps its original issue time).
    #[arg(long)]
    pub item: Option<ItemCode>,
    /// One window's own line.
    #[arg(long, value_name = "N", value_parser = parse_window)]
    pub window: Option<u16>,
}

/// `--priority`: why a visitor is in the priority lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Priority {
    /// 老年人
    Elderly,
    /// 残疾人
    Disabled,
    /// 孕妇
    Pregnant,
    /// 绿色通道
    Green,
}

impl From<Priority> for PriorityReason {
    fn from(p: Priority) -> PriorityReason {
        match p {
            Priority::Elderly => PriorityReason::Elderly,
            Priority::Disabled => PriorityReason::Disabled,
            Priority::Pregnant => PriorityReason::Pregnant,
            Priority::Green => PriorityReason::Green,
        }
    }
}

/// `--post`: the AB post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PostArg {
    /// A岗: the post holder.
    #[value(name = "A")]
    A,
    /// B岗: the stand-in.
    #[value(name = "B")]
    B,
}

impl From<PostArg> for Post {
    fn from(p: PostArg) -> Post {
        match p {
            PostArg::A => Post::A,
            PostArg::B => Post::B,
        }
    }
}

/// What a command does on the wire: one request, or a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Send one request, print its answer.
    Request(Request),
    /// Follow the display stream.
    Watch,
    /// Follow the notification outbox, acknowledging if `ack`.
    Notifications {
        /// Acknowledge each notification after printing it.
        ack: bool,
    },
    /// A display board: the web page on this address, or the terminal.
    Board {
        /// Where to serve the page; `None` shows the board in the terminal.
        serve: Option<SocketAddr>,
        /// How the served page sounds.
        voice: board::voice::VoiceSettings,
    },
    /// The interactive window terminal.
    Window {
        /// `f` asks for the visitor's rating.
        clerk_rating: bool,
    },
    /// The visitor's phone page.
    Visitor {
        /// Where to serve the page.
        serve: SocketAddr,
        /// Its options.
        options: hallq_client::visitor::Options,
    },
    /// The kiosk's web page and printer.
    Kiosk {
        /// Where to serve the page.
        serve: SocketAddr,
        /// The kiosk's options.
        options: hallq_client::kiosk::Options,
    },
    /// Page through a day's records and print them.
    Export {
        /// `yyyymmdd`; the hall's current day if `None`.
        day: Option<u32>,
        /// How.
        format: ExportFormat,
        /// A UTF-8 BOM first (CSV for Excel).
        excel: bool,
    },
    /// Run the SMS gateway bridge.
    SmsBridge {
        /// The provider file.
        provider: PathBuf,
    },
    /// Ask hallqd for a staffing simulation (or render a saved one).
    Simulate(Box<SimulatePlan>),
    /// Write the day in charts to a file.
    Report {
        /// `yyyymmdd`; the hall's current day if `None`.
        day: Option<u32>,
        /// The HTML file.
        out: PathBuf,
    },
    /// Serve the manager's console.
    Console {
        /// Where to serve the page.
        serve: SocketAddr,
    },
    /// Ask hallqd for a forecast.
    Forecast {
        /// `yyyymmdd`.
        day: u32,
        /// Past weeks.
        weeks: u8,
    },
}

/// What `hallq simulate` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatePlan {
    /// The day (`None` only with `report`).
    pub day: Option<u32>,
    /// The staffing file.
    pub plan_file: Option<PathBuf>,
    /// Seed.
    pub seed: u64,
    /// Target, minutes.
    pub target_minutes: Option<u32>,
    /// `--plan`.
    pub search: bool,
    /// `--forecast-weeks`.
    pub forecast_weeks: Option<u8>,
    /// Also write the HTML report here.
    pub html: Option<PathBuf>,
    /// A saved report to render instead of asking.
    pub report: Option<PathBuf>,
}

impl Command {
    /// The request (or subscription) this command stands for.
    pub fn plan(&self) -> Plan {
        let window = |at: &AtWindow| at.window.map(WindowNo);
        let act = |at: &AtWindow, action: WindowAction| {
            Plan::Request(Request::Window {
                window: window(at),
                action,
            })
        };
        match self {
            Command::Issue {
                item,
                phone,
                priority,
            } => Plan::Request(Request::Issue {
                item: *item,
                lane: priority.map_or(Lane::WalkIn, |p| Lane::Priority(p.into())),
                phone: phone.clone(),
            }),
            Command::Call { ticket, at } => act(at, WindowAction::Call { ticket: *ticket }),
            Command::Recall { at } => act(at, WindowAction::Recall),
            Command::Start { at } => act(at, WindowAction::Start),
            Command::Finish { rating, with, at } if with.is_empty() => act(
                at,
                WindowAction::Finish {
                    // The parser already bounds it to 1-5, so `ok()` drops nothing.
                    rating: rating.and_then(|r| Rating::new(r).ok()),
                },
            ),
            Command::Finish { rating, with, at } => act(
                at,
                WindowAction::FinishBatch {
                    with: with.clone(),
                    rating: rating.and_then(|r| Rating::new(r).ok()),
                },
            ),
            Command::NoShow { at } => act(at, WindowAction::NoShow),
            Command::Transfer { to, from } => {
                let to = match (to.item, to.window) {
                    (Some(item), _) => Target::Item(item),
                    // clap's group guarantees one of the two is present.
                    (None, window) => Target::Window(WindowNo(window.unwrap_or_default())),
                };
                Plan::Request(Request::Window {
                    window: from.map(WindowNo),
                    action: WindowAction::Transfer { to },
                })
            }
            Command::Pause { reason, at } => act(
                at,
                WindowAction::Pause {
                    reason: reason.clone(),
                },
            ),
            Command::Resume { at } => act(at, WindowAction::Resume),
            Command::Open { at } => act(at, WindowAction::Open),
            Command::Close { at } => act(at, WindowAction::Close),
            Command::Login { staff, post, at } => act(
                at,
                WindowAction::Login {
                    staff: staff.clone(),
                    post: (*post).into(),
                },
            ),
            Command::Logout { at } => act(at, WindowAction::Logout),
            Command::Reinstate { ticket } => Plan::Request(Request::Reinstate { ticket: *ticket }),
            Command::CloseIssuing => Plan::Request(Request::CloseIssuing),
            Command::OpenIssuing => Plan::Request(Request::OpenIssuing),
            Command::Status => Plan::Request(Request::Status),
            Command::Watch => Plan::Watch,
            Command::Notifications { ack } => Plan::Notifications { ack: *ack },
            Command::Board { output, voice } => Plan::Board {
                serve: output.serve,
                voice: voice.settings(),
            },
            Command::Window { clerk_rating } => Plan::Window {
                clerk_rating: *clerk_rating,
            },
            Command::Kiosk {
                serve,
                printer,
                idle_secs,
            } => Plan::Kiosk {
                serve: *serve,
                options: hallq_client::kiosk::Options {
                    printer: printer.clone(),
                    idle_secs: *idle_secs,
                },
            },
            Command::Visitor {
                serve,
                trusted_proxy,
                per_address_per_minute,
                bad_links_per_hour,
                tablet,
            } => Plan::Visitor {
                serve: *serve,
                options: hallq_client::visitor::Options {
                    trusted_proxies: trusted_proxy.clone(),
                    per_address_per_minute: *per_address_per_minute,
                    bad_links_per_address_per_hour: *bad_links_per_hour,
                    tablets: tablet.clone(),
                },
            },
            Command::Admin(AdminCommand::Reload) => Plan::Request(Request::Reload),
            Command::Admin(AdminCommand::Health) => Plan::Request(Request::Health),
            Command::Rate { ticket, rating } => Plan::Request(Request::Rate {
                ticket: *ticket,
                // Bounded to 1-5 by the parser.
                rating: Rating::new(*rating).unwrap_or_else(|_| unreachable!()),
            }),
            Command::Stats { date, by } => Plan::Request(Request::Report {
                day: *date,
                by: by.map(StatsBy::from),
            }),
            Command::Export {
                date,
                format,
                excel,
            } => Plan::Export {
                day: *date,
                format: *format,
                excel: *excel,
            },
            Command::Simulate {
                date,
                plan_file,
                seed,
                target_minutes,
                plan,
                forecast_weeks,
                html,
                report,
            } => Plan::Simulate(Box::new(SimulatePlan {
                day: *date,
                plan_file: plan_file.clone(),
                seed: *seed,
                target_minutes: *target_minutes,
                search: *plan,
                forecast_weeks: *forecast_weeks,
                html: html.clone(),
                report: report.clone(),
            })),
            Command::Report { date, out } => Plan::Report {
                day: *date,
                out: out.clone(),
            },
            Command::Console { serve } => Plan::Console { serve: *serve },
            Command::Forecast { date, weeks } => Plan::Forecast {
                day: *date,
                weeks: *weeks,
            },
            Command::SmsBridge { provider } => Plan::SmsBridge {
                provider: provider.clone(),
            },
            Command::Book {
                item,
                slot,
                phone,
                channel,
            } => Plan::Request(Request::Book {
                item: *item,
                slot: *slot,
                phone: phone.clone(),
                channel: (*channel).into(),
            }),
            Command::Bookings { date } => Plan::Request(Request::Bookings { day: *date }),
            Command::CancelBooking {
                code,
                by_hall,
                phone_last4: None,
            } => Plan::Request(Request::CancelBooking {
                code: code.clone(),
                by_hall: *by_hall,
            }),
            Command::CancelBooking {
                code,
                phone_last4: Some(tail),
                ..
            } => Plan::Request(Request::CancelBookingWithPhone {
                code: code.clone(),
                phone_last4: tail.clone(),
            }),
            Command::CheckIn { code } => Plan::Request(Request::CheckIn { code: code.clone() }),
            Command::Slots(slots) => Plan::Request(slots.request()),
            Command::Alerts { all } => Plan::Request(Request::Alerts {
                include_cleared_since: all.then_some(0),
            }),
            Command::Workorders { all, after } => Plan::Request(Request::WorkOrders {
                include_closed: *all,
                after: *after,
            }),
            Command::Workorder(command) => Plan::Request(command.request()),
            Command::Rating(command) => Plan::Request(command.request()),
        }
    }
}

/// One address of `--server`: HOST:PORT. Resolved only when connecting,
/// so a host name works too; here only the shape is checked.
fn parse_server(s: &str) -> Result<String, String> {
    let bad = || format!("expected HOST:PORT such as {DEFAULT_SERVER}, got {s:?}");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    Ok(s.to_owned())
}

/// Window numbers start at 1, as painted over the counters.
fn parse_window(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("window number must be 1-65535, got {s:?}")),
    }
}

/// Checked here so a mistyped number is refused before it is sent; kept as
/// typed because the daemon stores it as the visitor gave it.
fn parse_phone(s: &str) -> Result<String, String> {
    Phone::new(s).map(|_| s.to_owned()).map_err(|e| e.0)
}

/// `--phone-last4`: exactly four digits.
fn parse_phone_last4(s: &str) -> Result<String, String> {
    if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "expected the last 4 digits of the phone, got {s:?}"
        ))
    }
}

/// `--date`: `2026-11-22` or `20261122`, as `yyyymmdd`.
fn parse_date(s: &str) -> Result<u32, String> {
    let bad = || format!("expected a date like 2026-11-22, got {s:?}");
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let day: u32 = digits.parse().map_err(|_| bad())?;
    let (m, d) = (day / 100 % 100, day % 100);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(day)
}

fn parse_staff(s: &str) -> Result<StaffId, String> {
    StaffId::new(s).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    /// Parses `hallq <args>` with a token, as a terminal would be set up.
    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut argv = vec!["hallq", "--token", "t0k3n"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
    }

    fn plan(args: &[&str]) -> Plan {
        parse(args).unwrap().command.plan()
    }

    fn kind(args: &[&str]) -> ErrorKind {
        parse(args).unwrap_err().kind()
    }

    fn window_action(window: Option<u16>, action: WindowAction) -> Plan {
        Plan::Request(Request::Window {
            window: window.map(WindowNo),
            action,
        })
    }

    fn ticket(s: &str) -> TicketNo {
        s.parse().unwrap()
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_and_their_env_fallbacks() {
        let cli = Cli::try_parse_from([
            "hallq",
            "--server",
            "10.0.0.5:9000",
            "--cert",
            "/etc/hallq/cert.pem",
            "--token",
            "abc",
            "--hall",
            "main",
            "--json",
            "status",
        ])
        .unwrap();
        assert_eq!(cli.server, ["10.0.0.5:9000"]);
        assert_eq!(cli.cert, PathBuf::from("/etc/hallq/cert.pem"));
        assert_eq!(cli.token().unwrap(), "abc");
        assert_eq!(cli.hall.as_deref(), Some("main"));
        assert!(cli.json);
        // Options are global, so they may also follow the command.
        let cli = Cli::try_parse_from(["hallq", "status", "--json", "--token", "x"]).unwrap();
        assert!(cli.json);
        // Each option falls back to its environment variable. Tests must not
        // set the process environment (tests run in parallel), so check the
        // definition instead.
        let command = Cli::command();
        for (arg, env) in [
            ("server", "HALLQ_SERVER"),
            ("cert", "HALLQ_CERT"),
            ("token", "HALLQ_TOKEN"),
            ("hall", "HALLQ_HALL"),
        ] {
            let arg = command.get_arguments().find(|a| a.get_id() == arg).unwrap();
            assert_eq!(arg.get_env().unwrap(), env);
        }
    }

    #[test]
    fn defaults_point_at_the_demo_daemon() {
        // Meaningful only when the HALLQ_* variables are unset, as in CI.
        if std::env::vars().any(|(k, _)| k.starts_with("HALLQ_")) {
            return;
        }
        let cli = Cli::try_parse_from(["hallq", "status"]).unwrap();
        assert_eq!(cli.server, ["127.0.0.1:7878"]);
        assert_eq!(cli.cert, PathBuf::from("./hallq-state/tls/cert.pem"));
        assert!(!cli.json);
        assert!(cli.hall.is_none());
        // Missing token: a usage error, reported after parsing.
        assert_eq!(
            cli.token().unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn server_must_be_host_and_port() {
        assert!(parse(&["--server", "hall-box.local:7878", "status"]).is_ok());
        assert!(parse(&["--server", "[::1]:7878", "status"]).is_ok());
        for bad in ["127.0.0.1", ":7878", "127.0.0.1:x", "127.0.0.1:0"] {
            assert_eq!(
                kind(&["--server", bad, "status"]),
                ErrorKind::ValueValidation,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_cluster_is_several_servers_separated_by_commas() {
        let cli = parse(&[
            "--server",
            "10.0.0.5:7878,hall-2.local:7878,[::1]:7879",
            "status",
        ])
        .unwrap();
        assert_eq!(
            cli.server,
            ["10.0.0.5:7878", "hall-2.local:7878", "[::1]:7879"]
        );
        // Repeating the option adds to the list too.
        let cli = parse(&["--server", "a:1", "--server", "b:2,c:3", "status"]).unwrap();
        assert_eq!(cli.server, ["a:1", "b:2", "c:3"]);
        // One bad address among them is refused, and named.
        for (servers, bad) in [
            ("10.0.0.5:7878,10.0.0.6", "10.0.0.6"),
            ("10.0.0.5:7878,,10.0.0.7:7878", ""),
            ("10.0.0.5:7878,", ""),
            ("a:1,b:0", "b:0"),
        ] {
            let err = parse(&["--server", servers, "status"]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{servers}");
            let text = err.to_string();
            assert!(
                text.contains(&format!("got {bad:?}")) && text.contains("--server"),
                "{servers}: {text}"
            );
        }
    }

    #[test]
    fn help_explains_several_servers_and_unsure_changes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("separated by"), "{help}");
        assert!(help.contains("not_owner"), "{help}");
        assert!(help.contains("may have been carried out"), "{help}");
    }

    #[test]
    fn issue_walk_in_and_priority() {
        let a = ItemCode::new('A').unwrap();
        assert_eq!(
            plan(&["issue", "--item", "A"]),
            Plan::Request(Request::Issue {
                item: a,
                lane: Lane::WalkIn,
                phone: None
            })
        );
        assert_eq!(
            plan(&[
                "issue",
                "--item",
                "A",
                "--phone",
                "13800138000",
                "--priority",
                "pregnant"
            ]),
            Plan::Request(Request::Issue {
                item: a,
                lane: Lane::Priority(PriorityReason::Pregnant),
                phone: Some("13800138000".into())
            })
        );
        for (value, reason) in [
            ("elderly", PriorityReason::Elderly),
            ("disabled", PriorityReason::Disabled),
            ("pregnant", PriorityReason::Pregnant),
            ("green", PriorityReason::Green),
        ] {
            match plan(&["issue", "--item", "B", "--priority", value]) {
                Plan::Request(Request::Issue { lane, .. }) => {
                    assert_eq!(lane, Lane::Priority(reason))
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            kind(&["issue", "--item", "A", "--priority", "vip"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(kind(&["issue"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["issue", "--item", "a"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["issue", "--item", "AB"]), ErrorKind::ValueValidation);
        assert_eq!(
            kind(&["issue", "--item", "A", "--phone", "138-0013"]),
            ErrorKind::ValueValidation
        );
    }

    #[test]
    fn window_commands_take_an_optional_window() {
        assert_eq!(
            plan(&["call"]),
            window_action(None, WindowAction::Call { ticket: None })
        );
        assert_eq!(
            plan(&["call", "--ticket", "A012", "--window", "3"]),
            window_action(
                Some(3),
                WindowAction::Call {
                    ticket: Some(ticket("A012"))
                }
            )
        );
        assert_eq!(
            kind(&["call", "--ticket", "A12x"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(kind(&["call", "--window", "0"]), ErrorKind::ValueValidation);
        for (cmd, action) in [
            ("recall", WindowAction::Recall),
            ("start", WindowAction::Start),
            ("no-show", WindowAction::NoShow),
            ("resume", WindowAction::Resume),
            ("open", WindowAction::Open),
            ("close", WindowAction::Close),
            ("logout", WindowAction::Logout),
        ] {
            assert_eq!(plan(&[cmd]), window_action(None, action.clone()), "{cmd}");
            assert_eq!(
                plan(&[cmd, "--window", "7"]),
                window_action(Some(7), action),
                "{cmd}"
            );
        }
    }

    #[test]
    fn finish_rating_is_one_to_five() {
        assert_eq!(
            plan(&["finish"]),
            window_action(None, WindowAction::Finish { rating: None })
        );
        for r in 1..=5u8 {
            assert_eq!(
                plan(&["finish", "--rating", &r.to_string()]),
                window_action(
                    None,
                    WindowAction::Finish {
                        rating: Some(Rating::new(r).unwrap())
                    }
                )
            );
        }
        // "-1" reads as an unknown flag to clap; refused all the same.
        assert!(parse(&["finish", "--rating", "-1"]).is_err());
        for bad in ["0", "6", "five", "3.5"] {
            assert_eq!(
                kind(&["finish", "--rating", bad]),
                ErrorKind::ValueValidation,
                "{bad}"
            );
        }
    }

    #[test]
    fn transfer_needs_exactly_one_target() {
        assert_eq!(
            plan(&["transfer", "--item", "B"]),
            window_action(
                None,
                WindowAction::Transfer {
                    to: Target::Item(ItemCode::new('B').unwrap())
                }
            )
        );
        assert_eq!(
            plan(&["transfer", "--window", "3", "--from", "1"]),
            window_action(
                Some(1),
                WindowAction::Transfer {
                    to: Target::Window(WindowNo(3))
                }
            )
        );
        assert_eq!(kind(&["transfer"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            kind(&["transfer", "--item", "B", "--window", "3"]),
            ErrorKind::ArgumentConflict
        );
    }

    #[test]
    fn pause_has_a_default_reason() {
        assert_eq!(
            plan(&["pause"]),
            window_action(
                None,
                WindowAction::Pause {
                    reason: "暂停服务".into()
                }
            )
        );
        assert_eq!(
            plan(&["pause", "--reason", "午休", "--window", "2"]),
            window_action(
                Some(2),
                WindowAction::Pause {
                    reason: "午休".into()
                }
            )
        );
    }

    #[test]
    fn login_needs_staff_and_post() {
        for post in ["A", "a"] {
            assert_eq!(
                plan(&["login", "--staff", "S1024", "--post", post]),
                window_action(
                    None,
                    WindowAction::Login {
                        staff: StaffId::new("S1024").unwrap(),
                        post: Post::A
                    }
                )
            );
        }
        assert!(matches!(
            plan(&["login", "--staff", "S1", "--post", "B", "--window", "4"]),
            Plan::Request(Request::Window {
                window: Some(WindowNo(4)),
                action: WindowAction::Login { post: Post::B, .. }
            })
        ));
        assert_eq!(
            kind(&["login", "--staff", "S1", "--post", "C"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            kind(&["login", "--staff", "zhang 3", "--post", "A"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["login", "--post", "A"]),
            ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn other_commands() {
        assert_eq!(
            plan(&["reinstate", "--ticket", "B007"]),
            Plan::Request(Request::Reinstate {
                ticket: ticket("B007")
            })
        );
        assert_eq!(kind(&["reinstate"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            plan(&["close-issuing"]),
            Plan::Request(Request::CloseIssuing)
        );
        assert_eq!(plan(&["open-issuing"]), Plan::Request(Request::OpenIssuing));
        assert_eq!(plan(&["status"]), Plan::Request(Request::Status));
        assert_eq!(plan(&["admin", "reload"]), Plan::Request(Request::Reload));
        assert_eq!(plan(&["admin", "health"]), Plan::Request(Request::Health));
        assert_eq!(plan(&["watch"]), Plan::Watch);
        assert_eq!(plan(&["notifications"]), Plan::Notifications { ack: false });
        assert_eq!(
            plan(&["notifications", "--ack"]),
            Plan::Notifications { ack: true }
        );
        assert_eq!(kind(&[]), ErrorKind::MissingSubcommand);
        // Bare `hallq` prints the help (still a usage error, status 2).
        let bare = Cli::try_parse_from(["hallq"]).unwrap_err();
        assert_eq!(
            bare.kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(bare.exit_code(), 2);
        assert_eq!(kind(&["dance"]), ErrorKind::InvalidSubcommand);
    }

    #[test]
    fn help_documents_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit status"));
        assert!(help.contains("3  cannot connect"));
        // The token's value must never show up in help.
        assert!(!help.contains("t0k3n"));
    }
}
