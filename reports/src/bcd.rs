//! Support per feature group and implementation version, derived from runs, never from claims:
//! [`support`] counts them, [`bcd_json`] shapes them like MDN's browser-compat-data, and
//! [`seed_markdown`] rebuilds the compatibility table of the page this project grew from
//! (MDN's "Peer-to-peer communications with WebRTC") for what was tested.
//!
//! # Attribution
//!
//! A run (one scenario on one offerer x answerer pairing: a *cell*) involves two
//! implementation versions. Who does a result count for?
//!
//! - A cell that passed counts as passed for both (once when both sides are the same
//!   implementation version, as in chrome -> chrome).
//! - A cell that did not pass, with the outcome an expectation file predicts, counts against
//!   the implementation whose expectation file (`scenarios/expectations/<implementation>.yaml`,
//!   named by the record's `expectation.source`) documents it, and is **not counted at all**
//!   for the other side: neither passed nor in its total. Chromium refusing an answer is not a
//!   mark against the Rust peer that sent it.
//! - A cell that did not pass and that no expectation file of either side explains (an
//!   unexpected result, or an entry from a file named after neither) counts against both: the
//!   runs cannot tell which side is at fault, so neither gets the benefit of the doubt.
//! - `error` cells (the harness could not run them) say nothing about the implementations and
//!   are not counted; a cell run more than once counts once, by its last record (as in the
//!   matrices).
//!
//! From the counts: [`SupportStatus::Full`] when every counted cell passed,
//! [`SupportStatus::Partial`] when some did, [`SupportStatus::No`] when none did. An
//! implementation version for which no cell of a feature was counted has no [`Support`] for
//! it (`-` in the seed's table, `"version_added": null` - unknown - in the JSON when no
//! version of that implementation was counted).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use interop_results::{Implementation, Outcome, RunRecord};
use serde_json::{json, Map, Value};

use crate::{implementation_order, one_line};

/// The attribution rule in one sentence, for the outputs that carry it.
const ATTRIBUTION: &str = "a cell (one scenario on one offerer x answerer pairing) that passed \
     counts as passed for both implementation versions, once when they are the same; one that \
     did not pass counts only against the implementation whose expectation file documents it, \
     and against both when neither side's expectation file explains it; `error` cells (the \
     harness could not run them) are not counted, and a re-run cell counts once.";

/// How well an implementation version supports a feature group, from the cells counted for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportStatus {
    /// Every counted cell passed.
    Full,
    /// Some counted cells passed, some did not.
    Partial,
    /// No counted cell passed.
    No,
}

impl SupportStatus {
    fn of(passed: usize, total: usize) -> Self {
        if passed == 0 {
            SupportStatus::No
        } else if passed == total {
            SupportStatus::Full
        } else {
            SupportStatus::Partial
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SupportStatus::Full => "full",
            SupportStatus::Partial => "partial",
            SupportStatus::No => "no",
        }
    }
}

/// One implementation version's support of one feature group (see the module doc for what
/// is counted).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Support {
    /// The feature group, e.g. `data-channels`.
    pub feature: String,
    /// `rust`, `chrome`, `firefox`.
    pub implementation: String,
    /// The exact version the peers reported, e.g. `156.0.8078.114`.
    pub version: String,
    pub status: SupportStatus,
    /// Cells of this feature counted for this implementation version that passed.
    pub passed: usize,
    /// Cells of this feature counted for this implementation version.
    pub total: usize,
    /// One per non-pass cell counted against it:
    /// `<scenario> <offerer> -> <answerer>: <outcome>: <why>`.
    pub notes: Vec<String>,
}

/// The seed page's (MDN "Peer-to-peer communications with WebRTC") compatibility table rows:
/// (row title, feature group).
pub const SEED_ROWS: [(&str, &str); 3] = [
    ("Basic support", "basic-peer-connection"),
    ("DataChannels", "data-channels"),
    ("getUserMedia", "audio-video"),
];

/// Orders version strings by their dot-separated components, numerically where they are
/// numbers: `156.0.8078.79 < 156.0.8078.114`, `9 < 10`. A component's leading digits compare
/// as a number, the rest as text (`115.0esr`); a component without digits sorts before any
/// number; a version that is a prefix of another sorts first.
fn compare_versions(a: &str, b: &str) -> Ordering {
    fn component(c: &str) -> (Option<u128>, &str) {
        let digits = c.len() - c.trim_start_matches(|ch: char| ch.is_ascii_digit()).len();
        let number = (digits > 0).then(|| c[..digits].parse().unwrap_or(u128::MAX));
        (number, &c[digits..])
    }
    a.split('.')
        .map(component)
        .cmp(b.split('.').map(component))
        .then_with(|| a.cmp(b))
}

/// A version string ordered by [`compare_versions`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version<'a>(&'a str);

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_versions(self.0, other.0)
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The implementation an expectation entry belongs to: the stem of its file,
/// `scenarios/expectations/rust.yaml:49` -> `rust`.
fn expectation_owner(source: &str) -> Option<&str> {
    let path = match source.rsplit_once(':') {
        Some((path, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => path,
        _ => source,
    };
    Path::new(path).file_stem()?.to_str()
}

/// Whether the cell's non-pass is the documented one (the expected outcome or a known
/// intermittent one, with an expectation entry).
fn documented(r: &RunRecord) -> bool {
    r.outcome != Outcome::Pass && !r.is_unexpected() && r.expectation.is_some()
}

/// The implementation versions a cell is counted for (see the module doc): both sides (once
/// when they are the same), or only the side whose expectation file documents its non-pass;
/// none for an `error` cell.
fn counted_for(r: &RunRecord) -> Vec<&Implementation> {
    if r.outcome == Outcome::Error {
        return Vec::new();
    }
    let mut sides = vec![&r.offerer];
    if (&r.answerer.name, &r.answerer.version) != (&r.offerer.name, &r.offerer.version) {
        sides.push(&r.answerer);
    }
    if r.outcome == Outcome::Pass || !documented(r) {
        return sides;
    }
    let owner = r
        .expectation
        .as_ref()
        .and_then(|e| expectation_owner(&e.source));
    let documented_sides: Vec<&Implementation> = sides
        .iter()
        .copied()
        .filter(|imp| Some(imp.name.as_str()) == owner)
        .collect();
    if documented_sides.is_empty() {
        sides
    } else {
        documented_sides
    }
}

/// `text` on one line, at most `max` characters (`…` marks a cut).
fn cut(text: &str, max: usize) -> String {
    let line = one_line(text);
    if line.chars().count() <= max {
        return line;
    }
    let mut short: String = line.chars().take(max - 1).collect();
    short.push('…');
    short
}

/// `<scenario> <offerer> -> <answerer>: <outcome>: <why>`, where why is the expectation's
/// reason for a documented non-pass, else the run's own reason.
fn note(r: &RunRecord) -> String {
    let why = match &r.expectation {
        Some(e) if documented(r) => e.reason.as_str(),
        _ => r.reason.as_deref().unwrap_or("no reason recorded"),
    };
    format!(
        "{} {}: {}: {}",
        r.scenario,
        r.pairing(),
        r.outcome,
        cut(why, 200)
    )
}

/// The records that count: the last record of each cell (scenario, offerer and answerer
/// versions), in the order the cells first appear.
fn cells(records: &[RunRecord]) -> Vec<&RunRecord> {
    let mut index: BTreeMap<(&str, &str, &str, &str, &str), usize> = BTreeMap::new();
    let mut cells: Vec<&RunRecord> = Vec::new();
    for r in records {
        let key = (
            r.scenario.as_str(),
            r.offerer.name.as_str(),
            r.offerer.version.as_str(),
            r.answerer.name.as_str(),
            r.answerer.version.as_str(),
        );
        match index.get(&key) {
            Some(i) => cells[*i] = r,
            None => {
                index.insert(key, cells.len());
                cells.push(r);
            }
        }
    }
    cells
}

/// Feature groups in first-seen order.
fn features(records: &[RunRecord]) -> Vec<&str> {
    let mut features: Vec<&str> = Vec::new();
    for r in records {
        if !features.contains(&r.feature.as_str()) {
            features.push(&r.feature);
        }
    }
    features
}

/// Support of every feature group by every implementation version some cell was counted
/// for, sorted by feature (first-seen order), implementation (rust, chrome, firefox, then
/// others alphabetically) and version (ascending, numerically).
pub fn support(records: &[RunRecord]) -> Vec<Support> {
    let features = features(records);
    type Key<'a> = (usize, (usize, String), Version<'a>);
    let mut tally: BTreeMap<Key, Support> = BTreeMap::new();
    for r in cells(records) {
        let feature = features
            .iter()
            .position(|f| *f == r.feature)
            .unwrap_or(usize::MAX);
        for imp in counted_for(r) {
            let key = (
                feature,
                implementation_order(&imp.name),
                Version(&imp.version),
            );
            let s = tally.entry(key).or_insert_with(|| Support {
                feature: r.feature.clone(),
                implementation: imp.name.clone(),
                version: imp.version.clone(),
                status: SupportStatus::No,
                passed: 0,
                total: 0,
                notes: Vec::new(),
            });
            s.total += 1;
            if r.outcome == Outcome::Pass {
                s.passed += 1;
            } else {
                s.notes.push(note(r));
            }
        }
    }
    tally
        .into_values()
        .map(|mut s| {
            s.status = SupportStatus::of(s.passed, s.total);
            s
        })
        .collect()
}

/// The browser-compat-data support statements of one implementation, from its versions in
/// ascending order: one per run of consecutive observed versions with the same status Full or
/// Partial, oldest first (so the first one's `version_added` is the lowest observed version
/// with any support), `version_removed` where the status changes after it,
/// `partial_implementation` and the notes of that run for Partial. `{"version_added": false}`
/// when no version passed anything.
fn statements(versions: &[&Support]) -> Value {
    let mut groups: Vec<Vec<&Support>> = Vec::new();
    for s in versions {
        match groups.last_mut() {
            Some(group) if group[0].status == s.status => group.push(s),
            _ => groups.push(vec![s]),
        }
    }
    let mut out = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let status = group[0].status;
        if status == SupportStatus::No {
            continue;
        }
        let mut statement = Map::new();
        statement.insert("version_added".into(), group[0].version.clone().into());
        if let Some(next) = groups.get(i + 1) {
            statement.insert("version_removed".into(), next[0].version.clone().into());
        }
        if status == SupportStatus::Partial {
            statement.insert("partial_implementation".into(), true.into());
            let mut notes: Vec<&str> = Vec::new();
            for note in group.iter().flat_map(|s| &s.notes) {
                if !notes.contains(&note.as_str()) {
                    notes.push(note);
                }
            }
            statement.insert("notes".into(), notes.into());
        }
        out.push(Value::Object(statement));
    }
    if out.is_empty() {
        json!({ "version_added": false })
    } else {
        Value::Array(out)
    }
}

/// The support of every feature group as browser-compat-data-style JSON:
///
/// ```text
/// { "__meta": { generated_by, source, attribution },
///   "webrtc_interop": { "<feature>": {
///       "__compat": { "description", "support": { "<implementation>": [statements] },
///                     "status": { experimental, standard_track, deprecated } },
///       "__observed": { "<implementation>": { "<version>": { status, passed, total, notes? } } } } } }
/// ```
///
/// Statements are those of browser-compat-data, from observed versions only (several show up
/// when results of different browser versions are merged): `version_added` is the lowest
/// observed version with Full or Partial support, `{"version_added": false}` when no version
/// passed anything, `{"version_added": null}` (unknown) for an implementation that took part
/// in the feature's runs but had no cell counted for it. `__observed` has each counted
/// version's numbers, with the notes of its non-pass cells.
pub fn bcd_json(records: &[RunRecord]) -> Value {
    let supports = support(records);
    let mut compat = Map::new();
    for feature in features(records) {
        let of_feature: Vec<&Support> = supports.iter().filter(|s| s.feature == feature).collect();
        let mut implementations: Vec<(usize, String)> = records
            .iter()
            .filter(|r| r.feature == feature)
            .flat_map(|r| [&r.offerer.name, &r.answerer.name])
            .map(|name| implementation_order(name))
            .collect();
        implementations.sort();
        implementations.dedup();
        let mut support_of = Map::new();
        let mut observed = Map::new();
        for (_, name) in implementations {
            let versions: Vec<&Support> = of_feature
                .iter()
                .copied()
                .filter(|s| s.implementation == name)
                .collect();
            if versions.is_empty() {
                support_of.insert(name, json!({ "version_added": null }));
                continue;
            }
            support_of.insert(name.clone(), statements(&versions));
            let mut by_version = Map::new();
            for s in versions {
                let mut numbers = json!({
                    "status": s.status, "passed": s.passed, "total": s.total,
                });
                if !s.notes.is_empty() {
                    numbers["notes"] = s.notes.clone().into();
                }
                by_version.insert(s.version.clone(), numbers);
            }
            observed.insert(name, Value::Object(by_version));
        }
        compat.insert(
            feature.to_string(),
            json!({
                "__compat": {
                    "description": feature,
                    "support": support_of,
                    "status": { "experimental": false, "standard_track": true, "deprecated": false },
                },
                "__observed": observed,
            }),
        );
    }
    json!({
        "__meta": {
            "generated_by": "interop-harness",
            "source": "runs, not claims",
            "attribution": ATTRIBUTION,
        },
        "webrtc_interop": compat,
    })
}

/// `## The seed's table`: MDN's WebRTC compatibility table ([`SEED_ROWS`]) rebuilt from the
/// runs, one column per implementation version that ran those features (rust, chrome,
/// firefox order, versions ascending). A cell is `✅ yes (n/n)`, `◐ partial (n/m)`,
/// `❌ no (0/m)` or `-` (not tested, or no cell counted for that version); the notes of a
/// partial or no cell are numbered footnotes under the table.
pub fn seed_markdown(records: &[RunRecord]) -> String {
    let mut out = String::from("## The seed's table\n\n");
    let _ = writeln!(
        out,
        "Built from runs, not claims: MDN's WebRTC compatibility table (\"Peer-to-peer \
         communications with WebRTC\") for the implementation versions tested here. A cell is \
         the runs of that feature passed / counted for that version, by this rule: \
         {ATTRIBUTION}\n"
    );
    let seed: Vec<RunRecord> = records
        .iter()
        .filter(|r| SEED_ROWS.iter().any(|(_, f)| *f == r.feature))
        .cloned()
        .collect();
    if seed.is_empty() {
        let features: Vec<&str> = SEED_ROWS.iter().map(|(_, f)| *f).collect();
        let _ = writeln!(
            out,
            "Not built: no run of its features ({}).",
            features.join(", ")
        );
        return out;
    }
    let mut columns: Vec<((usize, String), Version)> = seed
        .iter()
        .flat_map(|r| [&r.offerer, &r.answerer])
        .map(|imp| (implementation_order(&imp.name), Version(&imp.version)))
        .collect();
    columns.sort();
    columns.dedup();
    let supports = support(&seed);

    out.push_str("| Feature |");
    for ((_, name), version) in &columns {
        let _ = write!(out, " {name} {} |", version.0);
    }
    out.push_str("\n|---|");
    for _ in &columns {
        out.push_str("---|");
    }
    out.push('\n');
    let mut footnotes: Vec<String> = Vec::new();
    for (title, feature) in SEED_ROWS {
        let _ = write!(out, "| {title} |");
        for ((_, name), version) in &columns {
            let s = supports.iter().find(|s| {
                s.feature == feature && s.implementation == *name && s.version == version.0
            });
            let Some(s) = s else {
                out.push_str(" - |");
                continue;
            };
            let text = match s.status {
                SupportStatus::Full => format!("✅ yes ({}/{})", s.passed, s.total),
                SupportStatus::Partial => format!("◐ partial ({}/{})", s.passed, s.total),
                SupportStatus::No => format!("❌ no ({}/{})", s.passed, s.total),
            };
            let first = footnotes.len() + 1;
            for n in &s.notes {
                footnotes.push(format!("{name} {}, {title}: {n}", s.version));
            }
            let marks = match s.notes.len() {
                0 => String::new(),
                1 => format!(" [{first}]"),
                n => format!(" [{first}-{}]", first + n - 1),
            };
            let _ = write!(out, " {text}{marks} |");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\n✅ every counted run passed · ◐ some did · ❌ none did · - not tested, or no run \
         counted for that version"
    );
    if !footnotes.is_empty() {
        out.push('\n');
        for (i, f) in footnotes.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, f);
        }
    }
    let others: Vec<&str> = features(records)
        .into_iter()
        .filter(|f| !SEED_ROWS.iter().any(|(_, seed)| seed == f))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "\nFeature groups tested beyond the seed's rows: {}.",
            others.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use interop_results::ExpectationRef;

    fn version_of(name: &str) -> &'static str {
        match name {
            "rust" => "0.21.1",
            "chrome" => "156.0.2",
            _ => "153.8.0",
        }
    }

    /// A run of `scenario` in `feature` between `o` and `a` (each `name` or `name@version`).
    fn rec(feature: &str, scenario: &str, o: &str, a: &str, outcome: Outcome) -> RunRecord {
        let imp = |spec: &str| {
            let (name, version) = spec.split_once('@').unwrap_or((spec, version_of(spec)));
            crate::test_records::imp(name, version)
        };
        let mut r = crate::test_records::record(scenario, feature, imp(o), imp(a), outcome);
        r.artefacts = format!("runs/{scenario}/{o}-{a}");
        r.reason = (outcome != Outcome::Pass).then(|| "channel never\nopened".into());
        r.failed_step = None;
        r
    }

    /// `r` with `outcome` expected by an entry of `owner`'s expectation file.
    fn documented_by(mut r: RunRecord, owner: &str) -> RunRecord {
        r.expected = r.outcome;
        r.expectation = Some(ExpectationRef {
            reason: format!("{owner} cannot do this"),
            bug: None,
            source: format!("scenarios/expectations/{owner}.yaml:49"),
        });
        r
    }

    fn find<'a>(all: &'a [Support], feature: &str, imp: &str, version: &str) -> &'a Support {
        all.iter()
            .find(|s| s.feature == feature && s.implementation == imp && s.version == version)
            .unwrap_or_else(|| panic!("no support for {feature} {imp} {version}"))
    }

    #[test]
    fn versions_compare_numerically_by_component() {
        let mut v = [
            "156.0.8078.114",
            "156.0.8078.79",
            "unknown",
            "10.0",
            "9.1",
            "156.0",
            "115.0esr",
            "115.0",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "unknown",
                "9.1",
                "10.0",
                "115.0",
                "115.0esr",
                "156.0",
                "156.0.8078.79",
                "156.0.8078.114"
            ]
        );
    }

    #[test]
    fn expectation_owner_is_the_file_stem() {
        assert_eq!(
            expectation_owner("scenarios/expectations/rust.yaml:49"),
            Some("rust")
        );
        assert_eq!(expectation_owner("firefox.yaml"), Some("firefox"));
        assert_eq!(expectation_owner("C:/x/chrome.yaml:3"), Some("chrome"));
    }

    #[test]
    fn a_documented_failure_counts_only_against_the_implementation_that_documents_it() {
        let f = "data-channels";
        let records = vec![
            rec(f, "echo", "rust", "chrome", Outcome::Pass),
            documented_by(
                rec(f, "closing", "chrome", "rust", Outcome::Unsupported),
                "rust",
            ),
        ];
        let all = support(&records);
        let rust = find(&all, f, "rust", "0.21.1");
        assert_eq!((rust.passed, rust.total), (1, 2));
        assert_eq!(rust.status, SupportStatus::Partial);
        assert_eq!(
            rust.notes,
            ["closing chrome -> rust: unsupported: rust cannot do this"]
        );
        let chrome = find(&all, f, "chrome", "156.0.2");
        assert_eq!(
            (chrome.passed, chrome.total),
            (1, 1),
            "not counted for chrome"
        );
        assert_eq!(chrome.status, SupportStatus::Full);
        assert!(chrome.notes.is_empty());
    }

    #[test]
    fn an_unexpected_failure_counts_against_both() {
        let f = "data-channels";
        let mut unexpected = rec(f, "closing", "chrome", "rust", Outcome::Timeout);
        // Documented as a different outcome: still unexpected, still both.
        unexpected = documented_by(unexpected, "rust");
        unexpected.outcome = Outcome::Fail;
        let records = vec![rec(f, "echo", "rust", "firefox", Outcome::Fail), unexpected];
        let all = support(&records);
        let rust = find(&all, f, "rust", "0.21.1");
        assert_eq!((rust.passed, rust.total), (0, 2));
        assert_eq!(rust.status, SupportStatus::No);
        assert_eq!(
            rust.notes,
            [
                "echo rust -> firefox: fail: channel never opened",
                "closing chrome -> rust: fail: channel never opened"
            ]
        );
        assert_eq!(find(&all, f, "chrome", "156.0.2").total, 1);
        assert_eq!(
            find(&all, f, "firefox", "153.8.0").status,
            SupportStatus::No
        );
    }

    #[test]
    fn an_entry_of_a_third_implementations_file_counts_against_both() {
        let f = "ice";
        let r = documented_by(rec(f, "tcp", "rust", "chrome", Outcome::Fail), "firefox");
        let all = support(&[r]);
        assert_eq!(find(&all, f, "rust", "0.21.1").total, 1);
        assert_eq!(find(&all, f, "chrome", "156.0.2").total, 1);
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn same_implementation_cells_count_once_and_errors_and_reruns_do_not_add_up() {
        let f = "dtls";
        let mut error = rec(f, "roles", "chrome", "firefox", Outcome::Error);
        error.reason = Some("session did not start".into());
        let records = vec![
            rec(f, "roles", "chrome", "chrome", Outcome::Fail),
            // A re-run of the same cell: the last record counts.
            rec(f, "roles", "chrome", "chrome", Outcome::Pass),
            documented_by(rec(f, "setup", "chrome", "chrome", Outcome::Fail), "chrome"),
            error,
        ];
        let all = support(&records);
        let chrome = find(&all, f, "chrome", "156.0.2");
        assert_eq!((chrome.passed, chrome.total), (1, 2));
        assert_eq!(
            chrome.notes,
            ["setup chrome -> chrome: fail: chrome cannot do this"]
        );
        assert!(
            all.iter().all(|s| s.implementation != "firefox"),
            "an error cell is not counted"
        );
    }

    #[test]
    fn support_is_sorted_by_feature_seen_then_implementation_then_version() {
        let records = vec![
            rec("media", "a", "firefox", "chrome@156.0.10", Outcome::Pass),
            rec("basic", "b", "chrome@156.0.9", "rust", Outcome::Pass),
            rec("media", "a", "chrome@155.1", "rust", Outcome::Pass),
        ];
        let order: Vec<String> = support(&records)
            .iter()
            .map(|s| format!("{} {} {}", s.feature, s.implementation, s.version))
            .collect();
        assert_eq!(
            order,
            [
                "media rust 0.21.1",
                "media chrome 155.1",
                "media chrome 156.0.10",
                "media firefox 153.8.0",
                "basic rust 0.21.1",
                "basic chrome 156.0.9",
            ]
        );
    }

    #[test]
    fn long_reasons_are_cut_to_one_line() {
        let mut r = rec("f", "s", "rust", "rust", Outcome::Timeout);
        r.reason = Some(format!("waited\nfor {}", "x".repeat(300)));
        let all = support(&[r]);
        let note = &all[0].notes[0];
        assert!(note.starts_with("s rust -> rust: timeout: waited for xxx"));
        assert!(note.ends_with("x…"));
        assert_eq!(
            note.chars().count(),
            "s rust -> rust: timeout: ".len() + 200
        );
    }

    /// Two chrome versions in merged results: 155.0.1 fails against firefox, 156.0.2 passes.
    fn two_chrome_versions() -> Vec<RunRecord> {
        let f = "data-channels";
        vec![
            rec(f, "echo", "chrome@156.0.2", "firefox", Outcome::Pass),
            rec(f, "echo", "chrome@155.0.1", "firefox", Outcome::Fail),
            rec(f, "echo", "rust", "rust", Outcome::Fail),
        ]
    }

    #[test]
    fn version_added_is_the_lowest_observed_version_with_support() {
        let json = bcd_json(&two_chrome_versions());
        let feature = &json["webrtc_interop"]["data-channels"];
        assert_eq!(
            feature["__compat"]["support"]["chrome"],
            json!([{ "version_added": "156.0.2" }])
        );
        assert_eq!(
            feature["__observed"]["chrome"],
            json!({
                "155.0.1": { "status": "no", "passed": 0, "total": 1,
                             "notes": ["echo chrome -> firefox: fail: channel never opened"] },
                "156.0.2": { "status": "full", "passed": 1, "total": 1 },
            })
        );
        // Firefox passed with 156.0.2 and failed with 155.0.1: one version, partial.
        assert_eq!(
            feature["__compat"]["support"]["firefox"],
            json!([{
                "version_added": "153.8.0",
                "partial_implementation": true,
                "notes": ["echo chrome -> firefox: fail: channel never opened"],
            }])
        );
        assert_eq!(
            feature["__compat"]["support"]["rust"],
            json!({ "version_added": false })
        );
        assert_eq!(feature["__compat"]["description"], "data-channels");
        assert_eq!(feature["__compat"]["status"]["standard_track"], true);
        assert_eq!(json["__meta"]["source"], "runs, not claims");
        assert_eq!(json["__meta"]["attribution"], ATTRIBUTION);
    }

    #[test]
    fn a_status_change_between_versions_is_a_statement_of_its_own() {
        let f = "video";
        let records = vec![
            rec(f, "vp8", "chrome@1.0", "chrome@1.0", Outcome::Pass),
            rec(f, "h264", "chrome@1.0", "chrome@1.0", Outcome::Fail),
            rec(f, "vp8", "chrome@2.0", "chrome@2.0", Outcome::Pass),
            rec(f, "h264", "chrome@2.0", "chrome@2.0", Outcome::Pass),
            rec(f, "vp8", "chrome@10.0", "chrome@10.0", Outcome::Fail),
            rec(f, "vp8", "chrome@11.0", "chrome@11.0", Outcome::Pass),
        ];
        let json = bcd_json(&records);
        assert_eq!(
            json["webrtc_interop"][f]["__compat"]["support"]["chrome"],
            json!([
                {
                    "version_added": "1.0",
                    "version_removed": "2.0",
                    "partial_implementation": true,
                    "notes": ["h264 chrome -> chrome: fail: channel never opened"],
                },
                { "version_added": "2.0", "version_removed": "10.0" },
                { "version_added": "11.0" },
            ])
        );
    }

    #[test]
    fn an_implementation_with_nothing_counted_is_unknown_not_unsupported() {
        let f = "video-codecs";
        let records = vec![documented_by(
            rec(f, "h264", "chrome", "firefox", Outcome::Unsupported),
            "firefox",
        )];
        let json = bcd_json(&records);
        let support = &json["webrtc_interop"][f]["__compat"]["support"];
        assert_eq!(support["chrome"], json!({ "version_added": null }));
        assert_eq!(support["firefox"], json!({ "version_added": false }));
        assert!(json["webrtc_interop"][f]["__observed"]
            .get("chrome")
            .is_none());
    }

    /// Every kind of seed cell: full, partial with notes, no, and untested.
    fn seed_sample() -> Vec<RunRecord> {
        let mut v = Vec::new();
        for o in ["rust", "chrome", "firefox"] {
            for a in ["rust", "chrome", "firefox"] {
                v.push(rec("basic-peer-connection", "connect", o, a, Outcome::Pass));
                let s = "datachannel-closing";
                v.push(if a == "rust" {
                    documented_by(rec("data-channels", s, o, a, Outcome::Unsupported), "rust")
                } else {
                    rec("data-channels", s, o, a, Outcome::Pass)
                });
            }
        }
        v.push(rec(
            "audio-video",
            "media-audio-video",
            "firefox",
            "firefox",
            Outcome::Timeout,
        ));
        v.push(rec("ice", "ice-tcp", "chrome", "chrome", Outcome::Pass));
        v
    }

    #[test]
    fn seed_table() {
        let md = seed_markdown(&seed_sample());
        assert!(md.contains("| Feature | rust 0.21.1 | chrome 156.0.2 | firefox 153.8.0 |\n"));
        assert!(md.contains("| getUserMedia | - | - | ❌ no (0/1) [4] |\n"));
        insta::assert_snapshot!(md);
    }

    #[test]
    fn seed_table_without_its_features() {
        let md = seed_markdown(&[rec("ice", "ice-tcp", "chrome", "chrome", Outcome::Pass)]);
        assert!(md.starts_with("## The seed's table\n"));
        assert!(md.ends_with(
            "Not built: no run of its features (basic-peer-connection, data-channels, \
             audio-video).\n"
        ));
    }

    #[test]
    fn fixture_results() {
        let text = include_str!("../tests/fixtures/results/results.jsonl");
        let (records, errors) = interop_results::parse_jsonl(text);
        assert!(errors.is_empty(), "{errors:?}");
        let all = support(&records);
        let status = |feature: &str, imp: &str| {
            let s: Vec<&Support> = all
                .iter()
                .filter(|s| s.feature == feature && s.implementation == imp)
                .collect();
            assert_eq!(s.len(), 1, "one version of {imp} in the fixture");
            (s[0].status, s[0].passed, s[0].total)
        };
        for imp in ["rust", "chrome", "firefox"] {
            let (st, passed, total) = status("basic-peer-connection", imp);
            assert_eq!(st, SupportStatus::Full, "{imp}");
            // Five of the nine pairings involve each implementation.
            assert_eq!((passed, total), (5, 5), "{imp}");
        }
        // Firefox ESR has no H.264: every H.264 cell it is in is documented in firefox.yaml,
        // so it counts against Firefox only.
        let (st, _, _) = status("video-codecs", "firefox");
        assert!(matches!(st, SupportStatus::Partial | SupportStatus::No));
        assert_eq!(status("video-codecs", "chrome").0, SupportStatus::Full);
        assert_eq!(status("video-codecs", "rust").0, SupportStatus::Full);
        // The Rust peer's documented data channel limits are its own.
        assert_eq!(status("data-channels", "rust").0, SupportStatus::Partial);
        assert_eq!(status("data-channels", "chrome").0, SupportStatus::Full);
        assert_eq!(status("data-channels", "firefox").0, SupportStatus::Full);
        // Every non-pass of the fixture is documented, so each is counted exactly once.
        let notes: usize = all.iter().map(|s| s.notes.len()).sum();
        let non_pass = records
            .iter()
            .filter(|r| r.outcome != Outcome::Pass)
            .count();
        assert_eq!(notes, non_pass);

        let json = bcd_json(&records);
        let compat = &json["webrtc_interop"];
        assert_eq!(
            compat["basic-peer-connection"]["__compat"]["support"]["chrome"],
            json!([{ "version_added": "156.0.8078.114" }])
        );
        let firefox_h264 = &compat["video-codecs"]["__observed"]["firefox"]["153.8.0"];
        assert!(firefox_h264["notes"][0]
            .as_str()
            .unwrap()
            .contains("media-codec-h264"));

        let md = seed_markdown(&records);
        assert!(
            md.contains("| Feature | rust 0.21.1 | chrome 156.0.8078.114 | firefox 153.8.0 |\n")
        );
        assert!(md.contains("| Basic support | ✅ yes (5/5) | ✅ yes (5/5) | ✅ yes (5/5) |\n"));
    }
}
