//! The rebuild benchmark end to end on a tiny history, against the PostgreSQL of
//! `DATABASE_URL`. It checks the harness, not the figures.

use payledger_bench::rebuild::{run, RebuildBenchOptions};

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run the tests with `make test`, which starts a PostgreSQL")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_history_is_generated_rebuilt_copied_and_dropped() {
    let mut opts = RebuildBenchOptions::new(database_url());
    opts.events = 500;
    opts.lifecycles_per_batch = 10;
    let report = run(opts).await.unwrap();

    let g = &report.generation;
    assert!(g.events >= 500 && g.events < 500 + 2 * 10 * 6, "{g:?}");
    assert_eq!(report.rebuild.events_applied, g.events);
    assert!(report.rebuild.events_per_s > 0.0);
    assert_eq!(report.copy.len(), 2);
    assert!(report.copy.iter().all(|c| c.rows == g.events && c.bytes > 0), "{:?}", report.copy);
    assert!(report.rebuild_vs_copy.unwrap() > 0.0);
    assert!(report.memory.peak_sampled_rss_mib.unwrap() > 0.0);
    assert!(report.to_string().contains("rebuild:"));

    let (admin, connection) = tokio_postgres::connect(&database_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let left = admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&report.database]).await.unwrap();
    assert!(left.is_none(), "{} was not dropped", report.database);
}
