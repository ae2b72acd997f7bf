//! Reference echo server: hand-written mio loop, no async. Edge-triggered,
//! slab of connections, one reused 16 KiB buffer per connection. This is the
//! practical floor for readiness-based I/O. A short read is taken to mean
//! the socket is drained (as tokio does), so a 64 B echo costs one read + one write.
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    sock: TcpStream,
    buf: Box<[u8]>,
    start: usize, // pending bytes are buf[start..end]
    end: usize,
}

fn main() {
    let addr = event_bench::server_addr();
    let mut poll = Poll::new().expect("poll");
    let mut listener = TcpListener::bind(addr).expect("bind");
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE).unwrap();
    let mut conns: slab::Slab<Conn> = slab::Slab::new();
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            panic!("poll: {e}");
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut sock, _)) => {
                            let _ = sock.set_nodelay(true);
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

/// Echo until the socket would block. Returns false when the connection is done.
fn drive(c: &mut Conn) -> bool {
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
