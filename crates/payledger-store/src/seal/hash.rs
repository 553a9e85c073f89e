//! The bytes a seal commits to (docs/AUDIT.md §3): per tenant a digest of its events in read
//! order and a Merkle leaf, the leaves' RFC 6962 tree, and the seal's own hash.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `prev_hash` of seal 1.
pub const GENESIS_SEAL_HASH: [u8; 32] = [0; 32];
const SEAL_TAG: &[u8; 17] = b"payledger-seal-v1";
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// One tenant's events of a seal, fed in read order.
#[derive(Clone, Default)]
pub struct TenantDigest {
    hasher: Sha256,
    pub event_count: u64,
}

impl TenantDigest {
    pub fn add(&mut self, tx_id: u64, position: i64, event_hash: &[u8]) {
        self.hasher.update(tx_id.to_be_bytes());
        self.hasher.update(position.to_be_bytes());
        self.hasher.update(event_hash);
        self.event_count += 1;
    }

    pub fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

/// `leaf_T = SHA256(0x00 || tenant_id || u64be(event_count) || digest)`.
pub fn leaf_hash(tenant_id: Uuid, event_count: u64, digest: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(tenant_id.as_bytes());
    hasher.update(event_count.to_be_bytes());
    hasher.update(digest);
    hasher.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The largest power of two below `n` (n >= 2).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 §2.1 Merkle tree hash of the leaves (`None` for no leaf: a seal has at least one).
pub fn merkle_root(leaves: &[[u8; 32]]) -> Option<[u8; 32]> {
    match leaves.len() {
        0 => None,
        1 => Some(leaves[0]),
        n => {
            let k = split_point(n);
            Some(node_hash(&merkle_root(&leaves[..k])?, &merkle_root(&leaves[k..])?))
        }
    }
}

/// RFC 6962 §2.1.1 audit path of leaf `index`: siblings from the leaf up to the root.
pub fn audit_path(leaves: &[[u8; 32]], index: usize) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 || index >= n {
        return Vec::new();
    }
    let k = split_point(n);
    let (mut path, sibling) = if index < k {
        (audit_path(&leaves[..k], index), merkle_root(&leaves[k..]))
    } else {
        (audit_path(&leaves[k..], index - k), merkle_root(&leaves[..k]))
    };
    path.extend(sibling);
    path
}

/// RFC 9162 §2.1.3.2: whether `leaf` at `index` of a tree of `size` leaves and its `path`
/// give `root`.
pub fn path_gives_root(leaf: &[u8; 32], index: u64, size: u64, path: &[[u8; 32]], root: &[u8; 32]) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode, mut r) = (index, size - 1, *leaf);
    for p in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// The fields of a seal its hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealFields {
    pub seal_number: i64,
    pub prev_hash: [u8; 32],
    pub to_tx_id: u64,
    pub to_position: i64,
    pub event_count: u64,
    pub tenant_count: u64,
    pub merkle_root: [u8; 32],
}

/// `hash_k` of docs/AUDIT.md §3.
pub fn seal_hash(fields: &SealFields) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(SEAL_TAG);
    hasher.update(fields.prev_hash);
    hasher.update((fields.seal_number as u64).to_be_bytes());
    hasher.update(fields.to_tx_id.to_be_bytes());
    hasher.update(fields.to_position.to_be_bytes());
    hasher.update(fields.event_count.to_be_bytes());
    hasher.update(fields.tenant_count.to_be_bytes());
    hasher.update(fields.merkle_root);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<[u8; 32]> {
        (0..n).map(|i| leaf_hash(Uuid::from_u128(i as u128), i as u64 + 1, &[i as u8; 32])).collect()
    }

    #[test]
    fn every_leaf_of_every_tree_size_proves_its_inclusion() {
        for n in 1..=17 {
            let leaves = leaves(n);
            let root = merkle_root(&leaves).unwrap();
            for (i, leaf) in leaves.iter().enumerate() {
                let path = audit_path(&leaves, i);
                assert!(path_gives_root(leaf, i as u64, n as u64, &path, &root), "n={n} i={i}");
                // Another leaf, index or size does not.
                let other = leaf_hash(Uuid::nil(), 0, &[0xff; 32]);
                assert!(!path_gives_root(&other, i as u64, n as u64, &path, &root));
                if n > 1 {
                    assert!(!path_gives_root(leaf, ((i + 1) % n) as u64, n as u64, &path, &root), "n={n} i={i}");
                }
            }
        }
    }

    #[test]
    fn the_tree_is_rfc_6962s_shape() {
        let l = leaves(3);
        // MTH of 3 leaves: split at 2.
        let expected = node_hash(&node_hash(&l[0], &l[1]), &l[2]);
        assert_eq!(merkle_root(&l), Some(expected));
        assert_eq!(audit_path(&l, 2), vec![node_hash(&l[0], &l[1])]);
        assert_eq!(audit_path(&l, 0), vec![l[1], l[2]]);
        assert_eq!(merkle_root(&[]), None);
    }

    #[test]
    fn the_seal_hash_covers_every_field() {
        let base = SealFields {
            seal_number: 3,
            prev_hash: [1; 32],
            to_tx_id: 900,
            to_position: 77,
            event_count: 10,
            tenant_count: 2,
            merkle_root: [2; 32],
        };
        let h = seal_hash(&base);
        let variants = [
            SealFields { seal_number: 4, ..base.clone() },
            SealFields { prev_hash: [9; 32], ..base.clone() },
            SealFields { to_tx_id: 901, ..base.clone() },
            SealFields { to_position: 78, ..base.clone() },
            SealFields { event_count: 11, ..base.clone() },
            SealFields { tenant_count: 3, ..base.clone() },
            SealFields { merkle_root: [3; 32], ..base.clone() },
        ];
        for v in variants {
            assert_ne!(seal_hash(&v), h, "{v:?}");
        }
    }

    #[test]
    fn a_digest_depends_on_order_and_every_part() {
        let mut a = TenantDigest::default();
        a.add(5, 1, &[1; 32]);
        a.add(5, 2, &[2; 32]);
        let mut b = TenantDigest::default();
        b.add(5, 2, &[2; 32]);
        b.add(5, 1, &[1; 32]);
        let mut c = TenantDigest::default();
        c.add(6, 1, &[1; 32]);
        c.add(5, 2, &[2; 32]);
        let (a, b, c) = (a.finish(), b.finish(), c.finish());
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
