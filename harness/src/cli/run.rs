//! The `run` command: resolving browsers, preparing the output folder, the control server,
//! the runner with its reporters, Ctrl-C, and the reports at the end.

use interop_harness::{browser, control, matrix, process, results_dir, runner};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use interop_scenario::expectations::Expectations;

use interop_harness::capture::{Capture, CaptureMode};
use interop_harness::matrix::Implementation;
use interop_harness::reporter::{JsonlWriter, Progress, Reporter};
use interop_harness::results_dir::ResultsDir;

use super::*;

/// Resolves the browsers the cells need. A missing browser is a setup error when it was
/// asked for explicitly or under CI=true; otherwise its cells are left out with a warning.
pub(crate) fn resolve_browsers(
    cells: &mut Vec<matrix::Cell>,
    explicit: bool,
    webdriver_url: &[(Implementation, String)],
) -> Result<Vec<browser::Installation>, CliError> {
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
    if strict {
        return Err(CliError::MissingBrowsers(
            missing.into_iter().map(|(_, e)| e).collect(),
        ));
    }
    for (_, e) in &missing {
        eprintln!("warning: {e}");
    }
    let names: Vec<&str> = missing.iter().map(|(n, _)| *n).collect();
    cells.retain(|c| !names.contains(&c.offerer.name()) && !names.contains(&c.answerer.name()));
    eprintln!(
        "warning: leaving out every pairing with {}",
        names.join(", ")
    );
    Ok(installations)
}

pub(crate) fn run(args: RunArgs) -> Result<(), CliError> {
    let (mut cells, applied) = plan(&args.select)?;
    eprintln!("{}", applied.line);
    let expectations = applied.expectations;
    let explicit = !args.select.implementations.is_empty() || !args.select.pairings.is_empty();
    let installations = resolve_browsers(&mut cells, explicit, &args.webdriver_url)?;
    if cells.is_empty() {
        return Err(CliError::Setup("nothing to run".into()));
    }
    let cells = matrix::repeat(cells, args.repeat);
    let info = results_dir::run_info_at_start(args.select.shard.map(|s| s.to_string()));
    prepare_out(&args.out)
        .and_then(|()| results_dir::write_run_infos(&args.out, std::slice::from_ref(&info)))
        .map_err(|source| CliError::Io {
            action: format!("prepare {}", args.out.display()),
            source,
        })?;
    let rt = runtime()?;
    let result = rt.block_on(async {
        tokio::select! {
            result = run_matrix(&args, cells, installations, expectations, &info) => result,
            signal = interrupted() => {
                eprintln!("\n{signal}: stopping");
                // The run future is dropped here: its guards kill every child.
                process::kill_all();
                eprintln!("interrupted: writing the reports of finished runs");
                finish(&args.out, info.clone(), true);
                Err(CliError::Interrupted(signal))
            }
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

/// The async runtime of a command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Runtime::new().map_err(|source| CliError::Io {
        action: "start a runtime".into(),
        source,
    })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, naming the signal.
pub(crate) async fn interrupted() -> &'static str {
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
pub(crate) fn prepare_out(out: &Path) -> std::io::Result<()> {
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

/// The control server and the harness's own executable (process peers may run it).
pub(crate) async fn runner_parts(
    listen: SocketAddr,
    advertise: Option<&str>,
) -> Result<(control::ControlServer, PathBuf), CliError> {
    let control = control::ControlServer::start(listen, advertise)
        .await
        .map_err(|e| CliError::Setup(format!("cannot listen on {listen}: {e}")))?;
    let harness_exe = std::env::current_exe().map_err(|source| CliError::Io {
        action: "find the harness executable (process peers run it)".into(),
        source,
    })?;
    Ok((control, harness_exe))
}

pub(crate) fn webdriver_urls(given: &[(Implementation, String)]) -> HashMap<&'static str, String> {
    given
        .iter()
        .map(|(i, url)| (i.name(), url.clone()))
        .collect()
}

pub(crate) async fn run_matrix(
    args: &RunArgs,
    cells: Vec<matrix::Cell>,
    installations: Vec<browser::Installation>,
    expectations: Expectations,
    info: &interop_results::RunInfo,
) -> Result<(), CliError> {
    let (control, harness_exe) = runner_parts(args.listen, args.advertise.as_deref()).await?;
    let urls = webdriver_urls(&args.webdriver_url);
    let mut jsonl = JsonlWriter::create(&args.out).map_err(|source| CliError::Io {
        action: format!("create results in {}", args.out.display()),
        source,
    })?;
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
    let records = runner
        .run_all(&cells, &mut reporters)
        .await
        .map_err(|source| CliError::Io {
            action: "write results".into(),
            source,
        })?;
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
        Err(CliError::Unexpected)
    } else {
        Ok(())
    }
}

/// Completes run_info.json and renders every report from what is on disk (results.jsonl),
/// so an interrupted run gets them too.
pub(crate) fn finish(out: &Path, info: interop_results::RunInfo, interrupted: bool) {
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
