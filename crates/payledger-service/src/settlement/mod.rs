//! Importing a gateway's settlement report (docs/SETTLEMENT.md "Importing a report"): the
//! file is parsed whole, then recorded raw in one transaction — `SettlementReportReceived`
//! and one `SettlementLineReported` per line in the stream `settlement-<id>`, and the bytes in
//! `settlement_files`. Imports of one tenant take turns on an advisory lock, so the same file
//! twice is recorded once and a line two files share is counted once.
//!
//! Reports and lines are read back from their events (immutable, visible at commit: no wait
//! for the projector), the file from `settlement_files`.

mod parse;
mod read;

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use deadpool_postgres::Pool;
use payledger_core::payment::Provider;
use payledger_core::settlement::{LineRef, SettlementEvent, SettlementLine};
use payledger_core::SettlementReportId;
use payledger_store::{
    append_in_tx, set_lock_timeout, BatchItem, ExpectedVersion, NewEvent, StreamKey, APPEND_MAX_EVENTS,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};

pub use read::{get_report, list_reports, report_file, report_lines, LinePage, ReportLine, ReportPage, LINES_PAGE_MAX};

/// Longest an import waits for the tenant's import lock (another import in progress).
const IMPORT_LOCK_TIMEOUT_MS: u64 = 30_000;
/// Dedupe keys looked up per query.
const KEYS_PER_LOOKUP: usize = 10_000;

/// One problem of a refused file. Line 1 is the header; `column` is the header name, `None`
/// for a problem of the whole line or file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReportProblem {
    pub line: u32,
    pub column: Option<String>,
    pub reason: String,
}

/// A recorded report, as its `SettlementReportReceived` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: SettlementReportId,
    pub provider: Provider,
    pub sha256: String,
    pub size_bytes: u64,
    pub line_count: u32,
    pub duplicate_lines: u32,
    pub period_from: Option<DateTime<Utc>>,
    pub period_to: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
}

/// What an import did: `duplicate` when this very file (same tenant, provider and sha256)
/// was recorded before, and nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub report: Report,
    pub duplicate: bool,
}

/// Who imports, for the events' metadata.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `api` or `cli`.
    pub source: &'static str,
    /// e.g. `api_key:<id>`, `cli:<os user>`.
    pub actor: String,
    pub request_id: Option<String>,
}

/// Records the report `bytes` of `provider` for the tenant, or finds it recorded.
pub async fn import(
    pool: &Pool,
    tenant_id: Uuid,
    provider: Provider,
    bytes: &[u8],
    origin: &Origin,
) -> ServiceResult<Imported> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    set_lock_timeout(&tx, IMPORT_LOCK_TIMEOUT_MS).await?;
    let lock_name = format!("settlement-import/{tenant_id}");
    tx.query_typed("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[(&lock_name, Type::TEXT)])
        .await
        .map_err(busy_or_db)?;
    if let Some(report) = read::report_by_sha256(&*tx, tenant_id, provider, &sha256).await? {
        return Ok(Imported { report, duplicate: true });
    }
    let lines = parse::parse(provider, bytes).map_err(|problems| ServiceError::SettlementReportRefused { problems })?;
    let firsts = earlier_lines(&tx, tenant_id, &lines).await?;
    let report = Report {
        id: SettlementReportId::new(),
        provider,
        sha256,
        size_bytes: bytes.len() as u64,
        line_count: u32::try_from(lines.len()).map_err(ServiceError::internal)?,
        duplicate_lines: 0,
        period_from: lines.iter().map(|l| l.created_at).min(),
        period_to: lines.iter().map(|l| l.created_at).max(),
        received_at: Utc::now().trunc_subsecs(6),
    };
    let report = append_report(&tx, tenant_id, report, lines, firsts, origin).await?;
    store_file(&tx, tenant_id, &report, bytes).await?;
    tx.commit().await?;
    payledger_store::notify_committed(pool);
    Ok(Imported { report, duplicate: false })
}

fn busy_or_db(err: tokio_postgres::Error) -> ServiceError {
    if err.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
        return payledger_store::StoreError::Busy("another settlement import of this tenant is in progress".into())
            .into();
    }
    err.into()
}

/// The first recorded line of each dedupe key the file's lines carry.
async fn earlier_lines(
    tx: &Transaction<'_>,
    tenant_id: Uuid,
    lines: &[SettlementLine],
) -> ServiceResult<HashMap<String, LineRef>> {
    let mut keys: Vec<&str> = lines.iter().map(|l| l.dedupe_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut firsts = HashMap::new();
    for chunk in keys.chunks(KEYS_PER_LOOKUP) {
        // Uses the partial index `events_settlement_line_dedupe` (migration V10).
        let rows = tx
            .query_typed(
                "SELECT DISTINCT ON (payload->'line'->>'dedupe_key') payload->'line'->>'dedupe_key', stream_id,
                        (payload->'line'->>'line_number')::bigint
                 FROM events
                 WHERE tenant_id = $1 AND event_type = 'SettlementLineReported'
                   AND payload->'line'->>'dedupe_key' = ANY($2)
                 ORDER BY payload->'line'->>'dedupe_key', global_position",
                &[(&tenant_id, Type::UUID), (&chunk, Type::TEXT_ARRAY)],
            )
            .await?;
        for row in rows {
            let stream_id: String = row.try_get(1)?;
            let report_id = SettlementReportId::from_stream_id(&stream_id).map_err(ServiceError::internal)?;
            let line_number = u32::try_from(row.try_get::<_, i64>(2)?).map_err(ServiceError::internal)?;
            firsts.insert(row.try_get(0)?, LineRef { report_id, line_number });
        }
    }
    Ok(firsts)
}

/// Appends the report's events inside `tx`, building them one store chunk at a time (a 1 M
/// line file never has all its events in memory at once).
async fn append_report(
    tx: &Transaction<'_>,
    tenant_id: Uuid,
    mut report: Report,
    lines: Vec<SettlementLine>,
    firsts: HashMap<String, LineRef>,
    origin: &Origin,
) -> ServiceResult<Report> {
    let duplicates = duplicates_of(report.id, &lines, firsts);
    report.duplicate_lines = u32::try_from(duplicates.iter().flatten().count()).map_err(ServiceError::internal)?;
    let metadata = json!({"source": origin.source, "actor": origin.actor, "request_id": origin.request_id});
    // The store's dedupe key makes a second recording of this file impossible even without the lock.
    let dedupe = format!("settlement-report:{}:{}", report.provider, report.sha256);
    let stream = StreamKey::new(tenant_id, report.id.stream_id());
    let mut chunk = vec![new_event(&received_event(&report), &metadata, Some(dedupe))];
    let mut version = 0_i64;
    for (line, duplicate_of) in lines.into_iter().zip(duplicates) {
        let event =
            SettlementEvent::SettlementLineReported { report_id: report.id, line: Box::new(line), duplicate_of };
        chunk.push(new_event(&event, &metadata, None));
        if chunk.len() == APPEND_MAX_EVENTS {
            version = append_chunk(tx, &stream, version, std::mem::take(&mut chunk)).await?;
        }
    }
    if !chunk.is_empty() {
        append_chunk(tx, &stream, version, chunk).await?;
    }
    Ok(report)
}

/// For each line, the first line (of an earlier file, or earlier in this one) with its key.
fn duplicates_of(
    report_id: SettlementReportId,
    lines: &[SettlementLine],
    mut firsts: HashMap<String, LineRef>,
) -> Vec<Option<LineRef>> {
    lines
        .iter()
        .map(|line| match firsts.get(&line.dedupe_key) {
            Some(first) => Some(*first),
            None => {
                firsts.insert(line.dedupe_key.clone(), LineRef { report_id, line_number: line.line_number });
                None
            }
        })
        .collect()
}

/// Appends `events` after `version` of the report's stream; returns the new version.
async fn append_chunk(
    tx: &Transaction<'_>,
    stream: &StreamKey,
    version: i64,
    events: Vec<NewEvent>,
) -> ServiceResult<i64> {
    let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
    let next = version + events.len() as i64;
    append_in_tx(tx, &[BatchItem { stream: stream.clone(), expected, events }]).await?;
    Ok(next)
}

fn received_event(report: &Report) -> SettlementEvent {
    SettlementEvent::SettlementReportReceived {
        report_id: report.id,
        provider: report.provider,
        sha256: report.sha256.clone(),
        size_bytes: report.size_bytes,
        line_count: report.line_count,
        duplicate_lines: report.duplicate_lines,
        period_from: report.period_from,
        period_to: report.period_to,
        received_at: report.received_at,
    }
}

fn new_event(event: &SettlementEvent, metadata: &Value, dedupe_key: Option<String>) -> NewEvent {
    let new =
        NewEvent::new(event.event_type(), event.schema_version(), event.to_payload()).with_metadata(metadata.clone());
    match dedupe_key {
        Some(key) => new.with_dedupe_key(key),
        None => new,
    }
}

/// The bytes, once per tenant and content (the same file under another provider is stored once).
async fn store_file(tx: &Transaction<'_>, tenant_id: Uuid, report: &Report, bytes: &[u8]) -> ServiceResult<()> {
    let size = i64::try_from(report.size_bytes).map_err(ServiceError::internal)?;
    tx.query_typed(
        "INSERT INTO settlement_files (tenant_id, sha256, bytes, size_bytes, received_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, sha256) DO NOTHING",
        &[
            (&tenant_id, Type::UUID),
            (&report.sha256, Type::TEXT),
            (&bytes, Type::BYTEA),
            (&size, Type::INT8),
            (&report.received_at, Type::TIMESTAMPTZ),
        ],
    )
    .await?;
    Ok(())
}
