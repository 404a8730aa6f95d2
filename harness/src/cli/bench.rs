//! The `bench` command: the built-in benchmark scenarios, run on one worker.

use interop_harness::{matrix, process, runner};

use std::path::Path;
use std::sync::Arc;

use interop_results::exit_code;
use interop_scenario::expectations::Expectations;

use interop_harness::capture::CaptureMode;
use interop_harness::matrix::Selection;

use super::*;

/// The scenarios `bench` runs, built in so that it runs from any folder.
pub(crate) const BENCH_SCENARIOS: [(&str, &str); 3] = [
    (
        "scenarios/data-channels/datachannel-echo.yaml",
        include_str!("../../../scenarios/data-channels/datachannel-echo.yaml"),
    ),
    (
        "scenarios/data-channels/datachannel-bulk.yaml",
        include_str!("../../../scenarios/data-channels/datachannel-bulk.yaml"),
    ),
    (
        "harness/benches/scenarios/datachannel-rtt.yaml",
        include_str!("../../benches/scenarios/datachannel-rtt.yaml"),
    ),
];

pub(crate) fn bench(args: BenchArgs) -> i32 {
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
