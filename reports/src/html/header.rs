//! The page header: totals, the verdict banner and each run's facts.

use std::fmt::Write as _;

use interop_results::{Implementation, RunInfo, RunRecord};

use super::layout::{version_key, Layout};
use super::markup::esc;
use crate::{implementation_order, totals_line};

pub(super) fn header(out: &mut String, infos: &[RunInfo], records: &[RunRecord], layout: &Layout) {
    let _ = write!(
        out,
        "<header>\n<h1>WebRTC browser compatibility, built from runs</h1>\n\
         <p class=\"lede\">Each cell is one run of a scenario between an offerer and an answerer \
         (the Rust <code>webrtc</code> crate, Chromium, Firefox), judged against the outcome \
         the checked-in expectations predict.</p>\n\
         <p class=\"totals\" id=\"totals\">{}</p>\n",
        esc(&totals_line(records))
    );
    let unexpected: Vec<usize> = layout
        .shown()
        .filter(|&i| records[i].is_unexpected())
        .collect();
    let all_unexpected = records.iter().filter(|r| r.is_unexpected()).count();
    if records.is_empty() {
        out.push_str("<p class=\"banner empty\" id=\"verdict\">No runs in these results.</p>\n");
    } else if all_unexpected == 0 {
        out.push_str(
            "<p class=\"banner ok\" id=\"verdict\">✓ No unexpected results: every outcome is the \
             expected one.</p>\n",
        );
    } else {
        let _ = writeln!(
            out,
            "<div class=\"banner bad\" id=\"verdict\"><p>✖ {all_unexpected} unexpected result{}: \
             an outcome other than the expected one (an unexpected pass included).</p>\n<ul>",
            if all_unexpected == 1 { "" } else { "s" }
        );
        for i in unexpected {
            let r = &records[i];
            let _ = writeln!(
                out,
                "<li><a class=\"open\" href=\"#run-{i}\">{} ({})</a>: {}, expected {}</li>",
                esc(&r.scenario),
                esc(&r.pairing()),
                r.outcome,
                r.expected
            );
        }
        out.push_str("</ul></div>\n");
    }
    run_infos(out, infos, records);
    out.push_str("</header>\n");
}

pub(super) fn implementations_table(out: &mut String, implementations: &[&Implementation]) {
    out.push_str(
        "<table class=\"impls\"><thead><tr><th>implementation</th><th>version</th>\
         <th>detail</th></tr></thead><tbody>\n",
    );
    for imp in implementations {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&imp.name),
            esc(&imp.version),
            esc(imp.detail.as_deref().unwrap_or("-"))
        );
    }
    out.push_str("</tbody></table>\n");
}

pub(super) fn run_infos(out: &mut String, infos: &[RunInfo], records: &[RunRecord]) {
    out.push_str("<section id=\"run-info\" class=\"run-infos\">\n");
    if infos.is_empty() {
        // An older results folder: the implementations as the records report them.
        let mut seen: Vec<&Implementation> = Vec::new();
        for r in records {
            for imp in [&r.offerer, &r.answerer] {
                if !seen
                    .iter()
                    .any(|s| s.name == imp.name && s.version == imp.version)
                {
                    seen.push(imp);
                }
            }
        }
        seen.sort_by_key(|imp| (implementation_order(&imp.name), version_key(&imp.version)));
        out.push_str(
            "<div class=\"run-info\"><h2>Run</h2><p class=\"muted\">No <code>run_info.json</code>: \
             the implementations as the records report them.</p>\n",
        );
        implementations_table(out, &seen);
        out.push_str("</div>\n");
    }
    for (n, info) in infos.iter().enumerate() {
        let title = if infos.len() == 1 {
            "Run".to_string()
        } else {
            format!("Run {} of {}", n + 1, infos.len())
        };
        let _ = writeln!(
            out,
            "<div class=\"run-info\"><h2>{title}{}</h2>\n<dl class=\"facts\">",
            if info.interrupted {
                " <span class=\"badge warn\">interrupted</span>"
            } else {
                ""
            }
        );
        let mut fact = |name: &str, value: String| {
            let _ = writeln!(out, "<dt>{name}</dt><dd>{value}</dd>");
        };
        fact(
            "harness",
            format!(
                "{} <code>{}</code>",
                esc(&info.harness.version),
                esc(&info.harness.git_revision)
            ),
        );
        fact("OS", esc(&info.os));
        fact("started", esc(&info.started_at));
        fact(
            "ended",
            info.ended_at.as_deref().map_or_else(
                || "<span class=\"muted\">not recorded (still running, or killed)</span>".into(),
                esc,
            ),
        );
        if let Some(shard) = &info.shard {
            fact("shard", esc(shard));
        }
        fact(
            "interrupted",
            if info.interrupted {
                "<strong>yes</strong>: only the runs that finished are here".to_string()
            } else {
                "no".to_string()
            },
        );
        out.push_str("</dl>\n");
        let imps: Vec<&Implementation> = info.implementations.iter().collect();
        implementations_table(out, &imps);
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}
