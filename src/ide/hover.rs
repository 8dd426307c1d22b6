//! Hover texts: what a cell is, where it goes and what it sets; what a
//! flow, intent, entity or variable is and where it is used.

use std::fmt::Write as _;

use crate::ast::{self, CellKind};
use crate::graph::{CellId, Edge, FlowId};
use crate::source::{FileId, Span};

use super::{Analysis, Hover, Role, Symbol};

pub(super) fn hover(analysis: &Analysis, file: FileId, offset: usize) -> Option<Hover> {
    if let Some(occurrence) = analysis.at(file, offset) {
        let markdown = match &occurrence.symbol {
            Symbol::Cell { flow, id } => {
                let (f, c) = find_cell(analysis, flow, id)?;
                cell(analysis, f, c)
            }
            Symbol::Flow(name) => flow(analysis, name)?,
            Symbol::Intent(name) => intent(analysis, name)?,
            Symbol::Entity(name) => entity(analysis, name)?,
            Symbol::Variable(name) => variable(analysis, name),
        };
        return Some(Hover {
            span: occurrence.span,
            markdown,
        });
    }
    let (f, c) = cell_at(analysis, file, offset)?;
    let span = analysis.checked.bot.flows[f].cells[c].span;
    Some(Hover {
        span: span.first_line(&analysis.checked.sources),
        markdown: cell(analysis, f, c),
    })
}

fn find_cell(analysis: &Analysis, flow: &str, id: &str) -> Option<(usize, usize)> {
    let f = analysis
        .checked
        .bot
        .flows
        .iter()
        .position(|x| x.name.value == flow)?;
    let c = analysis.checked.bot.flows[f]
        .cells
        .iter()
        .position(|cell| cell.id.as_ref().is_some_and(|n| n.value == id))?;
    Some((f, c))
}

fn contains(span: Span, file: FileId, offset: usize) -> bool {
    span.file() == Some(file)
        && span
            .range()
            .is_some_and(|r| r.start <= offset && offset < r.end)
}

/// The innermost cell whose text holds the offset, as (flow, cell) positions.
pub(super) fn cell_at(analysis: &Analysis, file: FileId, offset: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize, usize)> = None;
    for (f, flow) in analysis.checked.bot.flows.iter().enumerate() {
        if !contains(flow.span, file, offset) && flow.span != Span::Synthetic {
            // A flow's span holds its cells in both syntaxes.
            continue;
        }
        for (c, cell) in flow.cells.iter().enumerate() {
            if contains(cell.span, file, offset) {
                let len = cell.span.range().map_or(usize::MAX, |r| r.len());
                if best.is_none_or(|(_, _, l)| len < l) {
                    best = Some((f, c, len));
                }
            }
        }
    }
    best.map(|(f, c, _)| (f, c))
}

/// How a cell is named in a hover: `flow.id`, or its place in its flow.
fn cell_name(bot: &ast::Bot, f: usize, c: usize) -> String {
    let flow = &bot.flows[f];
    let cell = &flow.cells[c];
    match &cell.id {
        Some(id) => format!("`{}.{}`", flow.name.value, id.value),
        None => format!(
            "cell {} ({}) of `{}`",
            c + 1,
            cell.kind.keyword(),
            flow.name.value
        ),
    }
}

fn graph_cell_name(analysis: &Analysis, id: CellId) -> String {
    let graph = &analysis.checked.lowered.graph;
    match graph.cell(id) {
        None => "the end of the flow (it completes)".to_owned(),
        Some(cell) => {
            let (f, c) = (cell.flow.index(), cell.index as usize);
            if c == 0 && analysis.checked.bot.flows[f].cells[c].id.is_none() {
                format!("flow `{}`", analysis.checked.bot.flows[f].name.value)
            } else {
                cell_name(&analysis.checked.bot, f, c)
            }
        }
    }
}

/// The variables a cell assigns.
fn sets(analysis: &Analysis, cell: &ast::Cell) -> Vec<String> {
    let mut names = Vec::new();
    match &cell.kind {
        CellKind::Input(input) => names.push(input.var.value.clone()),
        CellKind::Service(service) => {
            names.extend(
                service
                    .save
                    .iter()
                    .chain(&service.status)
                    .map(|n| n.value.clone()),
            );
        }
        CellKind::Code(script) => {
            if let Some(ast) = analysis
                .checked
                .prepared
                .script(&script.source.value, false)
            {
                names.extend(crate::script::effects(&ast).may_assign);
            }
        }
        _ => {}
    }
    names
}

fn cell(analysis: &Analysis, f: usize, c: usize) -> String {
    let bot = &analysis.checked.bot;
    let graph = &analysis.checked.lowered.graph;
    let flow = &bot.flows[f];
    let ast_cell = &flow.cells[c];
    let mut out = match &ast_cell.id {
        Some(id) => format!(
            "**{}** `{}.{}` (cell {} of {})",
            ast_cell.kind.keyword(),
            flow.name.value,
            id.value,
            c + 1,
            flow.cells.len()
        ),
        None => format!(
            "**{}** cell {} of `{}`",
            ast_cell.kind.keyword(),
            c + 1,
            flow.name.value
        ),
    };
    out.push_str("\n\n");
    if let Some(summary) = summary(ast_cell) {
        let _ = writeln!(out, "{summary}\n");
    }
    let id = graph.flow(FlowId::new(f)).cells[c];
    let successors: Vec<(Edge, CellId)> = graph.successors(id).collect();
    if successors.is_empty() {
        out.push_str("Goes nowhere: the conversation ends here.\n");
    } else {
        out.push_str("Goes to:\n");
        for (edge, to) in successors {
            let label = crate::export::edge_label(bot, graph, id, edge);
            let label = if label.is_empty() {
                "next".to_owned()
            } else {
                label
            };
            let _ = writeln!(out, "- {label} → {}", graph_cell_name(analysis, to));
        }
    }
    let set = sets(analysis, ast_cell);
    if !set.is_empty() {
        let _ = writeln!(out, "\nSets: {}", code_list(&set));
    }
    let mut reads: Vec<String> = Vec::new();
    if let Some(file) = ast_cell.span.file() {
        for occurrence in analysis.index.in_file(file) {
            if let (Symbol::Variable(name), Role::Reference) = (&occurrence.symbol, occurrence.role)
                && ast_cell.span.to(occurrence.span) == ast_cell.span
                && !reads.contains(name)
            {
                reads.push(name.clone());
            }
        }
    }
    if !reads.is_empty() {
        let _ = writeln!(out, "\nReads: {}", code_list(&reads));
    }
    out
}

fn code_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line on what the cell does.
fn summary(cell: &ast::Cell) -> Option<String> {
    Some(match &cell.kind {
        CellKind::Answer(answer) => format!("Says \"{}\"", answer.text.first()?.first),
        CellKind::Input(input) => format!(
            "Asks for `{}` ({})",
            input.var.value,
            input
                .effective_type()
                .map_or("unknown type", ast::InputType::as_str)
        ),
        CellKind::Jump(jump) if jump.returns => {
            format!("Calls `{}` and comes back when it completes", jump.to)
        }
        CellKind::Jump(jump) => format!("Continues at `{}`", jump.to),
        CellKind::Service(service) => format!(
            "Calls {} {}",
            service.method.as_ref().map_or("GET", |m| m.value.as_str()),
            service.url.value
        ),
        CellKind::Track(track) => format!("Reports the event `{}`", track.event.value),
        CellKind::Handoff(handoff) => {
            format!("Hands the conversation to `{}`", handoff.queue.value)
        }
        CellKind::End(end) => match &end.message {
            Some(message) => format!("Ends the conversation: \"{}\"", message.first),
            None => "Ends the conversation".to_owned(),
        },
        CellKind::Rule(_) | CellKind::Code(_) | CellKind::Intent(_) => return None,
    })
}

fn flow(analysis: &Analysis, name: &str) -> Option<String> {
    let bot = &analysis.checked.bot;
    let flow = bot.flows.iter().find(|f| f.name.value == name)?;
    let mut out = format!("**flow** `{name}`\n\n");
    match flow.trigger.as_ref().map(|t| &t.value) {
        Some(ast::Trigger::Welcome) => out.push_str("Starts a conversation (`on: welcome`).\n"),
        Some(ast::Trigger::Fallback) => {
            out.push_str("Answers what no flow understood (`on: fallback`).\n");
        }
        Some(ast::Trigger::Timeout) => {
            out.push_str("Answers an inactivity timeout (`on: timeout`).\n");
        }
        Some(ast::Trigger::Intent(intent)) => {
            let _ = writeln!(out, "Started by the intent `{}`.", intent.value);
        }
        Some(ast::Trigger::Entity(entity)) => {
            let _ = writeln!(out, "Started by the entity `{}`.", entity.value);
        }
        None => out.push_str("No trigger: reached by jumps.\n"),
    }
    let _ = writeln!(out, "\n{} cells.", flow.cells.len());
    let uses = analysis
        .references(&Symbol::Flow(name.to_owned()), false)
        .len();
    let _ = writeln!(out, "Named by {uses} target(s).");
    Some(out)
}

fn intent(analysis: &Analysis, name: &str) -> Option<String> {
    let intent = analysis
        .checked
        .bot
        .intents
        .iter()
        .find(|i| i.name.value == name)?;
    let mut out = format!("**intent** `{name}`");
    if intent.global {
        out.push_str(" (global)");
    }
    out.push_str("\n\n");
    let examples: Vec<&str> = intent.all_examples().map(|e| e.value.as_str()).collect();
    let _ = writeln!(
        out,
        "{} example(s), {} pattern(s).",
        examples.len(),
        intent.patterns.len()
    );
    for example in examples.iter().take(3) {
        let _ = writeln!(out, "- \"{example}\"");
    }
    let uses = analysis
        .references(&Symbol::Intent(name.to_owned()), false)
        .len();
    let _ = writeln!(out, "\nUsed by {uses} trigger(s) and route(s).");
    Some(out)
}

fn entity(analysis: &Analysis, name: &str) -> Option<String> {
    let entity = analysis
        .checked
        .bot
        .entities
        .iter()
        .find(|e| e.name.value == name)?;
    let mut out = format!("**entity** `{name}`\n\n");
    match &entity.kind {
        ast::EntityKind::Pattern(pattern) => {
            let _ = writeln!(out, "Matches the pattern `{}`.", pattern.value);
        }
        ast::EntityKind::List(values) => {
            let shown: Vec<String> = values
                .iter()
                .take(5)
                .map(|v| format!("`{}`", v.name.value))
                .collect();
            let more = if values.len() > 5 { ", …" } else { "" };
            let _ = writeln!(out, "{} value(s): {}{more}", values.len(), shown.join(", "));
        }
    }
    Some(out)
}

fn variable(analysis: &Analysis, name: &str) -> String {
    let symbol = Symbol::Variable(name.to_owned());
    let bot = &analysis.checked.bot;
    let mut out = format!("**variable** `{name}`\n\n");
    let settings = &bot.settings;
    let listed = |list: &[ast::Name]| list.iter().any(|n| n.value == name);
    if listed(&settings.context) {
        out.push_str("Set by the host on every request (`bot.context`).\n");
    }
    if listed(&settings.hidden) {
        out.push_str("Hidden: never shown to the channel.\n");
    }
    if listed(&settings.readonly) {
        out.push_str("Read-only: a request's context cannot change it.\n");
    }
    let mut setters: Vec<String> = Vec::new();
    for span in analysis.definitions(&symbol) {
        let Some(file) = span.file() else { continue };
        let Some(start) = span.range().map(|r| r.start) else {
            continue;
        };
        if let Some((f, c)) = cell_at(analysis, file, start) {
            let name = cell_name(bot, f, c);
            if !setters.contains(&name) {
                setters.push(name);
            }
        }
    }
    if setters.is_empty() {
        if !listed(&settings.context) {
            out.push_str("No cell assigns it.\n");
        }
    } else {
        let _ = writeln!(out, "Set by: {}", setters.join(", "));
    }
    let reads = analysis.references(&symbol, false).len();
    let _ = writeln!(out, "\nRead in {reads} place(s).");
    out
}
