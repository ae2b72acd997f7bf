//! Median with a distribution-free (order-statistic) confidence interval.

/// Returns (median, lo, hi): [lo, hi] = [x_(k), x_(n-k+1)] (1-based order
/// statistics) with the largest k such that P(Binomial(n, 1/2) <= k-1) <= 2.5%,
/// i.e. a >=95% confidence interval for the median. With fewer than 6 samples
/// no such k exists and the full sample range is returned.
pub fn median_ci(xs: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    let med = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    let ln_fact = |k: usize| -> f64 { (1..=k).map(|i| (i as f64).ln()).sum() };
    let lnf_n = ln_fact(n);
    let mut cdf = 0.0;
    let mut k = 0usize;
    for m in 0..n {
        cdf += (lnf_n - ln_fact(m) - ln_fact(n - m) - n as f64 * std::f64::consts::LN_2).exp();
        if cdf > 0.025 {
            break;
        }
        k = m + 1;
    }
    if k == 0 {
        return Some((med, v[0], v[n - 1]));
    }
    Some((med, v[k - 1], v[n - k]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ci_indices() {
        // n = 20: classic table gives k = 6 -> [x_(6), x_(15)].
        let xs: Vec<f64> = (1..=20).map(|i| i as f64).collect();
        let (m, lo, hi) = super::median_ci(&xs).unwrap();
        assert_eq!((m, lo, hi), (10.5, 6.0, 15.0));
    }
}
