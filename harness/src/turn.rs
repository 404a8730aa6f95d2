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

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;
use tokio::process::Command;

use crate::process::{log_len, log_since, note_in_log, ChildGuard};

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

/// How many ports the server is started on before giving up: a port picked free can be taken
/// by another process before coturn binds it (coturn then retries forever, and a bare TCP
/// connect would reach the other process).
const PORT_ATTEMPTS: usize = 3;

/// Why a started server is not ready.
enum NotReady {
    PortTaken,
    Failed(String),
}

impl TurnServer {
    /// Starts the server on a free port, its output appended to `log`, and waits until it
    /// answers STUN over UDP and TCP.
    pub async fn start(dir: &Path, log: &Path) -> Result<TurnServer, String> {
        Self::start_on_ports(dir, log, &mut free_port).await
    }

    /// [`start`](Self::start) with the ports taken from `ports`: when coturn says its port is
    /// in use, it is started again on the next one (noted in `log`). Tests pass a taken port.
    pub async fn start_on_ports(
        dir: &Path,
        log: &Path,
        ports: &mut (dyn FnMut() -> std::io::Result<u16> + Send),
    ) -> Result<TurnServer, String> {
        let binary = locate().ok_or_else(|| {
            format!("the run needs a TURN server and `turnserver` was not found: {INSTALL_HINT}")
        })?;
        // The thread-local generator is not `Send`: it must not live across an await.
        let (username, password) = {
            let mut rng = rand::rng();
            (
                format!("interop-{:08x}", rng.random::<u32>()),
                format!("{:032x}", rng.random::<u128>()),
            )
        };
        let mut attempt = 1;
        loop {
            let port = ports().map_err(|e| format!("no free port for the TURN server: {e}"))?;
            let log_start = log_len(log);
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
            match ready(&mut guard, port, log, log_start).await {
                Ok(()) => {
                    return Ok(TurnServer {
                        port,
                        username,
                        password,
                        _guard: guard,
                    })
                }
                Err(NotReady::PortTaken) if attempt < PORT_ATTEMPTS => {
                    drop(guard);
                    note_in_log(
                        log,
                        &format!(
                            "interop: 127.0.0.1:{port} was taken by another process; starting \
                             turnserver again on another port"
                        ),
                    );
                    attempt += 1;
                }
                Err(NotReady::PortTaken) => {
                    return Err(format!(
                        "turnserver could not listen: {PORT_ATTEMPTS} ports in a row were taken by \
                         other processes; see {}",
                        log.display()
                    ))
                }
                Err(NotReady::Failed(msg)) => return Err(msg),
            }
        }
    }

    /// The `turn:` URL for `transport` (`udp` / `tcp`).
    pub fn url(&self, transport: &str) -> String {
        format!("turn:127.0.0.1:{}?transport={transport}", self.port)
    }
}

/// Waits until the server answers a STUN Binding request on `port` over UDP and over TCP
/// (so the answer comes from coturn, not from whatever else could listen there), until it
/// says the port is taken, exits, or [`START_TIMEOUT`] passes.
async fn ready(
    guard: &mut ChildGuard,
    port: u16,
    log: &Path,
    log_start: u64,
) -> Result<(), NotReady> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if stun_answers(port, Transport::Udp).await && stun_answers(port, Transport::Tcp).await {
            return Ok(());
        }
        if let Some(exit) = guard.exited() {
            guard.log_written().await;
            return Err(NotReady::Failed(format!(
                "turnserver {exit} before listening; see {}",
                log.display()
            )));
        }
        if says_port_taken(&log_since(log, log_start), port) {
            return Err(NotReady::PortTaken);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(NotReady::Failed(format!(
                "turnserver did not answer STUN on 127.0.0.1:{port} within {START_TIMEOUT:?}; see {}",
                log.display()
            )));
        }
        // Not listening yet: ask again shortly (an exit of the server ends the wait at once).
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = guard.wait_exit() => {}
        }
    }
}

/// coturn's words for a listening port another process has: "Trying to bind fd 15 to
/// <127.0.0.1:PORT>: errno=98", "Cannot bind ... to addr 127.0.0.1:PORT".
fn says_port_taken(output: &str, port: u16) -> bool {
    let at = format!("127.0.0.1:{port}");
    output
        .lines()
        .any(|l| l.contains(&at) && (l.contains("errno=98") || l.contains("Cannot bind")))
}

#[derive(Clone, Copy)]
enum Transport {
    Udp,
    Tcp,
}

/// True when a STUN Binding request to 127.0.0.1:`port` gets a Binding success response with
/// the same transaction id within 250 ms.
async fn stun_answers(port: u16, transport: Transport) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let id: [u8; 12] = rand::random();
    let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    request.extend_from_slice(&id);
    let is_answer =
        |header: &[u8]| header.len() >= 20 && header[..2] == [0x01, 0x01] && header[8..20] == id;
    let exchange = async {
        match transport {
            Transport::Udp => {
                // Connected: a port nobody listens on yet answers "refused" at once.
                let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
                socket.connect(("127.0.0.1", port)).await.ok()?;
                socket.send(&request).await.ok()?;
                let mut buf = [0u8; 1500];
                let n = socket.recv(&mut buf).await.ok()?;
                Some(is_answer(&buf[..n]))
            }
            Transport::Tcp => {
                let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()?;
                stream.write_all(&request).await.ok()?;
                let mut header = [0u8; 20];
                stream.read_exact(&mut header).await.ok()?;
                Some(is_answer(&header))
            }
        }
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(250), exchange).await,
        Ok(Some(true))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// coturn, or a failure under CI=true (where ci/setup installs it).
    fn require_coturn() -> bool {
        if locate().is_some() {
            return true;
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and turnserver is missing: {INSTALL_HINT}"
        );
        eprintln!("skipped: no turnserver ({INSTALL_HINT})");
        false
    }

    /// Another process holds the port picked for the server (TCP and UDP; it accepts and never
    /// answers): the server is started again on another port, and the one the run gets
    /// answers STUN on both transports.
    #[tokio::test]
    async fn a_taken_port_is_retried_and_the_server_answers_stun() {
        if !require_coturn() {
            return;
        }
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = tcp.local_addr().unwrap().port();
        let _udp = UdpSocket::bind(("127.0.0.1", taken)).unwrap();
        assert!(!stun_answers(taken, Transport::Tcp).await);
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("turnserver.log");
        let mut picked = Vec::new();
        let mut ports = || {
            let next = if picked.is_empty() {
                taken
            } else {
                free_port()?
            };
            picked.push(next);
            Ok(next)
        };
        let server = TurnServer::start_on_ports(dir.path(), &log, &mut ports)
            .await
            .unwrap();
        assert_eq!(picked.len(), 2, "{picked:?}");
        assert_eq!(server.port, picked[1]);
        assert!(stun_answers(server.port, Transport::Udp).await);
        assert!(stun_answers(server.port, Transport::Tcp).await);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains(&format!(
                "127.0.0.1:{taken} was taken by another process; starting turnserver again"
            )),
            "{text}"
        );
    }

    #[test]
    fn coturn_bind_failures_are_read_as_a_taken_port() {
        let log = "bind: Address already in use\n1: : Trying to bind fd 15 to <127.0.0.1:48381>: errno=98\n";
        assert!(says_port_taken(log, 48381));
        assert!(!says_port_taken(log, 48382));
        assert!(!says_port_taken(
            "0: : IPv4. TCP listener opened on : 127.0.0.1:48381",
            48381
        ));
    }
}
