//! A hierarchical timing wheel: O(1) arm and cancel, no allocation once warm.
//!
//! Six levels of 64 slots; a slot at level `L` spans `64^L` ticks of one millisecond, so the
//! wheel covers about two years. Entries live in a slab and form intrusive doubly linked lists
//! per slot, so cancelling is an unlink. A 64-bit occupancy mask per level finds the next
//! non-empty slot with one `trailing_zeros`. The idea is the one tokio's and Linux's timer wheels
//! use; this version is single-threaded and keeps everything in one `Slab`.
//!
//! The wheel only ever fires an entry at or after its tick. Ticks are whole milliseconds since the
//! wheel's origin and deadlines are rounded *up* to a tick, so a timer never fires early; callers
//! that need sub-millisecond precision re-check the real clock.

use slab::Slab;
use std::task::Waker;
use std::time::{Duration, Instant};

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: u64 = 1 << SLOT_BITS;
/// The span of the top level; deadlines are clamped to the end of the current rotation of it,
/// and the owner re-arms if woken early.
const MAX_SPAN: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;
const NIL: u32 = u32::MAX;

/// The key of an armed timer, owned by exactly one future, which removes it when done.
pub(crate) type TimerKey = usize;

struct Entry {
    tick: u64,
    waker: Option<Waker>,
    /// Set when the wheel reached `tick`; the entry stays in the slab until its owner removes it.
    fired: bool,
    prev: u32,
    next: u32,
    /// `level * SLOTS + slot` while linked.
    bucket: u16,
}

pub(crate) struct Wheel {
    origin: Instant,
    /// Every tick before this one has been processed.
    elapsed: u64,
    entries: Slab<Entry>,
    heads: [[u32; SLOTS as usize]; LEVELS],
    occupied: [u64; LEVELS],
}

impl Wheel {
    pub(crate) fn new(origin: Instant) -> Wheel {
        Wheel {
            origin,
            elapsed: 0,
            entries: Slab::new(),
            heads: [[NIL; SLOTS as usize]; LEVELS],
            occupied: [0; LEVELS],
        }
    }

    /// The tick at or after `deadline` (rounded up, so firing at it is never early).
    fn tick_for(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.origin);
        // In u64, without `as_millis`'s u128 (saturating: an `Instant` can be centuries away).
        let part = since.subsec_nanos().div_ceil(1_000_000);
        since
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(part.into())
    }

    /// The last tick that has fully passed at `now`.
    fn tick_at(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin);
        let part = since.subsec_millis();
        since
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(part.into())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Arms a timer for `deadline` that wakes `waker`. A deadline already passed fires at the
    /// next `process`.
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        // Past the wheel's span (about two years), the timer fires at the end of the current
        // top-level rotation and its owner, which checks the real clock, arms it again.
        let tick = self.tick_for(deadline).min(self.elapsed | MAX_SPAN);
        let key = self.entries.insert(Entry {
            tick,
            waker: Some(waker),
            fired: false,
            prev: NIL,
            next: NIL,
            bucket: 0,
        });
        self.link(key);
        key
    }

    /// Whether the timer has fired.
    pub(crate) fn is_fired(&self, key: TimerKey) -> bool {
        self.entries[key].fired
    }

    /// Replaces the waker a pending timer will wake, without re-linking it.
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) {
        let entry = &mut self.entries[key];
        match &entry.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => entry.waker = Some(waker.clone()),
        }
    }

    /// Takes every stored waker (the loop is being torn down).
    pub(crate) fn take_wakers(&mut self) -> Vec<Waker> {
        self.entries
            .iter_mut()
            .filter_map(|(_, e)| e.waker.take())
            .collect()
    }

    /// Cancels (or releases a fired) timer. O(1).
    pub(crate) fn remove(&mut self, key: TimerKey) {
        if !self.entries[key].fired {
            self.unlink(key);
        }
        self.entries.remove(key);
    }

    /// The instant of the earliest slot that needs processing, if any timer is armed.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.entries.is_empty() {
            // The common case of a loop without timers: no need to scan the levels.
            return None;
        }
        self.next_expiration()
            .map(|(_, _, tick)| self.origin + Duration::from_millis(tick))
    }

    /// Fires every timer whose tick has passed at `now`: their wakers are moved into `fired`, for
    /// the caller to wake once it no longer borrows the wheel. Returns how many fired.
    pub(crate) fn process(&mut self, now: Instant, wake: &mut Vec<Waker>) -> usize {
        let now_tick = self.tick_at(now);
        let mut fired = 0;
        while let Some((level, slot, start)) = self.next_expiration() {
            if start > now_tick {
                break;
            }
            self.elapsed = self.elapsed.max(start);
            self.occupied[level] &= !(1 << slot);
            let mut key = std::mem::replace(&mut self.heads[level][slot], NIL);
            while key != NIL {
                let k = key as usize;
                key = self.entries[k].next;
                let entry = &mut self.entries[k];
                entry.prev = NIL;
                entry.next = NIL;
                if entry.tick <= now_tick {
                    entry.fired = true;
                    wake.extend(entry.waker.take());
                    fired += 1;
                } else {
                    // Cascade to a finer level, relative to the new `elapsed`.
                    self.link(k);
                }
            }
        }
        self.elapsed = self.elapsed.max(now_tick);
        fired
    }

    fn bucket_of(&self, tick: u64) -> (usize, usize) {
        // Never before `elapsed` (a deadline already passed goes to the current slot) and never
        // past the current top-level rotation (see `insert`).
        let tick = tick.clamp(self.elapsed, self.elapsed | MAX_SPAN);
        let masked = (self.elapsed ^ tick) | (SLOTS - 1);
        let significant = 63 - masked.leading_zeros();
        let level = ((significant / SLOT_BITS) as usize).min(LEVELS - 1);
        let slot = ((tick >> (SLOT_BITS * level as u32)) & (SLOTS - 1)) as usize;
        (level, slot)
    }

    fn link(&mut self, key: usize) {
        let (level, slot) = self.bucket_of(self.entries[key].tick);
        let head = self.heads[level][slot];
        {
            let entry = &mut self.entries[key];
            entry.bucket = (level * SLOTS as usize + slot) as u16;
            entry.prev = NIL;
            entry.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = key as u32;
        }
        self.heads[level][slot] = key as u32;
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, key: usize) {
        let (prev, next, bucket) = {
            let e = &self.entries[key];
            (e.prev, e.next, e.bucket as usize)
        };
        let (level, slot) = (bucket / SLOTS as usize, bucket % SLOTS as usize);
        if prev == NIL {
            self.heads[level][slot] = next;
            if next == NIL {
                self.occupied[level] &= !(1 << slot);
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// The earliest (level, slot, first tick of the slot) over all levels.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        let mut best: Option<(usize, usize, u64)> = None;
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let slot_range = 1u64 << shift;
            let level_range = slot_range << SLOT_BITS;
            let pos = (self.elapsed >> shift) & (SLOTS - 1);
            let distance = occupied.rotate_right(pos as u32).trailing_zeros() as u64;
            let slot = (pos + distance) % SLOTS;
            let base = self.elapsed & !(level_range - 1);
            let mut start = base + slot * slot_range;
            if slot < pos {
                start += level_range;
            }
            if best.is_none_or(|(_, _, b)| start < b) {
                best = Some((level, slot as usize, start));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::{Count, counting_waker};
    use std::sync::Arc;

    /// Processes the wheel at `at` and wakes what fired, as the loop does.
    fn run(wheel: &mut Wheel, at: Instant) {
        let mut fired = Vec::new();
        wheel.process(at, &mut fired);
        fired.into_iter().for_each(Waker::wake);
    }

    fn waker() -> (Arc<Count>, Waker) {
        counting_waker()
    }

    #[test]
    fn fires_each_timer_exactly_at_its_tick_never_before() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        // A spread of deadlines across every level boundary.
        let ticks: Vec<u64> = vec![
            0, 1, 2, 63, 64, 65, 100, 4095, 4096, 4097, 70_000, 262_143, 262_144, 300_000,
            16_777_216, 20_000_000,
        ];
        let mut keys = Vec::new();
        for &t in &ticks {
            let (c, w) = waker();
            keys.push((t, wheel.insert(origin + Duration::from_millis(t), w), c));
        }
        // Step through time in uneven strides, checking no timer fires early and all fire.
        let mut now = 0u64;
        while now <= 20_000_100 {
            run(&mut wheel, origin + Duration::from_millis(now));
            for (t, key, c) in &keys {
                let fired = wheel.is_fired(*key);
                assert_eq!(fired, *t <= now, "timer {t} at {now}");
                assert_eq!(c.get(), usize::from(*t <= now));
            }
            if let Some(next) = wheel.next_deadline() {
                let next = next.duration_since(origin).as_millis() as u64;
                // The wheel never asks to be woken after the earliest pending timer.
                let earliest = keys
                    .iter()
                    .filter(|(t, k, _)| !wheel.is_fired(*k) && *t > now)
                    .map(|(t, _, _)| *t)
                    .min();
                if let Some(e) = earliest {
                    assert!(next <= e, "next {next} after earliest {e}");
                }
            }
            now += match now {
                0..=5000 => 7,
                _ => 977,
            };
        }
    }

    #[test]
    fn cancelled_timers_never_fire_and_free_their_slot() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        let (c, w) = waker();
        let mut keys = Vec::new();
        for i in 0..1000u64 {
            keys.push(wheel.insert(origin + Duration::from_millis(i * 37), w.clone()));
        }
        for k in keys {
            wheel.remove(k);
        }
        assert_eq!(wheel.len(), 0);
        assert!(wheel.next_deadline().is_none());
        run(&mut wheel, origin + Duration::from_secs(3600));
        assert_eq!(c.get(), 0);
    }

    #[test]
    fn deadlines_beyond_the_span_fire_at_the_clamp_and_never_loop() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        run(&mut wheel, origin + Duration::from_millis(5));
        let (_c, w) = waker();
        let far = origin + Duration::from_secs(1000 * 86_400);
        let key = wheel.insert(far, w);
        // Processing terminates (the old clamp re-linked the entry into its own slot forever).
        run(&mut wheel, origin + Duration::from_millis(10));
        assert!(!wheel.is_fired(key));
        let next = wheel.next_deadline().unwrap();
        assert!(
            next > origin + Duration::from_secs(700 * 86_400),
            "{:?}",
            next.duration_since(origin)
        );
        assert!(next <= far);
        // Following the wheel's own schedule, it cascades down the levels and fires at the clamp
        // (the owner then re-arms), within a few steps.
        let mut steps = 0;
        while !wheel.is_fired(key) {
            let next = wheel.next_deadline().unwrap();
            assert!(next <= far);
            run(&mut wheel, next);
            steps += 1;
            assert!(steps <= 8, "the wheel keeps stepping without firing");
        }
    }

    #[test]
    fn sub_millisecond_deadline_rounds_up() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        let (_c, w) = waker();
        let key = wheel.insert(origin + Duration::from_micros(1500), w);
        run(&mut wheel, origin + Duration::from_millis(1));
        assert!(!wheel.is_fired(key));
        run(&mut wheel, origin + Duration::from_millis(2));
        assert!(wheel.is_fired(key));
    }
}
