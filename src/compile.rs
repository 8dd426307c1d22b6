//! Compilation: a checked bot to the immutable program the runtime executes.
//!
//! Everything a turn needs is prepared here, once: successors resolved to
//! cell indexes, templates parsed, rhai scripts and conditions compiled,
//! regexes built (each distinct pattern once), option lists normalised, the
//! NLU index built. The result is `Send + Sync` and shared by every session;
//! a turn never parses a script, a template or a regex.
//!
//! The runtime sees only this module's types, never the syntax or the
//! checker. A compiled artifact (`cellflow compile`) stores the merged AST
//! with a format version; loading it lowers and compiles again but skips
//! parsing and checking.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::ast::{self, CellKind, InputType, Method, Pick};
use crate::classifier::Model;
use crate::graph::Edge;
use crate::lower::Lowered;
use crate::template::{self, Template};

/// A compiled script or condition, with the variables it touches, so a
/// turn converts only those into and out of the script's scope.
#[derive(Debug)]
pub struct Script {
    pub ast: Arc<rhai::AST>,
    /// Session variables it reads or assigns (temporaries included).
    pub vars: Vec<String>,
    /// Built-ins it reads: `input`, `user`, `bot`, `session`.
    pub builtins: Vec<&'static str>,
}

/// Where control goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goto {
    /// A cell, by index.
    Cell(u32),
    /// The flow completes: return to the caller, or idle.
    Complete,
}

/// One compiled cell.
#[derive(Debug)]
pub struct Cell {
    pub flow: u32,
    /// Position in its flow's cell list.
    pub position: u32,
    /// The author's id, if any (service mocks and traces use it).
    pub id: Option<String>,
    /// Names this cell across versions of the bot: its flow's name and its
    /// id (or, for a cell without one, its kind and position). A session
    /// paused here resumes on the cell with the same key after a reload.
    pub key: u64,
    pub kind: Kind,
    /// Where the cell is written (empty for a bot read from an artifact).
    pub span: crate::source::Span,
}

#[derive(Debug)]
pub struct Button {
    pub label: Template,
    pub value: Option<Template>,
    pub url: Option<Template>,
}

#[derive(Debug)]
pub struct Card {
    pub title: Template,
    pub subtitle: Option<Template>,
    pub image: Option<Template>,
    pub buttons: Vec<Button>,
}

#[derive(Debug)]
pub struct Media {
    pub kind: ast::MediaKind,
    pub url: Template,
    pub name: Option<Template>,
}

#[derive(Debug)]
pub struct Answer {
    pub texts: Vec<Template>,
    pub pick: Pick,
    pub buttons: Vec<Button>,
    pub quick_replies: Vec<(Template, Option<Template>)>,
    pub cards: Vec<Card>,
    pub media: Option<Media>,
    pub custom: Option<serde_json::Value>,
    pub evaluable: bool,
}

/// An option of an `options` input: shown text, and its normalised form.
#[derive(Debug)]
pub struct Choice {
    pub value: arcstr::ArcStr,
    pub normalized: String,
}

#[derive(Debug)]
pub struct Input {
    pub var: arcstr::ArcStr,
    pub ty: InputType,
    pub prompt: Option<Template>,
    pub choices: Vec<Choice>,
    /// `entity:`: synonyms map to the entity's canonical values.
    pub entity: Option<usize>,
    pub pattern: Option<Regex>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub invalid: Option<Template>,
    pub retries: u32,
    pub mask: bool,
}

#[derive(Debug)]
pub enum Body {
    Template(Template),
    Json(template::JsonTemplate),
}

#[derive(Debug)]
pub struct Service {
    pub method: Method,
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Body>,
    pub timeout_ms: u64,
    pub save: Option<String>,
    pub status: Option<String>,
}

/// A cell's behaviour with its successors resolved.
#[derive(Debug)]
pub enum Kind {
    Answer {
        answer: Answer,
        next: Goto,
    },
    Input {
        input: Box<Input>,
        valid: Goto,
        fail: Goto,
    },
    Rule {
        arms: Vec<(Script, Goto)>,
        otherwise: Goto,
    },
    Code {
        script: Script,
        next: Goto,
    },
    Jump {
        to: Goto,
        call: bool,
        after: Goto,
    },
    Intent {
        routes: Vec<(usize, Goto)>,
        otherwise: Option<Goto>,
    },
    Service {
        service: Box<Service>,
        ok: Goto,
        error: Goto,
    },
    Handoff {
        queue: Template,
        reason: Option<Template>,
        message: Option<Template>,
        resume: Goto,
    },
    End {
        message: Option<Template>,
    },
}

/// A flow: its name and where it starts.
#[derive(Debug)]
pub struct Flow {
    pub name: String,
    pub entry: Goto,
}

/// What the built-in classifier needs: the trained model, the examples
/// that are sure hits, and the patterns.
#[derive(Debug, Default)]
pub struct NluIndex {
    /// The model trained on the intents' examples (and the out-of-scope
    /// ones); none when no intent has an example.
    pub model: Option<Model>,
    /// Each normalised example → the classes it is an example of, in order
    /// (`intents.len()` for an out-of-scope example): a message equal to
    /// one is a sure hit.
    pub exact: rustc_hash::FxHashMap<Box<str>, Vec<u32>>,
    /// Every intent pattern, and the intent each belongs to.
    pub patterns: crate::pattern::IntentPatterns,
}

impl NluIndex {
    /// Indexes the examples and patterns and, unless an artifact brought
    /// one, trains the model.
    fn build(
        intents: &[ast::Intent],
        out_of_scope: &[ast::Spanned<String>],
        model: Option<Model>,
    ) -> Result<NluIndex, CompileError> {
        let count = u32::try_from(intents.len()).unwrap_or(u32::MAX);
        let labelled = || {
            intents
                .iter()
                .zip(0..)
                .flat_map(|(intent, class)| intent.examples.iter().map(move |e| (e, class)))
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
            None if intents.iter().any(|i| !i.examples.is_empty())
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
        let patterns =
            crate::pattern::IntentPatterns::new(intents.iter().enumerate().flat_map(
                |(i, intent)| intent.patterns.iter().map(move |p| (p.value.as_str(), i)),
            ))
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

/// An intent: its name and whether it may interrupt a pending input.
#[derive(Debug)]
pub struct Intent {
    pub name: String,
    pub global: bool,
    /// The first example as written (tools that talk to the bot use it).
    pub example: Option<String>,
}

/// An entity for the classifier.
#[derive(Debug)]
pub enum Entity {
    /// Canonical value and its normalised synonyms (the value itself included).
    List {
        name: String,
        values: Vec<(String, Vec<String>)>,
    },
    Pattern {
        name: String,
        regex: Regex,
    },
}

impl Entity {
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Entity::List { name, .. } | Entity::Pattern { name, .. } => name,
        }
    }
}

/// A choice a cell can make: what a turn reports to its observer, and
/// what coverage counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Branch {
    /// The rule arm with this index was taken.
    Arm(u32),
    /// No arm matched (the rule's `else`, or the next cell).
    Else,
    /// The intent cell routed on the route with this index.
    Route(u32),
    /// The intent cell took its `else`.
    Unrouted,
    /// An input got a value it accepts.
    Valid,
    /// An input got a value it rejects, and asks again.
    Invalid,
    /// An input ran out of retries (`on_fail`).
    Fail,
    /// A service call succeeded.
    Success,
    /// A service call failed (`on_error`).
    Error,
}

/// The compiled bot: immutable, shared by all sessions.
#[derive(Debug)]
pub struct Program {
    pub name: String,
    pub locale: String,
    pub threshold: f64,
    /// Variables the host sets in every request.
    pub context: Vec<String>,
    /// Variables that can hold a masked value, sorted: those of masked
    /// inputs, and every variable a code cell may copy one into (see
    /// `check::secrets`).
    pub masked: Vec<String>,
    /// Variables never shown to the channel, sorted.
    pub hidden: Vec<String>,
    /// Variables a request's context cannot change once set, sorted.
    pub readonly: Vec<String>,
    pub cells: Vec<Option<Cell>>,
    /// [`Cell::key`] → cell index.
    pub cell_by_key: rustc_hash::FxHashMap<u64, u32>,
    pub flows: Vec<Flow>,
    pub flow_by_name: HashMap<String, u32>,
    pub welcome: Option<u32>,
    pub fallback: Option<u32>,
    /// Intent index → the flow it triggers.
    pub intent_flows: HashMap<usize, u32>,
    /// Global intents that trigger a flow: the only ones that can interrupt
    /// a pending input.
    pub global_intents: Vec<usize>,
    /// Entity index → the flow it triggers.
    pub entity_flows: Vec<(usize, u32)>,
    pub intents: Vec<Intent>,
    /// Intent name → its index: a routed turn finds its intent in constant
    /// time, whatever the number of intents.
    pub intent_by_name: rustc_hash::FxHashMap<String, usize>,
    pub nlu: NluIndex,
    pub entities: Vec<Entity>,
    /// Every variable some cell may assign (temporaries included): scripts
    /// see them declared, so `x = 1` works before `x` was ever set.
    pub variables: Vec<String>,
    /// Changes whenever the bot's program changes (sessions record it).
    pub version: u64,
    /// Some cell is a `service`: a turn may wait on the network.
    pub calls_services: bool,
}

impl Program {
    /// Whether `name` can hold a masked value.
    #[must_use]
    pub fn is_masked(&self, name: &str) -> bool {
        self.masked
            .binary_search_by(|m| m.as_str().cmp(name))
            .is_ok()
    }

    /// Whether `name` is never shown to the channel.
    #[must_use]
    pub fn is_hidden(&self, name: &str) -> bool {
        self.hidden
            .binary_search_by(|m| m.as_str().cmp(name))
            .is_ok()
    }

    /// Whether a request's context cannot change `name` once it is set.
    #[must_use]
    pub fn is_readonly(&self, name: &str) -> bool {
        self.readonly
            .binary_search_by(|m| m.as_str().cmp(name))
            .is_ok()
    }

    /// The cell at an index. Indexes come from this program, so a missing
    /// cell is a broken invariant.
    ///
    /// # Panics
    /// If `index` is not a cell of this program.
    #[must_use]
    pub fn cell(&self, index: u32) -> &Cell {
        self.cells[index as usize]
            .as_ref()
            .expect("cell indexes come from this program")
    }

    /// The flow a trigger-less event or target name starts.
    #[must_use]
    pub fn flow(&self, name: &str) -> Option<&Flow> {
        self.flow_by_name
            .get(name)
            .map(|&i| &self.flows[i as usize])
    }
}

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

struct Compiler<'a> {
    engine: &'a rhai::Engine,
    regexes: HashMap<String, Regex>,
    /// Per code cell: the variables it reads, and those it may assign
    /// from them (masking follows values along these).
    transfers: Vec<(Vec<String>, Vec<String>)>,
}

impl Compiler<'_> {
    fn regex(&mut self, pattern: &str, case_insensitive: bool) -> Result<Regex, CompileError> {
        let key = format!("{case_insensitive}:{pattern}");
        if let Some(r) = self.regexes.get(&key) {
            return Ok(r.clone());
        }
        let built =
            crate::pattern::build(pattern, case_insensitive).map_err(|e| CompileError::Regex {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })?;
        self.regexes.insert(key, built.clone());
        Ok(built)
    }

    fn script(&mut self, source: &str, expression: bool) -> Result<Script, CompileError> {
        let compiled = if expression {
            self.engine.compile_expression(source)
        } else {
            self.engine.compile(source)
        };
        let ast = compiled.map_err(|e| CompileError::Script(e.to_string()))?;
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
            ast: Arc::new(ast),
            vars,
            builtins,
        })
    }
}

fn text(t: &ast::Text) -> Result<Template, CompileError> {
    template::parse(&t.value).map_err(|e| CompileError::Template(e.reason))
}

fn opt_text(t: Option<&ast::Text>) -> Result<Option<Template>, CompileError> {
    t.map(text).transpose()
}

fn button(b: &ast::Button) -> Result<Button, CompileError> {
    Ok(Button {
        label: text(&b.label)?,
        value: opt_text(b.value.as_ref())?,
        url: opt_text(b.url.as_ref())?,
    })
}

/// Compiles a checked bot (it must have no errors).
///
/// # Errors
/// Only if an invariant the checker guarantees is broken, or a regex exceeds
/// the size limit when built.
pub fn compile(
    bot: &ast::Bot,
    lowered: &Lowered,
    engine: &rhai::Engine,
) -> Result<Program, CompileError> {
    compile_with_model(bot, lowered, engine, None)
}

/// [`compile`], with the classifier model an artifact brought instead of
/// training one.
///
/// # Errors
/// As [`compile`]; also a model that does not fit the bot.
pub fn compile_with_model(
    bot: &ast::Bot,
    lowered: &Lowered,
    engine: &rhai::Engine,
    model: Option<Model>,
) -> Result<Program, CompileError> {
    let graph = &lowered.graph;
    let mut compiler = Compiler {
        engine,
        regexes: HashMap::new(),
        transfers: Vec::new(),
    };
    let goto = |id: crate::graph::CellId| {
        if id == graph.exit() {
            Goto::Complete
        } else {
            Goto::Cell(u32::try_from(id.index()).unwrap_or(u32::MAX))
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
            flow: node.flow.0,
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
        .map(|f| Flow {
            name: f.name.clone(),
            entry: goto(f.entry),
        })
        .collect();
    let flow_by_name = flows
        .iter()
        .enumerate()
        .rev() // the first definition wins
        .map(|(i, f)| (f.name.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    let mut intent_flows = HashMap::new();
    let mut entity_flows = Vec::new();
    for (i, flow) in graph.flows().iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        match flow.trigger {
            Some(crate::graph::Trigger::Intent(intent)) => {
                intent_flows.insert(intent, i);
            }
            Some(crate::graph::Trigger::Entity(entity)) => entity_flows.push((entity, i)),
            _ => {}
        }
    }
    let intents = bot
        .intents
        .iter()
        .map(|intent| Intent {
            name: intent.name.value.clone(),
            global: intent.global,
            example: intent.examples.first().map(|e| e.value.clone()),
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
                        .map(|v| {
                            let mut synonyms: Vec<String> = std::iter::once(&v.name)
                                .chain(&v.synonyms)
                                .map(|s| crate::text::normalize(&s.value))
                                .collect();
                            synonyms.dedup();
                            (v.name.value.clone(), synonyms)
                        })
                        .collect(),
                },
                ast::EntityKind::Pattern(p) => Entity::Pattern {
                    name: entity.name.value.clone(),
                    regex: compiler.regex(&p.value, false)?,
                },
            })
        })
        .collect::<Result<Vec<_>, CompileError>>()?;
    variables.sort();
    variables.dedup();
    let settings = &bot.settings;
    let masked = masked_variables(&cells, &compiler.transfers);
    let nlu = NluIndex::build(&bot.intents, &settings.out_of_scope, model)?;
    let sorted = |names: &[ast::Name]| {
        let mut names: Vec<String> = names.iter().map(|n| n.value.clone()).collect();
        names.sort();
        names.dedup();
        names
    };
    Ok(Program {
        name: settings
            .name
            .as_ref()
            .map_or_else(String::new, |n| n.value.clone()),
        locale: settings
            .locale
            .as_ref()
            .map_or_else(|| "en-US".to_owned(), |l| l.value.clone()),
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
        welcome: lowered.welcome.map(|f| f.0),
        fallback: lowered.fallback.map(|f| f.0),
        global_intents: {
            let mut g: Vec<usize> = intents
                .iter()
                .enumerate()
                .filter(|(i, it)| it.global && intent_flows.contains_key(i))
                .map(|(i, _)| i)
                .collect();
            g.sort_unstable();
            g
        },
        intent_flows,
        entity_flows,
        nlu,
        intent_by_name: intents
            .iter()
            .enumerate()
            .map(|(i, intent)| (intent.name.clone(), i))
            .collect(),
        intents,
        entities,
        variables,
        version: version_of(bot),
        calls_services,
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
) -> rustc_hash::FxHashMap<u64, u32> {
    let mut order: Vec<usize> = (0..cells.len()).filter(|&i| cells[i].is_some()).collect();
    order.sort_by_key(|&i| cells[i].as_ref().map(|c| (c.flow, c.position)));
    let mut ordinals: rustc_hash::FxHashMap<(u32, &str, &str), u32> =
        rustc_hash::FxHashMap::default();
    let mut keys = Vec::with_capacity(order.len());
    for &i in &order {
        let Some(cell) = &cells[i] else { continue };
        let flow = flows[cell.flow as usize].name.as_bytes();
        let key = match &cell.id {
            Some(id) => fnv1a(&[flow, b"=", id.as_bytes()]),
            None => {
                let kind = kind_name(&cell.kind);
                let var = match &cell.kind {
                    Kind::Input { input, .. } => input.var.as_str(),
                    Kind::Jump {
                        to: Goto::Cell(to), ..
                    } => cells[*to as usize]
                        .as_ref()
                        .map_or("", |target| flows[target.flow as usize].name.as_str()),
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
        by_key
            .entry(key)
            .or_insert(u32::try_from(i).unwrap_or(u32::MAX));
    }
    by_key
}

/// The name of a cell kind, as the languages spell it.
#[must_use]
pub fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Answer { .. } => "answer",
        Kind::Input { .. } => "input",
        Kind::Rule { .. } => "rule",
        Kind::Code { .. } => "code",
        Kind::Jump { .. } => "jump",
        Kind::Intent { .. } => "intent",
        Kind::Service { .. } => "service",
        Kind::Handoff { .. } => "handoff",
        Kind::End { .. } => "end",
    }
}

fn compile_cell(
    compiler: &mut Compiler<'_>,
    lowered: &Lowered,
    kind: &CellKind,
    find: &dyn Fn(Edge) -> Option<Goto>,
    or_complete: &dyn Fn(Edge) -> Goto,
    variables: &mut Vec<String>,
) -> Result<Kind, CompileError> {
    Ok(match kind {
        CellKind::Answer(a) => Kind::Answer {
            answer: Answer {
                texts: a.text.iter().map(text).collect::<Result<_, _>>()?,
                pick: a.pick.as_ref().map_or(Pick::Random, |p| p.value),
                buttons: a.buttons.iter().map(button).collect::<Result<_, _>>()?,
                quick_replies: a
                    .quick_replies
                    .iter()
                    .map(|q| Ok((text(&q.label)?, opt_text(q.value.as_ref())?)))
                    .collect::<Result<_, CompileError>>()?,
                cards: a
                    .cards
                    .iter()
                    .map(|c| {
                        Ok(Card {
                            title: text(&c.title)?,
                            subtitle: opt_text(c.subtitle.as_ref())?,
                            image: opt_text(c.image.as_ref())?,
                            buttons: c.buttons.iter().map(button).collect::<Result<_, _>>()?,
                        })
                    })
                    .collect::<Result<_, CompileError>>()?,
                media: a
                    .media
                    .as_ref()
                    .map(|m| {
                        Ok::<_, CompileError>(Media {
                            kind: m.kind.value,
                            url: text(&m.url)?,
                            name: opt_text(m.name.as_ref())?,
                        })
                    })
                    .transpose()?,
                custom: a.custom.as_ref().map(|c| c.value.clone()),
                evaluable: a.evaluable,
            },
            next: or_complete(Edge::Next),
        },
        CellKind::Input(i) => {
            variables.push(i.var.value.clone());
            let ty = i.effective_type().unwrap_or(InputType::Text);
            Kind::Input {
                input: Box::new(Input {
                    var: i.var.value.as_str().into(),
                    ty,
                    prompt: opt_text(i.prompt.as_ref())?,
                    choices: i
                        .options
                        .iter()
                        .map(|o| Choice {
                            value: o.value.as_str().into(),
                            normalized: crate::text::normalize(&o.value),
                        })
                        .collect(),
                    entity: i
                        .entity
                        .as_ref()
                        .and_then(|e| lowered.entities.get(&e.value).copied()),
                    pattern: i
                        .pattern
                        .as_ref()
                        .map(|p| compiler.regex(&p.value, false))
                        .transpose()?,
                    min: i.min.as_ref().map(|m| m.value),
                    max: i.max.as_ref().map(|m| m.value),
                    invalid: opt_text(i.invalid.as_ref())?,
                    retries: i.retries.as_ref().map_or(2, |r| r.value),
                    mask: i.mask,
                }),
                valid: or_complete(Edge::InputValid),
                fail: or_complete(Edge::InputFail),
            }
        }
        CellKind::Rule(r) => Kind::Rule {
            arms: r
                .arms
                .iter()
                .enumerate()
                .map(|(n, arm)| {
                    let to = or_complete(Edge::RuleArm(u32::try_from(n).unwrap_or(u32::MAX)));
                    Ok((compiler.script(&arm.when.source.value, true)?, to))
                })
                .collect::<Result<_, CompileError>>()?,
            otherwise: find(Edge::RuleElse)
                .or_else(|| find(Edge::RuleNoMatch))
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
                    let to = find(Edge::IntentRoute(u32::try_from(n).unwrap_or(u32::MAX)))?;
                    Some((*lowered.intents.get(&intent.value)?, to))
                })
                .collect(),
            otherwise: find(Edge::IntentElse),
        },
        CellKind::Service(s) => {
            variables.extend(s.save.iter().chain(&s.status).map(|n| n.value.clone()));
            let body = match &s.body {
                Some(ast::Body::Template(t)) => Some(Body::Template(text(t)?)),
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
                    url: text(&s.url)?,
                    headers: s
                        .headers
                        .iter()
                        .map(|(k, v)| Ok((k.value.clone(), text(v)?)))
                        .collect::<Result<_, CompileError>>()?,
                    body,
                    timeout_ms: s.timeout_ms.as_ref().map_or(5000, |t| t.value),
                    save: s.save.as_ref().map(|n| n.value.clone()),
                    status: s.status.as_ref().map(|n| n.value.clone()),
                }),
                ok: or_complete(Edge::ServiceOk),
                error: or_complete(Edge::ServiceError),
            }
        }
        CellKind::Handoff(h) => Kind::Handoff {
            queue: text(&h.queue)?,
            reason: opt_text(h.reason.as_ref())?,
            message: opt_text(h.message.as_ref())?,
            resume: or_complete(Edge::Resume),
        },
        CellKind::End(e) => Kind::End {
            message: opt_text(e.message.as_ref())?,
        },
    })
}

/// The artifact format version; bump when the stored AST or model changes
/// shape.
pub const ARTIFACT_VERSION: u32 = 3;
/// The first line of every artifact.
pub const ARTIFACT_MAGIC: &str = "cellflow-artifact";

/// What an artifact holds: the checked bot's merged AST, and the classifier
/// model trained from it (so loading an artifact does not train again).
#[derive(Debug, Serialize, Deserialize)]
pub struct Artifact {
    pub bot: ast::Bot,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
}

/// Writes a checked bot as an artifact: a header line, then the merged AST
/// and the program's classifier model as JSON. The same bot always gives
/// the same bytes.
///
/// # Errors
/// If the bot cannot be serialized (it always can).
pub fn write_artifact(bot: &ast::Bot, program: &Program) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Written<'a> {
        bot: &'a ast::Bot,
        #[serde(skip_serializing_if = "Option::is_none")]
        model: Option<&'a Model>,
    }
    let written = Written {
        bot,
        model: program.nlu.model.as_ref(),
    };
    Ok(format!(
        "{ARTIFACT_MAGIC} {ARTIFACT_VERSION}\n{}\n",
        serde_json::to_string(&written)?
    ))
}

/// Why an artifact cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("not a cellflow artifact (it does not start with `{ARTIFACT_MAGIC}`)")]
    NotAnArtifact,
    #[error(
        "the artifact has format version {found}, this cellflow reads version {ARTIFACT_VERSION}; compile the bot again"
    )]
    Version { found: String },
    #[error("the artifact is corrupt: {0}")]
    Corrupt(String),
}

/// Reads an artifact back.
///
/// # Errors
/// A file that is not an artifact, of another format version, or corrupt.
pub fn read_artifact(text: &str) -> Result<Artifact, ArtifactError> {
    let (header, body) = text.split_once('\n').ok_or(ArtifactError::NotAnArtifact)?;
    let version = header
        .strip_prefix(ARTIFACT_MAGIC)
        .ok_or(ArtifactError::NotAnArtifact)?
        .trim();
    if version != ARTIFACT_VERSION.to_string() {
        return Err(ArtifactError::Version {
            found: version.to_owned(),
        });
    }
    serde_json::from_str(body).map_err(|e| ArtifactError::Corrupt(e.to_string()))
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
}
