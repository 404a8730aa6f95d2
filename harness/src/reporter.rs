//! Events out, reporters in: the runner emits [`RunEvent`]s and never prints; each reporter
//! consumes the same stream.
//!
//! - [`JsonlWriter`] appends each finished run to `<out>/results.jsonl` and flushes at once, so
//!   a killed harness leaves every finished run on disk; at the end it puts them in plan order.
//! - [`Progress`] shows live progress on stderr (one line per finished run; a "running" line
//!   that is rewritten in place when stderr is a terminal).

use std::collections::BTreeMap;
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
    /// A cell is starting (`index`: its 1-based place in the plan; with several workers,
    /// cells start in plan order but end in any order).
    CellStarted {
        index: usize,
        total: usize,
        cell: &'a Cell,
    },
    /// A cell ended; its record is final. `finished` counts the cells ended so far.
    CellFinished {
        index: usize,
        finished: usize,
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

    /// Rewrites the file with `records` in plan order once every run has ended (with several
    /// workers, runs end in any order). Atomic: a new file replaces the old one, so a kill
    /// during the rewrite leaves one or the other.
    pub fn rewrite_in_order(&self, records: &[RunRecord]) -> std::io::Result<()> {
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut text = String::new();
        for record in records {
            text.push_str(&serde_json::to_string(record).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        std::fs::rename(&tmp, &self.path)
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

/// Live progress on stderr: a line per finished run, numbered by how many have finished; on a
/// terminal, also a status line of the runs in progress, rewritten in place.
pub struct Progress {
    tty: bool,
    total: usize,
    finished: usize,
    /// Runs in progress: plan index -> `scenario offerer -> answerer`.
    running: BTreeMap<usize, String>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
            total: 0,
            finished: 0,
            running: BTreeMap::new(),
        }
    }
}

impl Progress {
    fn status_line(&self) -> String {
        let mut line = format!(
            "[{:>w$}/{}] running: ",
            self.finished,
            self.total,
            w = self.total.to_string().len()
        );
        line.push_str(
            &self
                .running
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        );
        // One terminal line: cut, on a character boundary.
        match line.char_indices().nth(118) {
            Some((i, _)) => format!("{}..", &line[..i]),
            None => line,
        }
    }
}

impl Reporter for Progress {
    fn report(&mut self, event: &RunEvent<'_>) -> std::io::Result<()> {
        let mut err = std::io::stderr().lock();
        match event {
            RunEvent::Started { total } => {
                self.total = *total;
                writeln!(
                    err,
                    "running {total} run{}",
                    if *total == 1 { "" } else { "s" }
                )?;
            }
            RunEvent::CellStarted { index, cell, .. } => {
                self.running
                    .insert(*index, format!("{} {}", cell.scenario.name, cell.pairing()));
                if self.tty {
                    write!(err, "\r\x1b[2K{}", self.status_line())?;
                }
            }
            RunEvent::CellFinished {
                index,
                finished,
                total,
                record,
            } => {
                self.running.remove(index);
                self.finished = *finished;
                if self.tty {
                    write!(err, "\r\x1b[2K")?;
                }
                let outcome = match record.outcome {
                    Outcome::Pass => "pass".to_string(),
                    other => other.as_str().to_uppercase(),
                };
                write!(
                    err,
                    "[{finished:>w$}/{total}] {:<7} {} {} ({:.1}s)",
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
                if self.tty && !self.running.is_empty() {
                    write!(err, "{}", self.status_line())?;
                }
            }
        }
        err.flush()
    }
}
