//! An HTTP/1 upgrade over TLS: after the 101 the raw bytes flow through the same TLS session
//! both ways, every byte checked.
#![cfg(feature = "tls")]

mod common;

use std::io::{Read, Write};
use std::sync::Arc;

#[test]
fn raw_bytes_flow_both_ways_over_tls_after_101() {
    let (config, cert) = common::tls::server_config();
    let client = common::tls::client_config(&cert, &[b"http/1.1"]);
    let (_, report) = common::with_server(
        move |server| server.tls(Arc::new(config)),
        move |addr| {
            let mut tls = common::tls::connect_std(addr, client);
            let reply = common::exchange(
                &mut tls,
                b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
            );
            assert_eq!(reply.status, 101);
            let data = common::pattern(256 * 1024, 9);
            let mut back = vec![0; 16 * 1024];
            for chunk in data.chunks(back.len()) {
                tls.write_all(chunk).unwrap();
                tls.flush().unwrap();
                tls.read_exact(&mut back[..chunk.len()]).unwrap();
                assert!(&back[..chunk.len()] == chunk, "echoed bytes differ");
            }
        },
    );
    assert_eq!(report.cut, 0, "{report}");
}
