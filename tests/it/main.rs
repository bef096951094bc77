//! rampdeck's integration tests: one test binary, one module per subject,
//! and one kit (`kit/`) of what they share (plans, journals, loopback
//! servers, processes, ptys). One crate links once, which is most of what
//! the old forty binaries cost on two cores.
//!
//! Tests here share a process and run in parallel: nothing may change the
//! process's environment, working directory or signal handling, and
//! anything measured (memory) is measured per thread or per child process.
//! Data files stay where they were: `tests/scenarios/*.toml`,
//! `tests/configs/`, `tests/hooks/*.sh`, `tests/fake-kubectl/`; insta's
//! snapshots live in `tests/it/snapshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kit;

mod approvals_restart;
mod approve_pty;
mod checklist_faults;
mod checklist_pty;
mod cli_docs;
mod config_fixtures;
mod demo_closed_loop;
mod demo_headless;
mod demo_service;
mod e2e_pty;
mod exit_run;
mod freeze_exception;
mod headless_exit;
mod history;
mod hooks;
mod hostile_sources;
mod journal_crash;
mod journal_large;
mod journal_summary;
mod journal_tamper;
mod judge_cli;
mod judge_golden;
mod judge_score;
mod output_injection;
mod parser_fuzz;
mod plan_checks;
mod preflight_run;
mod presets;
mod prometheus_integration;
mod reasons_identity;
mod recorder_run;
mod redaction;
mod replay;
mod resume_engine;
mod resume_process;
mod scenarios;
mod session_attach;
mod session_processes;
mod session_protocol;
mod sharing;
mod shell_verbs;
mod source_faults;
mod ssh_drop;
mod strategy_run;
mod summary_blame;
mod summary_charts;
mod summary_damaged;
mod summary_phases;
mod tui_checklists;
mod tui_history;
mod tui_snapshots;
mod tui_strategies;
mod verify_proves;
mod viewer_flood;
