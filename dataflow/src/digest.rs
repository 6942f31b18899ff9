//! Keyed 128-bit digests of strings from the stream, for state that only needs to tell them
//! apart: deduplication's `event_id`s ([`crate::dedup`]) and the distinct users of a window
//! ([`crate::visitors`]).
//!
//! A string from the open internet may be of any length; its [`Digest`] is 16 bytes, kept
//! inline in a hash table (no allocation per entry, no string comparison per lookup). Two
//! different strings count as one only when their digests collide. The keys are drawn at
//! random for each state ([`DigestKeys::random`]), so nobody outside can aim for a collision,
//! and by chance one takes about 2^64 strings. A table of digests needs no hash of its own:
//! the digest's first half is the bucket hash ([`DigestHasher`]).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use siphasher::sip128::{Hasher128, SipHasher13};

/// A string's SipHash-1-3 digest under some [`DigestKeys`]: two 64-bit halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest([u64; 2]);

impl Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a keyed hash: half of it is as good a bucket hash as any.
        state.write_u64(self.0[0]);
    }
}

/// The hasher of tables keyed by [`Digest`]: takes the digest's first half as it is.
#[derive(Debug, Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `Digest` is hashed with it, through `write_u64`; any other key still spreads.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The `BuildHasher` of `HashMap<Digest, _>` and `HashSet<Digest>`.
pub type BuildDigestHasher = BuildHasherDefault<DigestHasher>;

/// The two 64-bit SipHash keys of one state's digests.
#[derive(Debug, Clone, Copy)]
pub struct DigestKeys(u64, u64);

impl DigestKeys {
    /// Keys from the standard library's per-process randomness: different for every state
    /// and every run.
    pub fn random() -> Self {
        let state = RandomState::new();
        DigestKeys(state.hash_one(0u8), state.hash_one(1u8))
    }

    /// The digest of `s` under these keys.
    pub fn digest(&self, s: &str) -> Digest {
        let mut h = SipHasher13::new_with_keys(self.0, self.1);
        h.write(s.as_bytes());
        let d = h.finish128();
        Digest([d.h1, d.h2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn equal_strings_equal_digests_and_keys_matter() {
        let (a, b) = (DigestKeys::random(), DigestKeys::random());
        assert_eq!(a.digest("user-1"), a.digest("user-1"));
        assert_ne!(a.digest("user-1"), a.digest("user-2"));
        assert_ne!(a.digest("user-1"), b.digest("user-1"));
        // A set of digests counts distinct strings.
        let set: HashSet<Digest, BuildDigestHasher> = ["x", "y", "x", "", "y", "z"]
            .iter()
            .map(|s| a.digest(s))
            .collect();
        assert_eq!(set.len(), 4);
    }
}
