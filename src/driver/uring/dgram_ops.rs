//! The driver's side of datagram sockets: their operation table, the buffer group their
//! multishot `recvmsg` draws from, arming, sends and what each completion means.
//!
//! The buffer group is separate from the streams' ring: a datagram needs its whole length in
//! one buffer, plus the `io_uring_recvmsg_out` header and the sender's address in front of it
//! (the layout liburing's `io_uring_recvmsg_out(3)` describes), and the streams' 64 KiB
//! buffers cannot hold a 65,507-byte datagram with them. A few large buffers are shared by
//! every datagram socket of the loop: each completion is copied into its socket's queue and
//! the buffer goes straight back, so the group never stays empty for long.
//!
//! Datagram operations live in a table of their own, so the streams' table and its handling
//! are untouched; their `user_data` has bit 31 set (`DGRAM_TAG`, never a stream operation's
//! slab index).

use std::cell::OnceCell;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::buf_ring::BufRing;
use super::datagram::{D_CANCELLED, D_CLOSED, D_PAUSED, DgramState, SendBuf};
use super::*;
use crate::driver::datagram::Received;

/// The datagrams' buffer group (the streams' is `BUF_GROUP`, 0).
const DGRAM_GROUP: u16 = 1;
/// Buffers of the group: the most datagrams one `io_uring_enter` brings in for all the loop's
/// datagram sockets (a socket whose queue is full is paused after that batch).
const DGRAM_BUFS: u16 = 32;
/// One buffer: the 16-byte `io_uring_recvmsg_out`, a `sockaddr_in6` (28 bytes) and the largest
/// UDP payload (65,535 less the 8-byte header; 65,535 kept), rounded up to whole pages.
const DGRAM_BUF_SIZE: usize = 17 * 4096;
const _: () = assert!(DGRAM_BUF_SIZE >= 16 + 28 + 65_535);
/// Set in the `user_data` of every datagram operation.
pub(super) const DGRAM_TAG: u32 = 1 << 31;

/// Datagram sends keep buffers this large or smaller for the next sends (no allocation per
/// send while a window of sends comes and goes), at most `SEND_SPARE_BYTES` of them.
const SEND_KEEP_DGRAM: usize = 2048;
const SEND_SPARE_BYTES: usize = 32 * 1024;

enum DgramOpKind {
    /// The socket's multishot `recvmsg`.
    Recv,
    /// A send and the bytes it owns.
    Send(Box<SendBuf>),
}

struct DgramOp {
    generation: u32,
    state: Rc<DgramState>,
    kind: DgramOpKind,
}

/// The datagram operations of a loop and their buffer group (made with the first socket).
#[derive(Default)]
pub(crate) struct DgramOps {
    ops: RefCell<Slab<DgramOp>>,
    generation: Cell<u32>,
    bufs: OnceCell<BufRing>,
}

impl DgramOps {
    /// Operations in flight.
    pub(super) fn len(&self) -> usize {
        self.ops.borrow().len()
    }

    /// The loop is torn down and the kernel kept some operations: their memory must outlive
    /// the ring (leaked).
    pub(super) fn leak(&self) {
        if let Some(bufs) = self.bufs.get() {
            bufs.leak.set(true);
        }
        for op in self.ops.borrow_mut().drain() {
            std::mem::forget(op);
        }
    }

    fn insert(&self, state: &Rc<DgramState>, kind: DgramOpKind) -> u64 {
        let generation = self.generation.get().wrapping_add(1).max(1);
        self.generation.set(generation);
        let index = self.ops.borrow_mut().insert(DgramOp {
            generation,
            state: state.clone(),
            kind,
        });
        state.in_flight.set(state.in_flight.get() + 1);
        u64::from(index as u32 | DGRAM_TAG) | (u64::from(generation) << 32)
    }
}

impl Uring {
    /// Sets up the datagrams' buffer group if this is the loop's first datagram socket.
    pub(super) fn dgram_group(&self) -> io::Result<&BufRing> {
        if let Some(bufs) = self.dgram.bufs.get() {
            return Ok(bufs);
        }
        let bufs = BufRing::new(DGRAM_BUFS, DGRAM_BUF_SIZE, false)?;
        bufs.register_as(&self.ring.borrow(), DGRAM_GROUP)?;
        Ok(self.dgram.bufs.get_or_init(|| bufs))
    }

    /// Arms the socket's multishot `recvmsg` (queued for the loop's next `io_uring_enter`).
    pub(super) fn arm_dgram_recv(&self, state: &Rc<DgramState>) {
        let ud = self.dgram.insert(state, DgramOpKind::Recv);
        state.recv.set(ud);
        state.set(D_CANCELLED, false);
        // MSG_TRUNC: the header's `payloadlen` is the datagram's full length even if it did
        // not fit in the buffer (it always fits, but a cut datagram must say so).
        let entry = opcode::RecvMsgMulti::new(types::Fd(state.fd), &state.recv_hdr, DGRAM_GROUP)
            .flags(libc::MSG_TRUNC as u32)
            .build()
            .user_data(ud);
        self.push(entry);
    }

    /// Takes the oldest queued datagram into `buf`; a paused receive resumes once the task
    /// has taken half of the queue.
    #[inline]
    pub(super) fn take_datagram(&self, state: &Rc<DgramState>, buf: &mut [u8]) -> Option<Received> {
        let got = state.queue.borrow_mut().pop_into(buf)?;
        if state.has(D_PAUSED) && state.recv.get() == 0 && state.queue.borrow().is_low() {
            state.set(D_PAUSED, false);
            self.arm_dgram_recv(state);
        }
        Some(got)
    }

    /// Queues the send of a copy of `bytes` to `to` (`None`: the connected peer): a `send`
    /// with a destination address, so the kernel reads no `msghdr`.
    pub(super) fn start_dgram_send(
        &self,
        state: &Rc<DgramState>,
        bytes: &[u8],
        to: Option<SocketAddr>,
    ) {
        let spare = state.spares.borrow_mut().pop();
        let mut send = match spare {
            Some(send) => {
                let capacity = send.bytes.capacity() + size_of::<SendBuf>();
                state.spare_bytes.set(state.spare_bytes.get() - capacity);
                send
            }
            None => Box::new(SendBuf {
                bytes: Vec::new(),
                to: None,
                raw_to: None,
            }),
        };
        send.bytes.clear();
        send.bytes.extend_from_slice(bytes);
        send.to = to;
        send.raw_to = to.map(socket2::SockAddr::from);
        let mut entry = opcode::Send::new(
            types::Fd(state.fd),
            send.bytes.as_ptr(),
            send.bytes.len() as u32,
        )
        .flags(libc::MSG_NOSIGNAL);
        if let Some(addr) = &send.raw_to {
            entry = entry
                .dest_addr(addr.as_ptr().cast())
                .dest_addr_len(addr.len());
        }
        state.sends.set(state.sends.get() + 1);
        state.send_bytes.set(state.send_bytes.get() + bytes.len());
        // The box moves into the table, its contents (which the entry points to) do not.
        let ud = self.dgram.insert(state, DgramOpKind::Send(send));
        self.push(entry.build().user_data(ud));
    }

    /// A completion of a datagram operation (`user_data` tagged with `DGRAM_TAG`).
    pub(super) fn complete_datagram(&self, ud: u64, res: i32, flags: u32) {
        let index = (ud as u32 & !DGRAM_TAG) as usize;
        let mut ops = self.dgram.ops.borrow_mut();
        let op = match ops.get(index) {
            Some(op) if op.generation == (ud >> 32) as u32 => op,
            _ => {
                drop(ops);
                // Not ours any more (never expected): give its buffer back all the same.
                if let (Some(bid), Some(bufs)) =
                    (cqueue::buffer_select(flags), self.dgram.bufs.get())
                {
                    bufs.take(bid, 0, false, |_| ());
                    bufs.publish();
                }
                return;
            }
        };
        let state = op.state.clone();
        let more = matches!(op.kind, DgramOpKind::Recv) && cqueue::more(flags);
        if more {
            drop(ops);
            return self.complete_dgram_recv(&state, ud, res, flags, true);
        }
        let op = ops.remove(index);
        drop(ops);
        state.in_flight.set(state.in_flight.get() - 1);
        match op.kind {
            DgramOpKind::Recv => {
                if state.recv.get() == ud {
                    state.recv.set(0);
                }
                self.complete_dgram_recv(&state, ud, res, flags, false);
            }
            DgramOpKind::Send(send) => self.complete_dgram_send(&state, send, res),
        }
    }

    /// A completion of a send: its error (if any, and the first) kept for the socket's next
    /// send, its buffer kept for the next one, room in the window for a waiting send.
    fn complete_dgram_send(&self, state: &DgramState, send: Box<SendBuf>, res: i32) {
        state.sends.set(state.sends.get() - 1);
        state
            .send_bytes
            .set(state.send_bytes.get() - send.bytes.len());
        if res < 0 && !state.has(D_CLOSED) {
            let kept = state.send_error.take();
            state
                .send_error
                .set(kept.or(Some((errno_of(res), send.to))));
        }
        let capacity = send.bytes.capacity() + size_of::<SendBuf>();
        let spare_bytes = state.spare_bytes.get();
        if send.bytes.capacity() <= SEND_KEEP_DGRAM && spare_bytes + capacity <= SEND_SPARE_BYTES {
            state.spare_bytes.set(spare_bytes + capacity);
            state.spares.borrow_mut().push(send);
        }
        state.writer.wake();
    }

    /// A completion of the socket's multishot receive: its datagram into the queue (pausing
    /// the receive once the queue is full), or how it ended: out of buffers (receive again,
    /// unless paused), cancelled, or an error for the next receive or send.
    fn complete_dgram_recv(
        &self,
        state: &Rc<DgramState>,
        ud: u64,
        res: i32,
        flags: u32,
        more: bool,
    ) {
        if let (Some(bid), Some(bufs)) = (cqueue::buffer_select(flags), self.dgram.bufs.get()) {
            bufs.take(bid, res.max(0) as usize, false, |bytes| {
                if !state.has(D_CLOSED) {
                    queue_datagram(state, bytes);
                }
            });
            bufs.publish();
        }
        if res >= 0 {
            if more && !state.has(D_CANCELLED) && state.queue.borrow().is_full() {
                // The task is behind: leave the next datagrams in the kernel's queue.
                state.set(D_PAUSED, true);
                state.set(D_CANCELLED, true);
                self.cancel(ud);
            }
        } else if res == -libc::ENOBUFS {
            // The group ran dry (its buffers are all back now): receive again.
            if !more && !state.has(D_CLOSED) && !state.has(D_PAUSED) && state.recv.get() == 0 {
                self.arm_dgram_recv(state);
            }
        } else if res != -libc::ECANCELED {
            state.error.set(errno_of(res));
        }
        state.reader.wake();
    }
}

/// Parses one multishot completion's buffer and queues its datagram. A buffer the kernel
/// laid out wrongly (never expected) is skipped rather than trusted.
fn queue_datagram(state: &DgramState, bytes: &[u8]) {
    let Ok(out) = types::RecvMsgOut::parse(bytes, &state.recv_hdr) else {
        return;
    };
    let payload = out.payload_data();
    let size = (out.incoming_payload_len() as usize).max(payload.len());
    let from = socket_addr(out.name_data());
    state.queue.borrow_mut().push(payload, size, from);
}

/// The address in a `sockaddr_in` or `sockaddr_in6` as the kernel wrote it (`None` for any
/// other family, or too few bytes).
pub(super) fn socket_addr(name: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes(name.get(0..2)?.try_into().ok()?));
    let port = u16::from_be_bytes(name.get(2..4)?.try_into().ok()?);
    if family == libc::AF_INET {
        let ip: [u8; 4] = name.get(4..8)?.try_into().ok()?;
        return Some(SocketAddrV4::new(ip.into(), port).into());
    }
    if family == libc::AF_INET6 {
        // As the kernel's `sin6_flowinfo` holds it, as std and socket2 give it back.
        let flowinfo = u32::from_ne_bytes(name.get(4..8)?.try_into().ok()?);
        let ip: [u8; 16] = name.get(8..24)?.try_into().ok()?;
        let scope = u32::from_ne_bytes(name.get(24..28)?.try_into().ok()?);
        return Some(SocketAddrV6::new(Ipv6Addr::from(ip), port, flowinfo, scope).into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::dgram_queue::QUEUE_BYTES;
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    /// A ring, a receiver on loopback with room for `rcvbuf` bytes in the kernel, and its
    /// state; `None` where io_uring is refused.
    fn setup(rcvbuf: usize) -> Option<(Reactor, Uring, UdpSocket, Rc<DgramState>)> {
        let reactor = Reactor::new().unwrap();
        let uring = Uring::new(reactor.raw_fd(), Duration::from_secs(1)).ok()?;
        uring.dgram_group().unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        socket2::SockRef::from(&rx)
            .set_recv_buffer_size(rcvbuf)
            .unwrap();
        let state = Rc::new(DgramState::new(rx.as_raw_fd()));
        Some((reactor, uring, rx, state))
    }

    /// Datagram `seq`: its number, then bytes derived from it.
    fn datagram(seq: u32, len: usize) -> Vec<u8> {
        let mut d = seq.to_le_bytes().to_vec();
        d.extend((4..len).map(|i| (i as u32 ^ seq) as u8));
        d
    }

    /// Turns the ring until `done` holds (at most 100 turns of up to 10 ms).
    fn turn_until(uring: &Uring, done: impl Fn() -> bool) {
        for _ in 0..100 {
            if done() {
                return;
            }
            assert!(uring.wait_and_reap(Duration::from_millis(10)));
        }
        assert!(done(), "not reached after 100 turns");
    }

    #[test]
    fn a_flood_pauses_the_receive_at_the_bound_and_resumes_as_the_task_catches_up() {
        let Some((_reactor, uring, rx, state)) = setup(4 << 20) else {
            return;
        };
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        const SENT: u32 = 300;
        for seq in 0..SENT {
            tx.send_to(&datagram(seq, 1000), rx.local_addr().unwrap())
                .unwrap();
        }
        uring.arm_dgram_recv(&state);
        turn_until(&uring, || state.has(D_PAUSED) && state.recv.get() == 0);
        let queued = state.queue.borrow().len();
        let held = state.queue.borrow().held();
        assert!(queued < SENT as usize, "paused before taking everything");
        // One batch may land after the bound is crossed: at most the whole buffer group.
        assert!(
            held <= QUEUE_BYTES + DGRAM_BUFS as usize * (1000 + 64),
            "{held}"
        );
        assert_eq!(state.in_flight.get(), 0, "the receive ended");
        // The task takes datagrams: at half the bound the receive is armed again, and every
        // datagram comes out whole and in order, none lost.
        let mut buf = vec![0u8; 2000];
        let mut next = 0;
        let mut rearmed = 0;
        while next < SENT {
            let Some(got) = uring.take_datagram(&state, &mut buf) else {
                uring.wait_and_reap(Duration::from_millis(10));
                if state.queue.borrow().is_empty() && state.recv.get() == 0 {
                    uring.arm_dgram_recv(&state);
                }
                continue;
            };
            assert_eq!((got.len, got.size), (1000, 1000));
            assert_eq!(
                &buf[..got.len],
                &datagram(next, 1000)[..],
                "datagram {next}"
            );
            assert_eq!(got.from, Some(tx.local_addr().unwrap()));
            next += 1;
            if state.recv.get() != 0 && !state.has(D_PAUSED) {
                rearmed += 1;
            }
        }
        assert!(rearmed > 0, "the receive resumed");
        drop(uring);
    }

    #[test]
    fn an_empty_group_rearms_and_an_error_is_kept_for_the_next_operation() {
        let Some((_reactor, uring, rx, state)) = setup(1 << 16) else {
            return;
        };
        uring.arm_dgram_recv(&state);
        let first = state.recv.get();
        uring.complete(first, -libc::ENOBUFS, 0);
        let again = state.recv.get();
        assert!(again != 0 && again != first, "armed again");
        assert_eq!(state.error.get(), 0, "ENOBUFS is not the task's error");
        uring.complete(again, -libc::ECONNREFUSED, 0);
        assert_eq!(state.error.get(), libc::ECONNREFUSED);
        assert_eq!(
            state.recv.get(),
            0,
            "not armed again until the next receive"
        );
        // A paused socket is not re-armed by ENOBUFS: it waits for the task.
        uring.arm_dgram_recv(&state);
        state.set(D_PAUSED, true);
        uring.complete(state.recv.get(), -libc::ENOBUFS, 0);
        assert_eq!(state.recv.get(), 0);
        // The entries queued above reach the kernel before the socket closes.
        drop(uring);
        drop(rx);
    }

    #[test]
    fn a_send_is_done_when_queued_its_error_is_kept_and_its_buffer_reused() {
        let Some((_reactor, uring, rx, state)) = setup(1 << 16) else {
            return;
        };
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx_state = Rc::new(DgramState::new(tx.as_raw_fd()));
        uring.start_dgram_send(&tx_state, b"owned", rx.local_addr().ok());
        assert_eq!((tx_state.sends.get(), tx_state.send_bytes.get()), (1, 5));
        turn_until(&uring, || tx_state.sends.get() == 0);
        assert_eq!(tx_state.send_bytes.get(), 0);
        assert_eq!(tx_state.send_error.get(), None);
        assert_eq!(tx_state.spares.borrow().len(), 1, "the buffer is kept");
        let mut buf = [0u8; 16];
        let (n, from) = rx.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"owned"[..], tx.local_addr().unwrap()));
        // Too large for UDP over IPv4 (the socket's checks would refuse it before queueing):
        // the kernel's EMSGSIZE is kept, with the destination, for the next send.
        uring.start_dgram_send(&tx_state, &vec![0; 65_508], rx.local_addr().ok());
        turn_until(&uring, || tx_state.sends.get() == 0);
        assert_eq!(
            tx_state.send_error.get(),
            Some((libc::EMSGSIZE, rx.local_addr().ok()))
        );
        assert_eq!((state.in_flight.get(), tx_state.in_flight.get()), (0, 0));
    }

    #[test]
    fn sender_addresses_are_parsed_from_the_kernels_sockaddr_and_garbage_is_none() {
        let v4: SocketAddr = "192.0.2.7:4242".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1%3]:53".parse().unwrap();
        let labelled: SocketAddr =
            SocketAddrV6::new("2001:db8::2".parse().unwrap(), 53, 0x12345, 3).into();
        for addr in [v4, v6, labelled] {
            let raw = socket2::SockAddr::from(addr);
            // SAFETY: `as_ptr` points at `len` initialised bytes of the address.
            let bytes = unsafe {
                std::slice::from_raw_parts(raw.as_ptr().cast::<u8>(), raw.len() as usize)
            };
            assert_eq!(socket_addr(bytes), Some(addr));
        }
        assert_eq!(socket_addr(&[]), None);
        assert_eq!(
            socket_addr(&[0xff, 0xff, 0, 0, 0, 0, 0, 0]),
            None,
            "unknown family"
        );
        let v6_raw = socket2::SockAddr::from(v6);
        // SAFETY: as above.
        let short = unsafe { std::slice::from_raw_parts(v6_raw.as_ptr().cast::<u8>(), 20) };
        assert_eq!(socket_addr(short), None, "too short for its family");
    }
}
