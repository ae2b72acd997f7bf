//! A line client in the spirit of `nc`: sends stdin, prints what comes back, and exits when
//! either side ends: at the end of stdin (it half-closes, then prints the rest of the reply), or
//! as soon as the server closes the connection, even while stdin is still open.
//!
//! ```text
//! cargo run --example client -- [--addr] [HOST:PORT]      (default 127.0.0.1:8080)
//! ```

use std::io::{BufRead, Write as _};
use std::process::ExitCode;

use event::{Socket, SocketError};

const USAGE: &str = "\
usage: client [--addr] [HOST:PORT]

  HOST:PORT, --addr HOST:PORT   the server (default 127.0.0.1:8080); a host name is resolved
  -h, --help                    print this and exit

Sends each line of stdin and prints what comes back; exits 0 at the end of stdin or when the
server closes the connection.";

/// What the command line asks for: a session with a server, or the usage.
enum Command {
    Connect(String),
    Help,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut target = None;
    let mut args = args;
    while let Some(arg) = args.next() {
        let addr = match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--addr" => args.next().ok_or("--addr needs a value (HOST:PORT)")?,
            flag if flag.starts_with('-') => {
                return Err(format!("unknown flag {flag} (try --help)"));
            }
            _ => arg,
        };
        if let Some(first) = target.replace(addr) {
            return Err(format!(
                "one server only: {first:?}, then {:?} (try --help)",
                target.unwrap_or_default()
            ));
        }
    }
    Ok(Command::Connect(
        target.unwrap_or_else(|| "127.0.0.1:8080".into()),
    ))
}

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
    let wake_on_close = wake.clone();
    let printer = event::spawn(async move {
        let result = print_replies(&reader).await;
        // The server is done (or failed): wake the session, which may be waiting for stdin.
        wake_on_close.wake();
        result
    });
    loop {
        wake.wait().await;
        if printer.is_finished() {
            // The server closed the connection: nothing more to send, even if stdin is open.
            break;
        }
        let mut done = false;
        while let Ok(line) = lines_rx.try_recv() {
            match line {
                Some(line) => socket.write(line.as_bytes()).await?,
                None => done = true,
            }
        }
        if done {
            break;
        }
    }
    // Our side is done: half-close so the server sees EOF, then print the rest of its reply.
    // (If the server closed first, the printer has already finished.)
    let _ = socket.shutdown_write();
    printer.await.unwrap_or(Ok(()))
}

/// Prints what the server sends until it closes the connection.
async fn print_replies(socket: &Socket) -> Result<(), SocketError> {
    let mut out = std::io::stdout();
    loop {
        match socket.read(64 * 1024).await {
            Ok(bytes) => {
                let _ = out.write_all(&bytes);
                let _ = out.flush();
            }
            Err(SocketError::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
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
    let target = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Connect(target)) => target,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("client: {msg}");
            return ExitCode::from(2);
        }
    };
    // The stdin thread may still be blocked in a read: returning from `main` ends it.
    match event::run(session(target)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}
