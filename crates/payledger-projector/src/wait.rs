//! Read-your-writes: wait (bounded) until the live read-models have applied a given event.
//!
//! A command's response carries the `position` of the last event it appended. Positions
//! alone do not order the log (transactions commit out of position order), so the event's
//! transaction id is looked up and the pair is compared with the live checkpoint.

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use payledger_store::Checkpoint;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::ProjectorError;
use crate::registry::{self, parse_tx_id};

const POLL_FIRST: Duration = Duration::from_millis(2);
const POLL_MAX: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The live read-models include the event; they are at `live`.
    Reached { live: Checkpoint },
    /// Time ran out; the live read-models are at `live` (if any exist).
    TimedOut { target: Checkpoint, live: Option<Checkpoint> },
}

/// The read-order checkpoint of the event at `position`, if there is one (of `tenant_id`,
/// when given: another tenant's position is as unknown as a missing one).
pub async fn checkpoint_of_position<C: GenericClient>(
    client: &C,
    tenant_id: Option<Uuid>,
    position: i64,
) -> Result<Option<Checkpoint>, ProjectorError> {
    let row = client
        .query_opt(
            "SELECT tx_id::text FROM events WHERE global_position = $1 AND ($2::uuid IS NULL OR tenant_id = $2)",
            &[&position, &tenant_id],
        )
        .await?;
    match row {
        Some(row) => Ok(Some(Checkpoint { tx_id: parse_tx_id(row.try_get(0)?)?, position })),
        None => Ok(None),
    }
}

/// Waits until the live checkpoint is at or past `target`, for at most `timeout`.
pub async fn wait_for_checkpoint(
    pool: &Pool,
    target: Checkpoint,
    timeout: Duration,
) -> Result<WaitOutcome, ProjectorError> {
    let deadline = Instant::now() + timeout;
    let mut pause = POLL_FIRST;
    loop {
        let live = {
            let client = pool.get().await?;
            registry::live_checkpoint(&**client).await?.map(|(_, checkpoint)| checkpoint)
        };
        if let Some(live) = live.filter(|live| *live >= target) {
            return Ok(WaitOutcome::Reached { live });
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(WaitOutcome::TimedOut { target, live });
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(POLL_MAX);
    }
}

/// Waits until the event at `position` is in the live read-models, for at most `timeout`.
pub async fn wait_for_position(pool: &Pool, position: i64, timeout: Duration) -> Result<WaitOutcome, ProjectorError> {
    let target = {
        let client = pool.get().await?;
        checkpoint_of_position(&**client, None, position).await?.ok_or(ProjectorError::UnknownPosition(position))?
    };
    wait_for_checkpoint(pool, target, timeout).await
}
