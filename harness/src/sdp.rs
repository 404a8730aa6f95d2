//! The few facts the harness reads from session descriptions, and the changes it makes to them
//! when a scenario asks (the harness is the signaling channel). Line-based on purpose: the
//! harness must see and pass on exactly what a peer produced, not a re-serialisation.

/// The `a=max-message-size` a description announces for its data channel m-section, as the
/// remote must apply it (RFC 8841 section 6): `None` when the description has no
/// `m=application` section; 65536 when the attribute is absent; `u64::MAX` for 0 ("no limit").
pub fn max_message_size(sdp: &str) -> Option<u64> {
    let section = application_section(sdp)?;
    let announced = section
        .iter()
        .find_map(|line| line.strip_prefix("a=max-message-size:"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    Some(match announced {
        None => 65536,
        Some(0) => u64::MAX,
        Some(n) => n,
    })
}

/// One audio or video m-section, as far as the harness needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaSection {
    pub kind: String,
    pub mid: Option<String>,
    /// `a=sendrecv` / `a=sendonly` / `a=recvonly` / `a=inactive` (sendrecv when absent).
    pub direction: String,
    /// Port 0: the m-section is rejected or stopped.
    pub rejected: bool,
    /// Payload types of the m= line, in order.
    pub payload_types: Vec<u8>,
    /// `a=rtpmap`: payload type -> `name/clock[/channels]`.
    pub rtpmap: Vec<(u8, String)>,
    /// `a=rtcp-fb`: payload type (`None` for `*`) -> feedback (`nack`, `nack pli`, ...).
    pub rtcp_fb: Vec<(Option<u8>, String)>,
    /// `a=extmap` URIs, in order.
    pub extensions: Vec<String>,
    /// `a=simulcast` value, if any.
    pub simulcast: Option<String>,
    /// `a=rid` values (`q send`, ...).
    pub rids: Vec<String>,
}

impl MediaSection {
    /// Codec name (`VP8`, `opus`, `rtx`...) of a payload type.
    pub fn codec_of(&self, pt: u8) -> Option<&str> {
        self.rtpmap
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, map)| map.split('/').next().unwrap_or_default())
    }

    /// Payload types carrying media (not rtx, red, ulpfec, flexfec, CN, telephone-event).
    pub fn media_payload_types(&self) -> Vec<u8> {
        self.payload_types
            .iter()
            .copied()
            .filter(|pt| !self.is_auxiliary(*pt))
            .collect()
    }

    /// Payload types of retransmissions (`rtx`).
    pub fn rtx_payload_types(&self) -> Vec<u8> {
        self.payload_types
            .iter()
            .copied()
            .filter(|pt| {
                self.codec_of(*pt)
                    .is_some_and(|c| c.eq_ignore_ascii_case("rtx"))
            })
            .collect()
    }

    fn is_auxiliary(&self, pt: u8) -> bool {
        const AUX: &[&str] = &[
            "rtx",
            "red",
            "ulpfec",
            "flexfec-03",
            "CN",
            "telephone-event",
        ];
        self.codec_of(pt)
            .is_some_and(|c| AUX.iter().any(|a| a.eq_ignore_ascii_case(c)))
    }

    /// The codec of the first media payload type: what the sender of an answer uses.
    pub fn first_codec(&self) -> Option<String> {
        let pt = *self.media_payload_types().first()?;
        self.codec_of(pt).map(str::to_owned)
    }

    /// Feedback announced for a payload type (including `*` entries).
    pub fn feedback_of(&self, pt: u8) -> Vec<&str> {
        self.rtcp_fb
            .iter()
            .filter(|(p, _)| p.is_none() || *p == Some(pt))
            .map(|(_, fb)| fb.as_str())
            .collect()
    }
}

/// The audio and video m-sections of a description, in order.
pub fn media_sections(sdp: &str) -> Vec<MediaSection> {
    let mut out: Vec<MediaSection> = Vec::new();
    let mut in_media = false;
    for line in sdp.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            let mut fields = m.split_whitespace();
            let kind = fields.next().unwrap_or_default();
            in_media = kind == "audio" || kind == "video";
            if in_media {
                let port = fields.next().unwrap_or_default();
                let _proto = fields.next();
                out.push(MediaSection {
                    kind: kind.to_owned(),
                    direction: "sendrecv".to_owned(),
                    rejected: port == "0",
                    payload_types: fields.filter_map(|f| f.parse().ok()).collect(),
                    ..Default::default()
                });
            }
            continue;
        }
        if !in_media {
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue;
        };
        let Some(attr) = line.strip_prefix("a=") else {
            continue;
        };
        let (name, value) = attr.split_once(':').unwrap_or((attr, ""));
        match name {
            "mid" => section.mid = Some(value.to_owned()),
            "sendrecv" | "sendonly" | "recvonly" | "inactive" => {
                section.direction = name.to_owned()
            }
            "rtpmap" => {
                if let Some((pt, map)) = value.split_once(' ') {
                    if let Ok(pt) = pt.parse() {
                        section.rtpmap.push((pt, map.to_owned()));
                    }
                }
            }
            "rtcp-fb" => {
                if let Some((pt, fb)) = value.split_once(' ') {
                    section.rtcp_fb.push((pt.parse().ok(), fb.to_owned()));
                }
            }
            "extmap" => {
                // extmap:<id>[/<direction>] <uri> [<attributes>]
                if let Some(uri) = value.split_whitespace().nth(1) {
                    section.extensions.push(uri.to_owned());
                }
            }
            "simulcast" => section.simulcast = Some(value.to_owned()),
            "rid" => section.rids.push(value.to_owned()),
            _ => {}
        }
    }
    out
}

/// The raw `a=max-message-size` value, if the description has one.
pub fn announced_max_message_size(sdp: &str) -> Option<u64> {
    application_section(sdp)?
        .iter()
        .find_map(|line| line.strip_prefix("a=max-message-size:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The `a=setup` value (`actpass`, `active`, `passive`) of the first m-section that has one
/// (session level as a fallback).
pub fn setup(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|line| line.trim_end().strip_prefix("a=setup:"))
}

/// Which side is the DTLS client, from the offer's and the answer's `a=setup`: `Some(true)`
/// when the offerer is the client. RFC 5763: the answerer picks `active` (it is the client)
/// or `passive` (the offerer is the client) when offered `actpass`.
pub fn offerer_is_dtls_client(offer: &str, answer: &str) -> Option<bool> {
    match (setup(offer)?, setup(answer)?) {
        (_, "active") => Some(false),
        (_, "passive") => Some(true),
        ("active", _) => Some(true),
        ("passive", _) => Some(false),
        _ => None,
    }
}

/// Sets the data channel m-section's `a=max-message-size` to `size`, replacing the attribute
/// or adding it after `a=sctp-port`. A description without `m=application` is returned as is.
pub fn with_max_message_size(sdp: &str, size: u64) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = Vec::new();
    let mut in_application = false;
    let mut done = false;
    let lines: Vec<&str> = sdp.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("m=") {
            in_application = line.starts_with("m=application");
        }
        if in_application && line.starts_with("a=max-message-size:") {
            if !done {
                out.push(format!("a=max-message-size:{size}"));
                done = true;
            }
            continue;
        }
        out.push(line.to_string());
        let section_ends = lines
            .get(i + 1)
            .map(|next| next.starts_with("m="))
            .unwrap_or(true);
        if in_application && !done && (line.starts_with("a=sctp-port:") || section_ends) {
            // Added after a=sctp-port, unless a later line of the section replaces it.
            let later = lines[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with("m="))
                .any(|l| l.starts_with("a=max-message-size:"));
            if !later {
                out.push(format!("a=max-message-size:{size}"));
                done = true;
            }
        }
    }
    let mut text = out.join(eol);
    if sdp.ends_with('\n') {
        text.push_str(eol);
    }
    text
}

/// The description with every `a=candidate:` line passed through `rewrite` (which gets the
/// part after `a=`).
pub fn map_candidates(sdp: &str, mut rewrite: impl FnMut(&str) -> String) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let mut text = sdp
        .lines()
        .map(|line| match line.strip_prefix("a=") {
            Some(c) if c.starts_with("candidate:") => format!("a={}", rewrite(c)),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join(eol);
    if sdp.ends_with('\n') {
        text.push_str(eol);
    }
    text
}

fn application_section(sdp: &str) -> Option<Vec<&str>> {
    let mut lines = sdp.lines().map(str::trim_end);
    lines.by_ref().find(|l| l.starts_with("m=application"))?;
    Some(lines.take_while(|l| !l.starts_with("m=")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:actpass\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=setup:actpass\r\na=mid:1\r\n\
        a=sctp-port:5000\r\na=max-message-size:262144\r\n";

    #[test]
    fn reads_max_message_size_with_rfc_8841_defaults() {
        assert_eq!(max_message_size(OFFER), Some(262144));
        assert_eq!(announced_max_message_size(OFFER), Some(262144));
        let absent = OFFER.replace("a=max-message-size:262144\r\n", "");
        assert_eq!(max_message_size(&absent), Some(65536));
        assert_eq!(announced_max_message_size(&absent), None);
        let unlimited = OFFER.replace("262144", "0");
        assert_eq!(max_message_size(&unlimited), Some(u64::MAX));
        let no_data = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=max-message-size:5\r\n";
        assert_eq!(max_message_size(no_data), None);
    }

    #[test]
    fn munges_max_message_size_in_the_application_section_only() {
        let munged = with_max_message_size(OFFER, 16384);
        assert_eq!(max_message_size(&munged), Some(16384));
        assert_eq!(munged.matches("max-message-size").count(), 1);
        assert!(munged.ends_with("a=max-message-size:16384\r\n"));
        let absent = OFFER.replace("a=max-message-size:262144\r\n", "");
        let added = with_max_message_size(&absent, 1000);
        assert!(added.contains("a=sctp-port:5000\r\na=max-message-size:1000\r\n"));
        assert_eq!(max_message_size(&added), Some(1000));
    }

    #[test]
    fn candidates_in_a_description_are_rewritten() {
        let sdp = "v=0\r\na=candidate:1 1 udp 1 127.0.0.1 5 typ host\r\na=mid:0\r\n";
        let out = map_candidates(sdp, |c| c.replace("127.0.0.1 5", "127.0.0.1 9"));
        assert_eq!(
            out,
            "v=0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\na=mid:0\r\n"
        );
    }

    #[test]
    fn dtls_roles_follow_the_answer() {
        let answer_active = "v=0\r\na=setup:active\r\n";
        let answer_passive = "v=0\r\na=setup:passive\r\n";
        assert_eq!(offerer_is_dtls_client(OFFER, answer_active), Some(false));
        assert_eq!(offerer_is_dtls_client(OFFER, answer_passive), Some(true));
        assert_eq!(offerer_is_dtls_client(OFFER, "v=0\r\n"), None);
    }
}
