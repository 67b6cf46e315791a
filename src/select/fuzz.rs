//! Property tests over every tokenizer and slicer of Python and test-file
//! text: any UTF-8 (box drawing, combining marks, emoji, NUL), any bytes
//! (invalid UTF-8, lone CR), unbalanced quotes and brackets, deep nesting.
//! None of them may panic: a panic while merging would lose a recording.
//!
//! Cases per property: `PROPTEST_CASES` (CI sets a bound; the default is
//! proptest's 256).

use proptest::prelude::*;

use super::analyze;
use crate::change::{Change, Status};
use crate::config::Config;
use crate::python::tokens::{self, strip_comments, word_lines};
use crate::python::{self, Outline};

/// Pieces that stress the lexers: delimiters, prefixes, escapes, line
/// endings, indentation, statements of every kind selection reads, and
/// characters outside ASCII.
fn fragment() -> impl Strategy<Value = String> {
    let fixed: Vec<&'static str> = vec![
        "\"",
        "'",
        "\"\"\"",
        "'''",
        "#",
        "\\",
        "\n",
        "\r\n",
        "\r",
        "    ",
        "\t",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ":",
        ",",
        ".",
        "=",
        "f\"{x!r:>{w}}\"",
        "rb'\\x00'",
        "u'''",
        "b\"",
        "def f(a=RATE, *b, **c) -> int:",
        "async def g():",
        "class K(B, metaclass=M):",
        "@functools.lru_cache(maxsize=None)",
        "@pytest.fixture(scope=\"session\")",
        "lambda: 0",
        "import x.y as z",
        "from . import a",
        "from ..p.q import (r,\n s)",
        "from m import *",
        "if __name__ == '__main__':",
        "return",
        "yield from",
        "x = (",
        "global G",
        "nonlocal n",
        "match v:",
        "case [a, *_]:",
        "try:",
        "except* E:",
        "with open('d/f.json') as f:",
        "__getattr__",
        "self.x",
        "test_case",
        "conftest",
        "pkg.mod",
        "'-m', 'shop.cli'",
        "╭─╮│╰╯",
        "é",
        "e\u{0301}",
        "👍🏽",
        "\u{200b}",
        "\u{feff}",
        "\0",
        "λ = 1",
        "变量",
        "\u{2028}",
        "\u{85}",
    ];
    prop_oneof![
        4 => proptest::sample::select(fixed).prop_map(str::to_string),
        2 => "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        1 => any::<char>().prop_map(String::from),
        1 => "\\PC{0,6}",
    ]
}

fn python_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(fragment(), 0..80).prop_map(|v| v.concat())
}

/// Python-like text with arbitrary bytes spliced in (invalid UTF-8 too).
fn python_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => fragment().prop_map(String::into_bytes),
            1 => proptest::collection::vec(any::<u8>(), 0..6),
        ],
        0..80,
    )
    .prop_map(|v| v.concat())
}

/// A second version of `old`: a few lines replaced, inserted or deleted.
fn edited(old: Vec<u8>) -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let lines = old.split(|&b| b == b'\n').count();
    proptest::collection::vec((0..lines.max(1), 0..3u8, python_like_bytes()), 1..4).prop_map(
        move |edits| {
            let mut v: Vec<Vec<u8>> = old.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            for (at, op, text) in edits {
                let at = at.min(v.len());
                match op {
                    0 if at < v.len() => v[at] = text,
                    1 if at < v.len() => {
                        v.remove(at);
                    }
                    _ => v.insert(at, text),
                }
            }
            (old.clone(), v.join(&b'\n'))
        },
    )
}

/// Every read of a parsed module selection and recording make.
fn exercise(path: &str, source: &[u8]) {
    let m = python::parse(source);
    let _ = (m.statements().len(), m.defs().len(), m.code_lines());
    let _ = (m.references(), m.test_functions(), m.imports());
    if let Some(b) = m.bindings(path) {
        let _ = b.own_names();
    }
    for line in 0..=m.line_count() + 1 {
        let _ = (m.statement_at(line), m.def_at(line), m.in_main_block(line));
    }
    let _ = (m.called_at_import("f"), m.called_in_main_block("main"));
    let _ = m.main_block_lines();
    let _ = crate::python::facts::compute(path, &m);
    if let Some(outline) = Outline::of(&m) {
        let text = outline.encode();
        let back = Outline::decode(&text).expect("an encoded outline decodes");
        assert_eq!(back.encode(), text);
    }
}

fn config() -> Config {
    Config::load(&std::env::temp_dir().join("impact-no-config")).expect("default config")
}

proptest! {
    #[test]
    fn test_side_tokens_accept_any_text(text in python_like()) {
        let stored = tokens::stored_quoted_tokens(&text);
        for line in stored.lines() {
            prop_assert!(line.split_once('\t').is_some(), "{line:?}");
        }
        let mut words = 0;
        let mut seen: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
        tokens::scan(&text, false, |w, l| {
            assert!(!w.is_empty());
            words += 1;
            let lines = seen.entry(w.to_string()).or_default();
            if lines.last() != Some(&l) {
                lines.push(l);
            }
        });
        // What is stored per test-side content is what a scan finds.
        prop_assert_eq!(tokens::word_index(&text), seen);
        for needle in ["x", "é", "shop.cli", "\"", "╭"] {
            for l in word_lines(&text, needle) {
                prop_assert!(l >= 1);
            }
        }
        let stripped = strip_comments(text.as_bytes());
        prop_assert_eq!(&stripped, &strip_comments_bytewise(text.as_bytes()));
        prop_assert_eq!(
            stripped.iter().filter(|&&b| b == b'\n').count(),
            text.bytes().filter(|&b| b == b'\n').count(),
            "strip_comments keeps line numbers"
        );
    }

    #[test]
    fn the_parser_accepts_any_bytes(source in python_like_bytes()) {
        exercise("pkg/mod.py", &source);
        exercise("tests/test_mod.py", &source);
        let _ = tokens::stored_quoted_tokens(&String::from_utf8_lossy(&source));
        prop_assert_eq!(strip_comments(&source), strip_comments_bytewise(&source));
        // What recording stores for a test file: decodes to itself.
        let text = String::from_utf8_lossy(&source);
        for path in ["tests/test_mod.py", "tests/conftest.py"] {
            let parsed = crate::python::mentions::parse(path, &text);
            let stored = crate::python::mentions::Mentions::of(path, &tokens::word_index(&text), &parsed);
            let back = crate::python::mentions::Mentions::decode(&stored.encode());
            prop_assert!(back.is_some());
            for line in 0..=text.lines().count() as u32 + 1 {
                prop_assert_eq!(back.as_ref().unwrap().at(line), stored.at(line));
                // Stored, a line classifies as it does parsed.
                let mut hits = std::collections::BTreeSet::new();
                crate::python::mentions::classify(path, &parsed, line, &mut hits);
                let hits: Vec<_> = hits.into_iter().collect();
                prop_assert_eq!(stored.at(line), hits.as_slice());
            }
            for (_, targets) in stored.targets() {
                prop_assert!(crate::python::mentions::Mentions::decode_targets(&targets).is_some());
            }
        }
    }

    #[test]
    fn changes_of_any_text_are_analysed(
        (old, new) in python_like_bytes().prop_flat_map(edited)
    ) {
        let _ = python::parse_pair(&old, &new);
        let _ = crate::change::diff::changed_lines(&old, &new);
        let config = config();
        for path in ["pkg/mod.py", "tests/test_mod.py", "tests/conftest.py", "data/x.json"] {
            for outline in [false, true] {
                let mut change =
                    Change::new(path.into(), Status::Modified, Some(old.clone()), Some(new.clone()));
                change.outline = outline.then(|| Outline::of(&python::parse(&old))).flatten();
                let effects = analyze::effects(&change, &config);
                let _ = analyze::describe(&effects, &change);
            }
        }
    }
}

/// The byte-by-byte original of [`strip_comments`] (which jumps with
/// memchr), kept as its oracle.
fn strip_comments_bytewise(src: &[u8]) -> Vec<u8> {
    // Works on bytes: source may be any encoding, and every delimiter is ASCII.
    const TRIPLE_DOUBLE: &[u8] = b"\"\"\"";
    const TRIPLE_SINGLE: &[u8] = b"'''";
    let mut out = Vec::with_capacity(src.len());
    let mut quote: Option<&[u8]> = None; // the open string's delimiter
    for line in src.split_inclusive(|&b| b == b'\n') {
        let (body, eol): (&[u8], &[u8]) = match line.strip_suffix(b"\n") {
            Some(b) => (b, b"\n"),
            None => (line, b""),
        };
        let mut i = 0;
        let mut cut = body.len();
        while i < body.len() {
            match quote {
                Some(q) => {
                    if body[i] == b'\\' {
                        i += 2;
                    } else if body[i..].starts_with(q) {
                        i += q.len();
                        quote = None;
                    } else {
                        i += 1;
                    }
                }
                None => match body[i] {
                    b'#' => {
                        cut = i;
                        break;
                    }
                    c @ (b'"' | b'\'') => {
                        let triple = if c == b'"' {
                            TRIPLE_DOUBLE
                        } else {
                            TRIPLE_SINGLE
                        };
                        if body[i..].starts_with(triple) {
                            quote = Some(triple);
                            i += 3;
                        } else {
                            quote = Some(if c == b'"' { b"\"" } else { b"'" });
                            i += 1;
                        }
                    }
                    _ => i += 1,
                },
            }
        }
        // A single-quoted string ends with its line, barring a backslash
        // continuation.
        if quote.is_some_and(|q| q.len() == 1) && !body.ends_with(b"\\") {
            quote = None;
        }
        let kept = &body[..cut];
        let end = kept
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |p| p + 1);
        out.extend_from_slice(&kept[..end]);
        out.extend_from_slice(eol);
    }
    out
}
