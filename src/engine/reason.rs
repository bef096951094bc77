//! The rule for a reason: what a person may write as the why of a
//! decision, and what a hook is given of it.
//!
//! A reason is typed into a dialog or passed with `--reason`. It is checked
//! where it is typed ([`check_reason`]: the dialog, the CLI, the socket
//! server), so a bad one is refused with a clear message before anything is
//! journaled. Whatever still reaches the engine is made safe there
//! ([`clean_reason`]) rather than refused, and a hook gets it shortened
//! ([`reason_for_hooks`]): a reason's size or content never stops a
//! rollback.

/// Longest reason, in bytes: a reason is a sentence or two; anything longer
/// is a paste accident.
pub const MAX_REASON_BYTES: usize = 4096;

/// Longest reason a hook gets, in bytes (an argv element, an environment
/// variable, a URL or a JSON body); a longer one is cut and says so.
pub const MAX_HOOK_REASON_BYTES: usize = 1024;

/// `Ok` when `reason` may be sent as is; else what is wrong and what to do.
pub fn check_reason(reason: &str) -> Result<(), String> {
    if reason.len() > MAX_REASON_BYTES {
        return Err(format!(
            "the reason is {} bytes; a reason is at most {MAX_REASON_BYTES} bytes: shorten it (a link to a ticket or a dashboard says more)",
            reason.len()
        ));
    }
    if let Some(c) = reason.chars().find(|c| is_forbidden(*c)) {
        return Err(format!(
            "the reason holds the control character U+{:04X}; write it as plain text (newlines and tabs are fine)",
            c as u32
        ));
    }
    Ok(())
}

/// Control characters other than newline and tab: NUL cannot be an argv
/// element, and an escape sequence would reach every viewer's terminal.
fn is_forbidden(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// The reason the engine records: control characters become U+FFFD and a
/// reason over [`MAX_REASON_BYTES`] is cut there, saying so.
pub fn clean_reason(reason: String) -> String {
    if check_reason(&reason).is_ok() {
        return reason;
    }
    let cleaned: String = reason
        .chars()
        .map(|c| if is_forbidden(c) { '\u{FFFD}' } else { c })
        .collect();
    cut(&cleaned, MAX_REASON_BYTES, reason.len())
}

/// The reason a hook is given: at most [`MAX_HOOK_REASON_BYTES`], cut on a
/// character boundary with a note of the full length.
pub fn reason_for_hooks(reason: &str) -> String {
    cut(
        &clean_reason(reason.to_string()),
        MAX_HOOK_REASON_BYTES,
        reason.len(),
    )
}

/// `s` cut to at most `max` bytes, ending with "… (cut from N bytes)",
/// `N` being the length of what the person wrote.
fn cut(s: &str, max: usize, original: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let note = format!("… (cut from {original} bytes)");
    let mut end = max.saturating_sub(note.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_passes_and_a_paste_accident_is_refused_with_its_size() {
        assert!(check_reason("p95 doubled after 10 %\nsee INC-42").is_ok());
        let long = "x".repeat(5000);
        let err = check_reason(&long).unwrap_err();
        assert!(err.contains("5000 bytes") && err.contains("4096"), "{err}");
        assert!(check_reason(&"é".repeat(2048)).is_ok());
        assert!(check_reason(&"é".repeat(2049)).is_err());
    }

    #[test]
    fn control_characters_are_refused_by_name() {
        let err = check_reason("bad\0deploy").unwrap_err();
        assert!(err.contains("U+0000"), "{err}");
        let err = check_reason("\u{1b}[2Jcleared").unwrap_err();
        assert!(err.contains("U+001B"), "{err}");
    }

    #[test]
    fn the_engine_keeps_a_cleaned_reason_within_the_limit() {
        let r = clean_reason(format!("a\0b{}", "é".repeat(5000)));
        assert!(r.len() <= MAX_REASON_BYTES, "{}", r.len());
        assert!(r.starts_with("a\u{FFFD}b"));
        assert!(
            r.ends_with("(cut from 10003 bytes)"),
            "{}",
            &r[r.len() - 40..]
        );
        assert!(check_reason(&r).is_ok());
        assert_eq!(clean_reason("fine".into()), "fine");
    }

    #[test]
    fn hooks_get_a_short_reason_that_says_it_was_cut() {
        let r = reason_for_hooks(&"ü".repeat(3000));
        assert!(r.len() <= MAX_HOOK_REASON_BYTES);
        assert!(r.ends_with("(cut from 6000 bytes)"), "{r}");
        assert_eq!(reason_for_hooks("rollback: errors"), "rollback: errors");
    }
}
