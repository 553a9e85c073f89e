//! The auditors' export: CSV (RFC 4180) and NDJSON, streamed; JSON pages with a cursor.

use crate::support as common;

use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn csv_export_parses_as_rfc4180_with_one_row_per_event() {
    let app = common::spawn_app().await;
    for i in 0..3 {
        // Commas, quotes and newlines in payloads must survive quoting.
        let (s, _) = app
            .post(
                "/v1/orders",
                json!({"amount": 100 + i, "currency": "USD", "reference": format!("ORD, \"{i}\"\nline")}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let expected = app.count_events().await;
    app.settle().await;
    let r = app
        .http
        .get(format!("{}/v1/events", app.base_url))
        .bearer_auth(app.key("auditor"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = r.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "position");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len() as i64, expected);
    let payload: Value = serde_json::from_str(&rows[0][headers.iter().position(|h| h == "payload").unwrap()]).unwrap();
    assert_eq!(payload["reference"], "ORD, \"0\"\nline");
}

#[tokio::test]
async fn ndjson_export_and_json_pages_cover_every_event_once() {
    let app = common::spawn_app().await;
    for i in 0..7 {
        let (s, _) = app.post("/v1/orders", json!({"amount": 100 + i, "currency": "EUR", "reference": "r"})).await;
        assert_eq!(s, 201);
    }
    app.settle().await;
    let r = app
        .http
        .get(format!("{}/v1/events", app.base_url))
        .bearer_auth(app.key("auditor"))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 7);

    let mut seen = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let path = match cursor {
            Some(c) => format!("/v1/events?limit=3&starting_after={c}"),
            None => "/v1/events?limit=3".to_owned(),
        };
        let r = app.request(Method::GET, &path, Some(app.key("auditor")), None, None).await;
        let page: Value = r.json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        seen.extend(data.iter().map(|e| e["event_id"].as_str().unwrap().to_owned()));
        cursor = data.last().and_then(|e| e["position"].as_i64());
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(seen.len(), 7);
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 7);
    let (status, _) = app.get_as("auditor", "/v1/events?limit=101").await;
    assert_eq!(status, 400);
}
