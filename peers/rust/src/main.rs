//! `interop-rust-peer`: the Rust peer process the harness starts for a `rust` slot.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// The Rust WebRTC peer (webrtc-rs) of the interop harness. Connects to the harness's control
/// WebSocket and serves peer-control requests until the harness closes the connection.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// The harness control WebSocket, e.g. `ws://127.0.0.1:PORT/control?slot=..&token=..`.
    #[arg(long)]
    control_url: String,
}

/// Log filter when `RUST_LOG` is unset: this crate at info, everything else at warn.
const DEFAULT_FILTER: &str = "warn,interop_rust_peer=info";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    interop_rust_peer::run(&cli.control_url).await
}
