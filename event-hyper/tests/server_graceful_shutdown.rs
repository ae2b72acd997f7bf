//! Graceful shutdown through `Shutdown`: the listener closes, an idle keep-alive connection is
//! closed at once, an in-flight request finishes (with `Connection: close`), and a request still
//! running at the drain deadline is cut.

mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use event::Shutdown;
use event_hyper::Server;

#[test]
fn idle_closes_in_flight_finishes_the_rest_is_cut() {
    common::run(async {
        let listener = common::listen_local();
        let addr = common::std_addr(&listener);
        let shutdown = Shutdown::new();
        let server = Server::new(listener)
            .shutdown(&shutdown)
            .drain_timeout(Duration::from_millis(600));
        let server = event::spawn(server.serve(hyper::service::service_fn(common::handler)));

        // Three clients: idle after one request, one request of 300 ms, one of 30 s.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let clients = thread::spawn(move || {
            let mut idle = common::connect(addr);
            assert_eq!(
                common::exchange(&mut idle, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status,
                200
            );
            let mut short = common::connect(addr);
            short
                .write_all(b"GET /sleep/300 HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut long = common::connect(addr);
            long.write_all(b"GET /sleep/30000 HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            thread::sleep(Duration::from_millis(100)); // let both requests reach their handler
            ready_tx.send(()).unwrap();
            let start = Instant::now();
            assert!(common::is_closed(&mut idle), "the idle connection closes");
            let idle_closed = start.elapsed();
            let reply = common::read_reply(&mut short);
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body, b"slept\n");
            assert_eq!(reply.header("connection"), Some("close"));
            assert!(common::is_closed(&mut short));
            assert!(common::is_closed(&mut long), "the long request is cut");
            let long_cut = start.elapsed();
            // No new connection after the trigger.
            let refused = std::net::TcpStream::connect(addr).is_err();
            (idle_closed, long_cut, refused)
        });
        while ready_rx.try_recv().is_err() {
            event::sleep(Duration::from_millis(2)).await;
        }
        shutdown.trigger();
        let report = server.await.unwrap();
        let (idle_closed, long_cut, refused) =
            common::on_thread(move || clients.join().unwrap()).await;
        assert!(
            idle_closed < Duration::from_millis(250),
            "idle closed after {idle_closed:?}"
        );
        assert!(
            long_cut >= Duration::from_millis(500),
            "cut before the deadline: {long_cut:?}"
        );
        assert!(long_cut < Duration::from_secs(10), "cut late: {long_cut:?}");
        assert!(refused, "the listener is closed");
        assert_eq!(report.cut, 1, "{report}");
        assert_eq!(report.finished, 2, "{report}");
    });
}
