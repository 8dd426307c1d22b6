//! Lowering: a merged [`ast::Bot`] to the cell [`Graph`].
//!
//! Here names become ids. Flow, cell, intent and entity names are collected
//! (a name defined twice is reported at both places); every target is
//! resolved as docs/LANGUAGE.md says — a cell id of the current flow, else a flow name,
//! or `FLOW.CELL` — and becomes an edge. What it promises: every edge in the
//! graph points at a real cell or the exit; a target that cannot be resolved
//! is reported and simply has no edge.

use std::collections::HashMap;

use crate::ast::{self, CellKind, Target};
use crate::diagnostic::{Diagnostic, NameKind, Problem, suggest};
use crate::graph::{self, Branch, CellId, Edge, FlowId, Graph, Kind};
use crate::source::Span;

/// The graph and what lowering learnt on the way.
#[derive(Debug)]
pub struct Lowered {
    pub graph: Graph,
    /// Intent name → position in `bot.intents` (first definition).
    pub intents: HashMap<String, usize>,
    /// Entity name → position in `bot.entities` (first definition).
    pub entities: HashMap<String, usize>,
    pub welcome: Option<FlowId>,
    pub fallback: Option<FlowId>,
    /// The flow with `on: timeout`.
    pub timeout: Option<FlowId>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Lowers a bot to its cell graph.
#[must_use]
pub fn lower(bot: &ast::Bot) -> Lowered {
    let mut lowerer = Lowerer {
        graph: Graph::new(),
        flow_names: HashMap::new(),
        cell_ids: Vec::new(),
        diagnostics: Vec::new(),
    };
    let intents = lowerer.index_names(bot.intents.iter().map(|i| &i.name), NameKind::Intent);
    let entities = lowerer.index_names(bot.entities.iter().map(|e| &e.name), NameKind::Entity);
    for entity in &bot.entities {
        if let ast::EntityKind::List(values) = &entity.kind {
            lowerer.index_names(values.iter().map(|v| &v.name), NameKind::EntityValue);
        }
    }
    lowerer.add_flows(bot);
    let (welcome, fallback, timeout) = lowerer.triggers(bot, &intents, &entities);
    let fallback_entry = fallback.map_or(lowerer.graph.exit(), |f| lowerer.graph.flow(f).entry);
    for (flow_index, flow) in bot.flows.iter().enumerate() {
        let flow_id = FlowId::new(flow_index);
        for (index, cell) in flow.cells.iter().enumerate() {
            lowerer.cell_edges(flow_id, index, cell, fallback_entry, &intents, &entities);
        }
    }
    Lowered {
        graph: lowerer.graph,
        intents,
        entities,
        welcome,
        fallback,
        timeout,
        diagnostics: lowerer.diagnostics,
    }
}

struct Lowerer {
    graph: Graph,
    flow_names: HashMap<String, FlowId>,
    /// Per flow: cell id → node.
    cell_ids: Vec<HashMap<String, CellId>>,
    diagnostics: Vec<Diagnostic>,
}

fn kind_of(kind: &CellKind) -> Kind {
    match kind {
        CellKind::Answer(_) => Kind::Answer,
        CellKind::Input(_) => Kind::Input,
        CellKind::Rule(_) => Kind::Rule,
        CellKind::Code(_) => Kind::Code,
        CellKind::Jump(_) => Kind::Jump,
        CellKind::Intent(_) => Kind::Intent,
        CellKind::Service(_) => Kind::Service,
        CellKind::Track(_) => Kind::Track,
        CellKind::Handoff(_) => Kind::Handoff,
        CellKind::End(_) => Kind::End,
    }
}

impl Lowerer {
    fn duplicate(&mut self, name: &ast::Name, first: Span, kind: NameKind) {
        self.diagnostics.push(
            Diagnostic::new(
                Problem::DuplicateName {
                    name: name.value.clone(),
                    kind,
                },
                name.span,
            )
            .with_related(first, "first defined here"),
        );
    }

    fn index_names<'a>(
        &mut self,
        names: impl Iterator<Item = &'a ast::Name>,
        kind: NameKind,
    ) -> HashMap<String, usize> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut spans: Vec<Span> = Vec::new();
        for (i, name) in names.enumerate() {
            spans.push(name.span);
            if let Some(&first) = index.get(&name.value) {
                self.duplicate(name, spans[first], kind);
            } else {
                index.insert(name.value.clone(), i);
            }
        }
        index
    }

    fn add_flows(&mut self, bot: &ast::Bot) {
        self.graph
            .reserve(bot.flows.iter().map(|f| f.cells.len()).sum());
        for flow in &bot.flows {
            let id = self.graph.add_flow(graph::Flow {
                name: flow.name.value.clone(),
                span: flow.name.span,
                trigger: None,
                entry: self.graph.exit(),
                cells: Vec::with_capacity(flow.cells.len()),
            });
            if let Some(&first) = self.flow_names.get(&flow.name.value) {
                let first = self.graph.flow(first).span;
                self.duplicate(&flow.name, first, NameKind::Flow);
            } else {
                self.flow_names.insert(flow.name.value.clone(), id);
            }
            let mut ids: HashMap<String, CellId> = HashMap::new();
            let mut spans: HashMap<String, Span> = HashMap::new();
            for (index, cell) in flow.cells.iter().enumerate() {
                let node = self.graph.add_cell(graph::Cell {
                    flow: id,
                    index: u32::try_from(index).expect("fewer than 2^32 cells in a flow"),
                    kind: kind_of(&cell.kind),
                    span: cell.span,
                });
                self.graph.flow_mut(id).cells.push(node);
                if let Some(name) = &cell.id {
                    if let Some(&first) = spans.get(&name.value) {
                        self.duplicate(name, first, NameKind::Cell);
                    } else {
                        ids.insert(name.value.clone(), node);
                        spans.insert(name.value.clone(), name.span);
                    }
                }
            }
            if let Some(&first) = self.graph.flow(id).cells.first() {
                self.graph.flow_mut(id).entry = first;
            }
            self.cell_ids.push(ids);
        }
    }

    fn triggers(
        &mut self,
        bot: &ast::Bot,
        intents: &HashMap<String, usize>,
        entities: &HashMap<String, usize>,
    ) -> (Option<FlowId>, Option<FlowId>, Option<FlowId>) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        let (mut welcome, mut fallback, mut timeout) = (None, None, None);
        for (i, flow) in bot.flows.iter().enumerate() {
            let Some(trigger) = &flow.trigger else {
                continue;
            };
            let id = FlowId::new(i);
            let (key, resolved) = match &trigger.value {
                ast::Trigger::Welcome => ("welcome".to_owned(), Some(graph::Trigger::Welcome)),
                ast::Trigger::Fallback => ("fallback".to_owned(), Some(graph::Trigger::Fallback)),
                ast::Trigger::Timeout => ("timeout".to_owned(), Some(graph::Trigger::Timeout)),
                ast::Trigger::Intent(name) => (
                    format!("intent {}", name.value),
                    self.intent_ref(name, intents).map(graph::Trigger::Intent),
                ),
                ast::Trigger::Entity(name) => (
                    format!("entity {}", name.value),
                    self.entity_ref(name, entities).map(graph::Trigger::Entity),
                ),
            };
            if let Some(&first) = seen.get(&key) {
                let name = ast::Spanned::new(key, trigger.span);
                self.duplicate(&name, first, NameKind::Trigger);
                continue;
            }
            seen.insert(key, trigger.span);
            self.graph.flow_mut(id).trigger = resolved;
            match resolved {
                Some(graph::Trigger::Welcome) => welcome = Some(id),
                Some(graph::Trigger::Fallback) => fallback = Some(id),
                Some(graph::Trigger::Timeout) => timeout = Some(id),
                _ => {}
            }
        }
        (welcome, fallback, timeout)
    }

    fn intent_ref(&mut self, name: &ast::Name, intents: &HashMap<String, usize>) -> Option<usize> {
        let found = intents.get(&name.value).copied();
        if found.is_none() {
            let suggestion = suggest(&name.value, intents.keys().map(String::as_str));
            self.diagnostics.push(Diagnostic::new(
                Problem::UnknownIntent {
                    name: name.value.clone(),
                    suggestion,
                },
                name.span,
            ));
        }
        found
    }

    fn entity_ref(&mut self, name: &ast::Name, entities: &HashMap<String, usize>) -> Option<usize> {
        let found = entities.get(&name.value).copied();
        if found.is_none() {
            let suggestion = suggest(&name.value, entities.keys().map(String::as_str));
            self.diagnostics.push(Diagnostic::new(
                Problem::UnknownEntity {
                    name: name.value.clone(),
                    suggestion,
                },
                name.span,
            ));
        }
        found
    }

    /// Resolves a target from inside `flow`, reporting what is wrong with it.
    fn resolve(&mut self, flow: FlowId, target: &Target) -> Option<CellId> {
        if let Some(flow_name) = &target.flow {
            let Some(&other) = self.flow_names.get(&flow_name.value) else {
                let suggestion =
                    suggest(&flow_name.value, self.flow_names.keys().map(String::as_str));
                self.diagnostics.push(Diagnostic::new(
                    Problem::UnknownTarget {
                        name: target.to_string(),
                        suggestion,
                    },
                    target.span,
                ));
                return None;
            };
            let found = self.cell_ids[other.index()]
                .get(&target.name.value)
                .copied();
            if found.is_none() {
                let suggestion = suggest(
                    &target.name.value,
                    self.cell_ids[other.index()].keys().map(String::as_str),
                )
                .map(|cell| format!("{}.{cell}", flow_name.value));
                self.diagnostics.push(Diagnostic::new(
                    Problem::UnknownTarget {
                        name: target.to_string(),
                        suggestion,
                    },
                    target.span,
                ));
            }
            return found;
        }
        let name = &target.name.value;
        let local = self.cell_ids[flow.index()].get(name).copied();
        let global = self.flow_names.get(name).copied();
        match (local, global) {
            (Some(cell), Some(other)) => {
                let flow_name = self.graph.flow(flow).name.clone();
                let cell_span = self.graph.cell(cell).map_or(Span::Synthetic, |c| c.span);
                let flow_span = self.graph.flow(other).span;
                self.diagnostics.push(
                    Diagnostic::new(
                        Problem::AmbiguousTarget {
                            name: name.clone(),
                            flow: flow_name,
                        },
                        target.span,
                    )
                    .with_related(cell_span, "a cell of this flow has this id")
                    .with_related(flow_span, "and a flow has this name"),
                );
                None
            }
            (Some(cell), None) => Some(cell),
            (None, Some(other)) => Some(self.graph.flow(other).entry),
            (None, None) => {
                let candidates = self.cell_ids[flow.index()]
                    .keys()
                    .chain(self.flow_names.keys())
                    .map(String::as_str);
                let suggestion = suggest(name, candidates);
                self.diagnostics.push(Diagnostic::new(
                    Problem::UnknownTarget {
                        name: name.clone(),
                        suggestion,
                    },
                    target.span,
                ));
                None
            }
        }
    }

    fn edge_to(&mut self, from: CellId, flow: FlowId, target: &Target, edge: Edge) {
        if let Some(to) = self.resolve(flow, target) {
            self.graph.add_edge(from, to, edge);
        }
    }

    fn cell_edges(
        &mut self,
        flow: FlowId,
        index: usize,
        cell: &ast::Cell,
        fallback_entry: CellId,
        intents: &HashMap<String, usize>,
        entities: &HashMap<String, usize>,
    ) {
        let from = self.graph.flow(flow).cells[index];
        // Where falling through goes: `next:`, else the following cell, else the exit.
        let following = self
            .graph
            .flow(flow)
            .cells
            .get(index + 1)
            .copied()
            .unwrap_or(self.graph.exit());
        let next = match &cell.next {
            Some(target) => self.resolve(flow, target),
            None => Some(following),
        };
        let fall = |this: &mut Self, edge: Edge| {
            if let Some(next) = next {
                this.graph.add_edge(from, next, edge);
            }
        };
        match &cell.kind {
            CellKind::Answer(_) | CellKind::Code(_) | CellKind::Track(_) => {
                fall(self, Edge::Next);
            }
            CellKind::Input(input) => {
                if let Some(entity) = &input.entity {
                    self.entity_ref(entity, entities);
                }
                fall(self, Edge::Branch(Branch::Valid));
                match &input.on_fail {
                    Some(target) => self.edge_to(from, flow, target, Edge::Branch(Branch::Fail)),
                    None => self
                        .graph
                        .add_edge(from, fallback_entry, Edge::Branch(Branch::Fail)),
                }
            }
            CellKind::Rule(rule) => {
                for (i, arm) in rule.arms.iter().enumerate() {
                    self.edge_to(
                        from,
                        flow,
                        &arm.goto,
                        Edge::Branch(Branch::numbered(i, Branch::Arm)),
                    );
                }
                match &rule.otherwise {
                    Some(target) => self.edge_to(from, flow, target, Edge::Branch(Branch::Else)),
                    None => fall(self, Edge::Branch(Branch::Else)),
                }
            }
            CellKind::Jump(jump) => {
                if jump.returns {
                    self.edge_to(from, flow, &jump.to, Edge::Call);
                    fall(self, Edge::Return);
                } else {
                    self.edge_to(from, flow, &jump.to, Edge::Jump);
                }
            }
            CellKind::Intent(switch) => {
                for (i, (intent, target)) in switch.routes.iter().enumerate() {
                    self.intent_ref(intent, intents);
                    self.edge_to(
                        from,
                        flow,
                        target,
                        Edge::Branch(Branch::numbered(i, Branch::Route)),
                    );
                }
                if let Some(target) = &switch.otherwise {
                    self.edge_to(from, flow, target, Edge::Branch(Branch::Unrouted));
                }
            }
            CellKind::Service(service) => {
                fall(self, Edge::Branch(Branch::Success));
                match &service.on_error {
                    Some(target) => self.edge_to(from, flow, target, Edge::Branch(Branch::Error)),
                    None => fall(self, Edge::Branch(Branch::Error)),
                }
            }
            CellKind::Handoff(_) => fall(self, Edge::Resume),
            CellKind::End(_) => {}
        }
    }
}
