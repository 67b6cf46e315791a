//! Parsing only the parts of a file that changed.
//!
//! Selection analyses a changed file by its statements, both in the baseline
//! and in the current version; parsing both whole costs about a millisecond
//! per few kilobytes, which dominates `impact select` when many files
//! change. A file is a sequence of top-level statements, a class or function
//! body a sequence of member statements, and a change inside some of them
//! cannot alter how the others parse. So only the statements a change
//! touches (and their neighbours, which insertions are mapped to) are parsed,
//! on both sides, inside the headers of the definitions around them; every
//! other line is parsed as blank, so line numbers stay the file's. What
//! selection needs of the rest comes from the baseline's [`Outline`],
//! computed when the file was recorded.
//!
//! The result must be what a whole parse would give for every line selection
//! looks at. So parts are only used when their boundaries are clean: the
//! baseline parsed without errors (it has an outline); the change does not
//! reach the first line of the statements it is isolated in (that could
//! join it to the statement before, or change a block's indentation), unless
//! the statement before is parsed too; both versions parse without errors;
//! the changed statements stay inside the definition they were isolated in;
//! no part ends in a line continuation; and the line numbering agrees with
//! git's. Otherwise the caller parses whole. Tests compare the effects
//! computed both ways over many edits.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{
    DefKind, MAX_ANALYSED_BYTES, Module, Scope, build, count_lines, module_from, normalize,
};
use crate::git::Hunk;

/// What selection needs to know of a whole file when it parses only parts:
/// the spans of its top-level statements and of the statements in each
/// definition's body, every definition's qualified name and lines, and the
/// names that import-time code and the `__main__` block reference. Stored
/// per baseline content (see the `impact_outline` table).
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
/// last body line), and for parsing inside it, the last line of its header
/// and the spans of its body's statements (absent in outlines written
/// before they were recorded: nothing inside such a definition is isolated).
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
    #[serde(rename = "h", default)]
    header_end: u32,
    #[serde(rename = "m", default, skip_serializing_if = "Vec::is_empty")]
    members: Vec<(u32, u32)>,
}

impl DefSpan {
    /// Header and body lines, when the outline recorded where the header
    /// ends.
    pub fn header_and_body(&self) -> Option<super::DefLines> {
        // A one-line definition's body is on its header's line.
        (self.header_end >= self.start && self.header_end > 0).then_some((
            (self.start, self.header_end),
            ((self.header_end + 1).min(self.end), self.end),
        ))
    }

    pub fn kind(&self) -> DefKind {
        if self.class {
            DefKind::Class
        } else {
            DefKind::Function
        }
    }
}

/// The code outside the parsed parts of a partial [`Module`].
#[derive(Debug, Clone, Default)]
pub(super) struct Outside {
    pub defs: Vec<DefSpan>,
    pub import_time_refs: BTreeSet<String>,
    pub main_refs: BTreeSet<String>,
    pub main_blocks: Vec<(u32, u32)>,
}

/// What to parse for a set of hunks, in baseline numbering: the changed
/// parts (each a run of whole statements at one level, with every hunk
/// inside one of them) and the definitions whose headers give them their
/// context (indexes into [`Outline::defs`]).
#[derive(Debug, Default)]
struct Plan {
    parts: Vec<Part>,
}

#[derive(Debug)]
struct Part {
    lines: (u32, u32),
    /// The definitions around it, outermost first.
    context: Vec<usize>,
    /// The hunk it holds.
    hunk: Hunk,
}

impl Plan {
    /// Where a range of the baseline that starts at `line` starts in the
    /// current version: moved by the hunks before it, except that lines
    /// inserted just before it by a hunk of a part it holds belong to it.
    fn start_in_new(&self, hunks: &[Hunk], line: u32) -> u32 {
        let own: i64 = self
            .parts
            .iter()
            .filter(|p| {
                p.hunk.old_lines == 0
                    && p.hunk.old_start + 1 == line
                    && p.lines.0 <= line
                    && line <= p.lines.1
            })
            .map(|p| i64::from(p.hunk.new_lines))
            .sum();
        u32::try_from(i64::from(moved(hunks, line)) - own).unwrap_or(line)
    }

    /// Every line range parsed: the parts and their context headers.
    fn kept(&self, outline: &Outline) -> Vec<(u32, u32)> {
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for p in &self.parts {
            ranges.push(p.lines);
            for &d in &p.context {
                let def = &outline.defs[d];
                ranges.push((def.start, def.header_end));
            }
        }
        merge(ranges)
    }
}

/// Sorted ranges with overlapping and adjacent ones joined.
fn merge(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
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
                .enumerate()
                .map(|(i, d)| DefSpan {
                    qualname: d.qualname.clone(),
                    class: d.kind == DefKind::Class,
                    start: d.header.0,
                    end: d.body.1,
                    header_end: d.header.1,
                    members: m.members.get(i).cloned().unwrap_or_default(),
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

    /// What to parse for these hunks, given the baseline's lines: for each
    /// hunk, the statements it touches at the deepest level it can be
    /// isolated at (inside a class or function when it lies within one of
    /// its body's statements), with the statements around it that the
    /// analysis may look at (a pure insertion is mapped to the statements
    /// before and after it) or that a clean boundary needs (a change to a
    /// statement's first line could join it to the statement before).
    fn plan(&self, hunks: &[Hunk], old_lines: &[&str]) -> Plan {
        // Lines that look like code hold code in a clean parse (the parser
        // counts more lines as code, inside strings, never fewer).
        let looks_code = |l: u32| {
            old_lines
                .get(l.saturating_sub(1) as usize)
                .is_some_and(|t| build::looks_like_code(t))
        };
        let mut plan = Plan::default();
        for h in hunks {
            let mut units: &[(u32, u32)] = &self.tops;
            let mut context: Vec<usize> = Vec::new();
            // The statement the current level is the body of.
            let mut around: Option<(u32, u32)> = None;
            let part = loop {
                let Some((lo, hi)) = self.choose(units, h, around.is_some(), &looks_code) else {
                    // Not at this level: the statement around it, whole.
                    context.pop();
                    break around.expect("only a body's level has no clean boundary");
                };
                // One definition whose body holds the change: go inside it.
                let single = units.contains(&(lo, hi));
                let inside = self.defs.iter().position(|d| {
                    single
                        && d.start == lo
                        && d.end <= hi
                        && !d.members.is_empty()
                        && h.old_start > d.header_end
                });
                match inside {
                    Some(d) => {
                        context.push(d);
                        around = Some((lo, hi));
                        units = &self.defs[d].members;
                    }
                    None => break (lo, hi),
                }
            };
            plan.parts.push(Part {
                lines: part,
                context,
                hunk: *h,
            });
        }
        plan
    }

    /// The statements of `units` (one level: the module's, or a body's) a
    /// hunk touches, with the neighbours it needs: `None` when it needs one
    /// that is not there inside a body (the body's start or end is no clean
    /// boundary, the file's is).
    fn choose(
        &self,
        units: &[(u32, u32)],
        h: &Hunk,
        inner: bool,
        looks_code: &dyn Fn(u32) -> bool,
    ) -> Option<(u32, u32)> {
        let inserted = h.old_lines == 0;
        let (a, b) = if inserted {
            // Inserted after line `old_start`: the lines around.
            (h.old_start.max(1), (h.old_start + 1).min(self.lines))
        } else {
            (h.old_start, h.old_start + h.old_lines - 1)
        };
        let before = units.iter().rev().find(|t| t.1 < a);
        let after = units.iter().find(|t| t.0 > b);
        let first = units.iter().find(|t| t.1 >= a && t.0 <= b);
        let last = units.iter().rev().find(|t| t.1 >= a && t.0 <= b);
        let with_before = || match before {
            Some(t) => Some(a.min(t.0)),
            None if inner => None,
            None => Some(a.min(1)),
        };
        let with_after = || match after {
            Some(t) => Some(b.max(t.1)),
            None if inner => None,
            None => Some(b.max(self.lines)),
        };
        match (first, last) {
            // Inside statements: they bound the part, unless the change
            // reaches the first one's first line, or an insertion may find
            // no code after it before their end.
            (Some(f), Some(l)) => {
                let lo = if a > f.0 && (!inserted || h.old_start >= f.0) {
                    f.0
                } else {
                    with_before()?
                };
                let code_after = !inserted || (h.old_start + 1..=l.1).any(looks_code);
                let hi = if code_after {
                    b.max(l.1)
                } else {
                    with_after()?
                };
                Some((lo, hi))
            }
            // Only blank lines and comments between statements.
            _ => Some((with_before()?, with_after()?)),
        }
    }

    /// The outline's facts outside the parsed lines (`parsed`, baseline
    /// numbering), with lines moved to the current version by `to_new`.
    fn outside(&self, parsed: &dyn Fn(u32) -> bool, to_new: &dyn Fn(u32) -> u32) -> Outside {
        let refs = |entries: &[(u32, u32, Vec<String>)]| -> BTreeSet<String> {
            entries
                .iter()
                .filter(|(s, _, _)| !parsed(*s))
                .flat_map(|(_, _, r)| r.iter().cloned())
                .collect()
        };
        Outside {
            defs: self
                .defs
                .iter()
                .filter(|d| !parsed(d.start))
                .map(|d| DefSpan {
                    start: to_new(d.start),
                    end: to_new(d.end),
                    members: Vec::new(),
                    ..d.clone()
                })
                .collect(),
            import_time_refs: refs(&self.import_time),
            main_refs: refs(&self.main),
            main_blocks: self
                .main_blocks
                .iter()
                .filter(|(s, _)| !parsed(*s))
                .map(|&(s, e)| (to_new(s), to_new(e)))
                .collect(),
        }
    }
}

/// Where a baseline line not inside any hunk is in the current version:
/// moved by the hunks before it.
fn moved(hunks: &[Hunk], line: u32) -> u32 {
    let shift: i64 = hunks
        .iter()
        .filter(|h| h.old_start + h.old_lines.max(1) <= line)
        .map(|h| i64::from(h.new_lines) - i64::from(h.old_lines))
        .sum();
    u32::try_from(i64::from(line) + shift).unwrap_or(line)
}

/// Where a baseline range that ends at `line` ends in the current version:
/// before the line after it, which the hunks up to and inside it move.
fn end_moved(hunks: &[Hunk], line: u32) -> u32 {
    moved(hunks, line + 1).saturating_sub(1)
}

/// Parses the baseline `old` and the current `new` of a file only where
/// `hunks` (a diff from `old` to `new`) change them, using the baseline's
/// outline for the rest. `None` when that cannot be done exactly: the
/// caller then parses both whole ([`super::parse_pair`]).
///
/// The modules are partial ([`Module::is_partial`]): statement lookups hold
/// for every line inside the parsed parts, which cover all changed lines and
/// the statements around them; the definitions around a part are parsed
/// from their headers and keep their whole extent; [`Module::called_at_import`],
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
    let (old_count, new_count) = (
        count_lines(old_text.as_bytes()),
        count_lines(new_text.as_bytes()),
    );
    if old_count != outline.lines || old_count == 0 {
        return None;
    }
    let shift: i64 = hunks
        .iter()
        .map(|h| i64::from(h.new_lines) - i64::from(h.old_lines))
        .sum();
    if i64::from(old_count) + shift != i64::from(new_count) {
        return None;
    }
    let old_lines: Vec<&str> = old_text.split('\n').collect();
    let new_lines: Vec<&str> = new_text.split('\n').collect();
    let plan = outline.plan(hunks, &old_lines);
    let kept = plan.kept(outline);
    // Every hunk lies inside a part: a part's first line stays where the
    // hunks before it move it, its last line moves by those inside it too.
    let new_kept: Vec<(u32, u32)> = kept
        .iter()
        .map(|&(a, b)| (plan.start_in_new(hunks, a), end_moved(hunks, b)))
        .collect();
    let old_part = keep_only(&old_lines, &kept);
    let new_part = keep_only(&new_lines, &new_kept);
    if new_kept
        .iter()
        .any(|&(a, b)| ends_in_continuation(&new_lines, a, b))
    {
        return None;
    }
    let (a, b) = build::build_pair(&old_part, old_count, &new_part, new_count);
    if a.has_errors || b.has_errors {
        return None;
    }
    let mut a = module_from(a, old_count);
    let mut b = module_from(b, new_count);
    fit_parts(&mut a, &mut b, &plan, outline, hunks)?;
    let parsed = |line: u32| kept.iter().any(|&(a, b)| a <= line && line <= b);
    a.outside = Some(Box::new(outline.outside(&parsed, &|l| l)));
    b.outside = Some(Box::new(outline.outside(&parsed, &|l| moved(hunks, l))));
    Some((a, b))
}

/// Parses `text` only around `lines` (ascending, each once), as if each
/// run of them were replaced by itself: the statements holding them and the
/// definitions around them, by [`parse_pair_in_regions`]. For looking up a
/// few lines of an unchanged file (where a word occurs) without parsing it
/// whole; `None` when it cannot be done exactly.
pub fn parse_around(text: &[u8], outline: &Outline, lines: &[u32]) -> Option<Module> {
    let mut hunks: Vec<Hunk> = Vec::new();
    for &line in lines {
        match hunks.last_mut() {
            Some(h) if h.old_start + h.old_lines == line => {
                h.old_lines += 1;
                h.new_lines += 1;
            }
            _ => hunks.push(Hunk {
                old_start: line,
                old_lines: 1,
                new_start: line,
                new_lines: 1,
            }),
        }
    }
    parse_pair_in_regions(text, text, outline, &hunks).map(|(m, _)| m)
}

/// The definitions around each parsed part hold more than was parsed of
/// them: gives them their whole extent in both versions. `None` when a
/// changed statement is no longer inside the definition it was isolated in
/// (dedented out of it).
fn fit_parts(
    a: &mut Module,
    b: &mut Module,
    plan: &Plan,
    outline: &Outline,
    hunks: &[Hunk],
) -> Option<()> {
    for part in &plan.parts {
        let Some(&inner) = part.context.last() else {
            continue;
        };
        for &d in &part.context {
            let def = &outline.defs[d];
            let old_end = def.end;
            let new_end = end_moved(hunks, def.end);
            widen(a, def, def.start, old_end)?;
            widen(b, def, moved(hunks, def.start), new_end)?;
        }
        // The changed statements must still be inside the definition they
        // were isolated in (not dedented out of it).
        let def = &outline.defs[inner];
        let id = b
            .defs
            .iter()
            .position(|x| x.header.0 == moved(hunks, def.start) && x.qualname == def.qualname)?;
        let (lo, hi) = (
            plan.start_in_new(hunks, part.lines.0),
            end_moved(hunks, part.lines.1),
        );
        let escaped = b
            .statements
            .iter()
            .filter(|s| s.start >= lo && s.start <= hi)
            .any(|s| !within(b, s.scope, id));
        if escaped {
            return None;
        }
    }
    Some(())
}

/// Gives the parsed definition of `def` (found by qualified name and first
/// line) the extent it has in the file; `None` when it is not there.
fn widen(m: &mut Module, def: &DefSpan, start: u32, end: u32) -> Option<()> {
    let d = m
        .defs
        .iter_mut()
        .find(|x| x.header.0 == start && x.qualname == def.qualname)?;
    d.body.1 = d.body.1.max(end);
    Some(())
}

/// Whether a statement with this scope runs inside definition `id` (or one
/// nested in it).
fn within(m: &Module, scope: Scope, id: usize) -> bool {
    let mut cur = match scope {
        Scope::Module => None,
        Scope::Class(d) | Scope::Function(d) => Some(d),
    };
    while let Some(d) = cur {
        if d == id {
            return true;
        }
        cur = m.defs.get(d).and_then(|x| x.parent);
    }
    false
}

fn has_lone_cr(src: &[u8]) -> bool {
    src.iter()
        .enumerate()
        .any(|(i, &c)| c == b'\r' && src.get(i + 1) != Some(&b'\n'))
}

/// The text with every line outside `ranges` (1-based, sorted) blank, so
/// that what is kept parses at its own line numbers.
fn keep_only(lines: &[&str], ranges: &[(u32, u32)]) -> String {
    let mut out = String::with_capacity(lines.len() * 2);
    let mut r = ranges.iter().peekable();
    for (i, line) in lines.iter().enumerate() {
        let n = i as u32 + 1;
        while r.peek().is_some_and(|&&(_, b)| b < n) {
            r.next();
        }
        if r.peek().is_some_and(|&&(a, _)| a <= n) {
            out.push_str(line);
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
    out
}

/// Whether the last line of `a..=b` holding anything ends in a backslash,
/// which would join it to the line after.
fn ends_in_continuation(lines: &[&str], a: u32, b: u32) -> bool {
    (a..=b)
        .rev()
        .filter_map(|n| lines.get(n.saturating_sub(1) as usize))
        .map(|l| l.trim_end())
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.ends_with('\\'))
}
