//! Admitting a delivery from its path and headers alone, before its body is read.
//!
//! Anyone can POST to the webhook route, so its bounds are its own, not the API's:
//!
//! - Endpoints seen recently are cached (existence and provider only, which never change;
//!   secrets are read for every delivery, so a rotation takes effect at once). Endpoints not
//!   in the cache are looked up with at most `webhook_max_unknown_lookups` lookups at once:
//!   a flood of random endpoint ids is answered 404 or 503 there and never delays a
//!   known endpoint.
//! - Each known endpoint has `webhook_max_in_flight_per_endpoint` slots for the work after
//!   the body (verification, recording): a flood on one endpoint leaves the others alone.
//!   A slot is taken only once the whole body is in, so a sender trickling its body holds
//!   none; it holds its connection until `webhook_body_timeout_ms`, then gets 408.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use payledger_gateways::Provider;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::state::ApiConfig;
use payledger_service::webhooks::endpoints::endpoint_provider;
use payledger_service::webhooks::{WebhookError, WebhookResult};

/// How long a cached endpoint is trusted before it is looked up again.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Endpoints cached at most; beyond, the stale ones go first, then any one.
pub const CACHE_MAX_ENDPOINTS: usize = 10_000;

pub struct Admission {
    known: Mutex<HashMap<Uuid, Known>>,
    unknown_lookups: Arc<Semaphore>,
    slots_per_endpoint: usize,
}

#[derive(Clone)]
struct Known {
    provider: Provider,
    checked_at: Instant,
    slots: Arc<Semaphore>,
}

/// A delivery to an endpoint that exists for this provider; its body may be read.
pub struct Admitted {
    slots: Arc<Semaphore>,
}

impl Admitted {
    /// A slot for the work after the body, or 503 when the endpoint has none free.
    pub fn start(&self) -> WebhookResult<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| WebhookError::Overloaded("this webhook endpoint"))
    }
}

impl Admission {
    pub fn new(config: &ApiConfig) -> Self {
        Admission {
            known: Mutex::new(HashMap::new()),
            unknown_lookups: Arc::new(Semaphore::new(config.webhook_max_unknown_lookups.max(1))),
            slots_per_endpoint: config.webhook_max_in_flight_per_endpoint.max(1),
        }
    }

    /// The endpoint, if it exists for `provider` (otherwise [`WebhookError::EndpointNotFound`]).
    pub async fn admit(&self, pool: &Pool, endpoint_id: Uuid, provider: Provider) -> WebhookResult<Admitted> {
        let cached = self.cached(endpoint_id);
        if let Some(known) = cached.as_ref().filter(|k| k.checked_at.elapsed() < CACHE_TTL) {
            return admits(known, provider);
        }
        // Refreshing an endpoint already known does not queue behind unknown callers.
        let _lookup = match cached {
            Some(_) => None,
            None => Some(
                Arc::clone(&self.unknown_lookups)
                    .try_acquire_owned()
                    .map_err(|_| WebhookError::Overloaded("webhook endpoints not seen recently"))?,
            ),
        };
        let found = {
            let client = pool.get().await?;
            endpoint_provider(&**client, endpoint_id).await?
        };
        match found {
            Some(actual) => admits(&self.remember(endpoint_id, actual), provider),
            None => {
                self.lock().remove(&endpoint_id);
                Err(WebhookError::EndpointNotFound)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Known>> {
        // The map holds no invariant a panicking holder could break.
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cached(&self, endpoint_id: Uuid) -> Option<Known> {
        self.lock().get(&endpoint_id).cloned()
    }

    /// Caches the endpoint as checked now, keeping its slots if it was cached.
    fn remember(&self, endpoint_id: Uuid, provider: Provider) -> Known {
        let mut known = self.lock();
        if !known.contains_key(&endpoint_id) && known.len() >= CACHE_MAX_ENDPOINTS {
            known.retain(|_, k| k.checked_at.elapsed() < CACHE_TTL);
            if known.len() >= CACHE_MAX_ENDPOINTS {
                if let Some(victim) = known.keys().next().copied() {
                    known.remove(&victim);
                }
            }
        }
        let slots_per_endpoint = self.slots_per_endpoint;
        let entry = known.entry(endpoint_id).or_insert_with(|| Known {
            provider,
            checked_at: Instant::now(),
            slots: Arc::new(Semaphore::new(slots_per_endpoint)),
        });
        entry.provider = provider;
        entry.checked_at = Instant::now();
        entry.clone()
    }
}

/// An endpoint of another provider is the same 404 as no endpoint.
fn admits(known: &Known, provider: Provider) -> WebhookResult<Admitted> {
    if known.provider != provider {
        return Err(WebhookError::EndpointNotFound);
    }
    Ok(Admitted { slots: Arc::clone(&known.slots) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(slots: usize) -> Admission {
        Admission::new(&ApiConfig { webhook_max_in_flight_per_endpoint: slots, ..ApiConfig::default() })
    }

    #[test]
    fn each_endpoint_has_its_own_slots() {
        let admission = admission(1);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let busy = admits(&admission.remember(a, Provider::Stripe), Provider::Stripe).unwrap();
        let _held = busy.start().unwrap();
        let again = admits(&admission.remember(a, Provider::Stripe), Provider::Stripe).unwrap();
        assert!(matches!(again.start(), Err(WebhookError::Overloaded(_))), "a's only slot is taken");
        let other = admits(&admission.remember(b, Provider::Stripe), Provider::Stripe).unwrap();
        assert!(other.start().is_ok(), "b is not held up by a");
    }

    #[test]
    fn another_provider_is_not_found_and_the_cache_is_bounded() {
        let admission = admission(1);
        let id = Uuid::now_v7();
        let known = admission.remember(id, Provider::Adyen);
        assert!(matches!(admits(&known, Provider::Stripe), Err(WebhookError::EndpointNotFound)));
        for _ in 0..CACHE_MAX_ENDPOINTS + 5 {
            admission.remember(Uuid::now_v7(), Provider::Stripe);
        }
        assert_eq!(admission.lock().len(), CACHE_MAX_ENDPOINTS);
    }
}
