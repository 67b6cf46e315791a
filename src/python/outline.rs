//! Parsing only the regions of a file that changed.
//!
//! Selection analyses a changed file by its statements, both in the baseline
//! and in the current version; parsing both whole costs about a millisecond
//! per few kilobytes, which dominates `impact select` when many files
//! change. A file is a sequence of top-level statements, and a change inside
//! some of them cannot alter how the others parse: so only the top-level
//! statements a change touches (and their neighbours, which insertions are
//! mapped to) are parsed, on both sides, and what selection needs of the
//! rest comes from the baseline's [`Outline`], computed when the file was
//! recorded.
//!
//! The result must be what a whole parse would give for every line
//! selection looks at. So a region is only used when its boundaries are
//! clean: the baseline parsed without errors (it has an outline), both
//! regions parse without errors on their own (a string or bracket opened by
//! the change and closed after the region would be one), the new region does
//! not end in a line continuation, and the line numbering agrees with git's.
//! Otherwise the caller parses whole. Tests compare the effects computed
//! both ways over many edits.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{DefKind, MAX_ANALYSED_BYTES, Module, build, count_lines, module_from, normalize};
use crate::git::Hunk;

/// What selection needs to know of a whole file when it parses only parts:
/// the top-level statement spans, every definition's qualified name and
/// lines, and the names that import-time code and the `__main__` block
/// reference. Stored per baseline content (see the `impact_outline` table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outline {
    /// Format version; another version is not used.
    v: u32,
    lines: u32,
    tops: Vec<(u32, u32)>,
    defs: Vec<DefSpan>,
    /// Statements that run at import (module scope, not a def, class or
    /// import, not under `__main__`): lines and names referenced.
    import_time: Vec<(u32, u32, Vec<String>)>,
    /// Body ranges of `if __name__ == "__main__":` blocks.
    main_blocks: Vec<(u32, u32)>,
    /// Statements inside those blocks: lines and names referenced.
    main: Vec<(u32, u32, Vec<String>)>,
}

const VERSION: u32 = 1;

/// A definition's qualified name, kind and lines (first header line ..=
/// last body line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct DefSpan {
    #[serde(rename = "q")]
    pub qualname: String,
    #[serde(rename = "c")]
    pub class: bool,
    #[serde(rename = "s")]
    pub start: u32,
    #[serde(rename = "e")]
    pub end: u32,
}

impl DefSpan {
    pub fn kind(&self) -> DefKind {
        if self.class {
            DefKind::Class
        } else {
            DefKind::Function
        }
    }
}

/// The code outside the parsed regions of a partial [`Module`].
#[derive(Debug, Clone, Default)]
pub(super) struct Outside {
    pub defs: Vec<DefSpan>,
    pub import_time_refs: BTreeSet<String>,
    pub main_refs: BTreeSet<String>,
    pub main_blocks: Vec<(u32, u32)>,
}

impl Outline {
    /// The outline of a parsed file; `None` when it has syntax errors (its
    /// statements cannot be trusted to end where a partial parse needs).
    pub fn of(m: &Module) -> Option<Outline> {
        if m.has_errors || m.opaque || m.outside.is_some() {
            return None;
        }
        let mut import_time = Vec::new();
        let mut main = Vec::new();
        for s in &m.statements {
            let entry = || (s.start, s.end, s.refs.clone());
            if m.in_main_block(s.start) {
                main.push(entry());
            } else if super::runs_at_import(s) {
                import_time.push(entry());
            }
        }
        Some(Outline {
            v: VERSION,
            lines: m.line_count,
            tops: m.tops.clone(),
            defs: m
                .defs
                .iter()
                .map(|d| DefSpan {
                    qualname: d.qualname.clone(),
                    class: d.kind == DefKind::Class,
                    start: d.header.0,
                    end: d.body.1,
                })
                .collect(),
            import_time,
            main_blocks: m.main_blocks.clone(),
            main,
        })
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the stored form; `None` for anything else (another version,
    /// damage): the file is then parsed whole.
    pub fn decode(text: &str) -> Option<Outline> {
        serde_json::from_str::<Outline>(text)
            .ok()
            .filter(|o| o.v == VERSION)
    }

    /// The line range (baseline numbering) to parse for these hunks, given
    /// the baseline's text: every top-level statement a hunk touches, and
    /// the statements around it that the analysis may look at (a pure
    /// insertion is mapped to the statements before and after it) or that a
    /// clean boundary needs (a change to a statement's first line could
    /// join it to the statement before). `None` when there are no hunks.
    fn region(&self, hunks: &[Hunk], old_text: &str) -> Option<(u32, u32)> {
        let text_lines: Vec<&str> = old_text.split('\n').collect();
        // Lines that look like code hold code in a clean parse (the parser
        // counts more lines as code, inside strings, never fewer).
        let looks_code = |l: u32| {
            let t = text_lines
                .get(l.saturating_sub(1) as usize)
                .map_or("", |t| t.trim());
            !t.is_empty() && !t.starts_with('#') && t != "\\"
        };
        let mut region: Option<(u32, u32)> = None;
        for h in hunks {
            let inserted = h.old_lines == 0;
            let (a, b) = if inserted {
                // Inserted after line `old_start`: the lines around.
                (h.old_start.max(1), (h.old_start + 1).min(self.lines))
            } else {
                (h.old_start, h.old_start + h.old_lines - 1)
            };
            let before = self.tops.iter().rev().find(|t| t.1 < a);
            let after = self.tops.iter().find(|t| t.0 > b);
            let first = self.tops.iter().find(|t| t.1 >= a && t.0 <= b);
            let last = self.tops.iter().rev().find(|t| t.1 >= a && t.0 <= b);
            let with_before = || a.min(before.map_or(1, |t| t.0));
            let with_after = || b.max(after.map_or(self.lines, |t| t.1));
            let (lo, hi) = match (first, last) {
                // Inside statements: they bound the region, unless the
                // change reaches the first one's first line, or an insertion
                // may find no code after it before their end.
                (Some(f), Some(l)) => {
                    let lo = if a > f.0 && (!inserted || h.old_start >= f.0) {
                        f.0
                    } else {
                        with_before()
                    };
                    let code_after = !inserted || (h.old_start + 1..=l.1).any(looks_code);
                    let hi = if code_after { b.max(l.1) } else { with_after() };
                    (lo, hi)
                }
                // Only blank lines and comments between statements.
                _ => (with_before(), with_after()),
            };
            region = Some(match region {
                None => (lo, hi),
                Some((x, y)) => (x.min(lo), y.max(hi)),
            });
        }
        region
    }

    /// The outline's facts outside `lo..=hi`, with lines after it moved by
    /// `shift`.
    fn outside(&self, lo: u32, hi: u32, shift: i64) -> Outside {
        let out_of = |s: u32, e: u32| e < lo || s > hi;
        let at = |l: u32| {
            if l > hi {
                u32::try_from(i64::from(l) + shift).unwrap_or(l)
            } else {
                l
            }
        };
        let refs = |entries: &[(u32, u32, Vec<String>)]| -> BTreeSet<String> {
            entries
                .iter()
                .filter(|(s, e, _)| out_of(*s, *e))
                .flat_map(|(_, _, r)| r.iter().cloned())
                .collect()
        };
        Outside {
            defs: self
                .defs
                .iter()
                .filter(|d| out_of(d.start, d.end))
                .map(|d| DefSpan {
                    start: at(d.start),
                    end: at(d.end),
                    ..d.clone()
                })
                .collect(),
            import_time_refs: refs(&self.import_time),
            main_refs: refs(&self.main),
            main_blocks: self
                .main_blocks
                .iter()
                .filter(|(s, e)| out_of(*s, *e))
                .map(|&(s, e)| (at(s), at(e)))
                .collect(),
        }
    }
}

/// Parses the baseline `old` and the current `new` of a file only where
/// `hunks` (a diff from `old` to `new`) change them, using the baseline's
/// outline for the rest. `None` when that cannot be done exactly: the
/// caller then parses both whole ([`super::parse_pair`]).
///
/// The modules are partial ([`Module::is_partial`]): statement lookups hold
/// for every line inside the parsed regions, which cover all changed lines
/// and the statements around them; [`Module::called_at_import`],
/// [`Module::called_in_main_block`], [`Module::in_main_block`],
/// [`Module::main_block_lines`] and [`Module::def_lines`] answer for the
/// whole file.
pub fn parse_pair_in_regions(
    old: &[u8],
    new: &[u8],
    outline: &Outline,
    hunks: &[Hunk],
) -> Option<(Module, Module)> {
    if old.len() > MAX_ANALYSED_BYTES || new.len() > MAX_ANALYSED_BYTES {
        return None;
    }
    // Python ends a line at a lone '\r', git does not: the hunks' line
    // numbers would not be the parser's.
    if has_lone_cr(old) || has_lone_cr(new) {
        return None;
    }
    let (old_text, new_text) = (normalize(old), normalize(new));
    let (old_lines, new_lines) = (
        count_lines(old_text.as_bytes()),
        count_lines(new_text.as_bytes()),
    );
    if old_lines != outline.lines || old_lines == 0 {
        return None;
    }
    let shift: i64 = hunks
        .iter()
        .map(|h| i64::from(h.new_lines) - i64::from(h.old_lines))
        .sum();
    if i64::from(old_lines) + shift != i64::from(new_lines) {
        return None;
    }
    let Some((lo, hi)) = outline.region(hunks, &old_text) else {
        // Nothing changed in code: nothing to parse.
        let empty = || module_from(build::build("", 0), 0);
        let mut a = empty();
        let mut b = empty();
        a.line_count = old_lines;
        b.line_count = new_lines;
        a.outside = Some(Box::new(outline.outside(1, 0, 0)));
        b.outside = Some(Box::new(outline.outside(1, 0, 0)));
        return Some((a, b));
    };
    // Every hunk lies inside the region, so the new region starts on the
    // same line and ends `shift` lines later.
    let new_hi = u32::try_from(i64::from(hi) + shift).ok()?;
    let old_part = lines_of(&old_text, lo, hi)?;
    let new_part = if new_hi >= lo {
        lines_of(&new_text, lo, new_hi)?
    } else {
        ""
    };
    if ends_in_continuation(new_part) {
        return None;
    }
    let (a, b) = build::build_pair(
        old_part,
        count_lines(old_part.as_bytes()),
        new_part,
        count_lines(new_part.as_bytes()),
    );
    if a.has_errors || b.has_errors {
        return None;
    }
    let offset = lo - 1;
    let mut a = module_from(build::relocate(a, offset, old_lines), old_lines);
    let mut b = module_from(build::relocate(b, offset, new_lines), new_lines);
    a.outside = Some(Box::new(outline.outside(lo, hi, 0)));
    b.outside = Some(Box::new(outline.outside(lo, hi, shift)));
    Some((a, b))
}

fn has_lone_cr(src: &[u8]) -> bool {
    src.iter()
        .enumerate()
        .any(|(i, &c)| c == b'\r' && src.get(i + 1) != Some(&b'\n'))
}

/// Lines `lo..=hi` (1-based) of `text`, with their line ends.
fn lines_of(text: &str, lo: u32, hi: u32) -> Option<&str> {
    let bytes = text.as_bytes();
    let start_of = |line: u32| -> Option<usize> {
        if line <= 1 {
            return Some(0);
        }
        let mut seen = 1;
        for (i, &c) in bytes.iter().enumerate() {
            if c == b'\n' {
                seen += 1;
                if seen == line {
                    return Some(i + 1);
                }
            }
        }
        None
    };
    let from = start_of(lo)?;
    let to = start_of(hi + 1).unwrap_or(bytes.len());
    text.get(from..to.max(from))
}

/// Whether the last line holding anything ends in a backslash, which
/// would join it to the line after the region.
fn ends_in_continuation(text: &str) -> bool {
    text.lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.ends_with('\\'))
}
