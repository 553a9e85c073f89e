//! A database of the benchmark's own: created on the measured server, migrated, dropped.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use crate::environment::Environment;
use crate::error::BenchError;

/// When a run started, for its report.
pub(crate) struct RunClock {
    started: Instant,
    pub started_at_unix_s: u64,
}

impl RunClock {
    pub fn start() -> RunClock {
        let started_at_unix_s = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        RunClock { started: Instant::now(), started_at_unix_s }
    }

    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// `payledger_bench_<12 hex>` on the server of an admin URL.
pub(crate) struct BenchDatabase {
    pub name: String,
    pub url: String,
    admin: tokio_postgres::Client,
}

impl BenchDatabase {
    /// Connects to the measured server, describes it, and creates the run's database there.
    pub async fn open(admin_url: &str) -> Result<(BenchDatabase, Environment), BenchError> {
        let admin = crate::store::connect(admin_url).await?;
        let environment = crate::environment::collect(&admin).await?;
        Ok((BenchDatabase::create(admin_url, admin).await?, environment))
    }

    /// Creates and migrates a fresh database; `admin` stays connected to drop it later.
    pub async fn create(admin_url: &str, admin: tokio_postgres::Client) -> Result<BenchDatabase, BenchError> {
        let suffix = Uuid::new_v4().simple().to_string();
        let name = format!("payledger_bench_{}", &suffix[..12]);
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await?;
        tracing::info!(database = %name, "benchmark database created");
        let url = crate::dburl::with_dbname(admin_url, &name);
        let db = BenchDatabase { name, url, admin };
        if let Err(e) = payledger_store::migrate(&db.url).await {
            db.drop_or_warn(false).await;
            return Err(e.into());
        }
        Ok(db)
    }

    /// Drops the database (unless `keep`), terminating its remaining connections.
    pub async fn drop(&self, keep: bool) -> Result<(), BenchError> {
        if keep {
            return Ok(());
        }
        self.admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .await
            .map_err(|e| BenchError::Cleanup { database: self.name.clone(), reason: BenchError::Db(e).to_string() })
    }

    pub async fn drop_or_warn(&self, keep: bool) {
        if let Err(e) = self.drop(keep).await {
            tracing::warn!(database = %self.name, error = %e, "the benchmark database was not dropped");
        }
    }

    /// The result of a run, with the database dropped whatever happened: the run's error
    /// first, then a failure to drop.
    pub async fn finish<T>(&self, keep: bool, result: Result<T, BenchError>) -> Result<T, BenchError> {
        match result {
            Ok(value) => self.drop(keep).await.map(|()| value),
            Err(e) => {
                self.drop_or_warn(keep).await;
                Err(e)
            }
        }
    }
}
