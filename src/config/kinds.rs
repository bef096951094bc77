//! `[metrics.burn]`, `[metrics.judge]`, `[metrics.sequential]` and the
//! plan's `[judge]`: the gate kinds beside the thresholds. Their settings
//! are the engine's own types (serde, `deny_unknown_fields`); this module
//! reads them from their tables, checks their ranges and the references
//! between metrics, and says where a mistake is.

use std::time::Duration;

use toml::{Spanned, Value};

use super::error::Ctx;
use super::raw::RawMetric;
use super::values::R;
use crate::engine::analysis::burn::BurnSettings;
use crate::engine::analysis::classifier::{Direction, JudgeSettings, ScoreThresholds};
use crate::engine::analysis::sequential::SequentialSettings;
use crate::engine::analysis::{ErrorCounts, GateKinds, JudgeGate, SequentialGate};
use crate::plan::{BadDirection, Baseline, Metric};

/// Defaults of `[metrics.judge]` beyond Kayenta's settings.
pub const JUDGE_MIN_SAMPLES: u32 = 10;
pub const JUDGE_MAX_SAMPLES: u32 = 600;
pub const JUDGE_EVERY: Duration = Duration::from_secs(10);

/// Keys of `[metrics.judge]` that are rampdeck's, not Kayenta's.
const JUDGE_OWN_KEYS: [&str; 3] = ["min_samples", "max_samples", "every"];
/// Keys of `[metrics.sequential]` besides the test's settings.
const SEQUENTIAL_OWN_KEYS: [&str; 2] = ["requests", "errors"];

pub(crate) fn build_kinds(ctx: &Ctx, r: &RawMetric, id: &str, bad: BadDirection) -> R<GateKinds> {
    let burn = match &r.burn {
        Some(v) => {
            let b: BurnSettings = settings(ctx, v, id, "burn", &[])?;
            b.validate().map_err(|e| {
                ctx.err(
                    v.span(),
                    format!("[metrics.burn] of metric \"{id}\": {e}"),
                    "see the burn-rate section of config.example.toml",
                )
            })?;
            Some(b)
        }
        None => None,
    };
    let judge = match &r.judge {
        Some(v) => Some(judge(ctx, v, id, bad)?),
        None => None,
    };
    let sequential = match &r.sequential {
        Some(v) => Some(sequential(ctx, v, id)?),
        None => None,
    };
    Ok(GateKinds {
        burn,
        judge,
        sequential,
    })
}

/// The engine's settings type from a table, leaving out `own` keys (read
/// by the caller). Serde's message names the bad key or value.
fn settings<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    v: &Spanned<Value>,
    id: &str,
    table: &str,
    own: &[&str],
) -> R<T> {
    let Value::Table(t) = v.get_ref() else {
        return Err(ctx.err(
            v.span(),
            format!("[metrics.{table}] of metric \"{id}\" must be a table"),
            format!("write `[metrics.{table}]` with its settings below, or `{table} = {{}}`"),
        ));
    };
    let mut t = t.clone();
    for k in own {
        t.remove(*k);
    }
    Value::Table(t).try_into().map_err(|e: toml::de::Error| {
        ctx.err(
            v.span(),
            format!(
                "[metrics.{table}] of metric \"{id}\": {}",
                e.message().trim()
            ),
            format!("see the `{table}` settings in config.example.toml"),
        )
    })
}

fn judge(ctx: &Ctx, v: &Spanned<Value>, id: &str, bad: BadDirection) -> R<JudgeGate> {
    let mut s: JudgeSettings = settings(ctx, v, id, "judge", &JUDGE_OWN_KEYS)?;
    let table = v.get_ref().as_table();
    let get = |k: &str| table.and_then(|t| t.get(k));
    if get("direction").is_none() {
        // The metric's `bad` is the direction the judge looks in.
        s.direction = match bad {
            BadDirection::Up => Direction::Up,
            BadDirection::Down => Direction::Down,
        };
    }
    s.validate().map_err(|e| {
        ctx.err(
            v.span(),
            format!("[metrics.judge] of metric \"{id}\": {e}"),
            "see the judge section of config.example.toml",
        )
    })?;
    let count = |k: &str, default: u32, lo: i64, hi: i64| -> R<u32> {
        match get(k) {
            None => Ok(default),
            Some(Value::Integer(n)) if (lo..=hi).contains(n) => Ok(u32::try_from(*n).unwrap_or(default)),
            Some(other) => Err(ctx.err(
                v.span(),
                format!("[metrics.judge] of metric \"{id}\": `{k}` = {other} is not a whole number from {lo} to {hi}"),
                format!("e.g. `{k} = {default}`"),
            )),
        }
    };
    let min_samples = count("min_samples", JUDGE_MIN_SAMPLES, 3, 10_000)?;
    let max_samples = count("max_samples", JUDGE_MAX_SAMPLES, 3, 100_000)?;
    if max_samples < min_samples {
        return Err(ctx.err(
            v.span(),
            format!(
                "[metrics.judge] of metric \"{id}\": max_samples {max_samples} < min_samples {min_samples}"
            ),
            "max_samples bounds the samples judged; make it at least min_samples",
        ));
    }
    let every = match get("every") {
        None => JUDGE_EVERY,
        Some(e) => {
            let spanned = Spanned::new(v.span(), e.clone());
            ctx.duration_in(
                "every",
                &spanned,
                Duration::from_secs(1),
                Duration::from_secs(24 * 3600),
            )?
        }
    };
    Ok(JudgeGate {
        settings: s,
        min_samples,
        max_samples,
        every,
    })
}

fn sequential(ctx: &Ctx, v: &Spanned<Value>, id: &str) -> R<SequentialGate> {
    let s: SequentialSettings = settings(ctx, v, id, "sequential", &SEQUENTIAL_OWN_KEYS)?;
    s.validate().map_err(|e| {
        ctx.err(
            v.span(),
            format!("[metrics.sequential] of metric \"{id}\": {e}"),
            "alpha in (0, 1), e.g. 0.05; concentration > 0, e.g. 30",
        )
    })?;
    let table = v.get_ref().as_table();
    let get = |k: &str| table.and_then(|t| t.get(k));
    let requests = match get("requests") {
        Some(Value::String(r)) => r.clone(),
        _ => {
            return Err(ctx.err(
                v.span(),
                format!("[metrics.sequential] of metric \"{id}\" needs `requests`"),
                "name the metric whose canary and baseline values are each cohort's request \
                 rate, e.g. `requests = \"rps\"`",
            ));
        }
    };
    let errors = match get("errors") {
        None => ErrorCounts::Ratio,
        Some(Value::String(e)) if e == "ratio" => ErrorCounts::Ratio,
        Some(Value::String(e)) if e == "counter" => ErrorCounts::Counter,
        Some(other) => {
            return Err(ctx.err(
                v.span(),
                format!("[metrics.sequential] of metric \"{id}\": `errors` = {other} is not \"ratio\" or \"counter\""),
                "\"ratio\": this metric is an error ratio and `requests` a rate per second; \
                 \"counter\": both are cumulative counters",
            ));
        }
    };
    Ok(SequentialGate {
        settings: s,
        requests,
        errors,
    })
}

/// A sequential gate's `requests` and a burn gate's source `windows` name
/// other metrics of the plan.
pub(crate) fn check_references(ctx: &Ctx, raw: &[Spanned<RawMetric>], metrics: &[Metric]) -> R<()> {
    let ids = || {
        metrics
            .iter()
            .map(|o| o.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (m, r) in metrics.iter().zip(raw) {
        let Some(b) = &m.kinds.burn else { continue };
        let span = r.get_ref().burn.as_ref().map_or(r.span(), |v| v.span());
        for w in &b.windows {
            if w.metric == m.id || !metrics.iter().any(|o| o.id == w.metric) {
                return Err(ctx.err(
                    span,
                    format!(
                        "[metrics.burn] of metric \"{}\": window {} names \"{}\", not another metric of the plan",
                        m.id,
                        crate::engine::words::duration(w.window),
                        w.metric
                    ),
                    format!("name the metric whose canary value is the error ratio over that window; the metrics are: {}", ids()),
                ));
            }
        }
    }
    for (m, r) in metrics.iter().zip(raw) {
        let Some(s) = &m.kinds.sequential else {
            continue;
        };
        let span = r
            .get_ref()
            .sequential
            .as_ref()
            .map_or(r.span(), |v| v.span());
        if s.requests == m.id || !metrics.iter().any(|o| o.id == s.requests) {
            return Err(ctx.err(
                span,
                format!(
                    "[metrics.sequential] of metric \"{}\": `requests` = \"{}\" is not another metric of the plan",
                    m.id, s.requests
                ),
                format!(
                    "name the metric with each cohort's request rate; the metrics are: {}",
                    metrics.iter().map(|o| o.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let req = metrics.iter().find(|o| o.id == s.requests);
        if req.is_some_and(|r| !matches!(r.baseline, Baseline::Cohort)) {
            return Err(ctx.err(
                span,
                format!(
                    "[metrics.sequential] of metric \"{}\": its `requests` metric \"{}\" reads only the canary",
                    m.id, s.requests
                ),
                format!(
                    "the test compares the cohorts' shares of errors and requests: give metric \"{}\" `baseline = \"cohort\"`",
                    s.requests
                ),
            ));
        }
    }
    Ok(())
}

/// The plan's `[judge]` table: the step score's thresholds.
pub(crate) fn score(ctx: &Ctx, v: Option<&Spanned<Value>>) -> R<ScoreThresholds> {
    let Some(v) = v else {
        return Ok(ScoreThresholds::default());
    };
    let t: ScoreThresholds = v
        .get_ref()
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| {
            ctx.err(
                v.span(),
                format!("[judge]: {}", e.message().trim()),
                "`[judge]` takes `pass` (default 95) and `marginal` (default 75)",
            )
        })?;
    t.validate().map_err(|e| {
        ctx.err(
            v.span(),
            format!("[judge]: {e}"),
            "`[judge]` takes `pass` (default 95) and `marginal` (default 75)",
        )
    })?;
    Ok(t)
}
