//! The audit trail checked from outside: `payledger verify` and the standalone
//! `tools/verify_export.py` (run with python3 on an export) agree on a clean history and
//! each names a payload byte changed, a whole stream deleted, an event inserted at the end of a
//! stream and two events swapped — all done by a superuser with the triggers disabled.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use payledger_store::hash::{chain_hash, HashInput};
use payledger_store::{append, ExpectedVersion, NewEvent, StreamKey};
use payledger_testkit::{workload::Workload, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

fn payledger(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_payledger")).args(args).env("DATABASE_URL", db.url()).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn script(path: &std::path::Path, extra: &[&str]) -> (i32, Value, String) {
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/verify_export.py");
    let out = Command::new("python3").arg(tool).arg(path).arg("--json").args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("script output {stdout:?}: {e}"));
    (out.status.code().unwrap_or(-1), report, String::from_utf8_lossy(&out.stderr).into_owned())
}

struct History {
    db: TestDb,
    tenant: Uuid,
    dir: std::path::PathBuf,
}

/// Domain traffic of three tenants, and events with awkward text, sealed in seals of 7.
async fn mixed_history() -> History {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let client = pool.get().await.unwrap();
    // Bare tenant rows: the history is the workload's alone.
    let tenant = crate::end_to_end::bare_tenant(&client, "audited").await;
    for name in ["other", "third"] {
        crate::end_to_end::bare_tenant(&client, name).await;
    }
    let mut workload = Workload::new(7, 2);
    workload.run(&pool, 60).await;
    let awkward = [
        json!({"text": "naïve ☃ \u{1}\t\"quoted\" back\\slash", "n": 1}),
        json!({"big": 123456789012345678901234567890u128.to_string(), "amount": 10.50, "neg": -0.0, "z": [null, {}]}),
        json!({"bb": 1, "a": 2, "ccc": {"y": true, "x": false}}),
    ];
    for (i, payload) in awkward.into_iter().enumerate() {
        let event = NewEvent::new("Tested", 1, payload)
            .with_metadata(json!({"source": "test", "ü": i}))
            .with_dedupe_key(format!("awkward-{i}\u{7}"));
        append(&pool, &StreamKey::new(tenant, format!("misc-{}", i % 2)), ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    for i in 0..12 {
        let event = NewEvent::new("Tested", 1, json!({ "n": i }));
        append(&pool, &StreamKey::new(tenant, format!("order-t{}", i % 3)), ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    let total: i64 = client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
    seal_all(&db, total).await;
    let dir = std::env::temp_dir().join(format!("payledger-audit-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    History { db, tenant, dir }
}

/// `payledger audit seal` until every event is sealed (another test's open transaction can
/// hold events back for a moment: the reader is gap-free, the snapshot xmin cluster-wide).
async fn seal_all(db: &TestDb, total: i64) {
    let client = db.connect().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (code, _, err) = payledger(db, &["audit", "seal", "--every-events", "7"]);
        assert_eq!(code, 0, "{err}");
        let sealed: i64 =
            client.query_one("SELECT coalesce(sum(event_count), 0)::bigint FROM seals", &[]).await.unwrap().get(0);
        if sealed == total {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{sealed} of {total} sealed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl History {
    fn export(&self, format: &str) -> std::path::PathBuf {
        let path = self.dir.join(format!("export.{format}"));
        let tenant = self.tenant.to_string();
        let args = ["audit", "export", "--tenant", &tenant, "--format", format, "--batch-size", "5"];
        let (code, _, err) = payledger(&self.db, &[&args[..], &["--output", path.to_str().unwrap()]].concat());
        assert_eq!(code, 0, "{err}");
        path
    }

    /// `payledger verify --chains-only --tenant audited`: exit code, report, stderr.
    fn verify(&self) -> (i32, Value, String) {
        let (code, out, err) = payledger(&self.db, &["verify", "--chains-only", "--tenant", "audited"]);
        (code, serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}")), err)
    }

    async fn tamper(&self, sql: &str) {
        let client = self.db.connect().await;
        let sql = format!("ALTER TABLE events DISABLE TRIGGER USER; {sql}; ALTER TABLE events ENABLE TRIGGER USER;");
        client.batch_execute(&sql).await.unwrap();
    }
}

impl Drop for History {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Faults = (BTreeSet<(String, i64, String)>, BTreeSet<(i64, String)>);

/// (stream, version, fault) of each broken link and (seal, fault) of each broken seal, from
/// the two lists of a report (payledger's and the script's name them differently).
fn faults_of(links: &Value, seals: &Value) -> Faults {
    let link = |b: &Value| {
        (
            b["stream_id"].as_str().unwrap().into(),
            b["stream_version"].as_i64().unwrap(),
            b["fault"].as_str().unwrap().into(),
        )
    };
    let seal = |b: &Value| (b["seal_number"].as_i64().unwrap(), b["fault"].as_str().unwrap().into());
    (links.as_array().unwrap().iter().map(link).collect(), seals.as_array().unwrap().iter().map(seal).collect())
}

fn faults_of_payledger(report: &Value) -> Faults {
    faults_of(&report["chains"]["broken"], &report["seals"]["broken"])
}

fn faults_of_script(report: &Value) -> Faults {
    faults_of(&report["broken_links"], &report["broken_seals"])
}

/// Both verifiers find exactly `expected`, and payledger names the first broken thing.
fn assert_both_name(history: &History, expected: &Faults) {
    let (code, report, err) = history.verify();
    assert_eq!(code, 1, "payledger verify: {err}");
    assert_eq!(&faults_of_payledger(&report), expected, "payledger verify: {err}");
    if let Some((seal, _)) = expected.1.first() {
        assert!(err.contains(&format!("first broken seal: #{seal} covering")), "{err}");
    }
    for (stream, version, _) in &expected.0 {
        assert!(err.contains(&format!("broken chain: {stream} v{version}")), "{err}");
    }
    for format in ["ndjson", "csv"] {
        let (code, report, err) = script(&history.export(format), &[]);
        assert_eq!(code, 1, "{format}: {report} {err}");
        assert_eq!(&faults_of_script(&report), expected, "{format}: {report}");
    }
}

/// The seals whose range holds the events `condition` picks (of the audited tenant).
async fn seals_holding(history: &History, condition: &str) -> BTreeSet<(i64, String)> {
    let client = history.db.connect().await;
    let sql = format!(
        "SELECT DISTINCT s.seal_number FROM events e, seals s LEFT JOIN seals p ON p.seal_number = s.seal_number - 1
         WHERE e.tenant_id = $1 AND ({condition})
           AND (e.tx_id, e.global_position) > (coalesce(p.to_tx_id, '0'::xid8), coalesce(p.to_position, 0))
           AND (e.tx_id, e.global_position) <= (s.to_tx_id, s.to_position)"
    );
    let rows = client.query(&sql, &[&history.tenant]).await.unwrap();
    rows.iter().map(|r| (r.get::<_, i64>(0), "tenant_events_differ".to_owned())).collect()
}

#[tokio::test]
async fn a_clean_history_verifies_with_payledger_and_the_script_alike() {
    let history = mixed_history().await;
    let (code, report, err) = history.verify();
    assert_eq!(code, 0, "{err}");
    let (code, latest, err) = payledger(&history.db, &["audit", "seals", "--latest"]);
    assert_eq!(code, 0, "{err}");
    let latest = latest.trim().to_owned();
    assert_eq!(latest.len(), 64);
    assert_eq!(report["seals"]["latest_seal_hash"], json!(latest));
    assert!(report["seals"]["seals_checked"].as_u64().unwrap() >= 5, "{report}");
    for format in ["ndjson", "csv"] {
        let path = history.export(format);
        let (code, script_report, err) = script(&path, &["--expect-seal", &latest]);
        assert_eq!(code, 0, "{format}: {script_report} {err}");
        assert_eq!(script_report["intact"], true);
        assert_eq!(script_report["events_checked"], report["chains"]["events_checked"], "{format}");
        assert_eq!(script_report["streams_checked"], report["chains"]["streams_checked"], "{format}");
        assert_eq!(script_report["seals_checked"], report["seals"]["seals_checked"], "{format}");
        assert_eq!(script_report["latest_seal"]["hash"], json!(latest), "{format}");
        assert_eq!(script_report["unsealed_events"], 0, "{format}");
        // A published hash the export does not hold is named.
        let (code, bad, _) = script(&path, &["--expect-seal", &"ab".repeat(32)]);
        assert_eq!(code, 1);
        assert_eq!(bad["export_faults"][0]["fault"], "expected_seal_missing", "{bad}");
    }
    // Every tenant's history, and the whole, verify too.
    let (code, _, err) = payledger(&history.db, &["verify", "--chains-only"]);
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn a_changed_payload_byte_is_named_by_both() {
    let history = mixed_history().await;
    history
        .tamper(&format!(
            "UPDATE events SET payload = jsonb_set(payload, '{{n}}', '999') WHERE tenant_id = '{}'
             AND stream_id = 'order-t1' AND stream_version = 2",
            history.tenant
        ))
        .await;
    let links = BTreeSet::from([("order-t1".to_owned(), 2, "hash_mismatch".to_owned())]);
    assert_both_name(&history, &(links, BTreeSet::new()));
}

#[tokio::test]
async fn a_deleted_stream_is_named_by_both() {
    let history = mixed_history().await;
    let seals = seals_holding(&history, "e.stream_id = 'order-t2'").await;
    assert!(!seals.is_empty());
    history
        .tamper(&format!("DELETE FROM events WHERE tenant_id = '{}' AND stream_id = 'order-t2'", history.tenant))
        .await;
    assert_both_name(&history, &(BTreeSet::new(), seals));
    // The whole history's check names it too.
    let (code, _, err) = payledger(&history.db, &["verify", "--chains-only"]);
    assert_eq!(code, 1);
    assert!(err.contains("first broken seal: #") && err.contains(&history.tenant.to_string()), "{err}");
}

/// An event appended to the end of a stream with a valid chain hash, placed in sealed
/// history: the chain cannot tell; the seal whose range it lands in does.
#[tokio::test]
async fn an_event_inserted_at_the_end_of_a_stream_is_named_by_both() {
    let history = mixed_history().await;
    let client = history.db.connect().await;
    let last = client
        .query_one(
            "SELECT stream_version, hash FROM events WHERE tenant_id = $1 AND stream_id = 'order-t0'
             ORDER BY stream_version DESC LIMIT 1",
            &[&history.tenant],
        )
        .await
        .unwrap();
    let (version, prev_hash): (i64, Vec<u8>) = (last.get(0), last.get(1));
    let (event_id, recorded_at) = (Uuid::new_v4(), chrono::Utc::now());
    let recorded_at = chrono::SubsecRound::trunc_subsecs(recorded_at, 6);
    let hash = chain_hash(
        &prev_hash,
        &HashInput {
            tenant_id: history.tenant,
            stream_id: "order-t0",
            stream_version: version + 1,
            event_id,
            event_type: "Tested",
            schema_version: 1,
            recorded_at_unix_micros: recorded_at.timestamp_micros(),
            dedupe_key: None,
            payload_text: r#"{"n": 77}"#,
            metadata_text: "{}",
        },
    );
    // Transaction id 1: before every real one, inside the first seal's range.
    history
        .tamper(&format!(
            "INSERT INTO events (tx_id, event_id, tenant_id, stream_id, stream_version, event_type, schema_version,
                                 payload, metadata, recorded_at, prev_hash, hash)
             VALUES ('1', '{event_id}', '{}', 'order-t0', {}, 'Tested', 1, '{{\"n\": 77}}', '{{}}', '{}',
                     '\\x{}', '\\x{}')",
            history.tenant,
            version + 1,
            recorded_at.to_rfc3339(),
            hex_of(&prev_hash),
            hex_of(&hash)
        ))
        .await;
    let seals = BTreeSet::from([(1, "tenant_events_differ".to_owned())]);
    assert_both_name(&history, &(BTreeSet::new(), seals));
}

#[tokio::test]
async fn two_swapped_events_are_named_by_both() {
    let history = mixed_history().await;
    let client = history.db.connect().await;
    // The tenant's first two events in read order: of streams order-t0 and order-t1.
    let rows = client
        .query(
            "SELECT global_position FROM events WHERE tenant_id = $1 AND stream_id LIKE 'order-t%'
             ORDER BY tx_id, global_position LIMIT 2",
            &[&history.tenant],
        )
        .await
        .unwrap();
    let (a, b): (i64, i64) = (rows[0].get(0), rows[1].get(0));
    let seals = seals_holding(&history, &format!("e.global_position IN ({a}, {b})")).await;
    // Each takes the other's place in the read order: delete both, insert each at the other's position.
    history
        .tamper(&format!(
            "CREATE TEMP TABLE swapped AS SELECT * FROM events WHERE global_position IN ({a}, {b});
             DELETE FROM events WHERE global_position IN ({a}, {b});
             UPDATE swapped SET global_position = CASE global_position WHEN {a} THEN {b} ELSE {a} END,
                                tx_id = CASE global_position WHEN {a} THEN (SELECT tx_id FROM swapped WHERE global_position = {b})
                                                             ELSE (SELECT tx_id FROM swapped WHERE global_position = {a}) END;
             INSERT INTO events OVERRIDING SYSTEM VALUE SELECT * FROM swapped"
        ))
        .await;
    assert_both_name(&history, &(BTreeSet::new(), seals));
}

/// The seals themselves altered: a seal's count (its hash no longer matches) and a tenant's
/// digest in another (its events no longer match, nor does its leaf give the root).
#[tokio::test]
async fn altered_seals_are_named_by_both() {
    let history = mixed_history().await;
    let client = history.db.connect().await;
    let tenant = history.tenant;
    let with_part: i64 = client
        .query_one("SELECT min(seal_number) FROM seal_tenants WHERE tenant_id = $1 AND seal_number > 2", &[&tenant])
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(&format!(
            "ALTER TABLE seals DISABLE TRIGGER USER; ALTER TABLE seal_tenants DISABLE TRIGGER USER;
             UPDATE seals SET event_count = event_count + 1 WHERE seal_number = 2;
             UPDATE seal_tenants SET digest = '\\x{}' WHERE seal_number = {with_part} AND tenant_id = '{tenant}';
             ALTER TABLE seals ENABLE TRIGGER USER; ALTER TABLE seal_tenants ENABLE TRIGGER USER;",
            "ab".repeat(32)
        ))
        .await
        .unwrap();
    let seals = BTreeSet::from([
        (2, "hash_mismatch".to_owned()),
        (with_part, "tenant_events_differ".to_owned()),
        (with_part, "merkle_root_mismatch".to_owned()),
    ]);
    assert_both_name(&history, &(BTreeSet::new(), seals));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
