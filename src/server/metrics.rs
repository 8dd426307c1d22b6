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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FlowLabels {
    flow: String,
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct IntentLabels {
    intent: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EventLabels {
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct WebhookLabels {
    webhook: String,
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
    /// Flows started and completed, by flow.
    flows: Family<FlowLabels, Counter>,
    /// Messages routed by their intent, by intent.
    intents: Family<IntentLabels, Counter>,
    /// Analytics events, by name.
    events: Family<EventLabels, Counter>,
    /// Analytics events the events file could not take.
    pub(crate) events_dropped: Counter,
    /// Webhook delivery attempts, by webhook and outcome.
    webhooks: Family<WebhookLabels, Counter>,
    /// Inactivity timeouts run.
    pub(crate) timeouts: Counter,
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
        let flows = Family::<FlowLabels, Counter>::default();
        let intents = Family::<IntentLabels, Counter>::default();
        let events = Family::<EventLabels, Counter>::default();
        let events_dropped = Counter::default();
        let webhooks = Family::<WebhookLabels, Counter>::default();
        let timeouts = Counter::default();
        registry.register(
            "flow_events",
            "Flows started and completed, by flow",
            flows.clone(),
        );
        registry.register(
            "intent_matches",
            "Messages routed by their intent, by intent",
            intents.clone(),
        );
        registry.register(
            "analytics_events",
            "Analytics events (automatic and tracked), by name",
            events.clone(),
        );
        registry.register(
            "analytics_dropped",
            "Analytics events the events file could not take",
            events_dropped.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by webhook and outcome",
            webhooks.clone(),
        );
        registry.register("timeouts", "Inactivity timeouts run", timeouts.clone());
        Metrics {
            registry,
            requests,
            turns,
            turn_seconds,
            store,
            sessions,
            reloads,
            flows,
            intents,
            events,
            events_dropped,
            webhooks,
            timeouts,
        }
    }

    /// Counts a turn's analytics events. Label values are the bot's own
    /// flow, intent and event names, so their number is bounded by the bot.
    pub(crate) fn tracked(&self, events: &[crate::runtime::Tracked]) {
        for event in events {
            self.events
                .get_or_create(&EventLabels {
                    event: event.event.to_string(),
                })
                .inc();
            let flow = match event.event.as_str() {
                "flow_started" => "started",
                "flow_completed" => "completed",
                "intent_matched" => {
                    if let Some(intent) = event.properties.get("intent").and_then(|v| v.as_str()) {
                        self.intents
                            .get_or_create(&IntentLabels {
                                intent: intent.to_owned(),
                            })
                            .inc();
                    }
                    continue;
                }
                _ => continue,
            };
            self.flows
                .get_or_create(&FlowLabels {
                    flow: event.flow.to_string(),
                    event: flow,
                })
                .inc();
        }
    }

    pub(crate) fn delivery(&self, webhook: &str, outcome: &'static str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                webhook: webhook.to_owned(),
                outcome,
            })
            .inc();
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
