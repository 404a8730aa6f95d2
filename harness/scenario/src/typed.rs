//! Pass 1 driver: runs serde-saphyr into [`crate::raw`] and turns its errors into
//! [`ScenarioError`]s that name the key and where in the scenario it is (using the pass 0 tree).
//!
//! What serde-saphyr reports, and where (checked by the tests below):
//!
//! | problem             | serde-saphyr error                        | location            |
//! |---------------------|-------------------------------------------|---------------------|
//! | unknown key         | `SerdeUnknownField { field, expected }`   | the key             |
//! | unknown step kind   | `SerdeUnknownVariant { variant, expected }` | the key           |
//! | missing key         | `SerdeMissingField { field }`             | the mapping's start |
//! | string wanted       | `Unexpected { expected: "string scalar" }` | the value          |
//! | mapping/list wanted | `Unexpected { "mapping start" / "sequence start" }` | the value |
//! | bad bool / integer  | `InvalidScalar { ty }` / `SerdeInvalidValue` | the value        |
//! | null for a string   | `NullIntoString` (pass 0 reports `key:`)  | the (empty) value   |
//! | syntax              | `ExternalMessage` from the parser         | the offending char  |
//!
//! None of them names the key of a wrong value, nor the step an unknown key is in: that comes
//! from looking the location up in the tree.

use std::borrow::Cow;

use serde_saphyr::{Error, MessageFormatter, Spanned, UserMessageFormatter};

use crate::raw::RawScenario;
use crate::suggest::expected_one_of;
use crate::tree::{self, all_hits, context, short, subject, Hit, Node, SNode, Seg};
use crate::{Pos, ScenarioError, Source};

pub(crate) fn parse(src: &Source<'_>, tree: &SNode) -> Result<Spanned<RawScenario>, ScenarioError> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options(src.text, options).map_err(|e| convert(src, Some(tree), &e))
}

/// Converts a serde-saphyr error; `tree` is `None` when the error came from building it.
pub(crate) fn convert(src: &Source<'_>, tree: Option<&SNode>, error: &Error) -> ScenarioError {
    let at = error
        .location()
        .map(|l| tree::pos(&l))
        .unwrap_or(Pos { line: 0, column: 0 });
    let lookup = Lookup {
        at,
        hits: tree.map(all_hits).unwrap_or_default(),
    };
    match original(error) {
        Error::SerdeUnknownField {
            field, expected, ..
        } => unknown_field(src, &lookup, field, expected),
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => unknown_variant(src, &lookup, variant, expected),
        Error::SerdeMissingField { field, .. } => missing_field(src, &lookup, field),
        Error::MultipleDocuments { .. } => src.error(
            at,
            None,
            "a scenario file must hold exactly one YAML document; a second one starts here",
        ),
        other => wrong_value(src, &lookup, tree.is_none(), other),
    }
}

/// Where an error is, and every key and node of the tree to look it up among.
struct Lookup<'t> {
    at: Pos,
    hits: Vec<Hit<'t>>,
}

impl<'t> Lookup<'t> {
    /// The path of the mapping holding the key `name` that starts at the error.
    fn key_at(&self, name: &str) -> Option<Vec<Seg>> {
        self.hits.iter().find_map(|hit| match hit {
            Hit::Key { map_path, key }
                if tree::pos(&key.referenced) == self.at && key.value.text() == name =>
            {
                Some(map_path.clone())
            }
            _ => None,
        })
    }

    /// The node starting at the error (a mapping if `want_map`), with its path.
    fn node_at(&self, want_map: bool) -> Option<(Vec<Seg>, &'t SNode)> {
        let mut found = self.hits.iter().filter_map(|hit| match hit {
            Hit::Node { path, node }
                if tree::pos(&node.referenced) == self.at
                    && (!want_map || matches!(node.value, Node::Map(_))) =>
            {
                Some((path.clone(), *node))
            }
            _ => None,
        });
        // The value the error is about is the outermost node starting there; a missing key is
        // missing from the innermost mapping starting there.
        if want_map {
            found.next_back()
        } else {
            found.next()
        }
    }

    /// Where the step kind of a step's arguments mapping at `path` is, if it is one; else the
    /// error's location.
    fn step_kind_at(&self, path: &[Seg]) -> Pos {
        match path {
            [steps @ Seg::Key(_), index @ Seg::Index(_), Seg::Key(kind)] => self
                .hits
                .iter()
                .find_map(|hit| match hit {
                    Hit::Key { map_path, key }
                        if map_path.as_slice() == [steps.clone(), index.clone()]
                            && key.value.text() == *kind =>
                    {
                        Some(tree::pos(&key.referenced))
                    }
                    _ => None,
                })
                .unwrap_or(self.at),
            _ => self.at,
        }
    }
}

/// `SerdeUnknownField`: names the key and where it is.
fn unknown_field(
    src: &Source<'_>,
    lookup: &Lookup<'_>,
    field: &str,
    expected: &[&'static str],
) -> ScenarioError {
    let message = match lookup.key_at(field).as_deref().and_then(context) {
        Some(ctx) => format!("unknown key `{}` {ctx}", short(field)),
        None => format!("unknown top-level key `{}`", short(field)),
    };
    let message = message + &expected_one_of(field, expected);
    src.error(lookup.at, Some(field), message)
}

/// `SerdeUnknownVariant`: an unknown step kind, or an unknown value where it is.
fn unknown_variant(
    src: &Source<'_>,
    lookup: &Lookup<'_>,
    variant: &str,
    expected: &[&'static str],
) -> ScenarioError {
    let message = match lookup.key_at(variant).as_deref() {
        Some([Seg::Key(steps), Seg::Index(_)]) if steps == "steps" => {
            format!("unknown step kind `{}`", short(variant))
        }
        Some(path) => match context(path) {
            Some(ctx) => format!("unknown value `{}` {ctx}", short(variant)),
            None => format!("unknown value `{}`", short(variant)),
        },
        None => format!("unknown value `{}`", short(variant)),
    };
    let message = message + &expected_one_of(variant, expected);
    src.error(lookup.at, Some(variant), message)
}

/// `SerdeMissingField`: names the mapping the key is missing from.
fn missing_field(src: &Source<'_>, lookup: &Lookup<'_>, field: &str) -> ScenarioError {
    match lookup.node_at(true) {
        Some((path, _)) => {
            let message = match context(&path) {
                Some(ctx) => format!("missing required key `{field}` {ctx}"),
                None => format!("missing required key `{field}`"),
            };
            // Point at the step kind rather than at the `{` of its arguments.
            let at = lookup.step_kind_at(&path);
            src.error(at, Some(field), message)
        }
        None => src.error(
            lookup.at,
            Some(field),
            format!("missing required key `{field}`"),
        ),
    }
}

/// Any other error: a wrong type or value (named by where it is), else a syntax error (`no_tree`:
/// the error came from building the tree).
fn wrong_value(
    src: &Source<'_>,
    lookup: &Lookup<'_>,
    no_tree: bool,
    other: &Error,
) -> ScenarioError {
    let at = lookup.at;
    match (expected_phrase(other), lookup.node_at(false)) {
        (Some(expected), Some((path, node))) => {
            let (what, key) = subject(&path);
            let kind = match node.value {
                Node::Seq(_) | Node::Map(_) | Node::Null => "wrong type",
                _ => "invalid value",
            };
            let message = format!(
                "{kind} for {what}: expected {expected}, found {}",
                node.value.describe()
            );
            src.error(at, key.as_deref(), message)
        }
        (Some(expected), None) => src.error(at, None, format!("wrong type: expected {expected}")),
        (None, _) if no_tree => src.error(
            at,
            None,
            format!(
                "invalid YAML: {}{}",
                fallback_message(other),
                unquoted_index_hint(src, at)
            ),
        ),
        (None, _) => src.error(at, None, fallback_message(other)),
    }
}

/// A hint when a syntax error is at an unquoted `{i}` inside a flow mapping (`{ label: c-{i} }`),
/// where `{` starts a nested mapping.
fn unquoted_index_hint(src: &Source<'_>, at: Pos) -> String {
    let Some(line) = at.line.checked_sub(1).and_then(|i| src.text.lines().nth(i)) else {
        return String::new();
    };
    let chars: Vec<char> = line.chars().collect();
    let Some(start) = at.column.checked_sub(1) else {
        return String::new();
    };
    if chars.get(start..start + 3) != Some(&['{', 'i', '}'][..]) {
        return String::new();
    }
    let is_end = |c: &char| c.is_whitespace() || matches!(c, ',' | '{' | '}' | ':');
    let begin = chars[..start].iter().rposition(is_end).map_or(0, |i| i + 1);
    let end = chars[start + 3..]
        .iter()
        .position(is_end)
        .map_or(chars.len(), |i| start + 3 + i);
    let value: String = chars[begin..end].iter().collect();
    // The key: the word before the `:` in front of the value.
    let before: String = chars[..begin].iter().collect();
    let key = before
        .trim_end()
        .strip_suffix(':')
        .and_then(|b| b.trim_end().rsplit([' ', '{', ',']).next())
        .filter(|k| !k.is_empty());
    let example = match key {
        Some(key) => format!("{key}: \"{value}\""),
        None => format!("\"{value}\""),
    };
    format!(" (inside `{{ … }}`, a value containing `{{i}}` must be quoted, like `{example}`)")
}

/// The error itself, without the snippet and alias wrappers.
fn original(mut error: &Error) -> &Error {
    loop {
        match error {
            Error::WithSnippet { error: inner, .. } | Error::AliasError { error: inner, .. } => {
                error = inner;
            }
            other => return other,
        }
    }
}

/// What was expected, for the type-mismatch family of errors.
fn expected_phrase(error: &Error) -> Option<Cow<'static, str>> {
    let phrase = match error {
        Error::Unexpected { expected, .. } => match *expected {
            "string scalar" => "a string".into(),
            "mapping start" => "a mapping".into(),
            "sequence start" => "a sequence".into(),
            other => other.to_owned().into(),
        },
        Error::InvalidScalar { ty, .. } => type_phrase(ty),
        Error::SerdeInvalidType { expected, .. } | Error::SerdeInvalidValue { expected, .. } => {
            type_phrase(expected)
        }
        Error::NullIntoString { .. } => "a string".into(),
        Error::InvalidBooleanStrict { .. } => type_phrase("bool"),
        _ => return None,
    };
    Some(phrase)
}

fn type_phrase(ty: &str) -> Cow<'static, str> {
    match ty {
        "bool" | "boolean" | "a boolean" => "`true` or `false`".into(),
        "u16" => "an integer from 0 to 65535".into(),
        "u8" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        other => other.to_owned().into(),
    }
}

/// serde-saphyr's own user-facing wording, on one line.
fn fallback_message(error: &Error) -> String {
    let text = UserMessageFormatter.format_message(error);
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Runs passes 0 and 1 on `text` and returns the single error.
    fn error(text: &str) -> ScenarioError {
        let src = Source {
            path: Path::new("t.yaml"),
            text,
        };
        let tree = tree::parse(text).expect("fixture is valid YAML");
        assert!(tree::check_shape(&src, &tree).is_empty());
        parse(&src, &tree).expect_err("fixture must fail pass 1")
    }

    fn head() -> &'static str {
        "feature: f\ndescription: d\npeers: { alice: offerer, bob: answerer }\nsteps:\n"
    }

    #[test]
    fn unknown_key_is_located_at_the_key_and_names_the_step() {
        let e = error(&format!(
            "{}  - expect_message: {{ peer: bob, label: x, tiemout: 5s }}\n",
            head()
        ));
        assert_eq!((e.line, e.column), (5, 44));
        assert_eq!(e.key.as_deref(), Some("tiemout"));
        assert_eq!(
            e.message,
            "unknown key `tiemout` in step `expect_message`; expected one of `peer`, `label`, \
             `count`, `text`, `text_bytes`, `binary_bytes`, `unordered`, `timeout` (did you mean \
             `timeout`?)"
        );
    }

    #[test]
    fn unknown_key_in_block_style_and_nested_mappings() {
        let e = error(&format!(
            "{}  - create_peer_connection:\n      peer: both\n      ice_servers:\n        - urls: [stun:a]\n          user: u\n",
            head()
        ));
        assert_eq!((e.line, e.column), (9, 11));
        assert_eq!(
            e.message,
            "unknown key `user` in `ice_servers` of step `create_peer_connection`; expected one \
             of `urls`, `username`, `credential`"
        );
        let e = error(&format!("nmae: x\n{}  - close: {{ peer: both }}\n", head()));
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e
            .message
            .starts_with("unknown top-level key `nmae`; expected one of `name`"));
        assert!(e.message.ends_with("(did you mean `name`?)"));
    }

    #[test]
    fn wrong_types_name_the_key_and_what_was_found() {
        let e = error(&format!(
            "{}  - close_data_channel: {{ peer: bob, label: [x] }}\n",
            head()
        ));
        assert_eq!((e.line, e.column), (5, 45));
        assert_eq!(e.key.as_deref(), Some("label"));
        assert_eq!(
            e.message,
            "wrong type for `label` in step `close_data_channel`: expected a string, found a sequence"
        );
        let e = error(&format!(
            "{}  - create_data_channel: {{ peer: bob, label: x, ordered: maybe }}\n",
            head()
        ));
        assert_eq!(
            e.message,
            "invalid value for `ordered` in step `create_data_channel`: expected `true` or \
             `false`, found `maybe`"
        );
        let e = error(&format!(
            "{}  - create_data_channel: {{ peer: bob, label: x, max_retransmits: 70000 }}\n",
            head()
        ));
        assert_eq!(
            e.message,
            "invalid value for `max_retransmits` in step `create_data_channel`: expected an \
             integer from 0 to 65535, found `70000`"
        );
        let e = error(&format!(
            "{}  - create_peer_connection: {{ peer: a, ice_servers: [{{ urls: [~] }}] }}\n",
            head()
        ));
        assert_eq!(
            e.message,
            "wrong type for item 1 of `urls` in `ice_servers` of step `create_peer_connection`: \
             expected a string, found nothing"
        );
        let e = error("feature: f\nsteps:\n  a: 1\n");
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (
                3,
                3,
                "wrong type for `steps`: expected a sequence, found a mapping"
            )
        );
        let e = error(&format!(
            "{}  - create_peer_connection: {{ peer: a, ice_servers: [{{ urls: [x, [y]] }}] }}\n",
            head()
        ));
        assert_eq!(
            e.message,
            "wrong type for item 2 of `urls` in `ice_servers` of step `create_peer_connection`: \
             expected a string, found a sequence"
        );
    }

    #[test]
    fn missing_step_key_points_at_the_step_kind() {
        let e = error(&format!("{}  - send:\n      peer: a\n", head()));
        assert_eq!((e.line, e.column), (5, 5));
        assert_eq!(e.message, "missing required key `label` in step `send`");
        assert_eq!(e.key.as_deref(), Some("label"));
    }

    #[test]
    fn unknown_step_kind_lists_the_known_ones() {
        let e = error(&format!("{}  - sned: {{ peer: a }}\n", head()));
        assert_eq!((e.line, e.column), (5, 5));
        assert!(e.message.starts_with(
            "unknown step kind `sned`; expected one of `create_peer_connection`, `create_data_channel`"
        ));
        assert!(e
            .message
            .ends_with("`expect_host_candidates` (did you mean `send`?)"));
    }
}
