//! `Socket::poll_read_uninit`: reads into uninitialised memory honour the buffer's length, add up
//! to what the peer sent, end with `Ok(0)` at end of stream and time out like the trait reads.
//! (The bytes themselves are checked through hyper's `ReadBuf` in event-hyper's
//! `io_reads_into_uninit.rs`, which can look at them without `unsafe`.)

mod common;

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

#[test]
fn counts_add_up_to_what_was_sent_then_end_of_stream() {
    common::run(async {
        let (client, accepted) = common::pair().await;
        const TOTAL: usize = 300 * 1024;
        let writer = event::spawn(async move {
            let bytes = vec![7u8; TOTAL];
            client.write(&bytes).await.unwrap();
            client.shutdown_write().unwrap();
            client
        });
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 1500];
        let mut total = 0;
        loop {
            let n = poll_fn(|cx| accepted.poll_read_uninit(cx, &mut buf))
                .await
                .unwrap();
            assert!(n <= buf.len());
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, TOTAL);
        // End of stream stays end of stream.
        assert_eq!(
            poll_fn(|cx| accepted.poll_read_uninit(cx, &mut buf))
                .await
                .unwrap(),
            0
        );
        drop(writer.await.unwrap());
    });
}

#[test]
fn an_empty_buffer_reads_nothing_at_once() {
    common::run(async {
        let (_client, accepted) = common::pair().await;
        let mut buf: [MaybeUninit<u8>; 0] = [];
        let n = poll_fn(|cx| accepted.poll_read_uninit(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!(n, 0);
    });
}

#[test]
fn a_silent_peer_times_out_with_the_read_timeout() {
    common::run(async {
        let (_client, accepted) = common::pair().await;
        accepted.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = [MaybeUninit::<u8>::uninit(); 64];
        let err = poll_fn(|cx| accepted.poll_read_uninit(cx, &mut buf))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    });
}
