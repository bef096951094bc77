//! Keeping secrets out of the journal and out of everything printed.
//!
//! A [`Redactor`] is built once when a rollout starts, from the plan and
//! the environment: the value of every variable the plan names for a
//! secret (sources' `token_env`, `user_env`, `password_env` and
//! `headers_env`, webhooks' `headers_env`, `slack_webhook_env`, the journal
//! key), in the forms it takes on the wire (as is, JSON-escaped, and a
//! basic-auth pair base64-encoded). Each is replaced by
//! `[redacted VAR]` wherever it shows up: a source that echoes request
//! headers in an error body, a hook that prints its environment, a reason
//! somebody pasted a token into.
//!
//! The journal writer redacts every record on its way in; the driver
//! redacts what comes from outside (readings, hook results, reasons) before
//! the engine and the views see it, and what it prints or posts.

use std::borrow::Cow;

use serde_json::Value;

use crate::engine::{Decision, HookOutcome, Reading};
use crate::plan::{Auth, HookAction, HttpTarget, Plan, SourceKind};

/// Values shorter than this are not redacted: they would match ordinary
/// words and numbers and garble the record without hiding anything.
pub const MIN_SECRET_CHARS: usize = 4;

/// Replaces known secret values with `[redacted VAR]`.
#[derive(Clone, Default)]
pub struct Redactor {
    /// (a form of a secret value, its replacement), longest form first.
    forms: Vec<(String, String)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms)", self.forms.len())
    }
}

/// The standard base64 of `bytes`, as HTTP basic auth sends it.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The variables of an HTTP target's secrets; a basic-auth pair also as
/// the pair.
fn target_vars(t: &HttpTarget, vars: &mut Vec<String>, pairs: &mut Vec<(String, String)>) {
    match &t.auth {
        Auth::None => {}
        Auth::Bearer { token_env } => vars.push(token_env.clone()),
        Auth::Basic {
            user_env,
            password_env,
        } => {
            vars.push(user_env.clone());
            vars.push(password_env.clone());
            pairs.push((user_env.clone(), password_env.clone()));
        }
    }
    vars.extend(t.headers_env.values().cloned());
}

impl Redactor {
    /// Redacts nothing.
    pub fn none() -> Redactor {
        Redactor::default()
    }

    /// The secrets `plan` names, read from the process environment.
    pub fn from_plan(plan: &Plan) -> Redactor {
        Redactor::from_plan_with(plan, |var| std::env::var(var).ok())
    }

    /// The secrets `plan` names, read with `env`.
    pub fn from_plan_with(plan: &Plan, env: impl Fn(&str) -> Option<String>) -> Redactor {
        let mut vars: Vec<String> = Vec::new();
        let mut pairs: Vec<(String, String)> = Vec::new();
        for s in &plan.sources {
            match &s.kind {
                SourceKind::Prometheus(t) | SourceKind::HttpJson(t) => {
                    target_vars(t, &mut vars, &mut pairs)
                }
                SourceKind::Probe { target, .. } => target_vars(target, &mut vars, &mut pairs),
                SourceKind::Command => {}
            }
        }
        let h = &plan.hooks;
        let hooks = [&h.set_weight, &h.promote, &h.pause, &h.resume, &h.rollback]
            .into_iter()
            .flatten()
            .chain(&h.on_step_enter)
            .chain(&h.on_finish);
        for hook in hooks {
            if let HookAction::Webhook(w) = &hook.action {
                vars.extend(w.headers_env.values().cloned());
            }
        }
        vars.extend(plan.notify.slack_webhook_env.iter().cloned());
        vars.extend(plan.journal.key_env.iter().cloned());
        vars.sort();
        vars.dedup();
        let mut secrets: Vec<(String, String)> = vars
            .into_iter()
            .filter_map(|var| env(&var).map(|value| (value, format!("[redacted {var}]"))))
            .collect();
        for (user, password) in pairs {
            if let (Some(u), Some(p)) = (env(&user), env(&password)) {
                let pair = base64(format!("{u}:{p}").as_bytes());
                secrets.push((pair, format!("[redacted {user}:{password}]")));
            }
        }
        Redactor::from_secrets(secrets)
    }

    /// From (value, replacement) pairs; values under [`MIN_SECRET_CHARS`]
    /// are left out.
    pub fn from_secrets(secrets: impl IntoIterator<Item = (String, String)>) -> Redactor {
        let mut forms: Vec<(String, String)> = Vec::new();
        for (value, label) in secrets {
            if value.chars().count() < MIN_SECRET_CHARS {
                continue;
            }
            // As it appears inside a JSON string (a body, a record).
            let json = serde_json::to_string(&value).unwrap_or_default();
            let json = json
                .get(1..json.len().saturating_sub(1))
                .unwrap_or_default()
                .to_string();
            if json != value && !json.is_empty() {
                forms.push((json, label.clone()));
            }
            forms.push((value, label));
        }
        // Longest first, so a secret holding another is replaced whole.
        forms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        forms.dedup_by(|a, b| a.0 == b.0);
        Redactor { forms }
    }

    /// No secret is known: every call returns its input.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `s` with every known secret replaced, in one pass (a replacement is
    /// never searched again).
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if !self.forms.iter().any(|(f, _)| s.contains(f.as_str())) {
            return Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        'outer: while let Some(c) = rest.chars().next() {
            for (form, label) in &self.forms {
                if let Some(after) = rest.strip_prefix(form.as_str()) {
                    out.push_str(label);
                    rest = after;
                    continue 'outer;
                }
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        Cow::Owned(out)
    }

    /// Redacts every string (and object key) in `v`; true when one changed.
    pub fn value(&self, v: &mut Value) -> bool {
        match v {
            Value::String(s) => match self.text(s) {
                Cow::Owned(r) => {
                    *s = r;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => {
                // Every item, never stopping at the first that changed.
                let mut changed = false;
                for x in items {
                    changed |= self.value(x);
                }
                changed
            }
            Value::Object(map) => {
                let mut changed = false;
                let keys: Vec<String> = map.keys().cloned().collect();
                for k in keys {
                    let Some(mut x) = map.remove(&k) else {
                        continue;
                    };
                    changed |= self.value(&mut x);
                    let key = self.text(&k).into_owned();
                    changed |= key != k;
                    map.insert(key, x);
                }
                changed
            }
            _ => false,
        }
    }

    /// The decision with every secret in any of its strings replaced:
    /// borrowed as is when it holds none.
    pub fn decision<'a>(&self, d: &'a Decision) -> Cow<'a, Decision> {
        if self.is_empty() {
            return Cow::Borrowed(d);
        }
        let Ok(mut v) = serde_json::to_value(d) else {
            return Cow::Borrowed(d);
        };
        if !self.value(&mut v) {
            return Cow::Borrowed(d);
        }
        match serde_json::from_value::<Decision>(v) {
            Ok(clean) => Cow::Owned(clean),
            // A decision that does not read back would be lost; its known
            // fields are redacted one by one instead.
            Err(_) => {
                let mut clean = d.clone();
                self.fields(&mut clean);
                Cow::Owned(clean)
            }
        }
    }

    fn fields(&self, d: &mut Decision) {
        let t = |s: &mut String| *s = self.text(s).into_owned();
        t(&mut d.reason);
        t(&mut d.actor.user);
        for g in &mut d.gates {
            t(&mut g.detail);
        }
        if let Some(o) = d.hook.as_mut().and_then(|h| h.outcome.as_mut()) {
            self.outcome(o);
        }
        self.value(&mut d.detail);
    }

    /// A reading from a source, its messages redacted.
    pub fn reading(&self, r: &mut Reading) {
        match r {
            Reading::Value { .. } => {}
            Reading::NoData { why } => *why = self.text(why).into_owned(),
            Reading::ProviderError { message, code } => {
                *message = self.text(message).into_owned();
                if let Some(c) = code {
                    *c = self.text(c).into_owned();
                }
            }
        }
    }

    /// A hook's result, its summary and output redacted.
    pub fn outcome(&self, o: &mut HookOutcome) {
        for s in [&mut o.summary, &mut o.stdout, &mut o.stderr] {
            if let Cow::Owned(r) = self.text(s) {
                *s = r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::from_secrets([
            ("tok\"en-1234".to_string(), "[redacted T]".to_string()),
            ("abc".to_string(), "[redacted SHORT]".to_string()),
            (
                "tok\"en-1234-longer".to_string(),
                "[redacted L]".to_string(),
            ),
        ])
    }

    #[test]
    fn every_form_is_replaced_longest_first_and_short_values_never() {
        let r = r();
        assert_eq!(
            r.text("a tok\"en-1234-longer b tok\"en-1234 abc"),
            "a [redacted L] b [redacted T] abc"
        );
        // As it appears in JSON.
        assert_eq!(r.text(r#"{"h":"tok\"en-1234"}"#), r#"{"h":"[redacted T]"}"#);
        assert!(matches!(r.text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_decision_is_redacted_in_every_string() {
        let r = r();
        let mut d = Decision {
            action: crate::engine::DecisionKind::HookResult,
            actor: crate::engine::Actor::named("tok\"en-1234"),
            reason: "x".into(),
            step: None,
            weight: 0,
            phase: crate::engine::PhaseKind::Holding,
            gates: vec![],
            hook: None,
            at: None,
            detail: serde_json::json!({ "out": ["tok\"en-1234"] }),
        };
        let clean = r.decision(&d).into_owned();
        assert_eq!(clean.actor.user, "[redacted T]");
        assert_eq!(clean.detail["out"][0], "[redacted T]");
        d.actor.user = "alice".into();
        d.detail = Value::Null;
        assert!(matches!(r.decision(&d), Cow::Borrowed(_)));
    }

    #[test]
    fn basic_auth_pairs_are_known_in_base64() {
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }
}
