//! The `interop` command line, one module per concern; main.rs only dispatches.
//!
//! | module | owns |
//! |---|---|
//! | `args` | clap types, value parsers, `--help`'s epilogue |
//! | `scenarios` | loading scenarios and expectation files; `validate`, `list` |
//! | `run` | `run`: browsers, output folder, control server, runner, Ctrl-C, reports |
//! | `results` | `report`, `merge`, `diff` |
//! | `bench` | `bench` |
//!
//! Exit codes are the contract crate's (`interop_results::exit_code`); every command returns
//! one.

mod args;
mod bench;
mod results;
mod run;
mod scenarios;

pub(crate) use args::*;
pub(crate) use bench::*;
pub(crate) use results::*;
pub(crate) use run::*;
pub(crate) use scenarios::*;
