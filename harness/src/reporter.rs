//! Events out, reporters in: the runner emits [`RunEvent`]s and never prints; each reporter
//! consumes the same stream.
//!
//! - [`JsonlWriter`] appends each finished run to `<out>/results.jsonl` and flushes at once, so
//!   a killed harness leaves every finished run on disk.
//! - [`Progress`] shows live progress on stderr (one line per finished run; a "running" line
//!   that is rewritten in place when stderr is a terminal).

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use interop_results::{Outcome, RunRecord};

use crate::matrix::Cell;

/// What the runner reports.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// The plan is validated and about to run.
    Started { total: usize },
    /// A cell is starting (1-based `index`).
    CellStarted {
        index: usize,
        total: usize,
        cell: &'a Cell,
    },
    /// A cell ended; its record is final.
    CellFinished {
        index: usize,
        total: usize,
        record: &'a RunRecord,
    },
}

pub trait Reporter {
    fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()>;
}

/// Appends records to `results.jsonl`, one JSON object per line, flushed per record.
pub struct JsonlWriter {
    path: PathBuf,
    file: File,
}

impl JsonlWriter {
    /// Creates (truncates) `<out>/results.jsonl`.
    pub fn create(out: &Path) -> std::io::Result<Self> {
        let path = out.join("results.jsonl");
        let file = File::create(&path)?;
        Ok(JsonlWriter { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Reporter for JsonlWriter {
    fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
        if let RunEvent::CellFinished { record, .. } = event {
            let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
            line.push('\n');
            // One write per record: a kill leaves at most a torn last line.
            self.file.write_all(line.as_bytes())?;
            self.file.sync_data()?;
        }
        Ok(())
    }
}

/// Live progress on stderr.
pub struct Progress {
    tty: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
        }
    }
}

impl Reporter for Progress {
    fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
        let mut err = std::io::stderr().lock();
        match event {
            RunEvent::Started { total } => {
                writeln!(
                    err,
                    "running {total} run{}",
                    if *total == 1 { "" } else { "s" }
                )?;
            }
            RunEvent::CellStarted { index, total, cell } if self.tty => {
                write!(
                    err,
                    "\r\x1b[2K[{index:>w$}/{total}] {} {} ...",
                    cell.scenario.name,
                    cell.pairing(),
                    w = total.to_string().len()
                )?;
            }
            RunEvent::CellStarted { .. } => {}
            RunEvent::CellFinished {
                index,
                total,
                record,
            } => {
                if self.tty {
                    write!(err, "\r\x1b[2K")?;
                }
                let outcome = match record.outcome {
                    Outcome::Pass => "pass".to_string(),
                    other => other.as_str().to_uppercase(),
                };
                write!(
                    err,
                    "[{index:>w$}/{total}] {:<7} {} {} ({:.1}s)",
                    outcome,
                    record.scenario,
                    record.pairing(),
                    record.timings.wall_ms / 1000.0,
                    w = total.to_string().len()
                )?;
                if let Some(reason) = &record.reason {
                    write!(err, "\n          {}", reason.replace('\n', "\n          "))?;
                }
                writeln!(err)?;
            }
        }
        err.flush()
    }
}
