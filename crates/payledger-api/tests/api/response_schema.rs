//! Every route's real answers agree with what `/openapi.json` documents for that route and
//! status: each field a body carries is declared, each required field is there, and the
//! types agree. Every documented route is visited, so a new route without a documented,
//! checked answer fails here.

use crate::support as common;

use std::collections::BTreeSet;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

const STRIPE_SECRET: &str = "whsec_schema_test_5f0c2b7e9a41d3c8";

/// Sends requests, checks each answer against the document, and remembers what it visited.
struct Checker<'a> {
    app: &'a TestApp,
    spec: Value,
    visited: BTreeSet<(String, String)>,
    failures: Vec<String>,
}

impl<'a> Checker<'a> {
    async fn new(app: &'a TestApp) -> Checker<'a> {
        let r = app.request(Method::GET, "/openapi.json", None, None, None).await;
        let spec: Value = r.json().await.unwrap();
        Checker { app, spec, visited: BTreeSet::new(), failures: Vec::new() }
    }

    /// A JSON request with a key (`None`: anonymous); returns the status and body.
    async fn call(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        role: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let key = role.map(|r| self.app.key(r).to_owned());
        // A POST without a body still says it is JSON (an empty object).
        let body = body.or_else(|| (method == Method::POST).then(|| json!({})));
        let r = self.app.request(method.clone(), path, key.as_deref(), body.as_ref(), None).await;
        self.answer(method, template, r).await
    }

    /// A command with an Idempotency-Key.
    async fn command(&mut self, template: &str, path: &str, body: Value, idem: &str) -> (u16, Value) {
        let r = self.app.request(Method::POST, path, Some(self.app.key("writer")), Some(&body), Some(idem)).await;
        self.answer(Method::POST, template, r).await
    }

    async fn answer(&mut self, method: Method, template: &str, r: reqwest::Response) -> (u16, Value) {
        let status = r.status().as_u16();
        let media = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
            .unwrap_or_default();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.check(&method, template, status, &media, &body);
        (status, body)
    }

    fn check(&mut self, method: &Method, template: &str, status: u16, media: &str, body: &Value) {
        let method = method.as_str().to_lowercase();
        self.visited.insert((method.to_uppercase(), template.to_owned()));
        let at = format!("{} {template} {status}", method.to_uppercase());
        let operation = &self.spec["paths"][template][&method];
        if operation.is_null() {
            self.failures.push(format!("{at}: the route is not documented"));
            return;
        }
        let response = &operation["responses"][status.to_string()];
        if response.is_null() {
            self.failures.push(format!("{at}: the status is not documented: {body}"));
            return;
        }
        let Some(schema) = response["content"].get(media).map(|c| c["schema"].clone()) else {
            self.failures.push(format!("{at}: the media type {media:?} is not documented"));
            return;
        };
        if media == "application/json" {
            let mut found = Vec::new();
            validate(&self.spec, &schema, body, "$", false, &mut found);
            self.failures.extend(found.into_iter().map(|f| format!("{at}: {f}")));
        }
    }
}

/// Checks `value` against `schema`, pushing one line per disagreement. `open` lets an object
/// carry fields this schema does not declare (a part of an `allOf`, whose union is checked).
fn validate(spec: &Value, schema: &Value, value: &Value, at: &str, open: bool, out: &mut Vec<String>) {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.trim_start_matches("#/components/schemas/");
        let target = &spec["components"]["schemas"][name];
        if target.is_null() {
            out.push(format!("{at}: $ref {name} is not in components"));
        }
        return validate(spec, target, value, at, open, out);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            validate(spec, part, value, at, true, out);
        }
        if let (Value::Object(map), false) = (value, open) {
            if let Some(declared) = declared_fields(spec, schema) {
                for key in map.keys().filter(|k| !declared.contains(*k)) {
                    out.push(format!("{at}.{key}: not declared in the schema"));
                }
            }
        }
        return;
    }
    for combinator in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema[combinator].as_array() {
            let mut closest: Option<Vec<String>> = None;
            for alternative in alternatives {
                let mut found = Vec::new();
                validate(spec, alternative, value, at, open, &mut found);
                if found.is_empty() {
                    return;
                }
                if closest.as_ref().is_none_or(|c| found.len() < c.len()) {
                    closest = Some(found);
                }
            }
            out.push(format!("{at}: matches none of the {combinator} alternatives: {:?}", closest.unwrap_or_default()));
            return;
        }
    }
    if !type_agrees(schema, value) {
        out.push(format!("{at}: {value} is not of type {}", schema["type"]));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !value.is_null() && !allowed.contains(value) {
            out.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    match value {
        Value::Object(map) => validate_object(spec, schema, map, at, open, out),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(spec, item_schema, item, &format!("{at}[{i}]"), false, out);
                }
            }
        }
        Value::String(s) => validate_format(schema, s, at, out),
        _ => {}
    }
}

fn validate_object(
    spec: &Value,
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    at: &str,
    open: bool,
    out: &mut Vec<String>,
) {
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap_or_default();
        if !map.contains_key(name) {
            out.push(format!("{at}.{name}: required but missing"));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let extra = schema.get("additionalProperties");
    for (key, item) in map {
        let here = format!("{at}.{key}");
        match (properties.and_then(|p| p.get(key)), extra) {
            (Some(property), _) => validate(spec, property, item, &here, false, out),
            (None, Some(extra @ Value::Object(_))) => validate(spec, extra, item, &here, false, out),
            (None, Some(Value::Bool(true))) => {}
            // A schema without properties is a free-form object (metadata, payload).
            (None, _) if properties.is_none() || open => {}
            (None, _) => out.push(format!("{here}: not declared in the schema")),
        }
    }
}

/// The property names an (`allOf`) schema declares; `None` when any part is free-form.
fn declared_fields(spec: &Value, schema: &Value) -> Option<BTreeSet<String>> {
    if let Some(name) = schema["$ref"].as_str() {
        return declared_fields(spec, &spec["components"]["schemas"][name.trim_start_matches("#/components/schemas/")]);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut all = BTreeSet::new();
        for part in parts {
            all.extend(declared_fields(spec, part)?);
        }
        return Some(all);
    }
    if schema.get("additionalProperties").is_some_and(|a| a != &Value::Bool(false)) {
        return None;
    }
    Some(schema.get("properties")?.as_object()?.keys().cloned().collect())
}

fn type_agrees(schema: &Value, value: &Value) -> bool {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    let nullable = schema["nullable"] == true;
    types.iter().any(|t| match *t {
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => false,
    }) || (nullable && value.is_null())
}

fn validate_format(schema: &Value, s: &str, at: &str, out: &mut Vec<String>) {
    let ok = match schema["format"].as_str() {
        Some("uuid") => Uuid::parse_str(s).is_ok(),
        Some("date-time") => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        _ => true,
    };
    if !ok {
        out.push(format!("{at}: {s:?} is not a {}", schema["format"]));
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        // The patterns used are anchored literals (^order$) or ^[A-Z]{3}$.
        let literal = pattern.trim_start_matches('^').trim_end_matches('$');
        let ok = if pattern == "^[A-Z]{3}$" {
            s.len() == 3 && s.chars().all(|c| c.is_ascii_uppercase())
        } else {
            literal.contains(['[', '{', '(', '\\', '*', '+', '?']) || s == literal
        };
        if !ok {
            out.push(format!("{at}: {s:?} does not match {pattern}"));
        }
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

#[tokio::test]
async fn every_route_answers_as_openapi_json_documents() {
    let app = common::spawn_app().await;
    let projector = common::start_projector(&app);
    let mut c = Checker::new(&app).await;
    let started = chrono::Utc::now() - chrono::Duration::seconds(5);

    // Public.
    c.call(Method::GET, "/healthz", "/healthz", None, None).await;
    c.call(Method::GET, "/readyz", "/readyz", None, None).await;
    c.call(Method::GET, "/metrics", "/metrics", None, None).await;
    c.call(Method::GET, "/openapi.json", "/openapi.json", None, None).await;

    // Orders.
    let order_body = json!({"amount": 5000, "currency": "USD", "reference": "ORD-1", "metadata": {"n": 1}});
    let (s, order) = c.command("/v1/orders", "/v1/orders", order_body, "schema-order").await;
    assert_eq!(s, 201, "{order}");
    let (s, doomed) = c
        .call(
            Method::POST,
            "/v1/orders",
            "/v1/orders",
            Some("writer"),
            Some(json!({"amount": 100, "currency": "USD", "reference": "ORD-2"})),
        )
        .await;
    assert_eq!(s, 201, "{doomed}");
    let cancel = format!("/v1/orders/{}/cancel", id(&doomed));
    let (s, cancelled) =
        c.call(Method::POST, "/v1/orders/{id}/cancel", &cancel, Some("writer"), Some(json!({"reason": "test"}))).await;
    assert_eq!(s, 200, "{cancelled}");

    // Payments: one captured, one voided, one failed.
    let payment_body = |amount: i64, reference: &str| {
        json!({"order_id": id(&order), "amount": amount, "currency": "USD", "capture_method": "manual",
            "provider": "stripe", "provider_reference": reference})
    };
    let pi = format!("pi_{}", Uuid::now_v7().simple());
    let (s, payment) =
        c.call(Method::POST, "/v1/payments", "/v1/payments", Some("writer"), Some(payment_body(3000, &pi))).await;
    assert_eq!(s, 201, "{payment}");
    let pay = id(&payment);
    let (s, p) = c
        .call(
            Method::POST,
            "/v1/payments/{id}/authorize",
            &format!("/v1/payments/{pay}/authorize"),
            Some("writer"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let (s, p) = c
        .call(
            Method::POST,
            "/v1/payments/{id}/capture",
            &format!("/v1/payments/{pay}/capture"),
            Some("writer"),
            Some(json!({"amount": 9999})),
        )
        .await;
    assert_eq!(s, 422, "capture over the authorization: {p}");
    let (s, p) = c
        .call(
            Method::POST,
            "/v1/payments/{id}/capture",
            &format!("/v1/payments/{pay}/capture"),
            Some("writer"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let (s, voided) =
        c.call(Method::POST, "/v1/payments", "/v1/payments", Some("writer"), Some(payment_body(500, "pi_void"))).await;
    assert_eq!(s, 201, "{voided}");
    let void = format!("/v1/payments/{}", id(&voided));
    c.call(Method::POST, "/v1/payments/{id}/authorize", &format!("{void}/authorize"), Some("writer"), None).await;
    let (s, p) = c.call(Method::POST, "/v1/payments/{id}/void", &format!("{void}/void"), Some("writer"), None).await;
    assert_eq!(s, 200, "{p}");
    let (s, failed) =
        c.call(Method::POST, "/v1/payments", "/v1/payments", Some("writer"), Some(payment_body(500, "pi_fail"))).await;
    assert_eq!(s, 201, "{failed}");
    let fail = format!("/v1/payments/{}/fail", id(&failed));
    let (s, p) = c
        .call(
            Method::POST,
            "/v1/payments/{id}/fail",
            &fail,
            Some("writer"),
            Some(json!({"code": "card_declined", "message": "declined"})),
        )
        .await;
    assert_eq!(s, 200, "{p}");

    // Refunds and disputes.
    let refunds = format!("/v1/payments/{pay}/refunds");
    let (s, refund) = c
        .call(
            Method::POST,
            "/v1/payments/{id}/refunds",
            &refunds,
            Some("writer"),
            Some(json!({"amount": 100, "reason": "asked"})),
        )
        .await;
    assert_eq!(s, 201, "{refund}");
    let (s, r) = c
        .call(
            Method::POST,
            "/v1/refunds/{id}/succeed",
            &format!("/v1/refunds/{}/succeed", id(&refund)),
            Some("writer"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, second) =
        c.call(Method::POST, "/v1/payments/{id}/refunds", &refunds, Some("writer"), Some(json!({"amount": 100}))).await;
    assert_eq!(s, 201, "{second}");
    let (s, r) = c
        .call(
            Method::POST,
            "/v1/refunds/{id}/fail",
            &format!("/v1/refunds/{}/fail", id(&second)),
            Some("writer"),
            Some(json!({"code": "expired"})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, dispute) = c
        .call(
            Method::POST,
            "/v1/payments/{id}/disputes",
            &format!("/v1/payments/{pay}/disputes"),
            Some("writer"),
            Some(json!({"amount": 200, "reason": "fraud"})),
        )
        .await;
    assert_eq!(s, 201, "{dispute}");
    let (s, last) = c
        .call(
            Method::POST,
            "/v1/disputes/{id}/resolve",
            &format!("/v1/disputes/{}/resolve", id(&dispute)),
            Some("writer"),
            Some(json!({"outcome": "won"})),
        )
        .await;
    assert_eq!(s, 200, "{last}");

    // Webhooks: an endpoint with a known secret, a signed delivery and a badly signed one.
    let (s, endpoint) = c
        .call(
            Method::POST,
            "/v1/admin/webhook-endpoints",
            "/v1/admin/webhook-endpoints",
            Some("admin"),
            Some(json!({"provider": "stripe", "secret": STRIPE_SECRET, "label": "schema"})),
        )
        .await;
    assert_eq!(s, 201, "{endpoint}");
    let hook = format!("/v1/webhooks/stripe/{}", id(&endpoint));
    let event = json!({"id": format!("evt_{}", Uuid::now_v7().simple()), "object": "event", "type": "payment_intent.succeeded",
        "created": 1_680_804_104, "data": {"object": {"id": pi, "object": "payment_intent", "amount": 3000,
        "amount_received": 3000, "currency": "usd", "status": "succeeded"}}});
    let raw = serde_json::to_vec(&event).unwrap();
    for signature in [
        payledger_gateways::signing::sign_stripe_header(STRIPE_SECRET, chrono::Utc::now().timestamp(), &raw),
        "t=1,v1=00".to_owned(),
    ] {
        let r = app
            .http
            .post(format!("{}{hook}", app.base_url))
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", signature)
            .body(raw.clone())
            .send()
            .await
            .unwrap();
        c.answer(Method::POST, "/v1/webhooks/{provider}/{endpoint_id}", r).await;
    }
    c.call(Method::GET, "/v1/admin/webhook-endpoints", "/v1/admin/webhook-endpoints?limit=5", Some("admin"), None)
        .await;
    let secrets = format!("/v1/admin/webhook-endpoints/{}/secrets", id(&endpoint));
    let (s, added) = c
        .call(
            Method::POST,
            "/v1/admin/webhook-endpoints/{id}/secrets",
            &secrets,
            Some("admin"),
            Some(json!({"secret": "whsec_schema_rotated_0a1b2c3d4e5f6a7b"})),
        )
        .await;
    assert_eq!(s, 201, "{added}");
    let first_secret = endpoint["secrets"][0]["id"].as_str().unwrap().to_owned();
    let (s, retired) = c
        .call(
            Method::POST,
            "/v1/admin/webhook-endpoints/{id}/secrets/{secret_id}/retire",
            &format!("{secrets}/{first_secret}/retire"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{retired}");

    // API keys.
    let (s, key) = c
        .call(
            Method::POST,
            "/v1/admin/keys",
            "/v1/admin/keys",
            Some("admin"),
            Some(json!({"role": "auditor", "label": "schema"})),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    let (s, rolled) = c
        .call(
            Method::POST,
            "/v1/admin/keys/{id}/roll",
            &format!("/v1/admin/keys/{}/roll", id(&key)),
            Some("admin"),
            Some(json!({"expire_old_in_s": 60})),
        )
        .await;
    assert_eq!(s, 201, "{rolled}");
    let (s, limited) = c
        .call(
            Method::POST,
            "/v1/admin/keys/{id}/rate-limit",
            &format!("/v1/admin/keys/{}/rate-limit", id(&key)),
            Some("admin"),
            Some(json!({"rate_limit_per_s": 10, "rate_limit_burst": 20})),
        )
        .await;
    assert_eq!(s, 200, "{limited}");
    let (s, listed) = c
        .call(
            Method::POST,
            "/v1/admin/keys/{id}/allowed-ips",
            &format!("/v1/admin/keys/{}/allowed-ips", id(&key)),
            Some("admin"),
            Some(json!({"allowed_ips": ["10.0.0.0/8"]})),
        )
        .await;
    assert_eq!(s, 200, "{listed}");
    c.call(Method::GET, "/v1/admin/keys", "/v1/admin/keys", Some("admin"), None).await;
    let (s, revoked) = c
        .call(
            Method::POST,
            "/v1/admin/keys/{id}/revoke",
            &format!("/v1/admin/keys/{}/revoke", id(&key)),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{revoked}");

    // Reads, after the projector has passed the last command.
    let position = last["position"].as_i64().unwrap();
    let wait = format!("min_position={position}");
    let (s, o) = c
        .call(Method::GET, "/v1/orders/{id}", &format!("/v1/orders/{}?{wait}", id(&order)), Some("auditor"), None)
        .await;
    assert_eq!(s, 200, "{o}");
    let created = started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for query in [format!("?{wait}"), "?status=open&limit=1".into(), format!("?created_gte={created}&limit=100")] {
        let (s, list) = c.call(Method::GET, "/v1/orders", &format!("/v1/orders{query}"), Some("auditor"), None).await;
        assert_eq!(s, 200, "{list}");
    }
    let (s, list) = c
        .call(
            Method::GET,
            "/v1/orders",
            &format!("/v1/orders?limit=1&starting_after={}", id(&order)),
            Some("auditor"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{list}");
    let (s, p) = c.call(Method::GET, "/v1/payments/{id}", &format!("/v1/payments/{pay}"), Some("auditor"), None).await;
    assert_eq!(
        (s, p["refunds"].as_array().map(Vec::len), p["disputes"].as_array().map(Vec::len)),
        (200, Some(2), Some(1)),
        "{p}"
    );
    for query in [
        format!("?order_id={}", id(&order)),
        "?status=captured&limit=2".into(),
        format!(
            "?created_lt={}",
            (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    ] {
        let (s, list) =
            c.call(Method::GET, "/v1/payments", &format!("/v1/payments{query}"), Some("auditor"), None).await;
        assert_eq!(s, 200, "{list}");
    }
    let (s, r) =
        c.call(Method::GET, "/v1/refunds/{id}", &format!("/v1/refunds/{}", id(&refund)), Some("auditor"), None).await;
    assert_eq!(s, 200, "{r}");
    for query in [format!("?payment_id={pay}"), "?status=failed".into()] {
        let (s, list) = c.call(Method::GET, "/v1/refunds", &format!("/v1/refunds{query}"), Some("auditor"), None).await;
        assert_eq!(s, 200, "{list}");
    }
    for query in ["", "?currency=USD&limit=3"] {
        let (s, list) = c
            .call(Method::GET, "/v1/ledger/accounts", &format!("/v1/ledger/accounts{query}"), Some("finance"), None)
            .await;
        assert!(s == 200 && !list["data"].as_array().unwrap().is_empty(), "{list}");
    }
    for query in [String::new(), format!("?payment_id={pay}&limit=2")] {
        let (s, list) = c
            .call(Method::GET, "/v1/ledger/entries", &format!("/v1/ledger/entries{query}"), Some("finance"), None)
            .await;
        assert!(s == 200 && !list["data"].as_array().unwrap().is_empty(), "{list}");
    }
    let (s, events) = c.call(Method::GET, "/v1/events", "/v1/events?limit=5", Some("auditor"), None).await;
    assert_eq!(s, 200, "{events}");
    let stream = format!("/v1/streams/payment-{pay}/events");
    let (s, events) = c.call(Method::GET, "/v1/streams/{stream_id}/events", &stream, Some("auditor"), None).await;
    assert!(s == 200 && !events["data"].as_array().unwrap().is_empty(), "{events}");
    // Seals: one over what is there, listed with this tenant's part.
    let mut sealer = c.app.db.connect().await;
    let policy = payledger_store::seal::SealPolicy::now(1_000);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // The sealer reads gap-free: another test's open transaction may hold events back a moment.
    while payledger_store::seal::seal_pending(&mut sealer, policy).await.unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "nothing to seal");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (s, seals) = c.call(Method::GET, "/v1/seals", "/v1/seals?limit=5", Some("auditor"), None).await;
    assert!(s == 200 && !seals["data"].as_array().unwrap().is_empty(), "{seals}");

    // Projections and jobs: a rebuild queued (202), a second refused (409), cancelled (and
    // again: 409), a verify queued and run to its end, its job listed and shown.
    c.call(Method::GET, "/v1/projections", "/v1/projections", Some("finance"), None).await;
    let (s, rebuild) =
        c.call(Method::POST, "/v1/projections/rebuild", "/v1/projections/rebuild", Some("admin"), None).await;
    assert_eq!(s, 202, "{rebuild}");
    let (s, busy) =
        c.call(Method::POST, "/v1/projections/rebuild", "/v1/projections/rebuild", Some("admin"), None).await;
    assert_eq!(s, 409, "{busy}");
    let cancel = format!("/v1/jobs/{}/cancel", id(&rebuild));
    let (s, cancelled) = c.call(Method::POST, "/v1/jobs/{id}/cancel", &cancel, Some("admin"), None).await;
    assert_eq!((s, &cancelled["status"]), (200, &json!("cancelled")), "{cancelled}");
    let (s, _) = c.call(Method::POST, "/v1/jobs/{id}/cancel", &cancel, Some("admin"), None).await;
    assert_eq!(s, 409);
    let (s, queued) = c
        .call(Method::POST, "/v1/projections/verify", "/v1/projections/verify", Some("finance"), Some(json!({})))
        .await;
    assert_eq!(s, 202, "{queued}");
    let runner = common::start_job_runner(&app);
    let finished = app.wait_job("finance", &id(&queued)).await;
    assert_eq!(finished["status"], json!("succeeded"), "{finished}");
    let job = format!("/v1/jobs/{}", id(&queued));
    let (s, shown) = c.call(Method::GET, "/v1/jobs/{id}", &job, Some("auditor"), None).await;
    assert_eq!((s, &shown["result"]["clean"]), (200, &json!(true)), "{shown}");
    let (s, listed) = c.call(Method::GET, "/v1/jobs", "/v1/jobs?limit=10", Some("auditor"), None).await;
    assert_eq!((s, listed["data"].as_array().map(Vec::len)), (200, Some(2)), "{listed}");
    let reprocess = format!("/v1/admin/webhook-endpoints/{}/reprocess", id(&endpoint));
    let (s, queued) =
        c.call(Method::POST, "/v1/admin/webhook-endpoints/{id}/reprocess", &reprocess, Some("admin"), None).await;
    assert_eq!(s, 202, "{queued}");
    let finished = app.wait_job("admin", &id(&queued)).await;
    assert_eq!(finished["status"], json!("succeeded"), "{finished}");
    runner.stop().await;
    c.call(Method::GET, "/v1/projections", "/v1/projections", Some("admin"), None).await;

    // The error answers.
    let (s, _) = c.call(Method::GET, "/v1/orders", "/v1/orders?limit=0", Some("auditor"), None).await;
    assert_eq!(s, 400);
    let (s, _) = c.call(Method::GET, "/v1/payments", "/v1/payments", None, None).await;
    assert_eq!(s, 401);
    let (s, _) = c.call(Method::POST, "/v1/orders", "/v1/orders", Some("auditor"), Some(json!({}))).await;
    assert_eq!(s, 403);
    let (s, _) = c.call(Method::GET, "/v1/events", "/v1/events", Some("writer"), None).await;
    assert_eq!(s, 403);
    let (s, _) = c
        .call(Method::GET, "/v1/payments/{id}", &format!("/v1/payments/{}", Uuid::now_v7()), Some("auditor"), None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = c
        .command(
            "/v1/orders",
            "/v1/orders",
            json!({"amount": 1, "currency": "USD", "reference": "other"}),
            "schema-order",
        )
        .await;
    assert_eq!(s, 422, "a reused Idempotency-Key");
    let (s, _) = c
        .call(
            Method::POST,
            "/v1/refunds/{id}/succeed",
            &format!("/v1/refunds/{}/succeed", id(&refund)),
            Some("writer"),
            None,
        )
        .await;
    assert_eq!(s, 422, "a refund succeeds once");

    // Settlement reports: imported, imported again, refused; listed, shown, lines, file.
    let csv = crate::settlements::generic_csv(&["schema1", "schema2"]);
    for (body, expected) in [(csv.clone(), 201), (csv, 200), (format!("{}\nbad\n", crate::settlements::HEADER), 400)] {
        let r = c
            .app
            .http
            .post(format!("{}/v1/settlement-reports?provider=generic", c.app.base_url))
            .bearer_auth(c.app.key("finance"))
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        let (s, _) = c.answer(Method::POST, "/v1/settlement-reports", r).await;
        assert_eq!(s, expected);
    }
    let (s, reports) =
        c.call(Method::GET, "/v1/settlement-reports", "/v1/settlement-reports?limit=5", Some("auditor"), None).await;
    assert_eq!(s, 200);
    let report = format!("/v1/settlement-reports/{}", reports["data"][0]["id"].as_str().unwrap());
    let (s, _) = c.call(Method::GET, "/v1/settlement-reports/{id}", &report, Some("auditor"), None).await;
    assert_eq!(s, 200);
    let lines = format!("{report}/lines?limit=1");
    let (s, _) = c.call(Method::GET, "/v1/settlement-reports/{id}/lines", &lines, Some("finance"), None).await;
    assert_eq!(s, 200);
    let (s, _) =
        c.call(Method::GET, "/v1/settlement-reports/{id}/file", &format!("{report}/file"), Some("finance"), None).await;
    assert_eq!(s, 200);

    // The books as of a moment, and the reconciliation of the report's day.
    // Whole seconds, rounded up: a moment after everything above was recorded.
    let now = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (s, p) = c
        .call(Method::GET, "/v1/payments/{id}", &format!("/v1/payments/{pay}?as_of={now}"), Some("finance"), None)
        .await;
    assert_eq!(s, 200, "{p}");
    let (s, list) = c
        .call(Method::GET, "/v1/ledger/accounts", &format!("/v1/ledger/accounts?as_of={now}"), Some("finance"), None)
        .await;
    assert!(s == 200 && !list["data"].as_array().unwrap().is_empty(), "{list}");
    let today = chrono::Utc::now().date_naive();
    let (s, tb) = c
        .call(
            Method::GET,
            "/v1/ledger/trial-balance",
            &format!("/v1/ledger/trial-balance?date={today}"),
            Some("finance"),
            None,
        )
        .await;
    assert!(s == 200 && !tb["data"].as_array().unwrap().is_empty(), "{tb}");
    let items_path = "/v1/reconciliation/items?date=2026-11-30";
    payledger_testkit::eventually(std::time::Duration::from_secs(20), "the report lines to be projected", || async {
        let (_, items) = c.app.get_as("finance", items_path).await;
        (!items["data"].as_array().unwrap().is_empty()).then_some(())
    })
    .await;
    let (s, items) = c.call(Method::GET, "/v1/reconciliation/items", items_path, Some("finance"), None).await;
    assert!(s == 200 && !items["data"].as_array().unwrap().is_empty(), "{items}");
    let days_path = "/v1/reconciliation/days?from=2026-11-30&to=2026-11-30";
    let (s, days) = c.call(Method::GET, "/v1/reconciliation/days", days_path, Some("auditor"), None).await;
    assert!(s == 200 && !days["data"].as_array().unwrap().is_empty(), "{days}");

    // The token endpoint: a token, and a refusal in RFC 6749's shape.
    let spec = payledger_service::oauth::ClientSpec::default();
    let actor = payledger_service::admin_log::Actor::cli();
    let (role, mode) = (payledger_service::tenants::Role::Auditor, payledger_service::tenants::KeyMode::Live);
    let client =
        payledger_service::oauth::create_client(&c.app.pool, &actor, c.app.tenant_id, role, mode, &spec).await.unwrap();
    let token_url = format!("{}/v1/oauth/token", c.app.base_url);
    for (grant, want) in [("client_credentials", 200), ("password", 400)] {
        let r = c
            .app
            .http
            .post(&token_url)
            .basic_auth(&client.info.client_id, Some(&client.client_secret))
            .form(&[("grant_type", grant)])
            .send()
            .await
            .unwrap();
        let (s, body) = c.answer(Method::POST, "/v1/oauth/token", r).await;
        assert_eq!(s, want, "{body}");
    }

    projector.abort();
    let documented: BTreeSet<(String, String)> = c.spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .filter(|(m, _)| m == "GET" || m == "POST")
        .collect();
    let unvisited: Vec<_> = documented.difference(&c.visited).collect();
    assert!(unvisited.is_empty(), "routes this test does not check: {unvisited:?}");
    assert!(c.failures.is_empty(), "answers that disagree with /openapi.json:\n{}", c.failures.join("\n"));
}

/// The checker is not vacuous: against the real document, a payment answer passes, and the
/// same answer fails once the document drops fields or the answer changes a type.
#[test]
fn the_checker_finds_undeclared_missing_and_mistyped_fields() {
    let mut spec = serde_json::to_value(payledger_api::openapi::document()).unwrap();
    let payment = json!({"id": Uuid::now_v7(), "object": "payment", "order_id": Uuid::now_v7(), "status": "captured",
        "amount": 100, "currency": "USD", "capture_method": "manual", "amount_authorized": 100, "amount_captured": 100,
        "amount_refunded": 0, "amount_refund_pending": 0, "amount_disputed": 0, "amount_capturable": 0,
        "amount_refundable": 100, "provider": "stripe", "provider_reference": null, "failure_code": null,
        "failure_message": null, "refunds": [], "disputes": [], "created_at": "2024-01-01T00:00:00Z", "position": 7,
        "livemode": true});
    let payment_schema = json!({"$ref": "#/components/schemas/Payment"});
    let check = |spec: &Value, value: &Value| {
        let mut found = Vec::new();
        validate(spec, &payment_schema, value, "$", false, &mut found);
        found
    };
    assert_eq!(check(&spec, &payment), Vec::<String>::new());

    let mut mistyped = payment.clone();
    mistyped["amount"] = json!("100");
    mistyped["status"] = json!("paid");
    mistyped["refunds"] = json!([{"id": "not-a-uuid"}]);
    mistyped.as_object_mut().unwrap().remove("created_at");
    let found = check(&spec, &mistyped).join("\n");
    for expected in [
        "$.amount: \"100\" is not of type",
        "$.status: \"paid\" is not one of",
        "$.refunds[0].id: \"not-a-uuid\" is not a",
        "$.refunds[0].payment_id: required",
        "$.created_at: required but missing",
    ] {
        assert!(found.contains(expected), "{expected} in {found}");
    }

    // The document's Payment before this change lacked these; an answer carrying them fails.
    let properties = spec["components"]["schemas"]["Payment"]["properties"].as_object_mut().unwrap();
    for field in ["amount_capturable", "amount_refundable", "failure_code", "failure_message", "refunds", "disputes"] {
        properties.remove(field);
    }
    let found = check(&spec, &payment).join("\n");
    for field in ["amount_capturable", "amount_refundable", "failure_code", "failure_message", "refunds", "disputes"] {
        assert!(found.contains(&format!("$.{field}: not declared")), "{field} in {found}");
    }
}

/// The text limits a client meets are the core's (255 for references and codes, 2000 for
/// reasons and messages), answered once by the core; the API bounds only what the core does
/// not see (a key's or an endpoint's label), with the core's label limit (200).
#[tokio::test]
async fn text_fields_are_bounded_by_the_cores_limits_only() {
    let app = common::spawn_app().await;
    let payment = app.captured_payment(10_000).await;
    let refunds = format!("/v1/payments/{}/refunds", id(&payment));
    let too_long = |body: &Value, param: &str, max: usize| {
        assert_eq!(
            (&body["error"]["code"], &body["error"]["param"]),
            (&json!("field_too_long"), &json!(param)),
            "{body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&max.to_string()), "{message}");
    };
    // A refund reason: 501 (refused by the API before) up to 2000 characters are taken.
    for chars in [501, 2000] {
        let (s, refund) = app.post(&refunds, json!({"amount": 1, "reason": "r".repeat(chars)})).await;
        assert_eq!(s, 201, "{chars}: {refund}");
        assert_eq!(refund["reason"].as_str().unwrap().chars().count(), chars);
    }
    let (s, body) = app.post(&refunds, json!({"amount": 1, "reason": "r".repeat(2001)})).await;
    assert_eq!(s, 400);
    too_long(&body, "reason", 2000);
    // A provider reference: 255, not 256 (multi-byte characters count once).
    let (s, body) = app.post(&refunds, json!({"amount": 1, "provider_reference": "é".repeat(255)})).await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = app.post(&refunds, json!({"amount": 1, "provider_reference": "é".repeat(256)})).await;
    assert_eq!(s, 400);
    too_long(&body, "provider_reference", 255);
    // An order reference: 255, not 256.
    let (s, body) = app.post("/v1/orders", json!({"amount": 1, "currency": "USD", "reference": "o".repeat(255)})).await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = app.post("/v1/orders", json!({"amount": 1, "currency": "USD", "reference": "o".repeat(256)})).await;
    assert_eq!(s, 400);
    too_long(&body, "reference", 255);
    // A failure code: 255, not 256; its message: 2000, not 2001.
    let fail = |p: &Value| format!("/v1/payments/{}/fail", id(p));
    let refused = app.create_payment(100).await;
    for (code, message, param, max) in [(256, 1, "code", 255), (1, 2001, "message", 2000)] {
        let (s, body) =
            app.post(&fail(&refused), json!({"code": "c".repeat(code), "message": "m".repeat(message)})).await;
        assert_eq!(s, 400, "{body}");
        too_long(&body, param, max);
    }
    let (s, body) = app.post(&fail(&refused), json!({"code": "c".repeat(255), "message": "m".repeat(2000)})).await;
    assert_eq!((s, body["failure_message"].as_str().map(str::len)), (200, Some(2000)), "{body}");
    // A key's label reaches no core check: the API bounds it with the core's label limit.
    let admin = |label: String| {
        let app = &app;
        async move {
            let r = app
                .request(
                    Method::POST,
                    "/v1/admin/keys",
                    Some(app.key("admin")),
                    Some(&json!({"role": "auditor", "label": label})),
                    None,
                )
                .await;
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(admin("é".repeat(200)).await.0, 201);
    for label in ["l".repeat(201), " ".to_string()] {
        let (s, body) = admin(label).await;
        assert_eq!(s, 400);
        assert_eq!((&body["error"]["code"], &body["error"]["param"]), (&json!("label_invalid"), &json!("label")));
        assert!(body["error"]["message"].as_str().unwrap().contains("200"), "{body}");
    }
}
