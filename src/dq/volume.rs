//! Volume anomaly detection over `(timestamp_secs, value)` series: robust z-score
//! `(x - median) / (1.4826 * MAD)` against the same weekday/hour bucket once it has enough
//! history, else the recent points; a score in [0, 1] per point, with the evidence behind it.

use serde::Serialize;

use crate::quantile::quantile_sorted;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// Scale factor making the MAD a consistent estimator of the standard deviation for normal data.
pub const MAD_TO_SIGMA: f64 = 1.4826;
/// The same for the interquartile range.
pub const IQR_TO_SIGMA: f64 = 1.349;
/// The same for the mean absolute deviation (sqrt(pi / 2)), used when the MAD and IQR are 0.
pub const MEAN_AD_TO_SIGMA: f64 = 1.2533;

/// Weekday (Monday = 0 .. Sunday = 6) and hour of day (0..24), in UTC, of a Unix timestamp.
pub fn weekday_hour(timestamp_secs: i64) -> (u8, u8) {
    let days = timestamp_secs.div_euclid(DAY);
    // 1970-01-01 was a Thursday (weekday 3 when Monday is 0).
    let weekday = (days + 3).rem_euclid(7) as u8;
    let hour = (timestamp_secs.rem_euclid(DAY) / HOUR) as u8;
    (weekday, hour)
}

/// Settings of [`VolumeDetector`]. `Default` suits hourly or daily row counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeConfig {
    /// Robust |z| at or above which a point is an anomaly (score 0.5). Default 3.5.
    pub threshold: f64,
    /// Number of trailing points forming the "recent" baseline. Default 168.
    pub history: usize,
    /// Points that must precede a point before it is scored (warm-up). Default 14.
    pub min_history: usize,
    /// Weeks of history searched for the same weekday-and-hour bucket; 0 turns weekday
    /// seasonality off. Used only when points are less than a week apart. Default 8.
    pub seasonal_weeks: u32,
    /// Days of history searched for the same hour of day, used when the weekday bucket does not
    /// have enough history yet; 0 turns it off. Used only when points are less than a day apart.
    /// Default 14.
    pub daily_days: u32,
    /// Distinct earlier days a seasonal bucket must cover before it is used instead of the
    /// recent points (for the weekday bucket, that is a number of weeks). Default 3.
    pub seasonal_min_days: usize,
    /// Earlier points a seasonal bucket must hold before it is used: a median and MAD from two
    /// or three points are too unstable to judge by. Default 5.
    pub seasonal_min_points: usize,
    /// Absolute lower bound on the scale (see [`Evidence::scale`]), so a flat history does not
    /// turn a tiny change into an infinite z. Default 1.0 (one row, for row counts).
    pub mad_floor: f64,
    /// Lower bound on the scale relative to the baseline median: `mad_floor_rel * |median|`.
    /// Default 0.01 (a 1% change on a perfectly flat series is z = 1).
    pub mad_floor_rel: f64,
    /// Also score the change from the previous point against recent changes (robust z of the
    /// first difference); the point's z is the larger of the two. Default false.
    pub rate_of_change: bool,
    /// Report an ongoing anomaly once: a point whose score is not above every score of the
    /// `cooldown` points before it is a repeat, reported with score 0 and never flagged (its
    /// evidence still carries its own score). 0 reports every point. Default 0.
    pub cooldown: usize,
}

impl Default for VolumeConfig {
    fn default() -> Self {
        Self {
            threshold: 3.5,
            history: 168,
            min_history: 14,
            seasonal_weeks: 8,
            daily_days: 14,
            seasonal_min_days: 3,
            seasonal_min_points: 5,
            mad_floor: 1.0,
            mad_floor_rel: 0.01,
            rate_of_change: false,
            cooldown: 0,
        }
    }
}

impl VolumeConfig {
    /// The settings of the NAB evaluation (`steward eval anomalies`), chosen a priori rather
    /// than fitted to NAB's labels: NAB rows are mostly 5 minutes apart, so one day of points
    /// (288) is both the recent history and the cooldown (an ongoing anomaly is reported again
    /// only if it gets worse within a day); values have arbitrary units, so no absolute MAD
    /// floor. Seasonality and the 1% relative floor are as in `Default`.
    pub fn nab() -> Self {
        Self {
            history: 288,
            cooldown: 288,
            mad_floor: 0.0,
            ..Self::default()
        }
    }
}

/// Which history a point was compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// Earlier points with the same weekday and hour of day.
    WeekdayHour,
    /// Earlier points with the same hour of day (any weekday).
    HourOfDay,
    /// The trailing `history` points.
    Recent,
}

/// The robust z of the change from the previous point, when `rate_of_change` is on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateEvidence {
    /// `value - previous value`.
    pub change: f64,
    /// Median of the recent changes.
    pub median: f64,
    /// Median absolute deviation of the recent changes.
    pub mad: f64,
    /// Scale used: `max(sigma of the changes, mad_floor, mad_floor_rel * |level median|)`, sigma
    /// computed as for [`Evidence::scale`].
    pub scale: f64,
    /// `(change - median) / scale`.
    pub z: f64,
}

/// Why a point scored what it did: the numbers a finding carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Position of the point in the series.
    pub index: usize,
    /// Its timestamp (seconds since the Unix epoch).
    pub timestamp: i64,
    /// Its value.
    pub value: f64,
    /// Which history it was compared against.
    pub baseline: Baseline,
    /// How many earlier points that history holds.
    pub history_points: usize,
    /// Median of the history.
    pub median: f64,
    /// Median absolute deviation of the history.
    pub mad: f64,
    /// Interquartile range of the history (linear-interpolation quartiles).
    pub iqr: f64,
    /// Noise level of the recent points, from their successive changes: their sigma (as below)
    /// divided by sqrt(2), since a change of white noise has sqrt(2) times its spread. It keeps
    /// a small seasonal sample whose MAD happens to be tiny from inflating z.
    pub noise: f64,
    /// Scale used: `max(sigma, noise, mad_floor, mad_floor_rel * |median|)`, where sigma is
    /// the larger of `1.4826 * mad` and `iqr / 1.349` (equal for normal data; the IQR stops a
    /// two-level history, whose MAD is only the spread of its larger level, from making the
    /// other level an anomaly), or `1.2533 * mean absolute deviation` when both are 0 (e.g. a
    /// flat series with a few spikes), the usual fallback of the modified z-score.
    pub scale: f64,
    /// Robust z of the level: `(value - median) / scale`.
    pub z: f64,
    /// Robust z of the change from the previous point, when enabled.
    pub rate: Option<RateEvidence>,
    /// The |z| the decision uses: `|z|`, or the larger of `|z|` and `|rate.z|`.
    pub abs_z: f64,
    /// The threshold `abs_z` is compared with.
    pub threshold: f64,
    /// Anomaly score in [0, 1]: `1 / (1 + (threshold / abs_z)^2)`, 0.5 at the threshold.
    pub score: f64,
    /// With a `cooldown`, the earlier point (within it) that scored at least as high: this point
    /// repeats that anomaly and is reported with score 0.
    pub repeat_of: Option<usize>,
    /// `abs_z >= threshold` and not a repeat.
    pub anomalous: bool,
}

/// Robust z-score volume detector; see [`VolumeConfig`] for its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeDetector {
    config: VolumeConfig,
}

/// Robust centre and spread of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spread {
    median: f64,
    /// Median absolute deviation from the median.
    mad: f64,
    /// Interquartile range.
    iqr: f64,
    /// Consistent estimate of the standard deviation, as documented on [`Evidence::scale`].
    sigma: f64,
}

/// Median, MAD and sigma of an ascending, NaN-free slice, in O(n) without reordering: the
/// absolute deviations from the median are merged from the two sides of the median outwards.
fn spread_sorted(sorted: &[f64]) -> Option<Spread> {
    let n = sorted.len();
    let median = quantile_sorted(sorted, 0.5)?;
    let iqr = quantile_sorted(sorted, 0.75)? - quantile_sorted(sorted, 0.25)?;
    let split = sorted.partition_point(|&x| x < median);
    let (below, above) = sorted.split_at(split);
    let (mut left, mut right) = (below.iter().rev().peekable(), above.iter().peekable());
    // The k-th smallest deviations for k = (n-1)/2 and n/2; their mean is the MAD.
    let (k_lo, k_hi) = ((n - 1) / 2, n / 2);
    let (mut d_lo, mut d_hi) = (0.0, 0.0);
    for k in 0..=k_hi {
        let d = match (left.peek(), right.peek()) {
            (Some(&&l), Some(&&r)) if median - l <= r - median => {
                left.next();
                median - l
            }
            (_, Some(&&r)) => {
                right.next();
                r - median
            }
            (Some(&&l), None) => {
                left.next();
                median - l
            }
            (None, None) => break,
        };
        if k == k_lo {
            d_lo = d;
        }
        if k == k_hi {
            d_hi = d;
        }
    }
    let mad = (d_lo + d_hi) / 2.0;
    let mut sigma = (MAD_TO_SIGMA * mad).max(iqr / IQR_TO_SIGMA);
    if sigma <= 0.0 {
        let mean_ad = sorted.iter().map(|x| (x - median).abs()).sum::<f64>() / n as f64;
        sigma = MEAN_AD_TO_SIGMA * mean_ad;
    }
    Some(Spread {
        median,
        mad,
        iqr,
        sigma,
    })
}

/// A multiset of numbers kept in ascending order (insert and remove in O(log n + n) moves).
#[derive(Debug, Default)]
struct Sorted(Vec<f64>);

impl Sorted {
    fn insert(&mut self, v: f64) {
        if !v.is_nan() {
            let at = self.0.partition_point(|&x| x < v);
            self.0.insert(at, v);
        }
    }

    fn remove(&mut self, v: f64) {
        if !v.is_nan() {
            let at = self.0.partition_point(|&x| x < v);
            if self.0.get(at) == Some(&v) {
                self.0.remove(at);
            }
        }
    }
}

/// Earlier points of one seasonal bucket within its lookback.
#[derive(Debug, Default)]
struct Bucket {
    values: Sorted,
    /// `(timestamp, day, value)` in arrival order, for expiry.
    queue: std::collections::VecDeque<(i64, i64, f64)>,
    /// Points per day number, for the distinct-day count.
    days: std::collections::BTreeMap<i64, usize>,
}

impl Bucket {
    fn push(&mut self, ts: i64, v: f64) {
        if v.is_nan() {
            return;
        }
        let day = ts.div_euclid(DAY);
        self.values.insert(v);
        self.queue.push_back((ts, day, v));
        *self.days.entry(day).or_insert(0) += 1;
    }

    /// Drops points older than `earliest` (the series is in time order).
    fn expire(&mut self, earliest: i64) {
        while let Some(&(ts, day, v)) = self.queue.front() {
            if ts >= earliest {
                break;
            }
            self.queue.pop_front();
            self.values.remove(v);
            if let Some(count) = self.days.get_mut(&day) {
                *count -= 1;
                if *count == 0 {
                    self.days.remove(&day);
                }
            }
        }
    }
}

/// One pass over a series in order, keeping the recent window and the seasonal buckets sorted
/// so each point costs O(history) instead of a fresh selection.
struct Scanner<'a> {
    config: &'a VolumeConfig,
    series: &'a [(i64, f64)],
    /// Recent window `[start, end)` of point indices.
    start: usize,
    end: usize,
    recent: Sorted,
    /// Changes `v[j] - v[j-1]` for `start < j < end`.
    changes: Sorted,
    /// Weekday*24+hour buckets (empty when weekday seasonality is off).
    weekly: Vec<Bucket>,
    /// Hour-of-day buckets (empty when hour-of-day seasonality is off).
    daily: Vec<Bucket>,
}

impl<'a> Scanner<'a> {
    fn new(config: &'a VolumeConfig, series: &'a [(i64, f64)]) -> Self {
        // Typical spacing decides which seasonal buckets carry information.
        let mut steps = Sorted::default();
        for w in series.windows(2) {
            if let [a, b] = w
                && b.0 > a.0
            {
                steps.0.push((b.0 - a.0) as f64);
            }
        }
        steps.0.sort_by(f64::total_cmp);
        let step = quantile_sorted(&steps.0, 0.5).unwrap_or(f64::INFINITY);
        let weekly = config.seasonal_weeks > 0 && step < WEEK as f64;
        let daily = config.daily_days > 0 && step < DAY as f64;
        Self {
            config,
            series,
            start: 0,
            end: 0,
            recent: Sorted::default(),
            changes: Sorted::default(),
            weekly: (0..if weekly { 7 * 24 } else { 0 })
                .map(|_| Bucket::default())
                .collect(),
            daily: (0..if daily { 24 } else { 0 })
                .map(|_| Bucket::default())
                .collect(),
        }
    }

    fn value(&self, i: usize) -> f64 {
        self.series.get(i).map_or(f64::NAN, |p| p.1)
    }

    fn change(&self, j: usize) -> f64 {
        match j.checked_sub(1) {
            Some(prev) => self.value(j) - self.value(prev),
            None => f64::NAN,
        }
    }

    /// Moves the recent window to `[i - history, i)`.
    fn advance(&mut self, i: usize) {
        let history = self.config.history.max(1);
        while self.end < i {
            let e = self.end;
            self.recent.insert(self.value(e));
            if e > self.start {
                self.changes.insert(self.change(e));
            }
            self.end += 1;
        }
        while self.start < i.saturating_sub(history) {
            let s = self.start;
            self.recent.remove(self.value(s));
            if s + 1 < self.end {
                self.changes.remove(self.change(s + 1));
            }
            self.start += 1;
        }
    }

    /// Evidence for point `i`; must be called for `i = 0, 1, 2, ...` in turn.
    fn next(&mut self, i: usize) -> Option<Evidence> {
        let &(timestamp, value) = self.series.get(i)?;
        self.advance(i);
        let (weekday, hour) = weekday_hour(timestamp);
        let week_slot = usize::from(weekday) * 24 + usize::from(hour);
        let cfg = self.config;
        let week_lookback = timestamp.saturating_sub(i64::from(cfg.seasonal_weeks) * WEEK);
        let day_lookback = timestamp.saturating_sub(i64::from(cfg.daily_days) * DAY);
        if let Some(b) = self.weekly.get_mut(week_slot) {
            b.expire(week_lookback);
        }
        if let Some(b) = self.daily.get_mut(usize::from(hour)) {
            b.expire(day_lookback);
        }
        let evidence = self.evaluate(i, timestamp, value, week_slot, usize::from(hour));
        // Point i joins the history of the points after it.
        if let Some(b) = self.weekly.get_mut(week_slot) {
            b.push(timestamp, value);
        }
        if let Some(b) = self.daily.get_mut(usize::from(hour)) {
            b.push(timestamp, value);
        }
        evidence
    }

    fn ready<'b>(&self, bucket: Option<&'b Bucket>) -> Option<&'b [f64]> {
        let b = bucket?;
        let enough = b.days.len() >= self.config.seasonal_min_days
            && b.values.0.len() >= self.config.seasonal_min_points.max(1);
        enough.then_some(b.values.0.as_slice())
    }

    fn evaluate(
        &self,
        i: usize,
        timestamp: i64,
        value: f64,
        week_slot: usize,
        hour: usize,
    ) -> Option<Evidence> {
        let cfg = self.config;
        if i < cfg.min_history.max(1) || value.is_nan() {
            return None;
        }
        let (baseline, sample) = match self.ready(self.weekly.get(week_slot)) {
            Some(s) => (Baseline::WeekdayHour, s),
            None => match self.ready(self.daily.get(hour)) {
                Some(s) => (Baseline::HourOfDay, s),
                None => (Baseline::Recent, self.recent.0.as_slice()),
            },
        };
        let level = spread_sorted(sample)?;
        let floor = cfg.mad_floor.max(cfg.mad_floor_rel * level.median.abs());
        let changes = spread_sorted(&self.changes.0);
        let noise = changes.map_or(0.0, |c| c.sigma / std::f64::consts::SQRT_2);
        let scale = level.sigma.max(noise).max(floor);
        let z = robust_z(value, level.median, scale);
        let rate = match changes {
            Some(c) if cfg.rate_of_change => {
                let change = self.change(i);
                (!change.is_nan()).then(|| {
                    let scale = c.sigma.max(floor);
                    RateEvidence {
                        change,
                        median: c.median,
                        mad: c.mad,
                        scale,
                        z: robust_z(change, c.median, scale),
                    }
                })
            }
            _ => None,
        };
        let abs_z = rate.as_ref().map_or(z.abs(), |r| z.abs().max(r.z.abs()));
        let score = if abs_z == 0.0 {
            0.0
        } else if abs_z.is_infinite() {
            1.0
        } else {
            let ratio = cfg.threshold / abs_z;
            1.0 / (1.0 + ratio * ratio)
        };
        Some(Evidence {
            index: i,
            timestamp,
            value,
            baseline,
            history_points: sample.len(),
            median: level.median,
            mad: level.mad,
            iqr: level.iqr,
            noise,
            scale,
            z,
            rate,
            abs_z,
            threshold: cfg.threshold,
            score,
            repeat_of: None,
            anomalous: abs_z >= cfg.threshold,
        })
    }
}

fn robust_z(x: f64, median: f64, scale: f64) -> f64 {
    let d = x - median;
    if scale > 0.0 {
        d / scale
    } else if d == 0.0 {
        0.0
    } else {
        d.signum() * f64::INFINITY
    }
}

impl VolumeDetector {
    /// A detector with these settings.
    pub fn new(config: VolumeConfig) -> Self {
        Self { config }
    }

    /// The settings in use.
    pub fn config(&self) -> &VolumeConfig {
        &self.config
    }

    /// Anomaly score in [0, 1] per point (0.5 at the threshold, rising towards 1 with |z|; 0 for
    /// a repeat within the `cooldown`), or `None` while warming up (fewer than `min_history`
    /// earlier points) or for a NaN value. `series` is `(timestamp_secs, value)` in time order;
    /// each point is compared only with points before it, so a score never depends on the future.
    pub fn score(&self, series: &[(i64, f64)]) -> Vec<Option<f64>> {
        self.evaluate_upto(series, series.len())
            .into_iter()
            .map(|e| e.map(|e| if e.repeat_of.is_some() { 0.0 } else { e.score }))
            .collect()
    }

    /// `true` where a point is an anomaly (robust |z| at or above the threshold, and not a
    /// repeat within the `cooldown`); `false` while warming up.
    pub fn detect(&self, series: &[(i64, f64)]) -> Vec<bool> {
        self.evaluate_upto(series, series.len())
            .into_iter()
            .map(|e| e.is_some_and(|e| e.anomalous))
            .collect()
    }

    /// The evidence for one point: baseline used, median, MAD, scale, z, threshold, score.
    /// `None` when `index` is out of range or the point is not scored (warm-up, NaN value).
    pub fn explain(&self, series: &[(i64, f64)], index: usize) -> Option<Evidence> {
        if index >= series.len() {
            return None;
        }
        self.evaluate_upto(series, index + 1).pop().flatten()
    }

    /// Evidence for points `0..end`, repeats within the cooldown marked.
    fn evaluate_upto(&self, series: &[(i64, f64)], end: usize) -> Vec<Option<Evidence>> {
        let mut scanner = Scanner::new(&self.config, series);
        let mut out: Vec<Option<Evidence>> = (0..end).map(|i| scanner.next(i)).collect();
        let cooldown = self.config.cooldown;
        if cooldown == 0 {
            return out;
        }
        // Sliding maximum of the earlier raw scores: indices with decreasing scores, the
        // latest kept among equals.
        let mut window: std::collections::VecDeque<(usize, f64)> = Default::default();
        for (i, slot) in out.iter_mut().enumerate() {
            while window.front().is_some_and(|&(j, _)| j + cooldown < i) {
                window.pop_front();
            }
            let raw = slot.as_ref().map_or(0.0, |e| e.score);
            if let Some(e) = slot
                && raw > 0.0
                && let Some(&(j, best)) = window.front()
                && best >= raw
            {
                e.repeat_of = Some(j);
                e.anomalous = false;
            }
            while window.back().is_some_and(|&(_, s)| s <= raw) {
                window.pop_back();
            }
            window.push_back((i, raw));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// 2024-01-01 00:00:00 UTC, a Monday.
    const MONDAY: i64 = 1_704_067_200;

    /// Deterministic noise in [-1, 1] (a small LCG), so tests need no rand crate.
    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    fn hourly(values: &[f64]) -> Vec<(i64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (MONDAY + i as i64 * HOUR, v))
            .collect()
    }

    fn flagged(detections: &[bool]) -> Vec<usize> {
        detections
            .iter()
            .enumerate()
            .filter_map(|(i, &d)| d.then_some(i))
            .collect()
    }

    #[test]
    fn weekday_and_hour_from_epoch_seconds() {
        assert_eq!(weekday_hour(0), (3, 0)); // 1970-01-01 00:00 Thursday
        assert_eq!(weekday_hour(MONDAY), (0, 0));
        assert_eq!(weekday_hour(MONDAY + 6 * DAY + 23 * HOUR + 3599), (6, 23));
        assert_eq!(weekday_hour(-1), (2, 23)); // 1969-12-31 23:59:59 Wednesday
    }

    #[test]
    fn median_mad_and_fallback_by_hand() {
        // (1, 2, 3, 4, 100): median 3; deviations (2, 1, 0, 1, 97) -> MAD 1.
        // Quartiles (type 7, h = 4q): Q1 = 2, Q3 = 4 -> IQR 2, IQR / 1.349 = 1.4826;
        // 1.4826 * MAD = 1.4826 too.
        let s = spread_sorted(&[1.0, 2.0, 3.0, 4.0, 100.0]).expect("non-empty");
        assert_eq!((s.median, s.mad), (3.0, 1.0));
        assert!((s.sigma - 1.4826).abs() < 1e-3);
        // Even count: median of (1, 2, 3, 4) is 2.5; deviations (1.5, .5, .5, 1.5) -> MAD 1.
        let s = spread_sorted(&[1.0, 2.0, 3.0, 4.0]).expect("non-empty");
        assert_eq!((s.median, s.mad), (2.5, 1.0));
        // Two levels, 60% at 20 and 40% at 80: the MAD is 0 (over half the points sit at the
        // median), but Q1 (h = 9 * 0.25 = 2.25) = 20 and Q3 (h = 6.75) = 80, so the IQR is 60
        // and sigma = 60 / 1.349 = 44.478.
        let two_levels = [20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 80.0, 80.0, 80.0, 80.0];
        let s = spread_sorted(&two_levels).expect("non-empty");
        assert_eq!((s.median, s.mad), (20.0, 0.0));
        assert!((s.sigma - 60.0 / 1.349).abs() < 1e-9);
        // Mostly flat with spikes: MAD and IQR 0 (Q3 at h = 8 * 0.75 = 6 is still 0), so sigma
        // falls back to 1.2533 * MeanAD: median 0, MeanAD 30 / 9 = 3.3333, sigma 4.1777.
        let spikes = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 20.0];
        let s = spread_sorted(&spikes).expect("non-empty");
        assert_eq!((s.median, s.mad), (0.0, 0.0));
        assert!((s.sigma - 1.2533 * 30.0 / 9.0).abs() < 1e-12);
        assert!(spread_sorted(&[]).is_none());
    }

    #[test]
    fn merged_mad_equals_the_naive_one() {
        for (n, seed) in [(1, 1), (2, 2), (3, 3), (10, 4), (11, 5), (288, 6), (289, 7)] {
            // Rounded values so ties and repeated medians occur.
            let mut v: Vec<f64> = noise(n, seed).iter().map(|e| (e * 5.0).round()).collect();
            v.sort_by(f64::total_cmp);
            let s = spread_sorted(&v).expect("non-empty");
            let median = quantile_sorted(&v, 0.5).expect("non-empty");
            let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
            dev.sort_by(f64::total_cmp);
            let mad = quantile_sorted(&dev, 0.5).expect("non-empty");
            assert_eq!((s.median, s.mad), (median, mad), "n = {n}");
        }
    }

    #[test]
    fn injected_anomalies_are_found_at_their_indices() {
        let mut values: Vec<f64> = noise(400, 7).iter().map(|e| 1000.0 + 20.0 * e).collect();
        values[150] = 1400.0; // spike
        values[260] = 600.0; // drop
        values[330] = 0.0; // an empty load
        let series = hourly(&values);
        let detector = VolumeDetector::new(VolumeConfig {
            seasonal_weeks: 0,
            daily_days: 0,
            ..VolumeConfig::default()
        });
        assert_eq!(flagged(&detector.detect(&series)), vec![150, 260, 330]);
        let scores = detector.score(&series);
        assert_eq!(scores.len(), 400);
        assert!(
            scores.iter().take(14).all(Option::is_none),
            "warm-up is not scored"
        );
        assert!(scores.iter().flatten().all(|s| (0.0..=1.0).contains(s)));
        assert!(scores[150].is_some_and(|s| s > 0.9));

        // The evidence carries the numbers behind the finding.
        let e = detector.explain(&series, 260).expect("scored");
        assert_eq!(e.baseline, Baseline::Recent);
        assert_eq!(e.history_points, 168);
        assert!((e.median - 1000.0).abs() < 5.0, "median {}", e.median);
        assert!(e.mad > 5.0 && e.mad < 15.0, "mad {}", e.mad);
        assert_eq!(e.scale, (MAD_TO_SIGMA * e.mad).max(e.noise).max(10.0));

        assert!((e.z - (600.0 - e.median) / e.scale).abs() < 1e-12);
        assert!(e.z < -3.5 && e.anomalous);
        assert_eq!(e.threshold, 3.5);
        assert_eq!(Some(e.score), scores[260]);
        assert_eq!(detector.explain(&series, 3), None);
        assert_eq!(detector.explain(&series, 400), None);
    }

    #[test]
    fn a_series_without_anomalies_raises_no_alarm() {
        let values: Vec<f64> = noise(24 * 60, 11)
            .iter()
            .map(|e| 500.0 + 25.0 * e)
            .collect();
        let detector = VolumeDetector::new(VolumeConfig::default());
        let detections = detector.detect(&hourly(&values));
        assert_eq!(flagged(&detections), Vec::<usize>::new());
    }

    #[test]
    fn weekly_pattern_is_not_flagged_but_a_break_of_it_is() {
        // Hourly row counts over 10 weeks: busy weekday office hours, quiet nights, nearly empty
        // weekends, 1% noise. Once the weekday/hour buckets have history the pattern raises
        // nothing, and a break of it that looks ordinary against all recent points is caught.
        const WEEKS: usize = 10;
        let eps = noise(24 * 7 * WEEKS, 3);
        let values: Vec<f64> = (0..24 * 7 * WEEKS)
            .map(|i| {
                let (weekday, hour) = weekday_hour(MONDAY + i as i64 * HOUR);
                let base = if weekday >= 5 {
                    50.0
                } else if (8..18).contains(&hour) {
                    2000.0
                } else {
                    300.0
                };
                base * (1.0 + 0.01 * eps[i])
            })
            .collect();
        let series = hourly(&values);
        // Once five earlier weeks fill each weekday/hour bucket, nothing is flagged.
        let ready = 24 * 7 * 5;
        let seasonal = VolumeDetector::new(VolumeConfig::default());
        let alarms = flagged(&seasonal.detect(&series));
        assert_eq!(
            alarms.iter().filter(|&&i| i >= ready).count(),
            0,
            "{alarms:?}"
        );
        let e = seasonal.explain(&series, ready).expect("scored");
        assert_eq!((e.baseline, e.history_points), (Baseline::WeekdayHour, 5));
        // Week 8, Wednesday 10:00 loads the weekend volume: caught against the same slot...
        let broken_at = 24 * 7 * 7 + 24 * 2 + 10;
        let mut broken = values.clone();
        broken[broken_at] = 50.0;
        let series = hourly(&broken);
        let alarms = flagged(&seasonal.detect(&series));
        let late: Vec<usize> = alarms.into_iter().filter(|&i| i >= ready).collect();
        assert_eq!(late, vec![broken_at]);
        // ... but not against all recent points, where 50 is an ordinary (weekend) value.
        let flat = VolumeDetector::new(VolumeConfig {
            seasonal_weeks: 0,
            daily_days: 0,
            ..VolumeConfig::default()
        });
        assert!(!flat.detect(&series)[broken_at]);
        let e = flat.explain(&series, broken_at).expect("scored");
        assert_eq!(e.baseline, Baseline::Recent);
        assert!(e.z.abs() < 1.0, "{e:?}");
        let e = seasonal.explain(&series, broken_at).expect("scored");
        assert_eq!(e.baseline, Baseline::WeekdayHour);
        assert_eq!(e.history_points, 7); // the seven earlier Wednesdays at 10:00
        assert!((e.median - 2000.0).abs() < 20.0);
        assert!(e.z < -50.0);
    }

    #[test]
    fn daily_counts_with_a_monday_batch() {
        // Daily row counts for 20 weeks: a weekly batch makes Mondays 5x the other days. Against
        // all recent days every Monday is an outlier; against earlier Mondays it is normal.
        let eps = noise(7 * 20, 13);
        let series: Vec<(i64, f64)> = (0..7 * 20)
            .map(|d| {
                let base = if d % 7 == 0 { 5000.0 } else { 1000.0 };
                (MONDAY + d as i64 * DAY, base * (1.0 + 0.02 * eps[d]))
            })
            .collect();
        let ready = 7 * 5; // five earlier Mondays
        let seasonal = VolumeDetector::new(VolumeConfig::default());
        let alarms = flagged(&seasonal.detect(&series));
        assert!(alarms.iter().all(|&d| d < ready), "{alarms:?}");
        let e = seasonal.explain(&series, 7 * 12).expect("scored");
        assert_eq!((e.baseline, e.history_points), (Baseline::WeekdayHour, 8));
        let flat = VolumeDetector::new(VolumeConfig {
            seasonal_weeks: 0,
            ..VolumeConfig::default()
        });
        let mondays: Vec<usize> = (ready..7 * 20).step_by(7).collect();
        let alarms = flagged(&flat.detect(&series));
        assert_eq!(
            alarms
                .into_iter()
                .filter(|&d| d >= ready)
                .collect::<Vec<_>>(),
            mondays
        );
    }

    #[test]
    fn hour_of_day_baseline_before_enough_weeks() {
        // Ten days of a daily cycle: too few weeks for the weekday bucket, enough days for the
        // hour-of-day one (five earlier days for five points of hourly data).
        let values: Vec<f64> = (0..24 * 10)
            .map(|i| if (i % 24) < 12 { 100.0 } else { 1000.0 })
            .collect();
        let series = hourly(&values);
        let detector = VolumeDetector::new(VolumeConfig::default());
        let alarms = flagged(&detector.detect(&series));
        assert!(alarms.iter().all(|&i| i < 24 * 5), "{alarms:?}");
        let e = detector.explain(&series, 24 * 9 + 13).expect("scored");
        assert_eq!(e.baseline, Baseline::HourOfDay);
        assert_eq!((e.median, e.mad, e.z), (1000.0, 0.0, 0.0));
        // Early on the recent points are the baseline.
        let e = detector.explain(&series, 36).expect("scored");
        assert_eq!(e.baseline, Baseline::Recent);
    }

    #[test]
    fn flat_series_uses_the_mad_floor() {
        let mut values = vec![500.0; 200];
        let series = hourly(&values);
        let detector = VolumeDetector::new(VolumeConfig::default());
        assert_eq!(flagged(&detector.detect(&series)), Vec::<usize>::new());
        let e = detector.explain(&series, 100).expect("scored");
        // MAD 0 and no noise, so scale = max(1.0, 0.01 * 500) = 5; z = 0; score 0.
        assert_eq!(
            (e.mad, e.noise, e.scale, e.z, e.score),
            (0.0, 0.0, 5.0, 0.0, 0.0)
        );

        // +10 rows on a flat 500 is z = 2 (not an anomaly); +50 is z = 10 (anomaly), not inf.
        values[120] = 510.0;
        values[150] = 550.0;
        let series = hourly(&values);
        assert_eq!(flagged(&detector.detect(&series)), vec![150]);
        let z120 = detector.explain(&series, 120).map(|e| e.z);
        let z150 = detector.explain(&series, 150).map(|e| e.z);
        assert_eq!((z120, z150), (Some(2.0), Some(10.0)));
        // Score: 1 / (1 + (3.5 / 10)^2) = 1 / 1.1225 = 0.8908686
        let s = detector.score(&series)[150].expect("scored");
        assert!((s - 0.8908686).abs() < 1e-7);

        // A flat zero series with no floors at all: any change is an infinite z, score 1.
        let mut zeros = vec![0.0; 50];
        zeros[40] = 1.0;
        let bare = VolumeDetector::new(VolumeConfig {
            mad_floor: 0.0,
            mad_floor_rel: 0.0,
            ..VolumeConfig::default()
        });
        let zeros = hourly(&zeros);
        assert_eq!(flagged(&bare.detect(&zeros)), vec![40]);
        assert_eq!(bare.score(&zeros)[40], Some(1.0));
        assert_eq!(bare.score(&zeros)[39], Some(0.0));
    }

    #[test]
    fn rate_of_change_adds_evidence_and_catches_a_jump_in_a_trend() {
        // A steady ramp (+10 per hour) with small noise: the level keeps leaving its recent
        // range, the change does not, until a +200 jump.
        let eps = noise(300, 5);
        let mut values: Vec<f64> = (0..300)
            .map(|i| 1000.0 + 10.0 * i as f64 + eps[i])
            .collect();
        for v in values.iter_mut().skip(200) {
            *v += 200.0;
        }
        let series = hourly(&values);
        let detector = VolumeDetector::new(VolumeConfig {
            seasonal_weeks: 0,
            daily_days: 0,
            history: 24,
            mad_floor_rel: 0.0,
            rate_of_change: true,
            ..VolumeConfig::default()
        });
        let e = detector.explain(&series, 200).expect("scored");
        let rate = e.rate.clone().expect("rate evidence");
        assert!((rate.change - 210.0).abs() < 3.0);
        assert!((rate.median - 10.0).abs() < 1.0);
        assert!(rate.z > 50.0 && e.anomalous);
        assert_eq!(e.abs_z, e.z.abs().max(rate.z.abs()));
        // The change right after the jump is ordinary again.
        let after = detector
            .explain(&series, 201)
            .and_then(|e| e.rate)
            .map(|r| r.z.abs());
        assert!(after.is_some_and(|z| z < 3.5));
    }

    #[test]
    fn nan_values_are_skipped() {
        let mut values: Vec<f64> = noise(100, 9).iter().map(|e| 100.0 + e).collect();
        values[50] = f64::NAN;
        let series = hourly(&values);
        let detector = VolumeDetector::new(VolumeConfig::default());
        let scores = detector.score(&series);
        assert_eq!(scores[50], None);
        assert!(scores[51].is_some());
        assert!(!detector.detect(&series)[50]);
        assert_eq!(detector.score(&[]), Vec::<Option<f64>>::new());
    }
}
