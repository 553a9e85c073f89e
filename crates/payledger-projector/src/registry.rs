//! The registry rows (`projections`, `projection_versions`): which version is live, each
//! version's checkpoint, and the compare-and-set that advances it.

use chrono::{DateTime, Utc};
use payledger_store::Checkpoint;
use serde::Serialize;
use tokio_postgres::{Client, GenericClient, Row};

use crate::error::ProjectorError;
use crate::parked;
use crate::schema;

/// The one projection of this crate: all six read-model tables, projected together so that
/// an order's sums, its payments and the journal always agree with each other.
pub const PROJECTION: &str = "read_models";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Initial,
    Rebuild,
    Verify,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Initial => "initial",
            Purpose::Rebuild => "rebuild",
            Purpose::Verify => "verify",
        }
    }
}

/// One version's registry row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    pub name: String,
    pub version: i32,
    pub state: String,
    pub purpose: String,
    pub checkpoint: Checkpoint,
    pub events_applied: i64,
    pub events_total_estimate: Option<i64>,
    pub last_event_recorded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub live_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
}

const VERSION_COLUMNS: &str = "name, version, state, purpose, checkpoint_tx_id::text, checkpoint_position, \
     events_applied, events_total_estimate, last_event_recorded_at, created_at, updated_at, live_at, retired_at";

fn version_info(row: &Row) -> Result<VersionInfo, ProjectorError> {
    Ok(VersionInfo {
        name: row.try_get(0)?,
        version: row.try_get(1)?,
        state: row.try_get(2)?,
        purpose: row.try_get(3)?,
        checkpoint: Checkpoint { tx_id: parse_tx_id(row.try_get(4)?)?, position: row.try_get(5)? },
        events_applied: row.try_get(6)?,
        events_total_estimate: row.try_get(7)?,
        last_event_recorded_at: row.try_get(8)?,
        created_at: row.try_get(9)?,
        updated_at: row.try_get(10)?,
        live_at: row.try_get(11)?,
        retired_at: row.try_get(12)?,
    })
}

pub(crate) fn parse_tx_id(text: String) -> Result<u64, ProjectorError> {
    text.parse().map_err(|_| ProjectorError::corrupt(format!("checkpoint tx_id {text:?} is not an xid8")))
}

/// Versions that are live or building, oldest first.
pub async fn current_versions<C: GenericClient>(client: &C) -> Result<Vec<VersionInfo>, ProjectorError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM projection_versions WHERE state IN ('live', 'building') ORDER BY name, version"
    );
    client.query(&sql, &[]).await?.iter().map(version_info).collect()
}

/// The live version of the projection, if the projector ever ran.
pub async fn live_version<C: GenericClient>(client: &C) -> Result<Option<i32>, ProjectorError> {
    let row = client.query_opt("SELECT live_version FROM projections WHERE name = $1", &[&PROJECTION]).await?;
    Ok(match row {
        Some(row) => row.try_get(0)?,
        None => None,
    })
}

/// The live version and its checkpoint.
pub async fn live_checkpoint<C: GenericClient>(client: &C) -> Result<Option<(i32, Checkpoint)>, ProjectorError> {
    let row = client
        .query_opt(
            "SELECT v.version, v.checkpoint_tx_id::text, v.checkpoint_position
             FROM projections p JOIN projection_versions v ON v.name = p.name AND v.version = p.live_version
             WHERE p.name = $1",
            &[&PROJECTION],
        )
        .await?;
    match row {
        Some(row) => {
            let checkpoint = Checkpoint { tx_id: parse_tx_id(row.try_get(1)?)?, position: row.try_get(2)? };
            Ok(Some((row.try_get(0)?, checkpoint)))
        }
        None => Ok(None),
    }
}

/// Makes sure a live version exists (creating version 1, empty at the start, on first use);
/// returns it. Concurrent callers queue on the registry row; one creates, the others see it.
pub async fn ensure_initialized(client: &mut Client) -> Result<i32, ProjectorError> {
    if let Some(version) = live_version(&*client).await? {
        return Ok(version);
    }
    let tx = client.transaction().await?;
    tx.execute("INSERT INTO projections (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", &[&PROJECTION]).await?;
    let row = tx.query_one("SELECT live_version FROM projections WHERE name = $1 FOR UPDATE", &[&PROJECTION]).await?;
    if let Some(version) = row.try_get::<_, Option<i32>>(0)? {
        return Ok(version);
    }
    let version = next_version(&tx).await?;
    schema::create_tables(&tx, PROJECTION, version).await?;
    schema::create_query_indexes(&tx, PROJECTION, version).await?;
    tx.execute(
        "INSERT INTO projection_versions (name, version, state, purpose, live_at) VALUES ($1, $2, 'live', $3, now())",
        &[&PROJECTION, &version, &Purpose::Initial.as_str()],
    )
    .await?;
    tx.execute(
        "UPDATE projections SET live_version = $2, updated_at = now() WHERE name = $1",
        &[&PROJECTION, &version],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(projection = PROJECTION, version, "read-models initialised");
    Ok(version)
}

/// Takes the next version number (never reused; the row lock also serialises creators).
async fn next_version<C: GenericClient>(client: &C) -> Result<i32, ProjectorError> {
    let row = client
        .query_one(
            "UPDATE projections SET next_version = next_version + 1 WHERE name = $1 RETURNING next_version - 1",
            &[&PROJECTION],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Creates a fresh, empty version in state `building`, with its tables, at the start of
/// the event log.
pub(crate) async fn create_building_version(client: &mut Client, purpose: Purpose) -> Result<i32, ProjectorError> {
    let tx = client.transaction().await?;
    let version = next_version(&tx).await?;
    schema::create_tables(&tx, PROJECTION, version).await?;
    tx.execute(
        "INSERT INTO projection_versions (name, version, state, purpose) VALUES ($1, $2, 'building', $3)",
        &[&PROJECTION, &version, &purpose.as_str()],
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}

/// Drops a building version: its tables and its registry row.
pub(crate) async fn discard_building_version(client: &mut Client, version: i32) -> Result<(), ProjectorError> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL lock_timeout = '5s'").await?;
    schema::drop_schema(&tx, PROJECTION, version).await?;
    parked::forget_version(&tx, version).await?;
    tx.execute(
        "DELETE FROM projection_versions WHERE name = $1 AND version = $2 AND state = 'building'",
        &[&PROJECTION, &version],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How long a retired version's tables are kept for readers that looked up the live version
/// just before a swap (well above the API's request timeout).
pub const RETIRED_GRACE_SECONDS: i64 = 300;

/// Drops what no one uses any more: building versions left by a crashed rebuild or verify
/// (the caller holds the maintenance lock, so none is in progress), and retired versions past
/// their grace period. A table still in use (lock timeout) is left for next time.
pub(crate) async fn drop_unused_versions(client: &mut Client) -> Result<(), ProjectorError> {
    let rows = client
        .query(
            "SELECT version, state FROM projection_versions
             WHERE name = $1 AND (state = 'building'
                OR (state = 'retired' AND retired_at < now() - make_interval(secs => $2)))",
            &[&PROJECTION, &(RETIRED_GRACE_SECONDS as f64)],
        )
        .await?;
    for row in rows {
        let version: i32 = row.try_get(0)?;
        let state: String = row.try_get(1)?;
        let result = if state == "building" {
            discard_building_version(client, version).await
        } else {
            drop_retired_version(client, version).await
        };
        if let Err(err) = result {
            tracing::warn!(version, error = %err, "could not drop an unused read-model version; will retry later");
        }
    }
    Ok(())
}

async fn drop_retired_version(client: &mut Client, version: i32) -> Result<(), ProjectorError> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL lock_timeout = '5s'").await?;
    schema::drop_schema(&tx, PROJECTION, version).await?;
    parked::forget_version(&tx, version).await?;
    tx.execute(
        "UPDATE projection_versions SET state = 'dropped', dropped_at = now(), updated_at = now()
         WHERE name = $1 AND version = $2 AND state = 'retired'",
        &[&PROJECTION, &version],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Locks a version's registry row for the rest of the transaction and reads its checkpoint
/// and state; `None` when there is no such version.
pub(crate) async fn lock_checkpoint<C: GenericClient>(
    client: &C,
    version: i32,
) -> Result<Option<(Checkpoint, String)>, ProjectorError> {
    let row = client
        .query_opt(
            "SELECT checkpoint_tx_id::text, checkpoint_position, state FROM projection_versions
             WHERE name = $1 AND version = $2 FOR UPDATE",
            &[&PROJECTION, &version],
        )
        .await?;
    match row {
        Some(row) => {
            let checkpoint = Checkpoint { tx_id: parse_tx_id(row.try_get(0)?)?, position: row.try_get(1)? };
            Ok(Some((checkpoint, row.try_get(2)?)))
        }
        None => Ok(None),
    }
}

/// What one batch moves the checkpoint by.
pub(crate) struct Advance {
    pub from: Checkpoint,
    pub to: Checkpoint,
    pub events: u64,
    pub last_event_recorded_at: Option<DateTime<Utc>>,
}

/// The compare-and-set: moves the checkpoint only if it still is `from`.
pub(crate) async fn advance_checkpoint<C: GenericClient>(
    client: &C,
    version: i32,
    advance: &Advance,
) -> Result<(), ProjectorError> {
    let events = i64::try_from(advance.events).map_err(|_| ProjectorError::corrupt("event count overflows"))?;
    let updated = client
        .execute(
            "UPDATE projection_versions
             SET checkpoint_tx_id = $3::text::xid8, checkpoint_position = $4, events_applied = events_applied + $5,
                 last_event_recorded_at = coalesce($6, last_event_recorded_at), updated_at = now()
             WHERE name = $1 AND version = $2 AND checkpoint_tx_id = $7::text::xid8 AND checkpoint_position = $8",
            &[
                &PROJECTION,
                &version,
                &advance.to.tx_id.to_string(),
                &advance.to.position,
                &events,
                &advance.last_event_recorded_at,
                &advance.from.tx_id.to_string(),
                &advance.from.position,
            ],
        )
        .await?;
    if updated == 1 {
        Ok(())
    } else {
        Err(ProjectorError::CheckpointMoved { projection: PROJECTION.to_owned(), version })
    }
}

pub(crate) async fn set_total_estimate<C: GenericClient>(
    client: &C,
    version: i32,
    total: u64,
) -> Result<(), ProjectorError> {
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    client
        .execute(
            "UPDATE projection_versions SET events_total_estimate = $3 WHERE name = $1 AND version = $2",
            &[&PROJECTION, &version, &total],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advance(from: Checkpoint, to: Checkpoint) -> Advance {
        Advance { from, to, events: 1, last_event_recorded_at: None }
    }

    /// The compare-and-set on its own (the batch also locks the row, which hides it from the
    /// two-instance tests): a writer that read an old checkpoint cannot move it.
    #[tokio::test]
    async fn the_checkpoint_moves_only_from_where_it_stands() {
        let db = payledger_testkit::TestDb::new().await;
        let pool = db.pool(2);
        let mut client = pool.get().await.unwrap();
        let version = ensure_initialized(&mut client).await.unwrap();
        let first = Checkpoint { tx_id: 5, position: 1 };
        advance_checkpoint(&**client, version, &advance(Checkpoint::START, first)).await.unwrap();

        let stale =
            advance_checkpoint(&**client, version, &advance(Checkpoint::START, Checkpoint { tx_id: 6, position: 2 }))
                .await
                .unwrap_err();
        assert!(matches!(stale, ProjectorError::CheckpointMoved { version: v, .. } if v == version), "{stale:?}");

        let (live, checkpoint) = live_checkpoint(&**client).await.unwrap().unwrap();
        assert_eq!((live, checkpoint), (version, first));
        let applied: i64 = client
            .query_one("SELECT events_applied FROM projection_versions WHERE version = $1", &[&version])
            .await
            .unwrap()
            .get(0);
        assert_eq!(applied, 1, "the refused move counted nothing");
    }
}
