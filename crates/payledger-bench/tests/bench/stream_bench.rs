//! The stream benchmark end to end on short streams, against the PostgreSQL of
//! `DATABASE_URL`. It checks the harness, not the figures.

use payledger_bench::stream::{run, StreamBenchOptions};

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run the tests with `make test`, which starts a PostgreSQL")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_seeded_captured_with_and_without_the_cache_and_dropped() {
    let mut opts = StreamBenchOptions::new(&database_url());
    // 1,200 crosses a fold page (1,000 events).
    opts.lengths = vec![1_200, 2];
    opts.commands = 6;
    opts.uncached_commands = 2;
    opts.writers = 2;
    opts.skip_pgbench = true;
    let report = run(opts).await.unwrap();

    let rows: Vec<(u64, bool, u64)> =
        report.streams.iter().map(|s| (s.events_before, s.cache, s.latency.map_or(0, |l| l.samples))).collect();
    assert_eq!(rows, [(2, true, 6), (2, false, 2), (1_200, true, 6), (1_200, false, 2)]);
    assert!(report.streams.iter().all(|s| s.p50_vs_insert.is_some_and(|r| r > 0.0)), "{:?}", report.streams);
    assert_eq!(report.ceiling.len(), 1);
    assert!(report.cached_longest_vs_shortest_p50.is_some());
    assert!(report.to_string().contains("stream benchmark"));

    let (admin, connection) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let left = admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&report.database]).await.unwrap();
    assert!(left.is_none(), "{} was not dropped", report.database);
}
