//! Reconciliation end to end (docs/SETTLEMENT.md): the ledger holds payments, a refund and a
//! chargeback; the gateway's report of each format (`fixtures/settlements/*/mix.csv`) is
//! imported; every line gets its status, the day its sums, the journal its fees and payout.
//! A late ledger fact flips `missing_in_ledger` to `matched`; a rebuild reproduces it all.

use crate::support as common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{spawn_app_with, start_projector, TestApp};
use payledger_api::ApiConfig;
use payledger_testkit::eventually;
use reqwest::Method;
use serde_json::{json, Value};

/// The references one format's mix uses for the ledger's side.
struct Refs {
    provider: &'static str,
    currency: &'static str,
    payments: [&'static str; 5],
    unknown: &'static str,
    refund: &'static str,
    dispute: Option<&'static str>,
}

const STRIPE: Refs = Refs {
    provider: "stripe",
    currency: "USD",
    payments: ["pi_m1", "pi_m2", "pi_m3", "pi_m4", "pi_m5"],
    unknown: "pi_unknown",
    refund: "re_r1",
    dispute: Some("du_d1"),
};
const ADYEN: Refs = Refs {
    provider: "adyen",
    currency: "EUR",
    payments: ["PSPM1", "PSPM2", "PSPM3", "PSPM4", "PSPM5"],
    unknown: "PSPUNK",
    refund: "PSPR1",
    dispute: Some("PSPD1"),
};
const GENERIC: Refs = Refs {
    provider: "generic",
    currency: "USD",
    payments: ["gen_m1", "gen_m2", "gen_m3", "gen_m4", "gen_m5"],
    unknown: "gen_unknown",
    refund: "genref_r1",
    // The generic dispute line names only its payment.
    dispute: None,
};

fn fixture(provider: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/settlements/{provider}/mix.csv", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn command(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, answer) = app.post(path, body).await;
    assert!(status == 200 || status == 201, "{path}: {status} {answer}");
    answer
}

/// An order and a payment of `amount` with `reference`, authorized and captured.
async fn captured(app: &TestApp, refs: &Refs, reference: &str, amount: i64) -> String {
    let order =
        command(app, "/v1/orders", json!({"amount": amount, "currency": refs.currency, "reference": "R"})).await;
    let payment = command(
        app,
        "/v1/payments",
        json!({"order_id": order["id"], "amount": amount, "currency": refs.currency, "capture_method": "manual",
               "provider": refs.provider, "provider_reference": reference}),
    )
    .await;
    let id = payment["id"].as_str().unwrap().to_owned();
    command(app, &format!("/v1/payments/{id}/authorize"), json!({})).await;
    command(app, &format!("/v1/payments/{id}/capture"), json!({})).await;
    id
}

/// The ledger of the mix: 100.00 (30.00 refunded), 50.00 (charged back), 20.00, 45.00 (the
/// report says 40.00) and 12.34 that no line settles.
async fn ledger_of_the_mix(app: &TestApp, refs: &Refs) {
    let amounts = [10_000, 5_000, 2_000, 4_500, 1_234];
    let mut ids = Vec::new();
    for (reference, amount) in refs.payments.iter().zip(amounts) {
        ids.push(captured(app, refs, reference, amount).await);
    }
    let refund = command(
        app,
        &format!("/v1/payments/{}/refunds", ids[0]),
        json!({"amount": 3_000, "provider_reference": refs.refund}),
    )
    .await;
    command(app, &format!("/v1/refunds/{}/succeed", refund["id"].as_str().unwrap()), json!({})).await;
    let mut dispute = json!({"amount": 5_000});
    if let Some(reference) = refs.dispute {
        dispute["provider_reference"] = json!(reference);
    }
    command(app, &format!("/v1/payments/{}/disputes", ids[1]), dispute).await;
}

async fn import(app: &TestApp, provider: &str, body: Vec<u8>) -> Value {
    let r = app
        .http
        .post(format!("{}/v1/settlement-reports?provider={provider}", app.base_url))
        .bearer_auth(app.key("finance"))
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let report: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{report}");
    report
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get_as("finance", path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Waits until the projector has the report's lines, then returns the day's items.
async fn items_once_projected(app: &TestApp, refs: &Refs, date: &str, lines: usize) -> Vec<Value> {
    let path = format!("/v1/reconciliation/items?date={date}&provider={}", refs.provider);
    eventually(Duration::from_secs(20), "the report's lines to be projected", || async {
        let items = get(app, &path).await["data"].as_array().unwrap().clone();
        let from_lines = items.iter().filter(|i| !i["report_line"].is_null()).count();
        (from_lines >= lines).then_some(items)
    })
    .await
}

fn status_by_line(items: &[Value]) -> BTreeMap<i64, String> {
    items
        .iter()
        .filter(|i| !i["report_line"].is_null())
        .map(|i| (i["report_line"]["line_number"].as_i64().unwrap(), i["status"].as_str().unwrap().to_owned()))
        .collect()
}

async fn balance(app: &TestApp, account: &str, currency: &str) -> i64 {
    let accounts = get(app, &format!("/v1/ledger/accounts?account={account}&currency={currency}")).await;
    accounts["data"].as_array().unwrap().first().map_or(0, |a| a["balance"].as_i64().unwrap())
}

async fn the_mix_reconciles(refs: Refs) {
    let app = spawn_app_with(ApiConfig { reconciliation_lag_days: 3, ..ApiConfig::default() }).await;
    let _projector = start_projector(&app);
    ledger_of_the_mix(&app, &refs).await;
    let report = import(&app, refs.provider, fixture(refs.provider)).await;
    assert_eq!((report["lines"].as_u64(), report["duplicate_lines"].as_u64()), (Some(10), Some(1)), "{report}");

    let items = items_once_projected(&app, &refs, "2026-11-30", 10).await;
    let expected: BTreeMap<i64, &str> = [
        (2, "matched"),
        (3, "matched"),
        (4, "matched"),
        (5, "matched"),
        (6, "matched"),
        (7, "amount_mismatch"),
        (8, "missing_in_ledger"),
        (9, "matched"),
        (10, "duplicate_in_report"),
        (11, "matched"),
    ]
    .into_iter()
    .collect();
    let got = status_by_line(&items);
    assert_eq!(got, expected.iter().map(|(k, v)| (*k, v.to_string())).collect::<BTreeMap<_, _>>(), "{items:#?}");
    let mismatch = items.iter().find(|i| i["status"] == "amount_mismatch").unwrap();
    assert_eq!(
        (&mismatch["report_amount_minor"], &mismatch["ledger_amount_minor"], &mismatch["difference_minor"]),
        (&json!(4_000), &json!(4_500), &json!(-500))
    );
    assert_eq!(items.len(), 10, "no ledger fact of 2026-11-30 is missing: the ledger's are of today");

    let days =
        get(&app, &format!("/v1/reconciliation/days?from=2026-11-30&to=2026-11-30&provider={}", refs.provider)).await;
    let day = &days["data"][0];
    assert_eq!(days["data"].as_array().unwrap().len(), 1, "{days}");
    assert_eq!((day["date"].as_str(), day["currency"].as_str()), (Some("2026-11-30"), Some(refs.currency)));
    assert_eq!(day["counts"]["matched"], 7);
    assert_eq!(
        (&day["counts"]["amount_mismatch"], &day["counts"]["missing_in_ledger"], &day["counts"]["duplicate_in_report"]),
        (&json!(1), &json!(1), &json!(1))
    );
    // Charges, refund and chargeback: 10000+5000+2000+4000+1000-3000-5000 against the ledger's
    // 10000+5000+2000+4500-3000-5000 (the unknown charge has no ledger side).
    assert_eq!((day["report_net_minor"].as_str(), day["ledger_net_minor"].as_str()), (Some("14000"), Some("13500")));
    assert_eq!(day["difference_minor"], "500");
    assert_eq!(day["exceptions"], 3);

    // Fees (2288 on payment lines + 200 fee line) and the payout post once; the duplicate posts nothing.
    assert_eq!(balance(&app, "processing_fees", refs.currency).await, 2_488);
    assert_eq!(balance(&app, "bank", refs.currency).await, 11_512);
    // captured 22734 - refunded 3000 - disputed 5000 - fees 2488 - paid out 11512
    assert_eq!(balance(&app, "gateway_receivable", refs.currency).await, 734);

    // The payment the gateway settled arrives late: the line matches at the next read.
    captured(&app, &refs, refs.unknown, 1_000).await;
    eventually(Duration::from_secs(20), "the late payment to match its line", || async {
        let items = get(&app, &format!("/v1/reconciliation/items?date=2026-11-30&provider={}", refs.provider)).await;
        let lines = status_by_line(items["data"].as_array().unwrap());
        (lines[&8] == "matched").then_some(())
    })
    .await;

    // A rebuild recomputes every row the reconciliation reads from; verify finds them equal.
    let path = format!("/v1/reconciliation/items?date=2026-11-30&provider={}", refs.provider);
    let before = get(&app, &path).await;
    payledger_projector::rebuild(app.db.url(), payledger_projector::RebuildOptions::default(), |_| {}).await.unwrap();
    assert_eq!(get(&app, &path).await, before, "the rebuilt read-models reconcile the same");
    let report = payledger_projector::verify(app.db.url(), &Default::default()).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[tokio::test]
async fn the_stripe_mix_gives_each_line_its_status_and_posts_fees_and_the_payout() {
    the_mix_reconciles(STRIPE).await;
}

#[tokio::test]
async fn the_adyen_mix_gives_each_line_its_status_and_posts_fees_and_the_payout() {
    the_mix_reconciles(ADYEN).await;
}

#[tokio::test]
async fn the_generic_mix_gives_each_line_its_status_and_posts_fees_and_the_payout() {
    the_mix_reconciles(GENERIC).await;
}

/// A one-line generic report of an adjustment on `date`: the reports then cover that day.
fn covering_report(date: &str) -> Vec<u8> {
    format!(
        "line_id,created_at,type,currency,gross,fee,net\ncover_{date},{date}T12:00:00Z,adjustment,USD,0.01,0.00,0.01\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_ledger_capture_no_line_settles_is_missing_once_the_reports_cover_the_lag() {
    let app = spawn_app_with(ApiConfig { reconciliation_lag_days: 3, ..ApiConfig::default() }).await;
    let _projector = start_projector(&app);
    let payment = captured(&app, &GENERIC, "gen_lonely", 777).await;
    let today = chrono::Utc::now().date_naive();
    let day = |offset: u64| today.checked_add_days(chrono::Days::new(offset)).unwrap().to_string();
    let path = format!("/v1/reconciliation/items?date={today}&provider=generic");

    import(&app, "generic", covering_report(&day(2))).await;
    let coverage_seen = format!("/v1/reconciliation/items?date={}&provider=generic", day(2));
    items_once_projected(&app, &GENERIC, &day(2), 1).await;
    assert!(get(&app, &coverage_seen).await["data"].as_array().unwrap().len() == 1);
    assert_eq!(get(&app, &path).await["data"], json!([]), "two days of reports do not cover a lag of three");

    import(&app, "generic", covering_report(&day(3))).await;
    let items = eventually(Duration::from_secs(20), "the capture to be due", || async {
        let items = get(&app, &path).await["data"].as_array().unwrap().clone();
        (!items.is_empty()).then_some(items)
    })
    .await;
    assert_eq!(items.len(), 1, "{items:#?}");
    let item = &items[0];
    assert_eq!((item["status"].as_str(), item["ledger_amount_minor"].as_i64()), (Some("missing_in_report"), Some(777)));
    assert_eq!(item["ledger_fact"]["payment_id"].as_str(), Some(payment.as_str()));
    assert_eq!(item["ledger_fact"]["kind"], "capture");
    assert!(item["ledger_fact"]["event_position"].as_i64().is_some());

    // CSV export of the same items.
    let r = app
        .http
        .request(Method::GET, format!("{}{path}", app.base_url))
        .bearer_auth(app.key("auditor"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    let mut rows = text.lines();
    assert!(rows.next().unwrap().starts_with("date,provider,currency,status,"));
    let row = rows.next().unwrap();
    assert!(row.contains("missing_in_report") && row.contains(&payment) && row.contains(",777,"), "{row}");
    assert_eq!(rows.next(), None);

    // The writer role does not reconcile; another tenant sees nothing of it.
    let (status, _) = app.get_as("writer", &path).await;
    assert_eq!(status, 403);
    let other = app.other_tenant("globex").await;
    let r = app.request(Method::GET, &path, Some(&other["auditor"]), None, None).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["data"], json!([]));
}

#[tokio::test]
async fn a_period_is_checked_before_anything_is_read() {
    let app = spawn_app_with(ApiConfig::default()).await;
    for (query, param) in [
        ("from=2026-11-30&to=2026-11-01", "from"),
        ("from=2026-01-01&to=2026-12-31", "from"),
        ("from=2026-13-01&to=2026-12-31", "from"),
        ("provider=paypal", "provider"),
    ] {
        let (status, body) = app.get_as("finance", &format!("/v1/reconciliation/days?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["param"], param, "{query}: {body}");
    }
    let (status, body) = app.get_as("finance", "/v1/reconciliation/items?date=2026-11-30&status=fine").await;
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("status")), "{body}");
}

/// The ledger knows a refund only by its amount (requested without the gateway's reference);
/// the report's refund line names `re_r1`, which no refund holds yet. Stripe's webhook for that
/// refund then arrives, the ledger learns the reference, and the line matches at the next read.
#[tokio::test]
async fn a_webhook_after_the_report_turns_missing_in_ledger_into_matched() {
    use crate::webhooks::support::{create_endpoint, deliver, id_of, stripe_headers, wait_interpreted, FIXTURE_PI};
    let app = spawn_app_with(ApiConfig::default()).await;
    let _projector = start_projector(&app);
    let payment = captured(&app, &STRIPE, "pi_m1", 10_000).await;
    command(&app, &format!("/v1/payments/{payment}/refunds"), json!({"amount": 3_000})).await;
    import(&app, "stripe", fixture("stripe")).await;
    let items = items_once_projected(&app, &STRIPE, "2026-11-30", 10).await;
    assert_eq!(status_by_line(&items)[&5], "missing_in_ledger", "no refund has the reference re_r1 yet");

    let endpoint = create_endpoint(&app, "stripe", Some("whsec_recon")).await;
    let body = crate::webhooks::support::fixture("stripe/refund.created.json")
        .replace("re_3MtwBwLkdIwHu7ix0YtQhKqK", "re_r1")
        .replace("\"amount\": 500,", "\"amount\": 3000,")
        .replace(FIXTURE_PI, "pi_m1")
        .replace("\"evt_", "\"evt_recon_")
        .into_bytes();
    let (status, answer) =
        deliver(&app, "stripe", &id_of(&endpoint), &stripe_headers("whsec_recon", &body), &body).await;
    assert_eq!(status, 200, "{answer}");
    wait_interpreted(&app).await;
    eventually(Duration::from_secs(20), "the refund line to match once the webhook taught its reference", || async {
        let items = get(&app, "/v1/reconciliation/items?date=2026-11-30&provider=stripe").await;
        let lines = status_by_line(items["data"].as_array().unwrap());
        (lines[&5] == "matched").then_some(())
    })
    .await;
}
