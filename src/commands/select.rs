//! `impact select`: print the tests a change can affect.

use crate::changes::TargetSpec;
use crate::cli::{SelectArgs, SelectFormat, Settings};
use crate::config::Config;
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
    total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<std::collections::BTreeMap<&'a str, Vec<String>>>,
}

pub fn run(settings: &Settings, args: &SelectArgs, out: &Output) -> Result<i32> {
    let selection = compute(settings, args, out)?;
    print(&selection, args.format, args.explain, out)?;
    Ok(match selection.mode {
        Mode::Selected => exit_codes::OK,
        Mode::Full => exit_codes::FULL_RUN,
    })
}

/// Loads config and data, and selects.
pub fn compute(settings: &Settings, args: &SelectArgs, out: &Output) -> Result<Selection> {
    let config = Config::load(settings.repo.root())?;
    for w in &config.warnings {
        out.warn(w);
    }
    let mut config = config;
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
    let store = Store::open(&settings.db)?;
    let opts = Options {
        target,
        since: args.since.clone(),
    };
    select::select(&settings.repo, store.as_ref(), &config, &opts)
}

fn print(s: &Selection, format: SelectFormat, explain: bool, out: &Output) -> Result<()> {
    let ids: Vec<&str> = s.tests.keys().map(String::as_str).collect();
    match format {
        SelectFormat::Json => out.json(&SelectJson {
            mode: s.mode,
            reasons: &s.reasons,
            tests: ids.clone(),
            changed: &s.changed,
            ignored: &s.ignored,
            total: s.total,
            explain: explain.then(|| {
                s.tests
                    .iter()
                    .map(|(t, r)| (t.as_str(), r.iter().map(ToString::to_string).collect()))
                    .collect()
            }),
        })?,
        SelectFormat::Text | SelectFormat::Pytest => {
            // On a full-run verdict nothing is printed: no arguments make
            // pytest run everything, and the exit status says "full".
            if s.mode == Mode::Selected {
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
                "{} of {} tests selected, {} {} changed{}, in {:.0} ms",
                thousands(s.tests.len()),
                thousands(s.total),
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
