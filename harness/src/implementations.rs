//! Implementations as records.
//!
//! An implementation is whatever can take a peer's place in a cell. Each one is a plain
//! [`Record`]: its name (the one in its Hello, in `-i` / `--pairing` and the stem of its
//! expectation file), how it is started ([`Start`]: a child process given the control URL, or a
//! browser [`Product`] driven over WebDriver) and what the runner needs to know around that
//! (its log file, the variable that makes it write DTLS keys). The runner, the CLI and the
//! bench read records and match only on [`Start`], the lifecycle; none of them names an
//! implementation. Adding a stack is adding a record to [`RECORDS`].

use std::fmt;

use crate::browser::{self, Product};

/// How an implementation is started.
#[derive(Debug)]
pub enum Start {
    /// A child process that connects to the control URL it is given on its command line.
    Process(ProcessPeer),
    /// A browser driven over WebDriver: a session loads the peer page.
    WebDriver(&'static Product),
}

/// A peer that runs as a child process.
#[derive(Debug)]
pub struct ProcessPeer {
    /// The executable.
    pub program: Program,
    /// Its arguments; [`CONTROL_URL`] is replaced by the control URL of the run.
    pub args: &'static [&'static str],
    /// Set to a file in the run's folder when the run is captured, so that the peer writes its
    /// DTLS keys there (NSS key log format) and the capture can be decrypted.
    pub keylog_env: Option<&'static str>,
}

/// The placeholder in [`ProcessPeer::args`] for the control URL.
pub const CONTROL_URL: &str = "{control_url}";

/// Which executable a [`ProcessPeer`] runs.
#[derive(Debug)]
pub enum Program {
    /// The harness's own executable (the Rust peer is `interop peer --control-url URL`).
    Harness,
}

/// One implementation.
#[derive(Debug)]
pub struct Record {
    /// The name in the matrix, in its Hello and on the command line: `rust`, `chrome`.
    pub name: &'static str,
    /// For people: `the Rust peer`, `Chromium`.
    pub display_name: &'static str,
    pub start: Start,
}

/// The Rust peer: the `webrtc` crate behind the peer-control protocol, in a child process.
pub static RUST: Record = Record {
    name: "rust",
    display_name: "the Rust peer",
    start: Start::Process(ProcessPeer {
        program: Program::Harness,
        args: &["peer", "--control-url", CONTROL_URL],
        keylog_env: Some("SSLKEYLOGFILE"),
    }),
};

/// Chromium over chromedriver.
pub static CHROME: Record = Record {
    name: "chrome",
    display_name: "Chromium",
    start: Start::WebDriver(&browser::CHROME),
};

/// Firefox over geckodriver.
pub static FIREFOX: Record = Record {
    name: "firefox",
    display_name: "Firefox",
    start: Start::WebDriver(&browser::FIREFOX),
};

/// Every implementation, in matrix order.
pub static RECORDS: &[&Record] = &[&RUST, &CHROME, &FIREFOX];

/// A handle on a record; equal when the names are.
#[derive(Clone, Copy)]
pub struct Implementation(&'static Record);

impl Implementation {
    /// Every implementation, in matrix order.
    pub fn all() -> Vec<Implementation> {
        RECORDS.iter().map(|r| Implementation(r)).collect()
    }

    pub fn of(record: &'static Record) -> Implementation {
        Implementation(record)
    }

    pub fn parse(name: &str) -> Option<Implementation> {
        Implementation::all().into_iter().find(|i| i.name() == name)
    }

    pub fn name(&self) -> &'static str {
        self.0.name
    }

    pub fn record(&self) -> &'static Record {
        self.0
    }

    /// The browser product, for an implementation driven over WebDriver.
    pub fn product(&self) -> Option<&'static Product> {
        match &self.0.start {
            Start::WebDriver(product) => Some(product),
            Start::Process(_) => None,
        }
    }

    /// Whether it is a browser (driven over WebDriver).
    pub fn is_browser(&self) -> bool {
        self.product().is_some()
    }

    /// The expectation file that lists this implementation's expected non-passes, inside an
    /// expectations folder.
    pub fn expectation_file(&self) -> String {
        format!("{}.yaml", self.0.name)
    }

    /// The file of the run's folder that holds a process peer's own log in `role`.
    pub fn log_file(&self, role: &str) -> String {
        format!("{}-peer-{role}.log", self.0.name)
    }
}

impl PartialEq for Implementation {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Implementation {}

impl fmt::Debug for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Implementation({})", self.name())
    }
}

impl fmt::Display for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_browsers_are_their_products() {
        let names: Vec<&str> = RECORDS.iter().map(|r| r.name).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for r in RECORDS {
            if let Start::WebDriver(p) = &r.start {
                assert_eq!(
                    p.name, r.name,
                    "a browser record is named after its product"
                );
            }
        }
        // Every browser product is an implementation.
        for p in browser::PRODUCTS {
            assert!(Implementation::parse(p.name).is_some_and(|i| i.is_browser()));
        }
    }

    #[test]
    fn process_peers_take_the_control_url() {
        for r in RECORDS {
            if let Start::Process(p) = &r.start {
                assert!(p.args.contains(&CONTROL_URL), "{}", r.name);
            }
        }
        assert_eq!(
            Implementation::of(&RUST).log_file("alice"),
            "rust-peer-alice.log"
        );
    }
}
