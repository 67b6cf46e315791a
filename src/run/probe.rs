//! The Python interpreter a test command runs on: which one, whether it has
//! pytest and coverage.py, and a fingerprint of its environment (the Python
//! version and the installed distributions, without the project's own
//! editable install, whose version changes with every commit).
//!
//! Probing starts Python and imports pytest (~150 ms, most of a no-change
//! `impact run`), so its answer is cached per interpreter in the user's
//! cache directory, valid while the interpreter and every `sys.path`
//! directory keep their modification times (installing, upgrading or
//! removing a distribution changes its `site-packages` directory's).

use std::path::Path;
use std::process::Command;

use crate::error::Result;

pub use crate::error::ProbeError;

/// What the probe found.
#[derive(Debug, Clone)]
pub struct Interpreter {
    pub python: String,
    pub version: String,
    /// `python=3.11.7;name==1.0;...`, sorted.
    pub fingerprint: String,
    /// The line recorder the plugin uses in this interpreter.
    pub recorder: Recorder,
}

/// How the plugin records lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorder {
    /// impact's own, on `sys.monitoring` (CPython 3.12+).
    Sysmon,
    /// coverage.py's C tracer (`sys.settrace`).
    Ctrace,
}

impl Recorder {
    /// `IMPACT_RECORDER` (`sysmon` or `ctrace`) when set, else sys.monitoring
    /// where the interpreter has it.
    fn choose(monitoring: bool) -> Result<Recorder> {
        match std::env::var(super::protocol::env::RECORDER).as_deref() {
            Ok("ctrace") => Ok(Recorder::Ctrace),
            Ok("sysmon") if monitoring => Ok(Recorder::Sysmon),
            Ok("sysmon") => Err(ProbeError::NoMonitoring.into()),
            Ok(other) => Err(ProbeError::UnknownRecorder(other.to_string()).into()),
            Err(_) if monitoring => Ok(Recorder::Sysmon),
            Err(_) => Ok(Recorder::Ctrace),
        }
    }

    /// The value of `IMPACT_RECORDER` for the plugin.
    pub fn env_value(self) -> &'static str {
        match self {
            Recorder::Sysmon => "sysmon",
            Recorder::Ctrace => "ctrace",
        }
    }

    /// For the first line of `impact run`.
    pub fn describe(self) -> &'static str {
        match self {
            Recorder::Sysmon => "sys.monitoring",
            Recorder::Ctrace => "coverage.py's C tracer",
        }
    }
}

const PROBE: &str = r#"
import json, sys
out = {"python": sys.version.split()[0], "executable": sys.executable, "missing": [], "dists": [],
       "monitoring": hasattr(sys, "monitoring")}
for mod in ("pytest", "coverage"):
    try:
        __import__(mod)
    except Exception:
        out["missing"].append(mod)
try:
    from importlib import metadata
    for d in metadata.distributions():
        name = (d.metadata["Name"] or "").lower().replace("_", "-")
        editable = False
        try:
            text = d.read_text("direct_url.json")
            editable = bool(text and '"editable": true' in text)
        except Exception:
            pass
        if name and not editable:
            out["dists"].append("%s==%s" % (name, d.version))
except Exception:
    pass
out["dists"] = sorted(set(out["dists"]))
import os
out["paths"] = sorted({os.path.abspath(p or os.curdir) for p in sys.path if os.path.isdir(p or os.curdir)})
print(json.dumps(out))
"#;

#[derive(serde::Deserialize, serde::Serialize)]
struct ProbeOut {
    python: String,
    executable: String,
    missing: Vec<String>,
    dists: Vec<String>,
    /// `sys.monitoring` exists (CPython 3.12+).
    #[serde(default)]
    monitoring: bool,
    /// The directories on `sys.path`: their modification times tell when
    /// the cached answer is stale.
    #[serde(default)]
    paths: Vec<String>,
}

/// A cached probe: its answer and the modification times it held for.
#[derive(serde::Deserialize, serde::Serialize)]
struct Cached {
    stamps: Vec<(String, Option<u128>)>,
    out: ProbeOut,
}

fn mtime(path: &str) -> Option<u128> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos())
}

/// Where the probe of `python` run in `root` is cached: one file per
/// interpreter, directory, `PYTHONPATH` and probe script; `None` without a
/// cache directory, or with `IMPACT_PROBE_CACHE=0`.
fn cache_file(python: &str, root: &Path) -> Option<std::path::PathBuf> {
    if std::env::var_os("IMPACT_PROBE_CACHE").is_some_and(|v| v == "0") {
        return None;
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    let key = format!(
        "{python}\0{}\0{}\0{PROBE}",
        root.display(),
        std::env::var("PYTHONPATH").unwrap_or_default()
    );
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Some(base.join("impact").join(format!("probe-{hash:016x}.json")))
}

/// The stamps a probe answer holds for: the interpreter (as started and as
/// resolved) and every `sys.path` directory outside the project (whose
/// root changes whenever a file is added there).
fn stamps(python: &str, root: &Path, out: &ProbeOut) -> Vec<(String, Option<u128>)> {
    let started = if python.contains('/') {
        Some(python.to_string())
    } else {
        find_on_path(python).map(|p| p.display().to_string())
    };
    started
        .into_iter()
        .chain(std::iter::once(out.executable.clone()))
        .chain(
            out.paths
                .iter()
                .filter(|p| !Path::new(p).starts_with(root))
                .cloned(),
        )
        .map(|p| {
            let t = mtime(&p);
            (p, t)
        })
        .collect()
}

/// The cached answer, when every stamp still holds.
fn cached(file: &Path) -> Option<ProbeOut> {
    let cached: Cached = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    let fresh = cached
        .stamps
        .iter()
        .all(|(p, t)| t.is_some() && mtime(p) == *t);
    fresh.then_some(cached.out)
}

/// Keeps a successful probe's answer; a cache that cannot be written only
/// makes the next call slower.
fn keep(file: &Path, python: &str, root: &Path, out: ProbeOut) -> ProbeOut {
    let cached = Cached {
        stamps: stamps(python, root, &out),
        out,
    };
    if let Some(dir) = file.parent()
        && std::fs::create_dir_all(dir).is_ok()
        && let Ok(text) = serde_json::to_vec(&cached)
    {
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, file);
        }
    }
    cached.out
}

/// `python` when it is on PATH, else `python3`.
pub fn default_python() -> String {
    if find_on_path("python").is_some() {
        "python".into()
    } else {
        "python3".into()
    }
}

fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The interpreter behind a command: `python -m pytest` names it; a `pytest`
/// script names it in its `#!` line.
fn interpreter_of(command: &[String]) -> String {
    let first = &command[0];
    let base = Path::new(first)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(first);
    if base.starts_with("python") {
        return first.clone();
    }
    let script = if first.contains('/') {
        Some(std::path::PathBuf::from(first))
    } else {
        find_on_path(first)
    };
    if let Some(text) = script.and_then(|p| std::fs::read(p).ok()) {
        let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
        if let Some(rest) = line.strip_prefix(b"#!") {
            let shebang = String::from_utf8_lossy(rest);
            let mut parts = shebang.split_whitespace();
            match parts.next() {
                Some(env) if env.ends_with("/env") => {
                    if let Some(p) = parts.find(|p| !p.starts_with('-')) {
                        return p.to_string();
                    }
                }
                Some(p) => return p.to_string(),
                None => {}
            }
        }
    }
    default_python()
}

/// Probes the command's interpreter; distributions named in `ignore` are
/// left out of the fingerprint.
pub fn probe(command: &[String], root: &Path, ignore: &[String]) -> Result<Interpreter> {
    let python = interpreter_of(command);
    let cache = cache_file(&python, root);
    let parsed = match cache.as_deref().and_then(cached) {
        Some(parsed) => parsed,
        None => {
            let parsed = run_probe(&python, root)?;
            match &cache {
                Some(file) => keep(file, &python, root, parsed),
                None => parsed,
            }
        }
    };
    let mut fingerprint = format!("python={}", parsed.python);
    for d in &parsed.dists {
        let name = d.split("==").next().unwrap_or(d);
        if ignore.iter().any(|i| i == name) {
            continue;
        }
        fingerprint.push(';');
        fingerprint.push_str(d);
    }
    Ok(Interpreter {
        python,
        version: parsed.python,
        fingerprint,
        recorder: Recorder::choose(parsed.monitoring)?,
    })
}

/// Starts the interpreter with the probe script: pytest and coverage.py
/// must import.
fn run_probe(python: &str, root: &Path) -> Result<ProbeOut> {
    let output = Command::new(python)
        .args(["-c", PROBE])
        .current_dir(root)
        .output()
        .map_err(|source| ProbeError::NotStarted {
            python: python.to_string(),
            source,
        })?;
    let parsed: ProbeOut =
        serde_json::from_slice(&output.stdout).map_err(|_| ProbeError::NotInspected {
            python: python.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })?;
    if !parsed.missing.is_empty() {
        return Err(ProbeError::Missing {
            missing: parsed.missing,
            executable: parsed.executable,
            version: parsed.python,
        }
        .into());
    }
    Ok(parsed)
}

impl Interpreter {
    /// What differs from an older fingerprint, briefly.
    pub fn describe_change(&self, old: &str) -> String {
        let old: std::collections::BTreeSet<&str> = old.split(';').collect();
        let new: std::collections::BTreeSet<&str> = self.fingerprint.split(';').collect();
        let added: Vec<&str> = new.difference(&old).copied().take(3).collect();
        let removed: Vec<&str> = old.difference(&new).copied().take(3).collect();
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("now {}", added.join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("was {}", removed.join(", ")));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_interpreter_of_a_command() {
        assert_eq!(
            interpreter_of(&["python3".into(), "-m".into(), "pytest".into()]),
            "python3"
        );
        assert_eq!(interpreter_of(&["/v/bin/python".into()]), "/v/bin/python");
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("pytest");
        std::fs::write(&script, "#!/opt/venv/bin/python3.11\nimport pytest\n").unwrap();
        assert_eq!(
            interpreter_of(&[script.display().to_string()]),
            "/opt/venv/bin/python3.11"
        );
        std::fs::write(&script, "#!/usr/bin/env python3\n").unwrap();
        assert_eq!(interpreter_of(&[script.display().to_string()]), "python3");
    }

    #[test]
    fn describes_environment_changes() {
        let i = Interpreter {
            python: "python".into(),
            version: "3.11.7".into(),
            fingerprint: "python=3.11.7;a==2;b==1".into(),
            recorder: Recorder::Ctrace,
        };
        assert_eq!(
            i.describe_change("python=3.11.7;a==1;b==1"),
            "now a==2; was a==1"
        );
    }
}
