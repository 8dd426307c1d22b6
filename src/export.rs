//! The cell graph as DOT (Graphviz) or Mermaid text, for `cellflow graph`.
//!
//! Each flow is a cluster of its cells; each edge is labelled with what takes
//! it (a rule's condition, an intent, `valid`, `on_fail`, `error`, ...).
//! Restricted to one flow, cells of other flows that it reaches are drawn as
//! plain nodes so the edges leaving the flow stay visible.

use std::fmt::Write as _;

use crate::ast::{self, CellKind};
use crate::graph::{Branch, CellId, Edge, FlowId, Graph};

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Dot,
    Mermaid,
}

fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

pub(crate) fn cell_label(bot: &ast::Bot, graph: &Graph, id: CellId) -> String {
    let Some(cell) = graph.cell(id) else {
        return "complete".to_owned();
    };
    let flow = &bot.flows[cell.flow.index()];
    let ast_cell = &flow.cells[cell.index as usize];
    let summary = match &ast_cell.kind {
        CellKind::Answer(a) => a.text.first().map_or_else(
            || "answer".to_owned(),
            |t| format!("answer: {}", shorten(&t.first, 40)),
        ),
        CellKind::Input(i) => format!(
            "input {} ({})",
            i.var.value,
            i.effective_type().map_or("?", ast::InputType::as_str)
        ),
        CellKind::Rule(_) => "rule".to_owned(),
        CellKind::Code(s) => format!("code: {}", shorten(&s.source.value, 40)),
        CellKind::Jump(j) => format!("jump {}{}", j.to, if j.returns { " (return)" } else { "" }),
        CellKind::Intent(_) => "intent".to_owned(),
        CellKind::Service(s) => format!("service {}", shorten(&s.url.value, 40)),
        CellKind::Track(t) => format!("track {}", shorten(&t.event.value, 40)),
        CellKind::Handoff(h) => format!("handoff {}", h.queue.value),
        CellKind::End(_) => "end".to_owned(),
    };
    match &ast_cell.id {
        Some(name) => format!("{}: {summary}", name.value),
        None => summary,
    }
}

pub(crate) fn edge_label(bot: &ast::Bot, graph: &Graph, from: CellId, edge: Edge) -> String {
    let ast_cell = graph
        .cell(from)
        .map(|c| &bot.flows[c.flow.index()].cells[c.index as usize]);
    match (edge, ast_cell.map(|c| &c.kind)) {
        (Edge::Branch(Branch::Arm(i)), Some(CellKind::Rule(rule))) => rule
            .arms
            .get(i as usize)
            .map_or_else(String::new, |a| shorten(&a.when.source.value, 40)),
        (Edge::Branch(Branch::Route(i)), Some(CellKind::Intent(switch))) => switch
            .routes
            .get(i as usize)
            .map_or_else(String::new, |(n, _)| n.value.clone()),
        // A rule without `else` falls through when nothing matches.
        (Edge::Branch(Branch::Else), Some(CellKind::Rule(rule))) if rule.otherwise.is_none() => {
            "no match".to_owned()
        }
        (Edge::Next | Edge::Branch(Branch::Arm(_) | Branch::Route(_)), _) => String::new(),
        (Edge::Branch(Branch::Else | Branch::Unrouted), _) => "else".to_owned(),
        (Edge::Branch(Branch::Valid), _) => "valid".to_owned(),
        (Edge::Branch(Branch::Invalid), _) => "invalid".to_owned(),
        (Edge::Branch(Branch::Fail), _) => "on_fail".to_owned(),
        (Edge::Branch(Branch::Success), _) => "ok".to_owned(),
        (Edge::Branch(Branch::Error), _) => "error".to_owned(),
        (Edge::Jump, _) => "jump".to_owned(),
        (Edge::Call, _) => "call".to_owned(),
        (Edge::Return, _) => "return".to_owned(),
        (Edge::Resume, _) => "resume".to_owned(),
    }
}

fn escape_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn escape_mermaid(s: &str) -> String {
    s.replace('"', "#quot;").replace('|', "#124;")
}

/// Renders the graph, or one flow of it.
#[must_use]
pub fn render(bot: &ast::Bot, graph: &Graph, format: Format, only: Option<FlowId>) -> String {
    let in_scope = |flow: FlowId| only.is_none_or(|f| f == flow);
    let mut edges: Vec<(CellId, Edge, CellId)> = graph
        .edges()
        .filter(|(from, _, _)| graph.cell(*from).is_some_and(|c| in_scope(c.flow)))
        .collect();
    edges.sort_by_key(|(from, _, to)| (*from, *to));
    // Nodes outside the shown flows that edges reach.
    let mut outside: Vec<CellId> = edges
        .iter()
        .map(|(_, _, to)| *to)
        .filter(|to| graph.cell(*to).is_none_or(|c| !in_scope(c.flow)))
        .collect();
    outside.sort();
    outside.dedup();
    let node = |id: CellId| format!("n{}", id.index());
    let mut out = String::new();
    match format {
        Format::Dot => {
            out.push_str(
                "digraph cellflow {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n",
            );
            for (i, flow) in graph.flows().iter().enumerate() {
                if !in_scope(FlowId::new(i)) {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "  subgraph cluster_{i} {{\n    label=\"{}\";",
                    escape_dot(&flow.name)
                );
                for &cell in &flow.cells {
                    let _ = writeln!(
                        out,
                        "    {} [label=\"{}\"];",
                        node(cell),
                        escape_dot(&cell_label(bot, graph, cell))
                    );
                }
                out.push_str("  }\n");
            }
            for id in &outside {
                let label = match graph.cell(*id) {
                    Some(c) => format!(
                        "{} › {}",
                        graph.flow(c.flow).name,
                        cell_label(bot, graph, *id)
                    ),
                    None => "complete".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "  {} [label=\"{}\", style=dashed];",
                    node(*id),
                    escape_dot(&label)
                );
            }
            for (from, edge, to) in &edges {
                let label = edge_label(bot, graph, *from, *edge);
                if label.is_empty() {
                    let _ = writeln!(out, "  {} -> {};", node(*from), node(*to));
                } else {
                    let _ = writeln!(
                        out,
                        "  {} -> {} [label=\"{}\"];",
                        node(*from),
                        node(*to),
                        escape_dot(&label)
                    );
                }
            }
            out.push_str("}\n");
        }
        Format::Mermaid => {
            out.push_str("flowchart TD\n");
            for (i, flow) in graph.flows().iter().enumerate() {
                if !in_scope(FlowId::new(i)) {
                    continue;
                }
                let _ = writeln!(out, "  subgraph f{i}[\"{}\"]", escape_mermaid(&flow.name));
                for &cell in &flow.cells {
                    let _ = writeln!(
                        out,
                        "    {}[\"{}\"]",
                        node(cell),
                        escape_mermaid(&cell_label(bot, graph, cell))
                    );
                }
                out.push_str("  end\n");
            }
            for id in &outside {
                let label = match graph.cell(*id) {
                    Some(c) => format!(
                        "{} › {}",
                        graph.flow(c.flow).name,
                        cell_label(bot, graph, *id)
                    ),
                    None => "complete".to_owned(),
                };
                let _ = writeln!(out, "  {}([\"{}\"])", node(*id), escape_mermaid(&label));
            }
            for (from, edge, to) in &edges {
                let label = edge_label(bot, graph, *from, *edge);
                if label.is_empty() {
                    let _ = writeln!(out, "  {} --> {}", node(*from), node(*to));
                } else {
                    let _ = writeln!(
                        out,
                        "  {} -->|\"{}\"| {}",
                        node(*from),
                        escape_mermaid(&label),
                        node(*to)
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_labelled_by_the_branch_they_take() {
        let mut project = crate::project::Project::new();
        project.add_bytes(
            "a.flow",
            std::path::Path::new("a.flow"),
            b"flow welcome on welcome {\n  input n integer { on_fail out }\n  rule { when { n > 1 } goto out }\n  rule { when { n > 2 } goto out else goto out }\n  answer \"fell through\"\n  out: answer \"done\"\n}\n",
        );
        let bot = project.merge();
        assert!(project.diagnostics.is_empty(), "{:?}", project.diagnostics);
        let lowered = crate::lower::lower(&bot);
        assert!(lowered.diagnostics.is_empty(), "{:?}", lowered.diagnostics);
        let text = render(&bot, &lowered.graph, Format::Dot, None);
        for label in ["valid", "on_fail", "n > 1", "n > 2", "no match", "else"] {
            assert!(
                text.contains(&format!("label=\"{label}\"")),
                "{label}: {text}"
            );
        }
        assert_eq!(text.matches("no match").count(), 1, "{text}");
    }
}
