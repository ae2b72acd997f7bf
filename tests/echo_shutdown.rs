//! End to end: SIGTERM to the echo example drains open connections and exits 0.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn sigterm_closes_the_listener_drains_connections_and_exits_zero() {
    let mut echo = common::EchoProcess::start(&[], &["--drain-timeout", "5"]);
    let mut clients: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(echo.addr).unwrap())
        .collect();
    let data = common::pattern(256 * 1024, 11);
    for c in &mut clients {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(&data).unwrap();
    }
    echo.signal(libc::SIGTERM);
    // New connections are refused once the listener is closed (allow the signal to land; a
    // connect racing the close can be reset instead: then the next one is refused).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpStream::connect(echo.addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionReset && Instant::now() < deadline => {
            }
            Err(e) => panic!("connect after SIGTERM: {e}"),
            Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(_) => panic!("still accepting 5 s after SIGTERM"),
        }
    }
    // Everything sent before the signal comes back in full on the draining connections.
    for c in &mut clients {
        let mut back = vec![0; data.len()];
        c.read_exact(&mut back).unwrap();
        assert!(back == data);
    }
    let start = Instant::now();
    drop(clients);
    let status = loop {
        if let Some(s) = echo.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "did not exit within the drain deadline"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(
        status.code(),
        Some(0),
        "stderr: {}",
        echo.stderr.lock().unwrap()
    );
}

#[test]
fn sigint_with_idle_connections_cuts_them_at_the_drain_deadline() {
    let mut echo = common::EchoProcess::start(&[], &["--drain-timeout", "0.3"]);
    let _idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(echo.addr).unwrap())
        .collect();
    // Make sure both were accepted before the signal.
    let mut probe = TcpStream::connect(echo.addr).unwrap();
    probe.write_all(b"x").unwrap();
    let mut b = [0u8];
    probe.read_exact(&mut b).unwrap();
    let start = Instant::now();
    echo.signal(libc::SIGINT);
    let status = echo.child.wait().unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
}
