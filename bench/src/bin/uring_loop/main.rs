//! Reference echo server: hand-written io_uring loop, no async, no runtime. The practical floor
//! for completion-based I/O, as `mio_loop` is for readiness I/O. It uses what a hand-written C
//! liburing server needs to get cheapest per message:
//!
//! - a `SINGLE_ISSUER | DEFER_TASKRUN` ring (+ `COOP_TASKRUN`), 1024 SQ / 8192 CQ entries: the
//!   kernel does completion work only inside our own `io_uring_enter`, in one batch;
//! - a registered ring fd (`IORING_REGISTER_RING_FDS`, `Submitter::register_ring_fd`), so
//!   `io_uring_enter` skips the fd lookup;
//! - one multishot accept into direct descriptors (a sparse fixed file table, kernel-allocated
//!   slots): receives, sends and the close name the socket by `types::Fixed(slot)`, so no
//!   operation looks up or reference-counts a file;
//! - TCP_NODELAY like the other servers, set with an io_uring `SetSockOpt` command (works on a
//!   direct descriptor; Linux 6.7+), its success completion skipped;
//! - one multishot receive per connection from a provided buffer ring, consumed incrementally
//!   (`IOU_PBUF_RING_INC`, Linux 6.12+: small receives of any connection pack into one 64 KiB
//!   buffer) with a fallback to 1024 page-sized buffers; each completion's bytes are COPIED into
//!   the connection's send buffer, and a ring buffer goes back to the kernel as soon as the kernel
//!   is done filling it (a completion without `IORING_CQE_F_BUF_MORE`);
//! - sends (`MSG_NOSIGNAL`) from the connection's own buffer, one in flight per connection
//!   (bytes arriving meanwhile wait in a pending buffer; short sends resend the rest); every
//!   queued operation goes out with the same `io_uring_enter` that waits
//!   (`submit_and_wait(1)` once per loop turn), and every completion available is handled;
//! - a multishot that ends without an error (no `IORING_CQE_F_MORE`, or `ENOBUFS`) is re-armed;
//!   end of stream or an error closes the connection (`Close` on the slot) once nothing of it is
//!   in flight any more.
//!
//! `--path PATH`: the same over a Unix-domain stream socket (no TCP_NODELAY). `--udp`: the UDP
//! echo floor (`udp.rs`).
//!
//! `--plain`: no direct descriptors and no registered ring fd (accept returns regular fds, used
//! as `types::Fd`), to measure what those two buy. `--no-nodelay`: skip TCP_NODELAY (to check
//! that it does not matter for a ping-pong load).
mod ring;
mod udp;

use event_bench::Listen;
use io_uring::{cqueue, opcode, squeue, types};
use ring::{bind_tcp, new_ring, on_sock, BufRing, Sock, Sq, BGID};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
/// A connection buffer bigger than this is freed once it is no longer in use.
const KEEP: usize = 64 * 1024;

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

struct Conn {
    sock: Sock,
    /// The bytes of the send in flight; `out[off..]` still to go. The kernel reads this heap
    /// buffer while `sending`, so it is not touched then.
    out: Vec<u8>,
    off: usize,
    /// Bytes received while a send was in flight: the next send.
    pending: Vec<u8>,
    sending: bool,
    recv_armed: bool,
    /// No more receives (end of stream or error): close once nothing is in flight.
    closing: bool,
}

impl Sq<'_> {
    fn push_accept(&mut self, lfd: i32, direct: bool) {
        let e = opcode::AcceptMulti::new(types::Fd(lfd)).allocate_file_index(direct).build().user_data(ud(ACCEPT, 0));
        // SAFETY: a multishot accept without an address buffer points at no memory of ours.
        unsafe { self.push(&e) };
    }

    fn push_recv(&mut self, key: usize, c: &mut Conn) {
        let e = on_sock!(c.sock, |t| opcode::RecvMulti::new(t, BGID).build()).user_data(ud(RECV, key));
        // SAFETY: the receive writes only into provided buffers, which are never freed.
        unsafe { self.push(&e) };
        c.recv_armed = true;
    }

    /// Sends `c.out[c.off..]` (non-empty).
    fn push_send(&mut self, key: usize, c: &mut Conn) {
        let rest = &c.out[c.off..];
        let e = on_sock!(c.sock, |t| opcode::Send::new(t, rest.as_ptr(), rest.len() as u32).flags(libc::MSG_NOSIGNAL).build())
            .user_data(ud(SEND, key));
        // SAFETY: `c.out`'s heap buffer is neither written, resized nor dropped while `sending`
        // is set (a connection is removed from the slab only once its send completed).
        unsafe { self.push(&e) };
        c.sending = true;
    }
}

/// Echoes `bytes`: sends them now, or after the send in flight.
fn echo(sq: &mut Sq, key: usize, c: &mut Conn, bytes: &[u8]) {
    if c.sending {
        c.pending.extend_from_slice(bytes);
    } else {
        c.out.clear();
        c.out.extend_from_slice(bytes);
        c.off = 0;
        sq.push_send(key, c);
    }
}

fn main() {
    let plain = std::env::args().any(|a| a == "--plain");
    let direct = !plain;
    let (listener, tcp) = match event_bench::server_listen() {
        Listen::Udp(addr) => udp::serve(addr, direct),
        Listen::Tcp(addr) => (bind_tcp(addr), true),
        Listen::Unix(path) => (OwnedFd::from(std::os::unix::net::UnixListener::bind(path).expect("bind")), false),
    };
    let nodelay = tcp && !std::env::args().any(|a| a == "--no-nodelay");
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
    sq.push_accept(lfd, direct);

    loop {
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
                        let sock = if direct { Sock::Fixed(res as u32) } else { Sock::Fd(res) };
                        if nodelay {
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
                        }
                        let entry = conns.vacant_entry();
                        let key = entry.key();
                        let c = entry.insert(Conn {
                            sock,
                            out: Vec::new(),
                            off: 0,
                            pending: Vec::new(),
                            sending: false,
                            recv_armed: false,
                            closing: false,
                        });
                        sq.push_recv(key, c);
                    } else {
                        eprintln!("uring_loop: accept: {}", io::Error::from_raw_os_error(-res));
                    }
                    if !cqueue::more(flags) {
                        sq.push_accept(lfd, direct);
                    }
                }
                RECV => {
                    let c = &mut conns[key];
                    let more = cqueue::more(flags);
                    if !more {
                        c.recv_armed = false;
                    }
                    if let Some(bid) = cqueue::buffer_select(flags) {
                        let closing = c.closing;
                        bufs.take(bid, res.max(0) as usize, cqueue::buffer_more(flags), |bytes| {
                            if !bytes.is_empty() && !closing {
                                echo(&mut sq, key, c, bytes);
                            }
                        });
                    }
                    if res == 0 || (res < 0 && res != -libc::ENOBUFS) {
                        // End of stream, an error, or our cancellation.
                        c.closing = true;
                    } else if !more && !c.closing {
                        // The multishot ended (e.g. the buffer ring ran dry): arm it again.
                        sq.push_recv(key, c);
                    }
                    maybe_close(&mut sq, &mut conns, key);
                }
                SEND => {
                    let c = &mut conns[key];
                    if res > 0 {
                        c.off += res as usize;
                        if c.off < c.out.len() {
                            sq.push_send(key, c); // short send: the rest
                            continue;
                        }
                    }
                    c.sending = false;
                    if res <= 0 {
                        // The peer is gone: drop what is left, stop receiving, close.
                        c.pending.clear();
                        if !c.closing && c.recv_armed {
                            let e =
                                opcode::AsyncCancel::new(ud(RECV, key)).build().flags(squeue::Flags::SKIP_SUCCESS).user_data(ud(CANCEL, 0));
                            // SAFETY: a cancel points at no memory.
                            unsafe { sq.push(&e) };
                        }
                        c.closing = true;
                    } else if !c.pending.is_empty() {
                        std::mem::swap(&mut c.out, &mut c.pending);
                        c.pending.clear();
                        c.off = 0;
                        sq.push_send(key, c);
                    }
                    if c.out.capacity() > KEEP && !c.sending {
                        c.out = Vec::new();
                    }
                    if c.pending.capacity() > KEEP {
                        c.pending = Vec::new();
                    }
                    maybe_close(&mut sq, &mut conns, key);
                }
                SOCKOPT => {
                    eprintln!("uring_loop: TCP_NODELAY: {}", io::Error::from_raw_os_error(-res));
                }
                CLOSE => {
                    eprintln!("uring_loop: close: {}", io::Error::from_raw_os_error(-res));
                }
                _ => {} // CANCEL: the receive already ended (ENOENT/EALREADY)
            }
        }
    }
}

/// Closes and forgets a closing connection once none of its operations is in flight (so no
/// completion can name its key any more, and its slot/fd is not reused under one).
fn maybe_close(sq: &mut Sq, conns: &mut slab::Slab<Conn>, key: usize) {
    let c = &conns[key];
    if !c.closing || c.sending || c.recv_armed {
        return;
    }
    let e = on_sock!(c.sock, |t| opcode::Close::new(t).build()).flags(squeue::Flags::SKIP_SUCCESS).user_data(ud(CLOSE, key));
    // SAFETY: a close points at no memory.
    unsafe { sq.push(&e) };
    conns.remove(key);
}
