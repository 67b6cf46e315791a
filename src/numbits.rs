//! Line-number sets in coverage.py's "numbits" format (the SQL functions over
//! them are registered by `store::functions`).
//!
//! A numbits blob is a little-endian bitmap: line `n` is bit `n % 8` of byte
//! `n / 8`. The behaviour matches `coverage.numbits` byte for byte, because the
//! blobs we write must be readable by coverage.py and the blobs it writes must
//! be queryable by us:
//! - encoding gives the shortest blob (last byte non-zero; empty set = empty blob);
//! - decoding accepts trailing zero bytes;
//! - union keeps the longer length and is not trimmed;
//! - intersection is trimmed of trailing zero bytes.

/// Encodes line numbers as the shortest numbits blob.
pub fn encode<I: IntoIterator<Item = u32>>(nums: I) -> Vec<u8> {
    let mut bytes = Vec::new();
    for n in nums {
        let index = (n / 8) as usize;
        if bytes.len() <= index {
            bytes.resize(index + 1, 0);
        }
        bytes[index] |= 1 << (n % 8);
    }
    bytes
}

/// Decodes a numbits blob into ascending line numbers.
pub fn decode(numbits: &[u8]) -> Vec<u32> {
    let mut nums = Vec::new();
    for (index, &byte) in numbits.iter().enumerate() {
        let mut rest = byte;
        while rest != 0 {
            let bit = rest.trailing_zeros();
            nums.push(index as u32 * 8 + bit);
            rest &= rest - 1;
        }
    }
    nums
}

/// The union of two blobs; as long as the longer one, not trimmed.
pub fn union(a: &[u8], b: &[u8]) -> Vec<u8> {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut out = long.to_vec();
    for (o, s) in out.iter_mut().zip(short) {
        *o |= s;
    }
    out
}

/// The intersection of two blobs, trimmed of trailing zero bytes.
pub fn intersection(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = a.iter().zip(b).map(|(x, y)| x & y).collect();
    while out.last() == Some(&0) {
        out.pop();
    }
    out
}

/// The lines of `a` that are not in `b`, trimmed of trailing zero bytes
/// (empty when none are left).
pub fn difference(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = a
        .iter()
        .enumerate()
        .map(|(i, x)| x & !b.get(i).copied().unwrap_or(0))
        .collect();
    while out.last() == Some(&0) {
        out.pop();
    }
    out
}

/// Whether two blobs share any line.
pub fn any_intersection(a: &[u8], b: &[u8]) -> bool {
    // Compare eight bytes at a time: this is the inner loop of selection.
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in ca.by_ref().zip(cb.by_ref()) {
        let x = u64::from_le_bytes(x.try_into().expect("chunk of 8"));
        let y = u64::from_le_bytes(y.try_into().expect("chunk of 8"));
        if x & y != 0 {
            return true;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .any(|(x, y)| x & y != 0)
}

/// Whether line `num` is in the blob.
pub fn contains(numbits: &[u8], num: u32) -> bool {
    numbits
        .get((num / 8) as usize)
        .is_some_and(|byte| byte & (1 << (num % 8)) != 0)
}

/// Formats numbers the way coverage.py's `numbits_to_nums` SQL function does:
/// a JSON list with ", " separators, e.g. `[1, 2, 3]`, `[]`.
pub fn to_json_text(numbits: &[u8]) -> String {
    let nums: Vec<String> = decode(numbits).iter().map(u32::to_string).collect();
    format!("[{}]", nums.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Vectors produced by coverage.py 7.17.3 (shared/reference/coveragepy-facts.md).
    #[test]
    fn difference_leaves_the_lines_of_one_not_in_the_other() {
        let a = encode([1, 5, 9, 30]);
        let b = encode([5, 30, 31]);
        assert_eq!(decode(&difference(&a, &b)), [1, 9]);
        assert!(difference(&b, &union(&a, &b)).is_empty());
        assert_eq!(decode(&difference(&a, &[])), [1, 5, 9, 30]);
    }

    #[test]
    fn encodes_like_coverage_py() {
        assert_eq!(hex(&encode([])), "");
        assert_eq!(hex(&encode([0])), "01");
        assert_eq!(hex(&encode([1])), "02");
        assert_eq!(hex(&encode([7])), "80");
        assert_eq!(hex(&encode([8])), "0001");
        assert_eq!(hex(&encode([1, 2, 3, 100])), "0e000000000000000000000010");
        assert_eq!(hex(&encode(1..=10)), "fe07");
        assert_eq!(hex(&encode([15, 16, 17])), "008003");
        let big = encode([1000]);
        assert_eq!(big.len(), 126);
        assert_eq!(big[125], 1);
        let b = encode([255, 256]);
        assert_eq!(b.len(), 33);
        assert_eq!(hex(&b[31..]), "8001");
    }

    #[test]
    fn set_operations_like_coverage_py() {
        let a = encode([1, 2, 3, 100]);
        let b = encode([3, 4]);
        assert_eq!(hex(&union(&a, &b)), "1e000000000000000000000010");
        assert_eq!(hex(&intersection(&a, &b)), "08");
        assert_eq!(hex(&intersection(&a, &encode([50]))), "");
        assert_eq!(hex(&union(&[0x0e, 0, 0, 0], &[0x02])), "0e000000");
        assert_eq!(hex(&intersection(&[0x0e, 0, 0, 0], &[0x0e, 0])), "0e");
        assert!(any_intersection(&a, &b));
        assert!(!any_intersection(&a, &encode([50])));
        assert!(!any_intersection(&a, &[]));
    }

    #[test]
    fn decode_accepts_trailing_zeros_and_round_trips() {
        assert_eq!(decode(&[0x0e, 0, 0, 0]), vec![1, 2, 3]);
        let nums = vec![0, 5, 63, 64, 65, 127, 128, 4000];
        assert_eq!(decode(&encode(nums.clone())), nums);
        assert!(contains(&encode(nums.clone()), 4000));
        assert!(!contains(&encode(nums), 4001));
        assert!(!contains(&[], 0));
    }

    #[test]
    fn any_intersection_finds_bits_in_every_word_position() {
        for n in 0..200 {
            let a = encode([n]);
            let b = encode([n, 500]);
            assert!(any_intersection(&a, &b), "line {n}");
            assert!(!any_intersection(&a, &encode([n + 1])), "line {n}");
        }
    }
}
