//! `impact`: run only the tests a change can affect.
//!
//! The data flows: a git diff ([`git`]) gives changed lines, mapped onto the
//! recorded baselines ([`linemap`]); numbits queries ([`numbits`], [`store`])
//! find the tests that executed them. Recordings ([`import`], [`recording`])
//! are merged into the data file in one transaction. For CI at scale, [`shard`]
//! splits a selection across machines and [`combine`] merges the data files
//! the shards recorded.

pub mod changes;
pub mod cli;
pub mod combine;
pub mod commands;
pub mod config;
pub mod diff;
pub mod error;
pub mod facts;
pub mod git;
pub mod import;
pub mod linemap;
pub mod numbits;
pub mod output;
pub mod python;
pub mod recording;
pub mod run;
pub mod select;
pub mod shard;
pub mod store;
pub mod trace;
