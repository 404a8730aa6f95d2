//! Pass 2: checks the raw scenario and resolves it into a [`crate::plan::Scenario`], collecting every
//! problem of the file instead of stopping at the first.
//!
//! Resolves peer names to [`PeerId`]s (expanding `both`), `negotiate` into its six steps,
//! `count` into its repetitions (`{i}` replaced in `label` and `text`, generated payloads
//! seeded with `i`; `i` outer, peers inner), durations, sizes and payloads; checks states,
//! policies, data channel options, channel properties, error names, bulk transfer thresholds,
//! and that every data channel label used (each expanded one) was created by an earlier
//! `create_data_channel` step. A step's problems are reported once, not once per repetition.

use std::collections::HashMap;
use std::time::Duration;

use interop_protocol::{DataChannelInit, IceServer, PeerConnectionConfig};
use serde_saphyr::Spanned;

use crate::check::{at, is_identifier, Checker, Created};
use crate::connectivity::ConnectivityStep;
use crate::media::MediaStep;
use crate::plan::{
    Action, Bulk, ChannelProperties, Check, Expectation, MessageCounts, PayloadSpec, PeerCommand,
    PeerId, Scenario, SdpMunge, Step,
};
use crate::raw::{
    RawBulkTransfer, RawChannel, RawCreateDataChannel, RawCreatePeerConnection, RawExpectChannel,
    RawExpectDataChannel, RawExpectDataChannelStats, RawExpectMessage, RawExpectState,
    RawNegotiate, RawPeerOnly, RawPeers, RawRequireMaxMessageSize, RawScenario, RawSend,
    RawSetLocalDescription, RawSetRemoteDescription, RawStep, SString,
};
use crate::suggest::{did_you_mean, expected_one_of, quote_list};
use crate::tree::{pos, short};
use crate::units::{format_size, KIB, MAX_SIZE, MIB};
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
/// The most steps one `count:` may expand to.
pub const MAX_COUNT: u32 = 1024;
/// Replaced by the index of the repetition in `label` and `text` of steps with `count`.
const INDEX: &str = "{i}";
/// `DOMException` / `Error` names a `send` may be expected to fail with.
pub const SEND_ERRORS: &[&str] = &[
    "TypeError",
    "OperationError",
    "InvalidStateError",
    "NotSupportedError",
    "SyntaxError",
    "RangeError",
    "InvalidAccessError",
    "DataError",
    "NetworkError",
];
/// `bulk_transfer` defaults and limits.
pub const DEFAULT_CHUNK: u64 = 16 * KIB;
pub const MAX_CHUNK: u64 = 256 * KIB;
pub const DEFAULT_HIGH_WATER: u64 = MIB;
pub const DEFAULT_LOW_WATER: u64 = 256 * KIB;
/// The most a `bulk_transfer` may send, and the largest `high_water` / `low_water`.
pub const MAX_BULK_BYTES: u64 = 1024 * MIB;
/// The largest `max_message_size` a description may be munged to (SDP values are 32-bit in
/// practice; 0 means "no limit").
const MAX_MUNGED_MESSAGE_SIZE: u64 = u32::MAX as u64;

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
        media: HashMap::new(),
    };

    let (name, name_at, name_from_file) = c.scenario_name(raw.name.as_ref());
    let feature = c.feature(root, raw.feature.as_ref());
    let description = c.description(root, raw.description.as_ref());
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
    let steps = c.steps(root, raw.steps.as_ref(), timeout);

    if !c.errors.is_empty() {
        let mut errors = c.errors;
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    Ok(Validated {
        scenario: Scenario {
            base_name: name.clone(),
            name,
            parameters: Vec::new(),
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

/// The top-level keys of [`validate`] other than `peers` and `timeout`.
impl Checker<'_> {
    /// `name:`, or the file's stem without it: the name, where it is, and whether it came from
    /// the file name.
    fn scenario_name(&mut self, name: Option<&SString>) -> (String, Pos, bool) {
        match name {
            Some(name) => {
                self.identifier(name, "name", "scenario name");
                (name.value.clone(), at(name), false)
            }
            None => {
                let stem = self
                    .src
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let start = Pos { line: 1, column: 1 };
                if !is_identifier(&stem) {
                    self.error(
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
        }
    }

    /// `feature:` (required).
    fn feature(&mut self, root: Pos, feature: Option<&SString>) -> String {
        match feature {
            Some(feature) => {
                self.identifier(feature, "feature", "feature");
                feature.value.clone()
            }
            None => {
                self.missing(
                    root,
                    "feature",
                    "the feature group the scenario reports under, like `data-channels`",
                );
                String::new()
            }
        }
    }

    /// `description:` (required, not empty), trimmed.
    fn description(&mut self, root: Pos, description: Option<&SString>) -> String {
        match description {
            Some(d) if d.value.trim().is_empty() => {
                self.error(
                    at(d),
                    Some("description"),
                    "`description` must not be empty",
                );
                String::new()
            }
            Some(d) => d.value.trim().to_owned(),
            None => {
                self.missing(
                    root,
                    "description",
                    "one or more sentences saying what the scenario checks",
                );
                String::new()
            }
        }
    }

    /// `steps:` (required, at least one), each checked with `timeout` as its default.
    fn steps(
        &mut self,
        root: Pos,
        steps: Option<&Spanned<Vec<Spanned<RawStep>>>>,
        timeout: Duration,
    ) -> Vec<Step> {
        let mut out = Vec::new();
        match steps {
            Some(list) if list.value.is_empty() => {
                self.error(
                    at(list),
                    Some("steps"),
                    "`steps` must contain at least one step",
                );
            }
            Some(list) => {
                self.note_created_labels(&list.value);
                self.note_added_media(&list.value);
                for (index, step) in list.value.iter().enumerate() {
                    self.step(index, step, timeout, &mut out);
                }
            }
            None => self.missing(root, "steps", "the list of steps to run"),
        }
        out
    }
}

/// A step's `count:`, resolved.
#[derive(Clone, Copy)]
struct Count {
    /// How many times the step runs (1 when `count` is absent or invalid).
    n: u32,
    /// Whether `count` was written (so `{i}` is replaced).
    given: bool,
}

impl Count {
    const ONE: Count = Count { n: 1, given: false };
}

/// `template` with every `{i}` replaced by `i`.
fn expand(template: &str, i: u32) -> String {
    template.replace(INDEX, &i.to_string())
}

/// The payload of repetition `i`: `{i}` in text replaced, generated payloads seeded with `i`.
fn instantiate(payload: &PayloadSpec, i: u32) -> PayloadSpec {
    match payload {
        PayloadSpec::Text(text) => PayloadSpec::Text(expand(text, i)),
        PayloadSpec::GeneratedText { bytes, .. } => PayloadSpec::GeneratedText {
            bytes: *bytes,
            seed: i,
        },
        PayloadSpec::Binary { bytes, .. } => PayloadSpec::Binary {
            bytes: *bytes,
            seed: i,
        },
    }
}

/// Why a label cannot be used by a step.
enum LabelProblem {
    /// Created, but on this line, by a later step.
    CreatedLater(usize),
    Unknown,
}

impl Checker<'_> {
    fn missing(&mut self, root: Pos, key: &str, what: &str) {
        let message = format!("missing required top-level key `{key}`: {what}");
        self.error(root, Some(key), message);
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

    /// `count:` of a step: from 1 to [`MAX_COUNT`].
    fn count(&mut self, count: Option<&Spanned<u32>>) -> Count {
        match count {
            None => Count::ONE,
            Some(c) if (1..=MAX_COUNT).contains(&c.value) => Count {
                n: c.value,
                given: true,
            },
            Some(c) => {
                let message = format!("`count` must be from 1 to {MAX_COUNT}, found {}", c.value);
                self.error(at(c), Some("count"), message);
                Count { n: 1, given: true }
            }
        }
    }

    /// `{i}` in `label` or `text` is replaced only in steps with `count`.
    fn index_needs_count(&mut self, value: &SString, key: &str, kind: &str, count: Count) {
        if count.given || !value.value.contains(INDEX) {
            return;
        }
        let message = if kind == "bulk_transfer" {
            format!(
                "`{INDEX}` in `{key}` is replaced only in steps with `count`, which \
                 `{kind}` does not take"
            )
        } else {
            format!(
                "`{INDEX}` in `{key}` is replaced only in steps with `count`; add `count: N` to \
                 repeat the step N times with `{INDEX}` = 0 to N-1, or remove `{INDEX}`"
            )
        };
        self.error(at(value), Some(key), message);
    }

    /// `{i}` in a key where it is never replaced.
    fn no_index(&mut self, value: &SString, key: &str) {
        if value.value.contains(INDEX) {
            let message =
                format!("`{INDEX}` is replaced only in `label` and `text`, not in `{key}`");
            self.error(at(value), Some(key), message);
        }
    }

    /// Records every label a `create_data_channel` step creates (with `count`, each of them),
    /// so that steps can be checked against steps later in the file for better messages.
    fn note_created_labels(&mut self, steps: &[Spanned<RawStep>]) {
        for (index, step) in steps.iter().enumerate() {
            if let RawStep::CreateDataChannel(args) = &step.value {
                let line = at(&args.label).line;
                let labels: Vec<String> = match &args.count {
                    // An invalid count is reported by the step; still note its labels.
                    Some(count) => (0..count.value.clamp(1, MAX_COUNT))
                        .map(|i| expand(&args.label.value, i))
                        .collect(),
                    None => vec![args.label.value.clone()],
                };
                for label in labels {
                    let order = self.created.len();
                    self.created
                        .entry(label)
                        .or_insert(Created { index, line, order });
                }
            }
        }
    }

    fn label_problem(&self, label: &str, index: usize) -> Option<LabelProblem> {
        match self.created.get(label) {
            Some(created) if created.index < index => None,
            Some(created) => Some(LabelProblem::CreatedLater(created.line)),
            None => Some(LabelProblem::Unknown),
        }
    }

    /// The labels created so far in the file, in file order, for messages.
    fn known_labels(&self) -> Vec<&str> {
        let mut known: Vec<(&str, usize)> = self
            .created
            .iter()
            .map(|(label, created)| (label.as_str(), created.order))
            .collect();
        known.sort_unstable_by_key(|(_, order)| *order);
        known.into_iter().map(|(label, _)| label).collect()
    }

    /// Checks that the label of a step at `index` was created by an earlier step.
    fn known_label(&mut self, label: &SString, index: usize) -> String {
        self.known_labels_of(label, Count::ONE, index).remove(0)
    }

    /// The labels of the `count.n` repetitions of a step at `index` (`{i}` replaced when
    /// `count` is given); checks that an earlier step created each of them. Reports at most
    /// one problem per step.
    fn known_labels_of(&mut self, label: &SString, count: Count, index: usize) -> Vec<String> {
        if !count.given && label.value.contains(INDEX) {
            // Reported by `index_needs_count`; the literal label is unknown for that reason.
            return vec![label.value.clone()];
        }
        let templated = count.given && label.value.contains(INDEX);
        let labels: Vec<String> = if templated {
            (0..count.n).map(|i| expand(&label.value, i)).collect()
        } else {
            vec![label.value.clone(); count.n as usize]
        };
        let problems: Vec<(usize, LabelProblem)> = labels
            .iter()
            .enumerate()
            .filter_map(|(i, l)| Some((i, self.label_problem(l, index)?)))
            .collect();
        let Some((i, problem)) = problems.first() else {
            return labels;
        };
        let name = short(&labels[*i]);
        let origin = if templated {
            let of = match problems.len() {
                1 => String::new(),
                all if all == labels.len() => {
                    format!("; none of its {all} labels can be used here")
                }
                some => format!(
                    "; {some} of its {} labels cannot be used here",
                    labels.len()
                ),
            };
            format!(" (`{}` with `{INDEX}` = {i}{of})", short(&label.value))
        } else {
            String::new()
        };
        let message = match problem {
            LabelProblem::CreatedLater(line) => format!(
                "data channel `{name}`{origin} is used before the `create_data_channel` step on \
                 line {line} creates it"
            ),
            LabelProblem::Unknown => {
                let known = self.known_labels();
                let mut message = format!("unknown data channel `{name}`{origin}; ");
                if known.is_empty() {
                    message.push_str("no `create_data_channel` step creates it");
                } else {
                    message.push_str(&format!("this scenario creates {}", label_list(&known)));
                    // Near misses among generated labels are not typos of the template.
                    if !templated {
                        if let Some(close) = did_you_mean(&label.value, &known) {
                            message.push_str(&format!(" (did you mean `{close}`?)"));
                        }
                    }
                }
                message
            }
        };
        self.error(at(label), Some("label"), message);
        labels
    }

    /// The payload of a `send` / `expect_message`: exactly one of the payload keys. Generated
    /// payloads have seed 0 here; [`instantiate`] makes repetition `i` of it.
    fn payload(
        &mut self,
        kind: &str,
        step_at: Pos,
        keys: [Option<&SString>; 3],
        count: Count,
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
                "text" if value.value.len() > MAX_SIZE as usize => {
                    self.error(at(value), Some("text"), "`text` must be at most 16MiB");
                    None
                }
                "text" => {
                    self.index_needs_count(value, "text", kind, count);
                    Some(PayloadSpec::Text(value.value.clone()))
                }
                "text_bytes" => self
                    .message_size(value, key)
                    .map(|bytes| PayloadSpec::GeneratedText { bytes, seed: 0 }),
                _ => self
                    .message_size(value, key)
                    .map(|bytes| PayloadSpec::Binary { bytes, seed: 0 }),
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
        let mut ok = true;
        config.certificate = self.optional_one_of(
            args.certificate.as_ref(),
            "certificate",
            "certificate key",
            crate::connectivity::CERTIFICATE_KEYS,
            &mut ok,
        );
        config.mdns = args.mdns;
        config.ice_tcp = args.ice_tcp;
        config
    }

    /// The init of a `create_data_channel` step repeated `count.n` times: with `count`, the
    /// label must contain `{i}` (labels identify channels), and channel `i` gets `id + i`.
    fn data_channel_init(&mut self, args: &RawCreateDataChannel, count: Count) -> DataChannelInit {
        let label = &args.label;
        if count.n > 1 && !label.value.contains(INDEX) {
            self.error(
                at(label),
                Some("label"),
                format!(
                    "with `count: {}`, `label` must contain `{INDEX}`: labels identify data \
                     channels, so each one needs its own, like `{}-{INDEX}`",
                    count.n,
                    short(&label.value)
                ),
            );
        }
        // `{i}` = n-1 gives the longest label.
        let longest = if count.given {
            expand(&label.value, count.n - 1)
        } else {
            label.value.clone()
        };
        if longest.len() > MAX_LABEL_BYTES {
            self.error(
                at(label),
                Some("label"),
                "`label` must be at most 65535 bytes",
            );
        }
        if let Some(protocol) = &args.protocol {
            self.protocol(protocol);
        }
        if let (Some(_), Some(life)) = (&args.max_retransmits, &args.max_packet_life_time) {
            self.both_limits(life);
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
            (_, Some(id)) if u32::from(id.value) + count.n - 1 > u32::from(MAX_CHANNEL_ID) => self
                .error(
                    at(id),
                    Some("id"),
                    format!(
                        "with `count: {}` the channels get the ids {} to {}, but ids are at \
                         most {MAX_CHANNEL_ID}; `id` may be at most {}",
                        count.n,
                        id.value,
                        u32::from(id.value) + count.n - 1,
                        u32::from(MAX_CHANNEL_ID) + 1 - count.n
                    ),
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

    fn protocol(&mut self, protocol: &SString) {
        if protocol.value.len() > MAX_LABEL_BYTES {
            self.error(
                at(protocol),
                Some("protocol"),
                "`protocol` must be at most 65535 bytes",
            );
        }
        self.no_index(protocol, "protocol");
    }

    fn both_limits(&mut self, max_packet_life_time: &Spanned<u16>) {
        self.error(
            at(max_packet_life_time),
            Some("max_packet_life_time"),
            "`max_retransmits` and `max_packet_life_time` cannot both be set: a channel \
             limits either retransmissions or time",
        );
    }

    /// The properties `expect_data_channel` checks on the announced channel(s).
    fn channel_properties(
        &mut self,
        args: &RawExpectDataChannel,
        count: Count,
    ) -> ChannelProperties {
        if let Some(protocol) = &args.protocol {
            self.protocol(protocol);
        }
        if let (Some(_), Some(life)) = (&args.max_retransmits, &args.max_packet_life_time) {
            self.both_limits(life);
        }
        if let Some(id) = &args.id {
            if id.value > MAX_CHANNEL_ID {
                self.error(
                    at(id),
                    Some("id"),
                    format!("`id` must be at most {MAX_CHANNEL_ID}, found {}", id.value),
                );
            } else if count.n > 1 {
                self.error(
                    at(id),
                    Some("id"),
                    format!(
                        "`id` cannot be checked with `count: {}`: every channel has its own id, \
                         chosen by the announcing peer",
                        count.n
                    ),
                );
            }
        }
        ChannelProperties {
            protocol: args.protocol.as_ref().map(|p| p.value.clone()),
            ordered: args.ordered,
            max_retransmits: args.max_retransmits.as_ref().map(|v| v.value),
            max_packet_life_time: args.max_packet_life_time.as_ref().map(|v| v.value),
            id: args.id.as_ref().map(|i| i.value),
        }
    }

    /// `bulk_transfer`: one sending peer; sizes in range with `low_water` < `high_water`.
    fn bulk_transfer(
        &mut self,
        args: &RawBulkTransfer,
        index: usize,
        default_timeout: Duration,
    ) -> Option<(PeerId, Action)> {
        let sender = if args.peer.value == "both" {
            self.error(
                at(&args.peer),
                Some("peer"),
                "`bulk_transfer` needs one sending peer, not `both`: the other peer receives \
                 and checks the stream",
            );
            None
        } else {
            self.one_peer(&args.peer, "peer")
        };
        self.index_needs_count(&args.label, "label", "bulk_transfer", Count::ONE);
        let label = self.known_label(&args.label, index);
        let bytes = self.size(&args.bytes, "bytes", 1, MAX_BULK_BYTES);
        let mut optional =
            |value: Option<&SString>, key: &str, default: u64, min: u64, max: u64| match value {
                Some(value) => self.size(value, key, min, max),
                None => Some(default),
            };
        let chunk = optional(args.chunk.as_ref(), "chunk", DEFAULT_CHUNK, 1, MAX_CHUNK);
        let high_water = optional(
            args.high_water.as_ref(),
            "high_water",
            DEFAULT_HIGH_WATER,
            1,
            MAX_BULK_BYTES,
        );
        let low_water = optional(
            args.low_water.as_ref(),
            "low_water",
            DEFAULT_LOW_WATER,
            0,
            MAX_BULK_BYTES,
        );
        if let (Some(high), Some(low)) = (high_water, low_water) {
            if low >= high {
                match (&args.low_water, &args.high_water) {
                    (Some(low_at), high_at) => {
                        let high_text = match high_at {
                            Some(h) => short(&h.value),
                            None => format!("{} (the default)", format_size(DEFAULT_HIGH_WATER)),
                        };
                        let message = format!(
                            "`low_water` must be less than `high_water` ({high_text}), found \
                             `{}`: sending resumes when `bufferedAmount` falls to `low_water` \
                             after it reached `high_water`",
                            short(&low_at.value)
                        );
                        self.error(at(low_at), Some("low_water"), message);
                    }
                    (None, Some(high_at)) => {
                        let message = format!(
                            "`high_water` must be more than `low_water` ({} by default), found \
                             `{}`; set a smaller `low_water` too",
                            format_size(DEFAULT_LOW_WATER),
                            short(&high_at.value)
                        );
                        self.error(at(high_at), Some("high_water"), message);
                    }
                    (None, None) => {}
                }
            }
        }
        let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
        let chunk = u32::try_from(chunk?).ok()?;
        let action = Action::Expect {
            what: Expectation::BulkTransfer(Bulk {
                label,
                bytes: bytes?,
                chunk,
                high_water: high_water?,
                low_water: low_water?,
            }),
            timeout,
        };
        Some((sender?, action))
    }

    /// One wait per label of a channel-event expectation (`count` expands `{i}`).
    fn channel_waits(
        &mut self,
        args: &RawExpectChannel,
        cx: StepCx,
        make: fn(String) -> Expectation,
    ) -> Pushes {
        let peers = self.peer(&args.peer);
        let count = self.count(args.count.as_ref());
        self.index_needs_count(&args.label, "label", cx.kind, count);
        let labels = self.known_labels_of(&args.label, count, cx.index);
        let timeout = self.expectation_timeout(args.timeout.as_ref(), cx.default_timeout);
        labels
            .into_iter()
            .map(|label| {
                let action = Action::Expect {
                    what: make(label),
                    timeout,
                };
                (peers.clone(), action)
            })
            .collect()
    }

    /// One command per label of a channel command (`count` expands `{i}`).
    fn channel_commands(
        &mut self,
        args: &RawChannel,
        cx: StepCx,
        make: fn(String) -> PeerCommand,
    ) -> Pushes {
        let peers = self.peer(&args.peer);
        let count = self.count(args.count.as_ref());
        self.index_needs_count(&args.label, "label", cx.kind, count);
        self.known_labels_of(&args.label, count, cx.index)
            .into_iter()
            .map(|label| (peers.clone(), Action::Command(make(label))))
            .collect()
    }

    /// Checks one step and appends what it expands to: with `count`, repetition `i` = 0..n-1
    /// for each peer (offerer first), `i` outer.
    fn step(
        &mut self,
        index: usize,
        step: &Spanned<RawStep>,
        default_timeout: Duration,
        out: &mut Vec<Step>,
    ) {
        let cx = StepCx {
            index,
            kind: step_kind(&step.value),
            at: at(step),
            default_timeout,
        };
        let pushes = match &step.value {
            RawStep::CreatePeerConnection(args) => self.create_peer_connection_step(args),
            RawStep::CreateDataChannel(args) => self.create_data_channel_step(args, cx),
            RawStep::Negotiate(args) => self.negotiate_step(args),
            RawStep::CreateOffer(args) => self.on_peers(args, command(PeerCommand::CreateOffer)),
            RawStep::CreateAnswer(args) => self.on_peers(args, command(PeerCommand::CreateAnswer)),
            RawStep::SetLocalDescription(args) => self.set_local_description_step(args),
            RawStep::SetRemoteDescription(args) => self.set_remote_description_step(args),
            RawStep::GetStats(args) => self.on_peers(args, command(PeerCommand::GetStats)),
            RawStep::Close(args) => self.on_peers(args, command(PeerCommand::Close)),
            RawStep::CheckStreamIds(args) => self.on_peers(args, Action::Check(Check::StreamIds)),
            RawStep::RequireMaxMessageSize(args) => self.require_max_message_size_step(args),
            RawStep::ExpectConnectionState(args) => self.expect_state_step(args, false, cx),
            RawStep::ExpectIceConnectionState(args) => self.expect_state_step(args, true, cx),
            RawStep::ExpectDataChannel(args) => self.expect_data_channel_step(args, cx),
            RawStep::ExpectDataChannelStats(args) => self.expect_data_channel_stats_step(args, cx),
            RawStep::ExpectChannelOpen(args) => {
                self.channel_waits(args, cx, |label| Expectation::ChannelOpen { label })
            }
            RawStep::ExpectChannelClosing(args) => {
                self.channel_waits(args, cx, |label| Expectation::ChannelClosing { label })
            }
            RawStep::ExpectChannelClosed(args) => {
                self.channel_waits(args, cx, |label| Expectation::ChannelClosed { label })
            }
            RawStep::Send(args) => self.send_step(args, cx),
            RawStep::ExpectMessage(args) => self.expect_message_step(args, cx),
            RawStep::CloseDataChannel(args) => {
                self.channel_commands(args, cx, |label| PeerCommand::CloseDataChannel { label })
            }
            RawStep::Echo(args) => {
                self.channel_commands(args, cx, |label| PeerCommand::Echo { label })
            }
            RawStep::BulkTransfer(args) => {
                one_peer(self.bulk_transfer(args, index, default_timeout))
            }
            // Connectivity and media steps are validated in their own files.
            RawStep::Candidates(a) => self.connectivity(ConnectivityStep::Candidates(a), cx),
            RawStep::ReleaseCandidates(a) => {
                self.connectivity(ConnectivityStep::ReleaseCandidates(a), cx)
            }
            RawStep::RestartIce(a) => self.connectivity(ConnectivityStep::RestartIce(a), cx),
            RawStep::ExpectNewIceCredentials(a) => {
                self.connectivity(ConnectivityStep::ExpectNewIceCredentials(a), cx)
            }
            RawStep::Rollback(a) => self.connectivity(ConnectivityStep::Rollback(a), cx),
            RawStep::ExpectSelectedCandidatePair(a) => {
                self.connectivity(ConnectivityStep::ExpectSelectedCandidatePair(a), cx)
            }
            RawStep::ExpectDtlsRole(a) => {
                self.connectivity(ConnectivityStep::ExpectDtlsRole(a), cx)
            }
            RawStep::ExpectCertificate(a) => {
                self.connectivity(ConnectivityStep::ExpectCertificate(a), cx)
            }
            RawStep::ExpectHostCandidates(a) => {
                self.connectivity(ConnectivityStep::ExpectHostCandidates(a), cx)
            }
            RawStep::AddMedia(a) => self.media(MediaStep::AddMedia(a), cx),
            RawStep::SetDirection(a) => self.media(MediaStep::SetDirection(a), cx),
            RawStep::ReplaceTrack(a) => self.media(MediaStep::ReplaceTrack(a), cx),
            RawStep::RemoveTrack(a) => self.media(MediaStep::RemoveTrack(a), cx),
            RawStep::RequestKeyFrame(a) => self.media(MediaStep::RequestKeyFrame(a), cx),
            RawStep::ExpectMedia(a) => self.media(MediaStep::ExpectMedia(a), cx),
            RawStep::ExpectNoMedia(a) => self.media(MediaStep::ExpectNoMedia(a), cx),
            RawStep::ExpectCurrentDirection(a) => {
                self.media(MediaStep::ExpectCurrentDirection(a), cx)
            }
            RawStep::DropPackets(a) => self.media(MediaStep::DropPackets(a), cx),
            RawStep::ExpectRetransmissions(a) => {
                self.media(MediaStep::ExpectRetransmissions(a), cx)
            }
        };
        for (peers, action) in pushes {
            for peer in peers {
                out.push(Step {
                    line: cx.at.line,
                    peer,
                    action: action.clone(),
                });
            }
        }
    }

    /// The same action for each peer of a step that only names `peer`.
    fn on_peers(&mut self, args: &RawPeerOnly, action: Action) -> Pushes {
        vec![(self.peer(&args.peer), action)]
    }

    /// A connectivity step (see `connectivity.rs`).
    fn connectivity(&mut self, step: ConnectivityStep<'_>, cx: StepCx) -> Pushes {
        self.connectivity_step(step, cx.default_timeout)
            .into_iter()
            .collect()
    }

    /// A media step (see `media.rs`).
    fn media(&mut self, step: MediaStep<'_>, cx: StepCx) -> Pushes {
        one_peer(self.media_step(cx.index, step, cx.kind, cx.default_timeout))
    }

    fn create_peer_connection_step(&mut self, args: &RawCreatePeerConnection) -> Pushes {
        let peers = self.peer(&args.peer);
        let configuration = self.peer_connection_config(args);
        let mut ok = true;
        let turn = self.optional_one_of(
            args.turn.as_ref(),
            "turn",
            "TURN transport",
            crate::connectivity::TURN_TRANSPORTS,
            &mut ok,
        );
        if !ok {
            return Vec::new();
        }
        let action = command(PeerCommand::CreatePeerConnection {
            configuration,
            turn,
        });
        vec![(peers, action)]
    }

    /// One channel per repetition (`count` expands `{i}` in the label and adds `i` to `id`).
    fn create_data_channel_step(&mut self, args: &RawCreateDataChannel, cx: StepCx) -> Pushes {
        let peers = self.peer(&args.peer);
        let count = self.count(args.count.as_ref());
        self.index_needs_count(&args.label, "label", cx.kind, count);
        let init = self.data_channel_init(args, count);
        (0..count.n)
            .map(|i| {
                let label = if count.given {
                    expand(&args.label.value, i)
                } else {
                    args.label.value.clone()
                };
                let init = DataChannelInit {
                    id: init.id.map(|id| id.saturating_add(i as u16)),
                    ..init.clone()
                };
                let action = command(PeerCommand::CreateDataChannel { label, init });
                (peers.clone(), action)
            })
            .collect()
    }

    /// The offer/answer exchange between two different peers.
    fn negotiate_step(&mut self, args: &RawNegotiate) -> Pushes {
        let offerer = self.one_peer(&args.offerer, "offerer");
        let answerer = self.one_peer(&args.answerer, "answerer");
        match (offerer, answerer) {
            (Some(o), Some(a)) if o == a => {
                self.error(
                    at(&args.answerer),
                    Some("answerer"),
                    format!(
                        "`negotiate` needs two different peers, but `offerer` and \
                         `answerer` are both `{}`",
                        short(&args.answerer.value)
                    ),
                );
                Vec::new()
            }
            (Some(o), Some(a)) => {
                let set_remote = command(PeerCommand::SetRemoteDescription {
                    munge: SdpMunge::default(),
                    expect_error: false,
                });
                let set_local = command(PeerCommand::SetLocalDescription { setup: None });
                vec![
                    (vec![o], command(PeerCommand::CreateOffer)),
                    (vec![o], set_local.clone()),
                    (vec![a], set_remote.clone()),
                    (vec![a], command(PeerCommand::CreateAnswer)),
                    (vec![a], set_local),
                    (vec![o], set_remote),
                ]
            }
            _ => Vec::new(),
        }
    }

    fn set_local_description_step(&mut self, args: &RawSetLocalDescription) -> Pushes {
        let peers = self.peer(&args.peer);
        match self.setup(args.setup.as_ref()) {
            Some(setup) => vec![(peers, command(PeerCommand::SetLocalDescription { setup }))],
            None => Vec::new(),
        }
    }

    /// `set_remote_description`, with the munges of the description it applies.
    fn set_remote_description_step(&mut self, args: &RawSetRemoteDescription) -> Pushes {
        let peers = self.peer(&args.peer);
        let max_message_size = args
            .max_message_size
            .as_ref()
            .and_then(|size| self.size(size, "max_message_size", 0, MAX_MUNGED_MESSAGE_SIZE));
        if let Some(name) = &args.remove_attribute {
            let valid = !name.value.is_empty()
                && name
                    .value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                self.error(
                    at(name),
                    Some("remove_attribute"),
                    format!(
                        "invalid SDP attribute name `{}`: write the name without `a=` \
                         and without a value, e.g. `fingerprint`",
                        short(&name.value)
                    ),
                );
            }
        }
        let munge = SdpMunge {
            max_message_size,
            tamper_fingerprint: args.tamper_fingerprint.unwrap_or(false),
            remove_attribute: args.remove_attribute.as_ref().map(|a| a.value.clone()),
        };
        let expect_error = args.expect_error.unwrap_or(false);
        let action = command(PeerCommand::SetRemoteDescription {
            munge,
            expect_error,
        });
        vec![(peers, action)]
    }

    fn require_max_message_size_step(&mut self, args: &RawRequireMaxMessageSize) -> Pushes {
        let peers = self.peer(&args.peer);
        match self.size(&args.at_least, "at_least", 1, MAX_SIZE) {
            Some(at_least) => vec![(peers, Action::Check(Check::MaxMessageSize { at_least }))],
            None => Vec::new(),
        }
    }

    /// `expect_connection_state`, or `expect_ice_connection_state` if `ice`.
    fn expect_state_step(&mut self, args: &RawExpectState, ice: bool, cx: StepCx) -> Pushes {
        let peers = self.peer(&args.peer);
        let timeout = self.expectation_timeout(args.timeout.as_ref(), cx.default_timeout);
        let state = args.state.value.clone();
        self.state(&args.state, ice);
        let what = if ice {
            Expectation::IceConnectionState { state }
        } else {
            Expectation::ConnectionState { state }
        };
        vec![(peers, Action::Expect { what, timeout })]
    }

    /// One wait per label (`count` expands `{i}`), each with the channel's properties.
    fn expect_data_channel_step(&mut self, args: &RawExpectDataChannel, cx: StepCx) -> Pushes {
        let peers = self.peer(&args.peer);
        let count = self.count(args.count.as_ref());
        self.index_needs_count(&args.label, "label", cx.kind, count);
        let labels = self.known_labels_of(&args.label, count, cx.index);
        let properties = self.channel_properties(args, count);
        let timeout = self.expectation_timeout(args.timeout.as_ref(), cx.default_timeout);
        labels
            .into_iter()
            .map(|label| {
                let properties = properties.clone();
                let action = Action::Expect {
                    what: Expectation::DataChannel { label, properties },
                    timeout,
                };
                (peers.clone(), action)
            })
            .collect()
    }

    /// One wait for the channel's getStats counters (no `count`: one label).
    fn expect_data_channel_stats_step(
        &mut self,
        args: &RawExpectDataChannelStats,
        cx: StepCx,
    ) -> Pushes {
        let peers = self.peer(&args.peer);
        let count = self.count(None);
        self.index_needs_count(&args.label, "label", cx.kind, count);
        let label = self.known_labels_of(&args.label, count, cx.index).pop();
        let timeout = self.expectation_timeout(args.timeout.as_ref(), cx.default_timeout);
        let Some(label) = label else {
            return Vec::new();
        };
        let action = Action::Expect {
            what: Expectation::DataChannelStats {
                label,
                counts: MessageCounts {
                    sent: args.messages_sent.value,
                    received: args.messages_received.value,
                },
            },
            timeout,
        };
        vec![(peers, action)]
    }

    /// One message per label (`count` expands `{i}` in the label and the payload).
    fn send_step(&mut self, args: &RawSend, cx: StepCx) -> Pushes {
        let peers = self.peer(&args.peer);
        let count = self.count(args.count.as_ref());
        self.index_needs_count(&args.label, "label", cx.kind, count);
        let labels = self.known_labels_of(&args.label, count, cx.index);
        let keys = [&args.text, &args.text_bytes, &args.binary_bytes].map(Option::as_ref);
        let payload = self.payload(cx.kind, cx.at, keys, count);
        let expect_error = args.expect_error.as_ref().and_then(|name| {
            self.one_of(name, "expect_error", "error name", SEND_ERRORS)
                .then(|| name.value.clone())
        });
        let Some(payload) = payload else {
            return Vec::new();
        };
        (0..)
            .zip(labels)
            .map(|(i, label)| {
                let action = command(PeerCommand::Send {
                    label,
                    payload: instantiate(&payload, i),
                    expect_error: expect_error.clone(),
                });
                (peers.clone(), action)
            })
            .collect()
    }

    /// One wait per label (`count` expands `{i}` in the label and the payload).
    fn expect_message_step(&mut self, args: &RawExpectMessage, cx: StepCx) -> Pushes {
        let peers = self.peer(&args.peer);
        let count = self.count(args.count.as_ref());
        self.index_needs_count(&args.label, "label", cx.kind, count);
        let labels = self.known_labels_of(&args.label, count, cx.index);
        let keys = [&args.text, &args.text_bytes, &args.binary_bytes].map(Option::as_ref);
        let payload = self.payload(cx.kind, cx.at, keys, count);
        let timeout = self.expectation_timeout(args.timeout.as_ref(), cx.default_timeout);
        let any_order = args.unordered.unwrap_or(false);
        let Some(payload) = payload else {
            return Vec::new();
        };
        (0..)
            .zip(labels)
            .map(|(i, label)| {
                let action = Action::Expect {
                    what: Expectation::Message {
                        label,
                        payload: instantiate(&payload, i),
                        any_order,
                    },
                    timeout,
                };
                (peers.clone(), action)
            })
            .collect()
    }
}

/// What a step expands to, in order: each action for each of its peers.
type Pushes = Vec<(Vec<PeerId>, Action)>;

/// What every step's check needs to know about the step.
#[derive(Clone, Copy)]
struct StepCx {
    /// The step's index in `steps`.
    index: usize,
    /// The step kind as written.
    kind: &'static str,
    /// Where the step is.
    at: Pos,
    default_timeout: Duration,
}

fn command(command: PeerCommand) -> Action {
    Action::Command(command)
}

/// A step that expands to one action on one peer, if any.
fn one_peer(pushed: Option<(PeerId, Action)>) -> Pushes {
    pushed
        .map(|(peer, action)| (vec![peer], action))
        .into_iter()
        .collect()
}

/// The step kind as written, for messages.
pub(crate) fn step_kind(step: &RawStep) -> &'static str {
    match step {
        RawStep::CreatePeerConnection(_) => "create_peer_connection",
        RawStep::CreateDataChannel(_) => "create_data_channel",
        RawStep::Negotiate(_) => "negotiate",
        RawStep::CreateOffer(_) => "create_offer",
        RawStep::CreateAnswer(_) => "create_answer",
        RawStep::SetLocalDescription(_) => "set_local_description",
        RawStep::SetRemoteDescription(_) => "set_remote_description",
        RawStep::ExpectConnectionState(_) => "expect_connection_state",
        RawStep::ExpectIceConnectionState(_) => "expect_ice_connection_state",
        RawStep::ExpectDataChannel(_) => "expect_data_channel",
        RawStep::ExpectDataChannelStats(_) => "expect_data_channel_stats",
        RawStep::ExpectChannelOpen(_) => "expect_channel_open",
        RawStep::Send(_) => "send",
        RawStep::ExpectMessage(_) => "expect_message",
        RawStep::Echo(_) => "echo",
        RawStep::BulkTransfer(_) => "bulk_transfer",
        RawStep::CloseDataChannel(_) => "close_data_channel",
        RawStep::ExpectChannelClosing(_) => "expect_channel_closing",
        RawStep::ExpectChannelClosed(_) => "expect_channel_closed",
        RawStep::RequireMaxMessageSize(_) => "require_max_message_size",
        RawStep::CheckStreamIds(_) => "check_stream_ids",
        RawStep::GetStats(_) => "get_stats",
        RawStep::Close(_) => "close",
        RawStep::AddMedia(_) => "add_media",
        RawStep::SetDirection(_) => "set_direction",
        RawStep::ReplaceTrack(_) => "replace_track",
        RawStep::RemoveTrack(_) => "remove_track",
        RawStep::RequestKeyFrame(_) => "request_key_frame",
        RawStep::ExpectMedia(_) => "expect_media",
        RawStep::ExpectNoMedia(_) => "expect_no_media",
        RawStep::ExpectCurrentDirection(_) => "expect_current_direction",
        RawStep::DropPackets(_) => "drop_packets",
        RawStep::ExpectRetransmissions(_) => "expect_retransmissions",
        RawStep::Candidates(_) => "candidates",
        RawStep::ReleaseCandidates(_) => "release_candidates",
        RawStep::RestartIce(_) => "restart_ice",
        RawStep::ExpectNewIceCredentials(_) => "expect_new_ice_credentials",
        RawStep::Rollback(_) => "rollback",
        RawStep::ExpectSelectedCandidatePair(_) => "expect_selected_candidate_pair",
        RawStep::ExpectDtlsRole(_) => "expect_dtls_role",
        RawStep::ExpectCertificate(_) => "expect_certificate",
        RawStep::ExpectHostCandidates(_) => "expect_host_candidates",
    }
}

/// Labels for a message: all of them, or the first few and how many more.
fn label_list(labels: &[&str]) -> String {
    const SHOWN: usize = 8;
    if labels.len() <= SHOWN {
        quote_list(labels)
    } else {
        format!(
            "{} and {} more",
            quote_list(&labels[..SHOWN]),
            labels.len() - SHOWN
        )
    }
}
