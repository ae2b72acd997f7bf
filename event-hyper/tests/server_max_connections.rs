//! `ListenOptions::max_connections` limits the server's connections: at the limit the next
//! client waits in the backlog and is served once a place is free.

mod common;

use std::thread;
use std::time::Duration;

use event::{ListenOptions, Shutdown, SocketAddress};
use event_hyper::Server;

#[test]
fn the_second_client_waits_for_the_first_to_leave() {
    common::run(async {
        let listener = ListenOptions::new()
            .max_connections(1)
            .listen_on(SocketAddress::localhost(0))
            .unwrap();
        let addr = common::std_addr(&listener);
        let shutdown = Shutdown::new();
        let server = event::spawn(
            Server::new(listener)
                .shutdown(&shutdown)
                .serve(hyper::service::service_fn(common::handler)),
        );
        let order = common::on_thread(move || {
            let mut first = common::connect(addr);
            assert_eq!(
                common::exchange(&mut first, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status,
                200
            );
            // The second connects (the kernel's backlog takes it) but is not served yet.
            let mut second = common::connect(addr);
            second
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            use std::io::Write;
            second
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut byte = [0u8; 1];
            let waited = matches!(
                std::io::Read::read(&mut second, &mut byte),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut
            );
            drop(first);
            second
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let reply = common::read_reply(&mut second);
            thread::sleep(Duration::from_millis(10));
            (waited, reply.status)
        })
        .await;
        assert_eq!(order, (true, 200));
        shutdown.trigger();
        server.await.unwrap();
    });
}
