//! `impact who` and `impact show`: the data, queried by line or by test.

use std::collections::BTreeMap;

use crate::change::linemap::LineMap;
use crate::cli::{Format, Settings};
use crate::error::{Error, Result};
use crate::git::{self, Entry, LineDiff, Target};
use crate::numbits;
use crate::output::{Output, line_ranges};

/// `PATH`, `PATH:LINE` or `PATH:FIRST-LAST`.
fn parse_target(target: &str) -> Result<(&str, Option<(u32, u32)>)> {
    let Some((path, spec)) = target.rsplit_once(':') else {
        return Ok((target, None));
    };
    if spec.is_empty() || !spec.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return Ok((target, None));
    }
    let bad = || {
        Error::Usage(format!(
            "invalid line range `{spec}` in `{target}`; use PATH:LINE or PATH:FIRST-LAST \
             with 1 <= FIRST <= LAST"
        ))
    };
    let (first, last) = match spec.split_once('-') {
        Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
        None => {
            let n: u32 = spec.parse().map_err(|_| bad())?;
            (n, n)
        }
    };
    if first == 0 || first > last {
        return Err(bad());
    }
    Ok((path, Some((first, last))))
}

#[derive(serde::Serialize)]
struct WhoJson<'a> {
    tests: &'a [String],
    /// The file was read outside any test: a change to it runs everything.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_outside_tests: bool,
}

pub fn who(settings: &Settings, target: &str, format: Format, out: &Output) -> Result<i32> {
    let (arg_path, range) = parse_target(target)?;
    let store = super::open_existing(settings)?;
    let path = settings.repo_path(arg_path).ok_or_else(|| {
        Error::Usage(format!(
            "`{arg_path}` is outside the repository {}",
            settings.repo.root().display()
        ))
    })?;
    let (mut readers, read_outside_tests) = readers_of(&store, &path)?;
    let Some(file_id) = store.file_id(&path)? else {
        if readers.is_empty() && !read_outside_tests {
            let mut known = store.paths()?;
            known.extend(store.read_paths()?);
            return Err(Error::UnknownPath {
                hint: super::did_you_mean(&path, &known),
                path,
            });
        }
        if range.is_some() {
            out.note(&format!(
                "reads of {path} are recorded per file, not per line: tests that read any of it"
            ));
        }
        let tests: Vec<String> = readers.into_iter().collect();
        return print_who(&tests, read_outside_tests, &path, target, format, out);
    };
    let baselines = store.baselines()?;
    let baseline = match baselines.get(&path) {
        Some(blob) => store.source(blob)?.unwrap_or_default(),
        None => Vec::new(),
    };
    let query = match range {
        None => None,
        Some((first, last)) => {
            let lines = recorded_lines(settings, &path, &baseline, first, last, out)?;
            let bits = numbits::encode(lines);
            if store.import_time_touches(file_id, &bits)? {
                out.note(&format!(
                    "{target} also runs at import time: tests that import it depend on it"
                ));
            }
            Some(bits)
        }
    };
    let mut tests = match &query {
        None => {
            let mut tests = store.tests_in_file(file_id)?;
            tests.sort_unstable();
            tests
        }
        Some(bits) => store.tests_touching(file_id, bits)?,
    };
    if query.is_none() && !readers.is_empty() {
        readers.extend(tests);
        tests = readers.into_iter().collect();
    }
    print_who(&tests, read_outside_tests, &path, target, format, out)
}

/// Tests that read `path` as a whole file (data files, templates), by test
/// or by the collector that read them; and whether it was read outside any
/// test.
fn readers_of(
    store: &crate::store::Store,
    path: &str,
) -> Result<(std::collections::BTreeSet<String>, bool)> {
    let mut readers: std::collections::BTreeSet<String> =
        store.readers(path)?.into_iter().collect();
    let mut read_outside_tests = false;
    let scopes = store.scope_readers(path)?;
    if !scopes.is_empty() {
        let ids = store.test_ids()?;
        for scope in &scopes {
            if scope.is_empty() {
                read_outside_tests = true;
            } else {
                readers.extend(
                    ids.iter()
                        .filter(|t| crate::select::scope_contains(scope, t))
                        .cloned(),
                );
            }
        }
    }
    Ok((readers, read_outside_tests))
}

/// Lines `first..=last` of the file as it is now, in the numbering of its
/// recorded baseline; says when they were mapped and which have no data.
fn recorded_lines(
    settings: &Settings,
    path: &str,
    baseline: &[u8],
    first: u32,
    last: u32,
    out: &Output,
) -> Result<Vec<u32>> {
    let current = match settings.repo.read(&Target::WorkTree, path)? {
        Some(Entry::File { content, .. }) => Some(content),
        _ => None,
    };
    let map = match &current {
        Some(c) if git::blob_id(c) != git::blob_id(baseline) => {
            match git::diff_lines(baseline, c) {
                LineDiff::Text(h) => Some(LineMap::new(h)),
                LineDiff::Binary => None,
            }
        }
        _ => None,
    };
    let mut lines = Vec::new();
    let mut unmapped = Vec::new();
    for n in first..=last {
        match &map {
            None => lines.push(n),
            Some(m) => match m.new_to_old(n) {
                Some(old) => lines.push(old),
                None => unmapped.push(n),
            },
        }
    }
    if map.is_some() {
        out.note(&format!(
            "{path} changed since it was recorded; line numbers are mapped to the recorded version"
        ));
    }
    if !unmapped.is_empty() {
        out.warn(&format!(
            "{path}:{} is new or changed since the recording: no test data for it yet",
            line_ranges(&unmapped)
        ));
    }
    Ok(lines)
}

fn print_who(
    tests: &[String],
    read_outside_tests: bool,
    path: &str,
    target: &str,
    format: Format,
    out: &Output,
) -> Result<i32> {
    if read_outside_tests {
        out.note(&format!(
            "{path} is read outside any test (while pytest starts or by a plugin): a change to it runs everything"
        ));
    }
    match format {
        Format::Json => out.json(&WhoJson {
            tests,
            read_outside_tests,
        })?,
        Format::Text => {
            let mut text = String::new();
            for t in tests {
                text.push_str(t);
                text.push('\n');
            }
            out.stdout(&text)?;
            if tests.is_empty() {
                out.note(&format!("no test executed {target}"));
            }
        }
    }
    Ok(0)
}

#[derive(serde::Serialize)]
struct ShowJson<'a> {
    test: &'a str,
    files: BTreeMap<String, Vec<u32>>,
    /// Repository files it opened for reading (recorded by `impact run`).
    reads: Vec<String>,
}

pub fn show(settings: &Settings, test: &str, format: Format, out: &Output) -> Result<i32> {
    let store = super::open_existing(settings)?;
    if store.test(test)?.is_none() {
        return Err(Error::UnknownTest {
            hint: super::did_you_mean(test, &store.test_ids()?),
            id: test.to_string(),
        });
    }
    let files: BTreeMap<String, Vec<u32>> = store
        .context_lines(test)?
        .into_iter()
        .map(|f| (f.path, numbits::decode(&f.numbits)))
        .filter(|(_, lines)| !lines.is_empty())
        .collect();
    let reads = store.reads_of(test)?;
    match format {
        Format::Json => out.json(&ShowJson { test, files, reads })?,
        Format::Text => {
            let mut text = String::new();
            for (path, lines) in &files {
                text.push_str(&format!("{path}: {}\n", line_ranges(lines)));
            }
            for path in &reads {
                text.push_str(&format!("{path}: read\n"));
            }
            out.stdout(&text)?;
            if files.is_empty() {
                out.note(&format!("{test} ran but executed no measured line"));
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!(parse_target("a.py").unwrap(), ("a.py", None));
        assert_eq!(parse_target("a.py:42").unwrap(), ("a.py", Some((42, 42))));
        assert_eq!(parse_target("a.py:4-9").unwrap(), ("a.py", Some((4, 9))));
        assert_eq!(parse_target("c:/x/a.py").unwrap(), ("c:/x/a.py", None));
        assert!(parse_target("a.py:0").is_err());
        assert!(parse_target("a.py:9-4").is_err());
        assert!(parse_target("a.py:4-").is_err());
    }
}
