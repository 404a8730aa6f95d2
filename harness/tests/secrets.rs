//! Secrets never reach results, artefacts or reports: after real runs with a TURN credential
//! in a scenario, the harness's own TURN server (coturn, credential made up per run), control
//! tokens in every page and control URL (drivers log them), and a `--webdriver-url` carrying a
//! password, no file of the output folder - logs, transcripts, records, reports, captures -
//! and nothing the harness printed holds one of them.

mod common;

use std::path::Path;

use common::*;
use interop_results::Outcome;

const TURN_SECRET: &str = "TURN-SECRET-4321";
const WEBDRIVER_SECRET: &str = "WD-SECRET-8765";

/// Every file under `dir`, recursively, as (path, lossy text).
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into(),
            ));
        }
    }
    out
}

/// What follows each `marker` in `text` (up to 24 chars), for the ones that are not redacted.
fn unredacted_after(text: &str, marker: &str) -> Vec<String> {
    text.match_indices(marker)
        .map(|(i, _)| {
            let tail = &text[i + marker.len()..];
            tail.chars().take(24).collect::<String>()
        })
        .filter(|tail| {
            !(tail.starts_with("<redacted>")
                || tail.starts_with("\"<redacted>\"")
                || tail.starts_with("None"))
        })
        .collect()
}

/// The secrets found in `text`, described.
fn leaks(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for secret in [TURN_SECRET, WEBDRIVER_SECRET] {
        if text.contains(secret) {
            found.push(secret.to_string());
        }
    }
    for marker in ["token=", "\"credential\":", "credential: Some(", "--user="] {
        for tail in unredacted_after(text, marker) {
            found.push(format!("{marker}{tail}"));
        }
    }
    found
}

#[test]
fn no_secret_reaches_the_output_folder_or_the_terminal() {
    if !require_browsers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    std::fs::write(
        scenarios.join("secret-ice.yaml"),
        format!(
            "feature: basic-peer-connection
description: a TURN server with a credential in the configuration (unreachable; host candidates connect)
peers:
  alice: offerer
  bob: answerer
steps:
  - create_peer_connection:
      peer: both
      ice_servers:
        - {{ urls: [\"turn:127.0.0.1:59999\"], username: interop-user, credential: \"{TURN_SECRET}\" }}
  - create_data_channel: {{ peer: alice, label: chat }}
  - negotiate: {{ offerer: alice, answerer: bob }}
  - expect_connection_state: {{ peer: both, state: connected, timeout: 15s }}
"
        ),
    )
    .unwrap();
    // The shipped TURN scenario, over UDP only (the Rust peer has no TURN over TCP).
    let turn =
        std::fs::read_to_string(workspace_root().join("scenarios/connectivity/turn-relay.yaml"))
            .unwrap()
            .replace("transport: [udp, tcp]", "transport: [udp]");
    std::fs::write(scenarios.join("turn-relay.yaml"), turn).unwrap();
    let out = dir.path().join("out");
    let run = interop()
        .arg("run")
        .arg(&scenarios)
        .args([
            "-p",
            "rust:chrome",
            "-p",
            "firefox:rust",
            "-j",
            "1",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let mut printed = String::from_utf8_lossy(&run.stdout).to_string();
    printed.push_str(&String::from_utf8_lossy(&run.stderr));
    eprintln!("{printed}");
    let records = read_results(&out);
    assert_eq!(
        records.len(),
        4,
        "secret-ice and turn-relay (udp) on two pairings"
    );
    for r in &records {
        assert_eq!(
            r.outcome,
            Outcome::Pass,
            "{} {}: {:?}",
            r.scenario,
            r.pairing(),
            r.reason
        );
    }
    // A grid URL with a password: the session cannot start (nothing listens), and the
    // reason that says so names the URL without the password.
    let out_wd = dir.path().join("out-webdriver");
    let url = format!("chrome=http://grid-user:{WEBDRIVER_SECRET}@127.0.0.1:9/wd/hub");
    let wd = interop()
        .args([
            "run",
            "-s",
            "connect",
            "-p",
            "rust:chrome",
            "--webdriver-url",
            &url,
            "--out",
        ])
        .arg(&out_wd)
        .output()
        .unwrap();
    printed.push_str(&String::from_utf8_lossy(&wd.stdout));
    printed.push_str(&String::from_utf8_lossy(&wd.stderr));
    let failed = read_results(&out_wd);
    assert_eq!(failed[0].outcome, Outcome::Error);
    let reason = failed[0].reason.as_deref().unwrap_or("");
    assert!(
        reason.contains("grid-user:<redacted>@127.0.0.1:9"),
        "{reason}"
    );

    // The secrets were there to leak: the transcript shows where they were redacted.
    let transcripts: String = files(&out)
        .into_iter()
        .filter(|(p, _)| p.ends_with("transcript.jsonl"))
        .map(|(_, t)| t)
        .collect();
    assert!(transcripts.contains("\"credential\":\"<redacted>\""));
    let mut checked = 0;
    for (path, text) in files(&out).into_iter().chain(files(&out_wd)) {
        let found = leaks(&text);
        assert!(found.is_empty(), "{path} holds secrets: {found:?}");
        checked += 1;
    }
    assert!(checked > 30, "{checked} files checked");
    let found = leaks(&printed);
    assert!(
        found.is_empty(),
        "the terminal output holds secrets: {found:?}"
    );
}
