//! Client tokens and the other secrets in a config: the masked [`Secret`]
//! newtype, a token kept as written or as its SHA-256, the checks on
//! `[[token]]` entries, and [`Config::grant_for`], the constant-time lookup
//! that authenticates a client.
//!
//! Nothing here prints a secret: [`Secret`]'s `Debug` and `Display` say
//! `***`, and problems name a token by its place in the file, not its text.

use std::collections::HashMap;
use std::fmt;

use hallq_proto::types::{Role, WindowNo};
use serde::Deserialize;

use super::{Config, HallConfig};

/// Shortest token accepted. A token is the only thing that stops anyone on
/// the hall's network from calling tickets or reading visitors' data, so it
/// must not be guessable: 16 characters of `openssl rand -hex` is 64 bits.
pub const MIN_TOKEN_LEN: usize = 16;

/// `export_key`: a [`Secret`] compared in constant time.
#[derive(Debug, Clone)]
pub struct ExportKey(pub Secret);

impl PartialEq for ExportKey {
    fn eq(&self, other: &ExportKey) -> bool {
        self.0.ct_eq(other.0.expose().as_bytes())
    }
}

/// Shortest `export_key` accepted: a guessable key would let anyone with
/// an export test phone numbers against it.
pub const MIN_EXPORT_KEY_LEN: usize = 16;

/// One `[[token]]`: a client's secret and what it grants.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The token the client presents (or its digest).
    pub token: TokenCheck,
    /// What the client may do.
    pub role: Role,
    /// The hall it acts in; `None` only for an admin, meaning every hall.
    pub hall: Option<String>,
    /// For role `window` (and only then), the window it acts as.
    pub window: Option<WindowNo>,
}

/// How a config keeps a token: as written, or only its SHA-256 (so the
/// file does not hold the secret itself).
#[derive(Debug, Clone)]
pub enum TokenCheck {
    /// `token = "…"`.
    Plain(Secret),
    /// `token_sha256 = "<64 hex digits>"`: the digest of the token.
    Sha256(Secret),
}

impl TokenCheck {
    /// Whether `presented` is this token, in constant time.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        match self {
            TokenCheck::Plain(secret) => secret.ct_eq(presented),
            TokenCheck::Sha256(digest) => digest.ct_eq(sha256_hex(presented).as_bytes()),
        }
    }

    /// The stored form, for telling two entries apart.
    fn stored(&self) -> &str {
        match self {
            TokenCheck::Plain(secret) | TokenCheck::Sha256(secret) => secret.expose(),
        }
    }
}

/// A new token: 32 random bytes from the system's CSPRNG, as hex (64
/// characters, far beyond [`MIN_TOKEN_LEN`]).
pub fn random_token() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random number generator failed".to_owned())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl TokenGrant {
    /// Whether this grant is the same as `other` (token, role, hall, window).
    pub fn same_as(&self, other: &TokenGrant) -> bool {
        self.token.stored() == other.token.stored()
            && self.role == other.role
            && self.hall == other.hall
            && self.window == other.window
    }

    /// Whether this grant reaches `hall`: its own hall, or any for an admin
    /// without one.
    pub fn covers_hall(&self, hall: &str) -> bool {
        match &self.hall {
            Some(own) => own == hall,
            None => self.role == Role::Admin,
        }
    }
}

/// A secret string (a client token). `Debug` and `Display` print `***`, as
/// rathole's `MaskedString` does, so it cannot leak through a log line or an
/// error; [`Secret::expose`] is the one way to read it. There is no
/// `PartialEq` on purpose: compare with [`Secret::ct_eq`].
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Use only to compare or to hand to whatever needs
    /// it; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` equals the secret, in time that depends only on
    /// `presented.len()`: every presented byte is compared whatever earlier
    /// bytes did, so response timing does not tell an attacker how much of a
    /// guess was right. A length mismatch is folded into the same result
    /// rather than returned early.
    pub fn ct_eq(&self, presented: &[u8]) -> bool {
        #[cfg(test)]
        token_tests::CT_EQ_CALLS.with(|n| n.set(n.get() + 1));
        let ours = self.0.as_bytes();
        let mut diff = u8::from(ours.len() != presented.len());
        for (i, &byte) in presented.iter().enumerate() {
            // Past our end compare against 0; the length flag above already
            // makes the result false.
            diff |= ours.get(i).copied().unwrap_or(0) ^ byte;
        }
        // Keep the optimiser from turning the fold back into an early exit.
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Config {
    /// The grant whose token is `presented`, if any. Every token is compared
    /// in constant time and the scan does not stop at a match, so timing does
    /// not reveal which token, or how much of one, was guessed.
    pub fn grant_for(&self, presented: &[u8]) -> Option<&TokenGrant> {
        let mut found = None;
        for grant in &self.tokens {
            if grant.token.accepts(presented) && found.is_none() {
                found = Some(grant);
            }
        }
        found
    }
}

/// One `[[token]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    pub(super) token: Option<Secret>,
    pub(super) token_sha256: Option<Secret>,
    pub(super) role: Role,
    pub(super) hall: Option<String>,
    pub(super) window: Option<WindowNo>,
}

pub(super) fn validate_tokens(
    raw: Vec<RawToken>,
    halls: &[HallConfig],
    problems: &mut Vec<String>,
) -> Vec<TokenGrant> {
    if raw.is_empty() {
        problems.push(
            "no [[token]] is defined: every client authenticates with a token, \
             so no kiosk, window or display could connect"
                .to_owned(),
        );
    }
    // Tokens are secret, so problems name a token by its place in the file
    // (1-based, as people count) and its role, never by its text.
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (i, t) in raw.iter().enumerate() {
        let n = i + 1;
        let label = format!("[[token]] #{n} (role {})", t.role);
        let text = match (&t.token, &t.token_sha256) {
            (Some(plain), None) => {
                let text = plain.expose();
                let len = text.chars().count();
                if len < MIN_TOKEN_LEN {
                    problems.push(format!(
                        "{label}: token is {len} characters; use at least {MIN_TOKEN_LEN} \
                         random ones (e.g. `hallqd gen-token`) so it cannot be guessed"
                    ));
                }
                if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    problems.push(format!(
                        "{label}: token contains spaces or control characters (a copy-paste slip?)"
                    ));
                }
                text
            }
            (None, Some(digest)) => {
                let text = digest.expose();
                if text.len() != 64
                    || !text
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    problems.push(format!(
                        "{label}: token_sha256 must be 64 lower-case hex digits (as `hallqd gen-token` prints)"
                    ));
                }
                text
            }
            (Some(_), Some(_)) => {
                problems.push(format!("{label}: give token or token_sha256, not both"));
                continue;
            }
            (None, None) => {
                problems.push(format!("{label}: token (or token_sha256) is missing"));
                continue;
            }
        };
        if let Some(&first) = first_seen.get(text) {
            problems.push(format!(
                "[[token]] #{first} and #{n} are the same token: give each client its own, \
                 so clients can be told apart and one can be revoked alone"
            ));
        } else {
            first_seen.insert(text, n);
        }

        let hall = match &t.hall {
            None if t.role == Role::Admin => None,
            None => {
                problems.push(format!(
                    "{label}: hall is missing (only role admin may leave it out, \
                     meaning every hall)"
                ));
                None
            }
            Some(id) => match halls.iter().find(|h| h.id == *id) {
                Some(hall) => Some(hall),
                None => {
                    problems.push(format!("{label}: hall {id:?} is not defined"));
                    None
                }
            },
        };

        match (t.role, t.window) {
            (Role::Window, None) => problems.push(format!(
                "{label}: window is missing: a window terminal's token names its window"
            )),
            (Role::Window, Some(number)) => {
                // Without a known hall there is nothing to check the window
                // against; that problem is already reported.
                if let Some(hall) = hall {
                    if !hall.spec.windows.iter().any(|w| w.number == number) {
                        problems.push(format!(
                            "{label}: window {number} is not defined in hall {:?}",
                            hall.id
                        ));
                    }
                }
            }
            (role, Some(number)) => problems.push(format!(
                "{label}: window = {number} is only for role window, not {role}"
            )),
            (_, None) => {}
        }
    }

    // Entries with no token at all were reported above; a config with
    // problems is refused as a whole anyway.
    raw.into_iter()
        .filter_map(|t| {
            let token = match (t.token, t.token_sha256) {
                (Some(plain), _) => TokenCheck::Plain(plain),
                (None, Some(digest)) => TokenCheck::Sha256(digest),
                (None, None) => return None,
            };
            Some(TokenGrant {
                token,
                role: t.role,
                hall: t.hall,
                window: t.window,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn admin_may_omit_the_hall_and_others_are_confined() {
        let tokens = format!(
            "{KIOSK}[[token]]\ntoken = \"admin-token-0123456789\"\nrole = \"admin\"\n\
             [[token]]\ntoken = \"window-token-0123456789\"\nrole = \"window\"\nhall = \"main\"\nwindow = 2\n"
        );
        let c = parse(&doc("", &tokens, HALL)).unwrap();
        let admin = c.grant_for(b"admin-token-0123456789").unwrap();
        assert_eq!((admin.role, admin.hall.as_deref()), (Role::Admin, None));
        assert!(admin.covers_hall("anything"));
        let window = c.grant_for(b"window-token-0123456789").unwrap();
        assert_eq!(window.window, Some(WindowNo(2)));
        assert!(window.covers_hall("main") && !window.covers_hall("east"));
        assert!(c.grant_for(b"window-token-012345678").is_none());
        assert!(c.grant_for(b"").is_none());
    }

    #[test]
    fn secrets_never_show() {
        let s = Secret::new("hunter2-hunter2-hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "hunter2-hunter2-hunter2");

        let demo = Config::demo(PathBuf::from("state"));
        let debug = format!("{demo:?}");
        assert!(debug.contains("***"));
        for t in &demo.tokens {
            assert!(!debug.contains(t.token.stored()), "token leaked into Debug");
        }
        assert!(!debug.contains("demo-"), "token text leaked into Debug");

        // Nor do error messages quote a token, even a bad one.
        let err = error_of(&doc("", &format!("{KIOSK}{KIOSK}"), HALL));
        assert!(err.contains("same token"), "{err}");
        assert!(!err.contains("kiosk-token-0123456789"), "{err}");
        let err = error_of(&doc(
            "",
            &KIOSK.replace("kiosk-token-0123456789", "tiny"),
            HALL,
        ));
        assert!(
            err.contains("token is 4 characters") && !err.contains("tiny"),
            "{err}"
        );
    }

    #[test]
    fn a_token_may_be_kept_as_its_sha256() {
        let token = "window-token-kept-hashed-01";
        let text = doc(
            "metrics_listen = \"127.0.0.1:9478\"",
            &format!(
                "[[token]]\ntoken_sha256 = \"{}\"\nrole = \"kiosk\"\nhall = \"main\"",
                sha256_hex(token.as_bytes())
            ),
            HALL,
        );
        let config = parse(&text).unwrap();
        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9478".parse().unwrap())
        );
        assert!(config.grant_for(token.as_bytes()).is_some());
        assert!(config.grant_for(b"window-token-kept-hashed-02").is_none());
        assert!(
            config
                .grant_for(sha256_hex(token.as_bytes()).as_bytes())
                .is_none(),
            "the digest itself is no token"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ct_eq_compares_whole_tokens() {
        let s = Secret::new("0123456789abcdef");
        assert!(s.ct_eq(b"0123456789abcdef"));
        assert!(!s.ct_eq(b"0123456789abcdeF"));
        assert!(!s.ct_eq(b"X123456789abcdef"));
        // Length mismatches: a prefix, an extension, nothing.
        assert!(!s.ct_eq(b"0123456789abcde"));
        assert!(!s.ct_eq(b"0123456789abcdef0"));
        assert!(!s.ct_eq(b""));
        // An extension by NUL bytes must not pass as "compared against 0".
        assert!(!s.ct_eq(b"0123456789abcdef\0"));
        assert!(Secret::new("").ct_eq(b""));
    }
}

/// Issue 10 item 5: `grant_for` compares the presented token with every
/// configured one, whether or not an earlier one matched.
#[cfg(test)]
mod token_tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        /// How many times [`Secret::ct_eq`] ran on this thread.
        pub(super) static CT_EQ_CALLS: Cell<usize> = const { Cell::new(0) };
    }

    fn comparisons(f: impl FnOnce()) -> usize {
        CT_EQ_CALLS.with(|n| n.set(0));
        f();
        CT_EQ_CALLS.with(Cell::get)
    }

    const TOKENS: [&str; 4] = [
        "kiosk-token-0123456789",
        "window-token-0123456789",
        "display-token-0123456789",
        "admin-token-0123456789",
    ];

    fn config() -> Config {
        let text = format!(
            "listen = \"127.0.0.1:7878\"\nstate_dir = \"/tmp/hallq-test\"\n\
             [[token]]\ntoken = {:?}\nrole = \"kiosk\"\nhall = \"main\"\n\
             [[token]]\ntoken = {:?}\nrole = \"window\"\nhall = \"main\"\nwindow = 1\n\
             [[token]]\ntoken = {:?}\nrole = \"display\"\nhall = \"main\"\n\
             [[token]]\ntoken_sha256 = {:?}\nrole = \"admin\"\n\
             [[hall]]\nid = \"main\"\nname = \"大厅\"\n\
             [[hall.item]]\ncode = \"A\"\nname = \"社保\"\navg_service_secs = 300\n\
             [[hall.window]]\nnumber = 1\nuniversal = true\n",
            TOKENS[0],
            TOKENS[1],
            TOKENS[2],
            sha256_hex(TOKENS[3].as_bytes()),
        );
        Config::from_toml_str(&text, "test.toml").unwrap()
    }

    #[test]
    fn every_token_is_compared_whatever_matches() {
        let c = config();
        assert_eq!(c.tokens.len(), TOKENS.len());
        // The first, a middle, the last (hashed) token, and none at all:
        // always one comparison per configured token, no early exit.
        for presented in [
            TOKENS[0],
            TOKENS[1],
            TOKENS[3],
            "no-such-token-0123456789",
            "",
        ] {
            let n = comparisons(|| {
                let _ = c.grant_for(presented.as_bytes());
            });
            assert_eq!(n, TOKENS.len(), "{presented:?}");
        }
    }

    #[test]
    fn near_misses_are_refused() {
        let c = config();
        for token in TOKENS {
            assert!(c.grant_for(token.as_bytes()).is_some(), "{token}");
            let bytes = token.as_bytes();
            // Every proper prefix, including the empty one.
            for end in 0..bytes.len() {
                assert!(
                    c.grant_for(&bytes[..end]).is_none(),
                    "prefix {end} of {token}"
                );
            }
            // The token plus one byte.
            let mut longer = bytes.to_vec();
            longer.push(b'0');
            assert!(c.grant_for(&longer).is_none(), "{token} + 1 byte");
            // One byte changed, at the first, a middle and the last place.
            for at in [0, bytes.len() / 2, bytes.len() - 1] {
                let mut changed = bytes.to_vec();
                changed[at] ^= 0x01;
                assert!(c.grant_for(&changed).is_none(), "{token} changed at {at}");
            }
        }
        // The stored digest of a hashed token is not itself a token.
        let digest = sha256_hex(TOKENS[3].as_bytes());
        assert!(c.grant_for(digest.as_bytes()).is_none());
    }
}
