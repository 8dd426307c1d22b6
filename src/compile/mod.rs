//! Compilation: a checked bot to the immutable program the runtime executes.
//!
//! Everything a turn needs is prepared here, once: successors resolved to
//! cell indexes, templates parsed, rhai scripts and conditions compiled,
//! regexes built (each distinct pattern once), option lists normalised, the
//! NLU index built. What the checker already compiled (scripts, templates,
//! patterns) it hands over in [`Prepared`], and compiling takes it instead
//! of doing it again. The result is `Send + Sync` and shared by every
//! session; a turn never parses a script, a template or a regex.
//!
//! The runtime sees only this layer's types, never the syntax or the
//! checker. Loading ([`load`]) lives here too: a directory or file is read,
//! checked and compiled; a compiled artifact (`cellflow compile`) stores the
//! merged AST with a format version, and loading it lowers and compiles
//! again but skips parsing and checking.

mod artifact;
mod index;
mod load;
mod program;

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use crate::ast::{self, CellKind};
use crate::check::Prepared;
use crate::classifier::Model;
use crate::graph::Edge;
use crate::kinds::{AnswerType, InputType, Method, Pick};
use crate::lower::Lowered;
use crate::template::{self, Template};

pub use artifact::{
    ARTIFACT_MAGIC, ARTIFACT_VERSION, Artifact, ArtifactError, read_artifact, write_artifact,
};
pub use index::{CellIndex, EntityIndex, FlowIndex, IntentIndex};
pub use load::{LoadError, load, load_artifact, load_ast, load_project};
pub use program::{
    Answer, Body, Branch, Button, Card, Cell, Choice, Entity, EntityValue, Flow, Goto, Input,
    Intent, Kind, LanguageNlu, Link, Location, Media, NluIndex, Phrase, Program, Script, Service,
    ServicePiece, ServiceText, kind_name,
};

/// Why a checked bot could not be compiled (an invariant the checker should
/// have guaranteed, or a regex too big to build).
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("the regular expression `{pattern}` cannot be built: {reason}")]
    Regex { pattern: String, reason: String },
    #[error("a script no longer compiles: {0}")]
    Script(String),
    #[error("a template no longer parses: {0}")]
    Template(String),
    #[error("the artifact's classifier model cannot be used: {0}")]
    Model(String),
}

struct Compiler {
    prepared: Prepared,
    /// For scripts the checker did not compile (a bot from an artifact):
    /// made on first need.
    engine: std::cell::OnceCell<rhai::Engine>,
    regexes: HashMap<String, Regex>,
    /// Per code cell: the variables it reads, and those it may assign
    /// from them (masking follows values along these).
    transfers: Vec<(Vec<String>, Vec<String>)>,
    /// The bot's languages, the default first.
    languages: Vec<String>,
    /// The environment variables services name, in the order first met.
    env: Vec<String>,
}

/// Which text a language reads: its own, else the default language's, else
/// the first written.
fn text_for<'t>(text: &'t ast::Localized, language: &str, default: &str) -> &'t str {
    text.get(language)
        .or_else(|| text.get(default))
        .map_or(text.first.as_str(), |t| t.value.as_str())
}

/// The built-in messages in each language: the bot's wording in that
/// language, else cellflow's, else the bot's in its default language,
/// else cellflow's English.
fn builtin_messages(settings: &ast::Settings, languages: &[String]) -> Vec<[arcstr::ArcStr; 4]> {
    use crate::language::Builtin;
    let default = languages.first().map_or("en", String::as_str);
    languages
        .iter()
        .map(|language| {
            Builtin::ALL.map(|message| {
                let worded = settings
                    .messages
                    .iter()
                    .find(|(key, _)| key.value == message.key())
                    .map(|(_, text)| text);
                let own = worded.and_then(|t| {
                    if t.languages.is_empty() {
                        (language == default).then_some(t.first.as_str())
                    } else {
                        t.get(language).map(|t| t.value.as_str())
                    }
                });
                let text = own
                    .or_else(|| message.shipped(language))
                    .or_else(|| worded.map(|t| text_for(t, default, default)))
                    .or_else(|| message.shipped("en"))
                    .unwrap_or_default();
                arcstr::ArcStr::from(text)
            })
        })
        .collect()
}

impl Compiler {
    /// An input's or entity's pattern, case-sensitive as written.
    fn regex(&mut self, pattern: &str) -> Result<Regex, CompileError> {
        if let Some(r) = self.prepared.regex(pattern) {
            return Ok(r);
        }
        if let Some(r) = self.regexes.get(pattern) {
            return Ok(r.clone());
        }
        let built = crate::pattern::build(pattern, false).map_err(|e| CompileError::Regex {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })?;
        self.regexes.insert(pattern.to_owned(), built.clone());
        Ok(built)
    }

    fn script(&mut self, source: &str, expression: bool) -> Result<Script, CompileError> {
        let ast = match self.prepared.script(source, expression) {
            Some(ast) => ast,
            None => {
                let engine = self.engine.get_or_init(crate::script::engine);
                let compiled = if expression {
                    engine.compile_expression(source)
                } else {
                    engine.compile(source)
                };
                Arc::new(compiled.map_err(|e| CompileError::Script(e.to_string()))?)
            }
        };
        let effects = crate::script::effects(&ast);
        if !expression {
            self.transfers.push((
                effects.reads.iter().map(|r| r.name.clone()).collect(),
                effects.may_assign.clone(),
            ));
        }
        let mut builtins = Vec::new();
        let mut vars = effects.may_assign;
        for read in effects.reads {
            match crate::script::BUILTINS.iter().find(|b| **b == read.name) {
                Some(builtin) => builtins.push(*builtin),
                None => vars.push(read.name),
            }
        }
        vars.sort();
        vars.dedup();
        Ok(Script {
            ast,
            vars,
            builtins,
        })
    }

    fn text(&self, t: &ast::Text) -> Result<Template, CompileError> {
        self.template(&t.value)
    }

    fn template(&self, text: &str) -> Result<Template, CompileError> {
        match self.prepared.template(text) {
            Some(parsed) => Ok(parsed),
            None => template::parse(text).map_err(|e| CompileError::Template(e.reason)),
        }
    }

    /// A text the user reads, ready in each language.
    fn phrase(&self, text: &ast::Localized) -> Result<Phrase, CompileError> {
        if text.languages.is_empty() {
            return Ok(Phrase::one(self.template(&text.first)?));
        }
        let default = self.languages.first().map_or("", String::as_str);
        let mut templates = self
            .languages
            .iter()
            .map(|language| self.template(text_for(text, language, default)))
            .collect::<Result<Vec<_>, _>>()?;
        let first = templates.remove(0);
        Ok(Phrase::by_language(first, templates))
    }

    fn opt_phrase(&self, text: Option<&ast::Localized>) -> Result<Option<Phrase>, CompileError> {
        text.map(|t| self.phrase(t)).transpose()
    }

    /// An option: stored as its default-language text, shown and matched
    /// in every language.
    fn choice(&self, option: &ast::Localized) -> Choice {
        let default = self.languages.first().map_or("", String::as_str);
        let value = arcstr::ArcStr::from(text_for(option, default, default));
        let shown: Vec<arcstr::ArcStr> = self
            .languages
            .iter()
            .map(|language| arcstr::ArcStr::from(text_for(option, language, default)))
            .collect();
        let mut normalized: Vec<String> = option
            .each()
            .map(|(_, text, _)| crate::text::normalize(text))
            .collect();
        normalized.dedup();
        Choice {
            value,
            shown: shown.into_boxed_slice(),
            normalized,
        }
    }

    /// A service URL or header value, split at its `${NAME}` references
    /// (a `${` that names no variable, which the checker reports, stays
    /// text).
    fn service_text(&mut self, t: &ast::Text) -> Result<ServiceText, CompileError> {
        let (pieces, _) = template::env_pieces(&self.text(t)?);
        let pieces = pieces
            .into_iter()
            .map(|piece| match piece {
                template::EnvPiece::Template(t) => ServicePiece::Template(t),
                template::EnvPiece::Env(name) => {
                    let at = match self.env.iter().position(|n| *n == name) {
                        Some(at) => at,
                        None => {
                            self.env.push(name);
                            self.env.len() - 1
                        }
                    };
                    ServicePiece::Env(u32::try_from(at).unwrap_or(u32::MAX))
                }
            })
            .collect();
        Ok(ServiceText { pieces })
    }

    fn opt_text(&self, t: Option<&ast::Text>) -> Result<Option<Template>, CompileError> {
        t.map(|t| self.text(t)).transpose()
    }

    fn button(&self, b: &ast::Button) -> Result<Button, CompileError> {
        Ok(Button {
            label: self.phrase(&b.label)?,
            value: self.opt_text(b.value.as_ref())?,
            url: self.opt_text(b.url.as_ref())?,
        })
    }
}

/// Compiles a checked bot (it must have no errors), taking what the
/// checker prepared (an empty [`Prepared`] for a bot that was not checked
/// here: everything is then compiled from the source).
///
/// # Errors
/// Only if an invariant the checker guarantees is broken, or a regex exceeds
/// the size limit when built.
pub fn compile(
    bot: &ast::Bot,
    lowered: &Lowered,
    prepared: Prepared,
) -> Result<Program, CompileError> {
    compile_with_model(bot, lowered, prepared, None)
}

/// [`compile`], with the classifier model an artifact brought instead of
/// training one.
///
/// # Errors
/// As [`compile`]; also a model that does not fit the bot.
pub fn compile_with_model(
    bot: &ast::Bot,
    lowered: &Lowered,
    prepared: Prepared,
    model: Option<Model>,
) -> Result<Program, CompileError> {
    compile_with_models(bot, lowered, prepared, model, Vec::new())
}

/// [`compile_with_model`], with the models of the bot's other languages
/// too (for intents with examples per language; an artifact stores them).
/// A language whose model is not given is trained.
///
/// # Errors
/// As [`compile_with_model`].
pub fn compile_with_models(
    bot: &ast::Bot,
    lowered: &Lowered,
    mut prepared: Prepared,
    model: Option<Model>,
    language_models: Vec<Option<Model>>,
) -> Result<Program, CompileError> {
    let intent_patterns =
        prepared.take_intent_patterns(bot.intents.iter().map(|i| i.patterns.len()).sum());
    // What does not depend on the cells: the classifiers (the pattern
    // matcher, and training where there is no model yet) and the version.
    // A big bot builds them on a second thread while its cells compile.
    let nlu_and_version = move || {
        let nlu = nlu_of(bot, model, language_models, intent_patterns);
        (nlu, version_of(bot))
    };
    std::thread::scope(|scope| {
        let side = if lowered.graph.node_count() > PARALLEL_CELLS {
            Side::Thread(scope.spawn(nlu_and_version))
        } else {
            Side::Here(Box::new(nlu_and_version))
        };
        compile_cells(bot, lowered, prepared, side)
    })
}

/// Bots with more cells than this build their classifiers and version on
/// a second thread while the cells compile.
const PARALLEL_CELLS: usize = 4_000;

/// The classifiers and the version: built on their own thread, or here.
enum Side<'scope, F> {
    Thread(std::thread::ScopedJoinHandle<'scope, NluAndVersion>),
    Here(Box<F>),
}

type NluAndVersion = (Result<(NluIndex, Vec<LanguageNlu>), CompileError>, u64);

impl<F: FnOnce() -> NluAndVersion> Side<'_, F> {
    fn finish(self) -> NluAndVersion {
        match self {
            Side::Thread(handle) => handle.join().expect("the classifier thread does not panic"),
            Side::Here(work) => work(),
        }
    }
}

/// The bot's classifier for its default language (with the patterns) and
/// those of its other languages, when intents have examples per language.
fn nlu_of(
    bot: &ast::Bot,
    model: Option<Model>,
    language_models: Vec<Option<Model>>,
    intent_patterns: Option<Vec<regex_syntax::hir::Hir>>,
) -> Result<(NluIndex, Vec<LanguageNlu>), CompileError> {
    let settings = &bot.settings;
    let languages = settings.spoken_languages();
    let by_language = bot
        .intents
        .iter()
        .any(|i| !i.examples_by_language.is_empty());
    let default_language = by_language.then(|| languages[0].as_str());
    let nlu = NluIndex::build(
        &bot.intents,
        &settings.out_of_scope,
        default_language,
        model,
        intent_patterns,
    )?;
    let mut language_models = language_models.into_iter();
    let nlu_languages = if by_language {
        languages[1..]
            .iter()
            .map(|language| {
                let (exact, model) = classifier_for(
                    &bot.intents,
                    &settings.out_of_scope,
                    Some(language),
                    language_models.next().flatten(),
                )?;
                Ok(LanguageNlu { model, exact })
            })
            .collect::<Result<Vec<_>, CompileError>>()?
    } else {
        Vec::new()
    };
    Ok((nlu, nlu_languages))
}

/// The cells and everything else of the program, with the classifiers
/// and version from `side`.
fn compile_cells<F: FnOnce() -> NluAndVersion>(
    bot: &ast::Bot,
    lowered: &Lowered,
    prepared: Prepared,
    side: Side<'_, F>,
) -> Result<Program, CompileError> {
    let graph = &lowered.graph;
    let mut compiler = Compiler {
        prepared,
        engine: std::cell::OnceCell::new(),
        regexes: HashMap::new(),
        transfers: Vec::new(),
        languages: bot.settings.spoken_languages(),
        env: Vec::new(),
    };
    let goto = |id: crate::graph::CellId| {
        if id == graph.exit() {
            Goto::Complete
        } else {
            Goto::Cell(CellIndex::new(id.index()))
        }
    };
    let mut cells: Vec<Option<Cell>> = (0..graph.node_count()).map(|_| None).collect();
    let mut variables: Vec<String> = Vec::new();
    for (id, node) in graph.cells() {
        let ast_cell = &bot.flows[node.flow.index()].cells[node.index as usize];
        let edges: Vec<(Edge, Goto)> = graph.successors(id).map(|(e, to)| (e, goto(to))).collect();
        let find = |want: Edge| edges.iter().find(|(e, _)| *e == want).map(|(_, g)| *g);
        let or_complete = |want: Edge| find(want).unwrap_or(Goto::Complete);
        let kind = compile_cell(
            &mut compiler,
            lowered,
            &ast_cell.kind,
            &find,
            &or_complete,
            &mut variables,
        )?;
        cells[id.index()] = Some(Cell {
            flow: FlowIndex::new(node.flow.index()),
            position: node.index,
            id: ast_cell.id.as_ref().map(|n| n.value.clone()),
            key: 0,
            kind,
            span: ast_cell.span,
        });
    }
    let cell_by_key = assign_keys(&mut cells, graph.flows());
    let calls_services = cells
        .iter()
        .flatten()
        .any(|c| matches!(c.kind, Kind::Service { .. }));
    let flows: Vec<Flow> = graph
        .flows()
        .iter()
        .zip(&bot.flows)
        .map(|(f, written)| Flow {
            name: f.name.as_str().into(),
            entry: goto(f.entry),
            timeout: duration(written.timeout.as_ref()),
        })
        .collect();
    let flow_by_name = flows
        .iter()
        .enumerate()
        .rev() // the first definition wins
        .map(|(i, f)| (f.name.to_string(), FlowIndex::new(i)))
        .collect();
    let mut intent_flows = HashMap::new();
    let mut entity_flows = Vec::new();
    for (i, flow) in graph.flows().iter().enumerate() {
        let i = FlowIndex::new(i);
        match flow.trigger {
            Some(crate::graph::Trigger::Intent(intent)) => {
                intent_flows.insert(IntentIndex::new(intent), i);
            }
            Some(crate::graph::Trigger::Entity(entity)) => {
                entity_flows.push((EntityIndex::new(entity), i));
            }
            _ => {}
        }
    }
    let intents = bot
        .intents
        .iter()
        .map(|intent| Intent {
            name: intent.name.value.clone(),
            global: intent.global,
            // A shared example, else one of the default language, else any.
            example: intent
                .examples_in(compiler.languages.first().map_or("", String::as_str))
                .next()
                .or_else(|| intent.all_examples().next())
                .map(|e| e.value.clone()),
        })
        .collect::<Vec<_>>();
    let entities = bot
        .entities
        .iter()
        .map(|entity| {
            Ok(match &entity.kind {
                ast::EntityKind::List(values) => Entity::List {
                    name: entity.name.value.clone(),
                    values: values
                        .iter()
                        .map(|v| entity_value(v, &compiler.languages))
                        .collect(),
                },
                ast::EntityKind::Pattern(p) => Entity::Pattern {
                    name: entity.name.value.clone(),
                    regex: compiler.regex(&p.value)?,
                },
            })
        })
        .collect::<Result<Vec<_>, CompileError>>()?;
    variables.sort();
    variables.dedup();
    let settings = &bot.settings;
    let masked = masked_variables(&cells, &compiler.transfers);
    let inactivity_message = compiler.opt_phrase(
        settings
            .inactivity
            .as_ref()
            .and_then(|i| i.message.as_ref()),
    )?;
    let languages = std::mem::take(&mut compiler.languages);
    let env = std::mem::take(&mut compiler.env);
    let places = compiler.prepared.take_places();
    drop(compiler);
    let (nlu, version) = side.finish();
    let (nlu, nlu_languages) = nlu?;
    let sorted = |names: &[ast::Name]| {
        let mut names: Vec<String> = names.iter().map(|n| n.value.clone()).collect();
        names.sort();
        names.dedup();
        names
    };
    let locale = settings
        .locale
        .as_ref()
        .map_or_else(|| "en-US".to_owned(), |l| l.value.clone());
    Ok(Program {
        name: settings
            .name
            .as_ref()
            .map_or_else(String::new, |n| n.value.clone()),
        parse_locales: languages
            .iter()
            .map(|l| crate::language::parsing_locale(l, &locale))
            .collect(),
        builtin_messages: builtin_messages(settings, &languages),
        inactivity: duration(settings.inactivity.as_ref().map(|i| &i.after)),
        inactivity_message,
        nlu_languages,
        detector: settings
            .detect_language
            .then(|| crate::language::detector(&languages))
            .flatten(),
        timezone: settings
            .timezone
            .as_ref()
            .and_then(|z| jiff::tz::TimeZone::get(&z.value).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC),
        languages,
        locale,
        threshold: settings.threshold.as_ref().map_or_else(
            || {
                nlu.model.as_ref().map_or(
                    f64::from(crate::classifier::train::DEFAULT_THRESHOLD),
                    |m| f64::from(m.calibration.threshold),
                )
            },
            |t| t.value,
        ),
        context: settings.context.iter().map(|n| n.value.clone()).collect(),
        masked,
        hidden: sorted(&settings.hidden),
        readonly: sorted(&settings.readonly),
        cells,
        cell_by_key,
        flows,
        flow_by_name,
        welcome: lowered.welcome.map(|f| FlowIndex::new(f.index())),
        fallback: lowered.fallback.map(|f| FlowIndex::new(f.index())),
        timeout: lowered.timeout.map(|f| FlowIndex::new(f.index())),
        global_intents: intents
            .iter()
            .enumerate()
            .map(|(i, intent)| (IntentIndex::new(i), intent))
            .filter(|(i, intent)| intent.global && intent_flows.contains_key(i))
            .map(|(i, _)| i)
            .collect(),
        intent_flows,
        entity_flows,
        nlu,
        intent_by_name: intents
            .iter()
            .enumerate()
            .map(|(i, intent)| (intent.name.clone(), IntentIndex::new(i)))
            .collect(),
        intents,
        entities,
        variables,
        version,
        calls_services,
        env,
        places,
    })
}

/// The variables that can hold a masked value: those of masked inputs, and
/// what code cells may copy them into. A service's reply is not masked
/// whole for having been asked with a secret (a balance looked up by a
/// masked account number is for the user to see); a copy of the secret
/// inside it is redacted by value, like any other.
fn masked_variables(cells: &[Option<Cell>], scripts: &[(Vec<String>, Vec<String>)]) -> Vec<String> {
    let seeds: Vec<String> = cells
        .iter()
        .flatten()
        .filter_map(|cell| match &cell.kind {
            Kind::Input { input, .. } if input.mask => Some(input.var.to_string()),
            _ => None,
        })
        .collect();
    if seeds.is_empty() {
        return seeds;
    }
    let transfers: Vec<crate::check::secrets::Transfer<'_>> = scripts
        .iter()
        .map(|(reads, writes)| crate::check::secrets::Transfer {
            reads: reads.iter().map(String::as_str).collect(),
            writes: writes.iter().map(String::as_str).collect(),
        })
        .collect();
    crate::check::secrets::spread(seeds, &transfers)
}

/// A stable hash of the bot's program (spans and comments excluded).
fn version_of(bot: &ast::Bot) -> u64 {
    // The hash of the bot's JSON, streamed: a 100k-cell bot's JSON is tens
    // of megabytes, which built as one string cost a tenth of its compile.
    let mut hash = Fnv1a::default();
    if serde_json::to_writer(&mut hash, bot).is_err() {
        return fnv1a(&[b""]);
    }
    hash.end_part();
    hash.0
}

/// [`fnv1a`], fed as a writer.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn add(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// The separator that ends each part.
    fn end_part(&mut self) {
        self.add(&[0xff]);
    }
}

impl std::io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.add(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// FNV-1a over byte strings, each followed by a separator: stable across
/// processes and Rust versions, unlike the standard library's hasher.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = Fnv1a::default();
    for part in parts {
        hash.add(part);
        hash.end_part();
    }
    hash.0
}

/// Gives every cell its [`Cell::key`] and returns the map back from keys.
///
/// A cell with an id is named by its flow and id. A cell without one is
/// named by its flow, its kind (for an input also its variable, for a jump
/// the flow it goes to) and how many such cells come before it in the flow:
/// adding an answer to a flow does not rename the inputs and jumps around it.
fn assign_keys(
    cells: &mut [Option<Cell>],
    flows: &[crate::graph::Flow],
) -> rustc_hash::FxHashMap<u64, CellIndex> {
    let mut order: Vec<usize> = (0..cells.len()).filter(|&i| cells[i].is_some()).collect();
    order.sort_by_key(|&i| cells[i].as_ref().map(|c| (c.flow, c.position)));
    let mut ordinals: rustc_hash::FxHashMap<(FlowIndex, &str, &str), u32> =
        rustc_hash::FxHashMap::default();
    let mut keys = Vec::with_capacity(order.len());
    for &i in &order {
        let Some(cell) = &cells[i] else { continue };
        let flow = flows[cell.flow.position()].name.as_bytes();
        let key = match &cell.id {
            Some(id) => fnv1a(&[flow, b"=", id.as_bytes()]),
            None => {
                let kind = kind_name(&cell.kind);
                let var = match &cell.kind {
                    Kind::Input { input, .. } => input.var.as_str(),
                    Kind::Jump {
                        to: Goto::Cell(to), ..
                    } => cells[to.position()]
                        .as_ref()
                        .map_or("", |target| flows[target.flow.position()].name.as_str()),
                    _ => "",
                };
                let ordinal = ordinals.entry((cell.flow, kind, var)).or_insert(0);
                *ordinal += 1;
                fnv1a(&[
                    flow,
                    b"#",
                    kind.as_bytes(),
                    var.as_bytes(),
                    &ordinal.to_le_bytes(),
                ])
            }
        };
        keys.push((i, key));
    }
    let mut by_key = rustc_hash::FxHashMap::default();
    by_key.reserve(keys.len());
    for (i, key) in keys {
        if let Some(cell) = &mut cells[i] {
            cell.key = key;
        }
        // Keys are unique in a checked bot (ids are unique per flow); the
        // first cell wins should two hashes ever collide.
        by_key.entry(key).or_insert(CellIndex::new(i));
    }
    by_key
}

/// A duration in seconds; one that does not read (the checker reports it)
/// is none.
fn duration(written: Option<&ast::Spanned<String>>) -> Option<u64> {
    crate::kinds::parse_duration(&written?.value).ok()
}

fn date_bound(limit: Option<&ast::Spanned<ast::Limit>>) -> Option<crate::when::Bound> {
    match &limit?.value {
        ast::Limit::Date(text) => crate::when::Bound::parse(text),
        ast::Limit::Number(_) => None,
    }
}

/// The type of the message an answer's content makes; the checker allows
/// one kind of content per answer, so the order only matters for a bot
/// compiled without checking.
fn answer_type(answer: &crate::ast::Answer) -> AnswerType {
    match answer.contents().first().map(|(field, _)| *field) {
        Some("cards") => AnswerType::Cards,
        Some("media") => AnswerType::Media,
        Some("location") => AnswerType::Location,
        Some("link") => AnswerType::Link,
        Some(_) => AnswerType::Custom,
        None => AnswerType::Text,
    }
}

fn compile_cell(
    compiler: &mut Compiler,
    lowered: &Lowered,
    kind: &CellKind,
    find: &dyn Fn(Edge) -> Option<Goto>,
    or_complete: &dyn Fn(Edge) -> Goto,
    variables: &mut Vec<String>,
) -> Result<Kind, CompileError> {
    Ok(match kind {
        CellKind::Answer(a) => Kind::Answer {
            answer: Box::new(Answer {
                texts: a
                    .text
                    .iter()
                    .map(|t| compiler.phrase(t))
                    .collect::<Result<_, _>>()?,
                pick: a.pick.as_ref().map_or(Pick::Random, |p| p.value),
                buttons: a
                    .buttons
                    .iter()
                    .map(|b| compiler.button(b))
                    .collect::<Result<_, _>>()?,
                quick_replies: a
                    .quick_replies
                    .iter()
                    .map(|q| {
                        Ok((
                            compiler.phrase(&q.label)?,
                            compiler.opt_text(q.value.as_ref())?,
                        ))
                    })
                    .collect::<Result<_, CompileError>>()?,
                cards: a
                    .cards
                    .iter()
                    .map(|c| {
                        Ok(Card {
                            title: compiler.phrase(&c.title)?,
                            subtitle: compiler.opt_phrase(c.subtitle.as_ref())?,
                            image: compiler.opt_text(c.image.as_ref())?,
                            buttons: c
                                .buttons
                                .iter()
                                .map(|b| compiler.button(b))
                                .collect::<Result<_, _>>()?,
                        })
                    })
                    .collect::<Result<_, CompileError>>()?,
                media: a
                    .media
                    .as_ref()
                    .map(|m| {
                        Ok::<_, CompileError>(Media {
                            kind: m.kind.value,
                            url: compiler.text(&m.url)?,
                            name: compiler.opt_text(m.name.as_ref())?,
                        })
                    })
                    .transpose()?,
                location: a
                    .location
                    .as_ref()
                    .map(|l| {
                        Ok::<_, CompileError>(Location {
                            lat: compiler.text(&l.lat)?,
                            lng: compiler.text(&l.lng)?,
                            name: compiler.opt_phrase(l.name.as_ref())?,
                            address: compiler.opt_phrase(l.address.as_ref())?,
                        })
                    })
                    .transpose()?,
                link: a
                    .link
                    .as_ref()
                    .map(|l| {
                        Ok::<_, CompileError>(Link {
                            url: compiler.text(&l.url)?,
                            title: compiler.opt_phrase(l.title.as_ref())?,
                            description: compiler.opt_phrase(l.description.as_ref())?,
                            image: compiler.opt_text(l.image.as_ref())?,
                        })
                    })
                    .transpose()?,
                custom: a.custom.as_ref().map(|c| c.value.clone()),
                evaluable: a.evaluable,
                kind: answer_type(a),
                has_content: a.has_content(),
                scope: a
                    .quick_replies_scope
                    .as_ref()
                    .map_or_else(Default::default, |s| s.value),
                typing: a.typing.as_ref().map(|t| t.value),
                delay: a.delay.as_ref().map(|d| d.value),
                voice: compiler.opt_phrase(a.voice.as_ref())?,
                mask: a.mask,
            }),
            next: or_complete(Edge::Next),
        },
        CellKind::Input(i) => {
            variables.push(i.var.value.clone());
            let ty = i.effective_type().unwrap_or(InputType::Text);
            Kind::Input {
                input: Box::new(Input {
                    var: i.var.value.as_str().into(),
                    ty,
                    prompt: compiler.opt_phrase(i.prompt.as_ref())?,
                    choices: i.options.iter().map(|o| compiler.choice(o)).collect(),
                    entity: i
                        .entity
                        .as_ref()
                        .and_then(|e| lowered.entities.get(&e.value))
                        .map(|&e| EntityIndex::new(e)),
                    pattern: i
                        .pattern
                        .as_ref()
                        .map(|p| compiler.regex(&p.value))
                        .transpose()?,
                    min: i.min.as_ref().and_then(|m| m.value.number()),
                    max: i.max.as_ref().and_then(|m| m.value.number()),
                    after: date_bound(i.min.as_ref()),
                    before: date_bound(i.max.as_ref()),
                    invalid: compiler.opt_phrase(i.invalid.as_ref())?,
                    retries: i.retries.as_ref().map_or(2, |r| r.value),
                    mask: i.mask,
                    types: if i.types.is_empty() && ty == InputType::Image {
                        vec![arcstr::literal!("image/*")]
                    } else {
                        i.types.iter().map(|t| t.value.as_str().into()).collect()
                    },
                    max_size: i.max_size.as_ref().map(|m| m.value),
                }),
                valid: or_complete(Edge::Branch(Branch::Valid)),
                fail: or_complete(Edge::Branch(Branch::Fail)),
            }
        }
        CellKind::Rule(r) => Kind::Rule {
            arms: r
                .arms
                .iter()
                .enumerate()
                .map(|(n, arm)| {
                    let to = or_complete(Edge::Branch(Branch::numbered(n, Branch::Arm)));
                    Ok((compiler.script(&arm.when.source.value, true)?, to))
                })
                .collect::<Result<_, CompileError>>()?,
            otherwise: find(Edge::Branch(Branch::Else))
                .or_else(|| find(Edge::Branch(Branch::Else)))
                .unwrap_or(Goto::Complete),
        },
        CellKind::Code(script) => {
            let code = compiler.script(&script.source.value, false)?;
            variables.extend(code.vars.iter().cloned());
            Kind::Code {
                script: code,
                next: or_complete(Edge::Next),
            }
        }
        CellKind::Jump(j) => {
            let to = find(Edge::Call)
                .or_else(|| find(Edge::Jump))
                .unwrap_or(Goto::Complete);
            Kind::Jump {
                to,
                call: j.returns,
                after: or_complete(Edge::Return),
            }
        }
        CellKind::Intent(switch) => Kind::Intent {
            routes: switch
                .routes
                .iter()
                .enumerate()
                .filter_map(|(n, (intent, _))| {
                    let to = find(Edge::Branch(Branch::numbered(n, Branch::Route)))?;
                    Some((IntentIndex::new(*lowered.intents.get(&intent.value)?), to))
                })
                .collect(),
            otherwise: find(Edge::Branch(Branch::Unrouted)),
        },
        CellKind::Service(s) => {
            variables.extend(s.save.iter().chain(&s.status).map(|n| n.value.clone()));
            let body = match &s.body {
                Some(ast::Body::Template(t)) => Some(Body::Template(compiler.text(t)?)),
                Some(ast::Body::Json(j)) => Some(Body::Json(template::JsonTemplate::new(&j.value))),
                None => None,
            };
            Kind::Service {
                service: Box::new(Service {
                    method: s.method.as_ref().map_or(
                        if body.is_some() {
                            Method::Post
                        } else {
                            Method::Get
                        },
                        |m| m.value,
                    ),
                    url: compiler.service_text(&s.url)?,
                    headers: s
                        .headers
                        .iter()
                        .map(|(k, v)| Ok((k.value.clone(), compiler.service_text(v)?)))
                        .collect::<Result<_, CompileError>>()?,
                    body,
                    timeout_ms: s.timeout_ms.as_ref().map_or(5000, |t| t.value),
                    save: s.save.as_ref().map(|n| n.value.clone()),
                    status: s.status.as_ref().map(|n| n.value.clone()),
                }),
                ok: or_complete(Edge::Branch(Branch::Success)),
                error: or_complete(Edge::Branch(Branch::Error)),
            }
        }
        CellKind::Track(t) => Kind::Track {
            event: t.event.value.as_str().into(),
            properties: t
                .properties
                .as_ref()
                .map(|p| template::JsonTemplate::new(&p.value)),
            next: or_complete(Edge::Next),
        },
        CellKind::Handoff(h) => Kind::Handoff {
            queue: compiler.text(&h.queue)?,
            reason: compiler.opt_text(h.reason.as_ref())?,
            message: compiler.opt_phrase(h.message.as_ref())?,
            resume: or_complete(Edge::Resume),
        },
        CellKind::End(e) => Kind::End {
            message: compiler.opt_phrase(e.message.as_ref())?,
        },
    })
}

/// The exact examples and the model of one language (`None`: the examples
/// every language shares, for a bot without examples per language), the
/// model trained unless an artifact brought it.
type Classifier = (rustc_hash::FxHashMap<Box<str>, Vec<u32>>, Option<Model>);

fn classifier_for(
    intents: &[ast::Intent],
    out_of_scope: &[ast::Spanned<String>],
    language: Option<&str>,
    model: Option<Model>,
) -> Result<Classifier, CompileError> {
    let count = u32::try_from(intents.len()).unwrap_or(u32::MAX);
    let per_intent: Vec<Vec<&ast::Spanned<String>>> = intents
        .iter()
        .map(|intent| match language {
            Some(language) => intent.examples_in(language).collect(),
            None => intent.examples.iter().collect(),
        })
        .collect();
    let labelled = || {
        per_intent
            .iter()
            .zip(0..)
            .flat_map(|(examples, class)| examples.iter().map(move |e| (*e, class)))
            .chain(out_of_scope.iter().map(|e| (e, count)))
    };
    let mut exact: rustc_hash::FxHashMap<Box<str>, Vec<u32>> = rustc_hash::FxHashMap::default();
    for (example, class) in labelled() {
        let classes = exact
            .entry(crate::text::normalize(&example.value).into_boxed_str())
            .or_default();
        if !classes.contains(&class) {
            classes.push(class);
        }
    }
    let model = match model {
        Some(model) => {
            if model.intents() != intents.len() || !model.is_consistent() {
                return Err(CompileError::Model(
                    "it does not fit the bot's intents".into(),
                ));
            }
            Some(model)
        }
        None if per_intent.iter().any(|e| !e.is_empty())
            && crate::classifier::fits(labelled().count(), intents.len() + 1) =>
        {
            let examples: Vec<crate::classifier::Example<'_>> = labelled()
                .map(|(e, class)| crate::classifier::Example {
                    text: &e.value,
                    class,
                })
                .collect();
            Some(crate::classifier::train(&examples, count))
        }
        None => None,
    };
    Ok((exact, model))
}

impl NluIndex {
    /// Indexes the examples (of a language, with intents that have examples
    /// per language) and patterns and, unless an artifact brought one,
    /// trains the model.
    fn build(
        intents: &[ast::Intent],
        out_of_scope: &[ast::Spanned<String>],
        language: Option<&str>,
        model: Option<Model>,
        parsed_patterns: Option<Vec<regex_syntax::hir::Hir>>,
    ) -> Result<NluIndex, CompileError> {
        let (exact, model) = classifier_for(intents, out_of_scope, language, model)?;
        let sources = intents
            .iter()
            .enumerate()
            .flat_map(|(i, intent)| intent.patterns.iter().map(move |p| (p.value.as_str(), i)));
        let patterns = match parsed_patterns {
            Some(parsed) => crate::pattern::IntentPatterns::from_validated(
                sources
                    .zip(parsed)
                    .map(|((source, i), hir)| (source, i, hir)),
            ),
            None => crate::pattern::IntentPatterns::new(sources),
        }
        .map_err(|(pattern, e)| CompileError::Regex {
            pattern,
            reason: e.to_string(),
        })?;
        Ok(NluIndex {
            model,
            exact,
            patterns,
        })
    }
}

/// A list entity's value, its synonyms normalised once each and tagged with
/// their language. Synonyms of a language the bot does not speak are left
/// out (`check` reports them).
fn entity_value(value: &ast::EntityValue, languages: &[String]) -> EntityValue {
    let mut synonyms: Vec<(Option<usize>, String)> = Vec::new();
    let shared = std::iter::once(&value.name)
        .chain(&value.synonyms)
        .map(|s| (None, s));
    let own = value
        .synonyms_by_language
        .iter()
        .flat_map(|(language, list)| {
            let position = languages.iter().position(|l| *l == language.value);
            list.iter().filter_map(move |s| Some((Some(position?), s)))
        });
    for (language, synonym) in shared.chain(own) {
        let normalized = crate::text::normalize(&synonym.value);
        if !synonyms
            .iter()
            .any(|(l, s)| *s == normalized && (l.is_none() || *l == language))
        {
            synonyms.push((language, normalized));
        }
    }
    EntityValue {
        canonical: value.name.value.clone(),
        synonyms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_hash_of_the_bots_json() {
        // Streamed, it must stay the value sessions and artifacts already
        // hold: FNV-1a of the JSON text and one separator.
        let mut project = crate::project::Project::new();
        project.add_bytes(
            "a.flow",
            std::path::Path::new("a.flow"),
            b"intent hi { examples [\"hello\", \"hi there\", \"hey\"] }\nflow welcome on welcome { answer \"Hi\" }\n",
        );
        let bot = project.merge();
        let json = serde_json::to_string(&bot).unwrap();
        assert_eq!(version_of(&bot), fnv1a(&[json.as_bytes()]));
        assert_ne!(version_of(&bot), version_of(&ast::Bot::default()));
    }

    #[test]
    fn compiling_takes_the_checkers_scripts_instead_of_compiling_again() {
        let mut project = crate::project::Project::new();
        project.add_bytes(
            "a.flow",
            std::path::Path::new("a.flow"),
            b"flow welcome on welcome {\n  code { n = 1 }\n  rule { when { n == 1 } goto done }\n  answer \"no\"\n  done: answer \"yes {{n}}\"\n}\n",
        );
        let checked = crate::check::check(project);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let script = checked.prepared.script("n = 1", false).expect("checked");
        let condition = checked.prepared.script("n == 1", true).expect("checked");
        let program = compile(&checked.bot, &checked.lowered, checked.prepared).unwrap();
        let mut shared = 0;
        for cell in program.cells.iter().flatten() {
            match &cell.kind {
                Kind::Code { script: s, .. } => {
                    assert!(Arc::ptr_eq(&s.ast, &script));
                    shared += 1;
                }
                Kind::Rule { arms, .. } => {
                    assert!(Arc::ptr_eq(&arms[0].0.ast, &condition));
                    shared += 1;
                }
                _ => {}
            }
        }
        assert_eq!(shared, 2);
        // Without the checker's work (an artifact's AST), everything is
        // compiled from the source, to the same program.
        let mut project = crate::project::Project::new();
        project.add_bytes(
            "a.flow",
            std::path::Path::new("a.flow"),
            b"flow welcome on welcome {\n  code { n = 1 }\n  answer \"{{n}}\"\n}\n",
        );
        let bot = project.merge();
        let unchecked = compile(&bot, &crate::lower::lower(&bot), Prepared::default()).unwrap();
        assert!(
            unchecked
                .cells
                .iter()
                .flatten()
                .any(|c| matches!(&c.kind, Kind::Code { script, .. } if script.vars == ["n"]))
        );
    }
}
