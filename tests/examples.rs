//! The examples as child processes: the echo, UDP echo, Unix echo and line client examples,
//! their flags, help, refusals and shutdown by signal. One module per behaviour (each was its
//! own test binary); the conformance suite and the hostile suite stay in their own files.

mod common;

mod echo_example {
    //! Runs the echo example binary and talks to it over loopback.
    use crate::common;

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    /// Starts the echo example with `flags`, checks that its banner names `backend`, and echoes
    /// 100 kB through it.
    fn echo_on(flags: &[&str], backend: &str) {
        let echo = common::EchoProcess::start(&[], flags);
        assert!(echo.addr.ip().is_loopback());
        assert!(
            echo.banner.contains(&format!("backend: {backend},")),
            "{flags:?}: {}",
            echo.banner
        );
        let mut s = TcpStream::connect(echo.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let msg = common::pattern(100_000, 5);
        s.write_all(&msg).unwrap();
        let mut back = vec![0; msg.len()];
        s.read_exact(&mut back).unwrap();
        assert!(back == msg);
    }

    #[test]
    fn echo_example_prints_address_and_backend_and_echoes() {
        echo_on(&["--backend", "epoll"], event::backend());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn echo_example_runs_on_io_uring() {
        // CI sets EVENT_NO_IO_URING when its machine refuses io_uring (see .ci/run).
        if std::env::var_os("EVENT_NO_IO_URING").is_some() {
            return;
        }
        echo_on(&["--backend", "io_uring"], "io_uring");
    }

    #[test]
    fn echo_example_rejects_an_unknown_backend() {
        let out = std::process::Command::new(common::echo_binary())
            .args(["--backend", "nope"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--backend") && err.contains("nope"), "{err}");
    }
}

mod echo_refuses_a_port_in_use {
    //! A second echo server on a port the first one serves fails with "address in use" (exit 1),
    //! with several loops (`SO_REUSEPORT`) as with one, instead of taking part of its connections.
    use crate::common;

    use std::io::{Read, Write};
    use std::time::Duration;

    fn second_is_refused(first_flags: &[&str], second_threads: &str) {
        let first = common::EchoProcess::start(&[], first_flags);
        let addr = first.addr.to_string();
        let out = common::run_example(
            &common::echo_binary(),
            &["--addr", &addr, "--threads", second_threads],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{first_flags:?} then {second_threads}: {err}"
        );
        assert!(
            err.contains(&format!("bind {addr}")) && err.contains("in use"),
            "{first_flags:?} then {second_threads}: {err}"
        );
        // The first still serves every connection.
        for _ in 0..8 {
            let mut s = std::net::TcpStream::connect(first.addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"mine").unwrap();
            let mut back = [0u8; 4];
            s.read_exact(&mut back).unwrap();
            assert_eq!(&back, b"mine");
        }
    }

    #[test]
    fn a_second_two_thread_echo_on_the_same_port_is_refused() {
        second_is_refused(&["--threads", "2"], "2");
    }

    #[test]
    fn a_two_thread_echo_on_a_one_thread_echo_port_is_refused() {
        second_is_refused(&[], "2");
    }

    #[test]
    fn a_one_thread_echo_on_a_two_thread_echo_port_is_refused() {
        second_is_refused(&["--threads", "2"], "1");
    }
}

mod echo_rejects_zero_counts {
    //! `--max-connections 0` (which would accept nothing), `--threads 0` and `--idle-timeout 0` are
    //! refused with a clear message and exit status 2, before anything listens.
    use crate::common;

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
}

mod echo_second_sigint_kills_by_signal {
    //! The echo example's documented Ctrl-C behaviour: the first SIGINT starts the drain; a second
    //! one during the drain is not caught and kills the process by the signal at once.
    use crate::common;

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::os::unix::process::ExitStatusExt;
    use std::time::{Duration, Instant};

    #[test]
    fn a_second_sigint_during_the_drain_kills_the_process_by_signal() {
        let mut echo = common::EchoProcess::start(&[], &["--drain-timeout", "30"]);
        // An open connection keeps the drain waiting for its 30 s.
        let mut idle = TcpStream::connect(echo.addr).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        idle.write_all(b"x").unwrap();
        let mut b = [0u8];
        idle.read_exact(&mut b).unwrap();
        echo.signal(libc::SIGINT);
        // The first signal was handled once the listener is closed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(echo.addr).is_ok() {
            assert!(
                Instant::now() < deadline,
                "still accepting 5 s after SIGINT"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            echo.child.try_wait().unwrap().is_none(),
            "exited on the first SIGINT"
        );
        let start = Instant::now();
        echo.signal(libc::SIGINT);
        let status = common::wait_timeout(&mut echo.child, Duration::from_secs(5))
            .expect("the second SIGINT did not end the process within 5 s");
        assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}

mod echo_shutdown {
    //! End to end: SIGTERM to the echo example drains open connections and exits 0.
    use crate::common;

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    #[test]
    fn sigterm_closes_the_listener_drains_connections_and_exits_zero() {
        let mut echo = common::EchoProcess::start(&[], &["--drain-timeout", "5"]);
        let mut clients: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(echo.addr).unwrap())
            .collect();
        let data = common::pattern(256 * 1024, 11);
        for c in &mut clients {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.write_all(&data).unwrap();
        }
        echo.signal(libc::SIGTERM);
        // New connections are refused once the listener is closed (allow the signal to land; a
        // connect racing the close can be reset instead: then the next one is refused).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match TcpStream::connect(echo.addr) {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                Err(e)
                    if e.kind() == std::io::ErrorKind::ConnectionReset
                        && Instant::now() < deadline => {}
                Err(e) => panic!("connect after SIGTERM: {e}"),
                Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Ok(_) => panic!("still accepting 5 s after SIGTERM"),
            }
        }
        // Everything sent before the signal comes back in full on the draining connections.
        for c in &mut clients {
            let mut back = vec![0; data.len()];
            c.read_exact(&mut back).unwrap();
            assert!(back == data);
        }
        let start = Instant::now();
        drop(clients);
        let status = loop {
            if let Some(s) = echo.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "did not exit within the drain deadline"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(
            status.code(),
            Some(0),
            "stderr: {}",
            echo.stderr.lock().unwrap()
        );
    }

    #[test]
    fn sigint_with_idle_connections_cuts_them_at_the_drain_deadline() {
        let mut echo = common::EchoProcess::start(&[], &["--drain-timeout", "0.3"]);
        let _idle: Vec<TcpStream> = (0..2)
            .map(|_| TcpStream::connect(echo.addr).unwrap())
            .collect();
        // Make sure both were accepted before the signal.
        let mut probe = TcpStream::connect(echo.addr).unwrap();
        probe.write_all(b"x").unwrap();
        let mut b = [0u8];
        probe.read_exact(&mut b).unwrap();
        let start = Instant::now();
        echo.signal(libc::SIGINT);
        let status = echo.child.wait().unwrap();
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(status.code(), Some(0));
    }
}

mod udp_echo_example {
    //! The `udp_echo` example: its banner names the address and driver, it echoes datagrams from a
    //! std client, `--help` prints the usage on stdout, and SIGTERM stops it with exit 0.

    use crate::common;

    use std::io::{BufRead, BufReader};
    use std::net::SocketAddr;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    fn echo_on(backend: &str) {
        let bin = common::example_binary("udp_echo");
        let mut child = Command::new(&bin)
            .args(["--addr", "127.0.0.1:0", "--backend", backend])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        out.read_line(&mut banner).unwrap();
        assert!(
            banner.contains(&format!("(backend: {backend},")),
            "{banner}"
        );
        let addr: SocketAddr = banner
            .split_whitespace()
            .nth(4)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {banner:?}"));
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = vec![0u8; 65_536];
        for len in [0usize, 1, 256, 1400, 65_507] {
            let msg: Vec<u8> = (0..len).map(|i| (i % 256) as u8).collect();
            c.send_to(&msg, addr).unwrap();
            let (n, from) = c.recv_from(&mut buf).unwrap();
            assert_eq!(from, addr);
            assert!(buf[..n] == msg[..], "a {len}-byte datagram");
        }
        // Stop our own child by its pid.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{status:?}");
    }

    #[test]
    fn udp_echo_echoes_datagrams_on_epoll_and_stops_on_sigterm() {
        echo_on("epoll");
    }

    #[test]
    fn udp_echo_echoes_datagrams_on_io_uring() {
        if std::env::var_os("EVENT_NO_IO_URING").is_some() {
            println!("note: skipped, io_uring is refused on this machine");
            return;
        }
        echo_on("io_uring");
    }

    #[test]
    fn udp_echo_help_prints_every_flag_and_exits_zero() {
        let out = common::run_example(&common::example_binary("udp_echo"), &["--help"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0));
        assert!(stdout.starts_with("usage: udp_echo"), "{stdout}");
        for flag in ["--addr", "--threads", "--backend"] {
            assert!(stdout.contains(flag), "{flag} missing: {stdout}");
        }
    }
}

mod unix_echo_example {
    //! The `unix_echo` example: its banner names the path and driver, it echoes a std client's
    //! bytes, SIGTERM stops it with exit 0 and removes its socket file, a stale file is refused
    //! with the advice and `--replace-stale` replaces it, and `--help` lists every flag.

    use crate::common;

    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use common::unix::TempDir;

    fn echo_on(backend: &str) {
        let dir = TempDir::new("example");
        let path = dir.join("echo.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // a stale file
        let bin = common::example_binary("unix_echo");
        let path_arg = path.to_str().unwrap();
        let refused = common::run_example(&bin, &["--path", path_arg, "--backend", backend]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("stale socket file at") && stderr.contains("replace_stale"),
            "{stderr}"
        );
        let mut child = Command::new(&bin)
            .args(["--path", path_arg, "--backend", backend, "--replace-stale"])
            .args(["--idle-timeout", "5", "--max-connections", "4"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        out.read_line(&mut banner).unwrap();
        assert!(
            banner.contains(&format!(
                "listening on {} (backend: {backend})",
                path.display()
            )),
            "{banner}"
        );
        let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let msg = common::pattern(100_000, 3);
        c.write_all(&msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        c.read_exact(&mut got).unwrap();
        assert!(got == msg);
        drop(c);
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{status:?}");
        assert!(!path.exists(), "the socket file is removed at exit");
    }

    #[test]
    fn unix_echo_echoes_on_epoll_and_stops_on_sigterm() {
        echo_on("epoll");
    }

    #[test]
    fn unix_echo_echoes_on_io_uring() {
        if std::env::var_os("EVENT_NO_IO_URING").is_some() {
            println!("note: skipped, io_uring is refused on this machine");
            return;
        }
        echo_on("io_uring");
    }

    #[test]
    fn unix_echo_help_prints_every_flag_and_exits_zero() {
        let out = common::run_example(&common::example_binary("unix_echo"), &["--help"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0));
        assert!(stdout.starts_with("usage: unix_echo"), "{stdout}");
        for flag in [
            "--path",
            "--max-connections",
            "--idle-timeout",
            "--drain-timeout",
            "--replace-stale",
            "--backend",
        ] {
            assert!(stdout.contains(flag), "{flag} missing: {stdout}");
        }
    }
}

mod client_example {
    //! The line client example against the echo example: sends stdin, prints what comes back, and
    //! exits cleanly at the end of its input.
    use crate::common;

    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn client_example_echoes_stdin_and_exits_zero_at_eof() {
        let echo = common::EchoProcess::start(&[], &[]);
        let mut client = Command::new(common::example_binary("client"))
            .arg(echo.addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = client.stdin.take().unwrap();
        stdin.write_all(b"first line\nsecond line\n").unwrap();
        drop(stdin); // end of input: the client half-closes and prints the rest of the reply
        let start = Instant::now();
        let out = client.wait_with_output().unwrap();
        assert!(start.elapsed() < Duration::from_secs(20));
        assert!(
            out.status.success(),
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "first line\nsecond line\n"
        );
    }

    #[test]
    fn client_example_reports_a_refused_connection() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = Command::new(common::example_binary("client"))
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("connect 127.0.0.1:") && err.contains("refused"),
            "{err}"
        );
    }
}

mod client_exits_when_the_server_closes {
    //! The line client notices the server closing the connection while its stdin is still open, and
    //! exits then (status 0, having printed what the server sent), instead of waiting for stdin.
    use crate::common;

    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    /// Starts the client against `addr` with stdin and stdout piped.
    fn client(addr: std::net::SocketAddr) -> std::process::Child {
        Command::new(common::example_binary("client"))
            .arg(addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    #[test]
    fn client_exits_when_the_server_closes_while_stdin_is_open() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut child = client(server.local_addr().unwrap());
        let mut stdin = child.stdin.take().unwrap();
        let (conn, _) = server.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // One line each way, so the client is in its session, then the server closes.
        stdin.write_all(b"hello\n").unwrap();
        let mut line = String::new();
        BufReader::new(&conn).read_line(&mut line).unwrap();
        assert_eq!(line, "hello\n");
        (&conn).write_all(b"bye\n").unwrap();
        drop(conn);
        // `stdin` stays open: only the server's close can end the client.
        let status = common::wait_timeout(&mut child, Duration::from_secs(5));
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        let status = status.expect("client still ran 5 s after the server closed");
        assert!(status.success(), "{status:?}: {err}");
        assert_eq!(out, "bye\n");
        drop(stdin);
    }

    #[test]
    fn client_exits_when_the_server_closes_before_any_input() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut child = client(server.local_addr().unwrap());
        let stdin = child.stdin.take().unwrap();
        let (conn, _) = server.accept().unwrap();
        drop(conn);
        let status = common::wait_timeout(&mut child, Duration::from_secs(5))
            .expect("client still ran 5 s after the server closed");
        assert!(status.success(), "{status:?}");
        drop(stdin);
    }
}

mod client_takes_addr_flag {
    //! The line client takes the server as `--addr HOST:PORT` as well as positionally, and refuses
    //! two servers or an unknown flag (exit status 2).
    use crate::common;

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
}

mod examples_help_exits_zero_on_stdout {
    //! `--help` (and `-h`) of the examples is a requested help: the usage on stdout, exit 0.
    use crate::common;

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
}
