//! Test support: every test gets its own PostgreSQL database.
//!
//! The first test of a run creates a template database and migrates it (under an advisory
//! lock, so concurrent test binaries agree); each test then clones it with
//! `CREATE DATABASE .. TEMPLATE`, which is fast, and drops its clone when done.
//! The server is the one named by `DATABASE_URL` (`make test` starts a throwaway one).
//!
//! Beside it, what every crate's tests share: [`eventually`] (the one bounded wait), the
//! generated histories of [`workload`] and the core-only folds of [`oracle`].
// Only tests run this crate's code, and a failed setup is a failed test: it may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod eventually;
pub mod oracle;
pub mod sse;
pub mod workload;

pub use eventually::eventually;

/// The master key (PAYLEDGER_MASTER_KEY) of every test server and CLI run; tests of the key
/// itself make their own.
pub const TEST_MASTER_KEY_HEX: &str = "74657374206d6173746572206b6579206f66207061796c656467657220746573";

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use tokio_postgres::NoTls;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// A database of its own for one test, dropped when this value is dropped.
pub struct TestDb {
    url: String,
    name: String,
    admin_url: String,
}

impl TestDb {
    /// Creates a fresh, migrated database. Panics (this is test code) when the server is unreachable.
    pub async fn new() -> TestDb {
        let admin_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            panic!("DATABASE_URL is not set: run the tests with `make test`, which starts a PostgreSQL")
        });
        let template = ensure_template(&admin_url).await;
        let name = format!("pl_test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&admin_url).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
        TestDb { url: with_dbname(&admin_url, &name), name, admin_url }
    }

    /// The connection URL of this test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of the server's maintenance database (for tests that need a superuser view).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// A connection pool on this test's database.
    pub fn pool(&self, max_size: usize) -> deadpool_postgres::Pool {
        let config: tokio_postgres::Config = self.url.parse().unwrap_or_else(|e| panic!("bad url: {e}"));
        let manager = deadpool_postgres::Manager::new(config, NoTls);
        deadpool_postgres::Pool::builder(manager).max_size(max_size).build().unwrap_or_else(|e| panic!("pool: {e}"))
    }

    /// One plain connection on this test's database.
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs outside async; use a private runtime on its own thread.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&admin_url, NoTls).await.ok()?;
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}

/// Replaces the database name of a `postgres://` URL.
pub fn with_dbname(url: &str, dbname: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{dbname}?{q}"),
        None => format!("{base}/{dbname}"),
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e} (is PostgreSQL running? use `make test`)"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The template's name depends on the migrations' content, so a changed migration gets a new template.
fn template_name() -> String {
    let mut hasher = DefaultHasher::new();
    for migration in embedded::migrations::runner().get_migrations() {
        migration.name().hash(&mut hasher);
        migration.version().hash(&mut hasher);
        migration.sql().hash(&mut hasher);
    }
    format!("pl_template_{:016x}", hasher.finish())
}

async fn ensure_template(admin_url: &str) -> String {
    let name = template_name();
    let admin = connect(admin_url).await;
    // Serialise template creation across test threads and binaries.
    admin.execute("SELECT pg_advisory_lock(727274)", &[]).await.unwrap_or_else(|e| panic!("advisory lock: {e}"));
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate", &[&name])
        .await
        .unwrap_or_else(|e| panic!("query pg_database: {e}"))
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        // CREATE DATABASE refuses to run in a multi-statement batch: one statement each.
        for sql in [format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"), format!("CREATE DATABASE {building}")] {
            admin.batch_execute(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        }
        {
            let mut client = connect(&with_dbname(admin_url, &building)).await;
            embedded::migrations::runner()
                .run_async(&mut client)
                .await
                .unwrap_or_else(|e| panic!("migrate template: {e}"));
        }
        // The migration connection closes asynchronously; retry the rename until it has gone.
        let rename = format!("ALTER DATABASE {building} RENAME TO {name}");
        let mut attempts_left = 50;
        while let Err(e) = admin.batch_execute(&rename).await {
            attempts_left -= 1;
            assert!(attempts_left > 0, "{rename}: {e:?}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let mark = format!("ALTER DATABASE {name} IS_TEMPLATE true");
        admin.batch_execute(&mark).await.unwrap_or_else(|e| panic!("{mark}: {e:?}"));
    }
    admin.execute("SELECT pg_advisory_unlock(727274)", &[]).await.unwrap_or_else(|e| panic!("advisory unlock: {e}"));
    name
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(with_dbname("postgres://u@h:1/postgres", "x"), "postgres://u@h:1/x");
        assert_eq!(with_dbname("postgres://u@h:1/db?sslmode=disable", "x"), "postgres://u@h:1/x?sslmode=disable");
        assert_eq!(with_dbname("postgres://u@h:1", "x"), "postgres://u@h:1/x");
    }
}
