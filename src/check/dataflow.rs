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

use std::collections::HashMap;

use crate::ast::CellKind;
use crate::diagnostic::{Diagnostic, Problem};
use crate::graph::{CellId, Edge, Graph};

use super::Context;
use super::embedded::Facts;
use super::flow::Calls;

/// A set of variables, one bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn empty(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn union(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= *b;
        }
    }
    /// Intersects in place; true if anything changed.
    fn intersect(&mut self, other: &Bits) -> bool {
        let mut changed = false;
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            let next = *a & *b;
            changed |= next != *a;
            *a = next;
        }
        changed
    }
}

struct Analysis<'a> {
    graph: &'a Graph,
    calls: Calls,
    successors: Vec<Vec<(Edge, CellId)>>,
    /// Per cell and edge kind: what leaving along it assigns.
    gens: HashMap<(CellId, Edge), Bits>,
    vars: usize,
    summaries: HashMap<CellId, Option<Bits>>,
    in_progress: Vec<CellId>,
}

impl Analysis<'_> {
    /// What holds at the start of each cell reached from `entries`, and
    /// at completion (`None` where nothing reaches).
    fn solve(&mut self, entries: &[(CellId, Bits)]) -> (Vec<Option<Bits>>, Option<Bits>) {
        let exit = self.graph.exit();
        let mut state: Vec<Option<Bits>> = vec![None; self.graph.node_count()];
        let mut at_exit: Option<Bits> = None;
        let mut work: Vec<CellId> = Vec::new();
        let mut queued = vec![false; self.graph.node_count()];
        let merge = |slot: &mut Option<Bits>, incoming: &Bits| -> bool {
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
            } else if merge(&mut state[entry.index()], bits) && !queued[entry.index()] {
                queued[entry.index()] = true;
                work.push(*entry);
            }
        }
        while let Some(node) = work.pop() {
            queued[node.index()] = false;
            let Some(current) = state[node.index()].clone() else {
                continue;
            };
            for i in 0..self.successors[node.index()].len() {
                let (edge, to) = self.successors[node.index()][i];
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
                } else if merge(&mut state[to.index()], &out) && !queued[to.index()] {
                    queued[to.index()] = true;
                    work.push(to);
                }
            }
        }
        (state, at_exit)
    }

    /// What a callee assigns on every path to its completion; `None` if it
    /// never completes.
    fn summary(&mut self, entry: CellId) -> Option<Bits> {
        if let Some(known) = self.summaries.get(&entry) {
            return known.clone();
        }
        if self.in_progress.contains(&entry) {
            // Recursion: assume the inner call assigns nothing for sure.
            return Some(Bits::empty(self.vars));
        }
        self.in_progress.push(entry);
        let (_, at_exit) = self.solve(&[(entry, Bits::empty(self.vars))]);
        self.in_progress.pop();
        self.summaries.insert(entry, at_exit.clone());
        at_exit
    }
}

pub(crate) fn maybe_unset(ctx: &Context<'_>, facts: &Facts) -> Vec<Diagnostic> {
    let graph = &ctx.lowered.graph;
    let always: Vec<&str> = crate::script::BUILTINS
        .iter()
        .copied()
        .chain(ctx.bot.settings.context.iter().map(|n| n.value.as_str()))
        .collect();
    // Only variables that some cell reads matter.
    let mut index: HashMap<&str, usize> = HashMap::new();
    for cell in &facts.cells {
        for u in &cell.uses {
            if !always.contains(&u.name.as_str()) {
                let next = index.len();
                index.entry(u.name.as_str()).or_insert(next);
            }
        }
    }
    if index.is_empty() {
        return Vec::new();
    }
    let vars = index.len();
    let mut gens: HashMap<(CellId, Edge), Bits> = HashMap::new();
    let mut add = |cell: CellId, edge: Edge, name: &str| {
        if let Some(&i) = index.get(name) {
            gens.entry((cell, edge))
                .or_insert_with(|| Bits::empty(vars))
                .insert(i);
        }
    };
    for (id, cell) in graph.cells() {
        match &ctx.bot.flows[cell.flow.index()].cells[cell.index as usize].kind {
            CellKind::Input(input) => add(id, Edge::InputValid, &input.var.value),
            CellKind::Service(service) => {
                for name in service.save.iter().chain(&service.status) {
                    add(id, Edge::ServiceOk, &name.value);
                }
                if let Some(status) = &service.status {
                    add(id, Edge::ServiceError, &status.value);
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
                        add(id, Edge::RuleArm(u32::try_from(arm).unwrap_or(u32::MAX)), name);
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
    let entries: Vec<(CellId, Bits)> = graph
        .flows()
        .iter()
        .filter(|f| f.trigger.is_some() || !called_from_elsewhere[f.entry.index()])
        .map(|f| (f.entry, Bits::empty(vars)))
        .collect();
    let mut analysis = Analysis {
        graph,
        calls: Calls::new(graph, false),
        successors,
        gens,
        vars,
        summaries: HashMap::new(),
        in_progress: Vec::new(),
    };
    let (state, _) = analysis.solve(&entries);
    let mut diagnostics = Vec::new();
    for (id, _) in graph.cells() {
        let Some(assigned) = &state[id.index()] else {
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
            diagnostics.push(Diagnostic::new(
                Problem::MaybeUnset {
                    name: u.name.clone(),
                    never_assigned,
                },
                u.span,
            ));
        }
    }
    diagnostics
}
