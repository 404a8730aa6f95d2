//! `interop-harness`: the WebRTC interoperability harness as a library (the `interop` binary
//! is its command line; benchmarks and tests use the parts directly).
//!
//! Runs YAML scenarios between the Rust peer (the `webrtc` crate), headless Chromium and
//! Firefox, for every (offerer, answerer) pairing, and records what happened.
//!
//! Module map (what owns what):
//! - `bench`: the speed figures of `interop bench` (overhead, capture cost, throughput ratios);
//! - `browser`: browser products as data, WebDriver sessions and their pool;
//! - `control`: the listener peers connect to (peer page + control WebSocket);
//! - `implementations`: the implementations as records (name, how each is started);
//! - `matrix`: scenarios x pairings -> cells;
//! - `runner`: executes a cell -> `RunRecord`, emitting `RunEvent`s;
//! - `reporter`: consumers of `RunEvent`s (results.jsonl, progress);
//! - `process`: child-process guards (kill on drop, Ctrl-C, panic, the reaper for SIGKILL);
//! - `redact`: secrets (control tokens, URL passwords, TURN credentials) kept out of files;
//! - `sdp`: the facts the runner reads from session descriptions, and SDP munging;
//! - `capture`: capture.pcap of each run: the passive tap on `lo`, or the user-space relay;
//! - `negotiation`: normalised negotiated features and event sequences (negotiation.json);
//! - `results_dir`: results folders on disk (run_info.json, results.jsonl, reports), merge.
//!
//! Scenario parsing lives in the `interop-scenario` crate, the results contract in
//! `interop-results`, renderers in `interop-reports`.

pub mod bench;
pub mod browser;
pub mod capture;
pub mod control;
pub mod implementations;
pub mod matrix;
pub mod negotiation;
pub mod process;
pub mod redact;
pub mod reporter;
pub mod results_dir;
pub mod runner;
pub mod sdp;
pub mod turn;
