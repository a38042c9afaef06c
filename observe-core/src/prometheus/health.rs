//! The health families: `ns_health_status`, `ns_health_check_status{check}`,
//! `ns_health_check_duration_seconds{check}`, `ns_db_pool_connections{pool,state}` and
//! `ns_db_pool_max_connections{pool}`, from the registries' cached results; a scrape
//! never runs a check.

use std::collections::BTreeMap;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::collector::WeakCollector;
use crate::health::{CheckReport, HealthRegistry, HealthStatus, aggregate_status};

#[derive(Debug)]
struct Names {
    status: String,
    check_status: String,
    check_duration: String,
    pool: String,
    pool_max: String,
}

impl Names {
    fn new(ns: &str) -> Self {
        Self {
            status: format!("{ns}_health_status"),
            check_status: format!("{ns}_health_check_status"),
            check_duration: format!("{ns}_health_check_duration"),
            pool: format!("{ns}_db_pool_connections"),
            pool_max: format!("{ns}_db_pool_max_connections"),
        }
    }
}

/// Encodes the results of the health registries attached to one collector, read
/// through [`HealthRegistry::attached_to`] and [`HealthRegistry::last_results`]: the
/// health module knows nothing of Prometheus. Registered on every collector's registry
/// (it writes nothing until a health registry is built on the collector); holds the
/// collector weakly, as the operations collector does.
#[derive(Debug)]
pub(crate) struct HealthCollector {
    collector: WeakCollector,
    names: Names,
}

impl HealthCollector {
    pub(crate) fn new(collector: WeakCollector, namespace: &str) -> Self {
        Self {
            collector,
            names: Names::new(namespace),
        }
    }
}

impl Collector for HealthCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(collector) = self.collector.upgrade() else {
            return Ok(());
        };
        let registries = HealthRegistry::attached_to(&collector);
        if registries.is_empty() {
            return Ok(());
        }
        // Several registries on one collector: their checks side by side, by name.
        let mut checks: BTreeMap<String, CheckReport> = BTreeMap::new();
        let mut overall: Option<HealthStatus> = None;
        for registry in &registries {
            let results = registry.last_results();
            // Nothing known before a first result (unless there are no checks at all).
            if !results.is_empty() || registry.check_names().next().is_none() {
                let status =
                    aggregate_status(results.values().map(|c| (c.result.status, c.critical)));
                overall = Some(overall.map_or(status, |o| o.max(status)));
            }
            checks.extend(results);
        }

        let n = &self.names;
        if let Some(status) = overall {
            encoder
                .encode_descriptor(
                    &n.status,
                    "Overall health from the last check results: 2 healthy, 1 degraded, 0 unhealthy.",
                    None,
                    MetricType::Gauge,
                )?
                .encode_gauge(&status.gauge_value())?;
        }
        if checks.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            &n.check_status,
            "Health of each check from its last result: 2 healthy, 1 degraded, 0 unhealthy.",
            None,
            MetricType::Gauge,
        )?;
        for (name, check) in &checks {
            let labels = [("check", name.as_str())];
            family
                .encode_family(&labels)?
                .encode_gauge(&check.result.status.gauge_value())?;
        }
        let mut family = encoder.encode_descriptor(
            &n.check_duration,
            "How long the last run of each check took.",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?;
        for (name, check) in &checks {
            let labels = [("check", name.as_str())];
            family
                .encode_family(&labels)?
                .encode_gauge(&check.result.duration.as_secs_f64())?;
        }

        let pools: Vec<_> = checks
            .iter()
            .filter_map(|(name, c)| Some((name, c.result.pool?)))
            .collect();
        if pools.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            &n.pool,
            "Open connections of each database pool, by state (idle or in_use).",
            None,
            MetricType::Gauge,
        )?;
        for (name, pool) in &pools {
            for (state, value) in [("idle", pool.idle), ("in_use", pool.in_use)] {
                let labels = [("pool", name.as_str()), ("state", state)];
                family
                    .encode_family(&labels)?
                    .encode_gauge(&i64::from(value))?;
            }
        }
        let mut family = encoder.encode_descriptor(
            &n.pool_max,
            "The most connections each database pool opens.",
            None,
            MetricType::Gauge,
        )?;
        for (name, pool) in &pools {
            let labels = [("pool", name.as_str())];
            family
                .encode_family(&labels)?
                .encode_gauge(&i64::from(pool.max))?;
        }
        Ok(())
    }
}
