//! Control-flow checks: loops that never wait for the user, and cells no
//! path reaches.
//!
//! Both need to know whether a call (`jump … return: true`) comes back: the
//! cell after a call is reached only if the callee can complete. [`Calls`]
//! works that out as a least fixpoint, so recursion that never completes is
//! seen as such.

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, Problem};
use crate::graph::{CellId, Edge, Graph};

use super::Context;

/// Which calls return, within one turn or eventually.
pub(crate) struct Calls {
    /// Call cell → the callee's entry.
    callee: HashMap<CellId, CellId>,
    /// Callee entry → can complete.
    completes: HashMap<CellId, bool>,
}

impl Calls {
    /// Works out which callees complete. With `one_turn`, only paths that
    /// never wait count.
    ///
    /// One backward pass from the exit: a cell can complete if an edge leads
    /// to a cell that can. A `Return` edge only counts once its callee is
    /// known to complete, so calls wait in `pending` until then. Linear in
    /// the size of the graph, recursion and long call chains included.
    pub(crate) fn new(graph: &Graph, one_turn: bool) -> Calls {
        let callee: HashMap<CellId, CellId> = graph
            .edges()
            .filter(|(_, e, _)| *e == Edge::Call)
            .map(|(from, _, to)| (from, to))
            .collect();
        // Predecessor lists in one flat array (offsets per node): a big bot
        // has 100k nodes, and a vector per node would be 100k allocations.
        let kept: Vec<(CellId, Edge, CellId)> = graph
            .edges()
            .filter(|(_, edge, _)| !(one_turn && edge.crosses_turn()))
            .collect();
        let mut offsets = vec![0usize; graph.node_count() + 1];
        for (_, _, to) in &kept {
            offsets[to.index() + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut fill = offsets.clone();
        let mut flat = vec![(graph.exit(), Edge::Next); kept.len()];
        for (from, edge, to) in kept {
            flat[fill[to.index()]] = (from, edge);
            fill[to.index()] += 1;
        }
        let predecessors = |node: CellId| &flat[offsets[node.index()]..offsets[node.index() + 1]];
        let mut can_complete = vec![false; graph.node_count()];
        let mut pending: HashMap<CellId, Vec<CellId>> = HashMap::new();
        let mut work = vec![graph.exit()];
        can_complete[graph.exit().index()] = true;
        while let Some(node) = work.pop() {
            // Calls that were waiting for this callee can now return.
            for call in pending.remove(&node).unwrap_or_default() {
                if !can_complete[call.index()] {
                    can_complete[call.index()] = true;
                    work.push(call);
                }
            }
            for &(from, edge) in predecessors(node) {
                if can_complete[from.index()] {
                    continue;
                }
                if edge == Edge::Return
                    && let Some(&entry) = callee.get(&from)
                    && !can_complete[entry.index()]
                {
                    pending.entry(entry).or_default().push(from);
                    continue;
                }
                can_complete[from.index()] = true;
                work.push(from);
            }
        }
        let completes = callee
            .values()
            .map(|&e| (e, can_complete[e.index()]))
            .collect();
        Calls { callee, completes }
    }

    /// Whether control can come back from the call at `call`.
    pub(crate) fn returns(&self, call: CellId) -> bool {
        // An unresolved callee was reported already; assume it returns so
        // that no second, misleading warning follows.
        self.callee
            .get(&call)
            .is_none_or(|entry| self.completes.get(entry).copied().unwrap_or(true))
    }

    pub(crate) fn callee(&self, call: CellId) -> Option<CellId> {
        self.callee.get(&call).copied()
    }

    /// Whether an analysis should follow `edge` out of `from`.
    pub(crate) fn follows(&self, from: CellId, edge: Edge, one_turn: bool) -> bool {
        (!one_turn || !edge.crosses_turn()) && (edge != Edge::Return || self.returns(from))
    }
}

/// Cycles of cells that can run in one turn without waiting (SCCs of the
/// one-turn graph).
pub(crate) fn waitless_loops(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let graph = &ctx.lowered.graph;
    let calls = Calls::new(graph, true);
    let exit = graph.exit();
    let keep = |from: CellId, edge: Edge, to: CellId| to != exit && calls.follows(from, edge, true);
    let mut diagnostics = Vec::new();
    for mut component in graph.components(keep) {
        let is_loop = component.len() > 1
            || component
                .first()
                .is_some_and(|&c| graph.has_self_loop(c, |e| calls.follows(c, e, true)));
        if !is_loop {
            continue;
        }
        component.sort_by_key(|&c| graph.cell(c).map(|c| (c.flow, c.index)));
        let loop_cells: Vec<&crate::graph::Cell> =
            component.iter().filter_map(|&c| graph.cell(c)).collect();
        let Some(first) = loop_cells.first() else {
            continue;
        };
        let names = loop_cells
            .iter()
            .map(|c| {
                let flow = &ctx.bot.flows[c.flow.index()];
                match &flow.cells[c.index as usize].id {
                    Some(id) => format!("{}.{}", flow.name.value, id.value),
                    None => format!("{}[{}]", flow.name.value, c.index),
                }
            })
            .collect();
        let mut diagnostic = Diagnostic::new(
            Problem::WaitlessLoop { cells: names },
            first.span.first_line(ctx.sources),
        );
        for cell in loop_cells.iter().skip(1).take(8) {
            diagnostic = diagnostic.with_related(cell.span.first_line(ctx.sources), "on the loop");
        }
        diagnostics.push(diagnostic);
    }
    diagnostics
}

/// Cells reached from no flow start (every flow can be started by name).
pub(crate) fn unreachable(ctx: &Context<'_>, calls: &Calls) -> Vec<Diagnostic> {
    let graph = &ctx.lowered.graph;
    let roots = graph
        .flows()
        .iter()
        .map(|f| f.entry)
        .filter(|&e| e != graph.exit());
    let seen = graph.reachable(roots, |from, edge, _| calls.follows(from, edge, false));
    // Report the first cell of each dead stretch, not every cell in it.
    let mut dead_predecessor = vec![false; graph.node_count()];
    for (from, _, to) in graph.edges() {
        if !seen[from.index()] {
            dead_predecessor[to.index()] = true;
        }
    }
    graph
        .cells()
        .filter(|(id, _)| !seen[id.index()] && !dead_predecessor[id.index()])
        .map(|(_, cell)| {
            Diagnostic::new(Problem::UnreachableCell, cell.span.first_line(ctx.sources))
        })
        .collect()
}
