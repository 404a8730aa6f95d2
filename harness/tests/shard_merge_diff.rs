//! Across runs: `--shard i/n` splits the matrix, `merge` combines results folders, `diff`
//! compares two of them, `report` renders a folder. The shards and the full run are real runs
//! (the `connect` scenario on 9 pairings, real Chromium, Firefox and Rust peers).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use interop_results::{Outcome, RunRecord};

fn cells(records: &[RunRecord]) -> BTreeSet<(String, String)> {
    records
        .iter()
        .map(|r| (r.scenario.clone(), r.pairing()))
        .collect()
}

fn listed(args: &[&str]) -> Vec<String> {
    let output = interop().arg("list").args(args).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut scenario = String::new();
    let mut cells = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(pairing) = line.strip_prefix("    ") {
            let pairing = pairing.split("  (").next().unwrap();
            cells.push(format!("{scenario} {pairing}"));
        } else if !line.starts_with(' ') && line.contains(" [") {
            scenario = line.split(" [").next().unwrap().to_string();
        }
    }
    cells
}

/// Shards of the whole default suite, as planned: disjoint, together exactly the full plan.
#[test]
fn shards_of_the_default_suite_cover_it_exactly_once() {
    let full = listed(&[]);
    assert!(full.len() > 500, "the default suite: {}", full.len());
    for n in [2, 3] {
        let mut union = Vec::new();
        for i in 1..=n {
            let part = listed(&["--shard", &format!("{i}/{n}")]);
            assert!(part.iter().all(|c| !union.contains(c)), "{i}/{n} overlaps");
            union.extend(part);
        }
        union.sort();
        let mut sorted = full.clone();
        sorted.sort();
        assert_eq!(union, sorted, "{n} shards cover the plan");
    }
    let bad = interop().args(["list", "--shard", "3/2"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected i/n"));
}

fn run_connect(out: &Path, shard: Option<&str>) -> Vec<RunRecord> {
    let mut cmd = interop();
    cmd.args(["run", "-s", "connect", "--out"]).arg(out);
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    let output = cmd.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    read_results(out)
}

#[test]
fn two_shards_merged_equal_the_full_run_and_diff_finds_one_changed_cell() {
    if !require_browsers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (one, two, full, merged) = (
        dir.path().join("shard-1"),
        dir.path().join("shard-2"),
        dir.path().join("full"),
        dir.path().join("merged"),
    );
    let a = run_connect(&one, Some("1/2"));
    let b = run_connect(&two, Some("2/2"));
    let f = run_connect(&full, None);
    assert_eq!(f.len(), 9);
    assert_eq!(a.len() + b.len(), 9, "shards split the 9 cells");
    assert!(cells(&a).is_disjoint(&cells(&b)));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(one.join("run_info.json")).unwrap()).unwrap();
    assert_eq!(info["shard"], "1/2");
    assert!(info["ended_at"].is_string());
    assert_eq!(info["implementations"].as_array().unwrap().len(), 3);

    // merge: the union of the shards, with their artefacts, run_info of both, and reports.
    let output = interop()
        .arg("merge")
        .args([&one, &two])
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let m = read_results(&merged);
    assert_eq!(
        cells(&m),
        cells(&f),
        "merge of the shards = the full run's cells"
    );
    for r in &m {
        let twin = f
            .iter()
            .find(|x| x.scenario == r.scenario && x.pairing() == r.pairing())
            .unwrap();
        assert_eq!(r.outcome, twin.outcome, "{} {}", r.scenario, r.pairing());
        assert!(
            merged.join(&r.artefacts).join("transcript.jsonl").is_file(),
            "artefacts of {} came along",
            r.pairing()
        );
    }
    let infos: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("run_info.json")).unwrap())
            .unwrap();
    assert_eq!(infos.as_array().map(Vec::len), Some(2));
    for file in ["summary.md", "index.html", "junit.xml", "bcd.json"] {
        assert!(merged.join(file).is_file(), "merge renders {file}");
    }

    // diff: the same cells and outcomes -> no change, exit 0.
    let same = interop()
        .args(["diff"])
        .args([&full, &merged])
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0), "{same:?}");
    assert!(String::from_utf8_lossy(&same.stdout).contains("0 changed cells"));

    // One cell differs: NEW has chrome -> firefox timing out. Exactly that cell is reported,
    // as a regression, and the exit code says so.
    let changed = dir.path().join("changed");
    std::fs::create_dir_all(&changed).unwrap();
    let text = std::fs::read_to_string(full.join("results.jsonl")).unwrap();
    let edited: Vec<String> = text
        .lines()
        .map(|line| {
            let mut r: RunRecord = serde_json::from_str(line).unwrap();
            if r.pairing() == "chrome -> firefox" {
                r.outcome = Outcome::Timeout;
                r.reason = Some("bob (firefox): timed out".into());
            }
            serde_json::to_string(&r).unwrap()
        })
        .collect();
    std::fs::write(changed.join("results.jsonl"), edited.join("\n") + "\n").unwrap();
    let regression = interop()
        .args(["diff"])
        .args([&full, &changed])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&regression.stdout);
    assert_eq!(regression.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("Regressions (1):\n  connect (chrome -> firefox): pass -> timeout\n")
    );
    assert!(stdout.contains("1 changed cell: 1 regression"), "{stdout}");
    // The other way round it is a fix, not a regression.
    let fix = interop()
        .args(["diff"])
        .args([&changed, &full])
        .output()
        .unwrap();
    assert_eq!(fix.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&fix.stdout).starts_with("Fixes (1):"));

    // report re-renders a folder elsewhere, linking its artefacts relatively.
    let report = dir.path().join("report");
    let output = interop()
        .arg("report")
        .arg(&merged)
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("../merged/runs/connect/"), "artefact links");
    let junit = std::fs::read_to_string(report.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 9);

    let missing = interop()
        .args(["report"])
        .arg(dir.path().join("nothing"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("results.jsonl"));
    let left = wait_no_leftovers(std::time::Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
