//! `spawn_app()`: the real server on a random port, with its own database, a tenant and one
//! key per role.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use payledger_api::{ApiConfig, AppState};
use payledger_service::runtime::{Ledger, LedgerConfig, ProjectorTask, Running};
use payledger_service::tenants as keys;
use payledger_service::tenants::{KeyMode, Role};
use payledger_store::{has_events_after, read_all, Checkpoint, READ_MAX_BATCH};
use payledger_testkit::{eventually, TestDb};
use reqwest::{Method, Response};
use serde_json::Value;
use uuid::Uuid;

pub struct TestApp {
    pub base_url: String,
    pub db: TestDb,
    pub pool: deadpool_postgres::Pool,
    pub http: reqwest::Client,
    pub tenant_id: Uuid,
    pub keys: HashMap<&'static str, String>,
    server: tokio::task::JoinHandle<()>,
    /// The runtime, without its workers: tests start the projector and drive the sweep by hand.
    _ledger: Running,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn test_master_key() -> payledger_service::secrets::MasterKey {
    payledger_service::secrets::MasterKey::parse_hex(payledger_testkit::TEST_MASTER_KEY_HEX).unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ApiConfig::default()).await
}

pub async fn spawn_app_with(config: ApiConfig) -> TestApp {
    // Server logs go to the test's captured output: shown only when a test fails.
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn,payledger=info").try_init();
    let db = TestDb::new().await;
    let pool = db.pool(32);
    let ledger_config =
        LedgerConfig { master_key: Some(test_master_key()), ..LedgerConfig::new(db.url()).without_workers() };
    let ledger = Ledger::start_with_pool(pool.clone(), ledger_config);
    let state = AppState::of(&ledger, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        payledger_api::serve(listener, state, std::future::pending()).await.unwrap();
    });
    let (tenant_id, made) = bare_tenant_with_keys(
        &pool,
        "acme",
        &[("writer", Role::Writer), ("finance", Role::Finance), ("auditor", Role::Auditor), ("admin", Role::Admin)],
    )
    .await;
    TestApp { base_url, db, pool, http: reqwest::Client::new(), tenant_id, keys: made, server, _ledger: ledger }
}

/// A tenant and keys as rows alone, without the admin events `tenants create` and `keys
/// create` append (`keys.rs` tests those): the tests count the events they cause themselves.
pub async fn bare_tenant_with_keys(
    pool: &deadpool_postgres::Pool,
    name: &str,
    roles: &[(&'static str, Role)],
) -> (Uuid, HashMap<&'static str, String>) {
    let client = pool.get().await.unwrap();
    let tenant_id = Uuid::now_v7();
    client.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, $2)", &[&tenant_id, &name]).await.unwrap();
    let mut made = HashMap::new();
    for (label, role) in roles {
        // Live keys: their data is the tenant's own row (a test key's is its test scope).
        let key = keys::generate_key(KeyMode::Live);
        let prefix: String = key.chars().take(12).collect();
        client
            .execute(
                "INSERT INTO api_keys (key_id, tenant_id, role, mode, key_prefix, key_hash) VALUES ($1, $2, $3, 'live', $4, $5)",
                &[&Uuid::now_v7(), &tenant_id, &role.as_str(), &prefix, &keys::hash_key(&key).to_vec()],
            )
            .await
            .unwrap();
        made.insert(*label, key);
    }
    (tenant_id, made)
}

impl TestApp {
    pub fn key(&self, role: &str) -> &str {
        &self.keys[role]
    }

    /// Another tenant on the same server, with a writer and an auditor key.
    pub async fn other_tenant(&self, name: &str) -> HashMap<&'static str, String> {
        bare_tenant_with_keys(&self.pool, name, &[("writer", Role::Writer), ("auditor", Role::Auditor)]).await.1
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        idem: Option<&str>,
    ) -> Response {
        let mut req = self.http.request(method, format!("{}{}", self.base_url, path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(idem) = idem {
            req = req.header("Idempotency-Key", idem);
        }
        req.send().await.unwrap()
    }

    /// POST as the writer; returns status and JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.request(Method::POST, path, Some(self.key("writer")), Some(&body), None).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_as(&self, role: &str, path: &str) -> (u16, Value) {
        let r = self.request(Method::GET, path, Some(self.key(role)), None, None).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn create_order(&self, amount: i64, currency: &str) -> Value {
        let (status, order) = self
            .post("/v1/orders", serde_json::json!({"amount": amount, "currency": currency, "reference": "ORD-1"}))
            .await;
        assert_eq!(status, 201, "{order}");
        order
    }

    /// An order and a manual-capture payment of `amount` USD on it.
    pub async fn create_payment(&self, amount: i64) -> Value {
        let order = self.create_order(amount, "USD").await;
        let (status, payment) = self
            .post(
                "/v1/payments",
                serde_json::json!({"order_id": order["id"], "amount": amount, "currency": "USD",
                    "capture_method": "manual", "provider": "stripe", "provider_reference": format!("pi_{}", Uuid::now_v7().simple())}),
            )
            .await;
        assert_eq!(status, 201, "{payment}");
        payment
    }

    /// A payment with `amount` authorized and captured.
    pub async fn captured_payment(&self, amount: i64) -> Value {
        let payment = self.create_payment(amount).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        let (s, _) = self.post(&format!("/v1/payments/{id}/authorize"), serde_json::json!({})).await;
        assert_eq!(s, 200);
        let (s, p) = self.post(&format!("/v1/payments/{id}/capture"), serde_json::json!({})).await;
        assert_eq!(s, 200, "{p}");
        p
    }

    /// Waits until every committed event is visible to the gap-free reader: the snapshot
    /// xmin is cluster-wide, so another test's open transaction can briefly hold events back.
    pub async fn settle(&self) {
        eventually(Duration::from_secs(10), "every committed event to be visible to the reader", || async {
            let client = self.pool.get().await.unwrap();
            let pending = has_events_after(&**client, Checkpoint::START).await.unwrap();
            let visible =
                read_all(&**client, Checkpoint::START, &Default::default(), READ_MAX_BATCH).await.unwrap().len() as i64;
            (!pending || visible == self.count_events().await).then_some(())
        })
        .await
    }

    pub async fn count_events(&self) -> i64 {
        let client = self.pool.get().await.unwrap();
        client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0)
    }
}

/// The projector, polling often, against the app's database (the tests start it themselves).
pub fn start_projector(app: &TestApp) -> ProjectorTask {
    let config = payledger_projector::ProjectorConfig {
        poll_interval: std::time::Duration::from_millis(50),
        standby_retry: std::time::Duration::from_millis(50),
        error_backoff_max: std::time::Duration::from_millis(200),
        ..payledger_projector::ProjectorConfig::default()
    };
    ProjectorTask::spawn(app.db.url(), config)
}

/// The job runner's settings in tests: short leases and polls.
pub fn test_job_config() -> payledger_service::jobs::JobRunnerConfig {
    payledger_service::jobs::JobRunnerConfig {
        lease_ms: 2_000,
        heartbeat_ms: 50,
        poll_interval_ms: 50,
        busy_retry_ms: 100,
        ..payledger_service::jobs::JobRunnerConfig::default()
    }
}

/// A job runner against the app's database (the tests start it themselves).
pub fn start_job_runner(app: &TestApp) -> payledger_service::jobs::JobRunner {
    payledger_service::jobs::spawn_job_runner(app.pool.clone(), app.db.url().into(), test_job_config())
}

impl TestApp {
    /// POSTs a request that queues a job (202 with `Location`), and waits for the job's end.
    pub async fn run_job(&self, role: &str, path: &str, body: Value) -> Value {
        let r = self.request(Method::POST, path, Some(self.key(role)), Some(&body), None).await;
        assert_eq!(r.status(), 202, "{path}");
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let job: Value = r.json().await.unwrap();
        assert_eq!(location, format!("/v1/jobs/{}", job["id"].as_str().unwrap()));
        self.wait_job(role, job["id"].as_str().unwrap()).await
    }

    /// Polls `GET /v1/jobs/{id}` until the job has finished.
    pub async fn wait_job(&self, role: &str, id: &str) -> Value {
        eventually(Duration::from_secs(60), "the job to finish", || async {
            let (status, job) = self.get_as(role, &format!("/v1/jobs/{id}")).await;
            assert_eq!(status, 200, "{job}");
            matches!(job["status"].as_str(), Some("succeeded" | "failed" | "cancelled")).then_some(job)
        })
        .await
    }
}
