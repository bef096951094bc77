//! `[[metrics]]` and `[[triggers]]`: queries per source kind, baselines,
//! thresholds, data policies, and the references between them.

use std::collections::HashSet;
use std::time::Duration;

use toml::{Spanned, Value};

use super::error::Ctx;
use super::raw::{RawMetric, RawTrigger};
use super::values::R;
use crate::plan::{
    BadDirection, Baseline, BaselineWhenEmpty, Metric, MetricQuery, MinTraffic, NoDataAction,
    NoDataPolicy, ProbeField, Source, SourceKind, Threshold, Trigger, TriggerAction,
};
use crate::template::Context;

/// Defaults documented in config.example.toml.
pub const DEFAULT_NO_DATA: NoDataPolicy = NoDataPolicy {
    action: NoDataAction::Hold,
    after: 3,
};
pub const DEFAULT_CONSECUTIVE: u32 = 3;
/// Most polls `min_samples`, `no_data.after` and `consecutive` may count: a
/// thousand polls is over 16 minutes at the fastest interval; a count
/// beyond that is a typo, and a rule that never fires.
const MAX_COUNT: i64 = 1000;

pub(crate) fn build_metrics(
    ctx: &Ctx,
    raw: &[Spanned<RawMetric>],
    sources: &[Source],
) -> R<Vec<Metric>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for m in raw {
        let id = m.get_ref().id.get_ref();
        if !seen.insert(id.clone()) {
            return Err(ctx.err(
                m.get_ref().id.span(),
                format!("duplicate metric id \"{id}\""),
                "give each [[metrics]] a unique `id`",
            ));
        }
        out.push(build_metric(ctx, m, sources)?);
    }
    super::kinds::check_references(ctx, raw, &out)?;
    // min_traffic refers to other metrics: check once all are known.
    for (m, raw_m) in out.iter().zip(raw) {
        if let (Some(mt), Some(raw_mt)) = (&m.min_traffic, &raw_m.get_ref().min_traffic) {
            let span = raw_mt.get_ref().metric.span();
            if !seen.contains(&mt.metric) {
                return Err(ctx.err(
                    span,
                    format!(
                        "min_traffic of metric \"{}\" names unknown metric \"{}\"",
                        m.id, mt.metric
                    ),
                    format!(
                        "use one of the metric ids: {}",
                        list(out.iter().map(|m| m.id.as_str()))
                    ),
                ));
            }
            if mt.metric == m.id {
                return Err(ctx.err(
                    span,
                    format!("metric \"{}\" uses itself as its min_traffic", m.id),
                    "name the metric that measures the canary's request rate",
                ));
            }
        }
    }
    Ok(out)
}

fn build_metric(ctx: &Ctx, m: &Spanned<RawMetric>, sources: &[Source]) -> R<Metric> {
    let r = m.get_ref();
    let id = metric_id(ctx, r)?;
    let source = metric_source(ctx, r, &id, sources)?;
    let query = query(ctx, r, source)?;
    let is_prom = matches!(source.kind, SourceKind::Prometheus(_));
    let baseline = match &r.baseline {
        Some(b) => baseline(ctx, b, is_prom)?,
        None if is_prom => Baseline::Cohort,
        None => Baseline::None,
    };
    let bad = ctx.pick(
        "bad",
        &r.bad,
        &[("up", BadDirection::Up), ("down", BadDirection::Down)],
    )?;
    let threshold = threshold(ctx, r, &id, &baseline)?;
    let display_scale = display_scale(ctx, r)?;
    let min_samples = match &r.min_samples {
        Some(v) => u32::try_from(ctx.int_in("min_samples", v, 1, MAX_COUNT)?).unwrap_or(1),
        None => 1,
    };
    let min_traffic = match &r.min_traffic {
        Some(mt) => {
            let mt = mt.get_ref();
            Some(MinTraffic {
                metric: mt.metric.get_ref().clone(),
                at_least: ctx.finite("at_least", &mt.at_least)?,
            })
        }
        None => None,
    };
    let no_data = no_data(ctx, r)?;
    let kinds = super::kinds::build_kinds(ctx, r, &id, bad)?;
    Ok(Metric {
        kinds,
        name: r
            .name
            .as_ref()
            .map_or_else(|| id.clone(), |n| n.get_ref().clone()),
        id,
        source: source.name.clone(),
        query,
        baseline,
        unit: r
            .unit
            .as_ref()
            .map(|u| u.get_ref().clone())
            .unwrap_or_default(),
        display_scale,
        bad,
        threshold,
        min_samples,
        min_traffic,
        no_data,
        from_weight: r
            .from_weight
            .as_ref()
            .map(|w| ctx.int_in("from_weight", w, 0, 100))
            .transpose()?
            .map(|w| u8::try_from(w).unwrap_or(0)),
        baseline_when_empty: match &r.baseline_when_empty {
            Some(b) => ctx.pick(
                "baseline_when_empty",
                b,
                &[
                    ("frozen", BaselineWhenEmpty::Frozen),
                    ("no_data", BaselineWhenEmpty::NoData),
                ],
            )?,
            None => BaselineWhenEmpty::default(),
        },
    })
}

/// The metric's `id`, checked to be a simple name.
fn metric_id(ctx: &Ctx, r: &RawMetric) -> R<String> {
    let id = r.id.get_ref().clone();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ctx.err(
            r.id.span(),
            format!("metric id \"{id}\" is not a simple name"),
            "use letters, digits, '_' and '-' (e.g. \"error_rate\")",
        ));
    }
    Ok(id)
}

/// The source the metric names, which must be defined.
fn metric_source<'s>(ctx: &Ctx, r: &RawMetric, id: &str, sources: &'s [Source]) -> R<&'s Source> {
    sources
        .iter()
        .find(|s| s.name == *r.source.get_ref())
        .ok_or_else(|| {
            ctx.err(
                r.source.span(),
                format!(
                    "metric \"{id}\" names unknown source \"{}\"",
                    r.source.get_ref()
                ),
                if sources.is_empty() {
                    "define it as a [sources.NAME] table".to_string()
                } else {
                    format!(
                        "define [sources.{}] or use one of: {}",
                        r.source.get_ref(),
                        list(sources.iter().map(|s| s.name.as_str()))
                    )
                },
            )
        })
}

/// The threshold's bounds; a ratio must be above zero, and a relative
/// bound (ratio/delta) needs a baseline.
fn threshold(ctx: &Ctx, r: &RawMetric, id: &str, baseline: &Baseline) -> R<Threshold> {
    let Some(t) = &r.threshold else {
        return Ok(Threshold::default());
    };
    let t = t.get_ref();
    let get =
        |key: &str, v: &Option<Spanned<f64>>| v.as_ref().map(|v| ctx.finite(key, v)).transpose();
    let threshold = Threshold {
        limit: get("limit", &t.limit)?,
        ratio: get("ratio", &t.ratio)?,
        delta: get("delta", &t.delta)?,
        slo: get("slo", &t.slo)?,
    };
    if let Some(ratio) = &t.ratio {
        if *ratio.get_ref() <= 0.0 {
            return Err(ctx.err(
                ratio.span(),
                format!("ratio {} of metric \"{id}\" is not above zero", ratio.get_ref()),
                "a ratio compares canary / baseline: use e.g. 2.0 (bad = \"up\") or 0.5 (bad = \"down\")",
            ));
        }
    }
    if matches!(baseline, Baseline::None) {
        if let Some(span) = t.ratio.as_ref().or(t.delta.as_ref()).map(Spanned::span) {
            return Err(ctx.err(
                span,
                format!("metric \"{id}\" has a relative threshold (ratio/delta) but baseline = \"none\""),
                "set a baseline (\"cohort\", { query = ... }, { value = ... }, { pre_deploy = \"15m\" }) or use `limit`",
            ));
        }
    }
    Ok(threshold)
}

fn display_scale(ctx: &Ctx, r: &RawMetric) -> R<f64> {
    let Some(v) = &r.display_scale else {
        return Ok(1.0);
    };
    let x = ctx.finite("display_scale", v)?;
    if x == 0.0 {
        return Err(ctx.err(
            v.span(),
            "`display_scale` is 0",
            "use 1 for raw values, 100 for ratio → %",
        ));
    }
    Ok(x)
}

/// What to do when the metric has no data, and after how many polls.
fn no_data(ctx: &Ctx, r: &RawMetric) -> R<NoDataPolicy> {
    let Some(nd) = &r.no_data else {
        return Ok(DEFAULT_NO_DATA);
    };
    let nd = nd.get_ref();
    Ok(NoDataPolicy {
        action: match &nd.action {
            Some(a) => ctx.pick(
                "no_data action",
                a,
                &[
                    ("hold", NoDataAction::Hold),
                    ("pause", NoDataAction::Pause),
                    ("rollback", NoDataAction::Rollback),
                ],
            )?,
            None => DEFAULT_NO_DATA.action,
        },
        after: match &nd.after {
            Some(v) => u32::try_from(ctx.int_in("after", v, 1, MAX_COUNT)?)
                .unwrap_or(DEFAULT_NO_DATA.after),
            None => DEFAULT_NO_DATA.after,
        },
    })
}

/// The one query field that matches the source's kind.
fn query(ctx: &Ctx, r: &RawMetric, source: &Source) -> R<MetricQuery> {
    let (kind, wanted) = match source.kind {
        SourceKind::Prometheus(_) => ("prometheus", "query"),
        SourceKind::HttpJson(_) => ("http_json", "pointer"),
        SourceKind::Probe { .. } => ("probe", "field"),
        SourceKind::Command => ("command", "command"),
    };
    let example = |key: &str| match key {
        "query" => "`query = 'sum(rate(...{service=\"{service}\",version=\"{cohort}\"}[1m]))'`",
        "pointer" => "`pointer = \"/data/error_rate\"`",
        "field" => "`field = \"up\"` or `field = \"latency_ms\"`",
        _ => "`command = [\"./metric.sh\", \"arg\"]`",
    };
    let present = [
        ("query", r.query.as_ref().map(Spanned::span)),
        ("pointer", r.pointer.as_ref().map(Spanned::span)),
        ("field", r.field.as_ref().map(Spanned::span)),
        ("command", r.command.as_ref().map(Spanned::span)),
    ];
    for (key, span) in &present {
        if let Some(span) = span {
            if *key != wanted {
                return Err(ctx.err(
                    span.clone(),
                    format!(
                        "`{key}` does not fit source \"{}\", which is {kind}",
                        source.name
                    ),
                    format!("a {kind} source reads {}", example(wanted)),
                ));
            }
        }
    }
    let missing = || {
        ctx.err(
            r.id.span(),
            format!(
                "metric \"{}\" has no `{wanted}` for its {kind} source \"{}\"",
                r.id.get_ref(),
                source.name
            ),
            format!("add {}", example(wanted)),
        )
    };
    Ok(match wanted {
        "query" => {
            let q = r.query.as_ref().ok_or_else(missing)?;
            ctx.template("query", q.get_ref(), q.span(), Context::Metric)?;
            MetricQuery::Promql(q.get_ref().clone())
        }
        "pointer" => {
            let p = r.pointer.as_ref().ok_or_else(missing)?;
            if !(p.get_ref().is_empty() || p.get_ref().starts_with('/')) {
                return Err(ctx.err(
                    p.span(),
                    format!("JSON pointer \"{}\" must start with '/'", p.get_ref()),
                    "write e.g. \"/data/error_rate\"",
                ));
            }
            ctx.template("pointer", p.get_ref(), p.span(), Context::Metric)?;
            MetricQuery::JsonPointer(p.get_ref().clone())
        }
        "field" => MetricQuery::Probe(ctx.pick(
            "field",
            r.field.as_ref().ok_or_else(missing)?,
            &[
                ("up", ProbeField::Up),
                ("latency_ms", ProbeField::LatencyMs),
            ],
        )?),
        _ => {
            let c = r.command.as_ref().ok_or_else(missing)?;
            if c.get_ref().first().is_none_or(|a| a.get_ref().is_empty()) {
                return Err(ctx.err(
                    c.span(),
                    "empty `command`",
                    "give the program and its arguments: [\"./metric.sh\", \"arg\"]",
                ));
            }
            for a in c.get_ref() {
                ctx.template("command", a.get_ref(), a.span(), Context::Metric)?;
            }
            MetricQuery::Command(c.get_ref().iter().map(|a| a.get_ref().clone()).collect())
        }
    })
}

fn baseline(ctx: &Ctx, b: &Spanned<Value>, is_prom: bool) -> R<Baseline> {
    let help = "baseline is \"cohort\", \"none\", { query = \"...\" }, { value = 0.01 } or { pre_deploy = \"15m\" }";
    let prom_only = |what: &str| {
        ctx.err(
            b.span(),
            format!("baseline {what} needs a prometheus source"),
            "use { value = ... } or \"none\" for this source, or read the metric from Prometheus",
        )
    };
    let base = match b.get_ref() {
        Value::String(s) if s == "cohort" => Baseline::Cohort,
        Value::String(s) if s == "none" => Baseline::None,
        Value::Table(t) if t.len() == 1 => {
            let (key, v) = t
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .unwrap_or(("", v_dummy()));
            match (key, v) {
                ("query", Value::String(q)) => {
                    ctx.template("baseline query", q, b.span(), Context::Metric)?;
                    Baseline::Query(q.clone())
                }
                ("value", Value::Float(x)) if x.is_finite() => Baseline::Value(*x),
                ("value", Value::Integer(n)) => Baseline::Value(*n as f64),
                ("pre_deploy", v) => Baseline::PreDeploy(ctx.duration_in(
                    "pre_deploy",
                    &Spanned::new(b.span(), v.clone()),
                    Duration::from_secs(60),
                    Duration::from_secs(24 * 3600),
                )?),
                _ => {
                    return Err(ctx.err(
                        b.span(),
                        format!("unknown baseline form `{key} = {v}`"),
                        help,
                    ));
                }
            }
        }
        other => return Err(ctx.err(b.span(), format!("unknown baseline {other}"), help)),
    };
    match base {
        Baseline::Cohort if !is_prom => Err(prom_only("\"cohort\"")),
        Baseline::Query(_) if !is_prom => Err(prom_only("{ query = ... }")),
        Baseline::PreDeploy(_) if !is_prom => Err(prom_only("{ pre_deploy = ... }")),
        other => Ok(other),
    }
}

fn v_dummy() -> &'static Value {
    static V: Value = Value::Boolean(false);
    &V
}

pub(crate) fn build_triggers(
    ctx: &Ctx,
    raw: &[Spanned<RawTrigger>],
    metrics: &[Metric],
) -> R<Vec<Trigger>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in raw {
        let r = t.get_ref();
        let name = r.name.get_ref().clone();
        if !seen.insert(name.clone()) {
            return Err(ctx.err(
                r.name.span(),
                format!("duplicate trigger name \"{name}\""),
                "give each [[triggers]] a unique `name`",
            ));
        }
        let metric = metrics
            .iter()
            .find(|m| m.id == *r.metric.get_ref())
            .ok_or_else(|| {
                ctx.err(
                    r.metric.span(),
                    format!(
                        "trigger \"{name}\" names unknown metric \"{}\"",
                        r.metric.get_ref()
                    ),
                    format!(
                        "use one of the metric ids: {}",
                        list(metrics.iter().map(|m| m.id.as_str()))
                    ),
                )
            })?;
        let t = &metric.threshold;
        if t.limit.is_none() && t.ratio.is_none() && t.delta.is_none() {
            return Err(ctx.err(
                r.metric.span(),
                format!("trigger \"{name}\" watches metric \"{}\", which has no limit, ratio or delta, so it can never fire", metric.id),
                format!("give metric \"{}\" a `threshold = {{ limit = ... }}` (or ratio/delta), or remove the trigger", metric.id),
            ));
        }
        out.push(Trigger {
            name,
            metric: metric.id.clone(),
            consecutive: match &r.consecutive {
                Some(v) => u32::try_from(ctx.int_in("consecutive", v, 1, MAX_COUNT)?)
                    .unwrap_or(DEFAULT_CONSECUTIVE),
                None => DEFAULT_CONSECUTIVE,
            },
            action: match &r.action {
                Some(a) => ctx.pick(
                    "trigger action",
                    a,
                    &[
                        ("rollback", TriggerAction::Rollback),
                        ("pause", TriggerAction::Pause),
                    ],
                )?,
                None => TriggerAction::Rollback,
            },
        });
    }
    Ok(out)
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = names.map(|n| format!("\"{n}\"")).collect();
    if v.is_empty() {
        "(none defined)".into()
    } else {
        v.join(", ")
    }
}
