//! HTTP/1 peers that misbehave, over real loopback sockets with std clients: a head trickled a
//! byte at a time, pipelined requests, a half-close after pipelining, a body that stalls, a
//! client that never reads its response, and resets mid-request. One module per behaviour.

mod common;

mod http1_trickled_head_is_cut_at_the_header_read_timeout {
    //! The header-read timeout bounds the whole head, not each wait: a client sending one byte
    //! every 100 ms (each wait far inside the idle timeout) is cut at the header-read timeout,
    //! long before its head is complete, and gets no response.

    use crate::common;

    use std::io::{Read, Write};
    use std::time::Duration;

    #[test]
    fn a_byte_every_100_ms_is_cut_before_the_head_is_complete() {
        let request = b"GET / HTTP/1.1\r\nHost: t\r\nX-Trickle: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let ((sent, rest), _) = common::with_server(
            |server| server.header_read_timeout(Some(Duration::from_millis(500))),
            move |addr| {
                let mut stream = common::connect(addr);
                let mut sent = 0;
                for byte in request {
                    if stream.write_all(&[*byte]).is_err() {
                        break;
                    }
                    sent += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest);
                (sent, rest)
            },
        );
        // 500 ms is about 5 bytes; the write fails a write or two after the close.
        assert!(
            sent < request.len() / 2,
            "{sent} of {} bytes went through",
            request.len()
        );
        assert!(
            !rest.starts_with(b"HTTP/1.1 200"),
            "the trickled request was served"
        );
    }
}

mod http1_pipelined_requests_all_answered_in_order {
    //! Several requests in one write (GETs, a POST with a body, a slow one, a 404): every
    //! response comes back, in order, none lost; and with a half-close right after the write,
    //! still every one of them.

    use crate::common;

    use std::io::Write;
    use std::net::Shutdown;

    /// Statuses and bodies, in order.
    type Replies = Vec<(u16, Vec<u8>)>;

    fn pipeline() -> (Vec<u8>, Replies) {
        let body = common::pattern(50_000, 3);
        let mut requests = Vec::new();
        let mut expected = Vec::new();
        for i in 0..4 {
            requests.extend_from_slice(b"GET /sleep/20 HTTP/1.1\r\nHost: t\r\n\r\n");
            expected.push((200, b"slept\n".to_vec()));
            requests.extend_from_slice(
                format!(
                    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                    body.len() - i
                )
                .as_bytes(),
            );
            requests.extend_from_slice(&body[..body.len() - i]);
            expected.push((200, body[..body.len() - i].to_vec()));
            requests.extend_from_slice(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
            expected.push((404, Vec::new()));
            requests.extend_from_slice(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
            expected.push((200, b"Hello, world!\n".to_vec()));
        }
        (requests, expected)
    }

    fn replies(half_close: bool) -> (Replies, Replies) {
        let (requests, expected) = pipeline();
        let count = expected.len();
        let (got, _) = common::with_server(
            |server| server,
            move |addr| {
                let mut stream = common::connect(addr);
                let writer = {
                    let mut stream = stream.try_clone().unwrap();
                    std::thread::spawn(move || {
                        stream.write_all(&requests).unwrap();
                        if half_close {
                            stream.shutdown(Shutdown::Write).unwrap();
                        }
                    })
                };
                let got: Vec<_> = (0..count)
                    .map(|_| {
                        let reply = common::read_reply(&mut stream);
                        (reply.status, reply.body)
                    })
                    .collect();
                writer.join().unwrap();
                got
            },
        );
        (got, expected)
    }

    #[test]
    fn sixteen_requests_in_one_write_get_sixteen_responses_in_order() {
        let (got, expected) = replies(false);
        assert!(got == expected, "responses differ from the requests' order");
    }

    #[test]
    fn a_half_close_after_the_pipeline_still_gets_every_response() {
        let (got, expected) = replies(true);
        assert!(got == expected, "responses differ from the requests' order");
    }
}

mod http1_slow_body_is_bounded_by_the_idle_timeout {
    //! There is no whole-body timeout: the idle timeout bounds each wait for the body's next
    //! bytes. A body trickled well inside it is served; a body that stalls longer is cut.

    use crate::common;

    use std::io::{Read, Write};
    use std::time::Duration;

    const IDLE: Duration = Duration::from_millis(300);

    fn send_body(gap: Duration) -> Vec<u8> {
        let (rest, _) = common::with_server(
            |server| server.header_read_timeout(None).idle_timeout(Some(IDLE)),
            move |addr| {
                let mut stream = common::connect(addr);
                stream
                    .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n")
                    .unwrap();
                for byte in b"body" {
                    std::thread::sleep(gap);
                    if stream.write_all(&[*byte]).is_err() {
                        break;
                    }
                }
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest);
                rest
            },
        );
        rest
    }

    #[test]
    fn a_body_trickled_inside_the_idle_timeout_is_served() {
        let reply = send_body(Duration::from_millis(60));
        assert!(reply.starts_with(b"HTTP/1.1 200"), "{reply:?}");
        assert!(reply.ends_with(b"\r\n\r\nbody"), "{reply:?}");
    }

    #[test]
    fn a_body_that_stalls_past_the_idle_timeout_is_cut() {
        let reply = send_body(IDLE * 3);
        assert!(!reply.ends_with(b"body"), "{reply:?}");
    }
}

mod http1_client_that_never_reads_is_cut {
    //! A client that asks for a large response and never reads it: the server's write waits for
    //! the peer, the idle timeout (the socket's write timeout) ends that wait and the connection,
    //! so when the client finally reads it gets part of the body and then the end.

    use crate::common;

    use std::io::Read;
    use std::time::Duration;

    const LEN: usize = 32 * 1024 * 1024;

    #[test]
    fn the_write_timeout_cuts_a_stalled_large_response() {
        let ((received, report_ok), report) = common::with_server(
            |server| server.idle_timeout(Some(Duration::from_millis(300))),
            |addr| {
                let mut stream = common::connect(addr);
                let request = format!("GET /big/{LEN} HTTP/1.1\r\nHost: t\r\n\r\n");
                std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(1500));
                let mut all = Vec::new();
                let ended = match stream.read_to_end(&mut all) {
                    Ok(_) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                };
                (all.len(), ended)
            },
        );
        assert!(report_ok, "the connection did not end");
        assert!(received < LEN, "the whole response arrived: {received}");
        // Cut by its own timeout before the shutdown, not by the drain.
        assert_eq!(report.cut, 0, "{report}");
    }
}

mod http1_reset_mid_request_leaves_the_server_serving {
    //! A client that resets its connection halfway through a request head, or halfway through
    //! a body, does not disturb the server: another connection, opened before and used after,
    //! is served, and so is a new one.

    use crate::common;

    use std::io::Write;
    use std::time::Duration;

    fn reset(mut stream: std::net::TcpStream, partial: &[u8]) {
        stream.write_all(partial).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(stream); // a reset, not a FIN
    }

    #[test]
    fn resets_in_the_head_and_in_the_body_leave_others_served() {
        let (statuses, report) = common::with_server(
            |server| server,
            |addr| {
                let mut other = common::connect(addr);
                let get = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
                let first = common::exchange(&mut other, get).status;
                reset(
                    common::connect(addr),
                    b"GET / HTTP/1.1\r\nHost: t\r\nX-Half: ",
                );
                reset(
                    common::connect(addr),
                    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nabc",
                );
                std::thread::sleep(Duration::from_millis(50));
                let second = common::exchange(&mut other, get).status;
                let fresh = common::exchange(&mut common::connect(addr), get).status;
                [first, second, fresh]
            },
        );
        assert_eq!(statuses, [200; 3]);
        assert_eq!(report.cut, 0, "{report}");
    }
}

mod silent_client_is_cut_at_the_header_read_timeout {
    //! A client that connects and sends nothing is cut at the header-read timeout, not the idle
    //! timeout: with the default `Protocols::Auto`, hyper's own header timer starts only at the
    //! first bytes, which hyper-util reads to tell HTTP/1 from HTTP/2.

    use crate::common;

    use std::io::Read;
    use std::time::{Duration, Instant};

    #[test]
    fn a_connection_that_sends_nothing_is_closed_at_the_header_read_timeout() {
        let (waited, _) = common::with_server(
            |server| {
                server
                    .header_read_timeout(Some(Duration::from_millis(300)))
                    .idle_timeout(Some(Duration::from_secs(30)))
            },
            move |addr| {
                let mut stream = common::connect(addr);
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let start = Instant::now();
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest);
                start.elapsed()
            },
        );
        // Closed at 300 ms; the idle timeout (30 s) or the client's own 10 s would be far later.
        assert!(
            waited < Duration::from_secs(5),
            "the silent connection stayed open {waited:?}"
        );
    }
}
