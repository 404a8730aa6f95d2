//! Pass 0: the file as a generic tree of spanned YAML nodes.
//!
//! The typed pass (serde into [`crate::raw`]) stops at its first error and reports it with a
//! location but without saying *where in the scenario* it is. This tree answers that: given a
//! location it finds the key or value there and its path (`steps[3].send.label`), which turns
//! "expected string scalar at 3:29" into "wrong type for `label` in step `send`".
//!
//! It also catches, before the typed pass runs, the shape problems serde reports badly or not
//! at all: duplicate keys (reported all at once, with both lines), keys without a value
//! (`timeout:` would silently mean "not set"), steps that are not a one-key mapping
//! (serde-saphyr would silently read the *next* node as the arguments of a bare `- close`
//! step), and files that are not a mapping.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::suggest::quote_list;
use crate::{Pos, Source, TOP_LEVEL_KEYS};

pub(crate) type SNode = Spanned<Node>;

/// A YAML node, keeping every key and value with its location.
#[derive(Debug)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<SNode>),
    Map(Vec<Entry>),
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub key: SNode,
    pub value: SNode,
}

impl Node {
    /// What a user would call this node in "found …".
    pub fn describe(&self) -> String {
        match self {
            Node::Null => "nothing".to_owned(),
            Node::Seq(_) => "a sequence".to_owned(),
            Node::Map(_) => "a mapping".to_owned(),
            scalar => format!("`{}`", short(&scalar.text())),
        }
    }

    /// The text of a scalar (keys are compared by it); `?` for collections.
    pub fn text(&self) -> String {
        match self {
            Node::Null => "null".to_owned(),
            Node::Bool(b) => b.to_string(),
            Node::Int(i) => i.to_string(),
            Node::Float(x) => x.to_string(),
            Node::Str(s) => s.clone(),
            Node::Seq(_) | Node::Map(_) => "?".to_owned(),
        }
    }
}

/// Text shown back to the user: one line, at most 40 characters.
pub(crate) fn short(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(40)
        .collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

pub(crate) fn pos(location: &Location) -> Pos {
    Pos {
        line: usize::try_from(location.line()).unwrap_or(0),
        column: usize::try_from(location.column()).unwrap_or(0),
    }
}

/// Parses `text` into a tree. Duplicate keys are kept (see [`check_shape`]); the options are
/// otherwise those of the typed pass, so a syntax error is reported here first.
pub(crate) fn parse(text: &str) -> Result<SNode, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
    };
    serde_saphyr::from_str_with_options(text, options)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(i128::try_from(v).map_or_else(|_| Node::Str(v.to_string()), Node::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            entries.push(Entry { key, value });
        }
        Ok(Node::Map(entries))
    }
}

/// One step of a path from the root: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Something at a location: a key (with the path of its mapping) or a node (with its own path).
pub(crate) enum Hit<'a> {
    Key { map_path: Vec<Seg>, key: &'a SNode },
    Node { path: Vec<Seg>, node: &'a SNode },
}

/// Every key and node of the tree in document order, each with its path.
pub(crate) fn all_hits(root: &SNode) -> Vec<Hit<'_>> {
    fn walk<'a>(node: &'a SNode, path: &mut Vec<Seg>, out: &mut Vec<Hit<'a>>) {
        out.push(Hit::Node {
            path: path.clone(),
            node,
        });
        match &node.value {
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk(item, path, out);
                    path.pop();
                }
            }
            Node::Map(entries) => {
                for entry in entries {
                    out.push(Hit::Key {
                        map_path: path.clone(),
                        key: &entry.key,
                    });
                    path.push(Seg::Key(entry.key.value.text()));
                    walk(&entry.value, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(root, &mut Vec::new(), &mut out);
    out
}

/// Where in the scenario a mapping at `path` is, as a phrase: `in step `send``,
/// `in `ice_servers` of step `create_peer_connection``; `None` at the top level.
pub(crate) fn context(path: &[Seg]) -> Option<String> {
    let keys = |segs: &[Seg]| {
        segs.iter()
            .filter_map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Index(_) => None,
            })
            .collect::<Vec<_>>()
            .join(".")
    };
    match path {
        [] => None,
        [Seg::Key(steps), Seg::Index(_), Seg::Key(kind)] if steps == "steps" => {
            Some(format!("in step `{kind}`"))
        }
        [Seg::Key(steps), Seg::Index(_), Seg::Key(kind), rest @ ..] if steps == "steps" => {
            Some(format!("in `{}` of step `{kind}`", keys(rest)))
        }
        [Seg::Key(steps), Seg::Index(i)] if steps == "steps" => {
            Some(format!("in step {} of `steps`", i + 1))
        }
        other => Some(format!("in `{}`", keys(other))),
    }
}

/// What a value at `path` is, as a phrase: "`label` in step `send`", "item 2 of `urls` in
/// step …"; and the key it belongs to.
pub(crate) fn subject(path: &[Seg]) -> (String, Option<String>) {
    match path {
        [] => ("the scenario".to_owned(), None),
        [parent @ .., Seg::Key(key)] => {
            let what = match context(parent) {
                Some(ctx) => format!("`{key}` {ctx}"),
                None => format!("`{key}`"),
            };
            (what, Some(key.clone()))
        }
        [parent @ .., Seg::Index(i)] => {
            let (of, key) = subject(parent);
            (format!("item {} of {of}", i + 1), key)
        }
    }
}

/// Shape checks the typed pass would get wrong; see the module docs.
pub(crate) fn check_shape(src: &Source<'_>, root: &SNode) -> Vec<crate::ScenarioError> {
    let mut errors = Vec::new();
    check_mappings(src, root, &mut Vec::new(), &mut errors);
    match &root.value {
        Node::Map(entries) => {
            let steps = entries
                .iter()
                .find(|e| matches!(&e.key.value, Node::Str(k) if k == "steps"));
            if let Some(Entry {
                value:
                    Spanned {
                        value: Node::Seq(items),
                        ..
                    },
                ..
            }) = steps
            {
                for item in items {
                    check_step_shape(src, item, &mut errors);
                }
            }
        }
        Node::Null => errors.push(src.error(
            Pos { line: 1, column: 1 },
            None,
            format!(
                "the file contains no scenario; expected a mapping with the keys {}",
                quote_list(TOP_LEVEL_KEYS)
            ),
        )),
        other => errors.push(src.error(
            pos(&root.referenced),
            None,
            format!(
                "a scenario file must be a mapping with the keys {}, found {}",
                quote_list(TOP_LEVEL_KEYS),
                other.describe()
            ),
        )),
    }
    errors
}

fn check_mappings(
    src: &Source<'_>,
    node: &SNode,
    path: &mut Vec<Seg>,
    errors: &mut Vec<crate::ScenarioError>,
) {
    match &node.value {
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                check_mappings(src, item, path, errors);
                path.pop();
            }
        }
        Node::Map(entries) if is_unquoted_index(entries) && is_step_argument(path) => {
            // `label: {i}` is a flow mapping `{ i: ~ }`, not the text `{i}`.
            let (what, key) = subject(path);
            let message = format!(
                "{what} is `{{i}}` without quotes, which YAML reads as a mapping; write `\"{{i}}\"`"
            );
            errors.push(src.error(pos(&node.referenced), key.as_deref(), message));
        }
        Node::Map(entries) => {
            // Steps (`- close:`) get their own message in `check_step_shape`.
            let is_step = matches!(path.as_slice(), [Seg::Key(k), Seg::Index(_)] if k == "steps");
            for (i, entry) in entries.iter().enumerate() {
                let name = entry.key.value.text();
                if matches!(entry.value.value, Node::Null) && !is_step {
                    // An empty value would silently read as "not set" for optional keys.
                    let message = format!(
                        "missing value for `{}`{}",
                        short(&name),
                        context(path).map(|c| format!(" {c}")).unwrap_or_default(),
                    );
                    errors.push(src.error(pos(&entry.key.referenced), Some(&name), message));
                }
                let first = entries[..i].iter().find(|e| e.key.value.text() == name);
                if let Some(first) = first {
                    let message = format!(
                        "duplicate key `{}`{}; it is already set on line {}",
                        short(&name),
                        context(path).map(|c| format!(" {c}")).unwrap_or_default(),
                        pos(&first.key.referenced).line
                    );
                    errors.push(src.error(pos(&entry.key.referenced), Some(&name), message));
                }
                path.push(Seg::Key(name));
                check_mappings(src, &entry.value, path, errors);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Whether `path` is a value inside the arguments of a step (`steps[n].kind.key…`).
fn is_step_argument(path: &[Seg]) -> bool {
    matches!(path, [Seg::Key(steps), Seg::Index(_), Seg::Key(_), Seg::Key(_), ..] if steps == "steps")
}

/// Whether a mapping is `{i}` as YAML reads it: one key `i` without a value.
fn is_unquoted_index(entries: &[Entry]) -> bool {
    matches!(entries, [only] if matches!(&only.key.value, Node::Str(k) if k == "i")
        && matches!(only.value.value, Node::Null))
}

const STEP_SHAPE: &str =
    "a step must be a mapping with exactly one key, the step kind, like `- close: { peer: both }`";

fn check_step_shape(src: &Source<'_>, step: &SNode, errors: &mut Vec<crate::ScenarioError>) {
    match &step.value {
        Node::Map(entries) => match entries.as_slice() {
            [] => errors.push(src.error(
                pos(&step.referenced),
                None,
                format!("{STEP_SHAPE}; found an empty mapping"),
            )),
            [only] if !matches!(only.key.value, Node::Str(_)) => errors.push(src.error(
                pos(&only.key.referenced),
                None,
                format!(
                    "a step kind must be a name like `close`, found {}",
                    only.key.value.describe()
                ),
            )),
            [only] => {
                let kind = only.key.value.text();
                let args = &only.value;
                let message = match &args.value {
                    Node::Map(_) => return,
                    Node::Null => format!(
                        "step `{}` has no arguments; write it like `- {0}: {{ peer: both }}`",
                        short(&kind)
                    ),
                    other => format!(
                        "the arguments of step `{}` must be a mapping like `{{ peer: both }}`, \
                         found {}",
                        short(&kind),
                        other.describe()
                    ),
                };
                let at = match args.value {
                    Node::Null => &only.key,
                    _ => args,
                };
                errors.push(src.error(pos(&at.referenced), Some(&kind), message));
            }
            [first, rest @ ..] => {
                for extra in rest {
                    let name = extra.key.value.text();
                    let message = format!(
                        "second key `{}` in step `{}`: is the `-` in front of `{0}` missing? \
                         (each step is a mapping with exactly one key, the step kind)",
                        short(&name),
                        short(&first.key.value.text())
                    );
                    errors.push(src.error(pos(&extra.key.referenced), Some(&name), message));
                }
            }
        },
        Node::Str(kind) => errors.push(src.error(
            pos(&step.referenced),
            Some(kind),
            format!(
                "step `{}` has no arguments; write it like `- {0}: {{ peer: both }}`",
                short(kind)
            ),
        )),
        other => errors.push(src.error(
            pos(&step.referenced),
            None,
            format!("{STEP_SHAPE}; found {}", other.describe()),
        )),
    }
}
