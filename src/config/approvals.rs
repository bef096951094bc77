//! A step's `approvals` table → [`ApprovalSpec`]: who may approve (names,
//! `@group`s), how many, whether the driver counts, and how long one lasts.

use std::collections::HashSet;
use std::time::Duration;

use toml::Spanned;

use super::error::Ctx;
use super::raw::RawApprovals;
use super::values::R;
use crate::engine::approvals::ApprovalSpec;

/// An approval must last long enough to gather the others, and not so
/// long that it outlives the rollout it was given for.
const MIN_EXPIRES: Duration = Duration::from_secs(60);
const MAX_EXPIRES: Duration = Duration::from_secs(7 * 24 * 3600);

pub(crate) fn build_approvals(
    ctx: &Ctx,
    step: &str,
    raw: &Spanned<RawApprovals>,
) -> R<ApprovalSpec> {
    let r = raw.get_ref();
    let mut from = Vec::new();
    let mut seen = HashSet::new();
    for f in r.from.get_ref() {
        let name = f.get_ref().trim();
        let bare = name.strip_prefix('@').unwrap_or(name);
        if bare.is_empty() || bare.chars().any(|c| c.is_whitespace() || c == '@') {
            return Err(ctx.err(
                f.span(),
                format!("step \"{step}\": approver \"{name}\" is not a user or @group name"),
                "write a user name (\"alice\") or a Unix group with @ (\"@deployers\")",
            ));
        }
        if !seen.insert(name.to_string()) {
            return Err(ctx.err(
                f.span(),
                format!("step \"{step}\": approver \"{name}\" is listed twice"),
                "list each person or group once in `from`",
            ));
        }
        from.push(name.to_string());
    }
    if from.is_empty() {
        return Err(ctx.err(
            r.from.span(),
            format!("step \"{step}\": `approvals.from` is empty"),
            "name who may approve: from = [\"alice\", \"bob\", \"@deployers\"]",
        ));
    }
    let people = from.iter().filter(|f| !f.starts_with('@')).count() as i64;
    let has_group = people < from.len() as i64;
    let count = *r.count.get_ref();
    if count < 1 {
        return Err(ctx.err(
            r.count.span(),
            format!("step \"{step}\": `approvals.count` is {count}"),
            "count is how many distinct people must approve: 1 or more",
        ));
    }
    if !has_group && count > people {
        return Err(ctx.err(
            r.count.span(),
            format!(
                "step \"{step}\" needs {count} approvals but `from` names only {people} {}",
                if people == 1 { "person" } else { "people" }
            ),
            format!("lower `count` to at most {people}, or add people or an @group to `from`"),
        ));
    }
    let expires = match &r.expires {
        Some(v) => Some(ctx.duration_in("expires", v, MIN_EXPIRES, MAX_EXPIRES)?),
        None => None,
    };
    Ok(ApprovalSpec {
        from,
        count: u32::try_from(count).unwrap_or(u32::MAX),
        allow_self: r.allow_self.as_ref().is_some_and(|b| *b.get_ref()),
        expires_ms: expires.map(|d| d.as_millis() as u64),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::parse;
    use crate::plan::{GateKind, Plan};

    const HEAD: &str = "[rollout]\nservice = \"shop\"\nstrategy = \"canary\"\n\
                        [[steps]]\nname = \"half\"\nweight = 50\nhold = \"1m\"\n";

    fn with(approvals: &str) -> Result<Plan, String> {
        parse(&format!("{HEAD}approvals = {approvals}\n"), "t.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_table_parses_and_makes_the_gate_manual() {
        let p = with(
            "{ from = [\"alice\", \"bob\", \"@deployers\"], count = 2, allow_self = true, expires = \"30m\" }",
        )
        .unwrap();
        let s = &p.steps[0];
        assert_eq!(s.gate, GateKind::Manual);
        let a = s.approvals.as_ref().unwrap();
        assert_eq!(a.from, vec!["alice", "bob", "@deployers"]);
        assert_eq!(
            (a.count, a.allow_self, a.expires_ms),
            (2, true, Some(1_800_000))
        );
        // With a group, count may exceed the named people.
        assert!(with("{ from = [\"bob\", \"@ops\"], count = 3 }").is_ok());
    }

    #[test]
    fn bad_tables_are_refused_saying_how_to_fix() {
        let too_many = with("{ from = [\"alice\", \"bob\"], count = 3 }").unwrap_err();
        assert!(too_many.contains("names only 2 people"), "{too_many}");
        assert!(
            too_many.contains("lower `count` to at most 2"),
            "{too_many}"
        );
        let zero = with("{ from = [\"alice\"], count = 0 }").unwrap_err();
        assert!(zero.contains("1 or more"), "{zero}");
        let empty = with("{ from = [], count = 1 }").unwrap_err();
        assert!(empty.contains("is empty"), "{empty}");
        let twice = with("{ from = [\"bob\", \"bob\"], count = 1 }").unwrap_err();
        assert!(twice.contains("listed twice"), "{twice}");
        let bad = with("{ from = [\"@\"], count = 1 }").unwrap_err();
        assert!(bad.contains("not a user or @group"), "{bad}");
        let unknown = with("{ from = [\"bob\"], count = 1, quorum = 2 }").unwrap_err();
        assert!(unknown.contains("quorum"), "{unknown}");
        let short = with("{ from = [\"bob\"], count = 1, expires = \"5s\" }").unwrap_err();
        assert!(short.contains("expires"), "{short}");
        let auto = parse(
            &format!("{HEAD}gate = \"auto\"\napprovals = {{ from = [\"bob\"], count = 1 }}\n"),
            "t.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(auto.contains("remove `gate = \"auto\"`"), "{auto}");
    }
}
