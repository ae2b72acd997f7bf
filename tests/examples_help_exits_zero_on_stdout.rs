//! `--help` (and `-h`) of the examples is a requested help: the usage on stdout, exit 0.
mod common;

fn check_help(name: &str, bin: &std::path::Path, flag: &str, mentions: &[&str]) {
    let out = common::run_example(bin, &[flag]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name} {flag}: {:?}",
        out.status
    );
    assert!(stdout.starts_with("usage: "), "{name} {flag}: {stdout}");
    for m in mentions {
        assert!(
            stdout.contains(m),
            "{name} {flag}: {m} missing from {stdout}"
        );
    }
    assert!(
        out.stderr.is_empty(),
        "{name} {flag}: stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn echo_help_prints_every_flag_on_stdout_and_exits_zero() {
    let flags = [
        "--addr",
        "--max-connections",
        "--idle-timeout",
        "--drain-timeout",
        "--threads",
        "--backend",
    ];
    for flag in ["--help", "-h"] {
        check_help("echo", &common::echo_binary(), flag, &flags);
    }
}

#[test]
fn client_help_prints_usage_on_stdout_and_exits_zero() {
    for flag in ["--help", "-h"] {
        check_help(
            "client",
            &common::example_binary("client"),
            flag,
            &["--addr", "HOST:PORT"],
        );
    }
}

#[test]
fn an_unknown_flag_is_still_an_error_on_stderr() {
    for bin in [common::echo_binary(), common::example_binary("client")] {
        let out = common::run_example(&bin, &["--bogus"]);
        assert_eq!(out.status.code(), Some(2), "{}", bin.display());
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--bogus") && err.contains("--help"), "{err}");
    }
}
