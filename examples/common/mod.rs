//! What the example servers share: their command-line flags (`--threads`, `--backend`,
//! counts and seconds), and how `main` reports a parse (usage on stdout and exit 0 for
//! `--help`, the error on stderr and exit 2 otherwise). Each example uses what it needs.
#![allow(dead_code)]

use std::process::ExitCode;
use std::time::Duration;

use event::{Backend, PerCore, SocketAddress, ToListenAddress};

/// The command line's flags and their values.
pub struct Flags<I> {
    args: I,
}

impl<I: Iterator<Item = String>> Flags<I> {
    pub fn new(args: I) -> Flags<I> {
        Flags { args }
    }

    /// The next flag.
    pub fn next_flag(&mut self) -> Option<String> {
        self.args.next()
    }

    /// The value after `flag`.
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.args.next().ok_or(format!("{flag} needs a value"))
    }
}

/// What an example's flags came to: a configuration, or `--help`.
pub enum Command<C> {
    Serve(C),
    Help,
}

/// The configuration, or the exit code after printing the usage (`--help`) or the error.
pub fn config_or_exit<C>(
    name: &str,
    usage: &str,
    parsed: Result<Command<C>, String>,
) -> Result<C, ExitCode> {
    match parsed {
        Ok(Command::Serve(c)) => Ok(c),
        Ok(Command::Help) => {
            println!("{usage}");
            Err(ExitCode::SUCCESS)
        }
        Err(msg) => {
            eprintln!("{name}: {msg}");
            Err(ExitCode::from(2))
        }
    }
}

/// The error of a flag that is not known.
pub fn unknown(flag: &str) -> String {
    format!("unknown flag {flag} (try --help)")
}

/// `IP:PORT` (any form `ToListenAddress` takes).
pub fn addr(flag: &str, v: &str) -> Result<SocketAddress, String> {
    v.to_listen_address().map_err(|e| format!("{flag}: {e}"))
}

/// `auto`, `epoll` or `io_uring`.
pub fn backend(flag: &str, v: &str) -> Result<Backend, String> {
    v.parse::<Backend>().map_err(|e| format!("{flag}: {e}"))
}

/// `N` loops (at least 1), or `auto`: one per core.
pub fn threads(flag: &str, v: &str) -> Result<usize, String> {
    match v {
        "auto" => Ok(PerCore::new().thread_count()),
        n => at_least_one(flag, n),
    }
}

/// A count that must be at least 1 (0 connections or 0 loops would serve nobody).
pub fn at_least_one(flag: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(0) if flag == "--threads" => Err(format!(
            "{flag}: must be at least 1, or auto for one per core (0 loops would serve nobody)"
        )),
        Ok(0) => Err(format!(
            "{flag}: must be at least 1 (0 would accept no connection)"
        )),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{flag}: {v:?}: {e}")),
    }
}

/// Seconds, fractions allowed.
pub fn secs(flag: &str, v: &str) -> Result<Duration, String> {
    let s: f64 = v.parse().map_err(|e| format!("{flag}: {v:?}: {e}"))?;
    Duration::try_from_secs_f64(s).map_err(|e| format!("{flag}: {e}"))
}

/// Seconds, more than 0 (an idle timeout of 0 would close every connection at once).
pub fn positive_secs(flag: &str, v: &str) -> Result<Duration, String> {
    let d = secs(flag, v)?;
    if d.is_zero() {
        return Err(format!("{flag}: must be more than 0 seconds"));
    }
    Ok(d)
}
