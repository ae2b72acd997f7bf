//! The harness's command line: options, usage, and the server specs they resolve to.

use event_bench::server::{Spec, Transport};
use event_bench::{arg_value, hostile, http, procfs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The two runs of the library's echo example: (server name, EVENT_BACKEND value).
pub const OURS_VARIANTS: &[(&str, &str)] = &[("ours_epoll", "epoll"), ("ours_uring", "io_uring")];
/// The same two variants of the `--base` build (a change's "before").
pub const BASE_VARIANTS: &[(&str, &str)] = &[("base_epoll", "epoll"), ("base_uring", "io_uring")];

pub fn is_ours(name: &str) -> bool {
    OURS_VARIANTS.iter().any(|(n, _)| *n == name)
}

/// The servers that have a UDP echo (`--udp`) and a Unix stream echo (`--unix`).
const UDP_SERVERS: &[&str] = &[
    "ours_epoll",
    "ours_uring",
    "base_epoll",
    "base_uring",
    "tokio_ct",
    "tokio_ct2",
    "smol_local",
    "monoio",
    "mio_loop",
    "uring_loop",
    "uring_loop_plain",
];
const UNIX_SERVERS: &[&str] = &[
    "ours_epoll",
    "ours_uring",
    "base_epoll",
    "base_uring",
    "tokio_ct",
    "tokio_ct2",
    "smol_local",
    "mio_loop",
    "uring_loop",
    "uring_loop_plain",
];

pub struct Opts {
    /// `--udp` / `--unix`: what the servers of the load runs serve.
    pub transport: Transport,
    pub seconds: f64,
    pub window: Duration,
    /// `--rate R`: each server is offered R messages/s (paced); None: closed loop.
    pub rate: Option<u32>,
    pub configs: Vec<(usize, usize)>,
    pub servers: Vec<Spec>,
    pub syscalls: bool,
    pub idle: bool,
    /// `--churn`: connections opened and closed, instead of messages on open connections.
    pub churn: bool,
    pub idle_conns: usize,
    pub idle_servers: Vec<Spec>,
    /// `--hostile`: the hostile-client scenarios instead of the load runs.
    pub hostile: Option<hostile::Opts>,
    /// `--http`: the HTTP benchmark instead of the echo load runs.
    pub http: Option<http::Opts>,
    /// `--multicore N`: N, else None (single-core mode).
    pub multicore: Option<usize>,
    /// taskset CPU list for the servers ("0", or "0-(N-1)" with --multicore).
    pub server_cpus: String,
    /// CPUs for the load generator; empty = left unpinned.
    pub loadgen_cpus: Vec<usize>,
    /// Reference servers of the ratio columns.
    pub refs: Vec<&'static str>,
}

pub fn has_flag(name: &str) -> bool {
    std::env::args().skip(1).any(|a| a == format!("--{name}"))
}

fn usage() -> ! {
    println!(
        "harness: interleaved-window CPU-per-message benchmark of echo servers

Options:
  --seconds F        measured seconds per configuration (default 25)
  --window-ms N      window length per server (default 100)
  --rate R           TCP/Unix: offer each server R messages/s, paced (each connection every
                     CONNS/R s, latency from each message's scheduled start) instead of a closed loop
  --configs LIST     e.g. 1x64,50x64,500x64,50x16384 (the default)
  --servers LIST     subset/order of: ours_epoll,ours_uring,tokio_ct,tokio_mt,smol_local,monoio,
                     mio_loop,mio_tasks,uring_loop,uring_loop_plain,uring_tasks,tokio_ct2; `ours` = ours_epoll,ours_uring
                     (default: ours,tokio_ct,tokio_mt,smol_local,monoio,mio_loop,uring_loop; tokio_ct2 stands
                     in for ours when ours' binary is missing). ours_epoll / ours_uring = the echo
                     example with EVENT_BACKEND=epoll / io_uring; uring_loop_plain = uring_loop
                     --plain (no direct descriptors, no registered ring fd); uring_tasks / mio_tasks =
                     uring_loop / mio_loop with a task per connection (TCP only)
  --ours PATH        the library's echo example (default <repo>/target/release/examples/echo, the repo
                     this bench/ directory was built in)
  --base PATH        another build of the echo example (a change's \"before\"), run beside ours as
                     base_epoll / base_uring, so before and after are measured side by side
  --udp              UDP echo instead of TCP: ours = the udp_echo example beside --ours (and --base),
                     the reference servers with --udp; CONNSxSIZE = that many UDP sockets sending
                     SIZE-byte datagrams (each verified; lost ones retried after 200 ms, counted in
                     the `lost` column); default configs 50x64, servers
                     ours,tokio_ct,smol_local,monoio,mio_loop,uring_loop
  --unix             stream echo over Unix-domain sockets: ours = the unix_echo example beside --ours
                     (and --base), the reference servers with --path; default configs 50x64,
                     servers ours,tokio_ct,smol_local,mio_loop,uring_loop
  --syscalls         one extra window per server under `perf stat -e 'syscalls:sys_enter_*'`
  --idle             memory per idle connection instead of the load runs
  --churn            connection churn instead of the load runs: each window opens connections
                     one after another (connect, 64 B echoed, orderly close by the client) and
                     reports the server's CPU per connection
  --idle-conns N     connections for --idle (default 19000)
  --idle-servers L   servers for --idle (default ours,tokio_ct, i.e. ours_epoll,ours_uring,tokio_ct)
  --self-check       only tokio_ct vs tokio_ct2 (same binary): ratio should be ~1.00
  --multicore N      only `ours_epoll/ours_uring --threads N` vs `tokio_mt --workers N`, pinned to
                     CPUs 0..N-1, load generator on the remaining CPUs (unpinned, with a
                     caveat, when none remain); default configs 50x64,500x64; column vs tokio_mt
  --hostile          hostile clients instead of the load runs, one server at a time (bench/README.md):
                     fairness (2 floods beside a 64 B ping-pong), nonreading (RSS per peer that never
                     reads), drain (SIGTERM overshoot of --drain-timeout 2, ours only), burst (5000
                     connects at once, time to first echo)
  --hostile-servers L  servers for --hostile (default ours,tokio_ct,mio_loop)
  --scenarios LIST   --hostile scenarios, in order (default fairness,nonreading,drain,burst)
  --fair-seconds F   ping-pong seconds beside the flood (default 5)
  --peers N          non-reading peers (default 50)
  --burst-conns N    clients of the accept burst (default 5000)
  --http             the HTTP benchmark instead of the echo load runs (bench/README.md): HTTP/1.1
                     requests in the same interleaved windows, CPU per request, ratio vs hyper_tokio
  --http-servers L   servers for --http (default ours,hyper_tokio; ours = ours_epoll,ours_uring, the
                     http_event binary with EVENT_BACKEND=epoll / io_uring; base = base_epoll,base_uring,
                     the http_event of --http-base PATH (a change before); hyper_tokio2 = a second
                     hyper_tokio, for a self-check)
  --http-base PATH   another build of http_event, run as base_epoll / base_uring (see --http-servers)
  --http-configs L   --http configurations (default get:50,post:50:4096,close:10): get:CONNS (GET
                     /hello, keep-alive), post:CONNS:BYTES (POST /echo, keep-alive), close:CONNS (a
                     new connection per request, Connection: close, CONNS at once); any with @RATE
                     (get:50@60000): paced at RATE requests/s, latency from each scheduled start
  --wrk              --http: also one wrk run per server after the windows (cross-check of req/s)
  --wrk-seconds F    length of each wrk run (default 3)
  --h2load           --http: also one HTTP/2 (h2c) h2load run per server, get and post configs
                     (same length as the wrk runs)"
    );
    std::process::exit(0)
}

/// `<repo>/target/release/examples/echo`: the repo is the parent of this crate's directory
/// (bench/), wherever it was checked out.
fn default_ours() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("..")).join("target/release/examples/echo")
}

/// The build of ours for `transport`: the `echo` example's siblings `udp_echo` and `unix_echo`
/// (the same build, so `--ours` and `--base` name the echo binary in every mode).
fn with_transport(echo: PathBuf, transport: Transport) -> PathBuf {
    match transport {
        Transport::Tcp => echo,
        Transport::Udp => echo.with_file_name("udp_echo"),
        Transport::Unix => echo.with_file_name("unix_echo"),
    }
}

pub fn parse_opts() -> Opts {
    if has_flag("help") || std::env::args().any(|a| a == "-h") {
        usage();
    }
    let known = [
        "--seconds",
        "--window-ms",
        "--rate",
        "--configs",
        "--servers",
        "--ours",
        "--syscalls",
        "--idle",
        "--idle-conns",
        "--idle-servers",
        "--self-check",
        "--help",
        "--multicore",
        "--base",
        "--churn",
        "--hostile",
        "--hostile-servers",
        "--scenarios",
        "--fair-seconds",
        "--peers",
        "--burst-conns",
        "--http",
        "--http-servers",
        "--http-base",
        "--http-configs",
        "--wrk",
        "--wrk-seconds",
        "--h2load",
        "--udp",
        "--unix",
    ];
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let key = a.split('=').next().unwrap().to_string();
        if !known.contains(&key.as_str()) {
            eprintln!("harness: unknown argument {a:?} (try --help)");
            std::process::exit(2);
        }
        if !a.contains('=')
            && !["--syscalls", "--idle", "--self-check", "--help", "--churn", "--hostile", "--http", "--wrk", "--h2load", "--udp", "--unix"]
                .contains(&key.as_str())
        {
            it.next();
        }
    }
    let transport = match (has_flag("udp"), has_flag("unix")) {
        (false, false) => Transport::Tcp,
        (true, false) => Transport::Udp,
        (false, true) => Transport::Unix,
        (true, true) => {
            eprintln!("harness: --udp and --unix exclude each other");
            std::process::exit(2)
        }
    };
    if transport != Transport::Tcp
        && ["multicore", "idle", "churn", "hostile", "http", "self-check"].iter().any(|f| has_flag(f) || arg_value(f).is_some())
    {
        eprintln!(
            "harness: --udp and --unix are load runs: not combinable with --multicore, --idle, --churn, --hostile, --http or --self-check"
        );
        std::process::exit(2);
    }
    let bindir = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let ours_path = with_transport(arg_value("ours").map(PathBuf::from).unwrap_or_else(default_ours), transport);
    let ours_ok = ours_path.is_file();
    let base_path = arg_value("base").map(|b| with_transport(PathBuf::from(b), transport));
    if let Some(base) = base_path.as_ref().filter(|b| !b.is_file()) {
        eprintln!("harness: --base {}: not a file", base.display());
        std::process::exit(2);
    }
    let spec = |name: &str| -> Spec {
        // The reference servers serve UDP with `--udp` (the harness passes `--path` for Unix).
        let args = if transport == Transport::Udp && !is_ours(name) { vec!["--udp".to_string()] } else { vec![] };
        let plain =
            |path: PathBuf| Spec { name: name.into(), path, args: args.clone(), env: vec![], backend: None, listeners: 1, transport };
        if let Some(&(_, backend)) = OURS_VARIANTS.iter().find(|(n, _)| *n == name) {
            Spec { env: vec![("EVENT_BACKEND".into(), backend.into())], backend: Some(backend), ..plain(ours_path.clone()) }
        } else if let (Some(&(_, backend)), Some(base)) = (BASE_VARIANTS.iter().find(|(n, _)| *n == name), &base_path) {
            Spec { env: vec![("EVENT_BACKEND".into(), backend.into())], backend: Some(backend), ..plain(base.clone()) }
        } else if name == "tokio_ct2" {
            plain(bindir.join("tokio_ct"))
        } else if name == "uring_loop_plain" {
            Spec { args: [args.clone(), vec!["--plain".into()]].concat(), ..plain(bindir.join("uring_loop")) }
        } else {
            plain(bindir.join(name))
        }
    };
    let ours_missing = || {
        eprintln!(
            "harness: ours_epoll, ours_uring SKIPPED: {} not found (build it with `cargo build --release --examples` at the repo root)",
            ours_path.display()
        )
    };
    let resolve = |list: &str| -> Vec<Spec> {
        // `ours` expands to both variants; duplicates are dropped (first position wins).
        let mut wanted: Vec<&str> = Vec::new();
        for n in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let expanded: Vec<&str> = match n {
                "ours" => OURS_VARIANTS.iter().map(|(n, _)| *n).collect(),
                "base" => BASE_VARIANTS.iter().map(|(n, _)| *n).collect(),
                _ => vec![n],
            };
            for n in expanded {
                if BASE_VARIANTS.iter().any(|(b, _)| *b == n) && base_path.is_none() {
                    eprintln!("harness: {n} needs --base PATH");
                    std::process::exit(2);
                }
                if !is_ours(n)
                    && !BASE_VARIANTS.iter().any(|(b, _)| *b == n)
                    && ![
                        "tokio_ct",
                        "tokio_mt",
                        "smol_local",
                        "monoio",
                        "mio_loop",
                        "uring_loop",
                        "uring_loop_plain",
                        "uring_tasks",
                        "mio_tasks",
                        "tokio_ct2",
                    ]
                    .contains(&n)
                {
                    eprintln!("harness: unknown server {n:?} (ours, ours_epoll, ours_uring, base, base_epoll, base_uring, tokio_ct, tokio_mt, smol_local, monoio, mio_loop, uring_loop, uring_loop_plain, uring_tasks, mio_tasks, tokio_ct2)");
                    std::process::exit(2);
                }
                let served = match transport {
                    Transport::Tcp => true,
                    Transport::Udp => UDP_SERVERS.contains(&n),
                    Transport::Unix => UNIX_SERVERS.contains(&n),
                };
                if !served {
                    eprintln!(
                        "harness: {n} has no {transport:?} echo (those that have: {:?})",
                        if transport == Transport::Udp { UDP_SERVERS } else { UNIX_SERVERS }
                    );
                    std::process::exit(2);
                }
                if !wanted.contains(&n) {
                    wanted.push(n);
                }
            }
        }
        let mut v = Vec::new();
        let mut warned = false;
        for &n in &wanted {
            if is_ours(n) && !ours_ok {
                if !warned {
                    warned = true;
                    ours_missing();
                    if !wanted.contains(&"tokio_ct2") {
                        eprintln!("harness: tokio_ct2 (a second tokio_ct) stands in for ours");
                        v.push(spec("tokio_ct2"));
                    }
                }
                continue;
            }
            v.push(spec(n));
        }
        v
    };
    let self_check = has_flag("self-check");
    let multicore: Option<usize> = arg_value("multicore").map(|v| match v.parse() {
        Ok(n) if n >= 1 => n,
        _ => {
            eprintln!("harness: bad --multicore {v:?}: expected an integer >= 1");
            std::process::exit(2)
        }
    });
    let ncpu = procfs::online_cpus();
    if let Some(n) = multicore {
        if n > ncpu {
            eprintln!("harness: --multicore {n}: only {ncpu} CPUs online");
            std::process::exit(2);
        }
        if has_flag("self-check") || arg_value("servers").is_some() || has_flag("idle") || has_flag("hostile") {
            eprintln!("harness: --multicore cannot be combined with --servers, --self-check, --idle or --hostile");
            std::process::exit(2);
        }
    }
    let servers = if has_flag("http") {
        Vec::new() // --http has servers of its own (--http-servers)
    } else if self_check {
        resolve("tokio_ct,tokio_ct2")
    } else if multicore.is_some() {
        // Ours missing: no stand-in (a single-threaded tokio_ct2 would mislead); tokio_mt alone.
        if ours_ok {
            let mut v: Vec<Spec> = OURS_VARIANTS.iter().map(|(n, _)| spec(n)).collect();
            v.push(spec("tokio_mt"));
            v
        } else {
            ours_missing();
            vec![spec("tokio_mt")]
        }
    } else {
        let default = match (transport, base_path.is_some()) {
            (Transport::Tcp, true) => "ours,base,tokio_ct,tokio_mt,smol_local,monoio,mio_loop,uring_loop",
            (Transport::Tcp, false) => "ours,tokio_ct,tokio_mt,smol_local,monoio,mio_loop,uring_loop",
            (Transport::Udp, true) => "ours,base,tokio_ct,smol_local,monoio,mio_loop,uring_loop",
            (Transport::Udp, false) => "ours,tokio_ct,smol_local,monoio,mio_loop,uring_loop",
            (Transport::Unix, true) => "ours,base,tokio_ct,smol_local,mio_loop,uring_loop",
            (Transport::Unix, false) => "ours,tokio_ct,smol_local,mio_loop,uring_loop",
        };
        resolve(&arg_value("servers").unwrap_or_else(|| default.into()))
    };
    let default_configs = if multicore.is_some() {
        "50x64,500x64"
    } else if transport != Transport::Tcp {
        "50x64"
    } else {
        "1x64,50x64,500x64,50x16384"
    };
    let configs: Vec<(usize, usize)> = arg_value("configs")
        .unwrap_or_else(|| default_configs.into())
        .split(',')
        .map(|c| {
            let (n, s) = c.split_once('x').unwrap_or_else(|| {
                eprintln!("bad config {c:?}, expected NxSIZE");
                std::process::exit(2)
            });
            (n.trim().parse().expect("connections"), s.trim().parse().expect("size"))
        })
        .collect();
    let mut idle_servers =
        if has_flag("idle") { resolve(&arg_value("idle-servers").unwrap_or_else(|| "ours,tokio_ct".into())) } else { Vec::new() };
    for s in idle_servers.iter_mut() {
        if is_ours(&s.name) || BASE_VARIANTS.iter().any(|(b, _)| *b == s.name) {
            // The example's default --max-connections is 10000; raise it above the test size.
            let max = arg_value("idle-conns").and_then(|v| v.parse::<usize>().ok()).unwrap_or(19_000) + 1000;
            s.args = vec!["--idle-timeout".into(), "600".into(), "--max-connections".into(), max.to_string()];
        }
    }
    let hostile = if has_flag("hostile") { Some(hostile_opts(&resolve)) } else { None };
    let seconds = arg_value("seconds").map(|v| v.parse().expect("--seconds")).unwrap_or(25.0);
    let window = Duration::from_millis(arg_value("window-ms").map(|v| v.parse().expect("--window-ms")).unwrap_or(100));
    let http = if has_flag("http") { Some(http_opts(&bindir, seconds, window)) } else { None };
    let mut servers = servers;
    if let Some(n) = multicore {
        // The example's default --max-connections is 10000; keep it above the largest
        // configuration (+1000 for the harness's readiness probes and slack).
        let max = configs.iter().map(|c| c.0).max().unwrap_or(0) + 1000;
        for s in servers.iter_mut() {
            if is_ours(&s.name) {
                s.args = vec!["--threads".into(), n.to_string(), "--max-connections".into(), max.max(10_000).to_string()];
                s.listeners = n;
            } else if s.name == "tokio_mt" {
                s.args = vec!["--workers".into(), n.to_string()];
            }
        }
    }
    let (server_cpus, loadgen_cpus, refs) = match multicore {
        Some(n) => (if n == 1 { "0".to_string() } else { format!("0-{}", n - 1) }, (n..ncpu).collect::<Vec<usize>>(), vec!["tokio_mt"]),
        None => ("0".to_string(), vec![1], vec!["tokio_ct", "mio_loop", "mio_tasks", "uring_loop", "uring_tasks"]),
    };
    Opts {
        transport,
        multicore,
        server_cpus,
        loadgen_cpus,
        refs,
        seconds,
        window,
        rate: arg_value("rate").map(|v| v.parse().ok().filter(|&r| r > 0).expect("--rate: a positive number of messages/s")),
        configs,
        servers,
        syscalls: has_flag("syscalls"),
        idle: has_flag("idle"),
        churn: has_flag("churn"),
        idle_conns: arg_value("idle-conns").map(|v| v.parse().expect("--idle-conns")).unwrap_or(19_000),
        idle_servers,
        hostile,
        http,
    }
}

/// The options of `--hostile` (bench/src/hostile/), its servers resolved by `resolve`.
fn hostile_opts(resolve: &dyn Fn(&str) -> Vec<Spec>) -> hostile::Opts {
    let num = |name: &str, default: f64| -> f64 {
        arg_value(name).map_or(default, |v| {
            v.parse().unwrap_or_else(|e| {
                eprintln!("harness: bad --{name} {v:?}: {e}");
                std::process::exit(2)
            })
        })
    };
    let scenarios = hostile::Scenario::parse_list(&arg_value("scenarios").unwrap_or_else(|| "fairness,nonreading,drain,burst".into()))
        .unwrap_or_else(|e| {
            eprintln!("harness: --scenarios: {e}");
            std::process::exit(2)
        });
    let burst_conns = num("burst-conns", 5000.0) as usize;
    let mut servers = resolve(&arg_value("hostile-servers").unwrap_or_else(|| "ours,tokio_ct,mio_loop".into()));
    for s in servers.iter_mut().filter(|s| s.backend.is_some()) {
        // The example's default --max-connections is 10000; keep it above the burst.
        s.args = vec!["--max-connections".into(), (burst_conns + 1000).max(10_000).to_string()];
    }
    hostile::Opts {
        servers,
        scenarios,
        fair_seconds: num("fair-seconds", 5.0),
        peers: num("peers", 50.0) as usize,
        peer_bytes: 16 << 20,
        stall: Duration::from_secs(2),
        drain_timeout: 2.0,
        drain_peers: 10,
        burst_conns,
        burst_threads: 4,
    }
}

/// The options of `--http`: servers from `--http-servers` (binaries in `bindir`), configurations
/// from `--http-configs`, `--wrk`.
fn http_opts(bindir: &Path, seconds: f64, window: Duration) -> http::Opts {
    let bad = |what: &str, e: String| -> ! {
        eprintln!("harness: --{what}: {e}");
        std::process::exit(2)
    };
    let list = arg_value("http-servers").unwrap_or_else(|| "ours,hyper_tokio".into());
    let mut servers: Vec<Spec> = Vec::new();
    for n in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let names: Vec<&str> = match n {
            "ours" => OURS_VARIANTS.iter().map(|(n, _)| *n).collect(),
            "base" => BASE_VARIANTS.iter().map(|(n, _)| *n).collect(),
            _ => vec![n],
        };
        for name in names {
            let plain = |bin: &str| Spec {
                name: name.into(),
                path: bindir.join(bin),
                args: vec![],
                env: vec![],
                backend: None,
                listeners: 1,
                transport: Transport::Tcp,
            };
            let spec = match OURS_VARIANTS.iter().find(|(o, _)| *o == name) {
                Some(&(_, backend)) => {
                    Spec { env: vec![("EVENT_BACKEND".into(), backend.into())], backend: Some(backend), ..plain("http_event") }
                }
                None if name == "hyper_tokio" || name == "hyper_tokio2" => plain("http_tokio"),
                None => match BASE_VARIANTS.iter().find(|(b, _)| *b == name) {
                    // --http-base: another build of http_event (a change's "before"), in the same windows.
                    Some(&(_, backend)) => match arg_value("http-base") {
                        Some(path) => Spec {
                            path: path.into(),
                            env: vec![("EVENT_BACKEND".into(), backend.into())],
                            backend: Some(backend),
                            ..plain("http_event")
                        },
                        None => bad("http-servers", format!("{name} needs --http-base PATH (another build of http_event)")),
                    },
                    None => bad(
                        "http-servers",
                        format!("unknown server {name:?} (ours, ours_epoll, ours_uring, base, base_epoll, base_uring, hyper_tokio, hyper_tokio2)"),
                    ),
                },
            };
            if !servers.iter().any(|s| s.name == spec.name) {
                servers.push(spec);
            }
        }
    }
    let configs = http::Config::parse_list(&arg_value("http-configs").unwrap_or_else(|| "get:50,post:50:4096,close:10".into()))
        .unwrap_or_else(|e| bad("http-configs", e));
    let wrk_seconds =
        has_flag("wrk").then(|| arg_value("wrk-seconds").map_or(3.0, |v| v.parse().unwrap_or_else(|e| bad("wrk-seconds", format!("{e}")))));
    let run_seconds = arg_value("wrk-seconds").map_or(3.0, |v| v.parse().unwrap_or_else(|e| bad("wrk-seconds", format!("{e}"))));
    let h2load_seconds = has_flag("h2load").then_some(run_seconds);
    http::Opts { servers, configs, seconds, window, wrk_seconds, h2load_seconds }
}
