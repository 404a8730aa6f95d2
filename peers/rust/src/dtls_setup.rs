//! `a=setup` (the DTLS role, RFC 5763 / RFC 8842) as `rtc` 0.21.1 actually decides it, so that
//! the descriptions this peer hands out say what it will do.
//!
//! How the crate picks its DTLS role (`rtc-0.21.1/src/peer_connection/mod.rs:1582` ->
//! `transport/dtls/mod.rs:158-179` `derive_role`): once, when the first remote description is
//! applied, from the **remote** `a=setup` only (`active` -> we are server, `passive` -> we are
//! client); for `actpass` the `SettingEngine`'s `answering_dtls_role` (fixed when the peer
//! connection is built), else the ICE role (controlling -> server, controlled -> client). The
//! local description's `a=setup` is never read. Hence:
//!
//! `set_local_description` also applies nothing but the exact text the crate created
//! (`internal.rs:471` offers, `:489` answers). So the peer (`peer::Connection::unmunge_setup`):
//!
//! * **Offerer**: a local offer munged from `actpass` to `active` / `passive` is applied as the
//!   crate's own text; it is honoured in effect, because the answerer answers the inverse and
//!   the crate takes the inverse of that (a warn log says so).
//! * **Answerer**: `create_answer` writes the `answering_dtls_role` (default `active`) whatever
//!   the offer said (`mod.rs:984-1008`, `sdp/mod.rs:1119`), so against an offer with
//!   `a=setup:active` its answer says `active` while the crate acts as server. The peer reports
//!   its answers with the `a=setup` the crate really takes ([`explicit_answer_setup`]).
//! * **Answerer, munged answer**: the role was fixed when the offer was applied, before any
//!   answer existed, and nothing can change it afterwards; an answer whose `a=setup` differs
//!   from [`answer_setup`] cannot be honoured and is refused (`NotSupportedError`) rather than
//!   left to deadlock the DTLS handshake.

/// The `a=setup` value of the first media section that has one: the one the crate reads
/// (`rtc-0.21.1/src/peer_connection/transport/dtls/role.rs:148-167` looks only at media
/// sections). `None` when no media section has one.
pub fn media_setup(sdp: &str) -> Option<&str> {
    sdp.lines()
        .skip_while(|line| !line.starts_with("m="))
        .find_map(|line| line.trim_end().strip_prefix("a=setup:"))
        .map(str::trim)
}

/// The `a=setup` matching the DTLS role the crate takes when it answers `remote_offer`.
pub fn answer_setup(remote_offer: &str) -> &'static str {
    match media_setup(remote_offer) {
        Some("active") => "passive",
        Some("passive") => "active",
        // `actpass` (or none): the crate is the ICE-controlled side and so the DTLS client,
        // unless the offerer is ICE-lite, which makes us controlling and so the server (the
        // crate's `create_answer` writes `passive` then too).
        _ if is_ice_lite(remote_offer) => "passive",
        _ => "active",
    }
}

/// The `a=setup` an answer to `remote_offer` must carry when the offer names the offerer's
/// role (`active` / `passive`): the crate takes the inverse role, but `create_answer` writes its
/// default (`active`) regardless. `None` for `actpass`, where the crate's answer is right.
pub fn explicit_answer_setup(remote_offer: &str) -> Option<&'static str> {
    match media_setup(remote_offer) {
        Some("active" | "passive") => Some(answer_setup(remote_offer)),
        _ => None,
    }
}

/// Whether the session section says `a=ice-lite`.
fn is_ice_lite(sdp: &str) -> bool {
    sdp.lines()
        .take_while(|line| !line.starts_with("m="))
        .any(|line| line.trim_end() == "a=ice-lite")
}

/// `sdp` with every `a=setup:` line saying `setup`. Line endings are kept.
pub fn with_setup(sdp: &str, setup: &str) -> String {
    sdp.split_inclusive('\n')
        .map(|line| {
            if line.starts_with("a=setup:") {
                let ending = &line[line.trim_end_matches(['\r', '\n']).len()..];
                format!("a=setup:{setup}{ending}")
            } else {
                line.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=setup:passive\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\na=setup:actpass\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=setup:actpass\r\n";

    #[test]
    fn the_media_level_setup_is_the_one_read() {
        assert_eq!(media_setup(OFFER), Some("actpass"));
        assert_eq!(media_setup("v=0\r\ns=-\r\na=setup:active\r\n"), None);
    }

    #[test]
    fn the_answer_takes_the_inverse_of_an_explicit_offer() {
        assert_eq!(answer_setup(OFFER), "active");
        assert_eq!(answer_setup(&with_setup(OFFER, "active")), "passive");
        assert_eq!(answer_setup(&with_setup(OFFER, "passive")), "active");
        let lite = OFFER.replace("t=0 0\r\n", "t=0 0\r\na=ice-lite\r\n");
        assert_eq!(answer_setup(&lite), "passive");
        assert_eq!(explicit_answer_setup(OFFER), None);
        assert_eq!(explicit_answer_setup(&lite), None);
        assert_eq!(
            explicit_answer_setup(&with_setup(OFFER, "active")),
            Some("passive")
        );
    }

    #[test]
    fn with_setup_rewrites_every_setup_line_and_keeps_the_rest() {
        let munged = with_setup(OFFER, "active");
        assert_eq!(munged.matches("a=setup:active\r\n").count(), 3);
        assert!(!munged.contains("actpass") && !munged.contains("passive"));
        assert_eq!(
            with_setup(&munged, "actpass").replace("a=setup:actpass", ""),
            OFFER
                .replace("a=setup:actpass", "")
                .replace("a=setup:passive", ""),
        );
        assert_eq!(
            with_setup("a=setup:active\n", "passive"),
            "a=setup:passive\n"
        );
    }
}
