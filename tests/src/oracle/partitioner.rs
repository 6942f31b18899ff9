//! Which Kafka partition a keyed record lands in.
//!
//! The producer sets librdkafka's `partitioner=murmur2_random`, which is the Java client's
//! default partitioner for keyed records: `toPositive(murmur2(key)) % partitions`, where
//! `toPositive` clears the sign bit. This is a from-scratch version of that hash (32-bit
//! MurmurHash2 with Kafka's seed), checked against values printed by the Java client
//! (`org.apache.kafka.common.utils.Utils.murmur2`, kafka-clients 4.1.1).

/// Kafka's 32-bit MurmurHash2 of `data`, as Java's `Utils.murmur2` returns it (a signed int).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java mixes in the length as an int; keys are far shorter than 2^31 bytes.
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // The 1–3 trailing bytes, in Java's fall-through order (byte 2, then 1, then 0).
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if tail.len() >= 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition (0-based) of a record with key `key` in a topic of `partitions` partitions,
/// as the Java client and librdkafka's `murmur2_random` choose it.
///
/// # Panics
/// When `partitions` is not positive.
pub fn kafka_partition(key: &[u8], partitions: i32) -> i32 {
    assert!(partitions > 0, "a topic has at least one partition");
    (murmur2(key) & 0x7fff_ffff) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (key, Utils.murmur2(key), partition of 4, partition of 3), printed by kafka-clients 4.1.1.
    const JAVA: &[(&str, i32, i32, i32)] = &[
        ("21", -973_932_308, 0, 0),
        ("foobar", -790_332_482, 2, 0),
        ("a-little-bit-long-string", -985_981_536, 0, 2),
        ("a-little-bit-longer-string", -1_486_304_829, 3, 2),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
            1,
            2,
        ),
        ("abc", 479_470_107, 3, 0),
        ("", 275_646_681, 1, 0),
        ("a", -1_563_381_124, 0, 1),
        ("ab", 316_155_434, 2, 2),
        ("abcd", -1_323_649_548, 0, 2),
        ("0b3c6a46-3d0f-4c8e-9b1a-6f2f2a7c9e10", -513_584_008, 0, 1),
        ("été", -2_101_193_575, 1, 1),
    ];

    #[test]
    fn murmur2_matches_the_java_client() {
        for &(key, hash, _, _) in JAVA {
            assert_eq!(murmur2(key.as_bytes()), hash, "murmur2({key:?})");
        }
    }

    #[test]
    fn partitions_match_the_java_client() {
        for &(key, _, p4, p3) in JAVA {
            assert_eq!(kafka_partition(key.as_bytes(), 4), p4, "{key:?} of 4");
            assert_eq!(kafka_partition(key.as_bytes(), 3), p3, "{key:?} of 3");
        }
    }
}
