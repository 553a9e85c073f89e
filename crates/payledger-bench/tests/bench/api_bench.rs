//! The API benchmark end to end, tiny and counted, against the PostgreSQL of `DATABASE_URL`.
//! It checks the harness (every phase reports, the check passes, the database is dropped),
//! not the figures.

use payledger_bench::api::{run, ApiBenchOptions, Operation};
use payledger_bench::store::Workload;

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run the tests with `make test`, which starts a PostgreSQL")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counted_run_loads_checks_and_drops_its_database() {
    let mut opts = ApiBenchOptions::new(database_url());
    opts.concurrency = 2;
    opts.requests_per_worker = Some(40);
    opts.warmup_ms = 0;
    opts.webhook_rate_per_s = 50;
    opts.webhook_rate_duration_ms = 400;
    let report = run(opts).await.unwrap();

    assert_eq!(report.load.requests, 80, "{report}");
    assert_eq!(report.load.ok, 80, "{report}");
    assert!(report.load.requests_per_s > 0.0 && report.load.events > 0, "{report}");
    let ops: Vec<Operation> = report.load.operations.iter().map(|o| o.operation).collect();
    assert!(ops.contains(&Operation::CreateOrder) && ops.contains(&Operation::Webhook), "{ops:?}");
    let latency = report.load.latency.unwrap();
    assert!(latency.p50_ms <= latency.p95_ms && latency.p95_ms <= latency.p99_ms && latency.p99_ms <= latency.max_ms);

    let rate = report.webhook_rate.as_ref().unwrap();
    assert_eq!((rate.scheduled, rate.sent, rate.ok), (20, 20, 20), "{rate:?}");

    let check = &report.check;
    assert!(check.passed, "{report}");
    assert_eq!(check.commands_ok, check.commands_exactly_once);
    assert!(check.webhooks_ok >= 20 && check.webhooks_ok == check.webhooks_exactly_once, "{check:?}");
    assert!(check.chains_intact && check.read_models_clean);

    let rust = report.ceiling.iter().find(|m| m.workload == Workload::CeilingInsertRust).unwrap();
    assert_eq!(rust.ops, 80);
    assert!(report.ratio.requests_vs_rust.unwrap() > 0.0);
    let text = report.to_string();
    assert!(text.contains("check: PASSED"), "{text}");
    assert!(serde_json::to_value(&report).unwrap()["check"]["passed"].as_bool().unwrap());

    let (admin, connection) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let left =
        admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&report.settings.database]).await.unwrap();
    assert!(left.is_none(), "{} was not dropped", report.settings.database);
}

#[tokio::test]
async fn refuses_bad_options_before_touching_the_server() {
    let mut opts = ApiBenchOptions::new("postgres://nobody@127.0.0.1:1/none");
    opts.concurrency = 0;
    let err = run(opts).await.unwrap_err();
    assert!(err.to_string().contains("concurrency"), "{err}");
}
