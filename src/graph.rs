//! The cell graph: every cell of a bot as a node, every way control can move
//! between cells as a labelled edge, names already resolved.
//!
//! The petgraph structure is private; callers see [`CellId`]s, [`FlowId`]s
//! and [`Edge`]s. One extra node, the *exit*, stands for "the flow
//! completes": a cell that falls off the end of its flow has an edge to it.
//! A call (`jump … return: true`) has a [`Edge::Call`] into the callee and an
//! [`Edge::Return`] to the cell after it, which analyses follow only when the
//! callee can complete.

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::source::Span;

/// A node of the graph: a cell, or the exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellId(NodeIndex<u32>);

impl CellId {
    /// A dense index, for bitsets and tables sized [`Graph::node_count`].
    #[must_use]
    pub fn index(self) -> usize {
        self.0.index()
    }
}

/// A flow, by its position in the merged bot's flow list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u32);

impl FlowId {
    /// The id of the `index`th flow.
    ///
    /// # Panics
    /// At 2^32 flows or more (a bot's files cannot hold that many).
    #[must_use]
    pub fn new(index: usize) -> FlowId {
        FlowId(u32::try_from(index).expect("fewer than 2^32 flows"))
    }

    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The kind of a cell, without its data (which stays in the AST).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Answer,
    Input,
    Rule,
    Code,
    Jump,
    Intent,
    Service,
    Track,
    Handoff,
    End,
}

impl Kind {
    /// Cells after which a turn stops to wait for the user (or the host).
    #[must_use]
    pub fn waits(self) -> bool {
        match self {
            Kind::Input | Kind::Intent | Kind::Handoff => true,
            Kind::Answer
            | Kind::Rule
            | Kind::Code
            | Kind::Jump
            | Kind::Service
            | Kind::Track
            | Kind::End => false,
        }
    }
}

/// A cell node.
#[derive(Clone, Debug)]
pub struct Cell {
    pub flow: FlowId,
    /// Position in the flow's `cells` list.
    pub index: u32,
    pub kind: Kind,
    pub span: Span,
}

/// A choice a cell makes when it runs: which rule arm, intent route, input
/// outcome or service outcome it took. The same type labels the graph's
/// edges, is what a turn reports to its observer, and is what coverage
/// counts.
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
    /// An input got a value it rejects, and asks again (no edge: the cell
    /// stays where it is).
    Invalid,
    /// An input ran out of retries (`on_fail`).
    Fail,
    /// A service call succeeded.
    Success,
    /// A service call failed (`on_error`, or on to the next cell).
    Error,
}

impl Branch {
    /// The branch for the `n`th rule arm or intent route.
    ///
    /// # Panics
    /// At 2^32 arms or routes (a bot's files cannot hold that many).
    #[must_use]
    pub fn numbered(n: usize, make: fn(u32) -> Branch) -> Branch {
        make(u32::try_from(n).expect("fewer than 2^32 arms or routes in one cell"))
    }
}

/// How control moves along an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Edge {
    /// Falling through to the following cell, or `next:`.
    Next,
    /// One of the cell's choices (see [`Branch`]).
    Branch(Branch),
    /// A plain `jump`.
    Jump,
    /// A `jump … return: true` into the callee.
    Call,
    /// From a call to the cell after it, once the callee completes.
    Return,
    /// The host sent `resume` after a handoff.
    Resume,
}

impl Edge {
    /// True for edges taken at the start of a later turn (after a wait).
    #[must_use]
    pub fn crosses_turn(self) -> bool {
        matches!(
            self,
            Edge::Branch(
                Branch::Valid
                    | Branch::Invalid
                    | Branch::Fail
                    | Branch::Route(_)
                    | Branch::Unrouted
            ) | Edge::Resume
        )
    }
}

#[derive(Clone, Debug)]
enum Node {
    Cell(Cell),
    Exit,
}

/// What starts a flow without a jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Welcome,
    Fallback,
    Intent(usize),
    Entity(usize),
    /// The conversation waited too long for the user.
    Timeout,
}

/// A flow of the graph.
#[derive(Clone, Debug)]
pub struct Flow {
    pub name: String,
    pub span: Span,
    pub trigger: Option<Trigger>,
    /// The first cell, or the exit for an empty flow.
    pub entry: CellId,
    pub cells: Vec<CellId>,
}

/// The resolved cell graph of a bot.
#[derive(Debug)]
pub struct Graph {
    inner: DiGraph<Node, Edge, u32>,
    exit: CellId,
    flows: Vec<Flow>,
}

impl Default for Graph {
    fn default() -> Self {
        Graph::new()
    }
}

impl Graph {
    #[must_use]
    pub fn new() -> Graph {
        let mut graph = DiGraph::default();
        let exit = CellId(graph.add_node(Node::Exit));
        Graph {
            inner: graph,
            exit,
            flows: Vec::new(),
        }
    }

    // ---- building (used by the lowerer) ----------------------------------

    pub(crate) fn add_flow(&mut self, flow: Flow) -> FlowId {
        let id = FlowId(u32::try_from(self.flows.len()).expect("fewer than 4 billion flows"));
        self.flows.push(flow);
        id
    }

    pub(crate) fn flow_mut(&mut self, id: FlowId) -> &mut Flow {
        &mut self.flows[id.index()]
    }

    pub(crate) fn add_cell(&mut self, cell: Cell) -> CellId {
        CellId(self.inner.add_node(Node::Cell(cell)))
    }

    pub(crate) fn add_edge(&mut self, from: CellId, to: CellId, edge: Edge) {
        self.inner.add_edge(from.0, to.0, edge);
    }

    pub(crate) fn reserve(&mut self, cells: usize) {
        self.inner.reserve_nodes(cells);
        self.inner.reserve_edges(cells * 2);
    }

    // ---- reading -----------------------------------------------------------

    /// Bytes the graph's own tables take (petgraph nodes and edges, flow
    /// records), not counting the AST it refers to.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        // petgraph stores, per node, the weight and two edge-list heads; per
        // edge, the weight, two node indexes and two next-edge links.
        let nodes = self.inner.capacity().0 * (size_of::<Node>() + 2 * size_of::<u32>());
        let edges = self.inner.capacity().1 * (size_of::<Edge>() + 4 * size_of::<u32>());
        let flows = self.flows.capacity() * size_of::<Flow>()
            + self
                .flows
                .iter()
                .map(|f| f.name.capacity() + f.cells.capacity() * size_of::<CellId>())
                .sum::<usize>();
        nodes + edges + flows
    }

    /// The node standing for "the flow completes".
    #[must_use]
    pub fn exit(&self) -> CellId {
        self.exit
    }

    /// Nodes in the graph, exit included (for sizing tables by [`CellId::index`]).
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.inner.node_count()
    }

    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.inner.edge_count()
    }

    /// The cell at a node, or `None` for the exit.
    #[must_use]
    pub fn cell(&self, id: CellId) -> Option<&Cell> {
        match &self.inner[id.0] {
            Node::Cell(cell) => Some(cell),
            Node::Exit => None,
        }
    }

    /// Every cell, in the order they were added (flow by flow).
    pub fn cells(&self) -> impl Iterator<Item = (CellId, &Cell)> {
        self.inner
            .node_indices()
            .filter_map(|i| match &self.inner[i] {
                Node::Cell(c) => Some((CellId(i), c)),
                Node::Exit => None,
            })
    }

    #[must_use]
    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }

    #[must_use]
    pub fn flow(&self, id: FlowId) -> &Flow {
        &self.flows[id.index()]
    }

    /// The flow with this name (the first, if it is defined twice).
    #[must_use]
    pub fn flow_named(&self, name: &str) -> Option<FlowId> {
        self.flows
            .iter()
            .position(|f| f.name == name)
            .map(FlowId::new)
    }

    /// The edges leaving a node, in the order they were added.
    pub fn successors(&self, id: CellId) -> impl Iterator<Item = (Edge, CellId)> + '_ {
        let mut edges: Vec<_> = self
            .inner
            .edges(id.0)
            .map(|e| (e.id(), *e.weight(), CellId(e.target())))
            .collect();
        // petgraph lists a node's edges newest first; callers want source order.
        edges.sort_by_key(|(id, _, _)| *id);
        edges.into_iter().map(|(_, e, t)| (e, t))
    }

    /// Every edge as `(from, edge, to)`.
    pub fn edges(&self) -> impl Iterator<Item = (CellId, Edge, CellId)> + '_ {
        self.inner
            .edge_references()
            .map(|e| (CellId(e.source()), *e.weight(), CellId(e.target())))
    }

    /// The strongly connected components of the subgraph whose edges satisfy
    /// `keep`, as lists of nodes.
    ///
    /// petgraph's Kosaraju, not its Tarjan: Tarjan recurses once per node on
    /// a path, so a flow of 20,000 cells in a row overflows a 2 MiB thread
    /// stack (the server reloads bots on one); Kosaraju walks with explicit
    /// stacks.
    pub fn components(&self, keep: impl Fn(CellId, Edge, CellId) -> bool) -> Vec<Vec<CellId>> {
        let filtered = petgraph::visit::EdgeFiltered::from_fn(&self.inner, |e| {
            keep(CellId(e.source()), *e.weight(), CellId(e.target()))
        });
        petgraph::algo::kosaraju_scc(&filtered)
            .into_iter()
            .map(|c| c.into_iter().map(CellId).collect())
            .collect()
    }

    /// Whether a node has an edge to itself that satisfies `keep`.
    pub fn has_self_loop(&self, id: CellId, keep: impl Fn(Edge) -> bool) -> bool {
        self.inner
            .edges_connecting(id.0, id.0)
            .any(|e| keep(*e.weight()))
    }

    /// Every node reachable from `roots` along edges that satisfy `keep` (roots included).
    pub fn reachable(
        &self,
        roots: impl IntoIterator<Item = CellId>,
        keep: impl Fn(CellId, Edge, CellId) -> bool,
    ) -> Vec<bool> {
        let filtered = petgraph::visit::EdgeFiltered::from_fn(&self.inner, |e| {
            keep(CellId(e.source()), *e.weight(), CellId(e.target()))
        });
        let mut seen = vec![false; self.inner.node_count()];
        let mut dfs = petgraph::visit::Dfs::empty(&filtered);
        for root in roots {
            dfs.move_to(root.0);
            while let Some(n) = dfs.next(&filtered) {
                seen[n.index()] = true;
            }
        }
        seen
    }
}
