//! Hostile clients: peers send a lot, then reset the connection (SO_LINGER 0) while the server
//! is still writing the echo back, some after reading part of it. The server must stay up,
//! keep serving a bystander streaming beside them (every byte checked) and new clients, and
//! give back every descriptor.
mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use common::clients::{
    Checker, Pattern, StreamPlan, Streamer, connect, is_reset, ping_pong, send_pattern,
};
use common::echo_process::EchoServer;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 50;

/// Sends `len` bytes, reading `read_first` bytes of the echo meanwhile (checked), then resets.
fn send_then_reset(addr: SocketAddr, seed: u64, len: u64, read_first: usize) -> Result<(), String> {
    let s = connect(addr);
    let pattern = Pattern::new(seed);
    let reader = (read_first > 0).then(|| {
        let mut r = s.try_clone().unwrap();
        let pattern = pattern.clone();
        std::thread::spawn(move || -> Result<TcpStream, String> {
            let mut back = vec![0; read_first];
            r.read_exact(&mut back).map_err(|e| format!("read: {e}"))?;
            Checker::new(pattern).check(&back)?;
            Ok(r)
        })
    });
    let mut w = s;
    let sent = AtomicU64::new(0);
    match send_pattern(
        &mut w,
        &pattern,
        &sent,
        len,
        64 * 1024,
        None,
        &AtomicBool::new(false),
    ) {
        Ok(()) => {}
        Err(e) if is_reset(&e) => return Err(format!("the server reset client {seed:#x}: {e}")),
        Err(e) => return Err(format!("send: {e}")),
    }
    let _clone = reader.map(|t| t.join().unwrap()).transpose()?;
    socket2::SockRef::from(&w)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    // Dropping both descriptors closes the socket: with linger 0, a reset.
    Ok(())
}

#[test]
fn resets_mid_write_leave_the_server_serving_and_leak_nothing() {
    let Some(mut echo) = EchoServer::start("hostile_reset", &[]) else {
        return;
    };
    ping_pong(echo.addr, 1, 10).expect("warm-up");
    let fds_before = echo.steady_fd_count();
    let bystander = Streamer::start(
        echo.addr,
        0xB757,
        StreamPlan {
            limit: u64::MAX,
            chunk: 16 * 1024,
            pause: Some(Duration::from_millis(1)),
        },
    );
    let addr = echo.addr;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                for i in 0..PER_THREAD {
                    let seed = 0x4E5E_0000 + t * 1000 + i;
                    let len = (1 + (i % 4)) << 20;
                    let read_first = if i % 2 == 1 { 256 * 1024 } else { 0 };
                    if let Err(e) = send_then_reset(addr, seed, len, read_first) {
                        errors.push(e);
                    }
                }
                errors
            })
        })
        .collect();
    let errors: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let alive = echo.alive();
    let fresh = ping_pong(echo.addr, 2, 50);
    bystander.stop();
    let bystander = bystander.finish();
    let fds_after = echo.wait_fd_count(fds_before, Duration::from_secs(10));
    println!(
        "hostile_reset [{}]: {} resets mid-write; bystander echoed {:.1} MiB; fds {fds_before} \
         -> {fds_after}",
        echo.backend,
        THREADS * PER_THREAD,
        common::clients::mib(bystander.echoed)
    );
    assert!(alive, "the server died: {}", echo.stderr());
    assert!(errors.is_empty(), "resetting clients: {errors:?}");
    fresh.expect("a fresh client after the resets");
    assert!(bystander.whole(), "bystander: {bystander:?}");
    assert_eq!(fds_after, fds_before, "server descriptors after the resets");
}
