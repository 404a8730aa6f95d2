//! `interop`: the WebRTC interoperability harness's command line (the library,
//! `interop_harness`, has the parts; its crate docs have the module map).

mod cli;

use interop_harness::process;

use clap::Parser;

use cli::*;

fn main() {
    let cli = Cli::parse();
    match &cli.command {
        Commands::Peer { control_url } => std::process::exit(exit_code_of(run_peer(control_url))),
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
    let result = match cli.command {
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
    std::process::exit(exit_code_of(result));
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

fn run_peer(control_url: &str) -> Result<(), CliError> {
    init_logging("info,webrtc=warn,rtc=warn");
    runtime()?
        .block_on(interop_rust_peer::run(control_url))
        .map_err(|e| CliError::PeerFailed(format!("{e:#}")))
}
