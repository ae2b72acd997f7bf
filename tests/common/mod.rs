//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use event::{ServerSocket, Socket, SocketAddress};

/// Runs `future` on a fresh loop, failing the test instead of hanging if it takes over 60 s.
pub fn run<F: Future>(future: F) -> F::Output {
    event::run(async {
        event::timeout(Duration::from_secs(60), future)
            .await
            .expect("test did not finish within 60 s")
    })
}

/// A listener on 127.0.0.1 with an ephemeral port.
pub fn listen_local() -> ServerSocket {
    Socket::listen_on(SocketAddress::localhost(0)).expect("listen on 127.0.0.1:0")
}

/// Spawns an echo server on the current loop; returns its address.
pub fn spawn_echo_server() -> SocketAddress {
    let server = listen_local();
    let addr = server.local_address();
    event::spawn(async move {
        loop {
            let Ok(client) = server.accept().await else {
                return;
            };
            event::spawn(async move {
                while let Ok(bytes) = client.read(64 * 1024).await {
                    if client.write(&bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Reads exactly `n` bytes.
pub async fn read_exact(socket: &Socket, n: usize) -> Result<Vec<u8>, event::SocketError> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend(socket.read(n - out.len()).await?);
    }
    Ok(out)
}

/// A deterministic, non-repeating-looking byte pattern.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Sets a flag when dropped.
pub struct DropGuard(pub std::rc::Rc<std::cell::Cell<bool>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Polls two futures concurrently (a tiny join, to avoid a dependency).
pub async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
