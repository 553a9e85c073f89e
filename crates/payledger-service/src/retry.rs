//! The one backoff between retries: commands that lost a race, webhook interpretations
//! that failed.

use std::time::Duration;

/// `base * 2^(attempt-1)`, capped at `cap`, with jitter in [50 %, 100 %] so that work that
/// failed together does not retry together. `attempt` counts from 1.
pub fn backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1u32 << exponent).min(cap);
    let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..=1.0);
    ceiling.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_base_up_to_the_cap() {
        let (base, cap) = (Duration::from_millis(2), Duration::from_millis(100));
        for attempt in 1..40u32 {
            let wait = backoff(base, cap, attempt);
            let ceiling = base.saturating_mul(1 << (attempt - 1).min(30)).min(cap);
            assert!(wait <= ceiling && wait >= ceiling / 2, "{attempt}: {wait:?}");
        }
        assert!(backoff(base, cap, 1) <= Duration::from_millis(2));
        assert!(backoff(base, cap, 40) >= cap / 2);
    }
}
