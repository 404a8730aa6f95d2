//! Scenarios and expectation files: loading and validating them with every located error,
//! choosing the expectation files in force, and the `validate` and `list` commands.

use interop_harness::matrix;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use interop_scenario::expectations::Expectations;
use interop_scenario::plan::Scenario;

use interop_harness::matrix::{Implementation, Selection};

use super::*;

/// Loads and validates every scenario under `paths`; prints every error.
pub(crate) fn load(paths: &[PathBuf]) -> Result<Vec<Scenario>, CliError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match interop_scenario::discover(path) {
                Ok(found) => files.extend(found),
                Err(e) => {
                    return Err(CliError::ScenarioPath(format!(
                        "cannot read {}: {e}",
                        path.display()
                    )))
                }
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(CliError::ScenarioPath(format!(
                "{}: no such file or folder",
                path.display()
            )));
        }
    }
    if files.is_empty() {
        return Err(CliError::ScenarioPath(format!(
            "no scenario files (*.yaml) under {}",
            display_paths(paths)
        )));
    }
    interop_scenario::load_files(&files).map_err(|errors| CliError::Invalid {
        files: Files::Scenario,
        errors: errors.iter().map(ToString::to_string).collect(),
        notes: Vec::new(),
    })
}

pub(crate) fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The expectation files in force and the `expectations: ...` line that names them.
pub(crate) struct Applied {
    pub(crate) expectations: Expectations,
    /// `expectations: scenarios/expectations/chrome.yaml, ...`, or where none was found.
    pub(crate) line: String,
}

/// Loads the expectation files for `paths` (the folder `explicit`, else the nearest
/// `expectations` folder up the tree from each path) and checks them against the scenarios
/// they can be about: `scenarios` (those given) and those of each folder's tree, so that
/// selecting a subset of a tree does not make its expectation entries unknown. Prints every
/// error.
pub(crate) fn load_expectations(
    paths: &[PathBuf],
    explicit: Option<&Path>,
    scenarios: &[Scenario],
) -> Result<Applied, CliError> {
    let dirs: Vec<PathBuf> = match explicit {
        Some(dir) if !dir.is_dir() => {
            return Err(CliError::ScenarioPath(format!(
                "{}: no such folder",
                dir.display()
            )))
        }
        Some(dir) => vec![dir.to_path_buf()],
        None => {
            // Canonical, to tell the same folder reached from two paths; shown (and recorded
            // in `expectation.source`) relative to the current folder when the path that led
            // to it is relative, like `scenarios/expectations/rust.yaml:17`.
            let mut found: Vec<(PathBuf, PathBuf)> = Vec::new();
            for path in paths {
                let Some(dir) = nearest_expectations(path) else {
                    continue;
                };
                if found.iter().all(|(canonical, _)| *canonical != dir) {
                    let shown = if path.is_relative() {
                        relative_to_cwd(&dir)
                    } else {
                        dir.clone()
                    };
                    found.push((dir, shown));
                }
            }
            found.into_iter().map(|(_, shown)| shown).collect()
        }
    };
    let mut expectations = Expectations::default();
    let mut errors = Vec::new();
    for dir in &dirs {
        match Expectations::load_dir(dir) {
            Ok(e) => expectations.merge(e),
            Err(e) => errors.extend(e),
        }
    }
    let mut unchecked = Vec::new();
    if errors.is_empty() {
        let mut names: Vec<String> = Vec::new();
        for tree in trees(paths, &dirs) {
            unchecked.extend(tree_scenario_names(&tree, &mut names));
        }
        names.extend(scenarios.iter().map(|s| s.name.clone()));
        names.extend(scenarios.iter().map(|s| s.base_name.clone()));
        names.sort_unstable();
        names.dedup();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let implementations: Vec<&str> = Implementation::all().iter().map(|i| i.name()).collect();
        errors = expectations.validate(&names, &implementations);
    }
    if errors.is_empty() {
        let files: Vec<String> = expectations
            .files()
            .map(|f| f.display().to_string())
            .collect();
        let line = match (files.is_empty(), explicit) {
            (false, _) => format!("expectations: {}", files.join(", ")),
            (true, Some(dir)) => format!("expectations: none found in {}", dir.display()),
            (true, None) => format!(
                "expectations: none found (looked up from {})",
                display_paths(paths)
            ),
        };
        return Ok(Applied { expectations, line });
    }
    let notes = unchecked
        .iter()
        .map(|(tree, files)| {
            format!(
                "{files} scenario file{} under {} could not be loaded (`interop validate {}` \
                 says why): an entry about a scenario of {} is reported as unknown",
                if *files == 1 { "" } else { "s" },
                tree.display(),
                tree.display(),
                if *files == 1 { "it" } else { "theirs" },
            )
        })
        .collect();
    Err(CliError::Invalid {
        files: Files::Expectation,
        errors: errors.iter().map(ToString::to_string).collect(),
        notes,
    })
}

/// The nearest `expectations` folder up the tree from `path` (a scenario folder: the folder
/// itself, then its ancestors; a scenario file: its folder, then its ancestors), canonical.
/// The search stops at the root of the git checkout `path` is in (a folder holding `.git`),
/// else at the filesystem root.
pub(crate) fn nearest_expectations(path: &Path) -> Option<PathBuf> {
    let path = path.canonicalize().ok()?;
    let start = if path.is_dir() {
        path.as_path()
    } else {
        path.parent()?
    };
    for dir in start.ancestors() {
        let candidate = dir.join(interop_scenario::EXPECTATIONS_DIR);
        if candidate.is_dir() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// `path` (canonical) relative to the current folder (`scenarios/expectations`,
/// `../scenarios/expectations`); `path` itself when the current folder is unknown or they
/// share no more than the filesystem root.
pub(crate) fn relative_to_cwd(path: &Path) -> PathBuf {
    let Ok(cwd) = std::env::current_dir().and_then(|cwd| cwd.canonicalize()) else {
        return path.to_path_buf();
    };
    let common = path
        .components()
        .zip(cwd.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common < 2 {
        return path.to_path_buf();
    }
    let mut relative = PathBuf::new();
    for _ in cwd.components().skip(common) {
        relative.push("..");
    }
    relative.extend(path.components().skip(common));
    if relative.as_os_str().is_empty() {
        relative.push(".");
    }
    relative
}

/// The scenario trees the expectation folders `dirs` belong to: each folder's parent, when
/// it holds one of the given `paths` (an `--expectations` folder elsewhere has no tree: its
/// entries are checked against the given scenarios only). A tree that is itself one of
/// `paths` is left out: its scenarios are loaded already.
pub(crate) fn trees(paths: &[PathBuf], dirs: &[PathBuf]) -> Vec<PathBuf> {
    let given: Vec<PathBuf> = paths.iter().filter_map(|p| p.canonicalize().ok()).collect();
    let mut trees: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let Some(tree) = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.parent().map(Path::to_path_buf))
        else {
            continue;
        };
        let holds_a_path = given.iter().any(|p| p.starts_with(&tree));
        let is_a_path = given.contains(&tree);
        if holds_a_path && !is_a_path && !trees.contains(&tree) {
            trees.push(tree);
        }
    }
    trees
}

/// Adds the names (and base names) of the scenarios under `tree` to `names`, loading each
/// file as `load` does; returns `(tree, count)` when `count` files could not be loaded (they
/// are left out: their problems are reported when they are run or validated).
pub(crate) fn tree_scenario_names(
    tree: &Path,
    names: &mut Vec<String>,
) -> Option<(PathBuf, usize)> {
    let shown = relative_to_cwd(tree);
    let files = match interop_scenario::discover(tree) {
        Ok(files) => files,
        Err(e) => {
            tracing::warn!("cannot read {}: {e}", shown.display());
            return Some((shown, 1));
        }
    };
    let mut failed = 0;
    for file in files {
        match interop_scenario::load_files(std::slice::from_ref(&file)) {
            Ok(scenarios) => {
                for s in scenarios {
                    names.push(s.base_name);
                    names.push(s.name);
                }
            }
            Err(_) => failed += 1,
        }
    }
    (failed > 0).then_some((shown, failed))
}

pub(crate) fn validate(paths: &[PathBuf], expectations: Option<&Path>) -> Result<(), CliError> {
    let scenarios = load(paths)?;
    let expectations = load_expectations(paths, expectations, &scenarios)?;
    for s in &scenarios {
        println!(
            "ok  {} ({} steps)  {}",
            s.name,
            s.steps.len(),
            s.path.display()
        );
    }
    if !expectations.expectations.is_empty() {
        println!("ok  {} expectations", expectations.expectations.len());
    }
    println!("{}", expectations.line);
    Ok(())
}

pub(crate) fn plan(select: &SelectArgs) -> Result<(Vec<matrix::Cell>, Applied), CliError> {
    let scenarios = load(&select.paths)?;
    let expectations =
        load_expectations(&select.paths, select.expectations.as_deref(), &scenarios)?;
    let scenarios: Vec<Arc<Scenario>> = scenarios.into_iter().map(Arc::new).collect();
    let selection = Selection {
        scenarios: select.scenarios.clone(),
        implementations: select.implementations.clone(),
        pairings: select.pairings.clone(),
    };
    let mut cells =
        matrix::expand(&scenarios, &selection).map_err(|e| CliError::Usage(e.to_string()))?;
    if let Some(shard) = select.shard {
        cells = shard.select(cells);
    }
    Ok((cells, expectations))
}

pub(crate) fn list(select: &SelectArgs) -> Result<(), CliError> {
    let (cells, applied) = plan(select)?;
    eprintln!("{}", applied.line);
    let expectations = applied.expectations;
    let mut last = String::new();
    for cell in &cells {
        if cell.scenario.name != last {
            last = cell.scenario.name.clone();
            println!(
                "{} [{}]  {}\n  {}",
                cell.scenario.name,
                cell.scenario.feature,
                cell.scenario.path.display(),
                cell.scenario.description.trim()
            );
        }
        match expectations.lookup(
            &cell.scenario.name,
            cell.offerer.name(),
            cell.answerer.name(),
        ) {
            Some(e) => println!(
                "    {}  (expected: {}, {})",
                cell.pairing(),
                e.outcome,
                e.reference.source
            ),
            None => println!("    {}", cell.pairing()),
        }
    }
    match select.shard {
        Some(shard) => println!("{} runs (shard {shard})", cells.len()),
        None => println!("{} runs", cells.len()),
    }
    Ok(())
}
