//! Secrets never reach results, artefacts or reports. What the harness knows to be secret:
//!
//! - the per-peer tokens of the control channel (`token=<hex>` in the page and control URLs,
//!   which drivers log when they navigate);
//! - passwords in URLs (`scheme://user:password@host`, e.g. a `--webdriver-url` of a grid);
//! - TURN credentials: `"credential": "..."` in JSON (the `iceServers` the harness sends) and
//!   coturn's `--user=name:password`.
//!
//! [`redact`] replaces each with `<redacted>`. It is applied where text leaves the harness for
//! the output folder: every line a child process (driver, browser, Rust peer, coturn) writes
//! to its log, the transcript, console logs, and the reasons of run records.

use std::borrow::Cow;

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// `text` with every secret it recognises replaced by [`REDACTED`]; borrowed when there is
/// none (the common case, so logging stays cheap).
pub fn redact(text: &str) -> Cow<'_, str> {
    if !(text.contains("token=")
        || text.contains('@')
        || text.contains("credential")
        || text.contains("--user="))
    {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    out = replace_after(&out, "token=", |c| {
        c.is_ascii_alphanumeric() || c == '-' || c == '_'
    });
    out = replace_after(&out, "--user=", |c| {
        !c.is_whitespace() && c != '"' && c != '\''
    });
    out = redact_url_passwords(&out);
    // JSON (`"credential": "..."`) and Rust's Debug format (`credential: Some("...")`, which
    // the Rust peer's debug log uses).
    out = redact_member(&out, "credential");
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

/// Replaces the run of chars matching `keep` right after each `marker`.
fn replace_after(text: &str, marker: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        let after = i + marker.len();
        out.push_str(&rest[..after]);
        let tail = &rest[after..];
        let end = tail.find(|c: char| !keep(c)).unwrap_or(tail.len());
        if end > 0 && &tail[..end] != REDACTED {
            out.push_str(REDACTED);
        } else {
            out.push_str(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `scheme://user:password@host` -> `scheme://user:<redacted>@host`.
fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = i + 3;
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let authority_end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) if &userinfo[colon + 1..] != REDACTED => {
                        out.push_str(&userinfo[..colon + 1]);
                        out.push_str(REDACTED);
                        out.push_str(&authority[at..]);
                    }
                    _ => out.push_str(authority),
                }
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// `"key": "value"`, `key: "value"` and `key: Some("value")` -> the value `<redacted>`
/// (escaped quotes inside the value are skipped over).
fn redact_member(text: &str, key: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(key) {
        let after_key = i + key.len();
        out.push_str(&rest[..after_key]);
        let tail = &rest[after_key..];
        // An optional closing quote of the key, a colon, an optional `Some(`, an opening quote.
        let value = tail.strip_prefix('"').unwrap_or(tail).trim_start();
        let Some(value) = value.strip_prefix(':').map(str::trim_start) else {
            rest = tail;
            continue;
        };
        let value = value.strip_prefix("Some(").unwrap_or(value);
        let Some(body) = value.strip_prefix('"') else {
            rest = tail;
            continue;
        };
        let mut end = None;
        let mut escaped = false;
        for (k, c) in body.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(k);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            rest = tail;
            continue;
        };
        let prefix_len = tail.len() - body.len();
        out.push_str(&tail[..prefix_len]);
        out.push_str(if &body[..end] == REDACTED {
            &body[..end]
        } else {
            REDACTED
        });
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_secret_is_redacted_and_the_rest_is_kept() {
        let cases = [
            (
                "GET http://127.0.0.1:4444/peer.html?slot=3&token=9f86d081884c7d65&impl=chrome",
                "GET http://127.0.0.1:4444/peer.html?slot=3&token=<redacted>&impl=chrome",
            ),
            (
                "cannot start a session at http://admin:hunter2@grid.example:4444/wd/hub: refused",
                "cannot start a session at http://admin:<redacted>@grid.example:4444/wd/hub: refused",
            ),
            (
                r#"{"urls":["turn:127.0.0.1:3478"],"username":"u","credential":"s3cr\"et"}"#,
                r#"{"urls":["turn:127.0.0.1:3478"],"username":"u","credential":"<redacted>"}"#,
            ),
            (
                r#"IceServer { urls: ["turn:x"], username: Some("u"), credential: Some("pw\"d") }"#,
                r#"IceServer { urls: ["turn:x"], username: Some("u"), credential: Some("<redacted>") }"#,
            ),
            (
                "turnserver --user=interop:abcdef0123 --realm=interop",
                "turnserver --user=<redacted> --realm=interop",
            ),
            // No secret: unchanged (and not copied).
            ("mailto user@example.org, http://127.0.0.1:80/x", "mailto user@example.org, http://127.0.0.1:80/x"),
        ];
        for (given, want) in cases {
            assert_eq!(redact(given), want, "{given}");
            // Redacting twice changes nothing more.
            assert_eq!(redact(want), want);
        }
        assert!(matches!(redact("plain line"), Cow::Borrowed(_)));
    }
}
