use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::NoTls;

use crate::error::StoreError;

/// Connection pool limits. Every wait is bounded.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: usize,
    pub wait_timeout_ms: u64,
    pub statement_timeout_ms: u64,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_connections: 32, wait_timeout_ms: 5_000, statement_timeout_ms: 30_000 }
    }
}

/// A connection pool on `database_url`.
pub fn connect_pool(database_url: &str, options: &PoolOptions) -> Result<Pool, StoreError> {
    let mut config: tokio_postgres::Config = database_url.parse()?;
    config.options(format!("-c statement_timeout={}", options.statement_timeout_ms));
    config.application_name("payledger");
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(options.max_connections)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(Duration::from_millis(options.wait_timeout_ms)),
            create: Some(Duration::from_millis(options.wait_timeout_ms)),
            recycle: Some(Duration::from_millis(options.wait_timeout_ms)),
        })
        .build()
        .map_err(|e| StoreError::Config(format!("cannot build the connection pool: {e}")))
}
