//! Reports and their lines, read from their events; files from `settlement_files`. Every
//! query is tenant-scoped: another tenant's report id is "no such report".

use payledger_core::payment::Provider;
use payledger_core::settlement::{LineRef, SettlementEvent, SettlementLine};
use payledger_core::SettlementReportId;
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use super::Report;
use crate::error::{ServiceError, ServiceResult};

/// Largest page of reports or lines.
pub const LINES_PAGE_MAX: i64 = 100;

/// Uses the partial index `events_settlement_report_sha256` (migration V10).
const REPORT_BY_SHA256: &str = "SELECT event_type, schema_version, payload FROM events
     WHERE tenant_id = $1 AND event_type = 'SettlementReportReceived'
       AND payload->>'sha256' = $2 AND payload->>'provider' = $3
     ORDER BY global_position LIMIT 1";

/// Uses the unique constraint `events_stream_version_key` (migration V1).
const REPORT_BY_ID: &str = "SELECT event_type, schema_version, payload, global_position FROM events
     WHERE tenant_id = $1 AND stream_id = $2 AND stream_version = 1 AND event_type = 'SettlementReportReceived'";

/// Uses the index `events_tenant_type` (migration V1); newest first.
const REPORTS: &str = "SELECT event_type, schema_version, payload FROM events
     WHERE tenant_id = $1 AND event_type = 'SettlementReportReceived' AND global_position < $2
     ORDER BY global_position DESC LIMIT $3";

/// The stream's lines in order, after line `$3`.
const LINES: &str = "SELECT event_type, schema_version, payload FROM events
     WHERE tenant_id = $1 AND stream_id = $2 AND event_type = 'SettlementLineReported'
       AND (payload->'line'->>'line_number')::bigint > $3
     ORDER BY stream_version LIMIT $4";

const FILE: &str = "SELECT bytes FROM settlement_files WHERE tenant_id = $1 AND sha256 = $2";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPage {
    pub items: Vec<Report>,
    pub has_more: bool,
}

/// One line of a report, with the line it repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    pub line: SettlementLine,
    pub duplicate_of: Option<LineRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinePage {
    pub items: Vec<ReportLine>,
    pub has_more: bool,
}

pub(super) async fn report_by_sha256<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    provider: Provider,
    sha256: &str,
) -> ServiceResult<Option<Report>> {
    let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 3] =
        [(&tenant_id, Type::UUID), (&sha256, Type::TEXT), (&provider.as_str(), Type::TEXT)];
    let row = client.query_typed(REPORT_BY_SHA256, &params).await?.into_iter().next();
    row.as_ref().map(report_of).transpose()
}

pub async fn get_report<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    id: SettlementReportId,
) -> ServiceResult<Option<Report>> {
    let row = report_row(client, tenant_id, id).await?;
    row.as_ref().map(report_of).transpose()
}

/// Newest first; `starting_after` is the last report of the previous page.
pub async fn list_reports<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    limit: i64,
    starting_after: Option<SettlementReportId>,
) -> ServiceResult<ReportPage> {
    let before = match starting_after {
        None => i64::MAX,
        Some(id) => {
            let row = report_row(client, tenant_id, id).await?;
            let row = row.ok_or(ServiceError::CursorNotFound { param: "starting_after" })?;
            row.try_get(3)?
        }
    };
    let limit = limit.clamp(1, LINES_PAGE_MAX);
    let rows = client
        .query_typed(REPORTS, &[(&tenant_id, Type::UUID), (&before, Type::INT8), (&(limit + 1), Type::INT8)])
        .await?;
    let mut items: Vec<Report> = rows.iter().map(report_of).collect::<ServiceResult<_>>()?;
    let has_more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    Ok(ReportPage { items, has_more })
}

/// The report's lines in file order after line `starting_after`; `None` when the tenant has
/// no such report.
pub async fn report_lines<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    id: SettlementReportId,
    limit: i64,
    starting_after: Option<u32>,
) -> ServiceResult<Option<LinePage>> {
    if report_row(client, tenant_id, id).await?.is_none() {
        return Ok(None);
    }
    let limit = limit.clamp(1, LINES_PAGE_MAX);
    let after = i64::from(starting_after.unwrap_or(0));
    let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 4] =
        [(&tenant_id, Type::UUID), (&id.stream_id(), Type::TEXT), (&after, Type::INT8), (&(limit + 1), Type::INT8)];
    let rows = client.query_typed(LINES, &params).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        match decode(row)? {
            SettlementEvent::SettlementLineReported { line, duplicate_of, .. } => {
                items.push(ReportLine { line: *line, duplicate_of })
            }
            other => return Err(ServiceError::internal(format!("a line row holds {}", other.event_type()))),
        }
    }
    let has_more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    Ok(Some(LinePage { items, has_more }))
}

/// The report and its file's bytes, byte for byte as received.
pub async fn report_file<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    id: SettlementReportId,
) -> ServiceResult<Option<(Report, Vec<u8>)>> {
    let Some(report) = get_report(client, tenant_id, id).await? else { return Ok(None) };
    let row = client.query_typed(FILE, &[(&tenant_id, Type::UUID), (&report.sha256, Type::TEXT)]).await?;
    let row = row.first().ok_or_else(|| ServiceError::internal(format!("the file of report {} is missing", id)))?;
    Ok(Some((report, row.try_get(0)?)))
}

async fn report_row<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    id: SettlementReportId,
) -> ServiceResult<Option<Row>> {
    let rows = client.query_typed(REPORT_BY_ID, &[(&tenant_id, Type::UUID), (&id.stream_id(), Type::TEXT)]).await?;
    Ok(rows.into_iter().next())
}

fn decode(row: &Row) -> ServiceResult<SettlementEvent> {
    let (event_type, version, payload): (String, i32, serde_json::Value) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    SettlementEvent::decode(&event_type, version, &payload).map_err(ServiceError::internal)
}

fn report_of(row: &Row) -> ServiceResult<Report> {
    match decode(row)? {
        SettlementEvent::SettlementReportReceived {
            report_id,
            provider,
            sha256,
            size_bytes,
            line_count,
            duplicate_lines,
            period_from,
            period_to,
            received_at,
        } => Ok(Report {
            id: report_id,
            provider,
            sha256,
            size_bytes,
            line_count,
            duplicate_lines,
            period_from,
            period_to,
            received_at,
        }),
        other => Err(ServiceError::internal(format!("a report row holds {}", other.event_type()))),
    }
}
