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
//! The parts, in page order, each owning its markup:
//!
//! - `mod.rs` (here): [`render`], the page skeleton, and the style sheet and script inlined
//!   from `page.css` and `page.js`;
//! - `header`: the totals, the verdict banner and each run's facts and implementations;
//! - `seed`: the seed's table (MDN's rows per implementation version, with footnotes);
//! - `controls`: the filters form and the legend;
//! - `layout`: what the table shows (sides and columns, feature groups, which record fills
//!   each cell), shared by the table, the banner and the details;
//! - `table`: the compatibility table and its cells;
//! - `flaky`: the flaky cells section (under `--repeat`);
//! - `detail`: the side panel, one detail block per shown record;
//! - `markup`: escaping, URL paths, and the classes, marks and words of a verdict.
//!
//! Every text from records is HTML-escaped (with `markup::esc`); the script only toggles classes and reads
//! `data-*` attributes, it never builds markup from data. When the records hold several runs
//! of one cell (re-runs), the last one is shown, as in the other matrices, and its details list
//! the earlier outcomes.

use std::fmt::Write as _;

use interop_results::{RunInfo, RunRecord};

mod controls;
mod detail;
mod flaky;
mod header;
mod layout;
mod markup;
mod seed;
mod table;
#[cfg(test)]
mod tests;

use controls::{filters, legend};
use detail::panel;
use flaky::flaky_section;
use header::header;
use layout::Layout;
use seed::seed_section;
use table::table;

/// The page's style sheet, inlined into `<style>`.
const CSS: &str = include_str!("page.css");
/// The page's script, inlined into `<script>`: it only toggles classes and reads `data-*`.
const JS: &str = include_str!("page.js");

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
         <title>WebRTC interop: {} run{}, {} unexpected</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
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
    let _ = write!(out, "<script>\n{JS}</script>\n</body>\n</html>\n");
    out
}
