//! Splitting a selection across CI machines (`--shard K/N`): balanced by
//! recorded durations, deterministic, disjoint, and together exactly the
//! selection.
//!
//! Every shard computes the same split from the same data and diff, with no
//! coordination: known tests are placed greedily, longest first (LPT), each on
//! the least-loaded shard, ties broken by test id and then by the lowest shard
//! number; a test without a recorded duration counts as the median recorded
//! duration. Tests the data does not know (new tests, node-id prefixes) are
//! placed by a stable hash of their test file, [`unknown_shard`], which the
//! pytest plugin computes identically for node ids it collects (so a new test
//! runs in exactly one shard even when impact never saw it).
//!
//! Balance bound: greedy placement onto the least-loaded shard keeps the
//! spread between the busiest and the idlest shard at most the longest single
//! test, so the busiest shard's known load is at most the mean load plus the
//! longest test.

use std::collections::BTreeSet;
use std::str::FromStr;

use crate::select::{Mode, Selection};
use crate::store::TestRow;

/// One shard of N, numbered from 1 as on the command line (`--shard 2/4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1..=count.
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "failed to read shard `{text}`: expected K/N with 1 <= K <= N, e.g. `--shard 2/4`"
            )
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The 0-based shard of a test the data does not know: FNV-1a (64-bit) of the
/// UTF-8 bytes of its test file (the node id up to the first `::`), modulo
/// `count`. The plugin (`impact_pytest.py`, `_shard_of`) computes the same.
/// Hashing the file, not the whole id, keeps a new test file's tests and any
/// node-id prefix naming them in one shard.
pub fn unknown_shard(id: &str, count: usize) -> usize {
    let file = id.split("::").next().unwrap_or(id);
    let hash = file.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash % count.max(1) as u64) as usize
}

/// The part of a selection one shard runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Test ids (and node-id prefixes of unknown tests) this shard runs, sorted.
    pub tests: Vec<String>,
    /// How many entries the whole selection (or, on a full run, the known
    /// suite) has across all shards.
    pub of: usize,
    /// Recorded seconds of this part's known tests (the median standing in
    /// for a missing duration), and of all shards' known tests.
    pub seconds: f64,
    pub total_seconds: f64,
}

/// This shard's part of a selection. On a full-run verdict the whole known
/// suite is split; `tests` are what the data knows, with their durations.
pub fn part(selection: &Selection, tests: &[TestRow], shard: Shard) -> Part {
    let durations: std::collections::HashMap<&str, Option<f64>> = tests
        .iter()
        .map(|t| (t.nodeid.as_str(), t.duration))
        .collect();
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    match selection.mode {
        Mode::Full => known.extend(tests.iter().map(|t| (t.nodeid.clone(), t.duration))),
        Mode::Selected => {
            for id in selection.tests.keys() {
                match durations.get(id.as_str()) {
                    Some(d) => known.push((id.clone(), *d)),
                    None => unknown.push(id.clone()),
                }
            }
        }
    }
    let of = known.len() + unknown.len();
    // The median over every recorded test, not only the selected ones.
    let all: Vec<(String, Option<f64>)> = tests
        .iter()
        .map(|t| (t.nodeid.clone(), t.duration))
        .collect();
    let estimate = median_duration(&all);
    let seconds_of: std::collections::HashMap<&str, f64> = known
        .iter()
        .map(|(id, d)| (id.as_str(), usable(*d).unwrap_or(estimate)))
        .collect();
    let total_seconds = seconds_of.values().sum();
    let mut groups = split_with(&known, &unknown, shard.count, estimate);
    let tests = std::mem::take(&mut groups[shard.index - 1]);
    let seconds = tests
        .iter()
        .filter_map(|id| seconds_of.get(id.as_str()))
        .sum();
    Part {
        tests,
        of,
        seconds,
        total_seconds,
    }
}

/// The known tests of a selection that no shard runs (for skip bookkeeping).
pub fn unselected<'a>(selection: &Selection, known: &'a [String]) -> Vec<&'a String> {
    match selection.mode {
        Mode::Full => Vec::new(),
        Mode::Selected => {
            let chosen: BTreeSet<&str> = selection.tests.keys().map(String::as_str).collect();
            known
                .iter()
                .filter(|t| !chosen.contains(t.as_str()))
                .collect()
        }
    }
}

/// Splits tests into `count` groups. `known` are test ids the data holds, with
/// their recorded durations (seconds); `unknown` are ids or node-id prefixes it
/// does not know. Each group is sorted by id.
pub fn split(
    known: &[(String, Option<f64>)],
    unknown: &[String],
    count: usize,
) -> Vec<Vec<String>> {
    split_with(known, unknown, count, median_duration(known))
}

/// [`split`], with `estimate` seconds for a test without a usable duration.
fn split_with(
    known: &[(String, Option<f64>)],
    unknown: &[String],
    count: usize,
    estimate: f64,
) -> Vec<Vec<String>> {
    let count = count.max(1);
    let mut groups: Vec<Vec<String>> = vec![Vec::new(); count];
    let mut items: Vec<(f64, &str)> = known
        .iter()
        .map(|(id, d)| (usable(*d).unwrap_or(estimate), id.as_str()))
        .collect();
    // Longest first; equal durations in id order, so every machine agrees.
    items.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut loads = vec![0.0_f64; count];
    for (duration, id) in items {
        let (least, _) = loads
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1).then_with(|| a.0.cmp(&b.0)))
            .unwrap_or((0, &0.0));
        loads[least] += duration;
        groups[least].push(id.to_string());
    }
    for id in unknown {
        groups[unknown_shard(id, count)].push(id.clone());
    }
    for g in &mut groups {
        g.sort();
    }
    groups
}

/// A recorded duration worth trusting: finite and not negative.
fn usable(d: Option<f64>) -> Option<f64> {
    d.filter(|d| d.is_finite() && *d >= 0.0)
}

/// The median recorded duration, the estimate for tests without one (1 s
/// when nothing is recorded: any constant balances by count then).
fn median_duration(known: &[(String, Option<f64>)]) -> f64 {
    let mut ds: Vec<f64> = known.iter().filter_map(|(_, d)| usable(*d)).collect();
    if ds.is_empty() {
        return 1.0;
    }
    ds.sort_by(f64::total_cmp);
    let mid = ds.len() / 2;
    if ds.len() % 2 == 1 {
        ds[mid]
    } else {
        (ds[mid - 1] + ds[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn parses_k_of_n_and_rejects_the_rest() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "", "-1/3", "2/4/6"] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.starts_with("failed to read shard"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_file_hash_is_fnv1a_of_the_test_file() {
        // FNV-1a 64 test vectors: "" and "a".
        assert_eq!(unknown_shard("", usize::MAX) as u64, 0xcbf2_9ce4_8422_2325);
        assert_eq!(unknown_shard("a", usize::MAX) as u64, 0xaf63_dc4c_8601_ec8c);
        // Node ids and prefixes in one test file land together.
        let n = 7;
        let file = unknown_shard("tests/test_new.py", n);
        assert_eq!(unknown_shard("tests/test_new.py::test_a", n), file);
        assert_eq!(
            unknown_shard("tests/test_new.py::TestX::test_b[1]", n),
            file
        );
    }

    /// A deterministic spread of durations: many short tests, a few long ones,
    /// some unknown.
    fn generated(n: usize, seed: u64) -> Vec<(String, Option<f64>)> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|i| {
                let u = next();
                let d = if next() < 0.05 {
                    None
                } else if u < 0.9 {
                    Some(0.001 + u * 0.05)
                } else {
                    Some((u - 0.9) * 300.0)
                };
                (format!("tests/test_{:03}.py::test_{i}", i % 97), d)
            })
            .collect()
    }

    #[test]
    fn shards_are_disjoint_cover_everything_and_stay_within_the_bound() {
        for (tests, seed) in [(5_000, 1), (137, 2), (40, 3), (3, 4)] {
            let known = generated(tests, seed);
            let unknown: Vec<String> = (0..23).map(|i| format!("tests/new_{i}.py")).collect();
            let estimate = median_duration(&known);
            let duration = |id: &str| -> f64 {
                known
                    .iter()
                    .find(|(k, _)| k == id)
                    .map(|(_, d)| usable(*d).unwrap_or(estimate))
                    .unwrap_or(0.0)
            };
            for count in [1, 2, 3, 4, 8, 16] {
                let groups = split(&known, &unknown, count);
                assert_eq!(groups.len(), count);
                let mut seen = BTreeSet::new();
                for g in &groups {
                    for id in g {
                        assert!(seen.insert(id.clone()), "{id} is in two shards");
                    }
                }
                let all: BTreeSet<String> = known
                    .iter()
                    .map(|(id, _)| id.clone())
                    .chain(unknown.iter().cloned())
                    .collect();
                assert_eq!(seen, all, "the union of the shards is the input");

                let loads: Vec<f64> = groups
                    .iter()
                    .map(|g| g.iter().map(|id| duration(id)).sum())
                    .collect();
                let total: f64 = loads.iter().sum();
                let longest = known
                    .iter()
                    .map(|(_, d)| usable(*d).unwrap_or(estimate))
                    .fold(0.0, f64::max);
                let max = loads.iter().copied().fold(0.0, f64::max);
                let min = loads.iter().copied().fold(f64::INFINITY, f64::min);
                let eps = 1e-9 * total.max(1.0);
                assert!(
                    max <= total / count as f64 + longest + eps,
                    "{tests} tests / {count}: max {max} > mean {} + longest {longest}",
                    total / count as f64
                );
                assert!(
                    max - min <= longest + eps,
                    "spread {} > {longest}",
                    max - min
                );
                // Same input, same split: no machine-dependent state.
                assert_eq!(split(&known, &unknown, count), groups);
            }
        }
    }

    #[test]
    fn unknown_durations_count_as_the_median() {
        let known = vec![
            ("a".to_string(), Some(1.0)),
            ("b".to_string(), Some(3.0)),
            ("c".to_string(), Some(2.0)),
            ("d".to_string(), None),
            ("e".to_string(), Some(f64::NAN)),
        ];
        assert_eq!(median_duration(&known), 2.0);
        // b (3) -> 1, c (2) -> 2, d (2) -> 2, e (2) -> 1, a (1) -> 2.
        let groups = split(&known, &[], 2);
        assert_eq!(
            groups,
            vec![vec!["b", "e"], vec!["a", "c", "d"]]
                .into_iter()
                .map(|g| g.into_iter().map(String::from).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
    }

    fn row(id: &str, duration: Option<f64>) -> TestRow {
        TestRow {
            nodeid: id.into(),
            outcome: Some("passed".into()),
            duration,
            needs_run: false,
            imported: false,
        }
    }

    #[test]
    fn parts_of_a_selection_and_of_a_full_run() {
        let tests = vec![
            row("t.py::a", Some(4.0)),
            row("t.py::b", Some(1.0)),
            row("t.py::c", None),
            row("u.py::d", Some(2.0)),
        ];
        let mut selection = Selection {
            mode: Mode::Selected,
            reasons: vec![],
            tests: ["t.py::a", "t.py::c", "new.py::e"]
                .into_iter()
                .map(|t| (t.to_string(), BTreeSet::new()))
                .collect(),
            changed: vec![],
            ignored: vec![],
            total: 4,
            new: ["new.py::e".to_string()].into(),
            elapsed_ms: 0.0,
        };
        let parts: Vec<Part> = (1..=2)
            .map(|index| part(&selection, &tests, Shard { index, count: 2 }))
            .collect();
        let mut all: Vec<&String> = parts.iter().flat_map(|p| &p.tests).collect();
        all.sort();
        assert_eq!(all, ["new.py::e", "t.py::a", "t.py::c"]);
        assert!(parts.iter().all(|p| p.of == 3));
        // c has no duration: the median of all recorded ones (4, 1, 2).
        assert_eq!(parts[0].total_seconds, 6.0);
        assert_eq!(parts[0].seconds + parts[1].seconds, 6.0);
        assert_eq!(
            unselected(
                &selection,
                &tests.iter().map(|t| t.nodeid.clone()).collect::<Vec<_>>()
            ),
            ["t.py::b", "u.py::d"]
        );

        selection.mode = Mode::Full;
        selection.tests.clear();
        let parts: Vec<Part> = (1..=3)
            .map(|index| part(&selection, &tests, Shard { index, count: 3 }))
            .collect();
        let count: usize = parts.iter().map(|p| p.tests.len()).sum();
        assert_eq!(count, 4, "the known suite, split");
        assert_eq!(parts[0].tests, ["t.py::a"], "the longest test alone");
    }
}
