//! Rate limits: a token bucket (GCRA, `governor`) per API key and per webhook endpoint, in
//! this process. With several server processes each enforces the limit on its own share.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use uuid::Uuid;

/// Largest rate or burst a limit may have (the database's CHECK says the same).
pub const RATE_LIMIT_MAX: u32 = 1_000_000;
/// Buckets kept at once; past it all are dropped and start full again (bounded memory).
pub const BUCKETS_MAX: usize = 100_000;

/// Requests per second, and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_s: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Limit {
    /// A limit from configured numbers, each clamped to 1..=[`RATE_LIMIT_MAX`].
    pub fn of(per_s: u32, burst: u32) -> Limit {
        let clamp = |n: u32| NonZeroU32::new(n.clamp(1, RATE_LIMIT_MAX)).unwrap_or(NonZeroU32::MIN);
        Limit { per_s: clamp(per_s), burst: clamp(burst) }
    }

    fn quota(self) -> Quota {
        Quota::per_second(self.per_s).allow_burst(self.burst)
    }
}

type Bucket = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// The outcome of one request against its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { limit: Limit, remaining: u32 },
    Refused { limit: Limit, retry_after: Duration },
}

impl Decision {
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds), and on a refusal
    /// `Retry-After` (whole seconds, at least 1).
    pub fn write_headers(self, headers: &mut HeaderMap) {
        let (limit, remaining, reset_s) = match self {
            Decision::Allowed { limit, remaining } => {
                let used = limit.burst.get().saturating_sub(remaining);
                (limit, remaining, used.div_ceil(limit.per_s.get()))
            }
            Decision::Refused { limit, retry_after } => {
                let retry_s = whole_seconds(retry_after);
                headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(retry_s));
                (limit, 0, u32::try_from(retry_s).unwrap_or(u32::MAX))
            }
        };
        for (name, value) in
            [("ratelimit-limit", limit.burst.get()), ("ratelimit-remaining", remaining), ("ratelimit-reset", reset_s)]
        {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
}

/// Rounded up, at least 1: a client told 0 would retry at once.
fn whole_seconds(wait: Duration) -> u64 {
    let rounded_up = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    rounded_up.max(1)
}

/// One bucket per id (an API key's or a webhook endpoint's), made on first use.
pub struct RateLimits {
    buckets: Mutex<HashMap<Uuid, (Limit, Arc<Bucket>)>>,
    clock: DefaultClock,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { buckets: Mutex::new(HashMap::new()), clock: DefaultClock::default() }
    }
}

impl RateLimits {
    /// Takes one request from `id`'s bucket. A changed limit starts a new, full bucket.
    pub fn check(&self, id: Uuid, limit: Limit) -> Decision {
        let bucket = self.bucket(id, limit);
        match bucket.check() {
            Ok(snapshot) => Decision::Allowed { limit, remaining: snapshot.remaining_burst_capacity() },
            Err(not_until) => Decision::Refused { limit, retry_after: not_until.wait_time_from(self.clock.now()) },
        }
    }

    fn bucket(&self, id: Uuid, limit: Limit) -> Arc<Bucket> {
        // The map holds no invariant a panicking holder could break.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((known, bucket)) = buckets.get(&id) {
            if *known == limit {
                return Arc::clone(bucket);
            }
        }
        if buckets.len() >= BUCKETS_MAX {
            buckets.clear();
        }
        let bucket = Arc::new(RateLimiter::direct(limit.quota()).with_middleware::<StateInformationMiddleware>());
        buckets.insert(id, (limit, Arc::clone(&bucket)));
        bucket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rest_waits_with_a_retry_time() {
        let limits = RateLimits::default();
        let id = Uuid::now_v7();
        let limit = Limit::of(1, 3);
        let remaining: Vec<_> = (0..3)
            .map(|_| match limits.check(id, limit) {
                Decision::Allowed { remaining, .. } => remaining,
                refused => panic!("{refused:?}"),
            })
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let Decision::Refused { retry_after, .. } = limits.check(id, limit) else { panic!("the 4th passed") };
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1), "{retry_after:?}");
        assert!(matches!(limits.check(Uuid::now_v7(), limit), Decision::Allowed { .. }), "buckets are per id");
        assert!(matches!(limits.check(id, Limit::of(1, 5)), Decision::Allowed { .. }), "a new limit, a new bucket");
    }

    #[test]
    fn headers_name_the_limit_and_a_refusal_says_when_to_retry() {
        let mut headers = HeaderMap::new();
        let limit = Limit::of(10, 20);
        Decision::Refused { limit, retry_after: Duration::from_millis(1_200) }.write_headers(&mut headers);
        assert_eq!(headers["retry-after"], "2");
        assert_eq!(headers["ratelimit-limit"], "20");
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert_eq!(headers["ratelimit-reset"], "2");
        let mut headers = HeaderMap::new();
        Decision::Allowed { limit, remaining: 5 }.write_headers(&mut headers);
        assert!(headers.get("retry-after").is_none());
        assert_eq!(
            (headers["ratelimit-remaining"].to_str().unwrap(), headers["ratelimit-reset"].to_str().unwrap()),
            ("5", "2")
        );
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
    }

    #[test]
    fn limits_are_clamped_to_their_bounds() {
        assert_eq!(Limit::of(0, u32::MAX), Limit::of(1, RATE_LIMIT_MAX));
    }
}
