//! Templates: text with `{placeholder}` slots, parsed once, expanded with
//! an explicit encoding.
//!
//! Every place the plan lets a value into text uses this one type: a
//! metric's PromQL query, JSON pointer and argv, and a baseline query
//! ([`Context::Metric`]: `{service}`, `{cohort}`), and a hook's argv,
//! webhook URL and JSON body ([`Context::Hook`]: `{service}`,
//! `{rollout_id}`, `{step}`, `{weight}`, `{actor}`, `{reason}`). The
//! placeholders are listed once, in [`Placeholder`].
//!
//! A slot is `{`, then `[A-Za-z0-9_]+`, then `}`; anything else is text, so
//! JSON (`{"spec":{"paused":false}}`) and PromQL (`x{job="a"}`) braces pass
//! through. A slot naming a placeholder its context does not allow is
//! *unknown* when the context [claims](Context::claims) the name (a typo
//! such as `{weigth}`), and text otherwise (`{2}` in a PromQL regex). The
//! config refuses unknown slots ([`Template::check`]), naming where they are.
//!
//! Expansion is one pass over the parsed parts: a value is inserted as
//! data, encoded for where it lands ([`Encoding`]), and never scanned
//! again, so a reason that itself holds `{service}` or `$(id)` stays text.

mod encoding;
mod placeholder;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

pub use encoding::{Encoding, escape_label_value};
pub use placeholder::{Context, Placeholder};

use crate::engine::Cohort;

/// Text with placeholder slots, as parsed for one [`Context`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    context: Context,
    parts: Vec<Part>,
}

/// One piece of a template, with its byte span in the template's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text kept as written.
    Text(Range<usize>),
    /// A placeholder the context allows; the span covers the braces.
    Slot {
        placeholder: Placeholder,
        span: Range<usize>,
    },
    /// `{name}` that the context claims but does not allow; the span covers
    /// the braces.
    Unknown(Range<usize>),
}

/// What can be wrong with a template or its expansion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{name}}} in {template:?}; use {}", .context.alternatives())]
    Unknown {
        name: String,
        /// Byte span of `{name}` in the template.
        span: Range<usize>,
        template: String,
        context: Context,
    },
    #[error("placeholder {placeholder} has no value here, in {template:?}")]
    NoValue {
        placeholder: Placeholder,
        /// Byte span of the slot in the template.
        span: Range<usize>,
        template: String,
    },
}

/// The values placeholders are replaced with.
pub trait Values {
    /// The value of `placeholder`, or `None` when it has none here.
    fn value(&self, placeholder: Placeholder) -> Option<Cow<'_, str>>;
}

impl Values for [(Placeholder, &str)] {
    fn value(&self, placeholder: Placeholder) -> Option<Cow<'_, str>> {
        self.iter()
            .find(|(p, _)| *p == placeholder)
            .map(|(_, v)| Cow::Borrowed(*v))
    }
}

impl<const N: usize> Values for [(Placeholder, &str); N] {
    fn value(&self, placeholder: Placeholder) -> Option<Cow<'_, str>> {
        self[..].value(placeholder)
    }
}

impl Template {
    /// Parses `text` for `context`. Parsing cannot fail: what the context
    /// refuses is kept as [`Part::Unknown`], for [`Template::check`] to
    /// report and [`Template::expand`] to refuse.
    pub fn parse(text: impl Into<String>, context: Context) -> Template {
        let text = text.into();
        let bytes = text.as_bytes();
        let mut parts = Vec::new();
        let (mut text_start, mut at) = (0, 0);
        while let Some(found) = text[at..].find('{') {
            let open = at + found;
            let name_len = bytes[open + 1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            let close = open + 1 + name_len;
            if name_len == 0 || bytes.get(close) != Some(&b'}') {
                at = open + 1;
                continue;
            }
            let name = &text[open + 1..close];
            let span = open..close + 1;
            let part = match Placeholder::from_name(name) {
                Some(placeholder) if placeholder.allowed_in(context) => {
                    Some(Part::Slot { placeholder, span })
                }
                _ if context.claims(name) => Some(Part::Unknown(span)),
                _ => None,
            };
            if let Some(part) = part {
                if text_start < open {
                    parts.push(Part::Text(text_start..open));
                }
                parts.push(part);
                text_start = close + 1;
            }
            at = close + 1;
        }
        if text_start < text.len() {
            parts.push(Part::Text(text_start..text.len()));
        }
        Template {
            text,
            context,
            parts,
        }
    }

    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The context it was parsed for.
    pub fn context(&self) -> Context {
        self.context
    }

    /// Its parts, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The placeholders it uses, in order (repeats included).
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Slot { placeholder, .. } => Some(*placeholder),
            _ => None,
        })
    }

    /// Refuses the first unknown placeholder, with its span.
    pub fn check(&self) -> Result<(), TemplateError> {
        match self.parts.iter().find_map(|p| match p {
            Part::Unknown(span) => Some(span),
            _ => None,
        }) {
            Some(span) => Err(self.unknown(span)),
            None => Ok(()),
        }
    }

    /// Replaces every placeholder with its value, encoded with `encoding`.
    /// An unknown placeholder, or one `values` has no value for, is an error.
    pub fn expand<V: Values + ?Sized>(
        &self,
        values: &V,
        encoding: Encoding,
    ) -> Result<String, TemplateError> {
        self.render(values, encoding, true)
    }

    /// Like [`Template::expand`], but what has no value (an unknown
    /// placeholder, or one `values` lacks) stays as written: for showing a
    /// template with what is known so far, and for metric templates, whose
    /// unknown names the config refused already (a plan built elsewhere
    /// sends them to the source as written).
    pub fn fill<V: Values + ?Sized>(&self, values: &V, encoding: Encoding) -> String {
        self.render(values, encoding, false)
            .unwrap_or_else(|_| self.text.clone())
    }

    fn render<V: Values + ?Sized>(
        &self,
        values: &V,
        encoding: Encoding,
        strict: bool,
    ) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.text.len());
        for part in &self.parts {
            match part {
                Part::Text(r) => out.push_str(&self.text[r.clone()]),
                Part::Slot { placeholder, span } => match values.value(*placeholder) {
                    Some(v) => out.push_str(&encoding.encode(&v)),
                    None if strict => {
                        return Err(TemplateError::NoValue {
                            placeholder: *placeholder,
                            span: span.clone(),
                            template: self.text.clone(),
                        });
                    }
                    None => out.push_str(&self.text[span.clone()]),
                },
                Part::Unknown(span) if strict => return Err(self.unknown(span)),
                Part::Unknown(span) => out.push_str(&self.text[span.clone()]),
            }
        }
        Ok(out)
    }

    fn unknown(&self, span: &Range<usize>) -> TemplateError {
        TemplateError::Unknown {
            name: self.text[span.start + 1..span.end - 1].to_string(),
            span: span.clone(),
            template: self.text.clone(),
            context: self.context,
        }
    }
}

impl fmt::Display for Template {
    /// The text as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The values of a metric template: the service and the cohort polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricVars<'a> {
    pub service: &'a str,
    pub cohort: Cohort,
    /// The cohort the current step targets (`beta`), empty when it names
    /// none.
    pub cohort_name: &'a str,
}

impl Values for MetricVars<'_> {
    fn value(&self, placeholder: Placeholder) -> Option<Cow<'_, str>> {
        match placeholder {
            Placeholder::Service => Some(Cow::Borrowed(self.service)),
            Placeholder::Cohort => Some(Cow::Borrowed(cohort_label(self.cohort))),
            Placeholder::CohortName => Some(Cow::Borrowed(self.cohort_name)),
            _ => None,
        }
    }
}

impl MetricVars<'_> {
    /// `text`, a metric template, as the source is asked it.
    pub fn render(&self, text: &str, encoding: Encoding) -> String {
        Template::parse(text, Context::Metric).fill(self, encoding)
    }
}

/// The value of `{cohort}` (`version="{cohort}"`).
pub fn cohort_label(cohort: Cohort) -> &'static str {
    match cohort {
        Cohort::Canary => "canary",
        Cohort::Baseline => "baseline",
    }
}
