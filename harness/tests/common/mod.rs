//! Shared helpers of the harness's integration tests: the binary under test, browser
//! availability (a missing browser fails under CI=true, never skips silently there), and a
//! scan for processes a run must not leave behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `interop` binary, run from the workspace root.
pub fn interop() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_interop"));
    cmd.current_dir(workspace_root());
    cmd
}

fn on_path(names: &[&str]) -> bool {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    names
        .iter()
        .any(|n| dirs.iter().any(|d| d.join(n).is_file()))
}

/// True when Chromium, chromedriver, Firefox and geckodriver are installed. When one is
/// missing: panics under CI=true, otherwise prints why the test does nothing and returns false.
pub fn require_browsers() -> bool {
    let missing: Vec<&str> = [
        (
            "chromium",
            &["chromium", "chromium-browser", "google-chrome"][..],
        ),
        ("chromedriver", &["chromedriver"][..]),
        ("firefox", &["firefox-esr", "firefox"][..]),
        ("geckodriver", &["geckodriver"][..]),
    ]
    .into_iter()
    .filter(|(_, names)| !on_path(names))
    .map(|(what, _)| what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing {}; run `bash ci/setup`", missing.join(", "));
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI=true and a browser test cannot run: {msg}");
    }
    eprintln!("SKIPPED (not under CI): {msg}");
    false
}

/// Processes started by a harness run: drivers and browsers (their temporary directories are
/// named `interop-<product>-*`) and Rust peers (`interop peer --control-url`).
pub fn leftover_processes() -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    let me = std::process::id().to_string();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.chars().all(|c| c.is_ascii_digit()) || name == me {
            continue;
        }
        let read = |f: &str| std::fs::read(entry.path().join(f)).unwrap_or_default();
        let stat = String::from_utf8_lossy(&read("stat")).to_string();
        if stat.split_whitespace().nth(2) == Some("Z") {
            continue; // A zombie holds no resources; its parent reaps it.
        }
        let cmdline = String::from_utf8_lossy(&read("cmdline")).replace('\0', " ");
        let environ = String::from_utf8_lossy(&read("environ")).replace('\0', " ");
        let ours = cmdline.contains("/interop-chrome-")
            || cmdline.contains("/interop-firefox-")
            || environ.contains("TMPDIR=/tmp/interop-")
            || cmdline.contains(" peer --control-url ");
        if ours {
            found.push(format!("{name}: {}", cmdline.trim()));
        }
    }
    found
}

/// Waits (bounded) for processes of a finished run to disappear: SIGKILL delivery and
/// reaping are asynchronous. Returns what is still there after the deadline.
pub fn wait_no_leftovers(timeout: std::time::Duration) -> Vec<String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = leftover_processes();
        if left.is_empty() || std::time::Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Parses `<out>/results.jsonl`, failing the test on a line that does not parse.
pub fn read_results(out: &Path) -> Vec<interop_results::RunRecord> {
    let text = std::fs::read_to_string(out.join("results.jsonl")).expect("results.jsonl exists");
    let (records, errors) = interop_results::parse_jsonl(&text);
    assert!(
        errors.is_empty(),
        "unparsable lines in results.jsonl: {errors:?}"
    );
    records
}
