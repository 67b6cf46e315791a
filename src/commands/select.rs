//! `impact select`: print the tests a change can affect.

use crate::change::TargetSpec;
use crate::cli::{SelectArgs, SelectFormat, Settings};
use crate::error::{Error, Result, exit_codes};
use crate::output::{Output, thousands};
use crate::select::{self, Mode, Options, Selection};
use crate::store::Store;

#[derive(serde::Serialize)]
struct SelectJson<'a> {
    mode: Mode,
    reasons: &'a [String],
    tests: Vec<&'a str>,
    changed: &'a [select::ChangedFile],
    /// Changed files that select nothing (see the summary line).
    ignored: &'a [String],
    /// Tests the data knows.
    total: usize,
    /// Entries of `tests` the data does not know yet (new tests).
    new: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<std::collections::BTreeMap<&'a str, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<ShardJson>,
}

/// `"shard"` in JSON: which part this is, and the size of the whole.
#[derive(serde::Serialize)]
struct ShardJson {
    index: usize,
    count: usize,
    /// Entries across all shards: the selection, or on a full-run verdict
    /// the known suite.
    of: usize,
}

pub fn run(settings: &Settings, args: &SelectArgs, out: &Output) -> Result<i32> {
    let mut selection = compute(settings, args, out)?;
    let mut shard_json = None;
    if let Some(shard) = args.shard {
        let tests = match Store::open(&settings.db)? {
            Some(store) => store.tests()?,
            None => Vec::new(),
        };
        let part = crate::shard::part(&selection, &tests, shard);
        restrict(&mut selection, &part.tests);
        shard_json = Some(ShardJson {
            index: shard.index,
            count: shard.count,
            of: part.of,
        });
        out.note(&format!(
            "shard {shard}: {} of {} {} ({:.2} s of {:.2} s recorded)",
            thousands(part.tests.len()),
            thousands(part.of),
            match selection.mode {
                Mode::Selected => "selected tests",
                Mode::Full => "known tests (full run)",
            },
            part.seconds,
            part.total_seconds,
        ));
        if selection.mode == Mode::Full && tests.is_empty() {
            out.note(
                "no recorded tests to split: every shard runs everything; \
                 `impact run --shard` splits by test file instead",
            );
        }
    }
    print(&selection, args.format, args.explain, shard_json, out)?;
    crate::trace::step("printed");
    Ok(match selection.mode {
        Mode::Selected => exit_codes::OK,
        Mode::Full => exit_codes::FULL_RUN,
    })
}

/// Loads config and data, and selects.
pub fn compute(settings: &Settings, args: &SelectArgs, out: &Output) -> Result<Selection> {
    let mut config = settings.config()?.clone();
    for w in &config.warnings {
        out.warn(w);
    }
    if let Some(n) = args.max_changed_files {
        config.max_changed_files = n;
    }
    let target = match (&args.rev, args.staged) {
        (Some(_), true) => {
            return Err(Error::Usage(
                "--rev and --staged cannot be combined; pick one target".into(),
            ));
        }
        (Some(r), false) => TargetSpec::Rev(r.clone()),
        (None, true) => TargetSpec::Index,
        (None, false) => TargetSpec::WorkTree,
    };
    crate::trace::step("config loaded");
    let store = Store::open(&settings.db)?;
    crate::trace::step("data opened");
    let opts = Options {
        target,
        since: args.since.clone(),
    };
    let selection = select::select(&settings.repo, store.as_ref(), &config, &opts);
    crate::trace::step("selection made, its inputs dropped");
    drop(store);
    crate::trace::step("data closed");
    selection
}

/// Keeps only `part` of the selection; on a full-run verdict the part (of the
/// known suite) becomes the list, so that a shard's output names its tests.
fn restrict(s: &mut Selection, part: &[String]) {
    let mut reasons = std::mem::take(&mut s.tests);
    s.tests = part
        .iter()
        .map(|id| (id.clone(), reasons.remove(id).unwrap_or_default()))
        .collect();
}

fn print(
    s: &Selection,
    format: SelectFormat,
    explain: bool,
    shard: Option<ShardJson>,
    out: &Output,
) -> Result<()> {
    let sharded = shard.is_some();
    let ids: Vec<&str> = s.tests.keys().map(String::as_str).collect();
    match format {
        SelectFormat::Json => out.json(&SelectJson {
            mode: s.mode,
            reasons: &s.reasons,
            tests: ids.clone(),
            changed: &s.changed,
            ignored: &s.ignored,
            total: s.total,
            new: s.new_count(),
            explain: explain.then(|| {
                s.tests
                    .iter()
                    .map(|(t, r)| (t.as_str(), r.iter().map(ToString::to_string).collect()))
                    .collect()
            }),
            shard,
        })?,
        SelectFormat::Text | SelectFormat::Pytest => {
            // On a full-run verdict nothing is printed: no arguments make
            // pytest run everything, and the exit status says "full". A
            // shard prints its part of the known suite instead (empty only
            // when there is no data, when every shard runs everything).
            if s.mode == Mode::Selected || sharded {
                let mut text = String::new();
                for (t, reasons) in &s.tests {
                    text.push_str(t);
                    text.push('\n');
                    if explain {
                        for r in reasons {
                            text.push_str(&format!("    {r}\n"));
                        }
                    }
                }
                out.stdout(&text)?;
            }
        }
    }
    summary(s, out);
    Ok(())
}

/// The one-line summary (and reasons) on stderr.
pub fn summary(s: &Selection, out: &Output) {
    let changed = s.changed.len();
    match s.mode {
        Mode::Full => {
            out.note(&format!(
                "running all tests ({} known): {}",
                thousands(s.total),
                s.reasons.join("; ")
            ));
        }
        Mode::Selected => {
            out.note(&format!(
                "{} selected, {} {} changed{}, in {:.0} ms",
                s.counts(),
                thousands(changed),
                if changed == 1 { "file" } else { "files" },
                s.ignored_note(),
                s.elapsed_ms.max(1.0)
            ));
            for r in &s.reasons {
                out.note(r);
            }
            if s.tests.is_empty() && changed > 0 {
                for c in &s.changed {
                    out.note(&format!("{}: {}", c.path, c.effect));
                }
            }
        }
    }
}
