//! Wake-ups after commit, coalesced: at most one NOTIFY in flight per pool.
//!
//! A transaction that NOTIFYs holds one cluster-wide lock from its pre-commit until its
//! commit record is flushed, so notifying commits cannot share a WAL flush. The store's own
//! appends therefore notify after they commit, from a task of their pool: an append that
//! commits while a NOTIFY is in flight only marks the pool dirty, and the task sends one more
//! NOTIFY when the current one is done (so every commit is followed by a NOTIFY sent after
//! it). A NOTIFY is a hint: readers also poll, so one lost to a crash delays them, no more.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use deadpool_postgres::Pool;

use crate::append::NOTIFY_CHANNEL;

/// Per pool (keyed by its manager's address, stable while the pool lives): whether another
/// NOTIFY is owed after the one in flight. No entry: none in flight.
type Pending = HashMap<usize, bool>;

fn pending() -> MutexGuard<'static, Pending> {
    static PENDING: OnceLock<Mutex<Pending>> = OnceLock::new();
    // A panic while holding the lock cannot leave the map inconsistent: take it anyway.
    PENDING.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn pool_key(pool: &Pool) -> usize {
    std::ptr::from_ref(pool.manager()) as usize
}

/// Wakes the pool's database's listeners after a commit, coalescing with a NOTIFY in flight.
pub fn notify_committed(pool: &Pool) {
    let key = pool_key(pool);
    {
        let mut map = pending();
        if let Some(owed) = map.get_mut(&key) {
            *owed = true;
            return;
        }
        map.insert(key, false);
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        pending().remove(&key);
        return;
    };
    let pool = pool.clone();
    // Made before the task is spawned: a task dropped before its first poll (its runtime
    // shutting down) must still clear the entry, or a later pool at the same address would
    // find it and never notify.
    let in_flight = InFlight { key, armed: true };
    runtime.spawn(async move {
        // The whole guard moves in (a field alone would be captured by copy).
        let mut in_flight = in_flight;
        // The pool clone keeps the key's address alive until the entry is gone.
        loop {
            send(&pool).await;
            let mut map = pending();
            match map.get_mut(&key) {
                Some(owed) if *owed => *owed = false,
                _ => {
                    // Under the same lock as the check, so no commit can mark it in between.
                    map.remove(&key);
                    in_flight.armed = false;
                    return;
                }
            }
        }
    });
}

async fn send(pool: &Pool) {
    let sent = match pool.get().await {
        Ok(client) => client.batch_execute(&format!("NOTIFY {NOTIFY_CHANNEL}")).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(error) = sent {
        tracing::warn!(%error, "NOTIFY after commit failed; listeners fall back to polling");
    }
}

/// Removes the pool's entry however the task ends (also when its runtime shuts down), so a
/// cancelled task cannot leave the pool marked in flight and its commits unannounced.
struct InFlight {
    key: usize,
    armed: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.armed {
            pending().remove(&self.key);
        }
    }
}

/// Whether a NOTIFY of this pool is in flight (tests).
#[doc(hidden)]
pub fn notify_in_flight(pool: &Pool) -> bool {
    pending().contains_key(&pool_key(pool))
}
