//! What the table shows: columns (sides split by version when needed), feature groups and
//! which record fills each cell.

use std::collections::{BTreeMap, BTreeSet};

use interop_results::{Implementation, RunRecord};

use super::markup::esc;
use crate::implementation_order;

/// One part of a version, for ordering `9.0` before `10.0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum VersionPart {
    Number(u64),
    Text(String),
}

pub(super) fn version_key(version: &str) -> Vec<VersionPart> {
    let mut parts = Vec::new();
    let mut rest = version;
    while let Some(c) = rest.chars().next() {
        let digits = c.is_ascii_digit();
        let end = rest
            .find(|ch: char| ch.is_ascii_digit() != digits)
            .unwrap_or(rest.len());
        let (part, tail) = rest.split_at(end);
        parts.push(match part.parse::<u64>() {
            Ok(n) if digits => VersionPart::Number(n),
            _ => VersionPart::Text(part.to_string()),
        });
        rest = tail;
    }
    parts
}

/// One side of a column: an implementation, with its version when the records hold several
/// versions of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Side {
    order: (usize, String),
    version_key: Vec<VersionPart>,
    version: Option<String>,
}

impl Side {
    pub(super) fn name(&self) -> &str {
        &self.order.1
    }

    /// `chrome` or, when split by version, `chrome 156.0.8078.114`.
    pub(super) fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {v}", self.name()),
            None => self.name().to_string(),
        }
    }

    /// The label as HTML, the version in a smaller span.
    pub(super) fn label_html(&self) -> String {
        match &self.version {
            Some(v) => format!("{} <span class=\"ver\">{}</span>", esc(self.name()), esc(v)),
            None => esc(self.name()),
        }
    }
}

/// A column of the table: offerer and answerer, indices into [`Layout::sides`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Column {
    pub(super) offerer: usize,
    pub(super) answerer: usize,
}

/// What the table shows: columns, feature groups with their scenarios, and which record fills
/// each cell.
pub(super) struct Layout<'a> {
    pub(super) sides: Vec<Side>,
    pub(super) columns: Vec<Column>,
    /// Feature groups in first-seen order, each with its scenarios in first-seen order.
    pub(super) features: Vec<(&'a str, Vec<&'a str>)>,
    /// `(scenario, column)` -> indices into the records, in input order except that the last
    /// unexpected one moves to the end; the last is shown.
    pub(super) cells: BTreeMap<(&'a str, usize), Vec<usize>>,
}

impl<'a> Layout<'a> {
    pub(super) fn new(records: &'a [RunRecord]) -> Self {
        let mut versions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for r in records {
            for imp in [&r.offerer, &r.answerer] {
                versions
                    .entry(imp.name.as_str())
                    .or_default()
                    .insert(imp.version.as_str());
            }
        }
        let side_of = |imp: &Implementation| {
            let split = versions.get(imp.name.as_str()).is_some_and(|v| v.len() > 1);
            Side {
                order: implementation_order(&imp.name),
                version_key: if split {
                    version_key(&imp.version)
                } else {
                    Vec::new()
                },
                version: split.then(|| imp.version.clone()),
            }
        };
        let sides: Vec<Side> = records
            .iter()
            .flat_map(|r| [side_of(&r.offerer), side_of(&r.answerer)])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let index = |imp: &Implementation| {
            let side = side_of(imp);
            sides.iter().position(|s| *s == side).unwrap_or(0)
        };
        let column_of = |r: &RunRecord| Column {
            offerer: index(&r.offerer),
            answerer: index(&r.answerer),
        };
        let columns: Vec<Column> = records
            .iter()
            .map(column_of)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut features: Vec<(&str, Vec<&str>)> = Vec::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut cells: BTreeMap<(&str, usize), Vec<usize>> = BTreeMap::new();
        for (i, r) in records.iter().enumerate() {
            if seen.insert(&r.scenario) {
                match features.iter_mut().find(|(f, _)| *f == r.feature) {
                    Some((_, scenarios)) => scenarios.push(&r.scenario),
                    None => features.push((&r.feature, vec![&r.scenario])),
                }
            }
            let column = column_of(r);
            let c = columns.iter().position(|x| *x == column).unwrap_or(0);
            cells.entry((&r.scenario, c)).or_default().push(i);
        }
        // A red repeat stays red: the shown (last) record of a cell is its last unexpected
        // one, if any; the others are listed as earlier runs in its details.
        for indices in cells.values_mut() {
            if let Some(k) = indices.iter().rposition(|&i| records[i].is_unexpected()) {
                let i = indices.remove(k);
                indices.push(i);
            }
        }
        Layout {
            sides,
            columns,
            features,
            cells,
        }
    }

    /// The records shown, as indices: the last of each cell.
    pub(super) fn shown(&self) -> impl Iterator<Item = usize> + '_ {
        self.cells.values().filter_map(|v| v.last().copied())
    }

    /// `rust -> chrome` with versions where the sides carry them.
    pub(super) fn column_label(&self, c: Column) -> String {
        format!(
            "{} -> {}",
            self.sides[c.offerer].label(),
            self.sides[c.answerer].label()
        )
    }
}
