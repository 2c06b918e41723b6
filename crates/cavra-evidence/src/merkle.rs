//! RFC 6962 / RFC 9162 Merkle tree hashing: leaf = SHA-256(0x00 ‖ data),
//! node = SHA-256(0x01 ‖ left ‖ right), the split point of `n` leaves is the largest
//! power of two smaller than `n`. Leaves of the evidence log are the record lines
//! (canonical JSON, without the newline).

use sha2::{Digest, Sha256};

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// Hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// Hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

fn split(n: u64) -> u64 {
    // largest power of two strictly smaller than n (n >= 2)
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The compact range ("frontier") of a tree: the roots of the perfect subtrees of the
/// binary decomposition of its size, left to right. Enough to append leaves and compute
/// the root without keeping the leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// Empty tree.
    pub fn new() -> Self {
        Frontier::default()
    }
    /// Rebuild from a size and its node hashes; `None` when the count does not match.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Frontier { size, nodes })
    }
    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Node hashes, biggest subtree first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }
    /// Add a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut n = self.size;
        while n & 1 == 1 {
            let Some(left) = self.nodes.pop() else { break };
            h = node_hash(&left, &h);
            n >>= 1;
        }
        self.nodes.push(h);
        self.size += 1;
    }
    /// The tree head (root hash).
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        let mut r = *last;
        for n in it {
            r = node_hash(n, &r);
        }
        r
    }
    /// `(start, end, hash)` of each frontier node.
    pub fn ranges(&self) -> Vec<(u64, u64, Hash)> {
        let mut out = Vec::new();
        let mut start = 0u64;
        let mut i = 0;
        for bit in (0..64).rev() {
            if self.size & (1u64 << bit) != 0 {
                let end = start + (1u64 << bit);
                if let Some(h) = self.nodes.get(i) {
                    out.push((start, end, *h));
                }
                i += 1;
                start = end;
            }
        }
        out
    }
}

/// Leaves of a tree `[0, size)` where the first `prefix.size()` leaves are known only
/// through their frontier (pruned) and the rest explicitly.
pub struct PartialTree<'a> {
    pub prefix: &'a Frontier,
    pub leaves: &'a [Hash],
}

impl PartialTree<'_> {
    fn size(&self) -> u64 {
        self.prefix.size() + self.leaves.len() as u64
    }

    /// MTH of `[lo, hi)`; `None` when it needs pruned data.
    pub fn subtree(&self, lo: u64, hi: u64) -> Option<Hash> {
        let p = self.prefix.size();
        if hi <= p {
            return self
                .prefix
                .ranges()
                .into_iter()
                .find(|(s, e, _)| *s == lo && *e == hi)
                .map(|(_, _, h)| h);
        }
        if hi - lo == 1 {
            return self.leaves.get((lo - p) as usize).copied();
        }
        let k = split(hi - lo);
        Some(node_hash(
            &self.subtree(lo, lo + k)?,
            &self.subtree(lo + k, hi)?,
        ))
    }

    /// Root of the whole tree.
    pub fn root(&self) -> Option<Hash> {
        match self.size() {
            0 => Some(empty_root()),
            n => self.subtree(0, n),
        }
    }

    /// RFC 6962 audit path of leaf `m` in the tree `[0, size)`.
    pub fn inclusion_proof(&self, m: u64) -> Option<Vec<Hash>> {
        let n = self.size();
        if m >= n {
            return None;
        }
        let mut path = Vec::new();
        self.path(m, 0, n, &mut path)?;
        Some(path)
    }

    fn path(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) -> Option<()> {
        if hi - lo <= 1 {
            return Some(());
        }
        let k = split(hi - lo);
        if m < lo + k {
            self.path(m, lo, lo + k, out)?;
            out.push(self.subtree(lo + k, hi)?);
        } else {
            self.path(m, lo + k, hi, out)?;
            out.push(self.subtree(lo, lo + k)?);
        }
        Some(())
    }
}

/// Check an RFC 9162 inclusion proof (section 2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn frontier_matches_recursive_definition() {
        let mut f = Frontier::new();
        let mut leaves = Vec::new();
        for i in 0..70u32 {
            let l = leaf_hash(&i.to_be_bytes());
            leaves.push(l);
            f.push(l);
            assert_eq!(f.root(), mth(&leaves), "size {}", i + 1);
        }
    }

    /// RFC 6962 reference hashes of the empty tree and a one-leaf tree of empty data.
    #[test]
    fn known_vectors() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn proofs_verify_for_every_leaf_and_with_pruned_prefix() {
        let all: Vec<Hash> = (0..37u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in 1..=all.len() {
            let root = mth(&all[..n]);
            for p in 0..n {
                let mut pre = Frontier::new();
                all[..p].iter().for_each(|l| pre.push(*l));
                let t = PartialTree {
                    prefix: &pre,
                    leaves: &all[p..n],
                };
                assert_eq!(t.root(), Some(root));
                for m in p..n {
                    let path = t.inclusion_proof(m as u64).unwrap();
                    assert!(verify_inclusion(&all[m], m as u64, n as u64, &path, &root));
                    if m + 1 < n {
                        assert!(!verify_inclusion(
                            &all[m + 1],
                            m as u64,
                            n as u64,
                            &path,
                            &root
                        ));
                    }
                }
            }
        }
    }
}
