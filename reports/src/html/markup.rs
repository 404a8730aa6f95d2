//! Escaping and the small pieces of markup and wording every part shares.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use interop_results::{Outcome, RunRecord};

use crate::{verdict, Verdict};

/// HTML-escapes text for element content and quoted attribute values.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a relative path for a URL: `/` separates segments and stays, and so do
/// characters a path may hold literally (`[`, `]`, `=`, `,` of variant names); `%`, `#`, `?`,
/// spaces, quotes and non-ASCII are encoded. The result still needs [`esc`] in an attribute.
pub(super) fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'/'
            | b'!'
            | b'$'
            | b'&'
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b':'
            | b'@'
            | b'['
            | b']' => out.push(b as char),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// A link target for text that claims to be a URL: only `http(s)` URLs become links.
pub(super) fn web_link(url: &str) -> Option<&str> {
    let u = url.trim();
    (u.starts_with("https://") || u.starts_with("http://")).then_some(u)
}

/// `Some(base)` when a scenario name is `base[...]` for its own parameters, so the row shows
/// the base name and the parameters as tags.
pub(super) fn base_name(r: &RunRecord) -> Option<&str> {
    if r.parameters.is_empty() {
        return None;
    }
    let (base, rest) = r.scenario.split_once('[')?;
    rest.ends_with(']').then_some(base)
}

pub(super) fn parameter_tags(parameters: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in parameters {
        let _ = write!(out, "<span class=\"param\">{}={}</span>", esc(k), esc(v));
    }
    out
}

/// The CSS classes of an outcome and a verdict.
pub(super) fn outcome_class(o: Outcome) -> String {
    format!("o-{}", o.as_str())
}

pub(super) fn verdict_class(r: &RunRecord) -> &'static str {
    match verdict(r) {
        Verdict::Pass => "v-pass",
        Verdict::ExpectedNonPass => "v-expected",
        Verdict::Unexpected => "v-unexpected",
    }
}

/// What a cell says under its outcome word (empty for a plain pass), and how the outcome
/// compares with the expected one, in words.
pub(super) fn verdict_words(r: &RunRecord) -> (&'static str, &'static str) {
    let intermittent = r.outcome != r.expected;
    match verdict(r) {
        Verdict::Pass if intermittent => ("intermittent", "a known intermittent outcome"),
        Verdict::Pass => ("", "as expected"),
        Verdict::ExpectedNonPass if intermittent => {
            ("intermittent", "a known intermittent outcome")
        }
        Verdict::ExpectedNonPass => ("expected", "as an expectation file predicts"),
        Verdict::Unexpected if r.outcome == Outcome::Pass => (
            "unexpected",
            "UNEXPECTED: it passes now, update the expectation",
        ),
        Verdict::Unexpected => ("unexpected", "UNEXPECTED"),
    }
}

/// The mark before a cell's outcome word.
pub(super) fn mark(r: &RunRecord) -> &'static str {
    match verdict(r) {
        Verdict::Pass => "✓",
        Verdict::ExpectedNonPass => "☑",
        Verdict::Unexpected if r.outcome == Outcome::Pass => "⚠",
        Verdict::Unexpected => "✖",
    }
}

/// At most `max` characters of `text`, with `…` when cut.
pub(super) fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}
