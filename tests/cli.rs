//! End-to-end: the `payledger` binary against a real PostgreSQL — migrate, create a tenant
//! and a key, serve, take a payment over HTTP, verify the hash chains, shut down cleanly.

use std::process::{Command, Stdio};
use std::time::Duration;

use payledger_testkit::TestDb;
use serde_json::{json, Value};

fn payledger(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_payledger"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .output()
        .expect("run payledger");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn migrate_create_keys_serve_pay_and_verify() {
    let db = TestDb::new().await;
    let (ok, out, err) = payledger(&db, &["migrate"]);
    assert!(ok, "{err}");
    assert!(out.contains("applied"));

    let (ok, out, err) = payledger(&db, &["tenants", "create", "shop", "--json"]);
    assert!(ok, "{err}");
    let tenant: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tenant["name"], "shop");
    let (ok, _, err) = payledger(&db, &["tenants", "create", "shop"]);
    assert!(!ok && err.contains("tenant_exists"), "{err}");

    let (ok, out, err) = payledger(&db, &["keys", "create", "--tenant", "shop", "--role", "writer", "--json"]);
    assert!(ok, "{err}");
    let key: Value = serde_json::from_str(&out).unwrap();
    let secret = key["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("pl_test_"));

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut server = Command::new(env!("CARGO_BIN_EXE_payledger"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "server never became ready");

    let post = |path: String, body: Value| {
        let req = http.post(format!("{base}{path}")).bearer_auth(&secret).json(&body);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, order) = post("/v1/orders".into(), json!({"amount": 990, "currency": "KWD", "reference": "K-1"})).await;
    assert_eq!(s, 201, "{order}");
    let (s, payment) = post(
        "/v1/payments".into(),
        json!({"order_id": order["id"], "amount": 990, "currency": "KWD", "capture_method": "automatic", "provider": "generic"}),
    )
    .await;
    assert_eq!(s, 201, "{payment}");
    let (s, payment) = post(format!("/v1/payments/{}/authorize", payment["id"].as_str().unwrap()), json!({})).await;
    assert_eq!((s, &payment["status"]), (200, &json!("captured")));

    // SIGTERM: the server finishes and exits by itself.
    let pid = server.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let mut exited = None;
    for _ in 0..100 {
        if let Some(status) = server.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.unwrap_or_else(|| {
        let _ = server.kill();
        panic!("server did not stop on SIGTERM")
    });
    assert!(status.success(), "{status:?}");

    let (ok, out, err) = payledger(&db, &["verify"]);
    assert!(ok, "verify failed: {out} {err}");
}

/// `payledger audit export`: one tenant's events in read order, NDJSON or CSV, filtered by
/// stream, in batches, and continued after a position; never another tenant's.
#[tokio::test]
async fn audit_export_writes_a_tenants_events_in_read_order() {
    use payledger_store::{append, ExpectedVersion, NewEvent, StreamKey};
    let db = TestDb::new().await;
    let pool = db.pool(2);
    let (tenant, other) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let event = |n: i64| NewEvent::new("Tested", 1, json!({ "n": n }));
    for (stream, n) in [("order-a", 1), ("order-b", 2), ("order-a", 3), ("order-b", 4), ("order-a", 5)] {
        append(&pool, &StreamKey::new(tenant, stream), ExpectedVersion::Any, vec![event(n)]).await.unwrap();
    }
    append(&pool, &StreamKey::new(other, "order-a"), ExpectedVersion::Any, vec![event(99)]).await.unwrap();
    let tenant_arg = tenant.to_string();
    let export = |extra: &[&str]| {
        let mut args = vec!["audit", "export", "--tenant", &tenant_arg, "--batch-size", "2"];
        args.extend_from_slice(extra);
        payledger(&db, &args)
    };

    let (ok, out, err) = export(&[]);
    assert!(ok, "{err}");
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ns: Vec<i64> = lines.iter().map(|e| e["payload"]["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, [1, 2, 3, 4, 5], "the tenant's events, in order, none of the other tenant's");
    assert!(lines.iter().all(|e| e["hash"].as_str().is_some_and(|h| h.len() == 64)));
    let summary: Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert_eq!(summary["events"], 5);
    let last = summary["last_position"].as_i64().unwrap();
    assert_eq!(last, lines[4]["position"].as_i64().unwrap());

    let (ok, out, err) = export(&["--stream", "order-b", "--format", "csv"]);
    assert!(ok, "{err}");
    let rows: Vec<&str> = out.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(rows.len(), 3, "a header and two rows: {out}");
    assert!(rows[0].starts_with("position,event_id,stream_id"));
    assert!(rows[1..].iter().all(|r| r.contains(",order-b,")));

    let third = lines[2]["position"].as_i64().unwrap().to_string();
    let (ok, out, err) = export(&["--starting-after", &third]);
    assert!(ok, "{err}");
    let rest: Vec<i64> =
        out.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["payload"]["n"].as_i64().unwrap()).collect();
    assert_eq!(rest, [4, 5]);

    let (ok, _, err) = export(&["--starting-after", "999999"]);
    assert!(!ok && err.contains("no event at position 999999"), "{err}");
}
