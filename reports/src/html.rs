//! The published report: one self-contained static page (`index.html`), in the spirit of MDN's
//! browser-compatibility tables, built from runs.
//!
//! [`render`] returns the whole page: inline CSS and JS, no fonts, scripts or images from
//! anywhere, so it works from `file://` and offline. What it shows, top to bottom:
//!
//! - the totals ([`super::totals_line`]), a verdict banner (no unexpected results, or how many,
//!   each linked to its details) and each [`RunInfo`] (harness version and git revision, OS,
//!   start and end, shard, interrupted, the implementations with their exact versions);
//! - `<section id="seed">`: the seed's table (MDN's WebRTC page: Basic support, DataChannels,
//!   getUserMedia) answered per implementation version from [`super::bcd::support`];
//! - filters (implementation, outcomes, only unexpected) and a legend;
//! - THE table: a group row per feature (first-seen order), a row per scenario (parameters as
//!   tags), a column per pairing `offerer -> answerer` (rust, chrome, firefox; an
//!   implementation is split by version when the records hold several of its versions), each
//!   cell coloured by outcome and marked expected / unexpected, with `data-scenario`,
//!   `data-offerer`, `data-answerer`, `data-outcome`, `data-expected` and `data-unexpected`;
//! - one detail block per shown record (outcome vs expected, reason, failed step, expectation
//!   entry, parameters, peers, timings, observed facts, links to the run's artefacts), shown in
//!   a side panel when its cell is clicked (`#run-N` also opens it, with or without JS).
//!
//! Every text from records is HTML-escaped here; the script only toggles classes and reads
//! `data-*` attributes, it never builds markup from data. When the records hold several runs
//! of one cell (re-runs), the last one is shown, as in the other matrices, and its details list
//! the earlier outcomes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use interop_results::{Implementation, Outcome, RunInfo, RunRecord, Timings};

use super::{bcd, implementation_order, totals_line, verdict, Verdict};

/// One self-contained static page (inline CSS and JS, no network, works from `file://`).
///
/// `infos` are the `run_info.json` of the results shown (several for a merged report, none for
/// an older results folder). `artefact_base` is put before each record's `artefacts` path in
/// links (a relative URL such as `""` when the page sits in the results folder, or `"../out/"`).
pub fn render(infos: &[RunInfo], records: &[RunRecord], artefact_base: &str) -> String {
    let layout = Layout::new(records);
    let mut out = String::with_capacity(8192 + records.len() * 3072);
    let unexpected = records.iter().filter(|r| r.is_unexpected()).count();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"interop-reports\">\n\
         <title>WebRTC interop: {} run{}, {} unexpected</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        records.len(),
        if records.len() == 1 { "" } else { "s" },
        unexpected
    );
    header(&mut out, infos, records, &layout);
    out.push_str("<main>\n");
    seed_section(&mut out, records);
    filters(&mut out, records);
    legend(&mut out);
    table(&mut out, records, &layout);
    flaky_section(&mut out, records);
    out.push_str("</main>\n");
    panel(&mut out, records, &layout, artefact_base);
    let _ = write!(out, "<script>{JS}</script>\n</body>\n</html>\n");
    out
}

/// Under `--repeat`: how many cells were flaky, and each flaky cell's outcome counts.
fn flaky_section(out: &mut String, records: &[RunRecord]) {
    let cells = crate::repeated_cells(records);
    let Some(line) = crate::flake_line(&cells) else {
        return;
    };
    let _ = writeln!(
        out,
        "<section id=\"flaky\">\n<h2>Flaky cells</h2>\n<p>{}.</p>",
        esc(&line)
    );
    let flaky: Vec<_> = cells.iter().filter(|c| c.is_flaky()).collect();
    if !flaky.is_empty() {
        out.push_str(
            "<table class=\"flaky\"><thead><tr><th>scenario</th><th>pairing</th><th>runs</th>\
             <th>outcomes</th><th>flake rate</th><th>known intermittent</th></tr></thead><tbody>\n",
        );
        for c in flaky {
            let known: Vec<&str> = c.known_intermittent.iter().map(|o| o.as_str()).collect();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{:.0} %</td><td>{}</td></tr>",
                esc(c.scenario),
                esc(c.offerer),
                esc(c.answerer),
                c.runs,
                esc(&c.outcomes_text()),
                100.0 * c.flake_rate(),
                if known.is_empty() { "no".to_string() } else { esc(&known.join(", ")) }
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
}

/// HTML-escapes text for element content and quoted attribute values.
fn esc(text: &str) -> String {
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
fn url_path(path: &str) -> String {
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
fn web_link(url: &str) -> Option<&str> {
    let u = url.trim();
    (u.starts_with("https://") || u.starts_with("http://")).then_some(u)
}

/// One part of a version, for ordering `9.0` before `10.0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum VersionPart {
    Number(u64),
    Text(String),
}

fn version_key(version: &str) -> Vec<VersionPart> {
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
struct Side {
    order: (usize, String),
    version_key: Vec<VersionPart>,
    version: Option<String>,
}

impl Side {
    fn name(&self) -> &str {
        &self.order.1
    }

    /// `chrome` or, when split by version, `chrome 156.0.8078.114`.
    fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {v}", self.name()),
            None => self.name().to_string(),
        }
    }

    /// The label as HTML, the version in a smaller span.
    fn label_html(&self) -> String {
        match &self.version {
            Some(v) => format!("{} <span class=\"ver\">{}</span>", esc(self.name()), esc(v)),
            None => esc(self.name()),
        }
    }
}

/// A column of the table: offerer and answerer, indices into [`Layout::sides`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    offerer: usize,
    answerer: usize,
}

/// What the table shows: columns, feature groups with their scenarios, and which record fills
/// each cell.
struct Layout<'a> {
    sides: Vec<Side>,
    columns: Vec<Column>,
    /// Feature groups in first-seen order, each with its scenarios in first-seen order.
    features: Vec<(&'a str, Vec<&'a str>)>,
    /// `(scenario, column)` -> indices into the records, in input order except that the last
    /// unexpected one moves to the end; the last is shown.
    cells: BTreeMap<(&'a str, usize), Vec<usize>>,
}

impl<'a> Layout<'a> {
    fn new(records: &'a [RunRecord]) -> Self {
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
    fn shown(&self) -> impl Iterator<Item = usize> + '_ {
        self.cells.values().filter_map(|v| v.last().copied())
    }

    /// `rust -> chrome` with versions where the sides carry them.
    fn column_label(&self, c: Column) -> String {
        format!(
            "{} -> {}",
            self.sides[c.offerer].label(),
            self.sides[c.answerer].label()
        )
    }
}

/// `Some(base)` when a scenario name is `base[...]` for its own parameters, so the row shows
/// the base name and the parameters as tags.
fn base_name(r: &RunRecord) -> Option<&str> {
    if r.parameters.is_empty() {
        return None;
    }
    let (base, rest) = r.scenario.split_once('[')?;
    rest.ends_with(']').then_some(base)
}

fn parameter_tags(parameters: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in parameters {
        let _ = write!(out, "<span class=\"param\">{}={}</span>", esc(k), esc(v));
    }
    out
}

/// The CSS classes of an outcome and a verdict.
fn outcome_class(o: Outcome) -> String {
    format!("o-{}", o.as_str())
}

fn verdict_class(r: &RunRecord) -> &'static str {
    match verdict(r) {
        Verdict::Pass => "v-pass",
        Verdict::ExpectedNonPass => "v-expected",
        Verdict::Unexpected => "v-unexpected",
    }
}

/// What a cell says under its outcome word (empty for a plain pass), and how the outcome
/// compares with the expected one, in words.
fn verdict_words(r: &RunRecord) -> (&'static str, &'static str) {
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
fn mark(r: &RunRecord) -> &'static str {
    match verdict(r) {
        Verdict::Pass => "✓",
        Verdict::ExpectedNonPass => "☑",
        Verdict::Unexpected if r.outcome == Outcome::Pass => "⚠",
        Verdict::Unexpected => "✖",
    }
}

/// At most `max` characters of `text`, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

fn header(out: &mut String, infos: &[RunInfo], records: &[RunRecord], layout: &Layout) {
    let _ = write!(
        out,
        "<header>\n<h1>WebRTC browser compatibility, built from runs</h1>\n\
         <p class=\"lede\">Each cell is one run of a scenario between an offerer and an answerer \
         (the Rust <code>webrtc</code> crate, Chromium, Firefox), judged against the outcome \
         the checked-in expectations predict.</p>\n\
         <p class=\"totals\" id=\"totals\">{}</p>\n",
        esc(&totals_line(records))
    );
    let unexpected: Vec<usize> = layout
        .shown()
        .filter(|&i| records[i].is_unexpected())
        .collect();
    let all_unexpected = records.iter().filter(|r| r.is_unexpected()).count();
    if records.is_empty() {
        out.push_str("<p class=\"banner empty\" id=\"verdict\">No runs in these results.</p>\n");
    } else if all_unexpected == 0 {
        out.push_str(
            "<p class=\"banner ok\" id=\"verdict\">✓ No unexpected results: every outcome is the \
             expected one.</p>\n",
        );
    } else {
        let _ = writeln!(
            out,
            "<div class=\"banner bad\" id=\"verdict\"><p>✖ {all_unexpected} unexpected result{}: \
             an outcome other than the expected one (an unexpected pass included).</p>\n<ul>",
            if all_unexpected == 1 { "" } else { "s" }
        );
        for i in unexpected {
            let r = &records[i];
            let _ = writeln!(
                out,
                "<li><a class=\"open\" href=\"#run-{i}\">{} ({})</a>: {}, expected {}</li>",
                esc(&r.scenario),
                esc(&r.pairing()),
                r.outcome,
                r.expected
            );
        }
        out.push_str("</ul></div>\n");
    }
    run_infos(out, infos, records);
    out.push_str("</header>\n");
}

fn implementations_table(out: &mut String, implementations: &[&Implementation]) {
    out.push_str(
        "<table class=\"impls\"><thead><tr><th>implementation</th><th>version</th>\
         <th>detail</th></tr></thead><tbody>\n",
    );
    for imp in implementations {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&imp.name),
            esc(&imp.version),
            esc(imp.detail.as_deref().unwrap_or("-"))
        );
    }
    out.push_str("</tbody></table>\n");
}

fn run_infos(out: &mut String, infos: &[RunInfo], records: &[RunRecord]) {
    out.push_str("<section id=\"run-info\" class=\"run-infos\">\n");
    if infos.is_empty() {
        // An older results folder: the implementations as the records report them.
        let mut seen: Vec<&Implementation> = Vec::new();
        for r in records {
            for imp in [&r.offerer, &r.answerer] {
                if !seen
                    .iter()
                    .any(|s| s.name == imp.name && s.version == imp.version)
                {
                    seen.push(imp);
                }
            }
        }
        seen.sort_by_key(|imp| (implementation_order(&imp.name), version_key(&imp.version)));
        out.push_str(
            "<div class=\"run-info\"><h2>Run</h2><p class=\"muted\">No <code>run_info.json</code>: \
             the implementations as the records report them.</p>\n",
        );
        implementations_table(out, &seen);
        out.push_str("</div>\n");
    }
    for (n, info) in infos.iter().enumerate() {
        let title = if infos.len() == 1 {
            "Run".to_string()
        } else {
            format!("Run {} of {}", n + 1, infos.len())
        };
        let _ = writeln!(
            out,
            "<div class=\"run-info\"><h2>{title}{}</h2>\n<dl class=\"facts\">",
            if info.interrupted {
                " <span class=\"badge warn\">interrupted</span>"
            } else {
                ""
            }
        );
        let mut fact = |name: &str, value: String| {
            let _ = writeln!(out, "<dt>{name}</dt><dd>{value}</dd>");
        };
        fact(
            "harness",
            format!(
                "{} <code>{}</code>",
                esc(&info.harness.version),
                esc(&info.harness.git_revision)
            ),
        );
        fact("OS", esc(&info.os));
        fact("started", esc(&info.started_at));
        fact(
            "ended",
            info.ended_at.as_deref().map_or_else(
                || "<span class=\"muted\">not recorded (still running, or killed)</span>".into(),
                esc,
            ),
        );
        if let Some(shard) = &info.shard {
            fact("shard", esc(shard));
        }
        fact(
            "interrupted",
            if info.interrupted {
                "<strong>yes</strong>: only the runs that finished are here".to_string()
            } else {
                "no".to_string()
            },
        );
        out.push_str("</dl>\n");
        let imps: Vec<&Implementation> = info.implementations.iter().collect();
        implementations_table(out, &imps);
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

/// The seed's table: MDN's WebRTC compatibility rows answered from runs, one column per
/// implementation version.
fn seed_section(out: &mut String, records: &[RunRecord]) {
    let support = bcd::support(records);
    let mut columns: Vec<(&str, &str)> = support
        .iter()
        .map(|s| (s.implementation.as_str(), s.version.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    columns.sort_by_key(|(name, version)| (implementation_order(name), version_key(version)));
    out.push_str(
        "<section id=\"seed\">\n<h2>The seed's table: MDN's WebRTC compatibility, from runs</h2>\n\
         <p class=\"muted\">The rows of the \"Browser compatibility\" table of MDN's WebRTC page, \
         each answered by the runs of its feature group, per implementation version: \
         <em>yes</em> when every cell counted for it passed, <em>partial</em> when some did, \
         <em>no</em> when none did (passed / counted). A cell that did not pass counts against \
         the implementation whose expectation file documents it, against both sides when none \
         does; <code>error</code> cells are not counted.</p>\n",
    );
    if columns.is_empty() {
        out.push_str("<p class=\"muted\">No runs of these features.</p>\n</section>\n");
        return;
    }
    out.push_str("<table class=\"seed\"><thead><tr><th>Feature</th>");
    for (name, version) in &columns {
        let _ = write!(
            out,
            "<th>{} <span class=\"ver\">{}</span></th>",
            esc(name),
            esc(version)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    // One footnote per cell with notes, as MDN's table has them: `partial 7/9 [1]`.
    let mut footnotes: Vec<(String, &[String])> = Vec::new();
    for (label, group) in bcd::SEED_ROWS.iter() {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{} <span class=\"param\">{}</span></th>",
            esc(label),
            esc(group)
        );
        for (name, version) in &columns {
            let found = support.iter().find(|s| {
                (s.feature == *group || s.feature == *label)
                    && s.implementation == *name
                    && s.version == *version
            });
            let attributes = format!(
                "data-seed-feature=\"{}\" data-implementation=\"{}\" data-version=\"{}\"",
                esc(group),
                esc(name),
                esc(version)
            );
            let Some(s) = found else {
                let _ = write!(
                    out,
                    "<td class=\"s-none\" {attributes} data-status=\"none\" \
                     title=\"no run of this feature counted for {} {}\">-</td>",
                    esc(name),
                    esc(version)
                );
                continue;
            };
            let (class, word) = match s.status {
                bcd::SupportStatus::Full => ("s-full", "yes"),
                bcd::SupportStatus::Partial => ("s-partial", "partial"),
                bcd::SupportStatus::No => ("s-no", "no"),
            };
            let reference = if s.notes.is_empty() {
                String::new()
            } else {
                footnotes.push((format!("{label}, {name} {version}"), &s.notes));
                let n = footnotes.len();
                format!("<sup><a href=\"#seed-note-{n}\">[{n}]</a></sup>")
            };
            let _ = write!(
                out,
                "<td class=\"{class}\" {attributes} data-status=\"{}\" title=\"{}\">\
                 {word} {}/{}{reference}</td>",
                s.status.as_str(),
                esc(&s.notes.join("\n")),
                s.passed,
                s.total
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    if !footnotes.is_empty() {
        out.push_str("<ol class=\"notes\">\n");
        for (n, (what, notes)) in footnotes.iter().enumerate() {
            let _ = write!(out, "<li id=\"seed-note-{}\">{}<ul>", n + 1, esc(what));
            for note in notes.iter() {
                let _ = write!(out, "<li>{}</li>", esc(note));
            }
            out.push_str("</ul></li>\n");
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");
}

fn filters(out: &mut String, records: &[RunRecord]) {
    let mut names: Vec<&str> = records
        .iter()
        .flat_map(|r| [r.offerer.name.as_str(), r.answerer.name.as_str()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    names.sort_by_key(|n| implementation_order(n));
    out.push_str(
        "<form id=\"filters\" class=\"filters\">\n<fieldset><legend>Implementation</legend>\
         <select id=\"f-impl\" name=\"impl\"><option value=\"\">all pairings</option>",
    );
    for name in names {
        let _ = write!(
            out,
            "<option value=\"{0}\">pairings with {0}</option>",
            esc(name)
        );
    }
    out.push_str("</select></fieldset>\n<fieldset><legend>Outcome</legend>");
    for o in Outcome::ALL {
        let n = records.iter().filter(|r| r.outcome == o).count();
        if n == 0 {
            continue;
        }
        let _ = write!(
            out,
            "<label class=\"{}\"><input type=\"checkbox\" name=\"outcome\" value=\"{o}\" checked> \
             {o} <span class=\"count\">{n}</span></label>",
            outcome_class(o)
        );
    }
    let unexpected = records.iter().filter(|r| r.is_unexpected()).count();
    let _ = write!(
        out,
        "</fieldset>\n<fieldset><legend>Verdict</legend><label><input type=\"checkbox\" \
         id=\"f-unexpected\" name=\"unexpected\"> only unexpected \
         <span class=\"count\">{unexpected}</span></label></fieldset>\n\
         <button type=\"reset\">reset</button> <output id=\"f-status\"></output>\n\
         <noscript><p class=\"muted\">The filters need JavaScript; details open through each \
         cell's link.</p></noscript>\n</form>\n"
    );
}

fn legend(out: &mut String) {
    out.push_str("<section id=\"legend\" class=\"legend\"><h2>Legend</h2><ul>");
    for (o, text) in [
        (
            Outcome::Pass,
            "every step succeeded, every expectation held",
        ),
        (
            Outcome::Fail,
            "a command failed or an expectation was contradicted",
        ),
        (
            Outcome::Unsupported,
            "an implementation lacks or refuses what the scenario needs (with the evidence)",
        ),
        (Outcome::Timeout, "an expectation was not met in time"),
        (Outcome::Crash, "a peer disconnected mid-run"),
        (
            Outcome::Error,
            "the harness could not run the cell (not a verdict on the implementations)",
        ),
    ] {
        let _ = write!(
            out,
            "<li><span class=\"swatch cell {}\">{o}</span> {text}</li>",
            outcome_class(o)
        );
    }
    out.push_str(
        "</ul><ul>\
         <li><span class=\"swatch cell o-unsupported v-expected\">unsupported\
         <small>☑ expected</small></span> a non-pass an expectation file predicts (hatched)</li>\
         <li><span class=\"swatch cell o-fail v-unexpected\"><span class=\"word\">fail</span>\
         <small>✖ unexpected</small></span> an unexpected result (thick border)</li>\
         <li><span class=\"swatch cell o-pass v-unexpected\"><span class=\"word\">pass</span>\
         <small>⚠ unexpected</small></span> passed where a non-pass was expected: update the \
         expectation</li>\
         <li><span class=\"swatch cell none\">-</span> not run</li>\
         </ul><p class=\"muted\">Click a cell for its details: reason, failed step, expectation, \
         timings, observed facts and the run's artefacts.</p></section>\n",
    );
}

fn table(out: &mut String, records: &[RunRecord], layout: &Layout) {
    if records.is_empty() {
        out.push_str("<p class=\"muted\" id=\"no-runs\">No runs to show.</p>\n");
        return;
    }
    // No <colgroup>: columns hidden by the filters must give their width back. Group rows
    // have a cell per column rather than one spanning them all, because Chromium does not
    // lay a row out again when a cell's colspan changes.
    let _ = writeln!(
        out,
        "<table class=\"compat\" style=\"min-width:{}px\">",
        260 + 92 * layout.columns.len()
    );
    out.push_str(
        "<thead><tr><th rowspan=\"2\" class=\"corner\">scenario \
         <span class=\"muted\">by feature</span><br><span class=\"muted\">offerer → answerer</span></th>",
    );
    // First header row: one group per offerer.
    let mut c = 0;
    while c < layout.columns.len() {
        let offerer = layout.columns[c].offerer;
        let span = layout.columns[c..]
            .iter()
            .take_while(|x| x.offerer == offerer)
            .count();
        let side = &layout.sides[offerer];
        let _ = write!(
            out,
            "<th class=\"offerer-group\" colspan=\"{span}\" data-group=\"{offerer}\" \
             data-offerer=\"{}\" title=\"offerer {}\"><span class=\"role\">offerer</span> {} →</th>",
            esc(side.name()),
            esc(&side.label()),
            side.label_html()
        );
        c += span;
    }
    out.push_str("</tr>\n<tr>");
    for (i, col) in layout.columns.iter().enumerate() {
        let answerer = &layout.sides[col.answerer];
        let _ = write!(
            out,
            "<th class=\"col\" data-col=\"{i}\" data-group=\"{}\" data-offerer=\"{}\" \
             data-answerer=\"{}\" title=\"{}\"><span class=\"role\">answerer</span> {}</th>",
            col.offerer,
            esc(layout.sides[col.offerer].name()),
            esc(answerer.name()),
            esc(&layout.column_label(*col)),
            answerer.label_html()
        );
    }
    out.push_str("</tr></thead>\n");
    for (feature, scenarios) in &layout.features {
        let unexpected = scenarios
            .iter()
            .flat_map(|s| (0..layout.columns.len()).map(move |c| (*s, c)))
            .filter_map(|key| layout.cells.get(&key).and_then(|v| v.last()))
            .filter(|&&i| records[i].is_unexpected())
            .count();
        let _ = write!(
            out,
            "<tbody class=\"feature\" data-feature=\"{0}\">\n<tr class=\"group\"><th \
             scope=\"rowgroup\"><span class=\"feature-name\">{0}</span> \
             <span class=\"count\">{1} scenario{2}</span>{3}</th>",
            esc(feature),
            scenarios.len(),
            if scenarios.len() == 1 { "" } else { "s" },
            if unexpected > 0 {
                format!(" <span class=\"badge bad\">{unexpected} unexpected</span>")
            } else {
                String::new()
            }
        );
        for c in 0..layout.columns.len() {
            let _ = write!(out, "<td class=\"gap\" data-col=\"{c}\"></td>");
        }
        out.push_str("</tr>\n");
        for scenario in scenarios {
            // Any record of the row names its parameters.
            let first = (0..layout.columns.len())
                .find_map(|c| layout.cells.get(&(*scenario, c)))
                .and_then(|v| v.last())
                .map(|&i| &records[i]);
            let (name, tags) = match first {
                Some(r) => (
                    base_name(r).unwrap_or(&r.scenario),
                    parameter_tags(&r.parameters),
                ),
                None => (*scenario, String::new()),
            };
            let _ = write!(
                out,
                "<tr class=\"scenario\" data-row=\"{0}\"><th scope=\"row\" title=\"{0}\">\
                 <span class=\"scenario-name\">{1}</span>{2}</th>",
                esc(scenario),
                esc(name),
                if tags.is_empty() {
                    String::new()
                } else {
                    format!("<span class=\"params\">{tags}</span>")
                }
            );
            for (c, col) in layout.columns.iter().enumerate() {
                match layout.cells.get(&(*scenario, c)).and_then(|v| v.last()) {
                    Some(&i) => cell(out, i, &records[i], c, layout),
                    None => {
                        let _ = write!(
                            out,
                            "<td class=\"cell none\" data-col=\"{c}\" title=\"{}: not run\">-</td>",
                            esc(&layout.column_label(*col))
                        );
                    }
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n");
    }
    out.push_str(
        "</table>\n<p class=\"muted\" id=\"no-match\" hidden>No run matches the filters.</p>\n",
    );
}

/// `✓ pass`, or the outcome word over its mark and verdict: `unsupported` / `☑ expected`.
fn cell_text(r: &RunRecord, under: &str) -> String {
    if under.is_empty() {
        format!("<span class=\"mark\">{}</span> {}", mark(r), r.outcome)
    } else {
        format!(
            "<span class=\"word\">{}</span><small><span class=\"mark\">{}</span> {under}</small>",
            r.outcome,
            mark(r)
        )
    }
}

fn cell(out: &mut String, i: usize, r: &RunRecord, c: usize, layout: &Layout) {
    let (under, words) = verdict_words(r);
    let mut title = format!(
        "{}\n{}: {}, expected {} ({words})",
        r.scenario,
        layout.column_label(layout.columns[c]),
        r.outcome,
        r.expected
    );
    if let Some(reason) = &r.reason {
        let _ = write!(title, "\n{}", shorten(reason, 300));
    }
    let _ = write!(
        out,
        "<td class=\"cell {} {}\" data-col=\"{c}\" data-run=\"{i}\" data-scenario=\"{}\" \
         data-feature=\"{}\" data-offerer=\"{}\" data-offerer-version=\"{}\" data-answerer=\"{}\" \
         data-answerer-version=\"{}\" data-outcome=\"{}\" data-expected=\"{}\" \
         data-unexpected=\"{}\" title=\"{}\"><a class=\"open\" href=\"#run-{i}\">{}</a></td>",
        outcome_class(r.outcome),
        verdict_class(r),
        esc(&r.scenario),
        esc(&r.feature),
        esc(&r.offerer.name),
        esc(&r.offerer.version),
        esc(&r.answerer.name),
        esc(&r.answerer.version),
        r.outcome,
        r.expected,
        r.is_unexpected(),
        esc(&title),
        cell_text(r, under)
    );
}

/// The side panel holding every shown record's details; one is displayed at a time.
fn panel(out: &mut String, records: &[RunRecord], layout: &Layout, artefact_base: &str) {
    out.push_str(
        "<aside id=\"panel\" aria-label=\"run details\"><button type=\"button\" class=\"close\" \
         title=\"close (Esc)\">×</button>\n",
    );
    for (&(_, c), indices) in &layout.cells {
        let Some((&i, earlier)) = indices.split_last() else {
            continue;
        };
        let earlier: Vec<&RunRecord> = earlier.iter().map(|&e| &records[e]).collect();
        detail(
            out,
            i,
            &records[i],
            layout.columns[c],
            layout,
            &earlier,
            artefact_base,
        );
    }
    out.push_str("</aside>\n");
}

fn detail(
    out: &mut String,
    i: usize,
    r: &RunRecord,
    column: Column,
    layout: &Layout,
    earlier: &[&RunRecord],
    artefact_base: &str,
) {
    let (_, words) = verdict_words(r);
    let _ = write!(
        out,
        "<section class=\"detail\" id=\"run-{i}\" data-run=\"{i}\">\n<h2>{}</h2>\n\
         <p class=\"pairing\">{} <span class=\"muted\">· feature {}</span></p>\n\
         <p class=\"verdict-line cell {} {}\"><span class=\"mark\">{}</span> <strong>{}</strong>, \
         expected {} <span class=\"words\">({})</span></p>\n",
        esc(&r.scenario),
        esc(&layout.column_label(column)),
        esc(&r.feature),
        outcome_class(r.outcome),
        verdict_class(r),
        mark(r),
        r.outcome,
        r.expected,
        words
    );
    if !r.known_intermittent.is_empty() {
        let list: Vec<&str> = r.known_intermittent.iter().map(|o| o.as_str()).collect();
        let _ = writeln!(out, "<p>Known intermittent: {}</p>", esc(&list.join(", ")));
    }
    if let Some(reason) = &r.reason {
        let _ = writeln!(
            out,
            "<h3>Reason</h3>\n<pre class=\"reason\">{}</pre>",
            esc(reason)
        );
    }
    if let Some(s) = &r.failed_step {
        let _ = writeln!(
            out,
            "<h3>Failed step</h3>\n<p class=\"failed-step\">step {} · line {} · <code>{}</code>: {}</p>",
            s.index + 1,
            s.line,
            esc(&s.peer),
            esc(&s.step)
        );
    }
    if let Some(e) = &r.expectation {
        let _ = write!(
            out,
            "<h3>Expectation</h3>\n<div class=\"expectation\"><p>{}</p>\n<p>source: <code>{}</code>",
            esc(&e.reason),
            esc(&e.source)
        );
        match e.bug.as_deref() {
            Some(bug) => match web_link(bug) {
                Some(url) => {
                    let _ = write!(
                        out,
                        " · bug: <a href=\"{}\" rel=\"noreferrer\">{}</a>",
                        esc(url),
                        esc(bug)
                    );
                }
                None => {
                    let _ = write!(out, " · bug: {}", esc(bug));
                }
            },
            None => out.push_str(" · no bug link"),
        }
        out.push_str("</p>\n");
        if r.outcome == Outcome::Pass && r.is_unexpected() {
            let _ = writeln!(
                out,
                "<p class=\"hint\">It passes now: remove or update the entry at <code>{}</code>.</p>",
                esc(&e.source)
            );
        }
        out.push_str("</div>\n");
    }
    if !r.parameters.is_empty() {
        let _ = writeln!(
            out,
            "<h3>Parameters</h3>\n<p class=\"params\">{}</p>",
            parameter_tags(&r.parameters)
        );
    }
    out.push_str("<h3>Peers</h3>\n<table class=\"kv\">\n");
    for (role, imp) in [("offerer", &r.offerer), ("answerer", &r.answerer)] {
        let _ = writeln!(
            out,
            "<tr><th>{role}</th><td>{} <code>{}</code>{}</td></tr>",
            esc(&imp.name),
            esc(&imp.version),
            imp.detail
                .as_deref()
                .map(|d| format!("<br><span class=\"muted\">{}</span>", esc(d)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "<tr><th>started</th><td>{}</td></tr>\n</table>",
        esc(&r.started_at)
    );
    timings(out, &r.timings);
    if !r.observed.is_empty() {
        out.push_str("<h3>Observed</h3>\n<table class=\"kv observed\">\n");
        for (key, value) in &r.observed {
            let json = serde_json::to_string(value).unwrap_or_else(|_| value.to_string());
            let _ = writeln!(
                out,
                "<tr><th><code>{}</code></th><td><code>{}</code></td></tr>",
                esc(key),
                esc(&json)
            );
        }
        out.push_str("</table>\n");
    }
    let folder = format!(
        "{artefact_base}{}/",
        url_path(r.artefacts.trim_end_matches('/'))
    );
    let _ = write!(
        out,
        "<h3>Artefacts</h3>\n<ul class=\"artefacts\"><li><a href=\"{}\">{}/</a> (run folder)</li>",
        esc(&folder),
        esc(r.artefacts.trim_end_matches('/'))
    );
    for (file, what) in [
        ("transcript.jsonl", "every command, response and event"),
        ("capture.pcap", "UDP between the peers"),
        ("timeline.json", "wire and peer events, phases"),
        ("negotiation.json", "offer / answer features"),
    ] {
        let _ = write!(
            out,
            "<li><a href=\"{}{file}\">{file}</a> <span class=\"muted\">{what}</span></li>",
            esc(&folder)
        );
    }
    out.push_str("</ul>\n");
    if !earlier.is_empty() {
        let list: Vec<String> = earlier
            .iter()
            .map(|e| format!("{} ({})", e.outcome, e.started_at))
            .collect();
        let _ = writeln!(
            out,
            "<p class=\"muted\">Earlier runs of this cell in these results: {}</p>",
            esc(&list.join(", "))
        );
    }
    out.push_str("</section>\n");
}

fn timings(out: &mut String, t: &Timings) {
    out.push_str("<h3>Timings</h3>\n<table class=\"kv timings\">\n");
    for (name, map) in [
        ("to_connected_ms", &t.to_connected_ms),
        ("to_first_message_ms", &t.to_first_message_ms),
        ("channel_open_ms", &t.channel_open_ms),
        ("round_trip_ms", &t.round_trip_ms),
        ("throughput_mbps", &t.throughput_mbps),
        ("phases_ms", &t.phases_ms),
        ("first_rtp_ms", &t.first_rtp_ms),
        ("first_frame_ms", &t.first_frame_ms),
    ] {
        if map.is_empty() {
            continue;
        }
        let values: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{} <strong>{v:.1}</strong>", esc(k)))
            .collect();
        let _ = writeln!(
            out,
            "<tr><th><code>{name}</code></th><td>{}</td></tr>",
            values.join("<br>")
        );
    }
    let _ = writeln!(
        out,
        "<tr><th><code>wall_ms</code></th><td><strong>{:.1}</strong></td></tr>\n</table>",
        t.wall_ms
    );
}

const CSS: &str = r#"
:root {
  --pass: #cdeed6; --pass-fg: #14532d;
  --fail: #f7cfcf; --fail-fg: #7f1d1d;
  --unsupported: #e2e4e8; --unsupported-fg: #374151;
  --timeout: #ffd9a8; --timeout-fg: #7c2d12;
  --crash: #e4d2fa; --crash-fg: #4c1d95;
  --error: #ecdff5; --error-fg: #581c87;
  --line: #d5d9df;
}
* { box-sizing: border-box; }
body { margin: 0; color: #1b1f24; background: #fff;
  font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
header, main { padding: 0 24px; }
h1 { font-size: 1.55rem; margin: 18px 0 4px; }
h2 { font-size: 1.15rem; margin: 22px 0 8px; }
code, pre { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12px; }
a { color: #1d4ed8; }
.muted { color: #5b6470; }
.lede { margin: 0 0 8px; color: #3b434d; max-width: 70em; }
.totals { font-weight: 600; margin: 6px 0; }
.banner { margin: 8px 0; padding: 8px 12px; border-left: 6px solid; border-radius: 3px; }
.banner p { margin: 0; }
.banner ul { margin: 6px 0 0; padding-left: 22px; }
.banner.ok { background: #e7f5ea; border-color: #1e7b34; color: #14532d; font-weight: 600; }
.banner.bad { background: #fde7e7; border-color: #b91c1c; color: #7f1d1d; }
.banner.bad > p { font-weight: 700; }
.banner.empty { background: #f1f3f5; border-color: #8a94a0; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; padding: 0 6px; border-radius: 8px;
  vertical-align: middle; }
.badge.warn { background: #ffd9a8; color: #7c2d12; }
.badge.bad { background: #b91c1c; color: #fff; }
.run-infos { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0; }
.run-info { border: 1px solid var(--line); border-radius: 4px; padding: 6px 12px 10px; flex: 1 1 560px;
  background: #fafbfc; }
.run-info h2 { margin: 4px 0 6px; font-size: 1rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 1px 12px; margin: 0 0 8px; }
dl.facts dt { color: #5b6470; }
dl.facts dd { margin: 0; }
table.impls { border-collapse: collapse; font-size: 12px; width: 100%; }
table.impls th, table.impls td { text-align: left; border-top: 1px solid var(--line); padding: 2px 8px 2px 0;
  vertical-align: top; }
table.impls td:last-child { color: #5b6470; overflow-wrap: anywhere; }
.ver { font-weight: 400; font-size: 11px; color: #5b6470; }
table.seed { border-collapse: collapse; margin: 4px 0; }
table.seed th, table.seed td { border: 1px solid var(--line); padding: 5px 12px; text-align: center; }
table.seed thead th { background: #eef1f5; }
table.seed tbody th { text-align: left; font-weight: 600; }
table.seed td { font-weight: 600; min-width: 110px; }
.s-full { background: var(--pass); color: var(--pass-fg); }
.s-partial { background: #fff1c2; color: #713f12; }
.s-no { background: var(--fail); color: var(--fail-fg); }
.s-none { color: #8a94a0; }
table.seed sup a { text-decoration: none; margin-left: 2px; }
ol.notes { font-size: 12px; color: #3b434d; margin: 6px 0; padding-left: 24px; max-width: 80em; }
.filters { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; margin: 18px 0 6px; }
.filters fieldset { border: 1px solid var(--line); border-radius: 4px; padding: 2px 10px 6px; margin: 0; }
.filters legend { font-size: 11px; color: #5b6470; padding: 0 4px; }
.filters label { margin-right: 8px; white-space: nowrap; padding: 1px 4px; border-radius: 3px; }
.filters .count, .group .count { color: #5b6470; font-size: 11px; font-weight: 400; }
#f-status { color: #3b434d; font-size: 12px; }
.legend { font-size: 12px; margin: 4px 0 10px; }
.legend h2 { display: none; }
.legend ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 4px 0; padding: 0; }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; min-width: 74px; padding: 2px 6px; text-align: center; font-weight: 600;
  border-radius: 2px; }
.swatch small { display: block; font-weight: 400; font-size: 10px; }
table.compat { border-collapse: separate; border-spacing: 0; width: 100%; table-layout: fixed;
  margin-bottom: 40px; }
table.compat thead { position: sticky; top: 0; z-index: 3; }
table.compat thead th { background: #eef1f5; border-bottom: 1px solid #b8c0ca; padding: 4px 4px;
  font-size: 13px; text-align: center; overflow-wrap: anywhere; }
table.compat thead th.offerer-group { border-left: 2px solid #fff; border-bottom: 1px solid var(--line);
  background: #e2e7ee; }
table.compat thead th.corner { width: 260px; text-align: left; vertical-align: bottom; font-weight: 600; padding-left: 8px;
  font-size: 12px; }
.role { display: block; font-size: 10px; font-weight: 400; color: #5b6470; text-transform: uppercase;
  letter-spacing: .04em; }
tr.group th, tr.group td { background: #f4f6f9; border-top: 2px solid #9aa4b1; }
tr.group th { text-align: left; padding: 8px 8px 5px; font-size: 13px; white-space: nowrap; overflow: visible;
  position: sticky; left: 0; z-index: 1; }
.feature-name { font-family: "DejaVu Sans Mono", monospace; font-weight: 700; }
tr.scenario th { text-align: left; font-weight: 500; padding: 4px 8px; border-bottom: 1px solid var(--line);
  background: #fff; position: sticky; left: 0; z-index: 1; overflow-wrap: anywhere; }
.scenario-name { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
.params { display: block; }
.param { display: inline-block; font: 11px "DejaVu Sans Mono", monospace; background: #e8ecff; color: #3730a3;
  border-radius: 3px; padding: 0 4px; margin: 2px 3px 0 0; }
td.cell { padding: 0; text-align: center; border-bottom: 1px solid #fff; border-left: 1px solid #fff;
  height: 38px; font-size: 13px; cursor: pointer; }
td.cell a.open { display: block; padding: 4px 2px; color: inherit; text-decoration: none; font-weight: 600; }
td.cell small, .cell small { display: block; font-weight: 400; font-size: 10.5px; line-height: 1.1; }
td.cell:hover { filter: brightness(.94); }
td.cell.selected { outline: 3px solid #1d4ed8; outline-offset: -3px; }
td.cell.none { color: #9aa4b1; background: #fafbfc; cursor: default; }
.mark { font-weight: 400; }
.o-pass { background: var(--pass); color: var(--pass-fg); }
.o-fail { background: var(--fail); color: var(--fail-fg); }
.o-unsupported { background: var(--unsupported); color: var(--unsupported-fg); }
.o-timeout { background: var(--timeout); color: var(--timeout-fg); }
.o-crash { background: var(--crash); color: var(--crash-fg); }
.o-error { background: var(--error); color: var(--error-fg); }
.v-expected { background-image: repeating-linear-gradient(135deg, rgba(255,255,255,.6) 0 4px,
  transparent 4px 9px); }
.v-expected a.open, .swatch.v-expected { font-weight: 500; opacity: .85; }
.v-unexpected { box-shadow: inset 0 0 0 3px #991b1b; }
.v-unexpected.o-pass { box-shadow: inset 0 0 0 3px #b45309; }
.v-unexpected .word { text-transform: uppercase; }
td.col-hidden, th.col-hidden { display: none; }
td.filtered { visibility: hidden; }
#panel { display: none; position: fixed; top: 0; right: 0; bottom: 0; width: min(600px, 48vw); z-index: 10;
  background: #fff; border-left: 1px solid #b8c0ca; box-shadow: -8px 0 24px rgba(0,0,0,.16);
  overflow: auto; padding: 8px 18px 28px; }
#panel.open, html:not(.js) #panel:has(.detail:target) { display: block; }
#panel .close { position: sticky; top: 0; float: right; font-size: 22px; line-height: 1; border: 1px solid var(--line);
  background: #fff; border-radius: 4px; cursor: pointer; padding: 2px 9px; z-index: 1; }
.detail { display: none; }
.detail.shown, html:not(.js) .detail:target { display: block; }
.detail h2 { font-family: "DejaVu Sans Mono", monospace; font-size: 15px; margin: 8px 40px 2px 0;
  overflow-wrap: anywhere; }
.detail h3 { font-size: 13px; margin: 14px 0 4px; color: #3b434d; text-transform: uppercase;
  letter-spacing: .04em; }
.detail .pairing { margin: 0 0 6px; font-weight: 600; }
.verdict-line { padding: 6px 10px; border-radius: 3px; margin: 6px 0; }
.verdict-line .words { font-weight: 400; }
pre.reason { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f7f9; border: 1px solid var(--line);
  padding: 8px; margin: 0; border-radius: 3px; }
.expectation p { margin: 2px 0; }
.hint { color: #92400e; font-weight: 600; }
table.kv { border-collapse: collapse; width: 100%; font-size: 12px; }
table.kv th { text-align: left; vertical-align: top; white-space: nowrap; padding: 2px 10px 2px 0;
  font-weight: 500; width: 1%; }
table.kv td { padding: 2px 0; overflow-wrap: anywhere; }
table.kv tr { border-top: 1px solid #eceef1; }
table.observed td code { font-size: 11px; }
ul.artefacts { margin: 0; padding-left: 18px; }
"#;

const JS: &str = r#"
(function () {
  'use strict';
  var root = document.documentElement;
  root.classList.add('js');
  var panel = document.getElementById('panel');
  var selected = null;
  function openRun(id) {
    var d = document.getElementById(id);
    if (!d || !d.classList.contains('detail')) { return; }
    panel.querySelectorAll('.detail.shown').forEach(function (x) { x.classList.remove('shown'); });
    d.classList.add('shown');
    panel.classList.add('open');
    panel.scrollTop = 0;
    if (selected) { selected.classList.remove('selected'); }
    selected = document.querySelector('td.cell[data-run="' + d.getAttribute('data-run') + '"]');
    if (selected) { selected.classList.add('selected'); }
    if (history.replaceState) { history.replaceState(null, '', '#' + id); }
  }
  function closePanel() {
    panel.classList.remove('open');
    if (selected) { selected.classList.remove('selected'); selected = null; }
    if (history.replaceState) { history.replaceState(null, '', location.pathname + location.search); }
  }
  document.addEventListener('click', function (e) {
    var t = e.target;
    if (!(t instanceof Element)) { return; }
    if (t.closest('#panel .close')) { e.preventDefault(); closePanel(); return; }
    var link = t.closest('a.open');
    var cell = t.closest('td.cell[data-run]');
    if (link) { e.preventDefault(); openRun(link.getAttribute('href').slice(1)); }
    else if (cell) { e.preventDefault(); openRun('run-' + cell.getAttribute('data-run')); }
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') { closePanel(); } });
  if (location.hash.length > 1) { openRun(decodeURIComponent(location.hash.slice(1))); }

  var form = document.getElementById('filters');
  var impl = document.getElementById('f-impl');
  var only = document.getElementById('f-unexpected');
  var status = document.getElementById('f-status');
  var noMatch = document.getElementById('no-match');
  var cols = Array.prototype.slice.call(document.querySelectorAll('table.compat thead th.col'));
  function apply() {
    var want = impl.value;
    var outcomes = {};
    form.querySelectorAll('input[name=outcome]').forEach(function (i) { outcomes[i.value] = i.checked; });
    var shownCols = cols.map(function (th) {
      return !want || th.getAttribute('data-offerer') === want || th.getAttribute('data-answerer') === want;
    });
    cols.forEach(function (th, i) { th.classList.toggle('col-hidden', !shownCols[i]); });
    document.querySelectorAll('table.compat thead th.offerer-group').forEach(function (th) {
      var n = 0;
      cols.forEach(function (c, i) { if (shownCols[i] && c.getAttribute('data-group') === th.getAttribute('data-group')) { n++; } });
      th.colSpan = Math.max(n, 1);
      th.classList.toggle('col-hidden', n === 0);
    });
    var shown = 0, total = 0;
    document.querySelectorAll('table.compat tbody.feature').forEach(function (tb) {
      var any = false;
      tb.querySelectorAll('tr.scenario').forEach(function (tr) {
        var rowShown = false;
        tr.querySelectorAll('td.cell').forEach(function (td) {
          var colShown = shownCols[+td.getAttribute('data-col')];
          td.classList.toggle('col-hidden', !colShown);
          if (!td.hasAttribute('data-scenario')) { return; }
          total++;
          var ok = colShown && outcomes[td.getAttribute('data-outcome')] !== false &&
            (!only.checked || td.getAttribute('data-unexpected') === 'true');
          td.classList.toggle('filtered', !ok);
          if (ok) { rowShown = true; shown++; }
        });
        tr.hidden = !rowShown;
        any = any || rowShown;
      });
      tb.hidden = !any;
      tb.querySelectorAll('tr.group td[data-col]').forEach(function (td) {
        td.classList.toggle('col-hidden', !shownCols[+td.getAttribute('data-col')]);
      });
    });
    if (status) { status.textContent = 'showing ' + shown + ' of ' + total + ' runs'; }
    if (noMatch) { noMatch.hidden = shown > 0 || total === 0; }
  }
  if (form) {
    form.addEventListener('change', apply);
    form.addEventListener('submit', function (e) { e.preventDefault(); });
    form.addEventListener('reset', function () { setTimeout(apply, 0); });
    apply();
  }
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use interop_results::{ExpectationRef, HarnessInfo, SCHEMA_VERSION};

    fn imp(name: &str, version: &str) -> Implementation {
        Implementation {
            name: name.into(),
            version: version.into(),
            detail: Some(format!("{name} driver 1")),
        }
    }

    fn version_of(name: &str) -> &'static str {
        match name {
            "rust" => "0.21.1",
            "chrome" => "156.0.8078.114",
            _ => "153.8.0",
        }
    }

    fn rec(scenario: &str, feature: &str, o: &str, a: &str, outcome: Outcome) -> RunRecord {
        let (o, a) = (imp(o, version_of(o)), imp(a, version_of(a)));
        let mut r = crate::test_records::record(scenario, feature, o, a, outcome);
        r.timings.wall_ms = 512.25;
        r.started_at = "2026-12-01T18:00:00Z".into();
        r
    }

    fn expecting(mut r: RunRecord, expected: Outcome) -> RunRecord {
        r.expected = expected;
        r.expectation = Some(ExpectationRef {
            reason: "webrtc 0.21.1 never fires `closing`".into(),
            bug: Some("https://github.com/webrtc-rs/webrtc/issues/1".into()),
            source: "scenarios/expectations/rust.yaml:3".into(),
        });
        r
    }

    const IMPLS: [&str; 3] = ["rust", "chrome", "firefox"];

    /// Two feature groups, `data-channels` first:
    /// - datachannel-echo: all pass but firefox -> rust, an unexpected timeout;
    /// - datachannel-closing: rust as answerer an expected `unsupported`, except rust -> rust
    ///   which passes unexpectedly;
    /// - connect (basic-peer-connection): all pass;
    /// - turn-relay[transport=udp] (data-channels again, after connect): all pass.
    ///
    /// Offerers come in a scrambled order: the columns must not follow it.
    fn sample() -> Vec<RunRecord> {
        let mut v = Vec::new();
        for o in ["firefox", "rust", "chrome"] {
            for a in IMPLS {
                let outcome = if (o, a) == ("firefox", "rust") {
                    Outcome::Timeout
                } else {
                    Outcome::Pass
                };
                v.push(rec("datachannel-echo", "data-channels", o, a, outcome));
            }
        }
        for o in IMPLS {
            for a in IMPLS {
                let s = "datachannel-closing";
                v.push(match (o, a) {
                    ("rust", "rust") => expecting(
                        rec(s, "data-channels", o, a, Outcome::Pass),
                        Outcome::Unsupported,
                    ),
                    (_, "rust") => expecting(
                        rec(s, "data-channels", o, a, Outcome::Unsupported),
                        Outcome::Unsupported,
                    ),
                    _ => rec(s, "data-channels", o, a, Outcome::Pass),
                });
            }
        }
        for o in IMPLS {
            for a in IMPLS {
                v.push(rec("connect", "basic-peer-connection", o, a, Outcome::Pass));
            }
        }
        for o in IMPLS {
            for a in IMPLS {
                let mut r = rec(
                    "turn-relay[transport=udp]",
                    "data-channels",
                    o,
                    a,
                    Outcome::Pass,
                );
                r.parameters.insert("transport".into(), "udp".into());
                v.push(r);
            }
        }
        v
    }

    fn info() -> RunInfo {
        RunInfo {
            schema_version: SCHEMA_VERSION,
            harness: HarnessInfo {
                version: "0.1.0".into(),
                git_revision: "25e2bbc-dirty".into(),
            },
            os: "Debian GNU/Linux 12 (bookworm) x86_64".into(),
            started_at: "2026-12-01T17:50:51Z".into(),
            ended_at: Some("2026-12-01T18:08:40Z".into()),
            implementations: IMPLS.iter().map(|n| imp(n, version_of(n))).collect(),
            shard: None,
            interrupted: false,
        }
    }

    /// The attributes of every `<td ...>` of the compatibility table that stands for a record.
    fn cells(html: &str) -> Vec<BTreeMap<String, String>> {
        let table = &html[html.find("<table class=\"compat\"").unwrap()..];
        let table = &table[..table.find("</table>").unwrap()];
        table
            .split("<td ")
            .skip(1)
            .map(|rest| attributes(&rest[..rest.find('>').unwrap()]))
            .filter(|a| a.contains_key("data-scenario"))
            .collect()
    }

    /// `name="value"` pairs of an opening tag (values hold no raw `"`: they are escaped).
    fn attributes(tag: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut rest = tag;
        while let Some(eq) = rest.find("=\"") {
            let name = rest[..eq].trim().to_string();
            let value_end = rest[eq + 2..].find('"').unwrap();
            out.insert(name, rest[eq + 2..eq + 2 + value_end].to_string());
            rest = &rest[eq + 2 + value_end + 1..];
        }
        out
    }

    fn find_cell<'a>(
        cells: &'a [BTreeMap<String, String>],
        scenario: &str,
        o: &str,
        a: &str,
    ) -> &'a BTreeMap<String, String> {
        cells
            .iter()
            .find(|c| {
                c["data-scenario"] == esc(scenario)
                    && c["data-offerer"] == o
                    && c["data-answerer"] == a
            })
            .unwrap_or_else(|| panic!("no cell {scenario} {o} -> {a}"))
    }

    #[test]
    fn repeats_show_an_unexpected_repeat_and_a_flaky_section() {
        let mut records = Vec::new();
        for (k, outcome) in [
            (1, Outcome::Pass),
            (2, Outcome::Timeout),
            (3, Outcome::Pass),
        ] {
            let mut steady = rec(
                "datachannel-echo",
                "data-channels",
                "rust",
                "chrome",
                Outcome::Pass,
            );
            steady.repeat = Some(k);
            let mut r = rec(
                "datachannel-echo",
                "data-channels",
                "chrome",
                "rust",
                outcome,
            );
            r.repeat = Some(k);
            records.extend([steady, r]);
        }
        let html = render(&[info()], &records, "");
        let cells = cells(&html);
        assert_eq!(cells.len(), 2, "one cell per scenario x pairing");
        let c = find_cell(&cells, "datachannel-echo", "chrome", "rust");
        assert_eq!(
            c["data-outcome"], "timeout",
            "the unexpected repeat is shown"
        );
        assert!(html.contains("<section id=\"flaky\">"));
        assert!(html.contains(
            "<tr><td>datachannel-echo</td><td>chrome → rust</td><td>3</td><td>pass 2, timeout 1</td><td>33 %</td><td>no</td></tr>"
        ));
        assert!(!render(&[info()], &sample(), "").contains("id=\"flaky\""));
    }

    #[test]
    fn one_cell_per_record_with_its_data_attributes() {
        let records = sample();
        let html = render(&[info()], &records, "");
        let cells = cells(&html);
        assert_eq!(cells.len(), records.len());
        let c = find_cell(&cells, "datachannel-echo", "firefox", "rust");
        assert_eq!(c["data-outcome"], "timeout");
        assert_eq!(c["data-expected"], "pass");
        assert_eq!(c["data-unexpected"], "true");
        assert_eq!(c["data-feature"], "data-channels");
        assert_eq!(c["data-answerer-version"], "0.21.1");
        let c = find_cell(&cells, "datachannel-closing", "chrome", "rust");
        assert_eq!(c["data-outcome"], "unsupported");
        assert_eq!(c["data-expected"], "unsupported");
        assert_eq!(c["data-unexpected"], "false");
        // Columns in the canonical order, whatever the order of the records.
        let order: Vec<(&str, &str)> = cells[..9]
            .iter()
            .map(|c| (c["data-offerer"].as_str(), c["data-answerer"].as_str()))
            .collect();
        let expected: Vec<(&str, &str)> = IMPLS
            .iter()
            .flat_map(|o| IMPLS.iter().map(move |a| (*o, *a)))
            .collect();
        assert_eq!(order, expected);
        // Every cell opens its own details.
        for c in &cells {
            let id = format!("id=\"run-{}\"", c["data-run"]);
            assert_eq!(html.matches(&id).count(), 1, "{id}");
        }
    }

    #[test]
    fn rows_are_grouped_by_feature_in_first_seen_order() {
        let html = render(&[], &sample(), "");
        let groups: Vec<&str> = html
            .split("<tbody class=\"feature\" data-feature=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        assert_eq!(groups, ["data-channels", "basic-peer-connection"]);
        let at = |needle: &str| {
            html.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing"))
        };
        let dc = at("data-feature=\"data-channels\"");
        let basic = at("data-feature=\"basic-peer-connection\"");
        // turn-relay came after connect but belongs to the first group.
        assert!(dc < at("data-row=\"datachannel-echo\""));
        assert!(
            at("data-row=\"datachannel-closing\"") < at("data-row=\"turn-relay[transport=udp]\"")
        );
        assert!(at("data-row=\"turn-relay[transport=udp]\"") < basic);
        assert!(basic < at("data-row=\"connect\""));
        assert!(html.contains("<span class=\"feature-name\">data-channels</span> <span class=\"count\">3 scenarios</span>"));
        // A variant shows its base name, its parameters as tags.
        assert!(html.contains(
            "<span class=\"scenario-name\">turn-relay</span><span class=\"params\">\
             <span class=\"param\">transport=udp</span></span>"
        ));
    }

    #[test]
    fn unexpected_results_stand_out_and_expected_ones_are_muted() {
        let records = sample();
        let html = render(&[], &records, "");
        let cells = cells(&html);
        let class = |s: &str, o: &str, a: &str| find_cell(&cells, s, o, a)["class"].clone();
        assert_eq!(
            class("datachannel-echo", "firefox", "rust"),
            "cell o-timeout v-unexpected"
        );
        assert_eq!(
            class("datachannel-closing", "rust", "rust"),
            "cell o-pass v-unexpected"
        );
        assert_eq!(
            class("datachannel-closing", "firefox", "rust"),
            "cell o-unsupported v-expected"
        );
        assert_eq!(class("connect", "rust", "chrome"), "cell o-pass v-pass");
        let unexpected_pass = records
            .iter()
            .position(|r| r.scenario == "datachannel-closing" && r.pairing() == "rust -> rust")
            .unwrap();
        assert!(html.contains(&format!(
            "<a class=\"open\" href=\"#run-{unexpected_pass}\"><span class=\"word\">pass</span>\
             <small><span class=\"mark\">⚠</span> unexpected</small></a>"
        )));
        assert!(html.contains(
            "<span class=\"word\">unsupported</span><small><span class=\"mark\">☑</span> \
             expected</small>"
        ));
        assert!(html.contains(
            "<span class=\"word\">timeout</span><small><span class=\"mark\">✖</span> \
             unexpected</small>"
        ));
        assert!(html.contains("<span class=\"mark\">✓</span> pass</a></td>"));
        // The banner counts them and links each to its details.
        assert!(html.contains("✖ 2 unexpected results"));
        assert!(html.contains(&format!(
            "<li><a class=\"open\" href=\"#run-{unexpected_pass}\">datachannel-closing (rust -&gt; rust)</a>: pass, expected unsupported</li>"
        )));
        assert!(html.contains("It passes now: remove or update the entry at <code>scenarios/expectations/rust.yaml:3</code>"));
        let all_pass: Vec<RunRecord> = records.into_iter().filter(|r| !r.is_unexpected()).collect();
        let html = render(&[], &all_pass, "");
        assert!(html.contains("No unexpected results"));
        assert!(!html.contains("v-unexpected\" data-col"));
    }

    #[test]
    fn text_from_records_is_escaped() {
        let mut records = sample();
        let evil = "</pre><script>alert(\"x\")</script> & 'q' <b>";
        records[0].reason = Some(evil.into());
        records[0].observed.insert(
            "offerer.sdp".into(),
            serde_json::json!("a=max-message-size:65536\r\n</script><img src=x>"),
        );
        records[0].parameters.insert("k\"<".into(), "v&>".into());
        records[0].offerer.detail = Some("Mozilla/5.0 <\"ua\">".into());
        records[1].expectation = Some(ExpectationRef {
            reason: "<i>because</i>".into(),
            bug: Some("javascript:alert(1)".into()),
            source: "x.yaml:1".into(),
        });
        let html = render(&[], &records, "");
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the page's own script"
        );
        assert!(!html.contains("<b>") && !html.contains("<img") && !html.contains("<i>because"));
        assert!(html.contains(
            "<pre class=\"reason\">&lt;/pre&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; \
             &amp; &#39;q&#39; &lt;b&gt;</pre>"
        ));
        // In the tooltip too, and the observed value as its JSON text.
        assert!(html.contains("title=\"datachannel-echo\nfirefox -&gt; rust: timeout, expected pass (UNEXPECTED)\n&lt;/pre&gt;"));
        assert!(html.contains("<code>&quot;a=max-message-size:65536\\r\\n&lt;/script&gt;&lt;img src=x&gt;&quot;</code>"));
        assert!(html.contains("<span class=\"param\">k&quot;&lt;=v&amp;&gt;</span>"));
        assert!(html.contains("Mozilla/5.0 &lt;&quot;ua&quot;&gt;"));
        // Only http(s) bug links become links.
        assert!(html.contains(" · bug: javascript:alert(1)</p>"));
        assert!(!html.contains("href=\"javascript:"));
        assert!(html.contains(
            "<a href=\"https://github.com/webrtc-rs/webrtc/issues/1\" rel=\"noreferrer\">"
        ));
    }

    #[test]
    fn artefact_links_start_with_the_base() {
        let mut records = sample();
        records[0].artefacts = "runs/odd name#1?/firefox-rust".into();
        let html = render(&[], &records, "../2026-12-01/");
        for file in [
            "",
            "transcript.jsonl",
            "capture.pcap",
            "timeline.json",
            "negotiation.json",
        ] {
            let href = format!("href=\"../2026-12-01/runs/connect/rust-chrome/{file}\"");
            assert!(html.contains(&href), "{href}");
        }
        assert!(html.contains(
            "href=\"../2026-12-01/runs/turn-relay[transport=udp]/chrome-firefox/capture.pcap\""
        ));
        assert!(html
            .contains("href=\"../2026-12-01/runs/odd%20name%231%3F/firefox-rust/timeline.json\""));
        let html = render(&[], &records, "");
        assert!(html.contains("href=\"runs/connect/firefox-rust/transcript.jsonl\""));
    }

    #[test]
    fn details_hold_step_expectation_timings_and_observed_facts() {
        let mut records = sample();
        let i = records
            .iter()
            .position(|r| r.scenario == "datachannel-closing" && r.pairing() == "chrome -> rust")
            .unwrap();
        let r = &mut records[i];
        r.timings.to_connected_ms.insert("offerer".into(), 219.66);
        r.timings.phases_ms.insert("dtls_handshake".into(), 4.2);
        r.observed
            .insert("answerer.max_message_size".into(), 65536.into());
        r.known_intermittent = vec![Outcome::Timeout];
        let html = render(&[], &records, "");
        let start = html
            .find(&format!("<section class=\"detail\" id=\"run-{i}\""))
            .unwrap();
        let detail = &html[start..start + html[start..].find("</section>").unwrap()];
        for needle in [
            "<h2>datachannel-closing</h2>",
            "chrome -&gt; rust",
            "<strong>unsupported</strong>, expected unsupported",
            "Known intermittent: timeout",
            "<pre class=\"reason\">channel never opened</pre>",
            "step 5 · line 12 · <code>bob</code>: expect channel &#39;echo&#39; open",
            "<p>webrtc 0.21.1 never fires `closing`</p>",
            "source: <code>scenarios/expectations/rust.yaml:3</code>",
            "<tr><th><code>to_connected_ms</code></th><td>offerer <strong>219.7</strong></td></tr>",
            "<tr><th><code>phases_ms</code></th><td>dtls_handshake <strong>4.2</strong></td></tr>",
            "<tr><th><code>wall_ms</code></th><td><strong>512.2</strong></td></tr>",
            "<tr><th><code>answerer.max_message_size</code></th><td><code>65536</code></td></tr>",
            "chrome <code>156.0.8078.114</code><br><span class=\"muted\">chrome driver 1</span>",
        ] {
            assert!(detail.contains(needle), "{needle} not in {detail}");
        }
        assert!(
            !detail.contains("round_trip_ms"),
            "empty timing maps are left out"
        );
    }

    #[test]
    fn run_info_is_shown() {
        let mut second = info();
        second.shard = Some("2/3".into());
        second.interrupted = true;
        second.ended_at = None;
        second.implementations[1] = imp("chrome", "157.0.1");
        let html = render(&[info(), second], &sample(), "");
        let section = &html[html.find("<section id=\"run-info\"").unwrap()..];
        let section = &section[..section.find("</section>").unwrap()];
        for needle in [
            "<h2>Run 1 of 2</h2>",
            "<h2>Run 2 of 2 <span class=\"badge warn\">interrupted</span></h2>",
            "<dt>harness</dt><dd>0.1.0 <code>25e2bbc-dirty</code></dd>",
            "<dt>OS</dt><dd>Debian GNU/Linux 12 (bookworm) x86_64</dd>",
            "<dt>started</dt><dd>2026-12-01T17:50:51Z</dd>",
            "<dt>ended</dt><dd>2026-12-01T18:08:40Z</dd>",
            "not recorded (still running, or killed)",
            "<dt>shard</dt><dd>2/3</dd>",
            "<dt>interrupted</dt><dd>no</dd>",
            "<dt>interrupted</dt><dd><strong>yes</strong>",
            "<tr><td>chrome</td><td><code>156.0.8078.114</code></td><td>chrome driver 1</td></tr>",
            "<tr><td>chrome</td><td><code>157.0.1</code></td>",
        ] {
            assert!(section.contains(needle), "{needle} not in {section}");
        }
        assert!(html.contains(&format!(
            "<p class=\"totals\" id=\"totals\">{}</p>",
            totals_line(&sample())
        )));
        // Without run_info.json: the implementations the records name.
        let html = render(&[], &sample(), "");
        assert!(html.contains("No <code>run_info.json</code>"));
        assert!(html.contains(
            "<tr><td>firefox</td><td><code>153.8.0</code></td><td>firefox driver 1</td></tr>"
        ));
    }

    #[test]
    fn several_versions_of_an_implementation_get_columns_of_their_own() {
        let mut records = sample();
        let extra: Vec<RunRecord> = records
            .iter()
            .filter(|r| {
                r.scenario == "connect" && r.offerer.name == "rust" && r.answerer.name != "firefox"
            })
            .map(|r| {
                let mut r = r.clone();
                for side in [&mut r.offerer, &mut r.answerer] {
                    if side.name == "chrome" {
                        side.version = "99.0.1".into();
                    }
                }
                r
            })
            .collect();
        records.extend(extra);
        let html = render(&[], &records, "");
        let cells = cells(&html);
        assert_eq!(
            cells.len(),
            records.len() - 1,
            "rust -> rust ran twice: the last is shown"
        );
        let heads: Vec<String> = html
            .split("<th class=\"col\"")
            .skip(1)
            .map(|s| {
                let title = &s[s.find("title=\"").unwrap() + 7..];
                title[..title.find('"').unwrap()].to_string()
            })
            .collect();
        // 99.0.1 sorts before 156.0.8078.114 (numerically), within chrome.
        assert_eq!(
            heads[..4],
            [
                "rust -&gt; rust",
                "rust -&gt; chrome 99.0.1",
                "rust -&gt; chrome 156.0.8078.114",
                "rust -&gt; firefox",
            ]
        );
        assert!(html
            .contains("Earlier runs of this cell in these results: pass (2026-12-01T18:00:00Z)"));
    }

    #[test]
    fn the_page_needs_nothing_from_elsewhere() {
        let (infos, records) = fixture();
        let html = render(&infos, &records, "");
        for needle in ["<link", " src=", "@import", "url(", "<iframe", "<img"] {
            assert!(!html.contains(needle), "{needle}");
        }
        // The inline style and script cannot end their element early.
        assert!(!CSS.contains("</") && !JS.contains("</"));
        assert_eq!(html.matches("<script>").count(), 1);
        assert_eq!(html.matches("</script>").count(), 1);
        // The script never turns data into markup.
        assert!(!JS.contains("innerHTML") && !JS.contains("insertAdjacentHTML"));
    }

    #[test]
    fn empty_results_render_a_page() {
        let html = render(&[], &[], "");
        assert!(html.contains("No runs in these results."));
        assert!(html.contains("<section id=\"seed\">"));
        assert!(html.ends_with("</html>\n"));
    }

    #[test]
    fn seed_section_answers_mdns_rows_per_version() {
        let html = render(&[], &sample(), "");
        let seed = &html[html.find("<section id=\"seed\">").unwrap()..];
        let seed = &seed[..seed.find("</section>").unwrap()];
        assert!(seed.contains("The seed's table: MDN's WebRTC compatibility, from runs"));
        for (label, _) in bcd::SEED_ROWS {
            assert!(
                seed.contains(&format!("<th scope=\"row\">{label} ")),
                "{label}"
            );
        }
        // connect passed on all 5 pairings with rust; nothing of audio-video ran.
        assert!(seed.contains(
            "data-seed-feature=\"basic-peer-connection\" data-implementation=\"rust\" \
             data-version=\"0.21.1\" data-status=\"full\" title=\"\">yes 5/5</td>"
        ));
        assert!(seed.contains(
            "data-seed-feature=\"audio-video\" data-implementation=\"firefox\" \
             data-version=\"153.8.0\" data-status=\"none\""
        ));
        // The unexpected timeout firefox -> rust counts against both: a footnote says why.
        assert!(seed.contains("data-status=\"partial\""));
        assert!(seed.contains("<sup><a href=\"#seed-note-1\">[1]</a></sup></td>"));
        assert!(seed.contains(
            "<li id=\"seed-note-1\">DataChannels, rust 0.21.1<ul><li>datachannel-echo firefox -&gt; rust"
        ));
    }

    fn fixture() -> (Vec<RunInfo>, Vec<RunRecord>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results");
        let text = std::fs::read_to_string(dir.join(interop_results::RESULTS_FILE)).unwrap();
        let (records, errors) = interop_results::parse_jsonl(&text);
        assert!(errors.is_empty(), "{errors:?}");
        let info = std::fs::read_to_string(dir.join(interop_results::RUN_INFO_FILE)).unwrap();
        (vec![serde_json::from_str(&info).unwrap()], records)
    }

    #[test]
    fn the_fixture_renders_every_run() {
        let (infos, records) = fixture();
        assert_eq!(records.len(), 90);
        let html = render(&infos, &records, "");
        let cells = cells(&html);
        assert_eq!(cells.len(), 90);
        assert_eq!(html.matches("<section class=\"detail\"").count(), 90);
        for feature in [
            "basic-peer-connection",
            "dtls",
            "ice",
            "turn",
            "data-channels",
            "audio-video",
            "video-codecs",
        ] {
            assert!(
                html.contains(&format!(
                    "<tbody class=\"feature\" data-feature=\"{feature}\">"
                )),
                "{feature}"
            );
        }
        let c = find_cell(&cells, "datachannel-large-messages", "chrome", "rust");
        assert_eq!(c["data-outcome"], "unsupported");
        assert_eq!(c["data-expected"], "unsupported");
        assert!(html.contains("a=max-message-size:65536"));
        assert!(html.contains("No unexpected results"));
        assert!(html.contains("<dd>0.1.0 <code>25e2bbc</code></dd>"));
        assert!(html.contains("<section id=\"seed\">"));
    }
}
