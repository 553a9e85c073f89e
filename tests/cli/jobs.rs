//! Jobs run by real `payledger serve` processes: a verify longer than the request timeout,
//! followed over Server-Sent Events, reports what `payledger verify` reports; a job whose
//! server is killed (SIGKILL) is taken over by another server once its lease expires.

use std::time::{Duration, Instant};

use crate::server::{payledger, Server};

use payledger_testkit::sse::SseReader;
use payledger_testkit::TestDb;
use serde_json::{json, Value};

/// Migrates, makes tenant `shop` with a finance key, and appends `lifecycles` orders with
/// their payments; returns the key and the tenant id.
async fn shop_with_history(db: &TestDb, lifecycles: u64) -> (String, uuid::Uuid) {
    let (ok, _, err) = payledger(db, &["migrate"]);
    assert!(ok, "{err}");
    let (ok, out, err) = payledger(db, &["tenants", "create", "shop", "--json"]);
    assert!(ok, "{err}");
    let tenant: uuid::Uuid = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().parse().unwrap();
    let (ok, out, err) =
        payledger(db, &["keys", "create", "--tenant", "shop", "--role", "finance", "--mode", "live", "--json"]);
    assert!(ok, "{err}");
    let key = serde_json::from_str::<Value>(&out).unwrap()["key"].as_str().unwrap().to_owned();
    let pool = db.pool(4);
    for first in (0..lifecycles).step_by(100) {
        let mut items = Vec::new();
        for n in first..(first + 100).min(lifecycles) {
            items.extend(payledger_testkit::workload::lifecycle(tenant, n, "history").unwrap());
        }
        payledger_store::append_batch(&pool, items).await.unwrap();
    }
    (key, tenant)
}

async fn get(http: &reqwest::Client, base: &str, key: &str, path: &str) -> Value {
    let r = http.get(format!("{base}{path}")).bearer_auth(key).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// Queues a verify; returns the job's URL path.
async fn queue_verify(http: &reqwest::Client, base: &str, key: &str) -> String {
    let r = http.post(format!("{base}/v1/projections/verify")).bearer_auth(key).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = r.json().await.unwrap();
    assert_eq!(job["status"], json!("queued"), "{job}");
    location
}

/// Waits until the live read-models have applied every event.
async fn caught_up(http: &reqwest::Client, base: &str, key: &str) -> i64 {
    for _ in 0..1200 {
        let status = get(http, base, key, "/v1/projections").await;
        let projection = &status["data"][0];
        if let (Some(0), Some(version)) = (projection["lag_events"].as_i64(), projection["live_version"].as_i64()) {
            if projection["checkpoint"]["position"].as_i64() > Some(0) {
                return version;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the projector did not catch up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verify_longer_than_the_request_timeout_runs_as_a_job_followed_over_sse() {
    let db = TestDb::new().await;
    let (key, _) = shop_with_history(&db, 800).await;
    let request_timeout_ms = 200;
    let server =
        Server::start(&db, &[("PAYLEDGER_REQUEST_TIMEOUT_MS", "200"), ("PAYLEDGER_JOB_VERIFY_BATCH_SIZE", "25")]).await;
    let http = reqwest::Client::new();
    let version = caught_up(&http, &server.base, &key).await;
    // A difference both reports must name: one payment's captured amount, tampered.
    let client = db.connect().await;
    let tampered = client
        .execute(
            &format!(
                "UPDATE read_models_v{version}.payments SET amount_captured_minor = amount_captured_minor + 1
                 WHERE payment_id = (SELECT payment_id FROM read_models_v{version}.payments ORDER BY payment_id LIMIT 1)"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(tampered, 1);

    let job_path = queue_verify(&http, &server.base, &key).await;
    let response = http
        .get(format!("{}{job_path}", server.base))
        .bearer_auth(&key)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut frames = SseReader::new(response.bytes_stream());
    let mut done_seen = Vec::new();
    let last = loop {
        let frame = tokio::time::timeout(Duration::from_secs(120), frames.next())
            .await
            .expect("a frame within 2 minutes")
            .expect("the stream ends only after its final frame");
        match frame.event.as_deref() {
            Some("progress") => done_seen.push(frame.json()["progress"]["done"].as_i64().unwrap()),
            Some("done") => break frame.json(),
            None if frame.comment.is_some() => {}
            other => panic!("unexpected frame {other:?}: {}", frame.data),
        }
    };
    assert!(frames.next().await.is_none(), "the stream closes after its final frame");
    assert!(done_seen.windows(2).all(|w| w[0] <= w[1]), "progress only grows: {done_seen:?}");
    let distinct: std::collections::BTreeSet<_> = done_seen.iter().collect();
    assert!(distinct.len() >= 3, "progress was reported as it went: {done_seen:?}");
    assert_eq!(last["status"], json!("succeeded"), "{last}");

    // It ran longer than any request may.
    let at = |field: &str| chrono::DateTime::parse_from_rfc3339(last[field].as_str().unwrap()).unwrap();
    let ran_ms = (at("finished_at") - at("started_at")).num_milliseconds();
    assert!(ran_ms > request_timeout_ms, "the verify took {ran_ms} ms, not longer than the request timeout");

    // Its result is what `payledger verify` reports. The CLI runs later, so its checkpoint
    // also covers the job's own JobRequested and JobSucceeded; everything else is the same.
    let mut result = last["result"].clone();
    let (ok, out, err) = payledger(&db, &["verify", "--tenant", "shop"]);
    assert!(!ok, "the tampered row is a difference: {err}");
    let mut cli: Value = serde_json::from_str(&out).unwrap();
    let cli = cli["read_models"].take();
    assert_eq!(result["differences_total"], json!(1), "{result}");
    assert_eq!(result["clean"], json!(false));
    assert!(result["checkpoint"]["position"].as_i64() < cli["checkpoint"]["position"].as_i64());
    let object = result.as_object_mut().unwrap();
    for added in ["object", "projection", "clean", "repair", "checkpoint"] {
        object.remove(added);
    }
    let mut cli = cli.as_object().unwrap().clone();
    cli.remove("checkpoint");
    assert_eq!(Value::Object(object.clone()), Value::Object(cli));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_killed_server_is_taken_over_by_another_once_its_lease_expires() {
    let db = TestDb::new().await;
    let (key, _) = shop_with_history(&db, 2_000).await;
    let lease_ms: i64 = 1_000;
    let env = [("PAYLEDGER_JOB_LEASE_MS", "1000"), ("PAYLEDGER_JOB_VERIFY_BATCH_SIZE", "10")];
    let mut first = Server::start(&db, &env).await;
    let http = reqwest::Client::new();
    caught_up(&http, &first.base, &key).await;
    let job_path = queue_verify(&http, &first.base, &key).await;
    // The first server runs it ...
    let mut running = Value::Null;
    for _ in 0..400 {
        running = get(&http, &first.base, &key, &job_path).await;
        if running["status"] == json!("running") && running["progress"]["done"].as_i64() > Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!((&running["status"], &running["attempts"]), (&json!("running"), &json!(1)), "{running}");
    // ... a second server starts, and the first is killed mid-run.
    let second = Server::start(&db, &env).await;
    let running = get(&http, &second.base, &key, &job_path).await;
    assert_eq!((&running["status"], &running["attempts"]), (&json!("running"), &json!(1)), "{running}");
    first.kill9();
    let killed = Instant::now();
    let taken_over = loop {
        let job = get(&http, &second.base, &key, &job_path).await;
        if job["attempts"] == json!(2) {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(30), "never taken over: {job}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    // Within the lease, plus the second server's poll of the queue.
    assert!(taken_over.as_millis() < (lease_ms + 1_500) as u128, "taken over after {taken_over:?}");
    let finished = loop {
        let job = get(&http, &second.base, &key, &job_path).await;
        if job["finished_at"].is_string() {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(finished["status"], json!("succeeded"), "{finished}");
    assert_eq!(finished["result"]["clean"], json!(true), "{finished}");

    // The history shows who asked and how it ended, after two claims.
    let id = finished["id"].as_str().unwrap();
    let events = get(&http, &second.base, &key, &format!("/v1/events?stream_id=job-{id}")).await;
    let types: Vec<_> = events["data"].as_array().unwrap().iter().map(|e| e["event_type"].clone()).collect();
    assert_eq!(types, [json!("JobRequested"), json!("JobSucceeded")]);
    assert_eq!(events["data"][1]["payload"]["attempts"], json!(2));

    // `payledger jobs watch` follows it (here: already finished) and exits 0.
    let (ok, out, err) = payledger(&db, &["jobs", "watch", id, "--quiet"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["status"], json!("succeeded"));
}
