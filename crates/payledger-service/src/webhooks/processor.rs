//! When deliveries are interpreted: at once after the answer (inline, bounded), and by a
//! background sweep that picks up whatever is still pending when its time has come:
//! deliveries whose inline run failed (retries with backoff) and deliveries acknowledged
//! just before a crash.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::error::WebhookResult;
use super::process::{process_delivery, Mode, Outcome, RetryPolicy};

/// Inline interpretations running at once, per process. Few: receipts are what a gateway
/// waits for, and on a busy machine every interpretation running beside them slows them
/// down; the others wait their turn in order.
pub const INLINE_MAX_RUNNING: usize = 4;
/// Deliveries waiting for an inline interpretation, per process; beyond, the sweep takes
/// them once their grace period is over (they are stored, so none is lost).
pub const INLINE_MAX_QUEUED: usize = 10_000;

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

/// The running slots and the count of deliveries waiting for one.
struct InlineQueue {
    running: Arc<Semaphore>,
    queued: AtomicUsize,
}

fn inline_queue() -> &'static InlineQueue {
    static QUEUE: OnceLock<InlineQueue> = OnceLock::new();
    QUEUE.get_or_init(|| InlineQueue {
        running: Arc::new(Semaphore::new(INLINE_MAX_RUNNING)),
        queued: AtomicUsize::new(0),
    })
}

/// Interprets freshly received deliveries in the background, in the order received, at
/// most [`INLINE_MAX_RUNNING`] at once; when [`INLINE_MAX_QUEUED`] are already waiting the
/// sweep takes them once their grace period is over.
pub fn dispatch_inline(pool: Pool, delivery_ids: Vec<Uuid>) {
    if delivery_ids.is_empty() {
        return;
    }
    let queue = inline_queue();
    let count = delivery_ids.len();
    let admitted = queue
        .queued
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
            (queued + count <= INLINE_MAX_QUEUED).then_some(queued + count)
        })
        .is_ok();
    if !admitted {
        tracing::debug!(count, "inline webhook queue full; leaving deliveries to the sweep");
        return;
    }
    tokio::spawn(async move {
        // Semaphore waiters are served first come, first served.
        let permit = Arc::clone(&queue.running).acquire_owned().await;
        queue.queued.fetch_sub(count, Ordering::AcqRel);
        let Ok(_permit) = permit else { return };
        let policy = RetryPolicy::default();
        for id in delivery_ids {
            // Failures are recorded with their retry time by process_delivery.
            let _ = process_delivery(&pool, id, Mode::Inline, &policy).await;
        }
    });
}

/// Deliveries waiting for an inline interpretation in this process (for metrics and tests).
pub fn inline_queued() -> usize {
    inline_queue().queued.load(Ordering::Acquire)
}
