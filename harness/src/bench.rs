//! `interop bench`: the harness's speed figures, measured on real runs between real peers.
//!
//! One worker runs, for every selected pairing, in rounds (after one warm-up round that starts
//! the browser sessions and is not counted):
//! - `datachannel-echo`: the harness's overhead per run, `wall_ms - steps_ms` (peer start with
//!   a reused browser session, getStats snapshots, teardown, artefacts);
//! - `datachannel-bulk` (16 MiB) and `datachannel-rtt` (40 sequential round trips), each
//!   without capture, with the default capture (passive where the harness may) and through the
//!   capture relay, in an order that rotates every round: what capture costs in throughput and
//!   in median round trip, pairing by pairing and way by way;
//! - from the runs without capture: the Rust peer <-> browser throughput as a ratio of the
//!   browser <-> same browser throughput.
//!
//! Runs that do not pass are left out of the figures and listed. Nothing here asserts a
//! time: the figures are printed (Markdown) and written to `bench.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use interop_results::{Outcome, RunRecord};
use serde::Serialize;

use crate::capture::CaptureMode;
use crate::matrix::Cell;
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
    pub capture: Vec<CaptureCost>,
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

/// What one way of capturing costs one pairing, against no capture: medians over the rounds.
/// The cost and the added round trip are the medians of each round's own difference (the
/// runs of a round follow each other), so that the machine's drift over the rounds cancels.
#[derive(Debug, Serialize)]
pub struct CaptureCost {
    pub pairing: String,
    /// `passive` (a packet socket beside the path) or `relay` (a hop in the path).
    pub way: String,
    pub throughput_mbps_with: Option<f64>,
    pub throughput_mbps_without: Option<f64>,
    /// `100 * (without - with) / without`: positive when capture makes it slower.
    pub throughput_cost_percent: Option<f64>,
    /// The 25th and 75th percentiles of the rounds' costs: how much they vary.
    pub throughput_cost_iqr: Option<(f64, f64)>,
    pub round_trip_ms_with: Option<f64>,
    pub round_trip_ms_without: Option<f64>,
    /// `with - without`: positive when capture adds latency.
    pub round_trip_added_ms: Option<f64>,
}

/// The sample key of runs without capture.
const NO_CAPTURE: &str = "none";

/// A non-browser stack <-> a browser, against that browser <-> itself (runs without capture,
/// medians).
#[derive(Debug, Serialize)]
pub struct ThroughputRatio {
    /// The stack (an implementation that is not a browser): `rust`.
    pub stack: String,
    pub browser: String,
    pub stack_to_browser_mbps: Option<f64>,
    pub browser_to_stack_mbps: Option<f64>,
    pub browser_to_browser_mbps: Option<f64>,
    /// `stack_to_browser / browser_to_browser`.
    pub sending_ratio: Option<f64>,
    /// `browser_to_stack / browser_to_browser`.
    pub receiving_ratio: Option<f64>,
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
    /// (pairing, capture way or [`NO_CAPTURE`]) -> round -> throughput (Mbit/s).
    throughput: BTreeMap<(String, String), BTreeMap<usize, f64>>,
    /// (pairing, capture way or [`NO_CAPTURE`]) -> round -> median round trip (ms).
    round_trip: BTreeMap<(String, String), BTreeMap<usize, f64>>,
    not_passed: Vec<String>,
    versions: BTreeMap<String, String>,
}

impl Samples {
    /// Keeps what `record` measured, or notes why it cannot be used.
    fn add(&mut self, what: Measure, round: usize, record: &RunRecord) {
        for i in [&record.offerer, &record.answerer] {
            self.versions.insert(i.name.clone(), i.version.clone());
        }
        let pairing = record.pairing();
        let way = capture_way(record);
        if record.outcome != Outcome::Pass {
            self.not_passed.push(format!(
                "{} {pairing} (capture: {way}): {} {}",
                record.scenario,
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
                        .entry((pairing, way.to_string()))
                        .or_default()
                        .insert(round, *mbps);
                }
            }
            Measure::RoundTrip => {
                if let Some(ms) = t.round_trip_ms.get("offerer") {
                    self.round_trip
                        .entry((pairing, way.to_string()))
                        .or_default()
                        .insert(round, *ms);
                }
            }
        }
    }
}

/// How `record`'s run was captured: `passive`, `relay` or [`NO_CAPTURE`].
fn capture_way(record: &RunRecord) -> &str {
    record
        .observed
        .get("capture.way")
        .and_then(|w| w.as_str())
        .unwrap_or(NO_CAPTURE)
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
        cells.overhead.len() * (1 + rounds) + 3 * rounds * (cells.bulk.len() + cells.rtt.len());
    let mut done = 0;
    let mut step = |record: &RunRecord, round: &str| {
        done += 1;
        progress(&format!(
            "[{done:>w$}/{total}] {round} {:<7} {} {} (capture: {}) ({:.1}s)",
            record.outcome.as_str(),
            record.scenario,
            record.pairing(),
            capture_way(record),
            record.timings.wall_ms / 1000.0,
            w = total.to_string().len()
        ));
    };
    // Warm-up: starts every browser session the rounds reuse.
    worker.set_capture(CaptureMode::Auto);
    for cell in &cells.overhead {
        let record = worker.run_cell(cell).await;
        step(&record, "warm-up");
    }
    for round in 0..rounds {
        let label = format!("round {}/{rounds}", round + 1);
        worker.set_capture(CaptureMode::Auto);
        for cell in &cells.overhead {
            let record = worker.run_cell(cell).await;
            step(&record, &label);
            samples.add(Measure::Overhead, round, &record);
        }
        // Rotate which goes first, so that drift over a round does not favour one way.
        let mut order = [CaptureMode::Off, CaptureMode::Auto, CaptureMode::Relay];
        order.rotate_left(round % 3);
        for (cells, what) in [
            (&cells.bulk, Measure::Throughput),
            (&cells.rtt, Measure::RoundTrip),
        ] {
            for cell in cells {
                for mode in order {
                    worker.set_capture(mode);
                    let record = worker.run_cell(cell).await;
                    step(&record, &label);
                    samples.add(what, round, &record);
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
    type ByRound = BTreeMap<(String, String), BTreeMap<usize, f64>>;
    let get = |map: &ByRound, pairing: &str, way: &str| {
        map.get(&(pairing.to_string(), way.to_string()))
            .cloned()
            .unwrap_or_default()
    };
    let med = |map: &ByRound, pairing: &str, way: &str| {
        median(&get(map, pairing, way).into_values().collect::<Vec<_>>())
    };
    // `diff(with, without)` of every round that has both.
    let paired = |map: &ByRound, pairing: &str, way: &str, diff: fn(f64, f64) -> f64| {
        let without = get(map, pairing, NO_CAPTURE);
        get(map, pairing, way)
            .into_iter()
            .filter_map(|(round, with)| Some(diff(with, *without.get(&round)?)))
            .collect::<Vec<f64>>()
    };
    let mut pairings: Vec<String> = cells.bulk.iter().map(Cell::pairing).collect();
    for c in &cells.rtt {
        if !pairings.contains(&c.pairing()) {
            pairings.push(c.pairing());
        }
    }
    let capture = pairings
        .iter()
        .flat_map(|p| ["passive", "relay"].map(|way| (p, way)))
        .filter(|(p, way)| {
            let key = ((*p).clone(), way.to_string());
            samples.throughput.contains_key(&key) || samples.round_trip.contains_key(&key)
        })
        .map(|(p, way)| {
            let (tw, two) = (
                med(&samples.throughput, p, way),
                med(&samples.throughput, p, NO_CAPTURE),
            );
            let (rw, rwo) = (
                med(&samples.round_trip, p, way),
                med(&samples.round_trip, p, NO_CAPTURE),
            );
            let costs = paired(&samples.throughput, p, way, |w, wo| {
                100.0 * (wo - w) / wo.max(f64::MIN_POSITIVE)
            });
            CaptureCost {
                pairing: p.clone(),
                way: way.to_string(),
                throughput_mbps_with: tw.map(round1),
                throughput_mbps_without: two.map(round1),
                throughput_cost_percent: median(&costs).map(round1),
                throughput_cost_iqr: quantile(&costs, 0.25)
                    .zip(quantile(&costs, 0.75))
                    .map(|(a, b)| (round1(a), round1(b))),
                round_trip_ms_with: rw.map(round2),
                round_trip_ms_without: rwo.map(round2),
                round_trip_added_ms: median(&paired(&samples.round_trip, p, way, |w, wo| w - wo))
                    .map(round2),
            }
        })
        .collect();
    let ratios = ratios(&cells.bulk, |o, a| {
        med(&samples.throughput, &format!("{o} -> {a}"), NO_CAPTURE)
    });
    BenchReport {
        machine: machine(),
        implementations: samples.versions,
        rounds,
        overhead,
        capture,
        ratios,
        not_passed: samples.not_passed,
    }
}

/// Every (stack, browser) pair that the bulk cells hold both ways: the stack's throughput to
/// and from the browser against the browser's with itself. `mbps(offerer, answerer)` is the
/// median without capture.
fn ratios(bulk: &[Cell], mbps: impl Fn(&str, &str) -> Option<f64>) -> Vec<ThroughputRatio> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for c in bulk {
        for (stack, browser) in [(c.offerer, c.answerer), (c.answerer, c.offerer)] {
            if !stack.is_browser() && browser.is_browser() {
                let pair = (stack.name(), browser.name());
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
        }
    }
    pairs
        .into_iter()
        .map(|(stack, browser)| {
            let (send, recv, same) = (
                mbps(stack, browser),
                mbps(browser, stack),
                mbps(browser, browser),
            );
            let ratio = |x: Option<f64>| {
                x.zip(same)
                    .filter(|(_, s)| *s > 0.0)
                    .map(|(x, s)| round2(x / s))
            };
            ThroughputRatio {
                stack: stack.to_string(),
                browser: browser.to_string(),
                stack_to_browser_mbps: send.map(round1),
                browser_to_stack_mbps: recv.map(round1),
                browser_to_browser_mbps: same.map(round1),
                sending_ratio: ratio(send),
                receiving_ratio: ratio(recv),
            }
        })
        .collect()
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

/// Appends a Markdown table: a header row, its separator, then `rows`.
fn markdown_table(s: &mut String, headers: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let _ = writeln!(s, "| {} |", headers.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(headers.len()));
    for row in rows {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
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
        let rows = o
            .per_pairing
            .iter()
            .map(|(p, v)| vec![p.clone(), format!("{v} ms")]);
        markdown_table(&mut s, &["pairing", "overhead (median)"], rows);
        let _ = writeln!(
            s,
            "\nWhat capture costs, against no capture (datachannel-bulk 16 MiB, datachannel-rtt 40 round trips; medians; the cost is the median of each round's own cost, with the spread of the rounds' costs). passive: a packet socket beside the path (the default where the harness may open one); relay: the capture relay in the path:\n"
        );
        let rows = self.capture.iter().map(|r| {
            vec![
                r.pairing.clone(),
                r.way.clone(),
                opt(r.throughput_mbps_with, ""),
                opt(r.throughput_mbps_without, ""),
                opt(r.throughput_cost_percent, " %"),
                r.throughput_cost_iqr
                    .map_or_else(|| "-".into(), |(a, b)| format!("{a} .. {b} %")),
                opt(r.round_trip_ms_with, " ms"),
                opt(r.round_trip_ms_without, " ms"),
                opt(r.round_trip_added_ms, " ms"),
            ]
        });
        markdown_table(
            &mut s,
            &[
                "pairing",
                "capture",
                "Mbit/s with",
                "without",
                "cost",
                "cost p25 .. p75",
                "round trip with",
                "without",
                "added",
            ],
            rows,
        );
        let _ = writeln!(
            s,
            "\nStack <-> browser data channel throughput vs browser <-> same browser (no capture, medians):\n"
        );
        let rows = self.ratios.iter().map(|r| {
            vec![
                r.stack.clone(),
                r.browser.clone(),
                opt(r.stack_to_browser_mbps, " Mbit/s"),
                opt(r.browser_to_stack_mbps, " Mbit/s"),
                opt(r.browser_to_browser_mbps, " Mbit/s"),
                opt(r.sending_ratio, ""),
                opt(r.receiving_ratio, ""),
            ]
        });
        markdown_table(
            &mut s,
            &[
                "stack",
                "browser",
                "stack -> browser",
                "browser -> stack",
                "browser -> browser",
                "sending ratio",
                "receiving ratio",
            ],
            rows,
        );
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
