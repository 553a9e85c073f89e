//! `payledger reconcile`: exit 0 when every item matched, 1 while an exception remains; days
//! are counted in the tenant's time zone (`payledger tenants set-time-zone`).

use std::process::Command;

use payledger_testkit::TestDb;
use serde_json::Value;

fn payledger(db: &TestDb, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_payledger")).args(args).env("DATABASE_URL", db.url()).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const HEADER: &str = "line_id,created_at,type,currency,gross,fee,net,payment_reference";

fn import(db: &TestDb, tenant: &str, dir: &std::path::Path, name: &str, lines: &str) {
    let file = dir.join(name);
    std::fs::write(&file, format!("{HEADER}\n{lines}")).unwrap();
    let args = ["settlements", "import", "--tenant", tenant, "--provider", "generic", file.to_str().unwrap()];
    let (code, _, err) = payledger(db, &args);
    assert_eq!(code, Some(0), "{err}");
}

#[tokio::test]
async fn reconcile_exits_one_while_an_exception_remains_and_counts_days_in_the_tenants_zone() {
    let db = TestDb::new().await;
    for tenant in ["shop", "tidy"] {
        let (code, _, err) = payledger(&db, &["tenants", "create", tenant]);
        assert_eq!(code, Some(0), "{err}");
    }
    let dir = std::env::temp_dir().join(format!("payledger-reconcile-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    // shop: a charge the ledger never saw, late in the evening (UTC). tidy: a fee line only.
    import(&db, "shop", &dir, "shop.csv", "s1,2026-11-30T23:30:00Z,charge,USD,10.00,0.30,9.70,pi_nowhere\n");
    import(&db, "tidy", &dir, "tidy.csv", "t1,2026-11-30T10:00:00Z,fee,USD,-1.00,0.00,-1.00,\n");
    let (code, _, err) = payledger(&db, &["rebuild", "--quiet"]);
    assert_eq!(code, Some(0), "{err}");

    let (code, out, err) = payledger(&db, &["reconcile", "--tenant", "shop", "--date", "2026-11-30", "--json"]);
    assert_eq!(code, Some(1), "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["days"][0]["counts"]["missing_in_ledger"], 1, "{report}");
    assert_eq!(report["exceptions"][0]["status"], "missing_in_ledger");
    let (code, out, _) = payledger(&db, &["reconcile", "--tenant", "tidy", "--date", "2026-11-30"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("everything matched"), "{out}");

    // In Berlin, 23:30 UTC on the 30th is the 1st of December: the exception moves with it.
    let (code, _, err) = payledger(&db, &["tenants", "set-time-zone", "shop", "Mars/Olympus_Mons"]);
    assert_eq!(code, Some(1), "an unknown zone is refused: {err}");
    assert!(err.contains("time_zone_invalid"), "{err}");
    let (code, _, err) = payledger(&db, &["tenants", "set-time-zone", "shop", "Europe/Berlin"]);
    assert_eq!(code, Some(0), "{err}");
    let client = db.connect().await;
    let changes: Vec<serde_json::Value> = client
        .query("SELECT payload FROM events WHERE event_type = 'TenantTimeZoneSet' ORDER BY global_position", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(changes.len(), 1, "the refused zone recorded nothing: {changes:?}");
    assert_eq!(changes[0]["time_zone"], "Europe/Berlin");
    let (code, out, _) = payledger(&db, &["reconcile", "--tenant", "shop", "--date", "2026-11-30"]);
    assert_eq!(code, Some(0), "nothing left on the 30th in Berlin: {out}");
    let (code, out, _) = payledger(&db, &["reconcile", "--tenant", "shop", "--date", "2026-12-01", "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["days"][0]["date"], "2026-12-01");

    let (code, _, err) =
        payledger(&db, &["reconcile", "--tenant", "shop", "--from", "2026-12-01", "--to", "2026-11-01"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("after"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
