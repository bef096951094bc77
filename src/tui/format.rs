//! Text fitting that only the views need. Every other word (numbers,
//! durations, phases, the next action) comes from `engine::words`.

/// Truncate to `max` characters with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('~');
    out
}
