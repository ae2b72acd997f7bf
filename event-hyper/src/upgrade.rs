//! HTTP upgrades without `Send` sockets: the connection's I/O stays in its loop thread's table,
//! hyper gets a `Send` [`Ticket`] that finds it there.
//!
//! hyper's `Upgraded` (and so `serve_connection_with_upgrades`) boxes the connection's I/O as
//! `Send`, and an event `Socket` is not: it belongs to its loop's thread. Rather than claim
//! `Send` for it, the connection task [`Register`]s the I/O in a thread-local table and hands
//! hyper a ticket: a table id, a slot and a generation. Each read or write looks the slot up on
//! the calling thread; on another thread the table id differs and the operation fails
//! (`io::ErrorKind::Unsupported`), it never touches the socket. The connection task owns the
//! slot: when hyper and the upgraded connection have dropped the ticket (which may happen on
//! any thread: it only flips a flag behind a mutex and wakes the task), or when the task itself
//! is cut (a [`Shutdown`](event::Shutdown) deadline), the slot is emptied and the socket closed
//! on its own thread; a ticket that outlives its slot fails with `ConnectionAborted`.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use hyper::rt::ReadBufCursor;
use slab::Slab;

/// What a slot holds: any of the server's connection I/O types.
pub(crate) trait LocalIo: hyper::rt::Read + hyper::rt::Write + Unpin {}

impl<T: hyper::rt::Read + hyper::rt::Write + Unpin> LocalIo for T {}

/// Tells the tables of different threads apart.
static NEXT_TABLE: AtomicU64 = AtomicU64::new(1);

struct Slot {
    generation: u64,
    io: Box<dyn LocalIo>,
    /// The tasks last left waiting on the I/O, woken when the slot is emptied under them.
    reader: Option<Waker>,
    writer: Option<Waker>,
}

struct Table {
    id: u64,
    next_generation: Cell<u64>,
    slots: RefCell<Slab<Slot>>,
}

thread_local! {
    static TABLE: Table = Table {
        id: NEXT_TABLE.fetch_add(1, Ordering::Relaxed),
        next_generation: Cell::new(0),
        slots: RefCell::new(Slab::new()),
    };
}

/// Whether the ticket is still held (by hyper or by an `Upgraded`), and who waits for it.
#[derive(Default)]
struct Held {
    dropped: bool,
    waiter: Option<Waker>,
}

/// The connection task's hold on its slot: emptying it on drop closes the connection.
pub(crate) struct Register {
    key: usize,
    generation: u64,
    vectored: bool,
    held: Arc<Mutex<Held>>,
}

impl Register {
    /// Puts `io` in this thread's table.
    pub(crate) fn new(io: Box<dyn LocalIo>) -> Register {
        TABLE.with(|table| {
            let generation = table.next_generation.get();
            table.next_generation.set(generation + 1);
            let vectored = io.is_write_vectored();
            let key = table.slots.borrow_mut().insert(Slot {
                generation,
                io,
                reader: None,
                writer: None,
            });
            Register {
                key,
                generation,
                vectored,
                held: Arc::default(),
            }
        })
    }

    /// The `Send` handle hyper is given (one per registration).
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket {
            table: TABLE.with(|table| table.id),
            key: self.key,
            generation: self.generation,
            vectored: self.vectored,
            held: self.held.clone(),
        }
    }

    /// Waits until the ticket is dropped: at once where hyper dropped its connection, when the
    /// upgraded connection is dropped otherwise.
    pub(crate) async fn released(&self) {
        poll_fn(|cx| {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            if held.dropped {
                return Poll::Ready(());
            }
            if !held
                .waiter
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                held.waiter = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for Register {
    fn drop(&mut self) {
        // (The table is gone only while the thread ends; its slots are dropped with it.)
        let slot = TABLE
            .try_with(|table| table.slots.borrow_mut().try_remove(self.key))
            .ok()
            .flatten();
        // Out of the table's borrow: closing the socket and the woken tasks never see it held.
        if let Some(slot) = slot {
            let Slot {
                io, reader, writer, ..
            } = slot;
            drop(io);
            reader.into_iter().chain(writer).for_each(Waker::wake);
        }
    }
}

/// A connection's I/O as hyper holds it: `Send`, usable on its loop's thread only.
pub(crate) struct Ticket {
    table: u64,
    key: usize,
    generation: u64,
    vectored: bool,
    held: Arc<Mutex<Held>>,
}

impl Ticket {
    /// Runs `op` on the slot's I/O, on this thread; `Pending` leaves the task's waker in the
    /// slot for `Register::drop`.
    fn with_io<T>(
        &self,
        cx: &mut Context<'_>,
        write: bool,
        op: impl FnOnce(Pin<&mut dyn LocalIo>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let found = TABLE.try_with(|table| {
            if table.id != self.table {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "an event-hyper connection used off its event loop's thread",
                )));
            }
            let mut slots = table.slots.borrow_mut();
            let Some(slot) = slots
                .get_mut(self.key)
                .filter(|slot| slot.generation == self.generation)
            else {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the connection was closed by its server (shutdown deadline)",
                )));
            };
            let result = op(Pin::new(&mut *slot.io), cx);
            if result.is_pending() {
                let waiter = if write {
                    &mut slot.writer
                } else {
                    &mut slot.reader
                };
                if !waiter.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waiter = Some(cx.waker().clone());
                }
            }
            result
        });
        found.unwrap_or_else(|_| Poll::Ready(Err(io::ErrorKind::NotConnected.into())))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let waiter = {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            held.dropped = true;
            held.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

impl hyper::rt::Read for Ticket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        self.with_io(cx, false, |io, cx| io.poll_read(cx, buf))
    }
}

impl hyper::rt::Write for Ticket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with_io(cx, true, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.with_io(cx, true, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with_io(cx, true, |io, cx| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with_io(cx, true, |io, cx| io.poll_shutdown(cx))
    }
}
