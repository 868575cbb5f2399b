//! Where a kiosk's slips go: a network printer on raw TCP (port 9100, the
//! JetDirect convention every Ethernet thermal printer follows), a device
//! file (`/dev/usb/lp0`, the Linux USB printer class driver), or the
//! browser's own print dialog for printers that only have an OS driver.
//!
//! Before a job a network printer is asked its status (DLE EOT 1 and 4);
//! one that answers "offline" or "paper out" gets no job, so the kiosk
//! knows at once that the slip did not print. A printer that does not
//! answer DLE EOT within [`STATUS_TIMEOUT`] is printed to anyway (many
//! cheap printers ignore it). A device file is written without a query:
//! the lp driver does not hand the printer's answers back reliably.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::escpos;

/// How long a printer has to answer a DLE EOT query.
pub const STATUS_TIMEOUT: Duration = Duration::from_millis(500);
/// How long connecting and sending a whole job may take.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(5);

/// The kiosk's printer (`--printer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printer {
    /// No printer: the number on the screen is the ticket.
    None,
    /// ESC/POS over raw TCP: `tcp:HOST:PORT` (`tcp:192.168.1.50:9100`).
    Tcp(String),
    /// ESC/POS into a device file: `device:/dev/usb/lp0`.
    Device(PathBuf),
    /// The browser prints the slip (`@media print`, 80 mm roll).
    Browser,
}

impl FromStr for Printer {
    type Err = String;
    fn from_str(s: &str) -> Result<Printer, String> {
        match s.split_once(':') {
            _ if s == "none" => Ok(Printer::None),
            _ if s == "browser" => Ok(Printer::Browser),
            Some(("tcp", addr)) if addr.rsplit_once(':').is_some() => {
                Ok(Printer::Tcp(addr.to_owned()))
            }
            Some(("tcp", addr)) => Ok(Printer::Tcp(format!("{addr}:9100"))),
            Some(("device", path)) if !path.is_empty() => Ok(Printer::Device(path.into())),
            _ => Err(format!(
                "{s:?}: expected none, browser, tcp:HOST[:PORT] or device:/dev/usb/lp0"
            )),
        }
    }
}

/// Why a slip did not print.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The printer could not be reached or the job not written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The printer said it cannot print now.
    #[error("{0}")]
    Status(&'static str),
    /// The printer took longer than [`JOB_TIMEOUT`].
    #[error("the printer did not take the job within {}s", JOB_TIMEOUT.as_secs())]
    Timeout,
}

impl Printer {
    /// Whether the kiosk sends ESC/POS itself.
    pub fn is_escpos(&self) -> bool {
        matches!(self, Printer::Tcp(_) | Printer::Device(_))
    }

    /// Sends `job`; `Ok` only once every byte is with the printer (or the
    /// lp driver).
    pub async fn print(&self, job: &[u8]) -> Result<(), PrintError> {
        let work = async {
            match self {
                Printer::Tcp(addr) => print_tcp(addr, job).await,
                Printer::Device(path) => {
                    let mut f = tokio::fs::OpenOptions::new().write(true).open(path).await?;
                    f.write_all(job).await?;
                    f.flush().await?;
                    f.sync_all().await.or_else(|e| {
                        // Character devices do not all implement fsync.
                        if e.raw_os_error() == Some(22) {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })?;
                    Ok(())
                }
                Printer::None | Printer::Browser => Ok(()),
            }
        };
        tokio::time::timeout(JOB_TIMEOUT, work)
            .await
            .map_err(|_| PrintError::Timeout)?
    }
}

async fn print_tcp(addr: &str, job: &[u8]) -> Result<(), PrintError> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    for query in [escpos::STATUS_PRINTER, escpos::STATUS_PAPER] {
        stream.write_all(&query).await?;
        let mut answer = [0u8; 1];
        match tokio::time::timeout(STATUS_TIMEOUT, stream.read(&mut answer)).await {
            // A printer that stays silent ignores DLE EOT: print anyway.
            Err(_) => break,
            Ok(Ok(0)) => {
                return Err(PrintError::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the printer closed the connection",
                )))
            }
            Ok(Ok(_)) => {
                if let Some(problem) = escpos::status_problem(query[2], answer[0]) {
                    return Err(PrintError::Status(problem));
                }
            }
            Ok(Err(e)) => return Err(e.into()),
        }
    }
    stream.write_all(job).await?;
    stream.flush().await?;
    // Half-close and wait a moment for the printer's side: a printer that
    // vanished with our bytes unread resets the connection, which must not
    // count as printed. One that keeps the connection open is fine.
    stream.shutdown().await?;
    let mut rest = [0u8; 64];
    let drained = async {
        loop {
            match stream.read(&mut rest).await {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                Err(e) => return Err(PrintError::Io(e)),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(1), drained)
        .await
        .unwrap_or(Ok(()))
}
