//! The ecosystem examples as child processes: chat, http (plain and TLS) and tls_echo, and
//! their banners. One module per behaviour (each was its own test binary).

#[path = "../../tests/common/mod.rs"]
mod common;
mod tls_client;

mod chat_example {
    //! The chat example over real sockets with three clients: every line goes to every other
    //! client (prefixed with the sender's address) and never back to its sender; a client that
    //! leaves does not disturb the others.
    use crate::common;

    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    struct Client {
        out: TcpStream,
        lines: BufReader<TcpStream>,
        /// The client's address, as the server names it.
        name: String,
    }

    impl Client {
        /// Connects and waits for the welcome: from then on the server has it in the room.
        fn join(addr: std::net::SocketAddr) -> Client {
            let out = TcpStream::connect(addr).unwrap();
            out.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let name = out.local_addr().unwrap().to_string();
            let mut client = Client {
                lines: BufReader::new(out.try_clone().unwrap()),
                out,
                name,
            };
            let welcome = client.line();
            assert!(
                welcome.starts_with(&format!("welcome {}", client.name)),
                "{welcome:?}"
            );
            client
        }

        fn say(&mut self, text: &str) {
            self.out.write_all(format!("{text}\n").as_bytes()).unwrap();
        }

        fn line(&mut self) -> String {
            let mut line = String::new();
            let n = self.lines.read_line(&mut line).unwrap();
            assert!(n > 0, "{}: the server closed the connection", self.name);
            line
        }
    }

    #[test]
    fn every_line_reaches_every_other_client_and_not_its_sender() {
        let server = common::ExampleProcess::example("chat", &[]);
        assert!(
            server.banner.starts_with("chat server listening on"),
            "{}",
            server.banner
        );
        let mut clients: Vec<Client> = (0..3).map(|_| Client::join(server.addr)).collect();
        for round in 0..2 {
            for from in 0..3 {
                let text = format!("round {round} from client {from}");
                clients[from].say(&text);
                let expected = format!("{}: {text}\n", clients[from].name);
                for (to, client) in clients.iter_mut().enumerate() {
                    if to != from {
                        assert_eq!(client.line(), expected, "client {to}");
                    }
                }
            }
        }
        // A sender never hears itself: its next line is the next client's message, checked above
        // for every round. A client that leaves: the other two go on talking.
        drop(clients.pop());
        clients[0].say("still here");
        assert_eq!(
            clients[1].line(),
            format!("{}: still here\n", clients[0].name)
        );
        clients[1].say("me too");
        assert_eq!(clients[0].line(), format!("{}: me too\n", clients[1].name));
        assert!(server.child_alive(), "{}", server.stderr.lock().unwrap());
    }

    #[test]
    fn chat_help_is_on_stdout_and_exits_zero() {
        let out = common::run_example(&common::example_binary("chat"), &["--help"]);
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("--addr"));
    }
}

mod http_example {
    //! Runs the hyper example (`examples/http.rs`, on `event_hyper::Server`) as a child process and
    //! speaks raw HTTP/1.1 to it over a std `TcpStream`, and over rustls with `--tls`.
    use crate::common;

    use crate::tls_client;

    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use common::ExampleProcess;

    struct Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Response {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    fn connect(server: &ExampleProcess) -> BufReader<TcpStream> {
        let stream = TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        BufReader::new(stream)
    }

    /// Sends `head` (request line and headers, without the blank line) and `body`, and reads one
    /// response, whose length must come from Content-Length.
    fn exchange(conn: &mut BufReader<impl Read + Write>, head: &str, body: &[u8]) -> Response {
        let mut request = format!("{head}\r\n\r\n").into_bytes();
        request.extend_from_slice(body);
        conn.get_mut().write_all(&request).unwrap();
        conn.get_mut().flush().unwrap();

        let mut line = String::new();
        conn.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {line:?}");
        let status = parts.next().unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            conn.read_line(&mut line).unwrap();
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':').unwrap_or_else(|| panic!("header {l:?}"));
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = response
            .header("content-length")
            .expect("a Content-Length header")
            .parse()
            .unwrap();
        response.body = vec![0; len];
        conn.read_exact(&mut response.body).unwrap();
        response
    }

    #[test]
    fn http_example_prints_its_address() {
        let server = ExampleProcess::example("http", &[]);
        assert!(server.addr.ip().is_loopback());
        assert_ne!(server.addr.port(), 0);
        assert!(server.banner.contains("listening on"), "{}", server.banner);
    }

    #[test]
    fn keep_alive_serves_two_gets_on_one_connection() {
        let server = ExampleProcess::example("http", &[]);
        let mut conn = connect(&server);
        for _ in 0..2 {
            let r = exchange(&mut conn, "GET / HTTP/1.1\r\nHost: localhost", b"");
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-length"), Some("14"));
            assert_eq!(r.body, b"Hello, world!\n");
            assert_ne!(r.header("connection"), Some("close"));
        }
    }

    #[test]
    fn post_echo_returns_the_body() {
        let server = ExampleProcess::example("http", &[]);
        let mut conn = connect(&server);
        let body = common::pattern(100_000, 8);
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\
         Content-Type: application/octet-stream",
            body.len()
        );
        let r = exchange(&mut conn, &head, &body);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some("100000"));
        assert!(r.body == body, "echoed body differs");

        // Same connection: an empty POST echoes an empty body.
        let r = exchange(
            &mut conn,
            "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0",
            b"",
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some("0"));
    }

    #[test]
    fn unknown_routes_are_404_and_connection_close_is_honoured() {
        let server = ExampleProcess::example("http", &[]);
        let mut conn = connect(&server);
        let r = exchange(&mut conn, "GET /nope HTTP/1.1\r\nHost: localhost", b"");
        assert_eq!(r.status, 404);
        // The route is method-specific: GET /echo is not the echo.
        let r = exchange(
            &mut conn,
            "GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close",
            b"",
        );
        assert_eq!(r.status, 404);
        // After `Connection: close` the server closes: end of stream, not a timeout.
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{rest:?}");
    }

    #[test]
    fn json_route_answers_json() {
        let server = ExampleProcess::example("http", &[]);
        let mut conn = connect(&server);
        let r = exchange(&mut conn, "GET /json HTTP/1.1\r\nHost: localhost", b"");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body, b"{\"message\":\"Hello, world!\"}\n");
    }

    #[test]
    fn backend_flag_picks_the_driver() {
        let server = ExampleProcess::example("http", &["--backend", "epoll"]);
        assert!(
            server.banner.contains("(backend: epoll)"),
            "{}",
            server.banner
        );
    }

    #[test]
    fn tls_flag_serves_https_with_alpn() {
        let dir = tls_client::TempDir::new();
        let cert = dir.0.join("cert.pem");
        let flags = ["--tls", "--cert-out", cert.to_str().unwrap()];
        let server = ExampleProcess::example("http", &flags);
        assert!(
            server.banner.starts_with("https server"),
            "{}",
            server.banner
        );

        // A client offering both protocols gets h2 (the handshake is all it does here).
        let both = tls_client::client_config(&cert, &[b"h2", b"http/1.1"]);
        let mut h2 = tls_client::connect(server.addr, &both, "localhost");
        while h2.conn.is_handshaking() {
            h2.conn.complete_io(&mut h2.sock).unwrap();
        }
        assert_eq!(h2.conn.alpn_protocol(), Some(&b"h2"[..]));

        let http1 = tls_client::client_config(&cert, &[b"http/1.1"]);
        let mut conn = BufReader::new(tls_client::connect(server.addr, &http1, "127.0.0.1"));
        let r = exchange(&mut conn, "GET / HTTP/1.1\r\nHost: localhost", b"");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"Hello, world!\n");
        assert_eq!(conn.get_ref().conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        let body = common::pattern(50_000, 3);
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}",
            body.len()
        );
        let r = exchange(&mut conn, &head, &body);
        assert_eq!(r.status, 200);
        assert!(r.body == body, "echoed body differs");
        let r = exchange(&mut conn, "GET /json HTTP/1.1\r\nHost: localhost", b"");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

mod tls_echo_example {
    //! Runs the TLS echo example (`examples/tls_echo.rs`) as a child process and talks to it with a
    //! blocking rustls client that trusts the certificate the example wrote.
    use crate::common;

    use crate::tls_client;

    use std::io::{Read, Write};

    use tls_client::{TempDir, client_config};

    fn connect(
        server: &common::ExampleProcess,
        config: &std::sync::Arc<rustls::ClientConfig>,
        name: &str,
    ) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
        tls_client::connect(server.addr, config, name)
    }

    #[test]
    fn tls_echo_example_echoes_100_kib_intact() {
        let dir = TempDir::new();
        let cert = dir.0.join("cert.pem");
        let server =
            common::ExampleProcess::example("tls_echo", &["--cert-out", cert.to_str().unwrap()]);
        assert!(server.addr.ip().is_loopback());
        let config = client_config(&cert, &[]);

        let mut tls = connect(&server, &config, "localhost");
        let msg = common::pattern(100 * 1024, 11);
        tls.write_all(&msg).unwrap();
        tls.flush().unwrap();
        let mut back = vec![0; msg.len()];
        tls.read_exact(&mut back).unwrap();
        assert!(back == msg, "echoed bytes differ");
        // Both ends default to TLS 1.3 (the example also allows 1.2).
        assert_eq!(
            tls.conn.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );

        // Our close_notify: the server answers with its own, a clean end of stream (Ok(0)).
        tls.conn.send_close_notify();
        tls.flush().unwrap();
        let mut rest = Vec::new();
        tls.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn tls_echo_certificate_is_valid_for_the_ip_address_too() {
        let dir = TempDir::new();
        let cert = dir.0.join("cert.pem");
        let server =
            common::ExampleProcess::example("tls_echo", &["--cert-out", cert.to_str().unwrap()]);
        let config = client_config(&cert, &[]);
        let mut tls = connect(&server, &config, "127.0.0.1");
        tls.write_all(b"ping\n").unwrap();
        let mut back = [0; 5];
        tls.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"ping\n");

        // A name the certificate does not cover fails the handshake.
        let mut wrong = connect(&server, &config, "example.com");
        let err = wrong
            .write_all(b"x")
            .and_then(|_| wrong.flush())
            .unwrap_err();
        assert!(err.to_string().contains("certificate"), "{err}");
    }

    #[test]
    fn tls_echo_and_http_help_is_on_stdout_and_exits_zero() {
        for name in ["tls_echo", "http"] {
            let out = common::run_example(&common::example_binary(name), &["--help"]);
            assert!(out.status.success(), "{name}: {out:?}");
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("--addr"),
                "{name}: {out:?}"
            );
        }
    }
}

mod example_banners_name_the_running_driver {
    //! The http and tls_echo examples print `event::backend()` from inside their loop: the driver
    //! that loop really runs (io_uring under `EVENT_BACKEND=io_uring`), not the compiled-in
    //! multiplexer.
    use crate::common;

    /// The driver `EVENT_BACKEND` asks for, if it names one (`auto` may give either).
    fn expected() -> Option<&'static str> {
        match std::env::var("EVENT_BACKEND").as_deref() {
            Ok("io_uring") if std::env::var_os("EVENT_NO_IO_URING").is_none() => Some("io_uring"),
            Ok("epoll") => Some("epoll"),
            _ => None,
        }
    }

    fn check(example: &str) {
        let server = common::ExampleProcess::example(example, &[]);
        let banner = &server.banner;
        match expected() {
            Some(driver) => assert!(
                banner.contains(&format!("(backend: {driver})")),
                "{example} under EVENT_BACKEND: {banner}"
            ),
            None => assert!(
                banner.contains("(backend: io_uring)") || banner.contains("(backend: epoll)"),
                "{example}: {banner}"
            ),
        }
    }

    #[test]
    fn http_example_banner_names_the_running_driver() {
        check("http");
    }

    #[test]
    fn tls_echo_example_banner_names_the_running_driver() {
        check("tls_echo");
    }
}
