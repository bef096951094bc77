//! `rampdeck pause|resume|promote|approve|tick [ROLLOUT]`: a pipeline or a
//! second engineer acts on a running rollout without the cockpit
//! (`approve ROLLOUT STEP` approves only that step; `approve ROLLOUT
//! --freeze-exception` grants a freeze exception as the sender).
//!
//! Each verb is one command on the rollout's socket, exactly as a key in
//! an attached cockpit: the driver journals it with the identity the
//! socket's peer credentials give, and applies `drivers`, `require_second`
//! and `reason_required` before the engine says yes or no. The driver
//! answers the sender with a notice, `accepted: VERB` or `refused: WHY`
//! (the engine's own words, such as "hold not over yet: 01:20 left; use
//! promote to skip"), and the exit code follows it.

use std::time::Duration;

use crate::engine::{Command, Phase};
use crate::headless::{EXIT_CONFIG, EXIT_INTERNAL, EXIT_STOPPED};
use crate::session::{self, ClientMsg};

/// How the driver's notice to the sender of an accepted command begins.
pub const ACCEPTED: &str = "accepted: ";
/// How every refusal told to a view begins.
pub const REFUSED: &str = "refused";

/// How long to wait for the driver's answer. It answers at once; this only
/// bounds a driver that hangs.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// After `accepted`, how long to wait for the snapshot showing the new phase.
const PHASE_WITHIN: Duration = Duration::from_secs(2);

/// The name of a command as typed on the command line.
pub fn verb(command: Command) -> &'static str {
    match command {
        Command::PromoteFull => "promote --full",
        other => other.as_str(),
    }
}

/// When `command` needs a reason under `reason_required` and has none, the
/// words to refuse it with (the same rule the driver applies).
pub fn missing_reason(
    reason_required: &[Command],
    command: Command,
    reason: &str,
) -> Option<String> {
    (reason.trim().is_empty() && reason_required.contains(&command)).then(|| {
        format!(
            "a reason is required for {} (`reason_required` in the plan): add --reason \"why\"; nothing was sent",
            command.as_str()
        )
    })
}

/// `rampdeck VERB [ROLLOUT] --reason R [--take-control]`; returns the exit
/// code: 0 accepted, 4 refused or waiting for a second driver, 2 nothing
/// sent, 1 the socket failed.
pub async fn act_cmd(
    command: Command,
    rollout: Option<&str>,
    reason: &str,
    take_control: bool,
) -> i32 {
    let msg = ClientMsg::Command {
        command,
        reason: reason.to_string(),
    };
    let sent = Sent {
        name: verb(command),
        command: Some(command),
        accepted: command.as_str(),
        settle: true,
    };
    send(sent, msg, rollout, reason, take_control).await
}

/// What `rampdeck approve` approves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// The step awaiting approval; with a number (1-based), only that step.
    Step(Option<u32>),
    /// A freeze exception, granted as the sender (peer credentials).
    FreezeException,
}

/// `rampdeck approve [ROLLOUT] [STEP] --reason R` or `rampdeck approve
/// [ROLLOUT] --freeze-exception --reason R`; exit codes as [`act_cmd`].
pub async fn approve_cmd(
    how: Approval,
    rollout: Option<&str>,
    reason: &str,
    take_control: bool,
) -> i32 {
    match how {
        Approval::Step(None) => act_cmd(Command::Approve, rollout, reason, take_control).await,
        Approval::Step(Some(step)) => {
            let msg = ClientMsg::ApproveStep {
                step,
                reason: reason.to_string(),
            };
            let sent = Sent {
                name: "approve",
                command: Some(Command::Approve),
                accepted: Command::Approve.as_str(),
                settle: true,
            };
            send(sent, msg, rollout, reason, take_control).await
        }
        Approval::FreezeException => {
            let name = "approve --freeze-exception";
            if reason.trim().is_empty() {
                eprintln!(
                    "rampdeck {name}: a freeze exception needs a reason: add --reason \"why\"; nothing was sent"
                );
                return EXIT_CONFIG;
            }
            let msg = ClientMsg::FreezeException {
                reason: reason.to_string(),
            };
            let sent = Sent {
                name,
                command: None,
                accepted: "freeze_exception",
                settle: false,
            };
            send(sent, msg, rollout, reason, take_control).await
        }
    }
}

/// `rampdeck tick [ROLLOUT] --item N --reason NOTE`: ticks manual item ITEM
/// (1-based) of the checklist on screen: the pre-flight before the start,
/// the exit items after it. Exit codes as [`act_cmd`].
pub async fn tick_cmd(item: u32, rollout: Option<&str>, note: &str, take_control: bool) -> i32 {
    let name = "tick";
    // The driver's engine says which checklist is on screen.
    let msg = ClientMsg::Confirm {
        stage: None,
        item: Some(item.saturating_sub(1) as usize),
        note: note.to_string(),
    };
    let sent = Sent {
        name,
        command: None,
        accepted: "item confirmed",
        settle: false,
    };
    send(sent, msg, rollout, note, take_control).await
}

/// One message to a rollout and how its answer reads.
struct Sent {
    /// As typed: "promote --full".
    name: &'static str,
    /// The command `reason_required` may name.
    command: Option<Command>,
    /// The word of the driver's `accepted: ...` notice.
    accepted: &'static str,
    /// Wait for the snapshot showing the new phase.
    settle: bool,
}

async fn send(
    sent: Sent,
    msg: ClientMsg,
    rollout: Option<&str>,
    reason: &str,
    take_control: bool,
) -> i32 {
    let name = sent.name;
    let fail = |code: i32, why: &str| {
        eprintln!("rampdeck {name}: {why}");
        code
    };
    // Refused here, before anything is sent or journaled.
    if let Err(why) = crate::engine::reason::check_reason(reason) {
        return fail(EXIT_CONFIG, &why);
    }
    let socket = match crate::attach::choose(rollout) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_CONFIG, &e),
    };
    let mut client = match session::connect(&socket).await {
        Ok(c) => c,
        Err(e) => return fail(EXIT_INTERNAL, &e.to_string()),
    };
    let required = client.snapshots.borrow().plan.ui.reason_required.clone();
    if let Some(why) = sent
        .command
        .and_then(|c| missing_reason(&required, c, reason))
    {
        return fail(EXIT_CONFIG, &why);
    }
    if take_control {
        if let Err(e) = client.send(ClientMsg::TakeControl).await {
            return fail(EXIT_INTERNAL, &e.to_string());
        }
        match answer(&mut client, |n| n.contains("took control")).await {
            Answer::Yes => {}
            Answer::No(why) => return fail(EXIT_STOPPED, &why),
        }
    }
    let before = client.snapshots.borrow().engine.phase.clone();
    if let Err(e) = client.send(msg).await {
        return fail(EXIT_INTERNAL, &e.to_string());
    }
    let accepted = format!("{ACCEPTED}{}", sent.accepted);
    match answer(&mut client, |n| n == accepted).await {
        Answer::Yes if !sent.settle => {
            println!("{name}: accepted; journaled with your identity");
            0
        }
        Answer::Yes => {
            let now = settled(&mut client, &before).await;
            println!(
                "{name}: accepted; the rollout is {}",
                crate::engine::words::phase_sentence(&now)
            );
            0
        }
        // The two-person rule: recorded, not yet done (as for rollback).
        Answer::No(why) if why.contains("second driver must") => {
            println!("{why}");
            EXIT_STOPPED
        }
        Answer::No(why) => fail(EXIT_STOPPED, &why),
    }
}

enum Answer {
    Yes,
    No(String),
}

/// Waits for the driver's notice that `yes` matches, or a refusal, a
/// two-person request, the connection closing, or the bound passing.
async fn answer(client: &mut session::Client, yes: impl Fn(&str) -> bool) -> Answer {
    let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
    loop {
        tokio::select! {
            n = client.notices.recv() => match n {
                Some(n) if yes(&n) => return Answer::Yes,
                Some(n) if n.starts_with(REFUSED) => return Answer::No(hint(n)),
                Some(n) if n.contains("second driver must") => return Answer::No(n),
                Some(_) => {}
                None => {
                    return Answer::No(format!(
                        "the driver closed the connection: {}",
                        client.close_reason()
                    ));
                }
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Answer::No(format!(
                    "the driver did not answer within {} s; see its decision log",
                    ANSWER_WITHIN.as_secs()
                ));
            }
        }
    }
}

/// The cockpit's hint ("take control first (c)") said for a shell.
fn hint(refusal: String) -> String {
    if refusal.contains("take control first") {
        format!("{refusal}; from a shell, add --take-control")
    } else {
        refusal
    }
}

/// The phase once the accepted command shows in a snapshot (bounded).
async fn settled(client: &mut session::Client, before: &Phase) -> Phase {
    let deadline = tokio::time::Instant::now() + PHASE_WITHIN;
    loop {
        let now = client.snapshots.borrow().engine.phase.clone();
        if now != *before {
            return now;
        }
        tokio::select! {
            changed = client.snapshots.changed() => {
                if changed.is_err() {
                    return now;
                }
            }
            _ = tokio::time::sleep_until(deadline) => return now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_reason_is_missing_only_when_blank() {
        let required = vec![Command::Approve, Command::PromoteFull];
        assert!(missing_reason(&required, Command::Approve, "").is_some());
        assert!(missing_reason(&required, Command::Approve, "  \n").is_some());
        assert!(missing_reason(&required, Command::Approve, "CHG-1 signed off").is_none());
        assert!(missing_reason(&required, Command::Pause, "").is_none());
        assert!(missing_reason(&required, Command::PromoteFull, "").is_some());
    }

    #[test]
    fn refusals_that_need_control_say_how_from_a_shell() {
        let r =
            hint("refused: bob cannot approve: alice is in control; take control first (c)".into());
        assert!(r.ends_with("add --take-control"), "{r}");
        assert_eq!(
            hint("refused: already paused".into()),
            "refused: already paused"
        );
    }
}
