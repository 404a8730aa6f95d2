//! The runner: executes cells and turns each into one [`RunRecord`].
//!
//! ```text
//!  Cell ──start peers──> rust: child process `interop peer --control-url ws://..`
//!                        chrome/firefox: pooled WebDriver session loads /peer.html
//!        each peer connects back to the control server and says Hello
//!  steps ──commands──> peer          peer ──responses/events──> Session::pump
//!                                     │  ICE candidates are relayed to the other peer once it
//!                                     │  has a remote description (the harness is the
//!                                     │  signaling channel); every frame goes to transcript.jsonl
//!  expectations wait on the event log under their timeout
//!  end ──> outcome + timings ──> RunRecord ──> reporters
//! ```
//!
//! Failures are outcomes, never panics: a failed command or contradicted expectation is
//! `fail`, a missed deadline `timeout`, a peer that disconnects `crash`, a peer the harness
//! could not start `error`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use interop_protocol::{
    Command, DataChannelInit, Event, Payload, PeerError, PeerMessage, Reply, Request,
    SessionDescription,
};
use interop_results::{FailedStep, Implementation as ImplInfo, Outcome, RunRecord, Timings};
use interop_scenario::expectations::Expectations;
use interop_scenario::plan::{
    Action, Check, Expectation, PayloadSpec, PeerCommand, PeerId, RelayStep, Role, Step,
};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::browser::{BrowserPool, BrowserSession, Installation};
use crate::capture::{Capture, CaptureMode};
use crate::control::{ControlServer, Incoming, PeerLink};
use crate::implementations::{Implementation, Program, Start, CONTROL_URL};
use crate::matrix::Cell;
use crate::process::ChildGuard;
use crate::reporter::{Reporter, RunEvent};
use crate::sdp;
use expect::{connection_state, Verdict};

mod commands;
mod connectivity;
pub mod expect;
mod media;
pub mod relay;

/// Seed of the pattern stream of bulk transfers (any fixed value; the peers get it).
const BULK_SEED: u32 = 1;

/// How long a peer may take from launch to its Hello.
const PEER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long any single command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the harness's own getStats snapshots (at connect, at the end) may take.
const STATS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long teardown waits for a peer to close its peer connection.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// What a [`Runner`] is made of: the listener, where results go, the browsers and how to run.
pub struct RunnerConfig {
    pub control: ControlServer,
    /// The results folder (artefacts go to `runs/`, driver logs to `logs/`).
    pub out: PathBuf,
    /// The harness's own executable, for process peers that run it ([`Program::Harness`]: the
    /// Rust peer is `interop peer --control-url URL`).
    pub harness_exe: PathBuf,
    pub expectations: Expectations,
    /// The browsers found here (or standing in for a remote endpoint).
    pub installations: Vec<Installation>,
    /// `--webdriver-url`: product name -> endpoint.
    pub webdriver_urls: HashMap<&'static str, String>,
    /// How runs capture their UDP traffic (`capture.pcap` per run), if at all.
    pub capture: CaptureMode,
    /// Whether a browser session serves several runs (a fresh page each) or only one.
    pub reuse_sessions: bool,
    /// How many runs go on at once (`-j`); each worker has its own browser sessions.
    pub jobs: usize,
}

/// What every worker shares.
struct Shared {
    control: ControlServer,
    out: PathBuf,
    harness_exe: PathBuf,
    expectations: Expectations,
    installations: Vec<Installation>,
    webdriver_urls: HashMap<&'static str, String>,
    capture: CaptureMode,
    reuse_sessions: bool,
    /// Numbers the driver logs (`logs/<product>-driver-<n>.log`) across workers.
    browser_starts: AtomicUsize,
}

/// Runs cells on `jobs` workers at once. Cells are handed out in plan order; records come
/// back in plan order whatever the order they finish in.
pub struct Runner {
    shared: Arc<Shared>,
    jobs: usize,
}

/// One worker: runs one cell at a time, with its own pool of browser sessions (one per
/// implementation and launch settings, two for a browser paired with itself).
pub struct Worker {
    shared: Arc<Shared>,
    pool: BrowserPool,
    capture: CaptureMode,
}

/// What workers tell the runner.
enum WorkerNews {
    Started(usize),
    Finished(usize, Box<RunRecord>),
}

/// Why a run stopped early.
#[derive(Debug)]
struct Stop {
    outcome: Outcome,
    reason: String,
}

impl Stop {
    fn new(outcome: Outcome, reason: impl Into<String>) -> Self {
        Stop {
            outcome,
            reason: reason.into(),
        }
    }
}

/// What keeps a peer alive: its child process or its browser session.
enum Backing {
    Process(ChildGuard),
    Browser(BrowserSession),
}

/// One peer taking part in a run.
struct LivePeer {
    /// The scenario's name for it (`alice`).
    name: String,
    implementation: Implementation,
    info: ImplInfo,
    link: PeerLink,
    backing: Option<Backing>,
    disconnected: bool,
    next_id: u64,
    events: Vec<(f64, Event)>,
    /// When each of `events` reached the harness, ms since the run started.
    arrivals: Vec<f64>,
    responses: HashMap<u64, (f64, Result<Reply, PeerError>)>,
    /// What the peer declared it cannot do or observe (its Hello): key -> evidence.
    unsupported: BTreeMap<String, String>,
    /// Channels this peer created, in order: label, peer clock at creation, init.
    created: Vec<(String, f64, DataChannelInit)>,
    /// Labels on which this peer echoes what it receives.
    echoing: HashSet<String>,
    /// Messages this peer sent: label, peer clock at `send()`, SHA-256.
    sent: Vec<(String, f64, String)>,
    /// Requests the harness sent on its own (candidate relay): id -> what.
    background: HashMap<u64, String>,
    last_local_description: Option<SessionDescription>,
    /// Indices (in arrival order, per label) of the messages `expect_message` matched.
    matched_messages: HashMap<String, BTreeSet<usize>>,
    /// Peer clock when `create_peer_connection` completed.
    pc_created_at: Option<f64>,
    /// Whether the final getStats snapshot was taken.
    end_stats_taken: bool,
    /// Problems that are not step failures but explain one (relay errors, malformed frames).
    notes: Vec<String>,
}

impl LivePeer {
    fn label(&self) -> String {
        format!("{} ({})", self.name, self.implementation)
    }
}

/// The role name of a peer in records and `observed` keys.
fn role(peer: PeerId) -> &'static str {
    peer.role().as_str()
}

/// What [`Session::wait_on_events`] waits on.
struct EventWait<'a> {
    peer: PeerId,
    /// The step, for messages.
    what: &'a str,
    timeout: Duration,
    deadline: Instant,
    /// The event the peer must be able to report (see its Hello's `unsupported`).
    needs: &'static str,
}

/// No more detail for a timeout message.
fn no_detail(_: &expect::EventLog) -> String {
    String::new()
}

/// The parameters of a bulk transfer step.
struct Bulk<'a> {
    label: &'a str,
    bytes: u64,
    chunk: u32,
    high_water: u64,
    low_water: u64,
}

/// Everything of one run in progress.
struct Session {
    peers: [LivePeer; 2],
    transcript: BufWriter<File>,
    dir: PathBuf,
    t0: Instant,
    sdp_count: usize,
    /// The last offer and answer applied locally, with the peer that created each.
    offer: Option<(PeerId, String)>,
    answer: Option<(PeerId, String)>,
    /// Bulk transfer throughputs, keyed `<sender role> <label>`.
    throughput_mbps: BTreeMap<String, f64>,
    /// The capture of both peers' UDP traffic (passive, or a relay they go through), if on.
    capture: Option<Capture>,
    /// Whether the getStats snapshot at connect was taken.
    stats_at_connect: bool,
    /// Media names, mids, reports and findings (see `media.rs`).
    media: media::MediaState,
    /// Candidate delivery, TURN, and connectivity findings (see `connectivity.rs`).
    conn: connectivity::ConnState,
    /// Harness clock (ms since `t0`) when the first command went to a peer.
    first_command_at: Option<f64>,
    /// Harness clock when the last step executed so far returned (its last awaited response
    /// or event had arrived).
    steps_ended_at: f64,
}

impl Runner {
    pub fn new(config: RunnerConfig) -> Self {
        Runner {
            jobs: config.jobs.max(1),
            shared: Arc::new(Shared {
                control: config.control,
                out: config.out,
                harness_exe: config.harness_exe,
                expectations: config.expectations,
                installations: config.installations,
                webdriver_urls: config.webdriver_urls,
                capture: config.capture,
                reuse_sessions: config.reuse_sessions,
                browser_starts: AtomicUsize::new(0),
            }),
        }
    }

    /// The control connections refused so far (see [`ControlServer::refusals`]).
    pub fn refusals(&self) -> Vec<String> {
        self.shared.control.refusals()
    }

    /// A worker of this runner, for running cells one by one (benchmarks).
    pub fn worker(&self) -> Worker {
        Worker {
            shared: self.shared.clone(),
            pool: BrowserPool::new(self.shared.reuse_sessions),
            capture: self.shared.capture,
        }
    }

    /// Runs every cell, `jobs` at a time, reporting to every reporter as runs start and end.
    /// Returns the records in the order of `cells`.
    pub async fn run_all(
        &self,
        cells: &[Cell],
        reporters: &mut [&mut dyn Reporter],
    ) -> std::io::Result<Vec<RunRecord>> {
        let total = cells.len();
        for r in reporters.iter_mut() {
            r.report(&RunEvent::Started { total })?;
        }
        let queue: Arc<[Cell]> = cells.into();
        let next = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // Dropping the set (Ctrl-C drops this future) aborts the workers, whose guards kill
        // their children.
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.jobs.min(total) {
            let mut worker = self.worker();
            let (queue, next, tx) = (queue.clone(), next.clone(), tx.clone());
            workers.spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(cell) = queue.get(index) else { break };
                    let _ = tx.send(WorkerNews::Started(index));
                    let record = worker.run_cell(cell).await;
                    let _ = tx.send(WorkerNews::Finished(index, Box::new(record)));
                }
                worker.shutdown().await;
            });
        }
        drop(tx);
        let mut records: Vec<Option<RunRecord>> = vec![None; total];
        let mut running = BTreeSet::new();
        let mut finished = 0;
        while let Some(news) = rx.recv().await {
            match news {
                WorkerNews::Started(index) => {
                    running.insert(index);
                    for r in reporters.iter_mut() {
                        r.report(&RunEvent::CellStarted {
                            index: index + 1,
                            total,
                            cell: &cells[index],
                        })?;
                    }
                }
                WorkerNews::Finished(index, record) => {
                    running.remove(&index);
                    finished += 1;
                    report_finished(reporters, index, finished, total, &record)?;
                    records[index] = Some(*record);
                }
            }
        }
        // The channel closed: every worker ended. One that panicked (a harness bug; the panic
        // hook already printed it) leaves its cell without a record: say so in one.
        while let Some(joined) = workers.join_next().await {
            if let Err(e) = joined {
                tracing::error!("a worker ended abnormally: {e}");
            }
        }
        for index in running {
            let cell = &cells[index];
            let mut record = record(
                cell,
                [cell.offerer, cell.answerer].map(|i| ImplInfo {
                    name: i.name().to_string(),
                    version: "unknown".into(),
                    detail: None,
                }),
                Outcome::Error,
                Some(
                    "the harness's worker panicked during this run (a harness bug; see stderr)"
                        .into(),
                ),
                None,
                Timings::default(),
                crate::results_dir::now_rfc3339(),
                cell.artefact_dir(),
            );
            self.shared.set_expected(cell, &mut record);
            finished += 1;
            report_finished(reporters, index, finished, total, &record)?;
            records[index] = Some(record);
        }
        Ok(records.into_iter().flatten().collect())
    }
}

/// Tells every reporter that the cell at plan position `index` (0-based) ended.
fn report_finished(
    reporters: &mut [&mut dyn Reporter],
    index: usize,
    finished: usize,
    total: usize,
    record: &RunRecord,
) -> std::io::Result<()> {
    for r in reporters.iter_mut() {
        r.report(&RunEvent::CellFinished {
            index: index + 1,
            finished,
            total,
            record,
        })?;
    }
    Ok(())
}

impl Shared {
    /// Sets the expected outcome of `record` from the expectation files.
    fn set_expected(&self, cell: &Cell, record: &mut RunRecord) {
        if let Some(expected) = self.expectations.lookup(
            &cell.scenario.name,
            cell.offerer.name(),
            cell.answerer.name(),
        ) {
            record.expected = expected.outcome;
            record.known_intermittent = expected.known_intermittent;
            record.expectation = Some(expected.reference);
        }
    }
}

impl Worker {
    /// Sets how the next runs of this worker capture their traffic.
    pub fn set_capture(&mut self, mode: CaptureMode) {
        self.capture = mode;
    }

    /// Ends this worker's browser sessions.
    pub async fn shutdown(&mut self) {
        self.pool.shutdown().await;
    }

    /// Runs one cell to its record. Never panics on peer behaviour.
    pub async fn run_cell(&mut self, cell: &Cell) -> RunRecord {
        let started_at = crate::results_dir::now_rfc3339();
        let t0 = Instant::now();
        let rel_dir = cell.artefact_dir();
        let dir = self.shared.out.join(&rel_dir);
        let scenario = &cell.scenario;
        let mut failed_step = None;
        let mut infos = [cell.offerer, cell.answerer].map(|i| ImplInfo {
            name: i.name().to_string(),
            version: "unknown".into(),
            detail: None,
        });

        let result: Result<(Option<Session>, Option<Stop>), Stop> = async {
            std::fs::create_dir_all(&dir).map_err(|e| {
                Stop::new(
                    Outcome::Error,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
            let transcript = File::create(dir.join("transcript.jsonl"))
                .map_err(|e| Stop::new(Outcome::Error, format!("cannot create transcript: {e}")))?;
            let capture = open_capture(self.capture, scenario, &dir, t0)?;
            // Both peers start at once: a browser's page load and a Rust peer's process
            // start are most of a run's overhead.
            let starts = [PeerId::OFFERER, PeerId::ANSWERER].map(|id| {
                let implementation = [cell.offerer, cell.answerer][id.0];
                let launch = launch_settings(scenario, id);
                PeerStart {
                    implementation,
                    name: scenario.peer_name(id),
                    role: role(id),
                    launch,
                    idle: implementation
                        .product()
                        .and_then(|product| self.pool.take_idle(product, launch)),
                }
            });
            let shared = self.shared.clone();
            let [o, a] = starts;
            let (offerer, answerer) = tokio::join!(
                start_peer(&shared, o, &dir, self.capture != CaptureMode::Off),
                start_peer(&shared, a, &dir, self.capture != CaptureMode::Off)
            );
            tracing::debug!(t = ?t0.elapsed(), "peers started");
            let (offerer, answerer) = match (offerer, answerer) {
                (Ok(o), Ok(a)) => (o, a),
                (o, a) => {
                    let mut first_stop = None;
                    for (k, started) in [o, a].into_iter().enumerate() {
                        match started {
                            Ok(peer) => {
                                infos[k] = peer.info.clone();
                                self.release(peer).await;
                            }
                            Err((stop, backing)) => {
                                if let Some(b) = backing {
                                    self.release_backing(b).await;
                                }
                                first_stop.get_or_insert(stop);
                            }
                        }
                    }
                    return Err(first_stop.expect("one peer failed to start"));
                }
            };
            infos = [offerer.info.clone(), answerer.info.clone()];
            let mut session = Session {
                peers: [offerer, answerer],
                transcript: BufWriter::new(transcript),
                dir: dir.clone(),
                t0,
                sdp_count: 0,
                offer: None,
                answer: None,
                throughput_mbps: BTreeMap::new(),
                capture,
                stats_at_connect: false,
                media: Default::default(),
                conn: Default::default(),
                first_command_at: None,
                steps_ended_at: 0.0,
            };
            let mut stop = None;
            for (index, step) in scenario.steps.iter().enumerate() {
                if matches!(step.action, Action::Command(PeerCommand::Close)) {
                    session.end_stats(step.peer.0).await;
                }
                let result = session.execute(step).await;
                session.steps_ended_at = session.elapsed_ms();
                session.stats_when_connected().await;
                if let Err(s) = result {
                    failed_step = Some(FailedStep {
                        index,
                        line: step.line,
                        peer: scenario.peer_name(step.peer).to_string(),
                        step: step.action.to_string(),
                    });
                    stop = Some(s);
                    break;
                }
            }
            Ok((Some(session), stop))
        }
        .await;

        let (session, stop) = match result {
            Ok((session, stop)) => (session, stop),
            Err(stop) => (None, Some(stop)),
        };
        let mut timings = Timings::default();
        let mut notes = Vec::new();
        let mut observed = BTreeMap::new();
        if let Some(mut session) = session {
            timings = session.timings();
            observed = session.observed();
            observed.append(&mut session.connectivity_observed());
            notes = session
                .peers
                .iter()
                .flat_map(|p| p.notes.iter().map(move |n| format!("{}: {n}", p.label())))
                .collect();
            tracing::debug!(t = ?t0.elapsed(), "steps done");
            session.end_stats(0).await;
            session.end_stats(1).await;
            session.finish_media().await;
            observed.append(&mut session.media.observed);
            timings.first_rtp_ms = std::mem::take(&mut session.media.first_rtp_ms);
            timings.first_frame_ms = std::mem::take(&mut session.media.first_frame_ms);
            session.write_console_logs();
            session.write_negotiation();
            session.teardown().await;
            let _ = session.transcript.flush();
            if let Some(capture) = session.capture.take() {
                capture.finish();
                timings.phases_ms = session.write_timeline(&capture);
                let totals = capture.totals();
                observed.insert(
                    "capture.way".into(),
                    serde_json::json!(capture.way().name()),
                );
                observed.insert(
                    "capture.datagrams".into(),
                    serde_json::json!(totals.datagrams),
                );
                observed.insert("capture.bytes".into(), serde_json::json!(totals.bytes));
                notes.extend(
                    capture
                        .problems()
                        .into_iter()
                        .map(|p| format!("capture: {p}")),
                );
            }
            let [a, b] = session.peers;
            self.release(a).await;
            self.release(b).await;
            tracing::debug!(t = ?t0.elapsed(), "released");
        }
        timings.wall_ms = round(t0.elapsed().as_secs_f64() * 1000.0);
        let (outcome, reason) = match stop {
            None => (Outcome::Pass, None),
            // Relay errors and malformed frames often explain a failure: keep them with it.
            Some(s) if notes.is_empty() => (s.outcome, Some(s.reason)),
            Some(s) => (
                s.outcome,
                Some(format!("{}\nnotes: {}", s.reason, notes.join("; "))),
            ),
        };
        let mut record = record(
            cell,
            infos,
            outcome,
            reason,
            failed_step,
            timings,
            started_at,
            rel_dir,
        );
        record.observed = observed;
        self.shared.set_expected(cell, &mut record);
        record
    }

    async fn release(&mut self, mut peer: LivePeer) {
        if let Some(b) = peer.backing.take() {
            drop(peer.link);
            self.release_backing(b).await;
        }
    }

    async fn release_backing(&mut self, backing: Backing) {
        match backing {
            Backing::Process(guard) => drop(guard),
            Backing::Browser(session) => self.pool.release(session).await,
        }
    }
}

/// A peer about to start: what it is and, for a browser, an idle session of its worker to
/// reuse.
struct PeerStart<'a> {
    implementation: Implementation,
    name: &'a str,
    role: &'static str,
    launch: crate::browser::Launch,
    idle: Option<BrowserSession>,
}

/// The capture of a run in `mode`: passive unless the mode is `relay`, the scenario drops
/// packets (only the relay can) or the passive tap cannot open (`capture.way` in the record
/// says which way it was).
fn open_capture(
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
async fn start_peer(
    shared: &Shared,
    start: PeerStart<'_>,
    dir: &Path,
    capture: bool,
) -> Result<LivePeer, (Stop, Option<Backing>)> {
    let PeerStart {
        implementation,
        name,
        role,
        launch,
        idle,
    } = start;
    let who = format!("{name} ({implementation})");
    let mut ticket = shared.control.register();
    let record = implementation.record();
    let mut backing = match &record.start {
        Start::Process(process) => {
            let program = match process.program {
                Program::Harness => &shared.harness_exe,
            };
            let mut cmd = tokio::process::Command::new(program);
            let url = shared.control.control_url(&ticket);
            cmd.args(process.args.iter().map(|a| a.replace(CONTROL_URL, &url)));
            if let (true, Some(var)) = (capture, process.keylog_env) {
                // The peer logs its DTLS keys (NSS key log format) so that the run's capture
                // can be decrypted; both peers of a run append to one file.
                cmd.env(var, dir.join("dtls-keys.log"));
            }
            let log = dir.join(implementation.log_file(role));
            let guard = ChildGuard::spawn(cmd, record.display_name, Some(&log)).map_err(|e| {
                let reason = format!(
                    "cannot start {} ({}): {e}",
                    record.display_name,
                    program.display()
                );
                (Stop::new(Outcome::Error, reason), None)
            })?;
            Backing::Process(guard)
        }
        Start::WebDriver(product) => {
            let url = shared.control.page_url(&ticket, product.name);
            let t = Instant::now();
            let session = open_page(shared, product, launch, idle, &url)
                .await
                .map_err(|e| (Stop::new(Outcome::Error, format!("{who}: {e}")), None))?;
            tracing::debug!(took = ?t.elapsed(), "{who}: page loaded");
            Backing::Browser(session)
        }
    };
    let connected = async {
        match &mut backing {
            Backing::Process(child) => tokio::select! {
                link = &mut ticket.connected => link.map_err(|_| Stop::new(Outcome::Error, "control server went away")),
                exit = child.wait_exit() => Err(Stop::new(Outcome::Crash, format!("{who}: {exit} before connecting; see {}", implementation.log_file(role)))),
            },
            Backing::Browser(_) => (&mut ticket.connected)
                .await
                .map_err(|_| Stop::new(Outcome::Error, "control server went away")),
        }
    };
    let mut link = match tokio::time::timeout(PEER_START_TIMEOUT, connected).await {
        Ok(Ok(link)) => link,
        Ok(Err(stop)) => return Err((stop, Some(backing))),
        Err(_) => {
            // A browser loads the page without waiting (page load strategy `none`): a page it
            // could not load shows here.
            let hint = match record.start {
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
            return Err((Stop::new(Outcome::Error, reason), Some(backing)));
        }
    };
    tracing::debug!("{who}: connected");
    let hello = match tokio::time::timeout(PEER_START_TIMEOUT, link.incoming.recv()).await {
        Ok(Some(Incoming::Message(PeerMessage::Hello(hello)))) => {
            tracing::debug!("{who}: hello");
            hello
        }
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
    let unsupported = hello.unsupported;
    Ok(LivePeer {
        name: name.to_string(),
        implementation,
        info: ImplInfo {
            name: implementation.name().to_string(),
            version,
            detail,
        },
        link,
        backing: Some(backing),
        disconnected: false,
        next_id: 1,
        events: Vec::new(),
        arrivals: Vec::new(),
        responses: HashMap::new(),
        unsupported,
        created: Vec::new(),
        echoing: HashSet::new(),
        sent: Vec::new(),
        background: HashMap::new(),
        last_local_description: None,
        matched_messages: HashMap::new(),
        pc_created_at: None,
        end_stats_taken: false,
        notes: Vec::new(),
    })
}

/// Loads `url` in a browser session: the idle one if it still answers, else a new one.
async fn open_page(
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

#[allow(clippy::too_many_arguments)]
fn record(
    cell: &Cell,
    infos: [ImplInfo; 2],
    outcome: Outcome,
    reason: Option<String>,
    failed_step: Option<FailedStep>,
    timings: Timings,
    started_at: String,
    artefacts: String,
) -> RunRecord {
    let [offerer, answerer] = infos;
    RunRecord {
        schema_version: interop_results::SCHEMA_VERSION,
        scenario: cell.scenario.name.clone(),
        parameters: cell.scenario.parameters.iter().cloned().collect(),
        repeat: cell.repeat,
        feature: cell.scenario.feature.clone(),
        offerer,
        answerer,
        outcome,
        expected: Outcome::Pass,
        known_intermittent: Vec::new(),
        expectation: None,
        reason: reason.map(|r| crate::redact::redact(&r).into_owned()),
        failed_step,
        timings,
        started_at,
        artefacts,
        observed: BTreeMap::new(),
    }
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

/// The content of a payload as the protocol carries it, with its digest.
fn materialize(spec: &PayloadSpec) -> (Payload, u64, String) {
    let bytes = spec.bytes();
    let digest = hex::encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let payload = if spec.is_binary() {
        Payload::Binary(base64::engine::general_purpose::STANDARD.encode(&bytes))
    } else {
        Payload::Text(String::from_utf8_lossy(&bytes).into_owned())
    };
    (payload, size, digest)
}

impl Session {
    /// Time to `connected` and to the first message, per role, each on that peer's clock.
    fn timings(&self) -> Timings {
        let mut timings = Timings::default();
        for (role, peer) in Role::ALL.iter().map(|r| r.as_str()).zip(&self.peers) {
            let Some(base) = peer.pc_created_at else {
                continue;
            };
            let first = |pick: &dyn Fn(&Event) -> bool| {
                peer.events
                    .iter()
                    .find(|(_, e)| pick(e))
                    .map(|(t, _)| round(t - base))
            };
            if let Some(ms) = first(&|e| connection_state(e) == Some("connected")) {
                timings.to_connected_ms.insert(role.to_string(), ms);
            }
            if let Some(ms) = first(&|e| matches!(e, Event::DataChannelMessage { .. })) {
                timings.to_first_message_ms.insert(role.to_string(), ms);
            }
            if let Some((label, created, _)) = peer.created.first() {
                let open = peer.events.iter().find_map(|(t, e)| match e {
                    Event::DataChannelOpen { label: l, .. } if l == label => Some(*t),
                    _ => None,
                });
                if let Some(open) = open {
                    timings
                        .channel_open_ms
                        .insert(role.to_string(), round((open - created).max(0.0)));
                }
            }
            if let Some(ms) = self.median_round_trip(peer) {
                timings.round_trip_ms.insert(role.to_string(), ms);
            }
        }
        timings.throughput_mbps = self.throughput_mbps.clone();
        if let Some(first) = self.first_command_at {
            timings.steps_ms = Some(round(self.steps_ended_at - first));
        }
        timings
    }

    /// Median time from `send()` to the arrival of the same bytes on the same channel, for
    /// the channels the other peer echoes.
    fn median_round_trip(&self, peer: &LivePeer) -> Option<f64> {
        let other = self.peers.iter().find(|p| p.name != peer.name)?;
        let mut used = HashSet::new();
        let mut rtts: Vec<f64> = peer
            .sent
            .iter()
            .filter(|(label, _, _)| other.echoing.contains(label))
            .filter_map(|(label, sent_at, sha256)| {
                let (i, t) = peer
                    .events
                    .iter()
                    .enumerate()
                    .find_map(|(i, (t, e))| match e {
                        Event::DataChannelMessage { label: l, message }
                            if l == label
                                && &message.sha256 == sha256
                                && *t >= *sent_at
                                && !used.contains(&i) =>
                        {
                            Some((i, *t))
                        }
                        _ => None,
                    })?;
                used.insert(i);
                Some(t - sent_at)
            })
            .collect();
        if rtts.is_empty() {
            return None;
        }
        rtts.sort_by(f64::total_cmp);
        Some(round(rtts[rtts.len() / 2]))
    }

    /// Once both peers reported `connected`, a getStats snapshot of each
    /// (`stats-<peer>-connected.json`).
    async fn stats_when_connected(&mut self) {
        if self.stats_at_connect
            || !self.peers.iter().all(|p| {
                p.events
                    .iter()
                    .any(|(_, e)| connection_state(e) == Some("connected"))
            })
        {
            return;
        }
        self.stats_at_connect = true;
        self.snapshot_stats("connected").await;
    }

    /// A getStats snapshot of each live peer, `stats-<peer>-<when>.json`; a failure is noted,
    /// never a step failure.
    async fn snapshot_stats(&mut self, when: &str) {
        for i in 0..2 {
            self.snapshot_peer_stats(i, when).await;
        }
    }

    /// The final getStats snapshot of one peer (once): before the scenario closes its peer
    /// connection, or after the last step.
    async fn end_stats(&mut self, i: usize) {
        if !self.peers[i].end_stats_taken {
            self.peers[i].end_stats_taken = true;
            self.snapshot_peer_stats(i, "end").await;
            // The last media report too, while the peer connection still exists.
            self.final_media_report(PeerId(i)).await;
        }
    }

    async fn snapshot_peer_stats(&mut self, i: usize, when: &str) {
        {
            if self.peers[i].disconnected || self.peers[i].pc_created_at.is_none() {
                return;
            }
            let id = self.send(PeerId(i), Command::GetStats);
            let deadline = Instant::now() + STATS_TIMEOUT;
            let response = loop {
                if let Some(r) = self.peers[i].responses.remove(&id) {
                    break Some(r);
                }
                match self.pump_once(deadline).await {
                    Ok(true) => {}
                    _ => break None,
                }
            };
            let name = format!("stats-{}-{when}.json", self.peers[i].name);
            match response {
                Some((_, Ok(Reply::Stats { report }))) => self.write_artefact(
                    &name,
                    &serde_json::to_string_pretty(&report).unwrap_or_default(),
                ),
                Some((_, Err(e))) => self.peers[i]
                    .notes
                    .push(format!("getStats {when} failed: {}: {}", e.name, e.message)),
                _ => self.peers[i].notes.push(format!(
                    "no getStats answer {when} within {}s",
                    STATS_TIMEOUT.as_secs()
                )),
            }
        }
    }

    /// `negotiation.json`: the normalised features of the offer and the answer and each peer's
    /// event sequences (see `negotiation`), the input of the negotiation snapshots.
    fn write_negotiation(&self) {
        let description = |d: &Option<(PeerId, String)>| match d {
            Some((by, sdp)) => serde_json::json!({
                "by": self.peers[by.0].name,
                "implementation": self.peers[by.0].implementation.name(),
                "features": crate::negotiation::description_features(sdp),
            }),
            None => serde_json::Value::Null,
        };
        let events: serde_json::Map<String, serde_json::Value> = self
            .peers
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    crate::negotiation::event_sequences(&p.events),
                )
            })
            .collect();
        let json = serde_json::json!({
            "offer": description(&self.offer),
            "answer": description(&self.answer),
            "events": events,
        });
        self.write_artefact(
            "negotiation.json",
            &serde_json::to_string_pretty(&json).unwrap_or_default(),
        );
    }

    /// Each browser peer's console and the page's own log lines, `console-<peer>.log`.
    fn write_console_logs(&self) {
        for p in &self.peers {
            if !p.implementation.is_browser() {
                continue; // A process peer's own log is <implementation>-peer-<role>.log.
            }
            let mut text = String::new();
            for ((t, e), _) in p.events.iter().zip(&p.arrivals) {
                if let Event::Log { level, message } = e {
                    text.push_str(&format!("{t:>10.1} {level:<5} {message}\n"));
                }
            }
            let text = crate::redact::redact(&text);
            self.write_artefact(&format!("console-{}.log", p.name), &text);
        }
    }

    /// Writes `timeline.json` (wire events from the relay and the peers' events, on the
    /// harness's clock) and returns the phase durations.
    fn write_timeline(&self, capture: &Capture) -> BTreeMap<String, f64> {
        use crate::capture::WireEvent;
        let mut entries: Vec<(f64, String, String)> = capture
            .wire_events()
            .into_iter()
            .map(|(e, t)| (t, "wire".to_string(), e.name().to_string()))
            .collect();
        let mut first_open = None;
        let mut first_message = None;
        for p in &self.peers {
            let mut messages_seen = HashSet::new();
            for ((_, event), at) in p.events.iter().zip(&p.arrivals) {
                let what = match event {
                    Event::IceCandidate { candidate: Some(c) } => {
                        format!("candidate {}", c.candidate)
                    }
                    Event::IceCandidate { candidate: None } => "end of candidates".into(),
                    Event::IceGatheringStateChange { state } => format!("ICE gathering {state}"),
                    Event::IceConnectionStateChange { state } => format!("ICE connection {state}"),
                    Event::ConnectionStateChange { state } => format!("connection {state}"),
                    Event::SignalingStateChange { state } => format!("signaling {state}"),
                    Event::DataChannel { label, .. } => format!("datachannel '{label}'"),
                    Event::DataChannelOpen { label, .. } => {
                        first_open.get_or_insert(*at);
                        format!("channel '{label}' open")
                    }
                    Event::DataChannelMessage { label, .. } => {
                        first_message.get_or_insert(*at);
                        if !messages_seen.insert(label.clone()) {
                            continue;
                        }
                        format!("first message on '{label}'")
                    }
                    Event::DataChannelClosing { label } => format!("channel '{label}' closing"),
                    Event::DataChannelClose { label } => format!("channel '{label}' closed"),
                    other => other.name().to_string(),
                };
                entries.push((*at, p.name.clone(), what));
            }
        }
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        let wire = capture.wire_events();
        let at = |e: WireEvent| wire.iter().find(|(w, _)| *w == e).map(|(_, t)| *t);
        let mut phases = BTreeMap::new();
        let mut span = |name: &str, from: Option<f64>, to: Option<f64>| {
            if let (Some(a), Some(b)) = (from, to) {
                phases.insert(name.to_string(), round((b - a).max(0.0)));
            }
        };
        span(
            "connectivity_checks",
            at(WireEvent::StunBindingRequest),
            at(WireEvent::StunBindingSuccess),
        );
        span(
            "dtls_handshake",
            at(WireEvent::DtlsClientHello),
            at(WireEvent::DtlsApplicationData),
        );
        span(
            "sctp_channel_open",
            at(WireEvent::DtlsApplicationData),
            first_open,
        );
        if at(WireEvent::DtlsApplicationData).is_none() {
            // DTLS 1.3 encrypts the end of its handshake and its application data alike (the
            // unified header), so the wire does not show where one ends: one span instead.
            span(
                "dtls_handshake_and_sctp_channel_open",
                at(WireEvent::DtlsClientHello),
                first_open,
            );
        }
        span("first_message", first_open, first_message);
        // ICE gathering per peer: from its first sign of gathering (the `gathering` state, or
        // its first candidate: the Rust peer never reports `gathering`) to `complete`.
        for p in &self.peers {
            let started = p
                .events
                .iter()
                .zip(&p.arrivals)
                .find_map(|((_, e), at)| match e {
                    Event::IceGatheringStateChange { state } if state == "gathering" => Some(*at),
                    Event::IceCandidate { candidate: Some(_) } => Some(*at),
                    _ => None,
                });
            let complete = p
                .events
                .iter()
                .zip(&p.arrivals)
                .find_map(|((_, e), at)| match e {
                    Event::IceGatheringStateChange { state } if state == "complete" => Some(*at),
                    _ => None,
                });
            span(&format!("ice_gathering.{}", p.name), started, complete);
        }
        let json = serde_json::json!({
            "clock": "ms since the run started, on the harness's clock; wire events are when \
                      the capture relay forwarded the datagram, peer events when they reached \
                      the harness",
            "phases_ms": phases,
            "events": entries
                .iter()
                .map(|(t, source, what)| serde_json::json!({ "t_ms": t, "source": source, "event": what }))
                .collect::<Vec<_>>(),
        });
        self.write_artefact(
            "timeline.json",
            &serde_json::to_string_pretty(&json).unwrap_or_default(),
        );
        phases
    }

    /// Facts read from the SDPs, keyed `<role>.<fact>`.
    fn observed(&self) -> BTreeMap<String, serde_json::Value> {
        let mut observed = BTreeMap::new();
        for (i, role) in Role::ALL.iter().map(|r| r.as_str()).enumerate() {
            let peer = &self.peers[i];
            if let Some(d) = &peer.last_local_description {
                if sdp::max_message_size(&d.sdp).is_some() {
                    let value = match sdp::announced_max_message_size(&d.sdp) {
                        Some(n) => serde_json::json!(n),
                        None => serde_json::json!("absent (65536 applies)"),
                    };
                    observed.insert(format!("{role}.max_message_size"), value);
                }
            }
            if let Some(client) = self.is_dtls_client(PeerId(i)) {
                let dtls = if client { "client" } else { "server" };
                observed.insert(format!("{role}.dtls_role"), serde_json::json!(dtls));
            }
        }
        observed
    }

    fn elapsed_ms(&self) -> f64 {
        round(self.t0.elapsed().as_secs_f64() * 1000.0)
    }

    fn log(&mut self, peer: PeerId, direction: &str, frame: &serde_json::Value) {
        // One secrets policy (redact.rs) for the whole line: TURN `credential`s included.
        let line = serde_json::json!({
            "t_ms": self.elapsed_ms(),
            "peer": self.peers[peer.0].name,
            "dir": direction,
            "frame": frame,
        });
        let _ = writeln!(
            self.transcript,
            "{}",
            crate::redact::redact(&line.to_string())
        );
    }

    /// Sends a command; returns its request id.
    fn send(&mut self, peer: PeerId, command: Command) -> u64 {
        if self.first_command_at.is_none() {
            self.first_command_at = Some(self.elapsed_ms());
        }
        let p = &mut self.peers[peer.0];
        let id = p.next_id;
        p.next_id += 1;
        let request = Request { id, command };
        let value = serde_json::to_value(&request).unwrap_or_default();
        if !p.disconnected {
            let _ = p.link.outgoing.send(value.to_string());
        }
        self.log(peer, "to", &value);
        id
    }

    /// Processes one frame from a peer: records it and relays candidates. A frame that breaks
    /// the protocol (not JSON, an unknown message, over the size limit) ends the run as an
    /// `error`: the peer can no longer be trusted to report what happened.
    fn on_incoming(&mut self, peer: PeerId, incoming: Incoming) -> Result<(), Stop> {
        match incoming {
            Incoming::Malformed(text) => {
                self.log(peer, "from", &serde_json::json!({ "malformed": text }));
                return Err(Stop::new(
                    Outcome::Error,
                    format!(
                        "{} broke the control protocol: {text}",
                        self.peers[peer.0].label()
                    ),
                ));
            }
            Incoming::Message(message) => {
                let value = serde_json::to_value(&message).unwrap_or_default();
                self.log(peer, "from", &value);
                match message {
                    PeerMessage::Hello(_) => {}
                    PeerMessage::Response { id, t, ok, error } => {
                        let p = &mut self.peers[peer.0];
                        if let Some(what) = p.background.remove(&id) {
                            if let Some(e) = error {
                                p.notes
                                    .push(format!("{what} failed: {}: {}", e.name, e.message));
                            }
                            return Ok(());
                        }
                        let result = match (ok, error) {
                            (_, Some(e)) => Err(e),
                            (Some(ok), None) => Ok(ok),
                            (None, None) => Ok(Reply::Done),
                        };
                        p.responses.insert(id, (t, result));
                    }
                    PeerMessage::Event { t, event } => {
                        if let Event::IceCandidate { candidate } = &event {
                            let deliveries =
                                self.conn.relay.gathered_candidate(peer, candidate.clone());
                            self.deliver(deliveries);
                        }
                        let now = self.elapsed_ms();
                        let p = &mut self.peers[peer.0];
                        p.events.push((t, event));
                        p.arrivals.push(now);
                    }
                }
            }
        }
        Ok(())
    }

    /// Hands candidates the relay policy let through to their peers (`addIceCandidate`), each
    /// rewritten for the capture relay if there is one.
    fn deliver(&mut self, deliveries: Vec<relay::Deliver>) {
        for relay::Deliver { to, mut candidate } in deliveries {
            if let (Some(capture), Some(c)) = (&self.capture, candidate.as_mut()) {
                c.candidate = capture.rewrite_candidate(to.other().0, &c.candidate);
            }
            let what = match &candidate {
                Some(c) => format!("addIceCandidate({})", c.candidate),
                None => "addIceCandidate() (end of candidates)".to_owned(),
            };
            let id = self.send(to, Command::AddIceCandidate { candidate });
            self.peers[to.0].background.insert(id, what);
        }
    }

    /// Waits for the next frame from either peer until `deadline`. `Ok(false)` on timeout.
    async fn pump_once(&mut self, deadline: Instant) -> Result<bool, Stop> {
        let [a, b] = &mut self.peers;
        let (a_open, b_open) = (!a.disconnected, !b.disconnected);
        let received = tokio::select! {
            m = a.link.incoming.recv(), if a_open => (PeerId(0), m),
            m = b.link.incoming.recv(), if b_open => (PeerId(1), m),
            _ = tokio::time::sleep_until(deadline) => return Ok(false),
        };
        match received {
            (peer, Some(incoming)) => {
                self.on_incoming(peer, incoming)?;
                Ok(true)
            }
            (peer, None) => {
                let p = &mut self.peers[peer.0];
                p.disconnected = true;
                let why = match p.backing.as_mut() {
                    Some(Backing::Process(child)) => {
                        // Give the exit status a moment to be observable.
                        match tokio::time::timeout(Duration::from_millis(500), child.wait_exit())
                            .await
                        {
                            Ok(exit) => exit,
                            Err(_) => "its control connection closed".into(),
                        }
                    }
                    Some(Backing::Browser(_)) | None => {
                        "its page closed the control connection (browser or page crashed?)".into()
                    }
                };
                self.log(peer, "from", &serde_json::json!({ "disconnected": why }));
                Err(Stop::new(
                    Outcome::Crash,
                    format!(
                        "{} disconnected from the harness: {why}",
                        self.peers[peer.0].label()
                    ),
                ))
            }
        }
    }

    /// Sends a command and waits for its response. A command the peer declared unsupported,
    /// or one it refuses with `NotSupportedError`, makes the run `unsupported`; any other
    /// error makes it `fail`.
    async fn command(
        &mut self,
        peer: PeerId,
        command: Command,
        what: &str,
    ) -> Result<(f64, Reply), Stop> {
        let (t, result) = self.command_result(peer, command, what).await?;
        result
            .map(|r| (t, r))
            .map_err(|e| command_failed(&self.peers[peer.0].label(), what, &e))
    }

    /// Fails with `unsupported` when `peer` declared in its Hello that it cannot do or
    /// observe `key` (a command type or an event name).
    fn require(&self, peer: PeerId, key: &str, what: &str) -> Result<(), Stop> {
        match self.peers[peer.0].unsupported.get(key) {
            Some(evidence) => Err(Stop::new(
                Outcome::Unsupported,
                format!(
                    "{}: cannot {what}: the peer declares `{key}` unsupported: {evidence}",
                    self.peers[peer.0].label()
                ),
            )),
            None => Ok(()),
        }
    }

    /// Sends a command and waits for its response, success or error. Only a timeout or a
    /// disconnection is a `Stop`.
    async fn command_result(
        &mut self,
        peer: PeerId,
        command: Command,
        what: &str,
    ) -> Result<(f64, Result<Reply, PeerError>), Stop> {
        self.require(peer, command.kind(), what)?;
        let id = self.send(peer, command);
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if let Some(response) = self.peers[peer.0].responses.remove(&id) {
                return Ok(response);
            }
            if !self.pump_once(deadline).await? {
                return Err(Stop::new(
                    Outcome::Timeout,
                    format!(
                        "{}: no answer to {what} within {}s",
                        self.peers[peer.0].label(),
                        COMMAND_TIMEOUT.as_secs()
                    ),
                ));
            }
        }
    }

    fn write_artefact(&self, name: &str, contents: &str) {
        let _ = std::fs::write(self.dir.join(name), contents);
    }

    /// Runs one step: each group of actions has its own exhaustive match (a step kind nobody
    /// wired up does not compile).
    async fn execute(&mut self, step: &Step) -> Result<(), Stop> {
        let peer = step.peer;
        let what = step.action.to_string();
        match &step.action {
            Action::Command(command) => self.run_command(peer, command, &what).await,
            Action::Relay(relay) => self.relay_step(peer, relay, &what).await,
            Action::Expect {
                what: expectation,
                timeout,
            } => self.expect(peer, expectation, *timeout, &what).await,
            Action::Check(check) => self.run_check(peer, check).await,
        }
    }

    /// What the harness does between the peers from now on.
    async fn relay_step(&mut self, peer: PeerId, step: &RelayStep, what: &str) -> Result<(), Stop> {
        match step {
            RelayStep::Candidates(policy) => {
                self.conn.relay.set_policy(peer, policy.clone());
                Ok(())
            }
            RelayStep::ReleaseCandidates { reverse } => {
                self.release_candidates(peer, *reverse).await
            }
            RelayStep::DropPackets { name, every } => {
                self.drop_packets(peer, name, *every, what).await
            }
        }
    }

    /// An immediate check of what the run recorded.
    async fn run_check(&mut self, peer: PeerId, check: &Check) -> Result<(), Stop> {
        match check {
            Check::NewIceCredentials => self.check_new_ice_credentials(peer),
            Check::HostCandidates { mdns } => self.check_host_candidates(peer, *mdns).await,
            Check::MaxMessageSize { at_least } => self.require_max_message_size(peer, *at_least),
            Check::StreamIds => self.check_stream_ids(peer),
        }
    }

    /// Waits for one expectation. Those judged from the event log go through
    /// [`Session::wait_on_events`]; those judged from getStats or media reports poll them
    /// (connectivity.rs, media.rs). Either way a missed deadline is `timeout` and a
    /// contradiction `fail`.
    async fn expect(
        &mut self,
        peer: PeerId,
        expectation: &Expectation,
        timeout: Duration,
        what: &str,
    ) -> Result<(), Stop> {
        use expect::{ice_connection_state, last_state};
        let deadline = Instant::now() + timeout;
        let on = |wait| EventWait {
            peer,
            what,
            timeout,
            deadline,
            needs: wait,
        };
        match expectation {
            Expectation::ConnectionState { state } => {
                let wait = on("connection_state_change");
                self.wait_on_events(
                    wait,
                    |events, _| {
                        expect::reached_state(events, connection_state, "connection state", state)
                    },
                    |events| {
                        format!(
                            "; last connection state: {}",
                            last_state(events, connection_state).unwrap_or("none reported")
                        )
                    },
                )
                .await
            }
            Expectation::IceConnectionState { state } => {
                let wait = on("ice_connection_state_change");
                self.wait_on_events(
                    wait,
                    |events, _| {
                        expect::reached_state(
                            events,
                            ice_connection_state,
                            "ICE connection state",
                            state,
                        )
                    },
                    |events| {
                        format!(
                            "; last ICE connection state: {}",
                            last_state(events, ice_connection_state).unwrap_or("none reported")
                        )
                    },
                )
                .await
            }
            Expectation::DataChannel { label, properties } => {
                let wait = on("data_channel");
                self.wait_on_events(
                    wait,
                    |events, _| expect::data_channel(events, label, properties),
                    no_detail,
                )
                .await
            }
            Expectation::ChannelOpen { label } => {
                let wait = on("data_channel_open");
                self.wait_on_events(
                    wait,
                    |events, _| expect::channel_open(events, label),
                    no_detail,
                )
                .await
            }
            Expectation::Message {
                label,
                payload,
                any_order,
            } => {
                let want = expect::ExpectedMessage::of(payload);
                let wait = on("data_channel_message");
                self.wait_on_events(
                    wait,
                    |events, matched| {
                        let matched = matched.entry(label.clone()).or_default();
                        expect::message(events, matched, label, &want, *any_order)
                    },
                    no_detail,
                )
                .await
            }
            Expectation::ChannelClosing { label } => {
                let wait = on("data_channel_closing");
                self.wait_on_events(
                    wait,
                    |events, _| expect::channel_closing(events, label),
                    no_detail,
                )
                .await
            }
            Expectation::ChannelClosed { label } => {
                let wait = on("data_channel_close");
                self.wait_on_events(
                    wait,
                    |events, _| expect::channel_closed(events, label),
                    no_detail,
                )
                .await
            }
            Expectation::SelectedCandidatePair { want } => {
                self.expect_selected_pair(peer, want, timeout).await
            }
            Expectation::DtlsRole { role } => self.expect_dtls_role(peer, role, timeout).await,
            Expectation::Certificate { key } => self.expect_certificate(peer, key, timeout).await,
            Expectation::BulkTransfer {
                label,
                bytes,
                chunk,
                high_water,
                low_water,
            } => {
                let bulk = Bulk {
                    label,
                    bytes: *bytes,
                    chunk: *chunk,
                    high_water: *high_water,
                    low_water: *low_water,
                };
                self.bulk_transfer(peer, bulk, timeout, what).await
            }
            Expectation::KeyFrameAfterRequest { name } => {
                self.request_key_frame(peer, name, timeout, what).await
            }
            Expectation::Media { name, expect } => {
                self.expect_media(peer, name, expect, timeout, what).await
            }
            Expectation::NoMedia { name } => self.expect_no_media(peer, name, timeout, what).await,
            Expectation::Retransmissions { name } => {
                self.expect_retransmissions(peer, name, timeout, what).await
            }
        }
    }

    /// The one wait over a peer's event log: asks `verdict` after every frame until it is
    /// met (`Ok`), contradicted (`fail`) or the deadline passes (`timeout`, with `detail` of
    /// the log appended). A peer that declared it cannot report `wait.needs` makes the step
    /// `unsupported` before any waiting.
    async fn wait_on_events(
        &mut self,
        wait: EventWait<'_>,
        mut verdict: impl FnMut(&expect::EventLog, &mut HashMap<String, BTreeSet<usize>>) -> Verdict,
        detail: impl Fn(&expect::EventLog) -> String,
    ) -> Result<(), Stop> {
        let EventWait {
            peer,
            what,
            timeout,
            deadline,
            needs,
        } = wait;
        self.require(peer, needs, what)?;
        loop {
            let p = &mut self.peers[peer.0];
            match verdict(&p.events, &mut p.matched_messages) {
                Verdict::Met => return Ok(()),
                Verdict::Contradicted(reason) => return Err(self.failure(peer, &reason)),
                Verdict::Pending => {}
            }
            if !self.pump_once(deadline).await? {
                let p = &self.peers[peer.0];
                return Err(Stop::new(
                    Outcome::Timeout,
                    format!(
                        "{}: timed out after {} waiting to {what}{}",
                        p.label(),
                        human(timeout),
                        detail(&p.events)
                    ),
                ));
            }
        }
    }

    /// One bulk transfer: the receiver digests, the sender streams; compares the digest with
    /// the pattern stream and records the throughput the receiver saw.
    async fn bulk_transfer(
        &mut self,
        sender: PeerId,
        bulk: Bulk<'_>,
        timeout: Duration,
        what: &str,
    ) -> Result<(), Stop> {
        let Bulk {
            label,
            bytes,
            chunk,
            high_water,
            low_water,
        } = bulk;
        let receiver = sender.other();
        self.command(
            receiver,
            Command::ReceiveBulk {
                label: label.to_string(),
                bytes,
            },
            what,
        )
        .await?;
        self.command(
            sender,
            Command::SendBulk {
                label: label.to_string(),
                bytes,
                chunk,
                seed: BULK_SEED,
                high_water,
                low_water,
            },
            what,
        )
        .await?;
        let expected = {
            let mut hasher = Sha256::new();
            let mut generator = interop_protocol::Pattern::new(BULK_SEED);
            let mut buf = Vec::with_capacity(1 << 20);
            let mut left = bytes;
            while left > 0 {
                let n = left.min(1 << 20) as usize;
                buf.clear();
                generator.fill(&mut buf, n);
                hasher.update(&buf);
                left -= n as u64;
            }
            hex::encode(hasher.finalize())
        };
        let deadline = Instant::now() + timeout;
        let (s_label, r_label) = (self.peers[sender.0].label(), self.peers[receiver.0].label());
        loop {
            let failed = self.peers[sender.0]
                .events
                .iter()
                .find_map(|(_, e)| match e {
                    Event::BulkFailed {
                        label: l,
                        bytes_sent,
                        error,
                    } if l == label => Some(format!(
                    "{s_label}: bulk send on '{label}' failed after {bytes_sent} bytes: {error}"
                )),
                    _ => None,
                });
            if let Some(reason) = failed {
                return Err(Stop::new(Outcome::Fail, reason));
            }
            let received = self.peers[receiver.0]
                .events
                .iter()
                .find_map(|(_, e)| match e {
                    Event::BulkReceived {
                        label: l,
                        bytes,
                        messages,
                        sha256,
                        first_t,
                        last_t,
                    } if l == label => Some((*bytes, *messages, sha256.clone(), *first_t, *last_t)),
                    _ => None,
                });
            if let Some((got, messages, sha256, first_t, last_t)) = received {
                if let Err(diff) = compare_bulk(bytes, &expected, got, messages, &sha256) {
                    return Err(Stop::new(
                        Outcome::Fail,
                        format!("{r_label}: bulk data on '{label}' differs: {diff}"),
                    ));
                }
                let sent_digest = self.peers[sender.0]
                    .events
                    .iter()
                    .find_map(|(_, e)| match e {
                        Event::BulkSent {
                            label: l, sha256, ..
                        } if l == label => Some(sha256.clone()),
                        _ => None,
                    });
                if let Some(d) = sent_digest.filter(|d| *d != expected) {
                    return Err(Stop::new(
                        Outcome::Fail,
                        format!(
                            "{s_label}: says it sent data with sha256 {}, expected {}",
                            &d[..d.len().min(16)],
                            &expected[..16]
                        ),
                    ));
                }
                let span_ms = last_t - first_t;
                if span_ms > 0.0 {
                    let role = role(sender);
                    self.throughput_mbps.insert(
                        format!("{role} {label}"),
                        round(bytes as f64 * 8.0 / span_ms / 1000.0),
                    );
                }
                return Ok(());
            }
            if !self.pump_once(deadline).await? {
                let progress = self.peers[sender.0]
                    .events
                    .iter()
                    .any(|(_, e)| matches!(e, Event::BulkSent { label: l, .. } if l == label));
                return Err(Stop::new(
                    Outcome::Timeout,
                    format!(
                        "{r_label}: timed out after {} waiting to receive {bytes} bytes on \
                         '{label}' ({s_label} {})",
                        human(timeout),
                        if progress {
                            "had handed all of it to send()"
                        } else {
                            "had not finished sending"
                        }
                    ),
                ));
            }
        }
    }

    /// `unsupported` when `peer` announces a smaller a=max-message-size than `at_least`.
    fn require_max_message_size(&self, peer: PeerId, at_least: u64) -> Result<(), Stop> {
        let p = &self.peers[peer.0];
        let Some(description) = &p.last_local_description else {
            return Err(Stop::new(
                Outcome::Fail,
                format!(
                    "{}: has no local description to read a=max-message-size from",
                    p.label()
                ),
            ));
        };
        let Some(size) = sdp::max_message_size(&description.sdp) else {
            return Err(Stop::new(
                Outcome::Fail,
                format!(
                    "{}: its {} has no data channel m-section",
                    p.label(),
                    description.kind
                ),
            ));
        };
        if size >= at_least {
            return Ok(());
        }
        let announced = match sdp::announced_max_message_size(&description.sdp) {
            Some(n) => format!("announces a=max-message-size:{n}"),
            None => "announces no a=max-message-size (so 65536 applies)".to_string(),
        };
        Err(Stop::new(
            Outcome::Unsupported,
            format!(
                "{}: {announced} in its {}: it accepts no message of the {at_least} bytes \
                 this scenario sends",
                p.label(),
                description.kind
            ),
        ))
    }

    /// Whether `peer` is the DTLS client, from the offer and answer exchanged so far.
    fn is_dtls_client(&self, peer: PeerId) -> Option<bool> {
        let (offerer, offer) = self.offer.as_ref()?;
        let (_, answer) = self.answer.as_ref()?;
        let offerer_is_client = sdp::offerer_is_dtls_client(offer, answer)?;
        Some(if peer == *offerer {
            offerer_is_client
        } else {
            !offerer_is_client
        })
    }

    /// RFC 8832 section 6: the DTLS client uses even stream ids, the server odd ones; ids
    /// are unique per association.
    fn check_stream_ids(&self, peer: PeerId) -> Result<(), Stop> {
        let p = &self.peers[peer.0];
        let fail =
            |reason: String| Err(Stop::new(Outcome::Fail, format!("{}: {reason}", p.label())));
        let Some(client) = self.is_dtls_client(peer) else {
            return fail("cannot tell the DTLS roles: no offer and answer with a=setup".into());
        };
        let role = if client { "client" } else { "server" };
        let parity = |even: bool| if even { "even" } else { "odd" };
        let mut problems = Vec::new();
        let mut ids: BTreeMap<u16, String> = BTreeMap::new();
        let mut seen = |id: u16, label: &str, problems: &mut Vec<String>| {
            if let Some(other) = ids.insert(id, label.to_string()) {
                problems.push(format!("'{label}' and '{other}' share stream id {id}"));
            }
        };
        let mut checked = 0;
        for (label, _, init) in &p.created {
            if init.negotiated == Some(true) {
                if let Some(id) = init.id {
                    seen(id, label, &mut problems);
                }
                continue;
            }
            let opened = p.events.iter().find_map(|(_, e)| match e {
                Event::DataChannelOpen { label: l, id } if l == label => Some(*id),
                _ => None,
            });
            if let Some(Some(id)) = opened {
                checked += 1;
                seen(id, label, &mut problems);
                if (id % 2 == 0) != client {
                    problems.push(format!(
                        "its own channel '{label}' has id {id}, but the DTLS {role} must use {} ids",
                        parity(client)
                    ));
                }
            }
        }
        for (_, e) in &p.events {
            if let Event::DataChannel {
                label,
                id: Some(id),
                ..
            } = e
            {
                checked += 1;
                seen(*id, label, &mut problems);
                if (id % 2 == 0) == client {
                    problems.push(format!(
                        "the remote's channel '{label}' has id {id}, but the remote is the DTLS {} and must use {} ids",
                        if client { "server" } else { "client" },
                        parity(!client)
                    ));
                }
            }
        }
        if checked == 0 {
            return fail("reported no stream id of any in-band channel".into());
        }
        if !problems.is_empty() {
            let more = if problems.len() > 5 {
                format!(" (and {} more)", problems.len() - 5)
            } else {
                String::new()
            };
            problems.truncate(5);
            return fail(format!(
                "stream ids break RFC 8832: {}{more}",
                problems.join("; ")
            ));
        }
        Ok(())
    }

    /// Asks each live peer to close its peer connection (best effort, bounded).
    async fn teardown(&mut self) {
        for i in 0..2 {
            if !self.peers[i].disconnected {
                let id = self.send(PeerId(i), Command::Close);
                self.peers[i].background.insert(id, "close".into());
            }
        }
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        while self
            .peers
            .iter()
            .any(|p| !p.disconnected && !p.background.is_empty())
        {
            match self.pump_once(deadline).await {
                Ok(true) => {}
                _ => break,
            }
        }
    }
}

/// What a browser for `peer` must be launched with: mDNS host candidates when one of its
/// `create_peer_connection` steps asks for them (a browser decides that at launch).
fn launch_settings(
    scenario: &interop_scenario::plan::Scenario,
    peer: PeerId,
) -> crate::browser::Launch {
    let mdns = scenario.steps.iter().any(|s| {
        s.peer == peer
            && matches!(&s.action, Action::Command(PeerCommand::CreatePeerConnection { configuration, .. }) if configuration.mdns == Some(true))
    });
    crate::browser::Launch { mdns }
}

/// The stop of a command the peer answered with an error: `unsupported` for
/// `NotSupportedError` (the implementation refuses it as the spec allows), else `fail`.
fn command_failed(who: &str, what: &str, e: &PeerError) -> Stop {
    let outcome = if e.name == "NotSupportedError" {
        Outcome::Unsupported
    } else {
        Outcome::Fail
    };
    Stop::new(
        outcome,
        format!("{who}: {what} failed: {}: {}", e.name, e.message),
    )
}

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Compares what a bulk receiver digested with the stream that was sent.
fn compare_bulk(
    bytes: u64,
    expected_sha256: &str,
    got: u64,
    messages: u64,
    sha256: &str,
) -> Result<(), String> {
    if got == bytes && sha256 == expected_sha256 {
        return Ok(());
    }
    Err(format!(
        "got {got} bytes in {messages} messages (sha256 {}), expected {bytes} bytes (sha256 {})",
        &sha256[..sha256.len().min(16)],
        &expected_sha256[..expected_sha256.len().min(16)]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_comparison_catches_size_and_content_differences() {
        let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
        let stream = interop_protocol::pattern(BULK_SEED, 4096);
        let expected = sha(&stream);
        assert!(compare_bulk(4096, &expected, 4096, 1, &expected).is_ok());
        let mut corrupted = stream.clone();
        corrupted[100] ^= 1;
        let err = compare_bulk(4096, &expected, 4096, 1, &sha(&corrupted)).unwrap_err();
        assert!(err.contains("got 4096 bytes"), "{err}");
        assert!(compare_bulk(4096, &expected, 4095, 1, &sha(&stream[..4095])).is_err());
    }
}
