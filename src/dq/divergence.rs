//! Distribution drift between a reference window and a current window: PSI and KL divergence
//! over bucket counts, with epsilon smoothing for empty buckets, binning helpers (numeric columns
//! binned by reference quantiles, categorical columns by top values plus "other") and PSI bands.

use serde::Serialize;

use crate::quantile::quantile_sorted;

/// Default PSI at or above which drift is [`DriftBand::Moderate`].
pub const DEFAULT_MODERATE_PSI: f64 = 0.1;
/// Default PSI at or above which drift is [`DriftBand::Significant`].
pub const DEFAULT_SIGNIFICANT_PSI: f64 = 0.25;
/// Default smoothing for empty buckets (a proportion, so 1e-4 = 0.01%).
pub const DEFAULT_EPSILON: f64 = 1e-4;

/// Turns bucket counts (or proportions) into smoothed proportions.
///
/// 1. Normalise: `p_i = x_i / sum(x)`.
/// 2. Smooth: every `p_i == 0` is replaced by `epsilon` (only when `epsilon > 0`).
/// 3. Renormalise so the proportions sum to 1 again: `p_i / sum(p)`.
///
/// Returns `None` when the input is empty, holds a negative or non-finite value, or sums to 0.
fn smoothed(counts: &[f64], epsilon: f64) -> Option<Vec<f64>> {
    if counts.is_empty() || counts.iter().any(|c| !c.is_finite() || *c < 0.0) {
        return None;
    }
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let mut p: Vec<f64> = counts.iter().map(|c| c / total).collect();
    if epsilon > 0.0 && p.contains(&0.0) {
        for v in &mut p {
            if *v == 0.0 {
                *v = epsilon;
            }
        }
        let renorm: f64 = p.iter().sum();
        for v in &mut p {
            *v /= renorm;
        }
    }
    Some(p)
}

fn smoothed_pair(a: &[f64], b: &[f64], epsilon: f64) -> Option<(Vec<f64>, Vec<f64>)> {
    if a.len() != b.len() {
        return None;
    }
    Some((smoothed(a, epsilon)?, smoothed(b, epsilon)?))
}

/// Population Stability Index: `sum_i (c_i - r_i) * ln(c_i / r_i)` over smoothed proportions.
///
/// `reference` and `current` are bucket counts (or proportions) over the same buckets; each is
/// normalised to proportions, then every empty bucket's proportion is replaced by `epsilon` and
/// the proportions renormalised to sum to 1 (see the module's `smoothed`). PSI is symmetric and
/// equals `kl(r, c) + kl(c, r)`. A bucket empty in both (only possible with `epsilon <= 0`)
/// contributes 0; with `epsilon <= 0` a bucket empty on one side only gives `+inf`.
///
/// Returns `NaN` when the slices differ in length, are empty, hold a negative or non-finite
/// value, or either sums to 0: there is no distribution to compare.
pub fn psi(reference: &[f64], current: &[f64], epsilon: f64) -> f64 {
    let Some((r, c)) = smoothed_pair(reference, current, epsilon) else {
        return f64::NAN;
    };
    r.iter()
        .zip(&c)
        .map(|(&r, &c)| if r == c { 0.0 } else { (c - r) * (c / r).ln() })
        .sum()
}

/// Kullback-Leibler divergence `KL(p || q) = sum_i p_i * ln(p_i / q_i)` in nats, over the same
/// smoothed proportions as [`psi`]: normalise each side, replace empty buckets by `epsilon`,
/// renormalise. A bucket with `p_i == 0` contributes 0 (only possible with `epsilon <= 0`); with
/// `epsilon <= 0` a bucket with `p_i > 0` and `q_i == 0` gives `+inf`.
///
/// Returns `NaN` on the same bad input as [`psi`].
pub fn kl(p: &[f64], q: &[f64], epsilon: f64) -> f64 {
    let Some((p, q)) = smoothed_pair(p, q, epsilon) else {
        return f64::NAN;
    };
    p.iter()
        .zip(&q)
        .map(|(&p, &q)| if p == 0.0 { 0.0 } else { p * (p / q).ln() })
        .sum()
}

/// Interior bucket edges for `bins` equal-frequency buckets of `reference`: the quantiles
/// `k / bins` for `k = 1..bins` (linear interpolation, like numpy's default), with repeated
/// edges removed so a heavily repeated value (e.g. many zeros) yields fewer, non-empty buckets.
///
/// NaN values are ignored. Returns no edges (one bucket) when `bins < 2` or `reference` has no
/// number. Use with [`bucket_counts`], which makes `edges.len() + 1` buckets.
pub fn quantile_edges(reference: &[f64], bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = reference.iter().copied().filter(|v| !v.is_nan()).collect();
    if bins < 2 || sorted.is_empty() {
        return Vec::new();
    }
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..bins)
        .filter_map(|k| quantile_sorted(&sorted, k as f64 / bins as f64))
        .collect();
    edges.dedup();
    edges
}

/// Counts `values` into `edges.len() + 1` right-closed buckets:
/// `(-inf, e0], (e0, e1], ..., (e_last, +inf)`. `edges` must be ascending (as returned by
/// [`quantile_edges`]). NaN values are not counted (null and NaN rates are separate checks).
pub fn bucket_counts(values: &[f64], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0.0; edges.len() + 1];
    for &v in values {
        if v.is_nan() {
            continue;
        }
        let bucket = edges.partition_point(|&e| e < v);
        if let Some(c) = counts.get_mut(bucket) {
            *c += 1.0;
        }
    }
    counts
}

/// Aligns two categorical histograms, given as `(value, count)` pairs, on shared buckets: the
/// `top_k` values with the highest reference counts (ties broken by value, for determinism), in
/// that order, then one "other" bucket (always last, always present) holding every remaining
/// value of either side, including values that appear only in `current`. Repeated values are
/// summed. Returns `(reference_counts, current_counts)`, each of length `min(top_k, distinct
/// reference values) + 1`, ready for [`psi`] or [`kl`].
pub fn categorical_counts(
    reference: &[(String, f64)],
    current: &[(String, f64)],
    top_k: usize,
) -> (Vec<f64>, Vec<f64>) {
    use std::collections::BTreeMap;
    let mut ref_totals: BTreeMap<&str, f64> = BTreeMap::new();
    for (value, count) in reference {
        *ref_totals.entry(value.as_str()).or_insert(0.0) += count;
    }
    let mut ranked: Vec<(&str, f64)> = ref_totals.iter().map(|(v, c)| (*v, *c)).collect();
    // Highest count first; BTreeMap order already sorted values, and the sort is stable.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(top_k);
    let index: BTreeMap<&str, usize> = ranked
        .iter()
        .enumerate()
        .map(|(i, (v, _))| (*v, i))
        .collect();
    let other = ranked.len();
    let fill = |pairs: &[(String, f64)]| {
        let mut counts = vec![0.0; other + 1];
        for (value, count) in pairs {
            let bucket = index.get(value.as_str()).copied().unwrap_or(other);
            if let Some(c) = counts.get_mut(bucket) {
                *c += count;
            }
        }
        counts
    };
    (fill(reference), fill(current))
}

/// How much a distribution moved, from its PSI against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftBand {
    /// PSI below the moderate bound (default 0.1).
    Stable,
    /// PSI at or above the moderate bound and below the significant bound (default 0.25).
    Moderate,
    /// PSI at or above the significant bound, or not a number (bad input is never "stable").
    Significant,
}

impl DriftBand {
    /// Band with the usual bounds: `< 0.1` stable, `< 0.25` moderate, else significant.
    pub fn from_psi(psi: f64) -> Self {
        Self::from_psi_with(psi, DEFAULT_MODERATE_PSI, DEFAULT_SIGNIFICANT_PSI)
    }

    /// Band with explicit bounds; `NaN` is [`DriftBand::Significant`].
    pub fn from_psi_with(psi: f64, moderate: f64, significant: f64) -> Self {
        if psi < moderate {
            Self::Stable
        } else if psi < significant {
            Self::Moderate
        } else {
            Self::Significant
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn psi_and_kl_of_identical_distributions_are_zero() {
        let a = [10.0, 20.0, 30.0, 40.0];
        // Same proportions from different totals: (0.1, 0.2, 0.3, 0.4) on both sides.
        let b = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(psi(&a, &b, DEFAULT_EPSILON), 0.0);
        assert_eq!(kl(&a, &b, DEFAULT_EPSILON), 0.0);
        assert_eq!(kl(&b, &a, DEFAULT_EPSILON), 0.0);
        // Identical with an empty bucket: both smoothed the same way, still 0.
        let c = [0.0, 5.0, 5.0];
        assert_eq!(psi(&c, &c, 0.01), 0.0);
        assert_eq!(kl(&c, &c, 0.01), 0.0);
    }

    #[test]
    fn kl_textbook_example_binomial_vs_uniform() {
        // The worked example of the Wikipedia article "Kullback-Leibler divergence":
        // P = Binomial(n=2, p=0.4) = (0.36, 0.48, 0.16), Q = uniform (1/3, 1/3, 1/3).
        // KL(P||Q) = 0.36 ln(0.36*3) + 0.48 ln(0.48*3) + 0.16 ln(0.16*3)
        //          = 0.36 * 0.0769610 + 0.48 * 0.3646431 + 0.16 * (-0.7339692)
        //          = 0.0277060 + 0.1750287 - 0.1174351 = 0.0852996 nats
        // KL(Q||P) = 1/3 (ln(1/1.08) + ln(1/1.44) + ln(1/0.48))
        //          = 1/3 (-0.0769610 - 0.3646431 + 0.7339692) = 0.0974550 nats
        let p = [0.36, 0.48, 0.16];
        let q = [1.0, 1.0, 1.0];
        assert!((kl(&p, &q, DEFAULT_EPSILON) - 0.0852996).abs() < 1e-7);
        assert!((kl(&q, &p, DEFAULT_EPSILON) - 0.0974550).abs() < 1e-7);
        // PSI is the symmetrised KL (Jeffreys divergence): 0.0852996 + 0.0974550 = 0.1827546.
        let s = psi(&p, &q, DEFAULT_EPSILON);
        assert!((s - 0.1827546).abs() < 1e-7);
        assert!(close(s, kl(&p, &q, 0.0) + kl(&q, &p, 0.0)));
        assert_eq!(DriftBand::from_psi(s), DriftBand::Moderate);
    }

    #[test]
    fn psi_of_a_reversed_distribution() {
        // r = (0.1, 0.2, 0.3, 0.4), c = (0.4, 0.3, 0.2, 0.1):
        // (0.4-0.1) ln 4 + (0.3-0.2) ln 1.5 + (0.2-0.3) ln(2/3) + (0.1-0.4) ln(1/4)
        // = 0.3 ln 4 + 0.1 ln 1.5 + 0.1 ln 1.5 + 0.3 ln 4 = 0.6 ln 4 + 0.2 ln 1.5
        // = 0.6 * 1.3862944 + 0.2 * 0.4054651 = 0.8317766 + 0.0810930 = 0.9128696
        let r = [10.0, 20.0, 30.0, 40.0];
        let c = [40.0, 30.0, 20.0, 10.0];
        assert!((psi(&r, &c, DEFAULT_EPSILON) - 0.9128696).abs() < 1e-7);
        assert_eq!(
            DriftBand::from_psi(psi(&r, &c, 1e-4)),
            DriftBand::Significant
        );
    }

    #[test]
    fn empty_bucket_is_smoothed_by_epsilon_then_renormalised() {
        // reference counts (0, 5, 5) -> proportions (0, 0.5, 0.5); the empty bucket becomes
        // epsilon = 0.01 -> (0.01, 0.5, 0.5), sum 1.01 -> (0.00990099, 0.4950495, 0.4950495).
        // current counts (2, 4, 4) -> (0.2, 0.4, 0.4), nothing to smooth.
        // PSI = (0.2 - 0.00990099) ln(0.2 / 0.00990099) + 2 (0.4 - 0.4950495) ln(0.4 / 0.4950495)
        //     = 0.19009901 * 3.0056826 + 2 * (-0.0950495) * (-0.2131932)
        //     = 0.5713773 + 0.0405278 = 0.6119051
        let r = [0.0, 5.0, 5.0];
        let c = [2.0, 4.0, 4.0];
        assert!((psi(&r, &c, 0.01) - 0.6119051).abs() < 1e-7);
        // KL(c||r) = 0.2 ln(0.2/0.00990099) + 2 * 0.4 ln(0.4/0.4950495)
        //          = 0.2 * 3.0056826 + 0.8 * (-0.2131932) = 0.6011365 - 0.1705546 = 0.4305819
        assert!((kl(&c, &r, 0.01) - 0.4305819).abs() < 1e-7);
        // KL(r||c) = 0.00990099 ln(0.00990099/0.2) + 2 * 0.4950495 ln(0.4950495/0.4)
        //          = 0.00990099 * (-3.0056826) + 0.990099 * 0.2131932 = -0.0297592 + 0.2110824
        //          = 0.1813232
        assert!((kl(&r, &c, 0.01) - 0.1813232).abs() < 1e-7);
        // Without smoothing an empty bucket on one side only is an infinite divergence.
        assert_eq!(psi(&r, &c, 0.0), f64::INFINITY);
        assert_eq!(kl(&c, &r, 0.0), f64::INFINITY);
        // ... but a bucket empty on both sides contributes nothing.
        assert!(close(
            psi(&[0.0, 1.0, 1.0], &[0.0, 1.0, 3.0], 0.0),
            psi(&[1.0, 1.0], &[1.0, 3.0], 0.0)
        ));
    }

    #[test]
    fn bad_input_is_nan_and_nan_is_significant() {
        assert!(psi(&[1.0, 2.0], &[1.0], 1e-4).is_nan());
        assert!(psi(&[], &[], 1e-4).is_nan());
        assert!(psi(&[0.0, 0.0], &[1.0, 1.0], 1e-4).is_nan());
        assert!(kl(&[-1.0, 2.0], &[1.0, 1.0], 1e-4).is_nan());
        assert!(kl(&[f64::NAN, 2.0], &[1.0, 1.0], 1e-4).is_nan());
        assert_eq!(DriftBand::from_psi(f64::NAN), DriftBand::Significant);
    }

    #[test]
    fn drift_bands_at_the_default_bounds() {
        assert_eq!(DriftBand::from_psi(0.0), DriftBand::Stable);
        assert_eq!(DriftBand::from_psi(0.0999), DriftBand::Stable);
        assert_eq!(DriftBand::from_psi(0.1), DriftBand::Moderate);
        assert_eq!(DriftBand::from_psi(0.2499), DriftBand::Moderate);
        assert_eq!(DriftBand::from_psi(0.25), DriftBand::Significant);
        assert_eq!(DriftBand::from_psi_with(0.15, 0.2, 0.3), DriftBand::Stable);
        assert_eq!(
            serde_json::to_string(&DriftBand::Significant)
                .ok()
                .as_deref(),
            Some("\"significant\"")
        );
    }

    #[test]
    fn quantile_edges_interpolate_and_deduplicate() {
        // 1..=10, 4 bins: h = 9q -> q=.25: x[2] + .25 (x[3]-x[2]) = 3.25; q=.5: 5.5; q=.75: 7.75.
        let reference: Vec<f64> = (1..=10).map(f64::from).collect();
        let edges = quantile_edges(&reference, 4);
        assert_eq!(edges, vec![3.25, 5.5, 7.75]);
        // Right-closed buckets: (-inf,3.25] {1,2,3}, (3.25,5.5] {4,5}, (5.5,7.75] {6,7}, rest.
        assert_eq!(bucket_counts(&reference, &edges), vec![3.0, 2.0, 2.0, 3.0]);
        // Six zeros: q=.25 and q=.5 are both 0 (one edge), q=.75 = x[6] + .75 (x[7]-x[6]) = 1.75.
        let zeros = [0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 1.0, 2.0, 3.0, 0.0];
        let edges = quantile_edges(&zeros, 4);
        assert_eq!(edges, vec![0.0, 1.75]);
        assert_eq!(bucket_counts(&zeros, &edges), vec![6.0, 1.0, 3.0]);
        // NaN ignored; degenerate inputs give one bucket.
        assert_eq!(
            bucket_counts(&[f64::NAN, -5.0, 100.0], &edges),
            vec![1.0, 0.0, 1.0]
        );
        assert_eq!(quantile_edges(&[], 4), Vec::<f64>::new());
        assert_eq!(quantile_edges(&reference, 1), Vec::<f64>::new());
        assert_eq!(quantile_edges(&[7.0, 7.0, 7.0], 10), vec![7.0]);
        assert_eq!(bucket_counts(&[1.0, 2.0], &[]), vec![2.0]);
    }

    #[test]
    fn numeric_drift_end_to_end() {
        // Reference 0..100, current shifted by +50: half of current lands in the top bucket.
        let reference: Vec<f64> = (0..100).map(f64::from).collect();
        let shifted: Vec<f64> = (50..150).map(f64::from).collect();
        let edges = quantile_edges(&reference, 4);
        let r = bucket_counts(&reference, &edges);
        let same = bucket_counts(&reference, &edges);
        let c = bucket_counts(&shifted, &edges);
        assert_eq!(r, vec![25.0, 25.0, 25.0, 25.0]);
        // edges 24.75, 49.5, 74.25: 50..=74 -> bucket 2 (25), 75..150 -> bucket 3 (75).
        assert_eq!(c, vec![0.0, 0.0, 25.0, 75.0]);
        assert_eq!(psi(&r, &same, DEFAULT_EPSILON), 0.0);
        assert_eq!(
            DriftBand::from_psi(psi(&r, &c, DEFAULT_EPSILON)),
            DriftBand::Significant
        );
    }

    #[test]
    fn categorical_counts_keep_top_values_and_pool_the_rest() {
        let s = |v: &str, c: f64| (v.to_string(), c);
        let reference = vec![
            s("fr", 50.0),
            s("de", 30.0),
            s("it", 15.0),
            s("es", 5.0),
            s("fr", 10.0),
        ];
        let current = vec![s("de", 40.0), s("fr", 40.0), s("xx", 20.0)];
        let (r, c) = categorical_counts(&reference, &current, 2);
        // Buckets: fr (60), de (30), other = it + es (20) on the reference side;
        // current: fr 40, de 40, other = xx (new value) 20.
        assert_eq!(r, vec![60.0, 30.0, 20.0]);
        assert_eq!(c, vec![40.0, 40.0, 20.0]);
        // Ties are broken by value; "other" is kept even when empty on both sides.
        let (r, c) = categorical_counts(&[s("b", 1.0), s("a", 1.0)], &[s("a", 2.0)], 5);
        assert_eq!(r, vec![1.0, 1.0, 0.0]);
        assert_eq!(c, vec![2.0, 0.0, 0.0]);
        // PSI over the aligned buckets (r = (.5, .5, 0), c = (1, 0, 0)) is finite thanks to
        // smoothing and flags the shift.
        assert!(psi(&r, &c, DEFAULT_EPSILON).is_finite());
        let (r, c) = categorical_counts(&[], &[s("a", 1.0)], 3);
        assert_eq!((r, c), (vec![0.0], vec![1.0]));
    }
}
