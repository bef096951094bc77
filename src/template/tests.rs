//! Parsing, contexts, and each encoding keeping any value in its slot.

use proptest::prelude::*;

use super::*;

const HOSTILE: [&str; 12] = [
    r#"a"} or vector(1) #"#,
    "$(id)",
    "`id`",
    "../",
    "..",
    "a/b?c=d&e=f#g",
    "\"quoted\" 'single'",
    "back\\slash\\",
    "line\nbreak\r\ttab",
    "{service}{cohort}{reason}",
    "~0~1/~",
    "nul\0byte",
];

fn one(p: Placeholder, value: &str) -> [(Placeholder, &str); 1] {
    [(p, value)]
}

/// A context that allows `p`.
fn context_of(p: Placeholder) -> Context {
    if p.allowed_in(Context::Metric) {
        Context::Metric
    } else {
        Context::Hook
    }
}

fn expand(text: &str, p: Placeholder, value: &str, enc: Encoding) -> String {
    Template::parse(text.replace("{p}", &p.to_string()), context_of(p))
        .expand(&one(p, value), enc)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Reads a PromQL double-quoted string starting after its opening quote,
/// as Prometheus' lexer does (Go escapes), and returns the value and what
/// follows the closing quote. `None` if the string is malformed.
fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\n' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'x' => {
                        let h: String = (0..2).filter_map(|_| chars.next().map(|p| p.1)).collect();
                        out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
                    }
                    _ => return None,
                }
            }
            other => out.push(other),
        }
    }
    None
}

fn argv_keeps(p: Placeholder, value: &str) -> Result<(), TestCaseError> {
    let args: Vec<String> = ["prog", "{p}", "--flag={p}", "tail"]
        .iter()
        .map(|a| expand(a, p, value, Encoding::Argv))
        .collect();
    prop_assert_eq!(args.len(), 4);
    prop_assert_eq!(&args[1], value);
    prop_assert_eq!(&args[2], &format!("--flag={value}"));
    prop_assert_eq!(&args[3], "tail");
    Ok(())
}

fn url_keeps(p: Placeholder, value: &str) -> Result<(), TestCaseError> {
    let url = expand(
        "http://127.0.0.1/x/{p}/y?q={p}&r=1#f",
        p,
        value,
        Encoding::Url,
    );
    let rest = url.strip_prefix("http://127.0.0.1/x/").unwrap_or_default();
    let (segment, rest) = rest.split_once('/').unwrap_or_default();
    let query = rest.strip_prefix("y?q=").unwrap_or_default();
    let (param, tail) = query.split_once('&').unwrap_or_default();
    prop_assert_eq!(tail, "r=1#f", "in {}", url);
    for encoded in [segment, param] {
        prop_assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{:?} in {}",
            encoded,
            url
        );
        let decoded = percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .map(|d| d.into_owned());
        prop_assert_eq!(decoded.ok(), Some(value.to_string()));
    }
    // The query reads back as sent: one `q` holding the value, then `r`.
    let parsed = reqwest::Url::parse(&url);
    prop_assert!(parsed.is_ok(), "{}", url);
    let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    prop_assert_eq!(
        pairs,
        vec![
            ("q".to_string(), value.to_string()),
            ("r".into(), "1".into())
        ]
    );
    prop_assert_eq!(parsed.fragment(), Some("f"));
    Ok(())
}

fn json_keeps(p: Placeholder, value: &str) -> Result<(), TestCaseError> {
    let body = expand(r#"{"v": "{p}", "n": 1}"#, p, value, Encoding::Json);
    let parsed: Result<serde_json::Value, _> = serde_json::from_str(&body);
    prop_assert!(parsed.is_ok(), "{}", body);
    let parsed = parsed.unwrap_or_default();
    prop_assert_eq!(parsed, serde_json::json!({"v": value, "n": 1}), "{}", body);
    Ok(())
}

fn promql_keeps(p: Placeholder, value: &str) -> Result<(), TestCaseError> {
    let q = expand(r#"m{l="{p}"} + 1"#, p, value, Encoding::PromqlLabel);
    let body = q.strip_prefix("m{l=\"").unwrap_or_default();
    let read = unquote(body);
    prop_assert!(read.is_some(), "not a PromQL string: {}", q);
    let (read, rest) = read.unwrap_or_default();
    prop_assert_eq!(read, value);
    prop_assert_eq!(rest, "} + 1");
    Ok(())
}

fn pointer_keeps(p: Placeholder, value: &str) -> Result<(), TestCaseError> {
    let pointer = expand("/data/{p}/end", p, value, Encoding::Pointer);
    let tokens: Vec<&str> = pointer.split('/').collect();
    prop_assert_eq!(tokens.len(), 4, "{}", pointer);
    prop_assert_eq!(tokens[3], "end");
    // RFC 6901: `~1` to `/` first, then `~0` to `~`.
    prop_assert_eq!(tokens[2].replace("~1", "/").replace("~0", "~"), value);
    Ok(())
}

fn every_encoding_keeps(p: Placeholder, value: &str) -> Result<(), TestCaseError> {
    argv_keeps(p, value)?;
    url_keeps(p, value)?;
    json_keeps(p, value)?;
    promql_keeps(p, value)?;
    pointer_keeps(p, value)
}

proptest! {
    #[test]
    fn any_value_in_any_placeholder_stays_in_its_slot(
        i in 0..Placeholder::ALL.len(),
        value in any::<String>(),
    ) {
        every_encoding_keeps(Placeholder::ALL[i], &value)?;
    }

    #[test]
    fn punctuation_heavy_values_stay_in_their_slot(
        i in 0..Placeholder::ALL.len(),
        value in r#"[a-z"'\\{}\n\r\t #()$`/?&=~%.;|<>*]{0,40}"#,
    ) {
        every_encoding_keeps(Placeholder::ALL[i], &value)?;
    }

    #[test]
    fn parsing_keeps_every_byte(text in r"[a-z{}_0-9 ]{0,40}") {
        for context in [Context::Metric, Context::Hook] {
            let t = Template::parse(text.as_str(), context);
            let mut covered = 0;
            for part in t.parts() {
                let span = match part {
                    Part::Text(r) | Part::Unknown(r) | Part::Slot { span: r, .. } => r,
                };
                prop_assert_eq!(span.start, covered);
                covered = span.end;
            }
            prop_assert_eq!(covered, text.len());
            prop_assert_eq!(t.fill(&[], Encoding::Argv), text.clone());
        }
    }
}

#[test]
fn injection_attempts_never_escape_their_slot() {
    for p in Placeholder::ALL {
        for value in HOSTILE {
            if let Err(e) = every_encoding_keeps(p, value) {
                panic!("{p} = {value:?}: {e}");
            }
        }
    }
}

#[test]
fn injection_attempt_stays_one_label_value() {
    let q = MetricVars {
        service: r#"a"} or vector(1) #"#,
        cohort: Cohort::Canary,
        cohort_name: "",
    }
    .render(
        r#"up{service="{service}",version="{cohort}"}"#,
        Encoding::PromqlLabel,
    );
    assert_eq!(q, r#"up{service="a\"} or vector(1) #",version="canary"}"#);
}

#[test]
fn placeholders_in_values_are_not_substituted_again() {
    let vars = MetricVars {
        service: "{cohort}",
        cohort: Cohort::Baseline,
        cohort_name: "",
    };
    let q = vars.render(r#"x{s="{service}",c="{cohort}"}"#, Encoding::PromqlLabel);
    assert_eq!(q, r#"x{s="{cohort}",c="baseline"}"#);
}

#[test]
fn other_braces_are_kept() {
    let vars = MetricVars {
        service: "s",
        cohort: Cohort::Canary,
        cohort_name: "",
    };
    let q = vars.render(
        "sum by (le) (rate(x{a=\"b\"}[1m])) {other}",
        Encoding::PromqlLabel,
    );
    assert_eq!(q, "sum by (le) (rate(x{a=\"b\"}[1m])) {other}");
}

#[test]
fn pointer_values_are_escaped_as_one_token() {
    let vars = MetricVars {
        service: "a/b~c",
        cohort: Cohort::Canary,
        cohort_name: "",
    };
    assert_eq!(
        vars.render("/data/{service}/{cohort}", Encoding::Pointer),
        "/data/a~1b~0c/canary"
    );
}

#[test]
fn parts_have_spans_in_the_text() {
    let t = Template::parse(r#"x{a="b"}{service}/{2}{weigth}"#, Context::Metric);
    assert_eq!(
        t.parts(),
        &[
            Part::Text(0..8),
            Part::Slot {
                placeholder: Placeholder::Service,
                span: 8..17
            },
            Part::Text(17..21),
            Part::Unknown(21..29),
        ]
    );
    assert_eq!(
        t.check(),
        Err(TemplateError::Unknown {
            name: "weigth".into(),
            span: 21..29,
            template: t.text().to_string(),
            context: Context::Metric,
        })
    );
}

#[test]
fn each_context_claims_its_own_names() {
    // Hooks: every `{name}` that is not a hook placeholder is refused,
    // `{cohort}` and digits included.
    for bad in ["{cohort}", "{2}", "{weigth}", "{Service}"] {
        let t = Template::parse(format!("a{bad}b"), Context::Hook);
        assert!(t.check().is_err(), "{bad} accepted in a hook");
    }
    // Metrics: names led by a digit are text (a PromQL regex repetition);
    // a hook's placeholders are not theirs.
    let t = Template::parse(r#"x{code=~"5[0-9]{2}",s="{service}"}"#, Context::Metric);
    assert!(t.check().is_ok());
    for bad in ["{rollout_id}", "{weight}", "{_x}", "{env}"] {
        let t = Template::parse(format!("a{bad}b"), Context::Metric);
        assert!(t.check().is_err(), "{bad} accepted in a metric");
    }
    // Not slots at all.
    for text in ["{ {} {", r#"{"spec":{"paused":false}}"#, "{a-b}", "{", "}{"] {
        let t = Template::parse(text, Context::Hook);
        assert!(t.check().is_ok(), "{text}");
        assert_eq!(t.expand(&[], Encoding::Argv).ok().as_deref(), Some(text));
    }
}

#[test]
fn expand_refuses_what_fill_keeps() {
    let t = Template::parse("{service}/{weigth}", Context::Hook);
    let known = [(Placeholder::Service, "shop")];
    assert!(matches!(
        t.expand(&known, Encoding::Argv),
        Err(TemplateError::Unknown { name, .. }) if name == "weigth"
    ));
    assert_eq!(t.fill(&known, Encoding::Argv), "shop/{weigth}");
    let t = Template::parse("{service}/{reason}", Context::Hook);
    assert!(matches!(
        t.expand(&known, Encoding::Argv),
        Err(TemplateError::NoValue {
            placeholder: Placeholder::Reason,
            ..
        })
    ));
    assert_eq!(t.fill(&known, Encoding::Argv), "shop/{reason}");
}

#[test]
fn the_one_list_names_each_context() {
    for p in Placeholder::ALL {
        assert_eq!(Placeholder::from_name(p.name()), Some(p));
    }
    assert_eq!(
        Context::Metric.listing(),
        "{service} {cohort} {cohort_name}"
    );
    assert_eq!(
        Context::Hook.alternatives(),
        "{service}, {rollout_id}, {step}, {weight}, {actor}, {reason}, {batch}, {instances} or {cohort_name}"
    );
    let t = Template::parse("{cohort}", Context::Hook);
    assert_eq!(
        t.check().map_err(|e| e.to_string()),
        Err("unknown placeholder {cohort} in \"{cohort}\"; use {service}, {rollout_id}, {step}, {weight}, {actor}, {reason}, {batch}, {instances} or {cohort_name}".into())
    );
}
