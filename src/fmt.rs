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

use crate::ast::{
    Answer, Body, Button, Cell, CellKind, EntityKind, Flow, Input, Module, Script, Settings,
    Target, Trigger,
};
use crate::diagnostic::Diagnostic;
use crate::source::SourceMap;
use crate::syntax::{self, Syntax};

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

// ---- DSL -------------------------------------------------------------------

/// A DSL string literal: `'raw'` when that avoids escapes, else `"..."`.
fn dsl_string(s: &str) -> String {
    if s.contains('\\') && !s.contains('\'') && !s.chars().any(char::is_control) {
        return format!("'{s}'");
    }
    dsl_string_escaped(s)
}

fn dsl_list(items: &[String], indent: usize) -> String {
    let one_line = format!("[{}]", items.join(", "));
    if one_line.len() + indent <= 100 {
        return one_line;
    }
    let pad = " ".repeat(indent + 2);
    let mut out = String::from("[\n");
    for item in items {
        let _ = writeln!(out, "{pad}{item},");
    }
    let _ = write!(out, "{}]", " ".repeat(indent));
    out
}

fn dsl_strings(items: &[crate::ast::Spanned<String>], indent: usize) -> String {
    dsl_list(
        &items
            .iter()
            .map(|s| dsl_string(&s.value))
            .collect::<Vec<_>>(),
        indent,
    )
}

fn dsl_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => {
            // JSON strings in the DSL always use double quotes.
            let quoted = dsl_string(s);
            if quoted.starts_with('\'') {
                dsl_string_escaped(s)
            } else {
                quoted
            }
        }
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(dsl_json).collect::<Vec<_>>().join(", ")
        ),
        serde_json::Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", dsl_string_escaped(k), dsl_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn dsl_string_escaped(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dsl_block(script: &Script, indent: usize) -> String {
    let text = &script.source.value;
    // A `//` comment runs to the end of its line: on one line it would hide
    // the closing brace.
    if !text.contains('\n') && !text.contains("//") {
        return if text.is_empty() {
            "{ }".to_owned()
        } else {
            format!("{{ {text} }}")
        };
    }
    let pad = " ".repeat(indent + 2);
    let mut out = String::from("{\n");
    for line in text.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{pad}{line}");
        }
    }
    let _ = write!(out, "{}}}", " ".repeat(indent));
    out
}

fn number(n: f64) -> String {
    format!("{n}")
}

/// Prints a module in the canonical DSL layout.
#[must_use]
pub fn to_dsl(module: &Module) -> String {
    let mut sections: Vec<String> = Vec::new();
    if !module.header.is_empty() {
        sections.push(module.header.join("\n"));
    }
    if let Some(bot) = &module.bot {
        sections.push(format!(
            "{}{}",
            comments(&bot.comments, 0),
            dsl_settings(bot)
        ));
    }
    for intent in &module.intents {
        let mut out = comments(&intent.comments, 0);
        let _ = writeln!(out, "intent {} {{", intent.name.value);
        if !intent.examples.is_empty() {
            let _ = writeln!(out, "  examples {}", dsl_strings(&intent.examples, 2));
        }
        if !intent.patterns.is_empty() {
            let _ = writeln!(out, "  patterns {}", dsl_strings(&intent.patterns, 2));
        }
        if intent.global {
            out.push_str("  global\n");
        }
        out.push('}');
        sections.push(out);
    }
    for entity in &module.entities {
        let leading = comments(&entity.comments, 0);
        let body = match &entity.kind {
            EntityKind::Pattern(p) => format!(
                "entity {} pattern {}",
                entity.name.value,
                dsl_string(&p.value)
            ),
            EntityKind::List(values) => {
                let mut out = format!("entity {} {{\n", entity.name.value);
                for value in values {
                    let _ = write!(out, "  value {}", dsl_string(&value.name.value));
                    if !value.synonyms.is_empty() {
                        let _ = write!(out, " {}", dsl_strings(&value.synonyms, 2));
                    }
                    out.push('\n');
                }
                out.push('}');
                out
            }
        };
        sections.push(format!("{leading}{body}"));
    }
    for flow in &module.flows {
        sections.push(format!("{}{}", comments(&flow.comments, 0), dsl_flow(flow)));
    }
    if !module.footer.is_empty() {
        sections.push(module.footer.join("\n"));
    }
    let mut out = sections.join("\n\n");
    out.push('\n');
    top_comments_as_header(&out)
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

fn dsl_settings(bot: &Settings) -> String {
    let mut out = String::from("bot {\n");
    if let Some(name) = &bot.name {
        let _ = writeln!(out, "  name {}", dsl_string(&name.value));
    }
    if let Some(locale) = &bot.locale {
        let _ = writeln!(out, "  locale {}", dsl_string(&locale.value));
    }
    if let Some(t) = &bot.threshold {
        let _ = writeln!(out, "  threshold {}", number(t.value));
    }
    if !bot.out_of_scope.is_empty() {
        let _ = writeln!(out, "  out_of_scope {}", dsl_strings(&bot.out_of_scope, 2));
    }
    for (field, list) in [
        ("context", &bot.context),
        ("hidden", &bot.hidden),
        ("readonly", &bot.readonly),
    ] {
        if !list.is_empty() {
            let names: Vec<String> = list.iter().map(|n| n.value.clone()).collect();
            let _ = writeln!(out, "  {field} {}", dsl_list(&names, 2));
        }
    }
    out.push('}');
    out
}

fn dsl_flow(flow: &Flow) -> String {
    let mut out = format!("flow {}", flow.name.value);
    if let Some(trigger) = &flow.trigger {
        let _ = match &trigger.value {
            Trigger::Welcome => write!(out, " on welcome"),
            Trigger::Fallback => write!(out, " on fallback"),
            Trigger::Intent(n) => write!(out, " on intent {}", n.value),
            Trigger::Entity(n) => write!(out, " on entity {}", n.value),
        };
    }
    out.push_str(" {\n");
    for cell in &flow.cells {
        dsl_cell(&mut out, cell);
    }
    out.push('}');
    out
}

fn dsl_cell(out: &mut String, cell: &Cell) {
    out.push_str(&comments(&cell.comments, 2));
    out.push_str("  ");
    if let Some(id) = &cell.id {
        let _ = write!(out, "{}: ", id.value);
    }
    let pad = 2;
    match &cell.kind {
        CellKind::Answer(answer) => dsl_answer(out, answer),
        CellKind::Input(input) => dsl_input(out, input),
        CellKind::Rule(rule) => {
            out.push_str("rule {\n");
            for arm in &rule.arms {
                let _ = writeln!(
                    out,
                    "    when {} goto {}",
                    dsl_block(&arm.when, 4),
                    arm.goto
                );
            }
            if let Some(t) = &rule.otherwise {
                let _ = writeln!(out, "    else goto {t}");
            }
            out.push_str("  }");
        }
        CellKind::Code(script) => {
            let _ = write!(out, "code {}", dsl_block(script, pad));
        }
        CellKind::Jump(jump) => {
            let _ = write!(
                out,
                "jump {}{}",
                jump.to,
                if jump.returns { " return" } else { "" }
            );
        }
        CellKind::Intent(switch) => {
            out.push_str("intent {\n");
            for (intent, target) in &switch.routes {
                let _ = writeln!(out, "    {} goto {target}", intent.value);
            }
            if let Some(t) = &switch.otherwise {
                let _ = writeln!(out, "    else goto {t}");
            }
            out.push_str("  }");
        }
        CellKind::Service(service) => {
            out.push_str("service {\n");
            if let Some(m) = &service.method {
                let _ = writeln!(out, "    method {}", m.value.as_str());
            }
            let _ = writeln!(out, "    url {}", dsl_string(&service.url.value));
            for (name, value) in &service.headers {
                let _ = writeln!(
                    out,
                    "    header {} {}",
                    dsl_string(&name.value),
                    dsl_string(&value.value)
                );
            }
            match &service.body {
                Some(Body::Template(t)) => {
                    let _ = writeln!(out, "    body {}", dsl_string(&t.value));
                }
                Some(Body::Json(j)) => {
                    let _ = writeln!(out, "    body {}", dsl_json(&j.value));
                }
                None => {}
            }
            if let Some(t) = &service.timeout_ms {
                let _ = writeln!(out, "    timeout {}", t.value);
            }
            if let Some(n) = &service.save {
                let _ = writeln!(out, "    save {}", n.value);
            }
            if let Some(n) = &service.status {
                let _ = writeln!(out, "    status {}", n.value);
            }
            if let Some(t) = &service.on_error {
                let _ = writeln!(out, "    on_error {t}");
            }
            out.push_str("  }");
        }
        CellKind::Handoff(handoff) => {
            out.push_str("handoff {\n");
            let _ = writeln!(out, "    queue {}", dsl_string(&handoff.queue.value));
            if let Some(r) = &handoff.reason {
                let _ = writeln!(out, "    reason {}", dsl_string(&r.value));
            }
            if let Some(m) = &handoff.message {
                let _ = writeln!(out, "    message {}", dsl_string(&m.value));
            }
            out.push_str("  }");
        }
        CellKind::End(end) => {
            out.push_str("end");
            if let Some(m) = &end.message {
                let _ = write!(out, " {}", dsl_string(&m.value));
            }
        }
    }
    if let Some(next) = &cell.next {
        let _ = write!(out, " -> {next}");
    }
    out.push('\n');
}

fn dsl_button(button: &Button) -> String {
    let mut out = format!("button {}", dsl_string(&button.label.value));
    if let Some(v) = &button.value {
        let _ = write!(out, " value {}", dsl_string(&v.value));
    }
    if let Some(u) = &button.url {
        let _ = write!(out, " url {}", dsl_string(&u.value));
    }
    out
}

fn dsl_answer(out: &mut String, answer: &Answer) {
    if answer.is_plain() {
        let _ = write!(out, "answer {}", dsl_string(&answer.text[0].value));
        return;
    }
    out.push_str("answer {\n");
    for text in &answer.text {
        let _ = writeln!(out, "    text {}", dsl_string(&text.value));
    }
    if let Some(p) = &answer.pick {
        let _ = writeln!(out, "    pick {}", p.value.as_str());
    }
    for button in &answer.buttons {
        let _ = writeln!(out, "    {}", dsl_button(button));
    }
    for reply in &answer.quick_replies {
        let _ = write!(out, "    quick_reply {}", dsl_string(&reply.label.value));
        if let Some(v) = &reply.value {
            let _ = write!(out, " value {}", dsl_string(&v.value));
        }
        out.push('\n');
    }
    for card in &answer.cards {
        let _ = write!(out, "    card {}", dsl_string(&card.title.value));
        if card.subtitle.is_some() || card.image.is_some() || !card.buttons.is_empty() {
            out.push_str(" {\n");
            if let Some(s) = &card.subtitle {
                let _ = writeln!(out, "      subtitle {}", dsl_string(&s.value));
            }
            if let Some(i) = &card.image {
                let _ = writeln!(out, "      image {}", dsl_string(&i.value));
            }
            for button in &card.buttons {
                let _ = writeln!(out, "      {}", dsl_button(button));
            }
            out.push_str("    }");
        }
        out.push('\n');
    }
    if let Some(media) = &answer.media {
        let _ = write!(
            out,
            "    media {} {}",
            media.kind.value.as_str(),
            dsl_string(&media.url.value)
        );
        if let Some(n) = &media.name {
            let _ = write!(out, " name {}", dsl_string(&n.value));
        }
        out.push('\n');
    }
    if let Some(custom) = &answer.custom {
        let _ = writeln!(out, "    custom {}", dsl_json(&custom.value));
    }
    if answer.evaluable {
        out.push_str("    evaluable\n");
    }
    out.push_str("  }");
}

fn dsl_input(out: &mut String, input: &Input) {
    let _ = write!(out, "input {}", input.var.value);
    if let Some(ty) = &input.ty {
        let _ = write!(out, " {}", ty.value);
    }
    let mut fields = Vec::new();
    if let Some(p) = &input.prompt {
        fields.push(format!("prompt {}", dsl_string(&p.value)));
    }
    if !input.options.is_empty() {
        fields.push(format!("options {}", dsl_strings(&input.options, 4)));
    }
    if let Some(e) = &input.entity {
        fields.push(format!("entity {}", e.value));
    }
    if let Some(p) = &input.pattern {
        fields.push(format!("pattern {}", dsl_string(&p.value)));
    }
    if let Some(n) = &input.min {
        fields.push(format!("min {}", number(n.value)));
    }
    if let Some(n) = &input.max {
        fields.push(format!("max {}", number(n.value)));
    }
    if let Some(i) = &input.invalid {
        fields.push(format!("invalid {}", dsl_string(&i.value)));
    }
    if let Some(r) = &input.retries {
        fields.push(format!("retries {}", r.value));
    }
    if let Some(t) = &input.on_fail {
        fields.push(format!("on_fail {t}"));
    }
    if input.mask {
        fields.push("mask".to_owned());
    }
    if !fields.is_empty() {
        out.push_str(" {\n");
        for field in fields {
            let _ = writeln!(out, "    {field}");
        }
        out.push_str("  }");
    }
}

// ---- YAML ------------------------------------------------------------------

/// Words a YAML reader would not take as a plain string.
fn yaml_special(s: &str) -> bool {
    const WORDS: [&str; 12] = [
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~", "nan", "inf",
    ];
    let lower = s.to_ascii_lowercase();
    WORDS.contains(&lower.trim_start_matches(['.', '+', '-']))
        || s.parse::<f64>().is_ok()
        || lower.starts_with("0x")
        || lower.starts_with("0o")
}

/// A YAML scalar for a string: plain when safe, else double-quoted.
fn yaml_string(s: &str) -> String {
    let plain_char = |c: char| c.is_alphanumeric() || " _-.,/()?!¿¡'".contains(c);
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        && !s.ends_with(' ')
        && s.chars().all(plain_char)
        && !s.contains(": ")
        && !s.contains(" #")
        && !yaml_special(s);
    let literal = (s.contains('\\') || s.contains('"'))
        && !s.contains('\'')
        && !s.chars().any(|c| char::is_control(c) || !yaml_printable(c))
        && !s.starts_with(' ')
        && !s.ends_with(' ');
    if plain {
        s.to_owned()
    } else if literal {
        // Single quotes keep regexes and expressions readable: no escapes inside.
        format!("'{s}'")
    } else {
        yaml_double_quoted(s)
    }
}

/// A double-quoted YAML scalar: JSON's escapes, which YAML shares, plus
/// `\u` escapes for the characters YAML may not hold as written.
fn yaml_double_quoted(s: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    if json.chars().all(yaml_printable) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if yaml_printable(c) {
            out.push(c);
        } else {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
    }
    out
}

fn yaml_script(script: &Script, indent: usize) -> String {
    let text = &script.source.value;
    if text.contains('\n')
        && !text.starts_with([' ', '\t'])
        && !text.contains('\r')
        && !text.contains('\t')
        && text.chars().all(yaml_printable)
    {
        let pad = " ".repeat(indent + 2);
        let mut out = String::from("|\n");
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
        }
        return out;
    }
    yaml_string(text)
}

fn yaml_json(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// Writes YAML lines with the current indentation.
struct YamlOut {
    out: String,
}

impl YamlOut {
    fn line(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn field(&mut self, indent: usize, key: &str, value: &str) {
        self.line(indent, &format!("{key}: {value}"));
    }

    fn strings(&mut self, indent: usize, key: &str, items: &[crate::ast::Spanned<String>]) {
        if items.is_empty() {
            self.field(indent, key, "[]");
            return;
        }
        self.line(indent, &format!("{key}:"));
        for item in items {
            self.line(indent + 2, &format!("- {}", yaml_string(&item.value)));
        }
    }
}

/// Prints a module in the canonical YAML layout.
#[must_use]
pub fn to_yaml(module: &Module) -> String {
    let mut y = YamlOut { out: String::new() };
    let mut first = true;
    let mut section = |y: &mut YamlOut| {
        if !first {
            y.out.push('\n');
        }
        first = false;
    };
    if !module.header.is_empty() {
        section(&mut y);
        y.out.push_str(&comments(&module.header, 0));
    }
    if let Some(bot) = &module.bot {
        section(&mut y);
        y.out.push_str(&comments(&bot.comments, 0));
        y.line(0, "bot:");
        yaml_settings(&mut y, bot, 2);
    }
    if !module.intents.is_empty() {
        section(&mut y);
        y.line(0, "intents:");
        for intent in &module.intents {
            y.out.push_str(&comments(&intent.comments, 2));
            y.line(2, &format!("{}:", yaml_string(&intent.name.value)));
            if !intent.examples.is_empty() {
                y.strings(4, "examples", &intent.examples);
            }
            if !intent.patterns.is_empty() {
                y.strings(4, "patterns", &intent.patterns);
            }
            if intent.global {
                y.field(4, "global", "true");
            }
            if intent.examples.is_empty() && intent.patterns.is_empty() && !intent.global {
                y.field(4, "examples", "[]");
            }
        }
    }
    if !module.entities.is_empty() {
        section(&mut y);
        y.line(0, "entities:");
        for entity in &module.entities {
            y.out.push_str(&comments(&entity.comments, 2));
            y.line(2, &format!("{}:", yaml_string(&entity.name.value)));
            match &entity.kind {
                EntityKind::Pattern(p) => y.field(4, "pattern", &yaml_string(&p.value)),
                EntityKind::List(values) if values.is_empty() => y.field(4, "values", "{}"),
                EntityKind::List(values) => {
                    y.line(4, "values:");
                    for value in values {
                        y.strings(6, &yaml_string(&value.name.value), &value.synonyms);
                    }
                }
            }
        }
    }
    if !module.flows.is_empty() {
        section(&mut y);
        y.line(0, "flows:");
        for (i, flow) in module.flows.iter().enumerate() {
            if i > 0 {
                y.out.push('\n');
            }
            yaml_flow(&mut y, flow);
        }
    }
    if !module.footer.is_empty() {
        section(&mut y);
        y.out.push_str(&comments(&module.footer, 0));
    }
    top_comments_as_header(&y.out)
}

/// Prints `cellflow.yaml`'s content (settings at the top level).
#[must_use]
pub fn settings_to_yaml(settings: &Settings) -> String {
    let mut y = YamlOut { out: String::new() };
    yaml_settings(&mut y, settings, 0);
    y.out
}

fn yaml_settings(y: &mut YamlOut, bot: &Settings, indent: usize) {
    if let Some(name) = &bot.name {
        y.field(indent, "name", &yaml_string(&name.value));
    }
    if let Some(locale) = &bot.locale {
        y.field(indent, "locale", &yaml_string(&locale.value));
    }
    if bot.threshold.is_some() || !bot.out_of_scope.is_empty() {
        y.line(indent, "nlu:");
    }
    if let Some(t) = &bot.threshold {
        y.field(indent + 2, "threshold", &number(t.value));
    }
    if !bot.out_of_scope.is_empty() {
        y.strings(indent + 2, "out_of_scope", &bot.out_of_scope);
    }
    for (field, list) in [
        ("context", &bot.context),
        ("hidden", &bot.hidden),
        ("readonly", &bot.readonly),
    ] {
        if !list.is_empty() {
            y.strings(indent, field, list);
        }
    }
    if bot.name.is_none()
        && bot.locale.is_none()
        && bot.threshold.is_none()
        && bot.out_of_scope.is_empty()
        && bot.context.is_empty()
        && bot.hidden.is_empty()
        && bot.readonly.is_empty()
    {
        y.field(indent, "context", "[]");
    }
}

fn yaml_flow(y: &mut YamlOut, flow: &Flow) {
    y.out.push_str(&comments(&flow.comments, 2));
    y.line(2, &format!("{}:", yaml_string(&flow.name.value)));
    if let Some(trigger) = &flow.trigger {
        let on = match &trigger.value {
            Trigger::Welcome => "welcome".to_owned(),
            Trigger::Fallback => "fallback".to_owned(),
            Trigger::Intent(n) => format!("{{intent: {}}}", yaml_string(&n.value)),
            Trigger::Entity(n) => format!("{{entity: {}}}", yaml_string(&n.value)),
        };
        y.field(4, "on", &on);
    }
    if flow.cells.is_empty() {
        y.field(4, "cells", "[]");
        return;
    }
    y.line(4, "cells:");
    for cell in &flow.cells {
        yaml_cell(y, cell);
    }
}

fn target(t: &Target) -> String {
    yaml_string(&t.to_string())
}

fn yaml_cell(y: &mut YamlOut, cell: &Cell) {
    // Each cell is a list item at indent 6; its keys sit at indent 8.
    const I: usize = 8;
    y.out.push_str(&comments(&cell.comments, 6));
    let mut lines = YamlOut { out: String::new() };
    if let Some(id) = &cell.id {
        lines.field(I, "id", &yaml_string(&id.value));
    }
    match &cell.kind {
        CellKind::Answer(answer) if answer.is_plain() => {
            lines.field(I, "answer", &yaml_string(&answer.text[0].value));
        }
        CellKind::Answer(answer) => {
            lines.line(I, "answer:");
            yaml_answer(&mut lines, answer, I + 2);
        }
        CellKind::Input(input) => {
            lines.line(I, "input:");
            yaml_input(&mut lines, input, I + 2);
        }
        CellKind::Rule(rule) => {
            if rule.arms.is_empty() && rule.otherwise.is_none() {
                lines.field(I, "rule", "[]");
            } else {
                lines.line(I, "rule:");
            }
            for arm in &rule.arms {
                lines.field(I + 2, "- when", &yaml_script(&arm.when, I + 4));
                lines.field(I + 4, "goto", &target(&arm.goto));
            }
            if let Some(t) = &rule.otherwise {
                lines.field(I + 2, "- else", &target(t));
            }
        }
        CellKind::Code(script) => lines.field(I, "code", &yaml_script(script, I)),
        CellKind::Jump(jump) if !jump.returns => lines.field(I, "jump", &target(&jump.to)),
        CellKind::Jump(jump) => {
            lines.line(I, "jump:");
            lines.field(I + 2, "to", &target(&jump.to));
            lines.field(I + 2, "return", "true");
        }
        CellKind::Intent(switch) => {
            if switch.routes.is_empty() && switch.otherwise.is_none() {
                lines.field(I, "intent", "{}");
            } else {
                lines.line(I, "intent:");
            }
            for (intent, t) in &switch.routes {
                lines.field(I + 2, &yaml_string(&intent.value), &target(t));
            }
            if let Some(t) = &switch.otherwise {
                lines.field(I + 2, "else", &target(t));
            }
        }
        CellKind::Service(service) => {
            lines.line(I, "service:");
            let j = I + 2;
            if let Some(m) = &service.method {
                lines.field(j, "method", m.value.as_str());
            }
            lines.field(j, "url", &yaml_string(&service.url.value));
            if !service.headers.is_empty() {
                lines.line(j, "headers:");
                for (name, value) in &service.headers {
                    lines.field(j + 2, &yaml_string(&name.value), &yaml_string(&value.value));
                }
            }
            match &service.body {
                Some(Body::Template(t)) => lines.field(j, "body", &yaml_string(&t.value)),
                Some(Body::Json(json)) => lines.field(j, "body", &yaml_json(&json.value)),
                None => {}
            }
            if let Some(t) = &service.timeout_ms {
                lines.field(j, "timeout_ms", &t.value.to_string());
            }
            if let Some(n) = &service.save {
                lines.field(j, "save", &yaml_string(&n.value));
            }
            if let Some(n) = &service.status {
                lines.field(j, "status", &yaml_string(&n.value));
            }
            if let Some(t) = &service.on_error {
                lines.field(j, "on_error", &target(t));
            }
        }
        CellKind::Handoff(handoff) => {
            lines.line(I, "handoff:");
            lines.field(I + 2, "queue", &yaml_string(&handoff.queue.value));
            if let Some(r) = &handoff.reason {
                lines.field(I + 2, "reason", &yaml_string(&r.value));
            }
            if let Some(m) = &handoff.message {
                lines.field(I + 2, "message", &yaml_string(&m.value));
            }
        }
        CellKind::End(end) => match &end.message {
            None if cell.id.is_none() && cell.next.is_none() => {
                y.line(6, "- end");
                return;
            }
            None => lines.field(I, "end", "{}"),
            Some(m) => {
                lines.line(I, "end:");
                lines.field(I + 2, "message", &yaml_string(&m.value));
            }
        },
    }
    if let Some(next) = &cell.next {
        lines.field(I, "next", &target(next));
    }
    // Turn the first line's indentation into the list dash.
    let text = lines.out;
    let rest = text.get(I..).unwrap_or("");
    y.out.push_str("      - ");
    y.out.push_str(rest);
}

fn yaml_answer(y: &mut YamlOut, answer: &Answer, i: usize) {
    match answer.text.as_slice() {
        [] => {}
        [one] => y.field(i, "text", &yaml_string(&one.value)),
        many => y.strings(i, "text", many),
    }
    if let Some(p) = &answer.pick {
        y.field(i, "pick", p.value.as_str());
    }
    let buttons = |y: &mut YamlOut, buttons: &[Button], i: usize| {
        y.line(i, "buttons:");
        for b in buttons {
            y.field(i + 2, "- label", &yaml_string(&b.label.value));
            if let Some(v) = &b.value {
                y.field(i + 4, "value", &yaml_string(&v.value));
            }
            if let Some(u) = &b.url {
                y.field(i + 4, "url", &yaml_string(&u.value));
            }
        }
    };
    if !answer.buttons.is_empty() {
        buttons(y, &answer.buttons, i);
    }
    if !answer.quick_replies.is_empty() {
        y.line(i, "quick_replies:");
        for r in &answer.quick_replies {
            match &r.value {
                None => y.line(i + 2, &format!("- {}", yaml_string(&r.label.value))),
                Some(v) => {
                    y.field(i + 2, "- label", &yaml_string(&r.label.value));
                    y.field(i + 4, "value", &yaml_string(&v.value));
                }
            }
        }
    }
    if !answer.cards.is_empty() {
        y.line(i, "cards:");
        for card in &answer.cards {
            y.field(i + 2, "- title", &yaml_string(&card.title.value));
            if let Some(s) = &card.subtitle {
                y.field(i + 4, "subtitle", &yaml_string(&s.value));
            }
            if let Some(im) = &card.image {
                y.field(i + 4, "image", &yaml_string(&im.value));
            }
            if !card.buttons.is_empty() {
                buttons(y, &card.buttons, i + 4);
            }
        }
    }
    if let Some(media) = &answer.media {
        y.line(i, "media:");
        y.field(i + 2, "type", media.kind.value.as_str());
        y.field(i + 2, "url", &yaml_string(&media.url.value));
        if let Some(n) = &media.name {
            y.field(i + 2, "name", &yaml_string(&n.value));
        }
    }
    if let Some(custom) = &answer.custom {
        y.field(i, "custom", &yaml_json(&custom.value));
    }
    if answer.evaluable {
        y.field(i, "evaluable", "true");
    }
}

fn yaml_input(y: &mut YamlOut, input: &Input, i: usize) {
    y.field(i, "var", &yaml_string(&input.var.value));
    if let Some(ty) = &input.ty {
        y.field(i, "type", &yaml_string(&ty.value));
    }
    if let Some(p) = &input.prompt {
        y.field(i, "prompt", &yaml_string(&p.value));
    }
    if !input.options.is_empty() {
        y.strings(i, "options", &input.options);
    }
    if let Some(e) = &input.entity {
        y.field(i, "entity", &yaml_string(&e.value));
    }
    if let Some(p) = &input.pattern {
        y.field(i, "pattern", &yaml_string(&p.value));
    }
    if let Some(n) = &input.min {
        y.field(i, "min", &number(n.value));
    }
    if let Some(n) = &input.max {
        y.field(i, "max", &number(n.value));
    }
    if let Some(v) = &input.invalid {
        y.field(i, "invalid", &yaml_string(&v.value));
    }
    if let Some(r) = &input.retries {
        y.field(i, "retries", &r.value.to_string());
    }
    if let Some(t) = &input.on_fail {
        y.field(i, "on_fail", &target(t));
    }
    if input.mask {
        y.field(i, "mask", "true");
    }
}
