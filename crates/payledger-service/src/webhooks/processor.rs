//! When deliveries are interpreted: at once after the answer (inline, bounded), and by a
//! background sweep that picks up whatever is still pending when its time has come:
//! deliveries whose inline run failed (retries with backoff) and deliveries acknowledged
//! just before a crash.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::error::WebhookResult;
use super::process::{process_delivery, Mode, Outcome, RetryPolicy};

/// Inline interpretations running at once, per process; beyond this the sweep takes over.
pub const INLINE_MAX_IN_FLIGHT: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct ProcessorConfig {
    /// Pause between sweeps when there was nothing to do.
    pub sweep_interval: Duration,
    /// Deliveries taken per sweep.
    pub sweep_batch: i64,
    pub retry: RetryPolicy,
    /// How long after receipt the sweep leaves a delivery to its inline interpretation.
    pub inline_grace: Duration,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            sweep_interval: Duration::from_secs(1),
            sweep_batch: 50,
            retry: RetryPolicy::default(),
            inline_grace: Duration::from_secs(30),
        }
    }
}

/// Sweeps forever; abort the task to stop it (every run is one transaction, so stopping
/// between or inside runs loses nothing).
pub async fn run_processor(pool: Pool, config: ProcessorConfig) {
    loop {
        match sweep_once(&pool, &config).await {
            Ok(taken) if taken > 0 => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "webhook sweep failed"),
        }
        tokio::time::sleep(config.sweep_interval).await;
    }
}

/// Interprets the due pending deliveries, oldest due first, at most one batch. Returns how
/// many were taken (not skipped).
pub async fn sweep_once(pool: &Pool, config: &ProcessorConfig) -> WebhookResult<usize> {
    let ids: Vec<Uuid> = {
        let client = pool.get().await?;
        client
            .query(
                "SELECT delivery_id FROM webhook_deliveries
                 WHERE status = 'pending' AND next_attempt_at <= now()
                 ORDER BY next_attempt_at LIMIT $1",
                &[&config.sweep_batch.max(1)],
            )
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?
    };
    let mut taken = 0;
    for id in ids {
        // A failure is recorded on the delivery (and logged) by process_delivery.
        if let Ok(outcome) = process_delivery(pool, id, Mode::Due, &config.retry).await {
            if outcome != Outcome::Skipped {
                taken += 1;
            }
        }
    }
    Ok(taken)
}

fn inline_slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(Semaphore::new(INLINE_MAX_IN_FLIGHT)))
}

/// Interprets freshly received deliveries in the background, if a slot is free; otherwise
/// the sweep takes them once their grace period is over.
pub fn dispatch_inline(pool: Pool, delivery_ids: Vec<Uuid>) {
    if delivery_ids.is_empty() {
        return;
    }
    let Ok(permit) = Arc::clone(inline_slots()).try_acquire_owned() else {
        tracing::debug!(count = delivery_ids.len(), "inline webhook slots full; leaving deliveries to the sweep");
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let policy = RetryPolicy::default();
        for id in delivery_ids {
            // Failures are recorded with their retry time by process_delivery.
            let _ = process_delivery(&pool, id, Mode::Inline, &policy).await;
        }
    });
}
