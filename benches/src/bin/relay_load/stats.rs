//! Latency percentiles and rates, the figures the report prints.

use std::time::Duration;

/// Latencies sorted once, so each percentile is an index.
#[derive(Debug)]
pub(crate) struct Percentiles {
    sorted: Vec<Duration>,
}

impl Percentiles {
    /// Sorts `latencies`.
    pub(crate) fn new(mut latencies: Vec<Duration>) -> Self {
        latencies.sort_unstable();
        Percentiles { sorted: latencies }
    }

    /// The nearest-rank percentile `p` (0 < p <= 100): the smallest
    /// latency that at least `p` % of the samples do not exceed. `None`
    /// without samples.
    pub(crate) fn at(&self, p: f64) -> Option<Duration> {
        if self.sorted.is_empty() {
            return None;
        }
        let n = self.sorted.len();
        // Nearest rank: ceil(p/100 * n), 1-based, clamped to the samples there are.
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        Some(self.sorted[rank.clamp(1, n) - 1])
    }

    /// The largest latency.
    pub(crate) fn max(&self) -> Option<Duration> {
        self.sorted.last().copied()
    }

    /// How many samples there are.
    pub(crate) fn len(&self) -> usize {
        self.sorted.len()
    }
}

/// `count` events over `elapsed`, per second; `None` when no time passed.
pub(crate) fn per_second(count: u64, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    (secs > 0.0 && count > 0).then(|| count as f64 / secs)
}

/// Milliseconds with three decimals, or `NA`.
pub(crate) fn ms(value: Option<Duration>) -> String {
    value.map_or_else(|| "NA".to_owned(), |d| format!("{:.3}", d.as_secs_f64() * 1000.0))
}

/// A rate with one decimal, or `NA`.
pub(crate) fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "NA".to_owned(), |r| format!("{r:.1}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: impl IntoIterator<Item = u64>) -> Percentiles {
        Percentiles::new(values.into_iter().map(Duration::from_millis).collect())
    }

    #[test]
    fn nearest_rank_on_one_to_a_hundred() {
        // Shuffled input: the constructor sorts.
        let p = millis((1..=100).rev());
        assert_eq!(p.at(50.0), Some(Duration::from_millis(50)));
        assert_eq!(p.at(90.0), Some(Duration::from_millis(90)));
        assert_eq!(p.at(99.0), Some(Duration::from_millis(99)));
        assert_eq!(p.at(100.0), Some(Duration::from_millis(100)));
        assert_eq!(p.max(), Some(Duration::from_millis(100)));
        assert_eq!(p.len(), 100);
    }

    #[test]
    fn small_samples_take_the_upper_value() {
        // Two samples: p50 is the first, p99 the second (never interpolated).
        let p = millis([10, 20]);
        assert_eq!(p.at(50.0), Some(Duration::from_millis(10)));
        assert_eq!(p.at(99.0), Some(Duration::from_millis(20)));
        let one = millis([7]);
        assert_eq!(one.at(0.1), Some(Duration::from_millis(7)));
    }

    #[test]
    fn no_samples_no_figures() {
        let p = millis([]);
        assert_eq!(p.at(50.0), None);
        assert_eq!(p.max(), None);
        assert_eq!(ms(p.at(99.0)), "NA");
    }

    #[test]
    fn rates() {
        assert_eq!(per_second(5000, Duration::from_millis(500)), Some(10_000.0));
        assert_eq!(per_second(5, Duration::ZERO), None);
        assert_eq!(per_second(0, Duration::from_secs(1)), None);
        assert_eq!(rate(Some(1234.56)), "1234.6");
        assert_eq!(ms(Some(Duration::from_micros(1500))), "1.500");
    }
}
