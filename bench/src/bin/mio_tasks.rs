//! Reference echo server: `mio_loop` with a task per connection, the epoll counterpart of
//! `uring_tasks`. Each connection is an `async` task (`event_bench::tasks`: async-task, the
//! crate `event` uses) that reads into its 16 KiB buffer and writes the bytes back, woken by
//! the connection's readiness edges; the I/O is `mio_loop`'s (edge-triggered, a short read taken
//! to mean the socket is drained, the same system calls per message). So `mio_tasks / mio_loop`
//! is what a task per connection costs at the least on epoll, and `ours_epoll / mio_tasks` what
//! the library adds over it (no limits, timeouts, drain, panic isolation or fairness budget in
//! it). TCP only.
use event_bench::tasks::{run_tasks, spawn, wake};
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::{Poll as TaskPoll, Waker};

const LISTENER: Token = Token(usize::MAX);

/// What the loop and a connection's task share: the socket, its readiness since the task last
/// found it drained, and the waiting task's wakers.
struct Io {
    key: usize,
    sock: TcpStream,
    readable: Cell<bool>,
    writable: Cell<bool>,
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
}

impl Io {
    /// Reads into `buf` once readable: the count (0 at end of stream or an error). A short read
    /// means the socket is drained (the next waits for an edge), as in `mio_loop`.
    async fn read(&self, buf: &mut [u8]) -> usize {
        poll_fn(|cx| loop {
            if !self.readable.get() {
                self.reader.set(Some(cx.waker().clone()));
                return TaskPoll::Pending;
            }
            match (&self.sock).read(buf) {
                Ok(n) => {
                    if n < buf.len() {
                        self.readable.set(false);
                    }
                    return TaskPoll::Ready(n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.readable.set(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return TaskPoll::Ready(0),
            }
        })
        .await
    }

    /// Writes all of `bytes`; false if the connection failed.
    async fn write_all(&self, bytes: &[u8]) -> bool {
        let mut off = 0;
        poll_fn(|cx| loop {
            if off == bytes.len() {
                return TaskPoll::Ready(true);
            }
            if !self.writable.get() {
                self.writer.set(Some(cx.waker().clone()));
                return TaskPoll::Pending;
            }
            match (&self.sock).write(&bytes[off..]) {
                Ok(0) => return TaskPoll::Ready(false),
                Ok(n) => off += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.writable.set(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return TaskPoll::Ready(false),
            }
        })
        .await
    }
}

/// The connection's task: echo until end of stream or an error.
async fn echo(io: Rc<Io>, ended: Rc<RefCell<Vec<usize>>>) {
    let mut buf = vec![0u8; event_bench::BUF_SIZE];
    loop {
        let n = io.read(&mut buf).await;
        if n == 0 || !io.write_all(&buf[..n]).await {
            break;
        }
    }
    ended.borrow_mut().push(io.key);
}

fn main() {
    let mut poll = Poll::new().expect("poll");
    let mut listener = TcpListener::bind(event_bench::server_addr()).expect("bind");
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE).unwrap();
    let mut conns: slab::Slab<Rc<Io>> = slab::Slab::new();
    let ended = Rc::new(RefCell::new(Vec::new()));
    let mut events = Events::with_capacity(1024);
    loop {
        while let Err(e) = poll.poll(&mut events, None) {
            if e.kind() != ErrorKind::Interrupted {
                panic!("poll: {e}");
            }
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                accept_all(&poll, &listener, &mut conns, &ended);
                continue;
            }
            let Some(io) = conns.get(ev.token().0) else { continue };
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                io.readable.set(true);
                wake(&io.reader);
            }
            if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                io.writable.set(true);
                wake(&io.writer);
            }
        }
        run_tasks();
        for key in ended.borrow_mut().drain(..) {
            let io = conns.remove(key);
            let _ = poll.registry().deregister(&mut SourceFd(&io.sock.as_raw_fd()));
        }
    }
}

/// Accepts until the listener would block: each connection registered and given its task.
fn accept_all(poll: &Poll, listener: &TcpListener, conns: &mut slab::Slab<Rc<Io>>, ended: &Rc<RefCell<Vec<usize>>>) {
    loop {
        match listener.accept() {
            Ok((mut sock, _)) => {
                let _ = sock.set_nodelay(true);
                let entry = conns.vacant_entry();
                poll.registry().register(&mut sock, Token(entry.key()), Interest::READABLE | Interest::WRITABLE).unwrap();
                let io = Rc::new(Io {
                    key: entry.key(),
                    sock,
                    readable: Cell::new(false),
                    writable: Cell::new(false),
                    reader: Cell::new(None),
                    writer: Cell::new(None),
                });
                entry.insert(io.clone());
                spawn(echo(io, ended.clone()));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => {
                eprintln!("accept: {e}");
                break;
            }
        }
    }
}
