//! Expectation files: the checked-in expected outcomes of cells that do not pass, in the spirit
//! of web-platform-tests metadata.
//!
//! A cell (scenario x offerer x answerer) is expected to `pass` unless an entry says otherwise.
//! One file per implementation, named after it (`rust.yaml`, `chrome.yaml`, `firefox.yaml`), in
//! one folder (the harness defaults to `scenarios/expectations/`). An entry of `rust.yaml`
//! matches the cells the Rust peer takes part in, in the role `as` says:
//!
//! ```yaml
//! # Expected non-pass outcomes of cells that involve the Rust peer.
//! datachannel-closing:            # a scenario name; for a parameterised scenario its base
//!                                 #   name (every variant) or a full variant name
//!   - as: answerer                # optional: offerer | answerer (this implementation's role);
//!                                 #   default: either role
//!     with: chrome                # optional: the other implementation; default: any
//!     expected: unsupported       # required: fail | unsupported | timeout | crash | error
//!                                 #   (or pass, together with `intermittent`)
//!     intermittent: [pass]        # optional: other outcomes seen on some runs (a race in the
//!                                 #   implementation); any outcome, `pass` included
//!     reason: webrtc 0.21.1 never fires `closing`   # required, non-empty
//!     bug: https://github.com/webrtc-rs/webrtc/issues/1   # optional: an http(s) URL
//! ```
//!
//! A file may be empty (or hold only comments). Each scenario key holds a list of entries; keys
//! other than the six above, repeated keys, keys without a value and `expected: pass` are
//! errors. [`Expectations::validate`] then checks the entries against what will run: scenario
//! names, implementation names (file stems and `with`), and that no cell is matched by more
//! than one entry (across all files). Every error is a [`ScenarioError`] with its location.
//!
//! Loading follows the scenario loader: pass 0 builds the spanned tree and checks the shape,
//! pass 1 deserializes strict raw types (serde-saphyr, `Spanned` values, unknown keys refused),
//! pass 2 checks the values and collects every problem of the file.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use interop_results::{ExpectationRef, Outcome};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use crate::raw::SString;
use crate::suggest::{did_you_mean, expected_one_of, quote_list};
use crate::tree::{self, pos, short, Node, SNode};
use crate::{typed, Pos, ScenarioError, Source};

/// `ice[delivery=sdp]` -> `ice`: the scenario a variant name belongs to.
pub fn base_name(name: &str) -> &str {
    name.split_once('[').map_or(name, |(base, _)| base)
}

/// The keys of one entry, in the order the documentation gives them.
const ENTRY_KEYS: &[&str] = &["as", "with", "expected", "intermittent", "reason", "bug"];
/// The values of `as`.
const ROLES: &[&str] = &["offerer", "answerer"];
/// The outcomes an entry may expect (`pass` is what no entry means).
const EXPECTABLE: &[Outcome] = &[
    Outcome::Fail,
    Outcome::Unsupported,
    Outcome::Timeout,
    Outcome::Crash,
    Outcome::Error,
];

/// Every entry of every expectation file loaded. `Default` is "no expectations": every cell is
/// expected to pass.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    files: Vec<File>,
    entries: Vec<Entry>,
}

/// What an entry says about one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Never [`Outcome::Pass`].
    pub outcome: Outcome,
    /// Other outcomes this cell is known to end with on some runs (wptrunner's
    /// `known_intermittent`); they are not unexpected either.
    pub known_intermittent: Vec<Outcome>,
    /// Reason, bug and `path:line` of the entry, as recorded in the run record.
    pub reference: ExpectationRef,
}

/// One loaded file; entries point at it for their locations.
#[derive(Debug, Clone)]
struct File {
    path: PathBuf,
    text: String,
    /// The file stem.
    implementation: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Offerer,
    Answerer,
}

/// One validated entry.
#[derive(Debug, Clone)]
struct Entry {
    /// Index into [`Expectations::files`].
    file: usize,
    scenario: String,
    scenario_at: Pos,
    /// 1-based position among the scenario's entries, for messages.
    number: usize,
    /// The start of the entry (its first key in block style).
    at: Pos,
    role: Option<Role>,
    with: Option<(String, Pos)>,
    outcome: Outcome,
    known_intermittent: Vec<Outcome>,
    reason: String,
    bug: Option<String>,
}

impl Expectations {
    /// Loads every `*.yaml` (and `*.yml`) file directly in `dir`, in name order; a missing
    /// `dir` gives no expectations. All problems of all files are returned together.
    pub fn load_dir(dir: &Path) -> Result<Expectations, Vec<ScenarioError>> {
        let paths = match yaml_files(dir) {
            Ok(paths) => paths,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Expectations::default()),
            Err(e) => {
                return Err(vec![ScenarioError::file(
                    dir,
                    format!("failed to read the expectations folder: {e}"),
                )])
            }
        };
        let mut all = Expectations::default();
        let mut errors = Vec::new();
        for path in paths {
            match fs::read_to_string(&path) {
                Ok(text) => match Expectations::parse_str(&path, &text) {
                    Ok(file) => all.merge(file),
                    Err(mut file_errors) => errors.append(&mut file_errors),
                },
                Err(e) => errors.push(ScenarioError::file(
                    &path,
                    format!("failed to read the expectation file: {e}"),
                )),
            }
        }
        if errors.is_empty() {
            Ok(all)
        } else {
            Err(errors)
        }
    }

    /// Parses one expectation file; its implementation is the file stem of `path` (`path` is
    /// also used in messages and in [`ExpectationRef::source`]; the file is not read).
    pub fn parse_str(path: &Path, text: &str) -> Result<Expectations, Vec<ScenarioError>> {
        let src = Source { path, text };
        let root = tree::parse(text).map_err(|e| vec![syntax(typed::convert(&src, None, &e))])?;
        let shape_errors = check_shape(&src, &root);
        if !shape_errors.is_empty() {
            return Err(shape_errors);
        }
        let implementation = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = File {
            path: path.to_path_buf(),
            text: text.to_owned(),
            implementation,
        };
        if matches!(root.value, Node::Null) {
            return Ok(Expectations {
                files: vec![file],
                entries: Vec::new(),
            });
        }
        let options = serde_saphyr::options! { with_snippet: false };
        let raw: RawFile = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| vec![syntax(typed::convert(&src, Some(&root), &e))])?;
        let entries = check_entries(&src, raw)?;
        Ok(Expectations {
            files: vec![file],
            entries,
        })
    }

    /// Adds the files and entries of `other` (for example another folder's).
    pub fn merge(&mut self, other: Expectations) {
        let offset = self.files.len();
        self.files.extend(other.files);
        self.entries
            .extend(other.entries.into_iter().map(|entry| Entry {
                file: entry.file + offset,
                ..entry
            }));
    }

    /// Checks the entries against what can run: `scenarios` and `implementations` are every
    /// scenario and implementation the harness knows (not only those selected for this run).
    /// Reports scenario names that no scenario has (with a did-you-mean), file stems and `with`
    /// values that are not implementations, and every pair of entries that match a common cell
    /// (naming both locations). An empty result means valid.
    pub fn validate(&self, scenarios: &[&str], implementations: &[&str]) -> Vec<ScenarioError> {
        let mut errors = Vec::new();
        for file in &self.files {
            if !implementations.contains(&file.implementation.as_str()) {
                errors.push(ScenarioError::file(
                    &file.path,
                    format!(
                        "an expectation file is named after the implementation it is about, \
                         and `{}` is not one{}",
                        short(&file.implementation),
                        expected_one_of(&file.implementation, implementations)
                    ),
                ));
            }
        }

        let mut reported_names: Vec<(usize, Pos)> = Vec::new();
        for entry in &self.entries {
            let name = entry.scenario.as_str();
            if !scenarios.contains(&name)
                && !reported_names.contains(&(entry.file, entry.scenario_at))
            {
                reported_names.push((entry.file, entry.scenario_at));
                let hint = match did_you_mean(name, scenarios) {
                    Some(close) => format!(" (did you mean `{close}`?)"),
                    None => String::new(),
                };
                errors.push(self.error(
                    entry.file,
                    entry.scenario_at,
                    Some(name),
                    format!(
                        "unknown scenario `{}`; no scenario file defines it{hint}",
                        short(name)
                    ),
                ));
            }
            if let Some((with, at)) = &entry.with {
                if !implementations.contains(&with.as_str()) {
                    errors.push(self.error(
                        entry.file,
                        *at,
                        Some("with"),
                        format!(
                            "unknown implementation `{}` for `with` in {}{}",
                            short(with),
                            entry.describe(),
                            expected_one_of(with, implementations)
                        ),
                    ));
                }
            }
        }

        let cells: Vec<(&str, &str)> = implementations
            .iter()
            .flat_map(|o| implementations.iter().map(move |a| (*o, *a)))
            .collect();
        for (j, later) in self.entries.iter().enumerate() {
            for earlier in &self.entries[..j] {
                // A base name (`ice[...]` -> `ice`) covers all of its variants.
                let (e, l) = (earlier.scenario.as_str(), later.scenario.as_str());
                let same = e == l
                    || (base_name(e) == base_name(l) && (base_name(e) == e || base_name(l) == l));
                if !same {
                    continue;
                }
                let common: Vec<String> = cells
                    .iter()
                    .filter(|(o, a)| self.matches(earlier, o, a) && self.matches(later, o, a))
                    .map(|(o, a)| format!("{o} -> {a}"))
                    .collect();
                if common.is_empty() {
                    continue;
                }
                errors.push(self.error(
                    later.file,
                    later.at,
                    None,
                    format!(
                        "{} and the entry at `{}` both match {}; a cell can have only one \
                         expectation: narrow the entries with `as` / `with`, or remove one",
                        later.describe(),
                        self.source(earlier),
                        common.join(", ")
                    ),
                ));
            }
        }
        errors
    }

    /// The entry for this cell (implementations by name: `rust`, `chrome`, `firefox`), if any:
    /// an entry of `rust.yaml` matches the cells where `rust` is the offerer or the answerer,
    /// as its `as` says, and the other implementation is its `with`. After
    /// [`Expectations::validate`] passed there is at most one; otherwise the first wins.
    ///
    /// `scenario` is the cell's scenario name; for a variant of a parameterised scenario
    /// (`base[name=value,...]`) an entry keyed by the variant's full name applies, else one
    /// keyed by the base name (it covers every variant).
    pub fn lookup(&self, scenario: &str, offerer: &str, answerer: &str) -> Option<Expected> {
        let base = base_name(scenario);
        self.entries
            .iter()
            .find(|e| e.scenario == scenario && self.matches(e, offerer, answerer))
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|e| e.scenario == base && self.matches(e, offerer, answerer))
            })
            .map(|e| Expected {
                outcome: e.outcome,
                known_intermittent: e.known_intermittent.clone(),
                reference: ExpectationRef {
                    reason: e.reason.clone(),
                    bug: e.bug.clone(),
                    source: self.source(e),
                },
            })
    }

    /// The files loaded (by [`Expectations::load_dir`], [`Expectations::parse_str`] and
    /// [`Expectations::merge`]), in load order, empty ones included: the paths they were loaded
    /// with, as entries' sources name them.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries (every cell is expected to pass).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn matches(&self, entry: &Entry, offerer: &str, answerer: &str) -> bool {
        let me = self.files[entry.file].implementation.as_str();
        let with = |other: &str| entry.with.as_ref().is_none_or(|(w, _)| w == other);
        let as_offerer = me == offerer && entry.role != Some(Role::Answerer) && with(answerer);
        let as_answerer = me == answerer && entry.role != Some(Role::Offerer) && with(offerer);
        as_offerer || as_answerer
    }

    /// `path:line` of an entry.
    fn source(&self, entry: &Entry) -> String {
        format!(
            "{}:{}",
            self.files[entry.file].path.display(),
            entry.at.line
        )
    }

    fn error(&self, file: usize, at: Pos, key: Option<&str>, message: String) -> ScenarioError {
        let file = &self.files[file];
        let src = Source {
            path: &file.path,
            text: &file.text,
        };
        src.error(at, key, message)
    }
}

impl Entry {
    /// `entry 2 of `datachannel-closing``.
    fn describe(&self) -> String {
        entry_phrase(self.number, &self.scenario)
    }
}

fn entry_phrase(number: usize, scenario: &str) -> String {
    format!("entry {number} of `{}`", short(scenario))
}

/// The files `load_dir` reads, sorted.
fn yaml_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if crate::is_yaml(&path) && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// The typed pass's wording is about scenario files; these are expectation files.
fn syntax(mut error: ScenarioError) -> ScenarioError {
    error.message = error
        .message
        .replace("a scenario file must", "an expectation file must");
    error
}

// ---- pass 0: shape ------------------------------------------------------------------------

const FILE_SHAPE: &str =
    "an expectation file must be a mapping of scenario names to lists of entries";

/// Problems serde would report badly or not at all (a file that is not a mapping, scenario
/// values that are not lists of mappings, repeated keys, keys without a value), and unknown
/// keys, all of them rather than serde's first.
fn check_shape(src: &Source<'_>, root: &SNode) -> Vec<ScenarioError> {
    let mut errors = Vec::new();
    let scenarios = match &root.value {
        Node::Null => return errors,
        Node::Map(entries) => entries,
        other => {
            errors.push(src.error(
                pos(&root.referenced),
                None,
                format!("{FILE_SHAPE}, found {}", other.describe()),
            ));
            return errors;
        }
    };
    for (i, scenario) in scenarios.iter().enumerate() {
        let name = scenario.key.value.text();
        let key_at = pos(&scenario.key.referenced);
        if let Some(first) = scenarios[..i].iter().find(|e| e.key.value.text() == name) {
            errors.push(src.error(
                key_at,
                Some(&name),
                format!(
                    "duplicate scenario `{}`; it is already listed on line {}: put all its \
                     entries in one list",
                    short(&name),
                    pos(&first.key.referenced).line
                ),
            ));
        }
        let items = match &scenario.value.value {
            Node::Seq(items) => items,
            Node::Null => {
                errors.push(src.error(
                    key_at,
                    Some(&name),
                    format!(
                        "no entries for `{}`; write a list like `- expected: fail` with a \
                         `reason`, or remove the key",
                        short(&name)
                    ),
                ));
                continue;
            }
            other => {
                let hint = if matches!(other, Node::Map(_)) {
                    " (is the `-` in front of the first key missing?)"
                } else {
                    ""
                };
                errors.push(src.error(
                    pos(&scenario.value.referenced),
                    Some(&name),
                    format!(
                        "the entries of `{}` must be a list of mappings, found {}{hint}",
                        short(&name),
                        other.describe()
                    ),
                ));
                continue;
            }
        };
        for (index, item) in items.iter().enumerate() {
            let what = entry_phrase(index + 1, &name);
            let Node::Map(keys) = &item.value else {
                errors.push(src.error(
                    pos(&item.referenced),
                    None,
                    format!(
                        "{what} must be a mapping with the keys {}, found {}",
                        quote_list(ENTRY_KEYS),
                        item.value.describe()
                    ),
                ));
                continue;
            };
            for (k, entry) in keys.iter().enumerate() {
                check_entry_key(src, &what, &keys[..k], entry, &mut errors);
            }
        }
    }
    errors
}

/// One key of an entry (`earlier`: the keys before it): not repeated, known, with a value of
/// the right shape.
fn check_entry_key(
    src: &Source<'_>,
    what: &str,
    earlier: &[tree::Entry],
    entry: &tree::Entry,
    errors: &mut Vec<ScenarioError>,
) {
    let key = entry.key.value.text();
    let at = pos(&entry.key.referenced);
    if let Some(first) = earlier.iter().find(|e| e.key.value.text() == key) {
        errors.push(src.error(
            at,
            Some(&key),
            format!(
                "duplicate key `{}` in {what}; it is already set on line {}",
                short(&key),
                pos(&first.key.referenced).line
            ),
        ));
    }
    if !ENTRY_KEYS.contains(&key.as_str()) {
        errors.push(src.error(
            at,
            Some(&key),
            format!(
                "unknown key `{}` in {what}{}",
                short(&key),
                expected_one_of(&key, ENTRY_KEYS)
            ),
        ));
    } else if matches!(entry.value.value, Node::Null) {
        errors.push(src.error(
            at,
            Some(&key),
            format!("missing value for `{}` in {what}", short(&key)),
        ));
    } else if key == "intermittent" {
        // A list of outcomes (or one outcome); pass 1 checks the items.
        if matches!(entry.value.value, Node::Map(_)) {
            errors.push(src.error(
                pos(&entry.value.referenced),
                Some(&key),
                format!(
                    "wrong type for `intermittent` in {what}: expected a list of \
                         outcomes like `[pass]`, found {}",
                    entry.value.value.describe()
                ),
            ));
        }
    } else if matches!(entry.value.value, Node::Seq(_) | Node::Map(_)) {
        errors.push(src.error(
            pos(&entry.value.referenced),
            Some(&key),
            format!(
                "wrong type for `{}` in {what}: expected a string, found {}",
                short(&key),
                entry.value.value.describe()
            ),
        ));
    }
}

// ---- pass 1: raw types --------------------------------------------------------------------

/// The file as written: scenario names with their entries, in file order.
struct RawFile(Vec<(SString, Vec<Spanned<RawEntry>>)>);

impl<'de> Deserialize<'de> for RawFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FileVisitor;
        impl<'de> Visitor<'de> for FileVisitor {
            type Value = RawFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of scenario names to lists of expectations")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFile, A::Error> {
                let mut scenarios = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    scenarios.push(entry);
                }
                Ok(RawFile(scenarios))
            }
        }
        deserializer.deserialize_map(FileVisitor)
    }
}

/// Every key is optional here so that pass 2 reports all missing ones with the other problems.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(rename = "as")]
    role: Option<SString>,
    with: Option<SString>,
    expected: Option<SString>,
    intermittent: Option<Spanned<Vec<SString>>>,
    reason: Option<SString>,
    bug: Option<SString>,
}

// ---- pass 2: values -----------------------------------------------------------------------

fn check_entries(src: &Source<'_>, raw: RawFile) -> Result<Vec<Entry>, Vec<ScenarioError>> {
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    for (name, items) in raw.0 {
        for (index, item) in items.into_iter().enumerate() {
            if let Some(entry) = check_entry(src, &name, index, item, &mut errors) {
                entries.push(entry);
            }
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// Entry `index` (0-based) of scenario `name`; `None` when it lacks an outcome or a reason.
fn check_entry(
    src: &Source<'_>,
    name: &SString,
    index: usize,
    item: Spanned<RawEntry>,
    errors: &mut Vec<ScenarioError>,
) -> Option<Entry> {
    let entry_at = pos(&item.referenced);
    let what = entry_phrase(index + 1, &name.value);
    let raw = item.value;
    let missing = |key: &str, errors: &mut Vec<ScenarioError>| {
        errors.push(src.error(
            entry_at,
            Some(key),
            format!("missing required key `{key}` in {what}"),
        ));
    };

    let role = raw
        .role
        .as_ref()
        .and_then(|role| entry_role(src, role, &what, errors));
    let with = raw.with.as_ref().and_then(|with| {
        if with.value.trim().is_empty() {
            errors.push(src.error(
                pos(&with.referenced),
                Some("with"),
                format!("empty `with` in {what}; name an implementation or remove it"),
            ));
            None
        } else {
            Some((with.value.clone(), pos(&with.referenced)))
        }
    });
    let outcome = match &raw.expected {
        None => {
            missing("expected", errors);
            None
        }
        Some(expected) => {
            // `expected: pass` only makes sense for a cell that is known to fail
            // now and then: it needs `intermittent`.
            let intermittent = raw
                .intermittent
                .as_ref()
                .is_some_and(|l| !l.value.is_empty());
            if expected.value == Outcome::Pass.as_str() && intermittent {
                Some(Outcome::Pass)
            } else {
                parse_outcome(src, expected, &what, errors)
            }
        }
    };
    let known_intermittent = known_intermittent(src, &raw, outcome, &what, errors);
    let reason = match &raw.reason {
        None => {
            missing("reason", errors);
            None
        }
        Some(reason) if reason.value.trim().is_empty() => {
            errors.push(src.error(
                pos(&reason.referenced),
                Some("reason"),
                format!("empty `reason` in {what}; say why this outcome is expected"),
            ));
            None
        }
        Some(reason) => Some(reason.value.trim().to_owned()),
    };
    let bug = raw
        .bug
        .as_ref()
        .and_then(|bug| entry_bug(src, bug, &what, errors));

    let (Some(outcome), Some(reason)) = (outcome, reason) else {
        return None;
    };
    Some(Entry {
        file: 0,
        scenario: name.value.clone(),
        scenario_at: pos(&name.referenced),
        number: index + 1,
        at: entry_at,
        role,
        with,
        outcome,
        known_intermittent,
        reason,
        bug,
    })
}

/// `as:` of an entry.
fn entry_role(
    src: &Source<'_>,
    role: &SString,
    what: &str,
    errors: &mut Vec<ScenarioError>,
) -> Option<Role> {
    match role.value.as_str() {
        "offerer" => Some(Role::Offerer),
        "answerer" => Some(Role::Answerer),
        other => {
            errors.push(src.error(
                pos(&role.referenced),
                Some("as"),
                format!(
                    "unknown role `{}` for `as` in {what}{}",
                    short(other),
                    expected_one_of(other, ROLES)
                ),
            ));
            None
        }
    }
}

/// `intermittent:` of an entry whose `expected` is `outcome`: known outcomes other than it,
/// each once.
fn known_intermittent(
    src: &Source<'_>,
    raw: &RawEntry,
    outcome: Option<Outcome>,
    what: &str,
    errors: &mut Vec<ScenarioError>,
) -> Vec<Outcome> {
    let mut known_intermittent = Vec::new();
    for item in raw.intermittent.iter().flat_map(|list| list.value.iter()) {
        let text = item.value.as_str();
        match Outcome::ALL.iter().find(|o| o.as_str() == text) {
            Some(o) if Some(*o) == outcome => errors.push(src.error(
                pos(&item.referenced),
                Some("intermittent"),
                format!("`{text}` in `intermittent` of {what} is already `expected`"),
            )),
            Some(o) if known_intermittent.contains(o) => {}
            Some(o) => known_intermittent.push(*o),
            None => {
                let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
                errors.push(src.error(
                    pos(&item.referenced),
                    Some("intermittent"),
                    format!(
                        "unknown outcome `{}` in `intermittent` of {what}{}",
                        short(text),
                        expected_one_of(text, &names)
                    ),
                ));
            }
        }
    }
    known_intermittent
}

/// `bug:` of an entry: an `http(s)://` URL.
fn entry_bug(
    src: &Source<'_>,
    bug: &SString,
    what: &str,
    errors: &mut Vec<ScenarioError>,
) -> Option<String> {
    let url = bug.value.trim();
    let scheme = url.starts_with("https://") || url.starts_with("http://");
    if scheme && url.len() > "https://".len() && !url.contains(char::is_whitespace) {
        Some(url.to_owned())
    } else {
        errors.push(src.error(
            pos(&bug.referenced),
            Some("bug"),
            format!(
                "`bug` in {what} must be a URL starting with `https://` or \
                 `http://`, found `{}`",
                short(&bug.value)
            ),
        ));
        None
    }
}

fn parse_outcome(
    src: &Source<'_>,
    expected: &SString,
    what: &str,
    errors: &mut Vec<ScenarioError>,
) -> Option<Outcome> {
    let text = expected.value.as_str();
    if let Some(outcome) = EXPECTABLE.iter().find(|o| o.as_str() == text) {
        return Some(*outcome);
    }
    let names: Vec<&str> = EXPECTABLE.iter().map(|o| o.as_str()).collect();
    let message = if text == Outcome::Pass.as_str() {
        format!(
            "`expected: pass` in {what} is not an expectation: every cell is expected to pass \
             unless an entry says otherwise; remove the entry (or list the outcomes it \
             sometimes has in `intermittent`)"
        )
    } else {
        format!(
            "unknown outcome `{}` for `expected` in {what}{}",
            short(text),
            expected_one_of(text, &names)
        )
    };
    errors.push(src.error(pos(&expected.referenced), Some("expected"), message));
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render_all;

    const SCENARIOS: &[&str] = &["connect", "datachannel-echo", "datachannel-closing"];
    const IMPLS: &[&str] = &["rust", "chrome", "firefox"];

    fn parse(path: &str, text: &str) -> Expectations {
        match Expectations::parse_str(Path::new(path), text) {
            Ok(e) => e,
            Err(errors) => panic!("{path} must parse:\n{}", render_all(&errors)),
        }
    }

    fn errors(path: &str, text: &str) -> String {
        let errors = Expectations::parse_str(Path::new(path), text).expect_err("must not parse");
        render_all(&errors)
    }

    fn outcome(e: &Expectations, scenario: &str, o: &str, a: &str) -> Option<Outcome> {
        e.lookup(scenario, o, a).map(|x| x.outcome)
    }

    const RUST: &str = "\
# Expected non-pass outcomes of cells that involve the Rust peer.
datachannel-closing:
  - as: answerer
    with: chrome
    expected: unsupported
    reason: webrtc 0.21.1 never fires `closing`
    bug: https://github.com/webrtc-rs/webrtc/issues/1
  - as: offerer
    expected: timeout
    reason: >
      the close is never acknowledged
connect:
  - { with: firefox, expected: fail, reason: DTLS role mismatch }
";

    #[test]
    fn parses_entries_with_their_source() {
        let e = parse("scenarios/expectations/rust.yaml", RUST);
        assert_eq!(e.len(), 3);
        assert!(!e.is_empty());
        assert!(e.validate(SCENARIOS, IMPLS).is_empty());
        let found = e.lookup("datachannel-closing", "chrome", "rust").unwrap();
        assert_eq!(
            found,
            Expected {
                outcome: Outcome::Unsupported,
                known_intermittent: Vec::new(),
                reference: ExpectationRef {
                    reason: "webrtc 0.21.1 never fires `closing`".into(),
                    bug: Some("https://github.com/webrtc-rs/webrtc/issues/1".into()),
                    source: "scenarios/expectations/rust.yaml:3".into(),
                },
            }
        );
        let folded = e.lookup("datachannel-closing", "rust", "firefox").unwrap();
        assert_eq!(folded.reference.reason, "the close is never acknowledged");
        assert_eq!(folded.reference.bug, None);
        assert_eq!(
            folded.reference.source,
            "scenarios/expectations/rust.yaml:8"
        );
        assert_eq!(
            e.lookup("connect", "firefox", "rust")
                .unwrap()
                .reference
                .source,
            "scenarios/expectations/rust.yaml:13"
        );
    }

    #[test]
    fn lookup_follows_role_and_other_implementation() {
        let e = parse("rust.yaml", RUST);
        let s = "datachannel-closing";
        // `as: answerer, with: chrome`
        assert_eq!(outcome(&e, s, "chrome", "rust"), Some(Outcome::Unsupported));
        assert_eq!(outcome(&e, s, "firefox", "rust"), None);
        // `as: offerer`, any other implementation
        assert_eq!(outcome(&e, s, "rust", "chrome"), Some(Outcome::Timeout));
        assert_eq!(outcome(&e, s, "rust", "firefox"), Some(Outcome::Timeout));
        // not involving rust at all
        assert_eq!(outcome(&e, s, "chrome", "firefox"), None);
        assert_eq!(outcome(&e, s, "chrome", "chrome"), None);
        // either role, `with: firefox`
        assert_eq!(
            outcome(&e, "connect", "rust", "firefox"),
            Some(Outcome::Fail)
        );
        assert_eq!(
            outcome(&e, "connect", "firefox", "rust"),
            Some(Outcome::Fail)
        );
        assert_eq!(outcome(&e, "connect", "rust", "chrome"), None);
        // other scenarios
        assert_eq!(outcome(&e, "datachannel-echo", "rust", "chrome"), None);
    }

    #[test]
    fn base_names_cover_variants_and_variant_names_one_variant() {
        let names = ["ice", "ice[a=1]", "ice[a=2]"];
        let e = parse(
            "rust.yaml",
            "ice:\n  - { with: chrome, expected: fail, reason: every variant }\n\
             \"ice[a=2]\":\n  - { with: firefox, expected: timeout, reason: one variant }\n",
        );
        assert!(e.validate(&names, IMPLS).is_empty());
        assert_eq!(
            outcome(&e, "ice[a=1]", "rust", "chrome"),
            Some(Outcome::Fail)
        );
        assert_eq!(
            outcome(&e, "ice[a=2]", "rust", "chrome"),
            Some(Outcome::Fail)
        );
        assert_eq!(
            outcome(&e, "ice[a=2]", "firefox", "rust"),
            Some(Outcome::Timeout)
        );
        assert_eq!(outcome(&e, "ice[a=1]", "firefox", "rust"), None);

        // A base entry and a variant entry that match a common cell overlap.
        let clash = parse(
            "rust.yaml",
            "ice:\n  - { expected: fail, reason: r }\n\
             \"ice[a=1]\":\n  - { with: chrome, expected: timeout, reason: r }\n",
        );
        let errors = clash.validate(&names, IMPLS);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].message.contains("rust -> chrome"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn rust_to_rust_cells_match_either_role() {
        let e = parse(
            "rust.yaml",
            "connect:\n  - { as: answerer, expected: crash, reason: r }\n\
             datachannel-echo:\n  - { with: rust, expected: error, reason: r }\n\
             datachannel-closing:\n  - { as: offerer, with: chrome, expected: fail, reason: r }\n",
        );
        assert!(e.validate(SCENARIOS, IMPLS).is_empty());
        assert_eq!(outcome(&e, "connect", "rust", "rust"), Some(Outcome::Crash));
        assert_eq!(outcome(&e, "connect", "rust", "chrome"), None);
        assert_eq!(
            outcome(&e, "datachannel-echo", "rust", "rust"),
            Some(Outcome::Error)
        );
        assert_eq!(outcome(&e, "datachannel-echo", "rust", "chrome"), None);
        assert_eq!(outcome(&e, "datachannel-closing", "rust", "rust"), None);
        assert_eq!(
            outcome(&e, "datachannel-closing", "rust", "chrome"),
            Some(Outcome::Fail)
        );
    }

    #[test]
    fn merged_files_keep_their_implementation_and_path() {
        let mut e = parse("x/rust.yaml", RUST);
        e.merge(parse(
            "x/chrome.yaml",
            "datachannel-echo:\n  - as: offerer\n    expected: timeout\n    reason: slow\n",
        ));
        assert_eq!(e.len(), 4);
        assert!(e.validate(SCENARIOS, IMPLS).is_empty());
        let found = e.lookup("datachannel-echo", "chrome", "firefox").unwrap();
        assert_eq!(found.reference.source, "x/chrome.yaml:2");
        assert_eq!(outcome(&e, "datachannel-echo", "firefox", "chrome"), None);
        assert_eq!(
            outcome(&e, "datachannel-closing", "chrome", "rust"),
            Some(Outcome::Unsupported)
        );
    }

    #[test]
    fn empty_and_comment_only_files_are_no_expectations() {
        for text in ["", "# nothing expected to fail\n", "connect: []\n"] {
            let e = parse("firefox.yaml", text);
            assert!(e.is_empty(), "{text:?}");
            assert!(e.validate(SCENARIOS, IMPLS).is_empty());
        }
        assert!(Expectations::default()
            .lookup("connect", "rust", "rust")
            .is_none());
    }

    #[test]
    fn expected_pass_is_allowed_with_intermittent_outcomes() {
        let e = parse(
            "rust.yaml",
            "connect:\n  - { expected: pass, intermittent: [timeout], reason: rare loss }\n",
        );
        let x = e.lookup("connect", "rust", "rust").unwrap();
        assert_eq!(x.outcome, Outcome::Pass);
        assert_eq!(x.known_intermittent, vec![Outcome::Timeout]);
    }

    #[test]
    fn intermittent_outcomes_are_listed_and_checked() {
        let e = parse(
            "rust.yaml",
            "connect:\n  - { expected: timeout, intermittent: [pass, fail, pass], reason: a race }\n",
        );
        let x = e.lookup("connect", "rust", "chrome").unwrap();
        assert_eq!(x.outcome, Outcome::Timeout);
        assert_eq!(x.known_intermittent, vec![Outcome::Pass, Outcome::Fail]);
        let err = errors(
            "rust.yaml",
            "connect:\n  - { expected: timeout, intermittent: [timeout, flaky], reason: r }\n",
        );
        assert!(err.contains("`timeout` in `intermittent`"), "{err}");
        assert!(
            err.contains("unknown outcome `flaky` in `intermittent`"),
            "{err}"
        );
        assert!(err.contains("rust.yaml:2:"), "{err}");
    }

    #[test]
    fn unknown_key_is_refused_with_a_suggestion() {
        insta::assert_snapshot!(errors(
            "rust.yaml",
            "connect:\n  - expected: fail\n    reason: r\n    resaon: r\n\
             datachannel-echo:\n  - { expected: fail, reason: r, bugs: \"https://x.org/1\" }\n",
        ));
    }

    #[test]
    fn expected_pass_is_refused() {
        insta::assert_snapshot!(errors(
            "rust.yaml",
            "connect:\n  - expected: pass\n    reason: it works now\n",
        ));
    }

    #[test]
    fn missing_and_empty_values_are_reported_together() {
        insta::assert_snapshot!(errors(
            "chrome.yaml",
            "connect:\n  - as: offerer\n    expected: fail\n  - expected: timeout\n    reason: \"  \"\n    bug: issue 12\n    with:\n",
        ));
        // Without the empty `with:` the values are checked: missing reason, empty reason, bad URL.
        insta::assert_snapshot!(errors(
            "chrome.yaml",
            "connect:\n  - as: offerer\n    expected: fail\n  - expected: timeout\n    reason: \"  \"\n    bug: issue 12\n",
        ));
    }

    #[test]
    fn bad_outcome_and_role_names() {
        insta::assert_snapshot!(errors(
            "rust.yaml",
            "connect:\n  - as: answrer\n    expected: unsuported\n    reason: r\n  - expected: flaky\n    reason: r\n",
        ));
    }

    #[test]
    fn shape_problems() {
        insta::assert_snapshot!(errors(
            "rust.yaml",
            "connect:\n  expected: fail\n  reason: r\ndatachannel-echo:\ndatachannel-echo:\n  - fail\n",
        ));
        insta::assert_snapshot!(errors("rust.yaml", "- connect\n"));
        insta::assert_snapshot!(errors("rust.yaml", "connect: [\n"));
        insta::assert_snapshot!(errors(
            "rust.yaml",
            "connect:\n  - { expected: fail, reason: [a, b] }\n",
        ));
    }

    #[test]
    fn validate_names_unknown_scenarios_implementations_and_overlaps() {
        let mut e = parse(
            "exp/rust.yaml",
            "datachannel-closng:\n  - { expected: fail, reason: r }\n\
             connect:\n  - { as: answerer, expected: timeout, reason: r }\n  - { with: chrom, expected: fail, reason: r }\n",
        );
        e.merge(parse(
            "exp/chrome.yaml",
            "connect:\n  - with: rust\n    expected: fail\n    reason: r\n",
        ));
        e.merge(parse(
            "exp/safari.yaml",
            "connect:\n  - { expected: fail, reason: r }\n",
        ));
        insta::assert_snapshot!(render_all(&e.validate(SCENARIOS, IMPLS)));
    }

    #[test]
    fn duplicate_match_across_files() {
        let mut e = parse(
            "exp/chrome.yaml",
            "datachannel-echo:\n  - as: answerer\n    expected: timeout\n    reason: r\n",
        );
        e.merge(parse(
            "exp/rust.yaml",
            "datachannel-echo:\n  - { as: offerer, with: firefox, expected: fail, reason: r }\n  - as: offerer\n    with: chrome\n    expected: fail\n    reason: r\n",
        ));
        insta::assert_snapshot!(render_all(&e.validate(SCENARIOS, IMPLS)));
        // The harness runs the cell with the first entry it finds.
        let found = e.lookup("datachannel-echo", "rust", "chrome").unwrap();
        assert_eq!(found.reference.source, "exp/chrome.yaml:2");
    }

    #[test]
    fn duplicate_match_within_one_file() {
        let e = parse(
            "rust.yaml",
            "connect:\n  - { expected: fail, reason: r }\n  - { as: offerer, with: firefox, expected: timeout, reason: r }\n",
        );
        insta::assert_snapshot!(render_all(&e.validate(SCENARIOS, IMPLS)));
    }

    #[test]
    fn load_dir_reads_every_file_and_reports_all_problems() {
        let dir =
            std::env::temp_dir().join(format!("interop-expectations-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(
            Expectations::load_dir(&dir).unwrap().is_empty(),
            "a missing dir is no expectations"
        );
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("rust.yaml"), RUST).unwrap();
        fs::write(dir.join("firefox.yaml"), "# none\n").unwrap();
        fs::write(dir.join("notes.txt"), "not yaml").unwrap();
        let e = Expectations::load_dir(&dir).unwrap();
        assert_eq!(e.len(), 3);
        let files: Vec<&Path> = e.files().collect();
        assert_eq!(files, [dir.join("firefox.yaml"), dir.join("rust.yaml")]);
        assert!(e.validate(SCENARIOS, IMPLS).is_empty());
        let source = e
            .lookup("connect", "rust", "firefox")
            .unwrap()
            .reference
            .source;
        assert_eq!(source, format!("{}:13", dir.join("rust.yaml").display()));

        fs::write(
            dir.join("chrome.yaml"),
            "connect:\n  - expected: pass\n    reason: r\n",
        )
        .unwrap();
        fs::write(dir.join("firefox.yaml"), "connect:\n  - reason: r\n").unwrap();
        let errors = Expectations::load_dir(&dir).expect_err("two bad files");
        let files: Vec<_> = errors
            .iter()
            .map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["chrome.yaml", "firefox.yaml"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
