//! What `GET /v1/projections` shows: each projection's live checkpoint and lag, and the
//! progress of a rebuild (or verify) under way.

use chrono::{DateTime, Utc};
use payledger_store::Checkpoint;
use serde::Serialize;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::ProjectorError;
use crate::parked::{count_parked, list_parked, ParkedStream, PARKED_LIST_MAX};
use crate::registry::{current_versions, VersionInfo, PROJECTION};
use crate::schema::TABLES;
use crate::session::{maintenance_running, projector_leader};

/// Lag is counted up to this many events; beyond, `lag_events_capped` says so.
pub const LAG_COUNT_MAX: i64 = 1_000_000;

#[derive(Debug, Clone, Serialize)]
pub struct ProjectionStatus {
    pub name: String,
    /// `live`, `degraded` (live, but streams are parked: see `parked_streams`), `rebuilding`
    /// (a rebuild is building a new version), or `not_started`.
    pub state: &'static str,
    pub tables: Vec<&'static str>,
    pub live_version: Option<i32>,
    pub checkpoint: Option<Checkpoint>,
    pub events_applied: i64,
    /// Events in the log after the checkpoint (committed or still held back).
    pub lag_events: i64,
    pub lag_events_capped: bool,
    /// Age of the oldest event not yet applied; 0 when caught up.
    pub lag_seconds: f64,
    pub updated_at: Option<DateTime<Utc>>,
    /// The projector instance that leads (its backend pid and `application_name`).
    pub leader: Option<Leader>,
    /// Versions being built: a rebuild (swapped live when done) or a verify's fresh fold.
    pub building: Vec<BuildStatus>,
    /// Streams of the live version whose events are skipped (of the tenant asked about).
    pub parked_streams_count: i64,
    /// The first [`PARKED_LIST_MAX`] of them, oldest event first.
    pub parked_streams: Vec<ParkedStream>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leader {
    pub pid: i32,
    pub instance_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildStatus {
    pub version: i32,
    pub purpose: String,
    pub checkpoint: Checkpoint,
    pub events_applied: i64,
    pub events_total_estimate: Option<i64>,
    pub events_per_second: f64,
    pub eta_seconds: Option<f64>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its rebuild or verify is gone (the process died); the next one drops it.
    pub abandoned: bool,
}

/// The status of every projection; parked streams of every tenant.
pub async fn projection_status<C: GenericClient>(client: &C) -> Result<Vec<ProjectionStatus>, ProjectorError> {
    status_of(client, None).await
}

/// The status of every projection, with only this tenant's parked streams (the API's view:
/// a tenant never learns of another's streams).
pub async fn tenant_projection_status<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
) -> Result<Vec<ProjectionStatus>, ProjectorError> {
    status_of(client, Some(tenant_id)).await
}

async fn status_of<C: GenericClient>(
    client: &C,
    tenant_id: Option<Uuid>,
) -> Result<Vec<ProjectionStatus>, ProjectorError> {
    let versions = current_versions(client).await?;
    let live = versions.iter().find(|v| v.name == PROJECTION && v.state == "live");
    let being_built: Vec<&VersionInfo> =
        versions.iter().filter(|v| v.name == PROJECTION && v.state == "building").collect();
    let abandoned = !being_built.is_empty() && !maintenance_running(client).await?;
    let building: Vec<BuildStatus> = being_built.into_iter().map(|v| build_status(v, abandoned)).collect();
    let (lag_events, lag_events_capped, lag_seconds) = match live {
        Some(v) => lag(client, v.checkpoint).await?,
        None => (0, false, 0.0),
    };
    let (parked_streams_count, parked_streams) = match live {
        Some(v) => (
            count_parked(client, v.version, tenant_id).await?,
            list_parked(client, v.version, tenant_id, None, PARKED_LIST_MAX).await?,
        ),
        None => (0, Vec::new()),
    };
    let state = match (live, building.iter().any(|b| b.purpose == "rebuild" && !b.abandoned)) {
        (None, _) => "not_started",
        (Some(_), true) => "rebuilding",
        (Some(_), false) if parked_streams_count > 0 => "degraded",
        (Some(_), false) => "live",
    };
    Ok(vec![ProjectionStatus {
        name: PROJECTION.to_owned(),
        state,
        tables: TABLES.to_vec(),
        live_version: live.map(|v| v.version),
        checkpoint: live.map(|v| v.checkpoint),
        events_applied: live.map(|v| v.events_applied).unwrap_or(0),
        lag_events,
        lag_events_capped,
        lag_seconds,
        updated_at: live.map(|v| v.updated_at),
        leader: projector_leader(client).await?.map(|(pid, instance_name)| Leader { pid, instance_name }),
        building,
        parked_streams_count,
        parked_streams,
    }])
}

fn build_status(v: &VersionInfo, abandoned: bool) -> BuildStatus {
    let seconds = (v.updated_at - v.created_at).num_milliseconds() as f64 / 1000.0;
    let rate = if seconds > 0.0 { v.events_applied as f64 / seconds } else { 0.0 };
    let eta_seconds = v
        .events_total_estimate
        .filter(|_| rate > 0.0)
        .map(|total| (total.saturating_sub(v.events_applied)).max(0) as f64 / rate);
    BuildStatus {
        version: v.version,
        purpose: v.purpose.clone(),
        checkpoint: v.checkpoint,
        events_applied: v.events_applied,
        events_total_estimate: v.events_total_estimate,
        events_per_second: rate,
        eta_seconds,
        started_at: v.created_at,
        updated_at: v.updated_at,
        abandoned,
    }
}

/// Events after `checkpoint` (counted up to the cap) and the age of the first of them.
async fn lag<C: GenericClient>(client: &C, checkpoint: Checkpoint) -> Result<(i64, bool, f64), ProjectorError> {
    let tx_text = checkpoint.tx_id.to_string();
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM events
                        WHERE (tx_id, global_position) > ($1::text::xid8, $2) LIMIT $3) AS s),
                    (SELECT extract(epoch FROM now() - recorded_at)::float8 FROM events
                        WHERE (tx_id, global_position) > ($1::text::xid8, $2)
                        ORDER BY tx_id, global_position LIMIT 1)",
            &[&tx_text, &checkpoint.position, &(LAG_COUNT_MAX + 1)],
        )
        .await?;
    let count: i64 = row.try_get(0)?;
    let age: Option<f64> = row.try_get(1)?;
    Ok((count.min(LAG_COUNT_MAX), count > LAG_COUNT_MAX, age.unwrap_or(0.0).max(0.0)))
}
