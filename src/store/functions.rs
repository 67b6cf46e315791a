//! coverage.py's numbits SQL functions (`numbits_union`,
//! `numbits_intersection`, `numbits_any_intersection`, `num_in_numbits`,
//! `numbits_to_nums`, `numbits_union_agg`), registered on every connection
//! so that queries written for coverage.py's data run on ours. The set
//! arithmetic itself is `crate::numbits`.

use rusqlite::Connection;
use rusqlite::functions::{Aggregate, Context, FunctionFlags};

use crate::numbits::{any_intersection, contains, intersection, to_json_text, union};

/// Registers coverage.py's numbits SQL functions on a connection.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("numbits_union", 2, flags, |ctx| {
        Ok(union(&blob_arg(ctx, 0)?, &blob_arg(ctx, 1)?))
    })?;
    conn.create_scalar_function("numbits_intersection", 2, flags, |ctx| {
        Ok(intersection(&blob_arg(ctx, 0)?, &blob_arg(ctx, 1)?))
    })?;
    conn.create_scalar_function("numbits_any_intersection", 2, flags, |ctx| {
        let a = ctx.get_raw(0);
        let b = ctx.get_raw(1);
        Ok(i64::from(any_intersection(raw_blob(a), raw_blob(b))))
    })?;
    conn.create_scalar_function("num_in_numbits", 2, flags, |ctx| {
        let num: i64 = ctx.get(0)?;
        let found = u32::try_from(num).is_ok_and(|n| contains(raw_blob(ctx.get_raw(1)), n));
        Ok(i64::from(found))
    })?;
    conn.create_scalar_function("numbits_to_nums", 1, flags, |ctx| {
        Ok(to_json_text(&blob_arg(ctx, 0)?))
    })?;
    conn.create_aggregate_function("numbits_union_agg", 1, flags, UnionAgg)?;
    Ok(())
}

/// Reads an argument as a blob; NULL is treated as the empty set.
fn blob_arg(ctx: &Context<'_>, index: usize) -> rusqlite::Result<Vec<u8>> {
    Ok(raw_blob(ctx.get_raw(index)).to_vec())
}

fn raw_blob(value: rusqlite::types::ValueRef<'_>) -> &[u8] {
    match value {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
        _ => &[],
    }
}

/// `numbits_union_agg(numbits)`: NULL over no rows, like coverage.py.
struct UnionAgg;

impl Aggregate<Option<Vec<u8>>, Option<Vec<u8>>> for UnionAgg {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Option<Vec<u8>>> {
        Ok(None)
    }

    fn step(&self, ctx: &mut Context<'_>, acc: &mut Option<Vec<u8>>) -> rusqlite::Result<()> {
        let value = raw_blob(ctx.get_raw(0));
        *acc = Some(match acc.take() {
            None => value.to_vec(),
            Some(prev) => union(&prev, value),
        });
        Ok(())
    }

    fn finalize(
        &self,
        _: &mut Context<'_>,
        acc: Option<Option<Vec<u8>>>,
    ) -> rusqlite::Result<Option<Vec<u8>>> {
        Ok(acc.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numbits::encode;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sql_functions_match_coverage_py() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        let a = encode([1, 2, 3, 100]);
        let b = encode([3, 4]);
        let text: String = conn
            .query_row("select numbits_to_nums(?1)", [&a], |r| r.get(0))
            .unwrap();
        assert_eq!(text, "[1, 2, 3, 100]");
        let empty: String = conn
            .query_row("select numbits_to_nums(x'')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(empty, "[]");
        let any: i64 = conn
            .query_row("select numbits_any_intersection(?1, ?2)", [&a, &b], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(any, 1);
        let inside: i64 = conn
            .query_row("select num_in_numbits(100, ?1)", [&a], |r| r.get(0))
            .unwrap();
        assert_eq!(inside, 1);
        let outside: i64 = conn
            .query_row("select num_in_numbits(-1, ?1)", [&a], |r| r.get(0))
            .unwrap();
        assert_eq!(outside, 0);
        let inter: Vec<u8> = conn
            .query_row("select numbits_intersection(?1, ?2)", [&a, &b], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(hex(&inter), "08");
        let uni: Vec<u8> = conn
            .query_row("select numbits_union(?1, ?2)", [&a, &b], |r| r.get(0))
            .unwrap();
        assert_eq!(hex(&uni), "1e000000000000000000000010");
        conn.execute_batch("create table t(b blob)").unwrap();
        let none: Option<Vec<u8>> = conn
            .query_row("select numbits_union_agg(b) from t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(none, None);
        conn.execute("insert into t values (?1), (?2)", [&a, &b])
            .unwrap();
        let agg: Vec<u8> = conn
            .query_row("select numbits_union_agg(b) from t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(hex(&agg), "1e000000000000000000000010");
    }
}
