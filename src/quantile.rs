//! Linear-interpolation quantiles ("type 7", numpy's default), shared by the data-quality
//! statistics and the retrieval latency figures.

/// The `q`-quantile (0 ≤ q ≤ 1, clamped) of an ascending, NaN-free slice; `None` when empty.
/// Interpolates like numpy's `_lerp`: from the nearer of the two ranks.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = q.clamp(0.0, 1.0) * last as f64;
    let below = (position.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let t = position - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    let diff = b - a;
    Some(if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    })
}
