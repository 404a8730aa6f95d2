//! The checker of pass 2 and the value checks every step topic shares: peers (`peer:`,
//! `both`), durations, sizes, allowed-value lists, identifiers, expectation timeouts, each
//! error located at the value it is about.
//!
//! [`Checker`] is the state of one scenario's check: the errors so far, the declared peers,
//! the data channel labels and the media names the scenario introduces. The topic modules
//! (`validate` for the scenario and data channel steps, `connectivity`, `media`) add their
//! steps' checks to it; they depend on this module, never on each other, and `validate`'s one
//! match over `RawStep` is the only place that calls into a topic.

use std::collections::HashMap;
use std::time::Duration;

use interop_protocol::MediaKind;
use serde_saphyr::Spanned;

use crate::plan::PeerId;
use crate::raw::SString;
use crate::suggest::{did_you_mean, expected_one_of, quote_list};
use crate::tree::{pos, short};
use crate::units::{format_size, parse_duration, parse_size, UnitError, MAX_SIZE};
use crate::{Pos, ScenarioError, Source};

pub(crate) fn at<T>(spanned: &Spanned<T>) -> Pos {
    pos(&spanned.referenced)
}

pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(crate) struct Checker<'a> {
    pub(crate) src: &'a Source<'a>,
    pub(crate) errors: Vec<ScenarioError>,
    /// Declared peer name -> id.
    pub(crate) peers: HashMap<String, PeerId>,
    /// Declared peer names in file order, for messages.
    pub(crate) declared: Vec<String>,
    /// Label -> where the first step creating it is.
    pub(crate) created: HashMap<String, Created>,
    /// Media name -> the `add_media` step that adds it (see `media.rs`).
    pub(crate) media: HashMap<String, Added>,
}

/// The first `create_data_channel` step creating a label.
pub(crate) struct Created {
    /// Index of the step in `steps`.
    pub(crate) index: usize,
    pub(crate) line: usize,
    /// Position among the created labels, for listing them in file order.
    pub(crate) order: usize,
}

/// The `add_media` step that introduced a name.
pub(crate) struct Added {
    pub(crate) index: usize,
    pub(crate) line: usize,
    pub(crate) peer: Option<PeerId>,
    pub(crate) kind: Option<MediaKind>,
}

impl Checker<'_> {
    pub(crate) fn error(&mut self, at: Pos, key: Option<&str>, message: impl Into<String>) {
        self.errors.push(self.src.error(at, key, message));
    }

    pub(crate) fn identifier(&mut self, value: &SString, key: &str, what: &str) {
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

    /// The peers a `peer:` value designates: one, or both (offerer first) for `both`.
    pub(crate) fn peer(&mut self, peer: &SString) -> Vec<PeerId> {
        if peer.value == "both" {
            return vec![PeerId::OFFERER, PeerId::ANSWERER];
        }
        self.one_peer(peer, "peer").into_iter().collect()
    }

    pub(crate) fn one_peer(&mut self, peer: &SString, key: &str) -> Option<PeerId> {
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

    pub(crate) fn duration(&mut self, value: &SString, key: &str) -> Option<Duration> {
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

    /// A size from `min` to `max` bytes.
    pub(crate) fn size(&mut self, value: &SString, key: &str, min: u64, max: u64) -> Option<u64> {
        let text = short(&value.value);
        let expected =
            format!("expected a size like `1000`, `20KiB` or `1MiB` for `{key}`, found `{text}`");
        let message = match parse_size(&value.value, max) {
            Ok(bytes) if bytes >= min => return Some(bytes),
            Ok(_) => format!(
                "`{key}` must be at least `{}`, found `{text}`",
                format_size(min)
            ),
            Err(UnitError::UnknownUnit(unit)) => {
                format!(
                    "{expected} (unknown unit `{}`; use `B`, `KiB` or `MiB`)",
                    short(&unit)
                )
            }
            Err(UnitError::TooLarge) => {
                format!(
                    "`{key}` must be at most `{}`, found `{text}`",
                    format_size(max)
                )
            }
            Err(UnitError::MissingUnit | UnitError::Malformed | UnitError::Zero) => expected,
        };
        self.error(at(value), Some(key), message);
        None
    }

    /// The size of a message payload (`text_bytes`, `binary_bytes`).
    pub(crate) fn message_size(&mut self, value: &SString, key: &str) -> Option<usize> {
        self.size(value, key, 0, MAX_SIZE)
            .and_then(|bytes| usize::try_from(bytes).ok())
    }

    pub(crate) fn one_of(
        &mut self,
        value: &SString,
        key: &str,
        what: &str,
        allowed: &[&str],
    ) -> bool {
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

    pub(crate) fn expectation_timeout(
        &mut self,
        value: Option<&SString>,
        default: Duration,
    ) -> Duration {
        value
            .and_then(|t| self.duration(t, "timeout"))
            .unwrap_or(default)
    }
}
