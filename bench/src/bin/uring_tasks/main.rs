//! Reference echo server: `uring_loop` with a task per connection. The floor of the programming
//! model `event` offers (and tokio, monoio and smol offer): each connection is an `async` task
//! that reads and writes, woken by the loop's completions. Everything else is `uring_loop`'s, so
//! `uring_tasks / uring_loop` is what a task per connection costs at the least, and
//! `ours / uring_tasks` what the library adds over that.
//!
//! What a task adds, done as cheaply as we know how:
//! - the task: `async_task::spawn_local` (the crate `event` uses), one allocation holding the
//!   connection's future; the run queue (`event_bench::tasks`) is a thread-local `VecDeque` of
//!   `Runnable`s, run to empty each turn;
//! - the connection's state the loop and the task share (`Io`, one `Rc` allocation): the inbox
//!   of received bytes, the bytes of the send in flight, the reader's and writer's wakers;
//! - the future: `read` (the inbox is swapped into the task's buffer, so no message copies
//!   twice) then `write` (the buffer is swapped into `Io::out` and its send queued), until end
//!   of stream;
//! - sends are queued by the task and pushed by the loop after the turn's tasks ran.
//!
//! Not in it: a connection limit, timeouts, a shutdown drain, panic isolation, a fairness
//! budget, error reporting, generation checks of completions. `--plain` as `uring_loop`'s.
// `BufRing::filled` serves uring_loop's UDP loop only.
#[allow(dead_code)]
#[path = "../uring_loop/ring.rs"]
mod ring;

use event_bench::tasks::{run_tasks, spawn, wake};
use io_uring::{cqueue, opcode, squeue};
use ring::{bind_tcp, new_ring, on_sock, BufRing, Sock, Sq, BGID};
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// `user_data` = kind << 32 | connection key.
const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;
const CLOSE: u64 = 4;
const SOCKOPT: u64 = 5;
const CANCEL: u64 = 6;

fn ud(kind: u64, key: usize) -> u64 {
    kind << 32 | key as u64
}

/// TCP_NODELAY's option value; static, so it outlives the `SetSockOpt` that points at it.
static ONE: libc::c_int = 1;

/// What the loop and a connection's task share.
struct Io {
    key: usize,
    /// Received bytes the task has not read yet.
    inbox: RefCell<Vec<u8>>,
    /// End of stream or an error: the read returns nothing.
    eof: Cell<bool>,
    /// The send in flight: `out[off..]` still to go. The kernel reads this heap buffer while
    /// `sending`, so nobody touches it then.
    out: RefCell<Vec<u8>>,
    off: Cell<usize>,
    sending: Cell<bool>,
    send_failed: Cell<bool>,
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
}

/// The loop's side of a connection.
struct Conn {
    sock: Sock,
    io: Rc<Io>,
    recv_armed: bool,
    /// The task ended: close once nothing is in flight.
    done: bool,
}

/// What the tasks ask of the loop, taken after each run of the queue.
#[derive(Default)]
struct Requests {
    /// Connections whose `Io::out` is to be sent.
    sends: Vec<usize>,
    /// Connections whose task ended.
    ended: Vec<usize>,
}

/// The connection's task: echo until end of stream or a failed send.
async fn echo(io: Rc<Io>, requests: Rc<RefCell<Requests>>) {
    let mut buf = Vec::new();
    loop {
        poll_fn(|cx| {
            if !io.inbox.borrow().is_empty() || io.eof.get() {
                std::mem::swap(&mut *io.inbox.borrow_mut(), &mut buf);
                io.inbox.borrow_mut().clear();
                return Poll::Ready(());
            }
            io.reader.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await;
        if buf.is_empty() {
            break;
        }
        std::mem::swap(&mut *io.out.borrow_mut(), &mut buf);
        io.off.set(0);
        io.sending.set(true);
        requests.borrow_mut().sends.push(io.key);
        poll_fn(|cx| {
            if !io.sending.get() {
                return Poll::Ready(());
            }
            io.writer.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await;
        if io.send_failed.get() {
            break;
        }
        buf.clear();
    }
    requests.borrow_mut().ended.push(io.key);
}

impl Sq<'_> {
    fn push_accept(&mut self, lfd: i32, direct: bool) {
        let e = opcode::AcceptMulti::new(io_uring::types::Fd(lfd)).allocate_file_index(direct).build().user_data(ud(ACCEPT, 0));
        // SAFETY: a multishot accept without an address buffer points at no memory of ours.
        unsafe { self.push(&e) };
    }

    fn push_recv(&mut self, c: &mut Conn) {
        let e = on_sock!(c.sock, |t| opcode::RecvMulti::new(t, BGID).build()).user_data(ud(RECV, c.io.key));
        // SAFETY: the receive writes only into provided buffers, which are never freed.
        unsafe { self.push(&e) };
        c.recv_armed = true;
    }

    /// Sends `io.out[io.off..]` (non-empty).
    fn push_send(&mut self, c: &Conn) {
        let (ptr, len) = {
            let out = c.io.out.borrow();
            let rest = &out[c.io.off.get()..];
            (rest.as_ptr(), rest.len())
        };
        let e = on_sock!(c.sock, |t| opcode::Send::new(t, ptr, len as u32).flags(libc::MSG_NOSIGNAL).build()).user_data(ud(SEND, c.io.key));
        // SAFETY: `io.out`'s heap buffer is neither written, resized nor dropped while
        // `sending` is set: the task waits for it to clear, and the connection (holding the
        // `Io`) leaves the slab only once no send is in flight.
        unsafe { self.push(&e) };
    }
}

fn main() {
    let plain = std::env::args().any(|a| a == "--plain");
    let direct = !plain;
    let listener = bind_tcp(event_bench::server_addr());
    let lfd = listener.as_raw_fd();
    let mut ring = new_ring();
    let (mut sub, sq, mut cq) = ring.split();
    if direct {
        sub.register_ring_fd().expect("register ring fd");
        // The table must not exceed RLIMIT_NOFILE.
        let slots = event_bench::procfs::raise_nofile().min(65536) as u32;
        sub.register_files_sparse(slots).expect("register sparse file table");
    }
    let mut bufs = BufRing::new(&sub);
    let mut sq = Sq { sub, sq };
    let mut conns: slab::Slab<Conn> = slab::Slab::new();
    let requests = Rc::new(RefCell::new(Requests::default()));
    let mut taken = Requests::default();
    sq.push_accept(lfd, direct);

    loop {
        run_tasks();
        std::mem::swap(&mut *requests.borrow_mut(), &mut taken);
        for key in taken.sends.drain(..) {
            sq.push_send(&conns[key]);
        }
        for key in taken.ended.drain(..) {
            conns[key].done = true;
            maybe_close(&mut sq, &mut conns, key);
        }
        bufs.publish();
        cq.sync(); // hands the handled completions back before waiting
        sq.submit_and_wait();
        cq.sync();
        for cqe in &mut cq {
            let (res, flags, data) = (cqe.result(), cqe.flags(), cqe.user_data());
            let key = data as u32 as usize;
            match data >> 32 {
                ACCEPT => {
                    if res >= 0 {
                        accepted(&mut sq, &mut conns, &requests, if direct { Sock::Fixed(res as u32) } else { Sock::Fd(res) });
                    } else {
                        eprintln!("uring_tasks: accept: {}", std::io::Error::from_raw_os_error(-res));
                    }
                    if !cqueue::more(flags) {
                        sq.push_accept(lfd, direct);
                    }
                }
                RECV => received(&mut sq, &mut bufs, &mut conns, key, res, flags),
                SEND => sent(&mut sq, &mut conns, key, res),
                SOCKOPT => eprintln!("uring_tasks: TCP_NODELAY: {}", std::io::Error::from_raw_os_error(-res)),
                CLOSE => eprintln!("uring_tasks: close: {}", std::io::Error::from_raw_os_error(-res)),
                _ => {} // CANCEL: the receive already ended (ENOENT/EALREADY)
            }
        }
    }
}

/// A new connection: TCP_NODELAY, its receive, its task.
fn accepted(sq: &mut Sq, conns: &mut slab::Slab<Conn>, requests: &Rc<RefCell<Requests>>, sock: Sock) {
    let e = on_sock!(sock, |t| opcode::SetSockOpt::new(
        t,
        libc::IPPROTO_TCP as u32,
        libc::TCP_NODELAY as u32,
        (&raw const ONE).cast(),
        size_of::<libc::c_int>() as u32,
    )
    .build())
    .flags(squeue::Flags::SKIP_SUCCESS)
    .user_data(ud(SOCKOPT, 0));
    // SAFETY: the option value is a static.
    unsafe { sq.push(&e) };
    let entry = conns.vacant_entry();
    let io = Rc::new(Io {
        key: entry.key(),
        inbox: RefCell::new(Vec::new()),
        eof: Cell::new(false),
        out: RefCell::new(Vec::new()),
        off: Cell::new(0),
        sending: Cell::new(false),
        send_failed: Cell::new(false),
        reader: Cell::new(None),
        writer: Cell::new(None),
    });
    let c = entry.insert(Conn { sock, io: io.clone(), recv_armed: false, done: false });
    sq.push_recv(c);
    spawn(echo(io, requests.clone()));
}

/// A receive's completion: its bytes into the inbox, the reader woken.
fn received(sq: &mut Sq, bufs: &mut BufRing, conns: &mut slab::Slab<Conn>, key: usize, res: i32, flags: u32) {
    let c = &mut conns[key];
    let more = cqueue::more(flags);
    if !more {
        c.recv_armed = false;
    }
    if let Some(bid) = cqueue::buffer_select(flags) {
        bufs.take(bid, res.max(0) as usize, cqueue::buffer_more(flags), |bytes| c.io.inbox.borrow_mut().extend_from_slice(bytes));
    }
    if res == 0 || (res < 0 && res != -libc::ENOBUFS) {
        // End of stream, an error, or our cancellation.
        c.io.eof.set(true);
    } else if !more && !c.done {
        // The multishot ended (e.g. the buffer ring ran dry): arm it again.
        sq.push_recv(c);
    }
    wake(&c.io.reader);
    maybe_close(sq, conns, key);
}

/// A send's completion: the rest of a short send, or the writer woken.
fn sent(sq: &mut Sq, conns: &mut slab::Slab<Conn>, key: usize, res: i32) {
    let c = &mut conns[key];
    if res > 0 {
        c.io.off.set(c.io.off.get() + res as usize);
        if c.io.off.get() < c.io.out.borrow().len() {
            sq.push_send(c); // short send: the rest
            return;
        }
    } else {
        // The peer is gone: stop receiving; the task ends at its next look.
        c.io.send_failed.set(true);
        if c.recv_armed {
            let e = opcode::AsyncCancel::new(ud(RECV, key)).build().flags(squeue::Flags::SKIP_SUCCESS).user_data(ud(CANCEL, 0));
            // SAFETY: a cancel points at no memory.
            unsafe { sq.push(&e) };
        }
    }
    c.io.sending.set(false);
    wake(&c.io.writer);
    maybe_close(sq, conns, key);
}

/// Closes and forgets a connection whose task ended once none of its operations is in flight
/// (so no completion can name its key any more, and its slot is not reused under one).
fn maybe_close(sq: &mut Sq, conns: &mut slab::Slab<Conn>, key: usize) {
    let c = &conns[key];
    if !c.done || c.io.sending.get() || c.recv_armed {
        return;
    }
    let e = on_sock!(c.sock, |t| opcode::Close::new(t).build()).flags(squeue::Flags::SKIP_SUCCESS).user_data(ud(CLOSE, key));
    // SAFETY: a close points at no memory.
    unsafe { sq.push(&e) };
    conns.remove(key);
}
