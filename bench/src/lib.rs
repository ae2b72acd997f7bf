//! Shared code for the `event` benchmark harness: argument helpers, the
//! single-threaded mio ping-pong load generator, a log-linear latency
//! histogram, /proc readers, server child processes, small statistics helpers and the run queue
//! of the task-per-connection floors; the
//! `--http` benchmark (servers' handler, HTTP load generator, wrk cross-check) in [`http`].

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod hist;
pub mod hostile;
pub mod http;
pub mod load;
pub mod pace;
pub mod procfs;
pub mod server;
pub mod stats;
pub mod tasks;
pub mod udp_load;

/// Returns the value following `--name` (or `--name=value`) on the command
/// line; the last occurrence wins (so wrappers can pass defaults first).
pub fn arg_value(name: &str) -> Option<String> {
    let flag = format!("--{name}");
    let mut it = std::env::args().skip(1);
    let mut found = None;
    while let Some(a) = it.next() {
        if a == flag {
            found = it.next();
        } else if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            found = Some(v.to_string());
        }
    }
    found
}

/// The `--addr` flag every echo server takes (default 127.0.0.1:7000).
pub fn server_addr() -> std::net::SocketAddr {
    let a = arg_value("addr").unwrap_or_else(|| "127.0.0.1:7000".to_string());
    a.parse().unwrap_or_else(|e| {
        eprintln!("bad --addr {a:?}: {e}");
        std::process::exit(2)
    })
}

/// What a reference server listens on, from its flags: `--path PATH` a Unix stream socket,
/// `--udp` a UDP socket on `--addr`, else TCP on `--addr` (the harness passes these).
pub enum Listen {
    Tcp(std::net::SocketAddr),
    Udp(std::net::SocketAddr),
    Unix(std::path::PathBuf),
}

pub fn server_listen() -> Listen {
    if let Some(path) = arg_value("path") {
        // A stale file from an earlier run would make the bind fail.
        let _ = std::fs::remove_file(&path);
        Listen::Unix(path.into())
    } else if std::env::args().any(|a| a == "--udp") {
        Listen::Udp(server_addr())
    } else {
        Listen::Tcp(server_addr())
    }
}

/// Largest UDP payload (IPv4): the reference servers' datagram buffers hold any datagram whole.
pub const MAX_DATAGRAM: usize = 65_507;

/// Size of the per-connection read buffer used by all reference servers.
pub const BUF_SIZE: usize = 16 * 1024;
