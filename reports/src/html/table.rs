//! THE compatibility table: a group row per feature, a row per scenario, a cell per pairing.

use std::fmt::Write as _;

use interop_results::RunRecord;

use super::layout::Layout;
use super::markup::{
    base_name, esc, mark, outcome_class, parameter_tags, shorten, verdict_class, verdict_words,
};

pub(super) fn table(out: &mut String, records: &[RunRecord], layout: &Layout) {
    if records.is_empty() {
        out.push_str("<p class=\"muted\" id=\"no-runs\">No runs to show.</p>\n");
        return;
    }
    // No <colgroup>: columns hidden by the filters must give their width back. Group rows
    // have a cell per column rather than one spanning them all, because Chromium does not
    // lay a row out again when a cell's colspan changes.
    let _ = writeln!(
        out,
        "<table class=\"compat\" style=\"min-width:{}px\">",
        260 + 92 * layout.columns.len()
    );
    head(out, layout);
    for (feature, scenarios) in &layout.features {
        feature_group(out, records, layout, feature, scenarios);
    }
    out.push_str(
        "</table>\n<p class=\"muted\" id=\"no-match\" hidden>No run matches the filters.</p>\n",
    );
}

/// The two header rows: one group per offerer, then one answerer per column.
fn head(out: &mut String, layout: &Layout) {
    out.push_str(
        "<thead><tr><th rowspan=\"2\" class=\"corner\">scenario \
         <span class=\"muted\">by feature</span><br><span class=\"muted\">offerer → answerer</span></th>",
    );
    // First header row: one group per offerer.
    let mut c = 0;
    while c < layout.columns.len() {
        let offerer = layout.columns[c].offerer;
        let span = layout.columns[c..]
            .iter()
            .take_while(|x| x.offerer == offerer)
            .count();
        let side = &layout.sides[offerer];
        let _ = write!(
            out,
            "<th class=\"offerer-group\" colspan=\"{span}\" data-group=\"{offerer}\" \
             data-offerer=\"{}\" title=\"offerer {}\"><span class=\"role\">offerer</span> {} →</th>",
            esc(side.name()),
            esc(&side.label()),
            side.label_html()
        );
        c += span;
    }
    out.push_str("</tr>\n<tr>");
    for (i, col) in layout.columns.iter().enumerate() {
        let answerer = &layout.sides[col.answerer];
        let _ = write!(
            out,
            "<th class=\"col\" data-col=\"{i}\" data-group=\"{}\" data-offerer=\"{}\" \
             data-answerer=\"{}\" title=\"{}\"><span class=\"role\">answerer</span> {}</th>",
            col.offerer,
            esc(layout.sides[col.offerer].name()),
            esc(answerer.name()),
            esc(&layout.column_label(*col)),
            answerer.label_html()
        );
    }
    out.push_str("</tr></thead>\n");
}

/// A feature's `<tbody>`: its group row (scenario count, unexpected badge), then its scenarios.
fn feature_group(
    out: &mut String,
    records: &[RunRecord],
    layout: &Layout,
    feature: &str,
    scenarios: &[&str],
) {
    let unexpected = scenarios
        .iter()
        .flat_map(|s| (0..layout.columns.len()).map(move |c| (*s, c)))
        .filter_map(|key| layout.cells.get(&key).and_then(|v| v.last()))
        .filter(|&&i| records[i].is_unexpected())
        .count();
    let _ = write!(
        out,
        "<tbody class=\"feature\" data-feature=\"{0}\">\n<tr class=\"group\"><th \
         scope=\"rowgroup\"><span class=\"feature-name\">{0}</span> \
         <span class=\"count\">{1} scenario{2}</span>{3}</th>",
        esc(feature),
        scenarios.len(),
        if scenarios.len() == 1 { "" } else { "s" },
        if unexpected > 0 {
            format!(" <span class=\"badge bad\">{unexpected} unexpected</span>")
        } else {
            String::new()
        }
    );
    for c in 0..layout.columns.len() {
        let _ = write!(out, "<td class=\"gap\" data-col=\"{c}\"></td>");
    }
    out.push_str("</tr>\n");
    for scenario in scenarios {
        scenario_row(out, records, layout, scenario);
    }
    out.push_str("</tbody>\n");
}

/// A scenario's row: its name and parameter tags, then a cell per column.
fn scenario_row(out: &mut String, records: &[RunRecord], layout: &Layout, scenario: &str) {
    // Any record of the row names its parameters.
    let first = (0..layout.columns.len())
        .find_map(|c| layout.cells.get(&(scenario, c)))
        .and_then(|v| v.last())
        .map(|&i| &records[i]);
    let (name, tags) = match first {
        Some(r) => (
            base_name(r).unwrap_or(&r.scenario),
            parameter_tags(&r.parameters),
        ),
        None => (scenario, String::new()),
    };
    let _ = write!(
        out,
        "<tr class=\"scenario\" data-row=\"{0}\"><th scope=\"row\" title=\"{0}\">\
         <span class=\"scenario-name\">{1}</span>{2}</th>",
        esc(scenario),
        esc(name),
        if tags.is_empty() {
            String::new()
        } else {
            format!("<span class=\"params\">{tags}</span>")
        }
    );
    for (c, col) in layout.columns.iter().enumerate() {
        match layout.cells.get(&(scenario, c)).and_then(|v| v.last()) {
            Some(&i) => cell(out, i, &records[i], c, layout),
            None => {
                let _ = write!(
                    out,
                    "<td class=\"cell none\" data-col=\"{c}\" title=\"{}: not run\">-</td>",
                    esc(&layout.column_label(*col))
                );
            }
        }
    }
    out.push_str("</tr>\n");
}

/// `✓ pass`, or the outcome word over its mark and verdict: `unsupported` / `☑ expected`.
pub(super) fn cell_text(r: &RunRecord, under: &str) -> String {
    if under.is_empty() {
        format!("<span class=\"mark\">{}</span> {}", mark(r), r.outcome)
    } else {
        format!(
            "<span class=\"word\">{}</span><small><span class=\"mark\">{}</span> {under}</small>",
            r.outcome,
            mark(r)
        )
    }
}

pub(super) fn cell(out: &mut String, i: usize, r: &RunRecord, c: usize, layout: &Layout) {
    let (under, words) = verdict_words(r);
    let mut title = format!(
        "{}\n{}: {}, expected {} ({words})",
        r.scenario,
        layout.column_label(layout.columns[c]),
        r.outcome,
        r.expected
    );
    if let Some(reason) = &r.reason {
        let _ = write!(title, "\n{}", shorten(reason, 300));
    }
    let _ = write!(
        out,
        "<td class=\"cell {} {}\" data-col=\"{c}\" data-run=\"{i}\" data-scenario=\"{}\" \
         data-feature=\"{}\" data-offerer=\"{}\" data-offerer-version=\"{}\" data-answerer=\"{}\" \
         data-answerer-version=\"{}\" data-outcome=\"{}\" data-expected=\"{}\" \
         data-unexpected=\"{}\" title=\"{}\"><a class=\"open\" href=\"#run-{i}\">{}</a></td>",
        outcome_class(r.outcome),
        verdict_class(r),
        esc(&r.scenario),
        esc(&r.feature),
        esc(&r.offerer.name),
        esc(&r.offerer.version),
        esc(&r.answerer.name),
        esc(&r.answerer.version),
        r.outcome,
        r.expected,
        r.is_unexpected(),
        esc(&title),
        cell_text(r, under)
    );
}
