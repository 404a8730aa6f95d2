//! [`ScenarioError`]: one problem in one scenario file, with its location and a rendered
//! snippet of the offending line.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found while loading a scenario file.
///
/// `line` and `column` are 1-based (columns count characters). Both are 0 when the problem has
/// no location in the file (for example when the file cannot be read).
///
/// `Display` renders `{path}:{line}:{column}: {message}` followed by a rustc-style snippet of
/// the offending line with a caret under the offending token:
///
/// ```text
/// scenarios/echo.yaml:12:59: unknown key `tiemout` in step `expect_message`; expected one of `peer`, `label`, `text`, `text_bytes`, `binary_bytes`, `timeout` (did you mean `timeout`?)
///    |
/// 12 |   - expect_message: { peer: bob, label: echo, text: "hi", tiemout: 5s }
///    |                                                           ^^^^^^^
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self))]
pub struct ScenarioError {
    /// The file, as given to the loader.
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The YAML key the problem is about, when there is one (e.g. `timeout`, or the unknown
    /// key itself).
    pub key: Option<String>,
    /// A lowercase fragment, e.g. "unknown peer `carol`; this scenario declares `alice`, `bob`".
    pub message: String,
    /// The text of line `line`, used for the snippet; `None` when there is nothing to show.
    pub source_line: Option<String>,
}

impl ScenarioError {
    /// An error at `line`:`column` of `text` (1-based; 0 for "no location").
    pub(crate) fn at(
        path: &Path,
        text: &str,
        line: usize,
        column: usize,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let source_line = line
            .checked_sub(1)
            .and_then(|index| text.lines().nth(index))
            .map(str::to_owned);
        ScenarioError {
            path: path.to_path_buf(),
            line,
            column,
            key: key.map(str::to_owned),
            message: message.into(),
            source_line,
        }
    }

    /// An error about the file as a whole (no location).
    pub(crate) fn file(path: &Path, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            key: None,
            message: message.into(),
            source_line: None,
        }
    }
}

/// Renders every error followed by a blank line: the text the CLI prints when loading fails.
pub fn render_all(errors: &[ScenarioError]) -> String {
    let mut out = String::new();
    for error in errors {
        out.push_str(&error.to_string());
        out.push_str("\n\n");
    }
    out
}

struct Rendered<'a>(&'a ScenarioError);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        if e.line == 0 {
            return write!(f, "{}: {}", e.path.display(), e.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            e.path.display(),
            e.line,
            e.column,
            e.message
        )?;
        let Some(source) = &e.source_line else {
            return Ok(());
        };
        // Tabs and control characters would shift the caret: show them as spaces.
        let chars: Vec<char> = source
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let shown: String = chars.iter().collect();
        let number = e.line.to_string();
        let gutter = " ".repeat(number.len().max(2));
        let start = e.column.saturating_sub(1).min(chars.len());
        let width = token_width(&chars[start..]);
        write!(
            f,
            "\n{gutter} |\n{number:>w$} | {}\n{gutter} | {}{}",
            shown.trim_end(),
            " ".repeat(start),
            "^".repeat(width),
            w = gutter.len(),
        )
    }
}

/// How many characters of the YAML token starting at `rest` to underline (at least one):
/// a quoted string, a plain scalar (which may contain single spaces), or one indicator.
fn token_width(rest: &[char]) -> usize {
    match rest {
        [] | ['{' | '[' | '}' | ']' | ',', ..] | ['-', ' ', ..] => 1,
        [quote @ ('"' | '\''), tail @ ..] => tail
            .iter()
            .position(|c| c == quote)
            .map_or(rest.len(), |end| end + 2),
        _ => {
            let mut width = 0;
            while let Some(&c) = rest.get(width) {
                let next = rest.get(width + 1).copied();
                let ends_key = c == ':' && next.is_none_or(char::is_whitespace);
                let comment = c.is_whitespace() && next == Some('#');
                if matches!(c, ',' | '}' | ']') || ends_key || comment {
                    break;
                }
                width += 1;
            }
            let token = &rest[..width];
            let trailing = token.iter().rev().take_while(|c| c.is_whitespace()).count();
            (width - trailing).max(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_message_and_caret_under_the_token() {
        let text = "feature: x\nsteps:\n  - close: { peer: carol }\n";
        let e = ScenarioError::at(
            Path::new("a.yaml"),
            text,
            3,
            20,
            Some("peer"),
            "unknown peer `carol`",
        );
        assert_eq!(
            e.to_string(),
            "a.yaml:3:20: unknown peer `carol`\n   |\n 3 |   - close: { peer: carol }\n   |                    ^^^^^"
        );
    }

    #[test]
    fn caret_covers_quoted_strings_and_stops_at_key_colons() {
        let w = |s: &str| token_width(&s.chars().collect::<Vec<_>>());
        assert_eq!(w("\"a b\" x"), 5);
        assert_eq!(w("tiemout: 5s"), 7);
        assert_eq!(w("15 seconds }"), 10);
        assert_eq!(w("Several Problems   # comment"), 16);
        assert_eq!(w("- echo"), 1);
        assert_eq!(w("stun:x.org"), 10);
        assert_eq!(w("{ a: 1 }"), 1);
        assert_eq!(w(""), 1);
        assert_eq!(w("\"unterminated"), 13);
    }

    #[test]
    fn errors_without_location_or_beyond_the_line_render_safely() {
        let e = ScenarioError::file(Path::new("x.yaml"), "failed to read the file: denied");
        assert_eq!(e.to_string(), "x.yaml: failed to read the file: denied");
        let e = ScenarioError::at(Path::new("x.yaml"), "a: 1", 1, 99, None, "boom");
        assert!(e.to_string().ends_with(" 1 | a: 1\n   |     ^"));
        let e = ScenarioError::at(Path::new("x.yaml"), "a: 1", 7, 1, None, "boom");
        assert_eq!(e.to_string(), "x.yaml:7:1: boom");
    }
}
