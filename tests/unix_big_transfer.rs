//! A large transfer over a Unix stream on each driver: 32 MiB each way at once through an echo
//! task, every byte checked against a pattern, with `read_buf`/`write_owned` and the
//! futures-io traits.

mod common;

use std::time::Duration;

use common::unix::{TempDir, spawn_unix_echo};
use event::UnixSocket;
use futures_io::{AsyncRead, AsyncWrite};

const LEN: usize = 32 * 1024 * 1024;

#[test]
fn every_byte_of_32_mib_comes_back_in_order_on_each_driver() {
    for backend in common::drivers() {
        let dir = TempDir::new("big");
        let path = dir.join("big.sock");
        let server = UnixSocket::listen(&path).unwrap();
        let lp = common::event_loop(backend);
        lp.block_on(async {
            assert_eq!(event::backend(), lp_name(backend));
            spawn_unix_echo(server);
            let client = std::rc::Rc::new(UnixSocket::connect(&path).await.unwrap());
            let body = common::pattern(LEN, 42);
            let writer = {
                let (client, body) = (client.clone(), body.clone());
                event::spawn(async move {
                    for chunk in body.chunks(1 << 20) {
                        client.write(chunk).await.unwrap();
                    }
                    client.shutdown_write().unwrap();
                })
            };
            let mut got = Vec::with_capacity(LEN);
            let mut buf = Vec::new();
            while got.len() < LEN {
                buf.clear();
                let n = client
                    .read_buf(&mut buf, 64 * 1024)
                    .timeout(Duration::from_secs(20))
                    .await
                    .unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got == body, "{backend:?}: every byte, in order");
            writer.await.unwrap();
        });
    }
}

fn lp_name(backend: event::Backend) -> &'static str {
    match backend {
        event::Backend::IoUring => "io_uring",
        _ => "epoll",
    }
}

/// futures-io's traits over a socket pair, with `write_owned` on the other side.
#[test]
fn the_futures_io_traits_carry_a_megabyte() {
    for backend in common::drivers() {
        common::event_loop(backend).block_on(async {
            let (a, b) = UnixSocket::pair().unwrap();
            let body = common::pattern(1 << 20, 9);
            let sender = {
                let body = body.clone();
                event::spawn(async move {
                    let (r, _empty) = a.write_owned(body).await;
                    r.unwrap();
                    let mut a = a;
                    std::future::poll_fn(|cx| std::pin::Pin::new(&mut a).poll_close(cx))
                        .await
                        .unwrap();
                })
            };
            let mut b = b;
            let mut got = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let n =
                    std::future::poll_fn(|cx| std::pin::Pin::new(&mut b).poll_read(cx, &mut buf))
                        .await
                        .unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got == body, "{backend:?}");
            sender.await.unwrap();
        });
    }
}
