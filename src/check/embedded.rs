//! Checks of the languages embedded in a bot — rhai, templates, regexes,
//! URLs — and of input configuration. Each error points at the exact place
//! inside the flow file, through YAML quoting and block scalars alike.
//!
//! The pass also records, per cell, the variables it reads and assigns: the
//! facts `dataflow` and `names` work from.

use std::ops::Range;

use crate::ast::{self, Body, CellKind, InputType, Localized, Script, Text};
use crate::diagnostic::{AnswerProblem, Diagnostic, InputProblem, Problem, suggest};
use crate::graph::CellId;
use crate::kinds::{MAX_PAUSE_MS, is_media_type};
use crate::source::{SourceMap, Span};
use crate::template;

use super::Context;
use super::prepared::Prepared;

/// A read of a session variable that needs it to be set.
#[derive(Clone, Debug)]
pub(crate) struct Use {
    pub name: String,
    pub span: Span,
}

/// What one cell reads and assigns.
#[derive(Clone, Debug, Default)]
pub(crate) struct CellFacts {
    pub uses: Vec<Use>,
    /// Assigned on every path through a `code` cell.
    pub assigns: Vec<String>,
    /// Per rule arm: the variable its condition proves set (`x != ()`).
    pub guards: Vec<Option<String>>,
    /// Variables a code cell may assign: where the values it reads may go
    /// (masking follows them).
    pub writes: Vec<String>,
}

/// Facts for every cell, indexed by [`CellId::index`], plus bot-wide sets.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub cells: Vec<CellFacts>,
    /// Every variable some cell may assign.
    pub assigned_anywhere: Vec<String>,
    /// Property names and `input.entities.X` template paths seen anywhere.
    pub properties: Vec<String>,
}

/// Maps a byte range of an AST string value back to the source file.
///
/// The value may differ from the file text (YAML quotes and escapes, block
/// scalar indentation, the normalisation of scripts), so this finds the
/// value's lines in the text in order; where that fails it falls back to the
/// whole span, which is never wrong, only wider.
#[must_use]
pub fn locate(sources: &SourceMap, span: Span, value: &str, range: Range<usize>) -> Span {
    let Some(region) = sources.snippet(span) else {
        return span;
    };
    let range =
        range.start.min(value.len())..range.end.min(value.len()).max(range.start.min(value.len()));
    if !value.is_empty()
        && let Some(pos) = region.find(value)
    {
        return span.slice(pos + range.start, pos + range.end);
    }
    let mut cursor = 0;
    let mut line_start = 0;
    for line in value.split('\n') {
        let line_end = line_start + line.len();
        if !line.trim().is_empty()
            && let Some(found) = region[cursor..].find(line)
        {
            let at = cursor + found;
            if range.start >= line_start && range.start <= line_end {
                let start = at + (range.start - line_start);
                let end = start + (range.end.min(line_end) - range.start);
                return span.slice(start, end.max(start));
            }
            cursor = at + line.len();
        }
        line_start = line_end + 1;
    }
    if let Some(piece) = value.get(range.clone())
        && !piece.is_empty()
        && let Some(pos) = region.find(piece)
    {
        return span.slice(pos, pos + piece.len());
    }
    span
}

/// The range of the word (or single character) at `offset`.
fn word_at(text: &str, offset: usize) -> Range<usize> {
    let rest = &text[offset.min(text.len())..];
    let len = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(rest.len(), |(i, _)| i)
        .max(rest.chars().next().map_or(0, char::len_utf8));
    offset..offset + len
}

struct Pass<'a> {
    ctx: &'a Context<'a>,
    engine: rhai::Engine,
    diagnostics: Vec<Diagnostic>,
    facts: Facts,
    prepared: Prepared,
}

/// Bots with more cells than this are checked on two threads: compiling
/// rhai dominates this pass and each cell is independent.
const PARALLEL_CELLS: usize = 4_000;
/// What validating an intent pattern costs, in cells checked: about 51,000
/// instructions against 7,800 (callgrind, the patterns benchmark's bot).
const PATTERN_COST: usize = 6;

pub(crate) fn run(ctx: &Context<'_>) -> (Vec<Diagnostic>, Facts, Prepared) {
    let graph = &ctx.lowered.graph;
    let cells: Vec<(CellId, usize, usize)> = graph
        .cells()
        .map(|(id, c)| (id, c.flow.index(), c.index as usize))
        .collect();
    let (first, second) = if cells.len() > PARALLEL_CELLS {
        // The first part also checks the intent patterns: it gets fewer
        // cells, so both threads finish together.
        let patterns: usize = ctx.bot.intents.iter().map(|i| i.patterns.len()).sum();
        let patterns = patterns.saturating_mul(PATTERN_COST);
        let first = (cells.len().saturating_add(patterns) / 2)
            .saturating_sub(patterns)
            .clamp(cells.len() / 8, cells.len() / 2);
        cells.split_at(first)
    } else {
        (&cells[..], &[][..])
    };
    let (mut pass, other) = std::thread::scope(|scope| {
        let other = (!second.is_empty()).then(|| scope.spawn(|| Pass::over(ctx, second, false)));
        let pass = Pass::over(ctx, first, true);
        (
            pass,
            other.map(|h| h.join().expect("the checker thread does not panic")),
        )
    });
    pass.facts
        .cells
        .resize(graph.node_count(), CellFacts::default());
    let mut cell_facts = std::mem::take(&mut pass.facts.cells);
    if let Some(other) = other {
        pass.diagnostics.extend(other.diagnostics);
        pass.prepared.merge(other.prepared);
        for (slot, facts) in cell_facts.iter_mut().zip(other.facts.cells) {
            if !facts.uses.is_empty()
                || !facts.assigns.is_empty()
                || !facts.guards.is_empty()
                || !facts.writes.is_empty()
            {
                *slot = facts;
            }
        }
        pass.facts
            .assigned_anywhere
            .extend(other.facts.assigned_anywhere);
        pass.facts.properties.extend(other.facts.properties);
    }
    pass.facts.cells = cell_facts;
    pass.facts.assigned_anywhere.sort();
    pass.facts.assigned_anywhere.dedup();
    (pass.diagnostics, pass.facts, pass.prepared)
}

impl<'a> Pass<'a> {
    /// Checks some cells (and, for the `first` part, the bot-wide texts and
    /// patterns).
    fn over(ctx: &'a Context<'a>, cells: &[(CellId, usize, usize)], first: bool) -> Pass<'a> {
        let mut pass = Pass {
            ctx,
            engine: crate::script::engine(),
            diagnostics: Vec::new(),
            facts: Facts {
                cells: vec![CellFacts::default(); ctx.lowered.graph.node_count()],
                ..Facts::default()
            },
            prepared: Prepared::default(),
        };
        if first {
            pass.intent_patterns();
            for entity in &ctx.bot.entities {
                if let ast::EntityKind::Pattern(pattern) = &entity.kind {
                    pass.regex(pattern);
                }
            }
            let mut ignored = Vec::new();
            if let Some(name) = &ctx.bot.settings.name {
                pass.text(name, &mut ignored);
            }
            if let Some(message) = ctx
                .bot
                .settings
                .inactivity
                .as_ref()
                .and_then(|i| i.message.as_ref())
            {
                pass.localized(message, &mut ignored);
            }
        }
        for &(id, flow, index) in cells {
            let cell = &ctx.bot.flows[flow].cells[index];
            let facts = pass.cell(cell);
            pass.facts.cells[id.index()] = facts;
        }
        pass
    }
}

impl Pass<'_> {
    fn report(&mut self, problem: Problem, span: Span) {
        self.diagnostics.push(Diagnostic::new(problem, span));
    }

    /// Validates an input's or entity's regex by compiling it as the
    /// runtime does, size limit included. Bots repeat patterns; each
    /// distinct one is compiled once.
    fn regex(&mut self, pattern: &ast::Spanned<String>) {
        if self.prepared.has_regex(&pattern.value) {
            return;
        }
        match crate::pattern::build(&pattern.value, false) {
            Ok(regex) => self.prepared.add_regex(&pattern.value, regex),
            Err(e) => self.pattern_error(e, pattern.span),
        }
    }

    /// Validates the intents' patterns as the classifier compiles them:
    /// each on its own, case-insensitively, under the same limit as any
    /// other pattern (the classifier never compiles them together).
    /// What each pattern parses to is kept for compiling, when all are valid.
    fn intent_patterns(&mut self) {
        let mut seen: rustc_hash::FxHashMap<&str, Option<usize>> = rustc_hash::FxHashMap::default();
        let validator = crate::pattern::IntentValidator::default();
        let mut parsed = Vec::new();
        let mut valid = true;
        for intent in &self.ctx.bot.intents {
            for pattern in &intent.patterns {
                if let Some(&earlier) = seen.get(pattern.value.as_str()) {
                    if let Some(earlier) = earlier {
                        let hir = parsed.get(earlier).cloned();
                        parsed.extend(hir);
                    }
                    continue;
                }
                match validator.check(&pattern.value) {
                    Ok(hir) => {
                        seen.insert(&pattern.value, Some(parsed.len()));
                        parsed.push(hir);
                    }
                    Err(e) => {
                        seen.insert(&pattern.value, None);
                        valid = false;
                        self.pattern_error(e, pattern.span);
                    }
                }
            }
        }
        if valid {
            self.prepared.set_intent_patterns(parsed);
        }
    }

    fn pattern_error(&mut self, error: crate::pattern::PatternError, span: Span) {
        let problem = match error {
            crate::pattern::PatternError::Syntax(message) => Problem::InvalidRegex { message },
            crate::pattern::PatternError::TooBig { limit } => Problem::RegexTooBig { limit },
        };
        self.report(problem, span);
    }

    /// Parses a template, reporting errors and recording the variables it needs.
    /// A text seen before is not parsed again; every template parsed is
    /// kept for compiling.
    fn text(&mut self, text: &Text, uses: &mut Vec<Use>) -> Option<template::Template> {
        self.text_at(&text.value, text.span, uses)
    }

    /// Every language's text of a text the user reads.
    fn localized(&mut self, text: &Localized, uses: &mut Vec<Use>) {
        for (_, value, span) in text.each() {
            self.text_at(value, span, uses);
        }
    }

    fn opt_localized(&mut self, text: Option<&Localized>, uses: &mut Vec<Use>) {
        if let Some(text) = text {
            self.localized(text, uses);
        }
    }

    fn text_at(
        &mut self,
        value: &str,
        text_span: Span,
        uses: &mut Vec<Use>,
    ) -> Option<template::Template> {
        let parsed = match self.prepared.template(value) {
            Some(known) => Ok(known),
            None => template::parse(value).inspect(|parsed| {
                self.prepared.add_template(value, parsed.clone());
            }),
        };
        match parsed {
            Ok(parsed) => {
                for var in parsed.vars() {
                    if let [
                        template::Segment::Field(a),
                        template::Segment::Field(b),
                        template::Segment::Field(entity),
                        ..,
                    ] = var.path.as_slice()
                        && a == "input"
                        && b == "entities"
                    {
                        self.facts.properties.push(entity.clone());
                    }
                    if var.default.is_none() {
                        let span = locate(self.ctx.sources, text_span, value, var.range.clone());
                        uses.push(Use {
                            name: var.root().to_owned(),
                            span,
                        });
                    }
                }
                Some(parsed)
            }
            Err(e) => {
                let span = locate(self.ctx.sources, text_span, value, e.range);
                self.report(Problem::InvalidTemplate { reason: e.reason }, span);
                None
            }
        }
    }

    fn opt_text(&mut self, text: Option<&Text>, uses: &mut Vec<Use>) {
        if let Some(text) = text {
            self.text(text, uses);
        }
    }

    /// Compiles a script or expression; records its reads and assignments.
    /// Returns the variable an expression guards (`x != ()`), if any.
    fn script(
        &mut self,
        script: &Script,
        expression: bool,
        facts: &mut CellFacts,
    ) -> Option<String> {
        let source = &script.source;
        let compiled = match self.prepared.script(&source.value, expression) {
            Some(known) => Ok(known),
            None => if expression {
                self.engine.compile_expression(&source.value)
            } else {
                self.engine.compile(&source.value)
            }
            .map(|ast| self.prepared.add_script(&source.value, expression, ast)),
        };
        match compiled {
            Ok(ast) => {
                let effects = crate::script::effects(&ast);
                let guard = if expression {
                    crate::script::guarded_var(&ast)
                } else {
                    None
                };
                for read in effects.reads {
                    if guard.as_deref() == Some(read.name.as_str()) {
                        continue;
                    }
                    let offset = crate::source::offset_of(&source.value, read.line, read.column);
                    let span = locate(
                        self.ctx.sources,
                        source.span,
                        &source.value,
                        offset..offset + read.name.len(),
                    );
                    facts.uses.push(Use {
                        name: read.name,
                        span,
                    });
                }
                facts.assigns.extend(effects.assigns);
                if !expression {
                    facts.writes.extend(effects.may_assign.iter().cloned());
                }
                self.facts.assigned_anywhere.extend(effects.may_assign);
                self.facts.properties.extend(effects.properties);
                guard
            }
            Err(error) => {
                let message = error.err_type().to_string();
                let position = error.position();
                let span = match (position.line(), position.position()) {
                    (Some(line), column) => {
                        let offset =
                            crate::source::offset_of(&source.value, line, column.unwrap_or(1));
                        locate(
                            self.ctx.sources,
                            source.span,
                            &source.value,
                            word_at(&source.value, offset),
                        )
                    }
                    _ => source.span,
                };
                self.report(Problem::ScriptSyntax { message }, span);
                None
            }
        }
    }

    fn cell(&mut self, cell: &ast::Cell) -> CellFacts {
        let mut facts = CellFacts::default();
        let mut uses = Vec::new();
        match &cell.kind {
            CellKind::Answer(answer) => {
                for text in &answer.text {
                    self.localized(text, &mut uses);
                }
                for button in answer
                    .buttons
                    .iter()
                    .chain(answer.cards.iter().flat_map(|c| &c.buttons))
                {
                    self.localized(&button.label, &mut uses);
                    self.opt_text(button.value.as_ref(), &mut uses);
                    self.opt_text(button.url.as_ref(), &mut uses);
                }
                for reply in &answer.quick_replies {
                    self.localized(&reply.label, &mut uses);
                    self.opt_text(reply.value.as_ref(), &mut uses);
                }
                for card in &answer.cards {
                    self.localized(&card.title, &mut uses);
                    self.opt_localized(card.subtitle.as_ref(), &mut uses);
                    self.opt_text(card.image.as_ref(), &mut uses);
                }
                if let Some(media) = &answer.media {
                    self.text(&media.url, &mut uses);
                    self.opt_text(media.name.as_ref(), &mut uses);
                }
                if let Some(location) = &answer.location {
                    for text in [&location.lat, &location.lng] {
                        self.text(text, &mut uses);
                    }
                    self.opt_localized(location.name.as_ref(), &mut uses);
                    self.opt_localized(location.address.as_ref(), &mut uses);
                }
                if let Some(link) = &answer.link {
                    self.text(&link.url, &mut uses);
                    self.opt_localized(link.title.as_ref(), &mut uses);
                    self.opt_localized(link.description.as_ref(), &mut uses);
                    self.opt_text(link.image.as_ref(), &mut uses);
                }
                self.opt_localized(answer.voice.as_ref(), &mut uses);
                self.answer(answer);
            }
            CellKind::Input(input) => {
                self.opt_localized(input.prompt.as_ref(), &mut uses);
                self.opt_localized(input.invalid.as_ref(), &mut uses);
                for option in &input.options {
                    self.localized(option, &mut uses);
                }
                self.input(cell, input);
                self.facts.assigned_anywhere.push(input.var.value.clone());
            }
            CellKind::Rule(rule) => {
                for arm in &rule.arms {
                    let guard = self.script(&arm.when, true, &mut facts);
                    facts.guards.push(guard);
                }
            }
            CellKind::Code(script) => {
                self.script(script, false, &mut facts);
            }
            CellKind::Jump(_) | CellKind::Intent(_) => {}
            CellKind::Service(service) => {
                if let Some(parsed) = self.text(&service.url, &mut uses) {
                    // A bad reference was reported: the URL is not checked
                    // with it standing as text.
                    if let Some(pieces) = self.env_vars(&service.url, &parsed) {
                        self.url(&service.url, &pieces);
                    }
                }
                for (_, value) in &service.headers {
                    if let Some(parsed) = self.text(value, &mut uses) {
                        self.env_vars(value, &parsed);
                    }
                }
                match &service.body {
                    Some(Body::Template(text)) => {
                        self.text(text, &mut uses);
                    }
                    Some(Body::Json(json)) => {
                        self.json_templates(&json.value, json.span, &mut uses);
                    }
                    None => {}
                }
                self.facts.assigned_anywhere.extend(
                    service
                        .save
                        .iter()
                        .chain(&service.status)
                        .map(|n| n.value.clone()),
                );
            }
            CellKind::Track(track) => {
                let name = &track.event.value;
                if !crate::kinds::is_event_name(name) {
                    self.report(
                        Problem::InvalidEvent {
                            name: name.clone(),
                            reserved: false,
                        },
                        track.event.span,
                    );
                } else if crate::kinds::AUTOMATIC_EVENTS.contains(&name.as_str()) {
                    self.report(
                        Problem::InvalidEvent {
                            name: name.clone(),
                            reserved: true,
                        },
                        track.event.span,
                    );
                }
                if let Some(properties) = &track.properties {
                    self.json_templates(&properties.value, properties.span, &mut uses);
                }
            }
            CellKind::Handoff(handoff) => {
                self.text(&handoff.queue, &mut uses);
                self.opt_text(handoff.reason.as_ref(), &mut uses);
                self.opt_localized(handoff.message.as_ref(), &mut uses);
            }
            CellKind::End(end) => self.opt_localized(end.message.as_ref(), &mut uses),
        }
        // Templates are read before a script runs only in cells without one,
        // so the order of `uses` does not matter.
        facts.uses.extend(uses);
        facts
    }

    fn json_templates(&mut self, value: &serde_json::Value, span: Span, uses: &mut Vec<Use>) {
        match value {
            serde_json::Value::String(s) => {
                let text = ast::Spanned::new(s.clone(), span);
                self.text(&text, uses);
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    self.json_templates(item, span, uses);
                }
            }
            serde_json::Value::Object(map) => {
                for item in map.values() {
                    self.json_templates(item, span, uses);
                }
            }
            _ => {}
        }
    }

    /// Splits a service URL or header value at its `${NAME}` references;
    /// `None`, after reporting them, if some `${` names no variable.
    fn env_vars(
        &mut self,
        text: &Text,
        parsed: &template::Template,
    ) -> Option<Vec<template::EnvPiece>> {
        let (pieces, errors) = template::env_pieces(parsed);
        let valid = errors.is_empty();
        for error in errors {
            let span = locate(self.ctx.sources, text.span, &text.value, error.range);
            self.report(
                Problem::InvalidEnvVar {
                    reason: error.reason,
                },
                span,
            );
        }
        valid.then_some(pieces)
    }

    fn url(&mut self, text: &Text, pieces: &[template::EnvPiece]) {
        // Placeholders and environment variables become a neutral value;
        // one at the very start stands for a whole base URL from
        // configuration.
        let mut rendered = String::new();
        let parts = pieces.iter().flat_map(|piece| match piece {
            template::EnvPiece::Template(t) => t.parts.iter().map(Some).collect(),
            template::EnvPiece::Env(_) => vec![None],
        });
        for (i, part) in parts.enumerate() {
            match part {
                Some(template::Part::Text(t)) => rendered.push_str(t),
                Some(template::Part::Var(_)) | None if i == 0 => {
                    rendered.push_str("http://placeholder.invalid");
                }
                Some(template::Part::Var(_)) | None => rendered.push('x'),
            }
        }
        let reason = match url::Url::parse(rendered.trim()) {
            Ok(url) if url.scheme() != "http" && url.scheme() != "https" => Some(format!(
                "the scheme `{}` is not http or https",
                url.scheme()
            )),
            Ok(url) if url.host_str().is_none_or(str::is_empty) => {
                Some("the URL has no host".to_owned())
            }
            Ok(_) if rendered.contains(char::is_whitespace) => {
                Some("a URL cannot contain spaces".to_owned())
            }
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = reason {
            self.report(Problem::InvalidUrl { reason }, text.span);
        }
    }

    fn answer(&mut self, answer: &ast::Answer) {
        let problem = |this: &mut Self, problem: AnswerProblem, span: Span| {
            this.report(Problem::InvalidAnswer { problem }, span);
        };
        if let [(first, _), (second, span), ..] = answer.contents().as_slice() {
            // A JSON value may span lines; its first line points at it.
            let span = span.first_line(self.ctx.sources);
            problem(self, AnswerProblem::MixedContent { first, second }, span);
        }
        for (field, pause) in [("typing", &answer.typing), ("delay", &answer.delay)] {
            if let Some(ms) = pause
                && ms.value > MAX_PAUSE_MS
            {
                problem(
                    self,
                    AnswerProblem::TooLong {
                        field,
                        limit_ms: MAX_PAUSE_MS,
                    },
                    ms.span,
                );
            }
        }
        if let Some(location) = &answer.location {
            for (field, value, limit) in
                [("lat", &location.lat, 90.0), ("lng", &location.lng, 180.0)]
            {
                // A template is read when the answer is sent.
                if value.value.contains("{{") {
                    continue;
                }
                let fits = value
                    .value
                    .trim()
                    .parse::<f64>()
                    .is_ok_and(|n| n.is_finite() && n.abs() <= limit);
                if !fits {
                    problem(
                        self,
                        AnswerProblem::BadCoordinate {
                            field,
                            found: value.value.clone(),
                        },
                        value.span,
                    );
                }
            }
        }
        if let Some(scope) = &answer.quick_replies_scope
            && answer.quick_replies.is_empty()
        {
            problem(self, AnswerProblem::ScopeWithoutQuickReplies, scope.span);
        }
        if let Some(voice) = &answer.voice {
            for (_, text, span) in voice.each() {
                let text = text.trim();
                if text.starts_with("<speak") && !text.ends_with("</speak>") {
                    problem(self, AnswerProblem::UnclosedSsml, span);
                }
            }
        }
    }

    fn input(&mut self, cell: &ast::Cell, input: &ast::Input) {
        let problem = |this: &mut Self, problem: InputProblem, span: Span| {
            this.report(Problem::InvalidInput { problem }, span);
        };
        let Some(ty) = input.effective_type() else {
            let written = input
                .ty
                .as_ref()
                .map_or_else(String::new, |t| t.value.clone());
            let suggestion = suggest(&written, InputType::ALL.iter().map(|(n, _)| *n));
            let span = input.ty.as_ref().map_or(cell.span, |t| t.span);
            problem(
                self,
                InputProblem::UnknownType {
                    found: written,
                    suggestion,
                },
                span,
            );
            return;
        };
        let type_span = input.ty.as_ref().map_or(input.var.span, |t| t.span);
        let ty_name = ty.as_str();
        match ty {
            InputType::Options => {
                if input.options.is_empty() && input.entity.is_none() {
                    problem(self, InputProblem::NoOptions, type_span);
                }
                if !input.options.is_empty()
                    && let Some(entity) = &input.entity
                {
                    problem(self, InputProblem::OptionsAndEntity, entity.span);
                }
                for option in &input.options {
                    for (_, text, span) in option.each() {
                        if text.trim().is_empty() {
                            problem(self, InputProblem::EmptyOption, span);
                        }
                    }
                }
            }
            InputType::Pattern => match &input.pattern {
                Some(pattern) => self.regex(pattern),
                None => problem(self, InputProblem::NoPattern, type_span),
            },
            _ => {}
        }
        if ty != InputType::Options {
            if let Some(first) = input.options.first() {
                problem(
                    self,
                    InputProblem::FieldNotForType {
                        field: "options",
                        ty: ty_name,
                    },
                    first.span,
                );
            }
            if let Some(entity) = &input.entity {
                problem(
                    self,
                    InputProblem::FieldNotForType {
                        field: "entity",
                        ty: ty_name,
                    },
                    entity.span,
                );
            }
        }
        if ty != InputType::Pattern
            && let Some(pattern) = &input.pattern
        {
            problem(
                self,
                InputProblem::FieldNotForType {
                    field: "pattern",
                    ty: ty_name,
                },
                pattern.span,
            );
        }
        let takes_bounds = matches!(
            ty,
            InputType::Number | InputType::Integer | InputType::Text | InputType::Pattern
        );
        let mut dates = [None, None];
        for (slot, (field, bound)) in [("min", &input.min), ("max", &input.max)]
            .into_iter()
            .enumerate()
        {
            let Some(bound) = bound else { continue };
            match &bound.value {
                _ if !takes_bounds && !ty.takes_dates() => problem(
                    self,
                    InputProblem::FieldNotForType { field, ty: ty_name },
                    bound.span,
                ),
                ast::Limit::Date(text) if ty.takes_dates() => {
                    match crate::when::Bound::parse(text) {
                        Some(parsed) => dates[slot] = Some(parsed),
                        None => problem(
                            self,
                            InputProblem::BadLimit {
                                found: text.clone(),
                                dates: true,
                            },
                            bound.span,
                        ),
                    }
                }
                ast::Limit::Number(n) if ty.takes_dates() => problem(
                    self,
                    InputProblem::BadLimit {
                        found: n.to_string(),
                        dates: true,
                    },
                    bound.span,
                ),
                ast::Limit::Date(text) => problem(
                    self,
                    InputProblem::BadLimit {
                        found: text.clone(),
                        dates: false,
                    },
                    bound.span,
                ),
                ast::Limit::Number(_) => {}
            }
        }
        let above = match (&input.min, &input.max, dates) {
            (Some(min), Some(max), _) if takes_bounds => min
                .value
                .number()
                .zip(max.value.number())
                .is_some_and(|(a, b)| a > b),
            (_, _, [Some(low), Some(high)]) => match (low, high) {
                (crate::when::Bound::On(a), crate::when::Bound::On(b)) => a > b,
                (crate::when::Bound::FromToday(a), crate::when::Bound::FromToday(b)) => a > b,
                _ => false,
            },
            _ => false,
        };
        if above && let (Some(min), Some(max)) = (&input.min, &input.max) {
            problem(self, InputProblem::MinAboveMax, min.span.to(max.span));
        }
        if ty.is_upload() {
            for media_type in &input.types {
                let found = media_type.value.clone();
                if !is_media_type(&media_type.value) {
                    problem(self, InputProblem::BadMediaType { found }, media_type.span);
                } else if ty == InputType::Image && !found.starts_with("image/") {
                    problem(
                        self,
                        InputProblem::NotAnImageType { found },
                        media_type.span,
                    );
                }
            }
            if let Some(size) = &input.max_size
                && size.value == 0
            {
                problem(self, InputProblem::MaxSizeZero, size.span);
            }
        } else {
            if let Some(first) = input.types.first() {
                problem(
                    self,
                    InputProblem::FieldNotForType {
                        field: "types",
                        ty: ty_name,
                    },
                    first.span,
                );
            }
            if let Some(size) = &input.max_size {
                problem(
                    self,
                    InputProblem::FieldNotForType {
                        field: "max_size",
                        ty: ty_name,
                    },
                    size.span,
                );
            }
        }
    }
}
