//! Under `--repeat`: the flaky cells section.

use std::fmt::Write as _;

use interop_results::RunRecord;

use super::markup::esc;

/// Under `--repeat`: how many cells were flaky, and each flaky cell's outcome counts.
pub(super) fn flaky_section(out: &mut String, records: &[RunRecord]) {
    let cells = crate::repeated_cells(records);
    let Some(line) = crate::flake_line(&cells) else {
        return;
    };
    let _ = writeln!(
        out,
        "<section id=\"flaky\">\n<h2>Flaky cells</h2>\n<p>{}.</p>",
        esc(&line)
    );
    let flaky: Vec<_> = cells.iter().filter(|c| c.is_flaky()).collect();
    if !flaky.is_empty() {
        out.push_str(
            "<table class=\"flaky\"><thead><tr><th>scenario</th><th>pairing</th><th>runs</th>\
             <th>outcomes</th><th>flake rate</th><th>known intermittent</th></tr></thead><tbody>\n",
        );
        for c in flaky {
            let known: Vec<&str> = c.known_intermittent.iter().map(|o| o.as_str()).collect();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{:.0} %</td><td>{}</td></tr>",
                esc(c.scenario),
                esc(c.offerer),
                esc(c.answerer),
                c.runs,
                esc(&c.outcomes_text()),
                100.0 * c.flake_rate(),
                if known.is_empty() { "no".to_string() } else { esc(&known.join(", ")) }
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
}
