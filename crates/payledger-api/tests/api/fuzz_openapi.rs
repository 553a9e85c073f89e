//! A schema-driven fuzzer (schemathesis, installed by `scripts/schemathesis.sh` into a venv
//! under target/) runs against the real server: any 5xx, undeclared status, undeclared
//! content type or body that does not match `/openapi.json` fails the test.

use crate::support as common;

use std::process::Stdio;

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_as_its_openapi_document_says() {
    let app = common::spawn_app().await;
    // Read-your-writes (`min_position`) needs the projector, or every such read is a 503.
    let projector = common::start_projector(&app);
    // Some resources, so that lists return real items to check against their schemas.
    let payment = app.captured_payment(5000).await;
    let id = payment["id"].as_str().unwrap();
    let (s, refund) = app.post(&format!("/v1/payments/{id}/refunds"), json!({"amount": 1000})).await;
    assert_eq!(s, 201, "{refund}");
    let (s, dispute) = app.post(&format!("/v1/payments/{id}/disputes"), json!({"amount": 500})).await;
    assert_eq!(s, 201, "{dispute}");
    app.settle().await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/schemathesis.sh");
    let output = tokio::process::Command::new("bash")
        .arg(script)
        .arg(&app.base_url)
        .env("PL_KEY_WRITER", app.key("writer"))
        .env("PL_KEY_FINANCE", app.key("finance"))
        .env("PL_KEY_AUDITOR", app.key("auditor"))
        .env("PL_KEY_ADMIN", app.key("admin"))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("bash runs scripts/schemathesis.sh");
    projector.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found non-conformances (exit {:?}):\n{stdout}\n{stderr}",
        output.status.code()
    );
    // Not a vacuous pass: every documented operation was fuzzed, in one group or another.
    let tested: usize = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Tested: "))
        .map(|n| n.trim().parse::<usize>().unwrap())
        .sum();
    let spec: serde_json::Value =
        app.http.get(format!("{}/openapi.json", app.base_url)).send().await.unwrap().json().await.unwrap();
    let documented: usize =
        spec["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
    assert_eq!(tested, documented, "operations fuzzed vs documented:\n{stdout}");
    println!("{stdout}");
}
