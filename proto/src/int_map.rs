//! Hash maps keyed by numbers the gateway chooses itself (session keys,
//! gateway ids, progress tokens): a multiplicative hash instead of SipHash.
//!
//! SipHash protects maps whose keys an attacker picks (HashDoS); these keys
//! are sequential numbers the gateway allocates, so that protection buys
//! nothing, and the relay looks such keys up a dozen times per message
//! (SipHash was 7% of the gateway's instructions per request under load,
//! by callgrind). Maps keyed by client- or child-chosen ids keep SipHash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` for gateway-chosen integer keys. Never key it by values a
/// peer chooses.
pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// An empty [`IntMap`].
pub fn int_map<K, V>() -> IntMap<K, V> {
    HashMap::with_hasher(BuildHasherDefault::default())
}

/// Fx-style multiplicative hashing: one rotate, xor and multiply per
/// word. The multiplier is odd, so distinct integers keep distinct low
/// bits (the bucket index) and the high bits mix well.
#[derive(Clone, Copy, Debug, Default)]
pub struct IntHasher(u64);

const SEED: u64 = 0x517c_c1b7_2722_0a95;

impl IntHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.add(u64::from(byte));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    fn write_usize(&mut self, word: usize) {
        self.add(word as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_keys_spread_over_the_buckets() {
        let mut map = int_map();
        for key in 0u64..10_000 {
            map.insert(key, key);
        }
        for key in 0u64..10_000 {
            assert_eq!(map.get(&key), Some(&key));
        }
        // Low bits of the hashes of 0..1024 are all distinct.
        let mut low: Vec<u64> = (0u64..1024)
            .map(|key| {
                let mut hasher = IntHasher::default();
                hasher.write_u64(key);
                hasher.finish() & 1023
            })
            .collect();
        low.sort_unstable();
        low.dedup();
        assert_eq!(low.len(), 1024);
    }
}
