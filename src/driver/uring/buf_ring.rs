//! The rings of provided receive buffers (the streams' group, and the datagrams' group).

use super::*;

/// The ring of provided receive buffers the kernel picks from for multishot receives.
///
/// Preferred layout (Linux 6.12+): a few large buffers consumed incrementally
/// (`IOU_PBUF_RING_INC`): consecutive receives, of any connection, pack into one buffer, so small
/// messages touch a few cache lines instead of a fresh page each, and a 16 KiB message needs one
/// completion. Older kernels get many page-sized buffers, one per completion.
pub(super) struct BufRing {
    pub(super) entries: *mut types::BufRingEntry,
    pub(super) entries_layout: Layout,
    pub(super) data: *mut u8,
    pub(super) data_layout: Layout,
    pub(super) count: u16,
    pub(super) size: usize,
    pub(super) incremental: bool,
    /// Incremental mode: how much of each buffer the kernel has used so far.
    pub(super) used: Box<[Cell<u32>]>,
    /// Our tail (buffers handed to the kernel); published with a release store.
    pub(super) tail: Cell<u16>,
    /// Set if the kernel may still use the memory when the driver is dropped: then it is leaked.
    pub(super) leak: Cell<bool>,
}

/// `IOU_PBUF_RING_INC` from the kernel's uapi (not re-exported by the io-uring crate).
pub(super) const IOU_PBUF_RING_INC: u16 = 2;

/// Incremental layout: 32 buffers of 64 KiB (the ring also bounds how far a receive overshoots
/// the inbox limit before its cancellation lands: at most the whole ring, 2 MiB). Fallback:
/// 1024 buffers of 4 KiB.
pub(super) const INC_COUNT: u16 = 32;
pub(super) const INC_SIZE: usize = 64 * 1024;
pub(super) const PAGE_COUNT: u16 = 1024;
pub(super) const PAGE_SIZE: usize = 4096;

impl BufRing {
    pub(super) fn new(count: u16, size: usize, incremental: bool) -> io::Result<BufRing> {
        let invalid = |_| io::Error::from(io::ErrorKind::InvalidInput);
        if !count.is_power_of_two() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let entries_layout =
            Layout::from_size_align(count as usize * size_of::<types::BufRingEntry>(), 4096)
                .map_err(invalid)?;
        let data_layout = Layout::from_size_align(count as usize * size, 64).map_err(invalid)?;
        // SAFETY: both layouts have a non-zero size. The memory is freed in Drop with the same
        // layouts (or leaked if the kernel may still use it).
        let (entries, data) = unsafe {
            (
                alloc::alloc_zeroed(entries_layout).cast::<types::BufRingEntry>(),
                alloc::alloc(data_layout),
            )
        };
        if entries.is_null() || data.is_null() {
            // SAFETY: a non-null pointer came from `alloc` with this layout.
            unsafe {
                if !entries.is_null() {
                    alloc::dealloc(entries.cast(), entries_layout);
                }
                if !data.is_null() {
                    alloc::dealloc(data, data_layout);
                }
            }
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        let ring = BufRing {
            entries,
            entries_layout,
            data,
            data_layout,
            count,
            size,
            incremental,
            used: (0..count).map(|_| Cell::new(0)).collect(),
            tail: Cell::new(0),
            leak: Cell::new(false),
        };
        for bid in 0..count {
            ring.push(bid);
        }
        ring.publish();
        Ok(ring)
    }

    /// Registers the ring with `ring` as buffer group `BUF_GROUP` (the streams' group).
    pub(super) fn register(&self, ring: &IoUring) -> io::Result<()> {
        self.register_as(ring, BUF_GROUP)
    }

    /// Registers the ring with `ring` as buffer group `group` (datagrams have their own).
    pub(super) fn register_as(&self, ring: &IoUring, group: u16) -> io::Result<()> {
        let flags = if self.incremental {
            IOU_PBUF_RING_INC
        } else {
            0
        };
        // SAFETY: the ring memory is page-aligned, holds `count` initialised entries and stays
        // valid until the ring is closed: `Uring` drops `ring` before `bufs` (field order) and
        // leaks `bufs` if operations may still use it.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                self.entries as u64,
                self.count,
                group,
                flags,
            )
        }
    }

    /// Hands buffer `bid` back to the kernel, whole (visible after `publish`).
    pub(super) fn push(&self, bid: u16) {
        let tail = self.tail.get();
        let index = (tail & (self.count - 1)) as usize;
        // SAFETY: `index` < count, inside the allocation. The slot lies past the kernel's view
        // (between head and tail it only reads published entries), and the kernel only touches
        // the ring inside our own system calls (single issuer, deferred task work), so nothing
        // else accesses it now. The setters leave entry 0's `resv` (the tail) alone.
        unsafe {
            let entry = &mut *self.entries.add(index);
            entry.set_addr(self.data.add(bid as usize * self.size) as u64);
            entry.set_len(self.size as u32);
            entry.set_bid(bid);
        }
        self.tail.set(tail.wrapping_add(1));
    }

    /// Publishes the tail: the kernel may use every buffer pushed so far.
    pub(super) fn publish(&self) {
        // SAFETY: `entries` is the page-aligned base of a ring of initialised entries, as `tail`
        // requires; the tail field is a u16 the kernel reads atomically.
        unsafe {
            let tail = types::BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail.get(), Ordering::Release);
        }
    }

    /// Passes the `len` bytes a completion delivered in buffer `bid` to `f`, then gives the
    /// buffer back if the kernel is done with it (`more`: incremental mode keeps filling it).
    pub(super) fn take<R>(
        &self,
        bid: u16,
        len: usize,
        more: bool,
        f: impl FnOnce(&[u8]) -> R,
    ) -> R {
        // `count` is a power of two (the ring's size must be), so this is `bid % count`.
        let bid = bid & (self.count - 1);
        let start = if self.incremental {
            let used = &self.used[bid as usize];
            let start = used.get() as usize;
            used.set(if more { (start + len) as u32 } else { 0 });
            start
        } else {
            0
        };
        let start = start.min(self.size);
        let len = len.min(self.size - start);
        // SAFETY: the range lies inside buffer `bid` of the data allocation. The kernel wrote it
        // before posting the completion we are handling, and does not write it again until the
        // buffer is pushed back (below, after `f` is done with the slice); in incremental mode
        // it only writes past `start + len`.
        let r = f(unsafe {
            std::slice::from_raw_parts(self.data.add(bid as usize * self.size + start), len)
        });
        if !more || !self.incremental {
            self.push(bid);
        }
        r
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.leak.get() {
            return;
        }
        // SAFETY: allocated in `new` with these layouts; the ring (and its registration) is gone
        // and no receive is in flight, so the kernel no longer refers to the memory.
        unsafe {
            alloc::dealloc(self.entries.cast(), self.entries_layout);
            alloc::dealloc(self.data, self.data_layout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_buffers_are_consumed_in_order_and_given_back_once_the_kernel_is_done() {
        let ring = BufRing::new(4, 4096, true).unwrap();
        assert_eq!(
            ring.tail.get(),
            4,
            "every buffer is handed to the kernel at first"
        );
        // Three completions into buffer 1: the kernel keeps filling it (`more`) twice.
        let first = ring.take(1, 100, true, |b| b.as_ptr() as usize);
        let second = ring.take(1, 50, true, |b| b.as_ptr() as usize);
        assert_eq!(
            second - first,
            100,
            "the next receive starts where the last one ended"
        );
        assert_eq!(
            ring.tail.get(),
            4,
            "not given back while the kernel still fills it"
        );
        let third = ring.take(1, 10, false, |b| (b.as_ptr() as usize, b.len()));
        assert_eq!(third, (first + 150, 10));
        assert_eq!(
            ring.tail.get(),
            5,
            "given back once the kernel is done with it"
        );
        // Buffer 1 starts from its beginning again.
        assert_eq!(ring.take(1, 8, true, |b| b.as_ptr() as usize), first);
    }

    #[test]
    fn page_buffers_are_given_back_after_every_completion_and_ids_are_masked() {
        let ring = BufRing::new(4, 4096, false).unwrap();
        let a = ring.take(2, 4096, false, |b| (b.as_ptr() as usize, b.len()));
        // An id past the ring's size wraps (the ring's size is a power of two).
        let b = ring.take(6, 10_000, false, |b| (b.as_ptr() as usize, b.len()));
        assert_eq!(a.0, b.0);
        assert_eq!(b.1, 4096, "a length past the buffer is cut to the buffer");
        assert_eq!(ring.tail.get(), 6);
    }

    #[test]
    fn a_ring_size_that_is_not_a_power_of_two_is_refused() {
        assert!(BufRing::new(3, 4096, true).is_err());
    }
}
