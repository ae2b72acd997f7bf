//! Reference echo server: hand-written mio loop, no async. Edge-triggered,
//! slab of connections, one reused 16 KiB buffer per connection. This is the
//! practical floor for readiness-based I/O. A short read is taken to mean
//! the socket is drained (as tokio does), so a 64 B echo costs one read + one write.
//!
//! `--path PATH`: the same over a Unix-domain stream socket. `--udp`: a UDP echo floor: one
//! socket, edge-triggered; per readiness event `recv_from` + `send_to` until `recv_from` would
//! block (a datagram the socket cannot take yet waits, and reading stops, until it is writable).
use event_bench::Listen;
use mio::event::Source;
use mio::net::{TcpListener, UdpSocket, UnixListener};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

const LISTENER: Token = Token(usize::MAX);

struct Conn<S> {
    sock: S,
    buf: Box<[u8]>,
    start: usize, // pending bytes are buf[start..end]
    end: usize,
}

fn main() {
    let poll = Poll::new().expect("poll");
    match event_bench::server_listen() {
        Listen::Tcp(addr) => {
            let listener = TcpListener::bind(addr).expect("bind");
            serve_streams(poll, listener, |l| {
                let (s, _) = l.accept()?;
                let _ = s.set_nodelay(true);
                Ok(s)
            })
        }
        Listen::Unix(path) => serve_streams(poll, UnixListener::bind(path).expect("bind"), |l| Ok(l.accept()?.0)),
        Listen::Udp(addr) => serve_datagrams(poll, UdpSocket::bind(addr).expect("bind")),
    }
}

/// Polls, retrying on EINTR.
fn wait(poll: &mut Poll, events: &mut Events) {
    while let Err(e) = poll.poll(events, None) {
        if e.kind() != ErrorKind::Interrupted {
            panic!("poll: {e}");
        }
    }
}

/// The stream echo loop: accepts with `accept` until it would block, echoes every connection.
fn serve_streams<L: Source, S: Read + Write + Source>(mut poll: Poll, mut listener: L, accept: impl Fn(&L) -> io::Result<S>) -> ! {
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE).unwrap();
    let mut conns: slab::Slab<Conn<S>> = slab::Slab::new();
    let mut events = Events::with_capacity(1024);
    loop {
        wait(&mut poll, &mut events);
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match accept(&listener) {
                        Ok(mut sock) => {
                            let entry = conns.vacant_entry();
                            poll.registry().register(&mut sock, Token(entry.key()), Interest::READABLE | Interest::WRITABLE).unwrap();
                            entry.insert(Conn { sock, buf: vec![0u8; event_bench::BUF_SIZE].into(), start: 0, end: 0 });
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => {
                            eprintln!("accept: {e}");
                            break;
                        }
                    }
                }
                continue;
            }
            let key = ev.token().0;
            let Some(c) = conns.get_mut(key) else { continue };
            if !drive(c) {
                let mut c = conns.remove(key);
                let _ = poll.registry().deregister(&mut c.sock);
            }
        }
    }
}

/// The datagram echo loop. The socket is registered for reading only: a UDP socket's writable
/// edges come with every freed send buffer, i.e. every datagram. Only a datagram that met a full
/// send buffer adds the writable interest, until it is sent.
fn serve_datagrams(mut poll: Poll, mut sock: UdpSocket) -> ! {
    poll.registry().register(&mut sock, Token(0), Interest::READABLE).unwrap();
    let mut events = Events::with_capacity(16);
    let mut buf = vec![0u8; event_bench::MAX_DATAGRAM];
    // A datagram received but not sent yet (its length and sender).
    let mut unsent: Option<(usize, SocketAddr)> = None;
    let mut writable_wanted = false;
    loop {
        wait(&mut poll, &mut events);
        loop {
            if let Some((n, to)) = unsent {
                match sock.send_to(&buf[..n], to) {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        poll.registry().reregister(&mut sock, Token(0), Interest::READABLE | Interest::WRITABLE).unwrap();
                        writable_wanted = true;
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => eprintln!("send_to: {e}"),
                    Ok(_) => {}
                }
                unsent = None;
                if writable_wanted {
                    poll.registry().reregister(&mut sock, Token(0), Interest::READABLE).unwrap();
                    writable_wanted = false;
                }
            }
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => unsent = Some((n, from)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // An ICMP error for an earlier reply: that datagram's, skipped.
                Err(e) => eprintln!("recv_from: {e}"),
            }
        }
    }
}

/// Echo until the socket would block. Returns false when the connection is done.
fn drive<S: Read + Write>(c: &mut Conn<S>) -> bool {
    loop {
        while c.start < c.end {
            match c.sock.write(&c.buf[c.start..c.end]) {
                Ok(0) => return false,
                Ok(n) => c.start += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        if c.end != 0 && c.end < c.buf.len() {
            // The last read was short, so the receive queue was empty then; any
            // later data raises a new edge. Skipping the read that would only
            // return WouldBlock saves a syscall per message (tokio does the same).
            c.start = 0;
            c.end = 0;
            return true;
        }
        c.start = 0;
        c.end = 0;
        match c.sock.read(&mut c.buf) {
            Ok(0) => return false,
            Ok(n) => c.end = n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}
