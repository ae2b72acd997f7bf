//! `uring_loop --udp`: the hand-written io_uring floor of a UDP echo, the best a loop without a
//! runtime can do per datagram:
//!
//! - the same ring as the TCP loop (`SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN`) and, unless
//!   `--plain`, a registered ring fd and the socket as a direct descriptor (fixed file 0);
//! - ONE multishot `recvmsg` (`RecvMsgMulti`) for the socket's whole life, drawing from a ring of
//!   provided buffers (512 x 4 KiB, whole-buffer mode): each completion is one datagram, its
//!   sender's address and its bytes in one buffer;
//! - the echo is a `send` with a destination address (sendto through the ring) straight from
//!   that buffer: no copy, and no `msghdr` for the kernel to read; the buffer goes back to the
//!   ring when the send completes;
//! - every queued operation goes out with the one `io_uring_enter` that waits, once per turn,
//!   and every completion available is handled before the next.
//!
//! A datagram longer than a buffer (about 4 KiB) arrives truncated and is dropped (counted on
//! stderr); the benchmark's datagrams are far smaller.
use crate::ring::{new_ring, BufRing, Sq, BGID};
use io_uring::{cqueue, opcode, types};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// The provided buffers: enough for every datagram in flight of hundreds of clients.
const COUNT: u16 = 512;
const SIZE: usize = 4096;

/// `user_data`: the receive, or a send (kind << 32 | the buffer it sends from).
const RECV: u64 = 1;
const SEND: u64 = 2;

pub fn serve(addr: SocketAddr, direct: bool) -> ! {
    let sock = std::net::UdpSocket::bind(addr).expect("bind");
    let mut ring = new_ring();
    let (mut sub, sq, mut cq) = ring.split();
    if direct {
        sub.register_ring_fd().expect("register ring fd");
        sub.register_files(&[sock.as_raw_fd()]).expect("register the socket as a fixed file");
    }
    let mut bufs = BufRing::try_new(&sub, COUNT, SIZE, false).expect("register buffer ring");
    let mut sq = Sq { sub, sq };
    // The multishot recvmsg reads only the name and control lengths from this header: room for
    // an IPv6 sender's address, no control data. It lives as long as the loop (for ever).
    // SAFETY: msghdr is plain data; all-zero is a valid (empty) header.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_namelen = size_of::<libc::sockaddr_in6>() as u32;
    let fd = if direct { Target::Fixed } else { Target::Fd(sock.as_raw_fd()) };
    push_recv(&mut sq, fd, &hdr);
    let mut truncated = 0u64;
    loop {
        bufs.publish();
        cq.sync(); // hands the handled completions back before waiting
        sq.submit_and_wait();
        cq.sync();
        for cqe in &mut cq {
            let (res, flags, data) = (cqe.result(), cqe.flags(), cqe.user_data());
            match data >> 32 {
                RECV => {
                    if let Some(bid) = cqueue::buffer_select(flags) {
                        if !(res > 0 && echo(&mut sq, fd, &bufs, bid, res as usize, &hdr)) {
                            truncated += u64::from(res > 0);
                            if truncated.is_power_of_two() {
                                eprintln!("uring_loop --udp: {truncated} datagrams dropped (longer than {SIZE} B with headers)");
                            }
                            bufs.push(bid);
                        }
                    } else if res < 0 && res != -libc::ENOBUFS {
                        eprintln!("uring_loop --udp: recvmsg: {}", std::io::Error::from_raw_os_error(-res));
                    }
                    if !cqueue::more(flags) {
                        push_recv(&mut sq, fd, &hdr); // ended (the buffers ran dry, an error): again
                    }
                }
                SEND => {
                    if res < 0 {
                        eprintln!("uring_loop --udp: sendto: {}", std::io::Error::from_raw_os_error(-res));
                    }
                    bufs.push(data as u16);
                }
                _ => unreachable!("user_data {data:#x}"),
            }
        }
    }
}

/// The socket, as the operations name it.
#[derive(Clone, Copy)]
enum Target {
    Fixed,
    Fd(i32),
}

fn push_recv(sq: &mut Sq, fd: Target, hdr: &libc::msghdr) {
    let e = match fd {
        Target::Fixed => opcode::RecvMsgMulti::new(types::Fixed(0), hdr, BGID).build(),
        Target::Fd(fd) => opcode::RecvMsgMulti::new(types::Fd(fd), hdr, BGID).build(),
    };
    // SAFETY: `hdr` lives for the whole loop (serve never returns); the receive writes only into
    // provided buffers, which are never freed.
    unsafe { sq.push(&e.user_data(RECV << 32)) };
}

/// Queues the echo of the datagram in buffer `bid` (`len` bytes: header, name, payload) to its
/// sender, straight from the buffer. False (nothing queued) if it was truncated.
fn echo(sq: &mut Sq, fd: Target, bufs: &BufRing, bid: u16, len: usize, hdr: &libc::msghdr) -> bool {
    let Ok(msg) = types::RecvMsgOut::parse(bufs.filled(bid, len), hdr) else { return false };
    if msg.is_payload_truncated() || msg.is_name_data_truncated() {
        return false;
    }
    let (payload, name) = (msg.payload_data(), msg.name_data());
    let e = match fd {
        Target::Fixed => opcode::Send::new(types::Fixed(0), payload.as_ptr(), payload.len() as u32),
        Target::Fd(fd) => opcode::Send::new(types::Fd(fd), payload.as_ptr(), payload.len() as u32),
    }
    .dest_addr(name.as_ptr().cast())
    .dest_addr_len(name.len() as u32)
    .build()
    .user_data(SEND << 32 | u64::from(bid));
    // SAFETY: the payload and the address lie in buffer `bid`, which goes back to the ring (and
    // can be written again) only when this send's completion arrives.
    unsafe { sq.push(&e) };
    true
}
