//! Command sources: run an argv (no shell) with a timeout; the first number
//! in stdout is the value.
//!
//! The value is read when the command exits, not when its output pipe
//! closes: a grandchild that keeps stdout open (a daemon it started) does
//! not make the poll time out, and it is killed with the rest of the
//! command's session ([`crate::proc`]). Stdout is capped at the source's
//! `max_response`; a longer answer is refused at once, and the number is
//! looked for off the runtime's workers when the answer is big.

use std::time::{Duration, Instant};

use super::http::{parse_off_path, size_words, snippet};
use crate::engine::Reading;
use crate::plan::Source;
use crate::proc::{self, Ended};

/// A number longer than this many characters is not a value (a run of a
/// million digits is noise, not a metric).
const MAX_NUMBER_CHARS: usize = 64;

/// Bytes of stderr kept for the error message.
const STDERR_KEPT: usize = 4096;

/// How long after the command exits its output may still be arriving
/// (from a process it started) before the poll reads what came.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(150);

/// The first number in `text` (`12`, `-0.5`, `1e-3`, `.25`), if any. Linear
/// in the text's length: each candidate is at most [`MAX_NUMBER_CHARS`] long.
pub fn first_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let is_num_char = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
    let next_digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let mut start = 0;
    while start < bytes.len() {
        let b = bytes[start];
        let starts = b.is_ascii_digit()
            || (matches!(b, b'-' | b'+')
                && (next_digit(start + 1)
                    || (bytes.get(start + 1) == Some(&b'.') && next_digit(start + 2))))
            || (b == b'.' && next_digit(start + 1));
        // A number starts here only if it does not continue a word (`v2`).
        let after_word =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.');
        if !starts || after_word {
            start += 1;
            continue;
        }
        let mut end = start + 1;
        while end < bytes.len() && is_num_char(bytes[end]) {
            end += 1;
        }
        if end - start > MAX_NUMBER_CHARS {
            // Too long to be a value: skip the whole run.
            start = end;
            continue;
        }
        // Shrink until it parses: "1.5." → "1.5", "3-4" → "3".
        let mut stop = end;
        while stop > start {
            if let Ok(v) = text[start..stop].parse::<f64>()
                && v.is_finite()
            {
                return Some(v);
            }
            stop -= 1;
        }
        start += 1;
    }
    None
}

/// How a command source's commands are bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    /// Bytes of stdout accepted (the source's `max_response`).
    pub max_response: usize,
}

impl Limits {
    /// The limits of `source`.
    pub fn for_source(source: &Source) -> Self {
        Limits {
            timeout: source.timeout,
            max_response: source.max_response,
        }
    }
}

/// Runs `argv` within `limits` and maps the result to a reading; returns the
/// run time too.
pub async fn run(argv: &[String], limits: &Limits) -> (Reading, u64) {
    let started = Instant::now();
    let reading = run_inner(argv, limits).await;
    (reading, started.elapsed().as_millis() as u64)
}

async fn run_inner(argv: &[String], limits: &Limits) -> Reading {
    let Some((program, args)) = argv.split_first() else {
        return Reading::ProviderError {
            message: "the command is empty: give at least the program to run".into(),
            code: Some("spawn".into()),
        };
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    let run_limits = proc::Limits {
        timeout: limits.timeout,
        stdout: limits.max_response,
        stdout_overflow_ends: true,
        stderr: STDERR_KEPT,
        drain: DRAIN_AFTER_EXIT,
    };
    let finished = match proc::run(&mut cmd, &run_limits).await {
        Ok(f) => f,
        Err(e) => {
            return Reading::ProviderError {
                message: format!(
                    "cannot run {program:?}: {e} (check the path and that it is executable)"
                ),
                code: Some("spawn".into()),
            };
        }
    };
    match finished.ended {
        Ended::TimedOut => Reading::ProviderError {
            message: format!(
                "command {program:?} did not finish within {} ms and was killed",
                limits.timeout.as_millis()
            ),
            code: Some("timeout".into()),
        },
        Ended::TooMuchOutput => Reading::ProviderError {
            message: format!(
                "command {program:?} printed more than {} (the source's max_response cap) and was killed; print one number, or raise `max_response`",
                size_words(limits.max_response)
            ),
            code: Some("too_large".into()),
        },
        Ended::WaitFailed => Reading::ProviderError {
            message: format!("command {program:?} failed: {}", finished.notes.join("; ")),
            code: Some("spawn".into()),
        },
        Ended::Exited(status) if !status.success() => {
            let code = match status.code() {
                Some(c) => format!("exit {c}"),
                None => proc::signal_name(status).unwrap_or_else(|| "signal".into()),
            };
            Reading::ProviderError {
                message: format!(
                    "command {program:?} ended with {code}: {}",
                    snippet(&finished.stderr.bytes(), 200)
                ),
                code: Some(code),
            }
        }
        Ended::Exited(_) => {
            let program = program.clone();
            let out = finished.stdout.bytes();
            parse_off_path(out, move |out| {
                match first_number(&String::from_utf8_lossy(out)) {
                    Some(value) => Reading::value(value),
                    None => Reading::NoData {
                        why: format!(
                            "command {program:?} printed no number: {}",
                            snippet(out, 80)
                        ),
                    },
                }
            })
            .await
            .unwrap_or_else(|r| r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_number_finds_the_first_number() {
        assert_eq!(first_number("error_rate 0.012\n"), Some(0.012));
        assert_eq!(first_number("-3 apples"), Some(-3.0));
        assert_eq!(first_number("value: 1e-3"), Some(0.001));
        assert_eq!(first_number("ratio=.25"), Some(0.25));
        assert_eq!(first_number("v2 is 7"), Some(7.0));
        assert_eq!(first_number("1.5."), Some(1.5));
        assert_eq!(first_number("no digits"), None);
        assert_eq!(first_number(""), None);
    }

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn limits(timeout: Duration) -> Limits {
        Limits {
            timeout,
            max_response: 1 << 20,
        }
    }

    #[test]
    fn first_number_skips_runs_too_long_to_be_values() {
        let long = "9".repeat(100_000);
        assert_eq!(first_number(&long), None);
        assert_eq!(first_number(&format!("{long} 42")), Some(42.0));
    }

    #[tokio::test]
    async fn maps_output_exit_and_timeout() {
        let t = &limits(Duration::from_secs(5));
        assert_eq!(
            run(&argv(&["echo", "latency 42.5 ms"]), t).await.0,
            Reading::value(42.5)
        );
        assert!(matches!(
            run(&argv(&["echo", "nothing"]), t).await.0,
            Reading::NoData { .. }
        ));
        let (r, _) = run(&argv(&["sh", "-c", "echo boom >&2; exit 3"]), t).await;
        assert!(
            matches!(&r, Reading::ProviderError { code: Some(c), message } if c == "exit 3" && message.contains("boom")),
            "{r:?}"
        );
        let (r, _) = run(&argv(&["/nonexistent/prog"]), t).await;
        assert!(
            matches!(&r, Reading::ProviderError { code: Some(c), .. } if c == "spawn"),
            "{r:?}"
        );
        let (r, ms) = run(&argv(&["sleep", "30"]), &limits(Duration::from_millis(200))).await;
        assert!(
            matches!(&r, Reading::ProviderError { code: Some(c), .. } if c == "timeout"),
            "{r:?}"
        );
        assert!(ms < 5_000, "the timeout ended the wait ({ms} ms)");
    }
}
