//! Many connections at once on one loop: each client sends 200 KB while reading the echo back
//! concurrently; every byte comes back in order, and nothing is left in flight afterwards.
mod common;

use std::rc::Rc;
use std::time::Duration;

use event::{EventLoop, Socket};

const CLIENTS: usize = 300;
const LEN: usize = 200_000;

#[test]
fn three_hundred_connections_each_sending_200_kb_are_echoed_exactly() {
    let lp = EventLoop::new().unwrap();
    let lp = &lp;
    lp.block_on(async {
        let work = async {
            let addr = common::spawn_echo_server();
            let mut handles = Vec::new();
            for i in 0..CLIENTS {
                handles.push(event::spawn(async move {
                    let s = Rc::new(Socket::connect(addr).await.unwrap());
                    let data = Rc::new(common::pattern(LEN, i as u64));
                    let writer = {
                        let (s, data) = (s.clone(), data.clone());
                        event::spawn(async move {
                            // In pieces of varied sizes, as a client would.
                            let mut off = 0;
                            let mut k = 0;
                            while off < LEN {
                                let n = [1000, 70_000, 13, 131_072][k % 4].min(LEN - off);
                                s.write(&data[off..off + n]).await.unwrap();
                                off += n;
                                k += 1;
                            }
                        })
                    };
                    let back = common::read_exact(&s, LEN).await.unwrap();
                    writer.await.unwrap();
                    assert!(back == *data, "client {i}: echoed bytes differ");
                }));
            }
            for h in handles {
                h.await.unwrap();
            }
        };
        event::timeout(Duration::from_secs(120), work)
            .await
            .expect("did not finish in 120 s");
        // The clients are gone; the server's per-connection tasks see end of stream and end.
        event::sleep(Duration::from_millis(200)).await;
    });
    let stats = lp.stats();
    // The echo server still accepts: on io_uring its listener is one multishot accept on the
    // ring (an operation), on epoll a readiness source. Nothing else may be left.
    let (listener_ops, listener_sources) = match lp.backend() {
        "io_uring" => (1, 0),
        _ => (0, 1),
    };
    assert_eq!(
        (stats.operations, stats.sources),
        (listener_ops, listener_sources),
        "operations left in flight: {stats:?}"
    );
}
