//! `UnixDatagram::datagrams`: a Stream of each datagram and its sender, in order (truncation in
//! the stream: unix_datagram_truncation.rs).

mod common;

use common::unix::TempDir;
use event::UnixDatagram;

#[test]
fn the_stream_yields_each_datagram_with_its_sender_in_order() {
    let dir = TempDir::new("dg-stream");
    common::run(async {
        let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
        let a = UnixDatagram::bind(dir.join("a.sock")).unwrap();
        let b = UnixDatagram::unbound().unwrap();
        a.send_to(b"one", dir.join("s.sock")).await.unwrap();
        b.send_to(b"two", dir.join("s.sock")).await.unwrap();
        a.send_to(b"three", dir.join("s.sock")).await.unwrap();
        let mut datagrams = server.datagrams(1500);
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(datagrams.next().await.unwrap().unwrap());
        }
        assert_eq!(
            got,
            vec![
                (b"one".to_vec(), a.local_address()),
                (b"two".to_vec(), event::UnixAddress::Unnamed),
                (b"three".to_vec(), a.local_address()),
            ]
        );
    });
}
