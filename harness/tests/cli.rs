//! The command line without browsers: validation errors, listing, help, setup errors.
//! A tripwire stands in for the browser and driver binaries so a test can prove that nothing
//! was launched: if anything ran it, a marker file appears.

mod common;

use std::path::Path;

use common::*;

/// Writes executable scripts that create `marker` when run, and returns their env overrides.
fn tripwire(dir: &Path) -> Vec<(String, String)> {
    let marker = dir.join("LAUNCHED");
    let mut env = Vec::new();
    for var in [
        "CHROMIUM_BINARY",
        "CHROMEDRIVER",
        "FIREFOX_BINARY",
        "GECKODRIVER",
    ] {
        let script = dir.join(var.to_lowercase());
        std::fs::write(
            &script,
            format!("#!/bin/sh\ntouch {}\nexit 1\n", marker.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        env.push((var.to_string(), script.display().to_string()));
    }
    env
}

const TYPO: &str = "harness/scenario/tests/fixtures/invalid/typo.yaml";

#[test]
fn validate_reports_a_misspelled_key_with_its_location_and_launches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = interop()
        .arg("validate")
        .arg(TYPO)
        .envs(tripwire(dir.path()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let fixture = std::fs::read_to_string(workspace_root().join(TYPO)).unwrap();
    // The misspelled key, and the line:column where it stands in the file.
    let (line_no, line) = fixture
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("tiemout"))
        .expect("the fixture misspells `timeout` as `tiemout`");
    let column = line.find("tiemout").unwrap() + 1;
    let location = format!("typo.yaml:{}:{column}", line_no + 1);
    assert!(
        stderr.contains(&location),
        "expected {location} in:\n{stderr}"
    );
    assert!(stderr.contains("tiemout"), "{stderr}");
    assert!(
        !dir.path().join("LAUNCHED").exists(),
        "validate launched a browser or driver"
    );
}

#[test]
fn run_with_an_invalid_scenario_launches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = interop()
        .args(["run", "scenarios", TYPO, "--out"])
        .arg(&out)
        .envs(tripwire(dir.path()))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!dir.path().join("LAUNCHED").exists());
    assert!(!out.join("results.jsonl").exists(), "no run started");
}

#[test]
fn run_with_an_invalid_expectation_file_launches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let expectations = dir.path().join("expectations");
    std::fs::create_dir(&expectations).unwrap();
    std::fs::write(
        expectations.join("rust.yaml"),
        "# a typo in a scenario name and in an outcome\n\
         datachannel-ech:\n  - { expected: fial, reason: r }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = interop()
        .args(["run", "--expectations"])
        .arg(&expectations)
        .arg("--out")
        .arg(&out)
        .envs(tripwire(dir.path()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("rust.yaml:3:"), "located: {stderr}");
    assert!(stderr.contains("unknown outcome `fial`"), "{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");
    assert!(!dir.path().join("LAUNCHED").exists());
    assert!(!out.join("results.jsonl").exists(), "no run started");

    // With the outcome fixed, the unknown scenario name is reported with a suggestion.
    std::fs::write(
        expectations.join("rust.yaml"),
        "datachannel-ech:\n  - { expected: fail, reason: r }\n",
    )
    .unwrap();
    let output = interop()
        .args(["validate", "scenarios", "--expectations"])
        .arg(&expectations)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("rust.yaml:1:"), "{stderr}");
    assert!(
        stderr.contains("datachannel-echo"),
        "did you mean: {stderr}"
    );
}

#[test]
fn validate_accepts_the_shipped_scenarios() {
    let output = interop().arg("validate").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok  connect"), "{stdout}");
    assert!(stdout.contains("ok  datachannel-echo"), "{stdout}");
}

#[test]
fn list_shows_every_pairing_and_honours_filters() {
    let output = interop().arg("list").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    // Every scenario (a line starting with its name) on all 9 pairings.
    let scenarios = stdout
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphanumeric()) && l.contains(" ["))
        .count();
    assert!(scenarios >= 16, "{stdout}");
    assert!(
        stdout.contains(&format!("\n{} runs", scenarios * 9)),
        "{stdout}"
    );
    assert!(stdout.contains("firefox -> rust"));
    // Cells with an expected non-pass outcome say so, with the entry's location.
    assert!(
        stdout.contains("(expected: unsupported, scenarios/expectations/rust.yaml:"),
        "{stdout}"
    );
    let output = interop()
        .args(["list", "-s", "connect", "--pairing", "rust:chrome"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("rust -> chrome") && stdout.contains("1 runs"),
        "{stdout}"
    );
    let output = interop().args(["list", "-i", "safari"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown implementation `safari`"));
}

#[test]
fn a_missing_browser_is_a_setup_error_naming_the_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let output = interop()
        .args(["run", "--pairing", "rust:chrome", "--out"])
        .arg(dir.path().join("out"))
        .env("CHROMIUM_BINARY", dir.path().join("no-such-chromium"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("apt-get install -y chromium chromium-driver"),
        "{stderr}"
    );
}

#[test]
fn help_explains_commands_and_exit_codes() {
    let output = interop().arg("--help").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    for needle in ["run", "list", "validate", "Exit codes", "130"] {
        assert!(stdout.contains(needle), "--help lacks {needle}:\n{stdout}");
    }
    let output = interop().args(["run", "--help"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--out",
        "--scenario",
        "--impl",
        "--pairing",
        "--webdriver-url",
    ] {
        assert!(stdout.contains(needle), "run --help lacks {needle}");
    }
}
