//! The one integration-test binary: real git repositories in temp dirs, real
//! pytest and coverage.py runs in a pinned virtual environment, real SQLite
//! files, and the real `impact` binary.

mod support;

mod bad_input;
mod children;
mod ci_scale;
mod coverage_compat;
mod file_deps;
mod import_who;
mod mutations;
mod numbits_compat;
mod real_world;
mod recorders;
mod run;
mod select_rules;
