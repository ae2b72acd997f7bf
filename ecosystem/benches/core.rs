//! Micro-benchmarks of the runtime core, side by side with tokio's current-thread runtime:
//! spawn + complete, and arming + cancelling a timer.
//!
//! `cargo bench -p event-ecosystem --bench core` prints, per benchmark, the time per operation of each runtime and
//! the median of the per-round ratios (event / tokio) with a 95% interval. Rounds alternate the
//! two runtimes, so machine noise hits both alike.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

const ROUNDS: usize = 41;

fn main() {
    // `cargo test --benches` runs this with `--test`? No: harness = false binaries get `--bench`
    // from `cargo bench`; anything else gets a quick smoke run.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 3 } else { ROUNDS };
    println!(
        "{:<28} {:>12} {:>12} {:>22}",
        "benchmark", "event ns/op", "tokio ns/op", "ratio event/tokio"
    );
    compare(
        "spawn + await (batch 1000)",
        rounds,
        1000,
        spawn_event,
        spawn_tokio,
    );
    compare(
        "timer arm + cancel",
        rounds,
        10_000,
        timer_event,
        timer_tokio,
    );
    compare(
        "timeout around ready read",
        rounds,
        10_000,
        timeout_event,
        timeout_tokio,
    );
}

fn compare(
    name: &str,
    rounds: usize,
    ops: usize,
    ours: fn(usize) -> Duration,
    theirs: fn(usize) -> Duration,
) {
    // Warm up both.
    ours(ops);
    theirs(ops);
    let mut ratios = Vec::new();
    let (mut t_ours, mut t_theirs) = (Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = ours(ops);
            (a, theirs(ops))
        } else {
            let b = theirs(ops);
            (ours(ops), b)
        };
        t_ours += a;
        t_theirs += b;
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let half = (1.96 * (n as f64).sqrt() / 2.0).ceil() as usize;
    let lo = ratios[(n / 2).saturating_sub(half)];
    let hi = ratios[(n / 2 + half).min(n - 1)];
    let per = |t: Duration| t.as_nanos() as f64 / (rounds * ops) as f64;
    println!(
        "{:<28} {:>12.1} {:>12.1} {:>8.3} [{:.3}, {:.3}]",
        name,
        per(t_ours),
        per(t_theirs),
        ratios[n / 2],
        lo,
        hi
    );
}

fn spawn_event(ops: usize) -> Duration {
    let lp = event::EventLoop::new().unwrap();
    lp.block_on(async {
        let start = Instant::now();
        for _ in 0..10 {
            let handles: Vec<_> = (0..ops / 10)
                .map(|i| event::spawn(async move { black_box(i) }))
                .collect();
            for h in handles {
                black_box(h.await.unwrap());
            }
        }
        start.elapsed()
    })
}

fn spawn_tokio(ops: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..10 {
            let handles: Vec<_> = (0..ops / 10)
                .map(|i| tokio::spawn(async move { black_box(i) }))
                .collect();
            for h in handles {
                black_box(h.await.unwrap());
            }
        }
        start.elapsed()
    })
}

/// Polls `f` once (arming whatever it arms), then drops it (cancelling).
async fn poll_once<F: Future>(f: F) {
    let mut f = pin!(f);
    std::future::poll_fn(|cx| {
        let _ = f.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await
}

fn timer_event(ops: usize) -> Duration {
    let lp = event::EventLoop::new().unwrap();
    lp.block_on(async {
        let start = Instant::now();
        for _ in 0..ops {
            poll_once(event::sleep(Duration::from_secs(30))).await;
        }
        start.elapsed()
    })
}

fn timer_tokio(ops: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..ops {
            poll_once(tokio::time::sleep(Duration::from_secs(30))).await;
        }
        start.elapsed()
    })
}

/// A timeout around a future that must wait once (a yield stands in for the socket's first
/// `EAGAIN`), the shape of a timed read on a busy server.
fn timeout_event(ops: usize) -> Duration {
    let lp = event::EventLoop::new().unwrap();
    lp.block_on(async {
        let start = Instant::now();
        for _ in 0..ops {
            let _ = black_box(event::timeout(Duration::from_secs(30), event::yield_now()).await);
        }
        start.elapsed()
    })
}

fn timeout_tokio(ops: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..ops {
            let _ = black_box(
                tokio::time::timeout(Duration::from_secs(30), tokio::task::yield_now()).await,
            );
        }
        start.elapsed()
    })
}
