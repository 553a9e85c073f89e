//! The real server in this process: HTTP on 127.0.0.1:0, the projector and the webhook
//! processor, against the benchmark's database, with a tenant, a writer key and a generic
//! webhook endpoint.

use std::time::Duration;

use payledger_api::{ApiConfig, AppState};
use payledger_gateways::Provider;
use payledger_service::admin_log::Actor;
use payledger_service::runtime::{Ledger, LedgerConfig, Running};
use payledger_service::tenants as keys;
use payledger_service::tenants::{KeyMode, Role};
use payledger_service::webhooks::endpoints::create_endpoint;
use payledger_store::PoolOptions;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::error::BenchError;

/// How long the projector may take to finish its batch when stopped.
const PROJECTOR_STOP_TIMEOUT_MS: u64 = 30_000;
/// How long the HTTP server may take to finish in-flight requests when stopped.
const SERVER_STOP_TIMEOUT_MS: u64 = 30_000;

/// A running server and what a client needs to call it.
pub(crate) struct Server {
    pub base_url: String,
    pub tenant_id: Uuid,
    pub writer_key: String,
    pub endpoint_id: Uuid,
    pub webhook_secret: String,
    /// Further generic endpoints of the tenant, `(endpoint_id, secret)`, for the fixed-rate
    /// phase's deliveries not sent to the one above.
    pub other_endpoints: Vec<(Uuid, String)>,
    stop_server: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    ledger: Option<Running>,
}

impl Server {
    pub async fn start(
        database_url: &str,
        db_max_connections: usize,
        other_endpoints: usize,
    ) -> Result<Server, BenchError> {
        let ledger = Ledger::start(LedgerConfig {
            pool: PoolOptions { max_connections: db_max_connections, ..PoolOptions::default() },
            projector_stop_timeout: Duration::from_millis(PROJECTOR_STOP_TIMEOUT_MS),
            // A fresh database each run: a fresh key seals its endpoint's secret.
            master_key: Some(payledger_service::secrets::MasterKey::generate()),
            ..LedgerConfig::new(database_url)
        })
        .await
        .map_err(|e| BenchError::Setup(format!("{e:?}")))?;
        let pool = ledger.pool.clone();
        let setup = |e: payledger_service::ServiceError| BenchError::Setup(format!("{e:?}"));
        let (tenant_id, writer_key) = {
            let actor = Actor::system("bench");
            let tenant = keys::create_tenant(&pool, &actor, "bench").await.map_err(setup)?;
            let key = keys::create_key(&pool, &actor, tenant.id, Role::Writer, KeyMode::Live, Some("bench writer"))
                .await
                .map_err(setup)?;
            (tenant.id, key.key)
        };
        let (endpoint_id, webhook_secret) = generic_endpoint(&ledger, tenant_id, "bench").await?;
        let mut others = Vec::with_capacity(other_endpoints);
        for n in 0..other_endpoints {
            others.push(generic_endpoint(&ledger, tenant_id, &format!("bench other {n}")).await?);
        }

        // The limiter runs but never refuses: the benchmark measures the ledger's ceiling.
        let unlimited = payledger_api::rate_limit::RATE_LIMIT_MAX;
        let config = ApiConfig {
            rate_limit_per_s: unlimited,
            rate_limit_burst: unlimited,
            webhook_rate_limit_per_s: unlimited,
            webhook_rate_limit_burst: unlimited,
            ..ApiConfig::default()
        };
        let state = AppState::of(&ledger, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (stop_server, server_stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(payledger_api::serve(listener, state, async {
            let _ = server_stopped.await;
        }));
        tracing::info!(%base_url, "payledger server started for the benchmark");
        Ok(Server {
            base_url,
            tenant_id,
            writer_key,
            endpoint_id,
            webhook_secret,
            other_endpoints: others,
            stop_server: Some(stop_server),
            server: Some(server),
            ledger: Some(ledger),
        })
    }

    /// Stops the HTTP server; the webhook processor and the projector keep running.
    pub async fn stop_listening(&mut self) -> Result<(), BenchError> {
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            match tokio::time::timeout(Duration::from_millis(SERVER_STOP_TIMEOUT_MS), server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => return Err(BenchError::Io(e)),
                Ok(Err(e)) => return Err(BenchError::Task(format!("the server task: {e}"))),
                Err(_) => return Err(BenchError::Task("the server did not stop within 30 s".into())),
            }
        }
        Ok(())
    }

    /// Stops everything (the projector finishes its batch) and closes the pool.
    pub async fn stop(mut self) -> Result<(), BenchError> {
        let http = self.stop_listening().await;
        if let Some(ledger) = self.ledger.take() {
            ledger.stop().await;
        }
        http
    }
}

/// A generic endpoint of the tenant and its secret.
async fn generic_endpoint(ledger: &Running, tenant_id: Uuid, label: &str) -> Result<(Uuid, String), BenchError> {
    let endpoint = create_endpoint(
        &ledger.pool,
        ledger.master_key.as_deref(),
        &Actor::system("bench"),
        tenant_id,
        Provider::Generic,
        None,
        Some(label),
    )
    .await
    .map_err(|e| BenchError::Setup(format!("webhook endpoint: {e}")))?;
    let secret =
        endpoint.secret.ok_or_else(|| BenchError::Setup("the generic endpoint's secret was not shown".into()))?;
    Ok((endpoint.endpoint.id, secret))
}

impl Drop for Server {
    fn drop(&mut self) {
        // Dropping the ledger aborts its workers.
        self.ledger.take();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
