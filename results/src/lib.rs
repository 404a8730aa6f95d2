//! The stable contract of the harness: what a run produces, in types.
//!
//! The harness writes these records (`<out>/results.jsonl`, one [`RunRecord`] per line, appended
//! as each run ends); reporters and external tools read only these types. Changing a field's
//! meaning bumps [`SCHEMA_VERSION`]. The process exit codes are part of the contract too
//! ([`exit_code`]).

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the [`RunRecord`] and [`RunInfo`] schemas written in every record and run_info.
/// The JSON Schemas generated from these types are committed in `results/schema/`
/// ([`run_record_schema`], [`run_info_schema`]; a test keeps them in step with the types).
pub const SCHEMA_VERSION: u32 = 2;

/// The JSON Schema of one line of `results.jsonl`, generated from [`RunRecord`].
pub fn run_record_schema() -> serde_json::Value {
    schemars::schema_for!(RunRecord).to_value()
}

/// The JSON Schema of `run_info.json` (one [`RunInfo`]; a merged folder holds an array).
pub fn run_info_schema() -> serde_json::Value {
    schemars::schema_for!(RunInfo).to_value()
}

/// Process exit codes of the `interop` command.
pub mod exit_code {
    /// Every run passed (or `list` / `validate` succeeded).
    pub const SUCCESS: i32 = 0;
    /// Command-line usage error (unknown flag, bad value) - clap's convention.
    pub const USAGE: i32 = 2;
    /// A scenario file is invalid; nothing was launched.
    pub const INVALID_SCENARIO: i32 = 3;
    /// Setup failed before any run: a browser or driver is missing, a listener could not bind.
    pub const SETUP_ERROR: i32 = 4;
    /// All runs ended, and at least one result was unexpected: an outcome other than the
    /// expected one (`pass`, unless an expectation file says otherwise), including an
    /// unexpected pass.
    pub const RUN_FAILED: i32 = 1;
    /// Interrupted (SIGINT / Ctrl-C, or SIGTERM); results of finished runs are on disk.
    pub const INTERRUPTED: i32 = 130;

    /// Every exit code with what it means, in Markdown (backticks for names). The one list:
    /// `interop --help` prints it ([`help`]) and a test holds the README's table to it.
    pub const ALL: [(i32, &str); 6] = [
        (
            SUCCESS,
            "every run ended as expected - `pass`, or the non-pass outcome an expectation file \
             gives (`run`); no regression (`diff`); or the command succeeded (`list`, \
             `validate`, `report`, `merge`)",
        ),
        (
            RUN_FAILED,
            "every run ended and at least one result was unexpected (including an unexpected \
             pass); `diff`: a cell that passed in OLD does not pass in NEW",
        ),
        (
            USAGE,
            "command-line usage error; a folder given to `report`, `merge` or `diff` holds no \
             readable `results.jsonl`, or `merge`'s output folder already holds results",
        ),
        (
            INVALID_SCENARIO,
            "a scenario file is invalid; nothing was launched",
        ),
        (
            SETUP_ERROR,
            "setup error: a browser or driver is missing, a listener could not bind, an output \
             folder cannot be written",
        ),
        (
            INTERRUPTED,
            "interrupted (Ctrl-C / SIGINT, or SIGTERM); every child is killed, finished runs \
             are in `results.jsonl`, the reports (`summary.md`, `index.html`...) cover them",
        ),
    ];

    /// [`ALL`] as plain text for `--help`: one code per entry, meanings wrapped at `width`
    /// columns and indented under the first line.
    pub fn help(width: usize) -> String {
        let mut out = String::from("Exit codes:\n");
        for (code, meaning) in ALL {
            let mut line = format!("  {code:<4} ");
            let indent = line.len();
            for word in meaning.replace('`', "").split_whitespace() {
                if line.len() + word.len() > width && line.len() > indent {
                    out.push_str(line.trim_end());
                    out.push('\n');
                    line = " ".repeat(indent);
                }
                line.push_str(word);
                line.push(' ');
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn help_lists_every_code_once_within_the_width() {
            let help = super::help(60);
            for (code, _) in super::ALL {
                let starts = help
                    .lines()
                    .filter(|l| l.starts_with(&format!("  {code:<4} ")));
                assert_eq!(starts.count(), 1, "{code} in:\n{help}");
            }
            assert!(help.lines().all(|l| l.len() <= 60), "{help}");
            assert!(!help.contains('`'), "{help}");
            assert!(help.contains("nothing was launched"), "{help}");
        }
    }
}

/// How a run ended. Richer than pass/fail so that a red cell says which layer failed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step succeeded and every expectation held.
    Pass,
    /// A command failed or an expectation was contradicted (e.g. state `failed`, wrong content).
    Fail,
    /// An implementation lacks what the scenario needs or refuses it as the spec allows (for
    /// example `NotSupportedError`, a smaller max-message-size, an event it cannot observe).
    /// The reason carries the evidence. Never a pass, never a silent skip.
    Unsupported,
    /// An expectation was not met before its timeout.
    Timeout,
    /// A peer process, browser or page died or disconnected mid-run.
    Crash,
    /// The harness could not run the cell (launch failure, driver error): not a verdict on the
    /// implementations.
    Error,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Unsupported,
        Outcome::Timeout,
        Outcome::Crash,
        Outcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unsupported => "unsupported",
            Outcome::Timeout => "timeout",
            Outcome::Crash => "crash",
            Outcome::Error => "error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An implementation taking part in a run, as the peer itself reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Implementation {
    /// `rust`, `chrome` or `firefox`.
    pub name: String,
    /// Exact version: browser build or `webrtc` crate version; `unknown` if the peer never said.
    pub version: String,
    /// Free-form detail (user agent, driver version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The step at which a run stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FailedStep {
    /// 0-based index among the scenario's expanded steps.
    pub index: usize,
    /// 1-based line in the scenario file.
    pub line: usize,
    /// The scenario's name for the peer, e.g. `bob`.
    pub peer: String,
    /// Human description, e.g. `expect connection state 'connected'`.
    pub step: String,
}

/// Durations in milliseconds, each measured on one peer's own clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timings {
    /// Per peer role (`offerer` / `answerer`): from `create_peer_connection` done to
    /// `connectionState` `connected`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub to_connected_ms: BTreeMap<String, f64>,
    /// Per peer role: from `create_peer_connection` done to the first data channel message
    /// received.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub to_first_message_ms: BTreeMap<String, f64>,
    /// Per peer role: from `create_data_channel` done to the `open` event of the first channel
    /// this peer created (includes the connection set-up when the channel was created first).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channel_open_ms: BTreeMap<String, f64>,
    /// Per peer role: median round trip of the messages this peer sent to a peer echoing them
    /// (`echo` step), from `send()` to the echo's arrival, on this peer's clock.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub round_trip_ms: BTreeMap<String, f64>,
    /// Bulk transfers (`bulk_transfer` step): megabits per second as the receiver saw them,
    /// from its first to its last message, keyed by `<sender role> <label>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throughput_mbps: BTreeMap<String, f64>,
    /// Phase durations of the connection set-up, on the harness's clock (`timeline.json` in
    /// the run folder has the events they come from): `connectivity_checks` (first STUN
    /// binding request to first success response on the wire), `dtls_handshake` (first
    /// ClientHello to first application data), `sctp_channel_open` (first application data
    /// to the first data channel `open` reported), `first_message` (first `open` to the first
    /// message received), `ice_gathering.<peer>` (its first `gathering` state or candidate to
    /// `complete`); with DTLS 1.3, whose handshake end is encrypted,
    /// `dtls_handshake_and_sctp_channel_open` replaces the two middle ones. Present when the
    /// run got that far and capture was on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phases_ms: BTreeMap<String, f64>,
    /// Media (`expect_media` steps), keyed `<receiver role> <media name>`: from the receiver's
    /// `connectionState` `connected` to the first RTP packet of that transceiver it reported
    /// (browsers: the track's `unmute`; the Rust peer: the first packet read), on the
    /// receiver's clock. Negative when media arrived before `connected` was reported.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_rtp_ms: BTreeMap<String, f64>,
    /// Like `first_rtp_ms`, to the first frame decoded (browsers: the first
    /// `requestVideoFrameCallback` of a video element playing the track) or, in the Rust peer
    /// which has no decoder, the first valid keyframe depacketized. Video only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_frame_ms: BTreeMap<String, f64>,
    /// The span of the scenario's steps on the harness's clock: from the first command sent
    /// to a peer to the return of the last step executed (its last awaited response or event).
    /// `wall_ms - steps_ms` is the harness's own overhead: peer start (browser page load or
    /// Rust peer process), getStats snapshots, teardown, artefacts. Absent when no step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_ms: Option<f64>,
    /// Wall time of the whole run as the harness saw it, including peer start-up.
    pub wall_ms: f64,
}

/// The expectation file entry that set a cell's expected outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExpectationRef {
    /// Why this outcome is expected.
    pub reason: String,
    /// The upstream bug or spec issue, if one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<String>,
    /// Where the entry is: `scenarios/expectations/rust.yaml:12`.
    pub source: String,
}

/// One run: one scenario for one (offerer, answerer) pairing. One line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunRecord {
    pub schema_version: u32,
    /// The scenario's name; for a variant of a parameterised scenario `base[name=value,...]`.
    pub scenario: String,
    /// The parameter values of this variant (empty for a scenario without parameters).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Which run of the cell this is (1-based) when `--repeat N` ran every cell N times;
    /// absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    pub feature: String,
    pub offerer: Implementation,
    pub answerer: Implementation,
    pub outcome: Outcome,
    /// The outcome the checked-in expectations predict: `pass` unless an expectation file
    /// entry says otherwise (then `expectation` names it).
    #[serde(default = "expected_pass")]
    pub expected: Outcome,
    /// Other outcomes the expectation allows because the cell is known to vary between runs
    /// (an implementation race, with its reason in `expectation`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_intermittent: Vec<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expectation: Option<ExpectationRef>,
    /// Why the run did not pass (for `unsupported`: the evidence); `None` on pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<FailedStep>,
    pub timings: Timings,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// The run's artefact folder, relative to the output folder.
    pub artefacts: String,
    /// Facts the harness read from the run, keyed `<role>.<fact>`: for example
    /// `offerer.max_message_size` (from its SDP), `answerer.dtls_role`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub observed: BTreeMap<String, serde_json::Value>,
}

fn expected_pass() -> Outcome {
    Outcome::Pass
}

impl RunRecord {
    /// Whether the outcome is neither the expected one nor a known intermittent one (an
    /// unexpected pass counts).
    pub fn is_unexpected(&self) -> bool {
        self.outcome != self.expected && !self.known_intermittent.contains(&self.outcome)
    }

    /// `offerer -> answerer`, e.g. `rust -> chrome`.
    pub fn pairing(&self) -> String {
        format!("{} -> {}", self.offerer.name, self.answerer.name)
    }
}

/// The file of a results folder holding one [`RunRecord`] per line.
pub const RESULTS_FILE: &str = "results.jsonl";
/// The file of a results folder holding its [`RunInfo`].
pub const RUN_INFO_FILE: &str = "run_info.json";

/// What a results folder was made by and with: written as `run_info.json` beside
/// `results.jsonl` when a run starts and again, complete, when it ends (also when it is
/// interrupted). Reports read it for their header; `merge` keeps one per source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    pub schema_version: u32,
    /// The harness: its version and the git revision it was built from (`unknown` outside a
    /// checkout), with `-dirty` when the work tree had changes.
    pub harness: HarnessInfo,
    /// Operating system and architecture, e.g. `Debian GNU/Linux 12 (bookworm) x86_64`.
    pub os: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC; `None` while the run is going on (or when it was killed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Each implementation with the exact version its peers reported (browser build, driver,
    /// `webrtc` crate), in report order; one entry per distinct version.
    #[serde(default)]
    pub implementations: Vec<Implementation>,
    /// `i/n` when the run was one shard of a matrix (`run --shard i/n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// `true` when the run was interrupted: the results hold only the runs that finished.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// The harness that made a results folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HarnessInfo {
    pub version: String,
    pub git_revision: String,
}

/// Parses a `results.jsonl` text. Lines that do not parse (for example the torn last line of a
/// killed run) are returned as errors with their 1-based line number; the rest are kept.
pub fn parse_jsonl(text: &str) -> (Vec<RunRecord>, Vec<(usize, String)>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RunRecord>(line) {
            Ok(r) => records.push(r),
            Err(e) => errors.push((i + 1, e.to_string())),
        }
    }
    (records, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome) -> RunRecord {
        RunRecord {
            schema_version: SCHEMA_VERSION,
            scenario: "connect".into(),
            parameters: Default::default(),
            repeat: None,
            feature: "basic-peer-connection".into(),
            offerer: Implementation {
                name: "rust".into(),
                version: "0.21.1".into(),
                detail: None,
            },
            answerer: Implementation {
                name: "chrome".into(),
                version: "156.0".into(),
                detail: None,
            },
            outcome,
            expected: Outcome::Pass,
            known_intermittent: Vec::new(),
            expectation: None,
            reason: None,
            failed_step: None,
            timings: Timings {
                wall_ms: 12.0,
                ..Default::default()
            },
            started_at: "2026-11-25T00:00:00Z".into(),
            artefacts: "runs/connect/rust-chrome".into(),
            observed: BTreeMap::new(),
        }
    }

    #[test]
    fn jsonl_round_trips_and_reports_torn_lines() {
        let a = serde_json::to_string(&record(Outcome::Pass)).unwrap();
        let b = serde_json::to_string(&record(Outcome::Timeout)).unwrap();
        let text = format!("{a}\n{b}\n{}", &a[..a.len() / 2]);
        let (records, errors) = parse_jsonl(&text);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].outcome, Outcome::Timeout);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, 3);
        assert_eq!(records[0].pairing(), "rust -> chrome");
    }

    #[test]
    fn unexpected_means_neither_expected_nor_known_intermittent() {
        let mut r = record(Outcome::Pass);
        assert!(!r.is_unexpected());
        r.expected = Outcome::Timeout;
        assert!(r.is_unexpected(), "an unexpected pass");
        r.known_intermittent = vec![Outcome::Pass];
        assert!(!r.is_unexpected());
        r.outcome = Outcome::Fail;
        assert!(r.is_unexpected());
    }

    /// The committed schemas are the ones the types generate (`INTEROP_BLESS=1` rewrites
    /// them), and real records and run_info of a run (the reports' fixture) validate.
    #[test]
    fn committed_json_schemas_match_the_types_and_real_results() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
        for (file, schema) in [
            ("run-record.schema.json", run_record_schema()),
            ("run-info.schema.json", run_info_schema()),
        ] {
            let path = dir.join(file);
            let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            if std::env::var("INTEROP_BLESS").is_ok_and(|v| v == "1") {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == text,
                "{} differs from the schema the types generate: review the change, then \
                 run `INTEROP_BLESS=1 cargo test -p interop-results` (and bump \
                 SCHEMA_VERSION if a field changed meaning)",
                path.display()
            );
        }
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../reports/tests/fixtures/results");
        let records = std::fs::read_to_string(fixture.join(RESULTS_FILE)).unwrap();
        let validator = jsonschema::validator_for(&run_record_schema()).unwrap();
        let mut n = 0;
        for line in records.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{errors:?}");
            n += 1;
        }
        assert!(n > 50);
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture.join(RUN_INFO_FILE)).unwrap())
                .unwrap();
        assert!(jsonschema::is_valid(&run_info_schema(), &info));
        // The schema is not vacuous: a record with an unknown outcome is refused.
        let mut bad: serde_json::Value =
            serde_json::from_str(records.lines().next().unwrap()).unwrap();
        bad["outcome"] = "great".into();
        assert!(!validator.is_valid(&bad));
    }

    #[test]
    fn outcome_names_are_snake_case_on_the_wire() {
        assert_eq!(serde_json::to_string(&Outcome::Crash).unwrap(), "\"crash\"");
        assert_eq!(Outcome::Timeout.to_string(), "timeout");
    }
}
