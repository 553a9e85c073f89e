//! A rebuild timed against `COPY (SELECT * FROM events) TO STDOUT` in the same run, on the
//! benchmark's history (the test kit's lifecycles, 24 per batch append, 2 writers), in the
//! database `DATABASE_URL` names (migrated here). A database that already holds events (an
//! earlier run's) is not filled again: its log is rebuilt, so two builds are timed on one
//! history. Builds with the projector alone, so it is quicker to rebuild than the whole
//! benchmark binary:
//!
//!   cargo run --release -p payledger-projector --example rebuild_timing -- 1000000

// A measuring tool: a failed step ends it with its message.
#![allow(clippy::expect_used)]

use std::time::Instant;

use futures::StreamExt;
use payledger_projector::{rebuild, RebuildOptions};
use payledger_store::{append_batch, connect_pool, PoolOptions};
use tokio_postgres::NoTls;
use uuid::Uuid;

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

async fn copy_out(client: &tokio_postgres::Client) -> (u64, f64) {
    let started = Instant::now();
    let stream = client.copy_out("COPY (SELECT * FROM events) TO STDOUT").await.expect("copy");
    futures::pin_mut!(stream);
    let mut rows = 0u64;
    while let Some(chunk) = stream.next().await {
        rows += chunk.expect("copy chunk").iter().filter(|&&b| b == b'\n').count() as u64;
    }
    (rows, rows as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let events: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    payledger_store::migrate(&url).await.expect("migrate");
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    let held: i64 = client.query_one("SELECT count(*) FROM events", &[]).await.expect("count").get(0);
    if held == 0 {
        generate(&url, events).await;
    } else {
        // A history already there (an earlier run's) is rebuilt again: before/after on one log.
        println!("history: {held} events already in the database");
    }
    // One statement each: VACUUM refuses to run in the implicit transaction of a batch.
    for statement in ["VACUUM ANALYZE events", "ALTER TABLE events SET (autovacuum_enabled = false)", "CHECKPOINT"] {
        client.batch_execute(statement).await.expect(statement);
    }
    let before = copy_out(&client).await;
    println!("COPY before: {} rows at {:.0} rows/s", before.0, before.1);
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = status_mib("VmRSS:");
    let started = Instant::now();
    let mut replay_s = None;
    let report = rebuild(&url, RebuildOptions::default(), |p| {
        if p.phase != payledger_projector::RebuildPhase::Replaying && replay_s.is_none() {
            replay_s = Some(p.elapsed.as_secs_f64());
        }
    })
    .await
    .expect("rebuild");
    let seconds = started.elapsed().as_secs_f64();
    let hwm = status_mib("VmHWM:");
    let after = copy_out(&client).await;
    println!("COPY after: {} rows at {:.0} rows/s", after.0, after.1);
    let rate = report.events_applied as f64 / seconds;
    println!(
        "rebuild: {} events in {seconds:.2} s = {rate:.0} events/s (replay {:.2} s); ratio to the faster COPY {:.3}; \
         RSS before {rss_before:.1} MiB, VmHWM {hwm:.1} MiB",
        report.events_applied,
        replay_s.unwrap_or(0.0),
        rate / before.1.max(after.1)
    );
}

/// The benchmark's history: the test kit's lifecycles, 24 per batch append, 2 writers.
async fn generate(url: &str, events: u64) {
    let pool =
        connect_pool(url, &PoolOptions { max_connections: 2, wait_timeout_ms: 10_000, statement_timeout_ms: 120_000 })
            .expect("pool");
    let (tenant, key) = (Uuid::new_v4(), Uuid::now_v7().to_string());
    let started = Instant::now();
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let pool = pool.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let mut n = w * 24;
                let mut written = 0;
                while written < events / 2 {
                    let mut items = Vec::new();
                    for i in n..n + 24 {
                        items.extend(payledger_testkit::workload::lifecycle(tenant, i, &key).expect("lifecycle"));
                    }
                    written += append_batch(&pool, items).await.expect("append").events.len() as u64;
                    n += 48;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    println!("generated in {:.1} s", started.elapsed().as_secs_f64());
}
