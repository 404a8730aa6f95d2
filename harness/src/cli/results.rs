//! The commands over results folders: `report`, `merge`, `diff`.

use interop_harness::results_dir;

use std::path::{Path, PathBuf};

use interop_results::exit_code;

use interop_harness::results_dir::ResultsDir;

/// Loads a results folder for report / merge / diff; prints why it cannot be read.
pub(crate) fn load_results(dir: &Path) -> Result<ResultsDir, i32> {
    let results = ResultsDir::load(dir).map_err(|e| {
        eprintln!("error: {e}");
        exit_code::USAGE
    })?;
    for (line, e) in &results.torn {
        eprintln!(
            "warning: {}:{line}: not a result record, left out ({e})",
            dir.join(interop_results::RESULTS_FILE).display()
        );
    }
    Ok(results)
}

pub(crate) fn report(dir: &Path, out: Option<&Path>) -> i32 {
    let results = match load_results(dir) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let out = out.unwrap_or(dir);
    match results_dir::write_reports(&results, out) {
        Ok(paths) => {
            println!("{}", interop_reports::totals_line(&results.records));
            for p in paths {
                println!("wrote {}", p.display());
            }
            exit_code::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write the reports in {}: {e}", out.display());
            exit_code::SETUP_ERROR
        }
    }
}

pub(crate) fn merge(sources: &[PathBuf], out: &Path) -> i32 {
    let mut loaded = Vec::new();
    for dir in sources {
        match load_results(dir) {
            Ok(r) => loaded.push(r),
            Err(code) => return code,
        }
    }
    if out.join(interop_results::RESULTS_FILE).exists() {
        eprintln!(
            "error: {} already holds results; merge into a new folder",
            out.display()
        );
        return exit_code::USAGE;
    }
    let merged = match results_dir::merge(&loaded, out) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::SETUP_ERROR;
        }
    };
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

pub(crate) fn diff(old: &Path, new: &Path) -> i32 {
    let (old, new) = match (load_results(old), load_results(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let d = interop_reports::diff::diff(&old.records, &new.records);
    print!("{}", d.render_text());
    if d.has_regressions() {
        exit_code::RUN_FAILED
    } else {
        exit_code::SUCCESS
    }
}
