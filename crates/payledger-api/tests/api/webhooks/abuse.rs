//! Unauthenticated abuse of the webhook route: refusals from the headers alone, a body
//! timeout, and a slow-body flood that must not starve genuine deliveries.

use std::time::{Duration, Instant};

use payledger_api::ApiConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

use super::support::*;
use crate::support::{spawn_app_with, TestApp};

/// A server whose API routes allow few requests in flight, so a small flood would fill them.
async fn small_app(body_timeout_ms: u64) -> TestApp {
    spawn_app_with(ApiConfig {
        max_in_flight_requests: 64,
        webhook_body_timeout_ms: body_timeout_ms,
        ..ApiConfig::default()
    })
    .await
}

/// Opens a connection and sends a POST's headers declaring `length` bytes, then `sent`.
async fn start_post(app: &TestApp, path: &str, length: u64, sent: &str) -> TcpStream {
    let address = app.base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{sent}"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// The status and JSON body of the response, if it comes within `within`.
async fn response(stream: &mut TcpStream, within: Duration) -> Option<(u16, Value)> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if buf.len() >= end + 4 + length {
                    let status = head[9..12].parse().unwrap();
                    return (status, serde_json::from_slice(&buf[end + 4..end + 4 + length]).unwrap());
                }
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed without a response: {}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(within, read).await.ok()
}

fn assert_error(answer: &(u16, Value), status: u16, code: &str) {
    let (got, body) = answer;
    assert_eq!((*got, body["error"]["code"].as_str()), (status, Some(code)), "{body}");
    for field in ["type", "message", "request_id"] {
        assert!(body["error"][field].is_string(), "{field} in {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_come_from_the_headers_at_once_and_a_slow_body_times_out() {
    const BODY_TIMEOUT_MS: u64 = 1_500;
    let app = small_app(BODY_TIMEOUT_MS).await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let at_once = Duration::from_millis(500);

    // No body byte is ever sent: the answer cannot have waited for one.
    for path in [format!("/v1/webhooks/stripe/{}", Uuid::now_v7()), format!("/v1/webhooks/generic/{endpoint_id}")] {
        let mut stream = start_post(&app, &path, 60_000, "").await;
        let answer = response(&mut stream, at_once).await.unwrap_or_else(|| panic!("{path}: no answer at once"));
        assert_error(&answer, 404, "resource_missing");
    }
    let url = format!("{}/v1/webhooks/stripe/{endpoint_id}", app.base_url);
    let wrong_method = app.http.get(url).send().await.unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    assert_eq!(wrong_method.json::<Value>().await.unwrap()["error"]["code"], "method_not_allowed");
    let mut stream = start_post(&app, &format!("/v1/webhooks/stripe/{endpoint_id}"), 10_000_000, "").await;
    let answer = response(&mut stream, at_once).await.expect("a declared 10 MB body is refused at once");
    assert_error(&answer, 413, "body_too_large");

    let started = Instant::now();
    let mut stream = start_post(&app, &format!("/v1/webhooks/stripe/{endpoint_id}"), 60_000, "{").await;
    let answer = response(&mut stream, Duration::from_millis(BODY_TIMEOUT_MS * 2)).await.expect("a body timeout");
    assert_error(&answer, 408, "body_timeout");
    assert!(started.elapsed() >= Duration::from_millis(BODY_TIMEOUT_MS), "{:?}", started.elapsed());
    assert_eq!(count_events_of_type(&app, "WebhookReceived").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_flood_does_not_starve_genuine_deliveries() {
    // Long enough for the genuine deliveries to be sent while the flood is still held.
    const BODY_TIMEOUT_MS: u64 = 5_000;
    let app = small_app(BODY_TIMEOUT_MS).await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let real_path = format!("/v1/webhooks/stripe/{endpoint_id}");
    let event = |n: usize| {
        serde_json::to_vec(&json!({"id": format!("evt_flood_{n}"), "type": "customer.created",
            "data": {"object": {"id": "cus_1"}}}))
        .unwrap()
    };
    let body = event(0);
    let (status, answer) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!(status, 200, "the endpoint is in use before the flood: {answer}");

    // 300 connections (far above the 64 the API routes allow in flight), each declaring
    // 60000 bytes and sending one.
    let mut random = Vec::new();
    let mut real = Vec::new();
    for _ in 0..150 {
        random.push(start_post(&app, &format!("/v1/webhooks/stripe/{}", Uuid::now_v7()), 60_000, "{").await);
        real.push(start_post(&app, &real_path, 60_000, "{").await);
    }
    let flood_started = Instant::now();

    for n in 1..=10 {
        let body = event(n);
        let sent = Instant::now();
        let (status, answer) =
            deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
        assert_eq!(status, 200, "genuine delivery {n} during the flood: {answer}");
        assert!(sent.elapsed() < Duration::from_secs(2), "delivery {n} took {:?}", sent.elapsed());
    }
    assert!(flood_started.elapsed() < Duration::from_millis(BODY_TIMEOUT_MS), "the flood was still held");

    // Random ids were answered from their headers (404, or 503 from the bound on lookups of
    // unknown endpoints); the trickling bodies time out.
    for stream in &mut random {
        let answer = response(stream, Duration::from_millis(500)).await.expect("an answer at once");
        assert!(answer.0 == 404 || answer.1["error"]["code"] == "overloaded", "{answer:?}");
    }
    let deadline = Duration::from_millis(BODY_TIMEOUT_MS * 2);
    for stream in &mut real {
        let answer = response(stream, deadline.saturating_sub(flood_started.elapsed())).await.expect("a 408");
        assert_error(&answer, 408, "body_timeout");
    }
    assert_eq!(count_events_of_type(&app, "WebhookReceived").await, 11, "only the genuine deliveries are recorded");
}
