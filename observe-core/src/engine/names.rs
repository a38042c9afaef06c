//! Operation names: truncation to a maximum length, and counting the names folded
//! into the overflow entry with bounded memory.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};

/// The name of the entry that receives every record past the cap on distinct names.
pub const OVERFLOW_OPERATION: &str = "__overflow__";

/// `name` cut to at most `max_bytes`, at a character boundary.
pub(crate) fn truncate(name: &str, max_bytes: usize) -> &str {
    if name.len() <= max_bytes {
        return name;
    }
    let mut end = max_bytes;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

const REGISTER_BITS: u32 = 10;
const REGISTERS: usize = 1 << REGISTER_BITS;

/// A HyperLogLog sketch (1,024 registers, about 3 % standard error) of the distinct
/// names folded into the overflow entry: a flood of names costs 1 KiB, not a set.
#[derive(Debug)]
pub(crate) struct DistinctNames {
    registers: Box<[AtomicU8]>,
    hasher: foldhash::fast::FixedState,
    /// Whether any name was folded since the last clear: lets the estimate skip the
    /// registers in the common case of a collector under its cap.
    touched: AtomicBool,
}

impl DistinctNames {
    pub(crate) fn new() -> Self {
        Self {
            registers: (0..REGISTERS).map(|_| AtomicU8::new(0)).collect(),
            hasher: foldhash::fast::FixedState::with_seed(0x6f62_7365_7276_6521),
            touched: AtomicBool::new(false),
        }
    }

    pub(crate) fn insert(&self, name: &str) {
        let hash = self.hasher.hash_one(name);
        let idx = (hash >> (64 - REGISTER_BITS)) as usize;
        let rest = (hash << REGISTER_BITS) | (1 << (REGISTER_BITS - 1));
        let rank = (rest.leading_zeros() + 1) as u8;
        let register = &self.registers[idx];
        if rank > register.load(Relaxed) {
            register.fetch_max(rank, Relaxed);
        }
        if !self.touched.load(Relaxed) {
            self.touched.store(true, Relaxed);
        }
    }

    pub(crate) fn estimate(&self) -> u64 {
        if !self.touched.load(Relaxed) {
            return 0;
        }
        let m = REGISTERS as f64;
        let mut sum = 0.0;
        let mut zeros = 0u32;
        for register in self.registers.iter() {
            let rank = register.load(Relaxed);
            // 2^-rank, exactly, from the exponent bits (rank is at most 65).
            sum += f64::from_bits((1023 - u64::from(rank)) << 52);
            zeros += u32::from(rank == 0);
        }
        if zeros == REGISTERS as u32 {
            return 0;
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / f64::from(zeros)).ln()
        } else {
            raw
        };
        estimate.round() as u64
    }

    pub(crate) fn clear(&self) {
        self.touched.store(false, Relaxed);
        for register in self.registers.iter() {
            register.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("abc", 8), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("héllo", 2), "h"); // 'é' is two bytes
        assert_eq!(truncate("日本", 4), "日");
        assert_eq!(truncate("", 0), "");
        assert_eq!(truncate("x", 0), "");
    }

    #[test]
    fn distinct_names_are_estimated_within_a_few_percent() {
        let sketch = DistinctNames::new();
        assert_eq!(sketch.estimate(), 0);
        for i in 0..50_000 {
            sketch.insert(&format!("name-{i}"));
            sketch.insert(&format!("name-{i}")); // repeats do not count
        }
        let estimate = sketch.estimate() as f64;
        assert!(
            (estimate / 50_000.0 - 1.0).abs() < 0.1,
            "estimate {estimate}"
        );
        for i in 0..10 {
            sketch.insert(&i.to_string());
        }
        sketch.clear();
        assert_eq!(sketch.estimate(), 0);
    }

    #[test]
    fn small_counts_are_nearly_exact() {
        let sketch = DistinctNames::new();
        for i in 0..20 {
            sketch.insert(&i.to_string());
        }
        assert!((19..=21).contains(&sketch.estimate()));
    }
}
