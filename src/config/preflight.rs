//! `[[preflight]]` → [`PreflightItem`]s and `[exit]` → [`ExitPlan`]
//! (issue 13). The old
//! `rollout.checklist` strings are not copied here: `Plan::preflight_items`
//! adds them as manual, required items, so old plans read as before.

use std::time::Duration;

use super::error::Ctx;
use super::raw::{RawPlan, RawPreflight, RawPreflightCheck};
use super::values::R;
use crate::engine::checklist::HttpProbe;
use crate::engine::exit::{DEFAULT_OBSERVE, ExitPlan};
use crate::plan::{PreflightCheck, PreflightItem};

/// A check's timeout when none is given, and its bounds.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MIN_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(600);

pub(crate) fn build_preflight(ctx: &Ctx, raw: &RawPlan) -> R<Vec<PreflightItem>> {
    raw.preflight
        .iter()
        .map(|p| item(ctx, "pre-flight", p.get_ref()))
        .collect()
}

/// The observation period's bounds.
const MIN_OBSERVE: Duration = Duration::from_secs(1);
const MAX_OBSERVE: Duration = Duration::from_secs(24 * 3600);

/// `[exit]` → [`ExitPlan`]: the observation period (default 10 minutes)
/// and `[[exit.items]]`, items of the same shape as `[[preflight]]`.
pub(crate) fn build_exit(ctx: &Ctx, raw: &RawPlan) -> R<Option<ExitPlan>> {
    let Some(exit) = &raw.exit else {
        return Ok(None);
    };
    let exit = exit.get_ref();
    let observe = match &exit.observe {
        Some(v) => ctx.duration_in("observe", v, MIN_OBSERVE, MAX_OBSERVE)?,
        None => DEFAULT_OBSERVE,
    };
    let items = exit
        .items
        .iter()
        .map(|p| item(ctx, "exit", p.get_ref()))
        .collect::<R<Vec<_>>>()?;
    Ok(Some(ExitPlan { observe, items }))
}

fn item(ctx: &Ctx, what: &str, p: &RawPreflight) -> R<PreflightItem> {
    let title = p.title.get_ref().trim().to_string();
    if title.is_empty() {
        return Err(ctx.err(
            p.title.span(),
            format!("a {what} item's `title` is empty"),
            "say what must be done, e.g. title = \"migrations are backward compatible\"",
        ));
    }
    let owner = p
        .owner
        .as_ref()
        .map(|o| o.get_ref().trim().to_string())
        .filter(|o| !o.is_empty());
    let check = match &p.check {
        None => None,
        Some(c) => Some(check(ctx, what, &title, c)?),
    };
    Ok(PreflightItem {
        title,
        owner,
        required: p.required.as_ref().is_none_or(|r| *r.get_ref()),
        check,
    })
}

fn check(
    ctx: &Ctx,
    what: &str,
    title: &str,
    c: &toml::Spanned<RawPreflightCheck>,
) -> R<PreflightCheck> {
    let span = c.span();
    let c = c.get_ref();
    let timeout = match &c.timeout {
        Some(v) => ctx.duration_in("timeout", v, MIN_TIMEOUT, MAX_TIMEOUT)?,
        None => DEFAULT_TIMEOUT,
    };
    let (command, http) = match (&c.command, &c.http) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ctx.err(
                span,
                format!("{what} item \"{title}\": `check` needs one of `command` or `http`"),
                "give an argv, e.g. check = { command = [\"./check-migrations.sh\"] }, or a probe, e.g. check = { http = \"https://shop.internal/healthz\" }",
            ));
        }
        (Some(cmd), None) => {
            let command: Vec<String> = cmd.get_ref().iter().map(|a| a.get_ref().clone()).collect();
            if command.first().is_none_or(|p| p.trim().is_empty()) {
                return Err(ctx.err(
                    cmd.span(),
                    format!("{what} item \"{title}\": `check.command` is empty"),
                    "give the argv to run (no shell), e.g. command = [\"./check-migrations.sh\"]",
                ));
            }
            (command, None)
        }
        (None, Some(url)) => {
            let url = ctx.url(
                "check.http",
                url,
                "pass a token through a check command instead",
            )?;
            let status = match &c.status {
                None => None,
                Some(s) => match u16::try_from(*s.get_ref()) {
                    Ok(code @ 100..=599) => Some(code),
                    _ => {
                        return Err(ctx.err(
                            s.span(),
                            format!("{what} item \"{title}\": `check.status` {} is not an HTTP status", s.get_ref()),
                            "give the status the probe expects, e.g. status = 200 (or leave it out: any 2xx passes)",
                        ));
                    }
                },
            };
            (Vec::new(), Some(HttpProbe { url, status }))
        }
    };
    if c.status.is_some() && http.is_none() {
        return Err(ctx.err(
            span,
            format!("{what} item \"{title}\": `check.status` goes with `http`, not `command`"),
            "a command passes when it exits 0; remove `status`",
        ));
    }
    Ok(PreflightCheck {
        command,
        http,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::parse;

    const HEAD: &str = "[rollout]\nservice = \"shop\"\nstrategy = \"canary\"\n";
    const STEPS: &str = "\n[[steps]]\nname = \"all\"\nweight = 100\nhold = \"1m\"\n";

    fn parsed(extra: &str) -> Result<crate::plan::Plan, String> {
        parse(&format!("{HEAD}{extra}{STEPS}"), "t.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn preflight_items_parse_with_defaults_and_old_checklists_join_them() {
        let p = parsed(
            "checklist = [\"release notes reviewed\"]\n\
             [[preflight]]\ntitle = \"migrations are backward compatible\"\nowner = \"dana\"\n\
             check = { command = [\"./check-migrations.sh\", \"--strict\"] }\n\
             [[preflight]]\ntitle = \"dashboards reachable\"\nrequired = false\n\
             check = { command = [\"curl\", \"-f\", \"https://x\"], timeout = \"5s\" }\n\
             [[preflight]]\ntitle = \"on-call briefed\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.preflight.len(), 3);
        let m = &p.preflight[0];
        assert_eq!(m.owner.as_deref(), Some("dana"));
        assert!(m.required);
        let check = m.check.as_ref().map(|c| (c.command.len(), c.timeout));
        assert_eq!(check, Some((2, Duration::from_secs(30))));
        assert!(!p.preflight[1].required);
        assert_eq!(
            p.preflight[1].check.as_ref().map(|c| c.timeout),
            Some(Duration::from_secs(5))
        );
        assert!(p.preflight[2].check.is_none());
        let all = p.preflight_items();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].title, "release notes reviewed");
        assert!(all[0].required && all[0].check.is_none());
    }

    #[test]
    fn bad_preflight_items_are_refused_with_a_fix() {
        let cases = [
            ("[[preflight]]\ntitle = \" \"\n", "title"),
            (
                "[[preflight]]\ntitle = \"t\"\ncheck = { command = [] }\n",
                "check.command",
            ),
            (
                "[[preflight]]\ntitle = \"t\"\ncheck = { command = [\"x\"], timeout = \"20m\" }\n",
                "timeout",
            ),
            ("[[preflight]]\ntitle = \"t\"\ncolour = 1\n", "colour"),
        ];
        for (extra, word) in cases {
            let Err(e) = parsed(extra) else {
                panic!("accepted: {extra}");
            };
            assert!(e.contains(word), "{extra}: {e}");
        }
    }

    #[test]
    fn http_checks_and_exit_items_parse() {
        let p = parsed(
            "[[preflight]]\ntitle = \"status page\"\n\
             check = { http = \"https://status.example.com/x\", status = 204 }\n\
             [exit]\nobserve = \"15m\"\n\
             [[exit.items]]\ntitle = \"smoke\"\ncheck = { command = [\"./smoke.sh\"] }\n\
             [[exit.items]]\ntitle = \"on-call briefed\"\nowner = \"bob\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let probe = p.preflight[0].check.as_ref().and_then(|c| c.http.clone());
        let probe = probe.unwrap_or_else(|| panic!("{:?}", p.preflight));
        assert_eq!(probe.status, Some(204));
        assert!(probe.passes(204) && !probe.passes(200));
        let exit = p.exit.unwrap_or_else(|| panic!("no [exit]"));
        assert_eq!(exit.observe, Duration::from_secs(900));
        assert_eq!(exit.items.len(), 2);
        assert!(exit.items[0].check.is_some() && exit.items[1].check.is_none());
        let bare = parsed("[exit]\n").unwrap_or_else(|e| panic!("{e}"));
        let observe = bare.exit.map(|e| e.observe);
        assert_eq!(observe, Some(crate::engine::exit::DEFAULT_OBSERVE));
        assert!(parsed("").unwrap_or_else(|e| panic!("{e}")).exit.is_none());
    }

    #[test]
    fn bad_checks_and_exit_tables_are_refused_with_a_fix() {
        let cases = [
            (
                "[[preflight]]\ntitle = \"t\"\ncheck = { command = [\"x\"], http = \"https://x\" }\n",
                "one of `command` or `http`",
            ),
            (
                "[[preflight]]\ntitle = \"t\"\ncheck = { timeout = \"5s\" }\n",
                "one of `command` or `http`",
            ),
            (
                "[[preflight]]\ntitle = \"t\"\ncheck = { http = \"ftp://x\" }\n",
                "not an http(s) URL",
            ),
            (
                "[[preflight]]\ntitle = \"t\"\ncheck = { http = \"https://u:p@x\" }\n",
                "password",
            ),
            (
                "[[preflight]]\ntitle = \"t\"\ncheck = { http = \"https://x\", status = 99 }\n",
                "not an HTTP status",
            ),
            (
                "[[preflight]]\ntitle = \"t\"\ncheck = { command = [\"x\"], status = 200 }\n",
                "goes with `http`",
            ),
            ("[exit]\nobserve = \"0s\"\n", "observe"),
            ("[exit]\nobserve = \"2d\"\n", "observe"),
            ("[exit]\nwatch = \"5m\"\n", "watch"),
            ("[exit]\n[[exit.items]]\ntitle = \"\"\n", "exit item"),
        ];
        for (extra, word) in cases {
            let Err(e) = parsed(extra) else {
                panic!("accepted: {extra}");
            };
            assert!(e.contains(word), "{extra}: {e}");
        }
    }
}
