mod common;

use std::process::Command;
use std::time::Duration;

use event::signal::{SIGHUP, SIGUSR1, SIGUSR2, signal_stream};

// Each test here uses its own signal: handlers are process-wide and tests run in parallel.

#[test]
fn signal_sent_to_own_process_is_delivered_on_the_stream() {
    common::run(async {
        let mut signals = signal_stream(&[SIGUSR1]).unwrap();
        // Sent from another thread while the loop waits in epoll_wait.
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            signal_hook::low_level::raise(SIGUSR1).unwrap();
        });
        assert_eq!(signals.next().await, Some(SIGUSR1));
    });
}

#[test]
fn two_streams_for_one_signal_both_receive_it() {
    common::run(async {
        let mut a = signal_stream(&[SIGUSR2]).unwrap();
        let mut b = signal_stream(&[SIGUSR2]).unwrap();
        signal_hook::low_level::raise(SIGUSR2).unwrap();
        assert_eq!(a.next().await, Some(SIGUSR2));
        assert_eq!(b.next().await, Some(SIGUSR2));
    });
}

#[test]
fn uncatchable_signal_is_a_clear_error() {
    let err = signal_stream(&[libc::SIGKILL]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

/// Runs in a child process (see the next test): watches SIGHUP, receives one, drops the stream,
/// then raises SIGHUP again, which must now kill it.
#[test]
#[ignore = "run as a child process by dropped_stream_restores_the_default_action"]
fn child_raises_after_drop() {
    if std::env::var_os("EVENT_SIGNAL_CHILD").is_none() {
        return;
    }
    common::run(async {
        let mut s = signal_stream(&[SIGHUP]).unwrap();
        signal_hook::low_level::raise(SIGHUP).unwrap();
        assert_eq!(s.next().await, Some(SIGHUP));
    });
    signal_hook::low_level::raise(SIGHUP).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    println!("survived SIGHUP");
}

#[test]
fn dropped_stream_restores_the_default_action() {
    use std::os::unix::process::ExitStatusExt;
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_raises_after_drop",
            "--ignored",
            "--nocapture",
        ])
        .env("EVENT_SIGNAL_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("survived"),
        "the second SIGHUP was swallowed: {stdout}"
    );
    assert_eq!(
        out.status.signal(),
        Some(SIGHUP),
        "{:?} {stdout}",
        out.status
    );
}

#[test]
fn streams_on_two_loops_on_two_threads_both_receive_a_signal() {
    // SIGWINCH: its default action is to ignore, so this test cannot kill the process.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let ready = ready_tx.clone();
            std::thread::spawn(move || {
                common::run(async move {
                    let mut s = signal_stream(&[libc::SIGWINCH]).unwrap();
                    ready.send(()).unwrap();
                    s.next().await
                })
            })
        })
        .collect();
    ready_rx.recv().unwrap();
    ready_rx.recv().unwrap();
    // Raise until both have seen one (a raise before a stream is polled is still queued).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while loops.iter().any(|t| !t.is_finished()) {
        assert!(
            std::time::Instant::now() < deadline,
            "a loop never received SIGWINCH"
        );
        signal_hook::low_level::raise(libc::SIGWINCH).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    for t in loops {
        assert_eq!(t.join().unwrap(), Some(libc::SIGWINCH));
    }
}
