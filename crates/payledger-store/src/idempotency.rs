//! Idempotency records: `(tenant, key) -> (request hash, response)`, stored in the same
//! transaction as the command's events, so a command is either done and recorded or neither.
//!
//! Concurrency: a claim takes a transaction-scoped advisory lock on the key without waiting.
//! A second request with the same key while the first is still in its transaction fails to
//! take it and is told "in flight"; once the first commits, the lock is gone and the record
//! is visible, so the second is a replay.

use std::time::Duration;

use serde_json::Value;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::cached::{Queries, TypedParam};
use crate::error::StoreError;

/// A response as it was first given.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Value,
    /// Headers worth repeating on a replay (e.g. the position the command reached).
    pub headers: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// No record: go ahead, and `record` the response in this transaction.
    Fresh,
    /// The same request was done: answer with this.
    Replay(StoredResponse),
    /// The key was used for a different request.
    Mismatch,
    /// Another request with this key is running now.
    InFlight,
}

/// Most characters an idempotency key may have.
pub const KEY_MAX_CHARS: usize = 255;

pub(crate) const CLAIM_LOCK_SQL: &str = "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))";
pub(crate) const CLAIM_LOCK_TYPES: [Type; 1] = [Type::TEXT];
pub(crate) const CLAIM_READ_SQL: &str =
    "SELECT request_hash, response_status, response_body, response_headers FROM idempotency_keys
     WHERE tenant_id = $1 AND idempotency_key = $2 AND expires_at > now()";
pub(crate) const CLAIM_READ_TYPES: [Type; 2] = [Type::UUID, Type::TEXT];

/// Claims `key` for this transaction. Never blocks.
///
/// The lock and the read are two statements pipelined in one round trip, not one statement:
/// in READ COMMITTED a statement's snapshot is taken before it runs, so one statement could
/// take the lock just released by a holder that committed after that snapshot, miss its
/// record and answer Fresh. The read, a statement of its own run after the lock, sees it.
pub async fn claim<C: Queries>(tx: &C, tenant_id: Uuid, key: &str, request_hash: &[u8]) -> Result<Claim, StoreError> {
    let lock_name = format!("idempotency/{tenant_id}/{key}");
    let lock_params: [TypedParam<'_>; 1] = [(&lock_name, Type::TEXT)];
    let read_params: [TypedParam<'_>; 2] = [(&tenant_id, Type::UUID), (&key, Type::TEXT)];
    let (locked, rows) = tokio::try_join!(
        biased;
        tx.query_cached(CLAIM_LOCK_SQL, &lock_params),
        tx.query_cached(CLAIM_READ_SQL, &read_params),
    )?;
    let locked: bool = locked.first().ok_or_else(|| StoreError::Corrupt("no lock row".into()))?.try_get(0)?;
    if !locked {
        return Ok(Claim::InFlight);
    }
    let Some(row) = rows.first() else {
        return Ok(Claim::Fresh);
    };
    let stored_hash: Vec<u8> = row.try_get(0)?;
    if stored_hash != request_hash {
        return Ok(Claim::Mismatch);
    }
    let status: i16 = row.try_get(1)?;
    Ok(Claim::Replay(StoredResponse {
        status: u16::try_from(status).map_err(|_| StoreError::Corrupt(format!("response status {status}")))?,
        body: row.try_get(2)?,
        headers: row.try_get(3)?,
    }))
}

pub(crate) const RECORD_SQL: &str = "INSERT INTO idempotency_keys
         (tenant_id, idempotency_key, request_hash, response_status, response_body, response_headers, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7::bigint))
     ON CONFLICT (tenant_id, idempotency_key) DO UPDATE SET
         request_hash = excluded.request_hash, response_status = excluded.response_status,
         response_body = excluded.response_body, response_headers = excluded.response_headers,
         created_at = now(), expires_at = excluded.expires_at
     WHERE idempotency_keys.expires_at <= now()
     RETURNING 1";
pub(crate) const RECORD_TYPES: [Type; 7] =
    [Type::UUID, Type::TEXT, Type::BYTEA, Type::INT2, Type::JSONB, Type::JSONB, Type::INT8];

/// Records the response of a fresh claim. An expired record of the same key is replaced.
pub async fn record<C: Queries>(
    tx: &C,
    tenant_id: Uuid,
    key: &str,
    request_hash: &[u8],
    response: &StoredResponse,
    retention: Duration,
) -> Result<(), StoreError> {
    let retention_s = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX).min(10 * 365 * 86_400);
    let status = i16::try_from(response.status).map_err(|_| StoreError::InvalidAppend("status".into()))?;
    let written = tx
        .query_cached(
            RECORD_SQL,
            &[
                (&tenant_id, Type::UUID),
                (&key, Type::TEXT),
                (&request_hash, Type::BYTEA),
                (&status, Type::INT2),
                (&response.body, Type::JSONB),
                (&response.headers, Type::JSONB),
                (&retention_s, Type::INT8),
            ],
        )
        .await?
        .len();
    // A live record of this key would mean the claim was not held: never overwrite it silently.
    if written != 1 {
        return Err(StoreError::InvalidAppend(format!("idempotency key {key:?} is already recorded")));
    }
    Ok(())
}

/// Deletes expired records, at most `limit` per call; returns how many went.
pub async fn prune<C: GenericClient>(client: &C, limit: i64) -> Result<u64, StoreError> {
    let deleted = client
        .execute(
            "DELETE FROM idempotency_keys WHERE ctid IN (
                 SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT $1)",
            &[&limit],
        )
        .await?;
    Ok(deleted)
}
