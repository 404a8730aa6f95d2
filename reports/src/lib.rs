//! Renderers of results: they read only [`interop_results`] types and return text.
//!
//! - [`terminal_matrices`]: one offerer x answerer matrix per scenario and the
//!   [`totals_line`], for the terminal;
//! - [`unexpected_report`]: the results that differ from their expected outcome, for the
//!   terminal after the matrices;
//! - [`markdown_summary`]: the unexpected results first, then the matrices and the expected
//!   non-pass results with their expectations, then the measured timings per pairing and the
//!   max-message-size each implementation announces, fit for a CI step summary
//!   (`<out>/summary.md`).
//!
//! Every cell is judged against its record's `expected` outcome (`pass` unless an expectation
//! file says otherwise): a non-pass that was expected is shown as such (`unsupported
//! (expected)`), anything else that differs stands out (`FAIL!`, `PASS!`).
//!
//! - [`html`]: the published report, one self-contained static page (`index.html`);
//! - [`junit`]: JUnit XML, one testcase per scenario x pairing;
//! - [`bcd`]: support per feature and implementation version derived from runs, as
//!   browser-compat-data-style JSON and as the seed's (MDN's) WebRTC compatibility table;
//! - [`diff`]: two sets of results compared cell by cell (regressions, fixes, ...).
//!
//! Renderers do no I/O; the harness decides where text goes.

pub mod bcd;
pub mod diff;
pub mod html;
pub mod junit;
#[cfg(test)]
mod test_records;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use interop_results::{Outcome, RunRecord, Timings};

/// Scenarios in first-seen order, with the implementations seen in each role.
struct Grid<'a> {
    scenarios: Vec<(&'a str, &'a str)>,
    implementations: Vec<String>,
    cells: BTreeMap<(&'a str, &'a str, &'a str), &'a RunRecord>,
}

/// The canonical column order: rust, chrome, firefox, then anything else alphabetically.
pub fn implementation_order(name: &str) -> (usize, String) {
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
            // A later record of the same cell (a re-run, a repeat) wins, unless the earlier
            // one is unexpected: a red repeat stays red in the matrix.
            let key = (
                r.scenario.as_str(),
                r.offerer.name.as_str(),
                r.answerer.name.as_str(),
            );
            let keep: Option<&&RunRecord> = cells.get(&key);
            if !keep.is_some_and(|k| k.is_unexpected() && !r.is_unexpected()) {
                cells.insert(key, r);
            }
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

    /// The records shown in a scenario's matrix (the last one of each cell).
    fn records_of<'s>(&'s self, scenario: &'s str) -> impl Iterator<Item = &'a RunRecord> + 's {
        self.cells
            .iter()
            .filter(move |((s, _, _), _)| *s == scenario)
            .map(|(_, r)| *r)
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
    let repeated = repeated_cells(records);
    if let Some(line) = flake_line(&repeated) {
        let _ = writeln!(out, "{line}");
        for c in repeated.iter().filter(|c| c.is_flaky()) {
            let _ = writeln!(
                out,
                "  flaky: {} {} -> {}: {}{}",
                c.scenario,
                c.offerer,
                c.answerer,
                c.outcomes_text(),
                known_text(c)
            );
        }
    }
    out
}

/// ` (known intermittent: timeout)` when the cell's expectation allows other outcomes.
fn known_text(c: &RepeatedCell) -> String {
    if c.known_intermittent.is_empty() {
        return String::new();
    }
    let known: Vec<&str> = c.known_intermittent.iter().map(|o| o.as_str()).collect();
    format!(" (known intermittent: {})", known.join(", "))
}

/// A cell that ran more than once (`--repeat`): how often each outcome came.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatedCell<'a> {
    pub scenario: &'a str,
    pub offerer: &'a str,
    pub answerer: &'a str,
    pub runs: usize,
    /// Outcome and runs, the most frequent first (ties in [`Outcome`] order).
    pub outcomes: Vec<(Outcome, usize)>,
    /// What the cell's expectation allows besides its expected outcome (a known flake).
    pub known_intermittent: &'a [Outcome],
}

impl RepeatedCell<'_> {
    /// More than one outcome over the repeats.
    pub fn is_flaky(&self) -> bool {
        self.outcomes.len() > 1
    }

    /// Runs whose outcome is not the cell's most frequent one.
    pub fn odd_runs(&self) -> usize {
        self.runs - self.outcomes.first().map_or(0, |(_, n)| *n)
    }

    /// `odd_runs / runs`.
    pub fn flake_rate(&self) -> f64 {
        self.odd_runs() as f64 / self.runs.max(1) as f64
    }

    /// `pass 8, timeout 2`.
    pub fn outcomes_text(&self) -> String {
        let parts: Vec<String> = self
            .outcomes
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect();
        parts.join(", ")
    }
}

/// The cells of `records` that carry a repeat number, in first-seen order, with their
/// outcome counts. Empty for a run without `--repeat`.
pub fn repeated_cells(records: &[RunRecord]) -> Vec<RepeatedCell<'_>> {
    let mut order: Vec<(&str, &str, &str)> = Vec::new();
    let mut by_cell: BTreeMap<(&str, &str, &str), Vec<&RunRecord>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.repeat.is_some()) {
        let key = (
            r.scenario.as_str(),
            r.offerer.name.as_str(),
            r.answerer.name.as_str(),
        );
        let runs = by_cell.entry(key).or_default();
        if runs.is_empty() {
            order.push(key);
        }
        runs.push(r);
    }
    order
        .into_iter()
        .map(|key| {
            let runs = &by_cell[&key];
            let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
            for r in runs {
                *counts.entry(r.outcome).or_default() += 1;
            }
            let mut outcomes: Vec<(Outcome, usize)> = counts.into_iter().collect();
            outcomes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            RepeatedCell {
                scenario: key.0,
                offerer: key.1,
                answerer: key.2,
                runs: runs.len(),
                outcomes,
                known_intermittent: &runs[0].known_intermittent,
            }
        })
        .collect()
}

/// `repeats: 71 cells x 10 runs: 2 flaky cells (2.8 %); 3 of 710 runs (0.42 %) differ from
/// their cell's most frequent outcome`, or `None` without repeats.
pub fn flake_line(cells: &[RepeatedCell]) -> Option<String> {
    if cells.is_empty() {
        return None;
    }
    let runs: usize = cells.iter().map(|c| c.runs).sum();
    let odd: usize = cells.iter().map(RepeatedCell::odd_runs).sum();
    let flaky = cells.iter().filter(|c| c.is_flaky()).count();
    let most = cells.iter().map(|c| c.runs).max().unwrap_or(0);
    let least = cells.iter().map(|c| c.runs).min().unwrap_or(0);
    let per_cell = if most == least {
        format!("{most}")
    } else {
        format!("{least}-{most}")
    };
    Some(format!(
        "repeats: {} cells x {per_cell} runs: {flaky} flaky cell{} ({:.1} %); {odd} of {runs} runs ({:.2} %) differ from their cell's most frequent outcome",
        cells.len(),
        if flaky == 1 { "" } else { "s" },
        100.0 * flaky as f64 / cells.len() as f64,
        100.0 * odd as f64 / runs.max(1) as f64,
    ))
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

/// An offerer x answerer Markdown table: a header row of the implementations, then one row
/// per offerer with `cell(offerer, answerer)` in each column.
fn markdown_matrix(out: &mut String, grid: &Grid, cell: impl Fn(&str, &str) -> String) {
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
            let _ = write!(out, " {} |", cell(offerer, answerer));
        }
        out.push('\n');
    }
}

/// Formats the numbers of one run: one decimal, and a trailing `*` when the run did not pass
/// (its numbers may be partial).
#[derive(Debug, Clone, Copy)]
struct Numbers {
    marked: bool,
}

impl Numbers {
    fn of(r: &RunRecord) -> Self {
        Numbers {
            marked: r.outcome != Outcome::Pass,
        }
    }

    fn show(self, value: f64) -> String {
        format!("{value:.1}{}", if self.marked { "*" } else { "" })
    }

    /// The value or `-`.
    fn or_dash(self, value: Option<&f64>) -> String {
        value.map_or_else(|| "-".to_string(), |v| self.show(*v))
    }

    /// `offerer / answerer` from a per-role map, `-` for a role without a value; `None` when
    /// neither has one.
    fn pair(self, per_role: &BTreeMap<String, f64>) -> Option<String> {
        let (o, a) = (per_role.get("offerer"), per_role.get("answerer"));
        (o.is_some() || a.is_some()).then(|| format!("{} / {}", self.or_dash(o), self.or_dash(a)))
    }
}

/// What a timing table of the Markdown summary shows, and how it fills a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// `to_connected_ms` of both roles, `o / a`.
    Connected,
    /// `channel_open_ms` of the peer that created a channel; `o / a` in every cell when some
    /// run of the table has both.
    ChannelOpen {
        both: bool,
    },
    /// The offerer's `round_trip_ms`; `o / a` in every cell when some answerer of the table
    /// measured one too.
    RoundTrip {
        both: bool,
    },
    /// `throughput_mbps`: the value, or `key: value` pairs when the table has several keys.
    Throughput {
        labelled: bool,
    },
    /// `first_rtp_ms` / `first_frame_ms`: `receiver name: value` pairs.
    FirstRtp,
    FirstFrame,
}

impl Measure {
    fn title(self) -> &'static str {
        match self {
            Measure::Connected => "Time to connected (ms, offerer / answerer)",
            Measure::ChannelOpen { both: false } => "Channel open (ms, creator)",
            Measure::ChannelOpen { both: true } => "Channel open (ms, offerer / answerer)",
            Measure::RoundTrip { both: false } => "Data channel round trip, median (ms, offerer)",
            Measure::RoundTrip { both: true } => {
                "Data channel round trip, median (ms, offerer / answerer)"
            }
            Measure::Throughput { .. } => "Throughput (Mbit/s)",
            Measure::FirstRtp => "First RTP packet after connected (ms, receiver and media)",
            Measure::FirstFrame => {
                "First decoded video frame after connected (ms, receiver and media)"
            }
        }
    }

    /// The cell text for a run's timings; `None` when the run has no value for this measure.
    fn cell(self, t: &Timings, n: Numbers) -> Option<String> {
        match self {
            Measure::Connected => n.pair(&t.to_connected_ms),
            Measure::ChannelOpen { both: true } => n.pair(&t.channel_open_ms),
            Measure::ChannelOpen { both: false } => {
                t.channel_open_ms.values().next().map(|v| n.show(*v))
            }
            Measure::RoundTrip { both: true } => n.pair(&t.round_trip_ms),
            Measure::RoundTrip { both: false } => {
                t.round_trip_ms.get("offerer").map(|v| n.show(*v))
            }
            Measure::Throughput { labelled: false } => {
                t.throughput_mbps.values().next().map(|v| n.show(*v))
            }
            Measure::Throughput { labelled: true } => (!t.throughput_mbps.is_empty()).then(|| {
                // The offerer's transfers first, as in `o / a`.
                let mut values: Vec<(&String, &f64)> = t.throughput_mbps.iter().collect();
                values.sort_by_key(|(key, _)| !key.starts_with("offerer "));
                let parts: Vec<String> = values
                    .into_iter()
                    .map(|(key, v)| format!("{}: {}", table_text(key), n.show(*v)))
                    .collect();
                parts.join(", ")
            }),
            Measure::FirstRtp => labelled(&t.first_rtp_ms, n),
            Measure::FirstFrame => labelled(&t.first_frame_ms, n),
        }
    }
}

/// `key: value` pairs, the offerer's first; `None` when empty.
fn labelled(values: &BTreeMap<String, f64>, n: Numbers) -> Option<String> {
    if values.is_empty() {
        return None;
    }
    let mut values: Vec<(&String, &f64)> = values.iter().collect();
    values.sort_by_key(|(key, _)| !key.starts_with("offerer "));
    let parts: Vec<String> = values
        .into_iter()
        .map(|(key, v)| format!("{}: {}", table_text(key), n.show(*v)))
        .collect();
    Some(parts.join(", "))
}

/// The timing tables the shown records call for, in display order, each with its scenario:
/// time to connected (of `connect`, else of the first scenario that has it), channel open (of
/// `datachannel-ordered`), then the round trips and the throughputs of each scenario that has
/// them.
fn timing_tables<'a>(grid: &Grid<'a>) -> Vec<(&'a str, Measure)> {
    let scenarios: Vec<&'a str> = grid.scenarios.iter().map(|(s, _)| *s).collect();
    let any = |scenario: &str, has: &dyn Fn(&Timings) -> bool| {
        grid.records_of(scenario).any(|r| has(&r.timings))
    };
    let mut tables = Vec::new();
    let connected: Vec<&str> = scenarios
        .iter()
        .copied()
        .filter(|s| any(s, &|t| !t.to_connected_ms.is_empty()))
        .collect();
    if let Some(s) = connected
        .iter()
        .find(|s| **s == "connect")
        .or(connected.first())
    {
        tables.push((*s, Measure::Connected));
    }
    if let Some(s) = scenarios.iter().find(|s| **s == "datachannel-ordered") {
        if any(s, &|t| !t.channel_open_ms.is_empty()) {
            let both = any(s, &|t| t.channel_open_ms.len() > 1);
            tables.push((*s, Measure::ChannelOpen { both }));
        }
    }
    for s in &scenarios {
        if any(s, &|t| t.round_trip_ms.contains_key("offerer")) {
            let both = any(s, &|t| t.round_trip_ms.contains_key("answerer"));
            tables.push((*s, Measure::RoundTrip { both }));
        } else if any(s, &|t| t.round_trip_ms.contains_key("answerer")) {
            tables.push((*s, Measure::RoundTrip { both: true }));
        }
    }
    // Media: the basic call if it ran, else the first scenario with media timings.
    for (measure, has) in [
        (
            Measure::FirstRtp,
            (|t: &Timings| !t.first_rtp_ms.is_empty()) as fn(&Timings) -> bool,
        ),
        (Measure::FirstFrame, |t: &Timings| {
            !t.first_frame_ms.is_empty()
        }),
    ] {
        let with: Vec<&str> = scenarios.iter().copied().filter(|s| any(s, &has)).collect();
        if let Some(s) = with
            .iter()
            .find(|s| **s == "media-audio-video")
            .or(with.first())
        {
            tables.push((*s, measure));
        }
    }
    for s in &scenarios {
        let keys: BTreeSet<&str> = grid
            .records_of(s)
            .flat_map(|r| r.timings.throughput_mbps.keys().map(String::as_str))
            .collect();
        if !keys.is_empty() {
            tables.push((
                *s,
                Measure::Throughput {
                    labelled: keys.len() > 1,
                },
            ));
        }
    }
    tables
}

/// `## Timings`: one offerer x answerer table per [`timing_tables`] entry, each followed by a
/// footnote when it shows numbers of a run that did not pass. Nothing when no run has timings.
fn timings_section(out: &mut String, grid: &Grid) {
    let tables = timing_tables(grid);
    if tables.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Timings\n");
    for (scenario, measure) in tables {
        let _ = writeln!(out, "### {}, {scenario}\n", measure.title());
        let marked = grid
            .records_of(scenario)
            .any(|r| Numbers::of(r).marked && measure.cell(&r.timings, Numbers::of(r)).is_some());
        markdown_matrix(out, grid, |offerer, answerer| {
            grid.cell(scenario, offerer, answerer)
                .and_then(|r| measure.cell(&r.timings, Numbers::of(r)))
                .unwrap_or_else(|| "-".to_string())
        });
        if marked {
            let _ = writeln!(
                out,
                "\n`*` the run did not pass (see its outcome above): the number may be partial."
            );
        }
        out.push('\n');
    }
}

/// One peer's selected candidate pair as the runner recorded it from that peer's own getStats
/// (`<role>.selected_pair`): `local type/protocol` (with the TURN transport for a relay
/// candidate, e.g. `relay(tcp)/udp`) `-> remote type`.
fn selected_pair_text(pair: &serde_json::Value) -> Option<String> {
    let local = pair.get("local")?.as_str()?;
    let relay = pair["relay_protocol"]
        .as_str()
        .map(|p| format!("({p})"))
        .unwrap_or_default();
    let protocol = pair["protocol"].as_str().unwrap_or("?");
    let remote = pair["remote"].as_str().unwrap_or("?");
    Some(format!("{local}{relay}/{protocol} -> {remote}"))
}

/// `## Selected candidate pairs`: for every scenario whose runs recorded them (the ICE, TURN
/// and address-family checks), an offerer x answerer table with each peer's selected pair
/// from its own getStats, offerer first. Nothing when no run recorded one.
fn selected_pairs_section(out: &mut String, grid: &Grid) {
    let recorded = |r: &RunRecord| {
        ["offerer", "answerer"]
            .iter()
            .any(|role| r.observed.contains_key(&format!("{role}.selected_pair")))
    };
    let scenarios: Vec<&str> = grid
        .scenarios
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| grid.records_of(s).any(recorded))
        .collect();
    if scenarios.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Selected candidate pairs
"
    );
    let _ = writeln!(
        out,
        "Each peer's selected pair from its own getStats, offerer / answerer: local candidate \
         type (TURN transport) / protocol -> remote candidate type.\n"
    );
    for scenario in scenarios {
        let _ = writeln!(out, "### {scenario}\n");
        markdown_matrix(out, grid, |offerer, answerer| {
            let Some(r) = grid.cell(scenario, offerer, answerer) else {
                return "-".to_string();
            };
            let side = |role: &str| {
                r.observed
                    .get(&format!("{role}.selected_pair"))
                    .and_then(selected_pair_text)
                    .unwrap_or_else(|| "-".to_string())
            };
            format!("{} / {}", side("offerer"), side("answerer"))
        });
        out.push('\n');
    }
}

/// A `max-message-size` a peer announced, as the harness observed it: the number of bytes, or
/// a text (`absent (65536 applies)`). Numbers sort first, in numeric order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Announced {
    Bytes(u64),
    Text(String),
}

impl fmt::Display for Announced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Announced::Bytes(0) => f.write_str("0 (no limit)"),
            Announced::Bytes(n) => write!(f, "{n}"),
            Announced::Text(text) => f.write_str(&one_line(text)),
        }
    }
}

/// Each implementation (name, version) in report order with the distinct `max-message-size`
/// values observed for it, as offerer or answerer, in any record.
fn announced_max_message_sizes(
    records: &[RunRecord],
) -> BTreeMap<((usize, String), &str), BTreeSet<Announced>> {
    let mut sizes: BTreeMap<_, BTreeSet<Announced>> = BTreeMap::new();
    for r in records {
        for (role, imp) in [("offerer", &r.offerer), ("answerer", &r.answerer)] {
            let Some(value) = r.observed.get(&format!("{role}.max_message_size")) else {
                continue;
            };
            let announced = match (value.as_u64(), value.as_str()) {
                (Some(n), _) => Announced::Bytes(n),
                (None, Some(text)) => Announced::Text(text.to_string()),
                (None, None) => Announced::Text(value.to_string()),
            };
            sizes
                .entry((implementation_order(&imp.name), imp.version.as_str()))
                .or_default()
                .insert(announced);
        }
    }
    sizes
}

/// `## Negotiated max-message-size`: one line per implementation with the value(s) it
/// announced. Nothing when no record observed one.
fn max_message_size_section(out: &mut String, records: &[RunRecord]) {
    let sizes = announced_max_message_sizes(records);
    if sizes.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Negotiated max-message-size\n");
    let _ = writeln!(
        out,
        "The `a=max-message-size` each implementation announced in its session descriptions.\n"
    );
    for (((_, name), version), values) in &sizes {
        let values: Vec<String> = values.iter().map(Announced::to_string).collect();
        let _ = writeln!(out, "- {name} {version}: {}", values.join(", "));
    }
    out.push('\n');
}

/// Markdown summary: totals, implementations, the unexpected results, one matrix per scenario,
/// the non-pass results that were expected, then `## Timings` (offerer x answerer tables of
/// the measures the runs recorded), `## Selected candidate pairs` (each peer's, from its own
/// stats) and `## Negotiated max-message-size` (the value each implementation announces),
/// each only when some record has its data.
pub fn markdown_summary(records: &[RunRecord]) -> String {
    let grid = Grid::new(records);
    let mut out = String::new();
    let _ = writeln!(out, "# WebRTC interop results\n");
    let _ = writeln!(out, "{}\n", totals_line(records));
    versions_section(&mut out, records);
    out.push_str(&bcd::seed_markdown(records));
    unexpected_section(&mut out, records);
    flaky_section(&mut out, records);
    matrices_section(&mut out, &grid);
    expected_section(&mut out, records, &grid);
    timings_section(&mut out, &grid);
    selected_pairs_section(&mut out, &grid);
    max_message_size_section(&mut out, records);
    out
}

/// The implementations and the versions the runs saw.
fn versions_section(out: &mut String, records: &[RunRecord]) {
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
}

/// Every result an expectation file did not predict, with its reason and expectation.
fn unexpected_section(out: &mut String, records: &[RunRecord]) {
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
}

/// Cells run more than once whose outcomes differed.
fn flaky_section(out: &mut String, records: &[RunRecord]) {
    let repeated = repeated_cells(records);
    if let Some(line) = flake_line(&repeated) {
        let _ = writeln!(out, "## Flaky cells\n\n{line}.\n");
        let flaky: Vec<&RepeatedCell> = repeated.iter().filter(|c| c.is_flaky()).collect();
        if !flaky.is_empty() {
            let _ = writeln!(
                out,
                "| scenario | pairing | runs | outcomes | flake rate | known intermittent |\n|---|---|---|---|---|---|"
            );
            for c in flaky {
                let known: Vec<&str> = c.known_intermittent.iter().map(|o| o.as_str()).collect();
                let _ = writeln!(
                    out,
                    "| {} | {} -> {} | {} | {} | {:.0} % | {} |",
                    c.scenario,
                    c.offerer,
                    c.answerer,
                    c.runs,
                    c.outcomes_text(),
                    100.0 * c.flake_rate(),
                    if known.is_empty() {
                        "no".to_string()
                    } else {
                        known.join(", ")
                    }
                );
            }
            out.push('\n');
        }
    }
}

/// One offerer x answerer matrix per scenario.
fn matrices_section(out: &mut String, grid: &Grid) {
    if !grid.scenarios.is_empty() {
        let _ = writeln!(
            out,
            "✅ pass · ☑️ non-pass an expectation file predicts · ❌ unexpected non-pass · \
             ⚠️ unexpected pass\n"
        );
    }
    for (scenario, feature) in &grid.scenarios {
        let _ = writeln!(out, "## {scenario} ({feature})\n");
        markdown_matrix(out, grid, |offerer, answerer| {
            markdown_cell(grid.cell(scenario, offerer, answerer))
        });
        out.push('\n');
    }
}

/// Every expected non-pass with its reason, bug and expectation entry.
fn expected_section(out: &mut String, records: &[RunRecord], grid: &Grid) {
    // One line per cell: the record its matrix shows (repeats would list a cell N times).
    let expected: Vec<&RunRecord> = records
        .iter()
        .filter(|r| verdict(r) == Verdict::ExpectedNonPass)
        .filter(|r| {
            grid.cell(&r.scenario, &r.offerer.name, &r.answerer.name)
                .is_some_and(|shown| std::ptr::eq(shown, *r))
        })
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use interop_results::ExpectationRef;

    fn rec(scenario: &str, o: &str, a: &str, outcome: Outcome) -> RunRecord {
        let imp = |n: &str| crate::test_records::imp(n, &format!("{n}-1.0"));
        crate::test_records::record(scenario, "data-channels", imp(o), imp(a), outcome)
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

    /// Three repeats of two cells: rust -> chrome passes every time; chrome -> rust passes,
    /// times out (a known intermittent), then fails (unexpected), then the last repeat passes.
    fn repeated() -> Vec<RunRecord> {
        let mut v = Vec::new();
        for (k, flaky) in [
            (1, Outcome::Timeout),
            (2, Outcome::Fail),
            (3, Outcome::Pass),
        ] {
            let mut steady = rec("datachannel-echo", "rust", "chrome", Outcome::Pass);
            steady.repeat = Some(k);
            let mut r = rec("datachannel-echo", "chrome", "rust", flaky);
            r.repeat = Some(k);
            r.known_intermittent = vec![Outcome::Timeout];
            v.extend([steady, r]);
        }
        v
    }

    #[test]
    fn repeats_count_outcomes_per_cell_and_a_red_repeat_stays_red() {
        let records = repeated();
        let cells = repeated_cells(&records);
        assert_eq!(cells.len(), 2);
        assert!(!cells[0].is_flaky());
        assert_eq!(cells[0].outcomes_text(), "pass 3");
        let flaky = &cells[1];
        assert!(flaky.is_flaky());
        assert_eq!(flaky.runs, 3);
        assert_eq!(flaky.outcomes_text(), "pass 1, fail 1, timeout 1");
        assert_eq!(flaky.odd_runs(), 2);
        assert_eq!(
            flake_line(&cells).unwrap(),
            "repeats: 2 cells x 3 runs: 1 flaky cell (50.0 %); 2 of 6 runs (33.33 %) differ \
             from their cell's most frequent outcome"
        );
        assert_eq!(flake_line(&repeated_cells(&sample())), None);
        // The fail of repeat 2 is unexpected: the matrix keeps it although repeat 3 passed.
        let terminal = terminal_matrices(&records);
        assert!(terminal.contains("FAIL!"), "{terminal}");
        assert!(terminal.contains(
            "  flaky: datachannel-echo chrome -> rust: pass 1, fail 1, timeout 1 (known intermittent: timeout)"
        ));
        let md = markdown_summary(&records);
        assert!(
            md.contains("## Flaky cells\n\nrepeats: 2 cells x 3 runs"),
            "{md}"
        );
        assert!(md.contains(
            "| datachannel-echo | chrome -> rust | 3 | pass 1, fail 1, timeout 1 | 67 % | timeout |"
        ));
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

    /// `rec` with real-looking versions and the `max-message-size` each implementation
    /// announces in data channel scenarios.
    fn timed(scenario: &str, o: &str, a: &str, outcome: Outcome) -> RunRecord {
        let mut r = rec(scenario, o, a, outcome);
        for imp in [&mut r.offerer, &mut r.answerer] {
            imp.version = match imp.name.as_str() {
                "rust" => "0.21.1",
                "chrome" => "156.0.8078.79",
                _ => "153.7.0",
            }
            .into();
        }
        if scenario != "connect" {
            for (role, imp) in [("offerer", o), ("answerer", a)] {
                let size = match imp {
                    "rust" => 65536,
                    "chrome" => 262144,
                    _ => 1073741823,
                };
                r.observed
                    .insert(format!("{role}.max_message_size"), size.into());
            }
        }
        r
    }

    /// Runs of five scenarios with timings, `datachannel-echo` before `connect`:
    /// - connect: time to connected, rust -> firefox missing, firefox -> rust timed out after
    ///   the offerer connected;
    /// - datachannel-echo: both roles measured round trips (rust -> rust only the offerer);
    /// - datachannel-ordered: channel open and the offerer's round trip, chrome -> rust an
    ///   expected `unsupported` with numbers;
    /// - datachannel-bulk: one throughput key, rust -> chrome failed after measuring it;
    /// - datachannel-bulk-both-ways: two keys, firefox -> firefox has only one.
    ///
    /// One rust -> firefox run saw rust announce no max-message-size.
    fn sample_with_timings() -> Vec<RunRecord> {
        let impls = ["rust", "chrome", "firefox"];
        let mut v = Vec::new();
        let scenarios = [
            "datachannel-echo",
            "connect",
            "datachannel-ordered",
            "datachannel-bulk",
            "datachannel-bulk-both-ways",
        ];
        for s in scenarios {
            for (i, o) in impls.iter().enumerate() {
                for (j, a) in impls.iter().enumerate() {
                    let k = (3 * i + j) as f64;
                    let mut r = timed(s, o, a, Outcome::Pass);
                    let t = &mut r.timings;
                    t.wall_ms = 500.0 + k;
                    match s {
                        "connect" => {
                            if (*o, *a) == ("rust", "firefox") {
                                continue;
                            }
                            t.to_connected_ms.insert("offerer".into(), 40.0 + k);
                            t.to_connected_ms.insert("answerer".into(), 30.4 + k);
                            if (*o, *a) == ("firefox", "rust") {
                                r = timed(s, o, a, Outcome::Timeout);
                                r.timings.to_connected_ms.insert("offerer".into(), 812.34);
                            }
                        }
                        "datachannel-echo" => {
                            t.to_connected_ms.insert("offerer".into(), 90.0 + k);
                            t.round_trip_ms.insert("offerer".into(), 1.5 + k);
                            if (*o, *a) != ("rust", "rust") {
                                t.round_trip_ms.insert("answerer".into(), 2.0 + k);
                            }
                        }
                        "datachannel-ordered" => {
                            t.channel_open_ms.insert("offerer".into(), 120.0 + k);
                            t.round_trip_ms.insert("offerer".into(), 0.6 + k / 10.0);
                            if (*o, *a) == ("chrome", "rust") {
                                let mut u = timed(s, o, a, Outcome::Unsupported);
                                u.timings = r.timings.clone();
                                r = expecting(u, Outcome::Unsupported, 3);
                            }
                        }
                        "datachannel-bulk" => {
                            t.throughput_mbps
                                .insert("offerer bulk".into(), 80.0 + 10.0 * k);
                            if (*o, *a) == ("rust", "chrome") {
                                let mut f = timed(s, o, a, Outcome::Fail);
                                f.timings = r.timings.clone();
                                r = f;
                            }
                        }
                        _ => {
                            t.throughput_mbps.insert("offerer up".into(), 100.0 + k);
                            if (*o, *a) != ("firefox", "firefox") {
                                t.throughput_mbps.insert("answerer down".into(), 90.0 + k);
                            }
                        }
                    }
                    if (s, *o, *a) == ("datachannel-bulk", "rust", "firefox") {
                        r.observed.insert(
                            "offerer.max_message_size".into(),
                            "absent (65536 applies)".into(),
                        );
                    }
                    v.push(r);
                }
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
    fn markdown_summary_shows_timings_and_max_message_sizes() {
        let md = markdown_summary(&sample_with_timings());
        let expected = md.find("## Expected non-pass results").unwrap();
        let timings = md.find("## Timings").unwrap();
        let sizes = md.find("## Negotiated max-message-size").unwrap();
        assert!(expected < timings && timings < sizes);
        assert!(md.contains("### Time to connected (ms, offerer / answerer), connect\n"));
        assert!(!md.contains("### Time to connected (ms, offerer / answerer), datachannel-echo"));
        insta::assert_snapshot!(&md[timings..]);
    }

    #[test]
    fn markdown_summary_without_timings_has_no_timing_sections() {
        let md = markdown_summary(&sample());
        assert!(!md.contains("## Timings"));
        assert!(!md.contains("## Negotiated max-message-size"));
    }

    #[test]
    fn markdown_summary_shows_each_peers_selected_pair() {
        let mut records = sample();
        let pair = |local: &str, relay: Option<&str>| {
            serde_json::json!({
                "local": local, "remote": "relay", "protocol": "udp", "relay_protocol": relay,
            })
        };
        for r in records.iter_mut().filter(|r| r.offerer.name == "chrome") {
            r.observed
                .insert("offerer.selected_pair".into(), pair("relay", Some("tcp")));
            if r.answerer.name != "rust" {
                r.observed
                    .insert("answerer.selected_pair".into(), pair("relay", Some("udp")));
            }
        }
        let md = markdown_summary(&records);
        let section = &md[md.find("## Selected candidate pairs\n").unwrap()..];
        assert!(section.contains("### datachannel-echo\n"));
        assert!(section.contains(
            "| **chrome** | relay(tcp)/udp -> relay / - | \
             relay(tcp)/udp -> relay / relay(udp)/udp -> relay | \
             relay(tcp)/udp -> relay / relay(udp)/udp -> relay |"
        ));
        assert!(section.contains("| **rust** | - / - | - / - | - / - |"));
        assert!(!markdown_summary(&sample()).contains("## Selected candidate pairs"));
    }

    #[test]
    fn time_to_connected_falls_back_to_the_first_scenario_that_has_it() {
        let records: Vec<RunRecord> = sample_with_timings()
            .into_iter()
            .filter(|r| r.scenario != "connect")
            .collect();
        let md = markdown_summary(&records);
        assert!(md.contains("### Time to connected (ms, offerer / answerer), datachannel-echo\n"));
        assert!(!md.contains("Channel open (ms, offerer / answerer)"));
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
