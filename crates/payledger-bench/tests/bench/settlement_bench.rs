//! The settlement benchmark end to end on a small report, against the PostgreSQL of
//! `DATABASE_URL`. It checks the harness and its self-check, not the figures.

use payledger_bench::settlement::{run, SettlementBenchOptions};

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run the tests with `make test`, which starts a PostgreSQL")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_report_is_imported_projected_reconciled_as_generated_and_dropped() {
    let mut opts = SettlementBenchOptions::new(database_url());
    opts.lines = 2_001;
    opts.seed_payments_per_batch = 100;
    let report = run(opts).await.unwrap();

    assert!(report.check.passed, "{report}");
    let mix = &report.report.mix;
    assert_eq!((report.import.lines, report.import.duplicate_lines), (2_001, mix.duplicate_lines));
    assert_eq!(report.projection.events_applied, 2_002, "the report's event and one per line");
    assert_eq!(report.reconciliation.items, 2_001);
    let counts = &report.reconciliation.counts;
    assert_eq!(counts["amount_mismatch"], mix.amount_mismatches);
    assert_eq!(counts["missing_in_ledger"], mix.unknown_payments);
    assert_eq!(counts["duplicate_in_report"], mix.duplicate_lines);
    assert_eq!(counts["payout_mismatch"], 0, "the payout is the net of its lines");
    assert_eq!(report.reconciliation.difference_minor, report.reconciliation.expected_difference_minor.to_string());
    assert_eq!(report.copy.len(), 2);
    assert!(report.copy.iter().all(|c| c.rows == 2_001 && c.bytes == report.report.bytes), "{:?}", report.copy);
    assert!(report.import_vs_copy.unwrap() > 0.0);
    assert!(report.memory.import_peak_sampled_rss_mib.unwrap() > 0.0);
    let profile = report.profile.as_ref().unwrap();
    assert_eq!(profile.lines, 2_001);
    assert!(profile.parse_ms > 0.0 && profile.append_ms > 0.0, "{profile:?}");
    assert!(report.to_string().contains("check: PASSED"), "{report}");

    let (admin, connection) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let left = admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&report.database]).await.unwrap();
    assert!(left.is_none(), "{} was not dropped", report.database);
}
