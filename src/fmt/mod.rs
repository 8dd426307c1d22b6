//! Printing a [`Module`] back as text: the canonical DSL and YAML layouts
//! behind `cellflow fmt`.
//!
//! Both printers are total over the AST, and [`convert`] re-parses what it
//! printed and compares the result with the input (spans aside), so a
//! conversion is either lossless or refused; it never silently drops
//! anything. Comments are not part of the program, but the front ends
//! attach them to nodes (`syntax::comments`) and the printers write each on
//! its own line above its node; a comment YAML cannot hold is refused.

use std::fmt::Write as _;

use crate::ast::{CellKind, Module};
use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;
use crate::syntax::{self, Syntax};

mod dsl;
mod yaml;

pub use dsl::to_dsl;
pub use yaml::{settings_to_yaml, to_yaml};

/// Why a conversion was refused.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("the file has errors; fix them before formatting")]
    Invalid(Vec<Diagnostic>),
    #[error(
        "the printed {0} does not read back as the same bot (a cellflow bug; please report it)"
    )]
    NotLossless(&'static str),
    /// The bot holds something the target syntax cannot write down.
    #[error("{0}")]
    Unrepresentable(String),
}

/// Prints a module in a syntax, checking that it reads back identically.
///
/// # Errors
/// [`FormatError::NotLossless`] if the printed text does not parse back to
/// the same AST.
pub fn convert(module: &Module, to: Syntax) -> Result<String, FormatError> {
    match to {
        Syntax::Yaml => yaml_can_hold_comments(module)?,
        Syntax::Dsl => dsl_can_hold(module)?,
    }
    let text = match to {
        Syntax::Dsl => to_dsl(module),
        Syntax::Yaml => to_yaml(module),
    };
    let mut sources = SourceMap::new();
    let file = sources.add("<formatted>", "<formatted>", text.clone());
    let (reparsed, diagnostics) = syntax::parse(to, file, sources.get(file).text());
    let same = diagnostics.is_empty() && same_program(module, &reparsed);
    if same {
        Ok(text)
    } else {
        Err(FormatError::NotLossless(match to {
            Syntax::Dsl => "DSL",
            Syntax::Yaml => "YAML",
        }))
    }
}

/// Whether two modules serialize identically (spans and comments are not
/// serialized). The second is compared as it is written, against the bytes
/// of the first: no JSON tree is built, so checking a big file costs one
/// buffer, not two trees many times its size.
fn same_program(a: &Module, b: &Module) -> bool {
    struct Compare<'e> {
        expected: &'e [u8],
        same: bool,
    }
    impl std::io::Write for Compare<'_> {
        fn write(&mut self, written: &[u8]) -> std::io::Result<usize> {
            match self.expected.strip_prefix(written) {
                Some(rest) if self.same => self.expected = rest,
                _ => self.same = false,
            }
            Ok(written.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let Ok(expected) = serde_json::to_vec(a) else {
        return false;
    };
    let mut compare = Compare {
        expected: &expected,
        same: true,
    };
    serde_json::to_writer(&mut compare, b).is_ok() && compare.same && compare.expected.is_empty()
}

/// Whether YAML can hold a character as written (its printable set); the
/// others need an escape inside a double-quoted scalar. NEL and the Unicode
/// line and paragraph separators are escaped too, since YAML 1.1 readers
/// take them for line breaks.
fn yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a0}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}')
}

/// YAML comments cannot escape anything: refuse a comment YAML cannot hold
/// (the DSL's comments may hold any character but a line break).
fn yaml_can_hold_comments(module: &Module) -> Result<(), FormatError> {
    let all = module
        .header
        .iter()
        .chain(&module.footer)
        .chain(module.bot.iter().flat_map(|b| &b.comments))
        .chain(module.intents.iter().flat_map(|i| &i.comments))
        .chain(module.entities.iter().flat_map(|e| &e.comments))
        .chain(module.flows.iter().flat_map(|f| {
            f.comments
                .iter()
                .chain(f.cells.iter().flat_map(|c| &c.comments))
        }));
    for comment in all {
        if let Some(c) = comment.chars().find(|c| *c != '\t' && !yaml_printable(*c)) {
            return Err(FormatError::Unrepresentable(format!(
                "the comment `{}` holds the character U+{:04X}, which a YAML comment cannot hold; \
                 remove it from the comment, or keep the file in the DSL",
                comment.escape_debug(),
                c as u32
            )));
        }
    }
    Ok(())
}

/// What YAML holds as any text but the DSL writes bare: a script is a
/// block that ends at its closing brace, so its braces, strings and
/// comments must close; an input's type is a name. (Both are errors for
/// `check` too, but a file that has them still reads and formats.)
fn dsl_can_hold(module: &Module) -> Result<(), FormatError> {
    let cells = module.flows.iter().flat_map(|f| &f.cells);
    for cell in cells {
        let scripts = match &cell.kind {
            CellKind::Code(script) => vec![script],
            CellKind::Rule(rule) => rule.arms.iter().map(|arm| &arm.when).collect(),
            CellKind::Input(input) => {
                if let Some(ty) = input
                    .ty
                    .as_ref()
                    .filter(|ty| !crate::ast::is_name(&ty.value))
                {
                    return Err(FormatError::Unrepresentable(format!(
                        "the input type `{}` cannot be written in the DSL, where a type is a \
                         name; use one of the input types, or keep the file in YAML",
                        ty.value.escape_debug()
                    )));
                }
                Vec::new()
            }
            _ => Vec::new(),
        };
        if let Some(script) = scripts
            .into_iter()
            .find(|script| !syntax::dsl::fits_in_block(&script.source.value))
        {
            return Err(FormatError::Unrepresentable(format!(
                "the script `{}` cannot be written as a DSL block: its braces, strings or \
                 comments do not close (rhai cannot run it either); fix it, or keep the file \
                 in YAML",
                script.source.value.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Comment lines of `original` that `formatted` no longer has.
#[must_use]
pub fn lost_comments(original: &str, formatted: &str) -> Vec<String> {
    let mut remaining = crate::syntax::comments::comment_texts(formatted);
    let mut lost = Vec::new();
    for comment in crate::syntax::comments::comment_texts(original) {
        match remaining.iter().position(|c| *c == comment) {
            Some(i) => {
                remaining.swap_remove(i);
            }
            None => lost.push(comment),
        }
    }
    lost
}

fn number(n: f64) -> String {
    format!("{n}")
}

/// Whether text kept as written (a coordinate) can be printed as a bare
/// number in both syntaxes and read back as the same text: an optional
/// minus, digits, and an optional fraction.
fn plain_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "1"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && all_digits(fraction)
}

/// Whether a duration as written is a bare word in the DSL (`5m`, `300`,
/// `1.5h`: the grammar's `duration_word`); anything else is a string.
fn bare_duration(text: &str) -> bool {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &text[digits..];
    let rest = match rest.strip_prefix('.') {
        Some(fraction) => {
            let more = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if more == 0 {
                return false;
            }
            &fraction[more..]
        }
        None => rest,
    };
    digits > 0 && rest.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Every comment above a file's first content is read back as its header,
/// which is printed as one block and a blank line. Print the comments that
/// lead the output (the header, then maybe the first node's own) that way,
/// so that formatting twice gives what formatting once did.
fn top_comments_as_header(text: &str) -> String {
    let mut header = String::new();
    let mut rest = text;
    while let Some(line) = rest.split_inclusive('\n').next() {
        if line.starts_with('#') {
            header.push_str(line);
        } else if !line.trim().is_empty() {
            break;
        }
        rest = &rest[line.len()..];
    }
    if header.is_empty() || rest.is_empty() {
        return format!("{header}{rest}");
    }
    format!("{header}\n{rest}")
}

/// Comment lines, each on its own line at `indent`.
fn comments(lines: &[String], indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for line in lines {
        let _ = writeln!(out, "{pad}{line}");
    }
    out
}
