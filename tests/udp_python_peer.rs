//! UDP against another implementation: Python's socket module (`python3 -c`) as the client of
//! our echo socket, every byte value and a 0-byte datagram included. Skipped, with a note,
//! where python3 is missing.

mod common;

use std::time::Duration;

use event::UdpSocket;

const CLIENT: &str = r#"
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
msgs = [bytes(range(256)), b"", b"hello from python", bytes([0xff]) * 60000]
for m in msgs:
    s.sendto(m, ("127.0.0.1", port))
    data, addr = s.recvfrom(65536)
    assert addr == ("127.0.0.1", port), addr
    assert data == m, (len(data), len(m))
s.sendto(b"done", ("127.0.0.1", port))
print("ok", len(msgs))
"#;

#[test]
fn a_python_client_gets_every_datagram_echoed() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_address().port();
    let Some(child) = common::python::spawn(CLIENT, &[port.to_string()]) else {
        return;
    };
    common::run(async {
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, from) = server
                .recv_from(&mut buf)
                .timeout(Duration::from_secs(20))
                .await
                .expect("a datagram from python");
            if &buf[..n] == b"done" {
                break;
            }
            server.send_to(&buf[..n], from).await.unwrap();
        }
    });
    common::python::expect_output(child, "ok 4");
}
