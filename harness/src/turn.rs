//! A real TURN server on loopback for the runs that ask for one (`create_peer_connection:
//! { turn: udp | tcp }`): coturn's `turnserver` (Debian package `coturn`), started by the
//! harness as a child process and killed with it.
//!
//! One server per run: it listens on 127.0.0.1 on a free port (UDP and TCP on the same port),
//! relays from 127.0.0.1, allows loopback peers (coturn refuses them by default), and accepts
//! one long-term credential made up for the run. The credential never leaves the run: the
//! transcript shows it redacted.
//!
//! Why coturn and not the `turn` crate's server: it is the TURN server deployments use, it
//! serves UDP and TCP allocations out of the box, and a browser interop test should meet the
//! server the browsers meet in production.

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;
use tokio::process::Command;

use crate::process::ChildGuard;

/// How long the server may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What to tell a user whose machine has no TURN server.
pub const INSTALL_HINT: &str = "apt-get install -y coturn (or run `bash ci/setup`)";

pub struct TurnServer {
    pub port: u16,
    pub username: String,
    pub password: String,
    _guard: ChildGuard,
}

/// `turnserver` from `TURNSERVER` or `PATH`.
pub fn locate() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TURNSERVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("turnserver"))
        .find(|p| p.is_file())
}

/// A port free for both UDP and TCP on 127.0.0.1.
fn free_port() -> std::io::Result<u16> {
    for _ in 0..20 {
        let tcp = TcpListener::bind("127.0.0.1:0")?;
        let port = tcp.local_addr()?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no port free for both UDP and TCP"))
}

impl TurnServer {
    /// Starts the server, its output appended to `log`, and waits until it accepts TCP
    /// connections (it opens its UDP listener before).
    pub async fn start(dir: &Path, log: &Path) -> Result<TurnServer, String> {
        let binary = locate().ok_or_else(|| {
            format!("the run needs a TURN server and `turnserver` was not found: {INSTALL_HINT}")
        })?;
        let port = free_port().map_err(|e| format!("no free port for the TURN server: {e}"))?;
        // The thread-local generator is not `Send`: it must not live across an await.
        let (username, password) = {
            let mut rng = rand::rng();
            (
                format!("interop-{:08x}", rng.random::<u32>()),
                format!("{:032x}", rng.random::<u128>()),
            )
        };
        let mut cmd = Command::new(&binary);
        cmd.args([
            "-n",
            "--listening-ip=127.0.0.1",
            &format!("--listening-port={port}"),
            "--relay-ip=127.0.0.1",
            "--min-port=40000",
            "--max-port=49999",
            "--lt-cred-mech",
            "--fingerprint",
            "--realm=interop.invalid",
            &format!("--user={username}:{password}"),
            "--allow-loopback-peers",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--no-software-attribute",
            "--simple-log",
            "--log-file=stdout",
            &format!("--pidfile={}", dir.join("turnserver.pid").display()),
            &format!("--userdb={}", dir.join("turndb").display()),
        ]);
        let mut guard = ChildGuard::spawn(cmd, "turnserver", Some(log))
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(exit) = guard.exited() {
                return Err(format!(
                    "turnserver {exit} before listening; see {}",
                    log.display()
                ));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "turnserver did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?}; see {}",
                    log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(TurnServer {
            port,
            username,
            password,
            _guard: guard,
        })
    }

    /// The `turn:` URL for `transport` (`udp` / `tcp`).
    pub fn url(&self, transport: &str) -> String {
        format!("turn:127.0.0.1:{}?transport={transport}", self.port)
    }
}
