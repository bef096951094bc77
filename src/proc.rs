//! Child processes that can neither hang rampdeck nor flood it: command
//! sources and argv hooks both run through [`run`].
//!
//! - The child starts a session of its own (it is also its process group's
//!   leader), so everything it starts can be found and killed: by group,
//!   by session, and, for a grandchild that called `setsid` to leave both,
//!   by the output pipe it still holds.
//! - The run is over when the child **exits**, not when its pipes close: a
//!   leftover grandchild that keeps stdout open gets [`Limits::drain`] to
//!   finish its output, then it is killed. Nothing outlives the run.
//! - Output is bounded: each stream keeps at most its limit; a source's
//!   stdout past its limit ends the run at once (the answer is refused),
//!   a hook's is drained and cut in the middle.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a run may take and keep.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From the start to the child's exit; past it the session is killed.
    pub timeout: Duration,
    /// Bytes of stdout kept.
    pub stdout: usize,
    /// Past [`Limits::stdout`], end the run at once ([`Ended::TooMuchOutput`])
    /// instead of draining and cutting the middle.
    pub stdout_overflow_ends: bool,
    /// Bytes of stderr kept (always drained and cut in the middle).
    pub stderr: usize,
    /// After the child exits, how long leftover processes may keep its pipes
    /// open before they are killed.
    pub drain: Duration,
}

/// How the child's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited (or a signal from elsewhere ended it).
    Exited(ExitStatus),
    /// It ran past [`Limits::timeout`]; its session was killed.
    TimedOut,
    /// It printed more than [`Limits::stdout`] bytes with
    /// [`Limits::stdout_overflow_ends`]; its session was killed.
    TooMuchOutput,
    /// Waiting for it failed; its session was killed.
    WaitFailed,
}

/// A finished run.
#[derive(Debug)]
pub struct Finished {
    pub ended: Ended,
    pub stdout: Capture,
    pub stderr: Capture,
    /// What else happened, for the record: leftover processes killed,
    /// output pipes held open, a failed wait.
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

/// Runs `cmd` (its stdin, stdout and stderr are set here) within `limits`.
/// Errs only when the program cannot be started.
pub async fn run(cmd: &mut Command, limits: &Limits) -> io::Result<Finished> {
    let started = Instant::now();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // If rampdeck drops the run mid-way (shutdown), do not leave it.
        .kill_on_drop(true);
    // SAFETY: the closure runs in the forked child before exec and calls
    // only setsid(2), which is async-signal-safe, allocates nothing and
    // touches no lock; it cannot fail for a fresh child (which is never a
    // group leader), and an error is passed back as an io::Error.
    unsafe {
        cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(io::Error::from));
    }
    let mut child = cmd.spawn()?;
    let leader = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let pipes: Vec<u64> = [
        child.stdout.as_ref().and_then(pipe_inode),
        child.stderr.as_ref().and_then(pipe_inode),
    ]
    .into_iter()
    .flatten()
    .collect();
    // If this future is dropped mid-run (a poll aborted at shutdown), the
    // guard kills what the run started; a finished run disarms it.
    let mut guard = Guard {
        leader,
        pipes: pipes.clone(),
        armed: true,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (over_tx, mut over_rx) = watch::channel(false);
    let stdout = spawn_reader(
        child.stdout.take(),
        limits.stdout,
        limits.stdout_overflow_ends.then_some(over_tx),
        stop_rx.clone(),
    );
    let stderr = spawn_reader(child.stderr.take(), limits.stderr, None, stop_rx);

    let deadline = tokio::time::Instant::from_std(started + limits.timeout);
    let mut notes = Vec::new();
    let waited = tokio::select! {
        status = child.wait() => Some(status),
        () = tokio::time::sleep_until(deadline) => None,
        // Err: the reader ended without overflow (its sender is gone).
        Ok(_) = over_rx.wait_for(|over| *over) => None,
    };
    let ended = match waited {
        Some(Ok(status)) => Ended::Exited(status),
        other => {
            if let Some(Err(e)) = &other {
                notes.push(format!("could not wait for the process: {e}"));
            }
            // The leader is not reaped yet, so its pid (= the group and
            // session id) cannot have been reused: only its own are hit.
            kill_group(leader, &mut notes);
            if let Err(e) = child.wait().await {
                notes.push(format!("could not reap the process: {e}"));
            }
            match other {
                Some(Err(_)) => Ended::WaitFailed,
                _ if *over_rx.borrow() => Ended::TooMuchOutput,
                _ => Ended::TimedOut,
            }
        }
    };
    // Whatever is still in the group goes now: the run is over.
    kill_group(leader, &mut notes);

    // Output already written is in the pipes; a leftover process that
    // escaped the group may still hold them open. Read until both close or
    // the drain ends, then kill whoever still holds them.
    let readers = async { (stdout.await, stderr.await) };
    tokio::pin!(readers);
    let drained = tokio::time::timeout(limits.drain, &mut readers).await;
    let (out, err) = match drained {
        Ok(both) => both,
        Err(_) => {
            let killed = kill_leftovers(leader, &pipes);
            notes.push(match killed {
                0 => "output still held open by a process that could not be found; stopped reading"
                    .to_string(),
                1 => "killed 1 leftover process that held the output open".to_string(),
                n => format!("killed {n} leftover processes that held the output open"),
            });
            stop_tx.send_replace(true);
            readers.await
        }
    };
    let take = |r: Result<Capture, tokio::task::JoinError>| {
        r.unwrap_or_else(|e| {
            let mut c = Capture::new(0);
            c.error = Some(format!("output reader failed: {e}"));
            c
        })
    };
    guard.armed = false;
    Ok(Finished {
        ended,
        stdout: take(out),
        stderr: take(err),
        notes,
        elapsed: started.elapsed(),
    })
}

/// Kills a run's session and pipe holders when the run is dropped before
/// it finished.
struct Guard {
    leader: Option<Pid>,
    pipes: Vec<u64>,
    armed: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.armed {
            if let Some(pgid) = self.leader {
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            kill_leftovers(self.leader, &self.pipes);
        }
    }
}

/// The name of the signal that ended `status`, if one did.
pub fn signal_name(status: ExitStatus) -> Option<String> {
    let sig = status.signal()?;
    Some(
        Signal::try_from(sig)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| format!("signal {sig}")),
    )
}

fn kill_group(leader: Option<Pid>, notes: &mut Vec<String>) {
    let Some(pgid) = leader else {
        notes.push("process id unknown; could not kill its group".into());
        return;
    };
    match killpg(pgid, Signal::SIGKILL) {
        // ESRCH: everybody already gone, which is what we wanted.
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => notes.push(format!("could not kill process group {pgid}: {e}")),
    }
}

/// The inode of a pipe end, which names the pipe in `/proc/PID/fd`.
fn pipe_inode<F: std::os::fd::AsFd>(end: &F) -> Option<u64> {
    nix::sys::stat::fstat(end.as_fd()).ok().map(|st| st.st_ino)
}

/// Kills every process of the run's session or group, and every process
/// that holds one of its output pipes (a grandchild that left with
/// `setsid`). Returns how many were found. A few rounds, because a process
/// may fork while it is being killed.
fn kill_leftovers(leader: Option<Pid>, pipes: &[u64]) -> usize {
    let mut killed = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let found: Vec<i32> = leftovers(leader.map(Pid::as_raw), pipes)
            .into_iter()
            .filter(|p| !killed.contains(p))
            .collect();
        if found.is_empty() {
            break;
        }
        for pid in found {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            killed.insert(pid);
        }
    }
    killed.len()
}

#[cfg(target_os = "linux")]
fn leftovers(session: Option<i32>, pipes: &[u64]) -> Vec<i32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let targets: Vec<String> = pipes.iter().map(|i| format!("pipe:[{i}]")).collect();
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let in_session = session.is_some_and(|s| {
            std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| group_and_session(&stat))
                .is_some_and(|(pgrp, sid)| pgrp == s || sid == s)
        });
        let holds_pipe = !in_session
            && !targets.is_empty()
            && std::fs::read_dir(entry.path().join("fd")).is_ok_and(|fds| {
                fds.flatten().any(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|l| targets.iter().any(|t| l.as_os_str() == t.as_str()))
                })
            });
        if (in_session || holds_pipe)
            && let Ok(pid) = i32::try_from(pid)
        {
            out.push(pid);
        }
    }
    out
}

/// Without /proc, only the group can be killed (done by the caller).
#[cfg(not(target_os = "linux"))]
fn leftovers(_session: Option<i32>, _pipes: &[u64]) -> Vec<i32> {
    Vec::new()
}

/// (process group, session) from the text of `/proc/PID/stat`. The command
/// name in parentheses may hold spaces and ')', so fields are counted from
/// the last ')'.
fn group_and_session(stat: &str) -> Option<(i32, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // state, ppid, pgrp, session
    let pgrp = fields.nth(2)?.parse().ok()?;
    let sid = fields.next()?.parse().ok()?;
    Some((pgrp, sid))
}

/// Reads a pipe into a [`Capture`] until it closes, `stop` turns true, or
/// (with `overflow`) more than `limit` bytes came, which it signals.
fn spawn_reader<R: AsyncRead + Unpin + Send + 'static>(
    pipe: Option<R>,
    limit: usize,
    overflow: Option<watch::Sender<bool>>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<Capture> {
    tokio::spawn(async move {
        let mut cap = Capture::new(limit);
        let Some(mut pipe) = pipe else {
            return cap;
        };
        let mut buf = vec![0u8; 8192];
        let mut total = 0usize;
        loop {
            let read = tokio::select! {
                biased;
                r = pipe.read(&mut buf) => r,
                _ = stop.wait_for(|s| *s) => break,
            };
            match read {
                Ok(0) => break,
                Ok(n) => {
                    total = total.saturating_add(n);
                    if let Some(over) = &overflow
                        && total > limit
                    {
                        // Keep what fits; the rest is never read.
                        let room = limit.saturating_sub(total - n);
                        cap.push(&buf[..room]);
                        cap.dropped += (n - room) as u64;
                        over.send_replace(true);
                        break;
                    }
                    cap.push(&buf[..n]);
                }
                Err(e) => {
                    cap.error = Some(e.to_string());
                    break;
                }
            }
        }
        cap
    })
}

/// Keeps the first and last halves of a stream within a byte limit and
/// counts what was dropped in between: the start says what a process set
/// out to do, the end says how it failed. The reader keeps draining the
/// pipe so a chatty process never blocks on a full pipe.
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
            half: limit.div_ceil(2),
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

    /// Bytes that were not kept.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The kept bytes, head then tail, without markers.
    pub fn bytes(&self) -> Vec<u8> {
        let mut all = self.head.clone();
        all.extend(self.tail.iter());
        all
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

    #[test]
    fn stat_fields_survive_odd_command_names() {
        let stat = "4242 (we ird) (name)) S 1 4240 4239 0 -1 4194560 0 0";
        assert_eq!(group_and_session(stat), Some((4240, 4239)));
        assert_eq!(group_and_session("garbage"), None);
    }
}
