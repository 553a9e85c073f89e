//! Settlement report streams (`settlement-<report id>`) in the read-models. They are not
//! aggregates: each event stands alone and becomes its row (`settlement_reports`,
//! `settlement_lines`) and, for a line, its journal transaction, with no fold state. A
//! line's `provider` is its report's, read from the report's row when the line is written
//! (the report's event comes first in the stream, in the same transaction), so it holds
//! whatever the batch boundaries and in a rebuild; a line without its report's row is
//! refused by the database and parks its stream.

use payledger_core::ledger::{postings_for_settlement_line, JournalTransaction};
use payledger_core::settlement::SettlementEvent;
use payledger_core::{DomainEvent, SettlementReportId};
use payledger_store::RecordedEvent;

use crate::error::ProjectorError;
use crate::rows::{SettlementLineRow, SettlementReportRow};

/// What one settlement event writes.
#[derive(Debug, Clone)]
pub(crate) enum SettlementRows {
    Report(SettlementReportRow),
    Line(Box<SettlementLineRow>, Option<JournalTransaction>),
}

/// Decodes an event of the stream of `report_id` into its rows; an error is the event's
/// reason to park its stream.
pub(crate) fn settlement_rows(
    event: &RecordedEvent,
    report_id: SettlementReportId,
) -> Result<SettlementRows, ProjectorError> {
    let undecodable = |reason: String| ProjectorError::Undecodable {
        position: event.global_position,
        stream_id: event.stream_id.clone(),
        event_type: event.event_type.clone(),
        reason,
    };
    let decoded = DomainEvent::decode(&event.event_type, event.schema_version, &event.payload)
        .map_err(|err| undecodable(err.to_string()))?;
    let DomainEvent::Settlement(settlement) = decoded else {
        return Err(undecodable("not a settlement event in a settlement stream".into()));
    };
    if settlement.report_id() != report_id {
        return Err(undecodable(format!("an event of report {} in this stream", settlement.report_id())));
    }
    let tenant_id = event.tenant_id;
    let count = |name: &str, n: u32| i32::try_from(n).map_err(|_| undecodable(format!("{name} {n} is out of range")));
    match settlement {
        SettlementEvent::SettlementReportReceived {
            provider,
            sha256,
            size_bytes,
            line_count,
            duplicate_lines,
            period_from,
            period_to,
            received_at,
            ..
        } => Ok(SettlementRows::Report(SettlementReportRow {
            tenant_id,
            report_id: *report_id.as_uuid(),
            provider: provider.as_str().to_owned(),
            sha256,
            size_bytes: i64::try_from(size_bytes)
                .map_err(|_| undecodable(format!("size_bytes {size_bytes} is out of range")))?,
            line_count: count("line_count", line_count)?,
            duplicate_lines: count("duplicate_lines", duplicate_lines)?,
            period_from,
            period_to,
            received_at,
            event_position: event.global_position,
        })),
        SettlementEvent::SettlementLineReported { line, duplicate_of, .. } => {
            let row = SettlementLineRow::from_event(
                tenant_id,
                *report_id.as_uuid(),
                &line,
                duplicate_of.as_ref(),
                event.global_position,
            )
            .map_err(undecodable)?;
            let transaction = postings_for_settlement_line(&line, duplicate_of.is_some());
            Ok(SettlementRows::Line(Box::new(row), transaction))
        }
    }
}
