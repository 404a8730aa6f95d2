//! Every broken scenario under `tests/fixtures/invalid/` fails to load, and its rendered
//! errors (location, message, snippet) are snapshot-tested: the snapshots are what users see.

use std::path::{Path, PathBuf};

use interop_scenario::{discover, load_files, ScenarioError};

/// Loads the files (paths relative to the crate, so messages are stable) and renders the errors.
fn rendered(paths: &[PathBuf]) -> String {
    let errors: Vec<ScenarioError> = match load_files(paths) {
        Ok(_) => panic!("{paths:?} must not validate"),
        Err(errors) => errors,
    };
    assert!(!errors.is_empty());
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\n")
}

macro_rules! invalid_fixtures {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                let path = PathBuf::from(concat!("tests/fixtures/invalid/", $name, ".yaml"));
                insta::assert_snapshot!($name, rendered(&[path]));
            }
        )*

        const FIXTURES: &[&str] = &[$($name),*];
    };
}

invalid_fixtures! {
    typo => "typo",
    parameters_undeclared => "parameters-undeclared",
    parameters_one_variant => "parameters-one-variant",
    wrong_type => "wrong-type",
    unknown_peer => "unknown-peer",
    missing_unit => "missing-unit",
    unknown_step => "unknown-step",
    label_never_created => "label-never-created",
    missing_feature => "missing-feature",
    syntax_error => "syntax-error",
    two_payloads => "two-payloads",
    peer_roles => "peer-roles",
    empty_steps => "empty-steps",
    unknown_state => "unknown-state",
    duplicate_key => "duplicate-key",
    missing_dash => "missing-dash",
    several_problems => "several-problems",
    count_without_index => "count-without-index",
    index_without_count => "index-without-count",
    bad_expect_error => "bad-expect-error",
    water_marks => "water-marks",
    bulk_transfer_both => "bulk-transfer-both",
    unknown_key_new_step => "unknown-key-new-step",
}

#[test]
fn every_invalid_fixture_has_a_snapshot_test() {
    let mut found: Vec<String> = discover(Path::new("tests/fixtures/invalid"))
        .expect("fixture dir")
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    found.sort();
    let mut listed: Vec<&str> = FIXTURES.to_vec();
    listed.sort_unstable();
    assert_eq!(found, listed);
}

#[test]
fn duplicate_name() {
    let paths = discover(Path::new("tests/fixtures/duplicate-name")).expect("fixture dir");
    insta::assert_snapshot!("duplicate-name", rendered(&paths));
}

/// All files are checked, and the errors of all of them reported, in file order.
#[test]
fn errors_of_all_files_are_reported() {
    let paths = [
        PathBuf::from("tests/fixtures/invalid/typo.yaml"),
        PathBuf::from("tests/fixtures/valid/all-steps.yaml"),
        PathBuf::from("tests/fixtures/invalid/unknown-peer.yaml"),
    ];
    let errors = load_files(&paths).expect_err("two files are broken");
    let files: Vec<_> = errors.iter().map(|e| e.path.clone()).collect();
    assert_eq!(files, [paths[0].clone(), paths[2].clone()]);
}
