//! The command line's shape: clap types of every command and their value parsers, and
//! `--help`'s epilogue (exit codes from the contract crate, environment).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use interop_results::exit_code;

use interop_harness::capture::CaptureMode;
use interop_harness::implementations::Start;
use interop_harness::matrix::{Implementation, Shard};

/// WebRTC interoperability harness: runs YAML scenarios between the Rust `webrtc` crate,
/// headless Chromium and Firefox, for every offerer x answerer pairing, and records the results.
#[derive(Parser)]
#[command(name = "interop", version, after_long_help = after_help())]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Commands,
}

/// `--help`'s epilogue: the exit codes from the contract crate's one list, then the
/// environment variables read.
pub(crate) fn after_help() -> String {
    format!("{}\n{ENVIRONMENT}", exit_code::help(88))
}

pub(crate) const ENVIRONMENT: &str = "\
Environment:
  CHROMIUM_BINARY, CHROMEDRIVER, FIREFOX_BINARY, GECKODRIVER   override binary discovery
  CI=true   a selected browser that is missing is a setup error instead of being left out
  RUST_LOG  log filter for the harness's own diagnostics (stderr)";

#[derive(Subcommand)]
pub(crate) enum Commands {
    /// Run scenarios across the matrix and record results (default: all scenarios x all
    /// available implementations).
    Run(RunArgs),
    /// List the scenarios and the pairings that `run` would execute.
    List(SelectArgs),
    /// Render the reports of a results folder: summary.md, index.html (the compatibility
    /// table), junit.xml, bcd.json. `run` writes them too; this renders them again, e.g. after
    /// `merge` or for a folder of a killed run.
    Report {
        /// The results folder (holding results.jsonl, as written by `run` or `merge`).
        results: PathBuf,
        /// Where the reports go (default: the results folder itself).
        #[arg(short, long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Combine results folders (shards of one matrix, or runs against different browser
    /// versions) into one, with their artefacts, and render its reports.
    Merge {
        /// The results folders to combine (two or more).
        #[arg(required = true, num_args = 2..)]
        sources: Vec<PathBuf>,
        /// The new folder to write (must not hold results yet).
        #[arg(short, long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Compare two results folders cell by cell (scenario x pairing): regressions, fixes,
    /// newly unsupported cells, other changes. Exits 1 when a cell that passed in OLD does not
    /// pass in NEW, so it can gate CI.
    Diff {
        /// The earlier results folder (the baseline).
        old: PathBuf,
        /// The later results folder.
        new: PathBuf,
    },
    /// Check scenario files and expectation files and report every error with
    /// file:line:column; launches nothing.
    Validate {
        /// Scenario files or folders (searched recursively for *.yaml; folders named
        /// `expectations` hold expectation files).
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// Folder of expectation files (`<implementation>.yaml`); default: for each path
        /// given, the nearest `expectations` folder up the tree (a folder's own, else its
        /// parent's, and so on, not above the git checkout), e.g. scenarios/expectations for
        /// scenarios/data-channels. Entries are checked against every scenario of the
        /// folder's tree, not only those given.
        #[arg(long, value_name = "DIR")]
        expectations: Option<PathBuf>,
    },
    /// Measure the harness's speed on real runs and print the figures (Markdown; also
    /// OUT/bench.json and OUT/bench.md): overhead per run with reused browser sessions, what
    /// the capture relay costs in data channel throughput and round trip, and the Rust peer's
    /// throughput against each browser's with itself. Runs one at a time; takes ~10 minutes
    /// with 5 rounds on all 9 pairings. Timings vary with the machine's load: run it on an
    /// otherwise idle machine. (Wall time of the whole suite: time `run` with -j 1 / -j 2 and
    /// with --no-session-reuse; the README has the figures.)
    Bench(BenchArgs),
    /// Run the Rust peer (used by the harness itself; speaks the peer-control protocol).
    #[command(hide = true)]
    Peer {
        #[arg(long)]
        control_url: String,
    },
    /// Kill the process groups listed on stdin (`+PGID` / `-PGID` lines) when stdin closes
    /// (started by `run` and `bench` themselves, so that no browser outlives the harness).
    #[command(hide = true)]
    Reap,
}

#[derive(Args)]
pub(crate) struct SelectArgs {
    /// Scenario files or folders (searched recursively for *.yaml; folders named
    /// `expectations` hold expectation files).
    #[arg(default_value = "scenarios")]
    pub(crate) paths: Vec<PathBuf>,
    /// Folder of expectation files (`<implementation>.yaml`: the expected non-pass outcome of
    /// cells, each with a reason); default: for each path given, the nearest `expectations`
    /// folder up the tree (a folder's own, else its parent's, and so on, not above the git
    /// checkout), e.g. scenarios/expectations for scenarios/data-channels or one of its
    /// files. The files applied are named on stderr before the run. Only results that differ
    /// from them make `run` exit 1.
    #[arg(long, value_name = "DIR")]
    pub(crate) expectations: Option<PathBuf>,
    /// Only the scenario with this name (repeatable).
    #[arg(short, long = "scenario", value_name = "NAME")]
    pub(crate) scenarios: Vec<String>,
    /// Only these implementations, on both sides (repeatable or comma-separated):
    /// rust, chrome, firefox.
    #[arg(short, long = "impl", value_name = "IMPL", value_delimiter = ',', value_parser = parse_impl)]
    pub(crate) implementations: Vec<Implementation>,
    /// Only this OFFERER:ANSWERER pairing, e.g. rust:chrome (repeatable).
    #[arg(short, long = "pairing", value_name = "OFFERER:ANSWERER", value_parser = parse_pairing)]
    pub(crate) pairings: Vec<(Implementation, Implementation)>,
    /// Only shard I of N of the selected cells (1-based, e.g. 2/4): cells are dealt
    /// round-robin, so the N shards are disjoint and together are the whole selection;
    /// `merge` combines their results folders.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub(crate) shard: Option<Shard>,
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Measured rounds (each: every pairing once for overhead, and bulk + round trip with and
    /// without the relay), after one warm-up round.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) rounds: u16,
    /// Only these implementations, on both sides (repeatable or comma-separated).
    #[arg(short, long = "impl", value_name = "IMPL", value_delimiter = ',', value_parser = parse_impl)]
    pub(crate) implementations: Vec<Implementation>,
    /// Results folder of the bench runs (the artefacts of each cell's last run), bench.json
    /// and bench.md.
    #[arg(short, long, default_value = "bench-out", value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Use a running WebDriver endpoint for a browser: IMPL=URL (repeatable).
    #[arg(long, value_name = "IMPL=URL", value_parser = parse_webdriver_url)]
    pub(crate) webdriver_url: Vec<(Implementation, String)>,
}

#[derive(Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Output folder: results.jsonl, summary.md, runs/<scenario>/<offerer>-<answerer>/ with each
    /// run's artefacts, logs/. An existing results.jsonl there is replaced.
    #[arg(short, long, default_value = "out", value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Run every selected cell N times (the whole plan once per repeat) to find flaky cells:
    /// each run is a record of its own (`repeat`: 1..N) with its own artefact folder
    /// (`runs/<scenario>/<offerer>-<answerer>/repeat-<k>/`); summaries count each cell's
    /// outcomes and its flake rate. Any unexpected repeat makes the run exit 1.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) repeat: u32,
    /// Use a running WebDriver endpoint for a browser instead of starting its driver:
    /// IMPL=URL, e.g. chrome=http://127.0.0.1:9515 (repeatable).
    #[arg(long, value_name = "IMPL=URL", value_parser = parse_webdriver_url)]
    pub(crate) webdriver_url: Vec<(Implementation, String)>,
    /// Address the control server (peer page + control WebSocket) listens on. Loopback by
    /// default; for browsers on other machines (a Selenium Grid) an address they can reach,
    /// e.g. 0.0.0.0:8000 with --advertise.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// The HOST or HOST:PORT peers are told to load the peer page from and connect to
    /// (default: the --listen address). Needed when --listen is a wildcard or when browsers
    /// reach this machine under another name or through a forwarded port.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub(crate) advertise: Option<String>,
    /// How many runs go on at once, each with its own browser sessions (default: the number
    /// of CPU cores). Results are the same cells with the same outcomes as with -j 1 and are
    /// written in plan order at the end; timings (throughput especially) share the machine.
    #[arg(short, long, value_name = "N", default_value_t = default_jobs(), value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) jobs: u16,
    /// Start a new browser session for every run instead of reusing each worker's sessions
    /// (a fresh page per run). Slower; for measuring what reuse saves or ruling it out.
    #[arg(long)]
    pub(crate) no_session_reuse: bool,
    /// How each run's UDP traffic is captured to capture.pcap. `auto`: passively, by a packet
    /// socket on the loopback interface, when the harness may open one (root or CAP_NET_RAW),
    /// else through the capture relay; runs with `drop_packets` always use the relay. `relay`:
    /// every run through the relay, a user-space UDP proxy the harness puts in the candidates
    /// it passes on (needs no privilege; adds a hop to every datagram). `off`: no capture.
    #[arg(long, value_enum, value_name = "HOW", default_value = "auto")]
    pub(crate) capture: CaptureMode,
    /// Same as --capture off.
    #[arg(long, conflicts_with = "capture")]
    pub(crate) no_capture: bool,
}

pub(crate) fn default_jobs() -> u16 {
    std::thread::available_parallelism()
        .map(|n| n.get().min(64) as u16)
        .unwrap_or(1)
}

pub(crate) fn parse_impl(s: &str) -> Result<Implementation, String> {
    Implementation::parse(s).ok_or_else(|| {
        let known: Vec<&str> = Implementation::all().iter().map(|i| i.name()).collect();
        format!("unknown implementation `{s}`; known: {}", known.join(", "))
    })
}

pub(crate) fn parse_pairing(s: &str) -> Result<(Implementation, Implementation), String> {
    let (o, a) = s
        .split_once(':')
        .ok_or_else(|| format!("expected OFFERER:ANSWERER, e.g. rust:chrome, found `{s}`"))?;
    Ok((parse_impl(o)?, parse_impl(a)?))
}

pub(crate) fn parse_webdriver_url(s: &str) -> Result<(Implementation, String), String> {
    let (i, url) = s.split_once('=').ok_or_else(|| {
        format!("expected IMPL=URL, e.g. chrome=http://127.0.0.1:9515, found `{s}`")
    })?;
    let imp = parse_impl(i)?;
    match imp.record().start {
        Start::WebDriver(_) => Ok((imp, url.to_string())),
        Start::Process(_) => Err(format!(
            "{} is not driven over WebDriver; --webdriver-url names a browser",
            imp.record().display_name
        )),
    }
}
