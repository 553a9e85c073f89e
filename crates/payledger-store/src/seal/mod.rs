//! Seals over the read order (docs/AUDIT.md §3): written behind the writers, listed, and
//! checked against the events.

mod hash;
mod read;
mod verify;
mod write;

pub use hash::{
    audit_path, leaf_hash, merkle_root, path_gives_root, seal_hash, SealFields, TenantDigest, GENESIS_SEAL_HASH,
};
pub use read::{latest_seal, list_seals, tenant_seals, Seal, TenantPart, TenantSeal};
pub use verify::{verify_seals, BrokenSeal, SealFault, SealReport};
pub use write::{seal_pending, SealPolicy, SEAL_MAX_EVENTS};
