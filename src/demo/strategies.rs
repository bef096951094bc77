//! The demo under each strategy: `assets/demo.toml` is the canary plan;
//! `assets/demo-blue-green.toml` and `assets/demo-rolling.toml` hold the
//! tables a blue-green or rolling plan has instead (steps, hooks, and
//! `[blue_green]` or `[rolling]`), laid over it, so the three demos share
//! one set of sources, metrics and triggers.

use std::net::SocketAddr;

use toml::{Table, Value};

use super::{ADDR_PLACEHOLDER, DEMO_CONFIG};
use crate::plan::Strategy;

/// `assets/demo-blue-green.toml`.
pub const BLUE_GREEN_OVERLAY: &str = include_str!("../../assets/demo-blue-green.toml");
/// `assets/demo-rolling.toml`.
pub const ROLLING_OVERLAY: &str = include_str!("../../assets/demo-rolling.toml");

/// The strategies `rampdeck demo --strategy` takes, in the words it takes.
pub const NAMES: [&str; 3] = ["canary", "blue-green", "rolling"];

/// A `--strategy` the demo has no plan for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown strategy \"{0}\": use canary, blue-green or rolling")]
pub struct UnknownStrategy(pub String);

/// Parse `--strategy`.
pub fn parse(name: &str) -> Result<Strategy, UnknownStrategy> {
    match name.trim().to_ascii_lowercase().as_str() {
        "canary" => Ok(Strategy::Canary),
        "blue-green" | "bluegreen" | "blue_green" => Ok(Strategy::BlueGreen),
        "rolling" => Ok(Strategy::Rolling),
        _ => Err(UnknownStrategy(name.to_string())),
    }
}

/// The name of the file a strategy's demo plan comes from (for errors).
pub fn source_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Canary => "assets/demo.toml",
        Strategy::BlueGreen => "assets/demo.toml + assets/demo-blue-green.toml",
        Strategy::Rolling => "assets/demo.toml + assets/demo-rolling.toml",
    }
}

/// The demo plan's text for `strategy`, the service at `addr`. The canary
/// plan is `assets/demo.toml` as written (its comments kept); the others
/// are it with the strategy's tables laid over and printed again.
pub fn config_text(strategy: Strategy, addr: SocketAddr) -> Result<String, String> {
    let overlay = match strategy {
        Strategy::Canary => return Ok(super::demo_config(addr)),
        Strategy::BlueGreen => BLUE_GREEN_OVERLAY,
        Strategy::Rolling => ROLLING_OVERLAY,
    };
    let mut base: Table = DEMO_CONFIG.parse().map_err(|e| format!("{e}"))?;
    let over: Table = overlay.parse().map_err(|e| format!("{e}"))?;
    lay_over(&mut base, over);
    let text = toml::to_string(&base).map_err(|e| format!("{e}"))?;
    let head = format!(
        "# The demo's {} plan: {} (see their comments).\n\n",
        strategy.as_str(),
        source_name(strategy)
    );
    Ok(head + &text.replace(ADDR_PLACEHOLDER, &addr.to_string()))
}

/// `over`'s tables in place of `base`'s: `[rollout]` key by key, every
/// other table and array (steps, hooks) whole.
fn lay_over(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(o)) if key == "rollout" => {
                for (k, v) in o {
                    b.insert(k, v);
                }
            }
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::plan::HookKind;

    fn plan(strategy: Strategy) -> crate::plan::Plan {
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let text = config_text(strategy, addr).unwrap();
        assert!(!text.contains(ADDR_PLACEHOLDER));
        crate::config::parse(&text, source_name(strategy)).unwrap()
    }

    #[test]
    fn every_strategy_has_a_demo_plan_that_loads() {
        let canary = plan(Strategy::Canary);
        assert_eq!(canary.rollout.strategy, Strategy::Canary);

        let bg = plan(Strategy::BlueGreen);
        assert_eq!(bg.rollout.strategy, Strategy::BlueGreen);
        assert_eq!(
            bg.steps.iter().map(|s| s.weight).collect::<Vec<_>>(),
            [0, 100]
        );
        assert!(bg.hooks.switch.is_some() && bg.hooks.redeploy.is_some());
        assert!(
            bg.hooks.set_weight.is_none(),
            "the switch moves the traffic"
        );
        assert!(bg.blue_green.is_some());
        // The same metrics and triggers as the canary demo; they gate the preview.
        assert_eq!(bg.metrics.len(), canary.metrics.len());
        assert_eq!(bg.triggers.len(), canary.triggers.len());
        let preview = &bg.steps[0];
        assert!(
            bg.metrics.iter().any(|m| preview.gated_by(m)),
            "the preview is judged"
        );

        let rolling = plan(Strategy::Rolling);
        assert_eq!(rolling.rollout.strategy, Strategy::Rolling);
        assert_eq!(rolling.rolling.as_ref().map(|r| r.instances), Some(8));
        assert_eq!(
            rolling
                .steps
                .iter()
                .map(|s| s.instances)
                .collect::<Vec<_>>(),
            [Some(1), Some(2), Some(4), Some(8)]
        );
        assert!(rolling.hooks.get(HookKind::SetWeight).is_some());
    }

    #[test]
    fn strategies_parse_in_the_words_plans_use() {
        for name in NAMES {
            assert_eq!(parse(name).unwrap().as_str(), name);
        }
        let err = parse("linear").unwrap_err().to_string();
        assert!(err.contains("canary, blue-green or rolling"), "{err}");
    }
}
