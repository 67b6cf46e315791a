//! Our numbits against coverage.py's own `coverage.numbits`, on random sets.

use std::process::Command;

use impact::numbits;

use crate::support::{run_ok, venv_python};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn numbits_are_byte_compatible_with_coverage_py() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut sets: Vec<Vec<u32>> = vec![vec![], vec![0], vec![7, 8], vec![100_000]];
    for i in 0..300 {
        let max = [8, 64, 1000, 20_000][i % 4];
        let count = rng.next() % 40;
        let mut s: Vec<u32> = (0..count).map(|_| (rng.next() % max) as u32).collect();
        s.sort();
        s.dedup();
        sets.push(s);
    }
    let input = serde_json::to_string(&sets).unwrap();
    let script = r#"
import json, sqlite3, sys
from coverage.numbits import (nums_to_numbits, numbits_union, numbits_intersection,
    numbits_any_intersection, register_sqlite_functions)
sets = json.load(sys.stdin)
con = sqlite3.connect(":memory:")
register_sqlite_functions(con)
out = []
for i, s in enumerate(sets):
    a = nums_to_numbits(s)
    b = nums_to_numbits(sets[(i + 1) % len(sets)])
    text = con.execute("select numbits_to_nums(?)", (a,)).fetchone()[0]
    inside = con.execute("select num_in_numbits(?, ?)", (s[0] if s else 5, a)).fetchone()[0]
    out.append([a.hex(), numbits_union(a, b).hex(), numbits_intersection(a, b).hex(),
                bool(numbits_any_intersection(a, b)), text, inside])
json.dump(out, sys.stdout)
"#;
    let dir = tempfile::tempdir().unwrap();
    let input_path = dir.path().join("sets.json");
    std::fs::write(&input_path, &input).unwrap();
    let out = run_ok(
        Command::new(venv_python())
            .args(["-c", script])
            .stdin(std::fs::File::open(&input_path).unwrap()),
    );
    let expected: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(expected.len(), sets.len());
    for (i, (s, e)) in sets.iter().zip(&expected).enumerate() {
        let a = numbits::encode(s.iter().copied());
        let b = numbits::encode(sets[(i + 1) % sets.len()].iter().copied());
        assert_eq!(hex(&a), e[0], "encode {s:?}");
        assert_eq!(numbits::decode(&a), *s);
        assert_eq!(hex(&numbits::union(&a, &b)), e[1], "union #{i}");
        assert_eq!(
            hex(&numbits::intersection(&a, &b)),
            e[2],
            "intersection #{i}"
        );
        assert_eq!(numbits::any_intersection(&a, &b), e[3], "any #{i}");
        assert_eq!(numbits::to_json_text(&a), e[4], "numbits_to_nums #{i}");
        let probe = s.first().copied().unwrap_or(5);
        assert_eq!(
            i64::from(numbits::contains(&a, probe)),
            e[5],
            "num_in_numbits #{i}"
        );
    }
}
