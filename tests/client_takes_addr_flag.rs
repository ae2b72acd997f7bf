//! The line client takes the server as `--addr HOST:PORT` as well as positionally, and refuses
//! two servers or an unknown flag (exit status 2).
mod common;

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs the client with `args`, feeding it `input` then the end of stdin.
fn run_client(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(common::example_binary("client"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn client_connects_to_the_addr_flag() {
    let echo = common::EchoProcess::start(&[], &[]);
    let addr = echo.addr.to_string();
    for args in [vec!["--addr", addr.as_str()], vec![addr.as_str()]] {
        let out = run_client(&args, b"over --addr\n");
        assert!(
            out.status.success(),
            "{args:?}: {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "over --addr\n",
            "{args:?}"
        );
    }
}

#[test]
fn client_refuses_two_servers_and_a_missing_value() {
    for (args, says) in [
        (&["127.0.0.1:1", "127.0.0.1:2"][..], "one server only"),
        (
            &["--addr", "127.0.0.1:1", "127.0.0.1:2"][..],
            "one server only",
        ),
        (&["--addr"][..], "--addr needs a value"),
    ] {
        let out = common::run_example(&common::example_binary("client"), args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
