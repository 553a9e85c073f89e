//! Secret rotation: during the overlap both secrets verify; a retired secret fails at once.

use payledger_gateways::signing::stripe_v1_signature;
use payledger_service::tenants as keys;
use payledger_service::tenants::{KeyMode, Role};
use reqwest::Method;
use serde_json::{json, Value};

use super::support::*;
use crate::support::spawn_app;

const NEW_SECRET: &str = "whsec_rotated_9d8c7b6a5f4e3d2c1b0a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_secrets_verify_during_the_overlap_and_a_retired_one_fails() {
    let app = spawn_app().await;
    let endpoint = create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await;
    let endpoint_id = id_of(&endpoint);
    let old_secret_id = id_of(&endpoint["secrets"][0]);
    let admin = Some(app.key("admin"));
    let event = |n: u32| {
        serde_json::to_vec(&json!({"id": format!("evt_rot_{n}"), "type": "customer.created",
        "data": {"object": {"id": "cus_1"}}}))
        .unwrap()
    };

    let response = app
        .request(
            Method::POST,
            &format!("/v1/admin/webhook-endpoints/{endpoint_id}/secrets"),
            admin,
            Some(&json!({"secret": NEW_SECRET})),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let new_secret: Value = response.json().await.unwrap();
    assert_eq!(new_secret["status"], "active");
    assert!(new_secret.get("secret").is_none(), "a given secret is not echoed");

    // Overlap: either secret verifies, and so does a header carrying both signatures.
    for (n, secret) in [(1, STRIPE_SECRET), (2, NEW_SECRET)] {
        let body = event(n);
        let (status, answer) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(secret, &body), &body).await;
        assert_eq!(status, 200, "secret {n}: {answer}");
    }
    let body = event(0);
    let t = now_s();
    let both = format!(
        "t={t},v1={},v1={}",
        stripe_v1_signature("whsec_unrelated", t, &body),
        stripe_v1_signature(NEW_SECRET, t, &body)
    );
    let (status, answer) = deliver(&app, "stripe", &endpoint_id, &[("Stripe-Signature", both)], &body).await;
    assert_eq!(status, 200, "{answer}");

    let retire = format!("/v1/admin/webhook-endpoints/{endpoint_id}/secrets/{old_secret_id}/retire");
    let response = app.request(Method::POST, &retire, admin, None, None).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "retired");

    let body = event(3);
    let (status, answer) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!((status, error_code(&answer).as_str()), (401, "signature_mismatch"), "the old secret fails");
    let (status, _) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(NEW_SECRET, &body), &body).await;
    assert_eq!(status, 200, "the new one still verifies");
    assert_eq!(count_events_of_type(&app, "WebhookReceived").await, 4);

    // The last active secret cannot be retired: the endpoint would stop accepting anything.
    let new_id = id_of(&new_secret);
    let response = app
        .request(
            Method::POST,
            &format!("/v1/admin/webhook-endpoints/{endpoint_id}/secrets/{new_id}/retire"),
            admin,
            None,
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "last_active_secret");

    let (status, list) = app.get_as("admin", "/v1/admin/webhook-endpoints").await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> =
        list["data"][0]["secrets"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["retired", "active"]);
    assert!(!list.to_string().contains(NEW_SECRET) && !list.to_string().contains(STRIPE_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_admin_only_and_tenant_scoped() {
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let (status, _) = app.get_as("writer", "/v1/admin/webhook-endpoints").await;
    assert_eq!(status, 403);
    let other_admin = {
        let tenant = keys::create_tenant(&app.pool, &payledger_service::admin_log::Actor::system("test"), "globex")
            .await
            .unwrap();
        keys::create_key(
            &app.pool,
            &payledger_service::admin_log::Actor::system("test"),
            tenant.id,
            Role::Admin,
            KeyMode::Live,
            None,
        )
        .await
        .unwrap()
        .key
    };
    let response = app
        .request(
            Method::POST,
            &format!("/v1/admin/webhook-endpoints/{endpoint_id}/secrets"),
            Some(&other_admin),
            Some(&json!({})),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 404, "another tenant's endpoint does not exist for it");
    let response = app.request(Method::GET, "/v1/admin/webhook-endpoints", Some(&other_admin), None, None).await;
    assert_eq!(response.json::<Value>().await.unwrap()["data"], json!([]));
    for (body, code) in [
        (json!({"provider": "stripe"}), "secret_required"),
        (json!({"provider": "adyen", "secret": "not-hex"}), "secret_invalid"),
        (json!({"provider": "paypal", "secret": "x"}), "provider_invalid"),
        (json!({"provider": "stripe", "secret": "x", "colour": "red"}), "unknown_field"),
    ] {
        let response =
            app.request(Method::POST, "/v1/admin/webhook-endpoints", Some(app.key("admin")), Some(&body), None).await;
        assert_eq!(response.status().as_u16(), 400, "{body}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], code, "{body}");
    }
}
