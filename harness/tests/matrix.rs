//! The shipped suite (scenarios/, with its expectation files) on all 9 pairings of
//! {rust, chrome, firefox}, against real headless Chromium and Firefox and the real Rust peer,
//! through the harness binary itself - exactly what `cargo run --release -- run` does.

mod common;

use std::collections::BTreeSet;

use common::*;
use interop_results::{Outcome, RunRecord};

const IMPLS: [&str; 3] = ["rust", "chrome", "firefox"];

/// Negative scenarios: they pass when a connection does *not* come up (a tampered fingerprint
/// must fail it) or is never attempted (a description that must be rejected), so the checks of
/// a connected run do not apply to them.
const NEGATIVE: [&str; 3] = [
    "dtls-fingerprint-mismatch",
    "sdp-rejected",
    "rtcp-mux-required",
];

fn is_negative(scenario: &str) -> bool {
    let base = scenario.split('[').next().unwrap_or(scenario);
    NEGATIVE.contains(&base)
}

fn find<'a>(records: &'a [RunRecord], scenario: &str, o: &str, a: &str) -> &'a RunRecord {
    records
        .iter()
        .find(|r| r.scenario == scenario && r.offerer.name == o && r.answerer.name == a)
        .unwrap_or_else(|| panic!("no record for {scenario} {o} -> {a}"))
}

#[test]
fn shipped_suite_runs_on_all_nine_pairings_as_expected() {
    if !require_browsers() {
        return;
    }
    // Kept after the test (in the target folder) so a failure's artefacts can be read; the
    // next run of the test starts it afresh.
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("matrix-test-out");
    let _ = std::fs::remove_dir_all(&out);
    let output = interop()
        .args(["run", "--out"])
        .arg(out.as_path())
        .output()
        .expect("interop runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}\n{stdout}");

    let records = read_results(out.as_path());
    let scenarios: BTreeSet<&str> = records.iter().map(|r| r.scenario.as_str()).collect();
    let data_channel: Vec<&str> = scenarios
        .iter()
        .copied()
        .filter(|s| s.starts_with("datachannel-"))
        .collect();
    assert!(scenarios.contains("connect"));
    assert!(
        data_channel.len() >= 15,
        "the data channel suite runs: {data_channel:?}"
    );
    assert_eq!(
        records.len(),
        scenarios.len() * 9,
        "one record per scenario x pairing"
    );

    for scenario in &scenarios {
        for o in IMPLS {
            for a in IMPLS {
                let r = find(&records, scenario, o, a);
                // Every result is the expected one; a non-pass is expected only with a reason.
                assert!(
                    !r.is_unexpected(),
                    "{scenario} {o} -> {a}: {} but expected {}: {:?} at {:?}",
                    r.outcome,
                    r.expected,
                    r.reason,
                    r.failed_step
                );
                if r.outcome != Outcome::Pass {
                    let e = r.expectation.as_ref().unwrap_or_else(|| {
                        panic!("{scenario} {o} -> {a}: non-pass without expectation")
                    });
                    assert!(!e.reason.trim().is_empty());
                    assert!(e.source.contains("scenarios/expectations/"), "{}", e.source);
                    assert!(r.reason.as_deref().is_some_and(|s| !s.is_empty()));
                }
                for imp in [&r.offerer, &r.answerer] {
                    assert_ne!(imp.version, "unknown", "{} reports its version", imp.name);
                }
                let dir = out.as_path().join(&r.artefacts);
                let transcript = std::fs::read_to_string(dir.join("transcript.jsonl")).unwrap();
                if r.outcome == Outcome::Pass && is_negative(scenario) {
                    // Passing a negative scenario is proven by what refused the session: the
                    // recorded rejection, or the victim's `failed` connection state.
                    let refused = if scenario.starts_with("dtls-fingerprint-mismatch") {
                        transcript
                            .contains("{\"state\":\"failed\",\"type\":\"connection_state_change\"}")
                    } else {
                        r.observed.contains_key("answerer.rejection")
                    };
                    assert!(refused, "{scenario} {o} -> {a}: how it was refused");
                } else if r.outcome == Outcome::Pass {
                    assert!(
                        r.timings.to_connected_ms.contains_key("offerer")
                            && r.timings.to_connected_ms.contains_key("answerer"),
                        "{scenario} {o} -> {a}: time to connected"
                    );
                    assert!(transcript.contains("\"set_remote_description\""));
                    assert!(transcript.contains("\"ice_candidate\""));
                }
            }
        }
    }

    // Chromium against itself passes every data channel scenario (the suite's checks are
    // satisfiable; checks_can_fail.rs relies on it), and a browser-browser cell that does not
    // pass is a browser's own bug, listed in that browser's expectation file (not hidden
    // behind the Rust peer's).
    for scenario in &data_channel {
        let r = find(&records, scenario, "chrome", "chrome");
        assert_eq!(r.outcome, Outcome::Pass, "{scenario} chrome -> chrome");
        for o in ["chrome", "firefox"] {
            for a in ["chrome", "firefox"] {
                let r = find(&records, scenario, o, a);
                if r.outcome != Outcome::Pass {
                    let source = &r.expectation.as_ref().unwrap().source;
                    assert!(
                        source.contains("chrome.yaml") || source.contains("firefox.yaml"),
                        "{scenario} {o} -> {a}: a browser-browser non-pass listed in {source}"
                    );
                }
            }
        }
    }

    // What the suite measures and records.
    for o in IMPLS {
        for a in IMPLS {
            let bulk = find(&records, "datachannel-bulk", o, a);
            if bulk.outcome == Outcome::Pass {
                let mbps = bulk.timings.throughput_mbps.get("offerer bulk");
                assert!(mbps.is_some_and(|v| *v > 0.0), "{o} -> {a}: throughput");
            }
            let ordered = find(&records, "datachannel-ordered", o, a);
            if ordered.outcome == Outcome::Pass {
                assert!(ordered.timings.round_trip_ms.contains_key("offerer"));
                assert!(ordered.timings.channel_open_ms.contains_key("offerer"));
            }
            let sizes = find(&records, "datachannel-message-sizes", o, a);
            for role in ["offerer", "answerer"] {
                assert!(
                    sizes
                        .observed
                        .contains_key(&format!("{role}.max_message_size")),
                    "{o} -> {a}: {role}'s max-message-size recorded"
                );
                assert!(sizes.observed.contains_key(&format!("{role}.dtls_role")));
            }
        }
    }
    // What each pairing negotiated, normalised (no ports, credentials, fingerprints, times):
    // a browser or crate upgrade that changes negotiation shows up as a snapshot diff to
    // review with `cargo insta review`.
    for o in IMPLS {
        for a in IMPLS {
            let r = find(&records, "datachannel-echo", o, a);
            let path = out.as_path().join(&r.artefacts).join("negotiation.json");
            let text = std::fs::read_to_string(&path).expect("negotiation.json");
            let negotiation: serde_json::Value = serde_json::from_str(&text).unwrap();
            insta::assert_json_snapshot!(
                format!("negotiation-datachannel-echo-{o}-{a}"),
                negotiation
            );
        }
    }

    // Media: the suite runs, what arrived is recorded from the receivers' own reports, and
    // the negotiated codecs / RTCP feedback / header extensions of each pairing are snapshot.
    let media: Vec<&str> = scenarios
        .iter()
        .copied()
        .filter(|s| s.starts_with("media-"))
        .collect();
    assert!(media.len() >= 15, "the media suite runs: {media:?}");
    for o in IMPLS {
        for a in IMPLS {
            let call = find(&records, "media-audio-video", o, a);
            assert_eq!(call.outcome, Outcome::Pass, "audio and video {o} -> {a}");
            for (role, name) in [("answerer", "cam"), ("offerer", "cam-back")] {
                let key = format!("{role} {name}");
                assert!(
                    call.timings.first_rtp_ms.contains_key(&key),
                    "{o} -> {a}: {key}"
                );
                assert!(
                    call.timings.first_frame_ms.contains_key(&key),
                    "{o} -> {a}: {key}"
                );
                let seen = &call.observed[&format!("{role}.received.{name}")];
                assert!(
                    seen[0]["frames"].as_u64().is_some_and(|f| f >= 15),
                    "{seen}"
                );
                assert!(seen[0]["codec"]
                    .as_str()
                    .is_some_and(|c| c.eq_ignore_ascii_case("video/VP8")));
            }
            let extensions = call
                .observed
                .iter()
                .filter(|(k, _)| k.starts_with("answer.media."))
                .filter_map(|(_, v)| v["header_extensions"].as_array())
                .count();
            assert_eq!(
                extensions, 2,
                "{o} -> {a}: header extensions of both m-lines recorded"
            );
            for peer in ["alice", "bob"] {
                let path = out
                    .as_path()
                    .join(&call.artefacts)
                    .join(format!("media-{peer}.json"));
                let report: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).expect("media report"))
                        .unwrap();
                let sent: u64 = report["transceivers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|t| t["sent"].as_array().cloned().unwrap_or_default())
                    .map(|s| s["packets"].as_u64().unwrap_or(0))
                    .sum();
                assert!(sent > 0, "{o} -> {a}: {peer} sent media");
            }
            let path = out.as_path().join(&call.artefacts).join("negotiation.json");
            let negotiation: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let features = serde_json::json!({
                "offer": negotiation["offer"]["features"],
                "answer": negotiation["answer"]["features"],
            });
            insta::assert_json_snapshot!(
                format!("negotiation-media-audio-video-{o}-{a}"),
                features
            );
        }
    }
    // The Rust peer receives every simulcast layer a browser sends.
    for o in ["chrome", "firefox"] {
        let r = find(&records, "media-simulcast", o, "rust");
        assert_eq!(r.outcome, Outcome::Pass, "simulcast {o} -> rust");
    }
    // Browsers decode what the Rust peer sends, in every video codec they have.
    for codec in ["vp8", "vp9", "av1"] {
        for (o, a) in [
            ("rust", "chrome"),
            ("chrome", "rust"),
            ("rust", "firefox"),
            ("firefox", "rust"),
        ] {
            let r = find(&records, &format!("media-codec-{codec}"), o, a);
            assert_eq!(r.outcome, Outcome::Pass, "{codec} {o} -> {a}");
        }
    }

    // Connectivity: a parameterised scenario expands into one cell per variant and pairing,
    // each record carrying its parameters; a TURN cell that passes shows a `relay` local
    // candidate in the selected pair of *both* peers' own getStats; an ICE restart that
    // passes changed the ICE credentials on both sides.
    for transport in ["udp", "tcp"] {
        let name = format!("turn-relay[transport={transport}]");
        for o in IMPLS {
            for a in IMPLS {
                let r = find(&records, &name, o, a);
                assert_eq!(
                    r.parameters.get("transport").map(String::as_str),
                    Some(transport)
                );
                if r.outcome == Outcome::Pass {
                    for role in ["offerer", "answerer"] {
                        let pair = &r.observed[&format!("{role}.selected_pair")];
                        assert_eq!(pair["local"], "relay", "{name} {o} -> {a} {role}: {pair}");
                    }
                }
            }
        }
    }
    let restarts: Vec<&RunRecord> = records
        .iter()
        .filter(|r| r.scenario.starts_with("ice-restart[") && r.outcome == Outcome::Pass)
        .collect();
    assert!(restarts.len() >= 9, "ICE restart passes on most pairings");
    for r in restarts {
        for role in ["offerer", "answerer"] {
            let ufrag = &r.observed[&format!("{role}.ice_ufrag")];
            assert_ne!(ufrag["first"], ufrag["now"], "{}: {ufrag}", r.scenario);
        }
    }
    let rejected = find(
        &records,
        "sdp-rejected[attribute=fingerprint]",
        "chrome",
        "firefox",
    );
    assert!(rejected.observed.contains_key("answerer.rejection"));

    // A capability the Rust peer lacks is `unsupported` with its SDP as evidence, never a pass.
    let large = find(&records, "datachannel-large-messages", "chrome", "rust");
    assert_eq!(large.outcome, Outcome::Unsupported);
    assert!(
        large
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("a=max-message-size:65536")),
        "{:?}",
        large.reason
    );

    assert_eq!(
        output.status.code(),
        Some(0),
        "no unexpected result -> exit 0"
    );
    assert!(stdout.contains("offerer \\ answerer"), "matrices printed");
    let summary = std::fs::read_to_string(out.as_path().join("summary.md")).unwrap();
    assert!(summary.contains("## datachannel-bulk (data-channels)"));
    assert!(summary.contains("## Unexpected results\n\nNone"));
    assert!(summary.contains(&format!("{} runs: ", records.len())));
    assert!(summary.contains("## The seed's table"));
    // Every report of the run, from the same records: one JUnit testcase per cell, none
    // failed (no unexpected result); run_info names the three implementations it saw.
    let junit = std::fs::read_to_string(out.as_path().join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), records.len());
    let suites = junit
        .lines()
        .find(|l| l.starts_with("<testsuites "))
        .unwrap();
    assert!(suites.contains(" failures=\"0\" errors=\"0\""), "{suites}");
    let html = std::fs::read_to_string(out.as_path().join("index.html")).unwrap();
    assert_eq!(html.matches(" data-scenario=").count(), records.len());
    let bcd: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.as_path().join("bcd.json")).unwrap())
            .unwrap();
    assert!(bcd["webrtc_interop"]["data-channels"]["__compat"]["support"]["chrome"].is_array());
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.as_path().join("run_info.json")).unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = info["implementations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rust", "chrome", "firefox"]);
    assert!(info["ended_at"].is_string());
    let left = wait_no_leftovers(std::time::Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
