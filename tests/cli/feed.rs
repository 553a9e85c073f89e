//! A live feed client that stops reading, against a real `payledger serve` process: it is cut
//! off with `consumer_too_slow` once its buffer stays full, the server's memory stays bounded
//! meanwhile (far below what the client left unread), and it resumes from the last event it
//! got with nothing missed or repeated; a client that never reads again does not keep the
//! server from stopping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use payledger_store::{
    append_batch, read_all, BatchItem, Checkpoint, ExpectedVersion, NewEvent, ReadAllFilter, StreamKey,
};
use payledger_testkit::sse::{Frame, SseReader};
use payledger_testkit::TestDb;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::{payledger, Server};

const EVENTS: usize = 10_000;
const PAD_BYTES: usize = 4_000;

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Samples the process's resident memory every 20 ms; the highest seen.
fn watch_peak_rss(pid: u32) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let peak = Arc::new(AtomicU64::new(rss_kib(pid)));
    let seen = peak.clone();
    let task = tokio::spawn(async move {
        loop {
            seen.fetch_max(rss_kib(pid), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (peak, task)
}

/// A feed request on a socket with a tiny receive buffer; returns it once the headers came.
async fn open_stalled_feed(base: &str, key: &str) -> tokio::net::TcpStream {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    // HTTP/1.0: the body is delimited by the connection's close, no chunk framing to undo.
    let request = format!(
        "GET /v1/events HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> String {
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut all))
        .await
        .expect("the server closes the feed after cutting it")
        .unwrap();
    String::from_utf8(all).unwrap()
}

async fn frames_of(body: &str) -> Vec<Frame> {
    let chunks = futures::stream::iter([Ok::<_, ()>(body.as_bytes().to_vec())]);
    let mut reader = SseReader::new(chunks);
    let mut frames = Vec::new();
    while let Some(frame) = reader.next().await {
        if frame.comment.is_none() {
            frames.push(frame);
        }
    }
    frames
}

async fn append_padded_events(db: &TestDb, tenant_id: uuid::Uuid) {
    let pool = db.pool(4);
    let pad = "x".repeat(PAD_BYTES);
    for batch in 0..EVENTS / 100 {
        let items = (0..10)
            .map(|s| BatchItem {
                stream: StreamKey::new(tenant_id, format!("slowfeed-{batch}-{s}")),
                expected: ExpectedVersion::NoStream,
                events: (0..10).map(|i| NewEvent::new("FeedTestHappened", 1, json!({ "i": i, "pad": pad }))).collect(),
            })
            .collect();
        append_batch(&pool, items).await.unwrap();
    }
}

async fn tenant_positions(db: &TestDb, tenant_id: uuid::Uuid) -> Vec<String> {
    let client = db.connect().await;
    let filter = ReadAllFilter { tenant_id: Some(tenant_id), ..ReadAllFilter::default() };
    let mut after = Checkpoint::START;
    let mut positions = Vec::new();
    loop {
        let events = read_all(&client, after, &filter, 1_000).await.unwrap();
        let Some(last) = events.last() else { return positions };
        after = last.checkpoint();
        positions.extend(events.iter().map(|e| e.global_position.to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_memory_stays_bounded_and_it_resumes() {
    let db = TestDb::new().await;
    assert!(payledger(&db, &["migrate"]).0);
    let (ok, out, err) = payledger(&db, &["tenants", "create", "shop", "--json"]);
    assert!(ok, "{err}");
    let tenant_id: uuid::Uuid = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().parse().unwrap();
    let (ok, out, err) =
        payledger(&db, &["keys", "create", "--tenant", "shop", "--role", "auditor", "--mode", "live", "--json"]);
    assert!(ok, "{err}");
    let key = serde_json::from_str::<Value>(&out).unwrap()["key"].as_str().unwrap().to_owned();
    let env = [("PAYLEDGER_FEED_BUFFER_EVENTS", "64"), ("PAYLEDGER_FEED_SLOW_CONSUMER_MS", "1000")];
    let server = Server::start(&db, &env).await;

    let mut stalled = open_stalled_feed(&server.base, &key).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_kib = rss_kib(server.child.id());
    let (peak_kib, sampler) = watch_peak_rss(server.child.id());
    append_padded_events(&db, tenant_id).await;
    // Past the slow-consumer limit, with the client still not reading.
    tokio::time::sleep(Duration::from_secs(3)).await;
    sampler.abort();
    let grown_kib = peak_kib.load(Ordering::Relaxed).saturating_sub(before_kib);

    let response = read_to_close(&mut stalled).await;
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{head}");
    let frames = frames_of(body).await;
    let (cut, got) = frames.split_last().unwrap();
    assert_eq!(cut.event.as_deref(), Some("error"), "the feed ends with an error frame");
    let error = cut.json();
    assert_eq!(error["error"]["code"], json!("consumer_too_slow"), "{error}");
    let last_id = got.last().unwrap().id.clone().unwrap();
    assert_eq!(error["error"]["last_event_id"], json!(last_id.parse::<i64>().unwrap()));

    let expected = tenant_positions(&db, tenant_id).await;
    // The test's events and the two admin actions before them (TenantCreated, ApiKeyCreated).
    assert_eq!(expected.len(), EVENTS + 2);
    let got_ids: Vec<String> = got.iter().map(|f| f.id.clone().unwrap()).collect();
    assert!(got_ids.len() < EVENTS / 2, "the stalled client got {} events before the cut", got_ids.len());
    assert_eq!(got_ids, expected[..got_ids.len()].to_vec(), "what it got is the start of the history, in order");

    // The client left ~40 MB unread; the server held no more than a bounded buffer of it.
    let unread_kib = ((EVENTS - got_ids.len()) * PAD_BYTES / 1024) as u64;
    assert!(
        grown_kib < unread_kib / 3,
        "server RSS grew {grown_kib} KiB while the client left {unread_kib} KiB unread"
    );

    // Resumed from its last id, it gets the rest: no gap, no repeat.
    let http = reqwest::Client::new();
    let resumed = http
        .get(format!("{}/v1/events", server.base))
        .bearer_auth(&key)
        .header("accept", "text/event-stream")
        .header("last-event-id", &last_id)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let mut reader = SseReader::new(resumed.bytes_stream());
    let mut rest = Vec::new();
    while got_ids.len() + rest.len() < expected.len() {
        let frame = tokio::time::timeout(Duration::from_secs(30), reader.next()).await.unwrap().unwrap();
        if frame.comment.is_none() {
            assert_ne!(frame.event.as_deref(), Some("error"), "{}", frame.data);
            rest.push(frame.id.unwrap());
        }
    }
    let mut joined = got_ids;
    joined.extend(rest);
    assert_eq!(joined, expected);

    // A client that never reads again does not keep the server from stopping.
    let _never_reads = open_stalled_feed(&server.base, &key).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stops_on_sigterm_within(server, Duration::from_millis(payledger_api::SHUTDOWN_GRACE_MS + 10_000)).await;
}

async fn stops_on_sigterm_within(mut server: Server, limit: Duration) {
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "the server stopped with {status}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not stop within {limit:?} of SIGTERM");
}
