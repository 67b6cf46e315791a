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
