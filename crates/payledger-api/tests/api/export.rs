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
    assert_eq!(&headers[0], "object");
    assert_eq!(&headers[1], "position");
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

async fn ndjson(app: &common::TestApp, role: &str, query: &str) -> Vec<Value> {
    let r = app
        .http
        .get(format!("{}/v1/events{query}", app.base_url))
        .bearer_auth(app.key(role))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Seals of 3 events over two tenants' traffic: the export's events are followed by every
/// seal, with this tenant's part; pages of it concatenate to the whole even when a seal is
/// written between two pages; a filtered export carries none; `GET /v1/seals` lists them with
/// the caller's part only.
#[tokio::test]
async fn an_export_carries_the_seals_among_its_events_and_pages_concatenate() {
    let app = common::spawn_app().await;
    let other = app.other_tenant("other").await;
    for i in 0..5 {
        let (s, _) = app.post("/v1/orders", json!({"amount": 100 + i, "currency": "EUR", "reference": "r"})).await;
        assert_eq!(s, 201);
        let r = app
            .request(
                Method::POST,
                "/v1/orders",
                Some(&other["writer"]),
                Some(&json!({"amount": 7, "currency": "EUR", "reference": "o"})),
                None,
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    app.settle().await;
    let mut client = app.db.connect().await;
    let policy = payledger_store::seal::SealPolicy::now(3);
    while payledger_store::seal::seal_pending(&mut client, policy).await.unwrap().is_some() {}

    let whole = ndjson(&app, "auditor", "").await;
    let events: Vec<&Value> = whole.iter().filter(|l| l["object"] == "event").collect();
    let seals: Vec<&Value> = whole.iter().filter(|l| l["object"] == "seal").collect();
    assert_eq!(events.len(), 5);
    assert_eq!(seals.len(), 4, "10 events in seals of 3: {whole:?}");
    let numbers: Vec<i64> = seals.iter().map(|s| s["seal_number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    let first_seal = whole.iter().position(|l| l["object"] == "seal").unwrap();
    assert!(whole[first_seal..].iter().all(|l| l["object"] == "seal"), "the seals come after the events");
    let own: i64 = seals.iter().map(|s| s["tenant"]["event_count"].as_i64().unwrap_or(0)).sum();
    assert_eq!(own, 5, "the tenant's parts count its 5 events");
    assert!(seals.iter().all(|s| s["tenant"].is_null() || s["tenant"]["tenant_id"] == json!(app.tenant_id)));

    // Pages of 2 events, continued after the last event's position while a page is full.
    let mut paged = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let query = match after {
            Some(p) => format!("?limit=2&starting_after={p}"),
            None => "?limit=2".to_owned(),
        };
        let page = ndjson(&app, "auditor", &query).await;
        if after.is_none() {
            // A seal written between two pages: the cut page carries no seal, the last one
            // carries every seal there was when it began (this one too).
            assert!(page.iter().all(|l| l["object"] == "event"), "{page:?}");
            let (s, _) = app.post("/v1/orders", json!({"amount": 1, "currency": "EUR", "reference": "late"})).await;
            assert_eq!(s, 201);
            app.settle().await;
            while payledger_store::seal::seal_pending(&mut client, policy).await.unwrap().is_some() {}
        }
        after = page.iter().rev().find(|l| l["object"] == "event").and_then(|l| l["position"].as_i64());
        let full = page.iter().filter(|l| l["object"] == "event").count() == 2;
        paged.extend(page);
        if !full {
            break;
        }
    }
    let whole = ndjson(&app, "auditor", "").await;
    assert_eq!(paged, whole);
    assert_eq!(whole.iter().filter(|l| l["object"] == "seal").count(), 5, "the late event's seal too");

    let filtered = ndjson(&app, "auditor", "?event_type=OrderCreated").await;
    assert!(filtered.iter().all(|l| l["object"] == "event") && filtered.len() == 6);

    let (status, page) = app.get_as("auditor", "/v1/seals?limit=3").await;
    assert_eq!(status, 200);
    assert_eq!(page["has_more"], true);
    let listed = page["data"].as_array().unwrap();
    assert_eq!(listed.iter().map(|s| s["seal_number"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(listed[0], *seals[0]);
    let (_, rest) = app.get_as("auditor", "/v1/seals?starting_after=3").await;
    assert_eq!(rest["data"][0], *seals[3]);
    assert_eq!(rest["has_more"], false);
    // The other tenant sees the same seals with its own part.
    let r = app.request(Method::GET, "/v1/seals", Some(&other["auditor"]), None, None).await;
    let theirs: Value = r.json().await.unwrap();
    let theirs_sum: i64 =
        theirs["data"].as_array().unwrap().iter().map(|s| s["tenant"]["event_count"].as_i64().unwrap_or(0)).sum();
    assert_eq!(theirs_sum, 5);
    assert_eq!(theirs["data"][0]["hash"], seals[0]["hash"]);
    assert_ne!(theirs["data"][0]["tenant"], seals[0]["tenant"]);

    for (role, query, status) in [
        ("writer", "", 403),
        ("auditor", "?limit=0", 400),
        ("auditor", "?limit=101", 400),
        ("auditor", "?starting_after=-1", 400),
        ("auditor", "?nope=1", 400),
    ] {
        let (s, body) = app.get_as(role, &format!("/v1/seals{query}")).await;
        assert_eq!(s, status, "{role} {query}: {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
}
