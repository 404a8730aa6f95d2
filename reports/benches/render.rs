//! Rendering the reports of 10,000 runs (the size of a matrix merged across browser versions):
//! Markdown summary, HTML page, JUnit XML, BCD JSON, and a diff of two such sets.
//! `cargo bench -p interop-reports`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use interop_results::{Implementation, Outcome, RunRecord, Timings, SCHEMA_VERSION};

const IMPLS: [&str; 3] = ["rust", "chrome", "firefox"];

/// 10,008 records: 1,112 scenarios in 15 feature groups x 9 pairings, a few non-pass.
fn records() -> Vec<RunRecord> {
    let mut v = Vec::new();
    for s in 0..1112 {
        for o in IMPLS {
            for a in IMPLS {
                let outcome = match (s + v.len()) % 23 {
                    0 => Outcome::Fail,
                    1 => Outcome::Unsupported,
                    2 => Outcome::Timeout,
                    _ => Outcome::Pass,
                };
                let imp = |n: &str| Implementation {
                    name: n.into(),
                    version: "1.0".into(),
                    detail: Some(format!("{n} driver")),
                };
                let mut timings = Timings {
                    wall_ms: 1500.0,
                    ..Default::default()
                };
                timings.to_connected_ms.insert("offerer".into(), 120.5);
                timings.to_connected_ms.insert("answerer".into(), 118.0);
                v.push(RunRecord {
                    schema_version: SCHEMA_VERSION,
                    scenario: format!("scenario-{s}[p={}]", s % 3),
                    parameters: [("p".to_string(), (s % 3).to_string())].into(),
                    repeat: None,
                    feature: format!("feature-{}", s % 15),
                    offerer: imp(o),
                    answerer: imp(a),
                    outcome,
                    expected: Outcome::Pass,
                    known_intermittent: Vec::new(),
                    expectation: None,
                    reason: (outcome != Outcome::Pass).then(|| "timed out <waiting> & more".into()),
                    failed_step: None,
                    timings,
                    started_at: "2026-12-01T00:00:00Z".into(),
                    artefacts: format!("runs/scenario-{s}/{o}-{a}"),
                    observed: [("offerer.dtls_role".to_string(), "server".into())].into(),
                });
            }
        }
    }
    v
}

fn render(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group(format!("render {} runs", records.len()));
    group.sample_size(10);
    group.bench_function("markdown summary", |b| {
        b.iter(|| black_box(interop_reports::markdown_summary(&records)))
    });
    group.bench_function("html", |b| {
        b.iter(|| black_box(interop_reports::html::render(&[], &records, "")))
    });
    group.bench_function("junit", |b| {
        b.iter(|| black_box(interop_reports::junit::render(&records)))
    });
    group.bench_function("bcd json", |b| {
        b.iter(|| black_box(interop_reports::bcd::bcd_json(&records)))
    });
    group.bench_function("diff", |b| {
        b.iter(|| black_box(interop_reports::diff::diff(&records, &records)))
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
