//! Comparing two sets of results (`interop diff OLD NEW`): which cells regressed, which were
//! fixed, which became `unsupported`, which changed otherwise, appeared or disappeared.
//!
//! Cells are matched by scenario (with its parameters) and pairing, not by version: comparing
//! a run against a newer browser with the previous one is the point. When a set holds several
//! records of one cell (a merge of several versions), the last one counts, as in the matrices.
//!
//! A **regression** is a cell that passed in OLD and does not pass in NEW (a cell that became
//! `unsupported` included); only regressions make [`Diff::has_regressions`] true, which is
//! what `diff`'s exit code reports. A cell missing from NEW is listed, not counted as a
//! regression (a smaller selection or one shard is not a regression).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use interop_results::{Outcome, RunRecord};

/// How a cell differs between the two sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Passed before, does not pass now (and is not `unsupported` now).
    Regression,
    /// Is `unsupported` now and was not before.
    NewlyUnsupported,
    /// Did not pass before, passes now.
    Fix,
    /// Another non-pass outcome than before.
    Changed,
    /// Only in NEW.
    Added,
    /// Only in OLD.
    Removed,
}

impl Change {
    fn title(self) -> &'static str {
        match self {
            Change::Regression => "Regressions",
            Change::NewlyUnsupported => "Newly unsupported",
            Change::Fix => "Fixes",
            Change::Changed => "Other outcome changes",
            Change::Added => "Only in NEW",
            Change::Removed => "Only in OLD",
        }
    }
}

/// One cell that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct CellChange {
    pub change: Change,
    pub scenario: String,
    /// `offerer -> answerer`.
    pub pairing: String,
    pub old: Option<Outcome>,
    pub new: Option<Outcome>,
    /// `rust 0.21.1 -> chrome 156.0.8078.114` in each set, when known.
    pub old_versions: Option<String>,
    pub new_versions: Option<String>,
    /// The NEW record's reason (the OLD one's for a removed cell).
    pub reason: Option<String>,
    /// The NEW record's artefact folder.
    pub artefacts: Option<String>,
}

impl CellChange {
    /// Whether the cell passed in OLD and does not pass in NEW.
    pub fn is_regression(&self) -> bool {
        self.old == Some(Outcome::Pass) && self.new.is_some_and(|o| o != Outcome::Pass)
    }
}

/// The differences between two sets of records.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// Ordered by change kind, then scenario and pairing.
    pub changes: Vec<CellChange>,
    /// Cells present in both with the same outcome.
    pub unchanged: usize,
}

type Key<'a> = (&'a str, &'a str, &'a str);

fn cells(records: &[RunRecord]) -> BTreeMap<Key<'_>, &RunRecord> {
    records
        .iter()
        .map(|r| {
            (
                (
                    r.scenario.as_str(),
                    r.offerer.name.as_str(),
                    r.answerer.name.as_str(),
                ),
                r,
            )
        })
        .collect()
}

fn versions(r: &RunRecord) -> String {
    format!(
        "{} {} -> {} {}",
        r.offerer.name, r.offerer.version, r.answerer.name, r.answerer.version
    )
}

/// Compares OLD with NEW cell by cell.
pub fn diff(old: &[RunRecord], new: &[RunRecord]) -> Diff {
    let (old, new) = (cells(old), cells(new));
    let mut keys: Vec<Key> = old.keys().chain(new.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for key in keys {
        let (o, n) = (old.get(&key).copied(), new.get(&key).copied());
        let (old_outcome, new_outcome) = (o.map(|r| r.outcome), n.map(|r| r.outcome));
        let change = match (old_outcome, new_outcome) {
            (None, None) => continue,
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(a), Some(b)) if a == b => {
                unchanged += 1;
                continue;
            }
            (Some(_), Some(Outcome::Unsupported)) => Change::NewlyUnsupported,
            (Some(Outcome::Pass), Some(_)) => Change::Regression,
            (Some(_), Some(Outcome::Pass)) => Change::Fix,
            (Some(_), Some(_)) => Change::Changed,
        };
        let shown = n.or(o);
        changes.push(CellChange {
            change,
            scenario: key.0.to_string(),
            pairing: format!("{} -> {}", key.1, key.2),
            old: old_outcome,
            new: new_outcome,
            old_versions: o.map(versions),
            new_versions: n.map(versions),
            reason: shown.and_then(|r| r.reason.clone()),
            artefacts: n.map(|r| r.artefacts.clone()),
        });
    }
    changes.sort_by(|a, b| {
        (a.change, &a.scenario, &a.pairing).cmp(&(b.change, &b.scenario, &b.pairing))
    });
    Diff { changes, unchanged }
}

impl Diff {
    /// Whether some cell passed in OLD and does not in NEW.
    pub fn has_regressions(&self) -> bool {
        self.changes.iter().any(CellChange::is_regression)
    }

    /// For the terminal and CI logs: one section per kind of change, then a count line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let mut current = None;
        for c in &self.changes {
            if current != Some(c.change) {
                current = Some(c.change);
                let n = self.changes.iter().filter(|x| x.change == c.change).count();
                let _ = writeln!(out, "{} ({n}):", c.change.title());
            }
            let outcome = |o: Option<Outcome>| o.map_or("-".to_string(), |o| o.to_string());
            let _ = write!(
                out,
                "  {} ({}): {} -> {}",
                c.scenario,
                c.pairing,
                outcome(c.old),
                outcome(c.new)
            );
            if c.is_regression() && c.change != Change::Regression {
                out.push_str("  [regression]");
            }
            out.push('\n');
            if c.old_versions != c.new_versions {
                if let (Some(a), Some(b)) = (&c.old_versions, &c.new_versions) {
                    let _ = writeln!(out, "    versions: {a}  =>  {b}");
                }
            }
            if let Some(reason) = &c.reason {
                let line = reason.lines().next().unwrap_or_default();
                let _ = writeln!(out, "    {line}");
            }
            if let Some(a) = &c.artefacts {
                let _ = writeln!(out, "    artefacts: {a}");
            }
        }
        let regressions = self.changes.iter().filter(|c| c.is_regression()).count();
        let count = |k: Change| self.changes.iter().filter(|c| c.change == k).count();
        let _ = writeln!(
            out,
            "{} changed cell{}: {regressions} regression{}, {} fixed, {} newly unsupported, \
             {} other, {} only in NEW, {} only in OLD; {} unchanged",
            self.changes.len(),
            if self.changes.len() == 1 { "" } else { "s" },
            if regressions == 1 { "" } else { "s" },
            count(Change::Fix),
            count(Change::NewlyUnsupported),
            count(Change::Changed),
            count(Change::Added),
            count(Change::Removed),
            self.unchanged,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(scenario: &str, o: &str, a: &str, outcome: Outcome, version: &str) -> RunRecord {
        let imp = |n: &str| crate::test_records::imp(n, if n == "chrome" { version } else { "1" });
        let mut r = crate::test_records::record(scenario, "f", imp(o), imp(a), outcome);
        r.reason = (outcome != Outcome::Pass).then(|| format!("{outcome} because\nmore"));
        r
    }

    fn matrix(version: &str, outcome: impl Fn(&str, &str, &str) -> Outcome) -> Vec<RunRecord> {
        let mut v = Vec::new();
        for s in ["a", "b"] {
            for o in ["rust", "chrome"] {
                for a in ["rust", "chrome"] {
                    v.push(rec(s, o, a, outcome(s, o, a), version));
                }
            }
        }
        v
    }

    #[test]
    fn identical_sets_have_no_changes() {
        let old = matrix("155", |_, _, _| Outcome::Pass);
        let d = diff(&old, &old);
        assert!(d.changes.is_empty());
        assert_eq!(d.unchanged, 8);
        assert!(!d.has_regressions());
    }

    #[test]
    fn one_regressed_cell_is_exactly_that_cell() {
        let old = matrix("155", |_, _, _| Outcome::Pass);
        let new = matrix("156", |s, o, a| {
            if (s, o, a) == ("b", "chrome", "rust") {
                Outcome::Timeout
            } else {
                Outcome::Pass
            }
        });
        let d = diff(&old, &new);
        assert_eq!(d.changes.len(), 1);
        let c = &d.changes[0];
        assert_eq!(
            (c.change, c.scenario.as_str(), c.pairing.as_str()),
            (Change::Regression, "b", "chrome -> rust")
        );
        assert!(d.has_regressions());
        assert_eq!(d.unchanged, 7);
        let text = d.render_text();
        assert!(text.starts_with("Regressions (1):\n  b (chrome -> rust): pass -> timeout\n"));
        assert!(text.contains("versions: chrome 155 -> rust 1  =>  chrome 156 -> rust 1"));
        assert!(
            text.contains("    timeout because\n"),
            "first line of the reason"
        );
        assert!(text.contains("1 changed cell: 1 regression, 0 fixed"));
    }

    #[test]
    fn fixes_unsupported_changes_and_missing_cells_are_told_apart() {
        let old = matrix("155", |s, o, a| match (s, o, a) {
            ("a", "rust", "rust") => Outcome::Fail,
            ("a", "rust", "chrome") => Outcome::Fail,
            _ => Outcome::Pass,
        });
        let mut new = matrix("155", |s, o, a| match (s, o, a) {
            ("a", "rust", "rust") => Outcome::Pass,
            ("a", "rust", "chrome") => Outcome::Timeout,
            ("a", "chrome", "rust") => Outcome::Unsupported,
            _ => Outcome::Pass,
        });
        new.retain(|r| !(r.scenario == "b" && r.pairing() == "chrome -> chrome"));
        new.push(rec("c", "rust", "rust", Outcome::Pass, "155"));
        let d = diff(&old, &new);
        let kinds: Vec<(Change, &str, &str)> = d
            .changes
            .iter()
            .map(|c| (c.change, c.scenario.as_str(), c.pairing.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Change::NewlyUnsupported, "a", "chrome -> rust"),
                (Change::Fix, "a", "rust -> rust"),
                (Change::Changed, "a", "rust -> chrome"),
                (Change::Added, "c", "rust -> rust"),
                (Change::Removed, "b", "chrome -> chrome"),
            ]
        );
        // pass -> unsupported is a regression; a removed cell is not.
        assert!(d.has_regressions());
        assert!(d
            .render_text()
            .contains("pass -> unsupported  [regression]"));
        let only_fixes = diff(&old, &matrix("155", |_, _, _| Outcome::Pass));
        assert!(!only_fixes.has_regressions());
    }
}
