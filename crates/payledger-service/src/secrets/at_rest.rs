//! The whole `webhook_secrets` table: checked when the server starts, re-sealed by
//! `payledger secrets rotate-master`.

use deadpool_postgres::Pool;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::master_key::MasterKey;
use super::sealing::{open_secret, seal_secret, SealError, SecretRow};

/// Held (for its transaction) by everything that seals: the startup check, a rotation and
/// adding a secret. So all of them see one master key in the table, never two.
const SEALING_LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(hashtextextended('payledger webhook secrets sealing', 0))";

/// Takes the sealing lock for the rest of `tx`.
pub async fn lock_secrets<C: tokio_postgres::GenericClient>(tx: &C) -> Result<(), tokio_postgres::Error> {
    tx.execute(SEALING_LOCK_SQL, &[]).await.map(|_| ())
}

/// The id of a master key other than `key` that some stored secret is sealed under, if any
/// (call it under [`lock_secrets`]).
pub async fn sealed_under_other_key<C: tokio_postgres::GenericClient>(
    tx: &C,
    key: &MasterKey,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = tx
        .query_opt(
            "SELECT master_key_id FROM webhook_secrets WHERE master_key_id IS NOT NULL AND master_key_id <> $1 LIMIT 1",
            &[&key.id()],
        )
        .await?;
    row.map(|row| row.try_get(0)).transpose()
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "{count} webhook signing secrets are stored sealed, and no master key was given: \
         set PAYLEDGER_MASTER_KEY (64 hexadecimal characters) or PAYLEDGER_MASTER_KEY_FILE \
         to the key they were sealed with"
    )]
    KeyMissing { count: i64 },
    #[error(
        "{count} webhook signing secrets are stored in clear (written before secrets were sealed) \
         and no master key was given to seal them: set PAYLEDGER_MASTER_KEY or PAYLEDGER_MASTER_KEY_FILE"
    )]
    ClearWithoutKey { count: i64 },
    #[error(
        "{count} webhook signing secrets are sealed under master key {stored_id}, but the key given \
         is {given_id}: give the key they were sealed with (after `payledger secrets rotate-master`, the new one)"
    )]
    KeyMismatch { count: i64, stored_id: String, given_id: String },
    #[error(
        "the webhook secret {secret_id} does not open under master key {key_id}: altered, or sealed for another row"
    )]
    Unreadable { secret_id: Uuid, key_id: String },
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
}

/// What the startup check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretsAtRest {
    /// Secrets sealed under the key given, after the check.
    pub sealed: i64,
    /// Of those, secrets found in clear and sealed by this check.
    pub sealed_now: i64,
}

/// Refuses a start whose key cannot open the stored secrets (or that has none to open or
/// seal them with), and seals any secret still in clear.
pub async fn check_at_startup(pool: &Pool, key: Option<&MasterKey>) -> Result<SecretsAtRest, SecretsError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    lock_secrets(&*tx).await?;
    let mut sealed = 0;
    for row in tx.query("SELECT master_key_id, count(*) FROM webhook_secrets GROUP BY 1", &[]).await? {
        let (stored_id, count): (Option<String>, i64) = (row.try_get(0)?, row.try_get(1)?);
        match (stored_id, key) {
            (None, None) => return Err(SecretsError::ClearWithoutKey { count }),
            (None, Some(_)) => {}
            (Some(_), None) => return Err(SecretsError::KeyMissing { count }),
            (Some(stored_id), Some(key)) if stored_id != key.id() => {
                return Err(SecretsError::KeyMismatch { count, stored_id, given_id: key.id().to_owned() })
            }
            (Some(_), Some(_)) => sealed += count,
        }
    }
    let sealed_now = match key {
        Some(key) => seal_clear_secrets(&tx, key).await?,
        None => 0,
    };
    tx.commit().await?;
    Ok(SecretsAtRest { sealed: sealed + sealed_now, sealed_now })
}

/// Re-seals every secret under `to`, in one transaction: all or none. Secrets already under
/// `to` are left as they are, so a rotation that was interrupted can be run again.
/// Returns how many were re-sealed.
pub async fn rotate_master(pool: &Pool, from: &MasterKey, to: &MasterKey) -> Result<i64, SecretsError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    lock_secrets(&*tx).await?;
    let rows = tx
        .query(
            "SELECT secret_id, endpoint_id, secret_sealed, master_key_id FROM webhook_secrets
             WHERE master_key_id IS DISTINCT FROM $1 AND secret IS NULL ORDER BY created_at, secret_id FOR UPDATE",
            &[&to.id()],
        )
        .await?;
    let mut resealed = 0;
    for row in rows {
        let at = SecretRow { secret_id: row.try_get(0)?, endpoint_id: row.try_get(1)? };
        let (sealed, stored_id): (Vec<u8>, String) = (row.try_get(2)?, row.try_get(3)?);
        if stored_id != from.id() {
            return Err(SecretsError::KeyMismatch { count: 1, stored_id, given_id: from.id().to_owned() });
        }
        let secret = open_secret(from, at, &sealed)
            .map_err(|_| SecretsError::Unreadable { secret_id: at.secret_id, key_id: from.id().to_owned() })?;
        store_sealed(&tx, to, at, &secret).await?;
        resealed += 1;
    }
    resealed += seal_clear_secrets(&tx, to).await?;
    tx.commit().await?;
    Ok(resealed)
}

/// Seals, under `key`, the secrets written in clear before sealing existed.
async fn seal_clear_secrets(tx: &Transaction<'_>, key: &MasterKey) -> Result<i64, SecretsError> {
    let rows = tx
        .query(
            "SELECT secret_id, endpoint_id, secret FROM webhook_secrets WHERE secret IS NOT NULL
             ORDER BY created_at, secret_id FOR UPDATE",
            &[],
        )
        .await?;
    for row in &rows {
        let at = SecretRow { secret_id: row.try_get(0)?, endpoint_id: row.try_get(1)? };
        store_sealed(tx, key, at, row.try_get(2)?).await?;
    }
    if !rows.is_empty() {
        tracing::info!(count = rows.len(), master_key_id = key.id(), "sealed webhook secrets stored in clear");
    }
    Ok(rows.len() as i64)
}

async fn store_sealed(tx: &Transaction<'_>, key: &MasterKey, at: SecretRow, secret: &str) -> Result<(), SecretsError> {
    let sealed = seal_secret(key, at, secret)?;
    tx.execute(
        "UPDATE webhook_secrets SET secret = NULL, secret_sealed = $2, master_key_id = $3 WHERE secret_id = $1",
        &[&at.secret_id, &sealed, &key.id()],
    )
    .await?;
    Ok(())
}
