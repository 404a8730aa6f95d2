//! Renderers of results: they read only [`interop_results`] types and return text.
//!
//! - [`terminal_matrices`]: one offerer x answerer matrix per scenario and the
//!   [`totals_line`], for the terminal;
//! - [`unexpected_report`]: the results that differ from their expected outcome, for the
//!   terminal after the matrices;
//! - [`markdown_summary`]: the unexpected results first, then the matrices and the expected
//!   non-pass results with their expectations, fit for a CI step summary (`<out>/summary.md`).
//!
//! Every cell is judged against its record's `expected` outcome (`pass` unless an expectation
//! file says otherwise): a non-pass that was expected is shown as such (`unsupported
//! (expected)`), anything else that differs stands out (`FAIL!`, `PASS!`).
//!
//! Renderers do no I/O; the harness decides where text goes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use interop_results::{Outcome, RunRecord};

/// Scenarios in first-seen order, with the implementations seen in each role.
struct Grid<'a> {
    scenarios: Vec<(&'a str, &'a str)>,
    implementations: Vec<String>,
    cells: BTreeMap<(&'a str, &'a str, &'a str), &'a RunRecord>,
}

/// The canonical column order: rust, chrome, firefox, then anything else alphabetically.
fn implementation_order(name: &str) -> (usize, String) {
    let rank = ["rust", "chrome", "firefox"]
        .iter()
        .position(|n| *n == name)
        .unwrap_or(usize::MAX);
    (rank, name.to_string())
}

impl<'a> Grid<'a> {
    fn new(records: &'a [RunRecord]) -> Self {
        let mut scenarios: Vec<(&str, &str)> = Vec::new();
        let mut impls = BTreeSet::new();
        let mut cells = BTreeMap::new();
        for r in records {
            if !scenarios.iter().any(|(s, _)| *s == r.scenario) {
                scenarios.push((&r.scenario, &r.feature));
            }
            impls.insert(implementation_order(&r.offerer.name));
            impls.insert(implementation_order(&r.answerer.name));
            // A later record of the same cell (a re-run) wins.
            cells.insert(
                (
                    r.scenario.as_str(),
                    r.offerer.name.as_str(),
                    r.answerer.name.as_str(),
                ),
                r,
            );
        }
        Grid {
            scenarios,
            implementations: impls.into_iter().map(|(_, n)| n).collect(),
            cells,
        }
    }

    fn cell(&self, scenario: &str, offerer: &str, answerer: &str) -> Option<&'a RunRecord> {
        self.cells.get(&(scenario, offerer, answerer)).copied()
    }
}

/// How a record compares with its expected outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Passed, as expected.
    Pass,
    /// Did not pass, as an expectation file says.
    ExpectedNonPass,
    /// Differs from the expected outcome (an unexpected pass included).
    Unexpected,
}

fn verdict(r: &RunRecord) -> Verdict {
    if r.is_unexpected() {
        Verdict::Unexpected
    } else if r.outcome == Outcome::Pass {
        Verdict::Pass
    } else {
        Verdict::ExpectedNonPass
    }
}

/// The text of a terminal cell: `pass`, `unsupported (expected)` for an outcome an expectation
/// predicts, and the outcome in upper case with `!` for an unexpected result (`PASS!` for an
/// unexpected pass). At most 22 characters, so three columns fit a 100-column terminal.
fn cell_text(record: Option<&RunRecord>) -> String {
    match record {
        None => "-".to_string(),
        Some(r) => match verdict(r) {
            Verdict::Pass => "pass".to_string(),
            Verdict::ExpectedNonPass => format!("{} (expected)", r.outcome),
            Verdict::Unexpected => format!("{}!", r.outcome.as_str().to_uppercase()),
        },
    }
}

/// One matrix per scenario (rows: offerer, columns: answerer) as aligned plain text, a legend
/// when a cell is not a plain `pass`, and the totals line.
pub fn terminal_matrices(records: &[RunRecord]) -> String {
    let grid = Grid::new(records);
    let mut out = String::new();
    let head = "offerer \\ answerer";
    let first_width = grid
        .implementations
        .iter()
        .map(String::len)
        .chain([head.len()])
        .max()
        .unwrap_or(0);
    for (scenario, feature) in &grid.scenarios {
        let texts: Vec<Vec<String>> = grid
            .implementations
            .iter()
            .map(|offerer| {
                grid.implementations
                    .iter()
                    .map(|answerer| cell_text(grid.cell(scenario, offerer, answerer)))
                    .collect()
            })
            .collect();
        // Each matrix is as wide as its own cells need.
        let width = grid
            .implementations
            .iter()
            .map(String::len)
            .chain(texts.iter().flatten().map(|t| t.chars().count()))
            .chain([7])
            .max()
            .unwrap_or(7);
        let _ = writeln!(out, "{scenario} ({feature})");
        let mut row = format!("  {head:<first_width$}");
        for imp in &grid.implementations {
            let _ = write!(row, "  {imp:<width$}");
        }
        let _ = writeln!(out, "{}", row.trim_end());
        for (offerer, texts) in grid.implementations.iter().zip(&texts) {
            let mut row = format!("  {offerer:<first_width$}");
            for text in texts {
                let _ = write!(row, "  {text:<width$}");
            }
            let _ = writeln!(out, "{}", row.trim_end());
        }
        out.push('\n');
    }
    let shown: Vec<Verdict> = grid.cells.values().map(|r| verdict(r)).collect();
    let mut legend = "legend:";
    if shown.contains(&Verdict::Unexpected) {
        let _ = writeln!(
            out,
            "{legend} FAIL! unexpected result (PASS!: passed, but a non-pass was expected)"
        );
        legend = "       ";
    }
    if shown.contains(&Verdict::ExpectedNonPass) {
        let _ = writeln!(
            out,
            "{legend} unsupported (expected): the non-pass an expectation file predicts"
        );
    }
    if shown.iter().any(|v| *v != Verdict::Pass) {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", totals_line(records));
    out
}

/// `81 runs: 70 pass, 9 unsupported, 2 timeout; 11 expected non-pass, 0 unexpected`.
///
/// Outcomes are counted in [`Outcome`] order; "expected non-pass" counts the runs whose
/// non-pass outcome an expectation predicted, "unexpected" every run whose outcome is not the
/// expected one (an unexpected pass included).
pub fn totals_line(records: &[RunRecord]) -> String {
    if records.is_empty() {
        return "0 runs: none".to_string();
    }
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    for r in records {
        *counts.entry(r.outcome).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {o}")).collect();
    let count = |v: Verdict| records.iter().filter(|r| verdict(r) == v).count();
    format!(
        "{} run{}: {}; {} expected non-pass, {} unexpected",
        records.len(),
        if records.len() == 1 { "" } else { "s" },
        parts.join(", "),
        count(Verdict::ExpectedNonPass),
        count(Verdict::Unexpected),
    )
}

/// ` at step 5 (line 12, bob: expect channel 'echo' open)`, or nothing.
fn step_text(r: &RunRecord) -> String {
    r.failed_step
        .as_ref()
        .map(|s| {
            format!(
                " at step {} (line {}, {}: {})",
                s.index + 1,
                s.line,
                s.peer,
                s.step
            )
        })
        .unwrap_or_default()
}

/// `timeout, expected pass` / `pass, expected unsupported`.
fn outcome_vs_expected(r: &RunRecord) -> String {
    format!("{}, expected {}", r.outcome, r.expected)
}

/// The unexpected results only, for the terminal after the matrices: each with its pairing,
/// outcome vs expected outcome, failed step, reason, the expectation that set a non-pass
/// expected outcome, and the artefact folder. Empty when every result was expected.
pub fn unexpected_report(records: &[RunRecord]) -> String {
    let unexpected: Vec<&RunRecord> = records.iter().filter(|r| r.is_unexpected()).collect();
    if unexpected.is_empty() {
        return String::new();
    }
    let mut out = format!("\nUnexpected results ({}):\n", unexpected.len());
    for r in unexpected {
        let _ = writeln!(
            out,
            "  {} ({}): {}{}",
            r.scenario,
            r.pairing(),
            outcome_vs_expected(r),
            step_text(r)
        );
        if let Some(reason) = &r.reason {
            for line in reason.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        if let Some(e) = &r.expectation {
            let _ = writeln!(
                out,
                "    expectation ({}): {}",
                e.source,
                one_line(&e.reason)
            );
            if r.outcome == Outcome::Pass {
                let _ = writeln!(
                    out,
                    "    it passes now: remove or update the entry at {}",
                    e.source
                );
            }
        }
        let _ = writeln!(out, "    artefacts: {}", r.artefacts);
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text for a Markdown table cell: one line, `|` escaped.
fn table_text(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// A Markdown matrix cell.
fn markdown_cell(record: Option<&RunRecord>) -> String {
    let Some(r) = record else {
        return "-".to_string();
    };
    match verdict(r) {
        Verdict::Pass => "✅ pass".to_string(),
        Verdict::ExpectedNonPass => format!("☑️ {} (expected)", r.outcome),
        Verdict::Unexpected if r.outcome == Outcome::Pass => {
            format!("⚠️ **pass** (expected {})", r.expected)
        }
        Verdict::Unexpected if r.expected == Outcome::Pass => format!("❌ **{}**", r.outcome),
        Verdict::Unexpected => format!("❌ **{}** (expected {})", r.outcome, r.expected),
    }
}

/// Markdown summary: totals, implementations, the unexpected results, one matrix per scenario,
/// then the non-pass results that were expected.
pub fn markdown_summary(records: &[RunRecord]) -> String {
    let grid = Grid::new(records);
    let mut out = String::new();
    let _ = writeln!(out, "# WebRTC interop results\n");
    let _ = writeln!(out, "{}\n", totals_line(records));

    let mut versions: BTreeMap<(usize, String), BTreeSet<&str>> = BTreeMap::new();
    for r in records {
        for imp in [&r.offerer, &r.answerer] {
            versions
                .entry(implementation_order(&imp.name))
                .or_default()
                .insert(&imp.version);
        }
    }
    let _ = writeln!(out, "| implementation | version |\n|---|---|");
    for ((_, name), vs) in &versions {
        let vs: Vec<&str> = vs.iter().copied().collect();
        let _ = writeln!(out, "| {name} | {} |", vs.join(", "));
    }
    out.push('\n');

    let unexpected: Vec<&RunRecord> = records.iter().filter(|r| r.is_unexpected()).collect();
    let _ = writeln!(out, "## Unexpected results\n");
    if unexpected.is_empty() {
        let _ = writeln!(out, "None: every outcome is the expected one.\n");
    } else {
        for r in unexpected {
            let _ = write!(
                out,
                "- **{}** `{}`: {}{}",
                r.scenario,
                r.pairing(),
                outcome_vs_expected(r),
                step_text(r),
            );
            match &r.reason {
                Some(reason) => {
                    let _ = write!(out, ": {}", one_line(reason));
                }
                None if r.outcome != Outcome::Pass => out.push_str(": no reason recorded"),
                None => {}
            }
            if let Some(e) = &r.expectation {
                let _ = write!(out, "; expectation `{}`: {}", e.source, one_line(&e.reason));
                if r.outcome == Outcome::Pass {
                    out.push_str("; it passes now: remove or update the entry");
                }
            }
            let _ = writeln!(out, " (artefacts: `{}`)", r.artefacts);
        }
        out.push('\n');
    }

    if !grid.scenarios.is_empty() {
        let _ = writeln!(
            out,
            "✅ pass · ☑️ non-pass an expectation file predicts · ❌ unexpected non-pass · \
             ⚠️ unexpected pass\n"
        );
    }
    for (scenario, feature) in &grid.scenarios {
        let _ = writeln!(out, "## {scenario} ({feature})\n");
        let _ = write!(out, "| offerer \\ answerer |");
        for imp in &grid.implementations {
            let _ = write!(out, " {imp} |");
        }
        let _ = write!(out, "\n|---|");
        for _ in &grid.implementations {
            out.push_str("---|");
        }
        out.push('\n');
        for offerer in &grid.implementations {
            let _ = write!(out, "| **{offerer}** |");
            for answerer in &grid.implementations {
                let text = markdown_cell(grid.cell(scenario, offerer, answerer));
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
        out.push('\n');
    }

    let expected: Vec<&RunRecord> = records
        .iter()
        .filter(|r| verdict(r) == Verdict::ExpectedNonPass)
        .collect();
    if !expected.is_empty() {
        let _ = writeln!(out, "## Expected non-pass results\n");
        let _ = writeln!(
            out,
            "| scenario | pairing | outcome | reason | bug | expectation |\n|---|---|---|---|---|---|"
        );
        for r in expected {
            let (reason, bug, source) = match &r.expectation {
                Some(e) => (
                    table_text(&e.reason),
                    e.bug
                        .as_deref()
                        .map_or("-".to_string(), |b| format!("<{b}>")),
                    format!("`{}`", e.source),
                ),
                None => (
                    table_text(r.reason.as_deref().unwrap_or("-")),
                    "-".to_string(),
                    "-".to_string(),
                ),
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {reason} | {bug} | {source} |",
                r.scenario,
                r.pairing(),
                r.outcome
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use interop_results::{ExpectationRef, FailedStep, Implementation, Timings, SCHEMA_VERSION};

    fn rec(scenario: &str, o: &str, a: &str, outcome: Outcome) -> RunRecord {
        let imp = |n: &str| Implementation {
            name: n.into(),
            version: format!("{n}-1.0"),
            detail: None,
        };
        RunRecord {
            schema_version: SCHEMA_VERSION,
            scenario: scenario.into(),
            feature: "data-channels".into(),
            offerer: imp(o),
            answerer: imp(a),
            outcome,
            expected: Outcome::Pass,
            known_intermittent: Vec::new(),
            expectation: None,
            reason: (outcome != Outcome::Pass).then(|| "channel never opened".into()),
            failed_step: (outcome != Outcome::Pass).then(|| FailedStep {
                index: 4,
                line: 12,
                peer: "bob".into(),
                step: "expect channel 'echo' open".into(),
            }),
            timings: Timings::default(),
            started_at: "2026-11-25T00:00:00Z".into(),
            artefacts: format!("runs/{scenario}/{o}-{a}"),
            observed: BTreeMap::new(),
        }
    }

    /// `rec` with an expectation file entry predicting `expected`.
    fn expecting(mut r: RunRecord, expected: Outcome, line: usize) -> RunRecord {
        r.expected = expected;
        r.expectation = Some(ExpectationRef {
            reason: "webrtc 0.21.1 never fires `closing` | see the issue".into(),
            bug: (line == 3).then(|| "https://github.com/webrtc-rs/webrtc/issues/1".into()),
            source: format!("scenarios/expectations/rust.yaml:{line}"),
        });
        r
    }

    fn sample() -> Vec<RunRecord> {
        let mut v = Vec::new();
        for o in ["firefox", "rust", "chrome"] {
            for a in ["rust", "chrome", "firefox"] {
                let outcome = if (o, a) == ("firefox", "rust") {
                    Outcome::Timeout
                } else {
                    Outcome::Pass
                };
                v.push(rec("datachannel-echo", o, a, outcome));
            }
        }
        v
    }

    /// `sample()` plus a scenario with expectations: rust as answerer is expected
    /// `unsupported` (as it is with chrome and firefox, but rust -> rust now passes), rust as
    /// offerer to chrome is expected to time out but fails, chrome -> firefox fails unexpectedly.
    fn sample_with_expectations() -> Vec<RunRecord> {
        let mut v = sample();
        let s = "datachannel-closing";
        for o in ["rust", "chrome", "firefox"] {
            for a in ["rust", "chrome", "firefox"] {
                let r = match (o, a) {
                    ("rust", "rust") => {
                        expecting(rec(s, o, a, Outcome::Pass), Outcome::Unsupported, 3)
                    }
                    (_, "rust") => {
                        let mut r = rec(s, o, a, Outcome::Unsupported);
                        r.reason =
                            Some("no `closing` event within 5s\n(declared unsupported)".into());
                        expecting(r, Outcome::Unsupported, 3)
                    }
                    ("rust", "chrome") => {
                        expecting(rec(s, o, a, Outcome::Fail), Outcome::Timeout, 9)
                    }
                    ("chrome", "firefox") => rec(s, o, a, Outcome::Fail),
                    _ => rec(s, o, a, Outcome::Pass),
                };
                v.push(r);
            }
        }
        v
    }

    #[test]
    fn terminal_matrix_orders_implementations_and_marks_non_pass() {
        insta::assert_snapshot!(terminal_matrices(&sample()));
    }

    #[test]
    fn markdown_summary_lists_failures_with_reason() {
        insta::assert_snapshot!(markdown_summary(&sample()));
    }

    #[test]
    fn terminal_matrices_tell_expected_from_unexpected() {
        insta::assert_snapshot!(terminal_matrices(&sample_with_expectations()));
    }

    #[test]
    fn markdown_summary_puts_unexpected_results_first() {
        let md = markdown_summary(&sample_with_expectations());
        let unexpected = md.find("## Unexpected results").unwrap();
        let first_matrix = md.find("## datachannel-echo").unwrap();
        let expected = md.find("## Expected non-pass results").unwrap();
        assert!(unexpected < first_matrix && first_matrix < expected);
        insta::assert_snapshot!(md);
    }

    #[test]
    fn unexpected_report_lists_only_unexpected_results() {
        assert_eq!(unexpected_report(&[]), "");
        let all_expected: Vec<RunRecord> = sample_with_expectations()
            .into_iter()
            .filter(|r| !r.is_unexpected())
            .collect();
        assert_eq!(unexpected_report(&all_expected), "");
        let md = markdown_summary(&all_expected);
        assert!(md.contains("## Unexpected results\n\nNone: every outcome is the expected one.\n"));
        assert!(md.contains("; 2 expected non-pass, 0 unexpected\n"));
        insta::assert_snapshot!(unexpected_report(&sample_with_expectations()));
    }

    #[test]
    fn totals_count_each_outcome() {
        assert_eq!(
            totals_line(&sample()),
            "9 runs: 8 pass, 1 timeout; 0 expected non-pass, 1 unexpected"
        );
        assert_eq!(
            totals_line(&sample_with_expectations()),
            "18 runs: 13 pass, 2 fail, 2 unsupported, 1 timeout; 2 expected non-pass, \
             4 unexpected"
        );
        assert_eq!(totals_line(&[]), "0 runs: none");
    }

    #[test]
    fn matrices_fit_a_100_column_terminal() {
        let mut v = Vec::new();
        for o in ["rust", "chrome", "firefox"] {
            for a in ["rust", "chrome", "firefox"] {
                let r = rec("a-long-scenario-name", o, a, Outcome::Unsupported);
                v.push(expecting(r, Outcome::Unsupported, 3));
            }
        }
        v.push(rec("b", "rust", "rust", Outcome::Unsupported));
        for line in terminal_matrices(&v).lines() {
            assert!(line.chars().count() <= 100, "{line:?} is too wide");
        }
    }
}
