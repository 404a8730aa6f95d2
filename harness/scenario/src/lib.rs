//! Scenarios: YAML files -> validated [`plan::Scenario`]s.
//!
//! A scenario describes what two WebRTC peers do and what they must observe. It names its
//! peers by role only (offerer, answerer); the harness runs it for every pairing of
//! implementations. Nothing runs unless every file validates: [`load_files`] reports all
//! problems of all files at once, each with its file, line and column.
//!
//! # Writing a scenario
//!
//! ```yaml
//! name: datachannel-echo          # optional, default: the file stem; only a-z, 0-9 and -
//! feature: data-channels          # required: the feature group (a row group in reports)
//! description: >                  # required: one or more sentences
//!   The offerer opens a data channel and the answerer echoes every message back.
//! peers:                          # required: exactly two names, one offerer, one answerer
//!   alice: offerer
//!   bob: answerer
//! timeout: 10s                    # optional: default timeout of expectations (default 10s)
//! steps:                          # required, non-empty: each step is a mapping with one key
//!   - create_peer_connection: { peer: both }
//!   - create_data_channel: { peer: alice, label: echo }
//!   - negotiate: { offerer: alice, answerer: bob }
//!   - expect_connection_state: { peer: both, state: connected, timeout: 15s }
//!   - expect_data_channel: { peer: bob, label: echo }
//!   - expect_channel_open: { peer: both, label: echo }
//!   - send: { peer: alice, label: echo, text: "hello" }
//!   - expect_message: { peer: bob, label: echo, text: "hello", timeout: 5s }
//!   - send: { peer: bob, label: echo, binary_bytes: 64KiB }
//!   - expect_message: { peer: alice, label: echo, binary_bytes: 64KiB }
//!   - close_data_channel: { peer: alice, label: echo }
//!   - expect_channel_closed: { peer: bob, label: echo }
//!   - get_stats: { peer: both }
//!   - close: { peer: both }
//! ```
//!
//! Every step kind, key, default and unit, and what `count` / `{i}` do, is in the
//! [`reference`](mod@reference) (`docs/scenario-reference.md`). Every [`plan::Step`] records the line of the
//! step it came from.
//!
//! # How loading works
//!
//! ```text
//!  text ──pass 0──> tree of spanned nodes ──shape checks──┐   (syntax, duplicate keys,
//!                        │                                 │    steps not `- kind: {…}`)
//!                        │ locate serde errors             v
//!  text ──pass 1──> raw::RawScenario (serde, deny_unknown_fields, Spanned values)
//!                                                          │   (unknown keys, wrong types,
//!                                                          v    unknown step kinds)
//!                   pass 2: validate + resolve ──> plan::Scenario
//!                                                  (all remaining problems, collected)
//! ```
//!
//! Pass 1 stops at its first error (serde cannot resume), so a file with a wrong type
//! reports that one problem; pass 2 reports everything it finds. Problems of different
//! files are all reported.
//!
//! Pass 2's modules form a tree: `validate` (the scenario's top-level keys, the data channel
//! and signaling steps, and the one exhaustive match over `RawStep`) calls the topic modules
//! `connectivity` and `media`; all three add their checks to `check::Checker`, which holds the
//! state of one scenario's check and the value checks they share (peers, durations, sizes,
//! allowed values). No topic module imports another, nor `validate`.

mod check;
mod connectivity;
pub mod expectations;
mod media;
pub mod plan;

// The scenario reference for authors, from `docs/scenario-reference.md`.
#[doc = include_str!("../../../docs/scenario-reference.md")]
pub mod reference {}

mod error;
mod params;
mod raw;
mod suggest;
#[cfg(test)]
mod tests;
mod tree;
mod typed;
mod units;
mod validate;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use error::{render_all, ScenarioError};
pub use params::{variant_name, MAX_VARIANTS};
pub use validate::{
    CONNECTION_STATES, DEFAULT_CHUNK, DEFAULT_HIGH_WATER, DEFAULT_LOW_WATER, DEFAULT_TIMEOUT,
    ICE_CONNECTION_STATES, MAX_BULK_BYTES, MAX_CHUNK, MAX_COUNT, SEND_ERRORS,
};

/// The top-level keys of a scenario, for messages.
const TOP_LEVEL_KEYS: &[&str] = &["feature", "description", "peers", "steps"];

/// Directories [`discover`] skips: they hold expectation files, not scenarios.
pub const EXPECTATIONS_DIR: &str = "expectations";

/// Directories [`discover`] skips below the folder it is given: scenarios being triaged, not
/// yet part of the default suite (their non-pass cells have no expectation entries yet). Run
/// them by naming the folder itself: `interop run scenarios/drafts`.
pub const DRAFTS_DIR: &str = "drafts";

/// Every `*.yaml` / `*.yml` file under `dir`, recursively, sorted; directories named
/// [`EXPECTATIONS_DIR`] or [`DRAFTS_DIR`] below `dir` are skipped.
pub fn discover(dir: &Path) -> io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                if entry.file_name() != EXPECTATIONS_DIR && entry.file_name() != DRAFTS_DIR {
                    walk(&path, out)?;
                }
            } else if is_yaml(&path) && path.is_file() {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Parses and validates one scenario. `path` is used for the default name (the file stem)
/// and in error messages; the file is not read.
pub fn parse_str(path: &Path, text: &str) -> Result<plan::Scenario, Vec<ScenarioError>> {
    parse_variants(path, text).map(|mut v| v.remove(0).scenario)
}

/// Parses and validates one scenario file into its variants: one scenario, or one per
/// combination of its `parameters` (see [`params`](crate::params)).
pub fn parse_all(path: &Path, text: &str) -> Result<Vec<plan::Scenario>, Vec<ScenarioError>> {
    parse_variants(path, text).map(|v| v.into_iter().map(|v| v.scenario).collect())
}

/// Reads and validates all `paths`, in order. Returns every scenario, or every problem of
/// every file, including scenario names used by more than one file.
pub fn load_files(paths: &[PathBuf]) -> Result<Vec<plan::Scenario>, Vec<ScenarioError>> {
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    for path in paths {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                errors.push(ScenarioError::file(
                    path,
                    format!("failed to read the scenario file: {e}"),
                ));
                continue;
            }
        };
        let variants = match parse_variants(path, &text) {
            Ok(variants) => variants,
            Err(mut file_errors) => {
                errors.append(&mut file_errors);
                continue;
            }
        };
        for validated in variants {
            {
                let name = &validated.scenario.name;
                if let Some(first) = names.get(name) {
                    let origin = if validated.name_from_file {
                        " (from the file name)"
                    } else {
                        ""
                    };
                    let message = format!(
                        "duplicate scenario name `{name}`{origin}; `{}` already uses it",
                        first.display()
                    );
                    let src = Source { path, text: &text };
                    errors.push(src.error(validated.name_at, Some("name"), message));
                } else {
                    names.insert(name.clone(), path.clone());
                }
                scenarios.push(validated.scenario);
            }
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors)
    }
}

/// Every variant of one file (one when it declares no parameters), or every problem of every
/// variant, located in the original text.
fn parse_variants(path: &Path, text: &str) -> Result<Vec<validate::Validated>, Vec<ScenarioError>> {
    let found = params::placeholders(text);
    let src = Source { path, text };
    let neutral = params::neutralize(text, &found);
    let params = match tree::parse(&neutral) {
        // Syntax errors are reported by the full parse below, with the real text.
        Err(_) => None,
        Ok(tree) => params::read(&src, &tree, &found)?,
    };
    let Some(params) = params else {
        return parse_located(path, text).map(|v| vec![v]);
    };
    let variants = params.variants();
    let mut out = Vec::new();
    // (line, column, key, message) -> the variants that have it.
    let mut problems: Vec<(ScenarioError, Vec<usize>)> = Vec::new();
    for (index, assignment) in variants.iter().enumerate() {
        let substituted = params::substitute(text, &found, assignment);
        match parse_located(path, &substituted.text) {
            Ok(mut validated) => {
                let scenario = &mut validated.scenario;
                scenario.base_name = scenario.name.clone();
                scenario.name = params::variant_name(&scenario.name, assignment);
                scenario.parameters = assignment.clone();
                out.push(validated);
            }
            Err(errors) => {
                for mut e in errors {
                    if e.line > 0 {
                        e.column = substituted.original_column(e.line, e.column);
                        e.source_line = text.lines().nth(e.line - 1).map(str::to_owned);
                    }
                    match problems.iter_mut().find(|(p, _)| *p == e) {
                        Some((_, seen)) => seen.push(index),
                        None => problems.push((e, vec![index])),
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(out);
    }
    problems.sort_by_key(|(e, _)| (e.line, e.column));
    Err(problems
        .into_iter()
        .map(|(mut e, seen)| {
            if seen.len() < variants.len() {
                let which: Vec<String> = seen
                    .iter()
                    .map(|&i| {
                        let v: Vec<String> = variants[i]
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect();
                        v.join(",")
                    })
                    .collect();
                e.message = format!("{} (with parameters {})", e.message, which.join("; "));
            }
            e
        })
        .collect())
}

fn parse_located(path: &Path, text: &str) -> Result<validate::Validated, Vec<ScenarioError>> {
    let src = Source { path, text };
    let tree = tree::parse(text).map_err(|e| vec![typed::convert(&src, None, &e)])?;
    let shape_errors = tree::check_shape(&src, &tree);
    if !shape_errors.is_empty() {
        return Err(shape_errors);
    }
    let raw = typed::parse(&src, &tree).map_err(|e| vec![e])?;
    validate::validate(&src, raw)
}

/// A 1-based line and column; 0 means unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    line: usize,
    column: usize,
}

/// The file being loaded, to build errors with their source line.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, at: Pos, key: Option<&str>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.path, self.text, at.line, at.column, key, message)
    }
}
