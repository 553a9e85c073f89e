//! OAuth2 client credentials (RFC 6749 §4.4): tokens issued for a client's id and secret
//! work wherever an API key works, for that tenant and role only; every refusal is the
//! RFC's error.

use payledger_service::admin_log::Actor;
use payledger_service::oauth::{create_client, revoke_client, ClientSpec, CreatedClient};
use payledger_service::tenants::{KeyMode, Role};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp};

async fn client_of(app: &TestApp, role: Role, allowed_ips: Option<&[&str]>) -> CreatedClient {
    let allowed_ips = allowed_ips.map(|nets| nets.iter().map(|n| n.parse().unwrap()).collect());
    let spec = ClientSpec { label: Some("svc".into()), allowed_ips };
    create_client(&app.pool, &Actor::cli(), app.tenant_id, role, KeyMode::Live, &spec).await.unwrap()
}

/// POST /v1/oauth/token with the form `fields`, by HTTP Basic when `basic` is given.
async fn token_request(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    fields: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = app.http.post(format!("{}/v1/oauth/token", app.base_url)).form(fields);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

async fn token_for(app: &TestApp, client: &CreatedClient) -> String {
    let (status, headers, body) = token_request(
        app,
        Some((&client.info.client_id, &client.client_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    body["access_token"].as_str().unwrap().to_owned()
}

fn assert_rfc_error(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value, code: &str, want: u16) {
    assert_eq!((status.as_u16(), body["error"].as_str()), (want, Some(code)), "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    if code == "invalid_client" {
        assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic "), "{headers:?}");
    }
}

#[tokio::test]
async fn a_token_is_issued_by_basic_or_by_the_form_and_works_like_a_key() {
    let app = spawn_app().await;
    let writer = client_of(&app, Role::Writer, None).await;
    let (status, headers, body) = token_request(
        &app,
        Some((&writer.info.client_id, &writer.client_secret)),
        &[("grant_type", "client_credentials"), ("scope", "writer"), ("unknown_param", "ignored")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (headers["cache-control"].to_str().unwrap(), headers["pragma"].to_str().unwrap()),
        ("no-store", "no-cache")
    );
    assert_eq!(
        (body["token_type"].clone(), body["expires_in"].clone(), body["scope"].clone()),
        (json!("Bearer"), json!(3600), json!("writer"))
    );
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with("pl_at_"), "{token}");

    // The token commands, and the event says who did it.
    let order = json!({"amount": 500, "currency": "USD", "reference": "ORD-oauth"});
    let r = app.request(Method::POST, "/v1/orders", Some(token), Some(&order), Some("oauth-1")).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let client = app.pool.get().await.unwrap();
    let actor: String = client
        .query_one("SELECT metadata->>'actor' FROM events WHERE event_type = 'OrderCreated'", &[])
        .await
        .unwrap()
        .get(0);
    let client_uuid = payledger_service::oauth::parse_client_id(&writer.info.client_id).unwrap();
    assert_eq!(actor, format!("oauth_client:{client_uuid}"));

    // By the form fields instead, a finance client: reads, cannot command.
    let finance = client_of(&app, Role::Finance, None).await;
    let (status, _, body) = token_request(
        &app,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &finance.info.client_id),
            ("client_secret", &finance.client_secret),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let finance_token = body["access_token"].as_str().unwrap();
    let _projector = crate::support::start_projector(&app);
    let r = app
        .request(
            Method::GET,
            &format!("/v1/orders/{}?min_position={}", created["id"].as_str().unwrap(), created["position"]),
            Some(finance_token),
            None,
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app.request(Method::POST, "/v1/orders", Some(finance_token), Some(&order), Some("oauth-2")).await;
    assert_eq!(r.status(), 403, "the token carries the client's role only");
}

#[tokio::test]
async fn each_refusal_is_its_rfc_6749_error() {
    let app = spawn_app().await;
    let writer = client_of(&app, Role::Writer, None).await;
    let id = writer.info.client_id.as_str();
    let grant = [("grant_type", "client_credentials")];

    let (s, h, b) = token_request(&app, Some((id, "plcs_wrong")), &grant).await;
    assert_rfc_error(s, &h, &b, "invalid_client", 401);
    let unknown = payledger_service::oauth::show_client_id(uuid::Uuid::now_v7());
    let (s, h, b) = token_request(&app, Some((&unknown, &writer.client_secret)), &grant).await;
    assert_rfc_error(s, &h, &b, "invalid_client", 401);
    let (s, h, b) = token_request(&app, Some(("not-a-client", "x")), &grant).await;
    assert_rfc_error(s, &h, &b, "invalid_client", 401);
    let (s, h, b) = token_request(&app, None, &grant).await;
    assert_rfc_error(s, &h, &b, "invalid_client", 401);

    let secret = writer.client_secret.as_str();
    let (s, h, b) =
        token_request(&app, Some((id, secret)), &[("grant_type", "client_credentials"), ("scope", "admin")]).await;
    assert_rfc_error(s, &h, &b, "invalid_scope", 400);
    let (s, h, b) = token_request(&app, Some((id, secret)), &[("grant_type", "password")]).await;
    assert_rfc_error(s, &h, &b, "unsupported_grant_type", 400);
    let (s, h, b) = token_request(&app, Some((id, secret)), &[("scope", "writer")]).await;
    assert_rfc_error(s, &h, &b, "invalid_request", 400);
    let twice = [("grant_type", "client_credentials"), ("grant_type", "client_credentials")];
    let (s, h, b) = token_request(&app, Some((id, secret)), &twice).await;
    assert_rfc_error(s, &h, &b, "invalid_request", 400);
    let both = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
    let (s, h, b) = token_request(&app, Some((id, secret)), &both).await;
    assert_rfc_error(s, &h, &b, "invalid_request", 400);
    // JSON is not the grant's format.
    let r = app
        .http
        .post(format!("{}/v1/oauth/token", app.base_url))
        .basic_auth(id, Some(secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    let (s, h) = (r.status(), r.headers().clone());
    assert_rfc_error(s, &h, &r.json().await.unwrap(), "invalid_request", 400);

    // An allow-list that excludes 127.0.0.1: no token for this client from here.
    let fenced = client_of(&app, Role::Writer, Some(&["203.0.113.0/24"])).await;
    let (s, h, b) = token_request(&app, Some((&fenced.info.client_id, &fenced.client_secret)), &grant).await;
    assert_rfc_error(s, &h, &b, "unauthorized_client", 400);
    let none_issued: i64 =
        app.pool.get().await.unwrap().query_one("SELECT count(*) FROM oauth_tokens", &[]).await.unwrap().get(0);
    assert_eq!(none_issued, 0, "no refused request issued a token");
}

#[tokio::test]
async fn an_expired_token_and_a_revoked_clients_token_are_refused_with_their_codes() {
    let app = spawn_app().await;
    let writer = client_of(&app, Role::Writer, None).await;
    let token = token_for(&app, &writer).await;
    assert_eq!(app.request(Method::GET, "/v1/orders", Some(&token), None, None).await.status(), 200);

    let expired_client = client_of(&app, Role::Writer, None).await;
    let expired = token_for(&app, &expired_client).await;
    let hash = payledger_service::tenants::hash_key(&expired).to_vec();
    app.pool.get().await.unwrap()
        .execute("UPDATE oauth_tokens SET issued_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE token_hash = $1", &[&hash])
        .await.unwrap();
    let r = app.request(Method::GET, "/v1/orders", Some(&expired), None, None).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "access_token_expired", "{body}");

    let uuid = payledger_service::oauth::parse_client_id(&writer.info.client_id).unwrap();
    revoke_client(&app.pool, &Actor::cli(), uuid, None).await.unwrap().unwrap();
    let r = app.request(Method::GET, "/v1/orders", Some(&token), None, None).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "access_token_revoked", "{body}");
    let (s, h, b) = token_request(
        &app,
        Some((&writer.info.client_id, &writer.client_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_rfc_error(s, &h, &b, "invalid_client", 401);

    let r = app.request(Method::GET, "/v1/orders", Some("pl_at_madeup"), None, None).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_access_token", "{body}");

    let events: Vec<String> = app
        .pool
        .get()
        .await
        .unwrap()
        .query(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY global_position",
            &[&format!("oauth-client-{uuid}")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events, ["OAuthClientCreated", "OAuthClientRevoked"]);
}

#[tokio::test]
async fn a_tenants_token_never_sees_another_tenants_data() {
    let app = spawn_app().await;
    let other = app.other_tenant("other").await;
    let order = json!({"amount": 700, "currency": "USD", "reference": "ORD-other"});
    let r = app.request(Method::POST, "/v1/orders", Some(&other["writer"]), Some(&order), Some("other-1")).await;
    assert_eq!(r.status(), 201);
    let theirs: Value = r.json().await.unwrap();
    let ours = app.create_order(300, "USD").await;
    let _projector = crate::support::start_projector(&app);
    let auditor = client_of(&app, Role::Auditor, None).await;
    let token = token_for(&app, &auditor).await;
    // Positions count per tenant: each reads after its own order.
    let path = |order: &Value, after: &Value| {
        format!("/v1/orders/{}?min_position={}", order["id"].as_str().unwrap(), after["position"])
    };
    assert_eq!(app.request(Method::GET, &path(&ours, &ours), Some(&token), None, None).await.status(), 200);
    let r = app.request(Method::GET, &path(&theirs, &ours), Some(&token), None, None).await;
    assert_eq!(r.status(), 404);
    let r = app.request(Method::GET, &path(&theirs, &theirs), Some(&other["auditor"]), None, None).await;
    assert_eq!(r.status(), 200, "the order is there, for its own tenant");
    let r = app.request(Method::GET, "/v1/events", Some(&token), None, None).await;
    assert_eq!(r.status(), 200);
    let feed: Value = r.json().await.unwrap();
    assert!(feed.to_string().contains(ours["id"].as_str().unwrap()), "its own events: {feed}");
    assert!(!feed.to_string().contains(theirs["id"].as_str().unwrap()), "another tenant's event: {feed}");
}

/// A token used from outside its client's allow-list is 403 `ip_not_allowed`, like a key.
#[tokio::test]
async fn a_token_is_refused_outside_its_clients_allow_list() {
    let app = spawn_app().await;
    let writer = client_of(&app, Role::Writer, Some(&["127.0.0.1/32"])).await;
    let token = token_for(&app, &writer).await;
    assert_eq!(app.request(Method::GET, "/v1/orders", Some(&token), None, None).await.status(), 200);
    let uuid = payledger_service::oauth::parse_client_id(&writer.info.client_id).unwrap();
    app.pool
        .get()
        .await
        .unwrap()
        .execute("UPDATE oauth_clients SET allowed_ips = ARRAY['198.51.100.0/24'] WHERE client_id = $1", &[&uuid])
        .await
        .unwrap();
    let r = app.request(Method::GET, "/v1/orders", Some(&token), None, None).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ip_not_allowed", "{body}");
}
