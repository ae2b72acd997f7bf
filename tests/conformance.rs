//! The conformance suite: real clients against the echo example running as a child process.
//! CI runs it against the release build (`EVENT_ECHO`); locally the debug build that `cargo test`
//! makes is used (run the whole `cargo test`, not `--test conformance` alone, so it is fresh).
mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::EchoProcess;

fn connect(echo: &EchoProcess) -> TcpStream {
    let s = TcpStream::connect(echo.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Sends `data` from one thread while reading the echo on this one; returns what came back.
fn echo_concurrently(s: TcpStream, data: &[u8]) -> Vec<u8> {
    let mut writer = s.try_clone().unwrap();
    let to_send = data.to_vec();
    let sender = std::thread::spawn(move || {
        for chunk in to_send.chunks(100_003) {
            writer.write_all(chunk).unwrap();
        }
    });
    let mut reader = s;
    let mut back = vec![0; data.len()];
    reader.read_exact(&mut back).unwrap();
    sender.join().unwrap();
    back
}

fn round_trip(echo: &EchoProcess, msg: &[u8]) {
    let mut s = connect(echo);
    s.write_all(msg).unwrap();
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, msg);
}

#[test]
fn intact_echo_of_8_mib_with_concurrent_send_and_read() {
    let echo = EchoProcess::start(&[], &[]);
    let data = common::pattern(8 << 20, 1);
    let back = echo_concurrently(connect(&echo), &data);
    assert!(back == data, "8 MiB came back altered");
}

#[test]
fn thousand_concurrent_clients() {
    let echo = EchoProcess::start(&[], &[]);
    let addr = echo.addr;
    let failures = common::run(async move {
        let tasks: Vec<_> = (0..1000u64)
            .map(|i| {
                event::spawn(async move {
                    let s = event::Socket::connect(addr).await?;
                    let msg = common::pattern(200, i);
                    s.write(&msg).await?;
                    let back = common::read_exact(&s, msg.len()).await?;
                    Ok::<bool, event::SocketError>(back == msg)
                })
            })
            .collect();
        let mut failures = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(true) => {}
                other => failures.push((i, format!("{other:?}"))),
            }
        }
        failures
    });
    assert!(
        failures.is_empty(),
        "{} failed, first: {:?}",
        failures.len(),
        failures.first()
    );
}

#[test]
fn half_close_still_gets_every_byte_back_then_eof() {
    let echo = EchoProcess::start(&[], &[]);
    let mut s = connect(&echo);
    let data = common::pattern(1 << 20, 2);
    s.write_all(&data).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    assert!(back == data, "got {} of {} bytes", back.len(), data.len());
}

#[test]
fn reset_mid_stream_affects_only_that_connection() {
    let echo = EchoProcess::start(&[], &[]);
    for _ in 0..20 {
        let mut s = connect(&echo);
        s.write_all(&common::pattern(512 * 1024, 3)).unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s); // RST while the server is echoing
    }
    round_trip(&echo, b"still serving after resets");
    assert!(echo.child_alive());
}

#[test]
fn client_that_never_reads_does_not_stop_others() {
    let echo = EchoProcess::start(&[], &[]);
    let hog = connect(&echo);
    let mut hog_writer = hog.try_clone().unwrap();
    hog_writer
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // Fill every buffer between us and the server until our writes block.
    let chunk = vec![0xAB; 64 * 1024];
    let mut sent = 0usize;
    loop {
        match hog_writer.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(
            sent < 1 << 30,
            "the server buffered 1 GiB without backpressure"
        );
    }
    let rss_kib = echo.rss_kib();
    for i in 0..20 {
        round_trip(&echo, format!("others are served {i}").as_bytes());
    }
    // The server waits on the stalled connection instead of buffering: its memory stays small.
    assert!(
        rss_kib < 64 * 1024,
        "server RSS {rss_kib} KiB after {sent} bytes sent by the hog"
    );
    drop(hog);
}

#[test]
fn binary_data_with_nuls_is_echoed_exactly() {
    let echo = EchoProcess::start(&[], &[]);
    let mut data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    data.extend([0u8; 4096]);
    round_trip(&echo, &data);
}

#[test]
fn two_thousand_connect_close_cycles_leave_no_descriptor_behind() {
    let echo = EchoProcess::start(&[], &[]);
    round_trip(&echo, b"warm");
    // The warm-up connection closes asynchronously too: count once the server has let it go.
    let settle = Instant::now() + Duration::from_secs(5);
    let mut before = echo.fd_count();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = echo.fd_count();
        if now == before || Instant::now() > settle {
            before = before.min(now);
            break;
        }
        before = now;
    }
    for i in 0..2000u32 {
        let mut s = connect(&echo);
        if i % 2 == 0 {
            s.write_all(b"x").unwrap();
            let mut b = [0u8];
            s.read_exact(&mut b).unwrap();
        }
    }
    // Closed connections are noticed asynchronously; give the server a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while echo.fd_count() > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(echo.fd_count(), before, "descriptors leaked");
}

#[test]
fn out_of_descriptors_does_not_spin_reports_and_recovers() {
    let echo = EchoProcess::start(&["prlimit", "--nofile=64:64", "--"], &[]);
    // Hold far more connections than the server has descriptors for.
    // (Past the backlog a blocking connect would wait for SYN retries: time-limit each.)
    let held: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect_timeout(&echo.addr, Duration::from_millis(200)).ok())
        .collect();
    assert!(held.len() > 64, "connected {}", held.len());
    std::thread::sleep(Duration::from_millis(300));
    let cpu_before = echo.cpu_time();
    std::thread::sleep(Duration::from_secs(3));
    let cpu = echo.cpu_time() - cpu_before;
    assert!(
        cpu < Duration::from_millis(300),
        "server used {cpu:?} CPU in 3 s while saturated"
    );
    let stderr = echo.stderr.lock().unwrap().clone();
    assert!(
        stderr.contains("accept on") && stderr.contains("os error 24"),
        "stderr: {stderr}"
    );
    drop(held);
    // Once clients leave it serves again, by itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = std::panic::catch_unwind(|| round_trip(&echo, b"back in service")).is_ok();
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_silent_client_is_dropped_after_the_idle_timeout() {
    let echo = EchoProcess::start(&[], &["--idle-timeout", "0.3"]);
    let mut slow = connect(&echo);
    slow.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let mut back = [0u8; 16];
    slow.read_exact(&mut back).unwrap();
    let start = Instant::now();
    // Now silent: the server must close the connection after the idle timeout.
    let mut rest = Vec::new();
    let n = slow.read_to_end(&mut rest).unwrap();
    assert_eq!(n, 0);
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "closed too early: {:?}",
        start.elapsed()
    );
    round_trip(&echo, b"active clients are unaffected");
}

#[test]
fn connection_limit_holds() {
    let echo = EchoProcess::start(&[], &["--max-connections", "5"]);
    let mut held: Vec<TcpStream> = (0..5).map(|_| connect(&echo)).collect();
    for (i, s) in held.iter_mut().enumerate() {
        s.write_all(&[i as u8]).unwrap();
        let mut b = [0u8];
        s.read_exact(&mut b).unwrap();
    }
    // The sixth is completed by the kernel's backlog but not served while five are open.
    let mut sixth = connect(&echo);
    sixth
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    sixth.write_all(b"6").unwrap();
    let mut b = [0u8];
    let err = sixth.read_exact(&mut b).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    // When one leaves, the waiting one is served.
    drop(held.pop());
    sixth
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sixth.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"6");
}
