//! `HyperIo` as hyper's `Read`: every byte arrives, in order, through hyper's uninitialised
//! `ReadBuf` (filled by `Socket::poll_read_uninit`), then end of stream is an empty read.

mod common;

use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::pin::Pin;

use event::Socket;
use event_hyper::HyperIo;
use hyper::rt::{Read, ReadBuf};

fn pattern(i: usize) -> u8 {
    (i * 131 % 251) as u8
}

#[test]
fn every_byte_in_order_then_end_of_stream() {
    common::run(async {
        let listener = common::listen_local();
        let client = Socket::connect(listener.local_address()).await.unwrap();
        let accepted = listener.accept().await.unwrap();
        const TOTAL: usize = 512 * 1024 + 17;
        let writer = event::spawn(async move {
            let bytes: Vec<u8> = (0..TOTAL).map(pattern).collect();
            client.write(&bytes).await.unwrap();
            client.shutdown_write().unwrap();
            client
        });
        let mut io = HyperIo::new(accepted);
        let mut storage = vec![MaybeUninit::<u8>::uninit(); 7000];
        let mut received = 0;
        loop {
            let mut buf = ReadBuf::uninit(&mut storage);
            poll_fn(|cx| Pin::new(&mut io).poll_read(cx, buf.unfilled()))
                .await
                .unwrap();
            let filled = buf.filled();
            if filled.is_empty() {
                break;
            }
            for (k, &b) in filled.iter().enumerate() {
                assert_eq!(b, pattern(received + k), "byte {}", received + k);
            }
            received += filled.len();
        }
        assert_eq!(received, TOTAL);
        drop(writer.await.unwrap());
    });
}
