//! The live event feed (`GET /v1/events`, `Accept: text/event-stream`): every committed event
//! exactly once in read order while 20 writers append (some holding their transactions open),
//! a resume with `Last-Event-ID` after a disconnect at a random point, tenant isolation, and
//! the limits of live streams.

use crate::support as common;

use std::time::Duration;

use common::{spawn_app, spawn_app_with, TestApp};
use payledger_api::{ApiConfig, LiveConfig};
use payledger_store::{
    append, append_in_tx, notify_committed, read_all, BatchItem, Checkpoint, ExpectedVersion, NewEvent, ReadAllFilter,
    StreamKey,
};
use payledger_testkit::sse::{Frame, SseReader};
use serde_json::json;
use uuid::Uuid;

type Body = std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

async fn open_feed(app: &TestApp, key: &str, query: &str, last_event_id: Option<&str>) -> SseReader<Body> {
    let mut request = app
        .http
        .get(format!("{}/v1/events{query}", app.base_url))
        .bearer_auth(key)
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    SseReader::new(Box::pin(response.bytes_stream()) as Body)
}

/// The next event frame (heartbeats skipped), or `None` if none comes within `wait`.
async fn next_event(feed: &mut SseReader<Body>, wait: Duration) -> Option<Frame> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, feed.next()).await.ok()??;
        if frame.comment.is_none() {
            return Some(frame);
        }
    }
}

/// Reads `n` event frames; panics when they do not come.
async fn take(feed: &mut SseReader<Body>, n: usize) -> Vec<Frame> {
    let mut frames = Vec::with_capacity(n);
    while frames.len() < n {
        let frame = next_event(feed, Duration::from_secs(30)).await.expect("the feed keeps delivering");
        assert_ne!(frame.event.as_deref(), Some("error"), "{}", frame.data);
        frames.push(frame);
    }
    frames
}

fn event(w: usize, i: usize) -> NewEvent {
    NewEvent::new("FeedTestHappened", 1, json!({ "writer": w, "i": i }))
}

/// Appends `count` events in `count` transactions; a slow writer holds each transaction open
/// a while after appending (so later transactions commit before it, earlier in read order).
async fn write(pool: deadpool_postgres::Pool, tenant_id: Uuid, w: usize, count: usize, slow: bool) {
    let stream = StreamKey::new(tenant_id, format!("feedtest-{w}"));
    for i in 0..count {
        if slow {
            let mut client = pool.get().await.unwrap();
            let tx = client.transaction().await.unwrap();
            let item = BatchItem { stream: stream.clone(), expected: ExpectedVersion::Any, events: vec![event(w, i)] };
            append_in_tx(&tx, &[item]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20 + (i as u64 * 37) % 80)).await;
            tx.commit().await.unwrap();
            notify_committed(&pool);
        } else {
            append(&pool, &stream, ExpectedVersion::Any, vec![event(w, i)]).await.unwrap();
        }
    }
}

async fn tenant_id_of(app: &TestApp, name: &str) -> Uuid {
    let client = app.pool.get().await.unwrap();
    client.query_one("SELECT tenant_id FROM tenants WHERE name = $1 AND livemode", &[&name]).await.unwrap().get(0)
}

/// Every event of the tenant, in read order, as the store reads it.
async fn all_positions(app: &TestApp, tenant_id: Uuid) -> Vec<String> {
    app.settle().await;
    let client = app.pool.get().await.unwrap();
    let filter = ReadAllFilter { tenant_id: Some(tenant_id), ..ReadAllFilter::default() };
    let events = read_all(&**client, Checkpoint::START, &filter, 10_000).await.unwrap();
    events.iter().map(|e| e.global_position.to_string()).collect()
}

fn ids(frames: &[Frame]) -> Vec<String> {
    frames.iter().map(|f| f.id.clone().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_delivers_every_event_once_in_read_order_and_resumes_after_a_disconnect() {
    let app = spawn_app().await;
    let other = app.other_tenant("globex").await;
    let other_id = tenant_id_of(&app, "globex").await;
    let mut whole = open_feed(&app, app.key("auditor"), "", None).await;
    let mut theirs = open_feed(&app, &other["auditor"], "", None).await;
    let mut broken = open_feed(&app, app.key("finance"), "", None).await;
    let (writers, per_writer) = (20, 15);
    let mut tasks = Vec::new();
    for w in 0..writers {
        tasks.push(tokio::spawn(write(app.pool.clone(), app.tenant_id, w, per_writer, w % 4 == 0)));
    }
    tasks.push(tokio::spawn(write(app.pool.clone(), other_id, 99, 10, false)));
    // One client disconnects at a random point while the writers append.
    let cut_at = 1 + (Uuid::now_v7().as_u128() % 150) as usize;
    let before_cut = take(&mut broken, cut_at).await;
    drop(broken);
    for task in tasks {
        task.await.unwrap();
    }

    let expected = all_positions(&app, app.tenant_id).await;
    assert_eq!(expected.len(), writers * per_writer);
    let got = take(&mut whole, expected.len()).await;
    assert_eq!(ids(&got), expected, "every committed event once, in read order");
    assert!(next_event(&mut whole, Duration::from_millis(300)).await.is_none(), "and nothing more");
    // Each frame is the event as GET /v1/events shows it.
    let first = got[0].json();
    assert_eq!(
        (got[0].event.as_deref(), &first["position"]),
        (Some("FeedTestHappened"), &json!(expected[0].parse::<i64>().unwrap()))
    );

    // The resumed client gets the rest: no gap, no repeat.
    let last_seen = before_cut.last().unwrap().id.clone().unwrap();
    let mut resumed = open_feed(&app, app.key("finance"), "", Some(&last_seen)).await;
    let rest = take(&mut resumed, expected.len() - cut_at).await;
    let mut joined = ids(&before_cut);
    joined.extend(ids(&rest));
    assert_eq!(joined, expected, "cut after {cut_at}, resumed from {last_seen}");
    assert!(next_event(&mut resumed, Duration::from_millis(300)).await.is_none());

    // `starting_after` resumes the same way.
    let middle = &expected[expected.len() / 2];
    let mut from_query = open_feed(&app, app.key("auditor"), &format!("?starting_after={middle}"), None).await;
    let tail = take(&mut from_query, expected.len() / 2 + expected.len() % 2 - 1).await;
    assert_eq!(ids(&tail), expected[expected.len() / 2 + 1..].to_vec());

    // The other tenant's feed saw its own ten events and none of these.
    let theirs_expected = all_positions(&app, other_id).await;
    assert_eq!(theirs_expected.len(), 10);
    assert_eq!(ids(&take(&mut theirs, 10).await), theirs_expected);
    assert!(next_event(&mut theirs, Duration::from_millis(300)).await.is_none(), "none of another tenant's events");
    // Nor can it resume from one of them.
    let r = app
        .http
        .get(format!("{}/v1/events", app.base_url))
        .bearer_auth(&other["auditor"])
        .header("accept", "text/event-stream")
        .header("last-event-id", &expected[0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("cursor_invalid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_filters_by_stream_and_event_type() {
    let app = spawn_app().await;
    let mut one_stream = open_feed(&app, app.key("auditor"), "?stream_id=feedtest-1", None).await;
    let mut one_type = open_feed(&app, app.key("auditor"), "?event_type=Other", None).await;
    write(app.pool.clone(), app.tenant_id, 0, 3, false).await;
    write(app.pool.clone(), app.tenant_id, 1, 3, false).await;
    let stream = StreamKey::new(app.tenant_id, "feedtest-2".to_owned());
    append(&app.pool, &stream, ExpectedVersion::Any, vec![NewEvent::new("Other", 1, json!({}))]).await.unwrap();
    let got = take(&mut one_stream, 3).await;
    assert!(got.iter().all(|f| f.json()["stream_id"] == json!("feedtest-1")));
    assert!(next_event(&mut one_stream, Duration::from_millis(300)).await.is_none());
    let got = take(&mut one_type, 1).await;
    assert_eq!(got[0].event.as_deref(), Some("Other"));
}

#[tokio::test]
async fn live_streams_are_limited_per_key_and_a_writer_may_not_open_one() {
    let config = ApiConfig { live: LiveConfig { max_per_key: 2, ..LiveConfig::default() }, ..ApiConfig::default() };
    let app = spawn_app_with(config).await;
    let _a = open_feed(&app, app.key("auditor"), "", None).await;
    let b = open_feed(&app, app.key("auditor"), "", None).await;
    let third = |key: String| {
        let request = app.http.get(format!("{}/v1/events", app.base_url)).bearer_auth(key);
        async move { request.header("accept", "text/event-stream").send().await.unwrap() }
    };
    let r = third(app.key("auditor").to_owned()).await;
    assert_eq!(r.status(), 429);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("too_many_feeds"));
    // Another key has its own slots; a closed feed frees one.
    let _c = open_feed(&app, app.key("finance"), "", None).await;
    drop(b);
    // The server learns a client left when it next writes to it (an event, or a heartbeat).
    let stream = StreamKey::new(app.tenant_id, "feedtest-0".to_owned());
    payledger_testkit::eventually(Duration::from_secs(10), "the closed feed's slot to be free", || async {
        append(&app.pool, &stream, ExpectedVersion::Any, vec![event(0, 0)]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        (third(app.key("auditor").to_owned()).await.status() == 200).then_some(())
    })
    .await;
    let r = third(app.key("writer").to_owned()).await;
    assert_eq!(r.status(), 403);
    // A live feed has no limit; a JSON page keeps its own.
    let r = app
        .http
        .get(format!("{}/v1/events?limit=5", app.base_url))
        .bearer_auth(app.key("finance"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
