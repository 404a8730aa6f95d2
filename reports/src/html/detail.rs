//! The side panel: one detail block per shown record.

use std::fmt::Write as _;

use interop_results::{ExpectationRef, Outcome, RunRecord, Timings};

use super::layout::{Column, Layout};
use super::markup::{
    esc, mark, outcome_class, parameter_tags, url_path, verdict_class, verdict_words, web_link,
};

/// The side panel holding every shown record's details; one is displayed at a time.
pub(super) fn panel(out: &mut String, records: &[RunRecord], layout: &Layout, artefact_base: &str) {
    out.push_str(
        "<aside id=\"panel\" aria-label=\"run details\"><button type=\"button\" class=\"close\" \
         title=\"close (Esc)\">×</button>\n",
    );
    for (&(_, c), indices) in &layout.cells {
        let Some((&i, earlier)) = indices.split_last() else {
            continue;
        };
        let earlier: Vec<&RunRecord> = earlier.iter().map(|&e| &records[e]).collect();
        detail(
            out,
            i,
            &records[i],
            layout.columns[c],
            layout,
            &earlier,
            artefact_base,
        );
    }
    out.push_str("</aside>\n");
}

pub(super) fn detail(
    out: &mut String,
    i: usize,
    r: &RunRecord,
    column: Column,
    layout: &Layout,
    earlier: &[&RunRecord],
    artefact_base: &str,
) {
    let (_, words) = verdict_words(r);
    let _ = write!(
        out,
        "<section class=\"detail\" id=\"run-{i}\" data-run=\"{i}\">\n<h2>{}</h2>\n\
         <p class=\"pairing\">{} <span class=\"muted\">· feature {}</span></p>\n\
         <p class=\"verdict-line cell {} {}\"><span class=\"mark\">{}</span> <strong>{}</strong>, \
         expected {} <span class=\"words\">({})</span></p>\n",
        esc(&r.scenario),
        esc(&layout.column_label(column)),
        esc(&r.feature),
        outcome_class(r.outcome),
        verdict_class(r),
        mark(r),
        r.outcome,
        r.expected,
        words
    );
    if !r.known_intermittent.is_empty() {
        let list: Vec<&str> = r.known_intermittent.iter().map(|o| o.as_str()).collect();
        let _ = writeln!(out, "<p>Known intermittent: {}</p>", esc(&list.join(", ")));
    }
    reason_and_step(out, r);
    if let Some(e) = &r.expectation {
        expectation(out, r, e);
    }
    peers(out, r);
    timings(out, &r.timings);
    observed(out, r);
    artefacts(out, r, artefact_base);
    earlier_runs(out, earlier);
    out.push_str("</section>\n");
}

/// The reason and the failed step, when the record has them.
fn reason_and_step(out: &mut String, r: &RunRecord) {
    if let Some(reason) = &r.reason {
        let _ = writeln!(
            out,
            "<h3>Reason</h3>\n<pre class=\"reason\">{}</pre>",
            esc(reason)
        );
    }
    if let Some(s) = &r.failed_step {
        let _ = writeln!(
            out,
            "<h3>Failed step</h3>\n<p class=\"failed-step\">step {} · line {} · <code>{}</code>: {}</p>",
            s.index + 1,
            s.line,
            esc(&s.peer),
            esc(&s.step)
        );
    }
}

/// The expectation entry that predicted the outcome: its reason, source and bug link.
fn expectation(out: &mut String, r: &RunRecord, e: &ExpectationRef) {
    let _ = write!(
        out,
        "<h3>Expectation</h3>\n<div class=\"expectation\"><p>{}</p>\n<p>source: <code>{}</code>",
        esc(&e.reason),
        esc(&e.source)
    );
    match e.bug.as_deref() {
        Some(bug) => match web_link(bug) {
            Some(url) => {
                let _ = write!(
                    out,
                    " · bug: <a href=\"{}\" rel=\"noreferrer\">{}</a>",
                    esc(url),
                    esc(bug)
                );
            }
            None => {
                let _ = write!(out, " · bug: {}", esc(bug));
            }
        },
        None => out.push_str(" · no bug link"),
    }
    out.push_str("</p>\n");
    if r.outcome == Outcome::Pass && r.is_unexpected() {
        let _ = writeln!(
            out,
            "<p class=\"hint\">It passes now: remove or update the entry at <code>{}</code>.</p>",
            esc(&e.source)
        );
    }
    out.push_str("</div>\n");
}

/// The parameters, both peers with their versions, and when the run started.
fn peers(out: &mut String, r: &RunRecord) {
    if !r.parameters.is_empty() {
        let _ = writeln!(
            out,
            "<h3>Parameters</h3>\n<p class=\"params\">{}</p>",
            parameter_tags(&r.parameters)
        );
    }
    out.push_str("<h3>Peers</h3>\n<table class=\"kv\">\n");
    for (role, imp) in [("offerer", &r.offerer), ("answerer", &r.answerer)] {
        let _ = writeln!(
            out,
            "<tr><th>{role}</th><td>{} <code>{}</code>{}</td></tr>",
            esc(&imp.name),
            esc(&imp.version),
            imp.detail
                .as_deref()
                .map(|d| format!("<br><span class=\"muted\">{}</span>", esc(d)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "<tr><th>started</th><td>{}</td></tr>\n</table>",
        esc(&r.started_at)
    );
}

/// The observed facts, each value as JSON.
fn observed(out: &mut String, r: &RunRecord) {
    if !r.observed.is_empty() {
        out.push_str("<h3>Observed</h3>\n<table class=\"kv observed\">\n");
        for (key, value) in &r.observed {
            let json = serde_json::to_string(value).unwrap_or_else(|_| value.to_string());
            let _ = writeln!(
                out,
                "<tr><th><code>{}</code></th><td><code>{}</code></td></tr>",
                esc(key),
                esc(&json)
            );
        }
        out.push_str("</table>\n");
    }
}

/// Links to the run's folder and its usual files, under `artefact_base`.
fn artefacts(out: &mut String, r: &RunRecord, artefact_base: &str) {
    let folder = format!(
        "{artefact_base}{}/",
        url_path(r.artefacts.trim_end_matches('/'))
    );
    let _ = write!(
        out,
        "<h3>Artefacts</h3>\n<ul class=\"artefacts\"><li><a href=\"{}\">{}/</a> (run folder)</li>",
        esc(&folder),
        esc(r.artefacts.trim_end_matches('/'))
    );
    for (file, what) in [
        ("transcript.jsonl", "every command, response and event"),
        ("capture.pcap", "UDP between the peers"),
        ("timeline.json", "wire and peer events, phases"),
        ("negotiation.json", "offer / answer features"),
    ] {
        let _ = write!(
            out,
            "<li><a href=\"{}{file}\">{file}</a> <span class=\"muted\">{what}</span></li>",
            esc(&folder)
        );
    }
    out.push_str("</ul>\n");
}

/// The earlier outcomes of a re-run cell.
fn earlier_runs(out: &mut String, earlier: &[&RunRecord]) {
    if !earlier.is_empty() {
        let list: Vec<String> = earlier
            .iter()
            .map(|e| format!("{} ({})", e.outcome, e.started_at))
            .collect();
        let _ = writeln!(
            out,
            "<p class=\"muted\">Earlier runs of this cell in these results: {}</p>",
            esc(&list.join(", "))
        );
    }
}

pub(super) fn timings(out: &mut String, t: &Timings) {
    out.push_str("<h3>Timings</h3>\n<table class=\"kv timings\">\n");
    for (name, map) in [
        ("to_connected_ms", &t.to_connected_ms),
        ("to_first_message_ms", &t.to_first_message_ms),
        ("channel_open_ms", &t.channel_open_ms),
        ("round_trip_ms", &t.round_trip_ms),
        ("throughput_mbps", &t.throughput_mbps),
        ("phases_ms", &t.phases_ms),
        ("first_rtp_ms", &t.first_rtp_ms),
        ("first_frame_ms", &t.first_frame_ms),
    ] {
        if map.is_empty() {
            continue;
        }
        let values: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{} <strong>{v:.1}</strong>", esc(k)))
            .collect();
        let _ = writeln!(
            out,
            "<tr><th><code>{name}</code></th><td>{}</td></tr>",
            values.join("<br>")
        );
    }
    let _ = writeln!(
        out,
        "<tr><th><code>wall_ms</code></th><td><strong>{:.1}</strong></td></tr>\n</table>",
        t.wall_ms
    );
}
