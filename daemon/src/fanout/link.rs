//! The visitor's link (issue 18): the capability a ticket's QR code and
//! issue SMS carry to its phone page, `…/t/<token>`.
//!
//! A token is `yyyymmdd-A012-<mac>`: the business day, the ticket number
//! and HMAC-SHA256 over the hall, the day and the number under a key only
//! this hall's state directory holds (`visitor.key`, 32 random bytes made
//! once). Ticket numbers restart every day, so the day is part of what is
//! signed: yesterday's link to A012 names no ticket of today's and is
//! refused as expired; a token the key did not sign is refused as
//! invalid, whatever it looks like. The number is in the token only so
//! that a refusal can say which; the MAC alone is the capability, 256 bits
//! that cannot be guessed, and it is checked in constant time.

use std::io::{self, Write};
use std::path::Path;

use hallq_proto::types::TicketNo;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The key file in a hall's state directory.
pub const KEY_FILE: &str = "visitor.key";

const KEY_LEN: usize = 32;

/// A hall's link key.
pub struct VisitorLinks {
    key: hmac::Key,
}

impl std::fmt::Debug for VisitorLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitorLinks(***)")
    }
}

/// Why a token names no ticket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not made by this hall (forged, mistyped or cut short).
    #[error("this link was not made by the hall")]
    Invalid,
    /// Made by this hall on an earlier business day.
    #[error("this link is from business day {0}, not today's")]
    Expired(u32),
}

impl VisitorLinks {
    /// The key kept in `dir`, made (from the system's CSPRNG) and made
    /// durable the first time: written to a temporary file, fsynced,
    /// renamed into place, the directory fsynced, readable by the owner
    /// only. A key file of the wrong size is an error, never replaced:
    /// replacing it would break every link already printed.
    pub fn open(dir: &Path) -> io::Result<VisitorLinks> {
        let path = dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() == KEY_LEN => return Ok(Self::from_key(&bytes)),
            Ok(bytes) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} has {} bytes, not {KEY_LEN}: restore it from a backup \
                         (removing it makes every printed link invalid)",
                        path.display(),
                        bytes.len()
                    ),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(dir)?;
        let mut key = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| io::Error::other("the system's random source failed"))?;
        let tmp = dir.join(format!("{KEY_FILE}.tmp"));
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(&key)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(Self::from_key(&key))
    }

    fn from_key(key: &[u8]) -> VisitorLinks {
        VisitorLinks {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    fn message(hall: &str, day: u32, ticket: TicketNo) -> String {
        format!("hallq-visitor/1\n{hall}\n{day}\n{ticket}")
    }

    /// The token of `ticket` of business day `day` in `hall`.
    pub fn token(&self, hall: &str, day: u32, ticket: TicketNo) -> String {
        let tag = hmac::sign(&self.key, Self::message(hall, day, ticket).as_bytes());
        format!("{day}-{ticket}-{}", hex(tag.as_ref()))
    }

    /// The ticket `token` names, if this hall made it for business day
    /// `today`.
    pub fn check(&self, hall: &str, today: u32, token: &str) -> Result<TicketNo, LinkError> {
        // Bounded before any work: a token is about 80 characters.
        if token.len() > 128 {
            return Err(LinkError::Invalid);
        }
        let mut parts = token.splitn(3, '-');
        let (Some(day), Some(ticket), Some(mac)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(LinkError::Invalid);
        };
        let day: u32 = day.parse().map_err(|_| LinkError::Invalid)?;
        let ticket: TicketNo = ticket.parse().map_err(|_| LinkError::Invalid)?;
        let tag = unhex(mac).ok_or(LinkError::Invalid)?;
        hmac::verify(&self.key, Self::message(hall, day, ticket).as_bytes(), &tag)
            .map_err(|_| LinkError::Invalid)?;
        if day != today {
            return Err(LinkError::Expired(day));
        }
        Ok(ticket)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a12() -> TicketNo {
        "A012".parse().unwrap()
    }

    #[test]
    fn a_token_names_its_ticket_on_its_day_only() {
        let dir = tempfile::tempdir().unwrap();
        let links = VisitorLinks::open(dir.path()).unwrap();
        let token = links.token("main", 20261202, a12());
        assert!(token.starts_with("20261202-A012-"), "{token}");
        assert_eq!(links.check("main", 20261202, &token), Ok(a12()));
        assert_eq!(
            links.check("main", 20261203, &token),
            Err(LinkError::Expired(20261202))
        );
        // Another hall, another ticket, a flipped digit: not ours.
        assert_eq!(
            links.check("east", 20261202, &token),
            Err(LinkError::Invalid)
        );
        let other = token.replace("A012", "A013");
        assert_eq!(
            links.check("main", 20261202, &other),
            Err(LinkError::Invalid)
        );
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            links.check("main", 20261202, &flipped),
            Err(LinkError::Invalid)
        );
        for junk in [
            "",
            "A012",
            "20261202-A012",
            "20261202-A012-zz",
            &"9".repeat(500),
        ] {
            assert_eq!(links.check("main", 20261202, junk), Err(LinkError::Invalid));
        }
    }

    #[test]
    fn the_key_survives_a_restart_and_a_damaged_one_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let token = VisitorLinks::open(dir.path())
            .unwrap()
            .token("main", 20261202, a12());
        let again = VisitorLinks::open(dir.path()).unwrap();
        assert_eq!(again.check("main", 20261202, &token), Ok(a12()));
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        assert!(VisitorLinks::open(dir.path()).is_err());
        assert_eq!(std::fs::read(dir.path().join(KEY_FILE)).unwrap(), b"short");
    }
}
