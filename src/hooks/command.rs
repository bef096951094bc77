//! argv hooks: run without a shell, in their own process group, with a
//! deadline that kills the whole group.
//!
//! Why a process group: a hook is often a script that starts other programs
//! (`kubectl`, `curl`, a smoke-test runner). Killing only the script on a
//! timeout would leave those running, still changing the world after
//! rampdeck reported the hook as over. SIGKILL to `-pgid` reaches them all,
//! unless a program deliberately left the group (`setsid`).

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;

use super::vars::{HookVars, expand_argv};
use super::{Attempt, format_duration};
use crate::engine::HookOutcome;

/// Bytes kept of each of stdout and stderr.
pub const CAPTURE_LIMIT: usize = 16 * 1024;

/// After SIGKILL to the group, how long the output pipes may take to close.
/// Only a process that escaped the group (setsid) can hold them longer.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Runs one attempt of an argv hook.
pub(super) async fn run_once(argv: &[String], vars: &HookVars, timeout: Duration) -> Attempt {
    let started = Instant::now();
    let argv = match expand_argv(argv, vars) {
        Ok(a) => a,
        Err(e) => return Attempt::refused(e.to_string()),
    };
    let (program, args) = match argv.split_first() {
        Some(split) => split,
        None => return Attempt::refused("the hook's command is empty".into()),
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(vars.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A new group whose id is the child's pid: the unit we kill.
        .process_group(0)
        // If rampdeck itself is torn down mid-hook, do not leave the leader.
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Attempt {
                outcome: failed(
                    format!("could not start `{program}`: {e} (is it installed and on PATH?)"),
                    started,
                ),
                // A missing program does not appear by waiting.
                retryable: false,
            };
        }
    };
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let stdout = spawn_capture(child.stdout.take());
    let stderr = spawn_capture(child.stderr.take());

    let deadline = tokio::time::Instant::from_std(started + timeout);
    let waited = tokio::select! {
        status = child.wait() => Some(status),
        () = tokio::time::sleep_until(deadline) => None,
    };

    let mut notes = Vec::new();
    let timed_out = waited.is_none();
    let status = match waited {
        Some(Ok(status)) => Some(status),
        Some(Err(e)) => {
            notes.push(format!("could not wait for the process: {e}"));
            kill_group(pgid, &mut notes);
            let _reaped = child.wait().await;
            None
        }
        None => {
            // The leader is not reaped yet, so its pid (= the pgid) cannot
            // have been reused: the signal reaches only the hook's group.
            kill_group(pgid, &mut notes);
            // Reap the leader; SIGKILL makes this prompt.
            if let Err(e) = child.wait().await {
                notes.push(format!("could not reap the process: {e}"));
            }
            None
        }
    };

    // The leader has exited, but a leftover member of its group may still
    // hold the pipes open. Give it until the deadline, then kill the group.
    let pipe_deadline = deadline.max(tokio::time::Instant::now()) + PIPE_GRACE;
    let (out, err) = collect(stdout, stderr, pipe_deadline, pgid, &mut notes).await;
    let elapsed = started.elapsed();

    let (ok, code, mut summary) = match status {
        Some(status) => describe_exit(status, elapsed, &err),
        None if timed_out => (
            false,
            None,
            format!(
                "timed out after {}; process group killed",
                format_duration(timeout)
            ),
        ),
        None => (false, None, "failed while running".to_string()),
    };
    for note in notes {
        summary.push_str("; ");
        summary.push_str(&note);
    }
    Attempt {
        outcome: HookOutcome {
            ok,
            code,
            summary,
            stdout: out,
            stderr: err,
            attempts: 1,
            duration_ms: millis(elapsed),
        },
        retryable: true,
    }
}

fn describe_exit(
    status: ExitStatus,
    elapsed: Duration,
    stderr: &str,
) -> (bool, Option<i32>, String) {
    match status.code() {
        Some(0) => (
            true,
            Some(0),
            format!("exit 0 in {}", format_duration(elapsed)),
        ),
        Some(code) => {
            let last = stderr
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("[rampdeck:"));
            let summary = match last {
                Some(line) => format!("exit {code}: {}", shorten(line, 200)),
                None => format!("exit {code} in {}", format_duration(elapsed)),
            };
            (false, Some(code), summary)
        }
        None => {
            let sig = status.signal().unwrap_or(0);
            let name = Signal::try_from(sig)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| format!("signal {sig}"));
            (false, None, format!("killed by {name}"))
        }
    }
}

fn kill_group(pgid: Option<Pid>, notes: &mut Vec<String>) {
    let Some(pgid) = pgid else {
        notes.push("process id unknown; could not kill its group".into());
        return;
    };
    match killpg(pgid, Signal::SIGKILL) {
        // ESRCH: everybody already gone, which is what we wanted.
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => notes.push(format!("could not kill process group {pgid}: {e}")),
    }
}

async fn collect(
    stdout: JoinHandle<Capture>,
    stderr: JoinHandle<Capture>,
    deadline: tokio::time::Instant,
    pgid: Option<Pid>,
    notes: &mut Vec<String>,
) -> (String, String) {
    let both = async { (stdout.await, stderr.await) };
    tokio::pin!(both);
    let joined = tokio::select! {
        j = &mut both => Some(j),
        () = tokio::time::sleep_until(deadline) => None,
    };
    let (out, err) = match joined {
        Some(j) => j,
        None => {
            notes.push("output still held open by a leftover process; process group killed".into());
            kill_group(pgid, notes);
            // A process outside the group (setsid) may still hold the pipe:
            // stop waiting rather than hang the driver.
            match tokio::time::timeout(PIPE_GRACE, &mut both).await {
                Ok(j) => j,
                Err(_) => {
                    notes.push("output pipes never closed; output lost".into());
                    return (String::new(), String::new());
                }
            }
        }
    };
    let text = |r: Result<Capture, tokio::task::JoinError>| match r {
        Ok(c) => c.into_text(),
        Err(e) => format!("[rampdeck: output reader failed: {e}]"),
    };
    (text(out), text(err))
}

fn spawn_capture<R: AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> JoinHandle<Capture> {
    tokio::spawn(async move {
        let mut cap = Capture::new(CAPTURE_LIMIT);
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => cap.push(&buf[..n]),
                    Err(e) => {
                        cap.error = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        cap
    })
}

/// Keeps the first and last halves of a stream within a byte limit and
/// counts what was dropped in between: the start says what the hook set out
/// to do, the end says how it failed. The reader keeps draining the pipe so
/// a chatty hook never blocks on a full pipe.
#[derive(Debug)]
pub struct Capture {
    half: usize,
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    dropped: u64,
    error: Option<String>,
}

impl Capture {
    /// A capture keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Capture {
            half: limit / 2,
            head: Vec::new(),
            tail: std::collections::VecDeque::new(),
            dropped: 0,
            error: None,
        }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, mut bytes: &[u8]) {
        let room = self.half.saturating_sub(self.head.len());
        let take = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        // Only the last `half` bytes of this chunk can survive in the tail.
        if bytes.len() > self.half {
            let skip = bytes.len() - self.half;
            self.dropped += skip as u64;
            bytes = &bytes[skip..];
        }
        self.tail.extend(bytes);
        let over = self.tail.len().saturating_sub(self.half);
        self.tail.drain(..over);
        self.dropped += over as u64;
    }

    /// The kept text (lossy UTF-8), with a marker where bytes were dropped.
    pub fn into_text(self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!(
                "\n[rampdeck: {} bytes of output truncated]\n",
                self.dropped
            ));
        }
        let tail: Vec<u8> = self.tail.into_iter().collect();
        text.push_str(&String::from_utf8_lossy(&tail));
        if let Some(e) = self.error {
            text.push_str(&format!("\n[rampdeck: reading output failed: {e}]"));
        }
        text
    }
}

fn failed(summary: String, started: Instant) -> HookOutcome {
    HookOutcome {
        ok: false,
        code: None,
        summary,
        stdout: String::new(),
        stderr: String::new(),
        attempts: 1,
        duration_ms: millis(started.elapsed()),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn shorten(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max_chars).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_head_and_tail_within_limit() {
        let mut cap = Capture::new(8);
        cap.push(b"abcdef");
        cap.push(b"ghijklmnop");
        cap.push(b"qr");
        let text = cap.into_text();
        assert!(text.starts_with("abcd\n[rampdeck: 10 bytes of output truncated]\n"));
        assert!(text.ends_with("opqr"));
    }

    #[test]
    fn capture_under_limit_is_verbatim() {
        let mut cap = Capture::new(100);
        cap.push(b"hello ");
        cap.push(b"world");
        assert_eq!(cap.into_text(), "hello world");
    }
}
