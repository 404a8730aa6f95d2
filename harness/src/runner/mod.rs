//! The runner: executes cells and turns each into one [`RunRecord`].
//!
//! ```text
//!  mod.rs       Runner::run_all: workers take cells in plan order, reporters hear of each
//!     │
//!  worker.rs    one cell: start both peers ─> steps in order ─> finish (artefacts, record)
//!     │           start.rs     a peer from its implementation record: child process, or a
//!     │                        (pooled) WebDriver session loading /peer.html; its Hello
//!     │           session.rs   the run in progress: the protocol client (send, pump_once,
//!     │                        command), every frame to transcript.jsonl, candidates through
//!     │                        relay.rs (pure) to the other peer
//!     │           steps.rs     one exhaustive match per step group:
//!     │                          commands.rs  PeerCommand -> protocol commands
//!     │                          relay steps  relay.rs policy, media.rs drop_packets
//!     │                          expect       Expectation -> a wait.rs Probe:
//!     │                                         expect.rs (pure, event log),
//!     │                                         connectivity.rs / stats.rs /
//!     │                                         channel_stats.rs (getStats),
//!     │                                         media.rs (media reports), bulk.rs
//!     │                          checks.rs    immediate checks of what was recorded
//!     │           wait.rs      the one wait: Met / Pending / Contradicted -> pass / timeout /
//!     │                        fail, declared gaps -> unsupported
//!     │           observe/     timings and the timeline (pure), stats snapshots, negotiation
//!     │                        and console artefacts
//!  RunRecord ──> reporters (reporter.rs), results folder (results_dir.rs)
//! ```
//!
//! Failures are outcomes, never panics: a failed command or contradicted expectation is
//! `fail`, a missed deadline `timeout`, a peer that disconnects `crash`, a peer the harness
//! could not start `error`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use interop_protocol::Payload;
use interop_results::{Implementation as ImplInfo, Outcome, RunRecord, Timings};
use interop_scenario::expectations::Expectations;
use interop_scenario::plan::{PayloadSpec, PeerId};
use sha2::{Digest, Sha256};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::browser::{BrowserPool, Installation};
use crate::capture::CaptureMode;
use crate::control::ControlServer;
use crate::matrix::Cell;
use crate::reporter::{Reporter, RunEvent};

mod bulk;
mod channel_stats;
mod checks;
mod commands;
mod connectivity;
pub mod expect;
mod frames;
mod media;
mod observe;
pub mod relay;
mod session;
mod start;
mod stats;
mod steps;
mod wait;
mod worker;

use worker::record;
pub use worker::Worker;

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

/// The role name of a peer in records and `observed` keys.
fn role(peer: PeerId) -> &'static str {
    peer.role().as_str()
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

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
