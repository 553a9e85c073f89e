//! Applies the SQL files in `migrations/` in order, each once (refinery records them).

use tokio_postgres::NoTls;

use crate::error::StoreError;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Applies every migration not yet applied. Safe to run from several processes at once:
/// they take turns on an advisory lock.
pub async fn migrate(database_url: &str) -> Result<Vec<String>, StoreError> {
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls).await?;
    let driver = tokio::spawn(connection);
    client.execute("SELECT pg_advisory_lock(727275)", &[]).await?;
    let result = embedded::migrations::runner().run_async(&mut client).await;
    client.execute("SELECT pg_advisory_unlock(727275)", &[]).await?;
    drop(client);
    let _ = driver.await;
    let report = result.map_err(|e| StoreError::Migration(with_causes(&e)))?;
    Ok(report.applied_migrations().iter().map(|m| m.to_string()).collect())
}

/// An error with its causes ("db error" alone hides PostgreSQL's message).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = inner.source();
    }
    text
}

/// The newest migration this binary carries.
pub fn latest_migration_version() -> i64 {
    embedded::migrations::runner().get_migrations().iter().map(|m| i64::from(m.version())).max().unwrap_or(0)
}

/// The newest migration applied to the database, if any.
pub async fn applied_migration_version<C: tokio_postgres::GenericClient>(
    client: &C,
) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_one(
            "SELECT CASE WHEN to_regclass('refinery_schema_history') IS NULL THEN NULL
                    ELSE (SELECT max(version)::bigint FROM refinery_schema_history) END",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}
