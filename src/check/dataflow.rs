//! "May be unset": a forward must-analysis over the cell graph.
//!
//! For each cell it computes the variables assigned on *every* path from a
//! flow start to it, then warns where a cell reads one that is not. Inputs
//! assign their variable on the valid edge only (not on `on_fail`); services
//! assign `save` and `status` on success and `status` on error; code cells
//! assign what their rhai AST assigns on every path; a rule arm whose
//! condition is `x != ()` proves `x` set on its edge. A call assigns what the
//! callee assigns on every path to its completion (a summary per callee,
//! computed once), so a variable set inside a called flow is known after the
//! call returns.
//!
//! Entries: a flow with a trigger starts with nothing assigned (built-ins and
//! `bot.context` are always set). A flow without a trigger that other flows
//! jump to starts with what holds at those jumps; one nobody jumps to starts
//! with nothing.
//!
//! A read of a name that nothing in the bot assigns and the host does not
//! provide, close to one that is, is most likely misspelt: it is an error
//! (`misspelt_variable`, docs/DIAGNOSTICS.md says why), reported wherever
//! it is read, reachable or not, instead of a warning here.

// FxHash: these maps are keyed by small integers and sit on the checker's
// hot path, where SipHash's DoS resistance buys nothing.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::ast::CellKind;
use crate::diagnostic::{Diagnostic, Problem};
use crate::graph::{Branch, CellId, Edge, Graph};

use super::Context;
use super::embedded::Facts;
use super::flow::Calls;

/// A set of variables: sorted, deduplicated indexes. Sparse, because a big
/// bot has thousands of variables but few are live at any cell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Vars(Vec<u32>);

impl Vars {
    fn insert(&mut self, i: u32) {
        if let Err(at) = self.0.binary_search(&i) {
            self.0.insert(at, i);
        }
    }
    fn contains(&self, i: u32) -> bool {
        self.0.binary_search(&i).is_ok()
    }
    fn union(&mut self, other: &Vars) {
        if other.0.is_empty() {
            return;
        }
        let mut merged = Vec::with_capacity(self.0.len() + other.0.len());
        let (mut a, mut b) = (self.0.iter().peekable(), other.0.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) => {
                    merged.push(x.min(y));
                    if x <= y {
                        a.next();
                    }
                    if y <= x {
                        b.next();
                    }
                }
                (Some(&&x), None) => {
                    merged.push(x);
                    a.next();
                }
                (None, Some(&&y)) => {
                    merged.push(y);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.0 = merged;
    }
    /// Intersects in place; true if anything changed.
    fn intersect(&mut self, other: &Vars) -> bool {
        let before = self.0.len();
        self.0.retain(|x| other.0.binary_search(x).is_ok());
        self.0.len() != before
    }
}

struct Analysis<'a> {
    graph: &'a Graph,
    calls: &'a Calls,
    successors: Vec<Vec<(Edge, CellId)>>,
    /// Per cell and edge kind: what leaving along it assigns.
    gens: HashMap<(CellId, Edge), Vars>,
    summaries: HashMap<CellId, Option<Vars>>,
    in_progress: Vec<CellId>,
}

impl Analysis<'_> {
    /// What holds at the start of each cell reached from `entries`, and
    /// at completion (`None` where nothing reaches).
    ///
    /// With `into_calls`, the walk also goes into each callee (the states
    /// inside it are reported on). A callee's summary does not: it needs
    /// only what holds when its own cells complete, which calls' summaries
    /// give, and walking into every nested callee again made a chain of
    /// calls quadratic.
    fn solve(
        &mut self,
        entries: &[(CellId, Vars)],
        into_calls: bool,
    ) -> (HashMap<CellId, Option<Vars>>, Option<Vars>) {
        let exit = self.graph.exit();
        // Sparse: a callee's summary visits only the cells it reaches.
        let mut state: HashMap<CellId, Option<Vars>> = HashMap::default();
        let mut at_exit: Option<Vars> = None;
        let mut work: Vec<CellId> = Vec::new();
        let mut queued: HashSet<CellId> = HashSet::default();
        let merge = |slot: &mut Option<Vars>, incoming: &Vars| -> bool {
            match slot {
                None => {
                    *slot = Some(incoming.clone());
                    true
                }
                Some(current) => current.intersect(incoming),
            }
        };
        for (entry, bits) in entries {
            if *entry == exit {
                merge(&mut at_exit, bits);
            } else if merge(state.entry(*entry).or_default(), bits) && queued.insert(*entry) {
                work.push(*entry);
            }
        }
        while let Some(node) = work.pop() {
            queued.remove(&node);
            let Some(Some(current)) = state.get(&node).cloned() else {
                continue;
            };
            for i in 0..self.successors[node.index()].len() {
                let (edge, to) = self.successors[node.index()][i];
                if edge == Edge::Call && !into_calls {
                    continue;
                }
                let mut out = current.clone();
                if edge == Edge::Return {
                    let Some(callee) = self.calls.callee(node) else {
                        continue;
                    };
                    match self.summary(callee) {
                        Some(assigned) => out.union(&assigned),
                        None => continue,
                    }
                } else if let Some(g) = self.gens.get(&(node, edge)) {
                    out.union(g);
                }
                if to == exit {
                    merge(&mut at_exit, &out);
                } else if merge(state.entry(to).or_default(), &out) && queued.insert(to) {
                    work.push(to);
                }
            }
        }
        (state, at_exit)
    }

    /// What a callee assigns on every path to its completion; `None` if it
    /// never completes.
    fn summary(&mut self, entry: CellId) -> Option<Vars> {
        if let Some(known) = self.summaries.get(&entry) {
            return known.clone();
        }
        if self.in_progress.contains(&entry) {
            // Recursion: assume the inner call assigns nothing for sure.
            return Some(Vars::default());
        }
        self.in_progress.push(entry);
        // Nested calls recurse through here; grow the stack for long chains.
        let (_, at_exit) = stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
            self.solve(&[(entry, Vars::default())], false)
        });
        self.in_progress.pop();
        self.summaries.insert(entry, at_exit.clone());
        at_exit
    }
}

/// Names read somewhere that nothing assigns and the host does not provide
/// (not in `bot.context`, not a built-in), each with the known name it is a
/// typo of: one edit away (a letter added, dropped, changed, or two letters
/// swapped), two for names of 8 letters or more. Names further from every
/// known one are left to `maybe_unset`: they may be the host's (`user_id`
/// beside an assigned `user` is no typo).
pub(crate) fn misspelt<'f>(ctx: &Context<'_>, facts: &'f Facts) -> HashMap<&'f str, String> {
    let known: Vec<&str> = facts
        .assigned_anywhere
        .iter()
        .map(String::as_str)
        .chain(ctx.bot.settings.context.iter().map(|n| n.value.as_str()))
        .collect();
    let mut misspelt = HashMap::default();
    let mut seen: HashSet<&str> = HashSet::default();
    for u in facts.cells.iter().flat_map(|c| &c.uses) {
        let name = u.name.as_str();
        if !seen.insert(name) || known.contains(&name) || crate::script::BUILTINS.contains(&name) {
            continue;
        }
        if let Some(typo_of) = typo_of(name, &known) {
            misspelt.insert(name, typo_of.to_owned());
        }
    }
    misspelt
}

/// The known name `name` is a typo of, if one is that close (see
/// [`misspelt`]).
fn typo_of<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let letters = name.chars().count();
    if letters < 3 {
        return None;
    }
    let most = if letters >= 8 { 2 } else { 1 };
    known
        .iter()
        .filter(|k| k.chars().count() >= 3)
        .map(|k| (strsim::osa_distance(name, k), *k))
        .filter(|(edits, _)| *edits <= most)
        .min_by_key(|(edits, _)| *edits)
        .map(|(_, k)| k)
}

/// Every read of a misspelt name (see [`misspelt`]), once per cell.
pub(crate) fn misspelt_variables(
    facts: &Facts,
    misspelt: &HashMap<&str, String>,
) -> Vec<Diagnostic> {
    if misspelt.is_empty() {
        return Vec::new();
    }
    let mut diagnostics = Vec::new();
    for cell in &facts.cells {
        let mut reported: Vec<&str> = Vec::new();
        for u in &cell.uses {
            let Some(suggestion) = misspelt.get(u.name.as_str()) else {
                continue;
            };
            if reported.contains(&u.name.as_str()) {
                continue;
            }
            reported.push(&u.name);
            diagnostics.push(Diagnostic::new(
                Problem::MisspeltVariable {
                    name: u.name.clone(),
                    suggestion: suggestion.clone(),
                },
                u.span,
            ));
        }
    }
    diagnostics
}

pub(crate) fn maybe_unset(
    ctx: &Context<'_>,
    facts: &Facts,
    calls: &Calls,
    misspelt: &HashMap<&str, String>,
) -> Vec<Diagnostic> {
    let graph = &ctx.lowered.graph;
    let always: Vec<&str> = crate::script::BUILTINS
        .iter()
        .copied()
        .chain(ctx.bot.settings.context.iter().map(|n| n.value.as_str()))
        .collect();
    // Only variables that some cell reads matter (a misspelt one is an
    // error of its own).
    let mut index: HashMap<&str, u32> = HashMap::default();
    for cell in &facts.cells {
        for u in &cell.uses {
            if !always.contains(&u.name.as_str()) && !misspelt.contains_key(u.name.as_str()) {
                let next = u32::try_from(index.len()).unwrap_or(u32::MAX);
                index.entry(u.name.as_str()).or_insert(next);
            }
        }
    }
    if index.is_empty() {
        return Vec::new();
    }
    let mut gens: HashMap<(CellId, Edge), Vars> = HashMap::default();
    let mut add = |cell: CellId, edge: Edge, name: &str| {
        if let Some(&i) = index.get(name) {
            gens.entry((cell, edge)).or_default().insert(i);
        }
    };
    for (id, cell) in graph.cells() {
        match &ctx.bot.flows[cell.flow.index()].cells[cell.index as usize].kind {
            CellKind::Input(input) => add(id, Edge::Branch(Branch::Valid), &input.var.value),
            CellKind::Service(service) => {
                for name in service.save.iter().chain(&service.status) {
                    add(id, Edge::Branch(Branch::Success), &name.value);
                }
                if let Some(status) = &service.status {
                    add(id, Edge::Branch(Branch::Error), &status.value);
                }
            }
            CellKind::Code(_) => {
                for name in &facts.cells[id.index()].assigns {
                    add(id, Edge::Next, name);
                }
            }
            CellKind::Rule(_) => {
                for (arm, guard) in facts.cells[id.index()].guards.iter().enumerate() {
                    if let Some(name) = guard {
                        add(id, Edge::Branch(Branch::numbered(arm, Branch::Arm)), name);
                    }
                }
            }
            _ => {}
        }
    }
    let mut successors = vec![Vec::new(); graph.node_count()];
    let mut called_from_elsewhere = vec![false; graph.node_count()];
    for (from, edge, to) in graph.edges() {
        successors[from.index()].push((edge, to));
        if graph.cell(from).map(|c| c.flow) != graph.cell(to).map(|c| c.flow) {
            called_from_elsewhere[to.index()] = true;
        }
    }
    let entries: Vec<(CellId, Vars)> = graph
        .flows()
        .iter()
        .filter(|f| f.trigger.is_some() || !called_from_elsewhere[f.entry.index()])
        .map(|f| (f.entry, Vars::default()))
        .collect();
    let mut analysis = Analysis {
        graph,
        calls,
        successors,
        gens,
        summaries: HashMap::default(),
        in_progress: Vec::new(),
    };
    let (state, _) = analysis.solve(&entries, true);
    let mut diagnostics = Vec::new();
    for (id, _) in graph.cells() {
        let Some(Some(assigned)) = state.get(&id) else {
            continue;
        };
        let mut reported: Vec<&str> = Vec::new();
        for u in &facts.cells[id.index()].uses {
            let Some(&i) = index.get(u.name.as_str()) else {
                continue;
            };
            if assigned.contains(i) || reported.contains(&u.name.as_str()) {
                continue;
            }
            reported.push(&u.name);
            let never_assigned = facts.assigned_anywhere.binary_search(&u.name).is_err();
            // Not close enough to be sure of a typo, but worth a look.
            let suggestion = never_assigned
                .then(|| {
                    crate::diagnostic::suggest(
                        &u.name,
                        facts.assigned_anywhere.iter().map(String::as_str),
                    )
                })
                .flatten();
            diagnostics.push(Diagnostic::new(
                Problem::MaybeUnset {
                    name: u.name.clone(),
                    never_assigned,
                    suggestion,
                },
                u.span,
            ));
        }
    }
    diagnostics
}
