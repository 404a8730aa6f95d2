//! The `run` command: resolving browsers, preparing the output folder, the control server,
//! the runner with its reporters, Ctrl-C, and the reports at the end.

use interop_harness::{browser, control, matrix, process, results_dir, runner};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use interop_results::exit_code;
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

pub(crate) fn run(args: RunArgs) -> i32 {
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
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("error: cannot start a runtime: {e}");
        exit_code::SETUP_ERROR
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

/// The control server and the harness's own executable (process peers may run it); prints
/// why not.
pub(crate) async fn runner_parts(
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
