mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use event::{
    JoinError, ListenOptions, PerCore, ServerSocket, Shutdown, ShutdownTrigger, SocketAddress,
};

/// Serves until `trigger` fires: each connection gets one byte, the index of its loop.
async fn serve_index(server: ServerSocket, index: usize, trigger: ShutdownTrigger) -> usize {
    let shutdown = Shutdown::new();
    shutdown.close_on_trigger(&server);
    shutdown.trigger_on(&trigger);
    let mut conns = server.connections();
    let mut served = 0;
    while let Some(Ok(client)) = conns.next().await {
        served += 1;
        shutdown.spawn(async move {
            let _ = client.write(&[index as u8]).await;
        });
    }
    shutdown.drain(Duration::from_secs(5)).await;
    served
}

/// Starts `threads` loops serving `serve_index` on an ephemeral port; returns the port (read
/// back from a probe connection), the trigger, and the thread running them.
fn start(
    threads: usize,
) -> (
    std::net::SocketAddr,
    ShutdownTrigger,
    std::thread::JoinHandle<Vec<Result<usize, JoinError>>>,
) {
    // Reserve a port first (port 0 would work too, but the test needs to know it).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddress::localhost(port);
    let trigger = ShutdownTrigger::new();
    let t = trigger.clone();
    let runner = std::thread::spawn(move || {
        PerCore::new()
            .threads(threads)
            .listen(&ListenOptions::new(), addr, move |server, ctx| {
                serve_index(server, ctx.index(), t.clone())
            })
            .unwrap()
    });
    let addr = addr.to_std();
    // Wait until the loops accept.
    for _ in 0..500 {
        if TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (addr, trigger, runner)
}

fn loop_of(addr: std::net::SocketAddr) -> u8 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut b = [0u8];
    s.read_exact(&mut b).unwrap();
    b[0]
}

#[test]
fn connections_land_on_more_than_one_loop_and_one_trigger_stops_all() {
    let (addr, trigger, runner) = start(2);
    let seen: HashSet<u8> = (0..64).map(|_| loop_of(addr)).collect();
    assert_eq!(
        seen,
        HashSet::from([0, 1]),
        "SO_REUSEPORT spread connections over both loops"
    );
    trigger.fire();
    let results = runner.join().unwrap();
    assert_eq!(results.len(), 2);
    let served: usize = results.into_iter().map(Result::unwrap).sum();
    assert!(served >= 64, "served {served}");
    // Both listeners are closed: the port refuses connections.
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn a_panicking_loop_does_not_stop_the_others() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddress::localhost(port);
    let trigger = ShutdownTrigger::new();
    let t = trigger.clone();
    let runner = std::thread::spawn(move || {
        PerCore::new()
            .threads(2)
            .listen(&ListenOptions::new(), addr, move |server, ctx| {
                let t = t.clone();
                async move {
                    if ctx.index() == 0 {
                        drop(server);
                        panic!("loop 0 gives up");
                    }
                    serve_index(server, ctx.index(), t).await
                }
            })
            .unwrap()
    });
    // Loop 1 keeps serving every connection (loop 0's listener is gone, so all land on 1).
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..10 {
        let mut ok = false;
        for _ in 0..100 {
            if let Ok(mut s) = TcpStream::connect(addr.to_std()) {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut b = [0u8];
                if s.read_exact(&mut b).is_ok() {
                    assert_eq!(b[0], 1);
                    ok = true;
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(ok, "loop 1 stopped serving");
    }
    trigger.fire();
    let results = runner.join().unwrap();
    assert!(
        matches!(&results[0], Err(JoinError::Panicked(m)) if m == "loop 0 gives up"),
        "{results:?}"
    );
    assert!(results[1].is_ok());
}

#[test]
fn a_loop_can_spawn_send_work_on_a_sibling() {
    let done = ShutdownTrigger::new();
    let results = PerCore::new().threads(2).run(move |ctx| {
        let done = done.clone();
        async move {
            if ctx.index() != 0 {
                // Stay up until loop 0 has its answer.
                done.fired().await;
                return None;
            }
            let sibling = &ctx.loops()[1];
            let name = sibling
                .spawn(async { std::thread::current().name().map(String::from) })
                .await
                .unwrap();
            done.fire();
            Some(name)
        }
    });
    assert_eq!(
        results[0].clone().unwrap(),
        Some(Some("event-loop-1".to_string()))
    );
    assert_eq!(results[1].clone().unwrap(), None);
}

#[test]
fn echo_example_with_threads_serves_on_several_loops_and_stops_on_sigterm() {
    let mut echo = common::EchoProcess::start(&[], &["--threads", "2"]);
    assert!(echo.banner.contains("loops: 2"), "{}", echo.banner);
    for i in 0..20u8 {
        let mut s = TcpStream::connect(echo.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&[i; 100]).unwrap();
        let mut back = [0u8; 100];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, [i; 100]);
    }
    echo.signal(libc::SIGTERM);
    let status = echo.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn one_loop_runs_on_the_calling_thread_and_still_reports_a_panic() {
    let caller = std::thread::current().id();
    let results = PerCore::new().threads(1).run(move |ctx| async move {
        (ctx.index(), ctx.loops().len(), std::thread::current().id())
    });
    let (index, loops, thread) = results.into_iter().next().unwrap().unwrap();
    assert_eq!((index, loops), (0, 1));
    assert_eq!(
        thread, caller,
        "one loop runs on the thread that called run"
    );

    let results = PerCore::new().threads(1).run(|ctx| async move {
        if ctx.index() == 0 {
            panic!("boom in the only loop");
        }
    });
    match &results[..] {
        [Err(JoinError::Panicked(msg))] => assert!(msg.contains("boom"), "{msg}"),
        other => panic!("expected one Panicked, got {other:?}"),
    }

    // A panic while making the loop's future is the loop's panic too, not the caller's.
    let results = PerCore::new().threads(1).run(|ctx| {
        if ctx.index() == 0 {
            panic!("boom while making the future");
        }
        async {}
    });
    match &results[..] {
        [Err(JoinError::Panicked(msg))] => assert!(msg.contains("making"), "{msg}"),
        other => panic!("expected one Panicked, got {other:?}"),
    }
}

#[test]
fn one_loop_listens_and_serves_on_the_calling_thread() {
    let caller = std::thread::current().id();
    let trigger = ShutdownTrigger::new();
    let stop = trigger.clone();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let port: u16 = port_rx.recv().unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [9u8; 1];
        s.read_exact(&mut b).unwrap();
        stop.fire();
        b[0]
    });
    let results = PerCore::new()
        .threads(1)
        .listen(
            &ListenOptions::new(),
            SocketAddress::localhost(0),
            move |server, ctx| {
                assert_eq!(
                    std::thread::current().id(),
                    caller,
                    "serve runs on the caller"
                );
                port_tx.send(server.local_port()).unwrap();
                serve_index(server, ctx.index(), trigger.clone())
            },
        )
        .unwrap();
    assert_eq!(results.into_iter().next().unwrap().unwrap(), 1);
    assert_eq!(client.join().unwrap(), 0, "the byte is the loop's index");
}

/// A loop cannot run inside another on one thread: called from a running loop, one loop gets a
/// thread of its own, as several do.
#[test]
fn one_loop_started_from_inside_a_running_loop_gets_its_own_thread() {
    let results = event::run(async {
        let caller = std::thread::current().id();
        PerCore::new()
            .threads(1)
            .run(move |ctx| async move { (ctx.index(), std::thread::current().id() != caller) })
    });
    assert!(
        matches!(&results[..], [Ok((0, true))]),
        "threads(1) inside a running loop: {results:?}"
    );

    let results = event::run(async {
        PerCore::new()
            .threads(1)
            .listen(
                &ListenOptions::new(),
                SocketAddress::localhost(0),
                |server, ctx| async move {
                    server.close();
                    ctx.index()
                },
            )
            .unwrap()
    });
    assert!(matches!(&results[..], [Ok(0)]), "listen: {results:?}");

    // A PerCore loop that itself starts one loop (a supervisor, say).
    let outer = PerCore::new().threads(2).run(|_ctx| async {
        let one = PerCore::new()
            .threads(1)
            .run(|ctx| async move { ctx.index() });
        format!("{one:?}")
    });
    for r in outer {
        assert_eq!(r.unwrap(), "[Ok(0)]");
    }
}
