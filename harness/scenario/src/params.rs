//! Parameterised scenarios: one file, several variants.
//!
//! ```yaml
//! parameters:
//!   trickle: [on, off]                       # an axis of plain values
//!   side:                                    # an axis whose values set several names at once
//!     - { initiator: alice, responder: bob }
//!     - { initiator: bob, responder: alice }
//! steps:
//!   - negotiate: { offerer: ${initiator}, answerer: ${responder} }
//! ```
//!
//! The variants are the cartesian product of the axes, in file order (the first axis varies
//! slowest). Each variant is the file with every `${name}` replaced by its value, loaded by the
//! ordinary passes, and named `base[name=value,...]`. The values are restricted to characters
//! that mean the same thing anywhere in YAML (`A-Z a-z 0-9 _ . : / -`), so a substitution never
//! changes the structure of the file, only scalars.
//!
//! Locations stay true: an error found in a variant is mapped back to the line and column of
//! the original file (a column inside a substituted value points at its `${`), shown with the
//! original line, and when only some variants have it, the message says which.

use std::collections::BTreeSet;

use crate::suggest::{did_you_mean, quote_list};
use crate::tree::{pos, short, Entry, Node, SNode};
use crate::{Pos, ScenarioError, Source};

/// The most variants one file may expand into.
pub const MAX_VARIANTS: usize = 64;

/// One `${name}` in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholder {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters) of the `$`.
    pub column: usize,
    /// Byte range of `${name}` in the text.
    pub start: usize,
    pub end: usize,
    pub name: String,
}

/// The declared parameters: names in declaration order and the axes they come from.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub names: Vec<String>,
    /// Each axis: its values; each value assigns one or more names.
    pub axes: Vec<Vec<Vec<(String, String)>>>,
}

impl Params {
    /// Every variant: the assignments of all names, in declaration order.
    pub fn variants(&self) -> Vec<Vec<(String, String)>> {
        let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for axis in &self.axes {
            let mut next = Vec::new();
            for prefix in &out {
                for value in axis {
                    let mut v = prefix.clone();
                    v.extend(value.iter().cloned());
                    next.push(v);
                }
            }
            out = next;
        }
        out
    }
}

/// `base[a=1,b=x]`: the name of one variant.
pub fn variant_name(base: &str, assignment: &[(String, String)]) -> String {
    if assignment.is_empty() {
        return base.to_owned();
    }
    let inner: Vec<String> = assignment.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{base}[{}]", inner.join(","))
}

fn is_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_value(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'-'))
        && !s.starts_with(':')
        && !s.ends_with(':')
}

/// Every `${…}` outside comments. A `${` that does not close on its line, or whose name is not
/// a parameter name, is returned with the name as written: the caller reports it.
pub(crate) fn placeholders(text: &str) -> Vec<Placeholder> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let code = strip_comment(line);
        let mut search = 0;
        while let Some(found) = code[search..].find("${") {
            let start = search + found;
            let rest = &code[start + 2..];
            let (name, len) = match rest.find('}') {
                Some(close) => (rest[..close].to_owned(), close + 3),
                None => (rest.trim_end().to_owned(), 2 + rest.trim_end().len()),
            };
            out.push(Placeholder {
                line: index + 1,
                column: line[..start].chars().count() + 1,
                start: offset + start,
                end: offset + start + len,
                name,
            });
            search = start + len.max(2);
        }
        offset += line.len();
    }
    out
}

/// The part of a line before a YAML comment (`#` at the start or after a space, outside
/// quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => return &line[..i],
            None => {}
        }
        previous = c;
    }
    line
}

/// The text with each placeholder replaced by `x`s of the same length: YAML-neutral (a `{` in a
/// flow mapping would otherwise open a mapping), with every location unchanged.
pub(crate) fn neutralize(text: &str, found: &[Placeholder]) -> String {
    let mut out = text.to_owned();
    for p in found.iter().rev() {
        out.replace_range(p.start..p.end, &"x".repeat(p.end - p.start));
    }
    out
}

/// The text of one variant, and how its columns map back to the original.
pub(crate) struct Substituted {
    pub text: String,
    /// Per placeholder (in text order): line, original column, original length, new length.
    shifts: Vec<(usize, usize, usize, usize)>,
}

impl Substituted {
    /// The original column of `column` (1-based) on `line` of the substituted text.
    pub fn original_column(&self, line: usize, column: usize) -> usize {
        let mut delta: isize = 0;
        for &(l, col, old, new) in self.shifts.iter().filter(|s| s.0 == line) {
            let _ = l;
            let start_new = (col as isize + delta) as usize;
            if column < start_new {
                break;
            }
            if column < start_new + new {
                return col;
            }
            delta += new as isize - old as isize;
        }
        (column as isize - delta).max(1) as usize
    }
}

pub(crate) fn substitute(
    text: &str,
    found: &[Placeholder],
    assignment: &[(String, String)],
) -> Substituted {
    let mut out = String::with_capacity(text.len());
    let mut shifts = Vec::new();
    let mut last = 0;
    for p in found {
        let value = assignment
            .iter()
            .find(|(k, _)| *k == p.name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        out.push_str(&text[last..p.start]);
        out.push_str(value);
        shifts.push((p.line, p.column, p.end - p.start, value.chars().count()));
        last = p.end;
    }
    out.push_str(&text[last..]);
    Substituted { text: out, shifts }
}

/// Reads `parameters:` from the (neutralized) tree and checks the placeholders against it.
/// `Ok(None)`: the file declares no parameters and uses none.
pub(crate) fn read(
    src: &Source<'_>,
    root: &SNode,
    found: &[Placeholder],
) -> Result<Option<Params>, Vec<ScenarioError>> {
    let entry = match &root.value {
        Node::Map(entries) => entries
            .iter()
            .find(|e| matches!(&e.key.value, Node::Str(k) if k == "parameters")),
        _ => None,
    };
    let Some(entry) = entry else {
        let mut errors = Vec::new();
        for p in found {
            errors.push(src.error(
                Pos {
                    line: p.line,
                    column: p.column,
                },
                None,
                format!(
                    "`${{{}}}` is a parameter, but this scenario declares no `parameters`",
                    short(&p.name)
                ),
            ));
        }
        return if errors.is_empty() {
            Ok(None)
        } else {
            Err(errors)
        };
    };
    let mut r = Reader {
        src,
        errors: Vec::new(),
        params: Params {
            names: Vec::new(),
            axes: Vec::new(),
        },
        declared_at: Vec::new(),
    };
    match &entry.value.value {
        Node::Map(axes) if !axes.is_empty() => {
            for axis in axes {
                r.axis(axis);
            }
        }
        other => r.errors.push(src.error(
            pos(&entry.value.referenced),
            Some("parameters"),
            format!(
                "`parameters` needs a mapping of names to lists of values, e.g. `trickle: [on, off]`, found {}",
                other.describe()
            ),
        )),
    }
    r.check_uses(found);
    let Reader {
        mut errors, params, ..
    } = r;
    if errors.is_empty() {
        let count = params.variants().len();
        if count > MAX_VARIANTS {
            errors.push(src.error(
                pos(&entry.key.referenced),
                Some("parameters"),
                format!("the parameters make {count} variants; at most {MAX_VARIANTS} are allowed"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(Some(params))
    } else {
        Err(errors)
    }
}

/// The state of [`read`]: what is declared so far (with where), and the errors.
struct Reader<'s> {
    src: &'s Source<'s>,
    errors: Vec<ScenarioError>,
    params: Params,
    /// Where each of `params.names` is declared.
    declared_at: Vec<Pos>,
}

impl Reader<'_> {
    /// Declares the parameter `name` (if valid and new) and returns its text.
    fn declare(&mut self, name: &SNode) -> String {
        let text = name.value.text();
        let at = pos(&name.referenced);
        if !is_name(&text) {
            self.errors.push(self.src.error(
                at,
                Some(&text),
                format!(
                    "invalid parameter name `{}`: start with `a-z`, then only `a-z`, `0-9` and `_`",
                    short(&text)
                ),
            ));
        } else if self.params.names.contains(&text) {
            self.errors.push(self.src.error(
                at,
                Some(&text),
                format!("parameter `{text}` is declared twice"),
            ));
        } else {
            self.params.names.push(text.clone());
            self.declared_at.push(at);
        }
        text
    }

    /// One value of parameter `key`: a plain scalar of allowed characters.
    fn scalar(&mut self, node: &SNode, key: &str) -> Option<String> {
        let value = match &node.value {
            Node::Str(s) => s.clone(),
            Node::Int(i) => i.to_string(),
            Node::Bool(b) => b.to_string(),
            other => {
                self.errors.push(self.src.error(
                    pos(&node.referenced),
                    Some(key),
                    format!(
                        "a value of parameter `{key}` must be a plain value, found {}",
                        other.describe()
                    ),
                ));
                return None;
            }
        };
        if !is_value(&value) {
            self.errors.push(self.src.error(
                pos(&node.referenced),
                Some(key),
                format!(
                    "invalid value `{}` of parameter `{key}`: use only letters, digits and `_ . : / -`",
                    short(&value)
                ),
            ));
            return None;
        }
        Some(value)
    }

    /// One axis (`name: [values]`): plain values, or rows that each set the same names.
    fn axis(&mut self, axis: &Entry) {
        let src = self.src;
        let axis_name = self.declare(&axis.key);
        let Node::Seq(items) = &axis.value.value else {
            self.errors.push(src.error(
                pos(&axis.value.referenced),
                Some(&axis_name),
                format!(
                    "parameter `{}` needs a list of values, e.g. `[on, off]`, found {}",
                    short(&axis_name),
                    axis.value.value.describe()
                ),
            ));
            return;
        };
        if items.is_empty() {
            self.errors.push(src.error(
                pos(&axis.value.referenced),
                Some(&axis_name),
                format!("parameter `{}` has no values", short(&axis_name)),
            ));
            return;
        }
        let mut values: Vec<Vec<(String, String)>> = Vec::new();
        let mut keys_of_rows: Option<Vec<String>> = None;
        for item in items {
            match &item.value {
                Node::Map(row) => {
                    let assigned = self.row(&axis_name, item, row, &mut keys_of_rows);
                    values.push(assigned);
                }
                _ if keys_of_rows.is_some() => self.errors.push(src.error(
                    pos(&item.referenced),
                    Some(&axis_name),
                    format!("parameter `{axis_name}` mixes rows (mappings) and plain values"),
                )),
                _ => {
                    if let Some(v) = self.scalar(item, &axis_name) {
                        values.push(vec![(axis_name.clone(), v)]);
                    }
                }
            }
        }
        let distinct: BTreeSet<&Vec<(String, String)>> = values.iter().collect();
        if distinct.len() != values.len() {
            self.errors.push(src.error(
                pos(&axis.value.referenced),
                Some(&axis_name),
                format!("parameter `{axis_name}` lists the same value twice"),
            ));
        }
        self.params.axes.push(values);
    }

    /// One row (a mapping) of axis `axis_name`: the first declares its names (the axis name is
    /// then only a label), the others must set the same ones.
    fn row(
        &mut self,
        axis_name: &str,
        item: &SNode,
        row: &[Entry],
        keys_of_rows: &mut Option<Vec<String>>,
    ) -> Vec<(String, String)> {
        // A row sets several names; the axis name itself is only a label.
        if keys_of_rows.is_none() && self.params.names.last().map(String::as_str) == Some(axis_name)
        {
            self.params.names.pop();
            self.declared_at.pop();
        }
        let mut assigned = Vec::new();
        for e in row {
            let key = e.key.value.text();
            if keys_of_rows.is_none() {
                self.declare(&e.key);
            }
            if let Some(v) = self.scalar(&e.value, &key) {
                assigned.push((key, v));
            }
        }
        let keys: Vec<String> = row.iter().map(|e| e.key.value.text()).collect();
        match &*keys_of_rows {
            None => *keys_of_rows = Some(keys),
            Some(first) if *first != keys => self.errors.push(self.src.error(
                pos(&item.referenced),
                Some(axis_name),
                format!(
                    "every row of parameter `{axis_name}` must set the same names ({}), this one sets {}",
                    quote_list(first),
                    quote_list(&keys)
                ),
            )),
            Some(_) => {}
        }
        assigned
    }

    /// Every placeholder names a declared parameter, and every parameter is used.
    fn check_uses(&mut self, found: &[Placeholder]) {
        let src = self.src;
        let params = &self.params;
        for p in found {
            if !params.names.contains(&p.name) {
                let names: Vec<&str> = params.names.iter().map(String::as_str).collect();
                let hint = did_you_mean(&p.name, &names)
                    .map(|s| format!(" (did you mean `${{{s}}}`?)"))
                    .unwrap_or_default();
                self.errors.push(src.error(
                    Pos {
                        line: p.line,
                        column: p.column,
                    },
                    None,
                    format!(
                        "unknown parameter `${{{}}}`; this scenario declares {}{hint}",
                        short(&p.name),
                        quote_list(&params.names)
                    ),
                ));
            }
        }
        for (name, at) in params.names.iter().zip(&self.declared_at) {
            if !found.iter().any(|p| p.name == *name) {
                self.errors.push(src.error(
                    *at,
                    Some(name),
                    format!(
                        "parameter `{name}` is never used: write `${{{name}}}` where it applies"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_outside_comments() {
        let text = "a: ${x}\n# ${y} in a comment\nb: { c: ${zz}, d: \"#${x}\" } # ${w}\n";
        let found = placeholders(text);
        let names: Vec<(&str, usize, usize)> = found
            .iter()
            .map(|p| (p.name.as_str(), p.line, p.column))
            .collect();
        assert_eq!(names, vec![("x", 1, 4), ("zz", 3, 9), ("x", 3, 21)]);
        assert_eq!(&text[found[1].start..found[1].end], "${zz}");
    }

    #[test]
    fn neutralized_text_keeps_every_location() {
        let text = "b: { c: ${zz}, d: 1 }\n";
        let n = neutralize(text, &placeholders(text));
        assert_eq!(n, "b: { c: xxxxx, d: 1 }\n");
    }

    #[test]
    fn columns_map_back_through_substitutions() {
        let text = "s: { p: ${peer}, q: ${b}, r: 1 }\n";
        let found = placeholders(text);
        let assignment = vec![
            ("peer".to_owned(), "al".to_owned()),
            ("b".to_owned(), "max-bundle".to_owned()),
        ];
        let s = substitute(text, &found, &assignment);
        assert_eq!(s.text, "s: { p: al, q: max-bundle, r: 1 }\n");
        // `r` is at column 28 in the variant and 27 in the original.
        assert_eq!(s.text.find('r').unwrap() + 1, 28);
        assert_eq!(s.original_column(1, 28), 27);
        // Inside a substituted value: the placeholder's `$`.
        assert_eq!(s.original_column(1, 18), 21);
        // Before any placeholder: unchanged.
        assert_eq!(s.original_column(1, 3), 3);
        assert_eq!(s.original_column(2, 5), 5);
    }

    #[test]
    fn variants_are_the_product_of_axes_first_axis_slowest() {
        let p = Params {
            names: vec!["a".into(), "b".into()],
            axes: vec![
                vec![
                    vec![("a".into(), "1".into())],
                    vec![("a".into(), "2".into())],
                ],
                vec![
                    vec![("b".into(), "x".into())],
                    vec![("b".into(), "y".into())],
                ],
            ],
        };
        let names: Vec<String> = p.variants().iter().map(|v| variant_name("s", v)).collect();
        assert_eq!(
            names,
            ["s[a=1,b=x]", "s[a=1,b=y]", "s[a=2,b=x]", "s[a=2,b=y]"]
        );
    }
}
