mod common;

use event::{ListenOptions, Socket, SocketAddress, SocketError};

#[test]
fn port_zero_gives_an_ephemeral_port_on_all_ipv4_interfaces() {
    let server = Socket::listen(0).unwrap();
    assert_ne!(server.local_port(), 0);
    assert_eq!(server.local_address().ip().to_string(), "0.0.0.0");
}

#[test]
fn port_in_use_is_a_bind_error_with_errno_and_address() {
    let first = common::listen_local();
    let addr = first.local_address();
    let err = ListenOptions::new()
        .reuse_address(false)
        .listen_on(addr)
        .unwrap_err();
    match &err {
        SocketError::Bind { addr: a, source } => {
            assert_eq!(*a, addr.to_std());
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("expected Bind, got {other:?}"),
    }
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
    let text = err.to_string();
    assert!(text.starts_with(&format!("bind {addr}: ")), "{text}");
    assert!(text.contains("os error"), "{text}");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);
}

/// The descriptor of this process's listening socket on `port` (fd numbers are private to the
/// library, so find the socket whose local port matches, through /proc).
fn listener_fd(port: u16) -> i32 {
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let Ok(fd) = entry.unwrap().file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: getsockname writes at most `len` bytes into `addr`, which is that large.
        let ok =
            unsafe { libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) };
        if ok != 0 {
            continue;
        }
        let found = match addr.ss_family as i32 {
            // SAFETY: the family says which sockaddr type the storage holds.
            libc::AF_INET => unsafe { (*(&addr as *const _ as *const libc::sockaddr_in)).sin_port },
            libc::AF_INET6 => unsafe {
                (*(&addr as *const _ as *const libc::sockaddr_in6)).sin6_port
            },
            _ => continue,
        };
        if u16::from_be(found) == port {
            return fd;
        }
    }
    panic!("no socket of this process is bound to port {port}");
}

#[test]
fn listener_is_close_on_exec_and_non_blocking() {
    let server = common::listen_local();
    let fd = listener_fd(server.local_port());
    // SAFETY: fcntl only reads the flags of a descriptor this process owns.
    let (fd_flags, fl_flags) = unsafe {
        (
            libc::fcntl(fd, libc::F_GETFD),
            libc::fcntl(fd, libc::F_GETFL),
        )
    };
    assert!(
        fd_flags & libc::FD_CLOEXEC != 0,
        "listener lacks FD_CLOEXEC"
    );
    assert!(fl_flags & libc::O_NONBLOCK != 0, "listener is blocking");
}

#[test]
fn ipv6_listen_and_connect_on_loopback() {
    common::run(async {
        let server = Socket::listen_on(SocketAddress::ipv6("::1", 0).unwrap()).unwrap();
        let addr = server.local_address();
        assert!(addr.is_ipv6());
        let accept = event::spawn(async move {
            let peer = server.accept().await.unwrap();
            let got = peer.read(100).await.unwrap();
            peer.write(&got).await.unwrap();
            peer.peer_address()
        });
        let client = Socket::connect(addr).await.unwrap();
        client.write(b"over v6").await.unwrap();
        assert_eq!(client.read(100).await.unwrap(), b"over v6");
        let seen = accept.await.unwrap();
        assert!(seen.is_ipv6());
        assert_eq!(seen, client.local_address().unwrap());
    });
}

#[test]
fn reuse_port_lets_two_listeners_share_a_port() {
    let a = ListenOptions::new()
        .reuse_port(true)
        .listen_on(SocketAddress::localhost(0))
        .unwrap();
    let b = ListenOptions::new()
        .reuse_port(true)
        .listen_on(a.local_address())
        .unwrap();
    assert_eq!(a.local_port(), b.local_port());
}

#[test]
fn accept_without_a_loop_is_a_clear_error() {
    let server = common::listen_local();
    // A foreign executor: poll once by hand.
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut accept = std::pin::pin!(server.accept());
    match std::future::Future::poll(accept.as_mut(), &mut cx) {
        std::task::Poll::Ready(Err(SocketError::NoEventLoop)) => {}
        other => panic!("expected NoEventLoop, got {other:?}"),
    }
}

/// Connects `n` clients one after another without anyone accepting; returns how many completed
/// their handshake within 300 ms each (a full backlog drops the SYN).
fn pending_connects(addr: std::net::SocketAddr, n: usize) -> (usize, Vec<std::net::TcpStream>) {
    let mut clients = Vec::new();
    for _ in 0..n {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300)) {
            Ok(c) => clients.push(c),
            Err(_) => break,
        }
    }
    (clients.len(), clients)
}

#[test]
fn the_default_backlog_holds_a_burst_of_a_thousand_clients() {
    let max = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if max < 1100 {
        eprintln!("skipped: net.core.somaxconn is {max}, below this test's burst");
        return;
    }
    // Made before any loop runs, and never accepting: the kernel's queue is all there is.
    let server = common::listen_local();
    let (held, _clients) = pending_connects(server.local_address().into(), 1000);
    assert_eq!(
        held, 1000,
        "the backlog held only {held} pending connections"
    );
}

#[test]
fn an_explicit_backlog_still_applies() {
    let server = ListenOptions::new()
        .backlog(16)
        .listen_on(SocketAddress::localhost(0))
        .unwrap();
    let (held, _clients) = pending_connects(server.local_address().into(), 200);
    // Linux completes backlog + 1 handshakes before it drops SYNs.
    assert!(
        held < 200,
        "a backlog of 16 held {held} pending connections"
    );
}
