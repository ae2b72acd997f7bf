//! The futures-io writer on either driver: a byte that `poll_write` reported as written reaches
//! the peer, in order, whatever the caller does next (a native half-close, dropping the socket,
//! a flush that timed out followed by more writes). On epoll `poll_write` puts the bytes in the
//! kernel; on io_uring it is write-behind (the bytes sit in a driver buffer with a send in
//! flight), and these tests pin down that the difference is not observable by the peer. (The
//! exception on both drivers: a socket dropped with received bytes nobody read resets the
//! connection, which discards what the kernel has not delivered; these tests read everything.)
mod common;

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use event::{Socket, SocketError};
use futures_io::AsyncWrite;

/// Reads until end of stream (or a read error, which ends the stream too); gives up after 20 s.
async fn read_to_end(socket: &Socket) -> Vec<u8> {
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match socket.read(256 * 1024).timeout(left).await {
            Ok(bytes) => out.extend(bytes),
            Err(SocketError::ConnectionClosed) | Err(SocketError::Read { .. }) => return out,
            Err(e) => panic!("reading to end of stream: {e:?} after {} bytes", out.len()),
        }
    }
}

/// One `poll_write` through the futures-io trait.
async fn trait_write(socket: &Socket, buf: &[u8]) -> std::io::Result<usize> {
    let mut s = socket;
    poll_fn(|cx| Pin::new(&mut s).poll_write(cx, buf)).await
}

/// Writes all of `data` through the trait, without flushing.
async fn trait_write_all(socket: &Socket, data: &[u8]) {
    let mut off = 0;
    while off < data.len() {
        off += trait_write(socket, &data[off..]).await.unwrap();
    }
}

/// A native `shutdown_write` right after trait writes: the peer must read every byte, then EOF
/// (the native API documents that the peer gets everything written before the half-close).
#[test]
fn trait_write_then_native_shutdown_write_delivers_every_byte() {
    common::run(async {
        for len in [5usize, 100_000, 1_000_000] {
            let (a, b) = common::pair().await;
            let data = common::pattern(len, len as u64);
            let b = Rc::new(b);
            let reader = {
                let b = b.clone();
                event::spawn(async move { read_to_end(&b).await })
            };
            trait_write_all(&a, &data).await;
            a.shutdown_write().unwrap();
            let got = reader.await.unwrap();
            assert_eq!(
                got.len(),
                data.len(),
                "{len} bytes written through the trait, then shutdown_write: the peer got {}",
                got.len()
            );
            assert!(got == data, "bytes differ");
        }
    });
}

/// Dropping the socket right after trait writes, while the peer is slow: the peer must get every
/// byte `poll_write` accepted, then end of stream (on epoll those bytes are in the kernel's send
/// buffer and the close sends them before its FIN).
#[test]
fn trait_write_then_drop_delivers_every_accepted_byte() {
    common::run(async {
        // Keep the kernel's buffers small so that the writer stalls early.
        let (a, b) = common::small_buffer_pair().await;
        let data = common::pattern(16 << 20, 11);
        let mut accepted = 0;
        // The peer does not read yet: write until a write stays pending (the writer stalled).
        while accepted < data.len() {
            match event::timeout(
                Duration::from_millis(300),
                trait_write(&a, &data[accepted..]),
            )
            .await
            {
                Ok(r) => accepted += r.unwrap(),
                Err(_) => break,
            }
        }
        assert!(accepted > 0 && accepted < data.len(), "accepted {accepted}");
        drop(a);
        let got = read_to_end(&b).await;
        assert_eq!(
            got.len(),
            accepted,
            "poll_write accepted {accepted} bytes, then the socket was dropped: the peer got {}",
            got.len()
        );
        assert!(got == data[..accepted], "bytes differ");
    });
}

/// A write that times out (the socket's default write timeout, through the trait) and a later
/// write that succeeds: the stream the peer reads must be every accepted byte in order, then the
/// later bytes. A gap (accepted bytes silently dropped, later bytes delivered) is corruption.
#[test]
fn trait_write_timeout_then_more_writes_leave_no_gap() {
    common::run(async {
        let (a, b) = common::small_buffer_pair().await;
        a.set_write_timeout(Some(Duration::from_millis(100)));
        let data = common::pattern(16 << 20, 12);
        let mut accepted = 0;
        let err = loop {
            match trait_write(&a, &data[accepted..]).await {
                Ok(n) => accepted += n,
                Err(e) => break e,
            }
            assert!(
                accepted < data.len(),
                "the peer does not read: the writer must stall"
            );
        };
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err:?}");
        // Now the peer reads, and the writer goes on with more bytes, then closes its side.
        let b = Rc::new(b);
        let reader = {
            let b = b.clone();
            event::spawn(async move { read_to_end(&b).await })
        };
        a.set_write_timeout(None);
        let tail = common::pattern(10_000, 13);
        let mut off = 0;
        let mut later_write_failed = false;
        while off < tail.len() {
            match trait_write(&a, &tail[off..]).await {
                Ok(n) => off += n,
                Err(_) => {
                    later_write_failed = true;
                    break;
                }
            }
        }
        let mut s = &a;
        let closed = poll_fn(|cx| Pin::new(&mut s).poll_close(cx)).await;
        if closed.is_err() {
            later_write_failed = true;
        }
        let got = reader.await.unwrap();
        if later_write_failed {
            // Refusing to go on after losing bytes is acceptable; delivering a gap is not.
            assert!(got.len() <= accepted && got == data[..got.len()]);
            return;
        }
        let mut expected = data[..accepted].to_vec();
        expected.extend_from_slice(&tail);
        assert_eq!(
            got.len(),
            expected.len(),
            "accepted {accepted} bytes before the timeout and {} after it; the peer got {}",
            tail.len(),
            got.len()
        );
        assert!(got == expected, "bytes differ");
    });
}

/// A flush after trait writes waits until the bytes are with the kernel; `poll_close` then
/// delivers them all and the peer sees end of stream.
#[test]
fn trait_write_flush_close_delivers_everything() {
    common::run(async {
        let (a, b) = common::pair().await;
        let data = common::pattern(3 << 20, 14);
        let b = Rc::new(b);
        let reader = {
            let b = b.clone();
            event::spawn(async move { read_to_end(&b).await })
        };
        trait_write_all(&a, &data).await;
        let mut s = &a;
        poll_fn(|cx| Pin::new(&mut s).poll_flush(cx)).await.unwrap();
        poll_fn(|cx| Pin::new(&mut s).poll_close(cx)).await.unwrap();
        let got = reader.await.unwrap();
        assert!(got == data, "got {} of {} bytes", got.len(), data.len());
    });
}

/// The socket's write timeout bounds a stall, not a slow but steady reader, for trait writes as
/// for `Socket::write`: a peer that keeps reading a little at a time never makes `poll_write`
/// or `poll_flush` time out, even when one write-behind buffer takes longer than the timeout to
/// drain.
#[test]
fn trait_write_timeout_bounds_a_stall_not_a_slow_steady_reader() {
    common::run(async {
        let (a, b) = common::small_buffer_pair().await;
        a.set_write_timeout(Some(Duration::from_millis(250)));
        let data = common::pattern(1 << 20, 15);
        let n = data.len();
        // The reader takes 8 KiB every 10 ms (about 800 KB/s): never a stall of 250 ms.
        let reader = event::spawn(async move {
            let mut got = Vec::new();
            while got.len() < n {
                got.extend(b.read(8 * 1024).await.unwrap());
                event::sleep(Duration::from_millis(10)).await;
            }
            got
        });
        let mut off = 0;
        while off < n {
            match trait_write(&a, &data[off..]).await {
                Ok(k) => off += k,
                Err(e) => panic!("trait write failed after {off} bytes: {e:?}"),
            }
        }
        let mut s = &a;
        poll_fn(|cx| Pin::new(&mut s).poll_flush(cx))
            .await
            .unwrap_or_else(|e| panic!("flush failed: {e:?}"));
        let got = reader.await.unwrap();
        assert!(got == data);
    });
}
