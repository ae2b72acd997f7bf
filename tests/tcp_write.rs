mod common;

use std::rc::Rc;
use std::time::Duration;

use event::SocketError;

#[test]
fn eight_mib_in_one_write_arrives_intact_while_the_peer_reads_slowly() {
    common::run(async {
        let (a, b) = common::pair().await;
        let data = common::pattern(8 << 20, 42);
        let expected = data.clone();
        let reader = event::spawn(async move {
            let mut got = Vec::with_capacity(8 << 20);
            let mut reads = 0u32;
            while got.len() < 8 << 20 {
                got.extend(b.read(64 * 1024).await.unwrap());
                reads += 1;
                if reads.is_multiple_of(16) {
                    // Slow reader: the writer has to wait for room many times.
                    event::sleep(Duration::from_millis(1)).await;
                }
            }
            got
        });
        a.write(&data).await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "bytes differ");
    });
}

#[test]
fn write_timeout_reports_bytes_written_and_socket_stays_usable() {
    common::run(async {
        let (a, b) = common::pair().await;
        // The peer does not read: the kernel buffers fill, then the write must wait.
        let data = common::pattern(64 << 20, 7);
        let err = a
            .write(&data)
            .timeout(Duration::from_millis(50))
            .await
            .unwrap_err();
        let written = match err {
            SocketError::WriteTimeout { written, .. } => written,
            other => panic!("expected WriteTimeout, got {other:?}"),
        };
        assert!(written > 0 && written < data.len(), "written {written}");
        // Everything reported as written reaches the peer, in order, and the rest can follow.
        let b = Rc::new(b);
        let reader = {
            let b = b.clone();
            let n = data.len();
            event::spawn(async move { common::read_exact(&b, n).await.unwrap() })
        };
        a.write(&data[written..]).await.unwrap();
        let got = reader.await.unwrap();
        assert!(got == data, "stream is intact across the timed-out write");
    });
}

#[test]
fn read_and_write_concurrently_from_two_tasks() {
    common::run(async {
        let (a, b) = common::pair().await;
        let a = Rc::new(a);
        let echo = event::spawn(async move {
            // b echoes everything back.
            while let Ok(bytes) = b.read(65536).await {
                b.write(&bytes).await.unwrap();
            }
        });
        let data = common::pattern(4 << 20, 3);
        let reader = {
            let a = a.clone();
            let n = data.len();
            event::spawn(async move { common::read_exact(&a, n).await.unwrap() })
        };
        a.write(&data).await.unwrap();
        assert!(reader.await.unwrap() == data);
        drop(a);
        echo.await.unwrap();
    });
}

#[test]
fn writing_to_a_reset_peer_is_an_error_not_sigpipe() {
    // Restore the default SIGPIPE action (Rust's runtime ignores it), so a write(2) to a closed
    // peer would kill this process. The library must use MSG_NOSIGNAL.
    // SAFETY: setting a signal disposition to SIG_DFL has no memory-safety requirements.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    common::run(async {
        let (a, b) = common::pair().await;
        drop(b);
        let chunk = vec![1u8; 64 * 1024];
        let mut result = Ok(());
        for _ in 0..100 {
            result = a.write(&chunk).await;
            if result.is_err() {
                break;
            }
            event::sleep(Duration::from_millis(1)).await;
        }
        match result {
            Err(SocketError::Write { source, .. }) => assert!(
                matches!(
                    source.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ),
                "{source:?}"
            ),
            other => panic!("expected a write error, got {other:?}"),
        }
    });
}

#[test]
fn write_timeout_bounds_a_stall_not_a_slow_steady_reader() {
    common::run(async {
        let (a, b) = common::pair().await;
        let data = common::pattern(24 << 20, 21);
        let n = data.len();
        // The reader takes about 256 KiB, then pauses 20 ms, over and over: the whole write
        // takes longer than the timeout, but never stalls for that long.
        let reader = event::spawn(async move {
            let mut got = 0;
            while got < n {
                let mut burst = 0;
                while burst < 256 * 1024 && got < n {
                    let chunk = b.read(64 * 1024).await.unwrap().len();
                    burst += chunk;
                    got += chunk;
                }
                event::sleep(Duration::from_millis(20)).await;
            }
            got
        });
        let start = std::time::Instant::now();
        a.write(&data)
            .timeout(Duration::from_millis(300))
            .await
            .unwrap();
        assert!(
            start.elapsed() > Duration::from_millis(300),
            "the write outlasted its timeout"
        );
        assert_eq!(reader.await.unwrap(), n);
    });
}
