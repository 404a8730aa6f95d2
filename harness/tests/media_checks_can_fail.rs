//! The media checks can fail: media that does not flow, or flows where it must not, makes
//! the run a non-pass. Each case is a shipped media scenario with one line changed so that the
//! media it checks is never sent (a track never added, a direction that never sends) or is
//! sent where none must arrive, run against real peers: the Rust peer (rust -> rust) and
//! Chromium (chrome -> chrome), both of which pass the unchanged scenarios.

mod common;

use common::*;
use interop_results::Outcome;

/// (scenario file, line to replace, replacement): each change stops or misdirects media.
const CASES: &[(&str, &str, &str)] = &[
    // The track is never added: the offerer's transceiver only receives.
    (
        "media-direction-sendonly.yaml",
        "  - add_media: { peer: alice, name: cam, kind: video, direction: sendonly }",
        "  - add_media: { peer: alice, name: cam, kind: video, direction: inactive }",
    ),
    // The answerer never attaches its tracks: nothing comes back to the offerer.
    (
        "media-audio-video.yaml",
        "  - add_media: { peer: bob, name: cam-back, kind: video }",
        "  - add_media: { peer: bob, name: cam-back, kind: video, direction: recvonly }",
    ),
    // Media flows both ways, but the scenario says none may arrive.
    (
        "media-direction-inactive.yaml",
        "  - add_media: { peer: bob, name: cam-back, kind: video, direction: inactive }",
        "  - add_media: { peer: bob, name: cam-back, kind: video }",
    ),
];

#[test]
fn media_checks_fail_when_media_does_not_flow() {
    if !require_browsers() {
        return;
    }
    let broken = tempfile::tempdir().unwrap();
    let source = workspace_root().join("scenarios/media");
    for (file, line, replacement) in CASES {
        let text = std::fs::read_to_string(source.join(file)).unwrap();
        assert_eq!(
            text.matches(line).count(),
            1,
            "{file} has the line to change exactly once"
        );
        let name = format!("broken-{}", file.trim_end_matches(".yaml"));
        let changed = text.replace(line, replacement);
        let changed = format!("name: {name}\n{changed}");
        std::fs::write(broken.path().join(format!("{name}.yaml")), changed).unwrap();
    }

    let out = tempfile::tempdir().unwrap();
    let output = interop()
        .arg("run")
        .arg(broken.path())
        .args([
            "--pairing",
            "rust:rust",
            "--pairing",
            "chrome:chrome",
            "--out",
        ])
        .arg(out.path())
        .output()
        .expect("interop runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let records = read_results(out.path());
    assert_eq!(
        records.len(),
        CASES.len() * 2,
        "one run per case and pairing"
    );
    for r in &records {
        let who = format!("{} {} -> {}", r.scenario, r.offerer.name, r.answerer.name);
        assert!(
            matches!(r.outcome, Outcome::Fail | Outcome::Timeout),
            "{who}: media that does not flow as checked must not pass (outcome {})",
            r.outcome
        );
        let step = r.failed_step.as_ref().expect("names the step");
        assert!(
            step.step.starts_with("expect media") || step.step.starts_with("expect no media"),
            "{who}: fails at the media check, not before: {}",
            step.step
        );
        let reason = r.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("packets") || reason.contains("RTP"),
            "{who}: the reason says what arrived: {reason}"
        );
    }
    assert_eq!(
        output.status.code(),
        Some(1),
        "unexpected results -> exit 1"
    );
    let left = wait_no_leftovers(std::time::Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
