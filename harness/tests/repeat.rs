//! `--repeat N`: every cell runs N times against real peers, each run a record of its own with
//! its own artefact folder, in plan order repeat after repeat; the summaries count each cell's
//! outcomes (the flake rate), and `report` renders the same from results.jsonl.

mod common;

use std::time::Duration;

use common::*;
use interop_results::Outcome;

#[test]
fn repeat_runs_every_cell_n_times_with_artefacts_and_counts_per_cell() {
    if !require_browsers() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let output = interop()
        .args([
            "run",
            "-s",
            "datachannel-echo",
            "-p",
            "rust:rust",
            "-p",
            "rust:chrome",
            "--repeat",
            "3",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0));
    let records = read_results(out.path());
    // The whole plan once per repeat, in plan order.
    let order: Vec<(String, Option<u32>)> =
        records.iter().map(|r| (r.pairing(), r.repeat)).collect();
    let want: Vec<(String, Option<u32>)> = (1..=3)
        .flat_map(|k| {
            [
                ("rust -> rust".to_string(), Some(k)),
                ("rust -> chrome".into(), Some(k)),
            ]
        })
        .collect();
    assert_eq!(order, want);
    for r in &records {
        assert_eq!(
            r.outcome,
            Outcome::Pass,
            "{} #{:?}: {:?}",
            r.pairing(),
            r.repeat,
            r.reason
        );
        let k = r.repeat.unwrap();
        assert!(
            r.artefacts.ends_with(&format!("/repeat-{k}")),
            "{}",
            r.artefacts
        );
        let dir = out.path().join(&r.artefacts);
        assert!(dir.join("transcript.jsonl").is_file(), "{}", dir.display());
    }
    // Counts per cell, in the terminal and in summary.md.
    let line = "repeats: 2 cells x 3 runs: 0 flaky cells (0.0 %); 0 of 6 runs (0.00 %) differ \
                from their cell's most frequent outcome";
    assert!(stdout.contains(line), "{stdout}");
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!("## Flaky cells\n\n{line}.")),
        "{summary}"
    );
    // `report` renders the same from the results folder.
    let report = interop().arg("report").arg(out.path()).output().unwrap();
    assert_eq!(report.status.code(), Some(0));
    let html = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(html.contains("<section id=\"flaky\">"));
    let left = wait_no_leftovers(Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
