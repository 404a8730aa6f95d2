//! Shared helpers of the harness's integration tests: the binary under test, browser
//! availability (a missing browser fails under CI=true, never skips silently there), and the
//! scans for processes a run must not leave behind: [`Interop`] checks its own when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `interop` binary, run from the workspace root, as an [`Interop`]: every integration
/// test runs the binary through it.
pub fn interop() -> Interop {
    Interop::new(Command::new(env!("CARGO_BIN_EXE_interop")))
}

/// The environment variable that tags every process of one [`Interop`] invocation: drivers,
/// browsers, Rust peers and the reaper inherit it from the harness.
pub const RUN_TAG: &str = "INTEROP_TEST_RUN";

/// One `interop` invocation of a test: the command (it derefs to [`Command`], so it is built
/// and run as one), tagged with a [`RUN_TAG`] of its own. Dropping it, after the test's
/// asserts or while a failing test unwinds, checks that no process of that invocation is left
/// (the harness itself included): a leftover fails the test. The tag makes the check see only
/// this invocation's processes, however many tests of the binary run at once.
///
/// `interop().args(..).output()` checks at the end of its statement; a test that spawns keeps
/// the `Interop` (`let mut run = interop(); let child = run.args(..).spawn()`), so the check
/// runs when the test ends, after it waited for the child.
pub struct Interop {
    cmd: Command,
    tag: String,
    /// How long the drop check waits for processes to go (15 s: SIGKILL delivery and
    /// reaping are asynchronous).
    grace: std::time::Duration,
}

impl Interop {
    /// `cmd` (the `interop` binary, or a wrapper that runs it), from the workspace root.
    pub fn new(mut cmd: Command) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("{}-{n}", std::process::id());
        cmd.current_dir(workspace_root()).env(RUN_TAG, &tag);
        Interop {
            cmd,
            tag,
            grace: std::time::Duration::from_secs(15),
        }
    }

    /// Sets how long the drop check waits for this invocation's processes to go.
    pub fn grace(&mut self, grace: std::time::Duration) -> &mut Self {
        self.grace = grace;
        self
    }

    /// This invocation's [`RUN_TAG`] value.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl std::ops::Deref for Interop {
    type Target = Command;
    fn deref(&self) -> &Command {
        &self.cmd
    }
}

impl std::ops::DerefMut for Interop {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }
}

impl Drop for Interop {
    fn drop(&mut self) {
        let left = wait_gone(self.grace, || tagged(&self.tag));
        if left.is_empty() {
            return;
        }
        let message = format!(
            "processes of `interop` ({RUN_TAG}={}) left behind: {left:#?}",
            self.tag
        );
        if std::thread::panicking() {
            eprintln!("{message}"); // the test fails already; a second panic would abort
        } else {
            panic!("{message}");
        }
    }
}

/// The live processes whose environment holds `<RUN_TAG>=<tag>`.
fn tagged(tag: &str) -> Vec<String> {
    let needle = format!("{RUN_TAG}={tag}\0");
    processes()
        .into_iter()
        .filter(|p| p.environ.contains(&needle))
        .map(|p| format!("{}: {}", p.pid, p.cmdline))
        .collect()
}

/// A live (not zombie) process other than this one: its pid, command line (spaces for NULs)
/// and raw environment (NUL-separated).
struct Process {
    pid: String,
    cmdline: String,
    environ: String,
}

fn processes() -> Vec<Process> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    let me = std::process::id().to_string();
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
            continue;
        }
        let read = |f: &str| std::fs::read(entry.path().join(f)).unwrap_or_default();
        let stat = String::from_utf8_lossy(&read("stat")).to_string();
        if stat.split_whitespace().nth(2) == Some("Z") {
            continue; // A zombie holds no resources; its parent reaps it.
        }
        let cmdline = String::from_utf8_lossy(&read("cmdline"))
            .replace('\0', " ")
            .trim()
            .to_string();
        let environ = String::from_utf8_lossy(&read("environ")).to_string() + "\0";
        found.push(Process {
            pid,
            cmdline,
            environ,
        });
    }
    found
}

/// Polls `left` every 100 ms until it is empty or `timeout` passed (SIGKILL delivery and
/// reaping are asynchronous); returns what is left then.
fn wait_gone(timeout: std::time::Duration, left: impl Fn() -> Vec<String>) -> Vec<String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let now_left = left();
        if now_left.is_empty() || std::time::Instant::now() >= deadline {
            return now_left;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
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
/// named `interop-<product>-*`) and Rust peers (`interop peer --control-url`), whoever started
/// them (a test's own driver included).
pub fn leftover_processes() -> Vec<String> {
    processes()
        .into_iter()
        .filter(|p| {
            p.cmdline.contains("/interop-chrome-")
                || p.cmdline.contains("/interop-firefox-")
                || p.environ.contains("TMPDIR=/tmp/interop-")
                || p.cmdline.contains(" peer --control-url ")
        })
        .map(|p| format!("{}: {}", p.pid, p.cmdline))
        .collect()
}

/// Waits (bounded) for processes of a finished run to disappear: SIGKILL delivery and
/// reaping are asynchronous. Returns what is still there after the deadline.
pub fn wait_no_leftovers(timeout: std::time::Duration) -> Vec<String> {
    wait_gone(timeout, leftover_processes)
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
