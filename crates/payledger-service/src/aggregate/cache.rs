//! Decided aggregate state per stream, so that a command on a long stream folds only the
//! events recorded since, not the whole stream.

use std::any::{Any, TypeId};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lru::LruCache;
use payledger_store::StreamKey;
use uuid::Uuid;

use super::Aggregate;

/// Streams a cache keeps unless configured otherwise.
pub const STATE_CACHE_ENTRIES_DEFAULT: usize = 10_000;

/// The tenant is part of the key: another tenant's stream of the same id is another entry.
#[derive(Debug, Hash, PartialEq, Eq)]
struct Key {
    aggregate: TypeId,
    tenant_id: Uuid,
    stream_id: String,
}

impl Key {
    fn of<A: Aggregate + 'static>(stream: &StreamKey) -> Key {
        Key { aggregate: TypeId::of::<A>(), tenant_id: stream.tenant_id, stream_id: stream.stream_id.clone() }
    }
}

struct Entry {
    version: i64,
    last_event_id: Uuid,
    state: Arc<dyn Any + Send + Sync>,
}

/// A cached state with the event it was folded up to: the stream's event at `version` must
/// still be `last_event_id` for the state to be used (see `aggregate::fold_cached`).
#[derive(Debug, Clone, PartialEq)]
pub struct Cached<S> {
    pub state: S,
    pub version: i64,
    pub last_event_id: Uuid,
}

/// States as of a committed version, the least recently used evicted first; clones share
/// one cache. Events 1..=version never change, so folding the events after `version` onto
/// the cached state equals folding the whole stream, whoever appended since.
#[derive(Clone, Default)]
pub struct StateCache {
    /// `None`: caching is off (a capacity of 0).
    entries: Option<Arc<Mutex<LruCache<Key, Entry>>>>,
}

impl StateCache {
    /// A cache of at most `max_entries` streams; 0 turns caching off.
    pub fn new(max_entries: usize) -> StateCache {
        let entries = NonZeroUsize::new(max_entries).map(|cap| Arc::new(Mutex::new(LruCache::new(cap))));
        StateCache { entries }
    }

    /// The cached `(state, version)` of the stream, if any.
    pub fn get<A: Aggregate + 'static>(&self, stream: &StreamKey) -> Option<(A::State, i64)> {
        self.get_cached::<A>(stream).map(|c| (c.state, c.version))
    }

    /// The cached state of the stream with the event it was folded up to, if any.
    pub fn get_cached<A: Aggregate + 'static>(&self, stream: &StreamKey) -> Option<Cached<A::State>> {
        let (version, last_event_id, state) = {
            let mut entries = self.lock()?;
            let entry = entries.get(&Key::of::<A>(stream))?;
            (entry.version, entry.last_event_id, entry.state.clone())
        };
        // Cloned outside the lock: a large state does not hold up other streams.
        let state = state.downcast::<A::State>().ok()?;
        Some(Cached { state: (*state).clone(), version, last_event_id })
    }

    /// Keeps `state` as the stream's state at `version`, whose event is `last_event_id`. Only
    /// for a state folded from committed events; a newer entry already there is kept.
    pub fn put<A: Aggregate + 'static>(&self, stream: &StreamKey, version: i64, last_event_id: Uuid, state: &A::State) {
        let state: Arc<dyn Any + Send + Sync> = Arc::new(state.clone());
        let Some(mut entries) = self.lock() else { return };
        let key = Key::of::<A>(stream);
        if entries.get(&key).is_some_and(|e| e.version >= version) {
            return;
        }
        entries.put(key, Entry { version, last_event_id, state });
    }

    /// Forgets the stream (its entry disagreed with the store).
    pub fn remove<A: Aggregate + 'static>(&self, stream: &StreamKey) {
        if let Some(mut entries) = self.lock() {
            entries.pop(&Key::of::<A>(stream));
        }
    }

    /// The version cached for the stream, without touching its recency.
    pub fn version_of<A: Aggregate + 'static>(&self, stream: &StreamKey) -> Option<i64> {
        self.lock()?.peek(&Key::of::<A>(stream)).map(|e| e.version)
    }

    /// Streams cached now.
    pub fn len(&self) -> usize {
        self.lock().map_or(0, |entries| entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Option<MutexGuard<'_, LruCache<Key, Entry>>> {
        // A panic while holding the lock cannot leave an entry half-written: keep using it.
        Some(self.entries.as_ref()?.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{OrderAggregate, PaymentAggregate};
    use payledger_core::payment::PaymentState;

    fn stream(tenant_id: Uuid, n: u32) -> StreamKey {
        StreamKey::new(tenant_id, format!("payment-{n}"))
    }

    #[test]
    fn the_bound_on_entries_holds_and_the_least_recent_goes_first() {
        let cache = StateCache::new(3);
        let tenant = Uuid::now_v7();
        for n in 0..10 {
            cache.put::<PaymentAggregate>(&stream(tenant, n), 1, Uuid::nil(), &PaymentState::default());
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get::<PaymentAggregate>(&stream(tenant, 6)).is_none());
        assert!(cache.get::<PaymentAggregate>(&stream(tenant, 7)).is_some());
    }

    #[test]
    fn another_tenant_or_aggregate_never_reads_an_entry() {
        let cache = StateCache::new(10);
        let (mine, theirs) = (Uuid::now_v7(), Uuid::now_v7());
        cache.put::<PaymentAggregate>(&stream(mine, 1), 4, Uuid::nil(), &PaymentState::default());
        assert!(cache.get::<PaymentAggregate>(&stream(theirs, 1)).is_none());
        assert!(cache.get::<OrderAggregate>(&stream(mine, 1)).is_none());
        assert_eq!(cache.get::<PaymentAggregate>(&stream(mine, 1)).map(|(_, v)| v), Some(4));
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let cache = StateCache::new(10);
        let key = stream(Uuid::now_v7(), 1);
        cache.put::<PaymentAggregate>(&key, 7, Uuid::nil(), &PaymentState::default());
        cache.put::<PaymentAggregate>(&key, 5, Uuid::nil(), &PaymentState::default());
        assert_eq!(cache.version_of::<PaymentAggregate>(&key), Some(7));
        cache.put::<PaymentAggregate>(&key, 9, Uuid::nil(), &PaymentState::default());
        assert_eq!(cache.version_of::<PaymentAggregate>(&key), Some(9));
    }

    #[test]
    fn a_capacity_of_zero_caches_nothing() {
        let cache = StateCache::new(0);
        let key = stream(Uuid::now_v7(), 1);
        cache.put::<PaymentAggregate>(&key, 1, Uuid::nil(), &PaymentState::default());
        assert!(cache.get::<PaymentAggregate>(&key).is_none());
        assert!(cache.is_empty());
    }
}
