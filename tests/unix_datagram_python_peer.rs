//! Unix datagrams against another implementation: Python's socket module (AF_UNIX,
//! SOCK_DGRAM, `python3 -c`) as the client of our echo socket, bound to a path of its own,
//! every byte value, a 0-byte and a 100 KB datagram included. Skipped, with a note, where
//! python3 is missing.

mod common;

use std::time::Duration;

use common::unix::TempDir;
use event::UnixDatagram;

const CLIENT: &str = r#"
import socket, sys
server, own = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(own)
s.settimeout(10)
msgs = [bytes(range(256)), b"", b"hello from python", bytes([0xa5]) * 100000]
for m in msgs:
    s.sendto(m, server)
    data, addr = s.recvfrom(200000)
    assert addr == server, addr
    assert data == m, (len(data), len(m))
s.sendto(b"done", server)
print("ok", len(msgs))
"#;

#[test]
fn a_python_client_gets_every_datagram_echoed() {
    let dir = TempDir::new("dg-python");
    let server = UnixDatagram::bind(dir.join("server.sock")).unwrap();
    let own = dir.join("python.sock");
    let Some(child) = common::python::spawn(CLIENT, &[dir.join("server.sock"), own.clone()]) else {
        return;
    };
    common::run(async {
        let mut buf = vec![0u8; 200_000];
        loop {
            let (n, from) = server
                .recv_from(&mut buf)
                .timeout(Duration::from_secs(20))
                .await
                .expect("a datagram from python");
            assert_eq!(from.as_path(), Some(own.as_path()), "python's own path");
            if &buf[..n] == b"done" {
                break;
            }
            server.send_to(&buf[..n], from).await.unwrap();
        }
    });
    common::python::expect_output(child, "ok 4");
}
