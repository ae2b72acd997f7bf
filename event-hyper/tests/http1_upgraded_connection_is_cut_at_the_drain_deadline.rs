//! An upgraded connection counts as in flight: the shutdown's drain waits for it and, at the
//! deadline, closes its socket (the task holding the `Upgraded` then gets an error), so the
//! drain still ends.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use event::Shutdown;
use event_hyper::Server;

#[test]
fn the_drain_ends_at_its_deadline_with_an_upgraded_connection_open() {
    common::run(async {
        let listener = common::listen_local();
        let addr = common::std_addr(&listener);
        let shutdown = Shutdown::new();
        let server = Server::new(listener)
            .shutdown(&shutdown)
            .drain_timeout(Duration::from_millis(400));
        let server = event::spawn(server.serve(hyper::service::service_fn(common::handler)));
        let mut stream = common::on_thread(move || {
            let mut stream = common::connect(addr);
            let reply = common::exchange(
                &mut stream,
                b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
            );
            assert_eq!(reply.status, 101);
            stream.write_all(b"still here").unwrap();
            let mut back = [0; 10];
            stream.read_exact(&mut back).unwrap();
            assert_eq!(&back, b"still here");
            stream
        })
        .await;
        let start = Instant::now();
        shutdown.trigger();
        let report = server.await.unwrap();
        let drained = start.elapsed();
        assert_eq!(report.cut, 1, "{report}");
        assert!(
            drained >= Duration::from_millis(300),
            "cut early: {drained:?}"
        );
        assert!(drained < Duration::from_secs(10), "cut late: {drained:?}");
        let closed = common::on_thread(move || common::is_closed(&mut stream)).await;
        assert!(closed, "the upgraded connection's socket is closed");
    });
}
