//! The canonical YAML layout.

use std::fmt::Write as _;

use crate::ast::{
    Answer, Body, Button, Cell, CellKind, EntityKind, Flow, Input, Limit, Localized, Module,
    Script, Settings, Target, Trigger,
};

use super::{comments, number, top_comments_as_header, yaml_printable};

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

/// A duration: a number of seconds bare (YAML reads it as the number,
/// whose text is kept), anything else as a string.
fn yaml_duration(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.to_owned()
    } else {
        yaml_string(text)
    }
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

    fn localized_list(&mut self, indent: usize, key: &str, items: &[Localized]) {
        self.line(indent, &format!("{key}:"));
        for item in items {
            self.line(indent + 2, &format!("- {}", yaml_localized(item)));
        }
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

    /// Strings for every language, or, with lists by language, a map of
    /// them with `all:` for the shared ones.
    fn strings_by_language(
        &mut self,
        indent: usize,
        key: &str,
        shared: &[crate::ast::Spanned<String>],
        by_language: &crate::ast::ByLanguage,
    ) {
        if by_language.is_empty() {
            self.strings(indent, key, shared);
            return;
        }
        self.line(indent, &format!("{key}:"));
        if !shared.is_empty() {
            self.strings(indent + 2, "all", shared);
        }
        for (language, list) in by_language {
            self.strings(indent + 2, &yaml_string(&language.value), list);
        }
    }
}

/// A scalar inside a flow collection (`{…}`, `[…]`), where a plain scalar
/// may not hold `,`, brackets or braces: those are written quoted.
fn yaml_flow_string(s: &str) -> String {
    let written = yaml_string(s);
    let plain = !written.starts_with(['"', '\'', '|', '>']);
    if plain && s.contains([',', '[', ']', '{', '}']) {
        return serde_json::Value::String(s.to_owned()).to_string();
    }
    written
}

/// Text the user reads: the string, or a flow map from language to text.
fn yaml_localized(text: &Localized) -> String {
    if text.languages.is_empty() {
        return yaml_string(&text.first);
    }
    let entries: Vec<String> = text
        .languages
        .iter()
        .map(|(language, t)| {
            format!(
                "{}: {}",
                yaml_flow_string(&language.value),
                yaml_flow_string(&t.value)
            )
        })
        .collect();
    format!("{{{}}}", entries.join(", "))
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
            if !intent.examples.is_empty() || !intent.examples_by_language.is_empty() {
                y.strings_by_language(
                    4,
                    "examples",
                    &intent.examples,
                    &intent.examples_by_language,
                );
            }
            if !intent.patterns.is_empty() {
                y.strings(4, "patterns", &intent.patterns);
            }
            if intent.global {
                y.field(4, "global", "true");
            }
            if intent.examples.is_empty()
                && intent.examples_by_language.is_empty()
                && intent.patterns.is_empty()
                && !intent.global
            {
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
                        y.strings_by_language(
                            6,
                            &yaml_string(&value.name.value),
                            &value.synonyms,
                            &value.synonyms_by_language,
                        );
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
    if let Some(timezone) = &bot.timezone {
        y.field(indent, "timezone", &yaml_string(&timezone.value));
    }
    if !bot.languages.is_empty() {
        let names: Vec<String> = bot
            .languages
            .iter()
            .map(|l| yaml_flow_string(&l.value))
            .collect();
        y.field(indent, "languages", &format!("[{}]", names.join(", ")));
    }
    if bot.detect_language {
        y.field(indent, "detect_language", "true");
    }
    if !bot.messages.is_empty() {
        y.line(indent, "messages:");
        for (key, text) in &bot.messages {
            y.field(indent + 2, &key.value, &yaml_localized(text));
        }
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
    if let Some(inactivity) = &bot.inactivity {
        y.line(indent, "inactivity:");
        y.field(indent + 2, "after", &yaml_duration(&inactivity.after.value));
        if let Some(message) = &inactivity.message {
            y.field(indent + 2, "message", &yaml_localized(message));
        }
    }
    if bot.name.is_none()
        && bot.locale.is_none()
        && bot.timezone.is_none()
        && bot.languages.is_empty()
        && !bot.detect_language
        && bot.messages.is_empty()
        && bot.threshold.is_none()
        && bot.out_of_scope.is_empty()
        && bot.context.is_empty()
        && bot.hidden.is_empty()
        && bot.readonly.is_empty()
        && bot.inactivity.is_none()
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
            Trigger::Timeout => "timeout".to_owned(),
        };
        y.field(4, "on", &on);
    }
    if let Some(timeout) = &flow.timeout {
        y.field(4, "timeout", &yaml_duration(&timeout.value));
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
            lines.field(I, "answer", &yaml_string(&answer.text[0].first));
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
        CellKind::Track(track) => match &track.properties {
            None => lines.field(I, "track", &yaml_string(&track.event.value)),
            Some(properties) => {
                lines.line(I, "track:");
                lines.field(I + 2, "event", &yaml_string(&track.event.value));
                lines.field(I + 2, "properties", &yaml_json(&properties.value));
            }
        },
        CellKind::Handoff(handoff) => {
            lines.line(I, "handoff:");
            lines.field(I + 2, "queue", &yaml_string(&handoff.queue.value));
            if let Some(r) = &handoff.reason {
                lines.field(I + 2, "reason", &yaml_string(&r.value));
            }
            if let Some(m) = &handoff.message {
                lines.field(I + 2, "message", &yaml_localized(m));
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
                lines.field(I + 2, "message", &yaml_localized(m));
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
    if let Some(ms) = &answer.delay {
        y.field(i, "delay", &ms.value.to_string());
    }
    if let Some(ms) = &answer.typing {
        y.field(i, "typing", &ms.value.to_string());
    }
    match answer.text.as_slice() {
        [] => {}
        [one] => y.field(i, "text", &yaml_localized(one)),
        many => y.localized_list(i, "text", many),
    }
    if let Some(p) = &answer.pick {
        y.field(i, "pick", p.value.as_str());
    }
    let buttons = |y: &mut YamlOut, buttons: &[Button], i: usize| {
        y.line(i, "buttons:");
        for b in buttons {
            y.field(i + 2, "- label", &yaml_localized(&b.label));
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
                // A map here would read as the reply's fields.
                None if r.label.languages.is_empty() => {
                    y.line(i + 2, &format!("- {}", yaml_localized(&r.label)));
                }
                None => y.field(i + 2, "- label", &yaml_localized(&r.label)),
                Some(v) => {
                    y.field(i + 2, "- label", &yaml_localized(&r.label));
                    y.field(i + 4, "value", &yaml_string(&v.value));
                }
            }
        }
    }
    if !answer.cards.is_empty() {
        y.line(i, "cards:");
        for card in &answer.cards {
            y.field(i + 2, "- title", &yaml_localized(&card.title));
            if let Some(s) = &card.subtitle {
                y.field(i + 4, "subtitle", &yaml_localized(s));
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
    if let Some(scope) = &answer.quick_replies_scope {
        y.field(i, "quick_replies_scope", scope.value.as_str());
    }
    if let Some(location) = &answer.location {
        y.line(i, "location:");
        for (field, value) in [("lat", &location.lat), ("lng", &location.lng)] {
            let written = if super::plain_number(&value.value) {
                value.value.clone()
            } else {
                yaml_string(&value.value)
            };
            y.field(i + 2, field, &written);
        }
        for (field, value) in [("name", &location.name), ("address", &location.address)] {
            if let Some(v) = value {
                y.field(i + 2, field, &yaml_localized(v));
            }
        }
    }
    if let Some(link) = &answer.link {
        y.line(i, "link:");
        y.field(i + 2, "url", &yaml_string(&link.url.value));
        for (field, value) in [("title", &link.title), ("description", &link.description)] {
            if let Some(v) = value {
                y.field(i + 2, field, &yaml_localized(v));
            }
        }
        if let Some(image) = &link.image {
            y.field(i + 2, "image", &yaml_string(&image.value));
        }
    }
    if let Some(voice) = &answer.voice {
        y.field(i, "voice", &yaml_localized(voice));
    }
    if answer.mask {
        y.field(i, "mask", "true");
    }
}

fn yaml_input(y: &mut YamlOut, input: &Input, i: usize) {
    y.field(i, "var", &yaml_string(&input.var.value));
    if let Some(ty) = &input.ty {
        y.field(i, "type", &yaml_string(&ty.value));
    }
    if let Some(p) = &input.prompt {
        y.field(i, "prompt", &yaml_localized(p));
    }
    if !input.options.is_empty() {
        y.localized_list(i, "options", &input.options);
    }
    if let Some(e) = &input.entity {
        y.field(i, "entity", &yaml_string(&e.value));
    }
    if let Some(p) = &input.pattern {
        y.field(i, "pattern", &yaml_string(&p.value));
    }
    for (field, limit) in [("min", &input.min), ("max", &input.max)] {
        match limit.as_ref().map(|l| &l.value) {
            Some(Limit::Number(n)) => y.field(i, field, &number(*n)),
            // Quoted, so that no date ever reads back as a number.
            Some(Limit::Date(d)) => {
                y.field(i, field, &serde_json::Value::String(d.clone()).to_string());
            }
            None => {}
        }
    }
    if let Some(v) = &input.invalid {
        y.field(i, "invalid", &yaml_localized(v));
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
    if !input.types.is_empty() {
        y.strings(i, "types", &input.types);
    }
    if let Some(n) = &input.max_size {
        y.field(i, "max_size", &n.value.to_string());
    }
}
