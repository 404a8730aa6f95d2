//! Child processes of the harness: drivers (and through them browsers) and Rust peers.
//!
//! Every child is spawned in a process group of its own and owned by a [`ChildGuard`]. Dropping
//! the guard kills the whole group with SIGKILL, so a driver takes its browser (and the
//! browser's helpers) with it. Guards are dropped on success, on error, when a run future is
//! cancelled (Ctrl-C) and on unwind. As a backstop, every live group is also in a process-wide
//! registry that [`kill_all`] empties: the panic hook and the interrupt path call it before the
//! process exits, because `std::process::exit` runs no destructors. Children also get
//! `PR_SET_PDEATHSIG(SIGKILL)`, so a harness killed with SIGKILL does not leave its direct
//! children running.
//!
//! Browsers are not direct children (a driver starts them), and a harness killed with SIGKILL
//! runs no code of its own. So `run` and `bench` first start the [reaper](start_reaper): a
//! small child (`interop reap`, in a process group of its own) that the harness tells about
//! every process group it starts and ends, over a pipe. When the pipe closes - the harness
//! exited, whatever the way - the reaper kills every group still listed, and exits.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;

use tokio::process::{Child, Command};

static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// The write end of the pipe to the reaper, once started.
static REAPER: Mutex<Option<std::process::ChildStdin>> = Mutex::new(None);

/// A spawned child that is killed, with its whole process group, when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    pgid: i32,
    what: String,
    /// The tasks copying the child's output to its log.
    copies: Vec<tokio::task::JoinHandle<()>>,
}

impl ChildGuard {
    /// Spawns `command` in a new process group with stdout and stderr appended to `log` (or
    /// discarded when `None`), line by line with secrets redacted (a driver logs the page URL
    /// with its token). `what` names the child in messages, e.g. `chromedriver`.
    pub fn spawn(mut command: Command, what: &str, log: Option<&Path>) -> std::io::Result<Self> {
        let file = match log {
            Some(path) => Some(File::options().create(true).append(true).open(path)?),
            None => None,
        };
        let output = || {
            if file.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output());
        command.process_group(0);
        command.kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let mut copies = Vec::new();
        if let Some(file) = file {
            let file = std::sync::Arc::new(Mutex::new(file));
            if let Some(out) = child.stdout.take() {
                copies.push(tokio::spawn(copy_redacted(out, file.clone())));
            }
            if let Some(err) = child.stderr.take() {
                copies.push(tokio::spawn(copy_redacted(err, file)));
            }
        }
        let pgid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| std::io::Error::other(format!("{what} exited at once")))?;
        lock_registry().insert(pgid);
        tell_reaper(&format!("+{pgid}\n"));
        Ok(ChildGuard {
            child,
            pgid,
            what: what.to_string(),
            copies,
        })
    }

    /// `Some(description)` once the child has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.what)),
            Ok(None) => None,
            Err(e) => Some(format!("{} cannot be waited for: {e}", self.what)),
        }
    }

    /// Waits (at most 2 s) until what the child wrote is in its log: after it exited, before
    /// the log is quoted.
    pub async fn log_written(&mut self) {
        for copy in self.copies.drain(..) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), copy).await;
        }
    }

    /// Resolves when the child exits; cancel-safe.
    pub async fn wait_exit(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => format!("{} exited ({status})", self.what),
            Err(e) => format!("{} cannot be waited for: {e}", self.what),
        }
    }
}

/// The length of a log now: where what a child started next writes begins (see [`log_since`]).
pub fn log_len(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// What a log holds from `start` on (a [`log_len`] taken before a child started): that
/// child's output, not an earlier attempt's above it.
pub fn log_since(log: &Path, start: u64) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    String::from_utf8_lossy(text.get(start as usize..).unwrap_or_default()).into_owned()
}

/// Appends a line of the harness's own to a child's log (a note such as a retry).
pub fn note_in_log(log: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut file) = File::options().create(true).append(true).open(log) {
        let _ = writeln!(file, "{line}");
    }
}

/// Appends what `from` writes to `to`, line by line, with secrets redacted, until it closes.
async fn copy_redacted(from: impl tokio::io::AsyncRead + Unpin, to: std::sync::Arc<Mutex<File>>) {
    use std::io::Write;
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = crate::redact::redact(&text);
                let mut file = to.lock().unwrap_or_else(|e| e.into_inner());
                let _ = file.write_all(text.as_bytes());
            }
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        kill_group(self.pgid);
        lock_registry().remove(&self.pgid);
        tell_reaper(&format!("-{}\n", self.pgid));
        // Reap the direct child if it is already gone; tokio reaps it later otherwise.
        let _ = self.child.start_kill();
        let _ = self.child.try_wait();
    }
}

fn lock_registry() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    LIVE_GROUPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall; a negative pid addresses the process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Kills every process group still owned by a guard. Safe to call more than once.
pub fn kill_all() {
    let groups: Vec<i32> = std::mem::take(&mut *lock_registry()).into_iter().collect();
    for pgid in groups {
        kill_group(pgid);
    }
}

/// Starts the reaper (see the module docs): `exe reap`, reading `+PGID` / `-PGID` lines.
pub fn start_reaper() -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe)
        .arg("reap")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group: a Ctrl-C in the terminal reaches the harness, not the reaper, which
        // must outlive the harness by the moment it takes to kill what is left.
        .process_group(0)
        .spawn()?;
    *lock_reaper() = child.stdin.take();
    // Not waited for: it exits when the harness does (init reaps it then).
    Ok(())
}

fn lock_reaper() -> std::sync::MutexGuard<'static, Option<std::process::ChildStdin>> {
    REAPER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tell_reaper(line: &str) {
    use std::io::Write;
    if let Some(pipe) = lock_reaper().as_mut() {
        // A reaper that died cannot be told; the guards still kill their groups.
        let _ = pipe.write_all(line.as_bytes());
    }
}

/// The reaper's main loop (`interop reap`): keeps the set of live groups from its stdin and
/// kills them all at end of input. Returns the exit code.
pub fn reap(input: impl std::io::BufRead) -> i32 {
    let mut groups = BTreeSet::new();
    for line in input.lines() {
        let Ok(line) = line else {
            break;
        };
        let (sign, pgid) = line.split_at(line.len().min(1));
        match (sign, pgid.trim().parse::<i32>()) {
            ("+", Ok(pgid)) => {
                groups.insert(pgid);
            }
            ("-", Ok(pgid)) => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    for pgid in groups {
        kill_group(pgid);
    }
    0
}

/// Makes a panic anywhere kill every child before the default hook runs.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        kill_all();
        default(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks for existence.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[tokio::test]
    async fn dropping_the_guard_kills_the_whole_group() {
        // A shell that starts a grandchild in the same group and prints its pid.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("sleep 300 & echo $! ; wait");
        let guard = ChildGuard::spawn(cmd, "sh", Some(&log)).unwrap();
        let pgid = guard.pgid;
        let grandchild = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Ok(pid) = text.trim().parse::<i32>() {
                break pid;
            }
            tokio::task::yield_now().await;
        };
        assert!(alive(grandchild));
        drop(guard);
        // SIGKILL delivery is asynchronous; wait for the grandchild to be gone (bounded).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while alive(grandchild) && !is_zombie(grandchild) {
            assert!(std::time::Instant::now() < deadline, "grandchild survived");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!lock_registry().contains(&pgid));
    }

    #[test]
    fn the_reaper_kills_the_groups_still_listed_at_end_of_input() {
        let spawn = || {
            std::process::Command::new("sleep")
                .arg("300")
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let (mut kept, mut ended) = (spawn(), spawn());
        let input = format!(
            "+{}\n+{}\n-{}\nnonsense\n",
            kept.id(),
            ended.id(),
            ended.id()
        );
        assert_eq!(reap(input.as_bytes()), 0);
        // The listed group is killed; the one the harness said it ended is left alone.
        assert!(kept.wait().unwrap().code().is_none(), "killed by a signal");
        assert!(ended.try_wait().unwrap().is_none(), "still running");
        ended.kill().unwrap();
        ended.wait().unwrap();
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.split_whitespace().nth(2) == Some("Z"))
            .unwrap_or(true)
    }
}
