//! The recorded lines of files, read once per call: following a name asks
//! which tests ran its references, file by file, and a name read all over
//! a project asks about the same big files again and again. One SQL scan
//! per file then intersects in memory, where a query per reference would
//! scan (and call the numbits functions on) every row of the file each time.

use std::collections::HashMap;

use crate::error::Result;
use crate::numbits;
use crate::store::Store;

/// Per file id, each test with its recorded lines there (numbits).
#[derive(Default)]
pub struct RecordedLines {
    files: HashMap<i64, Vec<(String, Vec<u8>)>>,
}

impl RecordedLines {
    /// The tests whose recorded lines in `file_id` intersect `bits`.
    pub fn tests_running(
        &mut self,
        store: &Store,
        file_id: i64,
        bits: &[u8],
    ) -> Result<impl Iterator<Item = &str>> {
        let rows = match self.files.entry(file_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(store.file_lines(file_id)?),
        };
        Ok(rows
            .iter()
            .filter(move |(_, lines)| numbits::any_intersection(lines, bits))
            .map(|(test, _)| test.as_str()))
    }
}
