//! `interop bench`: the harness's speed figures, measured on real runs between real peers.
//!
//! One worker runs, for every selected pairing, in rounds (after one warm-up round that starts
//! the browser sessions and is not counted):
//! - `datachannel-echo`: the harness's overhead per run, `wall_ms - steps_ms` (peer start with
//!   a reused browser session, getStats snapshots, teardown, artefacts);
//! - `datachannel-bulk` (16 MiB) and `datachannel-rtt` (40 sequential round trips), each once
//!   through the capture relay and once without it, in alternating order: what the relay
//!   costs in throughput and in median round trip, pairing by pairing;
//! - from the runs without relay: the Rust peer <-> browser throughput as a ratio of the
//!   browser <-> same browser throughput.
//!
//! Runs that do not pass are left out of the figures and listed. Nothing here asserts a
//! time: the figures are printed (Markdown) and written to `bench.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use interop_results::{Outcome, RunRecord};
use serde::Serialize;

use crate::matrix::{Cell, Implementation};
use crate::runner::Worker;

/// The scenarios the bench runs, by role.
pub struct BenchCells {
    /// Overhead: `datachannel-echo` per pairing.
    pub overhead: Vec<Cell>,
    /// Throughput: `datachannel-bulk` per pairing.
    pub bulk: Vec<Cell>,
    /// Round trip: `datachannel-rtt` per pairing.
    pub rtt: Vec<Cell>,
}

/// Every figure of one bench, as written to `bench.json`.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// CPU model, cores, memory, OS.
    pub machine: String,
    /// Implementation name -> version, as the runs reported them.
    pub implementations: BTreeMap<String, String>,
    pub rounds: usize,
    pub overhead: Overhead,
    pub relay: Vec<RelayCost>,
    pub ratios: Vec<ThroughputRatio>,
    /// Runs that did not pass (left out of the figures): `scenario pairing: outcome reason`.
    pub not_passed: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Overhead {
    /// How many runs the figures come from.
    pub runs: usize,
    pub median_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Per pairing (`offerer -> answerer`): median.
    pub per_pairing: BTreeMap<String, f64>,
}

/// The capture relay's cost for one pairing: medians over the rounds.
#[derive(Debug, Serialize)]
pub struct RelayCost {
    pub pairing: String,
    pub throughput_mbps_with: Option<f64>,
    pub throughput_mbps_without: Option<f64>,
    /// `100 * (without - with) / without`: positive when the relay is slower.
    pub throughput_cost_percent: Option<f64>,
    pub round_trip_ms_with: Option<f64>,
    pub round_trip_ms_without: Option<f64>,
    /// `with - without`: positive when the relay adds latency.
    pub round_trip_added_ms: Option<f64>,
}

/// Rust peer <-> a browser, against that browser <-> itself (runs without relay, medians).
#[derive(Debug, Serialize)]
pub struct ThroughputRatio {
    pub browser: String,
    pub rust_to_browser_mbps: Option<f64>,
    pub browser_to_rust_mbps: Option<f64>,
    pub browser_to_browser_mbps: Option<f64>,
    /// `rust_to_browser / browser_to_browser`.
    pub rust_sending_ratio: Option<f64>,
    /// `browser_to_rust / browser_to_browser`.
    pub rust_receiving_ratio: Option<f64>,
}

/// The median of `values` (`None` when empty).
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// The `q` quantile of `values` by the nearest-rank method on sorted values, interpolating
/// between the two middle values for the median of an even count.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if q == 0.5 {
        let n = v.len();
        return Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        });
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// What one run measured, by what the bench wants from it.
#[derive(Default)]
struct Samples {
    /// Pairing -> overheads (ms).
    overhead: BTreeMap<String, Vec<f64>>,
    /// (pairing, relay on) -> throughputs (Mbit/s).
    throughput: BTreeMap<(String, bool), Vec<f64>>,
    /// (pairing, relay on) -> median round trips (ms).
    round_trip: BTreeMap<(String, bool), Vec<f64>>,
    not_passed: Vec<String>,
    versions: BTreeMap<String, String>,
}

impl Samples {
    /// Keeps what `record` measured, or notes why it cannot be used.
    fn add(&mut self, what: Measure, relay: bool, record: &RunRecord) {
        for i in [&record.offerer, &record.answerer] {
            self.versions.insert(i.name.clone(), i.version.clone());
        }
        let pairing = record.pairing();
        if record.outcome != Outcome::Pass {
            self.not_passed.push(format!(
                "{} {pairing}{}: {} {}",
                record.scenario,
                if relay { "" } else { " (no relay)" },
                record.outcome,
                record
                    .reason
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            ));
            return;
        }
        let t = &record.timings;
        match what {
            Measure::Overhead => {
                if let Some(steps) = t.steps_ms {
                    self.overhead
                        .entry(pairing)
                        .or_default()
                        .push(t.wall_ms - steps);
                }
            }
            Measure::Throughput => {
                if let Some(mbps) = t.throughput_mbps.values().next() {
                    self.throughput
                        .entry((pairing, relay))
                        .or_default()
                        .push(*mbps);
                }
            }
            Measure::RoundTrip => {
                if let Some(ms) = t.round_trip_ms.get("offerer") {
                    self.round_trip
                        .entry((pairing, relay))
                        .or_default()
                        .push(*ms);
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Measure {
    Overhead,
    Throughput,
    RoundTrip,
}

/// Runs the bench on `worker`; `progress` hears about every run as it ends.
pub async fn run(
    worker: &mut Worker,
    cells: &BenchCells,
    rounds: usize,
    mut progress: impl FnMut(&str),
) -> BenchReport {
    let mut samples = Samples::default();
    let total =
        cells.overhead.len() * (1 + rounds) + 2 * rounds * (cells.bulk.len() + cells.rtt.len());
    let mut done = 0;
    let mut step = |record: &RunRecord, relay: bool, round: &str| {
        done += 1;
        progress(&format!(
            "[{done:>w$}/{total}] {round} {:<7} {} {}{} ({:.1}s)",
            record.outcome.as_str(),
            record.scenario,
            record.pairing(),
            if relay { "" } else { " (no relay)" },
            record.timings.wall_ms / 1000.0,
            w = total.to_string().len()
        ));
    };
    // Warm-up: starts every browser session the rounds reuse.
    worker.set_capture(true);
    for cell in &cells.overhead {
        let record = worker.run_cell(cell).await;
        step(&record, true, "warm-up");
    }
    for round in 0..rounds {
        let label = format!("round {}/{rounds}", round + 1);
        worker.set_capture(true);
        for cell in &cells.overhead {
            let record = worker.run_cell(cell).await;
            step(&record, true, &label);
            samples.add(Measure::Overhead, true, &record);
        }
        // Alternate which goes first, so that drift over a round does not favour one side.
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for (cells, what) in [
            (&cells.bulk, Measure::Throughput),
            (&cells.rtt, Measure::RoundTrip),
        ] {
            for cell in cells {
                for relay in order {
                    worker.set_capture(relay);
                    let record = worker.run_cell(cell).await;
                    step(&record, relay, &label);
                    samples.add(what, relay, &record);
                }
            }
        }
    }
    worker.shutdown().await;
    summarize(samples, rounds, cells)
}

fn summarize(samples: Samples, rounds: usize, cells: &BenchCells) -> BenchReport {
    let all: Vec<f64> = samples.overhead.values().flatten().copied().collect();
    let overhead = Overhead {
        runs: all.len(),
        median_ms: median(&all).map(round1),
        p90_ms: quantile(&all, 0.9).map(round1),
        max_ms: all.iter().copied().reduce(f64::max).map(round1),
        per_pairing: samples
            .overhead
            .iter()
            .filter_map(|(p, v)| Some((p.clone(), round1(median(v)?))))
            .collect(),
    };
    let med = |map: &BTreeMap<(String, bool), Vec<f64>>, pairing: &str, relay: bool| {
        map.get(&(pairing.to_string(), relay))
            .and_then(|v| median(v))
    };
    let mut pairings: Vec<String> = cells.bulk.iter().map(Cell::pairing).collect();
    for c in &cells.rtt {
        if !pairings.contains(&c.pairing()) {
            pairings.push(c.pairing());
        }
    }
    let relay = pairings
        .iter()
        .map(|p| {
            let (tw, two) = (
                med(&samples.throughput, p, true),
                med(&samples.throughput, p, false),
            );
            let (rw, rwo) = (
                med(&samples.round_trip, p, true),
                med(&samples.round_trip, p, false),
            );
            RelayCost {
                pairing: p.clone(),
                throughput_mbps_with: tw.map(round1),
                throughput_mbps_without: two.map(round1),
                throughput_cost_percent: tw
                    .zip(two)
                    .filter(|(_, without)| *without > 0.0)
                    .map(|(with, without)| round1(100.0 * (without - with) / without)),
                round_trip_ms_with: rw.map(round2),
                round_trip_ms_without: rwo.map(round2),
                round_trip_added_ms: rw.zip(rwo).map(|(w, wo)| round2(w - wo)),
            }
        })
        .collect();
    let browsers: Vec<&str> = crate::browser::PRODUCTS
        .iter()
        .map(|p| p.name)
        .filter(|b| pairings.iter().any(|p| p.contains(b)))
        .collect();
    let ratios = browsers
        .into_iter()
        .map(|b| {
            let rust = Implementation::Rust.name();
            let get = |o: &str, a: &str| med(&samples.throughput, &format!("{o} -> {a}"), false);
            let (send, recv, same) = (get(rust, b), get(b, rust), get(b, b));
            let ratio = |x: Option<f64>| {
                x.zip(same)
                    .filter(|(_, s)| *s > 0.0)
                    .map(|(x, s)| round2(x / s))
            };
            ThroughputRatio {
                browser: b.to_string(),
                rust_to_browser_mbps: send.map(round1),
                browser_to_rust_mbps: recv.map(round1),
                browser_to_browser_mbps: same.map(round1),
                rust_sending_ratio: ratio(send),
                rust_receiving_ratio: ratio(recv),
            }
        })
        .collect();
    BenchReport {
        machine: machine(),
        implementations: samples.versions,
        rounds,
        overhead,
        relay,
        ratios,
        not_passed: samples.not_passed,
    }
}

/// CPU model, cores, memory and OS of this machine, from /proc and os-release.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0 / 1024.0);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    match mem_gib {
        Some(m) => format!("{model}, {cores} cores, {m:.0} GiB, {os}"),
        None => format!("{model}, {cores} cores, {os}"),
    }
}

fn opt(x: Option<f64>, unit: &str) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v}{unit}"))
}

impl BenchReport {
    /// The figures as Markdown tables (what `interop bench` prints).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let versions: Vec<String> = self
            .implementations
            .iter()
            .map(|(n, v)| format!("{n} {v}"))
            .collect();
        let _ = writeln!(s, "Machine: {}", self.machine);
        let _ = writeln!(s, "Implementations: {}", versions.join(", "));
        let _ = writeln!(s, "Rounds: {} (after one warm-up round)\n", self.rounds);
        let o = &self.overhead;
        let _ = writeln!(
            s,
            "Harness overhead per run (wall time - steps span, reused sessions, {} runs of datachannel-echo): median {}, p90 {}, max {}\n",
            o.runs,
            opt(o.median_ms, " ms"),
            opt(o.p90_ms, " ms"),
            opt(o.max_ms, " ms")
        );
        let _ = writeln!(s, "| pairing | overhead (median) |\n|---|---|");
        for (p, v) in &o.per_pairing {
            let _ = writeln!(s, "| {p} | {v} ms |");
        }
        let _ = writeln!(
            s,
            "\nCapture relay cost (datachannel-bulk 16 MiB, datachannel-rtt 40 round trips; medians):\n"
        );
        let _ = writeln!(
            s,
            "| pairing | Mbit/s with relay | without | cost | round trip with relay | without | added |\n|---|---|---|---|---|---|---|"
        );
        for r in &self.relay {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.pairing,
                opt(r.throughput_mbps_with, ""),
                opt(r.throughput_mbps_without, ""),
                opt(r.throughput_cost_percent, " %"),
                opt(r.round_trip_ms_with, " ms"),
                opt(r.round_trip_ms_without, " ms"),
                opt(r.round_trip_added_ms, " ms"),
            );
        }
        let _ = writeln!(
            s,
            "\nRust peer <-> browser data channel throughput vs browser <-> same browser (no relay, medians):\n"
        );
        let _ = writeln!(
            s,
            "| browser | rust -> browser | browser -> rust | browser -> browser | rust sending ratio | rust receiving ratio |\n|---|---|---|---|---|---|"
        );
        for r in &self.ratios {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.browser,
                opt(r.rust_to_browser_mbps, " Mbit/s"),
                opt(r.browser_to_rust_mbps, " Mbit/s"),
                opt(r.browser_to_browser_mbps, " Mbit/s"),
                opt(r.rust_sending_ratio, ""),
                opt(r.rust_receiving_ratio, ""),
            );
        }
        if !self.not_passed.is_empty() {
            let _ = writeln!(s, "\nRuns left out (did not pass):");
            for n in &self.not_passed {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_quantiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.9), Some(9.0));
        assert_eq!(quantile(&v, 1.0), Some(10.0));
        assert_eq!(quantile(&[5.0], 0.9), Some(5.0));
    }
}
