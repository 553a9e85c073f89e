//! A stream whose event cannot be projected is parked; every other stream, of every tenant,
//! goes on. Verify reports it, a rebuild parks the same stream, and `retry_parked` keeps a
//! still-bad stream parked and un-parks one whose cause is gone.

use std::time::Duration;

use crate::support::*;
use payledger_projector::{
    list_parked, live_version, projection_status, rebuild, retry_parked, tenant_projection_status, verify,
    DifferenceKind, RebuildOptions, RetryOptions, VerifyOptions,
};
use payledger_store::{append, ExpectedVersion, NewEvent, StreamKey};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

/// Appends an event to a fresh `payment-...` stream that no build can decode.
async fn append_undecodable(pool: &deadpool_postgres::Pool, tenant: Uuid) -> StreamKey {
    let stream = StreamKey::new(tenant, format!("payment-{}", Uuid::now_v7()));
    let event = NewEvent::new("PaymentInitiated", 1, json!({"amount_minor": "not a number"}));
    append(pool, &stream, ExpectedVersion::NoStream, vec![event]).await.unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_bad_stream_is_parked_while_every_other_stream_goes_on() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let projector = spawn_projector(db.url());
    let mut workload = Workload::new(7, 2);
    let (bad_tenant, good_tenant) = (workload.tenants()[0], workload.tenants()[1]);
    workload.run(&pool, 150).await;

    // The bad event lands while the workload keeps appending (concurrently).
    let appender = {
        let pool = pool.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            append_undecodable(&pool, bad_tenant).await
        })
    };
    workload.run(&pool, 400).await;
    let bad = appender.await.unwrap();
    workload.run(&pool, 100).await;
    wait_projected(&pool).await;

    let client = pool.get().await.unwrap();
    let version = live_version(&**client).await.unwrap().unwrap();
    let parked = list_parked(&**client, version, None, None, 100).await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:#?}");
    assert_eq!((parked[0].tenant_id, &parked[0].stream_id), (bad.tenant_id, &bad.stream_id));
    assert!(parked[0].reason.contains("cannot be projected"), "{}", parked[0].reason);

    // Status: the bad tenant sees its stream; the other tenant sees nothing of it.
    let all = projection_status(&**client).await.unwrap();
    assert_eq!((all[0].state, all[0].parked_streams_count), ("degraded", 1));
    let own = tenant_projection_status(&**client, bad_tenant).await.unwrap();
    assert_eq!(own[0].parked_streams[0].stream_id, bad.stream_id);
    let other = tenant_projection_status(&**client, good_tenant).await.unwrap();
    assert_eq!((other[0].state, other[0].parked_streams_count, other[0].parked_streams.len()), ("live", 0, 0));

    // Verify: the parked stream is a failure, named; nothing else differs (the fresh fold
    // parks the same stream at the same event, and applied every other event).
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.parked_streams.len(), 1);
    assert!(
        report.differences.iter().all(|d| d.kind == DifferenceKind::Parked && d.key.contains(&bad.stream_id)),
        "{:#?}",
        report.differences
    );

    // Retry: still undecodable, so still parked, with its reason and one more retry.
    let options = RetryOptions { tenant_id: Some(bad_tenant), ..RetryOptions::default() };
    let outcomes = retry_parked(db.url(), &options).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(!outcomes[0].unparked);
    let still = list_parked(&**client, version, Some(bad_tenant), None, 100).await.unwrap();
    assert_eq!((still.len(), still[0].retries), (1, 1));
    assert!(still[0].reason.contains("cannot be projected"));

    // A rebuild does not fail: it parks the same stream at the same event.
    projector.abort();
    let rebuilt = rebuild(db.url(), RebuildOptions::default(), |_| {}).await.unwrap();
    let again = list_parked(&**client, rebuilt.version, None, None, 100).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((&again[0].stream_id, again[0].event_position), (&bad.stream_id, parked[0].event_position));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_the_database_refuses_park_their_streams_and_retry_unparks_them_once_fixed() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let projector = spawn_projector(db.url());
    let mut workload = Workload::new(11, 2);
    let (refused, other) = (workload.tenants()[0], workload.tenants()[1]);
    workload.run(&pool, 20).await;
    wait_projected(&pool).await;

    // A cause outside the streams: the live payments table refuses one tenant's rows.
    let s = live_schema(&pool).await;
    let client = pool.get().await.unwrap();
    client
        .batch_execute(&format!(
            "ALTER TABLE {s}.payments ADD CONSTRAINT test_refuse CHECK (tenant_id <> '{refused}') NOT VALID"
        ))
        .await
        .unwrap();
    workload.run(&pool, 300).await;
    wait_projected(&pool).await;

    let version = live_version(&**client).await.unwrap().unwrap();
    let parked = list_parked(&**client, version, None, None, 1_000).await.unwrap();
    assert!(!parked.is_empty(), "the refused tenant's payment streams are parked");
    assert!(parked.iter().all(|p| p.tenant_id == refused && p.stream_id.starts_with("payment-")), "{parked:#?}");
    assert!(parked[0].reason.contains("test_refuse"), "{}", parked[0].reason);
    let others: i64 = client
        .query_one(&format!("SELECT count(*) FROM {s}.payments WHERE tenant_id = $1"), &[&other])
        .await
        .unwrap()
        .get(0);
    assert!(others > 0, "the other tenant's payments were projected");

    // Still refused: retry keeps them parked.
    let outcomes = retry_parked(db.url(), &RetryOptions::default()).await.unwrap();
    assert_eq!(outcomes.len(), parked.len());
    assert!(outcomes.iter().all(|o| !o.unparked && o.parked.as_ref().is_some_and(|p| p.retries == 1)));

    // The cause is gone: retry un-parks every stream, and the read-models then match a
    // fold of the log exactly (journal lines of the skipped events posted once).
    client.batch_execute(&format!("ALTER TABLE {s}.payments DROP CONSTRAINT test_refuse")).await.unwrap();
    let outcomes =
        retry_parked(db.url(), &RetryOptions { tenant_id: Some(refused), ..RetryOptions::default() }).await.unwrap();
    assert!(outcomes.iter().all(|o| o.unparked), "{outcomes:#?}");
    assert!(list_parked(&**client, version, None, None, 10).await.unwrap().is_empty());
    workload.run(&pool, 50).await;
    wait_projected(&pool).await;
    assert_matches_oracle(&pool).await;
    projector.abort();
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
}
