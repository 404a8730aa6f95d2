//! The GitHub Actions workflow (.github/workflows/interop.yml) is checked by two linters from
//! PyPI that `ci/setup` installs: check-jsonschema against GitHub's workflow schema (structure,
//! keys, types) and zizmor (expressions, permissions, injection, pinning; its policy is in
//! .github/zizmor.yml). A broken copy must be refused, so the check is not vacuous.
//! No browser is involved.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::workspace_root;

/// The tool on PATH or in ~/.local/bin (where `pip install --user` puts it); under CI=true a
/// missing tool fails the test, elsewhere it is skipped with a message.
fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".local/bin"));
    }
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    let msg = format!("{name} is missing; run `bash ci/setup`");
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI=true and the workflow cannot be checked: {msg}");
    }
    eprintln!("SKIPPED (not under CI): {msg}");
    None
}

fn lint(workflow: &std::path::Path) -> Vec<(String, std::process::Output)> {
    let root = workspace_root();
    let (Some(schema), Some(zizmor)) = (tool("check-jsonschema"), tool("zizmor")) else {
        return Vec::new();
    };
    let schema_check = Command::new(schema)
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(workflow)
        .output()
        .expect("check-jsonschema runs");
    let audit = Command::new(zizmor)
        .arg("--offline")
        .arg("--config")
        .arg(root.join(".github/zizmor.yml"))
        .arg(workflow)
        .output()
        .expect("zizmor runs");
    vec![
        ("check-jsonschema".to_string(), schema_check),
        ("zizmor".to_string(), audit),
    ]
}

#[test]
fn the_workflow_passes_both_linters_and_a_broken_one_does_not() {
    let workflow = workspace_root().join(".github/workflows/interop.yml");
    let results = lint(&workflow);
    for (name, out) in &results {
        assert!(
            out.status.success(),
            "{name} refuses {}:\n{}{}",
            workflow.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if results.is_empty() {
        return;
    }

    // The workflow runs the shards the harness can make and merges them with its commands.
    let text = std::fs::read_to_string(&workflow).unwrap();
    for needle in [
        "--shard \"$SHARD/$SHARDS\"",
        "merge results-",
        "GITHUB_STEP_SUMMARY",
        "upload-pages-artifact",
    ] {
        assert!(text.contains(needle), "the workflow uses `{needle}`");
    }

    let dir = tempfile::tempdir().unwrap();
    // A misspelt key is refused by the schema; a template expression used in a `run:` script
    // (script injection) is refused by zizmor.
    let broken_schema = dir.path().join("schema.yml");
    std::fs::write(
        &broken_schema,
        text.replacen("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04", 1),
    )
    .unwrap();
    let injected = dir.path().join("injected.yml");
    std::fs::write(
        &injected,
        text.replacen(
            "cat report/summary.md >> \"$GITHUB_STEP_SUMMARY\"",
            "echo \"${{ github.event.pull_request.title }}\" >> \"$GITHUB_STEP_SUMMARY\"",
            1,
        ),
    )
    .unwrap();
    assert!(!lint(&broken_schema)[0].1.status.success(), "schema check");
    assert!(!lint(&injected)[1].1.status.success(), "zizmor");
}
