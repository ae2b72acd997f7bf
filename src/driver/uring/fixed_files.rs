//! The ring's table of registered files. A TCP connection's socket is put in it at the
//! connection's second send, and its sends and receives then name it by slot
//! (`IOSQE_FIXED_FILE`): the kernel takes no reference on the file for each operation
//! (`fget` and `fput` were 1.2% of the echo's CPU at 500 connections, bench/LOG.md). Not
//! earlier: putting a socket in the table and taking it out costs about one operation each,
//! which a connection that exchanges one message (measured: 0.8% of a churned connection's
//! CPU) does not earn back. The socket keeps its ordinary descriptor too: options,
//! `shutdown`, `SO_LINGER`, a lingering send's duplicate and the close go through it as before.
//!
//! Slots are handed out lowest first and given back when the socket is dropped, by a `Close`
//! of the slot queued before the descriptor's. A slot given back is reused only once the queue
//! holding its `Close` has been submitted (`recycle`), so every entry that names a slot reaches
//! the kernel after the `FilesUpdate` that filled it and before the `Close` that empties it.
//! Connections past the table's size (or with no table: an old kernel, a low file limit) use
//! their descriptor.

use super::*;

/// Slots in the table (fewer if the process may open fewer files): a loop's connections past
/// it use their descriptors.
#[cfg(not(test))]
const SLOTS: u32 = 16 * 1024;
/// The unit tests' table: small enough to fill.
#[cfg(test)]
const SLOTS: u32 = 4;

/// `ConnState::file` of a connection whose socket has no slot.
pub(super) const NO_SLOT: u32 = u32::MAX;

/// The slots of the ring's table of registered files.
#[derive(Default)]
pub(super) struct FixedFiles {
    /// The descriptor each slot's `FilesUpdate` installs. The kernel reads it when the entry
    /// is submitted, so it lives in a slice that never moves, and a slot's cell is written
    /// only when the slot is handed out (after its earlier entries were submitted).
    fds: Box<[Cell<RawFd>]>,
    /// Slots never handed out start here.
    next: Cell<u32>,
    /// Slots given back whose `Close` has been submitted.
    free: RefCell<Vec<u32>>,
    /// Slots given back since the queue was last submitted in full, and whether there are any
    /// (checked at every turn without borrowing the vector).
    released: RefCell<Vec<u32>>,
    any_released: Cell<bool>,
    /// A `FilesUpdate` failed (out of kernel memory): new connections use their descriptors.
    refused: Cell<bool>,
}

impl FixedFiles {
    /// Registers a sparse table on `ring`: as many slots as the process may open files, at most
    /// `SLOTS`; none if the kernel refuses it, or is older than 6.13. Before 6.13 a file taken
    /// out of the table was let go only once every fixed-file request issued before its removal
    /// had ended, other connections' long-lived multishot receives included, so a dropped
    /// socket could stay open (its peer never seeing the end of the stream); since, each
    /// request holds only its own file.
    pub(super) fn register(ring: &IoUring, probe: &io_uring::Probe) -> FixedFiles {
        let slots = SLOTS.min(open_file_limit());
        if slots == 0
            || !kernel_at_least(6, 13)
            || !probe.is_supported(opcode::FilesUpdate::CODE)
            || ring.submitter().register_files_sparse(slots).is_err()
        {
            return FixedFiles::default();
        }
        FixedFiles {
            fds: (0..slots).map(|_| Cell::new(-1)).collect(),
            ..FixedFiles::default()
        }
    }

    fn take(&self) -> Option<u32> {
        if self.refused.get() {
            return None;
        }
        if let Some(slot) = self.free.borrow_mut().pop() {
            return Some(slot);
        }
        let next = self.next.get();
        if (next as usize) < self.fds.len() {
            self.next.set(next + 1);
            Some(next)
        } else {
            None
        }
    }

    /// Whether slots given back wait for the queue to be submitted.
    #[inline]
    pub(super) fn any_released(&self) -> bool {
        self.any_released.get()
    }

    /// Everything queued has been submitted: the slots given back meanwhile may be reused.
    pub(super) fn recycle(&self) {
        self.any_released.set(false);
        self.free
            .borrow_mut()
            .append(&mut self.released.borrow_mut());
    }

    /// Slots handed out and not given back (for tests).
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.next.get() as usize - self.free.borrow().len() - self.released.borrow().len()
    }
}

/// The process's soft limit on open files (the kernel refuses a larger table).
fn open_file_limit() -> u32 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, exclusively borrowed `rlimit` that getrlimit(2) fills.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    u32::try_from(limit.rlim_cur).unwrap_or(u32::MAX)
}

impl Uring {
    /// Puts the connection's socket in the table, if a slot is free: a `FilesUpdate` queued
    /// ahead of the entries that will name the slot (its success posts no completion).
    pub(super) fn install_file(&self, conn: &ConnState) {
        let Some(slot) = self.files.take() else {
            return;
        };
        let cell = &self.files.fds[slot as usize];
        cell.set(conn.fd.get());
        let entry = opcode::FilesUpdate::new(cell.as_ptr(), 1)
            .offset(slot as i32)
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(FILES_UD);
        // The entry points at the cell: `fds` never moves and outlives the ring (a later
        // field of `Uring`), and the cell is not written again before the entry is submitted
        // (`recycle`).
        self.push(entry);
        conn.file.set(slot);
    }

    /// The socket is being dropped: its slot, if it has one, is emptied by a `Close` queued
    /// after every entry that names it (entries queued later name the descriptor), and given
    /// back.
    #[inline]
    pub(super) fn release_file(&self, conn: &ConnState) {
        if conn.file.get() != NO_SLOT {
            self.release_slot(conn);
        }
    }

    fn release_slot(&self, conn: &ConnState) {
        let slot = conn.file.replace(NO_SLOT);
        let entry = opcode::Close::new(types::Fixed(slot))
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(CLOSE_UD);
        self.push(entry);
        self.files.released.borrow_mut().push(slot);
        self.files.any_released.set(true);
    }

    /// A `FilesUpdate` failed: that connection's operations fail with `EBADF`, and later
    /// connections use their descriptors.
    #[cold]
    pub(super) fn files_update_failed(&self, res: i32) {
        let errno = errno_of(res);
        crate::trace::event!(warn, errno, "io_uring file table update failed");
        let _ = errno;
        self.files.refused.set(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, EventLoop, Socket, SocketAddress};

    fn io_uring_loop() -> Option<EventLoop> {
        let lp = EventLoop::builder()
            .backend(Backend::IoUring)
            .build()
            .ok()?;
        (lp.backend() == "io_uring").then_some(lp)
    }

    fn files() -> Rc<Uring> {
        let core = crate::event_loop::current().expect("a loop runs");
        core.driver.uring().expect("io_uring").clone()
    }

    /// An echo server on the running loop, every connection a task; its address.
    fn spawn_echo_server() -> SocketAddress {
        let server = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
        let addr = server.local_address();
        crate::spawn(async move {
            while let Ok(conn) = server.accept().await {
                crate::spawn(async move {
                    while let Ok(bytes) = conn.read(64 * 1024).await {
                        if conn.write(&bytes).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    /// Writes `bytes` on `client` and reads its echo back.
    async fn round_trip(client: &Socket, bytes: &[u8]) -> Vec<u8> {
        client.write(bytes).await.unwrap();
        let mut echoed = Vec::new();
        while echoed.len() < bytes.len() {
            echoed.extend(client.read(64 * 1024).await.unwrap());
        }
        echoed
    }

    #[test]
    fn connections_past_the_table_use_descriptors_and_a_closed_ones_slot_is_reused() {
        let Some(lp) = io_uring_loop() else {
            return;
        };
        lp.block_on(crate::timeout(std::time::Duration::from_secs(20), async {
            let addr = spawn_echo_server();
            // Two sockets per connection (both ends are this loop's): more than the table.
            let mut clients = Vec::new();
            for i in 0..SLOTS as u8 {
                let client = Socket::connect(addr).await.unwrap();
                let message = [i; 100];
                assert_eq!(round_trip(&client, &message).await, message);
                clients.push(client);
            }
            let uring = files();
            assert_eq!(
                uring.files.in_use(),
                0,
                "one send each: nobody asked for a slot"
            );
            // The second sends take the slots; every connection, with a slot or without, still
            // carries its own bytes, through its slot from then on.
            for round in 0..3 {
                for (i, client) in clients.iter().enumerate() {
                    let message = [i as u8 + 10 * round; 3000];
                    assert_eq!(round_trip(client, &message).await, message);
                }
            }
            assert_eq!(uring.files.in_use(), SLOTS as usize, "the table is full");
            // A closed connection's slot goes back once its close is submitted, and the next
            // connection's bytes go to the next connection.
            drop(clients.remove(0));
            crate::sleep(std::time::Duration::from_millis(50)).await;
            assert!(uring.files.in_use() < SLOTS as usize, "a slot came back");
            let client = Socket::connect(addr).await.unwrap();
            assert_eq!(round_trip(&client, b"fresh").await, b"fresh");
            for (i, client) in clients.iter().enumerate() {
                let message = [i as u8 + 7; 10];
                assert_eq!(round_trip(client, &message).await, message);
            }
        }))
        .expect("the test ends within 20 s");
    }

    /// A pattern of `len` bytes from `seed` (every connection's differ).
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Reads `client` to its end (a reset or a 10 s stall is an error).
    fn read_to_end(mut client: std::net::TcpStream) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        client.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        let mut all = Vec::new();
        client.read_to_end(&mut all)?;
        Ok(all)
    }

    #[test]
    fn a_lingering_sockets_slot_is_reused_while_its_send_goes_on_and_each_peer_gets_its_bytes() {
        let Some(lp) = io_uring_loop() else {
            return;
        };
        let server = Socket::listen_on(SocketAddress::localhost(0)).unwrap();
        let addr = std::net::SocketAddr::from(server.local_address());
        let connect = || {
            let c = std::net::TcpStream::connect(addr).unwrap();
            socket2::SockRef::from(&c)
                .set_recv_buffer_size(4096)
                .unwrap();
            c
        };
        let mut peers = Vec::new();
        let mut expected = Vec::new();
        lp.block_on(crate::timeout(std::time::Duration::from_secs(30), async {
            let uring = files();
            // A: in the table (its second send), dropped with its last chunk still going to a
            // peer that reads slowly.
            let peer = std::net::TcpStream::connect(addr).unwrap();
            let a = server.accept().await.unwrap();
            socket2::SockRef::from(&a)
                .set_send_buffer_size(16 * 1024)
                .unwrap();
            let big = pattern(1024 * 1024, 1);
            let slow = std::thread::spawn(move || {
                use std::io::Read;
                let mut peer = peer;
                peer.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                let mut all = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    match peer.read(&mut buf) {
                        Ok(0) => return Ok(all),
                        Ok(n) => all.extend_from_slice(&buf[..n]),
                        Err(e) => return Err(e),
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            });
            a.write(b"first").await.unwrap();
            a.write(&big).await.unwrap();
            assert_eq!(uring.files.in_use(), 1, "A took a slot");
            drop(a);
            let a_expected = [&b"first"[..], &big].concat();
            crate::sleep(std::time::Duration::from_millis(20)).await;
            assert_eq!(uring.files.in_use(), 0, "A's slot came back");
            // Four more take every slot, A's among them, while A's send goes on.
            let mut conns = Vec::new();
            for i in 0..SLOTS as u8 {
                let peer = connect();
                let c = server.accept().await.unwrap();
                let one = pattern(100, 10 + i);
                let two = pattern(3000, 20 + i);
                c.write(&one).await.unwrap();
                c.write(&two).await.unwrap();
                peers.push(peer);
                expected.push([one, two].concat());
                conns.push(c);
            }
            assert_eq!(uring.files.in_use(), SLOTS as usize, "the table is full");
            // Their sockets close after their bytes (the loop keeps turning for A's).
            drop(conns);
            crate::sleep(std::time::Duration::from_millis(20)).await;
            let readers: Vec<_> = std::mem::take(&mut peers)
                .into_iter()
                .map(|p| std::thread::spawn(move || read_to_end(p)))
                .collect();
            while !slow.is_finished() || !readers.iter().all(|r| r.is_finished()) {
                crate::sleep(std::time::Duration::from_millis(10)).await;
            }
            let got = slow
                .join()
                .unwrap()
                .expect("A's peer: end of stream, not a reset");
            assert_eq!(got.len(), a_expected.len(), "A's peer: length");
            assert!(got == a_expected, "A's peer: bytes of another connection");
            for (i, (r, want)) in readers.into_iter().zip(&expected).enumerate() {
                let got = r
                    .join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("peer {i}: {e}"));
                assert_eq!(got.len(), want.len(), "peer {i}: length");
                assert!(got == *want, "peer {i}: bytes of another connection");
            }
        }))
        .expect("the test ends within 30 s");
    }

    #[test]
    fn churn_through_a_small_table_keeps_every_connections_bytes_and_gives_every_slot_back() {
        let Some(lp) = io_uring_loop() else {
            return;
        };
        lp.block_on(crate::timeout(std::time::Duration::from_secs(60), async {
            let addr = spawn_echo_server();
            let mut tasks = Vec::new();
            for task in 0..16u8 {
                tasks.push(crate::spawn(async move {
                    for round in 0..8u8 {
                        let client = Socket::connect(addr).await.unwrap();
                        let exchanges = 1 + (task + round) % 4;
                        for i in 0..exchanges {
                            let len = [70_000, 100, 3000, 1][((task + i) % 4) as usize];
                            let message = pattern(len, task.wrapping_mul(37) ^ round ^ (i << 5));
                            let echoed = round_trip(&client, &message).await;
                            assert!(
                                echoed == message,
                                "task {task} round {round} exchange {i}: wrong bytes"
                            );
                        }
                        if round % 2 == 0 {
                            crate::yield_now().await;
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.expect("a client task failed");
            }
            // The echo tasks see their ends of stream and drop their sockets.
            crate::sleep(std::time::Duration::from_millis(100)).await;
            assert_eq!(files().files.in_use(), 0, "every slot came back");
        }))
        .expect("the test ends within 60 s");
    }
}
