//! Comments, kept so that `fmt` can print them again.
//!
//! Comments are not part of the program (the AST's serialization skips
//! them), but rewriting a file must not throw away what its author wrote.
//! Both front ends call [`attach`] after parsing: the comment block at the top
//! of the file becomes the module's header; a comment inside a cell (between
//! its fields, or at the end of one of its lines) belongs to that cell; any
//! other end-of-line comment belongs to the flow, intent, entity, settings
//! block or cell it follows; a comment on its own line belongs to the next
//! of those; comments after the last become the footer. `fmt` prints each
//! node's comments on their own lines above it.
//!
//! Most files have only comments on lines of their own, outside cells; those
//! are found line by line. When a file has a `#` after other text on a line
//! or a comment line inside a cell, its comments are found exactly instead,
//! with the syntax's own rules for strings, code blocks and block scalars.

use crate::ast::{CellKind, Module};
use crate::syntax::Syntax;

/// The lines of `text` with their byte offsets, trimmed. A line ends at LF,
/// CRLF or a lone CR, as in both syntaxes, and a byte-order mark at the
/// start of the file belongs to no line.
fn lines_of(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    body.split_inclusive(['\n', '\r'])
        .scan(text.len() - body.len(), |offset, line| {
            let start = *offset;
            *offset += line.len();
            Some((start, line.trim()))
        })
}

/// The lines of `text` that hold only a comment, as (byte offset, text).
fn comment_lines(text: &str) -> Vec<(usize, String)> {
    lines_of(text)
        .filter(|(_, line)| line.starts_with('#'))
        .map(|(offset, line)| (offset, line.to_owned()))
        .collect()
}

/// [`comment_lines`], and whether a `#` follows other text on some line
/// (maybe an end-of-line comment), reading only the lines that hold a `#`.
fn lines_with_hashes(text: &str) -> (Vec<(usize, String)>, bool) {
    let body_start = text.len() - text.strip_prefix('\u{feff}').unwrap_or(text).len();
    let mut lines = Vec::new();
    let mut trailing = false;
    let mut next_line = 0; // lines before this offset are done
    for (at, _) in text.match_indices('#') {
        if at < next_line {
            continue;
        }
        let start = text[..at]
            .rfind(['\n', '\r'])
            .map_or(body_start, |i| i + 1)
            .max(body_start);
        let end = text[at..].find(['\n', '\r']).map_or(text.len(), |e| at + e);
        next_line = end;
        let line = text[start..end].trim();
        if line.starts_with('#') {
            lines.push((start, line.to_owned()));
        } else {
            trailing = true;
        }
    }
    (lines, trailing)
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

/// A comment: where its `#` is, its text, and whether it has a line of its own.
struct Comment {
    offset: usize,
    text: String,
    own_line: bool,
}

/// Whether only blanks precede `offset` on its line.
fn starts_line(text: &str, offset: usize) -> bool {
    text[..offset]
        .rsplit(['\n', '\r'])
        .next()
        .is_none_or(|before| before.trim_start_matches('\u{feff}').trim().is_empty())
}

fn comment_at(text: &str, offset: usize, body: &str) -> Comment {
    Comment {
        offset,
        text: body.trim_end().to_owned(),
        own_line: starts_line(text, offset),
    }
}

/// Every comment of a YAML file, by the YAML parser's own reading (a `#`
/// inside a quoted or block scalar is text). `None` if the file does not parse.
fn yaml_comments(text: &str) -> Option<Vec<Comment>> {
    use serde_saphyr::granit_parser::{Event, Parser};
    let mut options = serde_saphyr::granit_parser::Options::default();
    options.emit_comments = true;
    options.max_buffered_comment_events = usize::MAX;
    options.block_nesting_limit = crate::syntax::MAX_DEPTH + 1;
    let mut out = Vec::new();
    for item in Parser::new_from_str_with_options(text, options) {
        let (event, span) = item.ok()?;
        if let Event::Comment(..) = event
            && let Some(start) = span.start.byte_offset()
            && let Some(end) = span.end.byte_offset()
            && let Some(body) = text.get(start..end)
        {
            out.push(comment_at(text, start, body));
        }
    }
    Some(out)
}

/// Every comment of a DSL file that parsed into `module`: a `#` outside
/// strings and code blocks, to the end of its line. The code blocks are
/// known from the module's scripts, so rhai's `#{...}` maps are not taken
/// for comments.
fn dsl_comments(text: &str, module: &Module) -> Vec<Comment> {
    let mut scripts: Vec<std::ops::Range<usize>> = module
        .flows
        .iter()
        .flat_map(|f| &f.cells)
        .flat_map(|cell| match &cell.kind {
            CellKind::Code(script) => vec![script.source.span],
            CellKind::Rule(rule) => rule.arms.iter().map(|a| a.when.source.span).collect(),
            _ => Vec::new(),
        })
        .filter_map(crate::source::Span::range)
        .collect();
    scripts.sort_by_key(|r| r.start);
    let mut scripts = scripts.into_iter().peekable();
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while scripts.peek().is_some_and(|r| r.end <= i) {
            scripts.next();
        }
        if let Some(r) = scripts.peek()
            && r.start <= i
        {
            i = r.end;
            continue;
        }
        // Straight to the next byte that matters before the next script.
        let stop = scripts.peek().map_or(bytes.len(), |r| r.start);
        match memchr::memchr3(b'"', b'\'', b'#', &bytes[i..stop]) {
            Some(skip) => i += skip,
            None => {
                i = stop;
                continue;
            }
        }
        // Every byte that opens or closes a token here is ASCII, so `i`
        // stays on a character boundary whenever it is used to slice.
        match bytes[i] {
            b'"' => {
                i += 1;
                while let Some(at) = memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..]) {
                    i += at;
                    if bytes[i] == b'"' {
                        break;
                    }
                    i += 2;
                }
                if i >= bytes.len() || bytes[i] != b'"' {
                    i = bytes.len();
                }
                i += 1;
            }
            b'\'' => {
                i += 1 + text[i + 1..].find('\'').unwrap_or(text.len() - i - 1);
                i += 1;
            }
            b'#' => {
                let end = text[i..].find(['\n', '\r']).map_or(text.len(), |e| i + e);
                out.push(comment_at(text, i, &text[i..end]));
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// Where a DSL cell really ends. The grammar skips blanks and comments
/// while looking for an optional `-> next`, so a cell's span can run over
/// the comment lines below it, which belong to the next cell: cut them off.
fn dsl_cell_end(text: &str, start: usize, mut end: usize) -> usize {
    loop {
        let body = text[start..end].trim_end();
        let line_start = body.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        end = start + body.len();
        if line_start == 0 || !body[line_start..].trim_start().starts_with('#') {
            return end;
        }
        end = start + line_start;
    }
}

/// Every comment of a file, read with its syntax's rules; `None` for a
/// YAML file that does not parse.
fn exact_comments(syntax: Syntax, text: &str, module: &Module) -> Option<Vec<Comment>> {
    match syntax {
        Syntax::Yaml => yaml_comments(text),
        Syntax::Dsl => Some(dsl_comments(text, module)),
    }
}

/// Attaches the comments of `text` to the nodes of `module` (see the module docs).
pub fn attach(syntax: Syntax, text: &str, module: &mut Module) {
    let (lines, trailing) = lines_with_hashes(text);
    if lines.is_empty() && !trailing {
        return;
    }
    // Only `#`s after other text (in strings, as patterns often hold them,
    // or ending lines): read them exactly first, and stop if none is a
    // comment, before indexing every cell of the file.
    let early = (lines.is_empty() && trailing).then(|| exact_comments(syntax, text, module));
    if let Some(Some(comments)) = &early
        && comments.is_empty()
    {
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
                let e = match syntax {
                    Syntax::Dsl => dsl_cell_end(text, s, e),
                    Syntax::Yaml => e,
                };
                nodes.push((s, e, Slot::Cell(i, j)));
            }
        }
    }
    nodes.sort_by_key(|(s, _, _)| *s);
    // The header: the comment block at the very top, before any content.
    let first_content = lines_of(text)
        .find(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map_or(text.len(), |(start, _)| start);
    let line_start = |offset: usize| text[..offset].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    // The cell a comment is inside: between its first and last byte, or at
    // the end of one of its lines.
    let inside_cell = |offset: usize, own_line: bool| {
        nodes
            .iter()
            .find(|(s, e, slot)| {
                matches!(slot, Slot::Cell(..))
                    && *s < offset
                    && (offset < *e || (!own_line && line_start(offset) <= *e))
            })
            .map(|(_, _, slot)| *slot)
    };
    let exact = match early {
        Some(exact) => exact,
        None => (trailing || lines.iter().any(|(o, _)| inside_cell(*o, true).is_some()))
            .then(|| exact_comments(syntax, text, module))
            .flatten(),
    };
    let comments = exact.unwrap_or_else(|| {
        lines
            .into_iter()
            .map(|(offset, text)| Comment {
                offset,
                text,
                own_line: true,
            })
            .collect()
    });
    for comment in comments {
        let offset = comment.offset;
        if offset < first_content {
            module.header.push(comment.text);
            continue;
        }
        let target = inside_cell(offset, comment.own_line)
            .or_else(|| {
                // An end-of-line comment belongs to the node it follows.
                nodes
                    .iter()
                    .rev()
                    .find(|(s, _, _)| !comment.own_line && *s < offset)
                    .map(|(_, _, slot)| *slot)
            })
            .or_else(|| {
                nodes
                    .iter()
                    .find(|(s, _, _)| *s > offset)
                    .map(|(_, _, slot)| *slot)
            });
        let list = match target {
            Some(Slot::Settings) => module.bot.as_mut().map(|b| &mut b.comments),
            Some(Slot::Intent(i)) => Some(&mut module.intents[i].comments),
            Some(Slot::Entity(i)) => Some(&mut module.entities[i].comments),
            Some(Slot::Flow(i)) => Some(&mut module.flows[i].comments),
            Some(Slot::Cell(i, j)) => Some(&mut module.flows[i].cells[j].comments),
            None => Some(&mut module.footer),
        };
        if let Some(list) = list {
            list.push(comment.text);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_with_hashes_reads_the_lines_lines_of_reads() {
        for text in [
            "",
            "# a\nflow x { # b\n}\n",
            "\u{feff}# top\r\n  # two\rx \"#\" # c\n#",
            "a\n\n   #x\r\n#y #z\n'#'",
            "\u{feff}#",
            "\u{feff}x#",
            "no comment",
        ] {
            let lines = super::comment_lines(text);
            let trailing =
                super::lines_of(text).any(|(_, l)| !l.starts_with('#') && l.contains('#'));
            assert_eq!(
                super::lines_with_hashes(text),
                (lines, trailing),
                "{text:?}"
            );
        }
    }
}
