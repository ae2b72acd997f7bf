//! `event` with the wider ecosystem: this package only holds examples (`http`, `tls_echo`,
//! `chat`), their tests, the channel crates' test, and the runtime micro-benchmark against tokio
//! (`cargo bench -p event-ecosystem`).
//! It lives apart from the library so that building the library's own examples never compiles
//! hyper, rustls or tokio.

use std::fmt::Display;
use std::process::ExitCode;

/// The `main` of every example here: parse the flags (a usage error exits 2; `--help`, whose
/// message starts with "usage:", prints it on stdout and exits 0), run, and turn an
/// error into a message and exit code 1.
pub fn run_example<C, E: Display>(
    name: &str,
    parse: impl FnOnce() -> Result<C, String>,
    run: impl FnOnce(C) -> Result<(), E>,
) -> ExitCode {
    let config = match parse() {
        Ok(config) => config,
        // A requested help is not an error: stdout, exit 0.
        Err(msg) if msg.starts_with("usage:") => {
            println!("{msg}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
