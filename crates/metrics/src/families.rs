//! The metric families a node has, each registered once.

use std::borrow::Cow;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge as GaugeMetric;
use prometheus_client::registry::Registry;

/// A finished request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub service: &'static str,
    pub door: &'static str,
    pub kind: Cow<'static, str>,
    pub outcome: &'static str,
}

/// A request's latency labels (no outcome: a histogram per outcome would
/// multiply the series for little).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct LatencyLabels {
    pub service: &'static str,
    pub door: &'static str,
    pub kind: Cow<'static, str>,
}

/// A front door's connections.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DoorLabels {
    pub service: &'static str,
    pub door: &'static str,
}

/// Something that happened, counted.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EventLabels {
    pub service: &'static str,
    pub event: &'static str,
}

type Labels = Vec<(&'static str, String)>;

/// The gauges a node sets at scrape time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gauge {
    /// `convene_election_term`: the term this node last saw.
    ElectionTerm,
    /// `convene_election_coordinator{coordinator}`: 1 for the node this one
    /// follows (none while it knows of no coordinator).
    Coordinator,
    /// `convene_live_nodes`: the nodes this one believes up, itself included.
    LiveNodes,
    /// `convene_queue_depth{queue}`: work waiting (files sync, lock waiters...).
    QueueDepth,
    /// `convene_db_pool_connections{db, state}`: a database pool's
    /// connections, idle or in use.
    DbPool,
    /// `convene_ready`: 1 when `/readyz` would answer 200.
    Ready,
}

pub(crate) struct Families {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<LatencyLabels, crate::latency::Latency>,
    pub connections_open: Family<DoorLabels, GaugeMetric>,
    pub connections: Family<DoorLabels, Counter>,
    pub events: Family<EventLabels, Counter>,
    gauges: [(Gauge, Family<Labels, GaugeMetric>); 3],
    plain: [(Gauge, GaugeMetric); 3],
}

impl Families {
    pub fn register(registry: &mut Registry) -> Families {
        let families = Families {
            requests: Family::default(),
            latency: Family::default(),
            connections_open: Family::default(),
            connections: Family::default(),
            events: Family::default(),
            gauges: [
                (Gauge::Coordinator, Family::default()),
                (Gauge::QueueDepth, Family::default()),
                (Gauge::DbPool, Family::default()),
            ],
            plain: [
                (Gauge::ElectionTerm, GaugeMetric::default()),
                (Gauge::LiveNodes, GaugeMetric::default()),
                (Gauge::Ready, GaugeMetric::default()),
            ],
        };
        registry.register(
            "requests",
            "Requests finished, by service, front door, kind and outcome",
            families.requests.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "How long requests took, by service, front door and kind",
            prometheus_client::registry::Unit::Seconds,
            families.latency.clone(),
        );
        registry.register(
            "connections_open",
            "Connections open now, by service and front door",
            families.connections_open.clone(),
        );
        registry.register(
            "connections",
            "Connections accepted, by service and front door",
            families.connections.clone(),
        );
        registry.register(
            "events",
            "Things that happened, by service and event (messages relayed, reply-cache hits, datagrams dropped...)",
            families.events.clone(),
        );
        for (gauge, family) in &families.gauges {
            let (name, help) = gauge.describe();
            registry.register(name, help, family.clone());
        }
        for (gauge, metric) in &families.plain {
            let (name, help) = gauge.describe();
            registry.register(name, help, metric.clone());
        }
        families
    }

    /// The gauge `gauge` with `labels` (ignored by a gauge without labels).
    pub fn gauge(&self, gauge: Gauge, labels: &[(&'static str, &str)]) -> GaugeMetric {
        if let Some((_, metric)) = self.plain.iter().find(|(g, _)| *g == gauge) {
            return metric.clone();
        }
        let labels: Labels = labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.family(gauge)
            .map(|family| family.get_or_create_owned(&labels))
            .unwrap_or_default()
    }

    pub fn clear(&self, gauge: Gauge) {
        if let Some(family) = self.family(gauge) {
            family.clear();
        }
    }

    fn family(&self, gauge: Gauge) -> Option<&Family<Labels, GaugeMetric>> {
        self.gauges
            .iter()
            .find(|(g, _)| *g == gauge)
            .map(|(_, family)| family)
    }
}

impl Gauge {
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Gauge::ElectionTerm => ("election_term", "The election term this node last saw"),
            Gauge::Coordinator => (
                "election_coordinator",
                "1 for the coordinator this node follows",
            ),
            Gauge::LiveNodes => ("live_nodes", "Nodes this node believes up, itself included"),
            Gauge::QueueDepth => ("queue_depth", "Work waiting, by queue"),
            Gauge::DbPool => (
                "db_pool_connections",
                "A database pool's connections, by database and state (idle, in_use)",
            ),
            Gauge::Ready => ("ready", "1 when /readyz answers 200"),
        }
    }
}
