//! One module per table (or per group of tables one kind of row spans):
//! each holds its row types and every query of its tables, reads on
//! [`super::Store`] and writes on [`super::Writer`].

mod content;
mod facts;
mod lines;
mod run;
mod test;

pub use content::{Baseline, ByContent};
pub use facts::Carried;
pub use lines::{FileLines, ImportTimeOf};
pub use run::{RunKey, RunRow, RunWrite, Summary};
pub use test::{TestRow, TestWrite};
