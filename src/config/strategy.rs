//! `strategy` beyond the canary (issue 14): `[blue_green]` and the hooks
//! only a blue-green plan runs (`switch`, `scale_down`, `redeploy`).

use std::time::Duration;

use super::error::Ctx;
use super::raw::RawPlan;
use super::values::R;
use crate::engine::strategy::BlueGreenPlan;
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
}
