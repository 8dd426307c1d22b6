//! The bot as a picture: every flow a box, every cell a node with its place
//! on the page, every edge a labelled polyline, computed here so the page
//! only draws.
//!
//! The layout is layered, per flow. A flow's cells are written in order and
//! mostly run downwards, so a cell's rank is the longest path to it over the
//! flow's forward edges (to a later cell), which the cells' order already
//! sorts topologically: one pass, linear in cells and edges. A cell nothing
//! earlier leads to sits under the cell written before it. Within a rank,
//! cells are ordered by where their predecessors stand (one barycentre
//! pass). Edges back up the flow run around its right side; edges to other
//! flows are straight. Flow boxes are packed in rows. docs/PERFORMANCE.md
//! has the measurements that chose this over a general layout crate.
//!
//! A bot over [`COLLAPSE_ABOVE`] cells is drawn collapsed: one node per
//! flow, one edge per pair of flows that jump or call each other, on a grid;
//! the page asks for one flow's cells when the author opens it.

// Page coordinates: counts of cells and ranks turned into pixels, far
// below where an f64 loses precision.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::Checked;
use crate::diagnostic::Severity;
use crate::graph::{CellId, Edge, FlowId, Graph, Kind, Trigger};

/// Cells beyond which a bot opens collapsed.
pub const COLLAPSE_ABOVE: usize = 2_000;

const NODE_W: f64 = 200.0;
const NODE_H: f64 = 48.0;
const GAP_X: f64 = 36.0;
const GAP_Y: f64 = 44.0;
/// Room inside a flow box: around the cells, and above them for its title
/// and trigger.
const PAD: f64 = 20.0;
const HEADER: f64 = 44.0;
/// Room right of a flow's cells for edges that run back up.
const BACK_LANE: f64 = 40.0;
const FLOW_GAP: f64 = 60.0;

/// What the page draws.
#[derive(Clone, Debug, Serialize)]
pub struct Picture {
    /// The bot's name.
    pub bot: String,
    /// The languages it speaks, its default first.
    pub languages: Vec<String>,
    /// One node per flow instead of per cell.
    pub collapsed: bool,
    /// The cells the bot has in all (also when collapsed).
    pub cells: usize,
    pub width: f64,
    pub height: f64,
    pub flows: Vec<FlowBox>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Line>,
    /// Everything `check` reports, each on the cell (or flow) it concerns.
    pub diagnostics: Vec<Finding>,
}

/// A flow: its box and what starts it.
#[derive(Clone, Debug, Serialize)]
pub struct FlowBox {
    pub name: String,
    /// `welcome`, `fallback`, `timeout`, `intent NAME`, `entity NAME`, or
    /// none for a flow only jumps reach.
    pub trigger: Option<String>,
    /// The node the trigger leads to (none for an empty flow).
    pub entry: Option<String>,
    pub cells: usize,
    pub file: String,
    pub line: usize,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// A cell (or, collapsed, a flow) on the page.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    /// `FLOW#POSITION` (position from 0), as a turn's trace names cells;
    /// `FLOW` for a collapsed flow.
    pub id: String,
    pub flow: String,
    /// The author's id for the cell, if it has one.
    pub cell: Option<String>,
    pub position: u32,
    /// `answer`, `input`, … or `flow` for a collapsed flow.
    pub kind: &'static str,
    pub label: String,
    pub file: String,
    pub line: usize,
    /// Lines the cell spans in its file, from `line`.
    pub lines: usize,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// An edge: where it goes, what takes it, and the points to draw it by.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    pub from: String,
    pub to: String,
    /// `next`, `branch`, `jump`, `call`, `return` or `resume`.
    pub kind: &'static str,
    /// The condition, intent or input outcome that takes it (may be empty).
    pub label: String,
    pub points: Vec<[f64; 2]>,
}

/// A diagnostic, placed.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub help: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The node it concerns, when its place is inside a cell.
    pub node: Option<String>,
    /// The flow it concerns, when its place is inside a flow.
    pub flow: Option<String>,
}

/// How to draw a bot.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `None`: collapsed when the bot has over [`COLLAPSE_ABOVE`] cells.
    pub collapsed: Option<bool>,
    /// Only this flow's cells (how the page opens a collapsed flow).
    pub only: Option<FlowId>,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Answer => "answer",
        Kind::Input => "input",
        Kind::Rule => "rule",
        Kind::Code => "code",
        Kind::Jump => "jump",
        Kind::Intent => "intent",
        Kind::Service => "service",
        Kind::Track => "track",
        Kind::Handoff => "handoff",
        Kind::End => "end",
    }
}

fn edge_kind(edge: Edge) -> &'static str {
    match edge {
        Edge::Next => "next",
        Edge::Branch(_) => "branch",
        Edge::Jump => "jump",
        Edge::Call => "call",
        Edge::Return => "return",
        Edge::Resume => "resume",
    }
}

/// The node id of a cell: its flow's name and its position.
#[must_use]
pub fn node_id(flow: &str, position: u32) -> String {
    format!("{flow}#{position}")
}

/// Where a span starts and how many lines it covers.
fn place(checked: &Checked, span: crate::source::Span) -> (String, usize, usize) {
    match (span.file(), span.range()) {
        (Some(file), Some(range)) => {
            let source = checked.sources.get(file);
            let first = source.line_of(range.start);
            let last = source.line_of(range.end.saturating_sub(1).max(range.start));
            (source.name().to_owned(), first + 1, last - first + 1)
        }
        _ => (String::new(), 0, 0),
    }
}

fn trigger_name(checked: &Checked, trigger: Trigger) -> String {
    match trigger {
        Trigger::Welcome => "welcome".to_owned(),
        Trigger::Fallback => "fallback".to_owned(),
        Trigger::Timeout => "timeout".to_owned(),
        Trigger::Intent(i) => checked.bot.intents.get(i).map_or_else(
            || "intent".to_owned(),
            |intent| format!("intent {}", intent.name.value),
        ),
        Trigger::Entity(i) => checked.bot.entities.get(i).map_or_else(
            || "entity".to_owned(),
            |entity| format!("entity {}", entity.name.value),
        ),
    }
}

/// Draws a checked bot (one with errors too: its graph is still there).
#[must_use]
pub fn draw(checked: &Checked, options: Options) -> Picture {
    let graph = &checked.lowered.graph;
    let cells = graph.cells().count();
    let collapsed = options.only.is_none() && options.collapsed.unwrap_or(cells > COLLAPSE_ABOVE);
    let mut picture = Picture {
        bot: checked
            .bot
            .settings
            .name
            .as_ref()
            .map_or_else(String::new, |n| n.value.clone()),
        languages: languages(checked),
        collapsed,
        cells,
        width: 0.0,
        height: 0.0,
        flows: Vec::new(),
        nodes: Vec::new(),
        edges: Vec::new(),
        diagnostics: Vec::new(),
    };
    if collapsed {
        collapsed_layout(checked, &mut picture);
    } else {
        expanded_layout(checked, options.only, &mut picture);
    }
    picture.diagnostics = findings(checked, collapsed);
    picture
}

fn languages(checked: &Checked) -> Vec<String> {
    let settings = &checked.bot.settings;
    if settings.languages.is_empty() {
        settings
            .locale
            .as_ref()
            .map(|l| vec![l.value.clone()])
            .unwrap_or_default()
    } else {
        settings.languages.iter().map(|l| l.value.clone()).collect()
    }
}

/// One flow's cells laid out from (0, 0): each cell's place, the box's size.
struct FlowLayout {
    /// Per cell of the flow, in order: its top-left corner.
    at: Vec<(f64, f64)>,
    rank: Vec<usize>,
    w: f64,
    h: f64,
}

fn layout_flow(graph: &Graph, flow: FlowId) -> FlowLayout {
    let cells = &graph.flow(flow).cells;
    let n = cells.len();
    let local = |id: CellId| -> Option<usize> {
        graph
            .cell(id)
            .filter(|c| c.flow == flow)
            .map(|c| c.index as usize)
            .filter(|&i| i < n)
    };
    // Forward edges within the flow, and who leads to each cell.
    let mut led_to = vec![false; n];
    let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &id) in cells.iter().enumerate() {
        for (_, to) in graph.successors(id) {
            if let Some(j) = local(to)
                && j > i
            {
                led_to[j] = true;
                predecessors[j].push(i);
            }
        }
    }
    let mut rank = vec![0usize; n];
    for i in 0..n {
        if i > 0 && !led_to[i] {
            rank[i] = rank[i - 1] + 1;
        }
        for &p in &predecessors[i] {
            rank[i] = rank[i].max(rank[p] + 1);
        }
    }
    let ranks = rank.iter().max().map_or(0, |r| r + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); ranks];
    for (i, &r) in rank.iter().enumerate() {
        rows[r].push(i);
    }
    // Column of each cell within its row; then one barycentre pass, so a
    // branch's cells sit under the cells that lead to them.
    let mut column = vec![0f64; n];
    for row in &mut rows {
        let mut keyed: Vec<(f64, usize)> = row
            .iter()
            .map(|&i| {
                let preds = &predecessors[i];
                let key = if preds.is_empty() {
                    f64::from(u32::try_from(i).unwrap_or(u32::MAX))
                } else {
                    preds.iter().map(|&p| column[p]).sum::<f64>() / preds.len() as f64
                };
                (key, i)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *row = keyed.into_iter().map(|(_, i)| i).collect();
        let count = row.len();
        for (k, &i) in row.iter().enumerate() {
            // Centred on 0: a single cell at 0, two at -0.5 and 0.5.
            column[i] = k as f64 - (count as f64 - 1.0) / 2.0;
        }
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1).max(1) as f64;
    let inner_w = widest * NODE_W + (widest - 1.0) * GAP_X;
    let centre = PAD + inner_w / 2.0;
    let at: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let x = centre + column[i] * (NODE_W + GAP_X) - NODE_W / 2.0;
            let y = HEADER + PAD + rank[i] as f64 * (NODE_H + GAP_Y);
            (x, y)
        })
        .collect();
    let h = HEADER + 2.0 * PAD + ranks as f64 * NODE_H + (ranks.max(1) - 1) as f64 * GAP_Y;
    FlowLayout {
        at,
        rank,
        w: 2.0 * PAD + inner_w + BACK_LANE,
        h,
    }
}

/// Places boxes of the given sizes in rows about as wide as the whole is
/// tall; returns each box's top-left corner and the page's size.
fn pack(sizes: &[(f64, f64)]) -> (Vec<(f64, f64)>, f64, f64) {
    let area: f64 = sizes
        .iter()
        .map(|(w, h)| (w + FLOW_GAP) * (h + FLOW_GAP))
        .sum();
    let widest = sizes.iter().map(|s| s.0).fold(0.0, f64::max);
    let row_width = (area.sqrt() * 1.4).max(widest);
    let (mut x, mut y, mut row_h, mut page_w) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut at = Vec::with_capacity(sizes.len());
    for &(w, h) in sizes {
        if x > 0.0 && x + w > row_width {
            x = 0.0;
            y += row_h + FLOW_GAP;
            row_h = 0.0;
        }
        at.push((x, y));
        x += w + FLOW_GAP;
        page_w = page_w.max(x - FLOW_GAP);
        row_h = row_h.max(h);
    }
    (at, page_w, y + row_h)
}

fn expanded_layout(checked: &Checked, only: Option<FlowId>, picture: &mut Picture) {
    let graph = &checked.lowered.graph;
    let shown: Vec<FlowId> = (0..graph.flows().len())
        .map(FlowId::new)
        .filter(|f| only.is_none_or(|o| o == *f))
        .collect();
    let mut layouts: Vec<FlowLayout> = shown.iter().map(|&f| layout_flow(graph, f)).collect();
    // Room in the header for the flow's name and its trigger's badge.
    for (layout, &flow_id) in layouts.iter_mut().zip(&shown) {
        let flow = graph.flow(flow_id);
        let badge = flow.trigger.map_or(0.0, |t| {
            12.0 + (trigger_name(checked, t).chars().count() + 3) as f64 * 6.2
        });
        let header = 14.0 + flow.name.chars().count() as f64 * 8.5 + 16.0 + badge + 14.0;
        layout.w = layout.w.max(header);
    }
    let sizes: Vec<(f64, f64)> = layouts.iter().map(|l| (l.w, l.h)).collect();
    let (corners, width, height) = pack(&sizes);
    picture.width = width;
    picture.height = height;
    // Where each shown cell is, for the edges.
    let mut placed: BTreeMap<CellId, (usize, f64, f64, usize)> = BTreeMap::new();
    for ((&flow_id, layout), &(fx, fy)) in shown.iter().zip(&layouts).zip(&corners) {
        let flow = graph.flow(flow_id);
        let (file, line, _) = place(checked, flow.span);
        picture.flows.push(FlowBox {
            name: flow.name.clone(),
            trigger: flow.trigger.map(|t| trigger_name(checked, t)),
            entry: (!flow.cells.is_empty()).then(|| node_id(&flow.name, 0)),
            cells: flow.cells.len(),
            file,
            line,
            x: fx,
            y: fy,
            w: layout.w,
            h: layout.h,
        });
        for (i, &id) in flow.cells.iter().enumerate() {
            let Some(cell) = graph.cell(id) else { continue };
            let (x, y) = (fx + layout.at[i].0, fy + layout.at[i].1);
            let (file, line, lines) = place(checked, cell.span);
            let ast_cell = &checked.bot.flows[flow_id.index()].cells[cell.index as usize];
            placed.insert(id, (picture.nodes.len(), x, y, layout.rank[i]));
            picture.nodes.push(Node {
                id: node_id(&flow.name, cell.index),
                flow: flow.name.clone(),
                cell: ast_cell.id.as_ref().map(|n| n.value.clone()),
                position: cell.index,
                kind: kind_name(cell.kind),
                label: crate::export::cell_label(&checked.bot, graph, id),
                file,
                line,
                lines,
                x,
                y,
                w: NODE_W,
                h: NODE_H,
            });
        }
    }
    // Lanes for edges back up a flow, spread so they do not overlap.
    let mut lanes: BTreeMap<FlowId, usize> = BTreeMap::new();
    let mut edges: Vec<(CellId, Edge, CellId)> = graph.edges().collect();
    edges.sort_by_key(|(from, _, to)| (*from, *to));
    for (from, edge, to) in edges {
        let (Some(&(fi, fx, fy, frank)), Some(&(ti, tx, ty, trank))) =
            (placed.get(&from), placed.get(&to))
        else {
            continue;
        };
        let same_flow = picture.nodes[fi].flow == picture.nodes[ti].flow;
        let points = if same_flow && trank > frank {
            vec![[fx + NODE_W / 2.0, fy + NODE_H], [tx + NODE_W / 2.0, ty]]
        } else if same_flow {
            let flow = graph.cell(from).map_or(FlowId(0), |c| c.flow);
            let lane = lanes.entry(flow).or_default();
            *lane += 1;
            let flow_box = picture
                .flows
                .iter()
                .find(|f| f.name == picture.nodes[fi].flow);
            let right = flow_box.map_or(fx + NODE_W + 20.0, |b| {
                b.x + b.w - BACK_LANE + 6.0 + (*lane % 6) as f64 * 5.0
            });
            vec![
                [fx + NODE_W, fy + NODE_H / 2.0],
                [right, fy + NODE_H / 2.0],
                [right, ty + NODE_H / 2.0],
                [tx + NODE_W, ty + NODE_H / 2.0],
            ]
        } else {
            vec![[fx + NODE_W, fy + NODE_H / 2.0], [tx, ty + NODE_H / 2.0]]
        };
        picture.edges.push(Line {
            from: picture.nodes[fi].id.clone(),
            to: picture.nodes[ti].id.clone(),
            kind: edge_kind(edge),
            label: crate::export::edge_label(&checked.bot, graph, from, edge),
            points,
        });
    }
}

fn collapsed_layout(checked: &Checked, picture: &mut Picture) {
    let graph = &checked.lowered.graph;
    let flows = graph.flows();
    let columns = ((flows.len() as f64).sqrt().ceil() as usize).max(1);
    let (w, h) = (NODE_W, NODE_H + 8.0);
    let step_x = w + FLOW_GAP;
    let step_y = h + FLOW_GAP;
    for (i, flow) in flows.iter().enumerate() {
        let (x, y) = ((i % columns) as f64 * step_x, (i / columns) as f64 * step_y);
        let (file, line, lines) = place(checked, flow.span);
        picture.flows.push(FlowBox {
            name: flow.name.clone(),
            trigger: flow.trigger.map(|t| trigger_name(checked, t)),
            entry: Some(flow.name.clone()),
            cells: flow.cells.len(),
            file: file.clone(),
            line,
            x,
            y,
            w,
            h,
        });
        picture.nodes.push(Node {
            id: flow.name.clone(),
            flow: flow.name.clone(),
            cell: None,
            position: 0,
            kind: "flow",
            label: format!("{} ({} cells)", flow.name, flow.cells.len()),
            file,
            line,
            lines,
            x,
            y,
            w,
            h,
        });
    }
    let rows = flows.len().div_ceil(columns);
    picture.width = columns as f64 * step_x - FLOW_GAP;
    picture.height = rows as f64 * step_y - FLOW_GAP;
    // One edge per pair of flows and kind of move between them.
    let mut between: BTreeMap<(usize, usize), Edge> = BTreeMap::new();
    for (from, edge, to) in graph.edges() {
        let (Some(a), Some(b)) = (graph.cell(from), graph.cell(to)) else {
            continue;
        };
        if a.flow != b.flow && !matches!(edge, Edge::Return) {
            between
                .entry((a.flow.index(), b.flow.index()))
                .or_insert(edge);
        }
    }
    for ((a, b), edge) in between {
        let (from, to) = (&picture.nodes[a], &picture.nodes[b]);
        picture.edges.push(Line {
            from: from.id.clone(),
            to: to.id.clone(),
            kind: edge_kind(edge),
            label: String::new(),
            points: vec![[from.x + w / 2.0, from.y + h], [to.x + w / 2.0, to.y]],
        });
    }
}

/// Every diagnostic with the cell (the innermost whose span holds it) or
/// the flow it concerns.
fn findings(checked: &Checked, collapsed: bool) -> Vec<Finding> {
    let graph = &checked.lowered.graph;
    // Per file, the cells written in it, by start.
    let mut by_file: BTreeMap<crate::source::FileId, Vec<(usize, usize, String, String)>> =
        BTreeMap::new();
    for (_, cell) in graph.cells() {
        if let (Some(file), Some(range)) = (cell.span.file(), cell.span.range()) {
            let flow = &graph.flow(cell.flow).name;
            by_file.entry(file).or_default().push((
                range.start,
                range.end,
                node_id(flow, cell.index),
                flow.clone(),
            ));
        }
    }
    let flow_spans: Vec<(crate::source::FileId, std::ops::Range<usize>, String)> = graph
        .flows()
        .iter()
        .filter_map(|f| Some((f.span.file()?, f.span.range()?, f.name.clone())))
        .collect();
    checked
        .diagnostics
        .iter()
        .map(|d| {
            let (file, line, column) = match (d.span.file(), d.span.range()) {
                (Some(file), Some(range)) => {
                    let source = checked.sources.get(file);
                    let (line, column) = source.line_col(range.start);
                    (source.name().to_owned(), line, column)
                }
                _ => (String::new(), 0, 0),
            };
            let (mut node, mut flow) = (None, None);
            if let (Some(id), Some(range)) = (d.span.file(), d.span.range()) {
                node = by_file.get(&id).and_then(|cells| {
                    cells
                        .iter()
                        .filter(|(s, e, _, _)| *s <= range.start && range.start < (*e).max(*s + 1))
                        .min_by_key(|(s, e, _, _)| e - s)
                        .map(|(_, _, node, flow)| (node.clone(), flow.clone()))
                });
                flow = node.as_ref().map(|(_, f)| f.clone()).or_else(|| {
                    flow_spans
                        .iter()
                        .find(|(f, r, _)| *f == id && r.start <= range.start && range.start < r.end)
                        .map(|(_, _, name)| name.clone())
                });
            }
            let node = node.map(|(node, flow)| if collapsed { flow } else { node });
            Finding {
                code: d.problem.code(),
                severity: match d.severity() {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                message: d.problem.to_string(),
                help: d.problem.help(),
                file,
                line,
                column,
                node,
                flow,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(text: &str) -> Checked {
        let mut project = crate::project::Project::new();
        project.add_bytes("a.flow", std::path::Path::new("a.flow"), text.as_bytes());
        crate::check::check(project)
    }

    #[test]
    fn branches_sit_side_by_side_and_the_join_below_them() {
        let checked = checked(
            "flow welcome on welcome {\n  input n integer { prompt \"n?\" }\n  rule { when { n > 1 } goto big else goto small }\n  big: answer \"big\" -> join\n  small: answer \"small\"\n  join: end \"bye\"\n}\n",
        );
        let picture = draw(&checked, Options::default());
        let at = |id: &str| {
            let n = picture.nodes.iter().find(|n| n.id == id).unwrap();
            (n.x, n.y)
        };
        let (big, small, join) = (at("welcome#2"), at("welcome#3"), at("welcome#4"));
        assert!(
            (big.1 - small.1).abs() < 0.5,
            "the two branches share a rank"
        );
        assert!((big.0 - small.0).abs() > 1.0, "side by side");
        assert!(join.1 > big.1, "the join is below both branches");
        assert!(at("welcome#1").1 > at("welcome#0").1);
        let labels: Vec<&str> = picture.edges.iter().map(|e| e.label.as_str()).collect();
        assert!(labels.contains(&"n > 1"), "{labels:?}");
        assert!(labels.contains(&"valid"), "{labels:?}");
        assert_eq!(picture.flows[0].trigger.as_deref(), Some("welcome"));
        // No two cells overlap.
        for a in &picture.nodes {
            for b in &picture.nodes {
                if a.id != b.id {
                    let apart = a.x + a.w <= b.x
                        || b.x + b.w <= a.x
                        || a.y + a.h <= b.y
                        || b.y + b.h <= a.y;
                    assert!(apart, "{} and {} overlap", a.id, b.id);
                }
            }
        }
    }

    #[test]
    fn a_diagnostic_lands_on_its_cell() {
        let checked = checked("flow welcome on welcome {\n  answer \"hi\"\n  jump nowhere\n}\n");
        let picture = draw(&checked, Options::default());
        let finding = picture
            .diagnostics
            .iter()
            .find(|d| d.severity == "error")
            .expect("an unknown jump target is an error");
        assert_eq!(finding.node.as_deref(), Some("welcome#1"), "{finding:?}");
        assert_eq!(finding.line, 3);
    }

    #[test]
    fn a_big_bot_opens_collapsed() {
        let mut project = crate::project::Project::new();
        let text = crate::generate::dsl_bot(3_000);
        project.add_bytes(
            "gen.flow",
            std::path::Path::new("gen.flow"),
            text.as_bytes(),
        );
        let checked = crate::check::check(project);
        let picture = draw(&checked, Options::default());
        assert!(picture.collapsed);
        assert_eq!(picture.nodes.len(), checked.lowered.graph.flows().len());
        assert!(picture.edges.iter().all(|e| e.from != e.to));
        let one = draw(
            &checked,
            Options {
                collapsed: None,
                only: Some(FlowId::new(HELPERS_AND_MORE)),
            },
        );
        assert!(!one.collapsed);
        assert_eq!(one.flows.len(), 1);
        assert!(one.nodes.len() >= 5);
    }

    /// A generated flow past the helpers (which have one cell each).
    const HELPERS_AND_MORE: usize = crate::generate::HELPERS + 3;
}
