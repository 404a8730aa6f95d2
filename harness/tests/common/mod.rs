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
/// and run as one), with a tag of its own. Dropping it, after the test's asserts or while a
/// failing test unwinds, checks that no process of that invocation is left (the harness
/// itself included): a leftover is killed and fails the test. The check sees only this
/// invocation's processes, however many tests of the binary run at once.
///
/// Two records of membership, united: a cgroup of its own (cgroup v2, made when the test runs
/// as root: the kernel puts every descendant in it, whatever process group or session it
/// takes, and lists them in `cgroup.procs`), and the [`RUN_TAG`] environment variable, read
/// from `/proc/<pid>/environ` (for a contributor without cgroups; a process that rewrites its
/// environment escapes it).
///
/// `interop().args(..).output()` checks at the end of its statement; a test that spawns keeps
/// the `Interop` (`let mut run = interop(); let child = run.args(..).spawn()`), so the check
/// runs when the test ends, after it waited for the child.
pub struct Interop {
    cmd: Command,
    tag: String,
    cgroup: Option<PathBuf>,
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
        let cgroup = make_cgroup(&tag);
        if let Some(dir) = &cgroup {
            join_cgroup_at_exec(&mut cmd, dir);
        }
        Interop {
            cmd,
            tag,
            cgroup,
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

    /// This invocation's cgroup, when the test could make one.
    pub fn cgroup(&self) -> Option<&Path> {
        self.cgroup.as_deref()
    }

    /// The live processes of this invocation (pid: command line).
    pub fn live(&self) -> Vec<Process> {
        let needle = format!("{RUN_TAG}={}\0", self.tag);
        let mut live = processes()
            .into_iter()
            .filter(|p| p.environ.contains(&needle))
            .collect::<Vec<_>>();
        if let Some(dir) = &self.cgroup {
            for pid in cgroup_members(dir) {
                if !live.iter().any(|p| p.pid == pid) && !is_zombie(&pid) {
                    live.push(Process::read(pid));
                }
            }
        }
        live
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
        let left = wait_gone(self.grace, || self.live());
        for p in &left {
            if let Ok(pid) = p.pid.parse::<i32>() {
                // SAFETY: plain syscall on a pid of this invocation.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if let Some(dir) = &self.cgroup {
            // Empty once the killed ones are gone; bounded, and harmless if it stays.
            let _ = wait_gone(std::time::Duration::from_secs(5), || {
                cgroup_members(dir)
                    .into_iter()
                    .filter(|pid| !is_zombie(pid))
                    .collect()
            });
            let _ = std::fs::remove_dir(dir);
        }
        if left.is_empty() {
            return;
        }
        let left: Vec<String> = left
            .iter()
            .map(|p| format!("{}: {}", p.pid, p.cmdline))
            .collect();
        let message = format!(
            "processes of `interop` ({RUN_TAG}={}) left behind (killed now): {left:#?}",
            self.tag
        );
        if std::thread::panicking() {
            eprintln!("{message}"); // the test fails already; a second panic would abort
        } else {
            panic!("{message}");
        }
    }
}

/// Where this machine's cgroup v2 hierarchy is (pure v2, or the unified one of a hybrid).
fn cgroup2_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(PathBuf::from)
        .find(|root| root.join("cgroup.procs").exists() && root.join("cgroup.threads").exists())
}

/// Makes a cgroup for one invocation, or `None` where the test may not (not root, no v2).
fn make_cgroup(tag: &str) -> Option<PathBuf> {
    let root = cgroup2_root()?;
    remove_stale_cgroups(&root);
    let dir = root.join(format!("interop-test-{tag}"));
    std::fs::create_dir(&dir).ok()?;
    Some(dir)
}

/// Removes the (empty) cgroups of test processes that are gone: a test binary killed before
/// its drop checks ran leaves its cgroups behind.
fn remove_stale_cgroups(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("interop-test-")
            .and_then(|t| t.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir(entry.path()); // fails, harmlessly, unless empty
        }
    }
}

/// Makes the child join `dir` between fork and exec, so that the harness and everything it
/// starts are in it from their first instruction.
fn join_cgroup_at_exec(cmd: &mut Command, dir: &Path) {
    use std::os::unix::process::CommandExt;
    let procs = std::ffi::CString::new(
        dir.join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .expect("a cgroup path has no NUL");
    // SAFETY: open, write and close are async-signal-safe; nothing is allocated after fork.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
            if written != 1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The pids listed in a cgroup's `cgroup.procs`.
fn cgroup_members(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn is_zombie(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses and may hold spaces.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        == Some("Z")
}

/// A live (not zombie) process other than this one: its pid, command line (spaces for NULs)
/// and raw environment (NUL-separated).
pub struct Process {
    pub pid: String,
    pub cmdline: String,
    environ: String,
}

impl Process {
    fn read(pid: String) -> Process {
        let read = |f: &str| std::fs::read(format!("/proc/{pid}/{f}")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&read("cmdline"))
            .replace('\0', " ")
            .trim()
            .to_string();
        let environ = String::from_utf8_lossy(&read("environ")).to_string() + "\0";
        Process {
            pid,
            cmdline,
            environ,
        }
    }
}

fn processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id().to_string();
    entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().to_string())
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()) && *pid != me)
        // A zombie holds no resources; its parent reaps it.
        .filter(|pid| !is_zombie(pid))
        .map(Process::read)
        .collect()
}

/// Polls `left` every 100 ms until it is empty or `timeout` passed (SIGKILL delivery and
/// reaping are asynchronous); returns what is left then.
fn wait_gone<T>(timeout: std::time::Duration, left: impl Fn() -> Vec<T>) -> Vec<T> {
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
