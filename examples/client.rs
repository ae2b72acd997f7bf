//! A line client in the spirit of `nc`: sends stdin, prints what comes back, exits cleanly when
//! either side ends.
//!
//! ```text
//! cargo run --example client -- [HOST:PORT]      (default 127.0.0.1:8080)
//! ```

use std::io::{BufRead, Write as _};
use std::process::ExitCode;

use event::{Socket, SocketError};

async fn session(target: String) -> Result<(), SocketError> {
    let socket = Socket::connect(target.as_str()).await?;
    // Stdin blocks, so a helper thread reads it and hands lines to the loop.
    let (lines, lines_rx) = std::sync::mpsc::channel::<Option<String>>();
    let wake = Wake::default();
    let wake_thread = wake.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.send(Some(line + "\n")).is_err() {
                return;
            }
            wake_thread.wake();
        }
        let _ = lines.send(None);
        wake_thread.wake();
    });
    let socket = std::rc::Rc::new(socket);
    let reader = socket.clone();
    let printer = event::spawn(async move {
        let mut out = std::io::stdout();
        loop {
            match reader.read(64 * 1024).await {
                Ok(bytes) => {
                    let _ = out.write_all(&bytes);
                    let _ = out.flush();
                }
                Err(SocketError::ConnectionClosed) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    });
    loop {
        wake.wait().await;
        let mut done = false;
        while let Ok(line) = lines_rx.try_recv() {
            match line {
                Some(line) => socket.write(line.as_bytes()).await?,
                None => done = true,
            }
        }
        if done || printer.is_finished() {
            break;
        }
    }
    // Our side is done: half-close so the server sees EOF, then print the rest of its reply.
    let _ = socket.shutdown_write();
    printer.await.unwrap_or(Ok(()))
}

/// A wake-up from the stdin thread to the loop.
#[derive(Clone, Default)]
struct Wake(std::sync::Arc<std::sync::Mutex<(bool, Option<std::task::Waker>)>>);

impl Wake {
    fn wake(&self) {
        let waker = {
            let mut s = self.0.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            let mut s = self.0.lock().unwrap();
            if std::mem::take(&mut s.0) {
                std::task::Poll::Ready(())
            } else {
                s.1 = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

fn main() -> ExitCode {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    match event::run(session(target)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}
