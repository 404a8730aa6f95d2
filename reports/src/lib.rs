//! Renderers of results: they read only [`interop_results`] types and return text.
//!
//! - [`terminal_matrices`]: one offerer x answerer matrix per scenario, for the terminal;
//! - [`markdown_summary`]: the same matrices plus every non-pass with its reason, fit for a CI
//!   step summary (`<out>/summary.md`).
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

/// The text shown in a cell: lowercase `pass`, upper case for anything that needs attention.
fn cell_text(record: Option<&RunRecord>) -> String {
    match record {
        None => "-".to_string(),
        Some(r) if r.outcome == Outcome::Pass => "pass".to_string(),
        Some(r) => r.outcome.as_str().to_uppercase(),
    }
}

/// One matrix per scenario (rows: offerer, columns: answerer) as aligned plain text.
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
    let width = grid
        .implementations
        .iter()
        .map(String::len)
        .chain([7])
        .max()
        .unwrap_or(7);
    for (scenario, feature) in &grid.scenarios {
        let _ = writeln!(out, "{scenario} ({feature})");
        let mut row = format!("  {head:<first_width$}");
        for imp in &grid.implementations {
            let _ = write!(row, "  {imp:<width$}");
        }
        let _ = writeln!(out, "{}", row.trim_end());
        for offerer in &grid.implementations {
            let mut row = format!("  {offerer:<first_width$}");
            for answerer in &grid.implementations {
                let text = cell_text(grid.cell(scenario, offerer, answerer));
                let _ = write!(row, "  {text:<width$}");
            }
            let _ = writeln!(out, "{}", row.trim_end());
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", totals_line(records));
    out
}

/// `18 runs: 17 pass, 1 timeout`.
pub fn totals_line(records: &[RunRecord]) -> String {
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    for r in records {
        *counts.entry(r.outcome).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {o}")).collect();
    format!(
        "{} run{}: {}",
        records.len(),
        if records.len() == 1 { "" } else { "s" },
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    )
}

/// Markdown summary: totals, implementations, one matrix per scenario, then every non-pass.
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
                let r = grid.cell(scenario, offerer, answerer);
                let text = match r {
                    Some(r) if r.outcome == Outcome::Pass => "✅ pass".to_string(),
                    Some(r) => format!("❌ {}", r.outcome),
                    None => "-".to_string(),
                };
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
        out.push('\n');
    }

    let failures: Vec<&RunRecord> = records
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "## Runs that did not pass\n");
        for r in failures {
            let step = r
                .failed_step
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
                .unwrap_or_default();
            let reason = r.reason.as_deref().unwrap_or("no reason recorded");
            let _ = writeln!(
                out,
                "- **{}** `{}`: {}{step}: {} (artefacts: `{}`)",
                r.scenario,
                r.pairing(),
                r.outcome,
                reason.replace('\n', " "),
                r.artefacts
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use interop_results::{FailedStep, Implementation, Timings, SCHEMA_VERSION};

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
        }
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

    #[test]
    fn terminal_matrix_orders_implementations_and_marks_non_pass() {
        insta::assert_snapshot!(terminal_matrices(&sample()));
    }

    #[test]
    fn markdown_summary_lists_failures_with_reason() {
        insta::assert_snapshot!(markdown_summary(&sample()));
    }

    #[test]
    fn totals_count_each_outcome() {
        assert_eq!(totals_line(&sample()), "9 runs: 8 pass, 1 timeout");
        assert_eq!(totals_line(&[]), "0 runs: none");
    }
}
