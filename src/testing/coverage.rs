//! Which cells and branches of a bot some conversations exercised.
//!
//! A [`Coverage`] is a turn's observer ([`crate::runtime::Observer`]): the
//! interpreter tells it each cell and branch when a host asks
//! ([`Bot::turn_covered`](crate::Bot::turn_covered)), as conversation tests
//! and `cellflow explore` do. A [`Report`] then compares what was hit with every
//! cell and branch the program has, per flow and in total.
//!
//! Branches are the choices a cell makes: each rule arm and the rule's
//! `else`; each route of an intent cell and its `else`; an input's valid
//! answer, its invalid answer (when it retries) and its `on_fail` (when it
//! can reject anything at all); a service call's success and `on_error`.

use std::collections::BTreeSet;

use crate::compile::{Cell, CellIndex, Kind, Program};
use crate::kinds::InputType;
use crate::source::{SourceMap, Span};

pub use crate::compile::Branch;

/// The branches a cell has.
#[must_use]
pub fn branches(cell: &Cell) -> Vec<Branch> {
    match &cell.kind {
        Kind::Rule { arms, .. } => (0..arms.len())
            .map(|n| Branch::numbered(n, Branch::Arm))
            .chain([Branch::Else])
            .collect(),
        Kind::Intent { routes, otherwise } => (0..routes.len())
            .map(|n| Branch::numbered(n, Branch::Route))
            .chain(otherwise.map(|_| Branch::Unrouted))
            .collect(),
        Kind::Input { input, .. } => {
            let rejects = input.ty != InputType::Text || input.min.is_some() || input.max.is_some();
            let mut branches = vec![Branch::Valid];
            if rejects {
                if input.retries > 0 {
                    branches.push(Branch::Invalid);
                }
                branches.push(Branch::Fail);
            }
            branches
        }
        Kind::Service { .. } => vec![Branch::Success, Branch::Error],
        _ => Vec::new(),
    }
}

/// A template read a variable that had no value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnsetRead {
    pub cell: CellIndex,
    /// The placeholder as written, e.g. `account.balance`.
    pub path: String,
}

/// What some turns exercised.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    cells: BTreeSet<CellIndex>,
    branches: BTreeSet<(CellIndex, Branch)>,
    unset: BTreeSet<UnsetRead>,
}

/// Coverage is what a turn's observer sees.
impl crate::runtime::Observer for Coverage {
    fn cell(&mut self, cell: CellIndex) {
        self.cells.insert(cell);
    }

    fn branch(&mut self, cell: CellIndex, branch: Branch) {
        self.branches.insert((cell, branch));
    }

    fn unset(&mut self, cell: CellIndex, path: &str) {
        self.unset.insert(UnsetRead {
            cell,
            path: path.to_owned(),
        });
    }
}

impl Coverage {
    #[must_use]
    pub fn new() -> Coverage {
        Coverage::default()
    }

    /// Adds what another run exercised.
    pub fn merge(&mut self, other: &Coverage) {
        self.cells.extend(&other.cells);
        self.branches.extend(&other.branches);
        self.unset.extend(other.unset.iter().cloned());
    }

    /// Whether this hit a cell or branch `other` did not.
    #[must_use]
    pub fn adds_to(&self, other: &Coverage) -> bool {
        !self.cells.is_subset(&other.cells) || !self.branches.is_subset(&other.branches)
    }

    #[must_use]
    pub fn has_cell(&self, cell: CellIndex) -> bool {
        self.cells.contains(&cell)
    }

    #[must_use]
    pub fn has_branch(&self, cell: CellIndex, branch: Branch) -> bool {
        self.branches.contains(&(cell, branch))
    }

    /// Placeholders that rendered with no value.
    pub fn unset_reads(&self) -> impl Iterator<Item = &UnsetRead> {
        self.unset.iter()
    }

    /// Compares what was hit with everything the program has.
    #[must_use]
    pub fn report(&self, program: &Program) -> Report {
        let mut flows: Vec<FlowCoverage> = program
            .flows
            .iter()
            .map(|f| FlowCoverage {
                name: f.name.to_string(),
                ..FlowCoverage::default()
            })
            .collect();
        let mut missed = Vec::new();
        for (index, cell) in program.cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            let index = CellIndex::new(index);
            let flow = &mut flows[cell.flow.position()];
            flow.cells.total += 1;
            if self.cells.contains(&index) {
                flow.cells.hit += 1;
            } else {
                missed.push(Missed {
                    cell: index,
                    branch: None,
                });
            }
            for branch in branches(cell) {
                flow.branches.total += 1;
                if self.branches.contains(&(index, branch)) {
                    flow.branches.hit += 1;
                } else if self.cells.contains(&index) {
                    // An unreached cell is listed once, not once per branch.
                    missed.push(Missed {
                        cell: index,
                        branch: Some(branch),
                    });
                }
            }
        }
        let mut total = FlowCoverage {
            name: "total".into(),
            ..FlowCoverage::default()
        };
        for flow in &flows {
            total.cells.add(flow.cells);
            total.branches.add(flow.branches);
        }
        Report {
            flows,
            total,
            missed,
        }
    }
}

/// Hit out of total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ratio {
    pub hit: usize,
    pub total: usize,
}

impl Ratio {
    fn add(&mut self, other: Ratio) {
        self.hit += other.hit;
        self.total += other.total;
    }

    /// The share hit, in percent (100 when there is nothing to hit).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn percent(self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            self.hit as f64 * 100.0 / self.total as f64
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct FlowCoverage {
    pub name: String,
    pub cells: Ratio,
    pub branches: Ratio,
}

/// A cell never reached (`branch: None`), or a reached cell's branch never taken.
#[derive(Clone, Copy, Debug)]
pub struct Missed {
    pub cell: CellIndex,
    pub branch: Option<Branch>,
}

/// Coverage per flow and in total, with what was missed.
#[derive(Clone, Debug)]
pub struct Report {
    pub flows: Vec<FlowCoverage>,
    pub total: FlowCoverage,
    pub missed: Vec<Missed>,
}

impl Report {
    /// Cells and branches together, in percent.
    #[must_use]
    pub fn combined_percent(&self) -> f64 {
        let mut all = self.total.cells;
        all.add(self.total.branches);
        all.percent()
    }

    /// The report as text: a table per flow, the total, then what was never
    /// reached with its file and line.
    #[must_use]
    pub fn render(&self, program: &Program, sources: &SourceMap) -> String {
        use std::fmt::Write as _;
        let width = self
            .flows
            .iter()
            .map(|f| f.name.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let ratio = |r: Ratio| format!("{:>4}/{:<4} {:>5.1}%", r.hit, r.total, r.percent());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:width$}  {:<16}  {:<16}",
            "flow", "cells", "branches"
        );
        for flow in self.flows.iter().chain([&self.total]) {
            let _ = writeln!(
                out,
                "{:width$}  {}  {}",
                flow.name,
                ratio(flow.cells),
                ratio(flow.branches)
            );
        }
        if !self.missed.is_empty() {
            out.push_str("never reached:\n");
            for missed in &self.missed {
                let cell = program.cell(missed.cell);
                let _ = writeln!(
                    out,
                    "  {}  {}",
                    location(cell.span, sources),
                    describe(program, missed.cell, missed.branch)
                );
            }
        }
        out
    }
}

/// `file:line` of a span, or `?` when the bot came without sources.
#[must_use]
pub fn location(span: Span, sources: &SourceMap) -> String {
    match (span.file(), span.range()) {
        (Some(file), Some(range)) if sources.iter().any(|(id, _)| id == file) => {
            let source = sources.get(file);
            let (line, _) = source.line_col(range.start);
            format!("{}:{line}", source.name())
        }
        _ => "?".into(),
    }
}

/// A cell as `flow.id` or `flow#position`, with its kind.
#[must_use]
pub fn cell_name(program: &Program, index: CellIndex) -> String {
    let cell = program.cell(index);
    let flow = &program.flow_at(cell.flow).name;
    match &cell.id {
        Some(id) => format!("{flow}.{id}"),
        None => format!("{flow}#{}", cell.position + 1),
    }
}

/// What a missed item is, in words: `the cell pizza.size (input)` or
/// `pizza.size: an invalid answer`.
#[must_use]
pub fn describe(program: &Program, index: CellIndex, branch: Option<Branch>) -> String {
    let cell = program.cell(index);
    let name = cell_name(program, index);
    let Some(branch) = branch else {
        return format!("{name} ({})", crate::compile::kind_name(&cell.kind));
    };
    let what = match (branch, &cell.kind) {
        (Branch::Arm(i), _) => format!("rule arm {}", i + 1),
        (Branch::Else, _) => "rule else".to_owned(),
        (Branch::Route(i), Kind::Intent { routes, .. }) => {
            let intent = routes
                .get(i as usize)
                .map(|(intent, _)| program.intent(*intent))
                .map_or("?", |intent| intent.name.as_str());
            format!("route `{intent}`")
        }
        (Branch::Route(i), _) => format!("route {}", i + 1),
        (Branch::Unrouted, _) => "intent else".to_owned(),
        (Branch::Valid, _) => "a valid answer".to_owned(),
        (Branch::Invalid, _) => "an invalid answer (asked again)".to_owned(),
        (Branch::Fail, _) => "on_fail (out of retries)".to_owned(),
        (Branch::Success, _) => "a successful call".to_owned(),
        (Branch::Error, _) => "on_error (a failed call)".to_owned(),
    };
    format!("{name}: {what}")
}
