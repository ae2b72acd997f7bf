//! Connect on every driver (on io_uring a connect operation on the ring, on epoll a
//! non-blocking connect and its writable edge): the same errors, and a connect that times out
//! leaves no socket open. One test at a time: they count the process's open descriptors.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use event::{Socket, SocketAddress, SocketError};

static SERIAL: Mutex<()> = Mutex::new(());

/// A refused connect is the same error on every driver (on io_uring the connect is a ring
/// operation): `Connect` naming the address, with `ECONNREFUSED`.
#[test]
fn a_refused_connect_names_the_address_and_errno_on_every_driver() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for backend in common::drivers() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = common::event_loop(backend)
            .block_on(Socket::connect(SocketAddress::localhost(port)))
            .unwrap_err();
        assert!(
            matches!(&err, SocketError::Connect { addr, source }
                if addr.port() == port && source.kind() == std::io::ErrorKind::ConnectionRefused),
            "{backend:?}: {err:?}"
        );
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED), "{backend:?}");
    }
}

/// A connect that cannot complete (the listener's backlog is full, so its SYNs are dropped)
/// times out, and the socket it made is closed: the count of open descriptors is back where
/// it was, and the loop has no operation left.
#[test]
fn a_timed_out_connect_closes_its_socket_on_every_driver() {
    use socket2::{Domain, Socket as Raw, Type};
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for backend in common::drivers() {
        let listener = Raw::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        // Fill the accept queue (never accepted), so further SYNs go unanswered.
        let mut fillers = Vec::new();
        for _ in 0..4 {
            let s = Raw::new(Domain::IPV4, Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            let _ = s.connect(&addr.into());
            fillers.push(s);
        }
        std::thread::sleep(Duration::from_millis(50));
        let lp = common::event_loop(backend);
        let count = || std::fs::read_dir("/proc/self/fd").unwrap().count();
        let before = count();
        let err = lp
            .block_on(Socket::connect_timeout(addr, Duration::from_millis(200)))
            .unwrap_err();
        assert!(
            matches!(err, SocketError::ConnectTimeout { .. }),
            "{backend:?}: {err:?}"
        );
        assert_eq!(
            count(),
            before,
            "{backend:?}: the socket of the connect is open"
        );
        assert_eq!(
            lp.stats().operations,
            0,
            "{backend:?}: an operation is left"
        );
    }
}

/// An IPv6 connect (the ring's connect takes the `sockaddr_in6`), where IPv6 loopback exists.
#[test]
fn an_ipv6_connect_reaches_its_listener_on_every_driver() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        return;
    };
    let addr = listener.local_addr().unwrap();
    for backend in common::drivers() {
        let accept = std::thread::scope(|scope| {
            let peer = scope.spawn(|| listener.accept().map(|(_, from)| from));
            let client = common::event_loop(backend)
                .block_on(Socket::connect(addr))
                .unwrap_or_else(|e| panic!("{backend:?}: {e}"));
            assert_eq!(
                SocketAddress::from(addr),
                client.peer_address(),
                "{backend:?}"
            );
            let local = client.local_address().unwrap();
            (peer.join().unwrap().unwrap(), local)
        });
        assert_eq!(
            accept.0,
            std::net::SocketAddr::from(accept.1),
            "{backend:?}"
        );
    }
}
