//! The scenario loader never panics, whatever it is given: arbitrary bytes, arbitrary text,
//! and the shipped scenarios mutated (ranges deleted, YAML-significant tokens inserted, lines
//! duplicated or swapped). Every rejected input gets at least one error that names the file.
//!
//! A bounded number of cases runs with `cargo test` (in CI too); `PROPTEST_CASES=100000 cargo
//! test -p interop-scenario --test fuzz` fuzzes longer. A failing case is printed shrunk.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

const FILE: &str = "fuzzed.yaml";

/// Parses `text` as a scenario file; panics (failing the case) only on a broken contract.
fn check(text: &str) {
    if let Err(errors) = interop_scenario::parse_all(Path::new(FILE), text) {
        assert!(!errors.is_empty(), "rejected without an error");
        for e in &errors {
            let shown = e.to_string();
            assert!(shown.contains(FILE), "an error that names no file: {shown}");
        }
    }
}

/// The shipped scenario files (read once).
fn shipped() -> &'static [(PathBuf, String)] {
    static FILES: std::sync::OnceLock<Vec<(PathBuf, String)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut files: Vec<(PathBuf, String)> = interop_scenario::discover(&root)
            .expect("scenarios/ is there")
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p, text)
            })
            .collect();
        files.sort();
        assert!(files.len() > 20, "the shipped scenarios are found");
        files
    })
}

/// Tokens that mean something to YAML or to the scenario language.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "#",
    "\n",
    "\n  ",
    "  ",
    "\t",
    "&a ",
    "*a",
    "!!str ",
    "!!binary ",
    "|",
    ">",
    "---\n",
    "...\n",
    "? ",
    "%YAML 1.2\n",
    "${",
    "}",
    "${x}",
    "0",
    "-1",
    "1e999",
    "99999999999999999999",
    ".nan",
    "~",
    "null",
    "true",
    "1.5",
    "10GiB",
    "0s",
    "1ms",
    "999999h",
    "16EiB",
    "peer",
    "both",
    "alice",
    "bob",
    "steps",
    "timeout",
    "parameters",
    "label",
    "é",
    "🦀",
    "\u{0}",
    "\u{feff}",
    "\r\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Delete `len` chars at position `at` (both taken modulo the text's length).
    Delete { at: usize, len: usize },
    /// Insert a token at `at`.
    Insert { at: usize, token: usize },
    /// Repeat line `line` right after itself.
    DuplicateLine { line: usize },
    /// Swap two lines.
    SwapLines { a: usize, b: usize },
    /// Cut the text at `at`.
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

/// The char boundary nearest below `at % (len + 1)`.
fn boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    match *m {
        Mutation::Delete { at, len } => {
            let from = boundary(text, at);
            let to = boundary(text, from + len.min(text.len() - from));
            format!("{}{}", &text[..from], &text[to.max(from)..])
        }
        Mutation::Insert { at, token } => {
            let at = boundary(text, at);
            format!("{}{}{}", &text[..at], TOKENS[token], &text[at..])
        }
        Mutation::DuplicateLine { line } if !lines.is_empty() => {
            let i = line % lines.len();
            lines.insert(i, lines[i]);
            lines.concat()
        }
        Mutation::SwapLines { a, b } if !lines.is_empty() => {
            let n = lines.len();
            lines.swap(a % n, b % n);
            lines.concat()
        }
        Mutation::Truncate { at } => text[..boundary(text, at)].to_string(),
        _ => text.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        check(&text);
    }

    #[test]
    fn yaml_shaped_noise_never_panics(
        tokens in proptest::collection::vec(0..TOKENS.len(), 0..120)
    ) {
        let text: String = tokens.into_iter().map(|t| TOKENS[t]).collect();
        check(&text);
    }

    #[test]
    fn mutated_shipped_scenarios_never_panic(
        file in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..8)
    ) {
        let files = shipped();
        let (_, original) = &files[file % files.len()];
        let mut text = original.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        check(&text);
    }
}

/// The mutations do reach the validator: one deletion in a valid file makes errors that name
/// the place, not only a YAML syntax error (so the cases above test more than the YAML parser).
#[test]
fn a_mutation_reaches_the_validator() {
    let (_, text) = shipped()
        .iter()
        .find(|(p, _)| p.ends_with("datachannel-echo.yaml"))
        .unwrap();
    let broken = text.replacen("label: echo", "label: ech", 1);
    let errors = interop_scenario::parse_all(Path::new(FILE), &broken).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(shown.iter().any(|e| e.contains("ech")), "{shown:?}");
}
