//! The canonical DSL layout.

use std::fmt::Write as _;

use crate::ast::{
    Answer, Body, Button, Cell, CellKind, EntityKind, Flow, Input, Limit, Localized, Module,
    Script, Settings, Trigger,
};

use super::{comments, number, top_comments_as_header};

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

/// Text the user reads: the string, or `@es "…" @pt "…"`.
fn dsl_localized(text: &Localized) -> String {
    if text.languages.is_empty() {
        return dsl_string(&text.first);
    }
    let entries: Vec<String> = text
        .languages
        .iter()
        .map(|(language, t)| format!("@{} {}", language.value, dsl_string(&t.value)))
        .collect();
    entries.join(" ")
}

fn dsl_localized_list(items: &[Localized], indent: usize) -> String {
    dsl_list(&items.iter().map(dsl_localized).collect::<Vec<_>>(), indent)
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
        if !intent.examples_by_language.is_empty() {
            for (language, list) in &intent.examples_by_language {
                let _ = writeln!(
                    out,
                    "  examples @{} {}",
                    language.value,
                    dsl_strings(list, 2)
                );
            }
        }
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
                    for (language, list) in &value.synonyms_by_language {
                        let _ = write!(out, " @{} {}", language.value, dsl_strings(list, 2));
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

fn dsl_settings(bot: &Settings) -> String {
    let mut out = String::from("bot {\n");
    if let Some(name) = &bot.name {
        let _ = writeln!(out, "  name {}", dsl_string(&name.value));
    }
    if let Some(locale) = &bot.locale {
        let _ = writeln!(out, "  locale {}", dsl_string(&locale.value));
    }
    if let Some(timezone) = &bot.timezone {
        let _ = writeln!(out, "  timezone {}", dsl_string(&timezone.value));
    }
    if !bot.languages.is_empty() {
        let names: Vec<String> = bot.languages.iter().map(|l| l.value.clone()).collect();
        let _ = writeln!(out, "  languages {}", dsl_list(&names, 2));
    }
    if bot.detect_language {
        out.push_str("  detect_language\n");
    }
    if !bot.messages.is_empty() {
        out.push_str("  messages {\n");
        for (key, text) in &bot.messages {
            let _ = writeln!(out, "    {} {}", key.value, dsl_localized(text));
        }
        out.push_str("  }\n");
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
    if let Some(inactivity) = &bot.inactivity {
        out.push_str("  inactivity {\n");
        let _ = writeln!(out, "    after {}", dsl_duration(&inactivity.after.value));
        if let Some(message) = &inactivity.message {
            let _ = writeln!(out, "    message {}", dsl_localized(message));
        }
        out.push_str("  }\n");
    }
    out.push('}');
    out
}

/// A duration: bare when the grammar reads it so (`5m`), else a string.
fn dsl_duration(text: &str) -> String {
    if super::bare_duration(text) {
        text.to_owned()
    } else {
        dsl_string(text)
    }
}

fn dsl_flow(flow: &Flow) -> String {
    let mut out = format!("flow {}", flow.name.value);
    if let Some(trigger) = &flow.trigger {
        let _ = match &trigger.value {
            Trigger::Welcome => write!(out, " on welcome"),
            Trigger::Fallback => write!(out, " on fallback"),
            Trigger::Intent(n) => write!(out, " on intent {}", n.value),
            Trigger::Entity(n) => write!(out, " on entity {}", n.value),
            Trigger::Timeout => write!(out, " on timeout"),
        };
    }
    if let Some(timeout) = &flow.timeout {
        let _ = write!(out, " timeout {}", dsl_duration(&timeout.value));
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
        CellKind::Track(track) => {
            let event = &track.event.value;
            if crate::ast::is_name(event) {
                let _ = write!(out, "track {event}");
            } else {
                let _ = write!(out, "track {}", dsl_string(event));
            }
            if let Some(properties) = &track.properties {
                let _ = write!(out, " {}", dsl_json(&properties.value));
            }
        }
        CellKind::Handoff(handoff) => {
            out.push_str("handoff {\n");
            let _ = writeln!(out, "    queue {}", dsl_string(&handoff.queue.value));
            if let Some(r) = &handoff.reason {
                let _ = writeln!(out, "    reason {}", dsl_string(&r.value));
            }
            if let Some(m) = &handoff.message {
                let _ = writeln!(out, "    message {}", dsl_localized(m));
            }
            out.push_str("  }");
        }
        CellKind::End(end) => {
            out.push_str("end");
            if let Some(m) = &end.message {
                let _ = write!(out, " {}", dsl_localized(m));
            }
        }
    }
    if let Some(next) = &cell.next {
        let _ = write!(out, " -> {next}");
    }
    out.push('\n');
}

fn dsl_button(button: &Button) -> String {
    let mut out = format!("button {}", dsl_localized(&button.label));
    if let Some(v) = &button.value {
        let _ = write!(out, " value {}", dsl_string(&v.value));
    }
    if let Some(u) = &button.url {
        let _ = write!(out, " url {}", dsl_string(&u.value));
    }
    out
}

fn dsl_answer(out: &mut String, answer: &Answer) {
    if answer.is_one_text() {
        let _ = write!(out, "answer {}", dsl_localized(&answer.text[0]));
        return;
    }
    out.push_str("answer {\n");
    if let Some(ms) = &answer.delay {
        let _ = writeln!(out, "    delay {}", ms.value);
    }
    if let Some(ms) = &answer.typing {
        let _ = writeln!(out, "    typing {}", ms.value);
    }
    for text in &answer.text {
        let _ = writeln!(out, "    text {}", dsl_localized(text));
    }
    if let Some(p) = &answer.pick {
        let _ = writeln!(out, "    pick {}", p.value.as_str());
    }
    for button in &answer.buttons {
        let _ = writeln!(out, "    {}", dsl_button(button));
    }
    for reply in &answer.quick_replies {
        let _ = write!(out, "    quick_reply {}", dsl_localized(&reply.label));
        if let Some(v) = &reply.value {
            let _ = write!(out, " value {}", dsl_string(&v.value));
        }
        out.push('\n');
    }
    for card in &answer.cards {
        let _ = write!(out, "    card {}", dsl_localized(&card.title));
        if card.subtitle.is_some() || card.image.is_some() || !card.buttons.is_empty() {
            out.push_str(" {\n");
            if let Some(s) = &card.subtitle {
                let _ = writeln!(out, "      subtitle {}", dsl_localized(s));
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
    if let Some(scope) = &answer.quick_replies_scope {
        let _ = writeln!(out, "    quick_replies_scope {}", scope.value.as_str());
    }
    if let Some(location) = &answer.location {
        let coordinate = |c: &str| {
            if super::plain_number(c) {
                c.to_owned()
            } else {
                dsl_string(c)
            }
        };
        let _ = write!(
            out,
            "    location {} {}",
            coordinate(&location.lat.value),
            coordinate(&location.lng.value)
        );
        if let Some(n) = &location.name {
            let _ = write!(out, " name {}", dsl_localized(n));
        }
        if let Some(a) = &location.address {
            let _ = write!(out, " address {}", dsl_localized(a));
        }
        out.push('\n');
    }
    if let Some(link) = &answer.link {
        let _ = write!(out, "    link {}", dsl_string(&link.url.value));
        for (field, value) in [("title", &link.title), ("description", &link.description)] {
            if let Some(v) = value {
                let _ = write!(out, " {field} {}", dsl_localized(v));
            }
        }
        if let Some(image) = &link.image {
            let _ = write!(out, " image {}", dsl_string(&image.value));
        }
        out.push('\n');
    }
    if let Some(voice) = &answer.voice {
        let _ = writeln!(out, "    voice {}", dsl_localized(voice));
    }
    if answer.mask {
        out.push_str("    mask\n");
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
        fields.push(format!("prompt {}", dsl_localized(p)));
    }
    if !input.options.is_empty() {
        fields.push(format!("options {}", dsl_localized_list(&input.options, 4)));
    }
    if let Some(e) = &input.entity {
        fields.push(format!("entity {}", e.value));
    }
    if let Some(p) = &input.pattern {
        fields.push(format!("pattern {}", dsl_string(&p.value)));
    }
    for (field, limit) in [("min", &input.min), ("max", &input.max)] {
        match limit.as_ref().map(|l| &l.value) {
            Some(Limit::Number(n)) => fields.push(format!("{field} {}", number(*n))),
            Some(Limit::Date(d)) if d == "today" => {
                fields.push(format!("{field} {d}"));
            }
            Some(Limit::Date(d)) => fields.push(format!("{field} {}", dsl_string(d))),
            None => {}
        }
    }
    if let Some(i) = &input.invalid {
        fields.push(format!("invalid {}", dsl_localized(i)));
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
    if !input.types.is_empty() {
        fields.push(format!("types {}", dsl_strings(&input.types, 4)));
    }
    if let Some(n) = &input.max_size {
        fields.push(format!("max_size {}", n.value));
    }
    if !fields.is_empty() {
        out.push_str(" {\n");
        for field in fields {
            let _ = writeln!(out, "    {field}");
        }
        out.push_str("  }");
    }
}
