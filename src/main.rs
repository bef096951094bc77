use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use rampdeck::cli::{ActArgs, Cli, Cmd, PlanFormat, SummaryFormat};
use rampdeck::engine::Command;
use rampdeck::run::ViewOptions;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("rampdeck: could not install the error reporter: {e}");
    }
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Cmd::Plan { .. }
            | Cmd::Judge { .. }
            | Cmd::Verify { .. }
            | Cmd::Backtest { .. }
            | Cmd::Summary { .. }
            | Cmd::History { .. }
            | Cmd::Completions { .. }
            | Cmd::Man
    ) {
        quiet_on_closed_pipe();
    }
    let code = match cli.command {
        Cmd::Plan {
            config,
            format,
            history_dir,
        } => plan(config.as_deref(), format, history_dir),
        Cmd::Judge {
            canary,
            baseline,
            metric_config,
            json,
        } => rampdeck::judge_cmd::judge_cli(&canary, &baseline, metric_config.as_deref(), json),
        Cmd::Verify {
            journal,
            expect_head,
            key_env,
        } => {
            let opts = rampdeck::journal::VerifyOptions {
                key_env,
                expect_head,
            };
            rampdeck::journal::verify_cli(&journal, &opts)
        }
        Cmd::Summary {
            journal,
            format,
            charts,
        } => match charts {
            None => rampdeck::journal::summary_cli(&journal, format == SummaryFormat::Markdown),
            Some(dir) => rampdeck::journal::charts::summary_cli(
                &journal,
                format == SummaryFormat::Markdown,
                &dir,
            ),
        },
        Cmd::History { service, dir, json } => {
            rampdeck::journal::history::render::history_cli(service, dir, json)
        }
        Cmd::Backtest {
            config,
            recordings,
            json,
        } => rampdeck::backtest_cmd::backtest_cli(&config, &recordings, json),
        Cmd::Run {
            config,
            headless,
            json,
            ascii,
            max_pause,
            detach,
            serve_only,
            rollout_id,
            freeze_exception_by,
            freeze_reason,
            preflight_confirmed_by,
            reason,
        } => {
            if serve_only {
                // The background driver of --detach: a session of its own, so
                // the terminal's hang-up never reaches it.
                let _ = nix::unistd::setsid();
            }
            let max_pause = match max_pause.as_deref().map(humantime::parse_duration) {
                None => None,
                Some(Ok(d)) => Some(d),
                Some(Err(e)) => {
                    eprintln!("rampdeck run: --max-pause: {e}; write a duration such as \"10m\"");
                    return ExitCode::from(2);
                }
            };
            let view = ViewOptions {
                headless,
                json,
                ascii,
                max_pause,
                detach,
                serve_only,
                rollout_id,
                freeze_exception: freeze_exception_by.zip(freeze_reason),
                preflight_confirmed: preflight_confirmed_by.zip(reason),
            };
            block_on(async move { rampdeck::run::run_cmd(config.as_deref(), view).await })
        }
        Cmd::Attach { rollout, ascii } => {
            block_on(async move { rampdeck::attach::attach_cmd(rollout.as_deref(), ascii).await })
        }
        Cmd::Ls { json } => rampdeck::attach::ls_cmd(json),
        Cmd::Rollback { rollout, reason } => {
            block_on(
                async move { rampdeck::attach::rollback_cmd(rollout.as_deref(), &reason).await },
            )
        }
        Cmd::Pause(a) => act(Command::Pause, a),
        Cmd::Resume(a) => act(Command::Resume, a),
        Cmd::Promote { act: a, full } => act(
            if full {
                Command::PromoteFull
            } else {
                Command::Promote
            },
            a,
        ),
        Cmd::Approve(a) => block_on(async move {
            let reason = a.act.reason.unwrap_or_default();
            let rollout = a.act.rollout.as_deref();
            let how = if a.freeze_exception {
                rampdeck::act::Approval::FreezeException
            } else {
                rampdeck::act::Approval::Step(a.step)
            };
            rampdeck::act::approve_cmd(how, rollout, &reason, a.act.take_control).await
        }),
        Cmd::Tick { act: a, item } => block_on(async move {
            let reason = a.reason.unwrap_or_default();
            let rollout = a.rollout.as_deref();
            rampdeck::act::tick_cmd(item, rollout, &reason, a.take_control).await
        }),
        Cmd::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "rampdeck", &mut std::io::stdout());
            0
        }
        Cmd::Man => man(),
        Cmd::Replay {
            journal,
            speed,
            at,
            headless,
            ascii,
        } => {
            let args = rampdeck::replay::ReplayArgs {
                path: journal,
                speed,
                at,
                headless,
                ascii,
            };
            block_on(async move { rampdeck::replay::replay_cmd(args).await })
        }
        #[cfg(feature = "demo")]
        Cmd::Demo {
            scenario,
            strategy,
            print_plan,
            speed,
            headless,
            json,
            ascii,
        } => {
            let view = ViewOptions {
                headless,
                json,
                ascii,
                ..ViewOptions::default()
            };
            block_on(async move {
                let args = rampdeck::run::DemoArgs {
                    scenario,
                    strategy,
                    speed,
                    print_plan,
                };
                rampdeck::run::demo_cmd(args, view).await
            })
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn act(command: Command, a: ActArgs) -> i32 {
    block_on(async move {
        let reason = a.reason.unwrap_or_default();
        rampdeck::act::act_cmd(command, a.rollout.as_deref(), &reason, a.take_control).await
    })
}

/// `rampdeck man`: the page for rampdeck and one section per subcommand,
/// from the same definitions as `--help`.
fn man() -> i32 {
    let cmd = Cli::command();
    let mut out = Vec::new();
    let mut render = || -> std::io::Result<()> {
        clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = format!("rampdeck-{}", sub.get_name());
            let page = sub.clone().display_name(name.clone()).bin_name(name);
            clap_mangen::Man::new(page)
                .source(concat!("rampdeck ", env!("CARGO_PKG_VERSION")))
                .render(&mut out)?;
        }
        Ok(())
    };
    match render().and_then(|()| std::io::Write::write_all(&mut std::io::stdout(), &out)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rampdeck man: {e}");
            1
        }
    }
}

/// For the commands that only print (`plan`, `judge`, `verify`, `summary`,
/// `completions`, `man`): a reader that stops early (`| head`) ends the
/// process quietly, as it would any Unix filter, instead of a panic report
/// from `println!`. Never for `run`, `demo` or `attach`, whose driver must
/// outlive a closed pipe or socket.
fn quiet_on_closed_pipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: SIG_DFL installs no handler function, so nothing runs in
    // signal context; this runs before any thread is spawned.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// One worker thread: the cockpit's work is a small fraction of a core, and
/// a second worker mostly added wake-ups between the two (issue 11: 10 % of
/// the cockpit's CPU). Nothing waits on it alone: a large answer is parsed
/// on the blocking pool, file writes move the worker aside with
/// `block_in_place`, and a hung source or viewer only awaits.
fn block_on(f: impl std::future::Future<Output = i32>) -> i32 {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("rampdeck: could not start the async runtime: {e}");
            1
        }
    }
}

fn plan(
    config: Option<&std::path::Path>,
    format: PlanFormat,
    history_dir: Vec<std::path::PathBuf>,
) -> i32 {
    let loaded =
        rampdeck::config::discover(config).and_then(|p| rampdeck::config::load_on_host(&p));
    match loaded {
        Ok(plan) => {
            let f = match format {
                PlanFormat::Text => rampdeck::config::ExplainFormat::Text,
                PlanFormat::Markdown => rampdeck::config::ExplainFormat::Markdown,
            };
            let now = rampdeck::engine::Timestamp(chrono::Utc::now().timestamp_millis());
            print!("{}", rampdeck::config::explain(&plan, f, now));
            if let Some(w) = rampdeck::config::outside_window(&plan, chrono::Utc::now()) {
                eprintln!("warning: {w}");
            }
            for w in rampdeck::journal::history::lessons::from_dirs(&plan, history_dir) {
                eprintln!("warning: {w}");
            }
            0
        }
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}
