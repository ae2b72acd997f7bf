//! `Socket::write_owned`: the vector is handed over; an empty one comes back on success, the
//! same one, unchanged, on an error or a timeout.

mod common;

use std::rc::Rc;
use std::time::Duration;

use event::SocketError;

#[test]
fn write_owned_sends_every_byte_and_returns_an_empty_vector() {
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
        assert!(
            back.is_empty(),
            "an empty vector comes back for the next message"
        );
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
        // The peer does not read. Write until a write times out: every write before it counts
        // whole, the one that times out says how much of its vector went out (on io_uring
        // none: it waits for the send before it) and gives the vector back unchanged.
        let chunk = common::pattern(4 << 20, 5);
        let mut sent: Vec<u8> = Vec::new();
        let (written, back) = loop {
            let (result, back) = a
                .write_owned(chunk.clone())
                .timeout(Duration::from_millis(50))
                .await;
            match result {
                Ok(()) => {
                    assert!(back.is_empty());
                    sent.extend_from_slice(&chunk);
                }
                Err(SocketError::WriteTimeout { written, .. }) => break (written, back),
                Err(other) => panic!("expected WriteTimeout, got {other:?}"),
            }
            assert!(
                sent.len() < 1 << 30,
                "a peer that never reads must stall the writer"
            );
        };
        assert!(
            back == chunk,
            "the timed-out write's vector comes back whole"
        );
        assert!(written < chunk.len(), "written {written}");
        sent.extend_from_slice(&chunk[..written]);
        // Exactly what was reported went out: the rest completes the stream.
        let b = Rc::new(b);
        let total = sent.len() + (chunk.len() - written);
        let reader = {
            let b = b.clone();
            event::spawn(async move { common::read_exact(&b, total).await.unwrap() })
        };
        let (result, _) = a.write_owned(back[written..].to_vec()).await;
        result.unwrap();
        let got = reader.await.unwrap();
        sent.extend_from_slice(&chunk[written..]);
        assert!(got == sent, "stream is intact across the timed-out write");
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
            if let Err(e) = result {
                assert!(
                    back == data,
                    "a failed write gives the vector back unchanged"
                );
                last = Some(e);
                break;
            }
            assert!(back.is_empty());
            event::sleep(Duration::from_millis(5)).await;
        }
        match last {
            Some(SocketError::Write { .. }) => {}
            other => panic!("expected a write error, got {other:?}"),
        }
    });
}
