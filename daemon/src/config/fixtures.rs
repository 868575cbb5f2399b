//! The config documents the unit tests of this room build on: a valid base
//! (`TOP`, one kiosk token, one hall) and ways to vary and parse it.

use super::{Config, ConfigError};

pub(super) const TOP: &str = "listen = \"127.0.0.1:7878\"\nstate_dir = \"/tmp/hallq-test\"\n";
pub(super) const KIOSK: &str = r#"
[[token]]
token = "kiosk-token-0123456789"
role = "kiosk"
hall = "main"
"#;
pub(super) const HALL: &str = r#"
[[hall]]
id = "main"
name = "测试大厅"
[[hall.item]]
code = "A"
name = "社保"
avg_service_secs = 300
[[hall.item]]
code = "B"
name = "医保"
avg_service_secs = 240
[[hall.window]]
number = 1
items = ["A"]
[[hall.window]]
number = 2
universal = true
"#;

/// A config document: the valid base with `top` added to the top-level
/// keys and `tokens`/`halls` in place of the default sections.
pub(super) fn doc(top: &str, tokens: &str, halls: &str) -> String {
    format!("{TOP}{top}\n{tokens}\n{halls}")
}

pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, "test.toml")
}

pub(super) fn error_of(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}
