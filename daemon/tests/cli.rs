//! The `hallqd` binary's own command line: `--check`, exit codes, the setup
//! tools. (Being an integration test of this package also makes
//! `cargo test --workspace` build the `hallqd` binary the end-to-end tests
//! in `tests/` start.)

use std::process::Command;

fn hallqd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hallqd"))
}

fn config(name: &str) -> String {
    format!("{}/../config/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_bundled_configs_pass_check() {
    for name in ["demo.toml", "hallq.toml"] {
        let out = hallqd()
            .args(["--config", &config(name), "--check"])
            .output()
            .expect("run hallqd");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("config ok"));
    }
}

#[test]
fn a_bad_config_exits_64_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:1\"\nstate_dir = \"x\"\nlisten_port = 3\n",
    )
    .expect("write");
    let out = hallqd()
        .args(["--config", path.to_str().expect("utf-8 path"), "--check"])
        .output()
        .expect("run hallqd");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_port"));
}

#[test]
fn gen_token_prints_a_strong_token_and_the_lines_to_paste() {
    let out = hallqd()
        .args([
            "gen-token",
            "--role",
            "window",
            "--hall",
            "main",
            "--window",
            "3",
        ])
        .output()
        .expect("run hallqd");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("a token line");
    assert_eq!(token.len(), 64);
    assert!(text.contains(&format!("token = \"{token}\"")));
    assert!(text.contains("role = \"window\"") && text.contains("window = 3"));
    let refused = hallqd()
        .args(["gen-token", "--role", "window", "--hall", "main"])
        .output()
        .expect("run hallqd");
    assert_eq!(refused.status.code(), Some(2), "role window needs --window");
}
