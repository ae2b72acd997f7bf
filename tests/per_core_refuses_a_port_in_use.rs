//! `PerCore::listen` with several loops refuses a port another socket already listens on
//! (`SO_REUSEPORT` alone would silently join it and take part of its connections), unless the
//! caller opts in with `share_port(true)`.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use event::{ListenOptions, PerCore, ServerSocket, SocketAddress, SocketError};

/// Runs `per_core.listen` on `addr` with loops that close their listener at once; returns the
/// result and how many loops ran.
fn listen(per_core: PerCore, addr: SocketAddress) -> (Result<usize, SocketError>, usize) {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let result = per_core.listen(
        &ListenOptions::new(),
        addr,
        move |server: ServerSocket, _| {
            r.fetch_add(1, Ordering::SeqCst);
            async move { server.close() }
        },
    );
    (result.map(|loops| loops.len()), ran.load(Ordering::SeqCst))
}

/// `listen` succeeded and every one of its loops ran: how many.
fn started(per_core: PerCore, addr: SocketAddress) -> usize {
    match listen(per_core, addr) {
        (Ok(loops), ran) if loops == ran => ran,
        other => panic!("{addr}: expected every loop to run, got {other:?}"),
    }
}

fn assert_in_use(result: Result<usize, SocketError>, addr: SocketAddress) {
    match result {
        Err(e @ SocketError::Bind { .. }) => {
            assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE), "{e}");
            assert!(e.to_string().starts_with(&format!("bind {addr}: ")), "{e}");
        }
        other => panic!("expected bind: address in use, got {other:?}"),
    }
}

#[test]
fn several_loops_refuse_a_port_a_plain_listener_holds() {
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = SocketAddress::from(other.local_addr().unwrap());
    let (result, ran) = listen(PerCore::new().threads(2), addr);
    assert_in_use(result, addr);
    assert_eq!(ran, 0, "no loop starts");
}

#[test]
fn several_loops_refuse_a_port_another_reuse_port_listener_holds() {
    // What a second `echo --threads 2` on the same port meets: the first one's listeners.
    let first = ListenOptions::new()
        .reuse_port(true)
        .listen_on(SocketAddress::localhost(0))
        .unwrap();
    let addr = first.local_address();
    let (result, ran) = listen(PerCore::new().threads(2), addr);
    assert_in_use(result, addr);
    assert_eq!(ran, 0);
    // One loop says the same, as it always did.
    let (result, _) = listen(PerCore::new().threads(1), addr);
    assert_in_use(result, addr);
}

#[test]
fn share_port_joins_a_reuse_port_listener_on_purpose() {
    let first = ListenOptions::new()
        .reuse_port(true)
        .listen_on(SocketAddress::localhost(0))
        .unwrap();
    let addr = first.local_address();
    assert_eq!(started(PerCore::new().threads(2).share_port(true), addr), 2);
    // With one loop too: its listener gets SO_REUSEPORT.
    assert_eq!(started(PerCore::new().threads(1).share_port(true), addr), 1);
}

#[test]
fn several_loops_take_a_free_port_and_a_port_left_free() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddress::localhost(port);
    assert_eq!(started(PerCore::new().threads(2), addr), 2);
    // Its listeners are closed: the port can be taken again.
    assert_eq!(started(PerCore::new().threads(2), addr), 2);
    assert_eq!(
        started(PerCore::new().threads(2), SocketAddress::localhost(0)),
        2
    );
}
