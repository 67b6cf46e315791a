//! Line diffs of our own, for comparisons that need not agree with git to
//! the line: where code changed between two versions with comments removed
//! (which lines a change touches, not how git would show them). Reported
//! hunks and recorded line numbers come from git's own diff (`git::diff_lines`).
//!
//! Myers' greedy algorithm gives a shortest edit script, numbered as `git
//! diff -U0` numbers hunks, so callers treat both alike. Common prefix and
//! suffix are skipped first: a typical change leaves a few lines to compare.

use crate::git::Hunk;

/// Past this many differing lines (after the common prefix and suffix), the
/// quadratic trace is not worth it: `None`, and the caller asks git.
const MAX_MIDDLE: usize = 4_000;

/// The changed line ranges from `old` to `new`, with no context lines;
/// `None` when the texts differ too much to compute it cheaply here.
pub fn changed_lines(old: &[u8], new: &[u8]) -> Option<Vec<Hunk>> {
    let ends = crate::git::equal_ends(old, new);
    let prefix = ends.lead;
    let (a, b) = (lines(ends.old_middle), lines(ends.new_middle));
    let (a, b) = (a.as_slice(), b.as_slice());
    if a.len() + b.len() > MAX_MIDDLE {
        return None;
    }
    let mut hunks = Vec::new();
    let base = u32::try_from(prefix).ok()?;
    let mut run: Option<(u32, u32, u32, u32)> = None; // old/new start and count
    let mut flush = |run: &mut Option<(u32, u32, u32, u32)>| {
        if let Some((os, ol, ns, nl)) = run.take() {
            // git numbers an empty side by the line before it.
            hunks.push(Hunk {
                old_start: if ol == 0 { os - 1 } else { os },
                old_lines: ol,
                new_start: if nl == 0 { ns - 1 } else { ns },
                new_lines: nl,
            });
        }
    };
    let (mut i, mut j) = (0u32, 0u32);
    for step in script(a, b) {
        match step {
            Step::Keep => {
                flush(&mut run);
                i += 1;
                j += 1;
            }
            Step::Delete => {
                let r = run.get_or_insert((base + i + 1, 0, base + j + 1, 0));
                r.1 += 1;
                i += 1;
            }
            Step::Insert => {
                let r = run.get_or_insert((base + i + 1, 0, base + j + 1, 0));
                r.3 += 1;
                j += 1;
            }
        }
    }
    flush(&mut run);
    Some(hunks)
}

/// Lines as git splits them: at '\n', which stays with its line (a last
/// line without one differs from the same line with one).
fn lines(text: &[u8]) -> Vec<&[u8]> {
    text.split_inclusive(|&c| c == b'\n').collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Keep,
    Delete,
    Insert,
}

/// A shortest edit script from `a` to `b` (Myers 1986), deletions before
/// insertions within a change.
fn script(a: &[&[u8]], b: &[&[u8]]) -> Vec<Step> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let offset = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    let mut trace: Vec<Vec<isize>> = Vec::new();
    'outer: for d in 0..=max as isize {
        trace.push(v.clone());
        let mut k = -d;
        while k <= d {
            let idx = (k + offset) as usize;
            let mut x = if k == -d || (k != d && v[idx - 1] < v[idx + 1]) {
                v[idx + 1]
            } else {
                v[idx - 1] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[idx] = x;
            if x >= n && y >= m {
                break 'outer;
            }
            k += 2;
        }
    }
    // Walk back through the trace.
    let mut steps = Vec::new();
    let (mut x, mut y) = (n, m);
    for (d, v) in trace.iter().enumerate().rev() {
        let d = d as isize;
        let k = x - y;
        let idx = (k + offset) as usize;
        let prev_k = if k == -d || (k != d && v[idx - 1] < v[idx + 1]) {
            k + 1
        } else {
            k - 1
        };
        let prev_x = v[(prev_k + offset) as usize];
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            steps.push(Step::Keep);
            x -= 1;
            y -= 1;
        }
        if d > 0 {
            steps.push(if x == prev_x {
                Step::Insert
            } else {
                Step::Delete
            });
        }
        x = prev_x;
        y = prev_y;
    }
    steps.reverse();
    // Within each run of changes, deletions first (as git shows them).
    let mut out = Vec::with_capacity(steps.len());
    let mut pending_ins = 0;
    for s in steps {
        match s {
            Step::Insert => pending_ins += 1,
            Step::Delete => out.push(Step::Delete),
            Step::Keep => {
                out.extend(std::iter::repeat_n(Step::Insert, pending_ins));
                pending_ins = 0;
                out.push(Step::Keep);
            }
        }
    }
    out.extend(std::iter::repeat_n(Step::Insert, pending_ins));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::{LineDiff, diff_lines};

    /// `new` rebuilt from `old` and the hunks: the hunks describe the change.
    fn apply(old: &[u8], new: &[u8], hunks: &[Hunk]) -> Vec<u8> {
        let (a, b) = (lines(old), lines(new));
        let mut out = Vec::new();
        let mut next_old = 0usize; // 0-based index of the next old line to copy
        for h in hunks {
            let first_changed = if h.old_lines == 0 {
                h.old_start as usize
            } else {
                h.old_start as usize - 1
            };
            for l in &a[next_old..first_changed] {
                out.extend_from_slice(l);
            }
            let new_first = if h.new_lines == 0 {
                h.new_start as usize
            } else {
                h.new_start as usize - 1
            };
            for l in &b[new_first..new_first + h.new_lines as usize] {
                out.extend_from_slice(l);
            }
            next_old = first_changed + h.old_lines as usize;
        }
        for l in &a[next_old..] {
            out.extend_from_slice(l);
        }
        out
    }

    fn size(hunks: &[Hunk]) -> u32 {
        hunks.iter().map(|h| h.old_lines + h.new_lines).sum()
    }

    #[test]
    fn shortest_scripts_numbered_like_git() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let words = [
            "a\n",
            "b\n",
            "c\n",
            "def f():\n",
            "    return 1\n",
            "\n",
            "x",
        ];
        for _ in 0..2_000 {
            let old: Vec<u8> = (0..next(12))
                .flat_map(|_| words[next(words.len() as u64) as usize].bytes())
                .collect();
            let mut new = old.clone();
            for _ in 0..1 + next(3) {
                let at = next(new.len() as u64 + 1) as usize;
                let len = (next(6) as usize).min(new.len() - at);
                let with = words[next(words.len() as u64) as usize].repeat(next(3) as usize);
                new.splice(at..at + len, with.bytes());
            }
            let ours = changed_lines(&old, &new).expect("small");
            assert_eq!(
                apply(&old, &new, &ours),
                new,
                "{old:?} -> {new:?}: {ours:?}"
            );
            let LineDiff::Text(git) = diff_lines(&old, &new) else {
                panic!("text")
            };
            assert!(
                size(&ours) <= size(&git),
                "{old:?} -> {new:?}: {ours:?} vs git {git:?}"
            );
            assert_eq!(ours.is_empty(), git.is_empty());
        }
        // An insertion at the top, a deletion at the end, git's numbering.
        assert_eq!(
            changed_lines(b"a\nb\n", b"x\na\n").unwrap(),
            vec![
                Hunk {
                    old_start: 0,
                    old_lines: 0,
                    new_start: 1,
                    new_lines: 1
                },
                Hunk {
                    old_start: 2,
                    old_lines: 1,
                    new_start: 2,
                    new_lines: 0
                },
            ]
        );
    }
}
