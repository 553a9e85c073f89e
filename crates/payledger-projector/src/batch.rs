//! One batch: lock the version's checkpoint, read the next events after it (gap-free order),
//! apply them, write the rows, compare-and-set the checkpoint — one transaction, so a batch
//! is applied entirely or not at all, and exactly once.

use chrono::{DateTime, Utc};
use payledger_store::{read_all, Checkpoint, ReadAllFilter, RecordedEvent};
use tokio_postgres::{Client, GenericClient};

use crate::apply::apply_batch;
use crate::cache::StateCache;
use crate::error::ProjectorError;
use crate::fresh::Written;
use crate::parked;
use crate::registry::{self, Advance, PROJECTION};
use crate::schema::schema_name;
use crate::write::write_isolating;

/// Which version a batch writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Whatever version is live when the batch starts (the live projector).
    Live,
    /// A version being built (rebuild, verify).
    Building(i32),
}

/// How far a batch reads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Limits {
    pub batch_size: i64,
    /// Only this tenant's events (verify of one tenant); the checkpoint still moves in the
    /// global read order.
    pub filter: ReadAllFilter,
    /// Stop at this checkpoint (verify compares two versions at the same point).
    pub upper_bound: Option<Checkpoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Events were applied; the checkpoint is now `checkpoint`, the last event's.
    Applied { version: i32, events: u64, checkpoint: Checkpoint, last_recorded_at: Option<DateTime<Utc>> },
    /// Nothing to apply now: no event after `checkpoint` is safe to read (or within bound).
    CaughtUp { version: i32, checkpoint: Checkpoint },
    /// There is no live version yet.
    NoLiveVersion,
}

/// Runs one batch in its own transaction.
pub(crate) async fn run_batch(
    client: &mut Client,
    cache: &mut StateCache,
    target: Target,
    limits: &Limits,
) -> Result<Step, ProjectorError> {
    let tx = client.transaction().await?;
    let version = match target {
        Target::Building(version) => version,
        Target::Live => {
            // FOR SHARE: a swap (FOR UPDATE) waits for this batch, and this batch, if it
            // starts during a swap, waits and then sees the new live version.
            let row =
                tx.query_opt("SELECT live_version FROM projections WHERE name = $1 FOR SHARE", &[&PROJECTION]).await?;
            match row.map(|r| r.try_get::<_, Option<i32>>(0)).transpose()?.flatten() {
                Some(version) => version,
                None => {
                    tx.rollback().await?;
                    return Ok(Step::NoLiveVersion);
                }
            }
        }
    };
    let expected_state = match target {
        Target::Live => "live",
        Target::Building(_) => "building",
    };
    // On an error `apply_in_tx` has cleared the cache, and dropping `tx` rolls back.
    let step = apply_in_tx(&tx, cache, version, expected_state, limits).await?;
    if matches!(step, Step::Applied { .. }) {
        if let Err(err) = tx.commit().await {
            // Committed or not, the cache may be ahead of the database: start over from it.
            cache.clear();
            return Err(err.into());
        }
    } else {
        tx.rollback().await?;
    }
    Ok(step)
}

/// One batch within the caller's transaction (the swap runs its final catch-up this way).
///
/// The cache then matches the transaction's state: a caller that does not commit it must
/// [`StateCache::clear`] the cache (on an error this function clears it itself).
pub(crate) async fn apply_in_tx<C: GenericClient>(
    tx: &C,
    cache: &mut StateCache,
    version: i32,
    expected_state: &'static str,
    limits: &Limits,
) -> Result<Step, ProjectorError> {
    let result = apply_in_tx_inner(tx, cache, version, expected_state, limits).await;
    if result.is_err() {
        cache.clear();
    }
    result
}

async fn apply_in_tx_inner<C: GenericClient>(
    tx: &C,
    cache: &mut StateCache,
    version: i32,
    expected_state: &'static str,
    limits: &Limits,
) -> Result<Step, ProjectorError> {
    let checkpoint = lock_version(tx, version, expected_state).await?;
    // Entries built for another version or checkpoint (a rolled-back batch, another
    // instance's progress) are dropped here.
    cache.begin(version, checkpoint);
    let mut events = read_all(tx, checkpoint, &limits.filter, limits.batch_size).await?;
    if let Some(bound) = limits.upper_bound {
        events.retain(|e| e.checkpoint() <= bound);
    }
    apply_events(tx, cache, version, checkpoint, &events, None).await
}

/// Runs one batch of events read ahead (the rebuild's reader) in its own transaction on a
/// building version: `after` is where they were read from, which must be the version's
/// checkpoint. `written` is what the replay has written into the version (which started
/// empty) so far; every write to the version until then went through it.
pub(crate) async fn run_read_ahead(
    client: &mut Client,
    cache: &mut StateCache,
    written: &mut Written,
    version: i32,
    after: Checkpoint,
    events: &[RecordedEvent],
) -> Result<Step, ProjectorError> {
    let tx = client.transaction().await?;
    let result = async {
        let checkpoint = lock_version(&tx, version, "building").await?;
        if checkpoint != after {
            return Err(ProjectorError::CheckpointMoved { projection: PROJECTION.to_owned(), version });
        }
        cache.begin(version, checkpoint);
        apply_events(&tx, cache, version, checkpoint, events, Some(written)).await
    }
    .await;
    let step = match result {
        Ok(step) => step,
        Err(err) => {
            cache.clear();
            return Err(err);
        }
    };
    if matches!(step, Step::Applied { .. }) {
        if let Err(err) = tx.commit().await {
            cache.clear();
            return Err(err.into());
        }
    } else {
        tx.rollback().await?;
    }
    Ok(step)
}

/// Locks the version's registry row and returns its checkpoint, if it is in `expected_state`.
async fn lock_version<C: GenericClient>(
    tx: &C,
    version: i32,
    expected_state: &'static str,
) -> Result<Checkpoint, ProjectorError> {
    let missing = || ProjectorError::VersionMissing { projection: PROJECTION.to_owned(), version, expected_state };
    let (checkpoint, state) = registry::lock_checkpoint(tx, version).await?.ok_or_else(missing)?;
    if state != expected_state {
        return Err(missing());
    }
    Ok(checkpoint)
}

/// Applies `events` (read after `checkpoint`, the locked one), writes the rows and moves the
/// checkpoint to the last event's. With `written`, the version started empty and `written`
/// holds what was written to it since (see `fresh.rs`).
async fn apply_events<C: GenericClient>(
    tx: &C,
    cache: &mut StateCache,
    version: i32,
    checkpoint: Checkpoint,
    events: &[RecordedEvent],
    mut written: Option<&mut Written>,
) -> Result<Step, ProjectorError> {
    if events.is_empty() {
        cache.end(version, checkpoint);
        return Ok(Step::CaughtUp { version, checkpoint });
    }
    let schema = schema_name(PROJECTION, version);
    let already_parked = parked::parked_among(tx, version, events).await?;
    let mut applied = apply_batch(tx, &schema, cache, events, &already_parked, written.as_deref()).await?;
    write_isolating(tx, &schema, events, &mut applied, written.as_deref()).await?;
    if let Some(written) = written.as_mut() {
        written.record(&applied);
    }
    parked::record(tx, version, &applied.parked).await?;
    for stream in &applied.parked {
        cache.forget(&stream.key());
    }
    let (to, last_recorded_at) = applied.last.map(|(c, at)| (c, Some(at))).unwrap_or((checkpoint, None));
    let advance = Advance { from: checkpoint, to, events: applied.events, last_event_recorded_at: last_recorded_at };
    registry::advance_checkpoint(tx, version, &advance).await?;
    cache.trim();
    cache.end(version, to);
    metrics::counter!("payledger_projector_events_total").increment(applied.events);
    if applied.skipped > 0 {
        metrics::counter!("payledger_projector_events_skipped_total").increment(applied.skipped);
    }
    Ok(Step::Applied { version, events: applied.events, checkpoint: to, last_recorded_at })
}

/// Sets a building version's checkpoint to `to` without applying anything: used by verify
/// of one tenant, whose filtered reads stop short of the bound when the tenant has no
/// events up to it.
pub(crate) async fn move_checkpoint_to<C: GenericClient>(
    client: &C,
    version: i32,
    to: Checkpoint,
) -> Result<(), ProjectorError> {
    let (from, _) = registry::lock_checkpoint(client, version).await?.ok_or(ProjectorError::VersionMissing {
        projection: PROJECTION.to_owned(),
        version,
        expected_state: "building",
    })?;
    if from == to {
        return Ok(());
    }
    let advance = Advance { from, to, events: 0, last_event_recorded_at: None };
    registry::advance_checkpoint(client, version, &advance).await
}
