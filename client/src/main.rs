//! `hallq`: the command-line client of hallq for kiosks, window terminals,
//! display boards, the SMS gateway bridge and hall managers. See
//! `hallq --help`; the work is done in [`cli`].

mod cli;

use std::process::ExitCode;

// One request at a time (or one stream): a single-threaded runtime is enough
// and starts faster at a kiosk.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    cli::main().await
}
