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

#[test]
fn listener_is_close_on_exec_and_non_blocking() {
    use std::os::fd::AsRawFd;
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    drop(server);
    // Inspect our own listener's descriptor flags through /proc (fd numbers are private, so find
    // the socket whose local port matches).
    let server = common::listen_local();
    let port = server.local_port();
    let mut checked = false;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let fd: i32 = entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .parse()
            .unwrap();
        // SAFETY: fcntl/getsockname only read the state of a descriptor this process owns.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let ok =
            unsafe { libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) };
        if ok == 0 && addr.sin_family as i32 == libc::AF_INET && u16::from_be(addr.sin_port) == port
        {
            assert!(flags & libc::FD_CLOEXEC != 0, "listener lacks FD_CLOEXEC");
            let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            assert!(fl & libc::O_NONBLOCK != 0, "listener is blocking");
            checked = true;
        }
    }
    let _ = std::io::stdout().as_raw_fd();
    assert!(checked, "found the listener's descriptor");
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
fn ipv6_only_option_is_applied() {
    let v6only = ListenOptions::new()
        .ipv6_only(true)
        .listen_on(SocketAddress::ipv6("::1", 0).unwrap())
        .unwrap();
    // With IPV6_V6ONLY, the same port number is still free on IPv4.
    let port = v6only.local_port();
    Socket::listen_on(SocketAddress::localhost(port)).unwrap();
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
