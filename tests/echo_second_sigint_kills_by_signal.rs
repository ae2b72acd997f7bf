//! The echo example's documented Ctrl-C behaviour: the first SIGINT starts the drain; a second
//! one during the drain is not caught and kills the process by the signal at once.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

#[test]
fn a_second_sigint_during_the_drain_kills_the_process_by_signal() {
    let mut echo = common::EchoProcess::start(&[], &["--drain-timeout", "30"]);
    // An open connection keeps the drain waiting for its 30 s.
    let mut idle = TcpStream::connect(echo.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    idle.write_all(b"x").unwrap();
    let mut b = [0u8];
    idle.read_exact(&mut b).unwrap();
    echo.signal(libc::SIGINT);
    // The first signal was handled once the listener is closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(echo.addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting 5 s after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        echo.child.try_wait().unwrap().is_none(),
        "exited on the first SIGINT"
    );
    let start = Instant::now();
    echo.signal(libc::SIGINT);
    let status = common::wait_timeout(&mut echo.child, Duration::from_secs(5))
        .expect("the second SIGINT did not end the process within 5 s");
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
}
