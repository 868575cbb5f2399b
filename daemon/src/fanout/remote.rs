//! 线上取号's one-time codes (issue 18 item 4): a visitor outside the hall
//! asks for a number with a mainland mobile; the hall sends six random
//! digits by SMS and gives the walk-in ticket to whoever types them back.
//!
//! The codes live in memory only, each as an HMAC tag under a key made at
//! start (never the digits themselves), with its expiry and tries left.
//! Not journaled on purpose: a code is good for minutes
//! (`remote_code_seconds`, 5 by default), so after a restart the visitor
//! simply asks again, and a journal holding codes would only be something
//! more to protect. The ticket a code buys is journaled as any other
//! (it is issued through the dispatch core like the kiosk's).
//!
//! Limits against hoarding and guessing (SPEC §6): a phone may ask for
//! `remote_codes_per_phone` codes per 10 minutes; a code allows
//! [`RemoteSettings::TRIES`] wrong tries and is void after them (a
//! million codes, three tries: a guess succeeds once in 333,333); a new
//! code replaces the one before.

use std::collections::{HashMap, VecDeque};

use hallq_proto::types::{ItemCode, Timestamp};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::RemoteSettings;

/// The window of the per-phone code limit.
const ASK_WINDOW_MS: u64 = 10 * 60 * 1000;

/// Phones remembered before quiet ones are forgotten (bounded memory).
const PHONES_KEPT: usize = 10_000;

/// Why no code was sent, or a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The phone asked for too many codes in the last 10 minutes.
    #[error("this phone asked for {0} codes in the last 10 minutes")]
    RateLimited(u32),
    /// No code is pending for that phone and item, or it expired.
    #[error("no code pending for this phone and item (expired or never sent)")]
    Expired,
    /// Not the code sent; `0` tries are left when it is void now.
    #[error("wrong code ({0} tries left)")]
    Wrong(u32),
    /// The code was tried wrong too often and is void.
    #[error("the code was tried wrong too many times")]
    TriesUsed,
    /// The system's random source failed.
    #[error("no random source")]
    Random,
}

struct Pending {
    tag: hmac::Tag,
    expires: Timestamp,
    tries_left: u32,
}

/// One hall's pending codes and who asked when.
pub struct RemoteCodes {
    key: hmac::Key,
    rng: SystemRandom,
    pending: HashMap<(String, ItemCode), Pending>,
    asked: HashMap<String, VecDeque<Timestamp>>,
}

impl std::fmt::Debug for RemoteCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteCodes({} pending)", self.pending.len())
    }
}

impl Default for RemoteCodes {
    fn default() -> Self {
        RemoteCodes::new()
    }
}

impl RemoteCodes {
    /// No codes yet, under a fresh key.
    pub fn new() -> RemoteCodes {
        let rng = SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, b"no random source"));
        RemoteCodes {
            key,
            rng,
            pending: HashMap::new(),
            asked: HashMap::new(),
        }
    }

    fn tag(&self, phone: &str, item: ItemCode, code: &str) -> hmac::Tag {
        hmac::sign(&self.key, message(phone, item, code).as_bytes())
    }

    /// A new code for `phone` and `item` at `now`, replacing any before,
    /// unless the phone is over its limit.
    pub fn issue(
        &mut self,
        phone: &str,
        item: ItemCode,
        now: Timestamp,
        settings: RemoteSettings,
    ) -> Result<String, CodeError> {
        if self.asked.len() > PHONES_KEPT {
            self.asked.retain(|_, t| {
                t.back()
                    .is_some_and(|t| now.0.saturating_sub(t.0) < ASK_WINDOW_MS)
            });
            self.pending.retain(|_, p| p.expires.0 > now.0);
        }
        let times = self.asked.entry(phone.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.0.saturating_sub(t.0) >= ASK_WINDOW_MS)
        {
            times.pop_front();
        }
        if times.len() >= settings.codes_per_phone as usize {
            return Err(CodeError::RateLimited(times.len() as u32));
        }
        let mut bytes = [0u8; 4];
        self.rng.fill(&mut bytes).map_err(|_| CodeError::Random)?;
        // 2^32 mod 10^6 skews the first 967,296 codes by one in 4,294:
        // negligible against three tries.
        let code = format!("{:06}", u32::from_le_bytes(bytes) % 1_000_000);
        times.push_back(now);
        let pending = Pending {
            tag: self.tag(phone, item, &code),
            expires: Timestamp(now.0 + u64::from(settings.code_secs) * 1000),
            tries_left: RemoteSettings::TRIES,
        };
        self.pending.insert((phone.to_owned(), item), pending);
        Ok(code)
    }

    /// Checks `code` for `phone` and `item` at `now`: the right one is
    /// used up; a wrong one costs a try.
    pub fn check(
        &mut self,
        phone: &str,
        item: ItemCode,
        code: &str,
        now: Timestamp,
    ) -> Result<(), CodeError> {
        let key = (phone.to_owned(), item);
        let Some(p) = self.pending.get_mut(&key) else {
            return Err(CodeError::Expired);
        };
        if p.expires.0 <= now.0 {
            self.pending.remove(&key);
            return Err(CodeError::Expired);
        }
        if p.tries_left == 0 {
            return Err(CodeError::TriesUsed);
        }
        // Constant time: the tag comparison does not leak how much matched.
        if hmac::verify(
            &self.key,
            message(phone, item, code).as_bytes(),
            p.tag.as_ref(),
        )
        .is_ok()
        {
            self.pending.remove(&key);
            return Ok(());
        }
        p.tries_left -= 1;
        Err(CodeError::Wrong(p.tries_left))
    }
}

/// What a code's tag signs: the code is good for this phone and item only.
fn message(phone: &str, item: ItemCode, code: &str) -> String {
    format!("{phone}|{item}|{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RemoteSettings {
        RemoteSettings {
            enabled: true,
            ..RemoteSettings::default()
        }
    }

    fn item() -> ItemCode {
        "A".parse().unwrap()
    }

    #[test]
    fn the_right_code_works_once() {
        let mut c = RemoteCodes::new();
        let code = c
            .issue("13800138000", item(), Timestamp(0), settings())
            .unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(
            c.check("13800138000", item(), &code, Timestamp(1000)),
            Ok(())
        );
        assert_eq!(
            c.check("13800138000", item(), &code, Timestamp(1000)),
            Err(CodeError::Expired)
        );
    }

    #[test]
    fn three_wrong_tries_void_the_code() {
        let mut c = RemoteCodes::new();
        let code = c
            .issue("13800138000", item(), Timestamp(0), settings())
            .unwrap();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for left in [2, 1, 0] {
            assert_eq!(
                c.check("13800138000", item(), wrong, Timestamp(1)),
                Err(CodeError::Wrong(left))
            );
        }
        assert_eq!(
            c.check("13800138000", item(), &code, Timestamp(2)),
            Err(CodeError::TriesUsed)
        );
    }

    #[test]
    fn codes_expire_and_are_limited_per_phone() {
        let mut c = RemoteCodes::new();
        let code = c
            .issue("13800138000", item(), Timestamp(0), settings())
            .unwrap();
        assert_eq!(
            c.check("13800138000", item(), &code, Timestamp(300_000)),
            Err(CodeError::Expired)
        );
        c.issue("13800138000", item(), Timestamp(1), settings())
            .unwrap();
        c.issue("13800138000", item(), Timestamp(2), settings())
            .unwrap();
        assert_eq!(
            c.issue("13800138000", item(), Timestamp(3), settings()),
            Err(CodeError::RateLimited(3))
        );
        // Another phone is not held back; the first is again 10 minutes on.
        c.issue("13900139000", item(), Timestamp(3), settings())
            .unwrap();
        c.issue("13800138000", item(), Timestamp(600_000), settings())
            .unwrap();
    }

    #[test]
    fn a_code_is_for_its_item() {
        let mut c = RemoteCodes::new();
        let code = c
            .issue("13800138000", item(), Timestamp(0), settings())
            .unwrap();
        assert_eq!(
            c.check("13800138000", "B".parse().unwrap(), &code, Timestamp(1)),
            Err(CodeError::Expired)
        );
    }
}
