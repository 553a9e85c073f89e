//! Webhook secrets sealed at rest, end to end with the binary: no secret in a dump of the
//! database, `secrets rotate-master`, and a server given no key or the wrong key refusing
//! to start while a delivery still verifies under the right one.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use payledger_testkit::TestDb;
use serde_json::Value;

use crate::server::Server;

const STRIPE_SECRET: &str = "whsec_known_plaintext_for_the_dump_test";
const KEY_A: &str = payledger_testkit::TEST_MASTER_KEY_HEX;
const KEY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// `payledger ARGS` with PAYLEDGER_MASTER_KEY set to `key` (empty: none given).
fn payledger_with_key(db: &TestDb, key: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_payledger"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("PAYLEDGER_MASTER_KEY", key)
        .env_remove("PAYLEDGER_MASTER_KEY_FILE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `payledger serve` that must refuse to start: its stderr.
fn serve_refused(db: &TestDb, key: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_payledger"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", db.url())
        .env("PAYLEDGER_MASTER_KEY", key)
        .env_remove("PAYLEDGER_MASTER_KEY_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started although it should have refused");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A plain-text dump of the whole database (schema and data).
fn dump(db: &TestDb) -> String {
    let candidates = std::iter::once("pg_dump".to_owned()).chain(
        std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|d| d.path().join("bin/pg_dump").display().to_string()),
    );
    for pg_dump in candidates {
        if let Ok(out) = Command::new(&pg_dump).arg("--dbname").arg(db.url()).output() {
            assert!(out.status.success(), "{pg_dump}: {}", String::from_utf8_lossy(&out.stderr));
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
    }
    panic!("pg_dump not found");
}

async fn deliver(server: &Server, endpoint_url: &str, event_id: &str) -> reqwest::StatusCode {
    let fixture = format!("{}/fixtures/webhooks/stripe/payment_intent.created.json", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read_to_string(fixture).unwrap().replace("evt_3MtwBwLkdIwHu7ix0G1sXr7M", event_id).into_bytes();
    let header = payledger_gateways::signing::sign_stripe_header(STRIPE_SECRET, chrono::Utc::now().timestamp(), &body);
    reqwest::Client::new()
        .post(format!("{}{endpoint_url}", server.base))
        .header("Stripe-Signature", header)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn secrets_are_sealed_in_the_dump_and_verify_after_rotate_master() {
    let db = TestDb::new().await;
    assert!(payledger_with_key(&db, KEY_A, &["migrate"]).0);
    assert!(payledger_with_key(&db, KEY_A, &["tenants", "create", "shop"]).0);
    let args = ["webhooks", "create", "--tenant", "shop", "--provider", "stripe", "--secret", STRIPE_SECRET, "--json"];
    let (ok, out, err) = payledger_with_key(&db, KEY_A, &args);
    assert!(ok, "{err}");
    let endpoint: Value = serde_json::from_str(&out).unwrap();
    let url = endpoint["url"].as_str().unwrap().to_owned();
    let generic = ["webhooks", "create", "--tenant", "shop", "--provider", "generic", "--json"];
    let (ok, out, err) = payledger_with_key(&db, KEY_A, &generic);
    assert!(ok, "{err}");
    let generated: Value = serde_json::from_str(&out).unwrap();
    let generated = generated["secret"].as_str().unwrap().to_owned();

    let dumped = dump(&db);
    assert!(dumped.contains("webhook_secrets"), "the dump holds the table");
    for secret in [STRIPE_SECRET, generated.as_str()] {
        assert!(!dumped.contains(secret), "the dump holds the secret {secret} in clear");
        // Nor hex-encoded (how pg_dump writes bytea).
        assert!(!dumped.contains(&hex_of(secret)), "the dump holds the secret {secret} as hex");
    }

    {
        let server = Server::start(&db, &[("PAYLEDGER_MASTER_KEY", KEY_A)]).await;
        assert_eq!(deliver(&server, &url, "evt_before").await, 200);
    }

    let key_b_file = std::env::temp_dir().join(format!("payledger-key-b-{}", uuid::Uuid::now_v7()));
    std::fs::write(&key_b_file, format!("{KEY_B}\n")).unwrap();
    let key_b_path = key_b_file.display().to_string();
    let rotate = ["secrets", "rotate-master", "--new-master-key-file", key_b_path.as_str()];
    let (ok, _, err) = payledger_with_key(&db, "", &rotate);
    assert!(!ok && err.contains("needs the current master key"), "{err}");
    let (ok, _, err) = payledger_with_key(&db, KEY_B, &rotate);
    assert!(!ok && err.contains("is the current one"), "{err}");
    let (ok, out, err) = payledger_with_key(&db, KEY_A, &rotate);
    assert!(ok, "{err}");
    let rotated: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rotated["resealed"], 2, "{rotated}");
    let (ok, out, err) = payledger_with_key(&db, KEY_B, &["secrets", "status"]);
    assert!(ok, "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["clear"], 0);
    assert_eq!(status["sealed_by_master_key_id"][rotated["to_master_key_id"].as_str().unwrap()], 2, "{status}");

    let refused = serve_refused(&db, "");
    assert!(refused.contains("no master key was given") && refused.contains("PAYLEDGER_MASTER_KEY"), "{refused}");
    let refused = serve_refused(&db, KEY_A);
    let key_b_id = rotated["to_master_key_id"].as_str().unwrap();
    assert!(refused.contains(&format!("sealed under master key {key_b_id}")), "{refused}");
    let refused = serve_refused(&db, "not-a-key");
    assert!(refused.contains("64 hexadecimal characters"), "{refused}");

    let server = Server::start(&db, &[("PAYLEDGER_MASTER_KEY", KEY_B)]).await;
    assert_eq!(deliver(&server, &url, "evt_after").await, 200, "the secret verifies after rotate-master");
    drop(server);
    let _ = std::fs::remove_file(&key_b_file);
    assert!(!dump(&db).contains(STRIPE_SECRET));
}

#[test]
fn generate_master_key_prints_a_new_key_each_time_without_a_database() {
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_payledger"))
            .args(["secrets", "generate-master-key"])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let (a, b) = (run(), run());
    assert_ne!(a, b);
    for key in [a, b] {
        assert!(key.len() == 64 && key.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    }
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
