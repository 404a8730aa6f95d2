//! Parsing and planning the shipped scenarios (every file under scenarios/, parameters
//! expanded): what every `run`, `list` and `validate` does before anything starts.
//! `cargo bench -p interop-scenario`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};

fn shipped() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    interop_scenario::discover(&root)
        .expect("scenarios/ is readable")
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("scenario file");
            (p, text)
        })
        .collect()
}

fn parse_and_plan(c: &mut Criterion) {
    let files = shipped();
    let variants: usize = files
        .iter()
        .map(|(p, t)| interop_scenario::parse_all(p, t).map_or(0, |v| v.len()))
        .sum();
    assert!(
        variants > 50,
        "the shipped suite parses: {variants} scenarios"
    );
    c.bench_function(
        &format!("parse + plan {} files ({variants} scenarios)", files.len()),
        |b| {
            b.iter(|| {
                for (path, text) in &files {
                    let plans = interop_scenario::parse_all(path, text).expect("valid scenario");
                    black_box(plans);
                }
            })
        },
    );
}

criterion_group!(benches, parse_and_plan);
criterion_main!(benches);
