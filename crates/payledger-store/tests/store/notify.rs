//! `append_in_tx` leaves the NOTIFY to its caller, after the commit: a NOTIFY inside the
//! transaction would hold PostgreSQL's cluster-wide notify lock through the commit.

use std::time::Duration;

use futures::StreamExt;
use payledger_store::{append_in_tx, BatchItem, ExpectedVersion, NewEvent, StreamKey, NOTIFY_CHANNEL};
use payledger_testkit::TestDb;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

async fn listen(url: &str) -> (tokio_postgres::Client, mpsc::UnboundedReceiver<String>) {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = sender.send(n.channel().to_owned());
            }
        }
    });
    client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}")).await.unwrap();
    (client, receiver)
}

fn item(stream: &str) -> [BatchItem; 1] {
    [BatchItem {
        stream: StreamKey::new(Uuid::now_v7(), stream),
        expected: ExpectedVersion::NoStream,
        events: vec![NewEvent::new("Tested", 1, json!({}))],
    }]
}

#[tokio::test]
async fn append_in_tx_notifies_nobody_and_the_caller_notifies_after_its_commit() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let (_listening, mut notifications) = listen(db.url()).await;

    let mut client = pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    append_in_tx(&tx, &item("s-1")).await.unwrap();
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(notifications.try_recv().is_err(), "append_in_tx notified inside the transaction");

    payledger_store::notify_committed(&pool);
    let channel = tokio::time::timeout(Duration::from_secs(5), notifications.recv()).await.expect("notified").unwrap();
    assert_eq!(channel, NOTIFY_CHANNEL);
}

/// Statements are prepared once per connection: later commands' statements are not parsed
/// again (pg_prepared_statements lists each text once), and past PostgreSQL's five custom
/// plans the hot ones run on their generic plan, planned no more.
#[tokio::test]
async fn the_command_statements_are_prepared_once_per_connection() {
    let db = TestDb::new().await;
    let pool = db.pool(1);
    let stream = StreamKey::new(Uuid::now_v7(), "s-hot");
    for n in 0..8 {
        let mut client = pool.get().await.unwrap();
        let tx = client.transaction().await.unwrap();
        payledger_store::prepare_command_statements(&tx).await.unwrap();
        payledger_store::lock_stream(&tx, &stream).await.unwrap();
        let expected = if n == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(n) };
        let events = vec![NewEvent::new("Tested", 1, json!({ "n": n }))];
        payledger_store::read_stream(&tx, &stream, 1, 100).await.unwrap();
        append_in_tx(&tx, &[BatchItem { stream: stream.clone(), expected, events }]).await.unwrap();
        tx.commit().await.unwrap();
    }
    let client = pool.get().await.unwrap();
    // Unnamed (query_typed), so that these checks are not listed themselves.
    let rows = client
        .query_typed(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
             WHERE statement LIKE '%payledger_append(%' OR statement LIKE '%FROM events WHERE tenant_id%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "payledger_append and read_stream prepared once each, not per call");
    for row in &rows {
        let (statement, generic, custom): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(generic + custom, 8, "{statement}");
        assert!(generic >= 3, "{statement}: {generic} generic of 8 plans");
    }
    let prepared: i64 = client.query_typed("SELECT count(*) FROM pg_prepared_statements", &[]).await.unwrap()[0].get(0);
    assert_eq!(prepared, 6, "the six statements of a command, each once");
}

/// A notify task that its runtime drops before it ever runs must not leave its pool marked
/// in flight: a later pool at the same address would then coalesce into a NOTIFY nobody
/// sends (a flaky CI run of the test above).
#[test]
fn a_notify_task_dropped_before_it_runs_leaves_nothing_in_flight() {
    let setup = tokio::runtime::Runtime::new().unwrap();
    let db = setup.block_on(TestDb::new());
    let pool = setup.block_on(async { db.pool(1) });
    let short_lived = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // block_on returns at once; the spawned task is queued, not yet polled.
    short_lived.block_on(async { payledger_store::notify_committed(&pool) });
    drop(short_lived);
    assert!(!payledger_store::notify_in_flight(&pool), "a task dropped unpolled left its pool in flight");
    setup.block_on(async move { drop(db) });
}
