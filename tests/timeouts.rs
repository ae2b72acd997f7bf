//! Timeouts on sockets: the trait-level read and write timeouts (the socket's defaults, through
//! `AsyncRead`/`AsyncWrite`), the listener's idle timeout, a write timeout's bound, and the
//! errors that name the operation. One module per behaviour (each was its own test binary).

mod common;

use std::future::poll_fn;
use std::pin::Pin;

use event::Socket;
use futures_io::AsyncRead;

/// One `AsyncRead::poll_read` of up to 16 bytes (the trait-level read the timeouts bound).
async fn trait_read(mut socket: &Socket) -> std::io::Result<usize> {
    let mut buf = [0u8; 16];
    poll_fn(|cx| Pin::new(&mut socket).poll_read(cx, &mut buf)).await
}

mod trait_read_timeout_made_longer_between_reads {
    //! A socket's default read timeout made longer between trait-level reads: the next wait gets
    //! the longer timeout. The timer armed for the shorter one stays in the wheel and fires early
    //! (well inside the new wait); that fire must not end the read, and the read ends at the
    //! longer timeout, not long after it. Made shorter but still ending after the old deadline,
    //! it is not held up either.
    use crate::common;
    use crate::trait_read;

    use std::io::{ErrorKind, Write};
    use std::time::{Duration, Instant};

    use event::Socket;

    /// The peer thread: sends one byte 50 ms after connecting, then stays silent with the
    /// connection open until `finish`.
    struct Peer {
        thread: std::thread::JoinHandle<()>,
        done: std::sync::mpsc::Sender<()>,
    }

    impl Peer {
        fn finish(self) {
            let _ = self.done.send(());
            self.thread.join().unwrap();
        }
    }

    async fn one_byte_then_silence() -> (Socket, Peer) {
        let server = common::listen_local();
        let addr = server.local_address().to_std();
        let (done, done_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            s.write_all(b"x").unwrap();
            let _ = done_rx.recv_timeout(Duration::from_secs(5));
        });
        let client = server.accept().await.unwrap();
        (client, Peer { thread, done })
    }

    #[test]
    fn a_longer_timeout_is_not_cut_by_the_shorter_ones_timer() {
        common::run(async {
            let (client, peer) = one_byte_then_silence().await;
            // The first wait arms a timer 200 ms ahead; the byte comes at ~50 ms.
            client.set_read_timeout(Some(Duration::from_millis(200)));
            assert!(matches!(trait_read(&client).await, Ok(1)));
            let long = Duration::from_millis(1000);
            client.set_read_timeout(Some(long));
            let start = Instant::now();
            let err = trait_read(&client).await.unwrap_err();
            let waited = start.elapsed();
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
            assert!(waited >= long, "cut after {waited:?} by the old timer");
            assert!(waited < long * 2, "timed out late, after {waited:?}");
            drop(client);
            peer.finish();
        });
    }

    #[test]
    fn a_shorter_timeout_set_after_a_gap_is_whole_and_not_late() {
        common::run(async {
            let (client, peer) = one_byte_then_silence().await;
            // A 400 ms timer armed at the first wait; the byte at ~50 ms.
            client.set_read_timeout(Some(Duration::from_millis(400)));
            assert!(matches!(trait_read(&client).await, Ok(1)));
            // At ~300 ms, a 200 ms timeout: its deadline (~500 ms) is after the old one (~400 ms).
            event::sleep(Duration::from_millis(250)).await;
            let short = Duration::from_millis(200);
            client.set_read_timeout(Some(short));
            let start = Instant::now();
            let err = trait_read(&client).await.unwrap_err();
            let waited = start.elapsed();
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
            assert!(waited >= short, "timed out early, after {waited:?}");
            assert!(waited < short * 4, "timed out late, after {waited:?}");
            drop(client);
            peer.finish();
        });
    }
}

mod trait_read_timeout_restarts_each_wait {
    //! A socket's default read timeout, through `AsyncRead` (what hyper and every futures-io crate
    //! use), bounds each wait from the moment it starts. The driver keeps the timer of an earlier
    //! wait armed across reads (it fires early at most once): that early fire must never end a
    //! read that has waited less than the timeout, and a timeout made shorter in between must
    //! not wait for the longer one's timer.
    use crate::common;
    use crate::trait_read;

    use std::io::{ErrorKind, Write};
    use std::time::{Duration, Instant};

    use event::ListenOptions;

    const IDLE: Duration = Duration::from_millis(300);

    #[test]
    fn each_wait_gets_the_whole_timeout_however_long_the_connection_lives() {
        common::run(async {
            let server = ListenOptions::new()
                .idle_timeout(IDLE)
                .listen_on("127.0.0.1:0")
                .unwrap();
            let addr = server.local_address().to_std();
            // A byte every 200 ms, three times: each inside the timeout from the one before, the
            // last well past the first wait's deadline. Then silence with the connection open.
            let peer = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                for _ in 0..3 {
                    std::thread::sleep(Duration::from_millis(200));
                    s.write_all(b"x").unwrap();
                }
                std::thread::sleep(IDLE * 2);
            });
            let client = server.accept().await.unwrap();
            for i in 0..3 {
                let n = trait_read(&client).await;
                assert!(matches!(n, Ok(1)), "read {i}: {n:?}");
            }
            let last = Instant::now();
            let err = trait_read(&client).await.unwrap_err();
            let waited = last.elapsed();
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
            assert!(waited >= IDLE - Duration::from_millis(5), "{waited:?}");
            assert!(waited < IDLE * 3, "{waited:?}");
            peer.join().unwrap();
        });
    }

    #[test]
    fn a_shorter_timeout_set_between_reads_is_not_held_up_by_the_longer_ones_timer() {
        common::run(async {
            let server = common::listen_local();
            let addr = server.local_address().to_std();
            let peer = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                std::thread::sleep(Duration::from_millis(100));
                s.write_all(b"x").unwrap();
                std::thread::sleep(Duration::from_secs(1));
            });
            let client = server.accept().await.unwrap();
            // The first read waits under a long timeout (its timer armed 20 s ahead).
            client.set_read_timeout(Some(Duration::from_secs(20)));
            assert!(matches!(trait_read(&client).await, Ok(1)));
            client.set_read_timeout(Some(Duration::from_millis(200)));
            let start = Instant::now();
            let err = trait_read(&client).await.unwrap_err();
            let waited = start.elapsed();
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
            assert!(waited >= Duration::from_millis(195), "{waited:?}");
            assert!(waited < Duration::from_secs(2), "{waited:?}");
            peer.join().unwrap();
        });
    }
}

mod trait_read_timeout_whole_after_an_idle_gap {
    //! A trait-level read's timeout (the socket's default, through `AsyncRead`) keeps the timer of
    //! an earlier wait armed while the socket is not read. Whether that timer fires during a gap
    //! in which nothing waits (a spurious wake of the task) or later, during the next wait, the
    //! next wait still gets the whole timeout from its own start, never less and not much more,
    //! and the loop sleeps (no CPU) through the gap.
    use crate::common;
    use crate::trait_read;

    use std::io::{ErrorKind, Write};
    use std::time::{Duration, Instant};

    const TIMEOUT: Duration = Duration::from_millis(300);

    /// One byte read through the trait after a wait of about 50 ms (arming the timer at
    /// about 300 ms), then `gap` with nothing waiting, then a wait with nothing to read.
    fn gap_then_wait(gap: Duration) {
        common::run(async move {
            let server = common::listen_local();
            let addr = server.local_address().to_std();
            let (done, done_rx) = std::sync::mpsc::channel::<()>();
            let peer = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                std::thread::sleep(Duration::from_millis(50));
                s.write_all(b"x").unwrap();
                // Open and silent until the test is done.
                let _ = done_rx.recv_timeout(Duration::from_secs(5));
            });
            let client = server.accept().await.unwrap();
            client.set_read_timeout(Some(TIMEOUT));
            assert!(matches!(trait_read(&client).await, Ok(1)));

            let cpu = common::sys::thread_cpu_time();
            event::sleep(gap).await;
            let used = common::sys::thread_cpu_time() - cpu;
            assert!(
                used < Duration::from_millis(100),
                "the loop used {used:?} of CPU in a {gap:?} gap"
            );

            let start = Instant::now();
            let err = trait_read(&client).await.unwrap_err();
            let waited = start.elapsed();
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
            assert!(waited >= TIMEOUT, "timed out early, after {waited:?}");
            assert!(waited < TIMEOUT * 4, "timed out late, after {waited:?}");
            drop(client);
            let _ = done.send(());
            peer.join().unwrap();
        });
    }

    #[test]
    fn the_old_timer_fires_in_the_gap_and_the_next_wait_is_whole() {
        // The first wait's timer (at ~300 ms) fires at ~300 ms, inside the gap.
        gap_then_wait(Duration::from_millis(700));
    }

    #[test]
    fn the_old_timer_fires_during_the_next_wait_and_does_not_end_it() {
        // The next wait starts at ~200 ms: the old timer fires ~100 ms into it.
        gap_then_wait(Duration::from_millis(150));
    }

    #[test]
    fn a_timed_out_trait_read_is_reused_with_the_whole_timeout_each_time() {
        common::run(async {
            let server = common::listen_local();
            let addr = server.local_address().to_std();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let peer = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                // Silent until told, then one byte.
                go_rx.recv().unwrap();
                s.write_all(b"y").unwrap();
                // Open and silent until the test is done.
                let _ = go_rx.recv_timeout(Duration::from_secs(5));
            });
            let client = server.accept().await.unwrap();
            client.set_read_timeout(Some(TIMEOUT));
            for i in 0..3 {
                let start = Instant::now();
                let err = trait_read(&client).await.unwrap_err();
                let waited = start.elapsed();
                assert_eq!(err.kind(), ErrorKind::TimedOut, "wait {i}: {err}");
                assert!(waited >= TIMEOUT, "wait {i} timed out after {waited:?}");
                assert!(waited < TIMEOUT * 4, "wait {i} timed out after {waited:?}");
            }
            // Still usable after the timeouts: a byte that comes is read.
            go_tx.send(()).unwrap();
            assert!(matches!(trait_read(&client).await, Ok(1)));
            // And a native read with its own timeout on the same socket is whole too.
            let start = Instant::now();
            let err = client
                .read(16)
                .timeout(Duration::from_millis(200))
                .await
                .unwrap_err();
            let waited = start.elapsed();
            assert!(err.is_timeout(), "{err}");
            assert!(waited >= Duration::from_millis(200), "{waited:?}");
            assert!(waited < Duration::from_millis(1200), "{waited:?}");
            drop(client);
            let _ = go_tx.send(());
            peer.join().unwrap();
        });
    }
}

mod trait_timeout_timers_are_released {
    //! The timer a trait-level read or write keeps armed between waits (the socket's default
    //! timeout) belongs to the socket: it leaves the loop's wheel when the socket is dropped, and
    //! when the socket's timeout is turned off (a socket without a timeout holds no timer, and
    //! wakes nobody later).
    use crate::common;
    use crate::trait_read;

    use std::future::poll_fn;
    use std::io::Write;
    use std::pin::Pin;
    use std::time::Duration;

    use event::{EventLoop, Socket};
    use futures_io::AsyncWrite;

    async fn trait_write_flush(mut socket: &Socket, bytes: &[u8]) -> std::io::Result<()> {
        let mut done = 0;
        while done < bytes.len() {
            done += poll_fn(|cx| Pin::new(&mut socket).poll_write(cx, &bytes[done..])).await?;
        }
        poll_fn(|cx| Pin::new(&mut socket).poll_flush(cx)).await
    }

    /// A loop of the driver `EVENT_BACKEND` names (no timer of the test's own on it).
    fn new_loop() -> EventLoop {
        EventLoop::builder().build().unwrap()
    }

    /// Connects a std peer that sends `bytes` bytes, one every 30 ms, reads everything it gets,
    /// and closes its side 500 ms after its last byte.
    fn peer(addr: std::net::SocketAddr, bytes: usize) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let reader = s.try_clone().unwrap();
            let drain = std::thread::spawn(move || {
                let _ = std::io::copy(&mut { reader }, &mut std::io::sink());
            });
            for _ in 0..bytes {
                std::thread::sleep(Duration::from_millis(30));
                if s.write_all(b"x").is_err() {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(500));
            drop(s);
            let _ = drain.join();
        })
    }

    #[test]
    fn dropping_the_socket_releases_its_trait_timers() {
        let lp = new_loop();
        lp.block_on(async {
            let baseline = lp.stats().timers;
            let server = common::listen_local();
            let peer = peer(server.local_address().to_std(), 2);
            let client = server.accept().await.unwrap();
            client.set_read_timeout(Some(Duration::from_secs(30)));
            client.set_write_timeout(Some(Duration::from_secs(30)));
            assert!(matches!(trait_read(&client).await, Ok(1)));
            trait_write_flush(&client, &[7u8; 256 * 1024])
                .await
                .unwrap();
            assert!(matches!(trait_read(&client).await, Ok(1)));
            drop(client);
            assert_eq!(
                lp.stats().timers,
                baseline,
                "a dropped socket left timers armed"
            );
            drop(server);
            peer.join().unwrap();
        });
    }

    #[test]
    fn turning_the_read_timeout_off_releases_the_trait_timer() {
        let lp = new_loop();
        lp.block_on(async {
            let baseline = lp.stats().timers;
            let server = common::listen_local();
            let peer = peer(server.local_address().to_std(), 2);
            let client = server.accept().await.unwrap();
            client.set_read_timeout(Some(Duration::from_secs(30)));
            // A read that waits (arming the timer), under the timeout.
            assert!(matches!(trait_read(&client).await, Ok(1)));
            // Without a timeout from here on: this read waits with no timer, and after it the
            // socket holds none.
            client.set_read_timeout(None);
            assert!(matches!(trait_read(&client).await, Ok(1)));
            assert_eq!(
                lp.stats().timers,
                baseline,
                "a socket whose read timeout is off still holds a timer"
            );
            drop(client);
            drop(server);
            peer.join().unwrap();
        });
    }

    #[test]
    fn turning_the_write_timeout_off_releases_the_trait_timer() {
        let lp = new_loop();
        lp.block_on(async {
            let baseline = lp.stats().timers;
            let server = common::listen_local();
            let peer = peer(server.local_address().to_std(), 0);
            let client = server.accept().await.unwrap();
            socket2::SockRef::from(&client)
                .set_send_buffer_size(32 * 1024)
                .unwrap();
            client.set_write_timeout(Some(Duration::from_secs(30)));
            // Far more than the buffers hold: the writes wait for the peer (arming the timer).
            trait_write_flush(&client, &vec![1u8; 1024 * 1024])
                .await
                .unwrap();
            client.set_write_timeout(None);
            trait_write_flush(&client, &vec![2u8; 128 * 1024])
                .await
                .unwrap();
            assert_eq!(
                lp.stats().timers,
                baseline,
                "a socket whose write timeout is off still holds a timer"
            );
            drop(client);
            drop(server);
            peer.join().unwrap();
        });
    }
}

mod trait_timer_outlives_its_loop {
    //! A socket whose trait-level read keeps its timer armed between waits (the socket's default
    //! timeout) can outlive its loop: used in a later loop it fails at once (no hang on the ended
    //! loop's timer, which never fires again), and dropped afterwards, outside any loop, it
    //! releases the timer without a panic.
    use crate::common;
    use crate::trait_read;

    use std::io::Write;
    use std::time::{Duration, Instant};

    #[test]
    fn a_socket_with_a_kept_trait_timer_fails_clearly_in_a_later_loop_and_drops_cleanly() {
        let (done, done_rx) = std::sync::mpsc::channel::<()>();
        let (socket, peer) = event::run(async move {
            let server = common::listen_local();
            let addr = server.local_address().to_std();
            let peer = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                std::thread::sleep(Duration::from_millis(30));
                s.write_all(b"x").unwrap();
                let _ = done_rx.recv_timeout(Duration::from_secs(5));
            });
            let socket = server.accept().await.unwrap();
            socket.set_read_timeout(Some(Duration::from_secs(2)));
            // Waits (arming a timer 2 s ahead), then completes: the timer stays armed.
            assert!(matches!(trait_read(&socket).await, Ok(1)));
            (socket, peer)
        });
        let start = Instant::now();
        let err = common::run(async { trait_read(&socket).await.unwrap_err() });
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "waited {:?} on an ended loop: {err}",
            start.elapsed()
        );
        drop(socket);
        let _ = done.send(());
        peer.join().unwrap();
    }
}

mod write_timeout_bounds_the_stall_not_the_write {
    //! A write timeout bounds a stall, not the write: a large write to a peer that reads slowly
    //! but steadily (each read well inside the timeout) is never cut, however long it takes; once
    //! the peer stops reading, the write fails with a timeout no earlier than the whole timeout
    //! after the peer stopped, and not long after. Through the traits (the socket's default write
    //! timeout, io_uring's write-behind progress restarting it) and natively (`write().timeout`).
    use crate::common;

    use std::future::poll_fn;
    use std::io::Read;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use event::{Socket, SocketError};
    use futures_io::AsyncWrite;

    const TIMEOUT: Duration = Duration::from_millis(300);
    /// How often the peer reads a chunk.
    const EVERY: Duration = Duration::from_millis(50);
    /// How long the peer reads before it stops.
    const READING: Duration = Duration::from_millis(1200);
    const TOTAL: usize = 64 * 1024 * 1024;

    /// A peer with a small receive buffer that reads 16 KiB every `EVERY` for `READING`, then
    /// stops reading (keeping the connection open) and records when.
    fn slow_then_stopped_peer(addr: std::net::SocketAddr) -> (Peer, Arc<Mutex<Option<Instant>>>) {
        let stopped = Arc::new(Mutex::new(None));
        let (done, done_rx) = std::sync::mpsc::channel::<()>();
        let mark = stopped.clone();
        let peer = std::thread::spawn(move || {
            let s = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )
            .unwrap();
            s.set_recv_buffer_size(32 * 1024).unwrap();
            s.connect(&addr.into()).unwrap();
            let mut s: std::net::TcpStream = s.into();
            let start = Instant::now();
            let mut got = 0;
            let mut buf = vec![0u8; 16 * 1024];
            while start.elapsed() < READING {
                std::thread::sleep(EVERY);
                got += s.read(&mut buf).unwrap();
            }
            *mark.lock().unwrap() = Some(Instant::now());
            // Silent, connection open, until the test is done (at most 3 s).
            let _ = done_rx.recv_timeout(Duration::from_secs(3));
            got
        });
        (Peer { thread: peer, done }, stopped)
    }

    struct Peer {
        thread: std::thread::JoinHandle<usize>,
        done: std::sync::mpsc::Sender<()>,
    }

    impl Peer {
        fn finish(self) -> usize {
            let _ = self.done.send(());
            self.thread.join().unwrap()
        }
    }

    /// Checks when the write failed against when the peer stopped.
    fn check_timing(start: Instant, failed: Instant, stopped: &Mutex<Option<Instant>>) {
        let stopped = stopped.lock().unwrap().unwrap_or_else(|| {
            panic!("cut after {:?}, while the peer was reading", failed - start)
        });
        let after_stop = failed.saturating_duration_since(stopped);
        // The stall starts at the last read that let the writer on: the peer's last reads may
        // free too little room to wake it (the kernel wakes a writer once a third of its buffer
        // is free), so one of the reads before (`EVERY` apart, or more on a busy machine) counts.
        assert!(
            after_stop + 2 * EVERY >= TIMEOUT,
            "timed out {after_stop:?} after the peer stopped reading"
        );
        assert!(
            after_stop < Duration::from_secs(3),
            "timed out late: {after_stop:?} after the peer stopped reading"
        );
    }

    async fn accept_small_send_buffer(server: &event::ServerSocket) -> Socket {
        let client = server.accept().await.unwrap();
        socket2::SockRef::from(&client)
            .set_send_buffer_size(32 * 1024)
            .unwrap();
        client
    }

    #[test]
    fn a_trait_write_to_a_slow_reader_is_cut_only_once_it_stops() {
        common::run(async {
            let server = common::listen_local();
            let (peer, stopped) = slow_then_stopped_peer(server.local_address().to_std());
            let mut client = &accept_small_send_buffer(&server).await;
            client.set_write_timeout(Some(TIMEOUT));
            let data = vec![0x5au8; 256 * 1024];
            let start = Instant::now();
            let mut sent = 0usize;
            let err = loop {
                if sent >= TOTAL {
                    panic!("the peer took {sent} bytes");
                }
                let r = poll_fn(|cx| Pin::new(&mut client).poll_write(cx, &data)).await;
                match r {
                    Ok(n) => sent += n,
                    Err(e) => break e,
                }
            };
            let failed = Instant::now();
            assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
            check_timing(start, failed, &stopped);
            drop(server);
            assert!(peer.finish() > 0);
        });
    }

    #[test]
    fn a_native_write_to_a_slow_reader_is_cut_only_once_it_stops() {
        common::run(async {
            let server = common::listen_local();
            let (peer, stopped) = slow_then_stopped_peer(server.local_address().to_std());
            let client = accept_small_send_buffer(&server).await;
            let data = vec![0xa5u8; TOTAL];
            let start = Instant::now();
            let err = client.write(&data).timeout(TIMEOUT).await.unwrap_err();
            let failed = Instant::now();
            assert!(
                matches!(err, SocketError::WriteTimeout { written, .. } if written > 0),
                "{err}"
            );
            check_timing(start, failed, &stopped);
            drop(client);
            drop(server);
            assert!(peer.finish() > 0);
        });
    }
}

mod idle_timeout_bounds_each_wait {
    //! What `ListenOptions::idle_timeout` does, exactly as documented: it bounds each read's wait
    //! for the next bytes, not the connection's life. A client trickling a byte well inside the
    //! timeout is never cut; the read after it goes silent fails with `Timeout` once the timeout
    //! has passed.
    use crate::common;

    use std::io::Write;
    use std::time::{Duration, Instant};

    use event::{ListenOptions, SocketError};

    const IDLE: Duration = Duration::from_millis(600);
    const EVERY: Duration = Duration::from_millis(100);
    const BYTES: usize = 12;

    #[test]
    fn a_steady_trickle_survives_the_idle_timeout_and_silence_does_not() {
        common::run(async {
            let server = ListenOptions::new()
                .idle_timeout(IDLE)
                .listen_on("127.0.0.1:0")
                .unwrap();
            let addr = server.local_address().to_std();
            // A slowloris on a thread: one byte every 100 ms for 1.2 s (twice the idle timeout),
            // then silence with the connection open.
            let trickler = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                for _ in 0..BYTES {
                    s.write_all(b"x").unwrap();
                    std::thread::sleep(EVERY);
                }
                std::thread::sleep(IDLE * 2);
                drop(s);
            });
            let client = server.accept().await.unwrap();
            assert_eq!(client.read_timeout(), Some(IDLE));
            let start = Instant::now();
            let mut got = 0;
            let mut last = Instant::now();
            let err = loop {
                match client.read(64).await {
                    Ok(bytes) => {
                        got += bytes.len();
                        last = Instant::now();
                    }
                    Err(e) => break e,
                }
            };
            assert!(
                matches!(err, SocketError::Timeout { op: "read", after, .. } if after == IDLE),
                "{err}"
            );
            assert_eq!(got, BYTES, "the trickle was cut after {got} bytes");
            assert!(
                start.elapsed() > IDLE,
                "the connection outlived one idle timeout"
            );
            assert!(
                last.elapsed() >= IDLE - Duration::from_millis(20),
                "{:?}",
                last.elapsed()
            );
            trickler.join().unwrap();
        });
    }
}

mod tcp_write_timeout_hands_the_turn_on {
    //! A write that times out while it holds the write turn hands the turn to the write queued
    //! behind it: the peer sees exactly the bytes the first write reported as written, then the
    //! whole second write, never a mix; and the second write neither starts early nor hangs.

    use crate::common;

    use std::io::Read as _;
    use std::rc::Rc;
    use std::sync::mpsc;
    use std::time::Duration;

    use event::{Socket, SocketAddress, SocketError};

    const FIRST: usize = 4 * 1024 * 1024;
    const SECOND: usize = 1024 * 1024;

    /// Reads exactly `n` bytes (a blocking std peer, on its own thread).
    fn read_exactly(client: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
        client
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut out = vec![0; n];
        client.read_exact(&mut out).unwrap();
        out
    }

    fn run_scenario(owned: bool) {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (written_tx, written_rx) = mpsc::channel();
        let server = std::thread::spawn(move || {
            common::run(async move {
                let listener = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
                addr_tx.send(listener.local_address()).unwrap();
                let peer = Rc::new(listener.accept().await.unwrap());
                socket2::SockRef::from(&*peer)
                    .set_send_buffer_size(32 * 1024)
                    .unwrap();
                let first = common::pattern(FIRST, 11);
                let second = common::pattern(SECOND, 12);
                let started = Rc::new(std::cell::Cell::new(false));
                let w1 = {
                    let peer = peer.clone();
                    event::spawn(async move {
                        match peer.write(&first).timeout(Duration::from_millis(300)).await {
                            Err(SocketError::WriteTimeout { written, .. }) => written,
                            other => panic!("the first write should time out: {other:?}"),
                        }
                    })
                };
                event::sleep(Duration::from_millis(50)).await;
                let w2 = {
                    let (peer, started) = (peer.clone(), started.clone());
                    event::spawn(async move {
                        started.set(true);
                        if owned {
                            peer.write_owned(second).await.0.unwrap();
                        } else {
                            peer.write(&second).await.unwrap();
                        }
                    })
                };
                let written = w1.await.unwrap();
                assert!(
                    started.get(),
                    "the second write was queued before the timeout"
                );
                assert!(written > 0 && written < FIRST, "written {written}");
                written_tx.send(written).unwrap();
                event::timeout(Duration::from_secs(30), w2)
                    .await
                    .expect("the queued write never finished")
                    .unwrap();
            })
        });
        let addr: std::net::SocketAddr = addr_rx.recv().unwrap().into();
        let mut client = {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_recv_buffer_size(32 * 1024).unwrap();
            s.connect(&addr.into()).unwrap();
            std::net::TcpStream::from(s)
        };
        let written = written_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the first write never timed out");
        let got = read_exactly(&mut client, written + SECOND);
        let first = common::pattern(FIRST, 11);
        let second = common::pattern(SECOND, 12);
        assert!(
            got[..written] == first[..written],
            "the first {written} bytes are not the first write's"
        );
        assert!(
            got[written..] == second[..],
            "the second write does not follow the first write's {written} bytes whole"
        );
        server.join().unwrap();
    }

    #[test]
    fn a_timed_out_write_is_followed_by_the_queued_write_whole() {
        run_scenario(false);
    }

    #[test]
    fn a_timed_out_write_is_followed_by_the_queued_owned_write_whole() {
        run_scenario(true);
    }
}

mod timeout_errors_name_the_operation_and_address {
    //! Every timeout says which operation timed out and where, as a connect timeout always did:
    //! "read from 127.0.0.1:P: timed out after 40ms", "accept on 127.0.0.1:P: ...", "write to
    //! 127.0.0.1:P: ... (N bytes written)"; through `AsyncRead`/`AsyncWrite` too. The variants keep
    //! their names, so `SocketError::Timeout { .. }` still matches.
    use crate::common;

    use std::future::poll_fn;
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::time::Duration;

    use event::SocketError;
    use futures_io::{AsyncRead, AsyncWrite};

    const AFTER: Duration = Duration::from_millis(40);

    /// The peer's address as the accepting side sees it (the client's local address).
    fn local_of(socket: &event::Socket) -> SocketAddr {
        socket2::SockRef::from(socket)
            .local_addr()
            .unwrap()
            .as_socket()
            .unwrap()
    }

    #[test]
    fn a_read_timeout_names_read_and_the_peer() {
        common::run(async {
            let (client, server) = common::pair().await;
            let peer: SocketAddr = server.peer_address().into();
            assert_eq!(peer, local_of(&client));
            let err = server.read(16).timeout(AFTER).await.unwrap_err();
            assert!(
                matches!(err, SocketError::Timeout { op: "read", addr, after } if addr == peer && after == AFTER),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!("read from {peer}: timed out after 40ms")
            );
            assert!(err.is_timeout() && matches!(err, SocketError::Timeout { .. }));
            // read_into takes the same path out.
            let mut buf = [0u8; 8];
            let err = server.read_into(&mut buf).timeout(AFTER).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("read from {peer}: timed out after 40ms")
            );
        });
    }

    #[test]
    fn an_accept_timeout_names_accept_and_the_listening_address() {
        common::run(async {
            let server = common::listen_local();
            let local: SocketAddr = server.local_address().into();
            let err = server.accept().timeout(AFTER).await.unwrap_err();
            assert!(
                matches!(err, SocketError::Timeout { op: "accept", addr, .. } if addr == local),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!("accept on {local}: timed out after 40ms")
            );
        });
    }

    #[test]
    fn an_accept_timeout_at_the_connection_limit_names_the_listening_address() {
        common::run(async {
            let server = event::ListenOptions::new()
                .max_connections(1)
                .listen_on("127.0.0.1:0")
                .unwrap();
            let local: SocketAddr = server.local_address().into();
            let _first = event::Socket::connect(local).await.unwrap();
            let _held = server.accept().await.unwrap();
            let _second = event::Socket::connect(local).await.unwrap();
            let err = server.accept().timeout(AFTER).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("accept on {local}: timed out after 40ms")
            );
        });
    }

    #[test]
    fn a_write_timeout_names_write_the_peer_and_the_bytes_written() {
        common::run(async {
            let (client, server) = common::small_buffer_pair().await;
            let peer: SocketAddr = client.peer_address().into();
            // The peer does not read: the kernel's buffers fill and the write has to wait.
            let data = common::pattern(16 << 20, 3);
            let err = client.write(&data).timeout(AFTER).await.unwrap_err();
            let SocketError::WriteTimeout {
                peer: named,
                written,
                after,
            } = err
            else {
                panic!("expected WriteTimeout, got {err:?}");
            };
            assert_eq!((named, after), (peer, AFTER));
            assert!(written > 0 && written < data.len(), "written {written}");
            assert_eq!(
                err.to_string(),
                format!("write to {peer}: timed out after 40ms ({written} bytes written)")
            );
            drop(server);
        });
    }

    #[test]
    fn trait_timeouts_name_the_operation_and_the_peer() {
        common::run(async {
            let (client, server) = common::small_buffer_pair().await;
            // Read: nothing arrives within the socket's default read timeout.
            server.set_read_timeout(Some(AFTER));
            let peer: SocketAddr = server.peer_address().into();
            let mut buf = [0u8; 16];
            let mut reader = &server;
            let err = poll_fn(|cx| Pin::new(&mut reader).poll_read(cx, &mut buf))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
            assert_eq!(
                err.to_string(),
                format!("read from {peer}: timed out after 40ms")
            );
            assert!(matches!(
                SocketError::from(err),
                SocketError::Timeout { op: "read", .. }
            ));
            // Write: the peer never reads, so the trait's writes stall once the buffers are full.
            client.set_write_timeout(Some(AFTER));
            let peer: SocketAddr = client.peer_address().into();
            let chunk = vec![7u8; 64 * 1024];
            let mut writer = &client;
            let err = loop {
                match poll_fn(|cx| Pin::new(&mut writer).poll_write(cx, &chunk)).await {
                    Ok(n) => assert!(n > 0),
                    Err(e) => break e,
                }
            };
            assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
            assert_eq!(
                err.to_string(),
                format!("write to {peer}: timed out after 40ms (0 bytes written)")
            );
        });
    }
}
