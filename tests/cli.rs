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
