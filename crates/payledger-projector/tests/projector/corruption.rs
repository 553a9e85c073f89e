//! A read-model corrupted by hand (an amount changed, a row deleted, an extra row, a balance
//! and a journal line tampered with): verify names each difference; rebuild repairs it; verify
//! is clean again. Also: verify while commands keep arriving stays clean.

use crate::support::*;
use payledger_projector::{rebuild, verify, Difference, DifferenceKind, RebuildOptions, VerifyOptions};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

fn find<'a>(differences: &'a [Difference], table: &str, key: &str, field: &str) -> &'a Difference {
    differences
        .iter()
        .find(|d| d.table == table && d.key == key && d.field == field)
        .unwrap_or_else(|| panic!("no difference {table} {key} {field} in {differences:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_names_every_corruption_and_rebuild_repairs_it() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let projector = spawn_projector(db.url());
    let mut workload = Workload::new(21, 2);
    workload.run(&pool, 1_500).await;
    wait_projected(&pool).await;
    let clean = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(clean.is_clean(), "{:#?}", clean.differences);

    let s = live_schema(&pool).await;
    let client = pool.get().await.unwrap();
    // 1. An amount changed.
    let row = client
        .query_one(
            &format!(
                "SELECT payment_id, amount_captured_minor FROM {s}.payments WHERE amount_captured_minor > 0 LIMIT 1"
            ),
            &[],
        )
        .await
        .unwrap();
    let (payment_id, captured): (Uuid, i64) = (row.get(0), row.get(1));
    client
        .execute(
            &format!("UPDATE {s}.payments SET amount_captured_minor = amount_captured_minor + 1 WHERE payment_id = $1"),
            &[&payment_id],
        )
        .await
        .unwrap();
    // 2. A row deleted.
    let refund_id: Uuid = client
        .query_one(&format!("DELETE FROM {s}.refunds WHERE refund_id = (SELECT refund_id FROM {s}.refunds LIMIT 1) RETURNING refund_id"), &[])
        .await
        .unwrap()
        .get(0);
    // 3. An extra row.
    let extra_order = Uuid::now_v7();
    client
        .execute(
            &format!(
                "INSERT INTO {s}.orders SELECT tenant_id, $1, status, amount_minor, currency, reference, metadata,
                        amount_captured_minor, amount_refunded_minor, created_at, cancelled_at, cancel_reason, stream_version
                 FROM {s}.orders LIMIT 1"
            ),
            &[&extra_order],
        )
        .await
        .unwrap();
    // 4. A balance tampered with: both the diff and the "balance = sum of entries" check see it.
    let row = client
        .query_one(
            &format!(
                "UPDATE {s}.account_balances SET debit_minor = debit_minor + 7
                 WHERE (tenant_id, account, currency) = (SELECT tenant_id, account, currency FROM {s}.account_balances
                       WHERE account = 'gateway_receivable' LIMIT 1)
                 RETURNING account, currency, debit_minor::int8"
            ),
            &[],
        )
        .await
        .unwrap();
    let (account, currency, debit): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
    // 5. A journal line deleted: its transaction no longer balances.
    let row = client
        .query_one(
            &format!(
                "DELETE FROM {s}.journal_entries WHERE (tenant_id, event_position, line) =
                 (SELECT tenant_id, event_position, line FROM {s}.journal_entries WHERE line = 1 LIMIT 1)
                 RETURNING event_position, currency"
            ),
            &[],
        )
        .await
        .unwrap();
    let (position, line_currency): (i64, String) = (row.get(0), row.get(1));
    // 6. The live version's count of applied events, as if one event had been applied twice.
    let (version, _) = live(&pool).await;
    let applied: i64 = client
        .query_one(
            "UPDATE projection_versions SET events_applied = events_applied + 1 WHERE name = 'read_models' AND version = $1
             RETURNING events_applied",
            &[&version],
        )
        .await
        .unwrap()
        .get(0);
    drop(client);

    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(!report.is_clean());
    let d = &report.differences;
    let changed = find(d, "payments", &format!("payment_id={payment_id}"), "amount_captured_minor");
    assert_eq!(
        (changed.kind, &changed.expected, &changed.actual),
        (DifferenceKind::Changed, &json!(captured), &json!(captured + 1))
    );
    let missing = find(d, "refunds", &format!("refund_id={refund_id}"), "*");
    assert_eq!(missing.kind, DifferenceKind::Missing);
    assert!(missing.actual.is_null() && missing.expected["refund_id"] == json!(refund_id));
    let extra = find(d, "orders", &format!("order_id={extra_order}"), "*");
    assert_eq!(extra.kind, DifferenceKind::Extra);
    let balance = find(d, "account_balances", &format!("account={account}, currency={currency}"), "debit_minor");
    assert_eq!((&balance.expected, &balance.actual), (&json!(debit - 7), &json!(debit)));
    assert_eq!(
        find(d, "account_balances", &format!("account={account}, currency={currency}"), "balance_minor").kind,
        DifferenceKind::Changed
    );
    let mismatch = find(
        d,
        "account_balances",
        &format!("account={account}, currency={currency}"),
        "debit_minor (sum of journal entries)",
    );
    assert_eq!(mismatch.kind, DifferenceKind::BalanceMismatch);
    let unbalanced = find(
        d,
        "journal_entries",
        &format!("event_position={position}, currency={line_currency}"),
        "debits_minus_credits_minor",
    );
    assert_eq!(unbalanced.kind, DifferenceKind::Unbalanced);
    assert_eq!(
        find(d, "journal_entries", &format!("event_position={position}, line=1"), "*").kind,
        DifferenceKind::Missing
    );
    let count = find(d, "projection_versions", &format!("name=read_models, version={version}"), "events_applied");
    assert_eq!(
        (count.kind, &count.expected, &count.actual),
        (DifferenceKind::AppliedCount, &json!(applied - 1), &json!(applied))
    );
    assert_eq!(report.differences_total as usize, d.len());

    // Repair: rebuild, then all is clean and equals the oracle.
    rebuild(db.url(), RebuildOptions::default(), |_| {}).await.unwrap();
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
    assert_matches_oracle(&pool).await;
    projector.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_while_commands_keep_arriving_is_clean() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let projector = spawn_projector(db.url());
    let writer_pool = pool.clone();
    let writer = tokio::spawn(async move {
        let mut workload = Workload::new(31, 3);
        workload.run(&writer_pool, 2_000).await;
    });
    let mut verifies = 0;
    while !writer.is_finished() || verifies < 3 {
        let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
        assert!(report.is_clean(), "{:#?}", report.differences);
        verifies += 1;
    }
    writer.await.unwrap();
    wait_projected(&pool).await;
    assert_matches_oracle(&pool).await;
    projector.abort();
}
