//! A dedicated connection: the projector's, a rebuild's or a verify's. Session-level advisory
//! locks live as long as it does, so a process that dies (or a task that is aborted and drops
//! its session) gives up its leadership or maintenance lock with its connection.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::error::ProjectorError;
use crate::registry::PROJECTION;

/// Longest wait to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Session {
    pub client: Client,
}

impl Session {
    /// Connects with a statement timeout; a connection that is lost while a statement waits
    /// on a lock is noticed within a second (so its locks and transaction go with it).
    pub(crate) async fn connect(database_url: &str, statement_timeout_ms: u64) -> Result<Session, ProjectorError> {
        Session::connect_as(database_url, statement_timeout_ms, "payledger-projector").await
    }

    /// As [`Session::connect`], under this `application_name` (shown in `pg_stat_activity`).
    pub(crate) async fn connect_as(
        database_url: &str,
        statement_timeout_ms: u64,
        application_name: &str,
    ) -> Result<Session, ProjectorError> {
        let mut config: tokio_postgres::Config = database_url.parse()?;
        config.application_name(application_name);
        config.connect_timeout(CONNECT_TIMEOUT);
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "projector connection closed");
            }
        });
        client
            .batch_execute(&format!(
                "SET statement_timeout = {statement_timeout_ms}; SET client_min_messages = warning"
            ))
            .await?;
        // PostgreSQL 14+; older servers just do without it.
        let _ = client.batch_execute("SET client_connection_check_interval = 1000").await;
        Ok(Session { client })
    }

    /// Gives a lock back now (dropping the session would too, but only once the server has
    /// noticed the closed connection).
    pub(crate) async fn unlock(&self, lock: Lock) -> Result<(), ProjectorError> {
        self.client.query_one("SELECT pg_advisory_unlock(hashtextextended($1, 0))", &[&lock.key()]).await?;
        Ok(())
    }

    /// Takes a session-level advisory lock if it is free.
    pub(crate) async fn try_lock(&self, lock: Lock) -> Result<bool, ProjectorError> {
        let row = self.client.query_one("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", &[&lock.key()]).await?;
        Ok(row.try_get(0)?)
    }
}

/// The advisory locks of a projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// Held by the projector instance that projects; others wait as hot standby.
    Leader,
    /// Held by the one rebuild or verify that may run at a time.
    Maintenance,
}

impl Lock {
    pub(crate) fn key(self) -> String {
        match self {
            Lock::Leader => format!("payledger/projector/{PROJECTION}"),
            Lock::Maintenance => format!("payledger/maintenance/{PROJECTION}"),
        }
    }
}

/// The backend holding the leader lock and its `application_name`, if a projector leads.
pub async fn projector_leader<C: tokio_postgres::GenericClient>(
    client: &C,
) -> Result<Option<(i32, String)>, ProjectorError> {
    lock_holder(client, Lock::Leader).await
}

/// Whether a rebuild or verify holds the maintenance lock: a version being built without it
/// was abandoned (its process died) and waits for the next rebuild or verify to drop it.
pub async fn maintenance_running<C: tokio_postgres::GenericClient>(client: &C) -> Result<bool, ProjectorError> {
    Ok(lock_holder(client, Lock::Maintenance).await?.is_some())
}

async fn lock_holder<C: tokio_postgres::GenericClient>(
    client: &C,
    lock: Lock,
) -> Result<Option<(i32, String)>, ProjectorError> {
    let row = client
        .query_opt(
            "WITH k AS (SELECT hashtextextended($1, 0) AS key)
             SELECT l.pid, coalesce(a.application_name, '')
             FROM pg_locks l CROSS JOIN k LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid::bigint = ((k.key >> 32) & 4294967295) AND l.objid::bigint = (k.key & 4294967295)",
            &[&lock.key()],
        )
        .await?;
    match row {
        Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
        None => Ok(None),
    }
}
