//! Own-line comments, kept so that `fmt` can print them again.
//!
//! Comments are not part of the program (the AST's serialization skips
//! them), but rewriting a file must not throw away what its author wrote.
//! Both front ends call [`attach`] after parsing: the comment block at the top
//! of the file becomes the module's header, a comment line elsewhere belongs
//! to the next flow, intent, entity, settings block or cell, and comments after
//! the last of those become the footer. Comment lines inside a cell (between
//! its fields) are not attached; `fmt` notices and refuses to drop them.

use crate::ast::Module;

/// The lines of `text` that hold only a comment, as (byte offset, text).
fn comment_lines(text: &str) -> Vec<(usize, String)> {
    let mut offset = 0;
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            out.push((offset, trimmed.to_owned()));
        }
        offset += line.len();
    }
    out
}

/// Comment-looking lines of a text, for checking that none were lost.
#[must_use]
pub fn comment_texts(text: &str) -> Vec<String> {
    comment_lines(text).into_iter().map(|(_, c)| c).collect()
}

#[derive(Clone, Copy)]
enum Slot {
    Settings,
    Intent(usize),
    Entity(usize),
    Flow(usize),
    Cell(usize, usize),
}

/// Attaches the comments of `text` to the nodes of `module` (see the module docs).
pub fn attach(text: &str, module: &mut Module) {
    let comments = comment_lines(text);
    if comments.is_empty() {
        return;
    }
    // Every attachable node with its start and, for cells, its end.
    let mut nodes: Vec<(usize, usize, Slot)> = Vec::new();
    let start_end = |span: crate::source::Span| span.range().map(|r| (r.start, r.end));
    if let Some(settings) = &module.bot
        && let Some((s, _)) = start_end(settings.span)
    {
        nodes.push((s, s, Slot::Settings));
    }
    for (i, intent) in module.intents.iter().enumerate() {
        if let Some((s, _)) = start_end(intent.name.span) {
            nodes.push((s, s, Slot::Intent(i)));
        }
    }
    for (i, entity) in module.entities.iter().enumerate() {
        if let Some((s, _)) = start_end(entity.name.span) {
            nodes.push((s, s, Slot::Entity(i)));
        }
    }
    for (i, flow) in module.flows.iter().enumerate() {
        if let Some((s, _)) = start_end(flow.name.span) {
            nodes.push((s, s, Slot::Flow(i)));
        }
        for (j, cell) in flow.cells.iter().enumerate() {
            if let Some((s, e)) = start_end(cell.span) {
                nodes.push((s, e, Slot::Cell(i, j)));
            }
        }
    }
    nodes.sort_by_key(|(s, _, _)| *s);
    // The header: the comment block at the very top, before any content.
    let first_content = text
        .split_inclusive('\n')
        .scan(0, |offset, line| {
            let start = *offset;
            *offset += line.len();
            Some((start, line.trim()))
        })
        .find(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map_or(text.len(), |(start, _)| start);
    for (offset, comment) in comments {
        if offset < first_content {
            module.header.push(comment);
            continue;
        }
        // Inside a cell: a comment between its fields, or block-scalar text.
        if nodes
            .iter()
            .any(|(s, e, slot)| matches!(slot, Slot::Cell(..)) && *s < offset && offset < *e)
        {
            continue;
        }
        let target = nodes
            .iter()
            .find(|(s, _, _)| *s > offset)
            .map(|(_, _, slot)| *slot);
        let list = match target {
            Some(Slot::Settings) => module.bot.as_mut().map(|b| &mut b.comments),
            Some(Slot::Intent(i)) => Some(&mut module.intents[i].comments),
            Some(Slot::Entity(i)) => Some(&mut module.entities[i].comments),
            Some(Slot::Flow(i)) => Some(&mut module.flows[i].comments),
            Some(Slot::Cell(i, j)) => Some(&mut module.flows[i].cells[j].comments),
            None => Some(&mut module.footer),
        };
        if let Some(list) = list {
            list.push(comment);
        }
    }
}
