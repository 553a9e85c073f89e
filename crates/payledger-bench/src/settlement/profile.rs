//! Where the import's time goes: the steps of `payledger_service::settlement::import`, each
//! timed on its own, for a fresh tenant in one transaction that is rolled back (nothing stays).
//! The same statements as the service (parse, the dedupe lookup by `KEYS_PER_LOOKUP` keys,
//! the events' JSON, `append_in_tx` by `APPEND_MAX_EVENTS`, the file insert); the service's
//! sha256, lock and duplicate-file check are left in the remainder.

use std::time::Instant;

use payledger_core::payment::Provider;
use payledger_core::settlement::SettlementEvent;
use payledger_core::SettlementReportId;
use payledger_store::{append_in_tx, BatchItem, ExpectedVersion, NewEvent, Pool, StreamKey, APPEND_MAX_EVENTS};
use serde_json::json;
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::ImportProfile;
use crate::error::BenchError;

/// As in the service.
const KEYS_PER_LOOKUP: usize = 10_000;

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1_000.0
}

pub(crate) async fn profile(pool: &Pool, bytes: &[u8]) -> Result<ImportProfile, BenchError> {
    let tenant_id = Uuid::new_v4();
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;

    let started = Instant::now();
    let lines = payledger_gateways::parse_settlement_report(Provider::Stripe, bytes)
        .map_err(|e| BenchError::Setup(format!("the generated report was refused: {:?}", e.problems.first())))?;
    let parse_ms = ms(started);

    let started = Instant::now();
    let mut keys: Vec<&str> = lines.iter().map(|l| l.dedupe_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut found = 0;
    for chunk in keys.chunks(KEYS_PER_LOOKUP) {
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
        found += rows.len();
    }
    let dedupe_lookup_ms = ms(started);

    let started = Instant::now();
    let report_id = SettlementReportId::new();
    let metadata = json!({"source": "bench", "actor": "bench:settlement-profile", "request_id": null});
    let line_count = lines.len();
    let events: Vec<NewEvent> = lines
        .into_iter()
        .map(|line| {
            let event = SettlementEvent::SettlementLineReported { report_id, line: Box::new(line), duplicate_of: None };
            NewEvent::new(event.event_type(), event.schema_version(), event.to_payload())
                .with_metadata(metadata.clone())
        })
        .collect();
    let build_events_ms = ms(started);

    let started = Instant::now();
    let stream = StreamKey::new(tenant_id, report_id.stream_id());
    let (mut version, mut rest, mut appends) = (0_i64, events, 0u64);
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(APPEND_MAX_EVENTS));
        let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
        version += rest.len() as i64;
        append_in_tx(&tx, &[BatchItem { stream: stream.clone(), expected, events: rest }]).await?;
        appends += 1;
        rest = tail;
    }
    let append_ms = ms(started);

    let started = Instant::now();
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let sha256 = "0".repeat(64);
    tx.query_typed(
        "INSERT INTO settlement_files (tenant_id, sha256, bytes, size_bytes, received_at)
         VALUES ($1, $2, $3, $4, now()) ON CONFLICT (tenant_id, sha256) DO NOTHING",
        &[(&tenant_id, Type::UUID), (&sha256, Type::TEXT), (&bytes, Type::BYTEA), (&size, Type::INT8)],
    )
    .await?;
    let file_insert_ms = ms(started);
    tx.rollback().await?;
    if found != 0 {
        return Err(BenchError::Check(format!("the profile's fresh tenant found {found} earlier lines")));
    }
    Ok(ImportProfile {
        lines: line_count as u64,
        parse_ms,
        dedupe_lookup_ms,
        build_events_ms,
        append_ms,
        append_calls: appends,
        file_insert_ms,
        total_ms: parse_ms + dedupe_lookup_ms + build_events_ms + append_ms + file_insert_ms,
        how: "the import's steps timed one by one for a fresh tenant in a transaction rolled back afterwards".into(),
    })
}
