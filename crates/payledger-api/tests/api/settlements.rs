//! Settlement report import over HTTP (docs/SETTLEMENT.md "Importing a report"): events
//! appended, the same file once, shared lines counted once, the file kept byte for byte,
//! refusals that append nothing, tenants apart, the size limit, concurrent imports.

use crate::support as common;

use std::collections::{BTreeMap, BTreeSet};

use common::{spawn_app, spawn_app_with, TestApp};
use payledger_api::ApiConfig;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const HEADER: &str =
    "line_id,created_at,type,currency,gross,fee,net,payment_reference,refund_reference,payout_id,merchant_reference";

/// A generic-format report with one charge line per id (gross 10.00 + n cents, fee 0.30).
pub fn generic_csv(ids: &[&str]) -> String {
    let mut text = format!("{HEADER}\r\n");
    for (n, id) in ids.iter().enumerate() {
        let gross = 1000 + n as i64;
        text.push_str(&format!(
            "{id},2026-11-30T10:{:02}:00Z,charge,USD,{}.{:02},0.30,{}.{:02},pi_{id},,po_1,order {n}\r\n",
            n % 60,
            gross / 100,
            gross % 100,
            (gross - 30) / 100,
            (gross - 30) % 100
        ));
    }
    text
}

pub async fn send(app: &TestApp, key: &str, query: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/v1/settlement-reports{query}", app.base_url))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn import(app: &TestApp, csv: &str) -> (u16, Value) {
    send(app, app.key("finance"), "?provider=generic", "text/csv", csv.as_bytes().to_vec()).await
}

async fn settlement_events(app: &TestApp, report_id: &str) -> Vec<(String, Value)> {
    let client = app.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT event_type, payload FROM events WHERE stream_id = $1 ORDER BY stream_version",
            &[&format!("settlement-{report_id}")],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.pool.get().await.unwrap().query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn an_import_appends_the_report_and_its_lines_once_and_keeps_the_file() {
    let app = spawn_app().await;
    let csv = generic_csv(&["l1", "l2", "l3"]);
    let (s, report) = import(&app, &csv).await;
    assert_eq!(s, 201, "{report}");
    let id = report["id"].as_str().unwrap().to_owned();
    let digest: String = Sha256::digest(csv.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(report["sha256"], digest);
    assert_eq!((report["lines"].as_u64(), report["duplicate_lines"].as_u64()), (Some(3), Some(0)));
    assert_eq!(report["size_bytes"].as_u64(), Some(csv.len() as u64));
    assert_eq!(report["duplicate"], false);
    assert_eq!(report["period"]["from"], "2026-11-30T10:00:00Z");
    assert_eq!(report["period"]["to"], "2026-11-30T10:02:00Z");

    let events = settlement_events(&app, &id).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        ["SettlementReportReceived", "SettlementLineReported", "SettlementLineReported", "SettlementLineReported"]
    );
    let raw: Vec<&str> = events[1..].iter().map(|(_, p)| p["line"]["raw"].as_str().unwrap()).collect();
    let file_lines: Vec<&str> = csv.split("\r\n").skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(raw, file_lines);
    assert_eq!(events[1].1["line"]["gross_minor"], 1000);
    assert_eq!(events[1].1["line"]["dedupe_key"], "generic:l1");
    let before = app.count_events().await;

    let (s, again) = import(&app, &csv).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!((again["id"].as_str(), again["duplicate"].as_bool()), (Some(id.as_str()), Some(true)));
    assert_eq!(app.count_events().await, before, "the same file again appends nothing");
    assert_eq!(count(&app, "SELECT count(*) FROM settlement_files").await, 1);

    let (s, got) = app.get_as("auditor", &format!("/v1/settlement-reports/{id}")).await;
    assert_eq!((s, got["id"].as_str(), got["lines"].as_u64()), (200, Some(id.as_str()), Some(3)));
    let (s, list) = app.get_as("finance", "/v1/settlement-reports").await;
    assert_eq!((s, list["data"].as_array().unwrap().len()), (200, 1));
    let (s, page) = app.get_as("finance", &format!("/v1/settlement-reports/{id}/lines?limit=2")).await;
    assert_eq!((s, page["has_more"].as_bool()), (200, Some(true)));
    let numbers: Vec<u64> =
        page["data"].as_array().unwrap().iter().map(|l| l["line_number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [2, 3]);
    let (_, rest) = app.get_as("finance", &format!("/v1/settlement-reports/{id}/lines?starting_after=3")).await;
    assert_eq!(rest["data"][0]["line_number"], 4);
    assert_eq!(rest["has_more"], false);

    let r = app
        .request(Method::GET, &format!("/v1/settlement-reports/{id}/file"), Some(app.key("auditor")), None, None)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv");
    assert_eq!(r.headers()["etag"].to_str().unwrap(), format!("\"{}\"", report["sha256"].as_str().unwrap()));
    assert_eq!(r.bytes().await.unwrap().as_ref(), csv.as_bytes(), "the file downloads byte for byte");
}

#[tokio::test]
async fn lines_seen_before_are_recorded_as_duplicates_of_the_first() {
    let app = spawn_app().await;
    let (s, first) = import(&app, &generic_csv(&["a1", "a2", "a3"])).await;
    assert_eq!(s, 201);
    let first_id = first["id"].as_str().unwrap().to_owned();
    // a2 and a3 again, b1 new, b1 once more in the same file.
    let (s, second) = import(&app, &generic_csv(&["a2", "b1", "a3", "b1"])).await;
    assert_eq!(s, 201, "{second}");
    assert_eq!((second["lines"].as_u64(), second["duplicate_lines"].as_u64()), (Some(4), Some(3)));
    let second_id = second["id"].as_str().unwrap().to_owned();
    let (_, lines) = app.get_as("finance", &format!("/v1/settlement-reports/{second_id}/lines")).await;
    let dups: Vec<Value> = lines["data"].as_array().unwrap().iter().map(|l| l["duplicate_of"].clone()).collect();
    assert_eq!(dups[0], serde_json::json!({"report_id": first_id, "line_number": 3}));
    assert_eq!(dups[1], Value::Null);
    assert_eq!(dups[2], serde_json::json!({"report_id": first_id, "line_number": 4}));
    assert_eq!(dups[3], serde_json::json!({"report_id": second_id, "line_number": 3}));
}

#[tokio::test]
async fn a_refused_file_appends_nothing_and_lists_every_problem() {
    let app = spawn_app().await;
    let before = app.count_events().await;
    let csv = format!(
        "{HEADER}\n\
         x1,2026-11-30T10:00:00Z,charge,USD,75.001,0.30,74.701,pi_1,,,\n\
         x2,2026-11-30T10:00:00Z,charge,USD,1e3,0.30,999.70,pi_2,,,\n\
         x3,2026-11-30T10:00:00Z,charge,USD,,0.30,1.00,pi_3,,,\n\
         x4,2026-11-30T10:00:00Z,charge,USD,75,00,0.30,pi_4,,,\n"
    );
    let (s, body) = import(&app, &csv).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_settlement_report");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let found: BTreeSet<(u64, String)> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_str().unwrap_or("").to_owned()))
        .collect();
    for expected in [(2, "gross"), (3, "gross"), (4, "gross")] {
        assert!(found.contains(&(expected.0, expected.1.to_owned())), "{expected:?} not in {found:?}");
    }
    assert!(found.iter().any(|(line, _)| *line == 5), "line 5 (75,00 splits the cells) is listed: {found:?}");
    assert_eq!(app.count_events().await, before, "nothing appended");
    assert_eq!(count(&app, "SELECT count(*) FROM settlement_files").await, 0);

    let (s, body) = import(&app, "line_id,created_at\nx,2026-11-30T10:00:00Z\n").await;
    assert_eq!(s, 400);
    let columns: Vec<&str> =
        body["error"]["details"].as_array().unwrap().iter().map(|d| d["column"].as_str().unwrap()).collect();
    assert!(columns.contains(&"gross") && body["error"]["details"][0]["line"] == 1, "{body}");
}

#[tokio::test]
async fn requests_are_refused_by_role_provider_and_content_type() {
    let app = spawn_app().await;
    let csv = generic_csv(&["r1"]).into_bytes();
    for (key, query, content_type, status, code) in [
        ("writer", "?provider=generic", "text/csv", 403, "insufficient_role"),
        ("auditor", "?provider=generic", "text/csv", 403, "insufficient_role"),
        ("finance", "", "text/csv", 400, "missing_parameter"),
        ("finance", "?provider=paypal", "text/csv", 400, "provider_invalid"),
        ("finance", "?provider=generic", "application/json", 415, "unsupported_media_type"),
    ] {
        let (s, body) = send(&app, app.key(key), query, content_type, csv.clone()).await;
        assert_eq!((s, body["error"]["code"].as_str()), (status, Some(code)), "{key} {query} {content_type}: {body}");
    }
    let (s, _) = send(&app, app.key("admin"), "?provider=generic", "text/csv; charset=utf-8", csv).await;
    assert_eq!(s, 201, "admin may import");
}

#[tokio::test]
async fn another_tenant_cannot_see_or_download_a_report() {
    let app = spawn_app().await;
    let (_, report) = import(&app, &generic_csv(&["t1"])).await;
    let id = report["id"].as_str().unwrap();
    let other = app.other_tenant("globex").await;
    for path in [
        format!("/v1/settlement-reports/{id}"),
        format!("/v1/settlement-reports/{id}/lines"),
        format!("/v1/settlement-reports/{id}/file"),
    ] {
        let r = app.request(Method::GET, &path, Some(&other["auditor"]), None, None).await;
        assert_eq!(r.status(), 404, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "resource_missing");
    }
    let r = app.request(Method::GET, "/v1/settlement-reports", Some(&other["auditor"]), None, None).await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["data"], serde_json::json!([]));
    let r = app
        .request(
            Method::GET,
            &format!("/v1/settlement-reports?starting_after={id}"),
            Some(&other["auditor"]),
            None,
            None,
        )
        .await;
    assert_eq!(r.status(), 400, "another tenant's report is no cursor");
}

#[tokio::test]
async fn a_report_over_the_limit_is_413_declared_or_streamed() {
    let app = spawn_app_with(ApiConfig { settlement_max_bytes: 2_000, ..ApiConfig::default() }).await;
    let ids: Vec<String> = (0..40).map(|n| format!("big{n}")).collect();
    let csv = generic_csv(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(csv.len() > 2_000);
    let (s, body) = import(&app, &csv).await;
    assert_eq!((s, body["error"]["code"].as_str()), (413, Some("body_too_large")), "{body}");
    // Chunked, without a declared length: cut while read.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = csv.as_bytes().chunks(500).map(|c| Ok(c.to_vec())).collect();
    let r = app
        .http
        .post(format!("{}/v1/settlement-reports?provider=generic", app.base_url))
        .bearer_auth(app.key("finance"))
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");
    assert_eq!(count(&app, "SELECT count(*) FROM events WHERE stream_id LIKE 'settlement-%'").await, 0);
    let (s, _) = import(&app, &generic_csv(&["small"])).await;
    assert_eq!(s, 201, "a report within the limit is taken");
}

#[tokio::test]
async fn concurrent_imports_of_one_file_record_one_report() {
    let app = spawn_app().await;
    let csv = generic_csv(&["c1", "c2", "c3", "c4"]);
    let answers = futures::future::join_all((0..8).map(|_| import(&app, &csv))).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 201), "{answers:?}");
    let ids: BTreeSet<&str> = answers.iter().map(|(_, b)| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1);
    let received = count(&app, "SELECT count(*) FROM events WHERE event_type = 'SettlementReportReceived'").await;
    assert_eq!(received, 1);
}

#[tokio::test]
async fn concurrent_overlapping_imports_count_each_line_once() {
    let app = spawn_app().await;
    // Six files, each sharing ids with its neighbours: k0..k9 in windows.
    let files: Vec<String> = (0..6)
        .map(|f| {
            let ids: Vec<String> = (f..f + 5).map(|k| format!("k{k}")).collect();
            generic_csv(&ids.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .collect();
    let answers = futures::future::join_all(files.iter().map(|csv| import(&app, csv))).await;
    assert!(answers.iter().all(|(s, _)| *s == 201), "{answers:?}");
    let client = app.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT payload->'line'->>'dedupe_key', count(*) FILTER (WHERE payload->'duplicate_of' = 'null'::jsonb OR NOT payload ? 'duplicate_of')
             FROM events WHERE event_type = 'SettlementLineReported' GROUP BY 1",
            &[],
        )
        .await
        .unwrap();
    let originals: BTreeMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(originals.len(), 10);
    assert!(originals.values().all(|n| *n == 1), "each line is counted once: {originals:?}");
    let duplicates: u64 = answers.iter().map(|(_, b)| b["duplicate_lines"].as_u64().unwrap()).sum();
    assert_eq!(duplicates, 30 - 10);
}
