//! Loader tests on whole files: the shipped scenarios, a fixture using every step kind, and
//! properties that must hold for any input (unknown keys anywhere fail; nothing panics).

use std::path::{Path, PathBuf};
use std::time::Duration;

use interop_protocol::{DataChannelInit, IceServer, PeerConnectionConfig};

use crate::plan::{Action, PayloadSpec, PeerId, Scenario, Step};
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

fn negotiation(offerer: PeerId, answerer: PeerId) -> Vec<(PeerId, Action)> {
    vec![
        (offerer, Action::CreateOffer),
        (offerer, Action::SetLocalDescription),
        (answerer, Action::SetRemoteDescription),
        (answerer, Action::CreateAnswer),
        (answerer, Action::SetLocalDescription),
        (offerer, Action::SetRemoteDescription),
    ]
}

#[test]
fn shipped_connect_scenario() {
    let s = load("../../scenarios/connect.yaml");
    assert_eq!(s.name, "connect");
    assert_eq!(s.feature, "basic-peer-connection");
    assert_eq!(s.peer_names, ["alice".to_owned(), "bob".to_owned()]);
    assert_eq!(s.steps.len(), 13);
    let create = Action::CreatePeerConnection {
        configuration: PeerConnectionConfig::default(),
    };
    assert_eq!(s.steps[0].action, create);
    assert_eq!((s.steps[0].peer, s.steps[1].peer), (A, B));
    assert_eq!(s.steps[0].line, s.steps[1].line);
    assert_eq!(
        s.steps[2].action,
        Action::CreateDataChannel {
            label: "probe".into(),
            init: DataChannelInit::default()
        }
    );
    assert_eq!(actions(&s.steps[3..9]), negotiation(A, B));
    assert!(s.steps[3..9]
        .iter()
        .all(|step| step.line == s.steps[3].line));
    let connected = Action::ExpectConnectionState {
        state: "connected".into(),
        timeout: Duration::from_secs(15),
    };
    assert_eq!(
        actions(&s.steps[9..]),
        vec![
            (A, connected.clone()),
            (B, connected),
            (A, Action::Close),
            (B, Action::Close)
        ]
    );
}

#[test]
fn shipped_datachannel_echo_scenario() {
    let s = load("../../scenarios/datachannel-echo.yaml");
    assert_eq!(s.name, "datachannel-echo");
    assert_eq!(s.feature, "data-channels");
    // setup 14 + 7 payloads x 4 + close 2
    assert_eq!(s.steps.len(), 44);
    assert_eq!(
        s.steps[2].action,
        Action::CreateDataChannel {
            label: "echo".into(),
            init: DataChannelInit {
                ordered: Some(true),
                ..Default::default()
            }
        }
    );
    assert_eq!(
        s.steps[11].action,
        Action::ExpectDataChannel {
            label: "echo".into(),
            timeout: Duration::from_secs(10)
        }
    );
    let payloads = [
        PayloadSpec::Text("hello".into()),
        PayloadSpec::GeneratedText { bytes: 1000 },
        PayloadSpec::GeneratedText { bytes: 20 * 1024 },
        PayloadSpec::Binary { bytes: 1 },
        PayloadSpec::Binary { bytes: 1024 },
        PayloadSpec::Binary { bytes: 20 * 1024 },
        PayloadSpec::Binary { bytes: 64 * 1024 },
    ];
    for (round, payload) in s.steps[14..42].chunks(4).zip(&payloads) {
        let send = Action::Send {
            label: "echo".into(),
            payload: payload.clone(),
        };
        let expect = Action::ExpectMessage {
            label: "echo".into(),
            payload: payload.clone(),
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
        vec![(A, Action::Close), (B, Action::Close)]
    );
}

#[test]
fn discover_finds_the_shipped_scenarios_and_they_load_together() {
    let paths = discover(&manifest_path("../../scenarios")).expect("scenarios dir");
    let names: Vec<_> = paths
        .iter()
        .filter_map(|p| p.file_name()?.to_str())
        .collect();
    assert_eq!(names, ["connect.yaml", "datachannel-echo.yaml"]);
    let scenarios = load_files(&paths).expect("shipped scenarios are valid");
    assert_eq!(scenarios.len(), 2);
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
    };
    let create = Action::CreatePeerConnection {
        configuration: config,
    };
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
    let dc = |label: &str, init: &DataChannelInit| Action::CreateDataChannel {
        label: label.into(),
        init: init.clone(),
    };
    let secs = Duration::from_secs;
    let text = PayloadSpec::Text("hé 🙂".into());
    let mut expected = vec![
        (A, create.clone()),
        (B, create),
        (A, dc("lossy", &lossy)),
        (A, dc("pre", &pre)),
        (B, dc("pre", &pre)),
    ];
    expected.extend(negotiation(A, B));
    expected.extend(negotiation(A, B));
    let connected = Action::ExpectConnectionState {
        state: "connected".into(),
        timeout: secs(60),
    };
    let pre_open = Action::ExpectChannelOpen {
        label: "pre".into(),
        timeout: secs(7),
    };
    expected.extend([
        (A, connected.clone()),
        (B, connected),
        (
            B,
            Action::ExpectIceConnectionState {
                state: "completed".into(),
                timeout: secs(7),
            },
        ),
        (
            B,
            Action::ExpectDataChannel {
                label: "lossy".into(),
                timeout: Duration::from_millis(500),
            },
        ),
        (A, pre_open.clone()),
        (B, pre_open),
        (
            A,
            Action::Send {
                label: "lossy".into(),
                payload: text.clone(),
            },
        ),
        (
            B,
            Action::ExpectMessage {
                label: "lossy".into(),
                payload: text,
                timeout: secs(7),
            },
        ),
        (
            B,
            Action::Send {
                label: "pre".into(),
                payload: PayloadSpec::GeneratedText { bytes: 2048 },
            },
        ),
        (
            A,
            Action::ExpectMessage {
                label: "pre".into(),
                payload: PayloadSpec::GeneratedText { bytes: 2048 },
                timeout: secs(3),
            },
        ),
        (
            A,
            Action::Send {
                label: "pre".into(),
                payload: PayloadSpec::Binary { bytes: 1 << 20 },
            },
        ),
        (
            B,
            Action::ExpectMessage {
                label: "pre".into(),
                payload: PayloadSpec::Binary { bytes: 1 << 20 },
                timeout: secs(7),
            },
        ),
        (A, Action::GetStats),
        (B, Action::GetStats),
        (
            A,
            Action::CloseDataChannel {
                label: "lossy".into(),
            },
        ),
        (
            B,
            Action::ExpectChannelClosed {
                label: "lossy".into(),
                timeout: secs(7),
            },
        ),
        (B, Action::Close),
    ]);
    assert_eq!(actions(&s.steps), expected);
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
            (A, Action::GetStats),
            (B, Action::GetStats),
            (B, Action::Close)
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
