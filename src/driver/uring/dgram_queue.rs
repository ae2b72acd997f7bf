//! A datagram socket's queue of received datagrams: what the multishot `recvmsg` brought and
//! the task has not taken yet, bounded so that a task that does not read leaves the datagrams
//! in the kernel's receive queue (the only place where datagrams drop).

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::driver::datagram::Received;

/// Above this many queued bytes (or `QUEUE_DATAGRAMS` datagrams) the socket's multishot
/// receive is cancelled (paused) until the task has taken half of them. One datagram of any
/// size is always let in, so the largest datagram fits.
pub(super) const QUEUE_BYTES: usize = 64 * 1024;
pub(super) const QUEUE_DATAGRAMS: usize = 64;
/// Each datagram also counts this much towards `QUEUE_BYTES` (its bookkeeping), so a flood
/// of empty datagrams is bounded by bytes as well as by count.
const PER_DATAGRAM: usize = 64;
/// Buffers of taken datagrams kept for the next ones (no allocation per datagram while a
/// batch of up to a full queue comes and goes), only the small ones (a typical datagram fits
/// in 2 KiB), and at most `SPARE_BYTES` of them.
const SPARE_MAX: usize = 2048;
const SPARE_BYTES: usize = 32 * 1024;

/// One received datagram.
struct Queued {
    /// The bytes the kernel delivered.
    bytes: Vec<u8>,
    /// The datagram's full length (more than `bytes.len()` if the kernel cut it).
    size: usize,
    from: Option<SocketAddr>,
}

/// Received datagrams in arrival order, with the bytes they hold.
#[derive(Default)]
pub(super) struct DgramQueue {
    items: VecDeque<Queued>,
    /// Bytes held (payloads plus `PER_DATAGRAM` each).
    held: usize,
    spares: Vec<Vec<u8>>,
    /// The capacity of the spares, in bytes.
    spare_bytes: usize,
}

impl DgramQueue {
    /// Queues a datagram of `size` bytes of which the kernel delivered `payload`.
    pub(super) fn push(&mut self, payload: &[u8], size: usize, from: Option<SocketAddr>) {
        let mut bytes = match self.spares.pop() {
            Some(spare) => {
                self.spare_bytes -= spare.capacity();
                spare
            }
            None => Vec::new(),
        };
        bytes.extend_from_slice(payload);
        self.held += payload.len() + PER_DATAGRAM;
        self.items.push_back(Queued {
            bytes,
            size: size.max(payload.len()),
            from,
        });
    }

    /// Takes the oldest datagram into `buf`: as much as fits, with its full length (larger
    /// than `len` if `buf` or the kernel's buffer was too small for it).
    #[inline]
    pub(super) fn pop_into(&mut self, buf: &mut [u8]) -> Option<Received> {
        let mut q = self.items.pop_front()?;
        let len = q.bytes.len().min(buf.len());
        buf[..len].copy_from_slice(&q.bytes[..len]);
        self.held -= q.bytes.len() + PER_DATAGRAM;
        let capacity = q.bytes.capacity();
        if capacity <= SPARE_MAX && self.spare_bytes + capacity <= SPARE_BYTES {
            q.bytes.clear();
            self.spare_bytes += capacity;
            self.spares.push(q.bytes);
        }
        Some(Received {
            len,
            size: q.size,
            from: q.from,
        })
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// Bytes held (payloads and bookkeeping).
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.held
    }

    /// Whether the receive must pause (the task is behind).
    #[inline]
    pub(super) fn is_full(&self) -> bool {
        self.held >= QUEUE_BYTES || self.items.len() >= QUEUE_DATAGRAMS
    }

    /// Whether a paused receive may resume (the task took at least half).
    #[inline]
    pub(super) fn is_low(&self) -> bool {
        self.held <= QUEUE_BYTES / 2 && self.items.len() <= QUEUE_DATAGRAMS / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    #[test]
    fn datagrams_come_out_in_order_whole_with_their_sender() {
        let mut q = DgramQueue::default();
        q.push(b"one", 3, addr(1));
        q.push(b"", 0, addr(2));
        q.push(b"three", 5, addr(3));
        let mut buf = [0u8; 16];
        let a = q.pop_into(&mut buf).unwrap();
        assert_eq!((&buf[..a.len], a.size, a.from), (&b"one"[..], 3, addr(1)));
        let b = q.pop_into(&mut buf).unwrap();
        assert_eq!(
            (b.len, b.size, b.from),
            (0, 0, addr(2)),
            "an empty datagram"
        );
        let c = q.pop_into(&mut buf).unwrap();
        assert_eq!((&buf[..c.len], c.from), (&b"three"[..], addr(3)));
        assert!(q.pop_into(&mut buf).is_none() && q.is_empty());
        assert_eq!(q.held(), 0, "nothing held once everything is taken");
    }

    #[test]
    fn a_buffer_too_small_gets_the_first_bytes_and_the_full_length() {
        let mut q = DgramQueue::default();
        q.push(b"hello world", 11, None);
        let mut buf = [0u8; 5];
        let got = q.pop_into(&mut buf).unwrap();
        assert_eq!((&buf[..], got.len, got.size), (&b"hello"[..], 5, 11));
        // The kernel cut it (its buffer was smaller than the datagram): the full length stays.
        q.push(b"abc", 9000, None);
        let got = q.pop_into(&mut [0u8; 64]).unwrap();
        assert_eq!((got.len, got.size), (3, 9000));
        assert!(
            q.is_empty(),
            "a truncated datagram is consumed, as recvfrom does"
        );
    }

    #[test]
    fn the_queue_is_full_by_count_or_by_bytes_and_low_at_half() {
        let mut q = DgramQueue::default();
        for _ in 0..QUEUE_DATAGRAMS - 1 {
            q.push(b"x", 1, None);
        }
        assert!(!q.is_full());
        q.push(b"x", 1, None);
        assert!(q.is_full(), "full by count");
        let mut buf = [0u8; 1];
        while !q.is_low() {
            q.pop_into(&mut buf).unwrap();
        }
        assert_eq!(q.len(), QUEUE_DATAGRAMS / 2, "low once half is taken");

        let mut q = DgramQueue::default();
        let big = vec![7u8; 65_507];
        q.push(&big[..60_000], 60_000, None);
        assert!(!q.is_full());
        q.push(&big, big.len(), None);
        assert!(
            q.is_full(),
            "full by bytes (the largest datagram was let in all the same)"
        );
        assert_eq!(q.held(), 60_000 + 65_507 + 2 * PER_DATAGRAM);
        q.pop_into(&mut [0u8; 1]).unwrap();
        assert!(!q.is_low());
        q.pop_into(&mut [0u8; 1]).unwrap();
        assert!(q.is_low());
    }

    #[test]
    fn small_buffers_are_reused_and_the_spares_stay_bounded() {
        let mut q = DgramQueue::default();
        let big = vec![1u8; 10_000];
        let medium = vec![2u8; 1000];
        for _ in 0..QUEUE_DATAGRAMS {
            q.push(b"small", 5, None);
            q.push(&medium, medium.len(), None);
            q.push(&big, big.len(), None);
        }
        while q.pop_into(&mut [0u8; 8]).is_some() {}
        let held: usize = q.spares.iter().map(Vec::capacity).sum();
        assert_eq!(held, q.spare_bytes);
        assert!(held <= SPARE_BYTES, "{held}");
        assert!(held > SPARE_BYTES - 1000, "kept up to the bound: {held}");
        // Every small datagram of a full queue comes back to a spare.
        assert!(q.spares.len() > QUEUE_DATAGRAMS, "{}", q.spares.len());
        assert!(
            q.spares
                .iter()
                .all(|s| s.is_empty() && s.capacity() <= SPARE_MAX)
        );
        let spares = q.spares.len();
        q.push(b"again", 5, None);
        assert_eq!(q.spares.len(), spares - 1, "a spare is reused");
    }
}
