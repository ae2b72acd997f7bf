//! `Socket::write_owned`: the vector is handed to the driver and comes back with the outcome.

mod common;

use std::rc::Rc;
use std::time::Duration;

use event::SocketError;

#[test]
fn write_owned_sends_every_byte_and_returns_the_vector() {
    common::run(async {
        let (a, b) = common::pair().await;
        let data = common::pattern(8 << 20, 11);
        let expected = data.clone();
        let reader = event::spawn(async move {
            let mut got = Vec::with_capacity(8 << 20);
            let mut reads = 0u32;
            while got.len() < 8 << 20 {
                got.extend(b.read(64 * 1024).await.unwrap());
                reads += 1;
                if reads.is_multiple_of(16) {
                    event::sleep(Duration::from_millis(1)).await;
                }
            }
            got
        });
        let (result, back) = a.write_owned(data).await;
        result.unwrap();
        assert!(back == expected, "the vector comes back unchanged");
        let got = reader.await.unwrap();
        assert!(got == expected, "bytes differ");
    });
}

#[test]
fn write_owned_of_nothing_completes_at_once() {
    common::run(async {
        let (a, _b) = common::pair().await;
        let (result, back) = a.write_owned(Vec::with_capacity(100)).await;
        result.unwrap();
        assert!(back.is_empty());
        assert_eq!(back.capacity(), 100, "the same vector comes back");
    });
}

#[test]
fn write_owned_timeout_reports_bytes_written_and_returns_the_vector() {
    common::run(async {
        let (a, b) = common::pair().await;
        let data = common::pattern(64 << 20, 5);
        let (result, back) = a
            .write_owned(data.clone())
            .timeout(Duration::from_millis(50))
            .await;
        let written = match result {
            Err(SocketError::WriteTimeout { written, .. }) => written,
            other => panic!("expected WriteTimeout, got {other:?}"),
        };
        assert!(written > 0 && written < data.len(), "written {written}");
        assert!(back == data, "the vector comes back whole");
        // Exactly the reported prefix went out: the rest completes the stream.
        let b = Rc::new(b);
        let reader = {
            let b = b.clone();
            let n = data.len();
            event::spawn(async move { common::read_exact(&b, n).await.unwrap() })
        };
        let (result, _) = a.write_owned(back[written..].to_vec()).await;
        result.unwrap();
        let got = reader.await.unwrap();
        assert!(got == data, "stream is intact across the timed-out write");
    });
}

#[test]
fn write_owned_to_a_reset_peer_fails_and_returns_the_vector() {
    common::run(async {
        let (a, b) = common::pair().await;
        // Unread data makes the close a reset.
        a.write(b"unread").await.unwrap();
        event::sleep(Duration::from_millis(20)).await;
        drop(b);
        event::sleep(Duration::from_millis(20)).await;
        let data = common::pattern(1 << 20, 9);
        let mut last = None;
        // The first write may still be taken by the kernel; a later one must fail.
        for _ in 0..50 {
            let (result, back) = a.write_owned(data.clone()).await;
            assert_eq!(back.len(), data.len());
            if let Err(e) = result {
                last = Some(e);
                break;
            }
            event::sleep(Duration::from_millis(5)).await;
        }
        match last {
            Some(SocketError::Write { .. }) => {}
            other => panic!("expected a write error, got {other:?}"),
        }
    });
}
