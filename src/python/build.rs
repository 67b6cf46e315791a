//! Turns normalized source text into statements, defs and imports by
//! walking the tree-sitter syntax tree once, plus a line-based fallback for
//! code the tree could not place. Every walk uses an explicit stack: input
//! nesting is unbounded and recursion could overflow the thread stack.

use std::collections::HashMap;

use tree_sitter::{Node, Parser, Tree, TreeCursor};

use super::paths::is_identifier;
use super::{Def, DefId, DefKind, Fixture, Import, Scope, Statement, StmtKind, TestFn};

/// Everything [`super::parse`] needs, produced in one pass.
pub(super) struct Built {
    pub has_errors: bool,
    pub defs: Vec<Def>,
    /// Superclass expressions per def (dotted text), for test collection.
    pub bases: Vec<Vec<String>>,
    pub statements: Vec<Statement>,
    /// Nesting depth per statement, so the innermost wins a shared line.
    pub depths: Vec<u32>,
    /// `has_code[line]`: the line holds code (not blank, not comment-only,
    /// or inside a multi-line string) within some statement.
    pub has_code: Vec<bool>,
    pub imports: Vec<Import>,
    pub main_blocks: Vec<(u32, u32)>,
    /// Line spans of the top-level statements, merged where they share a
    /// line (`a = 1; b = 2`): the units a partial parse is made of.
    pub tops: Vec<(u32, u32)>,
    /// Per def: the line spans of the statements directly in its body,
    /// merged the same way (the units inside it).
    pub members: Vec<Vec<(u32, u32)>>,
}

pub(super) fn build(text: &str, line_count: u32) -> Built {
    build_from(text, line_count, parse_tree(text, None))
}

/// Builds the old and the new version of a file, parsing the new one
/// incrementally from the old tree: a change of a few lines costs far less
/// than a second full parse, with the same tree.
pub(super) fn build_pair(old: &str, old_lines: u32, new: &str, new_lines: u32) -> (Built, Built) {
    let old_tree = parse_tree(old, None);
    let new_tree = match &old_tree {
        Some(tree) => {
            let mut edited = tree.clone();
            edited.edit(&single_edit(old, new));
            parse_tree(new, Some(&edited))
        }
        None => parse_tree(new, None),
    };
    (
        build_from(old, old_lines, old_tree),
        build_from(new, new_lines, new_tree),
    )
}

/// One edit from the first to the last differing byte.
fn single_edit(old: &str, new: &str) -> tree_sitter::InputEdit {
    let (a, b) = (old.as_bytes(), new.as_bytes());
    let mut prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    while !old.is_char_boundary(prefix) || !new.is_char_boundary(prefix) {
        prefix -= 1;
    }
    let max_suffix = a.len().min(b.len()) - prefix;
    let mut suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_suffix)
        .take_while(|(x, y)| x == y)
        .count();
    while !old.is_char_boundary(a.len() - suffix) || !new.is_char_boundary(b.len() - suffix) {
        suffix -= 1;
    }
    tree_sitter::InputEdit {
        start_byte: prefix,
        old_end_byte: a.len() - suffix,
        new_end_byte: b.len() - suffix,
        start_position: point_at(a, prefix),
        old_end_position: point_at(a, a.len() - suffix),
        new_end_position: point_at(b, b.len() - suffix),
    }
}

/// Row and byte column of a byte offset.
fn point_at(text: &[u8], offset: usize) -> tree_sitter::Point {
    let before = &text[..offset];
    let row = before.iter().filter(|&&c| c == b'\n').count();
    let column = offset
        - before
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
    tree_sitter::Point { row, column }
}

fn build_from(text: &str, line_count: u32, tree: Option<Tree>) -> Built {
    let mut out = Built {
        has_errors: false,
        defs: Vec::new(),
        bases: Vec::new(),
        statements: Vec::new(),
        depths: Vec::new(),
        has_code: vec![false; line_count as usize + 2],
        imports: Vec::new(),
        main_blocks: Vec::new(),
        tops: Vec::new(),
        members: Vec::new(),
    };
    let mut string_spans = Vec::new();
    match &tree {
        Some(tree) => {
            let root = tree.root_node();
            out.has_errors = root.has_error();
            out.tops = child_spans(&mut tree.walk(), root);
            let mut walker = Walker {
                text: text.as_bytes(),
                cursor: tree.walk(),
                col: Collector {
                    text: text.as_bytes(),
                    cursor: tree.walk(),
                    stack: Vec::new(),
                    binds: Vec::new(),
                    refs: Vec::new(),
                    bare: Vec::new(),
                    attrs: Vec::new(),
                    attr_ids: Vec::new(),
                    strings: Vec::new(),
                },
                out: &mut out,
            };
            walker.run(root);
            string_spans = std::mem::take(&mut walker.col.strings);
        }
        // No tree (the parser refused): everything goes through the
        // conservative line-based fallback below.
        None => out.has_errors = true,
    }
    if classify_lines(text, &mut out, &string_spans) {
        out.has_errors = true;
    }
    out.imports.sort_by_key(|i| i.line);
    out
}

/// Line spans of the statements of a module or block, merged where they
/// share a line.
fn child_spans<'t>(cursor: &mut TreeCursor<'t>, parent: Node<'t>) -> Vec<(u32, u32)> {
    let mut tops: Vec<(u32, u32)> = Vec::new();
    for (_, k) in kids(cursor, parent) {
        if is_trivia(k) || !k.is_named() || k.start_byte() >= k.end_byte() {
            continue;
        }
        let (a, b) = (start_line(k), end_line(k).max(start_line(k)));
        match tops.last_mut() {
            Some(last) if last.1 >= a => last.1 = last.1.max(b),
            _ => tops.push((a, b)),
        }
    }
    tops
}

fn parse_tree(text: &str, old: Option<&Tree>) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    parser.parse(text, old)
}

/// 1-based line of a 0-based tree-sitter row.
fn line_of(row: usize) -> u32 {
    u32::try_from(row).unwrap_or(u32::MAX - 1).saturating_add(1)
}

fn start_line(n: Node) -> u32 {
    line_of(n.start_position().row)
}

/// Last line a node touches; a node ending at column 0 (e.g. a trailing
/// backslash-newline) does not touch the line it ends on.
fn end_line(n: Node) -> u32 {
    let (s, e) = (n.start_position(), n.end_position());
    if e.column == 0 && e.row > s.row {
        line_of(e.row - 1)
    } else {
        line_of(e.row)
    }
}

fn text_of<'a>(n: Node, text: &'a [u8]) -> &'a str {
    n.utf8_text(text).unwrap_or("")
}

fn is_trivia(n: Node) -> bool {
    matches!(n.kind(), "comment" | "line_continuation")
}

/// Children with their field names, via a reused cursor (indexing children
/// one by one is quadratic in tree-sitter).
fn kids<'t>(cursor: &mut TreeCursor<'t>, node: Node<'t>) -> Vec<(Option<&'t str>, Node<'t>)> {
    cursor.reset(node);
    let mut v = Vec::new();
    if cursor.goto_first_child() {
        loop {
            v.push((cursor.field_name(), cursor.node()));
            if !cursor.goto_next_sibling() {
                break;
            }
        }
    }
    v
}

#[derive(Clone, Copy)]
struct Ctx {
    scope: Scope,
    parent: Option<DefId>,
    in_function: bool,
    depth: u32,
}

enum Work<'t> {
    Block(Node<'t>, Ctx),
    Stmt(Node<'t>, Ctx),
}

struct Walker<'t, 'o> {
    text: &'t [u8],
    cursor: TreeCursor<'t>,
    col: Collector<'t>,
    out: &'o mut Built,
}

impl<'t> Walker<'t, '_> {
    fn run(&mut self, root: Node<'t>) {
        let ctx = Ctx {
            scope: Scope::Module,
            parent: None,
            in_function: false,
            depth: 0,
        };
        let mut work = vec![Work::Block(root, ctx)];
        while let Some(w) = work.pop() {
            match w {
                Work::Block(n, ctx) => {
                    let children = kids(&mut self.cursor, n);
                    // Reversed so the stack pops them in source order.
                    for (_, k) in children.into_iter().rev() {
                        let separator = k.kind() == ";" && !k.is_named();
                        if !is_trivia(k) && !separator && k.start_byte() < k.end_byte() {
                            work.push(Work::Stmt(k, ctx));
                        }
                    }
                }
                Work::Stmt(n, ctx) => self.stmt(n, ctx, &mut work),
            }
        }
    }

    fn push_stmt(&mut self, start: u32, end: u32, scope: Scope, kind: StmtKind, depth: u32) {
        let Names {
            binds,
            refs,
            bare,
            attrs,
        } = self.col.finish();
        self.out.statements.push(Statement {
            start,
            end: end.max(start),
            scope,
            kind,
            binds,
            refs,
            bare,
            attrs,
        });
        self.out.depths.push(depth);
    }

    fn stmt(&mut self, n: Node<'t>, ctx: Ctx, work: &mut Vec<Work<'t>>) {
        match n.kind() {
            "decorated_definition" => self.decorated(n, ctx, work),
            "function_definition" | "class_definition" => self.def(n, n, &[], ctx, work),
            "if_statement"
            | "for_statement"
            | "while_statement"
            | "try_statement"
            | "with_statement"
            | "match_statement"
            | "elif_clause"
            | "else_clause"
            | "except_clause"
            | "except_group_clause"
            | "finally_clause"
            | "case_clause" => self.compound(n, ctx, work),
            "import_statement" | "import_from_statement" | "future_import_statement" => {
                self.import(n, ctx)
            }
            "ERROR" => self.error_region(n, ctx),
            "block" | "module" => work.push(Work::Block(n, ctx)),
            _ => {
                self.col.add(n, Role::Ref, false);
                let scope = if n.has_error() {
                    Scope::Module
                } else {
                    ctx.scope
                };
                self.push_stmt(
                    start_line(n),
                    end_line(n),
                    scope,
                    StmtKind::Simple,
                    ctx.depth,
                );
            }
        }
    }

    /// A syntax-error region at statement level: one conservative
    /// module-scope statement over all of it, every identifier both bound
    /// and referenced, and line-based import detection inside it.
    fn error_region(&mut self, n: Node<'t>, ctx: Ctx) {
        self.col.add(n, Role::All, false);
        let (start, end) = (start_line(n), end_line(n));
        self.push_stmt(start, end, Scope::Module, StmtKind::Simple, ctx.depth);
        crude_imports_in(self.text, start, end, &mut self.out.imports);
    }

    fn decorated(&mut self, n: Node<'t>, ctx: Ctx, work: &mut Vec<Work<'t>>) {
        let children = kids(&mut self.cursor, n);
        let decorators: Vec<Node<'t>> = children
            .iter()
            .filter(|(_, k)| k.kind() == "decorator")
            .map(|&(_, k)| k)
            .collect();
        let def = children.iter().find(|(f, k)| {
            *f == Some("definition")
                || matches!(k.kind(), "function_definition" | "class_definition")
        });
        match def {
            Some(&(_, d)) if matches!(d.kind(), "function_definition" | "class_definition") => {
                self.def(n, d, &decorators, ctx, work)
            }
            _ => {
                // Decorators without a definition (syntax error): keep as
                // one conservative statement.
                self.col.add(n, Role::Ref, true);
                self.push_stmt(
                    start_line(n),
                    end_line(n),
                    Scope::Module,
                    StmtKind::Simple,
                    ctx.depth,
                );
            }
        }
    }

    /// Walks a def's or class's decorators and header (everything before
    /// its block), collecting names as they are bound and referenced.
    fn def_header(
        &mut self,
        start: u32,
        children: &[(Option<&'t str>, Node<'t>)],
        split: usize,
        block: Option<Node<'t>>,
        decorators: &[Node<'t>],
    ) -> Header {
        let mut h = Header {
            end: start,
            err: false,
            params: Vec::new(),
            bases: Vec::new(),
        };
        for d in decorators {
            h.end = h.end.max(end_line(*d));
            h.err |= d.has_error();
            self.col.add(*d, Role::Ref, true);
        }
        for (i, &(f, k)) in children.iter().enumerate() {
            if is_trivia(k) || (i >= split && Some(k) == block) {
                continue;
            }
            if i < split {
                h.end = h.end.max(end_line(k));
            }
            h.err |= k.has_error();
            if !k.is_named() {
                continue;
            }
            match f {
                Some("name") => self.col.add(k, Role::Bind, false),
                _ => {
                    if f == Some("parameters") {
                        h.params = param_names(k, self.text);
                    } else if f == Some("superclasses") {
                        h.bases = base_names(&mut self.cursor, k, self.text);
                    }
                    self.col.add(k, Role::Ref, false);
                }
            }
        }
        h
    }

    fn def(
        &mut self,
        outer: Node<'t>,
        node: Node<'t>,
        decorators: &[Node<'t>],
        ctx: Ctx,
        work: &mut Vec<Work<'t>>,
    ) {
        let kind = if node.kind() == "class_definition" {
            DefKind::Class
        } else {
            DefKind::Function
        };
        let children = kids(&mut self.cursor, node);
        let split = children
            .iter()
            .position(|(f, k)| *f == Some("body") || k.kind() == "block")
            .unwrap_or(children.len());
        let block = children.get(split).map(|&(_, k)| k);
        let name = children
            .iter()
            .find(|(f, _)| *f == Some("name"))
            .map(|&(_, k)| text_of(k, self.text).to_string())
            .unwrap_or_default();

        let start = start_line(outer);
        let Header {
            end: header_end,
            err,
            params,
            bases,
        } = self.def_header(start, &children, split, block, decorators);
        let body = block.map_or((header_end, header_end), |b| {
            block_range(&mut self.cursor, b)
        });

        let id = self.out.defs.len();
        let qualname = match ctx.parent.and_then(|p| self.out.defs.get(p)) {
            None => name.clone(),
            Some(p) if p.kind == DefKind::Class => format!("{}.{name}", p.qualname),
            Some(p) => format!("{}.<locals>.{name}", p.qualname),
        };
        let (deco_names, fixture, cached) = decorations(decorators, &name, self.text);
        let stmt_kind = match kind {
            DefKind::Function => StmtKind::DefHeader(id),
            DefKind::Class => StmtKind::ClassHeader(id),
        };
        let scope = if err { Scope::Module } else { ctx.scope };
        self.push_stmt(start, header_end, scope, stmt_kind, ctx.depth);
        self.out.defs.push(Def {
            name,
            qualname,
            kind,
            header: (start, header_end),
            body,
            parent: ctx.parent,
            decorators: deco_names,
            params,
            fixture,
            cached,
        });
        self.out.bases.push(bases);
        self.out.members.push(match block {
            Some(b) => child_spans(&mut self.cursor, b),
            None => Vec::new(),
        });
        if let Some(b) = block {
            let inner = Ctx {
                scope: match kind {
                    DefKind::Function => Scope::Function(id),
                    DefKind::Class => Scope::Class(id),
                },
                parent: Some(id),
                in_function: ctx.in_function || kind == DefKind::Function,
                depth: ctx.depth + 1,
            };
            work.push(Work::Block(b, inner));
        }
    }

    /// Header of a compound statement or clause: every child before its
    /// first block. Blocks and following clauses become new work.
    fn compound(&mut self, n: Node<'t>, ctx: Ctx, work: &mut Vec<Work<'t>>) {
        let children = kids(&mut self.cursor, n);
        let split = children
            .iter()
            .position(|(_, k)| k.kind() == "block")
            .unwrap_or(children.len());
        let start = start_line(n);
        let mut end = start;
        let mut err = false;
        let is_for = n.kind() == "for_statement";
        for &(f, k) in &children[..split] {
            if is_trivia(k) {
                continue;
            }
            end = end.max(end_line(k));
            err |= k.has_error();
            if !k.is_named() {
                continue;
            }
            let role = match f {
                Some("left") if is_for => Role::Bind,
                Some("alias") => Role::Bind,
                _ => Role::Ref,
            };
            self.col.add(k, role, false);
        }
        let scope = if err { Scope::Module } else { ctx.scope };
        self.push_stmt(start, end, scope, StmtKind::CompoundHeader, ctx.depth);

        let main_guard = n.kind() == "if_statement"
            && ctx.parent.is_none()
            && n.child_by_field_name("condition")
                .is_some_and(|c| is_main_test(text_of(c, self.text)));
        let inner = Ctx {
            depth: ctx.depth + 1,
            ..ctx
        };
        for (i, &(_, k)) in children.iter().enumerate().skip(split).rev() {
            if is_trivia(k) || k.start_byte() >= k.end_byte() {
                continue;
            }
            if k.kind() == "block" {
                if main_guard && i == split {
                    let range = block_range(&mut self.cursor, k);
                    self.out.main_blocks.push(range);
                }
                work.push(Work::Block(k, inner));
            } else {
                work.push(Work::Stmt(k, ctx));
            }
        }
    }

    /// An import statement: what it binds, and (for `from` imports) what
    /// each bound name denotes.
    //
    // One pass over the statement's children: the module, aliased and
    // plain names and `*` are siblings whose meaning depends on the kind of
    // import, which the arms share.
    fn import(&mut self, n: Node<'t>, ctx: Ctx) {
        let line = start_line(n);
        let children = kids(&mut self.cursor, n);
        let mut module = String::new();
        let mut names = Vec::new();
        let mut binds = Vec::new();
        let mut star = false;
        let is_plain = n.kind() == "import_statement";
        if n.kind() == "future_import_statement" {
            module = "__future__".to_string();
            self.col.refs.push("__future__");
            self.col.bare.push("__future__");
        }
        for &(f, k) in &children {
            match (f, k.kind()) {
                (Some("module_name"), _) => {
                    module = module_text(k, self.text);
                    self.col.add(k, Role::Ref, false);
                }
                (Some("name"), "aliased_import") => {
                    let target = k.child_by_field_name("name");
                    let dotted = target
                        .map(|t| dotted_text(t, self.text))
                        .unwrap_or_default();
                    if let Some(t) = target {
                        self.col.add(t, Role::Ref, false);
                    }
                    let alias = k.child_by_field_name("alias");
                    if let Some(a) = alias {
                        self.col.add(a, Role::Bind, false);
                    }
                    // `import a.b as x` binds x to a.b; `from m import n as k`, k to m.n.
                    let bind = alias.map(|a| {
                        let named = if is_plain {
                            dotted.clone()
                        } else {
                            join_module(&module, &dotted)
                        };
                        (text_of(a, self.text).to_string(), named)
                    });
                    if !is_plain {
                        binds.extend(bind.clone());
                    }
                    self.name_entry(is_plain, dotted, bind, line, ctx, &mut names);
                }
                (Some("name"), _) => {
                    let dotted = dotted_text(k, self.text);
                    self.col.add(k, Role::Ref, false);
                    // `import a.b` binds `a`; `from m import x` binds `x`.
                    // `import a.b` binds a to the module a; `from m import n`, n to m.n.
                    let first = first_identifier(k, self.text);
                    if let Some(first) = first {
                        self.col.binds.push(first);
                    }
                    let bind = first.map(|f| {
                        let named = if is_plain {
                            f.to_string()
                        } else {
                            join_module(&module, &dotted)
                        };
                        (f.to_string(), named)
                    });
                    if !is_plain {
                        binds.extend(bind.clone());
                    }
                    self.name_entry(is_plain, dotted, bind, line, ctx, &mut names);
                }
                (_, "wildcard_import") => {
                    star = true;
                    self.col.binds.push("*");
                }
                _ => {}
            }
        }
        if !is_plain {
            self.out.imports.push(Import {
                line,
                module,
                names,
                star,
                function_level: ctx.in_function,
                binds,
            });
        }
        let scope = if n.has_error() {
            Scope::Module
        } else {
            ctx.scope
        };
        self.push_stmt(line, end_line(n), scope, StmtKind::Import, ctx.depth);
    }

    /// `import a, b` yields one [`Import`] per module; `from` imports
    /// collect names instead.
    fn name_entry(
        &mut self,
        is_plain: bool,
        dotted: String,
        bind: Option<(String, String)>,
        line: u32,
        ctx: Ctx,
        names: &mut Vec<String>,
    ) {
        if dotted.is_empty() {
            return;
        }
        if is_plain {
            let binds = bind.into_iter().collect();
            self.out.imports.push(Import {
                line,
                module: dotted,
                names: Vec::new(),
                star: false,
                function_level: ctx.in_function,
                binds,
            });
        } else {
            names.push(dotted);
        }
    }
}

/// `m.n` for a name imported from module `m`; `.n` from the package
/// itself (`from . import n`).
fn join_module(module: &str, name: &str) -> String {
    if module.ends_with('.') {
        format!("{module}{name}")
    } else {
        format!("{module}.{name}")
    }
}

/// First..last line of a block's statements (comments excluded).
fn block_range<'t>(cursor: &mut TreeCursor<'t>, block: Node<'t>) -> (u32, u32) {
    let children = kids(cursor, block);
    let mut real = children
        .iter()
        .map(|&(_, k)| k)
        .filter(|k| !is_trivia(*k) && k.start_byte() < k.end_byte());
    match real.next() {
        None => (start_line(block), end_line(block)),
        Some(first) => {
            let last = real.next_back().unwrap_or(first);
            (start_line(first), end_line(last).max(start_line(first)))
        }
    }
}

fn is_main_test(cond: &str) -> bool {
    let compact: String = cond
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect();
    matches!(
        compact.as_str(),
        "__name__==\"__main__\""
            | "__name__=='__main__'"
            | "\"__main__\"==__name__"
            | "'__main__'==__name__"
    )
}

/// Identifiers of a dotted name joined by '.' (ignores stray whitespace).
fn dotted_text(n: Node, text: &[u8]) -> String {
    if n.kind() == "identifier" {
        return text_of(n, text).to_string();
    }
    let mut c = n.walk();
    let mut parts = Vec::new();
    if c.goto_first_child() {
        loop {
            if c.node().kind() == "identifier" {
                parts.push(text_of(c.node(), text));
            }
            if !c.goto_next_sibling() {
                break;
            }
        }
    }
    parts.join(".")
}

/// `a` of the dotted name `a.b.c` (or the identifier itself).
fn first_identifier<'a>(n: Node, text: &'a [u8]) -> Option<&'a str> {
    if n.kind() == "identifier" {
        return Some(text_of(n, text));
    }
    let mut c = n.walk();
    n.named_children(&mut c)
        .find(|k| k.kind() == "identifier")
        .map(|k| text_of(k, text))
}

/// Module of a `from` import; relative ones keep their dots.
fn module_text(n: Node, text: &[u8]) -> String {
    if n.kind() != "relative_import" {
        return dotted_text(n, text);
    }
    let mut out = String::new();
    let mut c = n.walk();
    if c.goto_first_child() {
        loop {
            let k = c.node();
            match k.kind() {
                "import_prefix" => {
                    out.extend(text_of(k, text).chars().filter(|&ch| ch == '.'));
                }
                "dotted_name" => out.push_str(&dotted_text(k, text)),
                _ => {}
            }
            if !c.goto_next_sibling() {
                break;
            }
        }
    }
    out
}

/// The expression under a `@` (first named, non-comment child).
fn decorator_expr(d: Node) -> Option<Node> {
    let mut c = d.walk();
    d.named_children(&mut c).find(|k| !is_trivia(*k))
}

/// Dotted name of an expression with call arguments dropped
/// (`functools.lru_cache(maxsize=2)` -> "functools.lru_cache"); anything
/// that is not a plain attribute chain falls back to its whitespace-free text.
fn dotted_expr(e: Node, text: &[u8]) -> String {
    let mut n = e;
    while n.kind() == "call" {
        match n.child_by_field_name("function") {
            Some(f) => n = f,
            None => break,
        }
    }
    let mut parts = Vec::new();
    let mut cur = n;
    loop {
        match cur.kind() {
            "identifier" => {
                parts.push(text_of(cur, text));
                break;
            }
            "attribute" => match (
                cur.child_by_field_name("object"),
                cur.child_by_field_name("attribute"),
            ) {
                (Some(o), Some(a)) => {
                    parts.push(text_of(a, text));
                    cur = o;
                }
                _ => return compact_text(n, text),
            },
            _ => return compact_text(n, text),
        }
    }
    parts.reverse();
    parts.join(".")
}

fn compact_text(n: Node, text: &[u8]) -> String {
    text_of(n, text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Parameter names of a `parameters` node.
fn param_names(params: Node, text: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut c = params.walk();
    for k in params.named_children(&mut c) {
        let target = match k.kind() {
            "identifier" | "list_splat_pattern" | "dictionary_splat_pattern" | "tuple_pattern" => {
                Some(k)
            }
            "typed_parameter" => {
                let mut c2 = k.walk();
                k.named_children(&mut c2).find(|x| {
                    matches!(
                        x.kind(),
                        "identifier" | "list_splat_pattern" | "dictionary_splat_pattern"
                    )
                })
            }
            "default_parameter" | "typed_default_parameter" => k.child_by_field_name("name"),
            _ => None,
        };
        if let Some(t) = target {
            identifiers_in(t, text, &mut out);
        }
    }
    out
}

/// Positional superclass expressions of a class (keywords like
/// `metaclass=` excluded).
fn base_names<'t>(cursor: &mut TreeCursor<'t>, args: Node<'t>, text: &[u8]) -> Vec<String> {
    kids(cursor, args)
        .into_iter()
        .map(|(_, k)| k)
        .filter(|k| k.is_named() && !is_trivia(*k) && k.kind() != "keyword_argument")
        .map(|k| dotted_expr(k, text))
        .collect()
}

/// All identifiers under `n`, in source order (iterative).
fn identifiers_in(n: Node, text: &[u8], out: &mut Vec<String>) {
    let mut c = n.walk();
    loop {
        let k = c.node();
        if k.kind() == "identifier" {
            out.push(text_of(k, text).to_string());
        }
        if k.kind() != "identifier" && c.goto_first_child() {
            continue;
        }
        loop {
            if c.node() == n {
                return;
            }
            if c.goto_next_sibling() {
                break;
            }
            if !c.goto_parent() {
                return;
            }
        }
    }
}

/// Contents of one plain string literal (no f-string interpolation).
fn literal_slice<'a>(n: Node, text: &'a [u8]) -> Option<&'a str> {
    if n.kind() != "string" {
        return None;
    }
    let mut c = n.walk();
    let mut from = None;
    let mut to = None;
    for k in n.children(&mut c) {
        match k.kind() {
            "interpolation" => return None,
            "string_start" => from = Some(k.end_byte()),
            "string_end" => to = Some(k.start_byte()),
            _ => {}
        }
    }
    let (a, b) = (from?, to.unwrap_or(n.end_byte()));
    std::str::from_utf8(text.get(a..b.max(a))?).ok()
}

/// Contents of a plain string literal, or of a concatenation of such.
fn literal_string(n: Node, text: &[u8]) -> Option<String> {
    match n.kind() {
        "string" => literal_slice(n, text).map(str::to_string),
        "concatenated_string" => {
            let mut c = n.walk();
            let mut s = String::new();
            for k in n.named_children(&mut c) {
                if k.kind() == "string" {
                    s.push_str(&literal_string(k, text)?);
                }
            }
            Some(s)
        }
        _ => None,
    }
}

/// Reads `scope=`, `autouse=` and `name=` of a fixture decorator.
fn fixture_args(decorator: Node, fname: &str, text: &[u8]) -> Fixture {
    let mut fx = Fixture {
        name: fname.to_string(),
        scope: "function".to_string(),
        autouse: false,
    };
    let Some(call) = decorator_expr(decorator).filter(|e| e.kind() == "call") else {
        return fx;
    };
    let Some(args) = call.child_by_field_name("arguments") else {
        return fx;
    };
    let mut c = args.walk();
    for kw in args.named_children(&mut c) {
        if kw.kind() != "keyword_argument" {
            continue;
        }
        let (Some(k), Some(v)) = (
            kw.child_by_field_name("name"),
            kw.child_by_field_name("value"),
        ) else {
            continue;
        };
        match text_of(k, text) {
            "scope" => {
                fx.scope = literal_string(v, text).unwrap_or_else(|| "dynamic".to_string());
            }
            // Anything not literally falsy may enable autouse: assume it does.
            "autouse" => {
                fx.autouse = match v.kind() {
                    "false" | "none" => false,
                    "integer" => text_of(v, text) != "0",
                    _ => true,
                }
            }
            "name" => {
                if let Some(s) = literal_string(v, text) {
                    fx.name = s;
                }
            }
            _ => {}
        }
    }
    fx
}

/// How an identifier met during collection counts for its statement.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Ref,
    Bind,
    /// Bound and read (augmented assignment targets).
    Both,
    /// Error regions: everything counts as both, no structure trusted.
    All,
}

#[derive(Clone, Copy)]
struct Item<'t> {
    node: Node<'t>,
    role: Role,
    /// Collect identifier-like string contents (decorator args,
    /// usefixtures/getfixturevalue calls).
    strings: bool,
    in_lambda: bool,
}

/// Gathers the binds and refs of one statement, iteratively.
struct Collector<'t> {
    text: &'t [u8],
    cursor: TreeCursor<'t>,
    stack: Vec<Item<'t>>,
    binds: Vec<&'t str>,
    refs: Vec<&'t str>,
    /// Refs met as plain names.
    bare: Vec<&'t str>,
    /// Attribute references: (attribute, the object's name chain).
    attrs: Vec<(&'t str, Option<String>)>,
    /// Identifier nodes that are an attribute's name (not plain names).
    attr_ids: Vec<usize>,
    /// Line spans of multi-line strings: their blank and '#' lines are code.
    strings: Vec<(u32, u32)>,
}

/// What one statement binds and references (see [`Statement`]).
struct Names {
    binds: Vec<String>,
    refs: Vec<String>,
    bare: Vec<String>,
    attrs: Vec<(String, Option<String>)>,
}

/// `a`, `a.b`: an expression that is a name or a chain of attribute names.
fn name_chain(n: Node, text: &[u8]) -> Option<String> {
    match n.kind() {
        "identifier" => Some(text_of(n, text).to_string()),
        "attribute" => {
            let object = name_chain(n.child_by_field_name("object")?, text)?;
            let attr = n.child_by_field_name("attribute")?;
            (attr.kind() == "identifier").then(|| format!("{object}.{}", text_of(attr, text)))
        }
        _ => None,
    }
}

/// Kinds through which a binding target passes its role to its children.
fn is_target_kind(kind: &str) -> bool {
    matches!(
        kind,
        "identifier"
            | "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "list_splat_pattern"
            | "tuple"
            | "list"
            | "parenthesized_expression"
            | "list_splat"
            | "as_pattern_target"
            | "expression_list"
            | "type"
            | "generic_type"
            | "dotted_name"
    )
}

impl<'t> Collector<'t> {
    fn add(&mut self, node: Node<'t>, role: Role, strings: bool) {
        self.stack.push(Item {
            node,
            role,
            strings,
            in_lambda: false,
        });
        self.run();
    }

    fn finish(&mut self) -> Names {
        // Sort and dedup borrowed names first: one allocation per name kept.
        let own = |v: &mut Vec<&'t str>| -> Vec<String> {
            v.sort_unstable();
            v.dedup();
            v.drain(..).map(str::to_string).collect()
        };
        let mut attrs: Vec<(String, Option<String>)> = self
            .attrs
            .drain(..)
            .map(|(a, chain)| (a.to_string(), chain))
            .collect();
        attrs.sort_unstable();
        attrs.dedup();
        self.attr_ids.clear();
        Names {
            binds: own(&mut self.binds),
            refs: own(&mut self.refs),
            bare: own(&mut self.bare),
            attrs,
        }
    }

    /// Pushes named children; `f` picks each child's role and string flag.
    /// Field names are looked up only when `fields` asks (it is not free).
    fn push_kids(
        &mut self,
        it: Item<'t>,
        fields: bool,
        f: impl Fn(Option<&'t str>, Node<'t>) -> (Role, bool),
    ) {
        self.cursor.reset(it.node);
        if !self.cursor.goto_first_child() {
            return;
        }
        loop {
            let k = self.cursor.node();
            if k.is_named() && k.kind() != "comment" {
                let field = if fields {
                    self.cursor.field_name()
                } else {
                    None
                };
                let (role, strings) = f(field, k);
                self.stack.push(Item {
                    node: k,
                    role,
                    strings,
                    in_lambda: it.in_lambda,
                });
            }
            if !self.cursor.goto_next_sibling() {
                break;
            }
        }
    }

    fn run(&mut self) {
        while let Some(it) = self.stack.pop() {
            if self.leaf(it) {
                continue;
            }
            if it.role == Role::All {
                let s = it.strings;
                self.push_kids(it, false, |_, _| (Role::All, s));
                continue;
            }
            self.push_children(it);
        }
    }

    /// Records what a node is by itself: a name, an attribute, a string.
    /// True when it has nothing beneath to walk (an identifier).
    fn leaf(&mut self, it: Item<'t>) -> bool {
        let n = it.node;
        let (role, s) = (it.role, it.strings);
        match n.kind() {
            "identifier" => {
                let name = text_of(n, self.text);
                if name.is_empty() {
                    return true;
                }
                if role != Role::Bind {
                    self.refs.push(name);
                    if !self.attr_ids.contains(&n.id()) {
                        self.bare.push(name);
                    }
                }
                if role != Role::Ref {
                    self.binds.push(name);
                }
                return true;
            }
            "attribute" if role != Role::All => {
                if let Some(attr) = n
                    .child_by_field_name("attribute")
                    .filter(|a| a.kind() == "identifier")
                {
                    let chain = n
                        .child_by_field_name("object")
                        .and_then(|o| name_chain(o, self.text));
                    self.attrs.push((text_of(attr, self.text), chain));
                    self.attr_ids.push(attr.id());
                }
            }
            "string" => {
                let (a, b) = (start_line(n), end_line(n));
                if a < b {
                    self.strings.push((a, b));
                }
                if s {
                    self.string_names(n);
                }
            }
            _ => {}
        }
        false
    }

    /// Queues a node's children with the roles its kind gives them.
    fn push_children(&mut self, it: Item<'t>) {
        let n = it.node;
        let kind = n.kind();
        let (role, s) = (it.role, it.strings);
        match kind {
            "assignment" => self.push_kids(it, true, |f, _| match f {
                Some("left") => (Role::Bind, s),
                _ => (Role::Ref, s),
            }),
            "augmented_assignment" => self.push_kids(it, true, |f, _| match f {
                Some("left") => (Role::Both, s),
                _ => (Role::Ref, s),
            }),
            "named_expression" => {
                // A walrus inside a lambda binds in the lambda's scope.
                let name_role = if it.in_lambda { Role::Ref } else { Role::Bind };
                self.push_kids(it, true, |f, _| match f {
                    Some("name") => (name_role, s),
                    _ => (Role::Ref, s),
                })
            }
            "lambda" => {
                let inner = Item {
                    in_lambda: true,
                    ..it
                };
                self.push_kids(inner, false, |_, _| (Role::Ref, s));
            }
            "as_pattern" => self.push_kids(it, true, |f, _| match f {
                Some("alias") => (Role::Bind, s),
                _ => (Role::Ref, s),
            }),
            "call" => {
                let fixture_call = n
                    .child_by_field_name("function")
                    .map(|f| last_name(f, self.text))
                    .is_some_and(|l| l == "usefixtures" || l == "getfixturevalue");
                self.push_kids(it, true, |f, _| match f {
                    Some("arguments") => (Role::Ref, s || fixture_call),
                    _ => (Role::Ref, s),
                })
            }
            // Capture patterns in `case` clauses bind names.
            "case_pattern" | "union_pattern" | "keyword_pattern" if role == Role::Ref => self
                .push_kids(it, false, |_, k| {
                    if k.kind() == "dotted_name" && k.named_child_count() == 1 {
                        (Role::Bind, s)
                    } else {
                        (Role::Ref, s)
                    }
                }),
            "splat_pattern" if role == Role::Ref => {
                self.push_kids(it, false, |_, _| (Role::Bind, s))
            }
            "type_alias_statement" => self.push_kids(it, true, |f, _| match f {
                Some("left") => (Role::Bind, s),
                _ => (Role::Ref, s),
            }),
            _ => {
                let child_role = if role == Role::Ref || is_target_kind(kind) {
                    role
                } else {
                    // Attribute/subscript targets only read names.
                    Role::Ref
                };
                self.push_kids(it, false, |_, _| (child_role, s));
            }
        }
    }

    /// Identifier-like pieces of a string literal ("db", "a, b") as refs.
    fn string_names(&mut self, n: Node<'t>) {
        let Some(content) = literal_slice(n, self.text) else {
            return;
        };
        for piece in content.split(',') {
            let piece = piece.trim();
            if is_identifier(piece) {
                self.refs.push(piece);
                self.bare.push(piece);
            }
        }
    }
}

/// Last name of a callee: `request.getfixturevalue` -> "getfixturevalue".
fn last_name<'a>(f: Node, text: &'a [u8]) -> &'a str {
    match f.kind() {
        "identifier" => text_of(f, text),
        "attribute" => f
            .child_by_field_name("attribute")
            .map_or("", |a| text_of(a, text)),
        _ => "",
    }
}

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Identifier-looking words of a line, keywords excluded (fallback only).
fn crude_identifiers(line: &str, out: &mut Vec<String>) {
    let mut word = String::new();
    let mut prev_digit = false;
    for ch in line.chars().chain(std::iter::once(' ')) {
        if ch == '_' || ch.is_alphanumeric() {
            if word.is_empty() && ch.is_numeric() {
                prev_digit = true;
            }
            word.push(ch);
            continue;
        }
        if !word.is_empty() && !prev_digit && !KEYWORDS.contains(&word.as_str()) {
            out.push(std::mem::take(&mut word));
        }
        word.clear();
        prev_digit = false;
    }
}

/// Imports recognised line by line in `start..=end` (error regions and
/// fallback code, where the tree cannot be trusted).
fn crude_imports_in(text: &[u8], start: u32, end: u32, out: &mut Vec<Import>) {
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    for (i, line) in text
        .split('\n')
        .enumerate()
        .skip(start.saturating_sub(1) as usize)
        .take(end.saturating_sub(start) as usize + 1)
    {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        crude_import(line, line_no, out);
    }
}

fn crude_import(line: &str, line_no: u32, out: &mut Vec<Import>) {
    let code = line.split('#').next().unwrap_or("").trim();
    let clean = |s: &str| {
        s.trim()
            .trim_matches(|c: char| c == '(' || c == ')' || c == '\\' || c == ';')
            .trim()
            .to_string()
    };
    let valid_dotted = |s: &str| {
        let s = s.trim_start_matches('.');
        s.is_empty() || s.split('.').all(is_identifier)
    };
    if let Some(rest) = code.strip_prefix("import ") {
        for part in rest.split(',') {
            let name = clean(part.split(" as ").next().unwrap_or(""));
            if !name.is_empty() && !name.starts_with('.') && valid_dotted(&name) {
                out.push(Import {
                    line: line_no,
                    module: name,
                    names: Vec::new(),
                    star: false,
                    function_level: false,
                    binds: Vec::new(),
                });
            }
        }
    } else if let Some(rest) = code.strip_prefix("from ") {
        let Some((module, names)) = rest.split_once(" import") else {
            return;
        };
        let module: String = module.chars().filter(|c| !c.is_whitespace()).collect();
        if module.is_empty() || !valid_dotted(&module) {
            return;
        }
        let mut imp = Import {
            line: line_no,
            module,
            names: Vec::new(),
            star: false,
            function_level: false,
            binds: Vec::new(),
        };
        for part in names.split(',') {
            let name = clean(part.split(" as ").next().unwrap_or(""));
            if name == "*" {
                imp.star = true;
            } else if is_identifier(&name) {
                imp.names.push(name);
            }
        }
        out.push(imp);
    }
}

/// Decides which lines hold code, then gives every code-looking line that
/// no statement covers a conservative module-scope statement (runs of such
/// lines are grouped). A line in a statement holds code unless it is blank,
/// comment-only or a lone backslash, except inside a multi-line string.
/// In a clean parse nothing is uncovered; the fallback catches what error
/// recovery or a parser failure left behind. Returns whether it added any.
/// Whether a line holds code by its look: not blank, not only a comment,
/// not a lone line continuation. Inside a string the parser knows better.
pub(super) fn looks_like_code(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#') && t != "\\"
}

fn classify_lines(text: &str, out: &mut Built, strings: &[(u32, u32)]) -> bool {
    let n_lines = out.has_code.len();
    let mark = |v: &mut Vec<bool>, a: u32, b: u32| {
        let hi = (b as usize).min(n_lines.saturating_sub(1));
        for slot in v.iter_mut().take(hi + 1).skip(a as usize) {
            *slot = true;
        }
    };
    let mut covered = vec![false; n_lines];
    for s in &out.statements {
        mark(&mut covered, s.start, s.end);
    }
    let mut in_string = vec![false; n_lines];
    for &(a, b) in strings {
        mark(&mut in_string, a, b);
    }
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        if line_no >= n_lines {
            break;
        }
        let looks_code = looks_like_code(line);
        if covered[line_no] {
            out.has_code[line_no] = looks_code || in_string[line_no];
            continue;
        }
        if !looks_code {
            continue;
        }
        out.has_code[line_no] = true;
        let l = u32::try_from(line_no).unwrap_or(u32::MAX);
        match runs.last_mut() {
            Some(r) if r.1 + 1 == l => r.1 = l,
            _ => runs.push((l, l)),
        }
    }
    if runs.is_empty() {
        return false;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    for &(a, b) in &runs {
        let mut words = Vec::new();
        for l in a..=b {
            if let Some(line) = lines.get(l as usize - 1) {
                crude_identifiers(line, &mut words);
                crude_import(line, l, &mut out.imports);
            }
        }
        words.sort_unstable();
        words.dedup();
        out.statements.push(Statement {
            start: a,
            end: b,
            scope: Scope::Module,
            kind: StmtKind::Simple,
            binds: words.clone(),
            bare: words.clone(),
            refs: words,
            attrs: Vec::new(),
        });
        out.depths.push(0);
    }
    // Keep source order: stable sort by start line, depths alongside.
    let mut order: Vec<usize> = (0..out.statements.len()).collect();
    order.sort_by_key(|&i| out.statements[i].start);
    let mut stmts: Vec<Option<Statement>> = std::mem::take(&mut out.statements)
        .into_iter()
        .map(Some)
        .collect();
    let depths = std::mem::take(&mut out.depths);
    for i in order {
        if let Some(s) = stmts[i].take() {
            out.statements.push(s);
            out.depths.push(depths[i]);
        }
    }
    true
}

/// pytest's default collection over the defs of one module.
pub(super) fn test_functions(defs: &[Def], bases: &[Vec<String>]) -> Vec<TestFn> {
    let tree = ClassTree::new(defs, bases);
    let mut out: Vec<TestFn> = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        if d.parent.is_some() {
            continue;
        }
        match d.kind {
            // A fixture named test_* is not collected as a test.
            DefKind::Function if d.name.starts_with("test") && d.fixture.is_none() => {
                push(&mut out, d.name.clone(), i)
            }
            DefKind::Class => {
                let unittest = tree.is_testcase(i);
                let test_class = d.name.starts_with("Test") && !tree.has_init(i);
                if !unittest && !test_class {
                    continue;
                }
                let mut work = vec![(i, d.name.clone())];
                while let Some((cls, prefix)) = work.pop() {
                    for (name, m) in tree.methods(cls) {
                        if name.starts_with("test") {
                            push(&mut out, format!("{prefix}::{name}"), m);
                        }
                    }
                    if unittest {
                        continue; // unittest does not collect nested classes
                    }
                    for &c in tree.children[cls].iter().rev() {
                        let cd = &defs[c];
                        if cd.kind == DefKind::Class
                            && cd.name.starts_with("Test")
                            && !tree.has_init(c)
                        {
                            work.push((c, format!("{prefix}::{}", cd.name)));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The defs of one module as pytest's collection sees them: each def's
/// children, and top-level classes with their same-module bases.
struct ClassTree<'d> {
    defs: &'d [Def],
    bases: &'d [Vec<String>],
    children: Vec<Vec<DefId>>,
    top_classes: HashMap<&'d str, DefId>,
}

impl<'d> ClassTree<'d> {
    fn new(defs: &'d [Def], bases: &'d [Vec<String>]) -> ClassTree<'d> {
        let mut children: Vec<Vec<DefId>> = vec![Vec::new(); defs.len()];
        let mut top_classes: HashMap<&str, DefId> = HashMap::new();
        for (i, d) in defs.iter().enumerate() {
            match d.parent {
                Some(p) if p < defs.len() => children[p].push(i),
                None if d.kind == DefKind::Class => {
                    top_classes.insert(d.name.as_str(), i);
                }
                _ => {}
            }
        }
        ClassTree {
            defs,
            bases,
            children,
            top_classes,
        }
    }

    /// The class and its same-module ancestors, nearest first (cycle-safe).
    fn ancestors(&self, id: DefId) -> Vec<DefId> {
        let mut seen = vec![id];
        let mut i = 0;
        while i < seen.len() {
            for b in self.bases.get(seen[i]).into_iter().flatten() {
                if let Some(&c) = self.top_classes.get(b.as_str())
                    && !seen.contains(&c)
                {
                    seen.push(c);
                }
            }
            i += 1;
        }
        seen
    }

    fn is_testcase(&self, id: DefId) -> bool {
        self.ancestors(id).iter().any(|&a| {
            self.bases
                .get(a)
                .into_iter()
                .flatten()
                .any(|b| b.rsplit('.').next().unwrap_or("").ends_with("TestCase"))
        })
    }

    fn has_init(&self, id: DefId) -> bool {
        self.ancestors(id).iter().any(|&a| {
            self.children[a]
                .iter()
                .any(|&m| self.defs[m].kind == DefKind::Function && self.defs[m].name == "__init__")
        })
    }

    /// Methods visible on a class: nearer classes override farther ones.
    fn methods(&self, id: DefId) -> Vec<(String, DefId)> {
        let mut list: Vec<(String, DefId)> = Vec::new();
        for &a in self.ancestors(id).iter().rev() {
            for &m in &self.children[a] {
                let def = &self.defs[m];
                if def.kind != DefKind::Function {
                    continue;
                }
                match list.iter_mut().find(|(n, _)| *n == def.name) {
                    Some(slot) => slot.1 = m,
                    None => list.push((def.name.clone(), m)),
                }
            }
        }
        list
    }
}

/// Adds a test; a redefinition replaces the earlier one, as in the module dict.
fn push(out: &mut Vec<TestFn>, id: String, def: DefId) {
    match out.iter_mut().find(|t| t.id == id) {
        Some(t) => t.def = def,
        None => out.push(TestFn { id, def }),
    }
}

/// What a def's or class's header says beyond its name.
struct Header {
    /// Its last line (decorators and header included).
    end: u32,
    /// Whether it holds a syntax error.
    err: bool,
    params: Vec<String>,
    bases: Vec<String>,
}

/// A definition's decorators as dotted names, its fixture (when a
/// `fixture` decorator makes it one), and whether a memoising decorator
/// wraps it.
fn decorations(
    decorators: &[Node<'_>],
    name: &str,
    text: &[u8],
) -> (Vec<String>, Option<Fixture>, bool) {
    let deco_names: Vec<String> = decorators
        .iter()
        .filter_map(|d| decorator_expr(*d))
        .map(|e| dotted_expr(e, text))
        .collect();
    let fixture = decorators.iter().zip(&deco_names).find_map(|(d, dn)| {
        let last = dn.rsplit('.').next().unwrap_or("");
        if matches!(last, "fixture" | "yield_fixture") {
            Some(fixture_args(*d, name, text))
        } else {
            None
        }
    });
    let cached = deco_names.iter().any(|dn| {
        matches!(
            dn.rsplit('.').next().unwrap_or(""),
            "lru_cache" | "cache" | "cached_property" | "cached"
        )
    });
    (deco_names, fixture, cached)
}
