//! Command sources: run an argv (no shell) with a timeout; the first number
//! in stdout is the value.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::http::snippet;
use crate::engine::Reading;

/// The first number in `text` (`12`, `-0.5`, `1e-3`, `.25`), if any.
pub fn first_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let is_num_char = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
    for start in 0..bytes.len() {
        let b = bytes[start];
        let next_digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
        let starts = b.is_ascii_digit()
            || (matches!(b, b'-' | b'+')
                && (next_digit(start + 1)
                    || (bytes.get(start + 1) == Some(&b'.') && next_digit(start + 2))))
            || (b == b'.' && next_digit(start + 1));
        // A number starts here only if it does not continue a word (`v2`).
        let after_word =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.');
        if !starts || after_word {
            continue;
        }
        let mut end = start + 1;
        while end < bytes.len() && is_num_char(bytes[end]) {
            end += 1;
        }
        // Shrink until it parses: "1.5." → "1.5", "3-4" → "3".
        while end > start {
            if let Ok(v) = text[start..end].parse::<f64>()
                && v.is_finite()
            {
                return Some(v);
            }
            end -= 1;
        }
    }
    None
}

/// Runs `argv` with `timeout` and maps the result to a reading; returns the
/// run time too. The child runs in its own process group, which is killed
/// on timeout so that grandchildren do not outlive the poll.
pub async fn run(argv: &[String], timeout: Duration) -> (Reading, u64) {
    let started = Instant::now();
    let reading = run_inner(argv, timeout).await;
    (reading, started.elapsed().as_millis() as u64)
}

async fn run_inner(argv: &[String], timeout: Duration) -> Reading {
    let Some((program, args)) = argv.split_first() else {
        return Reading::ProviderError {
            message: "the command is empty: give at least the program to run".into(),
            code: Some("spawn".into()),
        };
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Reading::ProviderError {
                message: format!(
                    "cannot run {program:?}: {e} (check the path and that it is executable)"
                ),
                code: Some("spawn".into()),
            };
        }
    };
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => {
            // Dropping the future killed the child (kill_on_drop); kill the
            // rest of its group as well.
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            Reading::ProviderError {
                message: format!(
                    "command {program:?} did not finish within {} ms and was killed",
                    timeout.as_millis()
                ),
                code: Some("timeout".into()),
            }
        }
        Ok(Err(e)) => Reading::ProviderError {
            message: format!("command {program:?} failed: {e}"),
            code: Some("spawn".into()),
        },
        Ok(Ok(out)) if !out.status.success() => {
            let code = out
                .status
                .code()
                .map_or_else(|| "signal".to_string(), |c| format!("exit {c}"));
            Reading::ProviderError {
                message: format!(
                    "command {program:?} ended with {code}: {}",
                    snippet(&out.stderr, 200)
                ),
                code: Some(code),
            }
        }
        Ok(Ok(out)) => match first_number(&String::from_utf8_lossy(&out.stdout)) {
            Some(value) => Reading::Value {
                value,
                degraded: false,
            },
            None => Reading::NoData {
                why: format!(
                    "command {program:?} printed no number: {}",
                    snippet(&out.stdout, 80)
                ),
            },
        },
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

    #[tokio::test]
    async fn maps_output_exit_and_timeout() {
        let t = Duration::from_secs(5);
        assert_eq!(
            run(&argv(&["echo", "latency 42.5 ms"]), t).await.0,
            Reading::Value {
                value: 42.5,
                degraded: false
            }
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
        let (r, ms) = run(&argv(&["sleep", "30"]), Duration::from_millis(200)).await;
        assert!(
            matches!(&r, Reading::ProviderError { code: Some(c), .. } if c == "timeout"),
            "{r:?}"
        );
        assert!(ms < 5_000, "the timeout ended the wait ({ms} ms)");
    }
}
