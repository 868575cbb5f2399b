//! The `hallq` binary's command line without a daemon: help, exit codes,
//! usage errors. (Being an integration test of this package also makes
//! `cargo test --workspace` build the `hallq` binary the end-to-end tests
//! in `tests/` start.)

use std::process::Command;

fn hallq() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hallq"));
    for var in ["HALLQ_SERVER", "HALLQ_CERT", "HALLQ_TOKEN", "HALLQ_HALL"] {
        command.env_remove(var);
    }
    command
}

#[test]
fn help_lists_the_commands_and_exit_codes() {
    let out = hallq().arg("--help").output().expect("run hallq");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "issue",
        "call",
        "status",
        "watch",
        "notifications",
        "admin",
        "Exit status",
    ] {
        assert!(text.contains(word), "--help lacks {word}");
    }
}

#[test]
fn a_missing_token_is_a_usage_error() {
    let out = hallq().arg("status").output().expect("run hallq");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("token"));
}

#[test]
fn an_unreadable_certificate_exits_3_with_json_error() {
    let out = hallq()
        .args([
            "--token",
            "x",
            "--cert",
            "/nonexistent/cert.pem",
            "--json",
            "status",
        ])
        .output()
        .expect("run hallq");
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    assert!(json["error"]["code"].is_string(), "{json}");
}

#[test]
fn a_bad_address_among_several_is_a_usage_error_naming_it() {
    let out = hallq()
        .args([
            "--token",
            "x",
            "--server",
            "127.0.0.1:7878,hall-2:x",
            "status",
        ])
        .output()
        .expect("run hallq");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"hall-2:x\""), "{stderr}");
    // The environment variable takes the same list.
    let out = hallq()
        .env("HALLQ_SERVER", "127.0.0.1:7878,,127.0.0.1:7879")
        .args(["--token", "x", "status"])
        .output()
        .expect("run hallq");
    assert_eq!(out.status.code(), Some(2));
}
