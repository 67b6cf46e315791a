//! Project configuration: `[tool.impact]` in `pyproject.toml`, or `impact.toml`
//! at the repository root. Command-line flags override it.
//!
//! ```toml
//! [tool.impact]
//! full_run_files = ["requirements*.txt", "poetry.lock"]   # replaces the defaults
//! extra_full_run_files = ["Dockerfile"]                   # added to the defaults
//! ignore = ["docs/**", "*.md"]
//! always_run = ["tests/test_smoke.py"]
//! max_changed_files = 200
//! max_age_days = 14
//! env_ignore = ["pip", "setuptools"]                     # not part of the environment fingerprint
//! track_reads = true                                      # note files tests read (IMPACT_TRACK_READS=0 overrides)
//! child_save_interval = 1.0                               # seconds between saves in child processes
//!
//! [tool.impact.map]
//! "tests/data/*.json" = ["tests/test_customers.py"]
//! ```

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

/// Files whose change forces a full run unless the config says otherwise:
/// dependency manifests, lockfiles and test-runner configuration.
pub const DEFAULT_FULL_RUN_FILES: &[&str] = &[
    "requirements*.txt",
    "**/requirements*.txt",
    "requirements/**",
    "constraints*.txt",
    "poetry.lock",
    "uv.lock",
    "Pipfile",
    "Pipfile.lock",
    "pdm.lock",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "tox.ini",
    "pytest.ini",
    ".coveragerc",
    "impact.toml",
];

/// The default threshold of changed files above which a full run is cheaper.
pub const DEFAULT_MAX_CHANGED_FILES: usize = 500;

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from, if anywhere.
    pub source: Option<PathBuf>,
    pub full_run: Rules,
    pub ignore: Rules,
    /// Files mapped to test selectors.
    pub map: Vec<(Rules, Vec<Selector>)>,
    /// Test selectors always run.
    pub always_run: Vec<Selector>,
    pub max_changed_files: usize,
    pub max_age_days: Option<f64>,
    /// Distributions left out of the environment fingerprint (names, lowercase).
    pub env_ignore: Vec<String>,
    /// Whether `impact run` notes the files each test opens for reading.
    pub track_reads: bool,
    /// Seconds between saves of a measured child process: what SIGKILL can lose.
    pub child_save_interval: f64,
    /// Warnings to show (unknown keys).
    pub warnings: Vec<String>,
}

/// A compiled list of globs, with the patterns kept for messages.
#[derive(Debug, Clone)]
pub struct Rules {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Rules {
    fn new(patterns: &[String], file: &Path, key: &str) -> Result<Rules, ConfigError> {
        let mut builder = GlobSetBuilder::new();
        for p in patterns {
            let glob = Glob::new(p).map_err(|e| ConfigError::Invalid {
                path: file.to_owned(),
                key: key.to_string(),
                reason: format!("`{p}` is not a valid glob ({e})"),
            })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| ConfigError::Invalid {
            path: file.to_owned(),
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Rules {
            patterns: patterns.to_vec(),
            set,
        })
    }

    /// The first pattern matching a repository-relative path.
    pub fn matching(&self, path: &str) -> Option<&str> {
        self.set
            .matches(path)
            .first()
            .map(|&i| self.patterns[i].as_str())
    }
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed config in {}: {reason}", path.display())]
    Syntax { path: PathBuf, reason: String },
    #[error("invalid config in {}: key `{key}`: {reason}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        reason: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    full_run_files: Option<Vec<String>>,
    #[serde(default)]
    extra_full_run_files: Vec<String>,
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    always_run: Vec<String>,
    #[serde(default)]
    map: toml::Table,
    max_changed_files: Option<usize>,
    max_age_days: Option<f64>,
    #[serde(default)]
    env_ignore: Vec<String>,
    track_reads: Option<bool>,
    child_save_interval: Option<f64>,
}

const KNOWN_KEYS: &[&str] = &[
    "full_run_files",
    "extra_full_run_files",
    "ignore",
    "always_run",
    "map",
    "max_changed_files",
    "max_age_days",
    "env_ignore",
    "track_reads",
    "child_save_interval",
];

/// The default of `child_save_interval`, in seconds.
pub const DEFAULT_CHILD_SAVE_INTERVAL: f64 = 1.0;

impl Config {
    /// Reads `impact.toml`, else `[tool.impact]` of `pyproject.toml`, at `root`.
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        let impact_toml = root.join("impact.toml");
        if impact_toml.is_file() {
            let table = read_toml(&impact_toml)?;
            return Config::from_table(table, &impact_toml, "");
        }
        let pyproject = root.join("pyproject.toml");
        if pyproject.is_file() {
            let mut table = read_toml(&pyproject)?;
            let section = table.remove("tool").and_then(|t| match t {
                toml::Value::Table(mut t) => t.remove("impact"),
                _ => None,
            });
            return match section {
                Some(toml::Value::Table(t)) => Config::from_table(t, &pyproject, "tool.impact."),
                Some(_) => Err(ConfigError::Invalid {
                    path: pyproject,
                    key: "tool.impact".into(),
                    reason: "must be a table".into(),
                }),
                None => Config::from_table(toml::Table::new(), &pyproject, "tool.impact.").map(
                    |mut c| {
                        c.source = None;
                        c
                    },
                ),
            };
        }
        Config::from_table(toml::Table::new(), root, "").map(|mut c| {
            c.source = None;
            c
        })
    }

    fn from_table(
        mut table: toml::Table,
        file: &Path,
        prefix: &str,
    ) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let unknown: Vec<String> = table
            .keys()
            .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            table.remove(&key);
            warnings.push(format!(
                "{}: unknown key `{prefix}{key}` ignored (known: {})",
                file.display(),
                KNOWN_KEYS.join(", ")
            ));
        }
        let raw =
            Raw::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Invalid {
                path: file.to_owned(),
                key: key_of(&e.to_string(), prefix),
                reason: e.message().to_string(),
            })?;
        let mut full: Vec<String> = match raw.full_run_files {
            Some(list) => list,
            None => DEFAULT_FULL_RUN_FILES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        full.extend(raw.extra_full_run_files);
        let map = map_rules(raw.map, file, prefix)?;
        if let Some(days) = raw.max_age_days
            && (days.is_nan() || days <= 0.0)
        {
            return Err(ConfigError::Invalid {
                path: file.to_owned(),
                key: format!("{prefix}max_age_days"),
                reason: "must be a positive number of days".into(),
            });
        }
        if let Some(secs) = raw.child_save_interval
            && !(0.05..=3600.0).contains(&secs)
        {
            return Err(ConfigError::Invalid {
                path: file.to_owned(),
                key: format!("{prefix}child_save_interval"),
                reason: "must be a number of seconds between 0.05 and 3600".into(),
            });
        }
        Ok(Config {
            source: Some(file.to_owned()),
            full_run: Rules::new(&full, file, &format!("{prefix}full_run_files"))?,
            ignore: Rules::new(&raw.ignore, file, &format!("{prefix}ignore"))?,
            map,
            always_run: selectors(raw.always_run, file, &format!("{prefix}always_run"))?,
            max_changed_files: raw.max_changed_files.unwrap_or(DEFAULT_MAX_CHANGED_FILES),
            max_age_days: raw.max_age_days,
            env_ignore: raw
                .env_ignore
                .iter()
                .map(|n| n.to_lowercase().replace('_', "-"))
                .collect(),
            track_reads: raw.track_reads.unwrap_or(true),
            child_save_interval: raw
                .child_save_interval
                .unwrap_or(DEFAULT_CHILD_SAVE_INTERVAL),
            warnings,
        })
    }
}

/// The `map` table: each glob with the tests that cover the files it matches.
fn map_rules(
    table: toml::Table,
    file: &Path,
    prefix: &str,
) -> Result<Vec<(Rules, Vec<Selector>)>, ConfigError> {
    let mut map = Vec::new();
    for (glob, tests) in table {
        let key = format!("{prefix}map.\"{glob}\"");
        let tests: Vec<String> = match tests {
            toml::Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s),
                    other => Err(ConfigError::Invalid {
                        path: file.to_owned(),
                        key: key.clone(),
                        reason: format!(
                            "expected test ids or paths (strings), found {}",
                            other.type_str()
                        ),
                    }),
                })
                .collect::<Result<_, _>>()?,
            toml::Value::String(s) => vec![s],
            other => {
                return Err(ConfigError::Invalid {
                    path: file.to_owned(),
                    key,
                    reason: format!(
                        "expected a list of test ids or paths, found {}",
                        other.type_str()
                    ),
                });
            }
        };
        let tests = selectors(tests, file, &key)?;
        map.push((Rules::new(&[glob], file, &key)?, tests));
    }
    Ok(map)
}

/// A test selector, compiled once when the config is read: a node id, a
/// node-id prefix (`tests/test_x.py`, `tests/test_x.py::TestK`,
/// `tests/unit`), or a glob (`*` or `?`; `[` alone is part of parametrized
/// node ids, not a glob).
#[derive(Debug, Clone)]
pub struct Selector {
    text: String,
    glob: Option<globset::GlobMatcher>,
}

impl Selector {
    /// Compiles `text`; a glob that does not compile is an error naming it.
    pub fn new(text: &str) -> Result<Selector, globset::Error> {
        let glob = if text.contains(['*', '?']) {
            Some(Glob::new(text)?.compile_matcher())
        } else {
            None
        };
        Ok(Selector {
            text: text.to_string(),
            glob,
        })
    }

    /// A node id or node-id prefix (never a glob).
    pub fn prefix(text: &str) -> Selector {
        Selector {
            text: text.to_string(),
            glob: None,
        }
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it names `test_id`.
    pub fn matches(&self, test_id: &str) -> bool {
        if self.text == test_id {
            return true;
        }
        if let Some(glob) = &self.glob {
            return glob.is_match(test_id);
        }
        let prefix = self.text.trim_end_matches('/');
        test_id == prefix
            || test_id.strip_prefix(prefix).is_some_and(|rest| {
                rest.starts_with("::") || rest.starts_with('/') || rest.starts_with('[')
            })
    }
}

// By the text as written: effects holding selectors are compared and sorted.
impl PartialEq for Selector {
    fn eq(&self, other: &Selector) -> bool {
        self.text == other.text
    }
}
impl Eq for Selector {}
impl PartialOrd for Selector {
    fn partial_cmp(&self, other: &Selector) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Selector {
    fn cmp(&self, other: &Selector) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

/// Compiles a config key's selectors, naming the key of one that is not a
/// valid glob.
fn selectors(texts: Vec<String>, file: &Path, key: &str) -> Result<Vec<Selector>, ConfigError> {
    texts
        .iter()
        .map(|t| {
            Selector::new(t).map_err(|e| ConfigError::Invalid {
                path: file.to_owned(),
                key: key.to_string(),
                reason: format!("`{t}` is not a valid glob: {e}"),
            })
        })
        .collect()
}

fn key_of(message: &str, prefix: &str) -> String {
    // toml's messages name the field as "unknown field `x`" or "invalid type ... for key `x`".
    message
        .split('`')
        .nth(1)
        .map(|k| format!("{prefix}{k}"))
        .unwrap_or_else(|| format!("{prefix}(table)"))
}

fn read_toml(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            reason: e.to_string().trim().replace('\n', " "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: &str, text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
        Config::load(dir.path())
    }

    #[test]
    fn defaults_without_config() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert!(c.source.is_none());
        assert_eq!(c.full_run.matching("poetry.lock"), Some("poetry.lock"));
        assert!(c.full_run.matching("sub/requirements-dev.txt").is_some());
        assert!(c.full_run.matching("shop/pricing.py").is_none());
        assert_eq!(c.max_changed_files, DEFAULT_MAX_CHANGED_FILES);
    }

    #[test]
    fn reads_pyproject_section_and_warns_on_unknown_keys() {
        let c = load(
            "pyproject.toml",
            r#"
[project]
name = "x"
[tool.impact]
extra_full_run_files = ["Dockerfile"]
ignore = ["docs/**"]
always_run = ["tests/test_smoke.py"]
max_changed_files = 3
colour = "red"
[tool.impact.map]
"tests/data/*.json" = ["tests/test_customers.py"]
"#,
        )
        .unwrap();
        assert!(c.full_run.matching("Dockerfile").is_some());
        assert!(c.full_run.matching("poetry.lock").is_some());
        assert!(c.ignore.matching("docs/index.md").is_some());
        assert_eq!(c.max_changed_files, 3);
        assert_eq!(c.map.len(), 1);
        assert!(c.map[0].0.matching("tests/data/users.json").is_some());
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0].contains("tool.impact.colour"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn malformed_config_names_file_and_key() {
        let e = load("impact.toml", "max_changed_files = \"many\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("impact.toml") && msg.contains("max_changed_files"),
            "{msg}"
        );
        let e = load("impact.toml", "ignore = [\"a/[\"]\n").unwrap_err();
        assert!(e.to_string().contains("ignore"), "{e}");
        let e = load("impact.toml", "ignore = [\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
        let e = load("impact.toml", "[map]\n\"a\" = 3\n").unwrap_err();
        assert!(e.to_string().contains("map.\"a\""), "{e}");
        let e = load("impact.toml", "max_age_days = -1\n").unwrap_err();
        assert!(e.to_string().contains("max_age_days"), "{e}");
        // A selector glob that does not compile is refused when read, not
        // matched as nothing later.
        let e = load("impact.toml", "always_run = [\"tests/[*\"]\n").unwrap_err();
        assert!(e.to_string().contains("always_run"), "{e}");
        assert!(e.to_string().contains("not a valid glob"), "{e}");
    }

    #[test]
    fn selectors_match_ids_prefixes_and_globs() {
        let matches = |s: &str, id: &str| Selector::new(s).unwrap().matches(id);
        let id = "tests/unit/test_x.py::TestK::test_y[1]";
        assert!(matches("tests/unit/test_x.py", id));
        assert!(matches("tests/unit", id));
        assert!(matches("tests/unit/", id));
        assert!(matches("tests/unit/test_x.py::TestK", id));
        assert!(matches("tests/unit/test_x.py::TestK::test_y", id));
        assert!(matches(id, id));
        assert!(matches("*::test_y*", id));
        assert!(!matches("tests/unit/test_x", id));
        assert!(!matches("tests/unit/test_x.py::TestK::test_", id));
        let param = "tests/t.py::test_a[0.99-1.19]";
        assert!(matches(param, param));
        assert!(!matches(param, "tests/t.py::test_a[1]"));
        // A test id with `*` in its parameters, as a prefix: itself only.
        let starred = "tests/t.py::test_b[a*]";
        assert!(Selector::prefix(starred).matches(starred));
        assert!(!Selector::prefix(starred).matches("tests/t.py::test_b[ab]"));
        assert!(Selector::new("tests/[").is_ok(), "`[` alone is no glob");
    }
}
