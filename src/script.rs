//! Rhai, configured once for cellflow: the engine every script and `when:`
//! expression is compiled (and later run) with, and a reader that finds the
//! session variables a script reads and assigns, from rhai's own AST.
//!
//! Scripts are pure: no `eval`, no `import` (no module resolver at all), no
//! output; and they run under limits so that a runaway script fails its turn
//! instead of hanging it: operations, call depth, sizes, and the wall clock
//! (an operation's cost varies: copying a deeply nested array is one
//! operation, so an operation count alone does not bound the time).

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::{AST, ASTNode, Engine, Expr, OptimizationLevel, Position, Stmt};

/// Most rhai operations one script may run.
pub const MAX_OPERATIONS: u64 = 100_000;
/// Deepest function call nesting.
pub const MAX_CALL_LEVELS: usize = 32;
/// Longest string a script may build, in bytes.
pub const MAX_STRING_SIZE: usize = 64 * 1024;
/// Largest array or object map a script may build.
pub const MAX_COLLECTION_SIZE: usize = 10_000;
/// Deepest expression nesting the parser accepts.
pub const MAX_EXPR_DEPTH: usize = 64;
/// Longest the scripts and conditions of one turn may run together, by the
/// wall clock (the host can change it: `Bot::with_script_time`).
pub const MAX_SCRIPT_TIME: Duration = Duration::from_millis(500);
/// Operations between two looks at the clock: reading it costs about as
/// much as an operation, and even the costliest operations the size limits
/// allow take well under a millisecond each, so a script over its time
/// stops within a few milliseconds.
const CLOCK_EVERY: u64 = 16;

thread_local! {
    /// When the script running on this thread must stop, and the budget it
    /// had (for the error message); `None` outside [`with_deadline`].
    static DEADLINE: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
}

/// Runs `run` (which evaluates scripts on this thread) so that a script
/// still running at `deadline` stops with rhai's `ErrorTerminated`, whose
/// token is the budget in milliseconds, `budget` (see [`time_budget`]).
pub fn with_deadline<T>(deadline: Instant, budget: Duration, run: impl FnOnce() -> T) -> T {
    /// Restores the outer deadline even if `run` unwinds.
    struct Restore(Option<(Instant, Duration)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEADLINE.set(self.0);
        }
    }
    let _restore = Restore(DEADLINE.replace(Some((deadline, budget))));
    run()
}

/// The budget a script stopped by its deadline had, from the token of
/// rhai's `ErrorTerminated`.
#[must_use]
pub fn time_budget(token: &rhai::Dynamic) -> Option<Duration> {
    token
        .as_int()
        .ok()
        .and_then(|ms| u64::try_from(ms).ok())
        .map(Duration::from_millis)
}

/// rhai's progress callback: stops the script once its deadline has passed.
fn past_deadline(operations: u64) -> Option<rhai::Dynamic> {
    if !operations.is_multiple_of(CLOCK_EVERY) {
        return None;
    }
    let (deadline, budget) = DEADLINE.get()?;
    (Instant::now() >= deadline).then(|| {
        let ms = rhai::INT::try_from(budget.as_millis()).unwrap_or(rhai::INT::MAX);
        rhai::Dynamic::from_int(ms)
    })
}

/// The variables every script can read without assigning them.
pub const BUILTINS: [&str; 4] = ["input", "user", "bot", "session"];

/// A rhai engine with cellflow's restrictions and limits.
#[must_use]
pub fn engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    engine.disable_symbol("import");
    engine.disable_symbol("export");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine.set_max_operations(MAX_OPERATIONS);
    engine.on_progress(past_deadline);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_string_size(MAX_STRING_SIZE);
    engine.set_max_array_size(MAX_COLLECTION_SIZE);
    engine.set_max_map_size(MAX_COLLECTION_SIZE);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_EXPR_DEPTH / 2);
    engine.set_optimization_level(OptimizationLevel::None);
    engine
}

/// A variable access in a script, at a 1-based line and column of the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

/// What a script does with session variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Reads of variables the script has not assigned on every path before
    /// the read: these need the session to have them.
    pub reads: Vec<Access>,
    /// Variables assigned on every path through the script.
    pub assigns: Vec<String>,
    /// Variables assigned on some path (for "is it assigned anywhere").
    pub may_assign: Vec<String>,
    /// Property names used (`input.entities.rut` uses `rut`).
    pub properties: Vec<String>,
}

fn access(name: &str, pos: Position) -> Access {
    Access {
        name: name.to_owned(),
        line: pos.line().unwrap_or(1),
        column: pos.position().unwrap_or(1),
    }
}

/// Reads a compiled script's effects on session variables.
///
/// A session variable is one the parser did not resolve to a local (`let` in
/// a block, a `for` variable, a function parameter): rhai leaves its index
/// empty. Top-level `let` also persists in the session, so it counts as an
/// assignment.
#[must_use]
pub fn effects(ast: &AST) -> Effects {
    let mut effects = Effects::default();
    let mut assigned = Vec::new();
    block(ast.statements(), &mut assigned, &mut effects, true);
    effects.assigns = assigned;
    effects.may_assign.sort();
    effects.may_assign.dedup();
    effects.properties.sort();
    effects.properties.dedup();
    effects
}

/// The session variable an expression names, if it is a plain variable.
fn session_var(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Variable(v, short, _) if short.is_none() && v.0.is_none() && v.2.is_empty() => {
            Some(v.1.as_str())
        }
        _ => None,
    }
}

/// Records the session-variable reads and property names at one AST node.
fn visit_reads(path: &[ASTNode], assigned: &[String], effects: &mut Effects) {
    if let Some(ASTNode::Expr(e)) = path.last() {
        if let Some(name) = session_var(e)
            && !assigned.iter().any(|a| a == name)
            && !effects.reads.iter().any(|r| r.name == name)
        {
            effects.reads.push(access(name, e.position()));
        }
        if let Expr::Property(p, _) = e {
            effects.properties.push(p.2.to_string());
        }
    }
}

fn reads_in_expr(expr: &Expr, assigned: &[String], effects: &mut Effects) {
    expr.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
        visit_reads(path, assigned, effects);
        true
    });
}

fn reads_in_stmt(stmt: &Stmt, assigned: &[String], effects: &mut Effects) {
    stmt.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
        visit_reads(path, assigned, effects);
        if let Some(ASTNode::Stmt(s)) = path.last() {
            record_may_assign(s, effects);
        }
        true
    });
}

fn record_may_assign(stmt: &Stmt, effects: &mut Effects) {
    match stmt {
        Stmt::Assignment(a) => {
            if let Some(name) = session_var(&a.1.lhs) {
                effects.may_assign.push(name.to_owned());
            }
        }
        Stmt::Var(v, _, _) => effects.may_assign.push(v.0.name.to_string()),
        _ => {}
    }
}

/// Walks statements in order, tracking what is assigned on every path.
fn block(stmts: &[Stmt], assigned: &mut Vec<String>, effects: &mut Effects, top: bool) {
    for stmt in stmts {
        match stmt {
            Stmt::Assignment(a) => {
                reads_in_expr(&a.1.rhs, assigned, effects);
                match session_var(&a.1.lhs) {
                    // `x op= y` reads x first.
                    Some(name) if !a.0.is_op_assignment() => {
                        effects.may_assign.push(name.to_owned());
                        if !assigned.iter().any(|n| n == name) {
                            assigned.push(name.to_owned());
                        }
                    }
                    _ => reads_in_expr(&a.1.lhs, assigned, effects),
                }
            }
            Stmt::Var(v, _, _) => {
                reads_in_expr(&v.1, assigned, effects);
                if top {
                    let name = v.0.name.to_string();
                    effects.may_assign.push(name.clone());
                    if !assigned.contains(&name) {
                        assigned.push(name);
                    }
                }
            }
            Stmt::If(flow, _) => {
                reads_in_expr(&flow.expr, assigned, effects);
                let mut then_assigned = assigned.clone();
                block(flow.body.statements(), &mut then_assigned, effects, false);
                let mut else_assigned = assigned.clone();
                block(flow.branch.statements(), &mut else_assigned, effects, false);
                for name in then_assigned {
                    if else_assigned.contains(&name) && !assigned.contains(&name) {
                        assigned.push(name);
                    }
                }
            }
            Stmt::Block(b) => block(b.statements(), assigned, effects, false),
            other => reads_in_stmt(other, assigned, effects),
        }
    }
}

/// One mention of a session variable in a script, for an editor's
/// go-to-definition, references and rename.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mention {
    pub access: Access,
    /// Assigned here (`x = …`, or a top-level `let x`), not read.
    pub assigned: bool,
}

/// Every mention of a session variable in a compiled script, in the order
/// rhai's AST holds them (unlike [`effects`], which keeps the first read of
/// each and only reads that need the variable set).
#[must_use]
pub fn mentions(ast: &AST) -> Vec<Mention> {
    let mut found = Vec::new();
    for stmt in ast.statements() {
        if let Stmt::Var(v, _, _) = stmt {
            // A top-level `let` persists in the session: an assignment.
            found.push(Mention {
                access: access(v.0.name.as_str(), v.0.pos),
                assigned: true,
            });
        }
        stmt.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
            if let Some(ASTNode::Expr(e)) = path.last()
                && let Some(name) = session_var(e)
            {
                let assigned = matches!(
                    path.iter().rev().nth(1),
                    Some(ASTNode::Stmt(Stmt::Assignment(a)))
                        if !a.0.is_op_assignment() && a.1.lhs.position() == e.position()
                );
                found.push(Mention {
                    access: access(name, e.position()),
                    assigned,
                });
            }
            true
        });
    }
    found
}

/// The variable a condition proves set: `x != ()` or `() != x`.
///
/// "Ask once" flows skip an input when its variable is already set; with this
/// the data-flow analysis knows that the skipping arm has the variable.
#[must_use]
pub fn guarded_var(ast: &AST) -> Option<String> {
    let [Stmt::Expr(expr)] = ast.statements() else {
        return None;
    };
    let Expr::FnCall(call, _) = expr.as_ref() else {
        return None;
    };
    if call.name != "!=" || call.args.len() != 2 {
        return None;
    }
    match (&call.args[0], &call.args[1]) {
        (e, Expr::Unit(_)) | (Expr::Unit(_), e) => session_var(e).map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> Effects {
        effects(&engine().compile(script).expect("compiles"))
    }

    #[test]
    fn assignments_and_reads_in_order() {
        let e = run(
            "total = price * qty; let _tmp = total + tax; if vip { discount = 1; } else { discount = 0; }",
        );
        assert_eq!(e.assigns, vec!["total", "_tmp", "discount"]);
        let reads: Vec<_> = e.reads.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(reads, vec!["price", "qty", "tax", "vip"]);
    }

    #[test]
    fn a_branch_without_else_assigns_nothing_for_sure() {
        let e = run("if x > 1 { y = 2; } z = y;");
        assert_eq!(e.assigns, vec!["z"]);
        assert!(e.reads.iter().any(|r| r.name == "y"));
        assert!(e.may_assign.contains(&"y".to_owned()));
    }

    #[test]
    fn locals_are_not_session_reads() {
        let e = run("let sum = 0; for i in items { sum += i; } count = sum;");
        let reads: Vec<_> = e.reads.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(reads, vec!["items"]);
    }

    #[test]
    fn compound_assignment_reads_first() {
        let e = run("counter += 1;");
        assert_eq!(e.reads[0].name, "counter");
    }

    #[test]
    fn guards_are_recognised() {
        let guard = |s: &str| guarded_var(&engine().compile_expression(s).expect("compiles"));
        assert_eq!(guard("rut != ()").as_deref(), Some("rut"));
        assert_eq!(guard("() != rut").as_deref(), Some("rut"));
        assert_eq!(guard("rut == ()"), None);
        assert_eq!(guard("rut != () && x"), None);
    }

    #[test]
    fn every_mention_is_found_with_its_place() {
        let ast = engine()
            .compile("let note = 1;\ntotal = price * qty;\nif vip { total += price; }")
            .expect("compiles");
        let found: Vec<(String, usize, usize, bool)> = mentions(&ast)
            .into_iter()
            .map(|m| (m.access.name, m.access.line, m.access.column, m.assigned))
            .collect();
        assert_eq!(
            found,
            vec![
                ("note".to_owned(), 1, 5, true),
                ("total".to_owned(), 2, 1, true),
                ("price".to_owned(), 2, 9, false),
                ("qty".to_owned(), 2, 17, false),
                ("vip".to_owned(), 3, 4, false),
                ("total".to_owned(), 3, 10, false),
                ("price".to_owned(), 3, 19, false),
            ]
        );
    }

    #[test]
    fn eval_and_import_are_rejected() {
        assert!(engine().compile(r#"eval("1")"#).is_err());
        assert!(engine().compile(r#"import "x" as y;"#).is_err());
    }
}
