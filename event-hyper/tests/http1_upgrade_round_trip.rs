//! An HTTP/1 upgrade (`Connection: upgrade`, 101 Switching Protocols) through `Server`: after
//! the 101 both sides exchange raw bytes over the same socket, every byte checked.

mod common;

use std::io::{Read, Write};

#[test]
fn raw_bytes_flow_both_ways_after_101() {
    let (echoed, report) = common::with_server(
        |server| server,
        |addr| {
            let mut stream = common::connect(addr);
            let reply = common::exchange(
                &mut stream,
                b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
            );
            assert_eq!(reply.status, 101);
            assert_eq!(reply.header("upgrade"), Some("echo"));
            // 1 MiB in 64 KiB pieces, each read back before the next is sent.
            let data = common::pattern(1 << 20, 5);
            let mut back = vec![0; 64 * 1024];
            for chunk in data.chunks(back.len()) {
                stream.write_all(chunk).unwrap();
                stream.read_exact(&mut back[..chunk.len()]).unwrap();
                assert!(&back[..chunk.len()] == chunk, "echoed bytes differ");
            }
            // Our end of stream ends the echo, which closes its side.
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            assert!(common::is_closed(&mut stream));
            data.len()
        },
    );
    assert_eq!(echoed, 1 << 20);
    assert_eq!(report.cut, 0, "{report}");
}
