//! Why a command did not succeed, as one typed error; [`CliError::exit_code`] is the one
//! place an error becomes an exit code (the contract crate's `interop_results::exit_code`),
//! and [`CliError::report`] the one place it is printed.
//!
//! A command returns `Result<(), CliError>`; `main` maps it. Errors that stop a command
//! before anything ran carry their message; the two that end a command after it reported
//! (unexpected results, an interruption) carry nothing more to print.

use interop_results::exit_code;

/// Which files an [`CliError::Invalid`] is about, for its summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Files {
    Scenario,
    Expectation,
}

impl Files {
    fn word(self) -> &'static str {
        match self {
            Files::Scenario => "scenario",
            Files::Expectation => "expectation",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Usage beyond what clap checks: a selection that matches nothing, a results folder
    /// that cannot be read, `merge` into a folder that holds results.
    #[error("{0}")]
    Usage(String),
    /// A scenario path that cannot be read or holds no scenario.
    #[error("{0}")]
    ScenarioPath(String),
    /// Scenario or expectation files with errors, each one located (`file:line:column`);
    /// `notes` say what the errors may come from.
    #[error("{} error{} in {} files", .errors.len(), if .errors.len() == 1 { "" } else { "s" }, .files.word())]
    Invalid {
        files: Files,
        errors: Vec<String>,
        notes: Vec<String>,
    },
    /// Browsers (or their drivers) that the selected cells need and that are not installed.
    #[error("{}", .0.join("; "))]
    MissingBrowsers(Vec<String>),
    /// A file or folder the command must write cannot be.
    #[error("cannot {action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    /// Anything else that stops a command before it ran: a listener that cannot bind, no
    /// runtime, nothing left to run.
    #[error("{0}")]
    Setup(String),
    /// The Rust peer (`interop peer`) ended with an error.
    #[error("the Rust peer failed: {0}")]
    PeerFailed(String),
    /// Every run ended and at least one result was unexpected, or `diff` found a
    /// regression; the command's own report says which.
    #[error("unexpected results")]
    Unexpected,
    /// Stopped by a signal; the command said so and wrote the reports of finished runs.
    #[error("interrupted by {0}")]
    Interrupted(&'static str),
}

impl CliError {
    /// The exit code of this error: the one mapping (README "Exit codes").
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => exit_code::USAGE,
            CliError::ScenarioPath(_) | CliError::Invalid { .. } => exit_code::INVALID_SCENARIO,
            CliError::MissingBrowsers(_) | CliError::Io { .. } | CliError::Setup(_) => {
                exit_code::SETUP_ERROR
            }
            CliError::PeerFailed(_) | CliError::Unexpected => exit_code::RUN_FAILED,
            CliError::Interrupted(_) => exit_code::INTERRUPTED,
        }
    }

    /// What stderr says of this error: `error: ...` lines, every located error of an
    /// [`CliError::Invalid`] followed by its notes and `N errors in ... files; nothing was
    /// run`; nothing for the errors whose command reported already.
    pub(crate) fn report(&self) -> String {
        match self {
            CliError::Invalid { errors, notes, .. } => {
                let mut out = String::new();
                for e in errors {
                    out.push_str(&format!("error: {e}\n\n"));
                }
                for n in notes {
                    out.push_str(&format!("note: {n}\n\n"));
                }
                out.push_str(&format!("{self}; nothing was run\n"));
                out
            }
            CliError::MissingBrowsers(missing) => {
                missing.iter().map(|m| format!("error: {m}\n")).collect()
            }
            CliError::Unexpected | CliError::Interrupted(_) => String::new(),
            CliError::Usage(_)
            | CliError::ScenarioPath(_)
            | CliError::Io { .. }
            | CliError::Setup(_)
            | CliError::PeerFailed(_) => format!("error: {self}\n"),
        }
    }
}

/// `Ok` is success; an error is reported on stderr and becomes its exit code.
pub(crate) fn exit_code_of(result: Result<(), CliError>) -> i32 {
    match result {
        Ok(()) => exit_code::SUCCESS,
        Err(e) => {
            eprint!("{}", e.report());
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of each variant (the match makes a new variant fail to compile here).
    fn one_of_each() -> Vec<CliError> {
        let io = || std::io::Error::other("disk full");
        let all = vec![
            CliError::Usage("u".into()),
            CliError::ScenarioPath("p".into()),
            CliError::Invalid {
                files: Files::Scenario,
                errors: vec!["a.yaml:1:1: bad".into()],
                notes: vec![],
            },
            CliError::MissingBrowsers(vec!["Firefox not found".into()]),
            CliError::Io {
                action: "write x".into(),
                source: io(),
            },
            CliError::Setup("s".into()),
            CliError::PeerFailed("f".into()),
            CliError::Unexpected,
            CliError::Interrupted("SIGINT"),
        ];
        for e in &all {
            match e {
                CliError::Usage(_)
                | CliError::ScenarioPath(_)
                | CliError::Invalid { .. }
                | CliError::MissingBrowsers(_)
                | CliError::Io { .. }
                | CliError::Setup(_)
                | CliError::PeerFailed(_)
                | CliError::Unexpected
                | CliError::Interrupted(_) => {}
            }
        }
        all
    }

    #[test]
    fn every_error_has_a_documented_code_and_every_failure_code_an_error() {
        let documented: Vec<i32> = exit_code::ALL.iter().map(|(c, _)| *c).collect();
        let produced: Vec<i32> = one_of_each().iter().map(CliError::exit_code).collect();
        for code in &produced {
            assert!(documented.contains(code), "{code} is not in exit_code::ALL");
            assert_ne!(*code, exit_code::SUCCESS);
        }
        for code in documented {
            assert!(
                code == exit_code::SUCCESS || produced.contains(&code),
                "no error exits with {code}"
            );
        }
        assert_eq!(exit_code_of(Ok(())), exit_code::SUCCESS);
    }

    #[test]
    fn invalid_files_are_listed_then_counted() {
        let e = CliError::Invalid {
            files: Files::Expectation,
            errors: vec!["e/chrome.yaml:3:5: unknown key".into(), "two".into()],
            notes: vec!["1 scenario file under s could not be loaded".into()],
        };
        assert_eq!(
            e.report(),
            "error: e/chrome.yaml:3:5: unknown key\n\nerror: two\n\n\
             note: 1 scenario file under s could not be loaded\n\n\
             2 errors in expectation files; nothing was run\n"
        );
        let one = CliError::Invalid {
            files: Files::Scenario,
            errors: vec!["x".into()],
            notes: vec![],
        };
        assert!(one
            .report()
            .ends_with("1 error in scenario files; nothing was run\n"));
    }

    #[test]
    fn reported_errors_print_nothing_more() {
        assert_eq!(CliError::Unexpected.report(), "");
        assert_eq!(CliError::Interrupted("SIGTERM").report(), "");
        let io = CliError::Io {
            action: "prepare out".into(),
            source: std::io::Error::other("read-only"),
        };
        assert_eq!(io.report(), "error: cannot prepare out: read-only\n");
    }
}
