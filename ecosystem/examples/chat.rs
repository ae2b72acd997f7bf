//! A line chat server: every line a client sends goes to every other client, prefixed with the
//! sender's address.
//!
//! ```text
//! cargo run -p event-ecosystem --example chat -- [--addr 127.0.0.1:8081]
//! ```
//! Then, in two or more terminals, `nc 127.0.0.1 8081` (or `cargo run --example client --
//! --addr 127.0.0.1:8081`) and type.
//!
//! Shared state without hand-written primitives: the room is an `Rc<RefCell<..>>` (every task
//! runs on the one loop, and no borrow is held across an `.await`), and each client has a writer
//! task fed by a bounded `async-channel` queue, so a broadcast never waits for a slow client.
//! A client whose queue is full (it stopped reading) is dropped from the room.

use std::cell::RefCell;
use std::collections::HashMap;
use std::process::ExitCode;
use std::rc::Rc;

use event::{Socket, SocketAddress, SocketError};

/// Lines queued for one client before it counts as too slow and is dropped.
const QUEUE: usize = 256;
/// The longest line a client may send (a longer one ends its connection).
const MAX_LINE: usize = 8 * 1024;

const USAGE: &str = "\
usage: chat [--addr IP:PORT]

  --addr IP:PORT   where to listen (default 127.0.0.1:8081)
  -h, --help       print this and exit";

/// One message, shared by every recipient's queue.
type Line = Rc<[u8]>;

/// The clients in the room: each one's queue, by connection number.
#[derive(Default)]
struct Room {
    members: RefCell<HashMap<u64, async_channel::Sender<Line>>>,
}

impl Room {
    /// Queues `line` for everyone but `from`; drops those whose queue is full or gone.
    fn broadcast(&self, from: u64, line: &Line) {
        self.members
            .borrow_mut()
            .retain(|&id, queue| id == from || queue.try_send(line.clone()).is_ok());
    }

    fn contains(&self, id: u64) -> bool {
        self.members.borrow().contains_key(&id)
    }
}

/// Writes what the room queues for this client, in order, until the queue closes.
async fn writer(client: Rc<Socket>, queue: async_channel::Receiver<Line>) {
    while let Ok(line) = queue.recv().await {
        if client.write(&line).await.is_err() {
            return;
        }
    }
}

/// Reads the client's lines and broadcasts each one, until it leaves (or is dropped).
async fn reader(room: &Room, id: u64, client: &Socket) -> Result<(), SocketError> {
    let name = client.peer_address().to_string();
    let mut pending = Vec::new();
    loop {
        pending.extend(client.read(4096).await?);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(&pending[..end]);
            let text = text.trim_end_matches('\r');
            let line: Line = format!("{name}: {text}\n").into_bytes().into();
            pending.drain(..=end);
            if !room.contains(id) {
                return Ok(()); // too slow: dropped from the room
            }
            room.broadcast(id, &line);
        }
        if pending.len() > MAX_LINE {
            return Ok(());
        }
    }
}

async fn serve(room: Rc<Room>, id: u64, client: Socket) {
    let client = Rc::new(client);
    let (queue, inbox) = async_channel::bounded(QUEUE);
    let others = room.members.borrow().len();
    // The welcome goes first in the client's queue; once it is there, the client is in the room.
    let hello = format!("welcome {}, {others} others here\n", client.peer_address());
    let _ = queue.try_send(Line::from(hello.into_bytes()));
    room.members.borrow_mut().insert(id, queue);
    let out = event::spawn(writer(client.clone(), inbox));
    let result = reader(&room, id, &client).await;
    // Leaving closes the queue: the writer sends what is queued, then ends.
    room.members.borrow_mut().remove(&id);
    let _ = out.await;
    match result {
        Ok(()) | Err(SocketError::ConnectionClosed) => {}
        Err(e) => eprintln!("{e}"),
    }
}

async fn run(addr: SocketAddress) -> Result<(), SocketError> {
    let server = Socket::listen_on(addr)?;
    println!(
        "chat server listening on {} (backend: {})",
        server.local_address(),
        event::backend()
    );
    let room = Rc::new(Room::default());
    for id in 0.. {
        match server.accept().await {
            Ok(client) => drop(event::spawn(serve(room.clone(), id, client))),
            Err(e) => eprintln!("{e}"),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut addr = SocketAddress::localhost(8081);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--addr" => match args.next().map(|a| a.parse()) {
                Some(Ok(a)) => addr = a,
                Some(Err(e)) => return usage_error(&format!("--addr: {e}")),
                None => return usage_error("--addr needs a value"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage_error(&format!("unknown flag {other} (try --help)")),
        }
    }
    match event::run(run(addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("{msg}\n{USAGE}");
    ExitCode::from(2)
}
