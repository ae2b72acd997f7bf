//! A real client of another implementation: Python's socket module (`python3 -c`) talks to our
//! Unix echo server at a path and at an abstract name, every byte value included, then
//! half-closes. Skipped, with a note, where python3 is missing.

mod common;

use common::unix::{TempDir, abstract_name};
use event::UnixSocket;

const CLIENT: &str = r#"
import socket, sys
addr = sys.argv[1]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(addr)
msgs = [bytes(range(256)), b"hello from python", bytes([0xa5]) * 300000]
for m in msgs:
    s.sendall(m)
    got = b""
    while len(got) < len(m):
        chunk = s.recv(65536)
        assert chunk, "closed early"
        got += chunk
    assert got == m, (len(got), len(m))
s.shutdown(socket.SHUT_WR)
assert s.recv(1) == b""
print("ok", len(msgs))
"#;

fn run_client(address: &str, server: event::UnixServerSocket) {
    let Some(child) = common::python::spawn(CLIENT, &[address]) else {
        return;
    };
    common::run(async {
        let client = server.accept().await.unwrap();
        while let Ok(bytes) = client.read(64 * 1024).await {
            client.write(&bytes).await.unwrap();
        }
        // End of stream from python: close, so its last recv sees it.
        drop(client);
    });
    common::python::expect_output(child, "ok 3");
}

#[test]
fn a_python_client_gets_every_byte_back_over_a_path() {
    let dir = TempDir::new("py");
    let path = dir.join("py.sock");
    let server = UnixSocket::listen(&path).unwrap();
    run_client(path.to_str().unwrap(), server);
}

#[test]
fn a_python_client_gets_every_byte_back_over_an_abstract_name() {
    let name = abstract_name("py");
    let server = UnixSocket::listen(name.as_str()).unwrap();
    run_client(&name, server);
}
