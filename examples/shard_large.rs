//! Turns a generated data set (`examples/gen_large.rs`) into the data files N
//! CI shards leave behind, for benchmarking `impact combine`.
//!
//! ```sh
//! cargo run --release --example shard_large -- DIR N OUTDIR
//! ```
//!
//! Each `OUTDIR/shard-K.db` is what `impact run --full --shard K/N` leaves on
//! a CI machine: a copy of `DIR/.impact.db` (the data restored from the
//! cache) plus one newer run that re-recorded its part of the tests, split by
//! impact's own shard planner (recorded durations). The tests re-record the
//! lines they had, at the same content, through impact's own merge; so
//! combining the N files gives back the main data with N more runs.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use impact::record::{Recording, TestRecord, format_rfc3339, merge, parse_rfc3339};
use impact::shard;
use impact::store::Store;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, n, out] = args.as_slice() else {
        return Err("usage: shard_large DIR N OUTDIR".into());
    };
    let dir = PathBuf::from(dir);
    let out = PathBuf::from(out);
    let n: usize = n.parse()?;
    let start = Instant::now();
    let main_db = dir.join(".impact.db");
    let store = Store::open(&main_db)?.ok_or("no .impact.db in DIR: run gen_large first")?;
    let last = store.last_run()?.ok_or("the data holds no run")?;
    let base = parse_rfc3339(&last.key.started_at).unwrap_or(0);
    let tests = store.tests()?;
    let known: Vec<(String, Option<f64>)> = tests
        .iter()
        .map(|t| (t.nodeid.clone(), t.duration))
        .collect();
    let durations: BTreeMap<&str, Option<f64>> = tests
        .iter()
        .map(|t| (t.nodeid.as_str(), t.duration))
        .collect();
    let groups = shard::split(&known, &[], n);
    let baselines = store.baselines()?;
    std::fs::create_dir_all(&out)?;
    for (k, group) in groups.iter().enumerate() {
        let path = out.join(format!("shard-{}.db", k + 1));
        std::fs::copy(&main_db, &path)?;
        let mut shard_store = Store::open(&path)?.ok_or("the copy disappeared")?;
        let mut rec = Recording {
            kind: "full",
            command: format!("python -m pytest -q [shard {}/{n}]", k + 1),
            // Shards start together, a minute after the main run.
            started_at: format_rfc3339(base + 60),
            commit: last.key.commit.clone(),
            ..Default::default()
        };
        for id in group {
            let lines = store.context_lines(id)?;
            for fl in &lines {
                if !rec.sources.contains_key(&fl.path)
                    && let Some(blob) = baselines.get(&fl.path)
                    && let Some(content) = store.source(blob)?
                {
                    rec.sources.insert(fl.path.clone(), content);
                }
            }
            rec.tests.insert(
                id.clone(),
                TestRecord {
                    lines: lines.into_iter().map(|fl| (fl.path, fl.numbits)).collect(),
                    outcome: Some("passed".into()),
                    duration: durations.get(id.as_str()).copied().flatten(),
                    fixtures: None,
                    reads: None,
                    spawns: None,
                },
            );
        }
        merge(&mut shard_store, &rec)?;
        println!(
            "{}: {} tests, {} files",
            path.display(),
            group.len(),
            rec.sources.len()
        );
    }
    println!("time: {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
