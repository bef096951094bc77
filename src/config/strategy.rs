//! `strategy` beyond the canary (issue 14): `[blue_green]` and the hooks
//! only a blue-green plan runs (`switch`, `scale_down`, `redeploy`).

use std::time::Duration;

use super::error::Ctx;
use super::raw::{RawPlan, RawStep};
use super::values::R;
use crate::engine::strategy::{BlueGreenPlan, RollingPlan};
use crate::plan::{RolloutInfo, Step, Strategy};

const MAX_SCALE_DOWN_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A blue-green plan's settings (defaults without `[blue_green]`); none
/// for other strategies, which may not carry blue-green's table or hooks.
pub(crate) fn build_blue_green(
    ctx: &Ctx,
    raw: &RawPlan,
    rollout: &RolloutInfo,
    steps: &[Step],
) -> R<Option<BlueGreenPlan>> {
    let strategy_span = raw.rollout.get_ref().strategy.span();
    if rollout.strategy != Strategy::BlueGreen {
        if let Some(t) = &raw.blue_green {
            return Err(ctx.err(
                t.span(),
                format!(
                    "[blue_green] is for strategy = \"blue-green\"; this plan's strategy is \"{}\"",
                    rollout.strategy.as_str()
                ),
                "remove [blue_green], or set strategy = \"blue-green\"",
            ));
        }
        let h = &raw.hooks;
        for (name, hook) in [
            ("switch", &h.switch),
            ("scale_down", &h.scale_down),
            ("redeploy", &h.redeploy),
        ] {
            if let Some(hook) = hook {
                return Err(ctx.err(
                    hook.span(),
                    format!(
                        "[hooks.{name}] is a blue-green hook; this plan's strategy is \"{}\"",
                        rollout.strategy.as_str()
                    ),
                    "remove it, or set strategy = \"blue-green\" (set_weight and rollback move a canary's traffic)",
                ));
            }
        }
        return Ok(None);
    }
    let mut plan = BlueGreenPlan::default();
    if let Some(t) = &raw.blue_green {
        let t = t.get_ref();
        if let Some(v) = &t.scale_down_delay {
            plan.scale_down_delay =
                ctx.duration_in("scale_down_delay", v, Duration::ZERO, MAX_SCALE_DOWN_DELAY)?;
        }
        plan.partial_switch = t.partial_switch.as_ref().is_some_and(|p| *p.get_ref());
    }
    if !plan.partial_switch
        && let Some(s) = steps.iter().find(|s| s.weight != 0 && s.weight != 100)
    {
        return Err(ctx.err(
            strategy_span,
            format!(
                "blue-green plan with step \"{}\" at {} %: blue-green previews the new stack at 0 % and switches all traffic at 100 %",
                s.name, s.weight
            ),
            "use steps at 0 % (preview) and 100 % (switch), or add [blue_green] partial_switch = true if a partial switch is what you want",
        ));
    }
    if !steps.iter().any(|s| s.weight == 100) {
        return Err(ctx.err(
            strategy_span,
            "blue-green plan without a step at 100 %: the switch never happens",
            "add a last step at weight = 100 (its hold is the post-switch observation)",
        ));
    }
    Ok(Some(plan))
}

/// The most instances a rolling plan may name.
const MAX_INSTANCES: i64 = 100_000;

fn is_rolling(raw: &RawPlan) -> bool {
    raw.rollout.get_ref().strategy.get_ref().trim() == "rolling"
}

/// A step's weight, its instances on the new version (rolling), and the
/// span to point at: a rolling step's weight follows its `batch` (the
/// updated instances' share of `[rolling] instances`); every other step
/// gives `weight`.
pub(crate) fn step_weight(
    ctx: &Ctx,
    raw: &RawPlan,
    name: &str,
    r: &RawStep,
    prev: Option<&Step>,
) -> R<(u8, Option<u32>, std::ops::Range<usize>)> {
    let rolling = is_rolling(raw);
    match (&r.weight, &r.batch, rolling) {
        (Some(w), None, false) => {
            let n = *w.get_ref();
            if !(0..=100).contains(&n) {
                return Err(ctx.err(
                    w.span(),
                    format!("step \"{name}\" has weight {n}, outside 0..=100"),
                    "weight is the canary's share of traffic in percent, 0 to 100",
                ));
            }
            Ok((u8::try_from(n).unwrap_or(0), None, w.span()))
        }
        (None, None, false) => Err(ctx.err(
            r.name.span(),
            format!("step \"{name}\" has no `weight`"),
            "give the canary's share of traffic in percent, e.g. weight = 25",
        )),
        (_, Some(b), false) => Err(ctx.err(
            b.span(),
            format!("step \"{name}\": `batch` is for strategy = \"rolling\""),
            "give `weight` for a canary or blue-green step, or set strategy = \"rolling\" and [rolling] instances",
        )),
        (Some(w), _, true) => Err(ctx.err(
            w.span(),
            format!("step \"{name}\" of a rolling plan gives `weight`: its weight follows its batch"),
            "give `batch = 2` (instances) or `batch = \"25%\"` (of [rolling] instances) instead",
        )),
        (None, None, true) => Err(ctx.err(
            r.name.span(),
            format!("step \"{name}\" of a rolling plan has no `batch`"),
            "give the instances this step updates: batch = 2, or batch = \"25%\" of [rolling] instances",
        )),
        (None, Some(b), true) => {
            let total = rolling_instances(ctx, raw)?;
            let size = batch_size(ctx, name, b, total)?;
            let before = prev.and_then(|p| p.instances).unwrap_or(0);
            let after = before.saturating_add(size);
            if after > total {
                return Err(ctx.err(
                    b.span(),
                    format!(
                        "step \"{name}\": batch {size} takes the rollout to {after} instances, more than [rolling] instances = {total}"
                    ),
                    format!("make this batch at most {}", total - before),
                ));
            }
            // Round down, so 100 % means every instance is updated.
            let weight = (u64::from(after) * 100 / u64::from(total.max(1))) as u8;
            Ok((weight, Some(after), b.span()))
        }
    }
}

/// `[rolling] instances`, required by a rolling plan.
fn rolling_instances(ctx: &Ctx, raw: &RawPlan) -> R<u32> {
    let Some(t) = &raw.rolling else {
        return Err(ctx.err(
            raw.rollout.get_ref().strategy.span(),
            "a rolling plan needs [rolling] instances: how many instances its batches update",
            "add [rolling] with instances = 8 (and optionally max_unavailable = 1)",
        ));
    };
    let n = ctx.int_in("instances", &t.get_ref().instances, 1, MAX_INSTANCES)?;
    Ok(u32::try_from(n).unwrap_or(1))
}

/// `batch = 2` or `batch = "25%"` (of `total`, rounded up, at least 1).
fn batch_size(ctx: &Ctx, name: &str, b: &toml::Spanned<toml::Value>, total: u32) -> R<u32> {
    let bad = || {
        ctx.err(
            b.span(),
            format!("step \"{name}\": `batch` must be a number of instances (2) or a share of them (\"25%\")"),
            "write batch = 2 or batch = \"25%\"",
        )
    };
    let size = match b.get_ref() {
        toml::Value::Integer(n) if *n >= 1 && *n <= MAX_INSTANCES => *n as u32,
        toml::Value::String(s) => {
            let pct: f64 = s
                .trim()
                .strip_suffix('%')
                .and_then(|p| p.trim().parse().ok())
                .filter(|p: &f64| *p > 0.0 && *p <= 100.0)
                .ok_or_else(bad)?;
            ((f64::from(total) * pct / 100.0).ceil() as u32).max(1)
        }
        _ => return Err(bad()),
    };
    Ok(size)
}

/// `[rolling]`, for a rolling plan only.
pub(crate) fn build_rolling(
    ctx: &Ctx,
    raw: &RawPlan,
    rollout: &RolloutInfo,
) -> R<Option<RollingPlan>> {
    if rollout.strategy != Strategy::Rolling {
        if let Some(t) = &raw.rolling {
            return Err(ctx.err(
                t.span(),
                format!(
                    "[rolling] is for strategy = \"rolling\"; this plan's strategy is \"{}\"",
                    rollout.strategy.as_str()
                ),
                "remove [rolling], or set strategy = \"rolling\"",
            ));
        }
        return Ok(None);
    }
    let instances = rolling_instances(ctx, raw)?;
    let max_unavailable = match raw
        .rolling
        .as_ref()
        .and_then(|t| t.get_ref().max_unavailable.as_ref())
    {
        Some(v) => Some(
            u32::try_from(ctx.int_in("max_unavailable", v, 0, i64::from(instances))?).unwrap_or(0),
        ),
        None => None,
    };
    Ok(Some(RollingPlan {
        instances,
        max_unavailable,
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::parse;

    const STEPS: &str = "[[steps]]\nname = \"preview\"\nweight = 0\nhold = \"1m\"\n\
                         [[steps]]\nname = \"switch\"\nweight = 100\nhold = \"5m\"\n";

    fn parsed(strategy: &str, extra: &str, steps: &str) -> Result<crate::plan::Plan, String> {
        let head = format!("[rollout]\nservice = \"shop\"\nstrategy = \"{strategy}\"\n");
        parse(&format!("{head}{extra}{steps}"), "t.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn blue_green_reads_its_table_and_hooks_with_defaults() {
        let p = parsed("blue-green", "", STEPS).unwrap_or_else(|e| panic!("{e}"));
        let bg = p.blue_green.unwrap_or_else(|| panic!("no blue_green"));
        assert_eq!(bg.scale_down_delay, Duration::from_secs(30));
        assert!(!bg.partial_switch);
        let extra = "[blue_green]\nscale_down_delay = \"10m\"\n\
                     [hooks.switch]\ncommand = [\"kubectl\", \"argo\", \"rollouts\", \"promote\", \"{service}\"]\n\
                     [hooks.scale_down]\ncommand = [\"./scale-down.sh\"]\n\
                     [hooks.redeploy]\ncommand = [\"./redeploy-old.sh\"]\n";
        let p = parsed("blue-green", extra, STEPS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p.blue_green.map(|b| b.scale_down_delay),
            Some(Duration::from_secs(600))
        );
        assert!(p.hooks.switch.is_some() && p.hooks.scale_down.is_some());
        assert!(p.hooks.redeploy.is_some());
        let canary = parsed("canary", "", STEPS).unwrap_or_else(|e| panic!("{e}"));
        assert!(canary.blue_green.is_none());
    }

    #[test]
    fn a_blue_green_preview_is_gated_by_its_own_metrics_and_traffic() {
        let metrics = "[sources.p]\nkind = \"prometheus\"\nurl = \"http://p:9090\"\n\
                       [[metrics]]\nid = \"rps\"\nsource = \"p\"\nquery = \"rps\"\nbad = \"down\"\nthreshold = {}\n\
                       [[metrics]]\nid = \"errors\"\nsource = \"p\"\nquery = \"e\"\nbad = \"up\"\n\
                       threshold = { limit = 0.05 }\nmin_traffic = { metric = \"rps\", at_least = 1.0 }\n";
        let p = parsed("blue-green", metrics, STEPS).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.metrics.iter().all(|m| m.from_weight == Some(0)));
        assert!(
            p.metrics.iter().all(|m| p.steps[0].gated_by(m)),
            "the preview is judged"
        );
        // A canary at 0 % has no traffic: the same gates there are refused.
        let gated = STEPS.replacen(
            "hold = \"1m\"\n",
            "hold = \"1m\"\ngates = [\"errors\"]\n",
            1,
        );
        let e = parsed("canary", metrics, &gated).expect_err("canary at 0 %");
        assert!(e.contains("min_traffic needs canary traffic"), "{e}");
        let own = metrics.replace("threshold = {}\n", "threshold = {}\nfrom_weight = 5\n");
        let p = parsed("blue-green", &own, STEPS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p.metrics[0].from_weight,
            Some(5),
            "a metric's own from_weight stands"
        );
    }

    #[test]
    fn blue_green_mistakes_are_refused_with_a_fix() {
        let half = "[[steps]]\nname = \"half\"\nweight = 50\nhold = \"1m\"\n\
                    [[steps]]\nname = \"all\"\nweight = 100\nhold = \"1m\"\n";
        let preview_only = "[[steps]]\nname = \"preview\"\nweight = 0\nhold = \"1m\"\n";
        let cases = [
            ("blue-green", "", half, "partial_switch = true"),
            ("blue-green", "", preview_only, "without a step at 100 %"),
            (
                "canary",
                "[blue_green]\n",
                STEPS,
                "[blue_green] is for strategy",
            ),
            (
                "canary",
                "[hooks.switch]\ncommand = [\"x\"]\n",
                STEPS,
                "[hooks.switch] is a blue-green hook",
            ),
            (
                "blue-green",
                "[blue_green]\nscale_down_delay = \"30d\"\n",
                STEPS,
                "scale_down_delay",
            ),
        ];
        for (strategy, extra, steps, word) in cases {
            let Err(e) = parsed(strategy, extra, steps) else {
                panic!("accepted: {strategy} {extra}{steps}");
            };
            assert!(e.contains(word), "{extra}: {e}");
        }
        let partial = "[blue_green]\npartial_switch = true\n";
        assert!(parsed("blue-green", partial, half).is_ok());
    }

    #[test]
    fn rolling_batches_give_weights_and_instances() {
        let extra = "[rolling]\ninstances = 8\nmax_unavailable = 1\n";
        let steps = "[[steps]]\nname = \"b1\"\nbatch = 1\nhold = \"1m\"\n\
                     [[steps]]\nname = \"b2\"\nbatch = \"25%\"\nhold = \"1m\"\n\
                     [[steps]]\nname = \"b3\"\nbatch = 5\nhold = \"1m\"\n";
        let p = parsed("rolling", extra, steps).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(u8, Option<u32>)> = p.steps.iter().map(|s| (s.weight, s.instances)).collect();
        assert_eq!(got, vec![(12, Some(1)), (37, Some(3)), (100, Some(8))]);
        let r = p.rolling.unwrap_or_else(|| panic!("no rolling"));
        assert_eq!((r.instances, r.max_unavailable), (8, Some(1)));
    }

    #[test]
    fn rolling_mistakes_are_refused_with_a_fix() {
        let table = "[rolling]\ninstances = 4\n";
        let batch = |b: &str| format!("[[steps]]\nname = \"b1\"\nbatch = {b}\nhold = \"1m\"\n");
        let cases = [
            (
                "rolling",
                String::new(),
                batch("1"),
                "needs [rolling] instances",
            ),
            (
                "rolling",
                table.into(),
                batch("5"),
                "more than [rolling] instances = 4",
            ),
            (
                "rolling",
                table.into(),
                batch("0"),
                "`batch` must be a number",
            ),
            (
                "rolling",
                table.into(),
                batch("\"150%\""),
                "`batch` must be a number",
            ),
            ("rolling", table.into(), STEPS.into(), "gives `weight`"),
            (
                "rolling",
                table.into(),
                "[[steps]]\nname = \"b\"\nhold = \"1m\"\n".into(),
                "has no `batch`",
            ),
            (
                "canary",
                String::new(),
                batch("1"),
                "`batch` is for strategy",
            ),
            (
                "canary",
                table.into(),
                STEPS.into(),
                "[rolling] is for strategy",
            ),
            (
                "rolling",
                "[rolling]\ninstances = 4\nmax_unavailable = 9\n".into(),
                batch("1"),
                "max_unavailable",
            ),
        ];
        for (strategy, extra, steps, word) in cases {
            let Err(e) = parsed(strategy, &extra, &steps) else {
                panic!("accepted: {strategy} {extra}{steps}");
            };
            assert!(e.contains(word), "{extra}{steps}: {e}");
        }
    }

    #[test]
    fn a_step_names_its_cohort_as_a_dns_label() {
        let steps = "[[steps]]\nname = \"staff\"\nweight = 5\ncohort = \"employees\"\nhold = \"1m\"\n\
                     [[steps]]\nname = \"all\"\nweight = 100\nhold = \"1m\"\n";
        let hook =
            "[hooks.set_weight]\ncommand = [\"./flags.sh\", \"{cohort_name}\", \"{weight}\"]\n";
        let p = parsed("canary", hook, steps).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.steps[0].cohort.as_deref(), Some("employees"));
        assert_eq!(p.steps[1].cohort, None);
        let bad = steps.replace("employees", "EU West");
        let e = parsed("canary", "", &bad).err().unwrap_or_default();
        assert!(e.contains("cohort"), "{e}");
    }
}
