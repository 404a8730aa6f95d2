//! The `interop` command line, one module per concern; main.rs only dispatches.
//!
//! | module | owns |
//! |---|---|
//! | `args` | clap types, value parsers, `--help`'s epilogue |
//! | `scenarios` | loading scenarios and expectation files; `validate`, `list` |
//! | `run` | `run`: browsers, output folder, control server, runner, Ctrl-C, reports |
//! | `results` | `report`, `merge`, `diff` |
//! | `bench` | `bench` |
//! | `error` | `CliError`: why a command failed, its exit code (the one mapping) and its text |
//!
//! Every command returns `Result<(), CliError>`; `main` turns it into one of the contract
//! crate's exit codes (`interop_results::exit_code`) through `error::exit_code_of`.

mod args;
mod bench;
mod error;
mod results;
mod run;
mod scenarios;

pub(crate) use args::*;
pub(crate) use bench::*;
pub(crate) use error::*;
pub(crate) use results::*;
pub(crate) use run::*;
pub(crate) use scenarios::*;
