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

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;

use tokio::process::{Child, Command};

static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// A spawned child that is killed, with its whole process group, when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    pgid: i32,
    what: String,
}

impl ChildGuard {
    /// Spawns `command` in a new process group with stdout and stderr appended to `log` (or
    /// discarded when `None`). `what` names the child in messages, e.g. `chromedriver`.
    pub fn spawn(mut command: Command, what: &str, log: Option<&Path>) -> std::io::Result<Self> {
        let (out, err) = match log {
            Some(path) => {
                let file = File::options().create(true).append(true).open(path)?;
                (Stdio::from(file.try_clone()?), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        command.process_group(0);
        command.kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn()?;
        let pgid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| std::io::Error::other(format!("{what} exited at once")))?;
        lock_registry().insert(pgid);
        Ok(ChildGuard {
            child,
            pgid,
            what: what.to_string(),
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

    /// Resolves when the child exits; cancel-safe.
    pub async fn wait_exit(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => format!("{} exited ({status})", self.what),
            Err(e) => format!("{} cannot be waited for: {e}", self.what),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        kill_group(self.pgid);
        lock_registry().remove(&self.pgid);
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

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.split_whitespace().nth(2) == Some("Z"))
            .unwrap_or(true)
    }
}
