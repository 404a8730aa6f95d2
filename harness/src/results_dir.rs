//! Results folders on disk: what `run` writes and `report`, `merge` and `diff` read.
//!
//! ```text
//! <dir>/results.jsonl   one RunRecord per line, appended as each run ends
//! <dir>/run_info.json   RunInfo (written at the start, completed at the end); a merged folder
//!                       holds a JSON array with the RunInfo of each source
//! <dir>/runs/...        each run's artefacts (RunRecord::artefacts is relative to <dir>)
//! <dir>/logs/...        driver logs
//! reports, rendered from the above only: summary.md, index.html, junit.xml, bcd.json
//! ```
//!
//! This module owns the file layout and the I/O; what the reports say is `interop-reports`'.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

use interop_results::{
    HarnessInfo, Implementation, RunInfo, RunRecord, RESULTS_FILE, RUN_INFO_FILE, SCHEMA_VERSION,
};

/// A results folder, read.
pub struct ResultsDir {
    pub path: PathBuf,
    /// One per run that made the folder (several after `merge`); empty for a folder written
    /// before run_info.json existed.
    pub infos: Vec<RunInfo>,
    pub records: Vec<RunRecord>,
    /// Lines of results.jsonl that did not parse (1-based line, error): the torn last line of a
    /// killed run, typically.
    pub torn: Vec<(usize, String)>,
}

impl ResultsDir {
    /// Reads `dir`. An error names the file and what is wrong with it.
    pub fn load(dir: &Path) -> Result<ResultsDir, String> {
        let results = dir.join(RESULTS_FILE);
        let text = std::fs::read_to_string(&results)
            .map_err(|e| format!("cannot read {}: {e}", results.display()))?;
        let (records, torn) = interop_results::parse_jsonl(&text);
        let info_path = dir.join(RUN_INFO_FILE);
        let infos = match std::fs::read_to_string(&info_path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", info_path.display())),
            Ok(text) => parse_run_infos(&text)
                .map_err(|e| format!("{}: not a run_info file: {e}", info_path.display()))?,
        };
        Ok(ResultsDir {
            path: dir.to_path_buf(),
            infos,
            records,
            torn,
        })
    }
}

/// `run_info.json`: one RunInfo, or an array of them (a merged folder).
fn parse_run_infos(text: &str) -> Result<Vec<RunInfo>, serde_json::Error> {
    if text.trim_start().starts_with('[') {
        serde_json::from_str(text)
    } else {
        serde_json::from_str(text).map(|one| vec![one])
    }
}

/// Writes `run_info.json` (one object, or an array when `infos` has several), replacing the
/// file atomically so a reader never sees half of it.
pub fn write_run_infos(dir: &Path, infos: &[RunInfo]) -> io::Result<()> {
    let text = match infos {
        [one] => serde_json::to_string_pretty(one),
        many => serde_json::to_string_pretty(many),
    }
    .map_err(io::Error::other)?;
    let tmp = dir.join(format!("{RUN_INFO_FILE}.tmp"));
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(tmp, dir.join(RUN_INFO_FILE))
}

/// The RunInfo of a run starting now.
pub fn run_info_at_start(shard: Option<String>) -> RunInfo {
    RunInfo {
        schema_version: SCHEMA_VERSION,
        harness: harness_info(),
        os: os_description(),
        started_at: now_rfc3339(),
        ended_at: None,
        implementations: Vec::new(),
        shard,
        interrupted: false,
    }
}

/// `info` completed once the run ended: the end time and the implementations the records
/// name, with their exact versions.
pub fn finish_run_info(mut info: RunInfo, records: &[RunRecord], interrupted: bool) -> RunInfo {
    info.ended_at = Some(now_rfc3339());
    info.implementations = implementations_of(records);
    info.interrupted = interrupted;
    info
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// Each distinct (name, version) the records name, in report order (rust, chrome, firefox,
/// then others), with the detail (driver, user agent) of its first record.
pub fn implementations_of(records: &[RunRecord]) -> Vec<Implementation> {
    let mut seen: BTreeMap<((usize, String), String), Implementation> = BTreeMap::new();
    for r in records {
        for imp in [&r.offerer, &r.answerer] {
            let order = interop_reports::implementation_order(&imp.name);
            seen.entry((order, imp.version.clone()))
                .or_insert_with(|| imp.clone());
        }
    }
    seen.into_values().collect()
}

/// The harness's version and the git revision of the checkout it was built from (`-dirty`
/// with uncommitted changes; `unknown` when that checkout or git is not there).
pub fn harness_info() -> HarnessInfo {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let git_revision = match git(&["rev-parse", "HEAD"]) {
        Some(rev) if !rev.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{rev}-dirty")
            } else {
                rev
            }
        }
        _ => "unknown".to_string(),
    };
    HarnessInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_revision,
    }
}

/// `PRETTY_NAME` of /etc/os-release (else the OS family) and the architecture.
pub fn os_description() -> String {
    let name = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    format!("{name} {}", std::env::consts::ARCH)
}

/// The report files [`write_reports`] writes, in that order.
pub const REPORT_FILES: [&str; 4] = ["summary.md", "index.html", "junit.xml", "bcd.json"];

/// Renders every report of `results` into `out` (created if needed): summary.md, index.html
/// (linking the artefacts of `results` relative to `out`), junit.xml, bcd.json. Returns the
/// paths written.
pub fn write_reports(results: &ResultsDir, out: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let records = &results.records;
    let mut summary = interop_reports::markdown_summary(records);
    if results.infos.iter().any(|i| i.interrupted) {
        summary.insert_str(
            0,
            "> **Interrupted**: this summary holds only the runs that finished.\n\n",
        );
    }
    let base = relative_path(&results.path, out)?;
    let mut base = base.to_string_lossy().replace('\\', "/");
    if !base.is_empty() && !base.ends_with('/') {
        base.push('/');
    }
    let bcd = serde_json::to_string_pretty(&interop_reports::bcd::bcd_json(records))
        .map_err(io::Error::other)?;
    let contents = [
        summary,
        interop_reports::html::render(&results.infos, records, &base),
        interop_reports::junit::render(records),
        bcd + "\n",
    ];
    let mut written = Vec::new();
    for (name, text) in REPORT_FILES.iter().zip(contents) {
        let path = out.join(name);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

/// `target` relative to the folder `from` (both must exist): `""` when they are the same.
pub fn relative_path(target: &Path, from: &Path) -> io::Result<PathBuf> {
    let target = std::fs::canonicalize(target)?;
    let from = std::fs::canonicalize(from)?;
    let t: Vec<Component> = target.components().collect();
    let f: Vec<Component> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..f.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c.as_os_str());
    }
    Ok(rel)
}

/// What `merge` did.
pub struct Merged {
    pub records: usize,
    /// Cells present in more than one source with the same implementation versions: the
    /// later source's record was kept (scenario, pairing).
    pub replaced: Vec<String>,
}

/// Combines results folders (shards of one matrix, or runs against different browser
/// versions) into `out`: every record, each source's run_info, and the artefacts (hard links
/// where possible, else copies). A cell seen twice with the same versions keeps the later
/// source's record; with different versions both are kept (a report then shows both
/// versions). Artefacts keep their path unless another source already used it, in which case
/// they go under `merged/<source number>/`.
/// `out` must not hold results yet (the command refuses that as a usage error).
pub fn merge(sources: &[ResultsDir], out: &Path) -> Result<Merged, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    type Key = (String, String, String, String, String);
    let key = |r: &RunRecord| -> Key {
        (
            r.scenario.clone(),
            r.offerer.name.clone(),
            r.offerer.version.clone(),
            r.answerer.name.clone(),
            r.answerer.version.clone(),
        )
    };
    let mut order: Vec<Key> = Vec::new();
    let mut by_key: BTreeMap<Key, RunRecord> = BTreeMap::new();
    let mut replaced = Vec::new();
    let mut used_paths: BTreeMap<String, usize> = BTreeMap::new();
    let mut infos = Vec::new();
    for (number, source) in sources.iter().enumerate() {
        let number = number + 1;
        infos.extend(source.infos.iter().cloned());
        for record in &source.records {
            let mut record = record.clone();
            let from = source.path.join(&record.artefacts);
            let taken = used_paths
                .get(&record.artefacts)
                .is_some_and(|n| *n != number);
            if taken {
                record.artefacts = format!("merged/{number}/{}", record.artefacts);
            }
            used_paths.insert(record.artefacts.clone(), number);
            if from.is_dir() {
                link_tree(&from, &out.join(&record.artefacts))
                    .map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
            }
            let k = key(&record);
            if by_key.insert(k.clone(), record).is_some() {
                replaced.push(format!("{} {} -> {}", k.0, k.1, k.3));
            } else {
                order.push(k);
            }
        }
        let logs = source.path.join("logs");
        if logs.is_dir() {
            link_tree(&logs, &out.join("logs").join(number.to_string()))
                .map_err(|e| format!("cannot copy {}: {e}", logs.display()))?;
        }
    }
    let mut text = String::new();
    for k in &order {
        let line = serde_json::to_string(&by_key[k]).map_err(|e| e.to_string())?;
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(out.join(RESULTS_FILE), text)
        .map_err(|e| format!("cannot write {}: {e}", out.join(RESULTS_FILE).display()))?;
    if !infos.is_empty() {
        write_run_infos(out, &infos).map_err(|e| format!("cannot write run_info.json: {e}"))?;
    }
    Ok(Merged {
        records: order.len(),
        replaced,
    })
}

/// Recreates the tree `from` at `to`: hard links for files (copies across file systems).
fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            link_tree(&entry.path(), &target)?;
        } else if std::fs::hard_link(entry.path(), &target).is_err() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_between_folders() {
        let root = tempfile::tempdir().unwrap();
        let results = root.path().join("a/results");
        let out = root.path().join("b/report");
        std::fs::create_dir_all(&results).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        assert_eq!(
            relative_path(&results, &out).unwrap(),
            Path::new("../../a/results")
        );
        assert_eq!(relative_path(&results, &results).unwrap(), Path::new(""));
        assert_eq!(
            relative_path(&results, root.path()).unwrap(),
            Path::new("a/results")
        );
    }

    #[test]
    fn run_info_files_hold_one_object_or_an_array() {
        let dir = tempfile::tempdir().unwrap();
        let info = run_info_at_start(Some("1/2".into()));
        write_run_infos(dir.path(), std::slice::from_ref(&info)).unwrap();
        let text = std::fs::read_to_string(dir.path().join(RUN_INFO_FILE)).unwrap();
        assert!(text.trim_start().starts_with('{'));
        assert_eq!(parse_run_infos(&text).unwrap(), vec![info.clone()]);
        write_run_infos(dir.path(), &[info.clone(), info.clone()]).unwrap();
        let text = std::fs::read_to_string(dir.path().join(RUN_INFO_FILE)).unwrap();
        assert_eq!(parse_run_infos(&text).unwrap().len(), 2);
        assert!(!info.harness.git_revision.is_empty());
        assert!(info.os.contains(std::env::consts::ARCH));
    }
}
