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

/// `interop validate PATH`, which must exit 0; its stdout.
fn validate_ok(path: impl AsRef<std::ffi::OsStr>) -> String {
    let output = interop().arg("validate").arg(path).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

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
    for needle in ["run", "list", "validate", "Exit codes", "CI=true"] {
        assert!(stdout.contains(needle), "--help lacks {needle}:\n{stdout}");
    }
    // The codes come from the contract crate's one list, all of them.
    for (code, _) in interop_results::exit_code::ALL {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("  {code:<4} "))),
            "--help lacks exit code {code}:\n{stdout}"
        );
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

/// The expectation files shipped in scenarios/expectations, as `validate` and `run` name them.
const SHIPPED_EXPECTATIONS: &str = "expectations: scenarios/expectations/chrome.yaml, \
     scenarios/expectations/firefox.yaml, scenarios/expectations/rust.yaml";

#[test]
fn validate_of_a_scenario_folder_applies_the_expectations_up_the_tree() {
    let output = interop()
        .args(["validate", "scenarios/data-channels"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    // The entries about scenarios outside data-channels/ (media, connectivity) are not
    // unknown names just because those scenarios were not selected.
    assert!(stdout.contains("ok  datachannel-echo"), "{stdout}");
    assert!(
        !stdout.contains("ok  connect "),
        "only data-channels: {stdout}"
    );
    assert!(
        stdout.lines().any(|l| l == SHIPPED_EXPECTATIONS),
        "{stdout}"
    );
    assert!(
        stdout.contains(" expectations\n"),
        "ok  N expectations: {stdout}"
    );
}

#[test]
fn a_single_scenario_file_finds_the_expectations_of_its_tree() {
    let file = "scenarios/data-channels/datachannel-max-retransmits.yaml";
    let output = interop().args(["validate", file]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.lines().any(|l| l == SHIPPED_EXPECTATIONS),
        "{stdout}"
    );

    // `list` shows the plan with expected outcomes and launches nothing: the Rust peer's
    // known non-pass as answerer (scenarios/expectations/rust.yaml) applies to this file too.
    let rust_yaml =
        std::fs::read_to_string(workspace_root().join("scenarios/expectations/rust.yaml")).unwrap();
    let key = rust_yaml
        .lines()
        .position(|l| l == "datachannel-max-retransmits:")
        .expect("rust.yaml has an entry for datachannel-max-retransmits");
    let expected = rust_yaml.lines().nth(key + 2).unwrap().trim();
    assert_eq!(
        expected, "expected: fail",
        "the entry changed: update this test"
    );
    let dir = tempfile::tempdir().unwrap();
    let output = interop()
        .args(["list", file, "-p", "rust:rust"])
        .envs(tripwire(dir.path()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let cell = format!(
        "    rust -> rust  (expected: fail, scenarios/expectations/rust.yaml:{})",
        key + 2
    );
    assert!(stdout.lines().any(|l| l == cell), "{cell} in:\n{stdout}");
    assert!(stdout.contains("\n1 runs"), "{stdout}");
    assert!(
        stderr.lines().any(|l| l == SHIPPED_EXPECTATIONS),
        "{stderr}"
    );
    assert!(!dir.path().join("LAUNCHED").exists());

    // `run` says which files apply before anything starts (here it stops at the missing
    // browser of the pairing asked for).
    let output = interop()
        .args(["run", file, "-p", "rust:chrome", "--out"])
        .arg(dir.path().join("out"))
        .env("CHROMIUM_BINARY", dir.path().join("no-such-chromium"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let named = lines.iter().position(|l| *l == SHIPPED_EXPECTATIONS);
    let error = lines.iter().position(|l| l.starts_with("error:"));
    assert!(
        named.is_some() && named < error,
        "the files are named before the setup error:\n{stderr}"
    );
}

#[test]
fn an_explicit_expectations_folder_is_used_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let expectations = dir.path().join("mine");
    std::fs::create_dir(&expectations).unwrap();
    std::fs::write(
        expectations.join("rust.yaml"),
        "# a scenario that does not exist\n\
         datachannel-echo:\n  - { as: answerer, expected: fail, reason: r }\n\
         datachannel-max-retransmit:\n  - { expected: fail, reason: r }\n",
    )
    .unwrap();
    let output = interop()
        .args(["validate", "scenarios/data-channels", "--expectations"])
        .arg(&expectations)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stdout}\n{stderr}");
    let location = format!("{}:4:1", expectations.join("rust.yaml").display());
    assert!(stderr.contains(&location), "{location} in:\n{stderr}");
    assert!(
        stderr.contains("unknown scenario `datachannel-max-retransmit`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("datachannel-max-retransmits"),
        "did you mean: {stderr}"
    );
    assert!(stderr.contains("nothing was run"), "{stderr}");
    assert!(!stdout.contains("expectations:"), "{stdout}");

    // Fixed, the folder given replaces the shipped one: only its file applies.
    std::fs::write(
        expectations.join("rust.yaml"),
        "datachannel-echo:\n  - { as: answerer, expected: fail, reason: r }\n",
    )
    .unwrap();
    let output = interop()
        .args(["validate", "scenarios/data-channels", "--expectations"])
        .arg(&expectations)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = format!("expectations: {}", expectations.join("rust.yaml").display());
    assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");
    assert!(stdout.contains("ok  1 expectations"), "{stdout}");
}

#[test]
fn a_tree_without_expectations_says_none_were_found() {
    let dir = tempfile::tempdir().unwrap();
    // Its own git checkout, so the search stops there whatever lies above the temp folder.
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let tree = dir.path().join("scenarios");
    std::fs::create_dir_all(tree.join("basic")).unwrap();
    std::fs::copy(
        workspace_root().join("scenarios/basic/connect.yaml"),
        tree.join("basic/connect.yaml"),
    )
    .unwrap();
    let stdout = validate_ok(tree.join("basic"));
    assert!(stdout.contains("ok  connect"), "{stdout}");
    let line = format!(
        "expectations: none found (looked up from {})",
        tree.join("basic").display()
    );
    assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");

    // An expectations folder at the top of that tree applies to its sub-folders.
    std::fs::create_dir(tree.join("expectations")).unwrap();
    std::fs::write(
        tree.join("expectations/firefox.yaml"),
        "connect:\n  - { with: chrome, expected: timeout, reason: r }\n",
    )
    .unwrap();
    let stdout = validate_ok(tree.join("basic"));
    assert!(
        stdout.contains("expectations: ") && stdout.contains("expectations/firefox.yaml"),
        "{stdout}"
    );

    // Its entries are checked against every scenario of the tree, not only those selected:
    // one about a scenario in another sub-folder is fine, a misspelled one is located.
    std::fs::create_dir(tree.join("data")).unwrap();
    std::fs::copy(
        workspace_root().join("scenarios/data-channels/datachannel-echo.yaml"),
        tree.join("data/datachannel-echo.yaml"),
    )
    .unwrap();
    std::fs::write(
        tree.join("expectations/rust.yaml"),
        "datachannel-echo:\n  - { with: firefox, expected: fail, reason: r }\n",
    )
    .unwrap();
    let stdout = validate_ok(tree.join("basic"));
    assert!(stdout.contains("ok  2 expectations"), "{stdout}");
    assert!(!stdout.contains("ok  datachannel-echo"), "{stdout}");
    std::fs::write(
        tree.join("expectations/rust.yaml"),
        "datachannel-ehco:\n  - { with: firefox, expected: fail, reason: r }\n",
    )
    .unwrap();
    let output = interop()
        .args(["validate"])
        .arg(tree.join("basic"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("rust.yaml:1:1"), "located: {stderr}");
    assert!(
        stderr.contains("unknown scenario `datachannel-ehco`")
            && stderr.contains("did you mean `datachannel-echo`"),
        "{stderr}"
    );

    // A broken scenario file elsewhere in the tree does not stop the selected ones; an entry
    // about it is reported as unknown, with a note saying why.
    std::fs::copy(workspace_root().join(TYPO), tree.join("data/typo.yaml")).unwrap();
    std::fs::write(
        tree.join("expectations/rust.yaml"),
        "datachannel-echo:\n  - { with: firefox, expected: fail, reason: r }\n",
    )
    .unwrap();
    let output = interop()
        .args(["validate"])
        .arg(tree.join("basic"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(
        tree.join("expectations/rust.yaml"),
        "typo:\n  - { with: firefox, expected: fail, reason: r }\n",
    )
    .unwrap();
    let output = interop()
        .args(["validate"])
        .arg(tree.join("basic"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("unknown scenario `typo`"), "{stderr}");
    assert!(
        stderr.contains("note: 1 scenario file under ") && stderr.contains("could not be loaded"),
        "{stderr}"
    );
}

/// The README's exit-code table is the contract crate's list, code for code and word for word.
#[test]
fn readme_exit_codes_are_the_contract_crates() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let section = readme
        .split("### Exit codes")
        .nth(1)
        .expect("README has an Exit codes section");
    let rows: Vec<(i32, String)> = section
        .lines()
        .skip_while(|l| !l.starts_with("|---"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').splitn(2, '|').collect();
            (
                cells[0].trim().parse().unwrap(),
                cells[1].trim().to_string(),
            )
        })
        .collect();
    let want: Vec<(i32, String)> = interop_results::exit_code::ALL
        .iter()
        .map(|(code, meaning)| (*code, meaning.to_string()))
        .collect();
    assert_eq!(rows, want);
}

/// The builder every test runs `interop` through fails the test when something it started is
/// still running when it is dropped (here a `sleep` under its tag), kills it, and not otherwise.
#[test]
fn the_test_builder_fails_on_a_process_left_behind() {
    use std::os::unix::process::ExitStatusExt;
    let mut left = Interop::new(std::process::Command::new("sleep"));
    left.grace(std::time::Duration::from_millis(300));
    left.arg("30");
    let mut child = left.spawn().expect("sleep starts");
    let tag = left.tag().to_string();
    let pid = child.id().to_string();
    // What each record of membership sees, for the message if the check misses it.
    let environ = std::fs::read(format!("/proc/{pid}/environ"))
        .map(|e| String::from_utf8_lossy(&e).contains(&format!("{}={tag}", common::RUN_TAG)));
    let cgroup = left.cgroup().map(|dir| {
        std::fs::read_to_string(dir.join("cgroup.procs")).map(|p| p.lines().any(|l| l == pid))
    });
    let seen = format!("tag in /proc/{pid}/environ: {environ:?}; in its cgroup: {cgroup:?}");
    eprintln!("{seen}");
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(left)));
    let status = child.wait().expect("sleep is waited for");
    let message = dropped.expect_err(&format!("a running process fails the drop check ({seen})"));
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("left behind") && message.contains(&tag) && message.contains("sleep 30"),
        "{message}"
    );
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the check kills what it found"
    );
    // A finished one passes.
    let mut done = Interop::new(std::process::Command::new("true"));
    assert!(done.status().unwrap().success());
    drop(done);
}
