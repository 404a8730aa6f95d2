//! The shipped scenarios on all 9 pairings of {rust, chrome, firefox}, against real headless
//! Chromium and Firefox and the real Rust peer, through the harness binary itself.

mod common;

use common::*;
use interop_results::Outcome;

#[test]
fn shipped_scenarios_pass_on_all_nine_pairings() {
    if !require_browsers() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let output = interop()
        .args(["run", "--out"])
        .arg(out.path())
        .output()
        .expect("interop runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}\n{stdout}");

    let records = read_results(out.path());
    let scenarios = ["connect", "datachannel-echo"];
    assert_eq!(
        records.len(),
        scenarios.len() * 9,
        "one record per scenario x pairing"
    );
    let impls = ["rust", "chrome", "firefox"];
    for scenario in scenarios {
        for o in impls {
            for a in impls {
                let r = records
                    .iter()
                    .find(|r| r.scenario == scenario && r.offerer.name == o && r.answerer.name == a)
                    .unwrap_or_else(|| panic!("no record for {scenario} {o} -> {a}"));
                assert_eq!(
                    r.outcome,
                    Outcome::Pass,
                    "{scenario} {o} -> {a}: {:?} at {:?}",
                    r.reason,
                    r.failed_step
                );
                for imp in [&r.offerer, &r.answerer] {
                    assert_ne!(imp.version, "unknown", "{} reports its version", imp.name);
                }
                assert!(
                    r.timings.to_connected_ms.contains_key("offerer"),
                    "{scenario} {o} -> {a}: time to connected"
                );
                assert!(r.timings.to_connected_ms.contains_key("answerer"));
                if scenario == "datachannel-echo" {
                    assert!(r.timings.to_first_message_ms.contains_key("answerer"));
                }
                let dir = out.path().join(&r.artefacts);
                let transcript = std::fs::read_to_string(dir.join("transcript.jsonl")).unwrap();
                assert!(
                    transcript.contains("\"set_remote_description\""),
                    "signaling recorded"
                );
                assert!(
                    transcript.contains("\"ice_candidate\""),
                    "candidates recorded"
                );
            }
        }
    }
    assert_eq!(output.status.code(), Some(0), "all pass -> exit 0");
    assert!(stdout.contains("offerer \\ answerer"), "matrices printed");
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(summary.contains("## datachannel-echo (data-channels)"));
    assert!(summary.contains("18 runs: 18 pass"));
    let left = wait_no_leftovers(std::time::Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
