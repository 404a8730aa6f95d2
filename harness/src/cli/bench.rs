//! The `bench` command: the built-in benchmark scenarios, run on one worker.

use interop_harness::{matrix, process, runner};

use std::path::Path;
use std::sync::Arc;

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

pub(crate) fn bench(args: BenchArgs) -> Result<(), CliError> {
    let mut scenarios = Vec::new();
    for (path, text) in BENCH_SCENARIOS {
        let scenario = interop_scenario::parse_str(Path::new(path), text).map_err(|errors| {
            CliError::Invalid {
                files: Files::Scenario,
                errors: errors.iter().map(ToString::to_string).collect(),
                notes: Vec::new(),
            }
        })?;
        scenarios.push(Arc::new(scenario));
    }
    let selection = Selection {
        scenarios: Vec::new(),
        implementations: args.implementations.clone(),
        pairings: Vec::new(),
    };
    let mut all =
        matrix::expand(&scenarios, &selection).map_err(|e| CliError::Usage(e.to_string()))?;
    let installations = resolve_browsers(
        &mut all,
        !args.implementations.is_empty(),
        &args.webdriver_url,
    )?;
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
    prepare_out(&args.out).map_err(|source| CliError::Io {
        action: format!("prepare {}", args.out.display()),
        source,
    })?;
    let rt = runtime()?;
    let rounds = usize::from(args.rounds);
    let result = rt.block_on(async {
        let (control, harness_exe) = runner_parts("127.0.0.1:0".parse().unwrap(), None).await?;
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
                return Err(CliError::Interrupted(signal));
            }
        };
        let markdown = report.to_markdown();
        println!("\n{markdown}");
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        for (file, text) in [("bench.json", json), ("bench.md", markdown)] {
            let path = args.out.join(file);
            std::fs::write(&path, text).map_err(|source| CliError::Io {
                action: format!("write {}", path.display()),
                source,
            })?;
        }
        println!("figures: {}", args.out.join("bench.json").display());
        Ok(())
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}
