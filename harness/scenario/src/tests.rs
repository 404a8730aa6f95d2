//! Loader tests on whole files: the shipped scenarios, a fixture using every step kind, and
//! properties that must hold for any input (unknown keys anywhere fail; nothing panics).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use interop_protocol::{DataChannelInit, IceServer, PeerConnectionConfig};

use crate::plan::{
    Action, Bulk, ChannelProperties, Check, Expectation, PayloadSpec, PeerCommand, PeerId,
    Scenario, SdpMunge, Step,
};
use crate::tree::{self, Node, SNode};
use crate::{discover, load_files, parse_str, ScenarioError};

const A: PeerId = PeerId::OFFERER;
const B: PeerId = PeerId::ANSWERER;

fn manifest_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn load(relative: &str) -> Scenario {
    let path = manifest_path(relative);
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    match parse_str(&path, &text) {
        Ok(scenario) => scenario,
        Err(errors) => panic!("{relative} must load:\n{}", crate::render_all(&errors)),
    }
}

fn errors(text: &str) -> Vec<ScenarioError> {
    parse_str(Path::new("t.yaml"), text).expect_err("must not validate")
}

fn messages(text: &str) -> Vec<String> {
    errors(text).into_iter().map(|e| e.message).collect()
}

/// A valid scenario head; tests append steps.
const HEAD: &str = "feature: f\ndescription: d\npeers: { alice: offerer, bob: answerer }\nsteps:\n";

fn actions(steps: &[Step]) -> Vec<(PeerId, Action)> {
    steps.iter().map(|s| (s.peer, s.action.clone())).collect()
}

fn srd() -> Action {
    Action::Command(PeerCommand::SetRemoteDescription {
        munge: Default::default(),
        expect_error: false,
    })
}

fn negotiation(offerer: PeerId, answerer: PeerId) -> Vec<(PeerId, Action)> {
    vec![
        (offerer, Action::Command(PeerCommand::CreateOffer)),
        (
            offerer,
            Action::Command(PeerCommand::SetLocalDescription { setup: None }),
        ),
        (answerer, srd()),
        (answerer, Action::Command(PeerCommand::CreateAnswer)),
        (
            answerer,
            Action::Command(PeerCommand::SetLocalDescription { setup: None }),
        ),
        (offerer, srd()),
    ]
}

#[test]
fn shipped_connect_scenario() {
    let s = load("../../scenarios/basic/connect.yaml");
    assert_eq!(s.name, "connect");
    assert_eq!(s.feature, "basic-peer-connection");
    assert_eq!(s.peer_names, ["alice".to_owned(), "bob".to_owned()]);
    assert_eq!(s.steps.len(), 17);
    let create = Action::Command(PeerCommand::CreatePeerConnection {
        configuration: PeerConnectionConfig::default(),
        turn: None,
    });
    assert_eq!(s.steps[0].action, create);
    assert_eq!((s.steps[0].peer, s.steps[1].peer), (A, B));
    assert_eq!(s.steps[0].line, s.steps[1].line);
    assert_eq!(
        s.steps[2].action,
        Action::Command(PeerCommand::CreateDataChannel {
            label: "probe".into(),
            init: DataChannelInit::default()
        })
    );
    assert_eq!(actions(&s.steps[3..9]), negotiation(A, B));
    assert!(s.steps[3..9]
        .iter()
        .all(|step| step.line == s.steps[3].line));
    let connected = Action::Expect {
        what: Expectation::ConnectionState {
            state: "connected".into(),
        },
        timeout: Duration::from_secs(15),
    };
    let ice_connected = Action::Expect {
        what: Expectation::IceConnectionState {
            state: "connected".into(),
        },
        timeout: crate::DEFAULT_TIMEOUT,
    };
    assert_eq!(
        actions(&s.steps[9..]),
        vec![
            (A, connected.clone()),
            (B, connected),
            (A, ice_connected.clone()),
            (B, ice_connected),
            (A, Action::Command(PeerCommand::GetStats)),
            (B, Action::Command(PeerCommand::GetStats)),
            (A, Action::Command(PeerCommand::Close)),
            (B, Action::Command(PeerCommand::Close))
        ]
    );
}

#[test]
fn shipped_datachannel_echo_scenario() {
    let s = load("../../scenarios/data-channels/datachannel-echo.yaml");
    assert_eq!(s.name, "datachannel-echo");
    assert_eq!(s.feature, "data-channels");
    // setup 14 + 7 payloads x 4 + close 2
    assert_eq!(s.steps.len(), 44);
    assert_eq!(
        s.steps[2].action,
        Action::Command(PeerCommand::CreateDataChannel {
            label: "echo".into(),
            init: DataChannelInit {
                ordered: Some(true),
                ..Default::default()
            }
        })
    );
    assert_eq!(
        s.steps[11].action,
        Action::Expect {
            what: Expectation::DataChannel {
                properties: Default::default(),
                label: "echo".into()
            },
            timeout: Duration::from_secs(10)
        }
    );
    let payloads = [
        PayloadSpec::Text("hello".into()),
        PayloadSpec::GeneratedText {
            bytes: 1000,
            seed: 0,
        },
        PayloadSpec::GeneratedText {
            bytes: 20 * 1024,
            seed: 0,
        },
        PayloadSpec::Binary { bytes: 1, seed: 0 },
        PayloadSpec::Binary {
            bytes: 1024,
            seed: 0,
        },
        PayloadSpec::Binary {
            bytes: 20 * 1024,
            seed: 0,
        },
        PayloadSpec::Binary {
            bytes: 64 * 1024,
            seed: 0,
        },
    ];
    for (round, payload) in s.steps[14..42].chunks(4).zip(&payloads) {
        let send = Action::Command(PeerCommand::Send {
            label: "echo".into(),
            payload: payload.clone(),
            expect_error: None,
        });
        let expect = Action::Expect {
            what: Expectation::Message {
                any_order: false,
                label: "echo".into(),
                payload: payload.clone(),
            },
            timeout: Duration::from_secs(10),
        };
        assert_eq!(
            actions(round),
            vec![
                (A, send.clone()),
                (B, expect.clone()),
                (B, send),
                (A, expect)
            ]
        );
    }
    assert_eq!(
        actions(&s.steps[42..]),
        vec![
            (A, Action::Command(PeerCommand::Close)),
            (B, Action::Command(PeerCommand::Close))
        ]
    );
}

#[test]
fn discover_finds_the_shipped_scenarios_and_they_load_together() {
    let root = manifest_path("../../scenarios");
    let paths = discover(&root).expect("scenarios dir");
    let names: Vec<_> = paths
        .iter()
        .filter_map(|p| p.file_name()?.to_str())
        .collect();
    for shipped in ["connect.yaml", "datachannel-echo.yaml"] {
        assert!(names.contains(&shipped), "{shipped} in {names:?}");
    }
    // Expectation files live next to the scenarios but are not scenarios.
    assert!(paths.iter().all(|p| !p
        .strip_prefix(&root)
        .expect("under the root")
        .components()
        .any(|c| c.as_os_str() == "expectations")));
    let scenarios = match load_files(&paths) {
        Ok(scenarios) => scenarios,
        Err(errors) => panic!(
            "shipped scenarios must load:\n{}",
            crate::render_all(&errors)
        ),
    };
    // One scenario per file, or one per variant of a parameterised file.
    let mut files: Vec<&std::path::Path> = scenarios.iter().map(|s| s.path.as_path()).collect();
    files.dedup();
    assert_eq!(files.len(), paths.len());
}

#[test]
fn draft_scenarios_are_skipped_by_default_and_found_when_named() {
    let root = tempfile::tempdir().expect("temp dir");
    let drafts = root.path().join("suite").join(crate::DRAFTS_DIR);
    std::fs::create_dir_all(&drafts).unwrap();
    std::fs::write(root.path().join("suite").join("a.yaml"), "x").unwrap();
    std::fs::write(drafts.join("b.yaml"), "x").unwrap();
    let shipped = discover(&root.path().join("suite")).expect("suite");
    assert_eq!(shipped, vec![root.path().join("suite").join("a.yaml")]);
    assert_eq!(
        discover(&drafts).expect("drafts"),
        vec![drafts.join("b.yaml")]
    );
}

#[test]
fn shipped_parameterised_scenarios_expand_into_named_variants() {
    let paths = discover(&manifest_path("../../scenarios")).expect("scenarios dir");
    let scenarios = load_files(&paths).expect("shipped scenarios load");
    let variants: Vec<_> = scenarios
        .iter()
        .filter(|s| !s.parameters.is_empty())
        .collect();
    assert!(
        variants.len() >= 20,
        "the connectivity suite is parameterised"
    );
    for s in variants {
        assert_eq!(s.name, crate::variant_name(&s.base_name, &s.parameters));
        assert!(!s.description.contains("${"), "{} was substituted", s.name);
    }
}

#[test]
fn discover_skips_expectations_directories() {
    let paths = discover(&manifest_path("tests/fixtures/discover")).expect("fixture dir");
    let names: Vec<_> = paths
        .iter()
        .filter_map(|p| p.file_name()?.to_str())
        .collect();
    assert_eq!(names, ["scenario.yaml", "nested.yaml"]);
}

#[test]
fn discover_recurses_sorts_and_keeps_only_yaml() {
    let paths = discover(&manifest_path("tests/fixtures")).expect("fixtures dir");
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert!(paths.iter().any(|p| p.ends_with("valid/all-steps.yaml")));
    assert!(paths.iter().any(|p| p.ends_with("invalid/typo.yaml")));
    assert!(paths
        .iter()
        .all(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))));
    assert!(discover(&manifest_path("no-such-dir")).is_err());
}

#[test]
fn every_step_kind_and_option_resolves() {
    let s = load("tests/fixtures/valid/all-steps.yaml");
    assert_eq!(s.name, "all-steps", "default name is the file stem");
    // Declared bob first: ids follow roles, not file order.
    assert_eq!(s.peer_names, ["alice".to_owned(), "bob".to_owned()]);
    let config = PeerConnectionConfig {
        ice_servers: vec![
            IceServer {
                urls: vec!["stun:stun.example.org:3478".into()],
                username: None,
                credential: None,
            },
            IceServer {
                urls: vec![
                    "turn:turn.example.org:3478?transport=udp".into(),
                    "turns:turn.example.org:5349".into(),
                ],
                username: Some("user".into()),
                credential: Some("secret".into()),
            },
        ],
        ice_transport_policy: Some("relay".into()),
        bundle_policy: Some("max-bundle".into()),
        certificate: None,
        mdns: None,
        ice_tcp: None,
    };
    let create = Action::Command(PeerCommand::CreatePeerConnection {
        configuration: config,
        turn: None,
    });
    let lossy = DataChannelInit {
        ordered: Some(false),
        max_retransmits: Some(0),
        protocol: Some("chat".into()),
        ..Default::default()
    };
    let pre = DataChannelInit {
        negotiated: Some(true),
        id: Some(7),
        max_packet_life_time: Some(500),
        ..Default::default()
    };
    let many = |id| DataChannelInit {
        negotiated: Some(true),
        id: Some(id),
        ..Default::default()
    };
    let inband = DataChannelInit {
        max_packet_life_time: Some(250),
        ..Default::default()
    };
    let dc = |label: &str, init: &DataChannelInit| {
        Action::Command(PeerCommand::CreateDataChannel {
            label: label.into(),
            init: init.clone(),
        })
    };
    let secs = Duration::from_secs;
    let text = PayloadSpec::Text("hé 🙂".into());
    let mut expected = vec![
        (A, create.clone()),
        (B, create),
        (A, dc("lossy", &lossy)),
        (A, dc("pre", &pre)),
        (B, dc("pre", &pre)),
        (A, dc("many-0", &many(100))),
        (B, dc("many-0", &many(100))),
        (A, dc("many-1", &many(101))),
        (B, dc("many-1", &many(101))),
        (A, dc("in-0", &inband)),
        (A, dc("in-1", &inband)),
    ];
    expected.extend(negotiation(A, B));
    let munged = Action::Command(PeerCommand::SetRemoteDescription {
        munge: SdpMunge {
            max_message_size: Some(16 * 1024),
            ..Default::default()
        },
        expect_error: false,
    });
    let mut manual = negotiation(A, B);
    manual[5] = (A, munged);
    expected.extend(manual);
    let connected = Action::Expect {
        what: Expectation::ConnectionState {
            state: "connected".into(),
        },
        timeout: secs(60),
    };
    let open = |label: &str, timeout| Action::Expect {
        what: Expectation::ChannelOpen {
            label: label.into(),
        },
        timeout,
    };
    let in_band = |label: &str| Action::Expect {
        what: Expectation::DataChannel {
            label: label.into(),
            properties: ChannelProperties {
                ordered: Some(true),
                max_packet_life_time: Some(250),
                ..Default::default()
            },
        },
        timeout: secs(7),
    };
    expected.extend([
        (A, connected.clone()),
        (B, connected),
        (
            B,
            Action::Expect {
                what: Expectation::IceConnectionState {
                    state: "completed".into(),
                },
                timeout: secs(7),
            },
        ),
        (
            B,
            Action::Expect {
                what: Expectation::DataChannel {
                    label: "lossy".into(),
                    properties: ChannelProperties {
                        protocol: Some("chat".into()),
                        ordered: Some(false),
                        max_retransmits: Some(0),
                        max_packet_life_time: None,
                        id: Some(1),
                    },
                },
                timeout: Duration::from_millis(500),
            },
        ),
        (B, in_band("in-0")),
        (B, in_band("in-1")),
        (A, open("pre", secs(7))),
        (B, open("pre", secs(7))),
        (A, open("many-0", secs(2))),
        (B, open("many-0", secs(2))),
        (A, open("many-1", secs(2))),
        (B, open("many-1", secs(2))),
        (A, Action::Check(Check::MaxMessageSize { at_least: 65536 })),
        (B, Action::Check(Check::MaxMessageSize { at_least: 65536 })),
        (A, Action::Check(Check::StreamIds)),
        (B, Action::Check(Check::StreamIds)),
        (
            B,
            Action::Command(PeerCommand::Echo {
                label: "in-0".into(),
            }),
        ),
        (
            B,
            Action::Command(PeerCommand::Echo {
                label: "in-1".into(),
            }),
        ),
    ]);
    let send = |label: &str, payload: PayloadSpec| {
        Action::Command(PeerCommand::Send {
            label: label.into(),
            payload,
            expect_error: None,
        })
    };
    let expect = |label: &str, payload: PayloadSpec, any_order, timeout| Action::Expect {
        what: Expectation::Message {
            label: label.into(),
            payload,
            any_order,
        },
        timeout,
    };
    let binary = |bytes, seed| PayloadSpec::Binary { bytes, seed };
    let generated = |bytes, seed| PayloadSpec::GeneratedText { bytes, seed };
    expected.extend([
        (A, send("lossy", text.clone())),
        (B, expect("lossy", text, false, secs(7))),
        (B, send("pre", generated(2048, 0))),
        (A, expect("pre", generated(2048, 0), false, secs(3))),
        (A, send("pre", binary(1 << 20, 0))),
        (B, expect("pre", binary(1 << 20, 0), false, secs(7))),
        (A, send("in-0", PayloadSpec::Text("n0".into()))),
        (A, send("in-1", PayloadSpec::Text("n1".into()))),
        (A, send("pre", binary(10, 0))),
        (B, send("pre", binary(10, 0))),
        (A, send("pre", binary(10, 1))),
        (B, send("pre", binary(10, 1))),
        (A, send("pre", binary(10, 2))),
        (B, send("pre", binary(10, 2))),
        (A, expect("pre", binary(10, 0), true, secs(1))),
        (A, expect("pre", binary(10, 1), true, secs(1))),
        (A, expect("pre", binary(10, 2), true, secs(1))),
        (B, expect("pre", generated(5, 0), false, secs(7))),
        (B, expect("pre", generated(5, 1), false, secs(7))),
        (
            A,
            Action::Command(PeerCommand::Send {
                label: "lossy".into(),
                payload: binary(64 * 1024, 0),
                expect_error: Some("TypeError".into()),
            }),
        ),
        (
            A,
            Action::Expect {
                what: Expectation::BulkTransfer(Bulk {
                    label: "pre".into(),
                    bytes: 64 << 20,
                    chunk: 64 * 1024,
                    high_water: 4 << 20,
                    low_water: 1 << 20,
                }),
                timeout: secs(120),
            },
        ),
        (
            B,
            Action::Expect {
                what: Expectation::BulkTransfer(Bulk {
                    label: "pre".into(),
                    bytes: 1000,
                    chunk: 16 * 1024,
                    high_water: 1 << 20,
                    low_water: 256 * 1024,
                }),
                timeout: secs(7),
            },
        ),
        (A, Action::Command(PeerCommand::GetStats)),
        (B, Action::Command(PeerCommand::GetStats)),
    ]);
    let close_dc = |label: &str| {
        Action::Command(PeerCommand::CloseDataChannel {
            label: label.into(),
        })
    };
    let closing = |label: &str, timeout| Action::Expect {
        what: Expectation::ChannelClosing {
            label: label.into(),
        },
        timeout,
    };
    let closed = |label: &str, timeout| Action::Expect {
        what: Expectation::ChannelClosed {
            label: label.into(),
        },
        timeout,
    };
    expected.extend([
        (A, close_dc("lossy")),
        (B, closing("lossy", secs(2))),
        (B, closed("lossy", secs(7))),
        (A, close_dc("many-0")),
        (A, close_dc("many-1")),
        (B, closing("many-0", secs(7))),
        (B, closing("many-1", secs(7))),
        (A, closed("many-0", secs(1))),
        (B, closed("many-0", secs(1))),
        (A, closed("many-1", secs(1))),
        (B, closed("many-1", secs(1))),
        (B, Action::Command(PeerCommand::Close)),
    ]);
    let got = actions(&s.steps);
    for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "step {i}");
    }
    assert_eq!(got.len(), expected.len());
    // Lines are those of the steps in the file.
    let text = std::fs::read_to_string(manifest_path("tests/fixtures/valid/all-steps.yaml"))
        .expect("fixture exists");
    for step in &s.steps {
        let line = text.lines().nth(step.line - 1).unwrap_or_default();
        assert!(
            line.trim_start().starts_with("- "),
            "line {}: {line}",
            step.line
        );
    }
    assert_eq!(
        s.steps.last().map(|step| step.line),
        Some(text.lines().count())
    );
}

/// Inserts `zzz_unknown: 1` into every mapping of the all-steps fixture, one at a time: each
/// variant must fail, and where the mapping has fixed keys, fail on that key.
#[test]
fn an_unknown_key_in_any_mapping_is_an_error() {
    let text = std::fs::read_to_string(manifest_path("tests/fixtures/valid/all-steps.yaml"))
        .expect("fixture exists");
    let root = tree::parse(&text).expect("valid YAML");

    fn maps<'a>(node: &'a SNode, path: String, out: &mut Vec<(String, &'a SNode)>) {
        match &node.value {
            Node::Map(entries) => {
                out.push((path.clone(), node));
                for e in entries {
                    maps(&e.value, format!("{path}.{}", e.key.value.text()), out);
                }
            }
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    maps(item, format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut all = Vec::new();
    maps(&root, String::new(), &mut all);
    assert!(
        all.len() > 40,
        "fixture has mappings everywhere ({})",
        all.len()
    );

    for (path, node) in all {
        let span = node.referenced.span();
        let offset = span
            .byte_offset()
            .and_then(|o| usize::try_from(o).ok())
            .expect("string input has byte offsets");
        let insert = if text[offset..].starts_with('{') {
            (offset + 1, " zzz_unknown: 1,".to_owned())
        } else {
            let column = tree::pos(&node.referenced).column;
            (
                offset,
                format!("zzz_unknown: 1\n{}", " ".repeat(column - 1)),
            )
        };
        let mut mutated = text.clone();
        mutated.insert_str(insert.0, &insert.1);
        let errors = parse_str(Path::new("all-steps.yaml"), &mutated)
            .expect_err(&format!("unknown key in `{path}` must fail:\n{mutated}"));
        let is_step = path.starts_with(".steps[") && path.ends_with(']');
        if path != ".peers" && !is_step {
            let first = &errors[0];
            assert_eq!(
                first.key.as_deref(),
                Some("zzz_unknown"),
                "in `{path}`: {first}"
            );
            assert!(first.message.contains("key `zzz_unknown`"), "{first}");
        }
    }
}

#[test]
fn no_input_panics_prefixes_of_a_valid_file() {
    let text = std::fs::read_to_string(manifest_path("tests/fixtures/valid/all-steps.yaml"))
        .expect("fixture exists");
    for (end, _) in text.char_indices() {
        let result = parse_str(Path::new("p.yaml"), &text[..end]);
        if let Err(errors) = result {
            assert!(!errors.is_empty());
            for e in &errors {
                let _ = e.to_string();
            }
        }
    }
    for weird in [
        "",
        "\n",
        "# only a comment\n",
        "~",
        "---\n...\n",
        "[",
        "\t",
        "a: *x",
        "\u{feff}",
    ] {
        assert!(parse_str(Path::new("w.yaml"), weird).is_err(), "{weird:?}");
    }
}

#[test]
fn peer_both_expands_offerer_first_and_unknown_peers_are_listed() {
    let s = parse_str(
        Path::new("t.yaml"),
        &format!("{HEAD}  - get_stats: {{ peer: both }}\n  - close: {{ peer: bob }}\n"),
    )
    .expect("valid");
    assert_eq!(
        actions(&s.steps),
        vec![
            (A, Action::Command(PeerCommand::GetStats)),
            (B, Action::Command(PeerCommand::GetStats)),
            (B, Action::Command(PeerCommand::Close))
        ]
    );
    assert_eq!(
        s.steps.iter().map(|s| s.line).collect::<Vec<_>>(),
        [5, 5, 6]
    );

    let e = errors(&format!("{HEAD}  - close: {{ peer: carol }}\n"));
    assert_eq!(
        e[0].message,
        "unknown peer `carol`; this scenario declares `alice`, `bob`"
    );
    assert_eq!(
        (e[0].line, e[0].column, e[0].key.as_deref()),
        (5, 20, Some("peer"))
    );
    let e = messages(&format!("{HEAD}  - close: {{ peer: alcie }}\n"));
    assert_eq!(
        e,
        ["unknown peer `alcie`; this scenario declares `alice`, `bob` (did you mean `alice`?)"]
    );
}

#[test]
fn validation_collects_every_problem_of_a_file_in_line_order() {
    let e = errors(
        "description: d\npeers: { alice: offerer, bob: answerer }\ntimeout: 10\nsteps:\n  \
         - expect_connection_state: { peer: both, state: conected }\n  \
         - send: { peer: alice, label: echo, text: hi }\n",
    );
    let got: Vec<_> = e
        .iter()
        .map(|e| (e.line, e.column, e.key.as_deref(), e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                1,
                1,
                Some("feature"),
                "missing required top-level key `feature`: the feature group the scenario reports under, \
                 like `data-channels`"
            ),
            (
                3,
                10,
                Some("timeout"),
                "expected a duration like `10s` or `500ms` for `timeout`, found `10` (missing unit)"
            ),
            (
                5,
                51,
                Some("state"),
                "unknown connection state `conected`; expected one of `new`, `connecting`, \
                 `connected`, `disconnected`, `failed`, `closed` (did you mean `connected`?)"
            ),
            (
                6,
                33,
                Some("label"),
                "unknown data channel `echo`; no `create_data_channel` step creates it"
            ),
        ]
    );
}

#[test]
fn labels_must_be_created_by_an_earlier_step() {
    let e = messages(&format!(
        "{HEAD}  - expect_channel_open: {{ peer: bob, label: echo }}\n  \
         - create_data_channel: {{ peer: alice, label: echo }}\n  \
         - send: {{ peer: alice, label: ehco, text: x }}\n"
    ));
    assert_eq!(
        e,
        [
            "data channel `echo` is used before the `create_data_channel` step on line 6 creates it",
            "unknown data channel `ehco`; this scenario creates `echo` (did you mean `echo`?)"
        ]
    );
}

#[test]
fn payloads_durations_and_sizes_are_checked() {
    let e = messages(&format!(
        "{HEAD}  - create_data_channel: {{ peer: alice, label: c }}\n  \
         - send: {{ peer: alice, label: c }}\n  \
         - send: {{ peer: alice, label: c, text: x, binary_bytes: 1 }}\n  \
         - send: {{ peer: alice, label: c, binary_bytes: 17MiB }}\n  \
         - send: {{ peer: alice, label: c, text_bytes: 2KB }}\n  \
         - expect_message: {{ peer: bob, label: c, text: x, timeout: 0s }}\n  \
         - expect_message: {{ peer: bob, label: c, text: x, timeout: 11m }}\n  \
         - expect_message: {{ peer: bob, label: c, text: x, timeout: 5 sec }}\n"
    ));
    assert_eq!(
        e,
        [
            "step `send` needs one of `text`, `text_bytes` or `binary_bytes`",
            "step `send` takes exactly one of `text`, `text_bytes` or `binary_bytes`, found both \
             `text` and `binary_bytes`",
            "`binary_bytes` must be at most `16MiB`, found `17MiB`",
            "expected a size like `1000`, `20KiB` or `1MiB` for `text_bytes`, found `2KB` \
             (unknown unit `KB`; use `B`, `KiB` or `MiB`)",
            "`timeout` must be positive, found `0s`",
            "`timeout` must be at most `10m`, found `11m`",
            "expected a duration like `10s` or `500ms` for `timeout`, found `5 sec` (unknown \
             unit `sec`; use `ms`, `s` or `m`)",
        ]
    );
}

#[test]
fn peers_roles_and_negotiate_are_checked() {
    let e = messages(
        "feature: f\ndescription: d\npeers: { alice: offerer, bob: offerer, both: answerer }\n\
         steps:\n  - negotiate: { offerer: alice, answerer: alice }\n  \
         - negotiate: { offerer: both, answerer: bob }\n",
    );
    assert_eq!(
        e,
        [
            "`peers` must declare exactly two peers, one `offerer` and one `answerer`; found 3",
            "peers `alice` and `bob` are both `offerer`; one peer must be the `offerer` and the \
             other the `answerer`",
            "`both` cannot be a peer name: in steps it means both peers",
            "`negotiate` needs two different peers, but `offerer` and `answerer` are both `alice`",
            "`offerer` must name one peer, not `both`",
        ]
    );
    let e = messages("feature: f\ndescription: d\npeers: { alice: client }\nsteps: []\n");
    assert_eq!(
        e,
        [
            "`peers` must declare exactly two peers, one `offerer` and one `answerer`; found 1",
            "unknown role `client` for peer `alice`; expected one of `offerer`, `answerer`",
            "`steps` must contain at least one step",
        ]
    );
}

#[test]
fn data_channel_options_and_pc_config_are_checked() {
    let e = messages(&format!(
        "{HEAD}  - create_data_channel: {{ peer: alice, label: a, max_retransmits: 1, max_packet_life_time: 1 }}\n  \
         - create_data_channel: {{ peer: alice, label: b, negotiated: true }}\n  \
         - create_data_channel: {{ peer: alice, label: c, id: 3 }}\n  \
         - create_data_channel: {{ peer: alice, label: d, negotiated: true, id: 65535 }}\n  \
         - create_peer_connection: {{ peer: alice, bundle_policy: max_bundle, ice_transport_policy: none }}\n  \
         - create_peer_connection: {{ peer: bob, ice_servers: [{{ urls: [] }}, {{ urls: [\"turn:x\", \"http://y\"] }}] }}\n"
    ));
    assert_eq!(
        e,
        [
            "`max_retransmits` and `max_packet_life_time` cannot both be set: a channel limits \
             either retransmissions or time",
            "a channel with `negotiated: true` needs an `id`",
            "`id` only applies to negotiated channels; add `negotiated: true`",
            "`id` must be at most 65534, found 65535",
            "unknown bundle policy `max_bundle`; expected one of `balanced`, `max-compat`, \
             `max-bundle` (did you mean `max-bundle`?)",
            "unknown ICE transport policy `none`; expected one of `all`, `relay`",
            "`urls` must list at least one URL",
            "TURN server `turn:x` needs a `username` and a `credential`",
            "invalid ICE server URL `http://y`: expected a `stun:`, `stuns:`, `turn:` or `turns:` URL",
        ]
    );
}

#[test]
fn names_and_features_are_identifiers() {
    let head = HEAD.replace("feature: f", "feature: Data");
    let e = messages(&format!(
        "name: Echo Test\n{head}  - close: {{ peer: both }}\n"
    ));
    assert_eq!(
        e,
        [
            "invalid scenario name `Echo Test`: use only `a-z`, `0-9` and `-`",
            "invalid feature `Data`: use only `a-z`, `0-9` and `-`",
        ]
    );
    let e = parse_str(
        Path::new("dir/My Scenario.yaml"),
        &format!("{HEAD}  - close: {{ peer: both }}\n"),
    )
    .expect_err("stem is not a valid name");
    assert_eq!(
        e[0].message,
        "the scenario name `My Scenario` comes from the file name and may only contain `a-z`, \
         `0-9` and `-`; rename the file or set `name:`"
    );
}

#[test]
fn shape_problems_are_reported_before_serde_misreads_them() {
    // serde-saphyr would read the next step as the arguments of a bare `- close`.
    let e = errors(&format!(
        "{HEAD}  - close\n  - peer: alice\n  - {{}}\n  - close: {{ peer: a }}\n    send: {{ peer: b }}\n  - get_stats:\n"
    ));
    let got: Vec<_> = e
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (5, 5, "step `close` has no arguments; write it like `- close: { peer: both }`"),
            (
                6,
                11,
                "the arguments of step `peer` must be a mapping like `{ peer: both }`, found `alice`"
            ),
            (
                7,
                5,
                "a step must be a mapping with exactly one key, the step kind, like `- close: { \
                 peer: both }`; found an empty mapping"
            ),
            (
                9,
                5,
                "second key `send` in step `close`: is the `-` in front of `send` missing? (each \
                 step is a mapping with exactly one key, the step kind)"
            ),
            (10, 5, "step `get_stats` has no arguments; write it like `- get_stats: { peer: both }`"),
        ]
    );
    let e = messages("feature: f\nfeature: g\nsteps:\n  - close: { peer: a, peer: b }\n");
    assert_eq!(
        e,
        [
            "duplicate key `feature`; it is already set on line 1",
            "duplicate key `peer` in step `close`; it is already set on line 4",
        ]
    );
    assert_eq!(
        messages(&format!(
            "feature:\n{}  - close: {{ peer: both, timeout: }}\n  - close: ~\n",
            &HEAD[11..]
        )),
        [
            "missing value for `feature`",
            "missing value for `timeout` in step `close`",
            "step `close` has no arguments; write it like `- close: { peer: both }`",
        ]
    );
    assert_eq!(
        messages(&format!("{HEAD}  - ? [a]\n    : {{ peer: both }}\n")),
        ["a step kind must be a name like `close`, found a sequence"]
    );
    assert_eq!(
        messages(""),
        [
            "the file contains no scenario; expected a mapping with the keys `feature`, \
          `description`, `peers`, `steps`"
        ]
    );
    assert_eq!(
        messages("- a\n"),
        [
            "a scenario file must be a mapping with the keys `feature`, `description`, `peers`, \
          `steps`, found a sequence"
        ]
    );
}

#[test]
fn duplicate_names_across_files_point_at_the_second() {
    let dir = manifest_path("tests/fixtures/duplicate-name");
    let paths = discover(&dir).expect("fixture dir");
    let e = load_files(&paths).expect_err("duplicate names");
    assert_eq!(e.len(), 1);
    assert!(e[0].path.ends_with("second.yaml"));
    assert_eq!(e[0].key.as_deref(), Some("name"));
    let e = load_files(&[manifest_path("tests/fixtures/no-such-file.yaml")]).expect_err("missing");
    assert_eq!(e[0].line, 0);
    assert!(e[0]
        .message
        .starts_with("failed to read the scenario file: "));
}

#[test]
fn count_expands_i_outer_peers_inner_with_seeds_and_labels() {
    let s = parse_str(
        Path::new("t.yaml"),
        &format!(
            "{HEAD}  - create_data_channel: {{ peer: alice, label: \"c{{i}}-{{i}}\", count: 3 }}\n  \
             - send: {{ peer: both, label: \"c{{i}}-{{i}}\", count: 3, text_bytes: 4, expect_error: DataError }}\n  \
             - send: {{ peer: alice, label: c1-1, count: 2, text: \"{{i}}+{{i}}\" }}\n  \
             - create_data_channel: {{ peer: bob, label: \"one-{{i}}\", count: 1 }}\n  \
             - set_remote_description: {{ peer: bob, max_message_size: 0 }}\n"
        ),
    )
    .expect("valid");
    let labels: Vec<_> = s
        .steps
        .iter()
        .filter_map(|step| match &step.action {
            Action::Command(PeerCommand::CreateDataChannel { label, .. }) => Some(label.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(labels, ["c0-0", "c1-1", "c2-2", "one-0"]);
    let sends: Vec<_> = s
        .steps
        .iter()
        .filter_map(|step| match &step.action {
            Action::Command(PeerCommand::Send {
                label,
                payload,
                expect_error,
            }) => Some((
                step.peer,
                label.as_str(),
                payload.clone(),
                expect_error.clone(),
            )),
            _ => None,
        })
        .collect();
    let error = Some("DataError".to_owned());
    let generated = |seed| PayloadSpec::GeneratedText { bytes: 4, seed };
    let text = |t: &str| PayloadSpec::Text(t.into());
    assert_eq!(
        sends,
        [
            (A, "c0-0", generated(0), error.clone()),
            (B, "c0-0", generated(0), error.clone()),
            (A, "c1-1", generated(1), error.clone()),
            (B, "c1-1", generated(1), error.clone()),
            (A, "c2-2", generated(2), error.clone()),
            (B, "c2-2", generated(2), error),
            (A, "c1-1", text("0+0"), None),
            (A, "c1-1", text("1+1"), None),
        ]
    );
    assert!(s.steps[..3].iter().all(|step| step.line == 5));
    assert!(s.steps[3..9].iter().all(|step| step.line == 6));
    assert_eq!(
        s.steps.last().map(|step| step.action.clone()),
        Some(Action::Command(PeerCommand::SetRemoteDescription {
            munge: SdpMunge {
                max_message_size: Some(0),
                ..Default::default()
            },
            expect_error: false,
        }))
    );
}

#[test]
fn expanded_labels_are_checked_once_per_step() {
    let e = messages(&format!(
        "{HEAD}  - expect_channel_open: {{ peer: bob, label: \"c-{{i}}\", count: 3 }}\n  \
         - create_data_channel: {{ peer: alice, label: \"c-{{i}}\", count: 2 }}\n  \
         - close_data_channel: {{ peer: alice, label: \"c-{{i}}\", count: 3 }}\n  \
         - echo: {{ peer: bob, label: \"d-{{i}}\", count: 1 }}\n  \
         - expect_data_channel: {{ peer: bob, label: \"c-{{i}}\", count: 2, id: 3, max_retransmits: 1, max_packet_life_time: 1 }}\n  \
         - expect_data_channel: {{ peer: bob, label: c-0, id: 65535, protocol: \"{{i}}\" }}\n"
    ));
    assert_eq!(
        e,
        [
            "data channel `c-0` (`c-{i}` with `{i}` = 0; none of its 3 labels can be used here) is \
             used before the `create_data_channel` step on line 6 creates it",
            "unknown data channel `c-2` (`c-{i}` with `{i}` = 2); this scenario creates `c-0`, `c-1`",
            "unknown data channel `d-0` (`d-{i}` with `{i}` = 0); this scenario creates `c-0`, `c-1`",
            "`id` cannot be checked with `count: 2`: every channel has its own id, chosen by the \
             announcing peer",
            "`max_retransmits` and `max_packet_life_time` cannot both be set: a channel limits \
             either retransmissions or time",
            "`id` must be at most 65534, found 65535",
            "`{i}` is replaced only in `label` and `text`, not in `protocol`",
        ]
    );
    // Long lists of known labels are cut.
    let e = messages(&format!(
        "{HEAD}  - create_data_channel: {{ peer: alice, label: \"c-{{i}}\", count: 20 }}\n  \
         - echo: {{ peer: bob, label: d }}\n"
    ));
    assert_eq!(
        e,
        [
            "unknown data channel `d`; this scenario creates `c-0`, `c-1`, `c-2`, `c-3`, `c-4`, \
          `c-5`, `c-6`, `c-7` and 12 more"
        ]
    );
}

#[test]
fn new_step_values_are_checked() {
    let e = messages(&format!(
        "{HEAD}  - create_data_channel: {{ peer: alice, label: c }}\n  \
         - set_remote_description: {{ peer: bob, max_message_size: 5000000000 }}\n  \
         - require_max_message_size: {{ peer: both, at_least: 17MiB }}\n  \
         - bulk_transfer: {{ peer: carol, label: c, bytes: 1025MiB, chunk: 0, timeout: 0s }}\n  \
         - bulk_transfer: {{ peer: alice, label: c, bytes: 1, low_water: 2MiB }}\n  \
         - send: {{ peer: alice, label: c, text: x, expect_error: typeerror }}\n"
    ));
    assert_eq!(
        e,
        [
            "`max_message_size` must be at most `4294967295`, found `5000000000`",
            "`at_least` must be at most `16MiB`, found `17MiB`",
            "unknown peer `carol`; this scenario declares `alice`, `bob`",
            "`bytes` must be at most `1024MiB`, found `1025MiB`",
            "`chunk` must be at least `1`, found `0`",
            "`timeout` must be positive, found `0s`",
            "`low_water` must be less than `high_water` (1MiB (the default)), found `2MiB`: \
             sending resumes when `bufferedAmount` falls to `low_water` after it reached \
             `high_water`",
            "unknown error name `typeerror`; expected one of `TypeError`, `OperationError`, \
             `InvalidStateError`, `NotSupportedError`, `SyntaxError`, `RangeError`, \
             `InvalidAccessError`, `DataError`, `NetworkError` (did you mean `TypeError`?)",
        ]
    );
}

#[test]
fn unquoted_index_in_flow_style_gets_a_hint() {
    let e = errors(&format!(
        "{HEAD}  - create_data_channel: {{ peer: alice, label: chan-{{i}}, count: 2 }}\n"
    ));
    assert_eq!((e[0].line, e[0].column), (5, 53));
    assert_eq!(
        e[0].message,
        "invalid YAML: while parsing a flow mapping, did not find expected ',' or '}' (inside \
         `{ … }`, a value containing `{i}` must be quoted, like `label: \"chan-{i}\"`)"
    );
    let e = errors(&format!(
        "{HEAD}  - create_data_channel: {{ peer: alice, label: {{i}}, count: 2 }}\n"
    ));
    assert_eq!(
        (e[0].line, e[0].column, e[0].key.as_deref()),
        (5, 48, Some("label"))
    );
    assert_eq!(
        e[0].message,
        "`label` in step `create_data_channel` is `{i}` without quotes, which YAML reads as a \
         mapping; write `\"{i}\"`"
    );
}

/// The step kinds the code knows (from the parser's own list of expected kinds), the kinds
/// docs/scenario-reference.md documents, and the kinds the shipped scenarios use are one set.
#[test]
fn every_step_kind_is_documented_parsed_and_used_by_a_shipped_scenario() {
    let unknown = messages(&format!("{HEAD}  - no_such_step: {{ peer: alice }}\n"));
    let listed = unknown
        .iter()
        .find_map(|m| m.split_once("expected one of "))
        .map(|(_, list)| list.to_owned())
        .expect("an unknown step kind lists the known ones");
    let in_code: BTreeSet<String> = listed
        .split(", ")
        .map(|k| k.trim_matches('`').to_owned())
        .collect();
    assert!(in_code.len() >= 40, "{in_code:?}");

    let reference = std::fs::read_to_string(manifest_path("../../docs/scenario-reference.md"))
        .expect("docs/scenario-reference.md");
    let documented: BTreeSet<String> = reference
        .lines()
        .filter_map(|l| l.strip_prefix("#### "))
        .flat_map(|heading| heading.split(", "))
        .map(|k| k.trim().trim_matches('`').to_owned())
        .collect();
    assert_eq!(
        in_code, documented,
        "step kinds in the code (left) and in docs/scenario-reference.md's #### headings (right)"
    );

    let shipped = discover(&manifest_path("../../scenarios")).expect("scenarios/");
    let mut used = BTreeSet::new();
    for path in &shipped {
        let text = std::fs::read_to_string(path).expect("readable");
        for line in text.lines() {
            if let Some((kind, _)) = line
                .trim_start()
                .strip_prefix("- ")
                .and_then(|l| l.split_once(':'))
            {
                used.insert(kind.trim().to_owned());
            }
        }
    }
    let unused: Vec<&String> = in_code.iter().filter(|k| !used.contains(*k)).collect();
    assert!(
        unused.is_empty(),
        "step kinds no shipped scenario uses: {unused:?}"
    );
}
