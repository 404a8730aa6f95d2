//! JUnit XML: one `<testcase>` per run, for the CI systems that read the common dialect
//! (Jenkins, GitLab, GitHub test-report actions).
//!
//! ```text
//! <testsuites name="webrtc-interop" tests failures errors skipped time>
//!   <testsuite name="<feature>" ...>             one per feature group, first-seen order
//!     <testcase classname="<feature>" name="<scenario> <offerer> -> <answerer>[ #<repeat>]" time>
//!       <properties>                             parameters, versions, outcome, artefacts
//!       <failure> | <error>                      only for an unexpected result
//!       <system-out>                             the expectation behind an expected non-pass
//! ```
//!
//! A testcase is judged against its record's expected outcome, like every other report:
//!
//! | result | testcase |
//! |---|---|
//! | pass, expected | passing |
//! | the non-pass an expectation file predicts | passing, with `<system-out>`: `expected <outcome>: <reason> (<source>)` and the bug |
//! | unexpected `fail` / `unsupported` / `timeout` | `<failure type="<outcome>">`: failed step, reason, artefacts |
//! | unexpected `crash` / `error` | `<error type="<outcome>">`, same body |
//! | unexpected pass | `<failure type="unexpected-pass">`: remove or update the expectation entry |
//!
//! Nothing is ever `<skipped>`: a known, documented non-pass keeps CI green without hiding the
//! cell, and an `unsupported` result is a verdict with evidence, not an absence.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use interop_results::{Outcome, RunRecord};

use crate::{one_line, verdict, Verdict};

/// The JUnit XML document for `records`, one testcase per record (a re-run of a cell is a
/// testcase of its own).
pub fn render(records: &[RunRecord]) -> String {
    let mut features: Vec<&str> = Vec::new();
    let mut by_feature: BTreeMap<&str, Vec<&RunRecord>> = BTreeMap::new();
    for r in records {
        if !features.contains(&r.feature.as_str()) {
            features.push(&r.feature);
        }
        by_feature.entry(&r.feature).or_default().push(r);
    }

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = Counts::of(records.iter());
    let _ = writeln!(
        out,
        "<testsuites name=\"webrtc-interop\" {}>",
        total.attributes()
    );
    for feature in features {
        let runs = &by_feature[feature];
        let counts = Counts::of(runs.iter().copied());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" {}>",
            attr(feature),
            counts.attributes()
        );
        for r in runs {
            testcase(&mut out, r);
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The numbers of a `<testsuites>` / `<testsuite>` header.
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    seconds: f64,
}

impl Counts {
    fn of<'a>(records: impl Iterator<Item = &'a RunRecord>) -> Self {
        let mut counts = Counts {
            tests: 0,
            failures: 0,
            errors: 0,
            seconds: 0.0,
        };
        for r in records {
            counts.tests += 1;
            counts.seconds += seconds(r);
            match problem(r) {
                Some(Problem::Error) => counts.errors += 1,
                Some(Problem::Failure | Problem::UnexpectedPass) => counts.failures += 1,
                None => {}
            }
        }
        counts
    }

    fn attributes(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\"",
            self.tests, self.failures, self.errors, self.seconds
        )
    }
}

fn seconds(r: &RunRecord) -> f64 {
    // A record written by hand may carry anything; JUnit readers want a number.
    if r.timings.wall_ms.is_finite() && r.timings.wall_ms >= 0.0 {
        r.timings.wall_ms / 1000.0
    } else {
        0.0
    }
}

/// What an unexpected result becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    /// `<failure>`: the implementations did something other than expected.
    Failure,
    /// `<error>`: a peer crashed, or the harness could not run the cell.
    Error,
    /// `<failure type="unexpected-pass">`: the expectation entry is out of date.
    UnexpectedPass,
}

fn problem(r: &RunRecord) -> Option<Problem> {
    if verdict(r) != Verdict::Unexpected {
        return None;
    }
    Some(match r.outcome {
        Outcome::Pass => Problem::UnexpectedPass,
        Outcome::Crash | Outcome::Error => Problem::Error,
        Outcome::Fail | Outcome::Unsupported | Outcome::Timeout => Problem::Failure,
    })
}

fn testcase(out: &mut String, r: &RunRecord) {
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
        attr(&r.feature),
        attr(&match r.repeat {
            Some(k) => format!("{} {} #{k}", r.scenario, r.pairing()),
            None => format!("{} {}", r.scenario, r.pairing()),
        }),
        seconds(r)
    );
    properties(out, r);
    match problem(r) {
        Some(Problem::UnexpectedPass) => {
            let (message, body) = match &r.expectation {
                Some(e) => (
                    format!(
                        "pass, expected {}: remove or update the expectation entry at {}",
                        r.expected, e.source
                    ),
                    format!(
                        "It passes now: remove or update the expectation entry at {}.\n\
                         expectation: {}\n",
                        e.source, e.reason
                    ),
                ),
                None => (
                    format!("pass, expected {}", r.expected),
                    "It passes now, but no expectation entry was recorded for the expected \
                     outcome.\n"
                        .to_string(),
                ),
            };
            let mut body = body;
            if let Some(bug) = r.expectation.as_ref().and_then(|e| e.bug.as_ref()) {
                let _ = writeln!(body, "bug: {bug}");
            }
            let _ = writeln!(body, "artefacts: {}", r.artefacts);
            element(out, "failure", &message, "unexpected-pass", &body);
        }
        Some(p @ (Problem::Failure | Problem::Error)) => {
            let reason = r.reason.as_deref().unwrap_or("no reason recorded");
            let message = format!(
                "{}, expected {}: {}",
                r.outcome,
                r.expected,
                one_line(reason)
            );
            let mut body = format!("{}, expected {}\n", r.outcome, r.expected);
            if let Some(s) = &r.failed_step {
                let _ = writeln!(
                    body,
                    "failed step {} (line {}, {}: {})",
                    s.index + 1,
                    s.line,
                    s.peer,
                    s.step
                );
            }
            let _ = writeln!(body, "reason: {reason}");
            if let Some(e) = &r.expectation {
                let _ = writeln!(body, "expectation ({}): {}", e.source, one_line(&e.reason));
            }
            let _ = writeln!(body, "artefacts: {}", r.artefacts);
            let name = if p == Problem::Error {
                "error"
            } else {
                "failure"
            };
            element(out, name, &message, r.outcome.as_str(), &body);
        }
        None => {
            if let Some(text) = expected_note(r) {
                let _ = writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    text_content(&text)
                );
            }
        }
    }
    let _ = writeln!(out, "    </testcase>");
}

/// The `<system-out>` of an expected result that is not a plain pass: the expectation entry
/// behind it (a documented non-pass, or a pass that is one of its known intermittent outcomes).
fn expected_note(r: &RunRecord) -> Option<String> {
    if r.outcome == Outcome::Pass && r.expected == Outcome::Pass {
        return None;
    }
    let mut text = match (&r.expectation, r.outcome == r.expected) {
        (Some(e), true) => format!(
            "expected {}: {} ({})\n",
            r.outcome,
            one_line(&e.reason),
            e.source
        ),
        (Some(e), false) => format!(
            "known intermittent {} (expected {}): {} ({})\n",
            r.outcome,
            r.expected,
            one_line(&e.reason),
            e.source
        ),
        (None, _) => format!("expected {} (no expectation entry recorded)\n", r.expected),
    };
    if let Some(bug) = r.expectation.as_ref().and_then(|e| e.bug.as_ref()) {
        let _ = writeln!(text, "bug: {bug}");
    }
    if let Some(reason) = &r.reason {
        let _ = writeln!(text, "observed: {}", one_line(reason));
    }
    let _ = writeln!(text, "artefacts: {}", r.artefacts);
    Some(text)
}

fn properties(out: &mut String, r: &RunRecord) {
    let mut props: Vec<(String, &str)> = r
        .parameters
        .iter()
        .map(|(k, v)| (format!("parameter.{k}"), v.as_str()))
        .collect();
    props.extend([
        ("offerer".to_string(), r.offerer.name.as_str()),
        ("offerer.version".to_string(), r.offerer.version.as_str()),
        ("answerer".to_string(), r.answerer.name.as_str()),
        ("answerer.version".to_string(), r.answerer.version.as_str()),
        ("outcome".to_string(), r.outcome.as_str()),
        ("expected".to_string(), r.expected.as_str()),
        ("artefacts".to_string(), r.artefacts.as_str()),
    ]);
    let _ = writeln!(out, "      <properties>");
    for (name, value) in props {
        let _ = writeln!(
            out,
            "        <property name=\"{}\" value=\"{}\"/>",
            attr(&name),
            attr(value)
        );
    }
    let _ = writeln!(out, "      </properties>");
}

/// `<name message type>body</name>`.
fn element(out: &mut String, name: &str, message: &str, kind: &str, body: &str) {
    let _ = writeln!(
        out,
        "      <{name} message=\"{}\" type=\"{}\">{}</{name}>",
        attr(message),
        attr(kind),
        text_content(body)
    );
}

/// Whether XML 1.0 allows `c` at all (`Char` production); `\t`, `\n`, `\r` included.
fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `text` for an attribute value: markup characters escaped, characters XML cannot carry
/// dropped, and `\t` `\n` `\r` as character references so that attribute value normalisation
/// does not turn them into spaces.
fn attr(text: &str) -> String {
    escape(text, true)
}

/// `text` for element content: markup characters escaped, characters XML cannot carry
/// dropped; `\r` as a character reference (a parser would turn a literal one into `\n`).
fn text_content(text: &str) -> String {
    escape(text, false)
}

fn escape(text: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|c| allowed_in_xml(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use interop_results::ExpectationRef;
    use quick_xml::events::Event;

    fn rec(scenario: &str, o: &str, a: &str, outcome: Outcome) -> RunRecord {
        let imp = |n: &str| crate::test_records::imp(n, &format!("{n}-1.0"));
        let mut r = crate::test_records::record(scenario, "data-channels", imp(o), imp(a), outcome);
        r.timings.wall_ms = 1234.0;
        r
    }

    fn expecting(mut r: RunRecord, expected: Outcome, bug: bool) -> RunRecord {
        r.expected = expected;
        r.expectation = Some(ExpectationRef {
            reason: "webrtc 0.21.1 never fires `closing`".into(),
            bug: bug.then(|| "https://github.com/webrtc-rs/webrtc/issues/1".into()),
            source: "scenarios/expectations/rust.yaml:3".into(),
        });
        r
    }

    /// An element of the parsed document.
    #[derive(Debug, Default)]
    struct Node {
        name: String,
        attrs: BTreeMap<String, String>,
        text: String,
        children: Vec<Node>,
    }

    impl Node {
        fn attr(&self, name: &str) -> &str {
            self.attrs
                .get(name)
                .unwrap_or_else(|| panic!("<{}> has no {name}", self.name))
        }

        fn child(&self, name: &str) -> Option<&Node> {
            self.children.iter().find(|c| c.name == name)
        }

        fn child_names(&self) -> Vec<&str> {
            self.children.iter().map(|c| c.name.as_str()).collect()
        }

        fn testcases(&self) -> Vec<&Node> {
            self.children
                .iter()
                .flat_map(|suite| suite.children.iter())
                .collect()
        }

        fn testcase(&self, name: &str) -> &Node {
            self.testcases()
                .into_iter()
                .find(|c| c.attr("name") == name)
                .unwrap_or_else(|| panic!("no testcase {name:?}"))
        }

        fn property(&self, name: &str) -> Option<&str> {
            self.child("properties")?
                .children
                .iter()
                .find(|p| p.attr("name") == name)
                .map(|p| p.attr("value"))
        }
    }

    /// Parses `xml` with a conforming parser, failing on anything not well-formed: unbalanced
    /// or misnamed end tags, bad references, a second root, characters XML forbids.
    fn parse(xml: &str) -> Node {
        for c in xml.chars() {
            assert!(allowed_in_xml(c), "{c:?} is not allowed in XML");
        }
        let mut reader = quick_xml::Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let mut stack: Vec<Node> = vec![Node::default()];
        let open = |e: &quick_xml::events::BytesStart| {
            let mut node = Node {
                name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                ..Default::default()
            };
            for a in e.attributes().with_checks(true) {
                let a = a.expect("a well-formed attribute");
                let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                // As a conforming parser reads it: references resolved, a literal tab or line
                // break turned into a space.
                let value = a
                    .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                    .expect("a valid attribute value");
                assert!(node.attrs.insert(key, value.into_owned()).is_none());
            }
            node
        };
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => stack.push(open(&e)),
                Event::Empty(e) => stack.last_mut().unwrap().children.push(open(&e)),
                Event::End(_) => {
                    let node = stack.pop().unwrap();
                    stack.last_mut().expect("a parent").children.push(node);
                }
                Event::Text(t) => stack
                    .last_mut()
                    .unwrap()
                    .text
                    .push_str(&t.decode().unwrap()),
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref().expect("a valid character reference") {
                        Some(c) => c,
                        None => match &*r.decode().unwrap() {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            other => panic!("unknown entity &{other};"),
                        },
                    };
                    stack.last_mut().unwrap().text.push(c);
                }
                Event::Decl(_) => {}
                Event::Eof => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        let mut document = stack.pop().unwrap();
        assert!(stack.is_empty(), "unclosed elements");
        assert_eq!(document.children.len(), 1, "exactly one root element");
        assert!(document.text.trim().is_empty(), "text outside the root");
        document.children.pop().unwrap()
    }

    /// Every mapping: a pass, an expected non-pass with a bug, an unexpected failure, an
    /// unexpected non-pass where a different non-pass was expected, an unexpected pass, a
    /// crash and a harness error, over two feature groups.
    fn sample() -> Vec<RunRecord> {
        let mut media = rec(
            "media-codec-h264[codec=h264]",
            "chrome",
            "chrome",
            Outcome::Pass,
        );
        media.feature = "video-codecs".into();
        media.parameters.insert("codec".into(), "h264".into());
        let mut crash = rec("datachannel-bulk", "chrome", "rust", Outcome::Crash);
        crash.reason = Some("the Rust peer disconnected".into());
        let mut error = rec("datachannel-bulk", "firefox", "rust", Outcome::Error);
        error.reason = Some("session did not start".into());
        error.failed_step = None;
        vec![
            rec("datachannel-echo", "rust", "chrome", Outcome::Pass),
            media,
            expecting(
                rec(
                    "datachannel-closing",
                    "chrome",
                    "rust",
                    Outcome::Unsupported,
                ),
                Outcome::Unsupported,
                true,
            ),
            rec("datachannel-echo", "chrome", "firefox", Outcome::Fail),
            expecting(
                rec("datachannel-closing", "rust", "chrome", Outcome::Fail),
                Outcome::Timeout,
                false,
            ),
            expecting(
                rec("datachannel-closing", "rust", "rust", Outcome::Pass),
                Outcome::Unsupported,
                true,
            ),
            crash,
            error,
        ]
    }

    #[test]
    fn header_counts_failures_errors_and_time_per_suite_and_in_total() {
        let doc = parse(&render(&sample()));
        assert_eq!(doc.name, "testsuites");
        assert_eq!(doc.attr("name"), "webrtc-interop");
        assert_eq!(doc.attr("tests"), "8");
        // Unexpected fail, unexpected fail (timeout expected), unexpected pass.
        assert_eq!(doc.attr("failures"), "3");
        // Crash and error.
        assert_eq!(doc.attr("errors"), "2");
        assert_eq!(doc.attr("skipped"), "0");
        assert_eq!(doc.attr("time"), "9.872");
        let suites: Vec<(&str, &str, &str)> = doc
            .children
            .iter()
            .map(|s| (s.attr("name"), s.attr("tests"), s.attr("failures")))
            .collect();
        assert_eq!(
            suites,
            [("data-channels", "7", "3"), ("video-codecs", "1", "0")]
        );
        assert_eq!(doc.children[0].attr("errors"), "2");
        assert_eq!(doc.children[1].attr("time"), "1.234");
        let t = doc.testcase("media-codec-h264[codec=h264] chrome -> chrome");
        assert_eq!(t.attr("classname"), "video-codecs");
        assert_eq!(t.attr("time"), "1.234");
    }

    #[test]
    fn expected_results_pass_and_an_expected_non_pass_says_why() {
        let doc = parse(&render(&sample()));
        let pass = doc.testcase("datachannel-echo rust -> chrome");
        assert_eq!(pass.child_names(), ["properties"]);

        let expected = doc.testcase("datachannel-closing chrome -> rust");
        assert_eq!(expected.child_names(), ["properties", "system-out"]);
        let out = &expected.child("system-out").unwrap().text;
        assert!(
            out.starts_with(
                "expected unsupported: webrtc 0.21.1 never fires `closing` \
                 (scenarios/expectations/rust.yaml:3)\n\
                 bug: https://github.com/webrtc-rs/webrtc/issues/1\n"
            ),
            "{out}"
        );
        assert!(out.contains("observed: channel never opened\n"), "{out}");
        for t in doc.testcases() {
            assert!(t.child("skipped").is_none(), "nothing is ever skipped");
        }
    }

    #[test]
    fn a_known_intermittent_outcome_is_not_a_failure() {
        let mut r = expecting(
            rec("datachannel-closing", "rust", "rust", Outcome::Timeout),
            Outcome::Unsupported,
            false,
        );
        r.known_intermittent = vec![Outcome::Timeout];
        let doc = parse(&render(&[r]));
        assert_eq!(doc.attr("failures"), "0");
        let t = doc.testcase("datachannel-closing rust -> rust");
        assert_eq!(t.child_names(), ["properties", "system-out"]);
        assert!(t.child("system-out").unwrap().text.starts_with(
            "known intermittent timeout (expected unsupported): webrtc 0.21.1 never fires"
        ));
    }

    #[test]
    fn unexpected_non_pass_is_a_failure_with_step_reason_and_artefacts() {
        let doc = parse(&render(&sample()));
        let t = doc.testcase("datachannel-echo chrome -> firefox");
        assert_eq!(t.child_names(), ["properties", "failure"]);
        let f = t.child("failure").unwrap();
        assert_eq!(f.attr("type"), "fail");
        assert_eq!(
            f.attr("message"),
            "fail, expected pass: channel never opened"
        );
        assert!(f
            .text
            .contains("failed step 5 (line 12, bob: expect channel 'echo' open)\n"));
        assert!(f.text.contains("reason: channel never opened\n"));
        assert!(f
            .text
            .contains("artefacts: runs/datachannel-echo/chrome-firefox\n"));

        let other = doc.testcase("datachannel-closing rust -> chrome");
        let f = other.child("failure").unwrap();
        assert_eq!(f.attr("type"), "fail");
        assert_eq!(
            f.attr("message"),
            "fail, expected timeout: channel never opened"
        );
        assert!(f.text.contains(
            "expectation (scenarios/expectations/rust.yaml:3): webrtc 0.21.1 never fires"
        ));
    }

    #[test]
    fn crash_and_harness_error_are_errors_not_failures() {
        let doc = parse(&render(&sample()));
        for (name, kind) in [
            ("datachannel-bulk chrome -> rust", "crash"),
            ("datachannel-bulk firefox -> rust", "error"),
        ] {
            let t = doc.testcase(name);
            assert_eq!(t.child_names(), ["properties", "error"], "{name}");
            assert_eq!(t.child("error").unwrap().attr("type"), kind);
        }
    }

    #[test]
    fn unexpected_pass_asks_to_update_the_expectation() {
        let doc = parse(&render(&sample()));
        let t = doc.testcase("datachannel-closing rust -> rust");
        let f = t.child("failure").expect("an unexpected pass fails");
        assert_eq!(f.attr("type"), "unexpected-pass");
        assert_eq!(
            f.attr("message"),
            "pass, expected unsupported: remove or update the expectation entry at \
             scenarios/expectations/rust.yaml:3"
        );
        assert!(f
            .text
            .contains("bug: https://github.com/webrtc-rs/webrtc/issues/1\n"));
    }

    #[test]
    fn properties_carry_parameters_versions_and_artefacts() {
        let doc = parse(&render(&sample()));
        let t = doc.testcase("media-codec-h264[codec=h264] chrome -> chrome");
        assert_eq!(t.property("parameter.codec"), Some("h264"));
        assert_eq!(t.property("offerer"), Some("chrome"));
        assert_eq!(t.property("offerer.version"), Some("chrome-1.0"));
        assert_eq!(t.property("answerer.version"), Some("chrome-1.0"));
        assert_eq!(
            t.property("artefacts"),
            Some("runs/media-codec-h264[codec=h264]/chrome-chrome")
        );
    }

    #[test]
    fn anything_in_a_reason_survives_or_is_dropped_if_xml_cannot_carry_it() {
        let nasty = "a<b>&c \"d\" 'e' ]]> \u{0}\u{1b}[31mred\u{7}\ttab\r\nline2 \u{FFFE}ü🦀";
        let mut r = rec("s<&>\"'", "rust", "chrome", Outcome::Fail);
        r.reason = Some(nasty.into());
        r.feature = "f&\"<".into();
        r.parameters.insert("k\u{1}".into(), "v\"\n\t".into());
        let xml = render(&[r]);
        let doc = parse(&xml);
        let suite = &doc.children[0];
        assert_eq!(suite.attr("name"), "f&\"<");
        let t = doc.testcase("s<&>\"' rust -> chrome");
        assert_eq!(t.property("parameter.k"), Some("v\"\n\t"));
        let f = t.child("failure").unwrap();
        let kept = "a<b>&c \"d\" 'e' ]]> [31mred\ttab\r\nline2 ü🦀";
        assert!(f.text.contains(&format!("reason: {kept}\n")), "{}", f.text);
        // The message is one line.
        assert_eq!(
            f.attr("message"),
            "fail, expected pass: a<b>&c \"d\" 'e' ]]> [31mred tab line2 ü🦀"
        );
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{1b}'));
    }

    #[test]
    fn no_records_is_an_empty_valid_document() {
        let doc = parse(&render(&[]));
        assert_eq!(doc.attr("tests"), "0");
        assert!(doc.children.is_empty());
    }

    #[test]
    fn small_document() {
        let records = sample();
        let keep = [0, 1, 2, 3, 5, 6];
        let records: Vec<RunRecord> = keep.iter().map(|i| records[*i].clone()).collect();
        insta::assert_snapshot!(render(&records));
    }

    #[test]
    fn fixture_results_render_as_a_green_document() {
        let text = include_str!("../tests/fixtures/results/results.jsonl");
        let (records, errors) = interop_results::parse_jsonl(text);
        assert!(errors.is_empty(), "{errors:?}");
        let doc = parse(&render(&records));
        assert_eq!(doc.attr("tests"), records.len().to_string());
        // Every non-pass of the fixture is documented in an expectation file.
        assert_eq!(doc.attr("failures"), "0");
        assert_eq!(doc.attr("errors"), "0");
        let explained = doc
            .testcases()
            .into_iter()
            .filter(|t| t.child("system-out").is_some())
            .count();
        let non_pass = records
            .iter()
            .filter(|r| r.outcome != Outcome::Pass)
            .count();
        assert!(non_pass > 0);
        assert_eq!(explained, non_pass);
        let h264 = doc.testcase("media-codec-h264 chrome -> firefox");
        let out = &h264.child("system-out").unwrap().text;
        assert!(
            out.starts_with("expected unsupported: ")
                && out.contains("(scenarios/expectations/firefox.yaml:"),
            "{out}"
        );
    }
}
