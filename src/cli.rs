//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rampdeck",
    version,
    about = "A terminal cockpit for live deploys: canary against baseline, the ramp, and an audit trail"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

/// Said under `--help` and in the man page of each verb from a shell.
const ACT_AFTER_HELP: &str = "Sent on the rollout's socket like a key in the cockpit: journaled with \
your identity (from the socket's peer credentials), and subject to the plan's `drivers`, \
`require_second` and `reason_required`.\n\nExit status: 0 when the rollout took it; 4 when it \
was refused (the reason is printed, e.g. \"hold not over yet: 01:20 left; use promote to skip\") \
or waits for a second driver; 2 when nothing was sent (no such rollout, a reason missing or \
malformed); 1 when the socket failed.";

/// What `pause`, `resume`, `promote` and `approve` take.
#[derive(Debug, Clone, Args)]
pub struct ActArgs {
    /// Rollout id (default: the only one running).
    pub rollout: Option<String>,
    /// Why; goes to the journal with your identity (required for the
    /// actions in the plan's `reason_required`).
    #[arg(long, short)]
    pub reason: Option<String>,
    /// Take control first (journaled), as `c` does in the cockpit: needed by
    /// a driver who is not the one in control, except for pause.
    #[arg(long)]
    pub take_control: bool,
}

/// What `approve` takes.
#[derive(Debug, Clone, Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub act: ActArgs,
    /// The step you approve, 1-based as the ramp shows it. Refused unless
    /// it is the step the rollout is at, so an approval meant for one step
    /// never counts for the next. Without it, the current step.
    #[arg(value_name = "STEP", value_parser = clap::value_parser!(u32).range(1..))]
    pub step: Option<u32>,
    /// Grant this rollout a freeze exception instead (it is held by a
    /// closed change window): journaled as approved by you, with the
    /// identity the socket's peer credentials prove. Needs --reason; the
    /// driver cannot grant its own.
    #[arg(long, conflicts_with_all = ["step", "take_control"])]
    pub freeze_exception: bool,
}

/// Said under `rampdeck judge --help` and in its man page.
const JUDGE_AFTER_HELP: &str = "Sample files: one number per line (blank lines and `#` comments \
ignored; NaN and inf allowed, the NaN strategy decides), or a JSON array of numbers and null. At \
most 16 MiB each.\n\nThe metric config is TOML with any of: confidence (0.98), tolerance (0.25), \
allowed_increase (1.0), allowed_decrease (1.0), critical_increase, critical_decrease, direction \
(\"up\" | \"down\" | \"either\"), nan_strategy (\"remove\" | \"replace\"), outliers (true | false | \
\"remove\" | \"keep\"), must_have_data (false), critical (false).\n\nExit status: 0 pass; 1 high or \
low (or no data for a metric that must have data); 3 no data; 2 nothing judged (a file or the \
config unreadable or malformed; the message names file:line).";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    Markdown,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Drive a rollout from a plan: poll, chart, gate, act, journal.
    Run {
        /// The plan (default: ./rampdeck.toml, then the user's config dir).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print one line per event instead of the cockpit screen.
        #[arg(long)]
        headless: bool,
        /// With --headless: JSON lines.
        #[arg(long)]
        json: bool,
        /// Avoid Unicode box and braille characters.
        #[arg(long)]
        ascii: bool,
        /// Headless: give up (exit 4) when paused longer than this ("10m").
        #[arg(long)]
        max_pause: Option<String>,
        /// Run the driver in the background and attach to it; closing the
        /// view leaves it running (`rampdeck attach` comes back).
        #[arg(long, conflicts_with = "headless")]
        detach: bool,
        /// Internal: be the background driver started by --detach.
        #[arg(long, hide = true)]
        serve_only: bool,
        /// Internal: the rollout id chosen by --detach.
        #[arg(long, hide = true)]
        rollout_id: Option<String>,
        /// Start (and promote) outside the plan's change windows and
        /// freezes: the person who approved the exception, not you.
        /// Journaled with --freeze-reason and the name as typed (detail
        /// `"identity": "typed"`): nothing proves NAME. Once the rollout
        /// runs, the approver can grant an exception with their own
        /// identity instead: `rampdeck approve ROLLOUT --freeze-exception
        /// --reason ...` from their shell, sent over the rollout's socket
        /// and journaled with the identity its peer credentials prove
        /// (`"identity": "peer"`).
        #[arg(
            long,
            value_name = "NAME",
            requires = "freeze_reason",
            conflicts_with = "detach"
        )]
        freeze_exception_by: Option<String>,
        /// Why the freeze exception was granted (ticket, incident).
        #[arg(long, value_name = "TEXT", requires = "freeze_exception_by")]
        freeze_reason: Option<String>,
        /// Record the plan's manual pre-flight items as done, confirmed by
        /// NAME (journaled with --reason). Automatic checks must still pass.
        #[arg(
            long,
            value_name = "NAME",
            requires = "reason",
            conflicts_with = "detach"
        )]
        preflight_confirmed_by: Option<String>,
        /// The note of the pre-flight confirmation.
        #[arg(long, value_name = "TEXT", requires = "preflight_confirmed_by")]
        reason: Option<String>,
    },
    /// Open the cockpit of a running rollout from another terminal.
    Attach {
        /// Rollout id (default: the only one running).
        rollout: Option<String>,
        #[arg(long)]
        ascii: bool,
    },
    /// List the rollouts running on this host.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Roll a running rollout back from another shell (the kill switch).
    #[command(after_help = ACT_AFTER_HELP)]
    Rollback {
        /// Rollout id (default: the only one running).
        rollout: Option<String>,
        /// Why; goes to the journal with your identity.
        #[arg(long, short)]
        reason: String,
    },
    /// Pause a running rollout from another shell; triggers stay armed.
    #[command(after_help = ACT_AFTER_HELP)]
    Pause(ActArgs),
    /// Resume a paused rollout from another shell.
    #[command(after_help = ACT_AFTER_HELP)]
    Resume(ActArgs),
    /// Advance a running rollout to its next step now, whatever the gates
    /// say; with --full, go to 100 % (the `promote_full` action).
    #[command(after_help = ACT_AFTER_HELP)]
    Promote {
        #[command(flatten)]
        act: ActArgs,
        /// Go to 100 % now instead of the next step (`promote_full` in
        /// `reason_required` and `require_second`).
        #[arg(long)]
        full: bool,
    },
    /// Approve a manual step whose hold is over, from another shell:
    /// `rampdeck approve ROLLOUT [STEP]`; with --freeze-exception, grant a
    /// freeze exception as yourself.
    #[command(after_help = ACT_AFTER_HELP)]
    Approve(ApproveArgs),
    /// Tick a manual pre-flight item (before the start) or exit item (while
    /// observing at 100 %) from another shell, as the cockpit's `t` does:
    /// `rampdeck tick [ROLLOUT] --item N --reason NOTE`, N 1-based as the
    /// cockpit lists them. Journaled with your identity; you must be one of
    /// the plan's drivers.
    #[command(after_help = ACT_AFTER_HELP)]
    Tick {
        #[command(flatten)]
        act: ActArgs,
        /// The item, 1-based as the cockpit's checklist shows it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        item: u32,
    },
    /// Print a shell completion script: `rampdeck completions bash > /etc/bash_completion.d/rampdeck`.
    Completions {
        /// bash | zsh | fish | elvish | powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout: `rampdeck man | man -l -`.
    Man,
    /// Run the whole loop against a built-in simulated service.
    #[cfg(feature = "demo")]
    Demo {
        /// healthy | bad-canary | flaky-source | slow-burn
        #[arg(long, default_value = "healthy")]
        scenario: String,
        /// canary | blue-green | rolling: the simulated service runs a
        /// canary, a preview stack then a switch, or batches of instances.
        #[arg(long, default_value = "canary")]
        strategy: String,
        /// Print the strategy's whole demo plan (TOML, a starting point for
        /// your own) and exit.
        #[arg(long)]
        print_plan: bool,
        /// Time factor: 2 runs twice as fast, 0.5 half as fast.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        #[arg(long)]
        headless: bool,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        ascii: bool,
    },
    /// The cockpit, read-only, over a rollout's flight recording: space
    /// plays/pauses, n/N step by decision, ←/→ seek, +/- speed. Without a
    /// terminal (or --headless) it prints the replayed decisions.
    Replay {
        /// The rollout's journal (its recording sits beside it), or the
        /// recording itself (.rec.jsonl.gz).
        journal: PathBuf,
        /// Recorded seconds played per second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Start here: +2m30s from the start, 14:03:07 (UTC), or RFC 3339.
        /// Headless: print the decisions up to here.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        #[arg(long)]
        headless: bool,
        #[arg(long)]
        ascii: bool,
    },
    /// Validate a plan and print what it will do.
    Plan {
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        /// Warn where the plan is weaker than the steps that caught past
        /// rollbacks, from the journals in DIR (default: the plan's
        /// journal directory).
        #[arg(long, value_name = "DIR")]
        history_dir: Vec<PathBuf>,
    },
    /// Judge one metric's canary samples against its baseline samples with
    /// Kayenta's Mann-Whitney classifier, as a gate does: the shift's
    /// interval and estimate, the mean ratio, the p-value and the verdict.
    #[command(after_help = JUDGE_AFTER_HELP)]
    Judge {
        /// The canary's samples.
        #[arg(long, value_name = "FILE")]
        canary: PathBuf,
        /// The baseline's samples.
        #[arg(long, value_name = "FILE")]
        baseline: PathBuf,
        /// The metric's judge settings (TOML); Kayenta's defaults without.
        #[arg(long, value_name = "TOML")]
        metric_config: Option<PathBuf>,
        /// Print one JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Check a journal: its hash chain, that a `rollout_ended` record
    /// closes it, its HMAC seals (with the key), its head, and the flight
    /// recording its last record names.
    ///
    /// Exit codes: 0 closed and holds, 1 broken, 2 unreadable, 3 torn last
    /// line, 4 open (running, or cut after its last record), 5 the head is
    /// not --expect-head, 6 the recording is missing or not the one sealed.
    Verify {
        journal: PathBuf,
        /// The head (hash of the last record) kept elsewhere, e.g. in the
        /// change ticket or the final notification: 64 hex digits, or at
        /// least the first 12.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// The environment variable holding the journal key (default: the
        /// one the journal's plan names in `journal.key_env`, then
        /// RAMPDECK_JOURNAL_KEY). When it is set, every record's seal must
        /// hold.
        #[arg(long, value_name = "VAR")]
        key_env: Option<String>,
    },
    /// Past rollouts from their journals, newest first: start, duration,
    /// result, who drove, which triggers fired at which step and weight,
    /// the time from the first breach to the rollback, and whether each
    /// journal verifies (a tampered or open one is flagged, never hidden).
    ///
    /// Exit codes: 0 every journal verifies or is open, 1 one is tampered
    /// or unreadable.
    History {
        /// Only this service's rollouts.
        service: Option<String>,
        /// A journal directory (repeat for several, e.g. a team's shared
        /// journal_dir); default: the one `rampdeck run` writes to, and its
        /// `demo/`.
        #[arg(long, value_name = "DIR")]
        dir: Vec<PathBuf>,
        /// One JSON document instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Run past rollouts' flight recordings through a plan: would it have
    /// rolled back (where, when, by which trigger or gate), promoted, or
    /// still be running when the recording ends; beside it, the recording's
    /// own plan and what really happened.
    ///
    /// Hooks succeed at once, automatic checks pass, pre-flight and exit
    /// items are confirmed and manual steps approved (the output says so).
    /// Exit codes: 0 backtested, 2 the plan or a recording unreadable.
    Backtest {
        /// The plan to test.
        #[arg(long, short)]
        config: PathBuf,
        /// Recordings (`<rollout>.rec.jsonl.gz` beside a journal, or the
        /// live `.rec.jsonl.live`).
        #[arg(required = true, value_name = "RECORDING")]
        recordings: Vec<PathBuf>,
        /// One JSON array instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// The post-deploy summary of a journal.
    Summary {
        journal: PathBuf,
        #[arg(long, value_enum, default_value = "markdown")]
        format: SummaryFormat,
        /// Also draw one SVG chart per metric from the rollout's recording
        /// into DIR, linked from the summary (exit code 3 when a recording
        /// exists but could not be charted).
        #[arg(long, value_name = "DIR")]
        charts: Option<PathBuf>,
    },
}
