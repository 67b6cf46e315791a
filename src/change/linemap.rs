//! Mapping line numbers across a diff: from a baseline to newer content and back.
//!
//! Recorded line numbers refer to a file's baseline. When a file is recorded
//! again at different content, other tests' lines are carried over through this
//! map; lines inside changed hunks have no counterpart.

use crate::git::Hunk;

/// Line correspondence between an old and a new version of a file, built from
/// zero-context diff hunks.
#[derive(Debug, Clone, Default)]
pub struct LineMap {
    hunks: Vec<Hunk>,
}

impl LineMap {
    /// A map over hunks sorted by position, as git produces them.
    pub fn new(hunks: Vec<Hunk>) -> Self {
        LineMap { hunks }
    }

    /// The new line of an unchanged old line; `None` if the line was changed
    /// or deleted.
    pub fn old_to_new(&self, old: u32) -> Option<u32> {
        map_line(
            old,
            self.hunks
                .iter()
                .map(|h| (h.old_start, h.old_lines, h.new_lines)),
        )
    }

    /// The old line of an unchanged new line; `None` if the line is new or changed.
    pub fn new_to_old(&self, new: u32) -> Option<u32> {
        map_line(
            new,
            self.hunks
                .iter()
                .map(|h| (h.new_start, h.new_lines, h.old_lines)),
        )
    }
}

/// Maps `line` on side A to side B, given hunks as (start on A, lines on A,
/// lines on B). A hunk with zero lines on A is an insertion after `start`.
fn map_line(line: u32, hunks: impl Iterator<Item = (u32, u32, u32)>) -> Option<u32> {
    let mut shift: i64 = 0;
    for (start, len, other_len) in hunks {
        if len == 0 {
            // Insertion after `start`: lines after it move.
            if line > start {
                shift += i64::from(other_len);
                continue;
            }
            break;
        }
        if line < start {
            break;
        }
        if line < start + len {
            return None;
        }
        shift += i64::from(other_len) - i64::from(len);
    }
    u32::try_from(i64::from(line) + shift).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunk(old_start: u32, old_lines: u32, new_start: u32, new_lines: u32) -> Hunk {
        Hunk {
            old_start,
            old_lines,
            new_start,
            new_lines,
        }
    }

    #[test]
    fn maps_around_changes_insertions_and_deletions() {
        // old: a b c d e f ; new: a X b c e f Y Z
        // insertion of X after line 1; deletion of d (old 4); append after 6.
        let map = LineMap::new(vec![hunk(1, 0, 2, 1), hunk(4, 1, 4, 0), hunk(6, 0, 7, 2)]);
        let expected = [
            (1, Some(1)),
            (2, Some(3)),
            (3, Some(4)),
            (4, None),
            (5, Some(5)),
            (6, Some(6)),
        ];
        for (old, new) in expected {
            assert_eq!(map.old_to_new(old), new, "old line {old}");
        }
        let back = [
            (1, Some(1)),
            (2, None),
            (3, Some(2)),
            (4, Some(3)),
            (5, Some(5)),
            (6, Some(6)),
            (7, None),
            (8, None),
        ];
        for (new, old) in back {
            assert_eq!(map.new_to_old(new), old, "new line {new}");
        }
    }

    #[test]
    fn replacement_with_different_length() {
        // old lines 2-3 replaced by 4 lines.
        let map = LineMap::new(vec![hunk(2, 2, 2, 4)]);
        assert_eq!(map.old_to_new(1), Some(1));
        assert_eq!(map.old_to_new(2), None);
        assert_eq!(map.old_to_new(3), None);
        assert_eq!(map.old_to_new(4), Some(6));
        assert_eq!(map.new_to_old(6), Some(4));
        assert_eq!(map.new_to_old(5), None);
    }

    #[test]
    fn insertion_before_first_line() {
        let map = LineMap::new(vec![hunk(0, 0, 1, 2)]);
        assert_eq!(map.old_to_new(1), Some(3));
        assert_eq!(map.new_to_old(1), None);
        assert_eq!(map.new_to_old(3), Some(1));
    }
}
