//! `interop`: the WebRTC interoperability harness's command line (the library,
//! `interop_harness`, has the parts; its crate docs have the module map).

use interop_harness::{browser, control, matrix, process, results_dir, runner};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use interop_results::exit_code;
use interop_scenario::expectations::Expectations;
use interop_scenario::plan::Scenario;

use interop_harness::capture::{Capture, CaptureMode};
use interop_harness::implementations::Start;
use interop_harness::matrix::{Implementation, Selection, Shard};
use interop_harness::reporter::{JsonlWriter, Progress, Reporter};
use interop_harness::results_dir::ResultsDir;

/// WebRTC interoperability harness: runs YAML scenarios between the Rust `webrtc` crate,
/// headless Chromium and Firefox, for every offerer x answerer pairing, and records the results.
#[derive(Parser)]
#[command(name = "interop", version, after_long_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

const EXIT_CODES: &str = "\
Exit codes:
  0    every run ended as expected: pass, or the non-pass outcome an expectation file
       gives with a reason (run); diff found no regression; or the command succeeded
       (list, validate, report, merge)
  1    every run ended, and at least one result was unexpected (including an
       unexpected pass: remove the stale expectation); diff: a cell that passed in
       OLD does not pass in NEW
  2    command-line usage error; a folder given to report / merge / diff holds no
       readable results, or merge's output folder already holds results
  3    a scenario file is invalid (nothing was launched)
  4    setup error: a browser or driver is missing, a listener could not bind, an
       output folder cannot be written
  130  interrupted (Ctrl-C / SIGINT, or SIGTERM); finished runs are in results.jsonl

Environment:
  CHROMIUM_BINARY, CHROMEDRIVER, FIREFOX_BINARY, GECKODRIVER   override binary discovery
  CI=true   a selected browser that is missing is a setup error instead of being left out
  RUST_LOG  log filter for the harness's own diagnostics (stderr)";

#[derive(Subcommand)]
enum Commands {
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
struct SelectArgs {
    /// Scenario files or folders (searched recursively for *.yaml; folders named
    /// `expectations` hold expectation files).
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Folder of expectation files (`<implementation>.yaml`: the expected non-pass outcome of
    /// cells, each with a reason); default: for each path given, the nearest `expectations`
    /// folder up the tree (a folder's own, else its parent's, and so on, not above the git
    /// checkout), e.g. scenarios/expectations for scenarios/data-channels or one of its
    /// files. The files applied are named on stderr before the run. Only results that differ
    /// from them make `run` exit 1.
    #[arg(long, value_name = "DIR")]
    expectations: Option<PathBuf>,
    /// Only the scenario with this name (repeatable).
    #[arg(short, long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// Only these implementations, on both sides (repeatable or comma-separated):
    /// rust, chrome, firefox.
    #[arg(short, long = "impl", value_name = "IMPL", value_delimiter = ',', value_parser = parse_impl)]
    implementations: Vec<Implementation>,
    /// Only this OFFERER:ANSWERER pairing, e.g. rust:chrome (repeatable).
    #[arg(short, long = "pairing", value_name = "OFFERER:ANSWERER", value_parser = parse_pairing)]
    pairings: Vec<(Implementation, Implementation)>,
    /// Only shard I of N of the selected cells (1-based, e.g. 2/4): cells are dealt
    /// round-robin, so the N shards are disjoint and together are the whole selection;
    /// `merge` combines their results folders.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    shard: Option<Shard>,
}

#[derive(Args)]
struct BenchArgs {
    /// Measured rounds (each: every pairing once for overhead, and bulk + round trip with and
    /// without the relay), after one warm-up round.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    rounds: u16,
    /// Only these implementations, on both sides (repeatable or comma-separated).
    #[arg(short, long = "impl", value_name = "IMPL", value_delimiter = ',', value_parser = parse_impl)]
    implementations: Vec<Implementation>,
    /// Results folder of the bench runs (the artefacts of each cell's last run), bench.json
    /// and bench.md.
    #[arg(short, long, default_value = "bench-out", value_name = "DIR")]
    out: PathBuf,
    /// Use a running WebDriver endpoint for a browser: IMPL=URL (repeatable).
    #[arg(long, value_name = "IMPL=URL", value_parser = parse_webdriver_url)]
    webdriver_url: Vec<(Implementation, String)>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// Output folder: results.jsonl, summary.md, runs/<scenario>/<offerer>-<answerer>/ with each
    /// run's artefacts, logs/. An existing results.jsonl there is replaced.
    #[arg(short, long, default_value = "out", value_name = "DIR")]
    out: PathBuf,
    /// Run every selected cell N times (the whole plan once per repeat) to find flaky cells:
    /// each run is a record of its own (`repeat`: 1..N) with its own artefact folder
    /// (`runs/<scenario>/<offerer>-<answerer>/repeat-<k>/`); summaries count each cell's
    /// outcomes and its flake rate. Any unexpected repeat makes the run exit 1.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// Use a running WebDriver endpoint for a browser instead of starting its driver:
    /// IMPL=URL, e.g. chrome=http://127.0.0.1:9515 (repeatable).
    #[arg(long, value_name = "IMPL=URL", value_parser = parse_webdriver_url)]
    webdriver_url: Vec<(Implementation, String)>,
    /// Address the control server (peer page + control WebSocket) listens on. Loopback by
    /// default; for browsers on other machines (a Selenium Grid) an address they can reach,
    /// e.g. 0.0.0.0:8000 with --advertise.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: SocketAddr,
    /// The HOST or HOST:PORT peers are told to load the peer page from and connect to
    /// (default: the --listen address). Needed when --listen is a wildcard or when browsers
    /// reach this machine under another name or through a forwarded port.
    #[arg(long, value_name = "HOST[:PORT]")]
    advertise: Option<String>,
    /// How many runs go on at once, each with its own browser sessions (default: the number
    /// of CPU cores). Results are the same cells with the same outcomes as with -j 1 and are
    /// written in plan order at the end; timings (throughput especially) share the machine.
    #[arg(short, long, value_name = "N", default_value_t = default_jobs(), value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Start a new browser session for every run instead of reusing each worker's sessions
    /// (a fresh page per run). Slower; for measuring what reuse saves or ruling it out.
    #[arg(long)]
    no_session_reuse: bool,
    /// How each run's UDP traffic is captured to capture.pcap. `auto`: passively, by a packet
    /// socket on the loopback interface, when the harness may open one (root or CAP_NET_RAW),
    /// else through the capture relay; runs with `drop_packets` always use the relay. `relay`:
    /// every run through the relay, a user-space UDP proxy the harness puts in the candidates
    /// it passes on (needs no privilege; adds a hop to every datagram). `off`: no capture.
    #[arg(long, value_enum, value_name = "HOW", default_value = "auto")]
    capture: CaptureMode,
    /// Same as --capture off.
    #[arg(long, conflicts_with = "capture")]
    no_capture: bool,
}

fn default_jobs() -> u16 {
    std::thread::available_parallelism()
        .map(|n| n.get().min(64) as u16)
        .unwrap_or(1)
}

fn parse_impl(s: &str) -> Result<Implementation, String> {
    Implementation::parse(s).ok_or_else(|| {
        let known: Vec<&str> = Implementation::all().iter().map(|i| i.name()).collect();
        format!("unknown implementation `{s}`; known: {}", known.join(", "))
    })
}

fn parse_pairing(s: &str) -> Result<(Implementation, Implementation), String> {
    let (o, a) = s
        .split_once(':')
        .ok_or_else(|| format!("expected OFFERER:ANSWERER, e.g. rust:chrome, found `{s}`"))?;
    Ok((parse_impl(o)?, parse_impl(a)?))
}

fn parse_webdriver_url(s: &str) -> Result<(Implementation, String), String> {
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

fn main() {
    let cli = Cli::parse();
    match &cli.command {
        Commands::Peer { control_url } => std::process::exit(run_peer(control_url)),
        Commands::Reap => std::process::exit(process::reap(std::io::stdin().lock())),
        Commands::Run(_) | Commands::Bench(_) => {
            // Children (drivers, browsers, Rust peers) die with the harness, even with SIGKILL.
            if let Err(e) = process::start_reaper() {
                eprintln!("warning: cannot start the reaper ({e}): if the harness is killed with SIGKILL, browsers may be left running");
            }
        }
        _ => {}
    }
    init_logging("warn");
    process::install_panic_hook();
    let code = match cli.command {
        Commands::Validate {
            paths,
            expectations,
        } => validate(&paths, expectations.as_deref()),
        Commands::List(select) => list(&select),
        Commands::Run(args) => run(args),
        Commands::Report { results, out } => report(&results, out.as_deref()),
        Commands::Merge { sources, out } => merge(&sources, &out),
        Commands::Diff { old, new } => diff(&old, &new),
        Commands::Bench(args) => bench(args),
        Commands::Peer { .. } | Commands::Reap => unreachable!("handled above"),
    };
    process::kill_all();
    std::process::exit(code);
}

/// Diagnostics to stderr, filtered by RUST_LOG (else `default_filter`); colours only on a
/// terminal, so log files stay plain text.
fn init_logging(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn run_peer(control_url: &str) -> i32 {
    init_logging("info,webrtc=warn,rtc=warn");
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(interop_rust_peer::run(control_url)) {
        Ok(()) => exit_code::SUCCESS,
        Err(e) => {
            eprintln!("error: the Rust peer failed: {e:#}");
            exit_code::RUN_FAILED
        }
    }
}

/// Loads and validates every scenario under `paths`; prints every error.
fn load(paths: &[PathBuf]) -> Result<Vec<Scenario>, i32> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match interop_scenario::discover(path) {
                Ok(found) => files.extend(found),
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", path.display());
                    return Err(exit_code::INVALID_SCENARIO);
                }
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            eprintln!("error: {}: no such file or folder", path.display());
            return Err(exit_code::INVALID_SCENARIO);
        }
    }
    if files.is_empty() {
        eprintln!(
            "error: no scenario files (*.yaml) under {}",
            display_paths(paths)
        );
        return Err(exit_code::INVALID_SCENARIO);
    }
    interop_scenario::load_files(&files).map_err(|errors| {
        for e in &errors {
            eprintln!("error: {e}\n");
        }
        eprintln!(
            "{} error{} in scenario files; nothing was run",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        exit_code::INVALID_SCENARIO
    })
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The expectation files in force and the `expectations: ...` line that names them.
struct Applied {
    expectations: Expectations,
    /// `expectations: scenarios/expectations/chrome.yaml, ...`, or where none was found.
    line: String,
}

/// Loads the expectation files for `paths` (the folder `explicit`, else the nearest
/// `expectations` folder up the tree from each path) and checks them against the scenarios
/// they can be about: `scenarios` (those given) and those of each folder's tree, so that
/// selecting a subset of a tree does not make its expectation entries unknown. Prints every
/// error.
fn load_expectations(
    paths: &[PathBuf],
    explicit: Option<&Path>,
    scenarios: &[Scenario],
) -> Result<Applied, i32> {
    let dirs: Vec<PathBuf> = match explicit {
        Some(dir) if !dir.is_dir() => {
            eprintln!("error: {}: no such folder", dir.display());
            return Err(exit_code::INVALID_SCENARIO);
        }
        Some(dir) => vec![dir.to_path_buf()],
        None => {
            // Canonical, to tell the same folder reached from two paths; shown (and recorded
            // in `expectation.source`) relative to the current folder when the path that led
            // to it is relative, like `scenarios/expectations/rust.yaml:17`.
            let mut found: Vec<(PathBuf, PathBuf)> = Vec::new();
            for path in paths {
                let Some(dir) = nearest_expectations(path) else {
                    continue;
                };
                if found.iter().all(|(canonical, _)| *canonical != dir) {
                    let shown = if path.is_relative() {
                        relative_to_cwd(&dir)
                    } else {
                        dir.clone()
                    };
                    found.push((dir, shown));
                }
            }
            found.into_iter().map(|(_, shown)| shown).collect()
        }
    };
    let mut expectations = Expectations::default();
    let mut errors = Vec::new();
    for dir in &dirs {
        match Expectations::load_dir(dir) {
            Ok(e) => expectations.merge(e),
            Err(e) => errors.extend(e),
        }
    }
    let mut unchecked = Vec::new();
    if errors.is_empty() {
        let mut names: Vec<String> = Vec::new();
        for tree in trees(paths, &dirs) {
            unchecked.extend(tree_scenario_names(&tree, &mut names));
        }
        names.extend(scenarios.iter().map(|s| s.name.clone()));
        names.extend(scenarios.iter().map(|s| s.base_name.clone()));
        names.sort_unstable();
        names.dedup();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let implementations: Vec<&str> = Implementation::all().iter().map(|i| i.name()).collect();
        errors = expectations.validate(&names, &implementations);
    }
    if errors.is_empty() {
        let files: Vec<String> = expectations
            .files()
            .map(|f| f.display().to_string())
            .collect();
        let line = match (files.is_empty(), explicit) {
            (false, _) => format!("expectations: {}", files.join(", ")),
            (true, Some(dir)) => format!("expectations: none found in {}", dir.display()),
            (true, None) => format!(
                "expectations: none found (looked up from {})",
                display_paths(paths)
            ),
        };
        return Ok(Applied { expectations, line });
    }
    for e in &errors {
        eprintln!("error: {e}\n");
    }
    for (tree, files) in &unchecked {
        eprintln!(
            "note: {files} scenario file{} under {} could not be loaded (`interop validate {}` \
             says why): an entry about a scenario of {} is reported as unknown\n",
            if *files == 1 { "" } else { "s" },
            tree.display(),
            tree.display(),
            if *files == 1 { "it" } else { "theirs" },
        );
    }
    eprintln!(
        "{} error{} in expectation files; nothing was run",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    Err(exit_code::INVALID_SCENARIO)
}

/// The nearest `expectations` folder up the tree from `path` (a scenario folder: the folder
/// itself, then its ancestors; a scenario file: its folder, then its ancestors), canonical.
/// The search stops at the root of the git checkout `path` is in (a folder holding `.git`),
/// else at the filesystem root.
fn nearest_expectations(path: &Path) -> Option<PathBuf> {
    let path = path.canonicalize().ok()?;
    let start = if path.is_dir() {
        path.as_path()
    } else {
        path.parent()?
    };
    for dir in start.ancestors() {
        let candidate = dir.join(interop_scenario::EXPECTATIONS_DIR);
        if candidate.is_dir() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// `path` (canonical) relative to the current folder (`scenarios/expectations`,
/// `../scenarios/expectations`); `path` itself when the current folder is unknown or they
/// share no more than the filesystem root.
fn relative_to_cwd(path: &Path) -> PathBuf {
    let Ok(cwd) = std::env::current_dir().and_then(|cwd| cwd.canonicalize()) else {
        return path.to_path_buf();
    };
    let common = path
        .components()
        .zip(cwd.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common < 2 {
        return path.to_path_buf();
    }
    let mut relative = PathBuf::new();
    for _ in cwd.components().skip(common) {
        relative.push("..");
    }
    relative.extend(path.components().skip(common));
    if relative.as_os_str().is_empty() {
        relative.push(".");
    }
    relative
}

/// The scenario trees the expectation folders `dirs` belong to: each folder's parent, when
/// it holds one of the given `paths` (an `--expectations` folder elsewhere has no tree: its
/// entries are checked against the given scenarios only). A tree that is itself one of
/// `paths` is left out: its scenarios are loaded already.
fn trees(paths: &[PathBuf], dirs: &[PathBuf]) -> Vec<PathBuf> {
    let given: Vec<PathBuf> = paths.iter().filter_map(|p| p.canonicalize().ok()).collect();
    let mut trees: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let Some(tree) = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.parent().map(Path::to_path_buf))
        else {
            continue;
        };
        let holds_a_path = given.iter().any(|p| p.starts_with(&tree));
        let is_a_path = given.contains(&tree);
        if holds_a_path && !is_a_path && !trees.contains(&tree) {
            trees.push(tree);
        }
    }
    trees
}

/// Adds the names (and base names) of the scenarios under `tree` to `names`, loading each
/// file as `load` does; returns `(tree, count)` when `count` files could not be loaded (they
/// are left out: their problems are reported when they are run or validated).
fn tree_scenario_names(tree: &Path, names: &mut Vec<String>) -> Option<(PathBuf, usize)> {
    let shown = relative_to_cwd(tree);
    let files = match interop_scenario::discover(tree) {
        Ok(files) => files,
        Err(e) => {
            tracing::warn!("cannot read {}: {e}", shown.display());
            return Some((shown, 1));
        }
    };
    let mut failed = 0;
    for file in files {
        match interop_scenario::load_files(std::slice::from_ref(&file)) {
            Ok(scenarios) => {
                for s in scenarios {
                    names.push(s.base_name);
                    names.push(s.name);
                }
            }
            Err(_) => failed += 1,
        }
    }
    (failed > 0).then_some((shown, failed))
}

fn validate(paths: &[PathBuf], expectations: Option<&Path>) -> i32 {
    match load(paths).and_then(|s| load_expectations(paths, expectations, &s).map(|e| (s, e))) {
        Ok((scenarios, expectations)) => {
            for s in &scenarios {
                println!(
                    "ok  {} ({} steps)  {}",
                    s.name,
                    s.steps.len(),
                    s.path.display()
                );
            }
            if !expectations.expectations.is_empty() {
                println!("ok  {} expectations", expectations.expectations.len());
            }
            println!("{}", expectations.line);
            exit_code::SUCCESS
        }
        Err(code) => code,
    }
}

fn plan(select: &SelectArgs) -> Result<(Vec<matrix::Cell>, Applied), i32> {
    let scenarios = load(&select.paths)?;
    let expectations =
        load_expectations(&select.paths, select.expectations.as_deref(), &scenarios)?;
    let scenarios: Vec<Arc<Scenario>> = scenarios.into_iter().map(Arc::new).collect();
    let selection = Selection {
        scenarios: select.scenarios.clone(),
        implementations: select.implementations.clone(),
        pairings: select.pairings.clone(),
    };
    let mut cells = matrix::expand(&scenarios, &selection).map_err(|e| {
        eprintln!("error: {e}");
        exit_code::USAGE
    })?;
    if let Some(shard) = select.shard {
        cells = shard.select(cells);
    }
    Ok((cells, expectations))
}

fn list(select: &SelectArgs) -> i32 {
    let (cells, applied) = match plan(select) {
        Ok(c) => c,
        Err(code) => return code,
    };
    eprintln!("{}", applied.line);
    let expectations = applied.expectations;
    let mut last = String::new();
    for cell in &cells {
        if cell.scenario.name != last {
            last = cell.scenario.name.clone();
            println!(
                "{} [{}]  {}\n  {}",
                cell.scenario.name,
                cell.scenario.feature,
                cell.scenario.path.display(),
                cell.scenario.description.trim()
            );
        }
        match expectations.lookup(
            &cell.scenario.name,
            cell.offerer.name(),
            cell.answerer.name(),
        ) {
            Some(e) => println!(
                "    {}  (expected: {}, {})",
                cell.pairing(),
                e.outcome,
                e.reference.source
            ),
            None => println!("    {}", cell.pairing()),
        }
    }
    match select.shard {
        Some(shard) => println!("{} runs (shard {shard})", cells.len()),
        None => println!("{} runs", cells.len()),
    }
    exit_code::SUCCESS
}

/// Resolves the browsers the cells need. A missing browser is a setup error when it was
/// asked for explicitly or under CI=true; otherwise its cells are left out with a warning.
fn resolve_browsers(
    cells: &mut Vec<matrix::Cell>,
    explicit: bool,
    webdriver_url: &[(Implementation, String)],
) -> Result<Vec<browser::Installation>, i32> {
    let strict = explicit || std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let remote: Vec<&str> = webdriver_url.iter().map(|(i, _)| i.name()).collect();
    let mut installations = Vec::new();
    let mut missing = Vec::new();
    for product in browser::PRODUCTS {
        let needed = cells.iter().any(|c| {
            [c.offerer, c.answerer]
                .iter()
                .any(|i| i.product().is_some_and(|p| p.name == product.name))
        });
        if !needed {
            continue;
        }
        match product.locate() {
            Ok(i) => installations.push(i),
            // A remote endpoint needs no local binary.
            Err(_) if remote.contains(&product.name) => installations.push(browser::Installation {
                product,
                binary: None,
                driver: None,
            }),
            Err(e) => missing.push((product.name, e)),
        }
    }
    if missing.is_empty() {
        return Ok(installations);
    }
    for (_, e) in &missing {
        eprintln!("{}: {e}", if strict { "error" } else { "warning" });
    }
    if strict {
        return Err(exit_code::SETUP_ERROR);
    }
    let names: Vec<&str> = missing.iter().map(|(n, _)| *n).collect();
    cells.retain(|c| !names.contains(&c.offerer.name()) && !names.contains(&c.answerer.name()));
    eprintln!(
        "warning: leaving out every pairing with {}",
        names.join(", ")
    );
    Ok(installations)
}

fn run(args: RunArgs) -> i32 {
    let (mut cells, applied) = match plan(&args.select) {
        Ok(c) => c,
        Err(code) => return code,
    };
    eprintln!("{}", applied.line);
    let expectations = applied.expectations;
    let explicit = !args.select.implementations.is_empty() || !args.select.pairings.is_empty();
    let installations = match resolve_browsers(&mut cells, explicit, &args.webdriver_url) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if cells.is_empty() {
        eprintln!("error: nothing to run");
        return exit_code::SETUP_ERROR;
    }
    let cells = matrix::repeat(cells, args.repeat);
    let info = results_dir::run_info_at_start(args.select.shard.map(|s| s.to_string()));
    if let Err(e) = prepare_out(&args.out)
        .and_then(|()| results_dir::write_run_infos(&args.out, std::slice::from_ref(&info)))
    {
        eprintln!("error: cannot prepare {}: {e}", args.out.display());
        return exit_code::SETUP_ERROR;
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = rt.block_on(async {
        tokio::select! {
            code = run_matrix(&args, cells, installations, expectations, &info) => code,
            signal = interrupted() => {
                eprintln!("\n{signal}: stopping");
                // The run future is dropped here: its guards kill every child.
                process::kill_all();
                eprintln!("interrupted: writing the reports of finished runs");
                finish(&args.out, info.clone(), true);
                exit_code::INTERRUPTED
            }
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

/// The async runtime of a command; prints why there is none.
fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("error: cannot start a runtime: {e}");
        exit_code::SETUP_ERROR
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, naming the signal.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without signal handlers there is nothing to wait for.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// Empties the previous run's results in `out` (not other files).
fn prepare_out(out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    for sub in ["runs", "logs", "merged"] {
        let p = out.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p)?;
        }
    }
    for file in results_dir::REPORT_FILES
        .iter()
        .chain(&[interop_results::RUN_INFO_FILE])
    {
        let path = out.join(file);
        if path.exists() {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// The control server and the harness's own executable (process peers may run it); prints
/// why not.
async fn runner_parts(
    listen: SocketAddr,
    advertise: Option<&str>,
) -> Option<(control::ControlServer, PathBuf)> {
    let control = match control::ControlServer::start(listen, advertise).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return None;
        }
    };
    match std::env::current_exe() {
        Ok(harness_exe) => Some((control, harness_exe)),
        Err(e) => {
            eprintln!("error: cannot find the harness executable (process peers run it): {e}");
            None
        }
    }
}

fn webdriver_urls(given: &[(Implementation, String)]) -> HashMap<&'static str, String> {
    given
        .iter()
        .map(|(i, url)| (i.name(), url.clone()))
        .collect()
}

async fn run_matrix(
    args: &RunArgs,
    cells: Vec<matrix::Cell>,
    installations: Vec<browser::Installation>,
    expectations: Expectations,
    info: &interop_results::RunInfo,
) -> i32 {
    let Some((control, harness_exe)) = runner_parts(args.listen, args.advertise.as_deref()).await
    else {
        return exit_code::SETUP_ERROR;
    };
    let urls = webdriver_urls(&args.webdriver_url);
    let mut jsonl = match JsonlWriter::create(&args.out) {
        Ok(w) => w,
        Err(e) => {
            eprintln!(
                "error: cannot create results in {}: {e}",
                args.out.display()
            );
            return exit_code::SETUP_ERROR;
        }
    };
    let mut progress = Progress::default();
    let capture = if args.no_capture {
        CaptureMode::Off
    } else {
        args.capture
    };
    if capture == CaptureMode::Auto {
        if let Err(why) = Capture::passive_available() {
            eprintln!("note: capture goes through the relay: {why}");
        }
    }
    let runner = runner::Runner::new(runner::RunnerConfig {
        control,
        out: args.out.clone(),
        harness_exe,
        expectations,
        installations,
        webdriver_urls: urls,
        capture,
        reuse_sessions: !args.no_session_reuse,
        jobs: args.jobs.into(),
    });
    let mut reporters: [&mut dyn Reporter; 2] = [&mut jsonl, &mut progress];
    let records = match runner.run_all(&cells, &mut reporters).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot write results: {e}");
            return exit_code::SETUP_ERROR;
        }
    };
    if let Err(e) = jsonl.rewrite_in_order(&records) {
        eprintln!(
            "warning: cannot put {} in plan order: {e}",
            jsonl.path().display()
        );
    }
    let refused = runner.refusals();
    if !refused.is_empty() {
        let log = args.out.join("logs").join("refused-connections.log");
        let _ = std::fs::create_dir_all(args.out.join("logs"))
            .and_then(|()| std::fs::write(&log, refused.join("\n") + "\n"));
        eprintln!(
            "note: {} control connection(s) refused (unknown slot or wrong token): see {}",
            refused.len(),
            log.display()
        );
    }
    drop(runner);
    print!("\n{}", interop_reports::terminal_matrices(&records));
    print!("{}", interop_reports::unexpected_report(&records));
    finish(&args.out, info.clone(), false);
    println!("results: {}", jsonl.path().display());
    println!("summary: {}", args.out.join("summary.md").display());
    println!("report:  {}", args.out.join("index.html").display());
    if records.iter().any(|r| r.is_unexpected()) {
        exit_code::RUN_FAILED
    } else {
        exit_code::SUCCESS
    }
}

/// Completes run_info.json and renders every report from what is on disk (results.jsonl),
/// so an interrupted run gets them too.
fn finish(out: &Path, info: interop_results::RunInfo, interrupted: bool) {
    let mut results = match ResultsDir::load(out) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return;
        }
    };
    let info = results_dir::finish_run_info(info, &results.records, interrupted);
    if let Err(e) = results_dir::write_run_infos(out, std::slice::from_ref(&info)) {
        eprintln!(
            "error: cannot write run_info.json in {}: {e}",
            out.display()
        );
    }
    results.infos = vec![info];
    if interrupted {
        eprint!("{}", interop_reports::terminal_matrices(&results.records));
    }
    if let Err(e) = results_dir::write_reports(&results, out) {
        eprintln!("error: cannot write the reports in {}: {e}", out.display());
    }
}

/// Loads a results folder for report / merge / diff; prints why it cannot be read.
fn load_results(dir: &Path) -> Result<ResultsDir, i32> {
    let results = ResultsDir::load(dir).map_err(|e| {
        eprintln!("error: {e}");
        exit_code::USAGE
    })?;
    for (line, e) in &results.torn {
        eprintln!(
            "warning: {}:{line}: not a result record, left out ({e})",
            dir.join(interop_results::RESULTS_FILE).display()
        );
    }
    Ok(results)
}

fn report(dir: &Path, out: Option<&Path>) -> i32 {
    let results = match load_results(dir) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let out = out.unwrap_or(dir);
    match results_dir::write_reports(&results, out) {
        Ok(paths) => {
            println!("{}", interop_reports::totals_line(&results.records));
            for p in paths {
                println!("wrote {}", p.display());
            }
            exit_code::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write the reports in {}: {e}", out.display());
            exit_code::SETUP_ERROR
        }
    }
}

fn merge(sources: &[PathBuf], out: &Path) -> i32 {
    let mut loaded = Vec::new();
    for dir in sources {
        match load_results(dir) {
            Ok(r) => loaded.push(r),
            Err(code) => return code,
        }
    }
    if out.join(interop_results::RESULTS_FILE).exists() {
        eprintln!(
            "error: {} already holds results; merge into a new folder",
            out.display()
        );
        return exit_code::USAGE;
    }
    let merged = match results_dir::merge(&loaded, out) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::SETUP_ERROR;
        }
    };
    for cell in &merged.replaced {
        eprintln!("warning: {cell} is in several sources with the same versions; kept the last");
    }
    println!(
        "merged {} folders: {} records into {}",
        sources.len(),
        merged.records,
        out.display()
    );
    report(out, None)
}

/// The scenarios `bench` runs, built in so that it runs from any folder.
const BENCH_SCENARIOS: [(&str, &str); 3] = [
    (
        "scenarios/data-channels/datachannel-echo.yaml",
        include_str!("../../scenarios/data-channels/datachannel-echo.yaml"),
    ),
    (
        "scenarios/data-channels/datachannel-bulk.yaml",
        include_str!("../../scenarios/data-channels/datachannel-bulk.yaml"),
    ),
    (
        "harness/benches/scenarios/datachannel-rtt.yaml",
        include_str!("../benches/scenarios/datachannel-rtt.yaml"),
    ),
];

fn bench(args: BenchArgs) -> i32 {
    let mut scenarios = Vec::new();
    for (path, text) in BENCH_SCENARIOS {
        match interop_scenario::parse_str(Path::new(path), text) {
            Ok(s) => scenarios.push(Arc::new(s)),
            Err(errors) => {
                for e in errors {
                    eprintln!("error: {e}");
                }
                return exit_code::INVALID_SCENARIO;
            }
        }
    }
    let selection = Selection {
        scenarios: Vec::new(),
        implementations: args.implementations.clone(),
        pairings: Vec::new(),
    };
    let mut all = match matrix::expand(&scenarios, &selection) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    let installations = match resolve_browsers(
        &mut all,
        !args.implementations.is_empty(),
        &args.webdriver_url,
    ) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let of = |name: &str| -> Vec<matrix::Cell> {
        all.iter()
            .filter(|c| c.scenario.name == name)
            .cloned()
            .collect()
    };
    let cells = interop_harness::bench::BenchCells {
        overhead: of("datachannel-echo"),
        bulk: of("datachannel-bulk"),
        rtt: of("datachannel-rtt"),
    };
    if let Err(e) = prepare_out(&args.out) {
        eprintln!("error: cannot prepare {}: {e}", args.out.display());
        return exit_code::SETUP_ERROR;
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let rounds = usize::from(args.rounds);
    let code = rt.block_on(async {
        let Some((control, harness_exe)) = runner_parts("127.0.0.1:0".parse().unwrap(), None).await
        else {
            return exit_code::SETUP_ERROR;
        };
        let runner = runner::Runner::new(runner::RunnerConfig {
            control,
            out: args.out.clone(),
            harness_exe,
            expectations: Expectations::default(),
            installations,
            webdriver_urls: webdriver_urls(&args.webdriver_url),
            capture: CaptureMode::Auto,
            reuse_sessions: true,
            jobs: 1,
        });
        let mut worker = runner.worker();
        let work =
            interop_harness::bench::run(&mut worker, &cells, rounds, |line| eprintln!("{line}"));
        let report = tokio::select! {
            report = work => report,
            signal = interrupted() => {
                eprintln!("\n{signal}: stopping");
                process::kill_all();
                return exit_code::INTERRUPTED;
            }
        };
        let markdown = report.to_markdown();
        println!("\n{markdown}");
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        for (file, text) in [("bench.json", json), ("bench.md", markdown)] {
            if let Err(e) = std::fs::write(args.out.join(file), text) {
                eprintln!("error: cannot write {}: {e}", args.out.join(file).display());
                return exit_code::SETUP_ERROR;
            }
        }
        println!("figures: {}", args.out.join("bench.json").display());
        exit_code::SUCCESS
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

fn diff(old: &Path, new: &Path) -> i32 {
    let (old, new) = match (load_results(old), load_results(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let d = interop_reports::diff::diff(&old.records, &new.records);
    print!("{}", d.render_text());
    if d.has_regressions() {
        exit_code::RUN_FAILED
    } else {
        exit_code::SUCCESS
    }
}
