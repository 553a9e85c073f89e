//! The sealer: behind the writers, on the gap-free reader, it writes a seal whenever enough
//! events wait or the newest seal is old enough (docs/AUDIT.md §4). Appends never wait for it.

use std::time::Duration;

use deadpool_postgres::Pool;
use payledger_store::seal::{seal_pending, Seal, SealPolicy};
use tokio::task::JoinHandle;

use crate::error::ServiceResult;

/// Default of `PAYLEDGER_SEAL_EVERY_EVENTS`.
pub const SEAL_EVERY_EVENTS_DEFAULT: i64 = 1_000;
/// Default of `PAYLEDGER_SEAL_INTERVAL_S`.
pub const SEAL_INTERVAL_S_DEFAULT: u64 = 60;
/// Most seals one round writes before it pauses (a long unsealed history is sealed over
/// several rounds rather than in one burst).
const SEALS_PER_ROUND_MAX: usize = 100;

#[derive(Debug, Clone, Copy)]
pub struct SealerConfig {
    pub policy: SealPolicy,
    /// How often it looks for events to seal.
    pub poll_interval: Duration,
}

impl Default for SealerConfig {
    fn default() -> SealerConfig {
        SealerConfig {
            policy: SealPolicy {
                every_events: SEAL_EVERY_EVENTS_DEFAULT,
                max_age: Duration::from_secs(SEAL_INTERVAL_S_DEFAULT),
            },
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Writes seals while the policy says so (full seals while that many events wait, then at
/// most one partial one); the seals written, oldest first.
pub async fn seal_round(pool: &Pool, policy: SealPolicy) -> ServiceResult<Vec<Seal>> {
    let mut client = pool.get().await?;
    let mut written = Vec::new();
    while written.len() < SEALS_PER_ROUND_MAX {
        let Some(seal) = seal_pending(&mut client, policy).await? else { break };
        metrics::counter!("payledger_seals_written_total").increment(1);
        metrics::counter!("payledger_events_sealed_total").increment(seal.event_count.max(0) as u64);
        let full = policy.is_full(&seal);
        written.push(seal);
        if !full {
            break;
        }
    }
    Ok(written)
}

pub fn spawn_sealer(pool: Pool, config: SealerConfig) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = seal_round(&pool, config.policy).await {
                tracing::warn!(%error, "sealing failed; trying again");
            }
            tokio::time::sleep(config.poll_interval).await;
        }
    })
}
