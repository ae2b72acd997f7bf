//! The futures-io traits on `Socket`: end of stream is `Ok(0)`, default timeouts apply,
//! vectored writes send every slice.
mod common;

use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

async fn trait_read(mut socket: &event::Socket, buf: &mut [u8]) -> std::io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut socket).poll_read(cx, buf)).await
}

#[test]
fn trait_read_honours_the_default_timeout_and_stays_usable() {
    common::run(async {
        let (a, b) = common::pair().await;
        b.set_read_timeout(Some(Duration::from_millis(40)));
        let mut buf = [0u8; 16];
        let start = Instant::now();
        let err = trait_read(&b, &mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(40));
        a.write(b"later").await.unwrap();
        let n = trait_read(&b, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"later");
        // End of stream is Ok(0) in the trait.
        drop(a);
        assert_eq!(trait_read(&b, &mut buf).await.unwrap(), 0);
    });
}

#[test]
fn vectored_write_sends_every_slice_in_order() {
    common::run(async {
        let (mut a, b) = common::pair().await;
        let parts: [&[u8]; 3] = [b"head ", b"body ", b"tail"];
        let slices = parts.map(IoSlice::new);
        let n = poll_fn(|cx| Pin::new(&mut a).poll_write_vectored(cx, &slices))
            .await
            .unwrap();
        assert_eq!(n, 14);
        assert_eq!(common::read_exact(&b, 14).await.unwrap(), b"head body tail");
    });
}

#[test]
fn vectored_write_of_more_slices_than_iov_max_writes_a_part() {
    common::run(async {
        let (mut a, b) = common::pair().await;
        let bytes: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        let slices: Vec<IoSlice<'_>> = bytes.chunks(1).map(IoSlice::new).collect();
        let n = poll_fn(|cx| Pin::new(&mut a).poll_write_vectored(cx, &slices))
            .await
            .unwrap();
        // epoll: one sendmsg takes at most IOV_MAX (1024) slices; io_uring: the slices are
        // gathered into one driver buffer. Either way part or all goes out, never an error.
        assert!(n > 0 && n <= bytes.len(), "wrote {n}");
        assert_eq!(common::read_exact(&b, n).await.unwrap(), bytes[..n]);
    });
}
