//! The sealer's one step: under a lock, read the events after the newest seal (gap-free),
//! and seal them if enough wait or the newest seal is old enough.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::Client;
use uuid::Uuid;

use super::hash::{audit_path, leaf_hash, merkle_root, seal_hash, SealFields, TenantDigest, GENESIS_SEAL_HASH};
use super::read::{latest_seal, Seal};
use crate::append::parse_xid8;
use crate::error::StoreError;
use crate::types::Checkpoint;

/// Most events one seal covers (one read).
pub const SEAL_MAX_EVENTS: i64 = 10_000;
/// Serialises sealers across processes (an arbitrary constant of the advisory lock space).
const SEALER_LOCK_KEY: i64 = 0x7061_796c_7365_616c; // "paylseal"

/// When a seal is written.
#[derive(Debug, Clone, Copy)]
pub struct SealPolicy {
    /// Seal as soon as this many events wait (also the most one seal covers).
    pub every_events: i64,
    /// Seal whatever waits once the newest seal is this old.
    pub max_age: Duration,
}

impl SealPolicy {
    /// Seal whatever waits, now.
    pub fn now(every_events: i64) -> SealPolicy {
        SealPolicy { every_events, max_age: Duration::ZERO }
    }

    /// The most events one seal covers: `every_events` within 1..=[`SEAL_MAX_EVENTS`].
    pub fn events_per_seal(&self) -> i64 {
        self.every_events.clamp(1, SEAL_MAX_EVENTS)
    }

    /// Whether `seal` is full, so that more events may be waiting behind it.
    pub fn is_full(&self, seal: &Seal) -> bool {
        seal.event_count >= self.events_per_seal()
    }
}

struct Unsealed {
    tx_id: u64,
    position: i64,
    tenant_id: Uuid,
    hash: Vec<u8>,
}

/// Writes the next seal if the policy says so; `None` when nothing was sealed. Concurrent
/// callers (other processes) are serialised by an advisory lock, each extending the newest seal.
pub async fn seal_pending(client: &mut Client, policy: SealPolicy) -> Result<Option<Seal>, StoreError> {
    let every_events = policy.events_per_seal();
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SEALER_LOCK_KEY]).await?;
    // The database's clock, not this process's: sealers of several hosts agree on ages.
    let now: DateTime<Utc> =
        tx.query_one("SELECT date_trunc('microseconds', clock_timestamp())", &[]).await?.try_get(0)?;
    let newest = latest_seal(&tx).await?;
    let from = newest.as_ref().map_or(Checkpoint::START, |s| s.to);
    let events = read_unsealed(&tx, from, every_events).await?;
    let old_enough =
        newest.as_ref().is_none_or(|s| (Utc::now() - s.sealed_at).to_std().unwrap_or(Duration::ZERO) >= policy.max_age);
    if events.is_empty() || ((events.len() as i64) < every_events && !old_enough) {
        return Ok(None);
    }
    let (number, prev_hash) = match &newest {
        Some(s) => (s.seal_number + 1, to_hash(&s.hash)?),
        None => (1, GENESIS_SEAL_HASH),
    };
    let seal = write_seal(&tx, (number, prev_hash, now), &events).await?;
    tx.commit().await?;
    Ok(Some(seal))
}

/// The events after `from` in read order, only those nothing can commit before.
async fn read_unsealed(
    tx: &tokio_postgres::Transaction<'_>,
    from: Checkpoint,
    limit: i64,
) -> Result<Vec<Unsealed>, StoreError> {
    let rows = tx
        .query(
            "SELECT tx_id::text, global_position, tenant_id, hash FROM events
             WHERE (tx_id, global_position) > ($1::text::xid8, $2)
               AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY events.tx_id, events.global_position LIMIT $3",
            &[&from.tx_id.to_string(), &from.position, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Unsealed {
                tx_id: parse_xid8(row.try_get(0)?)?,
                position: row.try_get(1)?,
                tenant_id: row.try_get(2)?,
                hash: row.try_get(3)?,
            })
        })
        .collect()
}

fn to_hash(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::Corrupt("a stored seal hash is not 32 bytes".into()))
}

async fn write_seal(
    tx: &tokio_postgres::Transaction<'_>,
    (seal_number, prev_hash, sealed_at): (i64, [u8; 32], DateTime<Utc>),
    events: &[Unsealed],
) -> Result<Seal, StoreError> {
    // BTreeMap: tenants in the order of their ids' bytes, the leaves' order.
    let mut tenants: BTreeMap<Uuid, TenantDigest> = BTreeMap::new();
    for e in events {
        tenants.entry(e.tenant_id).or_default().add(e.tx_id, e.position, &e.hash);
    }
    let parts: Vec<(Uuid, u64, [u8; 32])> = tenants.into_iter().map(|(t, d)| (t, d.event_count, d.finish())).collect();
    let leaves: Vec<[u8; 32]> = parts.iter().map(|(t, n, d)| leaf_hash(*t, *n, d)).collect();
    let root = merkle_root(&leaves).ok_or_else(|| StoreError::InvalidData("a seal needs an event".into()))?;
    let last = events.last().ok_or_else(|| StoreError::InvalidData("a seal needs an event".into()))?;
    let fields = SealFields {
        seal_number,
        prev_hash,
        to_tx_id: last.tx_id,
        to_position: last.position,
        event_count: events.len() as u64,
        tenant_count: leaves.len() as u64,
        merkle_root: root,
    };
    let hash = seal_hash(&fields);
    tx.execute(
        "INSERT INTO seals (seal_number, prev_hash, hash, to_tx_id, to_position, event_count, tenant_count,
                            merkle_root, sealed_at)
         VALUES ($1, $2, $3, $4::text::xid8, $5, $6, $7, $8, $9)",
        &[
            &seal_number,
            &prev_hash.as_slice(),
            &hash.as_slice(),
            &last.tx_id.to_string(),
            &last.position,
            &(events.len() as i64),
            &(leaves.len() as i32),
            &root.as_slice(),
            &sealed_at,
        ],
    )
    .await?;
    insert_parts(tx, seal_number, &parts, &leaves).await?;
    Ok(Seal {
        seal_number,
        prev_hash: prev_hash.to_vec(),
        hash: hash.to_vec(),
        to: Checkpoint { tx_id: last.tx_id, position: last.position },
        event_count: events.len() as i64,
        tenant_count: leaves.len() as i32,
        merkle_root: root.to_vec(),
        sealed_at,
    })
}

async fn insert_parts(
    tx: &tokio_postgres::Transaction<'_>,
    seal_number: i64,
    parts: &[(Uuid, u64, [u8; 32])],
    leaves: &[[u8; 32]],
) -> Result<(), StoreError> {
    let tenant_ids: Vec<Uuid> = parts.iter().map(|p| p.0).collect();
    let indexes: Vec<i32> = (0..parts.len() as i32).collect();
    let counts: Vec<i64> = parts.iter().map(|p| p.1 as i64).collect();
    let digests: Vec<&[u8]> = parts.iter().map(|p| p.2.as_slice()).collect();
    let paths: Vec<Vec<u8>> = (0..leaves.len()).map(|i| audit_path(leaves, i).concat()).collect();
    tx.execute(
        "INSERT INTO seal_tenants (seal_number, tenant_id, leaf_index, event_count, digest, audit_path)
         SELECT $1, t, i, n, d, p FROM unnest($2::uuid[], $3::int[], $4::bigint[], $5::bytea[], $6::bytea[])
             AS u(t, i, n, d, p)",
        &[&seal_number, &tenant_ids, &indexes, &counts, &digests, &paths],
    )
    .await?;
    Ok(())
}
