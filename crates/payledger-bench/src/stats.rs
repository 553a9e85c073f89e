//! Latency percentiles from recorded samples.

use serde::{Deserialize, Serialize};

/// Latency of one operation (one transaction), over the measured interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// How many operations were timed (all of them unless the sample cap was reached).
    pub samples: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Nearest-rank percentiles of samples in microseconds. `None` without samples.
    pub(crate) fn from_micros(mut samples_us: Vec<u64>) -> Option<Latency> {
        if samples_us.is_empty() {
            return None;
        }
        samples_us.sort_unstable();
        let count = samples_us.len();
        let sum_us: u128 = samples_us.iter().map(|&s| u128::from(s)).sum();
        let mean_us = sum_us as f64 / count as f64;
        let max_us = samples_us[count - 1];
        Some(Latency {
            samples: count as u64,
            mean_ms: mean_us / 1_000.0,
            p50_ms: percentile(&samples_us, 50) as f64 / 1_000.0,
            p95_ms: percentile(&samples_us, 95) as f64 / 1_000.0,
            p99_ms: percentile(&samples_us, 99) as f64 / 1_000.0,
            max_ms: max_us as f64 / 1_000.0,
        })
    }
}

/// Nearest-rank percentile of a sorted, non-empty slice.
fn percentile(sorted: &[u64], pct: usize) -> u64 {
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted[(rank - 1).min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u64> = (1..=100).rev().map(|ms| ms * 1_000).collect();
        let latency = Latency::from_micros(samples).unwrap();
        assert_eq!(latency.samples, 100);
        assert_eq!(latency.p50_ms, 50.0);
        assert_eq!(latency.p95_ms, 95.0);
        assert_eq!(latency.p99_ms, 99.0);
        assert_eq!(latency.max_ms, 100.0);
        assert_eq!(latency.mean_ms, 50.5);
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let latency = Latency::from_micros(vec![1_500]).unwrap();
        assert_eq!((latency.p50_ms, latency.p99_ms, latency.max_ms), (1.5, 1.5, 1.5));
    }

    #[test]
    fn no_samples_no_latency() {
        assert!(Latency::from_micros(Vec::new()).is_none());
    }
}
