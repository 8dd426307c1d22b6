//! Prometheus metrics of the server (`GET /metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

// Label sets are plain values: counting a request allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TurnLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StoreLabels {
    op: &'static str,
    outcome: &'static str,
}

pub(crate) struct Metrics {
    registry: Registry,
    /// HTTP responses by route and status.
    pub(crate) requests: Family<RequestLabels, Counter>,
    /// Turns run, by outcome (`ok`, `error` for a failed turn).
    pub(crate) turns: Family<TurnLabels, Counter>,
    /// Seconds per turn, store reads and writes included.
    pub(crate) turn_seconds: Histogram,
    /// Store operations by operation and outcome.
    pub(crate) store: Family<StoreLabels, Counter>,
    /// Conversations stored (set when scraped).
    pub(crate) sessions: Gauge,
    pub(crate) reloads: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("cellflow");
        let requests = Family::<RequestLabels, Counter>::default();
        let turns = Family::<TurnLabels, Counter>::default();
        let turn_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        let store = Family::<StoreLabels, Counter>::default();
        let sessions = Gauge::default();
        let reloads = Counter::default();
        registry.register(
            "http_requests",
            "HTTP responses by route and status",
            requests.clone(),
        );
        registry.register("turns", "Turns run, by outcome", turns.clone());
        registry.register(
            "turn_duration_seconds",
            "Time per turn, store reads and writes included",
            turn_seconds.clone(),
        );
        registry.register(
            "store_operations",
            "Session store operations by operation and outcome",
            store.clone(),
        );
        registry.register("sessions", "Conversations in the store", sessions.clone());
        registry.register("reloads", "Bot reloads", reloads.clone());
        Metrics {
            registry,
            requests,
            turns,
            turn_seconds,
            store,
            sessions,
            reloads,
        }
    }

    pub(crate) fn request(&self, route: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    pub(crate) fn store_op(&self, op: &'static str, outcome: &'static str) {
        self.store.get_or_create(&StoreLabels { op, outcome }).inc();
    }

    pub(crate) fn turn(&self, outcome: &'static str, seconds: f64) {
        self.turns.get_or_create(&TurnLabels { outcome }).inc();
        self.turn_seconds.observe(seconds);
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
