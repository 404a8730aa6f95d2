//! The commands over results folders: `report`, `merge`, `diff`.

use interop_harness::results_dir;

use std::path::{Path, PathBuf};

use interop_harness::results_dir::ResultsDir;

use super::CliError;

/// Loads a results folder for report / merge / diff; warns of torn lines.
pub(crate) fn load_results(dir: &Path) -> Result<ResultsDir, CliError> {
    let results = ResultsDir::load(dir).map_err(|e| CliError::Usage(e.to_string()))?;
    for (line, e) in &results.torn {
        eprintln!(
            "warning: {}:{line}: not a result record, left out ({e})",
            dir.join(interop_results::RESULTS_FILE).display()
        );
    }
    Ok(results)
}

pub(crate) fn report(dir: &Path, out: Option<&Path>) -> Result<(), CliError> {
    let results = load_results(dir)?;
    let out = out.unwrap_or(dir);
    let paths = results_dir::write_reports(&results, out).map_err(|source| CliError::Io {
        action: format!("write the reports in {}", out.display()),
        source,
    })?;
    println!("{}", interop_reports::totals_line(&results.records));
    for p in paths {
        println!("wrote {}", p.display());
    }
    Ok(())
}

pub(crate) fn merge(sources: &[PathBuf], out: &Path) -> Result<(), CliError> {
    let loaded = sources
        .iter()
        .map(|dir| load_results(dir))
        .collect::<Result<Vec<_>, _>>()?;
    if out.join(interop_results::RESULTS_FILE).exists() {
        return Err(CliError::Usage(format!(
            "{} already holds results; merge into a new folder",
            out.display()
        )));
    }
    let merged = results_dir::merge(&loaded, out).map_err(|e| CliError::Setup(e.to_string()))?;
    for cell in &merged.replaced {
        eprintln!("warning: {cell} is in several sources with the same versions; kept the last");
    }
    println!(
        "merged {} folders: {} records into {}",
        sources.len(),
        merged.records,
        out.display()
    );
    report(out, None)
}

pub(crate) fn diff(old: &Path, new: &Path) -> Result<(), CliError> {
    let (old, new) = (load_results(old)?, load_results(new)?);
    let d = interop_reports::diff::diff(&old.records, &new.records);
    print!("{}", d.render_text());
    if d.has_regressions() {
        Err(CliError::Unexpected)
    } else {
        Ok(())
    }
}
