//! Range queries when a rollout starts: history to backfill the charts, and
//! the `pre_deploy` baseline (the canary query's mean over a window before
//! the start).

use tokio::task::JoinSet;

use super::http::HttpEndpoint;
use super::prometheus::Prometheus;
use super::render_query;
use crate::engine::{Cohort, Reading, Timestamp};
use crate::plan::{Baseline, MetricQuery, Plan, SourceKind};

/// One backfilled series: metric id, cohort, points (NaN → `None`).
pub type Backfilled = (String, Cohort, Vec<(Timestamp, Option<f64>)>);

/// The Prometheus client behind a metric, if its source is Prometheus and
/// can start.
fn prometheus_for(plan: &Plan, metric_source: &str) -> Option<Result<Prometheus, Reading>> {
    let source = plan.source(metric_source)?;
    let SourceKind::Prometheus(target) = &source.kind else {
        return None;
    };
    Some(
        HttpEndpoint::new(&source.name, target, source.timeout)
            .map(|ep| Prometheus::new(ep.with_max_response(source.max_response)))
            .map_err(|e| Reading::ProviderError {
                message: e.to_string(),
                code: Some("config".into()),
            }),
    )
}

/// Fetches history from `start` to `end` every `step_s` seconds for every
/// Prometheus metric, canary and (for `cohort` and `query` baselines)
/// baseline, concurrently. A series whose query fails is left out: live
/// polling reports the error as it happens.
pub async fn backfill(
    plan: &Plan,
    service: &str,
    start: Timestamp,
    end: Timestamp,
    step_s: u64,
) -> Vec<Backfilled> {
    let mut set = JoinSet::new();
    for (index, m) in plan.metrics.iter().enumerate() {
        let MetricQuery::Promql(q) = &m.query else {
            continue;
        };
        let Some(Ok(prom)) = prometheus_for(plan, &m.source) else {
            continue;
        };
        let mut queries = vec![(Cohort::Canary, render_query(q, service, Cohort::Canary))];
        match &m.baseline {
            Baseline::Cohort => {
                queries.push((Cohort::Baseline, render_query(q, service, Cohort::Baseline)))
            }
            Baseline::Query(bq) => queries.push((
                Cohort::Baseline,
                render_query(bq, service, Cohort::Baseline),
            )),
            _ => {}
        }
        for (cohort, promql) in queries {
            let (prom, id) = (prom.clone(), m.id.clone());
            set.spawn(async move {
                let points = prom.query_range(&promql, start, end, step_s).await;
                (index, id, cohort, points)
            });
        }
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok((index, id, cohort, Ok(points))) = done {
            out.push((index, id, cohort, points));
        }
    }
    // Plan order, canary before baseline, whatever order they finished in.
    out.sort_by_key(|(i, _, c, _)| (*i, *c == Cohort::Baseline));
    out.into_iter().map(|(_, id, c, p)| (id, c, p)).collect()
}

/// The mean of `points`, ignoring gaps; `None` when there is no value.
pub fn mean(points: &[(Timestamp, Option<f64>)]) -> Option<f64> {
    let values: Vec<f64> = points.iter().filter_map(|(_, v)| *v).collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// For every metric whose baseline is `pre_deploy = window`, the canary
/// query's mean over `[start - window, start]`, as a baseline reading to feed
/// the engine (`Input::Sample` with `Cohort::Baseline`). No points → NoData;
/// a failed query → ProviderError.
pub async fn pre_deploy_baseline(
    plan: &Plan,
    service: &str,
    start: Timestamp,
) -> Vec<(String, Reading)> {
    let mut set = JoinSet::new();
    for (index, m) in plan.metrics.iter().enumerate() {
        let Baseline::PreDeploy(window) = &m.baseline else {
            continue;
        };
        let MetricQuery::Promql(q) = &m.query else {
            continue;
        };
        let prom = match prometheus_for(plan, &m.source) {
            Some(Ok(p)) => p,
            Some(Err(r)) => {
                set.spawn(std::future::ready((index, m.id.clone(), r)));
                continue;
            }
            None => continue,
        };
        // About 240 points over the window, never finer than the poll interval.
        let interval_s = plan.interval_of(&m.id).as_secs().max(1);
        let step_s = (window.as_secs() / 240).max(interval_s);
        let from = Timestamp(start.0 - window.as_millis() as i64);
        let promql = render_query(q, service, Cohort::Canary);
        let (id, w) = (m.id.clone(), window.as_secs());
        set.spawn(async move {
            let reading = match prom.query_range(&promql, from, start, step_s).await {
                Err(r) => r,
                Ok(points) => match mean(&points) {
                    Some(value) => Reading::value(value),
                    None => Reading::NoData {
                        why: format!("no data in the {w} s before the rollout started"),
                    },
                },
            };
            (index, id, reading)
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(r) = done {
            out.push(r);
        }
    }
    out.sort_by_key(|(i, _, _)| *i);
    out.into_iter().map(|(_, id, r)| (id, r)).collect()
}
