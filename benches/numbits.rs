//! Numbits operations on realistic blobs: a test's executed lines in one file
//! are a few runs of consecutive lines (about 50 lines in all), in files of
//! 200 to 5,000 lines (blobs of 25 to 625 bytes).
//!
//! `cargo bench --bench numbits`; throughput is over the bytes read (for
//! `encode`, the bytes written).

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use impact::numbits;

fn main() {
    divan::main();
}

/// File lengths in lines.
const FILE_LINES: &[u32] = &[200, 1_000, 5_000];

/// A deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % u64::from(n)) as u32
    }
}

/// About 50 lines in runs of 3-12 consecutive lines, spread over the file,
/// always including the file's last line so that the blob has its full length.
fn lines(seed: u64, file_lines: u32) -> Vec<u32> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    while out.len() < 50 {
        let start = 1 + rng.below(file_lines.saturating_sub(12).max(1));
        let len = 3 + rng.below(10);
        out.extend(start..(start + len).min(file_lines));
    }
    out.push(file_lines);
    out.sort_unstable();
    out.dedup();
    out
}

/// About 50 lines spread over the file that share none with `lines`, and
/// one past the end so that the blob is as long as the other.
fn disjoint(lines: &[u32], file_lines: u32) -> Vec<u32> {
    let mut out: Vec<u32> = (1..=file_lines)
        .filter(|n| lines.binary_search(n).is_err())
        .step_by(7)
        .take(50)
        .collect();
    out.push(file_lines + 1);
    out
}

#[divan::bench(args = FILE_LINES)]
fn encode(bencher: Bencher, file_lines: u32) {
    let nums = lines(1, file_lines);
    let out_len = numbits::encode(nums.iter().copied()).len();
    bencher
        .counter(BytesCount::new(out_len))
        .counter(ItemsCount::new(nums.len()))
        .bench(|| numbits::encode(divan::black_box(&nums).iter().copied()));
}

#[divan::bench(args = FILE_LINES)]
fn decode(bencher: Bencher, file_lines: u32) {
    let blob = numbits::encode(lines(1, file_lines));
    bencher
        .counter(BytesCount::new(blob.len()))
        .bench(|| numbits::decode(divan::black_box(&blob)));
}

#[divan::bench(args = FILE_LINES)]
fn union(bencher: Bencher, file_lines: u32) {
    let a = numbits::encode(lines(1, file_lines));
    let b = numbits::encode(lines(2, file_lines));
    bencher
        .counter(BytesCount::new(a.len() + b.len()))
        .bench(|| numbits::union(divan::black_box(&a), divan::black_box(&b)));
}

#[divan::bench(args = FILE_LINES)]
fn intersection(bencher: Bencher, file_lines: u32) {
    let a = numbits::encode(lines(1, file_lines));
    let b = numbits::encode(lines(2, file_lines));
    bencher
        .counter(BytesCount::new(a.len() + b.len()))
        .bench(|| numbits::intersection(divan::black_box(&a), divan::black_box(&b)));
}

/// No shared line: the whole length is compared (the common case when
/// selecting: most rows of a file do not contain the changed line).
#[divan::bench(args = FILE_LINES)]
fn any_intersection_miss(bencher: Bencher, file_lines: u32) {
    let a_lines = lines(1, file_lines);
    let b = numbits::encode(disjoint(&a_lines, file_lines));
    let a = numbits::encode(a_lines);
    assert!(!numbits::any_intersection(&a, &b));
    bencher
        .counter(BytesCount::new(a.len().min(b.len()) * 2))
        .bench(|| numbits::any_intersection(divan::black_box(&a), divan::black_box(&b)));
}

/// A changed one-line query against a test's lines, as `impact who PATH:LINE`
/// evaluates it per row: the query blob is short unless the line is far down.
#[divan::bench(args = FILE_LINES)]
fn any_intersection_one_line(bencher: Bencher, file_lines: u32) {
    let a_lines = lines(1, file_lines);
    let a = numbits::encode(a_lines.iter().copied());
    // The last line the test ran: the scan goes to the end of the query blob.
    let query = numbits::encode([*a_lines.last().expect("lines")]);
    assert!(numbits::any_intersection(&a, &query));
    bencher
        .counter(BytesCount::new(a.len().min(query.len()) * 2))
        .bench(|| numbits::any_intersection(divan::black_box(&a), divan::black_box(&query)));
}

/// `any_intersection` over 20,000 rows of one file (a core module's rows):
/// the pure computing cost under `impact who`, without SQLite.
#[divan::bench(args = FILE_LINES)]
fn any_intersection_scan_20k_rows(bencher: Bencher, file_lines: u32) {
    let rows: Vec<Vec<u8>> = (0..20_000)
        .map(|i| numbits::encode(lines(i, file_lines)))
        .collect();
    let query = numbits::encode([file_lines / 2]);
    let bytes: usize = rows.iter().map(|r| r.len().min(query.len()) * 2).sum();
    bencher.counter(BytesCount::new(bytes)).bench(|| {
        rows.iter()
            .filter(|r| numbits::any_intersection(r, divan::black_box(&query)))
            .count()
    });
}
