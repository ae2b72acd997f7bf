//! UDP: `datagrams(max_len)` is a `futures_core::Stream` of (bytes, sender), each datagram
//! whole and in order.

mod common;

use std::pin::Pin;
use std::task::Poll;

use event::UdpSocket;
use futures_core::Stream;

#[test]
fn the_stream_yields_each_datagram_with_its_sender() {
    common::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..50u32 {
            let from = if i % 2 == 0 { &a } else { &c };
            from.send_to(&i.to_le_bytes(), b.local_address())
                .await
                .unwrap();
        }
        let mut datagrams = b.datagrams(1500);
        for i in 0..50u32 {
            let (bytes, from) = datagrams.next().await.unwrap().unwrap();
            assert_eq!(bytes, i.to_le_bytes());
            let expected = if i % 2 == 0 { &a } else { &c };
            assert_eq!(from, expected.local_address());
        }
        // Through the trait, as a combinator would poll it.
        a.send_to(b"trait", b.local_address()).await.unwrap();
        let item = std::future::poll_fn(|cx| match Pin::new(&mut datagrams).poll_next(cx) {
            Poll::Ready(item) => Poll::Ready(item),
            Poll::Pending => Poll::Pending,
        })
        .await;
        assert_eq!(item.unwrap().unwrap().0, b"trait");
    });
}
