//! Peer start: a peer from its implementation record (a child process, or a page in a
//! pooled or new WebDriver session) connected to the control server with its Hello, and the
//! launch settings and capture a run needs before any peer starts.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use interop_protocol::{Hello, PeerMessage, PROTOCOL_VERSION};
use interop_results::{Implementation as ImplInfo, Outcome};
use interop_scenario::plan::{Action, PeerCommand, PeerId, RelayStep};
use tokio::time::Instant;

use super::session::{Backing, LivePeer};
use super::{Shared, Stop};
use crate::browser::BrowserSession;
use crate::capture::{Capture, CaptureMode};
use crate::control::{Incoming, PeerLink, SlotTicket as Ticket};
use crate::implementations::{Implementation, Program, Start, CONTROL_URL};
use crate::process::ChildGuard;

/// How long a peer may take from launch to its Hello.
const PEER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// A peer about to start: what it is and, for a browser, an idle session of its worker to
/// reuse.
pub(super) struct PeerStart<'a> {
    pub(super) implementation: Implementation,
    pub(super) name: &'a str,
    pub(super) role: &'static str,
    pub(super) launch: crate::browser::Launch,
    pub(super) idle: Option<BrowserSession>,
}

/// The capture of a run in `mode`: passive unless the mode is `relay`, the scenario drops
/// packets (only the relay can) or the passive tap cannot open (`capture.way` in the record
/// says which way it was).
pub(super) fn open_capture(
    mode: CaptureMode,
    scenario: &interop_scenario::plan::Scenario,
    dir: &Path,
    t0: Instant,
) -> Result<Option<Capture>, Stop> {
    let pcap = dir.join("capture.pcap");
    let failed =
        |e: std::io::Error| Stop::new(Outcome::Error, format!("cannot create capture.pcap: {e}"));
    let drops = scenario
        .steps
        .iter()
        .any(|s| matches!(s.action, Action::Relay(RelayStep::DropPackets { .. })));
    match mode {
        CaptureMode::Off => Ok(None),
        CaptureMode::Auto if !drops => match Capture::passive(&pcap, t0.into_std()) {
            Ok(c) => Ok(Some(c)),
            Err(_) => Capture::relay(&pcap, t0.into_std())
                .map(Some)
                .map_err(failed),
        },
        CaptureMode::Auto | CaptureMode::Relay => Capture::relay(&pcap, t0.into_std())
            .map(Some)
            .map_err(failed),
    }
}

/// Launches a peer (or loads a fresh page in a reused browser session) and waits for its
/// Hello. On failure, what was started comes back with the reason, to be released.
pub(super) async fn start_peer(
    shared: &Shared,
    start: PeerStart<'_>,
    dir: &Path,
    capture: bool,
) -> Result<LivePeer, (Stop, Option<Backing>)> {
    let implementation = start.implementation;
    let who = format!("{} ({implementation})", start.name);
    let mut ticket = shared.control.register();
    let (name, role) = (start.name, start.role);
    let mut backing = launch(shared, start, &ticket, dir, capture, &who)
        .await
        .map_err(|stop| (stop, None))?;
    let mut link = match connect(
        shared,
        &mut ticket,
        &mut backing,
        implementation,
        role,
        &who,
    )
    .await
    {
        Ok(link) => link,
        Err(stop) => return Err((stop, Some(backing))),
    };
    tracing::debug!("{who}: connected");
    let hello = match tokio::time::timeout(PEER_START_TIMEOUT, link.incoming.recv()).await {
        Ok(Some(Incoming::Message(PeerMessage::Hello(hello)))) => hello,
        other => {
            let what = match other {
                Err(_) => "no hello in time".to_string(),
                Ok(None) => "disconnected before its hello".to_string(),
                Ok(Some(m)) => format!("sent {m:?} instead of a hello"),
            };
            let stop = Stop::new(Outcome::Error, format!("{who}: {what}"));
            return Err((stop, Some(backing)));
        }
    };
    tracing::debug!("{who}: hello");
    if let Some(problem) = hello_problem(&hello, implementation.name()) {
        let stop = Stop::new(Outcome::Error, format!("{who}: {problem}"));
        return Err((stop, Some(backing)));
    }
    let (version, detail) = match &backing {
        // The session's capabilities carry the exact build; the page only knows its UA.
        Backing::Browser(s) => (
            s.version.clone(),
            Some(format!(
                "{}; {}",
                s.driver_version,
                hello.detail.unwrap_or_default()
            )),
        ),
        Backing::Process(_) => (hello.version, hello.detail),
    };
    let info = ImplInfo {
        name: implementation.name().to_string(),
        version,
        detail,
    };
    let unsupported = hello.unsupported;
    Ok(LivePeer::new(
        name,
        implementation,
        info,
        link,
        backing,
        unsupported,
    ))
}

/// Starts what the implementation's record says: its process (with the control URL, and the
/// DTLS key log when the run captures), or its page in a browser session.
async fn launch(
    shared: &Shared,
    start: PeerStart<'_>,
    ticket: &Ticket,
    dir: &Path,
    capture: bool,
    who: &str,
) -> Result<Backing, Stop> {
    let implementation = start.implementation;
    let record = implementation.record();
    match &record.start {
        Start::Process(process) => {
            let program = match process.program {
                Program::Harness => &shared.harness_exe,
            };
            let mut cmd = tokio::process::Command::new(program);
            let url = shared.control.control_url(ticket);
            cmd.args(process.args.iter().map(|a| a.replace(CONTROL_URL, &url)));
            if let (true, Some(var)) = (capture, process.keylog_env) {
                // The peer logs its DTLS keys (NSS key log format) so that the run's capture
                // can be decrypted; both peers of a run append to one file.
                cmd.env(var, dir.join("dtls-keys.log"));
            }
            let log = dir.join(implementation.log_file(start.role));
            let guard = ChildGuard::spawn(cmd, record.display_name, Some(&log)).map_err(|e| {
                let reason = format!(
                    "cannot start {} ({}): {e}",
                    record.display_name,
                    program.display()
                );
                Stop::new(Outcome::Error, reason)
            })?;
            Ok(Backing::Process(guard))
        }
        Start::WebDriver(product) => {
            let url = shared.control.page_url(ticket, product.name);
            let t = Instant::now();
            let session = open_page(shared, product, start.launch, start.idle, &url)
                .await
                .map_err(|e| Stop::new(Outcome::Error, format!("{who}: {e}")))?;
            tracing::debug!(took = ?t.elapsed(), "{who}: page loaded");
            Ok(Backing::Browser(session))
        }
    }
}

/// Waits (under [`PEER_START_TIMEOUT`]) for the peer's control connection; a process that
/// exits first is a `crash`.
async fn connect(
    shared: &Shared,
    ticket: &mut Ticket,
    backing: &mut Backing,
    implementation: Implementation,
    role: &str,
    who: &str,
) -> Result<PeerLink, Stop> {
    let gone = || Stop::new(Outcome::Error, "control server went away");
    let connected = async {
        match backing {
            Backing::Process(child) => tokio::select! {
                link = &mut ticket.connected => link.map_err(|_| gone()),
                exit = child.wait_exit() => Err(Stop::new(
                    Outcome::Crash,
                    format!("{who}: {exit} before connecting; see {}", implementation.log_file(role)),
                )),
            },
            Backing::Browser(_) => (&mut ticket.connected).await.map_err(|_| gone()),
        }
    };
    match tokio::time::timeout(PEER_START_TIMEOUT, connected).await {
        Ok(connected) => connected,
        Err(_) => {
            // A browser loads the page without waiting (page load strategy `none`): a page it
            // could not load shows here.
            let hint = match implementation.record().start {
                Start::WebDriver(_) => format!(
                    " (could the browser load http://{}/peer.html? a browser on another \
                     machine needs --listen/--advertise with an address it reaches)",
                    shared.control.public()
                ),
                Start::Process(_) => String::new(),
            };
            let reason = format!(
                "{who} did not connect to the harness within {}s{hint}",
                PEER_START_TIMEOUT.as_secs()
            );
            Err(Stop::new(Outcome::Error, reason))
        }
    }
}

/// Loads `url` in a browser session: the idle one if it still answers, else a new one.
pub(super) async fn open_page(
    shared: &Shared,
    product: &'static crate::browser::Product,
    launch: crate::browser::Launch,
    idle: Option<BrowserSession>,
    url: &str,
) -> Result<BrowserSession, String> {
    if let Some(session) = idle {
        match session.open(url).await {
            Ok(()) => return Ok(session),
            // It crashed or hangs since its last run: a new session takes its place.
            Err(e) => {
                tracing::warn!("{e}; starting a new {} session", product.display_name);
                session.shutdown().await;
            }
        }
    }
    let installation = shared
        .installations
        .iter()
        .find(|i| i.product.name == product.name)
        .ok_or_else(|| format!("{} is not installed", product.display_name))?;
    let logs = shared.out.join("logs");
    let _ = std::fs::create_dir_all(&logs);
    let n = shared.browser_starts.fetch_add(1, Ordering::SeqCst) + 1;
    let log = logs.join(format!("{}-driver-{n}.log", product.name));
    let url_override = shared.webdriver_urls.get(product.name).map(String::as_str);
    let session = BrowserSession::launch(installation, url_override, &log, launch).await?;
    if let Err(e) = session.open(url).await {
        session.shutdown().await;
        return Err(e);
    }
    Ok(session)
}

/// What a browser for `peer` must be launched with: mDNS host candidates when one of its
/// `create_peer_connection` steps asks for them (a browser decides that at launch).
pub(super) fn launch_settings(
    scenario: &interop_scenario::plan::Scenario,
    peer: PeerId,
) -> crate::browser::Launch {
    let mdns = scenario.steps.iter().any(|s| {
        s.peer == peer
            && matches!(&s.action, Action::Command(PeerCommand::CreatePeerConnection { configuration, .. }) if configuration.mdns == Some(true))
    });
    crate::browser::Launch { mdns }
}

/// What makes a Hello unacceptable for the implementation `expected` (docs/peer-protocol.md,
/// "The Hello"): another protocol version, or another implementation name than the one the
/// harness started. Pure.
fn hello_problem(hello: &Hello, expected: &str) -> Option<String> {
    if hello.protocol_version != PROTOCOL_VERSION {
        return Some(format!(
            "its Hello speaks protocol version {}, the harness speaks {PROTOCOL_VERSION} \
             (docs/peer-protocol.md)",
            hello.protocol_version
        ));
    }
    (hello.implementation != expected).then(|| {
        format!(
            "its Hello names the implementation '{}', but the harness started '{expected}'",
            hello.implementation
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hello_must_speak_this_protocol_and_name_the_implementation_started() {
        let hello = |version, name: &str| Hello {
            protocol_version: version,
            implementation: name.into(),
            version: "1.0".into(),
            detail: None,
            unsupported: Default::default(),
        };
        assert_eq!(
            hello_problem(&hello(PROTOCOL_VERSION, "rust"), "rust"),
            None
        );
        let other = hello_problem(&hello(PROTOCOL_VERSION, "pion"), "rust").unwrap();
        assert!(other.contains("names the implementation 'pion'"), "{other}");
        let old = hello_problem(&hello(PROTOCOL_VERSION + 1, "rust"), "rust").unwrap();
        assert!(old.contains("protocol version 2"), "{old}");
    }
}
