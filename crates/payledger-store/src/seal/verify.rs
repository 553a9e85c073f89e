//! Checks every seal against the events (docs/AUDIT.md §3): its number and link to the one
//! before, each tenant's events in its range, the Merkle root of its leaves, its own hash.

use std::collections::BTreeMap;

use deadpool_postgres::Pool;
use futures::{pin_mut, TryStreamExt};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::hash::{leaf_hash, merkle_root, path_gives_root, seal_hash, SealFields, TenantDigest, GENESIS_SEAL_HASH};
use super::read::{to_part, to_seal, Seal, TenantPart, SEAL_COLUMNS};
use crate::append::parse_xid8;
use crate::error::StoreError;
use crate::types::Checkpoint;

/// Most broken seals reported; past this the report says it was cut short.
const MAX_BROKEN_SEALS: usize = 1_000;
/// Seals loaded per round trip.
const SEAL_PAGE: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SealFault {
    /// The seal's `prev_hash` is not the previous seal's hash.
    PrevHashMismatch,
    /// A seal number is missing before this one.
    NumberGap,
    /// The seal's fields do not hash to its stored hash.
    HashMismatch,
    /// The events in its range are not those it sealed (count or digest of a tenant).
    TenantEventsDiffer,
    /// Its leaves (or a tenant's leaf and audit path) do not give its Merkle root.
    MerkleRootMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BrokenSeal {
    pub seal_number: i64,
    /// The checkpoint after which its range starts (the previous seal's), and its last.
    pub from: Checkpoint,
    pub to: Checkpoint,
    pub event_count: i64,
    pub fault: SealFault,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SealReport {
    pub seals_checked: u64,
    pub events_sealed: u64,
    /// Events after the newest seal (not yet sealed).
    pub unsealed_events: u64,
    pub latest_seal_number: Option<i64>,
    pub latest_seal_hash: Option<String>,
    pub broken: Vec<BrokenSeal>,
    pub truncated: bool,
}

impl SealReport {
    pub fn is_intact(&self) -> bool {
        self.broken.is_empty()
    }

    fn push(&mut self, seal: &Seal, from: Checkpoint, fault: SealFault, detail: String) {
        if self.broken.len() >= MAX_BROKEN_SEALS {
            self.truncated = true;
            return;
        }
        let (seal_number, to, event_count) = (seal.seal_number, seal.to, seal.event_count);
        self.broken.push(BrokenSeal { seal_number, from, to, event_count, fault, detail });
    }
}

/// A seal with its stored tenant rows (all, or the one tenant's).
struct Loaded {
    seal: Seal,
    parts: Vec<TenantPart>,
}

/// Walks the events in read order beside the seals that existed when it began, streaming
/// both (memory: one seal's tenants, or a page of seals with one tenant's rows). `tenant_id` checks only that tenant's part of each seal, as an export can.
pub async fn verify_seals(pool: &Pool, tenant_id: Option<Uuid>) -> Result<SealReport, StoreError> {
    let events_client = pool.get().await?;
    let seals_client = pool.get().await?;
    // Only seals that exist before the events are read: every event they cover committed
    // before that, so the events' read sees them all (a seal written meanwhile is left out).
    let up_to: i64 =
        seals_client.query_one("SELECT coalesce(max(seal_number), 0) FROM seals", &[]).await?.try_get(0)?;
    let rows = events_client
        .query_raw(
            "SELECT tx_id::text, global_position, tenant_id, hash FROM events
             WHERE ($1::uuid IS NULL OR tenant_id = $1) ORDER BY events.tx_id, events.global_position",
            [&tenant_id as &(dyn ToSql + Sync)],
        )
        .await?;
    pin_mut!(rows);
    let mut walk = Walk { report: SealReport::default(), tenant_id, prev: None, from: Checkpoint::START };
    // Global: one seal's tenants at a time (a seal may have thousands); one tenant: pages.
    let page_size = if tenant_id.is_some() { SEAL_PAGE } else { 1 };
    let mut seals = SealPages { after: 0, up_to, page_size, page: Vec::new().into_iter(), done: false };
    let mut current = seals.next(&**seals_client, tenant_id).await?;
    let mut digests: BTreeMap<Uuid, TenantDigest> = BTreeMap::new();
    while let Some(row) = rows.try_next().await? {
        let checkpoint = Checkpoint { tx_id: parse_xid8(row.try_get(0)?)?, position: row.try_get(1)? };
        while let Some(loaded) = current.as_ref().filter(|l| checkpoint > l.seal.to) {
            walk.finish(loaded, std::mem::take(&mut digests));
            current = seals.next(&**seals_client, tenant_id).await?;
        }
        if current.is_none() {
            walk.report.unsealed_events += 1;
            continue;
        }
        let (tenant, hash): (Uuid, Vec<u8>) = (row.try_get(2)?, row.try_get(3)?);
        digests.entry(tenant).or_default().add(checkpoint.tx_id, checkpoint.position, &hash);
    }
    while let Some(loaded) = current {
        walk.finish(&loaded, std::mem::take(&mut digests));
        current = seals.next(&**seals_client, tenant_id).await?;
    }
    Ok(walk.report)
}

struct SealPages {
    after: i64,
    up_to: i64,
    page_size: i64,
    page: std::vec::IntoIter<Loaded>,
    done: bool,
}

impl SealPages {
    async fn next<C: tokio_postgres::GenericClient>(
        &mut self,
        client: &C,
        tenant_id: Option<Uuid>,
    ) -> Result<Option<Loaded>, StoreError> {
        if let Some(loaded) = self.page.next() {
            return Ok(Some(loaded));
        }
        if self.done {
            return Ok(None);
        }
        let page = load_page(client, (self.after, self.up_to), self.page_size, tenant_id).await?;
        self.done = (page.len() as i64) < self.page_size;
        if let Some(last) = page.last() {
            self.after = last.seal.seal_number;
        }
        self.page = page.into_iter();
        Ok(self.page.next())
    }
}

/// Seals in `(after, up_to]`, at most `page_size`, each with its stored tenant rows.
async fn load_page<C: tokio_postgres::GenericClient>(
    client: &C,
    (after, up_to): (i64, i64),
    page_size: i64,
    tenant_id: Option<Uuid>,
) -> Result<Vec<Loaded>, StoreError> {
    let sql = format!(
        "SELECT {SEAL_COLUMNS} FROM seals s
         WHERE s.seal_number > $1 AND s.seal_number <= $2 ORDER BY s.seal_number LIMIT $3"
    );
    let rows = client.query(&sql, &[&after, &up_to, &page_size]).await?;
    let mut loaded: Vec<Loaded> =
        rows.iter().map(|r| Ok(Loaded { seal: to_seal(r)?, parts: Vec::new() })).collect::<Result<_, StoreError>>()?;
    let (Some(first), Some(last)) = (loaded.first(), loaded.last()) else { return Ok(loaded) };
    let part_rows = client
        .query(
            "SELECT seal_number, tenant_id, leaf_index, event_count, digest, audit_path FROM seal_tenants
             WHERE seal_number BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR tenant_id = $3)
             ORDER BY seal_number, leaf_index",
            &[&first.seal.seal_number, &last.seal.seal_number, &tenant_id],
        )
        .await?;
    let base = first.seal.seal_number;
    for row in &part_rows {
        let number: i64 = row.try_get(0)?;
        let index = usize::try_from(number - base).map_err(|_| StoreError::Corrupt("seal part order".into()))?;
        if let (Some(slot), Some(part)) = (loaded.get_mut(index), to_part(row, 1)?) {
            slot.parts.push(part);
        }
    }
    Ok(loaded)
}

/// What the walk carries from one seal to the next.
struct Walk {
    report: SealReport,
    tenant_id: Option<Uuid>,
    prev: Option<(i64, Vec<u8>)>,
    from: Checkpoint,
}

impl Walk {
    fn finish(&mut self, loaded: &Loaded, found: BTreeMap<Uuid, TenantDigest>) {
        let seal = &loaded.seal;
        let from = self.from;
        let (prev_number, prev_hash) = self.prev.clone().unwrap_or((0, GENESIS_SEAL_HASH.to_vec()));
        if seal.seal_number != prev_number + 1 {
            let detail = format!("seal {} follows seal {prev_number}", seal.seal_number);
            self.report.push(seal, from, SealFault::NumberGap, detail);
        }
        if seal.prev_hash != prev_hash {
            let detail = format!("its prev_hash {} is not {}", hex::encode(&seal.prev_hash), hex::encode(&prev_hash));
            self.report.push(seal, from, SealFault::PrevHashMismatch, detail);
        }
        self.check_events(loaded, found);
        self.check_root(loaded);
        if let Some(fields) = fields_of(seal) {
            if seal_hash(&fields).as_slice() != seal.hash.as_slice() {
                let detail = "its fields do not hash to its hash".to_owned();
                self.report.push(seal, from, SealFault::HashMismatch, detail);
            }
        }
        self.report.seals_checked += 1;
        self.report.events_sealed += seal.event_count.max(0) as u64;
        self.report.latest_seal_number = Some(seal.seal_number);
        self.report.latest_seal_hash = Some(hex::encode(&seal.hash));
        self.prev = Some((seal.seal_number, seal.hash.clone()));
        self.from = seal.to;
    }

    /// Each tenant's events found in the range against its stored part.
    fn check_events(&mut self, loaded: &Loaded, found: BTreeMap<Uuid, TenantDigest>) {
        let mut found: BTreeMap<Uuid, (u64, [u8; 32])> =
            found.into_iter().map(|(t, d)| (t, (d.event_count, d.finish()))).collect();
        let mut faults = Vec::new();
        for part in &loaded.parts {
            let (count, digest) = found.remove(&part.tenant_id).unwrap_or((0, [0; 32]));
            if count != part.event_count as u64 {
                faults.push(format!(
                    "tenant {}: the seal holds {} of its events, {count} are there",
                    part.tenant_id, part.event_count
                ));
            } else if digest.as_slice() != part.digest.as_slice() {
                faults.push(format!(
                    "tenant {}: its {count} events are not those sealed (digests differ)",
                    part.tenant_id
                ));
            }
        }
        for (tenant, (count, _)) in found {
            faults.push(format!("tenant {tenant}: the seal holds none of its events, {count} are there"));
        }
        if !faults.is_empty() {
            let seal = &loaded.seal;
            self.report.push(seal, self.from, SealFault::TenantEventsDiffer, faults.join("; "));
        }
    }

    /// The stored leaves give the stored root: all of them, or the one tenant's with its path.
    fn check_root(&mut self, loaded: &Loaded) {
        let seal = &loaded.seal;
        let Ok(root) = <[u8; 32]>::try_from(seal.merkle_root.as_slice()) else {
            self.report.push(seal, self.from, SealFault::MerkleRootMismatch, "its root is not 32 bytes".into());
            return;
        };
        let leaf_of = |p: &TenantPart| {
            <[u8; 32]>::try_from(p.digest.as_slice()).ok().map(|d| leaf_hash(p.tenant_id, p.event_count as u64, &d))
        };
        let intact = match self.tenant_id {
            Some(_) => loaded.parts.iter().all(|p| {
                leaf_of(p).is_some_and(|leaf| {
                    path_gives_root(&leaf, p.leaf_index as u64, seal.tenant_count as u64, &p.audit_path, &root)
                })
            }),
            None => {
                let in_order = loaded.parts.iter().enumerate().all(|(i, p)| p.leaf_index as usize == i)
                    && loaded.parts.windows(2).all(|w| w[0].tenant_id < w[1].tenant_id)
                    && loaded.parts.len() == seal.tenant_count as usize;
                let leaves: Option<Vec<[u8; 32]>> = loaded.parts.iter().map(leaf_of).collect();
                in_order && leaves.and_then(|l| merkle_root(&l)) == Some(root)
            }
        };
        if !intact {
            let detail = "its tenants' leaves do not give its merkle_root".to_owned();
            self.report.push(seal, self.from, SealFault::MerkleRootMismatch, detail);
        }
    }
}

fn fields_of(seal: &Seal) -> Option<SealFields> {
    Some(SealFields {
        seal_number: seal.seal_number,
        prev_hash: seal.prev_hash.as_slice().try_into().ok()?,
        to_tx_id: seal.to.tx_id,
        to_position: seal.to.position,
        event_count: seal.event_count as u64,
        tenant_count: seal.tenant_count as u64,
        merkle_root: seal.merkle_root.as_slice().try_into().ok()?,
    })
}
