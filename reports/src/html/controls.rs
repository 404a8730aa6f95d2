//! The filters form and the legend above the table.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use interop_results::{Outcome, RunRecord};

use super::markup::{esc, outcome_class};
use crate::implementation_order;

pub(super) fn filters(out: &mut String, records: &[RunRecord]) {
    let mut names: Vec<&str> = records
        .iter()
        .flat_map(|r| [r.offerer.name.as_str(), r.answerer.name.as_str()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    names.sort_by_key(|n| implementation_order(n));
    out.push_str(
        "<form id=\"filters\" class=\"filters\">\n<fieldset><legend>Implementation</legend>\
         <select id=\"f-impl\" name=\"impl\"><option value=\"\">all pairings</option>",
    );
    for name in names {
        let _ = write!(
            out,
            "<option value=\"{0}\">pairings with {0}</option>",
            esc(name)
        );
    }
    out.push_str("</select></fieldset>\n<fieldset><legend>Outcome</legend>");
    for o in Outcome::ALL {
        let n = records.iter().filter(|r| r.outcome == o).count();
        if n == 0 {
            continue;
        }
        let _ = write!(
            out,
            "<label class=\"{}\"><input type=\"checkbox\" name=\"outcome\" value=\"{o}\" checked> \
             {o} <span class=\"count\">{n}</span></label>",
            outcome_class(o)
        );
    }
    let unexpected = records.iter().filter(|r| r.is_unexpected()).count();
    let _ = write!(
        out,
        "</fieldset>\n<fieldset><legend>Verdict</legend><label><input type=\"checkbox\" \
         id=\"f-unexpected\" name=\"unexpected\"> only unexpected \
         <span class=\"count\">{unexpected}</span></label></fieldset>\n\
         <button type=\"reset\">reset</button> <output id=\"f-status\"></output>\n\
         <noscript><p class=\"muted\">The filters need JavaScript; details open through each \
         cell's link.</p></noscript>\n</form>\n"
    );
}

pub(super) fn legend(out: &mut String) {
    out.push_str("<section id=\"legend\" class=\"legend\"><h2>Legend</h2><ul>");
    for (o, text) in [
        (
            Outcome::Pass,
            "every step succeeded, every expectation held",
        ),
        (
            Outcome::Fail,
            "a command failed or an expectation was contradicted",
        ),
        (
            Outcome::Unsupported,
            "an implementation lacks or refuses what the scenario needs (with the evidence)",
        ),
        (Outcome::Timeout, "an expectation was not met in time"),
        (Outcome::Crash, "a peer disconnected mid-run"),
        (
            Outcome::Error,
            "the harness could not run the cell (not a verdict on the implementations)",
        ),
    ] {
        let _ = write!(
            out,
            "<li><span class=\"swatch cell {}\">{o}</span> {text}</li>",
            outcome_class(o)
        );
    }
    out.push_str(
        "</ul><ul>\
         <li><span class=\"swatch cell o-unsupported v-expected\">unsupported\
         <small>☑ expected</small></span> a non-pass an expectation file predicts (hatched)</li>\
         <li><span class=\"swatch cell o-fail v-unexpected\"><span class=\"word\">fail</span>\
         <small>✖ unexpected</small></span> an unexpected result (thick border)</li>\
         <li><span class=\"swatch cell o-pass v-unexpected\"><span class=\"word\">pass</span>\
         <small>⚠ unexpected</small></span> passed where a non-pass was expected: update the \
         expectation</li>\
         <li><span class=\"swatch cell none\">-</span> not run</li>\
         </ul><p class=\"muted\">Click a cell for its details: reason, failed step, expectation, \
         timings, observed facts and the run's artefacts.</p></section>\n",
    );
}
