use std::collections::BTreeMap;

use interop_results::{ExpectationRef, HarnessInfo, Implementation, Outcome, SCHEMA_VERSION};

use super::markup::esc;
use super::*;
use crate::{bcd, totals_line};

fn imp(name: &str, version: &str) -> Implementation {
    Implementation {
        name: name.into(),
        version: version.into(),
        detail: Some(format!("{name} driver 1")),
    }
}

fn version_of(name: &str) -> &'static str {
    match name {
        "rust" => "0.21.1",
        "chrome" => "156.0.8078.114",
        _ => "153.8.0",
    }
}

fn rec(scenario: &str, feature: &str, o: &str, a: &str, outcome: Outcome) -> RunRecord {
    let (o, a) = (imp(o, version_of(o)), imp(a, version_of(a)));
    let mut r = crate::test_records::record(scenario, feature, o, a, outcome);
    r.timings.wall_ms = 512.25;
    r.started_at = "2026-12-01T18:00:00Z".into();
    r
}

fn expecting(mut r: RunRecord, expected: Outcome) -> RunRecord {
    r.expected = expected;
    r.expectation = Some(ExpectationRef {
        reason: "webrtc 0.21.1 never fires `closing`".into(),
        bug: Some("https://github.com/webrtc-rs/webrtc/issues/1".into()),
        source: "scenarios/expectations/rust.yaml:3".into(),
    });
    r
}

const IMPLS: [&str; 3] = ["rust", "chrome", "firefox"];

/// Two feature groups, `data-channels` first:
/// - datachannel-echo: all pass but firefox -> rust, an unexpected timeout;
/// - datachannel-closing: rust as answerer an expected `unsupported`, except rust -> rust
///   which passes unexpectedly;
/// - connect (basic-peer-connection): all pass;
/// - turn-relay[transport=udp] (data-channels again, after connect): all pass.
///
/// Offerers come in a scrambled order: the columns must not follow it.
fn sample() -> Vec<RunRecord> {
    let mut v = Vec::new();
    for o in ["firefox", "rust", "chrome"] {
        for a in IMPLS {
            let outcome = if (o, a) == ("firefox", "rust") {
                Outcome::Timeout
            } else {
                Outcome::Pass
            };
            v.push(rec("datachannel-echo", "data-channels", o, a, outcome));
        }
    }
    for o in IMPLS {
        for a in IMPLS {
            let s = "datachannel-closing";
            v.push(match (o, a) {
                ("rust", "rust") => expecting(
                    rec(s, "data-channels", o, a, Outcome::Pass),
                    Outcome::Unsupported,
                ),
                (_, "rust") => expecting(
                    rec(s, "data-channels", o, a, Outcome::Unsupported),
                    Outcome::Unsupported,
                ),
                _ => rec(s, "data-channels", o, a, Outcome::Pass),
            });
        }
    }
    for o in IMPLS {
        for a in IMPLS {
            v.push(rec("connect", "basic-peer-connection", o, a, Outcome::Pass));
        }
    }
    for o in IMPLS {
        for a in IMPLS {
            let mut r = rec(
                "turn-relay[transport=udp]",
                "data-channels",
                o,
                a,
                Outcome::Pass,
            );
            r.parameters.insert("transport".into(), "udp".into());
            v.push(r);
        }
    }
    v
}

fn info() -> RunInfo {
    RunInfo {
        schema_version: SCHEMA_VERSION,
        harness: HarnessInfo {
            version: "0.1.0".into(),
            git_revision: "25e2bbc-dirty".into(),
        },
        os: "Debian GNU/Linux 12 (bookworm) x86_64".into(),
        started_at: "2026-12-01T17:50:51Z".into(),
        ended_at: Some("2026-12-01T18:08:40Z".into()),
        implementations: IMPLS.iter().map(|n| imp(n, version_of(n))).collect(),
        shard: None,
        interrupted: false,
    }
}

/// The attributes of every `<td ...>` of the compatibility table that stands for a record.
fn cells(html: &str) -> Vec<BTreeMap<String, String>> {
    let table = &html[html.find("<table class=\"compat\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    table
        .split("<td ")
        .skip(1)
        .map(|rest| attributes(&rest[..rest.find('>').unwrap()]))
        .filter(|a| a.contains_key("data-scenario"))
        .collect()
}

/// `name="value"` pairs of an opening tag (values hold no raw `"`: they are escaped).
fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim().to_string();
        let value_end = rest[eq + 2..].find('"').unwrap();
        out.insert(name, rest[eq + 2..eq + 2 + value_end].to_string());
        rest = &rest[eq + 2 + value_end + 1..];
    }
    out
}

fn find_cell<'a>(
    cells: &'a [BTreeMap<String, String>],
    scenario: &str,
    o: &str,
    a: &str,
) -> &'a BTreeMap<String, String> {
    cells
        .iter()
        .find(|c| {
            c["data-scenario"] == esc(scenario) && c["data-offerer"] == o && c["data-answerer"] == a
        })
        .unwrap_or_else(|| panic!("no cell {scenario} {o} -> {a}"))
}

#[test]
fn repeats_show_an_unexpected_repeat_and_a_flaky_section() {
    let mut records = Vec::new();
    for (k, outcome) in [
        (1, Outcome::Pass),
        (2, Outcome::Timeout),
        (3, Outcome::Pass),
    ] {
        let mut steady = rec(
            "datachannel-echo",
            "data-channels",
            "rust",
            "chrome",
            Outcome::Pass,
        );
        steady.repeat = Some(k);
        let mut r = rec(
            "datachannel-echo",
            "data-channels",
            "chrome",
            "rust",
            outcome,
        );
        r.repeat = Some(k);
        records.extend([steady, r]);
    }
    let html = render(&[info()], &records, "");
    let cells = cells(&html);
    assert_eq!(cells.len(), 2, "one cell per scenario x pairing");
    let c = find_cell(&cells, "datachannel-echo", "chrome", "rust");
    assert_eq!(
        c["data-outcome"], "timeout",
        "the unexpected repeat is shown"
    );
    assert!(html.contains("<section id=\"flaky\">"));
    assert!(html.contains(
        "<tr><td>datachannel-echo</td><td>chrome → rust</td><td>3</td><td>pass 2, timeout 1</td><td>33 %</td><td>no</td></tr>"
    ));
    assert!(!render(&[info()], &sample(), "").contains("id=\"flaky\""));
}

#[test]
fn one_cell_per_record_with_its_data_attributes() {
    let records = sample();
    let html = render(&[info()], &records, "");
    let cells = cells(&html);
    assert_eq!(cells.len(), records.len());
    let c = find_cell(&cells, "datachannel-echo", "firefox", "rust");
    assert_eq!(c["data-outcome"], "timeout");
    assert_eq!(c["data-expected"], "pass");
    assert_eq!(c["data-unexpected"], "true");
    assert_eq!(c["data-feature"], "data-channels");
    assert_eq!(c["data-answerer-version"], "0.21.1");
    let c = find_cell(&cells, "datachannel-closing", "chrome", "rust");
    assert_eq!(c["data-outcome"], "unsupported");
    assert_eq!(c["data-expected"], "unsupported");
    assert_eq!(c["data-unexpected"], "false");
    // Columns in the canonical order, whatever the order of the records.
    let order: Vec<(&str, &str)> = cells[..9]
        .iter()
        .map(|c| (c["data-offerer"].as_str(), c["data-answerer"].as_str()))
        .collect();
    let expected: Vec<(&str, &str)> = IMPLS
        .iter()
        .flat_map(|o| IMPLS.iter().map(move |a| (*o, *a)))
        .collect();
    assert_eq!(order, expected);
    // Every cell opens its own details.
    for c in &cells {
        let id = format!("id=\"run-{}\"", c["data-run"]);
        assert_eq!(html.matches(&id).count(), 1, "{id}");
    }
}

#[test]
fn rows_are_grouped_by_feature_in_first_seen_order() {
    let html = render(&[], &sample(), "");
    let groups: Vec<&str> = html
        .split("<tbody class=\"feature\" data-feature=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(groups, ["data-channels", "basic-peer-connection"]);
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    let dc = at("data-feature=\"data-channels\"");
    let basic = at("data-feature=\"basic-peer-connection\"");
    // turn-relay came after connect but belongs to the first group.
    assert!(dc < at("data-row=\"datachannel-echo\""));
    assert!(at("data-row=\"datachannel-closing\"") < at("data-row=\"turn-relay[transport=udp]\""));
    assert!(at("data-row=\"turn-relay[transport=udp]\"") < basic);
    assert!(basic < at("data-row=\"connect\""));
    assert!(html.contains("<span class=\"feature-name\">data-channels</span> <span class=\"count\">3 scenarios</span>"));
    // A variant shows its base name, its parameters as tags.
    assert!(html.contains(
        "<span class=\"scenario-name\">turn-relay</span><span class=\"params\">\
         <span class=\"param\">transport=udp</span></span>"
    ));
}

#[test]
fn unexpected_results_stand_out_and_expected_ones_are_muted() {
    let records = sample();
    let html = render(&[], &records, "");
    let cells = cells(&html);
    let class = |s: &str, o: &str, a: &str| find_cell(&cells, s, o, a)["class"].clone();
    assert_eq!(
        class("datachannel-echo", "firefox", "rust"),
        "cell o-timeout v-unexpected"
    );
    assert_eq!(
        class("datachannel-closing", "rust", "rust"),
        "cell o-pass v-unexpected"
    );
    assert_eq!(
        class("datachannel-closing", "firefox", "rust"),
        "cell o-unsupported v-expected"
    );
    assert_eq!(class("connect", "rust", "chrome"), "cell o-pass v-pass");
    let unexpected_pass = records
        .iter()
        .position(|r| r.scenario == "datachannel-closing" && r.pairing() == "rust -> rust")
        .unwrap();
    assert!(html.contains(&format!(
        "<a class=\"open\" href=\"#run-{unexpected_pass}\"><span class=\"word\">pass</span>\
         <small><span class=\"mark\">⚠</span> unexpected</small></a>"
    )));
    assert!(html.contains(
        "<span class=\"word\">unsupported</span><small><span class=\"mark\">☑</span> \
         expected</small>"
    ));
    assert!(html.contains(
        "<span class=\"word\">timeout</span><small><span class=\"mark\">✖</span> \
         unexpected</small>"
    ));
    assert!(html.contains("<span class=\"mark\">✓</span> pass</a></td>"));
    // The banner counts them and links each to its details.
    assert!(html.contains("✖ 2 unexpected results"));
    assert!(html.contains(&format!(
        "<li><a class=\"open\" href=\"#run-{unexpected_pass}\">datachannel-closing (rust -&gt; rust)</a>: pass, expected unsupported</li>"
    )));
    assert!(html.contains("It passes now: remove or update the entry at <code>scenarios/expectations/rust.yaml:3</code>"));
    let all_pass: Vec<RunRecord> = records.into_iter().filter(|r| !r.is_unexpected()).collect();
    let html = render(&[], &all_pass, "");
    assert!(html.contains("No unexpected results"));
    assert!(!html.contains("v-unexpected\" data-col"));
}

#[test]
fn text_from_records_is_escaped() {
    let mut records = sample();
    let evil = "</pre><script>alert(\"x\")</script> & 'q' <b>";
    records[0].reason = Some(evil.into());
    records[0].observed.insert(
        "offerer.sdp".into(),
        serde_json::json!("a=max-message-size:65536\r\n</script><img src=x>"),
    );
    records[0].parameters.insert("k\"<".into(), "v&>".into());
    records[0].offerer.detail = Some("Mozilla/5.0 <\"ua\">".into());
    records[1].expectation = Some(ExpectationRef {
        reason: "<i>because</i>".into(),
        bug: Some("javascript:alert(1)".into()),
        source: "x.yaml:1".into(),
    });
    let html = render(&[], &records, "");
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!html.contains("<b>") && !html.contains("<img") && !html.contains("<i>because"));
    assert!(html.contains(
        "<pre class=\"reason\">&lt;/pre&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; \
         &amp; &#39;q&#39; &lt;b&gt;</pre>"
    ));
    // In the tooltip too, and the observed value as its JSON text.
    assert!(html.contains("title=\"datachannel-echo\nfirefox -&gt; rust: timeout, expected pass (UNEXPECTED)\n&lt;/pre&gt;"));
    assert!(html.contains(
        "<code>&quot;a=max-message-size:65536\\r\\n&lt;/script&gt;&lt;img src=x&gt;&quot;</code>"
    ));
    assert!(html.contains("<span class=\"param\">k&quot;&lt;=v&amp;&gt;</span>"));
    assert!(html.contains("Mozilla/5.0 &lt;&quot;ua&quot;&gt;"));
    // Only http(s) bug links become links.
    assert!(html.contains(" · bug: javascript:alert(1)</p>"));
    assert!(!html.contains("href=\"javascript:"));
    assert!(html
        .contains("<a href=\"https://github.com/webrtc-rs/webrtc/issues/1\" rel=\"noreferrer\">"));
}

#[test]
fn artefact_links_start_with_the_base() {
    let mut records = sample();
    records[0].artefacts = "runs/odd name#1?/firefox-rust".into();
    let html = render(&[], &records, "../2026-12-01/");
    for file in [
        "",
        "transcript.jsonl",
        "capture.pcap",
        "timeline.json",
        "negotiation.json",
    ] {
        let href = format!("href=\"../2026-12-01/runs/connect/rust-chrome/{file}\"");
        assert!(html.contains(&href), "{href}");
    }
    assert!(html.contains(
        "href=\"../2026-12-01/runs/turn-relay[transport=udp]/chrome-firefox/capture.pcap\""
    ));
    assert!(
        html.contains("href=\"../2026-12-01/runs/odd%20name%231%3F/firefox-rust/timeline.json\"")
    );
    let html = render(&[], &records, "");
    assert!(html.contains("href=\"runs/connect/firefox-rust/transcript.jsonl\""));
}

#[test]
fn details_hold_step_expectation_timings_and_observed_facts() {
    let mut records = sample();
    let i = records
        .iter()
        .position(|r| r.scenario == "datachannel-closing" && r.pairing() == "chrome -> rust")
        .unwrap();
    let r = &mut records[i];
    r.timings.to_connected_ms.insert("offerer".into(), 219.66);
    r.timings.phases_ms.insert("dtls_handshake".into(), 4.2);
    r.observed
        .insert("answerer.max_message_size".into(), 65536.into());
    r.known_intermittent = vec![Outcome::Timeout];
    let html = render(&[], &records, "");
    let start = html
        .find(&format!("<section class=\"detail\" id=\"run-{i}\""))
        .unwrap();
    let detail = &html[start..start + html[start..].find("</section>").unwrap()];
    for needle in [
        "<h2>datachannel-closing</h2>",
        "chrome -&gt; rust",
        "<strong>unsupported</strong>, expected unsupported",
        "Known intermittent: timeout",
        "<pre class=\"reason\">channel never opened</pre>",
        "step 5 · line 12 · <code>bob</code>: expect channel &#39;echo&#39; open",
        "<p>webrtc 0.21.1 never fires `closing`</p>",
        "source: <code>scenarios/expectations/rust.yaml:3</code>",
        "<tr><th><code>to_connected_ms</code></th><td>offerer <strong>219.7</strong></td></tr>",
        "<tr><th><code>phases_ms</code></th><td>dtls_handshake <strong>4.2</strong></td></tr>",
        "<tr><th><code>wall_ms</code></th><td><strong>512.2</strong></td></tr>",
        "<tr><th><code>answerer.max_message_size</code></th><td><code>65536</code></td></tr>",
        "chrome <code>156.0.8078.114</code><br><span class=\"muted\">chrome driver 1</span>",
    ] {
        assert!(detail.contains(needle), "{needle} not in {detail}");
    }
    assert!(
        !detail.contains("round_trip_ms"),
        "empty timing maps are left out"
    );
}

#[test]
fn run_info_is_shown() {
    let mut second = info();
    second.shard = Some("2/3".into());
    second.interrupted = true;
    second.ended_at = None;
    second.implementations[1] = imp("chrome", "157.0.1");
    let html = render(&[info(), second], &sample(), "");
    let section = &html[html.find("<section id=\"run-info\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    for needle in [
        "<h2>Run 1 of 2</h2>",
        "<h2>Run 2 of 2 <span class=\"badge warn\">interrupted</span></h2>",
        "<dt>harness</dt><dd>0.1.0 <code>25e2bbc-dirty</code></dd>",
        "<dt>OS</dt><dd>Debian GNU/Linux 12 (bookworm) x86_64</dd>",
        "<dt>started</dt><dd>2026-12-01T17:50:51Z</dd>",
        "<dt>ended</dt><dd>2026-12-01T18:08:40Z</dd>",
        "not recorded (still running, or killed)",
        "<dt>shard</dt><dd>2/3</dd>",
        "<dt>interrupted</dt><dd>no</dd>",
        "<dt>interrupted</dt><dd><strong>yes</strong>",
        "<tr><td>chrome</td><td><code>156.0.8078.114</code></td><td>chrome driver 1</td></tr>",
        "<tr><td>chrome</td><td><code>157.0.1</code></td>",
    ] {
        assert!(section.contains(needle), "{needle} not in {section}");
    }
    assert!(html.contains(&format!(
        "<p class=\"totals\" id=\"totals\">{}</p>",
        totals_line(&sample())
    )));
    // Without run_info.json: the implementations the records name.
    let html = render(&[], &sample(), "");
    assert!(html.contains("No <code>run_info.json</code>"));
    assert!(html.contains(
        "<tr><td>firefox</td><td><code>153.8.0</code></td><td>firefox driver 1</td></tr>"
    ));
}

#[test]
fn several_versions_of_an_implementation_get_columns_of_their_own() {
    let mut records = sample();
    let extra: Vec<RunRecord> = records
        .iter()
        .filter(|r| {
            r.scenario == "connect" && r.offerer.name == "rust" && r.answerer.name != "firefox"
        })
        .map(|r| {
            let mut r = r.clone();
            for side in [&mut r.offerer, &mut r.answerer] {
                if side.name == "chrome" {
                    side.version = "99.0.1".into();
                }
            }
            r
        })
        .collect();
    records.extend(extra);
    let html = render(&[], &records, "");
    let cells = cells(&html);
    assert_eq!(
        cells.len(),
        records.len() - 1,
        "rust -> rust ran twice: the last is shown"
    );
    let heads: Vec<String> = html
        .split("<th class=\"col\"")
        .skip(1)
        .map(|s| {
            let title = &s[s.find("title=\"").unwrap() + 7..];
            title[..title.find('"').unwrap()].to_string()
        })
        .collect();
    // 99.0.1 sorts before 156.0.8078.114 (numerically), within chrome.
    assert_eq!(
        heads[..4],
        [
            "rust -&gt; rust",
            "rust -&gt; chrome 99.0.1",
            "rust -&gt; chrome 156.0.8078.114",
            "rust -&gt; firefox",
        ]
    );
    assert!(
        html.contains("Earlier runs of this cell in these results: pass (2026-12-01T18:00:00Z)")
    );
}

#[test]
fn the_page_needs_nothing_from_elsewhere() {
    let (infos, records) = fixture();
    let html = render(&infos, &records, "");
    for needle in ["<link", " src=", "@import", "url(", "<iframe", "<img"] {
        assert!(!html.contains(needle), "{needle}");
    }
    // The inline style and script cannot end their element early.
    assert!(!CSS.contains("</") && !JS.contains("</"));
    assert_eq!(html.matches("<script>").count(), 1);
    assert_eq!(html.matches("</script>").count(), 1);
    // The script never turns data into markup.
    assert!(!JS.contains("innerHTML") && !JS.contains("insertAdjacentHTML"));
}

#[test]
fn empty_results_render_a_page() {
    let html = render(&[], &[], "");
    assert!(html.contains("No runs in these results."));
    assert!(html.contains("<section id=\"seed\">"));
    assert!(html.ends_with("</html>\n"));
}

#[test]
fn seed_section_answers_mdns_rows_per_version() {
    let html = render(&[], &sample(), "");
    let seed = &html[html.find("<section id=\"seed\">").unwrap()..];
    let seed = &seed[..seed.find("</section>").unwrap()];
    assert!(seed.contains("The seed's table: MDN's WebRTC compatibility, from runs"));
    for (label, _) in bcd::SEED_ROWS {
        assert!(
            seed.contains(&format!("<th scope=\"row\">{label} ")),
            "{label}"
        );
    }
    // connect passed on all 5 pairings with rust; nothing of audio-video ran.
    assert!(seed.contains(
        "data-seed-feature=\"basic-peer-connection\" data-implementation=\"rust\" \
         data-version=\"0.21.1\" data-status=\"full\" title=\"\">yes 5/5</td>"
    ));
    assert!(seed.contains(
        "data-seed-feature=\"audio-video\" data-implementation=\"firefox\" \
         data-version=\"153.8.0\" data-status=\"none\""
    ));
    // The unexpected timeout firefox -> rust counts against both: a footnote says why.
    assert!(seed.contains("data-status=\"partial\""));
    assert!(seed.contains("<sup><a href=\"#seed-note-1\">[1]</a></sup></td>"));
    assert!(seed.contains(
        "<li id=\"seed-note-1\">DataChannels, rust 0.21.1<ul><li>datachannel-echo firefox -&gt; rust"
    ));
}

fn fixture() -> (Vec<RunInfo>, Vec<RunRecord>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results");
    let text = std::fs::read_to_string(dir.join(interop_results::RESULTS_FILE)).unwrap();
    let (records, errors) = interop_results::parse_jsonl(&text);
    assert!(errors.is_empty(), "{errors:?}");
    let info = std::fs::read_to_string(dir.join(interop_results::RUN_INFO_FILE)).unwrap();
    (vec![serde_json::from_str(&info).unwrap()], records)
}

#[test]
fn the_fixture_renders_every_run() {
    let (infos, records) = fixture();
    assert_eq!(records.len(), 90);
    let html = render(&infos, &records, "");
    let cells = cells(&html);
    assert_eq!(cells.len(), 90);
    assert_eq!(html.matches("<section class=\"detail\"").count(), 90);
    for feature in [
        "basic-peer-connection",
        "dtls",
        "ice",
        "turn",
        "data-channels",
        "audio-video",
        "video-codecs",
    ] {
        assert!(
            html.contains(&format!(
                "<tbody class=\"feature\" data-feature=\"{feature}\">"
            )),
            "{feature}"
        );
    }
    let c = find_cell(&cells, "datachannel-large-messages", "chrome", "rust");
    assert_eq!(c["data-outcome"], "unsupported");
    assert_eq!(c["data-expected"], "unsupported");
    assert!(html.contains("a=max-message-size:65536"));
    assert!(html.contains("No unexpected results"));
    assert!(html.contains("<dd>0.1.0 <code>25e2bbc</code></dd>"));
    assert!(html.contains("<section id=\"seed\">"));
}
