//! Listing seals: all of them, or with one tenant's part.

use chrono::{DateTime, Utc};
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use crate::append::parse_xid8;
use crate::error::StoreError;
use crate::types::Checkpoint;

/// A stored seal: what its hash covers, and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    pub seal_number: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    /// The checkpoint of the last event it covers.
    pub to: Checkpoint,
    pub event_count: i64,
    pub tenant_count: i32,
    pub merkle_root: Vec<u8>,
    pub sealed_at: DateTime<Utc>,
}

/// One tenant's leaf of a seal, with its audit path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPart {
    pub tenant_id: Uuid,
    pub leaf_index: i32,
    pub event_count: i64,
    pub digest: Vec<u8>,
    /// Sibling hashes, leaf to root.
    pub audit_path: Vec<[u8; 32]>,
}

/// A seal as one tenant sees it: `part` is `None` when the tenant has no event in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSeal {
    pub seal: Seal,
    pub part: Option<TenantPart>,
}

pub(crate) const SEAL_COLUMNS: &str =
    "s.seal_number, s.prev_hash, s.hash, s.to_tx_id::text, s.to_position, s.event_count, \
                            s.tenant_count, s.merkle_root, s.sealed_at";

pub(crate) fn to_seal(row: &Row) -> Result<Seal, StoreError> {
    Ok(Seal {
        seal_number: row.try_get(0)?,
        prev_hash: row.try_get(1)?,
        hash: row.try_get(2)?,
        to: Checkpoint { tx_id: parse_xid8(row.try_get(3)?)?, position: row.try_get(4)? },
        event_count: row.try_get(5)?,
        tenant_count: row.try_get(6)?,
        merkle_root: row.try_get(7)?,
        sealed_at: row.try_get(8)?,
    })
}

/// Splits a stored audit path into its 32-byte hashes.
fn split_path(bytes: &[u8]) -> Result<Vec<[u8; 32]>, StoreError> {
    bytes
        .chunks(32)
        .map(|c| <[u8; 32]>::try_from(c).map_err(|_| StoreError::Corrupt("an audit path is not 32-byte hashes".into())))
        .collect()
}

pub(crate) fn to_part(row: &Row, first: usize) -> Result<Option<TenantPart>, StoreError> {
    let Some(tenant_id) = row.try_get::<_, Option<Uuid>>(first)? else { return Ok(None) };
    let path: Vec<u8> = row.try_get(first + 4)?;
    Ok(Some(TenantPart {
        tenant_id,
        leaf_index: row.try_get(first + 1)?,
        event_count: row.try_get(first + 2)?,
        digest: row.try_get(first + 3)?,
        audit_path: split_path(&path)?,
    }))
}

/// Seals after `after_number` (0: from the first), oldest first.
pub async fn list_seals<C: GenericClient>(client: &C, after_number: i64, limit: i64) -> Result<Vec<Seal>, StoreError> {
    let sql = format!("SELECT {SEAL_COLUMNS} FROM seals s WHERE s.seal_number > $1 ORDER BY s.seal_number LIMIT $2");
    let rows = client.query(&sql, &[&after_number, &limit.max(0)]).await?;
    rows.iter().map(to_seal).collect()
}

/// The newest seal, if any.
pub async fn latest_seal<C: GenericClient>(client: &C) -> Result<Option<Seal>, StoreError> {
    let sql = format!("SELECT {SEAL_COLUMNS} FROM seals s ORDER BY s.seal_number DESC LIMIT 1");
    client.query_opt(&sql, &[]).await?.as_ref().map(to_seal).transpose()
}

/// Seals after `after_number` up to `up_to_number` (inclusive), oldest first, each with
/// `tenant_id`'s part.
pub async fn tenant_seals<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    after_number: i64,
    up_to_number: i64,
    limit: i64,
) -> Result<Vec<TenantSeal>, StoreError> {
    let sql = format!(
        "SELECT {SEAL_COLUMNS}, t.tenant_id, t.leaf_index, t.event_count, t.digest, t.audit_path
         FROM seals s LEFT JOIN seal_tenants t ON t.seal_number = s.seal_number AND t.tenant_id = $1
         WHERE s.seal_number > $2 AND s.seal_number <= $3 ORDER BY s.seal_number LIMIT $4"
    );
    let rows = client.query(&sql, &[&tenant_id, &after_number, &up_to_number, &limit.max(0)]).await?;
    rows.iter().map(|row| Ok(TenantSeal { seal: to_seal(row)?, part: to_part(row, 9)? })).collect()
}
