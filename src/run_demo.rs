//! `rampdeck demo`: the simulated service, the strategy's demo plan, and
//! the same driver and views as real use.

use super::{ViewOptions, drive, rollout_id};
use crate::headless::{EXIT_CONFIG, EXIT_INTERNAL};
use crate::plan::Plan;

/// What `rampdeck demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoArgs {
    pub scenario: String,
    /// canary | blue-green | rolling
    pub strategy: String,
    pub speed: f64,
    /// Print the strategy's whole plan and exit.
    pub print_plan: bool,
}

/// `rampdeck demo`: the simulated service, `assets/demo.toml` (with the
/// strategy's tables laid over it), and the same driver and views as real
/// use.
pub async fn demo_cmd(args: DemoArgs, view: ViewOptions) -> i32 {
    let strategy = match crate::demo::strategies::parse(&args.strategy) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampdeck demo: {e}");
            return EXIT_CONFIG;
        }
    };
    if args.print_plan {
        let placeholder = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        return match crate::demo::strategies::config_text(strategy, placeholder) {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(e) => {
                eprintln!(
                    "rampdeck demo: the {} demo plan is broken: {e}",
                    strategy.as_str()
                );
                EXIT_INTERNAL
            }
        };
    }
    let scenario: crate::demo::Scenario = match args.scenario.parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampdeck demo: {e}");
            return EXIT_CONFIG;
        }
    };
    let speed = args.speed;
    if !(speed.is_finite() && (0.05..=100.0).contains(&speed)) {
        eprintln!("rampdeck demo: --speed must be between 0.05 and 100 (got {speed})");
        return EXIT_CONFIG;
    }
    let mut opts = crate::demo::DemoOptions::new(scenario, speed);
    opts.preview = strategy == crate::plan::Strategy::BlueGreen;
    let service = match crate::demo::start_with(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampdeck demo: could not start the simulated service: {e}");
            return EXIT_INTERNAL;
        }
    };
    let plan = match demo_plan_for(strategy, service.addr(), speed) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rampdeck demo: {e}");
            return EXIT_INTERNAL;
        }
    };
    let dir = crate::config::default_journal_dir().join("demo");
    // Each demo is a new rollout: an interrupted one is not resumed.
    let mut view = view;
    if view.rollout_id.is_none() {
        view.rollout_id = Some(rollout_id(&plan, chrono::Utc::now()));
    }
    let code = drive(plan, dir, view).await;
    drop(service);
    code
}

/// The demo plan of `strategy` for the service at `addr`, its holds (and
/// the exit observation, and a blue-green scale-down delay) divided by
/// `speed`.
pub fn demo_plan_for(
    strategy: crate::plan::Strategy,
    addr: std::net::SocketAddr,
    speed: f64,
) -> Result<Plan, String> {
    use crate::demo::strategies;
    let name = strategies::source_name(strategy);
    let text =
        strategies::config_text(strategy, addr).map_err(|e| format!("{name} is broken: {e}"))?;
    let mut plan =
        crate::config::parse(&text, name).map_err(|e| format!("{name} is broken: {e}"))?;
    if let Some(bg) = &mut plan.blue_green {
        bg.scale_down_delay = bg.scale_down_delay.div_f64(speed);
    }
    Ok(faster(plan, speed))
}

fn faster(mut plan: Plan, speed: f64) -> Plan {
    for step in &mut plan.steps {
        step.hold = step.hold.div_f64(speed);
    }
    if let Some(exit) = &mut plan.exit {
        exit.observe = exit.observe.div_f64(speed);
    }
    plan
}

/// The demo plan with the simulated service's address and holds (and the
/// exit observation) divided by `speed`.
pub fn demo_plan(addr: &str, speed: f64) -> Result<Plan, crate::config::ConfigError> {
    let text = crate::demo::DEMO_CONFIG.replace(crate::demo::ADDR_PLACEHOLDER, addr);
    let plan = crate::config::parse(&text, "assets/demo.toml")?;
    Ok(faster(plan, speed))
}
