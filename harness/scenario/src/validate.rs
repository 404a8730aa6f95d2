//! Pass 2: checks the raw scenario and resolves it into a [`crate::plan::Scenario`], collecting every
//! problem of the file instead of stopping at the first.
//!
//! Resolves peer names to [`PeerId`]s (expanding `both`), `negotiate` into its six steps,
//! durations, sizes and payloads; checks states, policies, data channel options, and that every
//! data channel label used was created by an earlier `create_data_channel` step.

use std::collections::HashMap;
use std::time::Duration;

use interop_protocol::{DataChannelInit, IceServer, PeerConnectionConfig};
use serde_saphyr::Spanned;

use crate::plan::{Action, PayloadSpec, PeerId, Scenario, Step};
use crate::raw::{
    RawCreateDataChannel, RawCreatePeerConnection, RawPeers, RawScenario, RawStep, SString,
};
use crate::suggest::{did_you_mean, expected_one_of, quote_list};
use crate::tree::{pos, short};
use crate::units::{parse_duration, parse_size, UnitError};
use crate::{Pos, ScenarioError, Source};

/// The expectation timeout when the scenario sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// `RTCPeerConnectionState` values.
pub const CONNECTION_STATES: &[&str] = &[
    "new",
    "connecting",
    "connected",
    "disconnected",
    "failed",
    "closed",
];
/// `RTCIceConnectionState` values.
pub const ICE_CONNECTION_STATES: &[&str] = &[
    "new",
    "checking",
    "connected",
    "completed",
    "disconnected",
    "failed",
    "closed",
];
const ICE_TRANSPORT_POLICIES: &[&str] = &["all", "relay"];
const BUNDLE_POLICIES: &[&str] = &["balanced", "max-compat", "max-bundle"];
const ROLES: &[&str] = &["offerer", "answerer"];
const PAYLOAD_KEYS: &[&str] = &["text", "text_bytes", "binary_bytes"];
/// Data channel labels and protocols are limited to 65535 bytes by the W3C API.
const MAX_LABEL_BYTES: usize = 65535;
/// The largest stream id a data channel can use (65535 is reserved).
const MAX_CHANNEL_ID: u16 = 65534;

/// A scenario that passed pass 2, with what [`crate::load_files`] needs to report a duplicate name.
pub(crate) struct Validated {
    pub scenario: Scenario,
    pub name_at: Pos,
    pub name_from_file: bool,
}

pub(crate) fn validate(
    src: &Source<'_>,
    raw: Spanned<RawScenario>,
) -> Result<Validated, Vec<ScenarioError>> {
    let root = pos(&raw.referenced);
    let raw = raw.value;
    let mut c = Checker {
        src,
        errors: Vec::new(),
        peers: HashMap::new(),
        declared: Vec::new(),
        created: HashMap::new(),
    };

    let (name, name_at, name_from_file) = match &raw.name {
        Some(name) => {
            c.identifier(name, "name", "scenario name");
            (name.value.clone(), at(name), false)
        }
        None => {
            let stem = src
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let start = Pos { line: 1, column: 1 };
            if !is_identifier(&stem) {
                c.error(
                    start,
                    Some("name"),
                    format!(
                        "the scenario name `{}` comes from the file name and may only contain \
                         `a-z`, `0-9` and `-`; rename the file or set `name:`",
                        short(&stem)
                    ),
                );
            }
            (stem, start, true)
        }
    };

    let feature = match &raw.feature {
        Some(feature) => {
            c.identifier(feature, "feature", "feature");
            feature.value.clone()
        }
        None => {
            c.missing(
                root,
                "feature",
                "the feature group the scenario reports under, like `data-channels`",
            );
            String::new()
        }
    };

    let description = match &raw.description {
        Some(d) if d.value.trim().is_empty() => {
            c.error(
                at(d),
                Some("description"),
                "`description` must not be empty",
            );
            String::new()
        }
        Some(d) => d.value.trim().to_owned(),
        None => {
            c.missing(
                root,
                "description",
                "one or more sentences saying what the scenario checks",
            );
            String::new()
        }
    };

    let peer_names = match &raw.peers {
        Some(peers) => c.peers(peers),
        None => {
            c.missing(
                root,
                "peers",
                "two peer names with their roles, like `{ alice: offerer, bob: answerer }`",
            );
            [String::new(), String::new()]
        }
    };

    let timeout = raw
        .timeout
        .as_ref()
        .and_then(|t| c.duration(t, "timeout"))
        .unwrap_or(DEFAULT_TIMEOUT);

    let mut steps = Vec::new();
    match &raw.steps {
        Some(list) if list.value.is_empty() => {
            c.error(
                at(list),
                Some("steps"),
                "`steps` must contain at least one step",
            );
        }
        Some(list) => {
            c.note_created_labels(&list.value);
            for (index, step) in list.value.iter().enumerate() {
                c.step(index, step, timeout, &mut steps);
            }
        }
        None => c.missing(root, "steps", "the list of steps to run"),
    }

    if !c.errors.is_empty() {
        let mut errors = c.errors;
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    Ok(Validated {
        scenario: Scenario {
            name,
            feature,
            description,
            path: src.path.to_path_buf(),
            peer_names,
            steps,
        },
        name_at,
        name_from_file,
    })
}

fn at<T>(spanned: &Spanned<T>) -> Pos {
    pos(&spanned.referenced)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

struct Checker<'a> {
    src: &'a Source<'a>,
    errors: Vec<ScenarioError>,
    /// Declared peer name -> id.
    peers: HashMap<String, PeerId>,
    /// Declared peer names in file order, for messages.
    declared: Vec<String>,
    /// Label -> (index, line) of the first step creating it.
    created: HashMap<String, (usize, usize)>,
}

impl Checker<'_> {
    fn error(&mut self, at: Pos, key: Option<&str>, message: impl Into<String>) {
        self.errors.push(self.src.error(at, key, message));
    }

    fn missing(&mut self, root: Pos, key: &str, what: &str) {
        let message = format!("missing required top-level key `{key}`: {what}");
        self.error(root, Some(key), message);
    }

    fn identifier(&mut self, value: &SString, key: &str, what: &str) {
        if !is_identifier(&value.value) {
            self.error(
                at(value),
                Some(key),
                format!(
                    "invalid {what} `{}`: use only `a-z`, `0-9` and `-`",
                    short(&value.value)
                ),
            );
        }
    }

    /// Checks `peers:` and returns the names, offerer first.
    fn peers(&mut self, peers: &Spanned<RawPeers>) -> [String; 2] {
        let errors_before = self.errors.len();
        let mut offerer: Option<&SString> = None;
        let mut answerer: Option<&SString> = None;
        for (name, role) in &peers.value.0 {
            self.declared.push(name.value.clone());
            if name.value.trim().is_empty() {
                self.error(at(name), Some("peers"), "peer names must not be empty");
            } else if name.value == "both" {
                self.error(
                    at(name),
                    Some("both"),
                    "`both` cannot be a peer name: in steps it means both peers",
                );
            }
            let slot = match role.value.as_str() {
                "offerer" => &mut offerer,
                "answerer" => &mut answerer,
                other => {
                    let message = format!(
                        "unknown role `{}` for peer `{}`{}",
                        short(other),
                        short(&name.value),
                        expected_one_of(other, ROLES)
                    );
                    self.error(at(role), Some(&name.value), message);
                    continue;
                }
            };
            match slot {
                Some(first) => {
                    let message = format!(
                        "peers `{}` and `{}` are both `{}`; one peer must be the `offerer` and \
                         the other the `answerer`",
                        short(&first.value),
                        short(&name.value),
                        role.value
                    );
                    self.error(at(role), Some(&name.value), message);
                }
                None => *slot = Some(name),
            }
        }
        let count = peers.value.0.len();
        if count != 2 {
            self.error(
                at(peers),
                Some("peers"),
                format!(
                    "`peers` must declare exactly two peers, one `offerer` and one `answerer`; \
                     found {count}"
                ),
            );
        }
        match (offerer, answerer) {
            (Some(o), Some(a)) if self.errors.len() == errors_before => {
                self.peers.insert(o.value.clone(), PeerId::OFFERER);
                self.peers.insert(a.value.clone(), PeerId::ANSWERER);
                [o.value.clone(), a.value.clone()]
            }
            _ => {
                // `peers` is broken (and reported): resolve every declared name by position so
                // that steps are still checked without follow-up "unknown peer" errors.
                for (i, name) in self.declared.iter().enumerate() {
                    self.peers.entry(name.clone()).or_insert(PeerId(i.min(1)));
                }
                [String::new(), String::new()]
            }
        }
    }

    /// The peers a `peer:` value designates: one, or both (offerer first) for `both`.
    fn peer(&mut self, peer: &SString) -> Vec<PeerId> {
        if peer.value == "both" {
            return vec![PeerId::OFFERER, PeerId::ANSWERER];
        }
        self.one_peer(peer, "peer").into_iter().collect()
    }

    fn one_peer(&mut self, peer: &SString, key: &str) -> Option<PeerId> {
        let message = if peer.value == "both" {
            format!("`{key}` must name one peer, not `both`")
        } else if let Some(id) = self.peers.get(&peer.value) {
            return Some(*id);
        } else {
            let mut message = format!(
                "unknown peer `{}`; this scenario declares {}",
                short(&peer.value),
                quote_list(&self.declared)
            );
            if let Some(close) = did_you_mean(&peer.value, &self.declared) {
                message.push_str(&format!(" (did you mean `{close}`?)"));
            }
            message
        };
        self.error(at(peer), Some(key), message);
        None
    }

    fn duration(&mut self, value: &SString, key: &str) -> Option<Duration> {
        let text = short(&value.value);
        let expected =
            format!("expected a duration like `10s` or `500ms` for `{key}`, found `{text}`");
        let message = match parse_duration(&value.value) {
            Ok(duration) => return Some(duration),
            Err(UnitError::MissingUnit) => format!("{expected} (missing unit)"),
            Err(UnitError::UnknownUnit(unit)) => {
                format!(
                    "{expected} (unknown unit `{}`; use `ms`, `s` or `m`)",
                    short(&unit)
                )
            }
            Err(UnitError::Malformed) => expected,
            Err(UnitError::Zero) => format!("`{key}` must be positive, found `{text}`"),
            Err(UnitError::TooLarge) => format!("`{key}` must be at most `10m`, found `{text}`"),
        };
        self.error(at(value), Some(key), message);
        None
    }

    fn size(&mut self, value: &SString, key: &str) -> Option<usize> {
        let text = short(&value.value);
        let expected =
            format!("expected a size like `1000`, `20KiB` or `1MiB` for `{key}`, found `{text}`");
        let message = match parse_size(&value.value) {
            Ok(bytes) => return Some(bytes),
            Err(UnitError::UnknownUnit(unit)) => {
                format!(
                    "{expected} (unknown unit `{}`; use `B`, `KiB` or `MiB`)",
                    short(&unit)
                )
            }
            Err(UnitError::TooLarge) => format!("`{key}` must be at most `16MiB`, found `{text}`"),
            Err(UnitError::MissingUnit | UnitError::Malformed | UnitError::Zero) => expected,
        };
        self.error(at(value), Some(key), message);
        None
    }

    fn one_of(&mut self, value: &SString, key: &str, what: &str, allowed: &[&str]) -> bool {
        if allowed.contains(&value.value.as_str()) {
            return true;
        }
        let message = format!(
            "unknown {what} `{}`{}",
            short(&value.value),
            expected_one_of(&value.value, allowed)
        );
        self.error(at(value), Some(key), message);
        false
    }

    /// Checks a state of `expect_connection_state` / `expect_ice_connection_state`, pointing
    /// to the other step when the state belongs to the other state machine.
    fn state(&mut self, state: &SString, ice: bool) {
        let (what, allowed, other) = if ice {
            let other = (
                "a connection state",
                CONNECTION_STATES,
                "expect_connection_state",
            );
            ("ICE connection state", ICE_CONNECTION_STATES, other)
        } else {
            let other = (
                "an ICE connection state",
                ICE_CONNECTION_STATES,
                "expect_ice_connection_state",
            );
            ("connection state", CONNECTION_STATES, other)
        };
        let value = state.value.as_str();
        if allowed.contains(&value) {
            return;
        }
        let (other_what, other_allowed, other_step) = other;
        let mut message = format!("unknown {what} `{}`", short(value));
        if other_allowed.contains(&value) {
            message.push_str(&format!(" (`{value}` is {other_what}: use `{other_step}`)"));
        }
        message.push_str(&expected_one_of(value, allowed));
        self.error(at(state), Some("state"), message);
    }

    fn expectation_timeout(&mut self, value: Option<&SString>, default: Duration) -> Duration {
        value
            .and_then(|t| self.duration(t, "timeout"))
            .unwrap_or(default)
    }

    fn note_created_labels(&mut self, steps: &[Spanned<RawStep>]) {
        for (index, step) in steps.iter().enumerate() {
            if let RawStep::CreateDataChannel(args) = &step.value {
                self.created
                    .entry(args.label.value.clone())
                    .or_insert((index, at(&args.label).line));
            }
        }
    }

    /// Checks that the label of a step at `index` was created by an earlier step.
    fn known_label(&mut self, label: &SString, index: usize) -> String {
        let message = match self.created.get(&label.value) {
            Some((created, _)) if *created < index => return label.value.clone(),
            Some((_, line)) => format!(
                "data channel `{}` is used before the `create_data_channel` step on line {line} \
                 creates it",
                short(&label.value)
            ),
            None => {
                let mut known: Vec<&str> = self.created.keys().map(String::as_str).collect();
                known.sort_unstable();
                let mut message = format!("unknown data channel `{}`; ", short(&label.value));
                if known.is_empty() {
                    message.push_str("no `create_data_channel` step creates it");
                } else {
                    message.push_str(&format!("this scenario creates {}", quote_list(&known)));
                    if let Some(close) = did_you_mean(&label.value, &known) {
                        message.push_str(&format!(" (did you mean `{close}`?)"));
                    }
                }
                message
            }
        };
        self.error(at(label), Some("label"), message);
        label.value.clone()
    }

    /// The payload of a `send` / `expect_message`: exactly one of the payload keys.
    fn payload(
        &mut self,
        kind: &str,
        step_at: Pos,
        keys: [Option<&SString>; 3],
    ) -> Option<PayloadSpec> {
        let given: Vec<(&str, &SString)> = PAYLOAD_KEYS
            .iter()
            .zip(keys)
            .filter_map(|(k, v)| v.map(|v| (*k, v)))
            .collect();
        match given.as_slice() {
            [] => {
                self.error(
                    step_at,
                    Some(kind),
                    format!("step `{kind}` needs one of `text`, `text_bytes` or `binary_bytes`"),
                );
                None
            }
            [(key, value)] => match *key {
                "text" if value.value.len() > crate::units::MAX_SIZE as usize => {
                    self.error(at(value), Some("text"), "`text` must be at most 16MiB");
                    None
                }
                "text" => Some(PayloadSpec::Text(value.value.clone())),
                "text_bytes" => self
                    .size(value, key)
                    .map(|bytes| PayloadSpec::GeneratedText { bytes }),
                _ => self
                    .size(value, key)
                    .map(|bytes| PayloadSpec::Binary { bytes }),
            },
            [(first, _), rest @ ..] => {
                for (key, value) in rest {
                    let message = format!(
                        "step `{kind}` takes exactly one of `text`, `text_bytes` or \
                         `binary_bytes`, found both `{first}` and `{key}`"
                    );
                    self.error(at(value), Some(key), message);
                }
                None
            }
        }
    }

    fn peer_connection_config(&mut self, args: &RawCreatePeerConnection) -> PeerConnectionConfig {
        let mut config = PeerConnectionConfig::default();
        for server in args.ice_servers.iter().flatten() {
            let urls = &server.value.urls;
            if urls.value.is_empty() {
                self.error(at(urls), Some("urls"), "`urls` must list at least one URL");
            }
            for url in &urls.value {
                let scheme = url.value.split(':').next().unwrap_or_default();
                let is_turn = matches!(scheme, "turn" | "turns");
                if !is_turn && !matches!(scheme, "stun" | "stuns") {
                    self.error(
                        at(url),
                        Some("urls"),
                        format!(
                            "invalid ICE server URL `{}`: expected a `stun:`, `stuns:`, `turn:` \
                             or `turns:` URL",
                            short(&url.value)
                        ),
                    );
                } else if is_turn
                    && (server.value.username.is_none() || server.value.credential.is_none())
                {
                    self.error(
                        at(url),
                        Some("urls"),
                        format!(
                            "TURN server `{}` needs a `username` and a `credential`",
                            short(&url.value)
                        ),
                    );
                }
            }
            config.ice_servers.push(IceServer {
                urls: urls.value.iter().map(|u| u.value.clone()).collect(),
                username: server.value.username.clone(),
                credential: server.value.credential.clone(),
            });
        }
        if let Some(policy) = &args.ice_transport_policy {
            let what = "ICE transport policy";
            if self.one_of(policy, "ice_transport_policy", what, ICE_TRANSPORT_POLICIES) {
                config.ice_transport_policy = Some(policy.value.clone());
            }
        }
        if let Some(policy) = &args.bundle_policy {
            if self.one_of(policy, "bundle_policy", "bundle policy", BUNDLE_POLICIES) {
                config.bundle_policy = Some(policy.value.clone());
            }
        }
        config
    }

    fn data_channel_init(&mut self, args: &RawCreateDataChannel) -> DataChannelInit {
        if args.label.value.len() > MAX_LABEL_BYTES {
            self.error(
                at(&args.label),
                Some("label"),
                "`label` must be at most 65535 bytes",
            );
        }
        if let Some(protocol) = &args.protocol {
            if protocol.value.len() > MAX_LABEL_BYTES {
                self.error(
                    at(protocol),
                    Some("protocol"),
                    "`protocol` must be at most 65535 bytes",
                );
            }
        }
        if let (Some(_), Some(life)) = (&args.max_retransmits, &args.max_packet_life_time) {
            self.error(
                at(life),
                Some("max_packet_life_time"),
                "`max_retransmits` and `max_packet_life_time` cannot both be set: a channel \
                 limits either retransmissions or time",
            );
        }
        let negotiated = args.negotiated.as_ref().is_some_and(|n| n.value);
        match (&args.negotiated, &args.id) {
            (Some(n), None) if n.value => self.error(
                at(n),
                Some("negotiated"),
                "a channel with `negotiated: true` needs an `id`",
            ),
            (_, Some(id)) if !negotiated => self.error(
                at(id),
                Some("id"),
                "`id` only applies to negotiated channels; add `negotiated: true`",
            ),
            (_, Some(id)) if id.value > MAX_CHANNEL_ID => self.error(
                at(id),
                Some("id"),
                format!("`id` must be at most {MAX_CHANNEL_ID}, found {}", id.value),
            ),
            _ => {}
        }
        DataChannelInit {
            ordered: args.ordered,
            max_retransmits: args.max_retransmits.as_ref().map(|v| v.value),
            max_packet_life_time: args.max_packet_life_time.as_ref().map(|v| v.value),
            protocol: args.protocol.as_ref().map(|p| p.value.clone()),
            negotiated: args.negotiated.as_ref().map(|n| n.value),
            id: args.id.as_ref().map(|i| i.value),
        }
    }

    /// Checks one step and appends what it expands to.
    fn step(
        &mut self,
        index: usize,
        step: &Spanned<RawStep>,
        default_timeout: Duration,
        out: &mut Vec<Step>,
    ) {
        let step_at = at(step);
        let line = step_at.line;
        let mut push = |peers: Vec<PeerId>, action: Action| {
            for peer in peers {
                out.push(Step {
                    line,
                    peer,
                    action: action.clone(),
                });
            }
        };
        match &step.value {
            RawStep::CreatePeerConnection(args) => {
                let peers = self.peer(&args.peer);
                let configuration = self.peer_connection_config(args);
                push(peers, Action::CreatePeerConnection { configuration });
            }
            RawStep::CreateDataChannel(args) => {
                let peers = self.peer(&args.peer);
                let init = self.data_channel_init(args);
                let label = args.label.value.clone();
                push(peers, Action::CreateDataChannel { label, init });
            }
            RawStep::Negotiate(args) => {
                let offerer = self.one_peer(&args.offerer, "offerer");
                let answerer = self.one_peer(&args.answerer, "answerer");
                match (offerer, answerer) {
                    (Some(o), Some(a)) if o == a => self.error(
                        at(&args.answerer),
                        Some("answerer"),
                        format!(
                            "`negotiate` needs two different peers, but `offerer` and \
                             `answerer` are both `{}`",
                            short(&args.answerer.value)
                        ),
                    ),
                    (Some(o), Some(a)) => {
                        push(vec![o], Action::CreateOffer);
                        push(vec![o], Action::SetLocalDescription);
                        push(vec![a], Action::SetRemoteDescription);
                        push(vec![a], Action::CreateAnswer);
                        push(vec![a], Action::SetLocalDescription);
                        push(vec![o], Action::SetRemoteDescription);
                    }
                    _ => {}
                }
            }
            RawStep::CreateOffer(args) => push(self.peer(&args.peer), Action::CreateOffer),
            RawStep::CreateAnswer(args) => push(self.peer(&args.peer), Action::CreateAnswer),
            RawStep::SetLocalDescription(args) => {
                push(self.peer(&args.peer), Action::SetLocalDescription)
            }
            RawStep::SetRemoteDescription(args) => {
                push(self.peer(&args.peer), Action::SetRemoteDescription)
            }
            RawStep::GetStats(args) => push(self.peer(&args.peer), Action::GetStats),
            RawStep::Close(args) => push(self.peer(&args.peer), Action::Close),
            RawStep::ExpectConnectionState(args) | RawStep::ExpectIceConnectionState(args) => {
                let peers = self.peer(&args.peer);
                let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
                let state = args.state.value.clone();
                let action = if let RawStep::ExpectConnectionState(_) = step.value {
                    self.state(&args.state, false);
                    Action::ExpectConnectionState { state, timeout }
                } else {
                    self.state(&args.state, true);
                    Action::ExpectIceConnectionState { state, timeout }
                };
                push(peers, action);
            }
            RawStep::ExpectDataChannel(args)
            | RawStep::ExpectChannelOpen(args)
            | RawStep::ExpectChannelClosed(args) => {
                let peers = self.peer(&args.peer);
                let label = self.known_label(&args.label, index);
                let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
                let action = match step.value {
                    RawStep::ExpectDataChannel(_) => Action::ExpectDataChannel { label, timeout },
                    RawStep::ExpectChannelOpen(_) => Action::ExpectChannelOpen { label, timeout },
                    _ => Action::ExpectChannelClosed { label, timeout },
                };
                push(peers, action);
            }
            RawStep::Send(args) => {
                let peers = self.peer(&args.peer);
                let label = self.known_label(&args.label, index);
                let keys = [&args.text, &args.text_bytes, &args.binary_bytes].map(Option::as_ref);
                if let Some(payload) = self.payload("send", step_at, keys) {
                    push(peers, Action::Send { label, payload });
                }
            }
            RawStep::ExpectMessage(args) => {
                let peers = self.peer(&args.peer);
                let label = self.known_label(&args.label, index);
                let keys = [&args.text, &args.text_bytes, &args.binary_bytes].map(Option::as_ref);
                let payload = self.payload("expect_message", step_at, keys);
                let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
                if let Some(payload) = payload {
                    push(
                        peers,
                        Action::ExpectMessage {
                            label,
                            payload,
                            timeout,
                        },
                    );
                }
            }
            RawStep::CloseDataChannel(args) => {
                let peers = self.peer(&args.peer);
                let label = self.known_label(&args.label, index);
                push(peers, Action::CloseDataChannel { label });
            }
        }
    }
}
