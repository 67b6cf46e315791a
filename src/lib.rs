//! `impact`: run only the tests a change can affect.
//!
//! The data flows through one folder per stage:
//!
//! - [`change`]: a git diff ([`git`]) against the recorded baselines gives the
//!   changed lines of each file ([`change::linemap`] maps lines across it);
//! - [`python`]: the one Python parser, pytest's conventions, and the static
//!   facts stored beside a file's lines;
//! - [`select`]: changed lines become verdicts and effects, resolved into
//!   tests by numbits queries ([`numbits`], [`store`]);
//! - [`run`]: launches pytest with impact's plugin on the selection;
//! - [`record`]: what a run or `impact import` measured, merged into the data
//!   in one transaction, and `impact combine` of CI shards' data files
//!   ([`shard`] splits a selection across them);
//! - [`store`]: the SQLite data file, the only user of rusqlite;
//! - [`commands`]: one thin function per subcommand, over [`cli`]'s settings.

pub mod change;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod git;
pub mod numbits;
pub mod output;
pub mod process;
pub mod python;
pub mod record;
pub mod run;
pub mod select;
pub mod shard;
pub mod store;
pub mod trace;

/// The layout README's architecture map promises: no import cycle between
/// the top-level modules (what a folder's files use of each other is the
/// folder's own business).
#[cfg(test)]
mod layout {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Top-level module -> the top-level modules its code (tests and
    /// comments left out) names through `crate::`.
    fn uses() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let rel = path.strip_prefix(&src).unwrap();
                let first = rel.components().next().unwrap().as_os_str();
                let top = first.to_string_lossy().trim_end_matches(".rs").to_string();
                if top == "main" || top == "lib" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let used = graph.entry(top.clone()).or_default();
                for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                    let mut rest = line;
                    while let Some(at) = rest.find("crate::") {
                        rest = &rest[at + "crate::".len()..];
                        let group = rest.strip_prefix('{').unwrap_or(rest);
                        let names: Vec<&str> = if rest.starts_with('{') {
                            group
                                .split(['}', ','])
                                .map(|n| n.trim().split("::").next().unwrap_or(""))
                                .collect()
                        } else {
                            vec![group]
                        };
                        for name in names {
                            let name: String = name
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            if !name.is_empty() && name != top {
                                used.insert(name);
                            }
                        }
                    }
                }
            }
        }
        graph
    }

    #[test]
    fn top_level_modules_form_no_cycle() {
        let graph = uses();
        assert!(
            graph["select"].contains("store"),
            "the scan sees uses: {graph:?}"
        );
        // Depth-first search; a module met again on the current path closes a cycle.
        fn visit<'g>(
            node: &'g str,
            graph: &'g BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<&'g str>,
            done: &mut BTreeSet<&'g str>,
        ) {
            if let Some(at) = path.iter().position(|n| *n == node) {
                panic!("import cycle: {} -> {node}", path[at..].join(" -> "));
            }
            if !done.insert(node) {
                return;
            }
            path.push(node);
            for next in graph.get(node).into_iter().flatten() {
                visit(next, graph, path, done);
            }
            path.pop();
        }
        let mut done = BTreeSet::new();
        for node in graph.keys() {
            visit(node, &graph, &mut Vec::new(), &mut done);
        }
    }
}
