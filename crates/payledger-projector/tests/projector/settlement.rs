//! Settlement report streams in the read-models: a report's rows, its lines' postings and
//! the balances they move; a rebuild reproduces them; verify names a corrupted line and a
//! rebuild repairs it; a report stream with an undecodable event (or a line without its
//! report) parks like any other stream; migration V9 gives an existing version exactly the
//! shape of a fresh one.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use payledger_core::payment::Provider;
use payledger_core::settlement::{GatewayRefs, LineKind, LineRef, SettlementEvent, SettlementLine};
use payledger_core::{Currency, DomainEvent, SettlementReportId};
use payledger_projector::{
    list_parked, live_version, rebuild, verify, DifferenceKind, RebuildOptions, SettlementLineRow, SettlementReportRow,
    VerifyOptions,
};
use payledger_store::{append, ExpectedVersion, NewEvent, StreamKey};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z").unwrap().with_timezone(&Utc) + Duration::minutes(minutes)
}

fn line(number: u32, kind: LineKind, gross_minor: i64, fee_minor: i64) -> SettlementLine {
    SettlementLine {
        line_number: number,
        kind,
        category: kind.as_str().into(),
        gross_currency: Currency::USD,
        gross_minor,
        currency: Currency::USD,
        fee_minor,
        net_minor: gross_minor - fee_minor,
        created_at: at(i64::from(number)),
        available_on: None,
        refs: GatewayRefs {
            balance_transaction_id: Some(format!("txn_{number}")),
            payout_id: Some("po_1".into()),
            ..GatewayRefs::default()
        },
        dedupe_key: format!("stripe:txn_{number}"),
        raw: format!("txn_{number},{gross_minor},{fee_minor}"),
    }
}

/// A report's stream as the import appends it: the report, then its lines in order.
fn report_events(
    report_id: SettlementReportId,
    provider: Provider,
    lines: &[(SettlementLine, Option<LineRef>)],
) -> Vec<NewEvent> {
    let received = SettlementEvent::SettlementReportReceived {
        report_id,
        provider,
        sha256: "ab".repeat(32),
        size_bytes: 4_096,
        line_count: lines.len() as u32,
        duplicate_lines: lines.iter().filter(|(_, d)| d.is_some()).count() as u32,
        period_from: lines.first().map(|(l, _)| l.created_at),
        period_to: lines.last().map(|(l, _)| l.created_at),
        received_at: at(600),
    };
    let mut events = vec![encode(&DomainEvent::Settlement(received))];
    for (line, duplicate_of) in lines {
        let event = SettlementEvent::SettlementLineReported {
            report_id,
            line: Box::new(line.clone()),
            duplicate_of: *duplicate_of,
        };
        events.push(encode(&DomainEvent::Settlement(event)));
    }
    events
}

async fn append_report(
    pool: &deadpool_postgres::Pool,
    tenant: Uuid,
    report_id: SettlementReportId,
    events: Vec<NewEvent>,
) {
    let stream = StreamKey::new(tenant, report_id.stream_id());
    append(pool, &stream, ExpectedVersion::NoStream, events).await.unwrap();
}

/// A Stripe report: 130 charges (more than one batch of the test projector, so lines land in
/// batches after their report's), a fee line, an adjustment, a duplicate and the payout of
/// exactly their net.
fn stripe_lines(report_id: SettlementReportId) -> Vec<(SettlementLine, Option<LineRef>)> {
    let mut lines: Vec<(SettlementLine, Option<LineRef>)> =
        (2..132).map(|n| (line(n, LineKind::Charge, 1_000, 30), None)).collect();
    lines.push((line(132, LineKind::Fee, -500, 0), None));
    lines.push((line(133, LineKind::Adjustment, 250, 0), None));
    let mut duplicate = line(134, LineKind::Charge, 1_000, 30);
    duplicate.dedupe_key = "stripe:txn_2".into();
    lines.push((duplicate, Some(LineRef { report_id, line_number: 2 })));
    let net: i64 = lines.iter().filter(|(_, d)| d.is_none()).map(|(l, _)| l.net_minor).sum();
    lines.push((line(135, LineKind::Payout, -net, 0), None));
    lines
}

type Entry = (Option<Uuid>, Option<Uuid>, i32, String, String, String, i64);

async fn report_state(
    pool: &deadpool_postgres::Pool,
    tenant: Uuid,
) -> (Vec<SettlementReportRow>, Vec<SettlementLineRow>, Vec<Entry>) {
    let s = live_schema(pool).await;
    let client = pool.get().await.unwrap();
    let reports = client
        .query(&format!("SELECT * FROM {s}.settlement_reports WHERE tenant_id = $1 ORDER BY report_id"), &[&tenant])
        .await
        .unwrap()
        .iter()
        .map(|r| SettlementReportRow::from_row(r).unwrap())
        .collect();
    let lines = client
        .query(
            &format!("SELECT * FROM {s}.settlement_lines WHERE tenant_id = $1 ORDER BY report_id, line_number"),
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| SettlementLineRow::from_row(r).unwrap())
        .collect();
    let entries = client
        .query(
            &format!(
                "SELECT payment_id, order_id, report_line, kind, account, side, amount_minor FROM {s}.journal_entries
                 WHERE tenant_id = $1 AND report_id IS NOT NULL ORDER BY event_position, line"
            ),
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)))
        .collect();
    (reports, lines, entries)
}

async fn balances(pool: &deadpool_postgres::Pool, tenant: Uuid) -> BTreeMap<String, i64> {
    let s = live_schema(pool).await;
    let client = pool.get().await.unwrap();
    client
        .query(
            &format!(
                "SELECT account, balance_minor::int8 FROM {s}.account_balances WHERE tenant_id = $1 AND currency = 'USD'"
            ),
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reports_project_rows_postings_and_balances_and_a_rebuild_reproduces_them() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let mut workload = Workload::new(41, 2);
    let (tenant, other) = (workload.tenants()[0], workload.tenants()[1]);
    workload.run(&pool, 300).await;
    project_now(&pool, db.url()).await;
    let before = balances(&pool, tenant).await;
    let other_before = balances(&pool, other).await;
    let (stripe, adyen) = (SettlementReportId::new(), SettlementReportId::new());
    append_report(&pool, tenant, stripe, report_events(stripe, Provider::Stripe, &stripe_lines(stripe))).await;
    let adyen_lines = [(line(200, LineKind::Fee, 0, 75), None)];
    append_report(&pool, tenant, adyen, report_events(adyen, Provider::Adyen, &adyen_lines)).await;
    project_now(&pool, db.url()).await;

    let (reports, lines, entries) = report_state(&pool, tenant).await;
    assert_eq!(reports.len(), 2);
    let report = reports.iter().find(|r| r.report_id == *stripe.as_uuid()).unwrap();
    assert_eq!(
        (report.provider.as_str(), report.line_count, report.duplicate_lines, report.size_bytes, report.period_from),
        ("stripe", 134, 1, 4_096, Some(at(2)))
    );
    assert_eq!(lines.len(), 135);
    for l in &lines {
        let expected = if l.report_id == *adyen.as_uuid() { "adyen" } else { "stripe" };
        assert_eq!(l.provider, expected, "line {} takes its report's provider", l.line_number);
    }
    let dup = lines.iter().find(|l| l.line_number == 134).unwrap();
    assert_eq!((dup.duplicate_of_report_id, dup.duplicate_of_line), (Some(*stripe.as_uuid()), Some(2)));
    assert_eq!((dup.kind.as_str(), dup.raw.as_str()), ("charge", "txn_134,1000,30"));

    // Postings: no payment, the line named; a duplicate posts nothing.
    assert!(entries.iter().all(|e| e.0.is_none() && e.1.is_none()));
    assert!(!entries.iter().any(|e| e.2 == 134), "the duplicate posted");
    let of = |n: i32| {
        entries.iter().filter(|e| e.2 == n).map(|e| (e.3.as_str(), e.4.as_str(), e.5.as_str(), e.6)).collect::<Vec<_>>()
    };
    assert_eq!(of(2), [("fee", "processing_fees", "debit", 30), ("fee", "gateway_receivable", "credit", 30)]);
    assert_eq!(of(132), [("fee", "processing_fees", "debit", 500), ("fee", "gateway_receivable", "credit", 500)]);
    assert_eq!(
        of(133),
        [("adjustment", "gateway_receivable", "debit", 250), ("adjustment", "settlement_adjustments", "credit", 250)]
    );
    let net = 130 * 970 - 500 + 250;
    assert_eq!(of(135), [("payout", "bank", "debit", net), ("payout", "gateway_receivable", "credit", net)]);
    assert_eq!(entries.len(), 2 * 130 + 2 + 2 + 2 + 2);

    // Balances: the report's lines moved exactly their own money, for this tenant only.
    let after = balances(&pool, tenant).await;
    let moved = |account: &str| after.get(account).copied().unwrap_or(0) - before.get(account).copied().unwrap_or(0);
    assert_eq!(moved("processing_fees"), 130 * 30 + 500 + 75);
    assert_eq!(moved("bank"), net);
    assert_eq!(moved("settlement_adjustments"), -250);
    // The captures were never settled in this test: the receivable drops by what the report moved.
    assert_eq!(moved("gateway_receivable"), -(130 * 30) - 500 + 250 - net - 75);
    assert_eq!(moved("sales_revenue"), 0);
    assert_eq!(balances(&pool, other).await, other_before, "another tenant's balances moved");
    assert_matches_oracle(&pool).await;
    let clean = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(clean.is_clean(), "{:#?}", clean.differences);

    // A rebuild (other batch boundaries) reproduces every row and posting.
    let state = report_state(&pool, tenant).await;
    rebuild(db.url(), RebuildOptions { batch_size: 50, ..RebuildOptions::default() }, |_| {}).await.unwrap();
    assert_eq!(report_state(&pool, tenant).await, state);
    assert_eq!(balances(&pool, tenant).await, after);
    assert_matches_oracle(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_names_a_corrupted_line_and_a_rebuild_repairs_it() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let tenant = Uuid::now_v7();
    let report = SettlementReportId::new();
    let lines: Vec<_> = (2..8).map(|n| (line(n, LineKind::Charge, 2_000, 60), None)).collect();
    append_report(&pool, tenant, report, report_events(report, Provider::Stripe, &lines)).await;
    project_now(&pool, db.url()).await;
    let s = live_schema(&pool).await;
    let client = pool.get().await.unwrap();
    client
        .execute(
            &format!(
                "UPDATE {s}.settlement_lines SET net_minor = net_minor + 1, provider = 'adyen' WHERE line_number = 5"
            ),
            &[],
        )
        .await
        .unwrap();
    client.execute(&format!("DELETE FROM {s}.settlement_reports"), &[]).await.unwrap();
    drop(client);

    let found = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    let key = format!("report_id={}, line_number=5", report.as_uuid());
    let changed = |field: &str| {
        found
            .differences
            .iter()
            .find(|d| d.table == "settlement_lines" && d.key == key && d.field == field)
            .unwrap_or_else(|| panic!("no difference of {field} in {:#?}", found.differences))
    };
    assert_eq!((changed("net_minor").kind, &changed("net_minor").expected), (DifferenceKind::Changed, &json!(1_940)));
    assert_eq!(&changed("provider").actual, &json!("adyen"));
    let missing = found.differences.iter().find(|d| d.table == "settlement_reports").unwrap();
    assert_eq!(
        (missing.kind, missing.key.clone()),
        (DifferenceKind::Missing, format!("report_id={}", report.as_uuid()))
    );
    assert_eq!(found.differences_total, 3, "{:#?}", found.differences);

    rebuild(db.url(), RebuildOptions::default(), |_| {}).await.unwrap();
    let repaired = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(repaired.is_clean(), "{:#?}", repaired.differences);
    let (reports, lines, _) = report_state(&pool, tenant).await;
    assert_eq!(reports.len(), 1);
    assert!(lines.iter().all(|l| l.net_minor == 1_940 && l.provider == "stripe"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_report_stream_that_cannot_be_projected_parks_alone() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let tenant = Uuid::now_v7();
    // Line 3 of this report cannot be decoded: lines 2 shows, 3 and 4 are skipped.
    let bad = SettlementReportId::new();
    let lines: Vec<_> = (2..5).map(|n| (line(n, LineKind::Charge, 1_000, 10), None)).collect();
    let mut events = report_events(bad, Provider::Stripe, &lines);
    events[2] = NewEvent::new("SettlementLineReported", 1, json!({"report_id": bad.as_uuid(), "line": "garbage"}));
    append_report(&pool, tenant, bad, events).await;
    // A line without its report: the database refuses it (no provider).
    let orphan = SettlementReportId::new();
    let mut orphan_events = report_events(orphan, Provider::Stripe, &[(line(2, LineKind::Fee, -100, 0), None)]);
    orphan_events.remove(0);
    append_report(&pool, tenant, orphan, orphan_events).await;
    let good = SettlementReportId::new();
    append_report(&pool, tenant, good, report_events(good, Provider::Stripe, &lines)).await;
    project_now(&pool, db.url()).await;

    let (_, rows, entries) = report_state(&pool, tenant).await;
    let shown = |report: SettlementReportId| {
        rows.iter().filter(|l| l.report_id == *report.as_uuid()).map(|l| l.line_number).collect::<Vec<_>>()
    };
    assert_eq!(shown(bad), [2]);
    assert_eq!(shown(orphan), Vec::<i32>::new());
    assert_eq!(shown(good), [2, 3, 4]);
    assert_eq!(entries.len(), 2 * 4, "lines 2 of the bad report and 2..4 of the good one post their fee");

    let client = pool.get().await.unwrap();
    let version = live_version(&**client).await.unwrap().unwrap();
    let parked = list_parked(&**client, version, Some(tenant), None, 10).await.unwrap();
    let by_stream: BTreeMap<_, _> = parked.iter().map(|p| (p.stream_id.clone(), p)).collect();
    assert_eq!(by_stream.len(), 2, "{parked:#?}");
    assert_eq!(by_stream[&bad.stream_id()].stream_version, 3);
    assert!(by_stream[&bad.stream_id()].reason.contains("cannot be projected"), "{parked:#?}");
    assert_eq!(by_stream[&orphan.stream_id()].stream_version, 1);
    assert!(by_stream[&orphan.stream_id()].reason.contains("refused"), "{parked:#?}");

    // A fresh fold parks the same streams at the same events.
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert_eq!(report.differences_total, 2, "{:#?}", report.differences);
    assert!(report.differences.iter().all(|d| d.kind == DifferenceKind::Parked));
    drop(client);
    rebuild(db.url(), RebuildOptions::default(), |_| {}).await.unwrap();
    let client = pool.get().await.unwrap();
    let version = live_version(&**client).await.unwrap().unwrap();
    let again = list_parked(&**client, version, Some(tenant), None, 10).await.unwrap();
    let positions = |p: &[payledger_projector::ParkedStream]| {
        let mut v: Vec<_> = p.iter().map(|p| (p.stream_id.clone(), p.event_position)).collect();
        v.sort();
        v
    };
    assert_eq!(positions(&again), positions(&parked));
}

/// Columns and indexes of a version's tables.
async fn shape(pool: &deadpool_postgres::Pool, schema: &str) -> (Vec<(String, String, String, String)>, Vec<String>) {
    let client = pool.get().await.unwrap();
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
             FROM information_schema.columns WHERE table_schema = $1 ORDER BY 1, 2",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let indexes = client
        .query("SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 ORDER BY 1", &[&schema])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (columns, indexes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migration_v9_gives_an_existing_version_the_shape_of_a_fresh_one() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let mut workload = Workload::new(43, 1);
    workload.run(&pool, 100).await;
    project_now(&pool, db.url()).await;
    let s = live_schema(&pool).await;
    let fresh = shape(&pool, &s).await;
    let client = pool.get().await.unwrap();
    // The version as it was before V9.
    client
        .batch_execute(&format!(
            "DROP TABLE {s}.settlement_lines, {s}.settlement_reports;
             DROP INDEX {s}.payments_provider_reference, {s}.refunds_provider_reference, {s}.disputes_provider_reference,
                 {s}.journal_entries_recorded;
             ALTER TABLE {s}.journal_entries DROP COLUMN report_id, DROP COLUMN report_line,
                 ALTER COLUMN payment_id SET NOT NULL, ALTER COLUMN order_id SET NOT NULL;"
        ))
        .await
        .unwrap();
    assert_ne!(shape(&pool, &s).await, fresh);
    client.batch_execute(include_str!("../../../../migrations/V9__settlement_read_models.sql")).await.unwrap();
    assert_eq!(shape(&pool, &s).await, fresh);
    drop(client);

    // And the migrated version projects reports like a fresh one.
    let tenant = workload.tenants()[0];
    let report = SettlementReportId::new();
    append_report(
        &pool,
        tenant,
        report,
        report_events(report, Provider::Generic, &[(line(2, LineKind::Fee, -9, 0), None)]),
    )
    .await;
    project_now(&pool, db.url()).await;
    let clean = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(clean.is_clean(), "{:#?}", clean.differences);
    assert_matches_oracle(&pool).await;
}
