//! The benchmark harness end to end, tiny, against the PostgreSQL of `DATABASE_URL`
//! (`make test` starts one). It checks the harness, not the figures.

use payledger_bench::store::{run, StoreBenchOptions, Workload};

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run the tests with `make test`, which starts a PostgreSQL")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counted_run_measures_every_phase_and_drops_its_database() {
    let mut opts = StoreBenchOptions::new(database_url());
    opts.transactions_per_writer = Some(12);
    opts.warmup_ms = 0;
    opts.writers = vec![1, 3];
    opts.batch_writers = vec![2];
    opts.batch_streams = 3;
    opts.batch_events_per_stream = 4;
    let report = run(opts).await.unwrap();

    for writers in [1, 3] {
        for workload in [Workload::LedgerAppend, Workload::CeilingInsertRust] {
            let m = report.measurement(workload, writers).unwrap();
            assert_eq!(m.ops, 12 * writers as u64, "{m:?}");
            assert_eq!(m.events, m.ops);
            assert!(m.ops_per_s > 0.0 && m.events_per_s > 0.0, "{m:?}");
            let latency = m.latency.unwrap();
            assert_eq!(latency.samples, m.ops);
            assert!(latency.p50_ms <= latency.p99_ms && latency.p99_ms <= latency.max_ms, "{latency:?}");
        }
        if report.settings.pgbench_path.is_some() {
            let m = report.measurement(Workload::CeilingInsertPgbench, writers).unwrap();
            assert_eq!(m.ops, 12 * writers as u64, "{m:?}");
            assert!(m.ops_per_s > 0.0, "{m:?}");
            assert_eq!(m.latency.unwrap().samples, m.ops);
        }
    }
    let batch = report.measurement(Workload::LedgerBatchAppend, 2).unwrap();
    assert_eq!((batch.ops, batch.events, batch.events_per_op), (24, 24 * 12, 12));
    assert_eq!(report.ratios.len(), 2);
    assert!(report.ratios[0].ledger_vs_rust.unwrap() > 0.0);

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["measurements"][0]["workload"], "ledger_append");
    let text = report.to_string();
    assert!(text.contains("ledger batch append"), "{text}");

    let (admin, connection) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let left =
        admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&report.settings.database]).await.unwrap();
    assert!(left.is_none(), "{} was not dropped", report.settings.database);
}

#[tokio::test]
async fn refuses_bad_options_before_touching_the_server() {
    let mut opts = StoreBenchOptions::new("postgres://nobody@127.0.0.1:1/none");
    opts.writers = vec![0];
    let err = run(opts).await.unwrap_err();
    assert!(err.to_string().contains("writers"), "{err}");
}
