//! Table-driven tests on real-looking Python snippets.

use super::*;

fn span(m: &Module, line: u32) -> Option<(u32, u32)> {
    m.statement_at(line).map(|s| (s.start, s.end))
}

fn def_named<'m>(m: &'m Module, qualname: &str) -> (DefId, &'m Def) {
    m.defs()
        .iter()
        .enumerate()
        .find(|(_, d)| d.qualname == qualname)
        .unwrap_or_else(|| panic!("no def {qualname}: {:?}", m.defs()))
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const CALL: &str = "\
result = compute(
    alpha,
    beta=2,
)
";

const MULTI_STRING: &str = "\
TEXT = \"\"\"
first

# not a comment
\"\"\"
x = 1
";

const ASSERT: &str = "\
def test_a():
    assert (
        compute(1)
        == 2
    )
";

const CONCAT: &str = "\
msg = (
    \"abc\"
    \"def\"
)
";

const DICT: &str = "\
CONFIG = {
    \"rate\": RATE,
    # a comment inside

    \"name\": cfg.NAME,
}
";

const COMPREHENSION: &str = "\
squares = [
    n * n
    for n in range(10)
    if n % 2
]
";

const DECORATED: &str = "\
import app


@app.route(
    \"/items\",
    methods=[\"GET\"],
)
def items():
    # list them
    return []
";

const DEFAULTS: &str = "\
def price(
    amount: Decimal,
    rate: float = RATE,
) -> Decimal:
    \"\"\"Docstring.\"\"\"
    return amount * rate
";

const CLASS: &str = "\
class Pricing(
    Base,
    metaclass=Meta,
):
    RATE = 2

    def total(self, x):
        return x * self.RATE
";

const MISC: &str = "\
a = 1; b = 2
x = 1 + \\
    2
def one(): return 1
if __name__ == \"__main__\":
    main()
";

#[test]
fn statement_spans() {
    // (name, source, line, expected span of statement_at)
    type Case<'a> = (&'a str, &'a str, u32, Option<(u32, u32)>);
    let cases: &[Case] = &[
        ("call first line", CALL, 1, Some((1, 4))),
        ("call argument line", CALL, 2, Some((1, 4))),
        ("call keyword line", CALL, 3, Some((1, 4))),
        ("closing bracket only", CALL, 4, Some((1, 4))),
        ("after end", CALL, 5, None),
        ("line zero", CALL, 0, None),
        ("string first", MULTI_STRING, 1, Some((1, 5))),
        ("blank inside string", MULTI_STRING, 3, Some((1, 5))),
        ("hash inside string", MULTI_STRING, 4, Some((1, 5))),
        ("string closing", MULTI_STRING, 5, Some((1, 5))),
        ("after string", MULTI_STRING, 6, Some((6, 6))),
        ("assert header", ASSERT, 2, Some((2, 5))),
        ("assert inner", ASSERT, 3, Some((2, 5))),
        ("assert operator", ASSERT, 4, Some((2, 5))),
        ("assert close", ASSERT, 5, Some((2, 5))),
        ("concat part", CONCAT, 3, Some((1, 4))),
        ("dict value", DICT, 2, Some((1, 6))),
        ("comment in dict", DICT, 3, None),
        ("blank in dict", DICT, 4, None),
        ("dict last value", DICT, 5, Some((1, 6))),
        ("comprehension body", COMPREHENSION, 2, Some((1, 5))),
        ("comprehension for", COMPREHENSION, 3, Some((1, 5))),
        ("comprehension if", COMPREHENSION, 4, Some((1, 5))),
        ("blank", DECORATED, 2, None),
        ("decorator line", DECORATED, 4, Some((4, 8))),
        ("decorator arg", DECORATED, 5, Some((4, 8))),
        ("decorator close", DECORATED, 7, Some((4, 8))),
        ("def line", DECORATED, 8, Some((4, 8))),
        ("comment-only", DECORATED, 9, None),
        ("body", DECORATED, 10, Some((10, 10))),
        ("param line", DEFAULTS, 3, Some((1, 4))),
        ("return annotation line", DEFAULTS, 4, Some((1, 4))),
        ("docstring", DEFAULTS, 5, Some((5, 5))),
        ("bases line", CLASS, 2, Some((1, 4))),
        ("bases close", CLASS, 4, Some((1, 4))),
        ("class attr", CLASS, 5, Some((5, 5))),
        ("blank in class", CLASS, 6, None),
        ("semicolon first", MISC, 1, Some((1, 1))),
        ("backslash", MISC, 3, Some((2, 3))),
        ("one-liner def body", MISC, 4, Some((4, 4))),
        ("main guard", MISC, 5, Some((5, 5))),
        ("main body", MISC, 6, Some((6, 6))),
    ];
    for (name, src, line, want) in cases {
        let m = parse(src.as_bytes());
        assert!(!m.has_errors(), "{name}: unexpected errors");
        assert_eq!(span(&m, *line), *want, "{name} (line {line})");
    }
}

#[test]
fn scopes_and_kinds() {
    let m = parse(CLASS.as_bytes());
    let (cls, _) = def_named(&m, "Pricing");
    let (total, d) = def_named(&m, "Pricing.total");
    assert_eq!(d.parent, Some(cls));
    let get = |line| m.statement_at(line).map(|s| (s.scope, s.kind));
    assert_eq!(get(1), Some((Scope::Module, StmtKind::ClassHeader(cls))));
    assert_eq!(get(5), Some((Scope::Class(cls), StmtKind::Simple)));
    assert_eq!(
        get(7),
        Some((Scope::Class(cls), StmtKind::DefHeader(total)))
    );
    assert_eq!(get(8), Some((Scope::Function(total), StmtKind::Simple)));

    let m = parse(MISC.as_bytes());
    // One-liner: the line holds header and body; the body (innermost) wins.
    let (one, d) = def_named(&m, "one");
    assert_eq!((d.header, d.body), ((4, 4), (4, 4)));
    let s = m.statement_at(4).unwrap();
    assert_eq!(s.scope, Scope::Function(one));
    assert!(
        m.statements()
            .iter()
            .any(|s| s.kind == StmtKind::DefHeader(one))
    );
    // Semicolons: two statements, statement_at gives the first.
    let on_line_1: Vec<_> = m.statements().iter().filter(|s| s.start == 1).collect();
    assert_eq!(on_line_1.len(), 2);
    assert_eq!(m.statement_at(1).unwrap().binds, strs(&["a"]));
    // Main guard: header and body run at module scope, body flagged.
    assert_eq!(m.statement_at(5).unwrap().kind, StmtKind::CompoundHeader);
    assert_eq!(m.statement_at(6).unwrap().scope, Scope::Module);
    assert!(m.in_main_block(6));
    assert!(!m.in_main_block(5));
    // The block's body, also when it is one line (a script's usual `main()`).
    assert_eq!(m.main_block_lines(), [6]);

    let m = parse(
        b"@dataclass(\n    frozen=True,\n)\nclass Point:\n    x: int\n\nfor i in r:\n    pass\nelse:\n    done = 1\n",
    );
    let (point, d) = def_named(&m, "Point");
    assert_eq!((d.header, d.body), ((1, 4), (5, 5)));
    assert_eq!(d.decorators, strs(&["dataclass"]));
    for line in 1..=4 {
        let s = m.statement_at(line).unwrap();
        assert_eq!(
            (s.start, s.end, s.kind),
            (1, 4, StmtKind::ClassHeader(point))
        );
    }
    let s = m.statement_at(5).unwrap();
    assert_eq!(
        (s.scope, s.binds.clone()),
        (Scope::Class(point), strs(&["x"]))
    );
    assert_eq!(m.statement_at(9).unwrap().kind, StmtKind::CompoundHeader);
    assert_eq!(m.statement_at(10).unwrap().binds, strs(&["done"]));

    let m = parse(DEFAULTS.as_bytes());
    let (price, _) = def_named(&m, "price");
    assert_eq!(m.statement_at(5).unwrap().kind, StmtKind::Simple);
    assert_eq!(m.statement_at(5).unwrap().scope, Scope::Function(price));
}

#[test]
fn compound_headers_only_cover_header() {
    let src = "\
def f(items):
    if (a and
            b):
        x = 1
    elif c:
        pass
    else:
        pass
    for k, (v, *rest) in items:
        continue
    while n := step():
        break
    with open(p) as fh, lock:
        pass
    try:
        pass
    except (KeyError, ValueError) as err:
        raise
    finally:
        done()
    match cmd:
        case Point(x=0, y=yy) if yy > 0:
            pass
        case [first, *others]:
            pass
        case _:
            pass
";
    let m = parse(src.as_bytes());
    assert!(!m.has_errors());
    let (f, _) = def_named(&m, "f");
    let hdr = |line: u32| {
        let s = m.statement_at(line).unwrap();
        assert_eq!(s.kind, StmtKind::CompoundHeader, "line {line}");
        assert_eq!(s.scope, Scope::Function(f), "line {line}");
        (s.start, s.end, s.binds.clone())
    };
    // (line, span, binds)
    let cases: &[(u32, (u32, u32), &[&str])] = &[
        (2, (2, 3), &[]),
        (3, (2, 3), &[]),
        (5, (5, 5), &[]),
        (7, (7, 7), &[]),
        (9, (9, 9), &["k", "rest", "v"]),
        (11, (11, 11), &["n"]),
        (13, (13, 13), &["fh"]),
        (15, (15, 15), &[]),
        (17, (17, 17), &["err"]),
        (19, (19, 19), &[]),
        (21, (21, 21), &[]),
        (22, (22, 22), &["yy"]),
        (24, (24, 24), &["first", "others"]),
        (26, (26, 26), &[]),
    ];
    for (line, want_span, binds) in cases {
        let (a, b, got) = hdr(*line);
        assert_eq!((a, b), *want_span, "line {line}");
        assert_eq!(got, strs(binds), "line {line}");
    }
    assert_eq!(span(&m, 4), Some((4, 4)));
}

// Long by its table of cases (one statement form per row), not by logic.
#[test]
fn binds_and_refs() {
    // (source, line, binds, refs that must be present, refs that must be absent)
    type Case<'a> = (&'a str, u32, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
    let cases: &[Case] = &[
        ("RATE = 0.2\n", 1, &["RATE"], &[], &["RATE"]),
        (
            "x = cfg.RATE * y\n",
            1,
            &["x"],
            &["RATE", "cfg", "y"],
            &["x"],
        ),
        ("a, (b, *c) = d\n", 1, &["a", "b", "c"], &["d"], &[]),
        ("a = b = f()\n", 1, &["a", "b"], &["f"], &[]),
        ("total += step\n", 1, &["total"], &["step", "total"], &[]),
        ("limit: int = 3\n", 1, &["limit"], &["int"], &[]),
        ("self.x[i] = v\n", 1, &[], &["i", "self", "v", "x"], &[]),
        (
            "if (n := len(a)) > 1: pass\n",
            1,
            &["n"],
            &["a", "len"],
            &[],
        ),
        ("f = lambda q: (w := q)\n", 1, &["f"], &["q", "w"], &[]),
        ("ys = [y for y in xs]\n", 1, &["ys"], &["xs", "y"], &[]),
        (
            "vals = [y := f(x) for x in xs]\n",
            1,
            &["vals", "y"],
            &["f", "x", "xs"],
            &[],
        ),
        ("global counter\n", 1, &[], &["counter"], &[]),
        (
            "type Alias[T] = list[T]\n",
            1,
            &["Alias"],
            &["T", "list"],
            &[],
        ),
        ("del cache[key]\n", 1, &[], &["cache", "key"], &[]),
        (
            "from shop.config import RATE\n",
            1,
            &["RATE"],
            &["RATE", "config", "shop"],
            &[],
        ),
        ("import a.b as c\n", 1, &["c"], &["a", "b"], &["c"]),
        ("import a.b\n", 1, &["a"], &["a", "b"], &[]),
        (
            "from m import x as y, z\n",
            1,
            &["y", "z"],
            &["m", "x", "z"],
            &["y"],
        ),
        ("from .pkg import *\n", 1, &["*"], &["pkg"], &[]),
        (
            "def f(a, b=DEFAULT) -> R: pass\n",
            1,
            &["f"],
            &["DEFAULT", "R", "a", "b"],
            &["f"],
        ),
        (
            "class K(Base, metaclass=M): pass\n",
            1,
            &["K"],
            &["Base", "M", "metaclass"],
            &["K"],
        ),
        (
            "@pytest.mark.usefixtures(\"db\", \"cache, clock\")\ndef test_a(): pass\n",
            1,
            &["test_a"],
            &["cache", "clock", "db", "usefixtures"],
            &[],
        ),
        (
            "@app.route(\"/not an ident\")\ndef view(): pass\n",
            1,
            &["view"],
            &["app", "route"],
            &["not"],
        ),
        (
            "def test_b(request):\n    db = request.getfixturevalue(\"database\")\n",
            2,
            &["db"],
            &["database", "getfixturevalue", "request"],
            &[],
        ),
        ("x = \"database\"\n", 1, &["x"], &[], &["database"]),
        (
            "msg = f\"{user.name}!\"\n",
            1,
            &["msg"],
            &["name", "user"],
            &[],
        ),
        (
            "for i, v in enumerate(rows): pass\n",
            1,
            &["i", "v"],
            &["enumerate", "rows"],
            &[],
        ),
    ];
    for (src, line, binds, present, absent) in cases {
        let m = parse(src.as_bytes());
        assert!(!m.has_errors(), "{src}");
        let s = m
            .statement_at(*line)
            .unwrap_or_else(|| panic!("no stmt: {src}"));
        let s = if matches!(s.kind, StmtKind::Simple) && s.binds.is_empty() && !binds.is_empty() {
            // One-liner compound statements: look at the header on the line.
            m.statements().iter().find(|x| x.start == *line).unwrap()
        } else {
            s
        };
        assert_eq!(s.binds, strs(binds), "binds of {src:?}");
        for r in *present {
            assert!(
                s.refs.contains(&r.to_string()),
                "{src:?} should ref {r}: {:?}",
                s.refs
            );
        }
        for r in *absent {
            assert!(
                !s.refs.contains(&r.to_string()),
                "{src:?} should not ref {r}: {:?}",
                s.refs
            );
        }
    }
}

#[test]
fn imports() {
    let src = "\
from shop.config import RATE
import a.b as c, os
from . import sibling
from ..pkg.mod import (x as y,
                       z)
from .helpers import *
from __future__ import annotations

def f():
    import json
    from .lazy import thing
";
    let m = parse(src.as_bytes());
    assert!(!m.has_errors());
    let got: Vec<(u32, String, Vec<String>, bool, bool)> = m
        .imports()
        .into_iter()
        .map(|i| (i.line, i.module, i.names, i.star, i.function_level))
        .collect();
    let want = vec![
        (1, "shop.config".into(), strs(&["RATE"]), false, false),
        (2, "a.b".into(), vec![], false, false),
        (2, "os".into(), vec![], false, false),
        (3, ".".into(), strs(&["sibling"]), false, false),
        (4, "..pkg.mod".into(), strs(&["x", "z"]), false, false),
        (6, ".helpers".into(), vec![], true, false),
        (7, "__future__".into(), strs(&["annotations"]), false, false),
        (10, "json".into(), vec![], false, true),
        (11, ".lazy".into(), strs(&["thing"]), false, true),
    ];
    assert_eq!(got, want);
    let s = m.statement_at(5).unwrap();
    assert_eq!((s.start, s.end, s.kind), (4, 5, StmtKind::Import));
    assert_eq!(s.binds, strs(&["y", "z"]));
    assert_eq!(m.statement_at(1).unwrap().kind, StmtKind::Import);
}

#[test]
fn references_expand_headers() {
    let m = parse(b"def f(x=RATE):\n    return x\n\ny = OTHER\n");
    let refs = m.references();
    assert_eq!(refs["RATE"], vec![1, 2]);
    assert_eq!(refs["x"], vec![1, 2]);
    assert_eq!(refs["OTHER"], vec![4]);
    assert!(!refs.contains_key("y"));

    let m = parse(DECORATED.as_bytes());
    let refs = m.references();
    // Decorator identifiers reach the whole def: header 4..8 and body to 10.
    assert_eq!(refs["route"], (4..=10).collect::<Vec<_>>());
    assert_eq!(refs["methods"], (4..=10).collect::<Vec<_>>());

    let m = parse(CALL.as_bytes());
    assert_eq!(m.references()["alpha"], vec![1, 2, 3, 4]);

    let m = parse(CLASS.as_bytes());
    let refs = m.reference_index();
    assert_eq!(refs["Base"], (1..=8).collect::<Vec<_>>());
    assert_eq!(refs["RATE"], vec![8]);
    assert_eq!(refs["self"], vec![7, 8]);
}

// Long by its source and the expected fields of each definition in it:
// one file exercising every nesting, checked in one place.
#[test]
fn defs_and_qualnames() {
    let src = "\
def outer(a, *args, key=None, **kw):
    def inner(b, /, c, *, d):
        class Local:
            def m(self): pass
        return b
    return inner

async def fetch(session):
    async with session.get(URL) as r:
        return await r.json()

class A:
    class B:
        def c(self): pass
";
    let m = parse(src.as_bytes());
    assert!(!m.has_errors());
    type Case<'a> = (
        &'a str,
        &'a str,
        DefKind,
        (u32, u32),
        (u32, u32),
        &'a [&'a str],
    );
    let cases: &[Case] = &[
        (
            "outer",
            "outer",
            DefKind::Function,
            (1, 1),
            (2, 6),
            &["a", "args", "key", "kw"],
        ),
        (
            "outer.<locals>.inner",
            "inner",
            DefKind::Function,
            (2, 2),
            (3, 5),
            &["b", "c", "d"],
        ),
        (
            "outer.<locals>.inner.<locals>.Local",
            "Local",
            DefKind::Class,
            (3, 3),
            (4, 4),
            &[],
        ),
        (
            "outer.<locals>.inner.<locals>.Local.m",
            "m",
            DefKind::Function,
            (4, 4),
            (4, 4),
            &["self"],
        ),
        (
            "fetch",
            "fetch",
            DefKind::Function,
            (8, 8),
            (9, 10),
            &["session"],
        ),
        ("A", "A", DefKind::Class, (12, 12), (13, 14), &[]),
        ("A.B", "B", DefKind::Class, (13, 13), (14, 14), &[]),
        (
            "A.B.c",
            "c",
            DefKind::Function,
            (14, 14),
            (14, 14),
            &["self"],
        ),
    ];
    for (qual, name, kind, header, body, params) in cases {
        let (_, d) = def_named(&m, qual);
        assert_eq!(&d.name, name);
        assert_eq!(d.kind, *kind, "{qual}");
        assert_eq!(d.header, *header, "{qual}");
        assert_eq!(d.body, *body, "{qual}");
        assert_eq!(d.params, strs(params), "{qual}");
    }
    let (outer, _) = def_named(&m, "outer");
    let (inner, d) = def_named(&m, "outer.<locals>.inner");
    assert_eq!(d.parent, Some(outer));
    assert_eq!(m.def_at(5), Some(inner));
    assert_eq!(m.def_at(6), Some(outer));
    assert_eq!(m.def_at(7), None);
    // Multi-line decorator: header spans from the decorator to the ':'.
    let m = parse(DECORATED.as_bytes());
    let (_, d) = def_named(&m, "items");
    assert_eq!((d.header, d.body), ((4, 8), (10, 10)));
    assert_eq!(d.decorators, strs(&["app.route"]));
    let m = parse(CLASS.as_bytes());
    assert_eq!(def_named(&m, "Pricing").1.header, (1, 4));
}

#[test]
fn fixtures() {
    let src = "\
import pytest, pytest_asyncio
from pytest import fixture

@pytest.fixture
def plain(): pass

@pytest.fixture()
def called(): pass

@pytest.fixture(scope=\"session\", autouse=True, name=\"db\")
def _db_impl(): pass

@fixture(scope=pick_scope)
def dyn(): pass

@pytest_asyncio.fixture(scope='module')
async def client(): pass

@pytest.fixture(
    autouse=False,
    scope=\"class\",
)
def klass(): pass

@pytest.fixture(autouse=FLAG)
def maybe(): pass

def not_a_fixture(): pass
";
    let m = parse(src.as_bytes());
    let fx = |q: &str| def_named(&m, q).1.fixture.clone();
    let f = |name: &str, scope: &str, autouse: bool| {
        Some(Fixture {
            name: name.into(),
            scope: scope.into(),
            autouse,
        })
    };
    let cases = [
        ("plain", f("plain", "function", false)),
        ("called", f("called", "function", false)),
        ("_db_impl", f("db", "session", true)),
        ("dyn", f("dyn", "dynamic", false)),
        ("client", f("client", "module", false)),
        ("klass", f("klass", "class", false)),
        ("maybe", f("maybe", "function", true)),
        ("not_a_fixture", None),
    ];
    for (q, want) in cases {
        assert_eq!(fx(q), want, "{q}");
    }
    // name= is referenced so callers can find the fixture by its name.
    assert!(m.references().contains_key("db"));
}

#[test]
fn cached_spellings() {
    let src = "\
import functools
from functools import lru_cache, cache, cached_property

@functools.lru_cache(maxsize=None)
def a(): pass

@lru_cache
def b(): pass

@functools.cache
def c(): pass

@cache
def d(): pass

class K:
    @cached_property
    def e(self): pass

    @functools.cached_property
    def f(self): pass

    @property
    def g(self): pass

@lru_cache()
def h(): pass

@other
def i(): pass
";
    let m = parse(src.as_bytes());
    let cases = [
        ("a", true),
        ("b", true),
        ("c", true),
        ("d", true),
        ("K.e", true),
        ("K.f", true),
        ("K.g", false),
        ("h", true),
        ("i", false),
    ];
    for (q, want) in cases {
        assert_eq!(def_named(&m, q).1.cached, want, "{q}");
    }
    assert_eq!(
        def_named(&m, "a").1.decorators,
        strs(&["functools.lru_cache"])
    );
    assert_eq!(def_named(&m, "K.g").1.decorators, strs(&["property"]));
}

#[test]
fn test_collection() {
    let src = "\
import unittest

def test_top(): pass
def helper(): pass
async def test_async(): pass

class TestPricing:
    def test_total(self): pass
    def helper(self): pass

    class TestInner:
        def test_deep(self): pass

    class Helper:
        def test_hidden(self): pass

class TestWithInit:
    def __init__(self): pass
    def test_skipped(self): pass

class NotATest:
    def test_skipped(self): pass

class Base:
    def test_inherited(self): pass

class TestChild(Base):
    def test_own(self): pass

class Cases(unittest.TestCase):
    def test_unit(self): pass

def test_top(): pass

@pytest.fixture
def test_data(): pass

def outer():
    def test_nested(): pass
";
    let m = parse(src.as_bytes());
    let got: Vec<(String, String)> = m
        .test_functions()
        .into_iter()
        .map(|t| (t.id, m.defs()[t.def].qualname.clone()))
        .collect();
    let want = [
        ("test_top", "test_top"),
        ("test_async", "test_async"),
        ("TestPricing::test_total", "TestPricing.test_total"),
        (
            "TestPricing::TestInner::test_deep",
            "TestPricing.TestInner.test_deep",
        ),
        ("TestChild::test_inherited", "Base.test_inherited"),
        ("TestChild::test_own", "TestChild.test_own"),
        ("Cases::test_unit", "Cases.test_unit"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
    // The redefinition of test_top wins.
    let top = m.test_functions()[0].def;
    assert_eq!(m.defs()[top].header.0, 33);
}

#[test]
fn module_paths() {
    let cases: &[(&str, &[&str])] = &[
        (
            "src/shop/pricing.py",
            &["src.shop.pricing", "shop.pricing", "pricing"],
        ),
        ("shop/__init__.py", &["shop"]),
        ("src/shop/__init__.py", &["src.shop", "shop"]),
        ("pricing.py", &["pricing"]),
        ("./tests/test_x.py", &["tests.test_x", "test_x"]),
        ("my-repo/pkg/mod.py", &["pkg.mod", "mod"]),
        ("win\\pkg\\mod.py", &["win.pkg.mod", "pkg.mod", "mod"]),
        ("__init__.py", &[]),
        ("README.md", &[]),
        ("shop/data.pyc", &[]),
        ("", &[]),
    ];
    for (path, want) in cases {
        assert_eq!(module_names_for_path(path), strs(want), "{path}");
    }
}

#[test]
fn relative_resolution() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("shop/pricing.py", ".config", Some("shop.config")),
        ("shop/pricing.py", "..x", Some("x")),
        ("shop/pricing.py", ".", Some("shop")),
        ("shop/pricing.py", "...x", None),
        ("shop/__init__.py", ".config", Some("shop.config")),
        (
            "src/shop/sub/mod.py",
            "..util.fmt",
            Some("src.shop.util.fmt"),
        ),
        ("src/shop/sub/mod.py", "..", Some("src.shop")),
        ("pricing.py", ".config", Some("config")),
        ("pricing.py", ".", None),
        ("shop/pricing.py", "shop.config", Some("shop.config")),
        ("my-repo/shop/pricing.py", "..", None),
        ("my-repo/shop/pricing.py", ".config", Some("shop.config")),
    ];
    for (path, module, want) in cases {
        assert_eq!(
            resolve_relative(path, module).as_deref(),
            *want,
            "{path} + {module}"
        );
    }
}

#[test]
fn blank_and_comment_lines() {
    let src = "# header comment\n\nx = 1  # trailing\n    \n# done\n";
    let m = parse(src.as_bytes());
    assert_eq!(m.line_count(), 5);
    let got: Vec<_> = (1..=5).map(|l| span(&m, l)).collect();
    assert_eq!(got, vec![None, None, Some((3, 3)), None, None]);
    assert_eq!(m.code_lines(), vec![3]);
}

#[test]
fn syntax_errors_are_conservative() {
    let src = "\
import os

def ok():
    return 1

def broken(x:
    y = [1,
    return 2

class A:
    import json
    z = 3
";
    let m = parse(src.as_bytes());
    assert!(m.has_errors());
    assert_eq!(span(&m, 4), Some((4, 4)));
    // Every code line after the break maps to a module-scope statement.
    for line in [6, 7, 8, 10, 11, 12] {
        let s = m
            .statement_at(line)
            .unwrap_or_else(|| panic!("line {line}"));
        assert_eq!(s.scope, Scope::Module, "line {line}");
        assert!(s.start <= 6 && s.end >= 12, "line {line}: {s:?}");
    }
    assert_eq!(m.statement_at(9), None);
    let mods: Vec<String> = m.imports().into_iter().map(|i| i.module).collect();
    assert!(
        mods.contains(&"os".to_string()) && mods.contains(&"json".to_string()),
        "{mods:?}"
    );
    assert!(m.references().contains_key("z"));

    // Errors inside one statement of a function body.
    let m = parse(b"def f():\n    x = foo(1 2)\n    return x\n");
    assert!(m.has_errors());
    assert_eq!(m.statement_at(2).unwrap().scope, Scope::Module);
    assert_eq!(m.statement_at(3).unwrap().scope, Scope::Function(0));
}

#[test]
fn hostile_input_does_not_panic() {
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\n\n\n".to_vec(),
        b"x = 1\n\xff\xfe = \xc3\x28\ny = 2\n".to_vec(),
        b"\xEF\xBB\xBFimport os\n".to_vec(),
        b"a = 1\rb = 2\r\nc = 3".to_vec(),
        b"x = \"\0\"\n\0\0\0\ny = 1\n".to_vec(),
        b"def (\n@\nclass :\n  ) ] }\n\"\"\"unterminated\n".to_vec(),
        b"@\n".to_vec(),
        b"if x:\n".to_vec(),
        b"from import\nimport\nfrom . import (\n".to_vec(),
        b"\\\n\\".to_vec(),
        b"@pytest.fixture(scope=)\ndef f(: pass\n".to_vec(),
        b"match x:\n    case {**rest}:\n        pass\n".to_vec(),
    ];
    let deep = 20_000;
    inputs.push(format!("x = {}1{}\n", "(".repeat(deep), ")".repeat(deep)).into_bytes());
    inputs.push(format!("x = {}\n", "[".repeat(deep)).into_bytes());
    inputs.push(format!("x = {}1\n", "-".repeat(deep)).into_bytes());
    let mut nested = String::new();
    for i in 0..300 {
        nested.push_str(&" ".repeat(i));
        nested.push_str(&format!("def f{i}():\n"));
    }
    nested.push_str(&" ".repeat(300));
    nested.push_str("pass\n");
    inputs.push(nested.into_bytes());
    // Pseudo-random bytes biased towards Python punctuation.
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let alphabet = b"()[]{}:;,.=@\\\"'#\n\n    abcdefxyz_019+-*/<>!%&|^~ \xff\xc3";
    for _ in 0..50 {
        let mut v = Vec::new();
        for _ in 0..2_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            v.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        inputs.push(v);
    }
    for input in &inputs {
        let m = parse(input);
        for line in 0..=m.line_count() + 1 {
            let _ = m.statement_at(line);
            let _ = m.def_at(line);
        }
        let _ = (
            m.imports(),
            m.references(),
            m.test_functions(),
            m.code_lines(),
        );
        for s in m.statements() {
            assert!(s.start <= s.end && s.end <= m.line_count().max(1), "{s:?}");
        }
    }
    let m = parse(b"a = 1\rb = 2\r\nc = 3");
    assert_eq!(m.line_count(), 3);
    assert_eq!(span(&m, 2), Some((2, 2)));
    let m = parse(b"x = 1\n\xff\xfe = \xc3\x28\ny = 2\n");
    assert!(m.has_errors());
    // Error recovery may merge the bad line with its neighbour; both lines
    // still map to a (module-scope) statement.
    assert_eq!(span(&m, 1), Some((1, 1)));
    for line in [2, 3] {
        let s = m.statement_at(line).unwrap();
        assert!(s.start <= line && line <= s.end);
        assert_eq!(s.scope, Scope::Module);
    }
    let m = parse(b"\xEF\xBB\xBFimport os\n");
    assert!(!m.has_errors());
    assert_eq!(m.imports()[0].module, "os");
}

#[test]
fn oversized_file_is_one_opaque_statement() {
    let src = b"import os\n\ndef f():\n    return 1\n";
    let m = parse_with_limit(src, 10);
    assert!(m.has_errors());
    assert_eq!(m.line_count(), 4);
    for line in 1..=4 {
        let s = m.statement_at(line).unwrap();
        assert_eq!((s.start, s.end, s.scope), (1, 4, Scope::Module));
    }
    assert_eq!(m.statement_at(5), None);
    assert_eq!(m.code_lines(), vec![1, 2, 3, 4]);
    assert!(m.defs().is_empty() && m.imports().is_empty());
    // The same file under the limit is analysed normally.
    assert!(!parse_with_limit(src, 1_000).has_errors());
}

#[test]
fn line_counting() {
    let cases: &[(&[u8], u32)] = &[
        (b"", 0),
        (b"\n", 1),
        (b"x", 1),
        (b"x\n", 1),
        (b"x\ny", 2),
        (b"x\r\ny\r\n", 2),
        (b"x\ry\r", 2),
        (b"\n\n\n", 3),
    ];
    for (src, want) in cases {
        assert_eq!(parse(src).line_count(), *want, "{src:?}");
    }
}

#[test]
fn generated_file_is_fast() {
    let src = generate(3_000);
    let start = std::time::Instant::now();
    let m = parse(src.as_bytes());
    let refs = m.references();
    let elapsed = start.elapsed();
    assert!(!m.has_errors());
    assert!(m.line_count() >= 3_000);
    assert!(!refs.is_empty());
    // Generous bound: debug builds are ~10x slower than release.
    assert!(elapsed.as_millis() < 2_000, "{elapsed:?}");
}

/// A realistic module of roughly `lines` lines.
pub fn generate(lines: usize) -> String {
    let mut s = String::from("import os\nfrom shop.config import RATE, TAX\n\n");
    let mut i = 0;
    while s.lines().count() < lines {
        s.push_str(&format!(
            "\
LIMIT_{i} = {{
    \"rate\": RATE * {i},
    \"tax\": TAX,
}}


@functools.lru_cache(maxsize=None)
def compute_{i}(amount: float, rate: float = RATE) -> float:
    \"\"\"Compute things.\"\"\"
    total = 0
    for n in range(amount):
        if n % 2 and (
            n > 3
        ):
            total += n * rate
    return [x for x in (total, LIMIT_{i}) if x]


class Service{i}(Base):
    attr = os.environ.get(\"X\")

    def method(self, x, *args, **kw):
        with open(x) as fh:
            return fh.read() + self.attr


"
        ));
        i += 1;
    }
    s
}

#[test]
fn parse_pair_matches_two_full_parses() {
    let base = "import os\n\n\nclass Cart:\n    RATE = 2\n\n    def total(self, x=RATE):\n        return x * 2  # é\n\n\ndef f(a,\n      b):\n    return a + b\n";
    let edits: Vec<String> = vec![
        base.replace("x * 2", "x * 3"),
        base.replace("    RATE = 2\n", ""),
        base.replace("import os\n", "import os\nimport sys\n"),
        base.replace("# é", "# ü ü"),
        base.replace("return a + b", "return (a +"),
        format!("{base}\nif __name__ == \"__main__\":\n    f(1, 2)\n"),
        base.replace('\n', "\r\n"),
        String::new(),
        "x = 1".to_string(),
    ];
    for (old, new) in [(base.to_string(), String::new())]
        .into_iter()
        .chain(edits.into_iter().map(|e| (base.to_string(), e)))
        .chain([(String::new(), base.to_string())])
    {
        let (a, b) = parse_pair(old.as_bytes(), new.as_bytes());
        assert_eq!(format!("{a:?}"), format!("{:?}", parse(old.as_bytes())));
        assert_eq!(
            format!("{b:?}"),
            format!("{:?}", parse(new.as_bytes())),
            "incremental parse differs for:\n{new}"
        );
    }
}

#[test]
fn outlines_round_trip_and_refuse_what_they_cannot_describe() {
    let src = format!("{DECORATED}\n{CLASS}\n{MISC}");
    let m = parse(src.as_bytes());
    let outline = Outline::of(&m).expect("a clean file has an outline");
    assert_eq!(Outline::decode(&outline.encode()), Some(outline.clone()));
    // The top-level statements, merged where they share a line.
    assert_eq!(m.tops[..2], [(1, 1), (4, 10)]);
    assert!(
        m.tops
            .iter()
            .any(|&(a, b)| a == b && src.lines().nth(a as usize - 1) == Some("a = 1; b = 2"))
    );
    // Syntax errors: no outline, so changes to the file are parsed whole.
    assert!(Outline::of(&parse(b"def broken(:\n    pass\n")).is_none());
    // Another version or damage: not used.
    assert!(Outline::decode("").is_none());
    assert!(Outline::decode(&outline.encode().replace("{\"v\":1", "{\"v\":99")).is_none());
}

#[test]
fn references_keep_their_form() {
    let m = parse(
        b"import pkg.config\nfrom shop import cart as c\n\nTOTAL = pkg.config.RATE + c.total(RATE) + f().total\n",
    );
    let st = m.statement_at(4).unwrap();
    assert_eq!(st.bare, strs(&["RATE", "c", "f", "pkg"]));
    assert_eq!(
        st.attrs,
        vec![
            ("RATE".to_string(), Some("pkg.config".to_string())),
            ("config".to_string(), Some("pkg".to_string())),
            ("total".to_string(), None),
            ("total".to_string(), Some("c".to_string())),
        ]
    );
    // `refs` still holds every identifier, plain or attribute.
    assert_eq!(st.refs, strs(&["RATE", "c", "config", "f", "pkg", "total"]));
}

/// Module-level code that acts on state outside the module is found (the
/// first such line); code that only binds the module's own names is not.
#[test]
fn import_side_effects_are_found_at_module_and_class_level_only() {
    use super::pytest::import_side_effect;
    let cases: &[(&str, Option<u32>)] = &[
        (
            "\"\"\"Doc.\"\"\"\nimport pp\nfrom a import b\nX = pp.f()\n\n\n@deco\nclass C:\n    \"doc\"\n    x = 1\n    pass\n\n\ndef f():\n    pp.configure()\n    pp.flag = 1\n",
            None,
        ),
        (
            "import pp\n\npp.ParserElement.disable_memoization()\n",
            Some(3),
        ),
        (
            "import pp\npp.ParserElement.verbose_stacktrace = True\n",
            Some(2),
        ),
        ("import pp\nREG = {}\nREG['k'] = 1\n", Some(3)),
        ("import pp\nwith pp.ctx():\n    X = 1\n", Some(2)),
        ("class C:\n    register(1)\n", Some(2)),
        ("if True:\n    pp.setup()\n", Some(2)),
        ("...\nr'raw'\nf\"x\"\n", None),
        ("if __name__ == \"__main__\":\n    main()\n", None),
        ("def f():\n    class Inner:\n        setup()\n", None),
    ];
    for (src, want) in cases {
        let m = parse(src.as_bytes());
        assert_eq!(import_side_effect(&m, src.as_bytes()), *want, "{src}");
    }
}

/// What a lookup of `line` sees: its statement's span, scope (by the
/// definition's qualified name), the names it binds, and the names a
/// function's result is carried under.
type Seen = (u32, u32, String, Vec<String>, Vec<String>);

fn seen_at(m: &Module, line: u32) -> Option<Seen> {
    let st = m.statement_at(line)?;
    let (scope, carried) = match st.scope {
        Scope::Module => (String::new(), Vec::new()),
        Scope::Class(d) => (format!("class {}", m.defs()[d].qualname), Vec::new()),
        Scope::Function(d) => (
            format!("def {}", m.defs()[d].qualname),
            crate::python::pytest::carrier_names(m, d),
        ),
    };
    Some((st.start, st.end, scope, st.binds.clone(), carried))
}

/// Parsing around a few lines sees at them what a whole parse sees, on
/// every line of real files (the sample project's) and on pairs of lines.
#[test]
fn parsing_around_lines_sees_what_a_whole_parse_sees() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample");
    let mut files = Vec::new();
    for sub in ["shop", "tests"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "py") {
                files.push(path);
            }
        }
    }
    files.sort();
    let (mut around, mut whole_only) = (0, 0);
    for path in &files {
        let text = std::fs::read(path).unwrap();
        let whole = parse(&text);
        let outline = Outline::of(&whole).expect("the sample parses cleanly");
        let lines = count_lines(&text);
        let mut cases: Vec<Vec<u32>> = (1..=lines).map(|l| vec![l]).collect();
        cases.extend((1..lines).step_by(3).map(|l| vec![l, (l + 7).min(lines)]));
        for case in cases {
            let mut case = case;
            case.dedup();
            match parse_around(&text, &outline, &case) {
                Some(m) => {
                    around += 1;
                    for &l in &case {
                        assert_eq!(
                            seen_at(&m, l),
                            seen_at(&whole, l),
                            "{}:{l} around {case:?}",
                            path.display()
                        );
                    }
                }
                None => whole_only += 1,
            }
        }
    }
    assert!(
        around > 10 * whole_only,
        "parsed around {around} times, whole {whole_only}"
    );
}
