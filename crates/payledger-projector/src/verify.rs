//! Verify: fold the events afresh into a scratch version and compare it with the live
//! read-models at the same checkpoint, table by table, row by row, field by field; then
//! check the live journal balances and that every balance is the sum of its entries.
//!
//! Both sides must stand at the same point of the log. The scratch version first follows
//! the live checkpoint (which keeps moving); then the live checkpoint row is locked for a
//! moment (the live projector waits), the scratch catches up to exactly that checkpoint, a
//! repeatable-read snapshot is taken of both, and the lock is released. The comparison runs
//! on that snapshot while the projector carries on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use payledger_store::{Checkpoint, ReadAllFilter, READ_MAX_BATCH};
use serde::Serialize;
use tokio_postgres::IsolationLevel;
use uuid::Uuid;

use crate::batch::{move_checkpoint_to, run_batch, Limits, Step, Target};
use crate::cache::StateCache;
use crate::diff::{check_ledger, diff_table, DiffSink, Difference, DifferenceKind};
use crate::error::ProjectorError;
use crate::parked::{list_parked, ParkedStream};
use crate::registry::{self, Purpose, PROJECTION};
use crate::schema::{schema_name, TABLES};
use crate::session::{Lock, Session};

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Only this tenant's read-models (and only its events are folded).
    pub tenant_id: Option<Uuid>,
    /// Differences listed in full; beyond, they are only counted.
    pub max_differences: usize,
    pub batch_size: i64,
    pub cache_max_streams: usize,
    pub statement_timeout_ms: u64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            tenant_id: None,
            max_differences: 1_000,
            batch_size: 2_000,
            cache_max_streams: 20_000,
            statement_timeout_ms: 600_000,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub live_version: i32,
    /// The point of the log both sides were compared at.
    pub checkpoint: Checkpoint,
    pub tenant_id: Option<Uuid>,
    /// Rows that differ, per table.
    pub differing_rows: BTreeMap<String, u64>,
    pub differences: Vec<Difference>,
    pub differences_total: u64,
    /// More differences exist than are listed.
    pub truncated: bool,
    /// Streams parked in the live version (each also counts as a difference).
    pub parked_streams: Vec<ParkedStream>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.differences_total == 0
    }
}

/// How far the fresh fold is: events folded, and of about how many (the log grows meanwhile).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerifyProgress {
    pub events_done: u64,
    pub events_total: u64,
}

/// Attempts at the comparison when it meets a transient database condition (a lock or
/// statement timeout, a deadlock, a serialization failure) before that error is returned.
const VERIFY_ATTEMPTS: u32 = 3;

/// Verifies the live read-models against a fresh fold. Holds the maintenance lock (fails
/// with `MaintenanceBusy` during a rebuild or another verify). A transient database error is
/// retried a few times (the scratch version keeps what it folded); if it persists it is
/// returned, and [`ProjectorError::is_transient`] tells it apart.
pub async fn verify(database_url: &str, options: &VerifyOptions) -> Result<VerifyReport, ProjectorError> {
    verify_with_progress(database_url, options, |_| {}).await
}

/// [`verify`], calling `progress` after every batch of the fresh fold.
pub async fn verify_with_progress<F: FnMut(&VerifyProgress) + Send>(
    database_url: &str,
    options: &VerifyOptions,
    mut progress: F,
) -> Result<VerifyReport, ProjectorError> {
    let mut session = Session::connect(database_url, options.statement_timeout_ms).await?;
    if !session.try_lock(Lock::Maintenance).await? {
        return Err(ProjectorError::MaintenanceBusy { projection: PROJECTION.to_owned() });
    }
    let result = verify_locked(&mut session, database_url, options, &mut progress).await;
    session.unlock(Lock::Maintenance).await?;
    result
}

async fn verify_locked<F: FnMut(&VerifyProgress) + Send>(
    session: &mut Session,
    database_url: &str,
    options: &VerifyOptions,
    progress: &mut F,
) -> Result<VerifyReport, ProjectorError> {
    registry::ensure_initialized(&mut session.client).await?;
    registry::drop_unused_versions(&mut session.client).await?;
    let scratch = registry::create_building_version(&mut session.client, Purpose::Verify).await?;
    let total = count_events(&session.client, options.tenant_id).await?;
    let mut counter = Counter { progress, done: VerifyProgress { events_done: 0, events_total: total.max(0) as u64 } };
    (counter.progress)(&counter.done);
    let mut attempt = 1;
    let result = loop {
        match compare_with_fresh_fold(session, database_url, scratch, options, &mut counter).await {
            Err(err) if err.is_transient() && attempt < VERIFY_ATTEMPTS => {
                tracing::warn!(attempt, error = %err, "verify met a transient database error; retrying");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            other => break other,
        }
    };
    if let Err(err) = registry::discard_building_version(&mut session.client, scratch).await {
        tracing::warn!(version = scratch, error = %err, "could not drop verify's scratch tables");
    }
    result
}

/// The progress reported so far, and to whom.
struct Counter<'a, F> {
    progress: &'a mut F,
    done: VerifyProgress,
}

impl<F: FnMut(&VerifyProgress)> Counter<'_, F> {
    fn folded(&mut self, step: &Step) {
        if let Step::Applied { events, .. } = step {
            self.done.events_done += events;
            self.done.events_total = self.done.events_total.max(self.done.events_done);
            (self.progress)(&self.done);
        }
    }
}

async fn compare_with_fresh_fold<F: FnMut(&VerifyProgress) + Send>(
    session: &mut Session,
    database_url: &str,
    scratch: i32,
    options: &VerifyOptions,
    counter: &mut Counter<'_, F>,
) -> Result<VerifyReport, ProjectorError> {
    let mut cache = StateCache::new(options.cache_max_streams);
    let mut limits = Limits {
        batch_size: options.batch_size.clamp(1, READ_MAX_BATCH),
        filter: ReadAllFilter { tenant_id: options.tenant_id, ..ReadAllFilter::default() },
        upper_bound: None,
    };

    // Follow the moving live checkpoint without holding anyone up.
    loop {
        let (_, live) = registry::live_checkpoint(&session.client).await?.ok_or_else(not_initialized)?;
        limits.upper_bound = Some(live);
        let step = run_batch(&mut session.client, &mut cache, Target::Building(scratch), &limits).await?;
        counter.folded(&step);
        if let Step::CaughtUp { .. } | Step::NoLiveVersion = step {
            break;
        }
    }

    // Hold the live checkpoint still and bring the scratch to exactly it.
    let mut locker = Session::connect(database_url, options.statement_timeout_ms).await?;
    let hold = locker.client.transaction().await?;
    let live_version: i32 = hold
        .query_one("SELECT live_version FROM projections WHERE name = $1 FOR SHARE", &[&PROJECTION])
        .await?
        .try_get::<_, Option<i32>>(0)?
        .ok_or_else(not_initialized)?;
    let (checkpoint, _) = registry::lock_checkpoint(&hold, live_version).await?.ok_or_else(not_initialized)?;
    limits.upper_bound = Some(checkpoint);
    catch_up_exactly(session, &mut cache, scratch, &limits, checkpoint, counter).await?;

    // One snapshot of both sides, then let the projector go.
    let snapshot = session
        .client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let (scratch_checkpoint, folded) = snapshot_checkpoint(&snapshot, scratch).await?;
    let (live_checkpoint, live_applied) = snapshot_checkpoint(&snapshot, live_version).await?;
    hold.rollback().await?;
    drop(locker);
    if scratch_checkpoint != checkpoint || live_checkpoint != checkpoint {
        return Err(ProjectorError::corrupt(format!(
            "verify expected both versions at {checkpoint:?}, found live {live_checkpoint:?} and fold {scratch_checkpoint:?}"
        )));
    }
    // The fresh fold read every event up to the checkpoint, each once.
    let logged = count_events_up_to(&snapshot, checkpoint, options.tenant_id).await?;
    if folded != logged {
        return Err(ProjectorError::corrupt(format!(
            "verify's fold applied {folded} events, the log holds {logged} up to {checkpoint:?}"
        )));
    }

    let expected = schema_name(PROJECTION, scratch);
    let actual = schema_name(PROJECTION, live_version);
    let mut sink = DiffSink::new(options.max_differences);
    let mut differing_rows = BTreeMap::new();
    for table in TABLES {
        let rows = diff_table(&snapshot, table, &expected, &actual, options.tenant_id, &mut sink).await?;
        differing_rows.insert(table.to_owned(), rows);
    }
    check_ledger(&snapshot, &actual, options.tenant_id, &mut sink).await?;
    let parked_streams = compare_parked(&snapshot, scratch, live_version, options.tenant_id, &mut sink).await?;
    // The live version counts every event it applied, all tenants together: only a verify
    // of every tenant can compare that count with the log's.
    if options.tenant_id.is_none() && live_applied != logged {
        sink.push(Difference {
            table: "projection_versions".to_owned(),
            kind: DifferenceKind::AppliedCount,
            tenant_id: None,
            key: format!("name={PROJECTION}, version={live_version}"),
            field: "events_applied".to_owned(),
            expected: logged.into(),
            actual: live_applied.into(),
        });
    }
    snapshot.commit().await?;

    let truncated = sink.truncated();
    Ok(VerifyReport {
        live_version,
        checkpoint,
        tenant_id: options.tenant_id,
        differing_rows,
        differences: sink.differences,
        differences_total: sink.total,
        truncated,
        parked_streams,
    })
}

/// Each stream parked live is a failure; a fresh fold must park the same streams at the same
/// events. Returns the live ones.
async fn compare_parked<C: tokio_postgres::GenericClient>(
    client: &C,
    scratch: i32,
    live: i32,
    tenant_id: Option<Uuid>,
    sink: &mut DiffSink,
) -> Result<Vec<ParkedStream>, ProjectorError> {
    let fresh = list_parked(client, scratch, tenant_id, None, i64::MAX).await?;
    let actual = list_parked(client, live, tenant_id, None, i64::MAX).await?;
    let difference = |kind, p: &ParkedStream, expected: serde_json::Value, actual: serde_json::Value| Difference {
        table: "parked_streams".to_owned(),
        kind,
        tenant_id: Some(p.tenant_id),
        key: format!("stream_id={}, event_position={}", p.stream_id, p.event_position),
        field: "*".to_owned(),
        expected,
        actual,
    };
    for p in &actual {
        sink.push(difference(DifferenceKind::Parked, p, serde_json::Value::Null, p.reason.clone().into()));
        if !fresh.iter().any(|f| f.key() == p.key() && f.event_position == p.event_position) {
            sink.push(difference(DifferenceKind::Extra, p, serde_json::Value::Null, p.reason.clone().into()));
        }
    }
    for f in fresh.iter().filter(|f| !actual.iter().any(|p| p.key() == f.key() && p.event_position == f.event_position))
    {
        sink.push(difference(DifferenceKind::Missing, f, f.reason.clone().into(), serde_json::Value::Null));
    }
    Ok(actual)
}

/// Longest the scratch may wait for events up to the live checkpoint to become readable.
const CATCH_UP_MAX_WAIT: Duration = Duration::from_secs(30);

/// Applies batches until the scratch stands exactly at `target`. Every event up to the live
/// checkpoint is readable (the live projector read them), so this normally never waits; if
/// one is not yet (held back), it waits rather than jump over it. With a tenant filter the
/// scratch jumps to `target` once none of the tenant's events lies in between.
async fn catch_up_exactly<F: FnMut(&VerifyProgress) + Send>(
    session: &mut Session,
    cache: &mut StateCache,
    scratch: i32,
    limits: &Limits,
    target: Checkpoint,
    counter: &mut Counter<'_, F>,
) -> Result<(), ProjectorError> {
    let deadline = Instant::now() + CATCH_UP_MAX_WAIT;
    loop {
        let step = run_batch(&mut session.client, cache, Target::Building(scratch), limits).await?;
        counter.folded(&step);
        match step {
            Step::Applied { .. } => continue,
            Step::CaughtUp { checkpoint, .. } if checkpoint == target => return Ok(()),
            Step::CaughtUp { checkpoint, .. } => {
                if checkpoint > target {
                    return Err(ProjectorError::corrupt(format!("verify's fold passed {target:?}: {checkpoint:?}")));
                }
                if !events_between(&session.client, checkpoint, target, limits.filter.tenant_id).await? {
                    let tx = session.client.transaction().await?;
                    move_checkpoint_to(&tx, scratch, target).await?;
                    tx.commit().await?;
                    return Ok(());
                }
            }
            Step::NoLiveVersion => return Err(not_initialized()),
        }
        if Instant::now() >= deadline {
            return Err(ProjectorError::corrupt(format!("events up to {target:?} stayed unreadable")));
        }
        tracing::warn!(?target, "verify waits for events held back by an older transaction");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether any event (of the tenant, if given) lies in `(after, up_to]`, readable yet or not.
async fn events_between<C: tokio_postgres::GenericClient>(
    client: &C,
    after: Checkpoint,
    up_to: Checkpoint,
    tenant_id: Option<Uuid>,
) -> Result<bool, ProjectorError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM events
                WHERE (tx_id, global_position) > ($1::text::xid8, $2)
                  AND (tx_id, global_position) <= ($3::text::xid8, $4)
                  AND ($5::uuid IS NULL OR tenant_id = $5))",
            &[&after.tx_id.to_string(), &after.position, &up_to.tx_id.to_string(), &up_to.position, &tenant_id],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// A version's checkpoint and the number of events it applied.
async fn snapshot_checkpoint<C: tokio_postgres::GenericClient>(
    client: &C,
    version: i32,
) -> Result<(Checkpoint, i64), ProjectorError> {
    let row = client
        .query_one(
            "SELECT checkpoint_tx_id::text, checkpoint_position, events_applied FROM projection_versions
             WHERE name = $1 AND version = $2",
            &[&PROJECTION, &version],
        )
        .await?;
    Ok((Checkpoint { tx_id: registry::parse_tx_id(row.try_get(0)?)?, position: row.try_get(1)? }, row.try_get(2)?))
}

async fn count_events_up_to<C: tokio_postgres::GenericClient>(
    client: &C,
    up_to: Checkpoint,
    tenant_id: Option<Uuid>,
) -> Result<i64, ProjectorError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM events WHERE (tx_id, global_position) <= ($1::text::xid8, $2)
                AND ($3::uuid IS NULL OR tenant_id = $3)",
            &[&up_to.tx_id.to_string(), &up_to.position, &tenant_id],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// The events (of the tenant) there are now: the progress total's estimate.
async fn count_events<C: tokio_postgres::GenericClient>(
    client: &C,
    tenant_id: Option<Uuid>,
) -> Result<i64, ProjectorError> {
    let row = client
        .query_one("SELECT count(*) FROM events WHERE ($1::uuid IS NULL OR tenant_id = $1)", &[&tenant_id])
        .await?;
    Ok(row.try_get(0)?)
}

fn not_initialized() -> ProjectorError {
    ProjectorError::VersionMissing { projection: PROJECTION.to_owned(), version: 0, expected_state: "live" }
}
