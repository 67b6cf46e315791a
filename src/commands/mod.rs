//! One module per subcommand; each turns settings and arguments into output
//! and an exit code.

mod combine;
mod export;
mod import;
mod query;
mod select;
mod status;

use crate::cli::{Command, Settings};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::store::Store;

/// Runs a parsed command; returns its exit code.
pub fn run(settings: &Settings, command: &Command, out: &Output) -> Result<i32> {
    if !matches!(command, Command::MergePending) {
        crate::run::warn_if_pending(&settings.db, out);
    }
    match command {
        Command::MergePending => crate::run::merge_pending(&settings.repo, &settings.db, out),
        Command::Import { files, rev } => import::run(settings, files, rev.as_deref(), out),
        Command::Who { target, format } => query::who(settings, target, *format, out),
        Command::Show { test, format } => query::show(settings, test, *format, out),
        Command::Status { format } => status::run(settings, *format, out),
        Command::Export { coverage } => export::run(settings, coverage, out),
        Command::Select(args) => select::run(settings, args, out),
        Command::Combine { files, output } => combine::run(settings, files, output.as_deref(), out),
        Command::Run(args) => crate::run::run(
            &settings.repo,
            settings.config()?,
            &settings.db,
            &crate::run::RunOptions {
                full: args.full,
                target: if args.staged {
                    crate::change::TargetSpec::Index
                } else {
                    crate::change::TargetSpec::WorkTree
                },
                since: args.since.clone(),
                explain: args.explain,
                shard: args.shard,
                observe: args.observe,
                command: args.command.clone(),
            },
            out,
        ),
    }
}

/// Opens the data file for reading commands: it must exist and hold data.
fn open_existing(settings: &Settings) -> Result<Store> {
    let store = Store::open(&settings.db)?.ok_or_else(|| Error::NoData {
        path: settings.db.clone(),
    })?;
    if !store.has_runs()? {
        return Err(Error::NoData {
            path: settings.db.clone(),
        });
    }
    Ok(store)
}

/// " (did you mean `x`?)" for the closest candidates, or "".
fn did_you_mean(wanted: &str, candidates: &[String]) -> String {
    let name = |s: &str| s.rsplit(['/', ':']).next().unwrap_or(s).to_lowercase();
    let wanted_lower = wanted.to_lowercase();
    let wanted_name = name(wanted);
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .filter_map(|c| {
            let lower = c.to_lowercase();
            let whole = edit_distance(&wanted_lower, &lower);
            let tail = edit_distance(&wanted_name, &name(c));
            let close = whole <= 2.max(wanted.len() / 5) || tail <= 2.max(wanted_name.len() / 4);
            let contains = !wanted_name.is_empty() && lower.contains(&wanted_name);
            (close || contains).then_some((whole.min(tail), c))
        })
        .collect();
    scored.sort();
    let best: Vec<String> = scored
        .iter()
        .take(3)
        .map(|(_, c)| format!("`{c}`"))
        .collect();
    if best.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", best.join(", "))
    }
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        let c = vec![
            "shop/pricing.py".to_string(),
            "shop/cart.py".to_string(),
            "tests/test_cart.py::test_add".to_string(),
        ];
        assert!(did_you_mean("shop/pricing.pyy", &c).contains("`shop/pricing.py`"));
        assert!(did_you_mean("tests/test_cart.py::test_ad", &c).contains("test_add"));
        assert_eq!(did_you_mean("zzzzzz", &c), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
