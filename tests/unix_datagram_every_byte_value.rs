//! Unix datagrams carry every byte value unchanged, over a path, an abstract name and a pair.

mod common;

use common::unix::{TempDir, abstract_name};
use event::{UnixAddress, UnixDatagram};

/// Every byte value, twice, in an order that is not sorted.
fn every_byte() -> Vec<u8> {
    (0..512u32).map(|i| (i * 7 + i / 256) as u8).collect()
}

async fn round_trip(server: &UnixDatagram, client: &UnixDatagram, to: UnixAddress) {
    let msg = every_byte();
    client.send_to(&msg, to).await.unwrap();
    let mut buf = [0u8; 1024];
    let (n, from) = server.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], &msg[..]);
    server.send_to(&buf[..n], from).await.unwrap();
    let (n, _) = client.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], &msg[..], "echoed back whole");
}

#[test]
fn every_byte_value_arrives_over_a_path() {
    let dir = TempDir::new("dg-bytes");
    common::run(async {
        let server = UnixDatagram::bind(dir.join("s.sock")).unwrap();
        let client = UnixDatagram::bind(dir.join("c.sock")).unwrap();
        round_trip(&server, &client, server.local_address()).await;
    });
}

#[test]
fn every_byte_value_arrives_over_an_abstract_name() {
    common::run(async {
        let server = UnixDatagram::bind(abstract_name("dg-bytes-s").as_str()).unwrap();
        let client = UnixDatagram::bind(abstract_name("dg-bytes-c").as_str()).unwrap();
        round_trip(&server, &client, server.local_address()).await;
    });
}

#[test]
fn every_byte_value_arrives_over_a_pair() {
    common::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let msg = every_byte();
        a.send(&msg).await.unwrap();
        let mut buf = [0u8; 1024];
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &msg[..]);
    });
}
