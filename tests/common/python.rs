//! Python's socket module as the peer of a test (another implementation of the same system
//! calls): a `python3 -c` script started with its output captured, and the check of what it
//! printed. Where python3 is missing the test is skipped with a note.

use std::ffi::OsStr;
use std::process::{Child, Command, Stdio};

/// Starts `python3 -c script args...`; `None` (with a note on stdout) where python3 is missing.
pub fn spawn<A: AsRef<OsStr>>(script: &str, args: &[A]) -> Option<Child> {
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    match child {
        Ok(child) => Some(child),
        Err(_) => {
            println!("note: skipped, python3 is not installed");
            None
        }
    }
}

/// Waits for the script: it must exit successfully having printed `expected` (its stdout and
/// stderr are in the failure's message).
pub fn expect_output(child: Child, expected: &str) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == expected,
        "python: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
