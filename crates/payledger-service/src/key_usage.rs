//! When each API key was last used and how often: counted in memory and written at most
//! once per interval per key (a busy key would otherwise update its row on every request,
//! and every request would wait for that write).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::error::ServiceResult;

/// Keys counted at once; a key beyond them has each use written at once (bounded memory).
pub const KEY_USAGE_MAX_KEYS: usize = 100_000;

/// Uses counted since each key's last write.
pub struct KeyUsage {
    flush_interval: Duration,
    keys: Mutex<HashMap<Uuid, Pending>>,
}

struct Pending {
    uses: i64,
    written_at: Instant,
}

impl KeyUsage {
    pub fn new(flush_interval: Duration) -> Self {
        KeyUsage { flush_interval, keys: Mutex::new(HashMap::new()) }
    }

    /// Counts one use of the key; returns the uses to write now when the key's last write
    /// is an interval old (or it has none in this process).
    pub fn count(&self, key_id: Uuid) -> Option<i64> {
        // The map holds no invariant a panicking holder could break.
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match keys.get_mut(&key_id) {
            Some(pending) => {
                pending.uses += 1;
                if now.duration_since(pending.written_at) < self.flush_interval {
                    return None;
                }
                pending.written_at = now;
                Some(std::mem::take(&mut pending.uses))
            }
            None => {
                if keys.len() < KEY_USAGE_MAX_KEYS {
                    keys.insert(key_id, Pending { uses: 0, written_at: now });
                }
                Some(1)
            }
        }
    }
}

/// Adds `uses` to the key's count and stamps it as used now.
pub async fn record_usage(pool: &deadpool_postgres::Pool, key_id: Uuid, uses: i64) -> ServiceResult<()> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("UPDATE api_keys SET last_used_at = now(), use_count = use_count + $2 WHERE key_id = $1")
        .await?;
    client.execute(&statement, &[&key_id, &uses]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_use_is_written_then_uses_gather_until_the_interval_is_over() {
        let usage = KeyUsage::new(Duration::from_millis(50));
        let key = Uuid::now_v7();
        assert_eq!(usage.count(key), Some(1));
        assert_eq!(usage.count(key), None);
        assert_eq!(usage.count(key), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(usage.count(key), Some(3), "the two gathered and this one");
        assert_eq!(usage.count(key), None);
        assert_eq!(usage.count(Uuid::now_v7()), Some(1), "another key has its own interval");
    }
}
