//! A socket dropped mid-write while the process has no descriptor left: on io_uring the bytes
//! counted as written cannot linger on a duplicate descriptor, so the peer must see a reset,
//! never a clean end of stream after missing bytes. (On epoll the kernel has every byte: the
//! peer gets them all, then the end of stream.)
//!
//! One test in this file: the descriptor limit it lowers is the whole process's.

mod common;

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use event::{Socket, SocketAddress};

const TOTAL: usize = 8 * 1024 * 1024;

/// The soft descriptor limit while the socket is dropped: well above what the test has open,
/// so filling the table up to it takes a few hundred `/dev/null`s at most.
const LOW_LIMIT: libc::rlim_t = 512;

fn nofile() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the valid, exclusively borrowed `limit`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    limit
}

fn set_nofile(limit: &libc::rlimit) {
    // SAFETY: setrlimit reads one `rlimit` from the valid `limit`.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

/// Lowers the soft limit and opens `/dev/null` until the table is full; the files free it.
fn exhaust_descriptors() -> (Vec<std::fs::File>, libc::rlimit) {
    let old = nofile();
    set_nofile(&libc::rlimit {
        rlim_cur: LOW_LIMIT.min(old.rlim_cur),
        rlim_max: old.rlim_max,
    });
    let mut files = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => files.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("open /dev/null: {e}"),
        }
    }
    (files, old)
}

/// Whether a descriptor can be duplicated right now (what the io_uring driver needs to let a
/// dropped socket's bytes linger).
fn can_dup(fd: std::os::fd::RawFd) -> bool {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on an open descriptor only allocates a new one, closed
    // right away if it succeeded.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup >= 0 {
        // SAFETY: `dup` was just returned by fcntl and is owned here.
        unsafe { libc::close(dup) };
    }
    dup >= 0
}

#[derive(Debug)]
enum Ending {
    Eof(usize),
    Reset(usize),
}

fn read_all(mut client: std::net::TcpStream, pattern: &[u8]) -> Ending {
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = 0;
    let mut buf = vec![0; 64 * 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) => return Ending::Eof(got),
            Ok(n) => {
                assert_eq!(&buf[..n], &pattern[got..got + n], "wrong bytes at {got}");
                got += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Ending::Reset(got);
            }
            Err(e) => panic!("read after {got} bytes: {e}"),
        }
    }
}

#[test]
fn a_socket_dropped_mid_write_without_a_free_descriptor_delivers_all_or_resets() {
    let (addr_tx, addr_rx) = mpsc::channel::<SocketAddr>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        common::run(async move {
            use std::os::fd::AsRawFd;
            let listener = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
            addr_tx.send(listener.local_address().into()).unwrap();
            let peer = listener.accept().await.unwrap();
            socket2::SockRef::from(&peer)
                .set_send_buffer_size(32 * 1024)
                .unwrap();
            let data = common::pattern(TOTAL, 5);
            let written = match peer.write(&data).timeout(Duration::from_millis(300)).await {
                Ok(()) => panic!("the write should have stalled"),
                Err(event::SocketError::WriteTimeout { written, .. }) => written,
                Err(e) => panic!("write: {e}"),
            };
            let fd = peer.as_raw_fd();
            let (files, old) = exhaust_descriptors();
            let dup_refused = !can_dup(fd);
            drop(peer);
            drop(files);
            set_nofile(&old);
            assert!(dup_refused, "the descriptor table should have been full");
            go_tx.send(()).unwrap();
            // Keep the loop (and its ring) running while the peer reads.
            event::sleep(Duration::from_secs(2)).await;
            written
        })
    });
    let addr = addr_rx.recv().unwrap();
    let client = {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_recv_buffer_size(32 * 1024).unwrap();
        s.connect(&addr.into()).unwrap();
        std::net::TcpStream::from(s)
    };
    go_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server never dropped its socket");
    let ending = read_all(client, &common::pattern(TOTAL, 5));
    let written = server.join().unwrap();
    assert!(written > 0 && written < TOTAL, "written {written}");
    match ending {
        Ending::Eof(got) => assert_eq!(
            got, written,
            "a clean end of stream after {got} of {written} bytes counted as written"
        ),
        Ending::Reset(got) => assert!(got <= written, "{got} > {written}"),
    }
}
