//! `-j N` and browser session reuse change how fast the matrix runs, never what it finds:
//! the same scenarios on the same pairings with real Chromium, Firefox and Rust peers, run
//! with `-j 1`, `-j 2` and `-j 2 --no-session-reuse`, give the same cells with the same
//! outcomes (a known intermittent outcome listed in the expectation files counts as the
//! expected one), and `results.jsonl` lists them in plan order every time.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use interop_results::RunRecord;

/// Scenarios of every kind: a bare connection, data channels, media (audio and video) and
/// ICE restart; 36 runs per configuration.
const SCENARIOS: [&str; 4] = [
    "connect",
    "datachannel-echo",
    "media-audio-video",
    "ice-restart[restarter=alice,other=bob]",
];

fn run(out: &Path, extra: &[&str]) -> (Option<i32>, Vec<RunRecord>) {
    let mut cmd = interop();
    cmd.arg("run");
    for s in SCENARIOS {
        cmd.args(["-s", s]);
    }
    let output = cmd.args(extra).arg("--out").arg(out).output().unwrap();
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    (output.status.code(), read_results(out))
}

/// (scenario, pairing, outcome) in file order. An outcome the expectation files list as a
/// known intermittent one of the cell (a browser race, with its evidence there) counts as
/// the cell's expected outcome: such a cell may end either way in any configuration.
fn cells(records: &[RunRecord]) -> Vec<(String, String, String)> {
    records
        .iter()
        .map(|r| {
            let outcome = if !r.known_intermittent.is_empty() && !r.is_unexpected() {
                let listed: Vec<String> =
                    r.known_intermittent.iter().map(|o| o.to_string()).collect();
                format!("{} or intermittently {}", r.expected, listed.join(", "))
            } else {
                r.outcome.to_string()
            };
            (r.scenario.clone(), r.pairing(), outcome)
        })
        .collect()
}

/// Whether a run started before another one had ended.
fn overlapping(records: &[RunRecord]) -> bool {
    let mut spans: Vec<(f64, f64)> = records
        .iter()
        .map(|r| {
            let start = time::OffsetDateTime::parse(
                &r.started_at,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            let start = start.unix_timestamp_nanos() as f64 / 1e6;
            (start, start + r.timings.wall_ms)
        })
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    // 1 ms of slack: wall_ms is rounded and starts a moment after started_at.
    spans.windows(2).any(|w| w[1].0 + 1.0 < w[0].1)
}

#[test]
fn parallel_workers_and_session_reuse_do_not_change_results() {
    if !require_browsers() {
        return;
    }
    let planned: Vec<(String, String)> = {
        let mut cmd = interop();
        cmd.arg("list");
        for s in SCENARIOS {
            cmd.args(["-s", s]);
        }
        let out = cmd.output().unwrap();
        let mut scenario = String::new();
        let mut v = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(p) = line.strip_prefix("    ") {
                v.push((scenario.clone(), p.split("  (").next().unwrap().to_string()));
            } else if !line.starts_with(' ') && line.contains(" [") {
                scenario = line.split(" [").next().unwrap().to_string();
            }
        }
        v
    };
    assert_eq!(planned.len(), 36);
    let tmp = tempfile::tempdir().unwrap();
    let (code1, one) = run(&tmp.path().join("j1"), &["-j", "1"]);
    let (code2, two) = run(&tmp.path().join("j2"), &["-j", "2"]);
    let (code3, fresh) = run(
        &tmp.path().join("j2-fresh"),
        &["-j", "2", "--no-session-reuse"],
    );
    // Plan order in the file, whatever order the runs ended in.
    let order: Vec<(String, String)> = cells(&one).into_iter().map(|(s, p, _)| (s, p)).collect();
    assert_eq!(order, planned, "-j 1 writes the plan's cells in plan order");
    assert_eq!(cells(&one), cells(&two), "-j 2 = -j 1");
    assert_eq!(cells(&one), cells(&fresh), "no session reuse = reuse");
    assert_eq!((code1, code2, code3), (Some(0), Some(0), Some(0)));
    // Two workers ran at once: runs overlap in time with -j 2, never with -j 1.
    assert!(!overlapping(&one), "-j 1 runs one at a time");
    assert!(overlapping(&two), "-j 2 runs two at a time");
    assert!(overlapping(&fresh));
    // Without reuse every browser peer of every run has a session of its own.
    let browser_peers: usize = fresh
        .iter()
        .map(|r| {
            [&r.offerer, &r.answerer]
                .iter()
                .filter(|i| i.name != "rust")
                .count()
        })
        .sum();
    let logs = std::fs::read_dir(tmp.path().join("j2-fresh/logs"))
        .unwrap()
        .count();
    assert_eq!(logs, browser_peers, "one driver log per browser session");
    let left = wait_no_leftovers(Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
