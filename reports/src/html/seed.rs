//! `<section id="seed">`: MDN's WebRTC rows answered per implementation version.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use interop_results::RunRecord;

use super::layout::version_key;
use super::markup::esc;
use crate::{bcd, implementation_order};

/// The seed's table: MDN's WebRTC compatibility rows answered from runs, one column per
/// implementation version.
pub(super) fn seed_section(out: &mut String, records: &[RunRecord]) {
    let support = bcd::support(records);
    let mut columns: Vec<(&str, &str)> = support
        .iter()
        .map(|s| (s.implementation.as_str(), s.version.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    columns.sort_by_key(|(name, version)| (implementation_order(name), version_key(version)));
    out.push_str(
        "<section id=\"seed\">\n<h2>The seed's table: MDN's WebRTC compatibility, from runs</h2>\n\
         <p class=\"muted\">The rows of the \"Browser compatibility\" table of MDN's WebRTC page, \
         each answered by the runs of its feature group, per implementation version: \
         <em>yes</em> when every cell counted for it passed, <em>partial</em> when some did, \
         <em>no</em> when none did (passed / counted). A cell that did not pass counts against \
         the implementation whose expectation file documents it, against both sides when none \
         does; <code>error</code> cells are not counted.</p>\n",
    );
    if columns.is_empty() {
        out.push_str("<p class=\"muted\">No runs of these features.</p>\n</section>\n");
        return;
    }
    out.push_str("<table class=\"seed\"><thead><tr><th>Feature</th>");
    for (name, version) in &columns {
        let _ = write!(
            out,
            "<th>{} <span class=\"ver\">{}</span></th>",
            esc(name),
            esc(version)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    // One footnote per cell with notes, as MDN's table has them: `partial 7/9 [1]`.
    let mut footnotes: Vec<(String, &[String])> = Vec::new();
    for (label, group) in bcd::SEED_ROWS.iter() {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{} <span class=\"param\">{}</span></th>",
            esc(label),
            esc(group)
        );
        for (name, version) in &columns {
            seed_cell(
                out,
                &support,
                (*label, *group),
                (*name, *version),
                &mut footnotes,
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    footnotes_list(out, &footnotes);
    out.push_str("</section>\n");
}

/// One cell of the seed's table: `yes 5/5`, `partial 7/9 [1]` (its notes pushed to
/// `footnotes`), or `-` when no run counted for it.
fn seed_cell<'s>(
    out: &mut String,
    support: &'s [bcd::Support],
    (label, group): (&str, &str),
    (name, version): (&str, &str),
    footnotes: &mut Vec<(String, &'s [String])>,
) {
    let found = support.iter().find(|s| {
        (s.feature == group || s.feature == label)
            && s.implementation == name
            && s.version == version
    });
    let attributes = format!(
        "data-seed-feature=\"{}\" data-implementation=\"{}\" data-version=\"{}\"",
        esc(group),
        esc(name),
        esc(version)
    );
    let Some(s) = found else {
        let _ = write!(
            out,
            "<td class=\"s-none\" {attributes} data-status=\"none\" \
             title=\"no run of this feature counted for {} {}\">-</td>",
            esc(name),
            esc(version)
        );
        return;
    };
    let (class, word) = match s.status {
        bcd::SupportStatus::Full => ("s-full", "yes"),
        bcd::SupportStatus::Partial => ("s-partial", "partial"),
        bcd::SupportStatus::No => ("s-no", "no"),
    };
    let reference = if s.notes.is_empty() {
        String::new()
    } else {
        footnotes.push((format!("{label}, {name} {version}"), &s.notes));
        let n = footnotes.len();
        format!("<sup><a href=\"#seed-note-{n}\">[{n}]</a></sup>")
    };
    let _ = write!(
        out,
        "<td class=\"{class}\" {attributes} data-status=\"{}\" title=\"{}\">\
         {word} {}/{}{reference}</td>",
        s.status.as_str(),
        esc(&s.notes.join("\n")),
        s.passed,
        s.total
    );
}

/// The footnotes under the seed's table, numbered as the cells refer to them.
fn footnotes_list(out: &mut String, footnotes: &[(String, &[String])]) {
    if !footnotes.is_empty() {
        out.push_str("<ol class=\"notes\">\n");
        for (n, (what, notes)) in footnotes.iter().enumerate() {
            let _ = write!(out, "<li id=\"seed-note-{}\">{}<ul>", n + 1, esc(what));
            for note in notes.iter() {
                let _ = write!(out, "<li>{}</li>", esc(note));
            }
            out.push_str("</ul></li>\n");
        }
        out.push_str("</ol>\n");
    }
}
