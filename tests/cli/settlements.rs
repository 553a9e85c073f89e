//! `payledger settlements import`: the same import as over HTTP; a refused file lists every
//! problem and exits non-zero.

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

#[tokio::test]
async fn import_prints_the_report_once_and_refuses_a_bad_file_listing_its_problems() {
    let db = TestDb::new().await;
    let (code, _, err) = payledger(&db, &["tenants", "create", "shop"]);
    assert_eq!(code, Some(0), "{err}");
    let dir = std::env::temp_dir().join(format!("payledger-settle-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.csv");
    std::fs::write(&good, format!("{HEADER}\ng1,2026-11-30T10:00:00Z,charge,USD,10.00,0.30,9.70,pi_1\n")).unwrap();
    let good = good.to_str().unwrap();
    let args = ["settlements", "import", "--tenant", "shop", "--provider", "generic", good, "--json"];
    let (code, out, err) = payledger(&db, &args);
    assert_eq!(code, Some(0), "{err}");
    let first: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((first["lines"].as_u64(), first["duplicate"].as_bool()), (Some(1), Some(false)), "{first}");
    let (code, out, _) = payledger(&db, &args);
    assert_eq!(code, Some(0));
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((again["id"].clone(), again["duplicate"].as_bool()), (first["id"].clone(), Some(true)));

    let bad = dir.join("bad.csv");
    let text = format!(
        "{HEADER}\nb1,2026-11-30T10:00:00Z,charge,USD,75.001,0.30,74.701,pi_1\nb2,yesterday,charge,USD,1,0,1,pi_2\n"
    );
    std::fs::write(&bad, text).unwrap();
    let (code, _, err) =
        payledger(&db, &["settlements", "import", "--tenant", "shop", "--provider", "generic", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("line 2\tcolumn gross"), "{err}");
    assert!(err.contains("line 3\tcolumn created_at"), "{err}");
    let client = db.connect().await;
    let received: i64 = client
        .query_one("SELECT count(*) FROM events WHERE event_type = 'SettlementReportReceived'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(received, 1, "the refused file recorded nothing");
    std::fs::remove_dir_all(&dir).unwrap();
}
