//! `interop bench`, one round on the Rust peer and Chromium (real runs): it prints and writes
//! every figure it promises. Only that they are there and come from passing runs is checked;
//! no figure is compared with a threshold (speed is measured, not asserted).

mod common;

use std::time::Duration;

use common::*;

#[test]
fn bench_prints_and_writes_every_figure() {
    if !require_browsers() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let output = interop()
        .args(["bench", "--rounds", "1", "-i", "rust,chrome", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("bench.json")).unwrap())
            .unwrap();
    assert_eq!(json["rounds"], 1);
    assert!(json["machine"].as_str().unwrap().contains("cores"));
    let not_passed = json["not_passed"].as_array().unwrap();
    assert!(
        not_passed.is_empty(),
        "every bench run passes: {not_passed:?}"
    );
    // One overhead figure per pairing, from real runs.
    assert_eq!(json["overhead"]["runs"], 4);
    assert!(json["overhead"]["median_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(
        json["overhead"]["per_pairing"].as_object().unwrap().len(),
        4
    );
    // What capture costs: both sides measured for every pairing, through the relay and (where
    // the harness may open a packet socket: always under CI, which runs as root) passively.
    let capture = json["capture"].as_array().unwrap();
    let passive = interop_harness::capture::Capture::passive_available().is_ok();
    assert!(passive || std::env::var("CI").as_deref() != Ok("true"));
    let ways: Vec<&str> = if passive {
        vec!["passive", "relay"]
    } else {
        vec!["relay"]
    };
    assert_eq!(capture.len(), 4 * ways.len());
    for way in &ways {
        assert_eq!(capture.iter().filter(|c| c["way"] == *way).count(), 4);
    }
    for r in capture {
        for key in [
            "throughput_mbps_with",
            "throughput_mbps_without",
            "throughput_cost_percent",
            "round_trip_ms_with",
            "round_trip_ms_without",
            "round_trip_added_ms",
        ] {
            assert!(r[key].is_number(), "{key} of {}", r["pairing"]);
        }
    }
    let ratios = json["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 1);
    assert_eq!(ratios[0]["stack"], "rust");
    assert_eq!(ratios[0]["browser"], "chrome");
    assert!(ratios[0]["sending_ratio"].as_f64().unwrap() > 0.0);
    assert!(ratios[0]["receiving_ratio"].as_f64().unwrap() > 0.0);
    // What it printed is what it wrote.
    let md = std::fs::read_to_string(tmp.path().join("bench.md")).unwrap();
    assert!(stdout.contains(&md));
    assert!(md.contains("Harness overhead per run"));
    assert!(md.contains("| rust -> chrome |"));
    let left = wait_no_leftovers(Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
