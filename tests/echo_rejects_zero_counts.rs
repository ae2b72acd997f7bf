//! `--max-connections 0` (which would accept nothing), `--threads 0` and `--idle-timeout 0` are
//! refused with a clear message and exit status 2, before anything listens.
mod common;

fn rejected(flag: &str, value: &str, says: &str) {
    let out = common::run_example(
        &common::echo_binary(),
        &["--addr", "127.0.0.1:0", flag, value],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{flag} {value}: {:?}: {err}",
        out.status
    );
    assert!(
        err.contains(flag) && err.contains(says),
        "{flag} {value}: {err}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "{flag} {value} started a server"
    );
}

#[test]
fn max_connections_zero_is_rejected() {
    rejected("--max-connections", "0", "at least 1");
}

#[test]
fn threads_zero_is_rejected() {
    rejected("--threads", "0", "at least 1");
}

#[test]
fn idle_timeout_zero_is_rejected() {
    rejected("--idle-timeout", "0", "more than 0");
}

#[test]
fn one_is_accepted() {
    let echo = common::EchoProcess::start(&[], &["--max-connections", "1", "--threads", "1"]);
    assert!(echo.banner.contains("listening on"), "{}", echo.banner);
}
