//! `impact run --observe`: the selection a run would have made, compared with
//! the full run it made instead: would-be misses and the time it would have
//! saved.

use std::collections::BTreeSet;

use crate::output::{Output, thousands};
use crate::select::Mode;

use super::results::Results;

/// What the selection would have run, kept by `--observe` before it runs
/// everything.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct WouldBe {
    pub(super) mode: Mode,
    pub(super) tests: BTreeSet<String>,
    pub(super) reasons: Vec<String>,
}

/// What `--observe` found: the selection compared with the full run.
#[derive(Debug, serde::Serialize)]
pub(super) struct Observation {
    /// `selected` or `full`: the verdict the selection would have given.
    pub(super) mode: Mode,
    /// Tests that ran.
    pub(super) ran: usize,
    /// Of those, tests the selection would have run.
    pub(super) would_run: usize,
    /// Tests that failed or errored although the selection would have skipped them.
    pub(super) would_be_misses: Vec<String>,
    /// Seconds this run spent in tests the selection would have skipped.
    pub(super) saved_seconds: f64,
    /// Seconds this run spent in tests.
    pub(super) total_seconds: f64,
    /// Why the selection would have run everything, when it would.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) reasons: Vec<String>,
}

/// Compares what ran with what the selection would have run. Tests the data
/// did not know count as selected: the plugin always runs them.
pub(super) fn observe(would_be: &WouldBe, known: &[String], results: &Results) -> Observation {
    let known: BTreeSet<&str> = known.iter().map(String::as_str).collect();
    let prefixes: Vec<String> = would_be
        .tests
        .iter()
        .flat_map(|t| ["::", "[", "/"].map(|s| format!("{t}{s}")))
        .collect();
    let selected = |id: &str| {
        would_be.mode == Mode::Full
            || !known.contains(id)
            || would_be.tests.contains(id)
            || prefixes.iter().any(|p| id.starts_with(p.as_str()))
    };
    let mut obs = Observation {
        mode: would_be.mode,
        ran: results.tests.len(),
        would_run: 0,
        would_be_misses: Vec::new(),
        saved_seconds: 0.0,
        total_seconds: 0.0,
        reasons: if would_be.mode == Mode::Full {
            would_be.reasons.clone()
        } else {
            Vec::new()
        },
    };
    for (id, r) in &results.tests {
        let duration = if r.duration.is_finite() {
            r.duration.max(0.0)
        } else {
            0.0
        };
        obs.total_seconds += duration;
        if selected(id) {
            obs.would_run += 1;
        } else {
            obs.saved_seconds += duration;
            if matches!(r.outcome.as_str(), "failed" | "error") {
                obs.would_be_misses.push(id.clone());
            }
        }
    }
    obs
}

pub(super) fn report_observation(obs: &Observation, out: &Output) {
    for id in &obs.would_be_misses {
        out.warn(&format!(
            "would-be miss: {id} failed, but the selection would have skipped it"
        ));
    }
    if obs.mode == Mode::Full {
        out.note(&format!(
            "observed: the selection would have run everything ({}); nothing to save",
            obs.reasons.join("; ")
        ));
        return;
    }
    let fraction = if obs.total_seconds > 0.0 {
        obs.saved_seconds / obs.total_seconds * 100.0
    } else {
        0.0
    };
    out.note(&format!(
        "observed: the selection would have run {} of {} tests, saving {:.2} s of {:.2} s in tests ({fraction:.0}%); {} would-be {}",
        thousands(obs.would_run),
        thousands(obs.ran),
        obs.saved_seconds,
        obs.total_seconds,
        obs.would_be_misses.len(),
        if obs.would_be_misses.len() == 1 { "miss" } else { "misses" },
    ));
}
