//! Log-linear latency histogram (HDR-style): values in nanoseconds, each
//! power-of-two range split into 64 linear sub-buckets (<1.6% relative error).

const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
const RANGES: usize = 64 - SUB_BITS as usize + 1;

#[derive(Clone)]
pub struct Hist {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Self::new()
    }
}

impl Hist {
    pub fn new() -> Self {
        Hist { counts: vec![0; RANGES * SUB], total: 0, max: 0 }
    }

    #[inline]
    fn index(v: u64) -> usize {
        if v < SUB as u64 {
            return v as usize;
        }
        let msb = 63 - v.leading_zeros(); // >= SUB_BITS
        let range = (msb - SUB_BITS + 1) as usize;
        let sub = (v >> (msb - SUB_BITS)) as usize & (SUB - 1);
        range * SUB + sub
    }

    /// Lower bound of the bucket at `idx` plus half its width (bucket midpoint).
    fn value_at(idx: usize) -> u64 {
        let range = idx / SUB;
        let sub = (idx % SUB) as u64;
        if range == 0 {
            return sub;
        }
        let shift = range as u32 - 1;
        let lo = (SUB as u64 + sub) << shift;
        lo + ((1u64 << shift) >> 1)
    }

    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[Self::index(v)] += 1;
        self.total += 1;
        if v > self.max {
            self.max = v;
        }
    }

    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += *b;
        }
        self.total += o.total;
        self.max = self.max.max(o.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// Quantile q in [0,1], in ns (0 if empty).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value_at(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn quantiles_are_close() {
        let mut h = Hist::new();
        for v in 1..=100_000u64 {
            h.record(v * 10);
        }
        for q in [0.5, 0.99, 0.999] {
            let exact = q * 100_000.0 * 10.0;
            let got = h.quantile(q) as f64;
            assert!((got - exact).abs() / exact < 0.02, "q={q} got={got} exact={exact}");
        }
    }
}
