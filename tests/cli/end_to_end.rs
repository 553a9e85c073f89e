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
        .env("PAYLEDGER_MASTER_KEY", payledger_testkit::TEST_MASTER_KEY_HEX)
        .env_remove("PAYLEDGER_MASTER_KEY_FILE")
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
    let mut server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_payledger"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", db.url())
            .env("PAYLEDGER_MASTER_KEY", payledger_testkit::TEST_MASTER_KEY_HEX)
            .env_remove("PAYLEDGER_MASTER_KEY_FILE")
            .env("PAYLEDGER_SEAL_EVERY_EVENTS", "2")
            .env("PAYLEDGER_SEAL_INTERVAL_S", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
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

    // A test key's data is the tenant's test scope: `--tenant shop:test` (or the scope's id)
    // exports it, `--tenant shop` (the live data) does not.
    let order_id = order["id"].as_str().unwrap();
    let scope_id = tenant["test_scope_id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for scope in ["shop:test", scope_id] {
        // Gap-free reads: another test's open transaction can hold the events back a moment.
        loop {
            let (ok, out, err) = payledger(&db, &["audit", "export", "--tenant", scope]);
            assert!(ok, "{err}");
            if out.contains(order_id) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{scope}: {out}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let (ok, out, err) = payledger(&db, &["audit", "export", "--tenant", "shop"]);
    assert!(ok && out.contains("TenantCreated") && !out.contains(order_id), "{out} {err}");
    let (ok, out, _) = payledger(&db, &["tenants", "list"]);
    assert!(ok && out.contains(&format!("test scope {scope_id}")), "{out}");

    // The server's sealer seals them (every 2 events, or at once: interval 0).
    // TenantCreated and ApiKeyCreated (the CLI's admin actions), then OrderCreated,
    // PaymentCreated, PaymentAuthorized, PaymentCaptured.
    let events = 6;
    let mut sealed = 0;
    for _ in 0..200 {
        let (ok, out, err) = payledger(&db, &["audit", "seals"]);
        assert!(ok, "{err}");
        sealed = out.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["event_count"].as_i64().unwrap()).sum();
        if sealed >= events {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sealed, events, "the server sealed every event once");

    // SIGTERM: the server finishes and exits by itself.
    let pid = server.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let mut exited = None;
    for _ in 0..100 {
        if let Some(status) = server.0.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.unwrap_or_else(|| panic!("server did not stop on SIGTERM"));
    assert!(status.success(), "{status:?}");

    let (ok, out, err) = payledger(&db, &["verify"]);
    assert!(ok, "verify failed: {out} {err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["seals"]["events_sealed"], events, "{report}");
}

/// `payledger audit export`: one tenant's events in read order, NDJSON or CSV, filtered by
/// stream, in batches, and continued after a position; never another tenant's.
#[tokio::test]
async fn audit_export_writes_a_tenants_events_in_read_order() {
    use payledger_store::{append, ExpectedVersion, NewEvent, StreamKey};
    let db = TestDb::new().await;
    let pool = db.pool(2);
    let client = pool.get().await.unwrap();
    let tenant = bare_tenant(&client, "audited").await;
    let other = bare_tenant(&client, "other").await;
    let event = |n: i64| NewEvent::new("Tested", 1, json!({ "n": n }));
    for (stream, n) in [("order-a", 1), ("order-b", 2), ("order-a", 3), ("order-b", 4), ("order-a", 5)] {
        append(&pool, &StreamKey::new(tenant, stream), ExpectedVersion::Any, vec![event(n)]).await.unwrap();
    }
    append(&pool, &StreamKey::new(other, "order-a"), ExpectedVersion::Any, vec![event(99)]).await.unwrap();
    // The export reads gap-free: another test's open transaction (the snapshot xmin is
    // cluster-wide) can hold these events back for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let start = payledger_store::Checkpoint::START;
        let seen = payledger_store::read_all(&**client, start, &Default::default(), 100).await.unwrap().len();
        if seen == 6 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "events stayed held back ({seen} of 6 visible)");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
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
    assert!(rows[0].starts_with("object,position,tx_id,tenant_id,event_id,stream_id"), "{}", rows[0]);
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A taken listen address is named, with the two ways to choose another.
#[tokio::test]
async fn serve_on_a_taken_address_names_it_and_how_to_change_it() {
    let db = TestDb::new().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (ok, _, err) = payledger(&db, &["serve", "--listen", &addr]);
    assert!(!ok);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(err.contains("already in use") && err.contains("--listen") && err.contains("PAYLEDGER_LISTEN"), "{err}");
}

/// An unreachable PostgreSQL is named by host and port, and the cause is said once.
#[test]
fn an_unreachable_database_is_named_once_by_host_and_port() {
    let port = free_port();
    for args in [&["tenants", "list"][..], &["serve", "--listen", "127.0.0.1:0"], &["verify"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_payledger"))
            .args(args)
            .env("DATABASE_URL", format!("postgres://postgres@127.0.0.1:{port}/payledger"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{port}")), "{args:?}: {err}");
        assert_eq!(err.matches("error connecting to server").count(), 1, "{args:?}: {err}");
        assert_eq!(err.matches("Connection refused").count(), 1, "{args:?}: {err}");
    }
}

/// `--tenant` is a name or an id for every command; `tenants list` shows them all. An id
/// wins over another tenant's name that spells it.
#[tokio::test]
async fn every_tenant_option_takes_a_name_or_an_id() {
    let db = TestDb::new().await;
    let (ok, _, err) = payledger(&db, &["migrate"]);
    assert!(ok, "{err}");
    let create = |name: &str| {
        let (ok, out, err) = payledger(&db, &["tenants", "create", name, "--json"]);
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_owned()
    };
    let shop_id = create("shop");
    // A tenant whose name is the other one's id: `--tenant <that id>` still means "shop".
    let lookalike_id = create(&shop_id);
    let (ok, out, err) = payledger(&db, &["keys", "create", "--tenant", &shop_id, "--role", "writer", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["tenant_id"], json!(shop_id));

    for tenant in ["shop", shop_id.as_str()] {
        for args in [
            &["verify", "--tenant", tenant][..],
            &["verify", "--chains-only", "--tenant", tenant],
            &["audit", "export", "--tenant", tenant],
            &["keys", "list", "--tenant", tenant],
            &["webhooks", "list", "--tenant", tenant],
        ] {
            let (ok, out, err) = payledger(&db, args);
            assert!(ok, "{args:?}: {out} {err}");
        }
    }
    let (ok, out, _) = payledger(&db, &["keys", "list", "--tenant", &shop_id]);
    assert!(ok);
    let keys: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys["data"].as_array().unwrap().len(), 1, "shop's key, not the lookalike's none: {keys}");

    for args in [&["verify", "--tenant", "nosuch"][..], &["audit", "export", "--tenant", "nosuch"]] {
        let (ok, _, err) = payledger(&db, args);
        assert!(!ok && err.contains("no tenant \"nosuch\""), "{args:?}: {err}");
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    let (ok, _, err) = payledger(&db, &["audit", "export", "--tenant", &unknown]);
    assert!(!ok && err.contains("no tenant"), "{err}");

    let (ok, out, err) = payledger(&db, &["tenants", "list", "--json"]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [lookalike_id.as_str(), shop_id.as_str()], "by name: {list}");
    let (ok, out, _) = payledger(&db, &["tenants", "list"]);
    assert!(ok && out.lines().any(|l| l.starts_with(&format!("shop\t{shop_id}\t"))), "{out}");
}

/// A key's or an endpoint's label has the limit the API answers with (core's
/// LABEL_MAX_CHARS), so the CLI cannot store what the API would refuse.
#[tokio::test]
async fn labels_are_refused_past_the_same_limit_as_over_http() {
    let db = TestDb::new().await;
    let (ok, _, err) = payledger(&db, &["migrate"]);
    assert!(ok, "{err}");
    let (ok, _, err) = payledger(&db, &["tenants", "create", "shop"]);
    assert!(ok, "{err}");
    let at_limit = "l".repeat(payledger_core::LABEL_MAX_CHARS);
    let past_limit = "l".repeat(payledger_core::LABEL_MAX_CHARS + 1);
    let key =
        |label: &str| payledger(&db, &["keys", "create", "--tenant", "shop", "--role", "writer", "--label", label]);
    assert!(key(&at_limit).0);
    let (ok, _, err) = key(&past_limit);
    assert!(!ok && err.contains("label_invalid"), "{err}");
    let endpoint = |label: &str| {
        payledger(&db, &["webhooks", "create", "--tenant", "shop", "--provider", "generic", "--label", label])
    };
    assert!(endpoint(&at_limit).0);
    let (ok, _, err) = endpoint(&past_limit);
    assert!(!ok && err.contains("label_invalid"), "{err}");
}

/// `keys create --expires-at` and `keys roll`: the successor has the old key's role and
/// label, the old key expires when asked, and `keys list` shows both without a secret.
#[tokio::test]
async fn keys_roll_and_expire_from_the_cli() {
    let db = TestDb::new().await;
    let (ok, _, err) = payledger(&db, &["migrate"]);
    assert!(ok, "{err}");
    assert!(payledger(&db, &["tenants", "create", "shop"]).0);
    let in_a_day = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let args = ["keys", "create", "--tenant", "shop", "--role", "finance", "--label", "ops"];
    let (ok, out, err) = payledger(&db, &[&args[..], &["--expires-at", &in_a_day, "--json"]].concat());
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert!(created["expires_at"].is_string(), "{created}");
    let (ok, _, err) = payledger(&db, &[&args[..], &["--expires-at", "2000-01-01T00:00:00Z"]].concat());
    assert!(!ok && err.contains("expiry_invalid"), "{err}");

    let id = created["id"].as_str().unwrap();
    let (ok, out, err) = payledger(&db, &["keys", "roll", id, "--expire-old-in-s", "0", "--json"]);
    assert!(ok, "{err}");
    let rolled: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((rolled["role"].clone(), rolled["label"].clone()), (json!("finance"), json!("ops")));
    assert_ne!(rolled["key"], created["key"]);
    let (ok, _, err) = payledger(&db, &["keys", "roll", id]);
    assert!(!ok && err.contains("key_not_active"), "{err}");

    let (ok, out, _) = payledger(&db, &["keys", "list", "--tenant", "shop"]);
    assert!(ok);
    let list: Value = serde_json::from_str(&out).unwrap();
    let old = list["data"].as_array().unwrap().iter().find(|k| k["id"] == created["id"]).unwrap();
    assert_eq!(old["rolled_to"], rolled["id"]);
    let expires: chrono::DateTime<chrono::Utc> = old["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires <= chrono::Utc::now(), "expired at once: {old}");
    assert!(!out.contains(created["key"].as_str().unwrap()) && !out.contains(rolled["key"].as_str().unwrap()));
}

/// `keys create --rate-limit-*` and `keys limit`: a key's own limit is stored, shown by
/// `keys list`, refused out of range with nothing created, cleared back to the default, and
/// kept by the key's successor when it is rolled.
#[tokio::test]
async fn keys_limit_sets_and_clears_a_keys_own_rate_limit() {
    let db = TestDb::new().await;
    let (ok, _, err) = payledger(&db, &["migrate"]);
    assert!(ok, "{err}");
    assert!(payledger(&db, &["tenants", "create", "shop"]).0);
    let create = ["keys", "create", "--tenant", "shop", "--role", "writer", "--json"];
    let (ok, _, err) = payledger(&db, &[&create[..], &["--rate-limit-per-s", "0"]].concat());
    assert!(!ok && err.contains("rate_limit_invalid"), "{err}");
    let (ok, out, _) = payledger(&db, &["keys", "list", "--tenant", "shop"]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["data"], json!([]), "nothing half-created");

    let (ok, out, err) =
        payledger(&db, &[&create[..], &["--rate-limit-per-s", "5", "--rate-limit-burst", "10"]].concat());
    assert!(ok, "{err}");
    let key: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((key["rate_limit_per_s"].clone(), key["rate_limit_burst"].clone()), (json!(5), json!(10)));
    let id = key["id"].as_str().unwrap();
    let (ok, out, err) = payledger(&db, &["keys", "roll", id, "--json"]);
    assert!(ok, "{err}");
    let rolled: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((rolled["rate_limit_per_s"].clone(), rolled["rate_limit_burst"].clone()), (json!(5), json!(10)));

    let (ok, out, err) = payledger(&db, &["keys", "limit", id, "--rate-limit-per-s", "7", "--json"]);
    assert!(ok, "{err}");
    let limited: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((limited["rate_limit_per_s"].clone(), limited["rate_limit_burst"].clone()), (json!(7), Value::Null));
    let (ok, out, err) = payledger(&db, &["keys", "limit", id]);
    assert!(ok && out.contains("the server's default"), "{out} {err}");
    let (ok, _, err) = payledger(&db, &["keys", "limit", &uuid::Uuid::now_v7().to_string()]);
    assert!(!ok && err.contains("no key"), "{err}");
}

/// `keys create --allow-ip` and `keys allow-ips`: the list is stored in canonical form,
/// a bad network is refused with nothing created, and `--any` removes the list.
#[tokio::test]
async fn keys_allow_ips_sets_and_removes_a_keys_allow_list() {
    let db = TestDb::new().await;
    let (ok, _, err) = payledger(&db, &["migrate"]);
    assert!(ok, "{err}");
    assert!(payledger(&db, &["tenants", "create", "shop"]).0);
    let create = ["keys", "create", "--tenant", "shop", "--role", "writer", "--json"];
    let (ok, _, err) = payledger(&db, &[&create[..], &["--allow-ip", "10.0.0.0/40"]].concat());
    assert!(!ok && err.contains("allowed_ips_invalid"), "{err}");
    let (ok, out, _) = payledger(&db, &["keys", "list", "--tenant", "shop"]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["data"], json!([]), "nothing half-created");

    let (ok, out, err) =
        payledger(&db, &[&create[..], &["--allow-ip", "10.9.8.7/8", "--allow-ip", "2001:db8::1"]].concat());
    assert!(ok, "{err}");
    let key: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(key["allowed_ips"], json!(["10.0.0.0/8", "2001:db8::1/128"]));
    let id = key["id"].as_str().unwrap();
    let (ok, out, err) = payledger(&db, &["keys", "allow-ips", id, "192.0.2.0/24", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["allowed_ips"], json!(["192.0.2.0/24"]));
    let (ok, out, err) = payledger(&db, &["keys", "allow-ips", id, "--any"]);
    assert!(ok && out.contains("any address"), "{out} {err}");
    let (ok, _, _) = payledger(&db, &["keys", "allow-ips", id]);
    assert!(!ok, "a list or --any is required");
}

/// A tenant row alone, without the `TenantCreated` event `tenants create` appends: for tests
/// that count the events they append themselves.
pub async fn bare_tenant(client: &tokio_postgres::Client, name: &str) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    client.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, $2)", &[&id, &name]).await.unwrap();
    id
}

/// A child process killed when the test ends, also when an assertion fails first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `payledger clients create|list|revoke`: the secret is printed once, a token for it works
/// against a real server, and a revoked client's token stops working.
#[tokio::test]
async fn oauth_clients_from_the_cli_get_tokens_that_work_until_revoked() {
    let db = TestDb::new().await;
    assert!(payledger(&db, &["migrate"]).0);
    assert!(payledger(&db, &["tenants", "create", "shop"]).0);
    let (ok, _, err) = payledger(&db, &["clients", "create", "--tenant", "shop", "--role", "root"]);
    assert!(!ok && err.contains("role is"), "{err}");
    let (ok, out, err) =
        payledger(&db, &["clients", "create", "--tenant", "shop", "--role", "auditor", "--label", "bi", "--json"]);
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let (id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
    assert!(id.starts_with("plc_") && secret.starts_with("plcs_"), "{created}");
    let (ok, out, _) = payledger(&db, &["clients", "list", "--tenant", "shop"]);
    assert!(ok && out.contains(id) && !out.contains(secret), "{out}");

    let server = crate::server::Server::start(&db, &[]).await;
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/v1/oauth/token", server.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let events = |token: String| {
        let http = http.clone();
        let url = format!("{}/v1/events", server.base);
        async move { http.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(events(token.clone()).await, 200);
    let (ok, out, err) = payledger(&db, &["clients", "revoke", id, "--json"]);
    assert!(ok, "{err}");
    assert!(serde_json::from_str::<Value>(&out).unwrap()["revoked_at"].is_string());
    assert_eq!(events(token).await, 401);
    let (ok, _, err) = payledger(&db, &["clients", "revoke", "plc_nope"]);
    assert!(!ok && err.contains("not a client id"), "{err}");
}

/// The production quick start's split of roles: migrations applied by the owner, then the
/// tenant, its keys (live and test) and its time zone made as the application role, which
/// holds only what the migrations grant it.
#[tokio::test]
async fn the_application_role_can_do_the_admin_work_the_quick_start_gives_it() {
    let admin_url = std::env::var("DATABASE_URL").unwrap();
    let db = TestDb::new().await;
    let admin = db.connect().await;
    admin
        .batch_execute(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
                 CREATE ROLE payledger_app LOGIN;
               END IF;
             END $$",
        )
        .await
        .unwrap();
    // A database of its own, empty, so that the migrations see the role and grant it.
    let name = format!("pl_role_{}", uuid::Uuid::new_v4().simple());
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let _drop = DropDatabase { admin_url: admin_url.clone(), name: name.clone() };
    let owner_url = payledger_testkit::with_dbname(&admin_url, &name);
    let config: tokio_postgres::Config = owner_url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("a TCP host is needed here: {other:?}"),
    };
    let app_url = format!("postgres://payledger_app@{host}:{}/{name}", config.get_ports()[0]);
    let run = |url: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_payledger"))
            .args(args)
            .env("DATABASE_URL", url)
            .env("PAYLEDGER_MASTER_KEY", payledger_testkit::TEST_MASTER_KEY_HEX)
            .env_remove("PAYLEDGER_MASTER_KEY_FILE")
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = run(&owner_url, &["migrate"]);
    assert!(ok, "{err}");
    for args in [
        &["tenants", "create", "acme"][..],
        &["keys", "create", "--tenant", "acme", "--role", "writer", "--mode", "live"],
        &["keys", "create", "--tenant", "acme:test", "--role", "admin"],
        &["clients", "create", "--tenant", "acme", "--role", "auditor"],
        &["tenants", "set-time-zone", "acme", "Europe/Berlin"],
    ] {
        let (ok, err) = run(&app_url, args);
        assert!(ok, "{args:?} as payledger_app: {err}");
    }
}

/// Drops a database made by hand when the test ends, also when an assertion fails first.
struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await.ok()?;
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()
            })
        })
        .join();
    }
}
