//! Content-only git helpers that need no repository: blob ids and line diffs.
//!
//! Both must agree exactly with the `git` command line, since their results are
//! compared with ids and hunks that git itself produced.

use git2::{DiffOptions, ObjectType, Oid, Patch};

use super::{Hunk, LineDiff};

/// Git looks only this far into a file for a NUL byte to call it binary
/// (`FIRST_FEW_BYTES` in git's xdiff-interface.c); we match it so that what
/// `git diff` shows as text we diff as text too.
const BINARY_PROBE_BYTES: usize = 8000;

/// The git blob id (SHA-1 hex) of `content`, identical to `git hash-object`.
pub fn blob_id(content: &[u8]) -> String {
    match Oid::hash_object(ObjectType::Blob, content) {
        Ok(oid) => oid.to_string(),
        // libgit2's built-in SHA-1 cannot fail, but an id is too important to
        // replace with a sentinel, so compute it ourselves rather than panic.
        Err(_) => sha1_blob_id(content),
    }
}

/// Whether git would treat `content` as binary.
pub fn is_binary(content: &[u8]) -> bool {
    content.iter().take(BINARY_PROBE_BYTES).any(|&b| b == 0)
}

/// The changed line ranges between `old` and `new`, with no context lines,
/// numbered as in git's unified-diff hunk headers.
///
/// Binary content (a NUL byte in the first 8000 bytes of either side, git's
/// own test) gives [`LineDiff::Binary`]. So does the practically impossible
/// failure of libgit2 to diff (e.g. inputs over its 1 GiB limit): callers must
/// already treat a binary change as touching the whole file, which is the
/// safe answer when no line diff is available.
pub fn diff_lines(old: &[u8], new: &[u8]) -> LineDiff {
    if is_binary(old) || is_binary(new) {
        return LineDiff::Binary;
    }
    if let Some(hunk) = one_fixed_run(old, new) {
        return LineDiff::Text(hunk.into_iter().collect());
    }
    libgit2_diff(old, new)
}

/// libgit2's diff of two texts, hunk by hunk.
fn libgit2_diff(old: &[u8], new: &[u8]) -> LineDiff {
    let mut opts = DiffOptions::new();
    opts.context_lines(0)
        .interhunk_lines(0)
        // We decided text vs binary above, as git does; stop libgit2 from
        // applying its own, different, heuristic.
        .force_text(true)
        // `git diff` has used the indent heuristic by default since 2.14; without
        // it ambiguous insertions would be placed differently than git shows them.
        .indent_heuristic(true);
    let Ok(patch) = Patch::from_buffers(old, None, new, None, Some(&mut opts)) else {
        return LineDiff::Binary;
    };
    if patch.delta().flags().is_binary() {
        return LineDiff::Binary;
    }
    let mut hunks = Vec::with_capacity(patch.num_hunks());
    for idx in 0..patch.num_hunks() {
        let Ok((hunk, _)) = patch.hunk(idx) else {
            return LineDiff::Binary;
        };
        hunks.push(Hunk {
            old_start: hunk.old_start(),
            old_lines: hunk.old_lines(),
            new_start: hunk.new_start(),
            new_lines: hunk.new_lines(),
        });
    }
    LineDiff::Text(hunks)
}

/// Runs of replaced lines longer than this go to libgit2: comparing every
/// old line of the run with every new one costs more than diffing.
const MAX_RUN_LINES: usize = 64;

/// The diff of the common edit without libgit2, which hashes both whole
/// texts first (1-2 ms for a 6,000-line module): one run of lines replaced
/// (or inserted, or deleted) between equal leading and trailing lines, where
/// no line of the old run equals a line of the new run and neither run could
/// slide (its first line differs from the line after it, its last from the
/// line before). git's answer is then this one hunk whatever its heuristics:
/// xdiff trims the equal ends the same way, finds nothing to keep between
/// runs with no line in common, and moves (and re-places, by the indent
/// heuristic) only runs that can slide. `Some(None)`: equal texts.
/// `None`: ask libgit2.
fn one_fixed_run(old: &[u8], new: &[u8]) -> Option<Option<Hunk>> {
    if old == new {
        return Some(None);
    }
    let ends = equal_ends(old, new);
    let line = |b: &u8| *b == b'\n';
    let old_run: Vec<&[u8]> = ends
        .old_middle
        .split_inclusive(line)
        .take(MAX_RUN_LINES + 1)
        .collect();
    let new_run: Vec<&[u8]> = ends
        .new_middle
        .split_inclusive(line)
        .take(MAX_RUN_LINES + 1)
        .collect();
    if old_run.len() > MAX_RUN_LINES || new_run.len() > MAX_RUN_LINES {
        return None;
    }
    if old_run.iter().any(|a| new_run.contains(a)) {
        return None;
    }
    let slides = |run: &[&[u8]]| match (run.first(), run.last()) {
        (Some(first), Some(last)) => {
            ends.first_trail == Some(*first) || ends.last_lead == Some(*last)
        }
        _ => false,
    };
    if slides(&old_run) || slides(&new_run) {
        return None;
    }
    let lead = u32::try_from(ends.lead).ok()?;
    let (old_lines, new_lines) = (
        u32::try_from(old_run.len()).ok()?,
        u32::try_from(new_run.len()).ok()?,
    );
    // git numbers an empty side by the line before it.
    let start = |lines: u32| if lines == 0 { lead } else { lead + 1 };
    Some(Some(Hunk {
        old_start: start(old_lines),
        old_lines,
        new_start: start(new_lines),
        new_lines,
    }))
}

/// Two texts' equal leading and trailing lines, as xdiff trims them before
/// diffing: the lines before the first that differs, and those after the
/// last, never reaching into the leading ones. Lines keep their `\n` (a
/// last line without one differs from the same line with one).
pub struct EqualEnds<'a> {
    /// How many lines lead.
    pub lead: usize,
    /// The last leading line, if any.
    pub last_lead: Option<&'a [u8]>,
    /// The first trailing line, if any.
    pub first_trail: Option<&'a [u8]>,
    /// What lies between, in each text.
    pub old_middle: &'a [u8],
    pub new_middle: &'a [u8],
}

/// Finds [`EqualEnds`] bytewise (memcmp blocks, memchr for line ends), not
/// line by line: a one-line change in a 6,000-line module costs microseconds.
pub fn equal_ends<'a>(old: &'a [u8], new: &'a [u8]) -> EqualEnds<'a> {
    let equal = equal_prefix(old, new);
    let lead_bytes = match equal == old.len() && equal == new.len() {
        // Equal texts: all lines lead, the last even without its `\n`.
        true => equal,
        false => memchr::memrchr(b'\n', &old[..equal]).map_or(0, |j| j + 1),
    };
    let lead = memchr::memchr_iter(b'\n', &old[..lead_bytes]).count()
        + usize::from(lead_bytes > 0 && old[lead_bytes - 1] != b'\n');
    let last_lead = lead_bytes.checked_sub(1).map(|end| {
        let start = memchr::memrchr(b'\n', &old[..end]).map_or(0, |j| j + 1);
        &old[start..lead_bytes]
    });
    // From the first line start (in both) inside the equal last bytes.
    let (rest_old, rest_new) = (&old[lead_bytes..], &new[lead_bytes..]);
    let equal = equal_suffix(rest_old, rest_new);
    let (from_old, from_new) = (rest_old.len() - equal, rest_new.len() - equal);
    let starts_line = |text: &[u8], at: usize| at == 0 || text[at - 1] == b'\n';
    let trail = if starts_line(rest_old, from_old) && starts_line(rest_new, from_new) {
        from_old
    } else {
        memchr::memchr(b'\n', &rest_old[from_old..]).map_or(rest_old.len(), |i| from_old + i + 1)
    };
    EqualEnds {
        lead,
        last_lead,
        first_trail: rest_old[trail..].split_inclusive(|b| *b == b'\n').next(),
        old_middle: &rest_old[..trail],
        new_middle: &rest_new[..trail - from_old + from_new],
    }
}

/// How many bytes `a` and `b` share at their start.
fn equal_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let n = a.len().min(b.len());
    // Whole blocks first (slice equality is a memcmp), then byte by byte.
    let mut i = 0;
    while i + BLOCK <= n && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    i + a[i..n]
        .iter()
        .zip(&b[i..n])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How many bytes `a` and `b` share at their end.
fn equal_suffix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut i = 0;
    while i + BLOCK <= n && a[n - i - BLOCK..n - i] == b[n - i - BLOCK..n - i] {
        i += BLOCK;
    }
    i + a[..n - i]
        .iter()
        .rev()
        .zip(b[..n - i].iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// SHA-1 of git's blob header and `content`, as lowercase hex (FIPS 180-4).
fn sha1_blob_id(content: &[u8]) -> String {
    let mut message = format!("blob {}\0", content.len()).into_bytes();
    message.extend_from_slice(content);
    let bit_len = (message.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());

    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, &wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hi = hi.wrapping_add(v);
        }
    }
    h.iter().map(|v| format!("{v:08x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestRepo;
    use super::*;

    fn h(old_start: u32, old_lines: u32, new_start: u32, new_lines: u32) -> Hunk {
        Hunk {
            old_start,
            old_lines,
            new_start,
            new_lines,
        }
    }

    /// Parses the hunk headers of `git diff --no-index -U0 old new`.
    fn git_hunks(t: &TestRepo, old: &[u8], new: &[u8]) -> LineDiff {
        t.write("old", old);
        t.write("new", new);
        let out = t.run_allow_fail(&["diff", "--no-index", "-U0", "old", "new"]);
        if out.contains("Binary files") {
            return LineDiff::Binary;
        }
        let parse = |s: &str| -> (u32, u32) {
            let mut it = s.splitn(2, ',');
            let start = it.next().unwrap_or("").parse().expect("start");
            let count = it.next().map_or(1, |c| c.parse().expect("count"));
            (start, count)
        };
        let hunks = out
            .lines()
            .filter_map(|l| l.strip_prefix("@@ -"))
            .map(|l| {
                let mut parts = l.split(' ');
                let (os, ol) = parse(parts.next().expect("old"));
                let (ns, nl) = parse(parts.next().expect("new").trim_start_matches('+'));
                h(os, ol, ns, nl)
            })
            .collect();
        LineDiff::Text(hunks)
    }

    /// Asserts our hunks equal git's and equal `expected`.
    fn check(t: &TestRepo, old: &[u8], new: &[u8], expected: LineDiff) {
        let ours = diff_lines(old, new);
        assert_eq!(ours, git_hunks(t, old, new), "differs from git diff -U0");
        assert_eq!(ours, expected);
    }

    #[test]
    fn diff_lines_match_git_diff_u0() {
        let t = TestRepo::new();
        // Modification of one line.
        check(
            &t,
            b"a\nb\nc\n",
            b"a\nB\nc\n",
            LineDiff::Text(vec![h(2, 1, 2, 1)]),
        );
        // Pure insertion after line 2: old_start is the line before the text.
        check(
            &t,
            b"a\nb\nc\n",
            b"a\nb\nx\ny\nc\n",
            LineDiff::Text(vec![h(2, 0, 3, 2)]),
        );
        // Insertion before line 1: old_start 0.
        check(
            &t,
            b"a\nb\n",
            b"x\na\nb\n",
            LineDiff::Text(vec![h(0, 0, 1, 1)]),
        );
        // Insertion at the end.
        check(&t, b"a\n", b"a\nb\n", LineDiff::Text(vec![h(1, 0, 2, 1)]));
        // Deletion of lines 2-3: new_start is the line before the gap.
        check(
            &t,
            b"a\nb\nc\nd\n",
            b"a\nd\n",
            LineDiff::Text(vec![h(2, 2, 1, 0)]),
        );
        // Deletion of the first line.
        check(&t, b"a\nb\n", b"b\n", LineDiff::Text(vec![h(1, 1, 0, 0)]));
        // Two separate hunks stay separate with no context.
        check(
            &t,
            b"1\n2\n3\n4\n5\n",
            b"1\nX\n3\nY\n5\n",
            LineDiff::Text(vec![h(2, 1, 2, 1), h(4, 1, 4, 1)]),
        );
        // CRLF vs LF is a change of every line.
        check(
            &t,
            b"a\nb\n",
            b"a\r\nb\r\n",
            LineDiff::Text(vec![h(1, 2, 1, 2)]),
        );
        // Whitespace-only changes are changes.
        check(
            &t,
            b"a\nb\n",
            b"a\nb \n",
            LineDiff::Text(vec![h(2, 1, 2, 1)]),
        );
        // Missing final newline on one side.
        check(&t, b"a\nb\n", b"a\nb", LineDiff::Text(vec![h(2, 1, 2, 1)]));
        check(&t, b"a\nb", b"a\nb\nc", LineDiff::Text(vec![h(2, 1, 2, 2)]));
        // Empty old (file added) and empty new (file emptied).
        check(&t, b"", b"a\nb\n", LineDiff::Text(vec![h(0, 0, 1, 2)]));
        check(&t, b"a\nb\n", b"", LineDiff::Text(vec![h(1, 2, 0, 0)]));
        // Identical contents, including both empty.
        check(&t, b"a\n", b"a\n", LineDiff::Text(vec![]));
        check(&t, b"", b"", LineDiff::Text(vec![]));
        // Binary on either side.
        check(&t, b"a\0b", b"a\0c", LineDiff::Binary);
        check(&t, b"text\n", b"\0", LineDiff::Binary);
    }

    #[test]
    fn diff_lines_places_sliders_like_git() {
        // An inserted Python function is ambiguous to Myers alone; git's indent
        // heuristic decides where the hunk goes, and we must agree.
        let t = TestRepo::new();
        let old = b"def a():\n    pass\n\n\ndef c():\n    pass\n";
        let new = b"def a():\n    pass\n\n\ndef b():\n    pass\n\n\ndef c():\n    pass\n";
        let ours = diff_lines(old, new);
        assert_eq!(ours, git_hunks(&t, old, new));
        assert_eq!(ours, LineDiff::Text(vec![h(4, 0, 5, 4)]));
    }

    #[test]
    fn one_edited_run_is_diffed_without_libgit2_only_when_it_cannot_slide() {
        let long: String = (0..6000).map(|i| format!("line {i}\n")).collect();
        let edited = long.replace("line 3000\n", "line 3000 + 1\n");
        assert_eq!(
            one_fixed_run(long.as_bytes(), edited.as_bytes()),
            Some(Some(h(3001, 1, 3001, 1)))
        );
        assert_eq!(one_fixed_run(b"a\n", b"a\n"), Some(None));
        assert_eq!(one_fixed_run(b"", b"x"), Some(Some(h(0, 0, 1, 1))));
        // An inserted line equal to the one after it may slide: libgit2's.
        assert_eq!(one_fixed_run(b"a\nb\n", b"a\nb\nb\n"), None);
        // Old and new runs sharing a line: libgit2's.
        assert_eq!(one_fixed_run(b"a\nx\ny\nb\n", b"a\ny\nz\nb\n"), None);
    }

    fn text(lines: &[u8], newline_at_end: bool) -> Vec<u8> {
        const LINES: [&str; 6] = ["a", "b", "", "    x = 1", "def f():", "  "];
        // Two long lines differing only at their ends: equal texts are
        // compared block by block before byte by byte.
        let long = |i: u8| format!("{}{}", "y".repeat(300), i);
        let mut out: Vec<u8> = lines
            .iter()
            .flat_map(|&i| match i {
                6 | 7 => format!("{}\n", long(i)).into_bytes(),
                _ => format!("{}\n", LINES[i as usize % LINES.len()]).into_bytes(),
            })
            .collect();
        if !newline_at_end {
            out.pop();
        }
        out
    }

    /// The text of `base` and of `base` with `removed` lines at `at` replaced
    /// by `inserted`, each ending in a newline or not.
    fn edited_pair(
        base: &[u8],
        at: usize,
        removed: usize,
        inserted: Vec<u8>,
        old_end: bool,
        new_end: bool,
    ) -> (Vec<u8>, Vec<u8>) {
        let at = at.min(base.len());
        let mut edited = base.to_vec();
        edited.splice(at..(at + removed).min(base.len()), inserted);
        (text(base, old_end), text(&edited, new_end))
    }

    proptest::proptest! {
        /// Few distinct lines, so that runs slide and share lines often; some
        /// of them long.
        #[test]
        fn diff_lines_equal_libgit2s_for_any_edit(
            base in proptest::collection::vec(0u8..8, 0..40),
            at in 0usize..40,
            removed in 0usize..5,
            inserted in proptest::collection::vec(0u8..8, 0..5),
            old_end: bool,
            new_end: bool,
        ) {
            let (old, new) = edited_pair(&base, at, removed, inserted, old_end, new_end);
            proptest::prop_assert_eq!(diff_lines(&old, &new), libgit2_diff(&old, &new));
        }
    }

    /// Lengths around the block size of the equal-ends scans, and any.
    fn block_edges() -> impl proptest::strategy::Strategy<Value = usize> {
        proptest::prop_oneof![0usize..4, 250usize..262, 506usize..518, 0usize..700]
    }

    proptest::proptest! {
        /// The leading and trailing lines, as counted line by line.
        #[test]
        fn equal_ends_are_the_equal_leading_and_trailing_lines(
            base in proptest::collection::vec(0u8..8, 0..40),
            at in 0usize..40,
            removed in 0usize..5,
            inserted in proptest::collection::vec(0u8..8, 0..5),
            old_end: bool,
            new_end: bool,
        ) {
            let (old, new) = edited_pair(&base, at, removed, inserted, old_end, new_end);
            let a: Vec<&[u8]> = old.split_inclusive(|b| *b == b'\n').collect();
            let b: Vec<&[u8]> = new.split_inclusive(|b| *b == b'\n').collect();
            let lead = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            let trail = a[lead..]
                .iter()
                .rev()
                .zip(b[lead..].iter().rev())
                .take_while(|(x, y)| x == y)
                .count();
            let ends = equal_ends(&old, &new);
            proptest::prop_assert_eq!(ends.lead, lead);
            proptest::prop_assert_eq!(ends.last_lead, lead.checked_sub(1).map(|i| a[i]));
            proptest::prop_assert_eq!(ends.first_trail, (trail > 0).then(|| a[a.len() - trail]));
            proptest::prop_assert_eq!(ends.old_middle, a[lead..a.len() - trail].concat());
            proptest::prop_assert_eq!(ends.new_middle, b[lead..b.len() - trail].concat());
        }

        /// Shared runs of any length around a difference anywhere.
        #[test]
        fn equal_ends_are_counted_as_byte_by_byte(
            head_len in block_edges(),
            a in proptest::collection::vec(0u8..3, 0..3),
            b in proptest::collection::vec(0u8..3, 0..3),
            tail_len in block_edges(),
            fill in 0u8..3,
        ) {
            let (head, tail) = (vec![fill; head_len], vec![fill; tail_len]);
            let x = [head.as_slice(), &a, &tail].concat();
            let y = [head.as_slice(), &b, &tail].concat();
            let naive_prefix = x.iter().zip(&y).take_while(|(p, q)| p == q).count();
            let naive_suffix = x.iter().rev().zip(y.iter().rev()).take_while(|(p, q)| p == q).count();
            proptest::prop_assert_eq!(equal_prefix(&x, &y), naive_prefix);
            proptest::prop_assert_eq!(equal_suffix(&x, &y), naive_suffix);
        }
    }

    #[test]
    fn blob_id_matches_git_hash_object() {
        let t = TestRepo::new();
        let mut inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"hello\n".to_vec(),
            b"no newline".to_vec(),
            b"bin\0ary\r\n\xff".to_vec(),
        ];
        // Lengths around SHA-1's padding boundaries ("blob NN\0" is 8 bytes).
        for len in [47, 48, 55, 56, 119, 120, 200] {
            inputs.push(vec![b'x'; len]);
        }
        for content in &inputs {
            t.write("obj", content);
            let expected = t.run(&["hash-object", "obj"]).trim().to_owned();
            assert_eq!(blob_id(content), expected);
            assert_eq!(sha1_blob_id(content), expected, "fallback SHA-1");
        }
    }
}
