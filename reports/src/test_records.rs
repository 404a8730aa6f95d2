//! Record builders shared by the renderers' unit tests.

use interop_results::{FailedStep, Implementation, Outcome, RunRecord, Timings, SCHEMA_VERSION};

pub fn imp(name: &str, version: &str) -> Implementation {
    Implementation {
        name: name.into(),
        version: version.into(),
        detail: None,
    }
}

/// A run of `scenario` in `feature`: a non-pass one says "channel never opened" and stopped
/// at line 12; no timings, no observed facts, artefacts under `runs/<scenario>/<o>-<a>`.
pub fn record(
    scenario: &str,
    feature: &str,
    offerer: Implementation,
    answerer: Implementation,
    outcome: Outcome,
) -> RunRecord {
    let artefacts = format!("runs/{scenario}/{}-{}", offerer.name, answerer.name);
    RunRecord {
        schema_version: SCHEMA_VERSION,
        scenario: scenario.into(),
        parameters: Default::default(),
        repeat: None,
        feature: feature.into(),
        offerer,
        answerer,
        outcome,
        expected: Outcome::Pass,
        known_intermittent: Vec::new(),
        expectation: None,
        reason: (outcome != Outcome::Pass).then(|| "channel never opened".into()),
        failed_step: (outcome != Outcome::Pass).then(|| FailedStep {
            index: 4,
            line: 12,
            peer: "bob".into(),
            step: "expect channel 'echo' open".into(),
        }),
        timings: Timings::default(),
        started_at: "2026-11-25T00:00:00Z".into(),
        artefacts,
        observed: Default::default(),
    }
}
