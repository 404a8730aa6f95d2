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

/// Rewrites the lines of `sdp` (each without its line ending): `None` removes a line.
fn map_lines(sdp: &str, mut f: impl FnMut(&str) -> Option<String>) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let mut text = sdp
        .lines()
        .filter_map(|line| f(line.trim_end_matches('\r')))
        .collect::<Vec<_>>()
        .join(eol);
    if sdp.ends_with('\n') {
        text.push_str(eol);
    }
    text
}

/// Keeps only the `a=candidate` lines `keep` accepts (it gets the text after `a=`), and drops
/// `a=end-of-candidates` when `keep_end` is false.
pub fn filter_candidates(sdp: &str, keep: impl Fn(&str) -> bool, keep_end: bool) -> String {
    map_lines(sdp, |line| match line.strip_prefix("a=") {
        Some(c) if c.starts_with("candidate:") && !keep(c) => None,
        Some("end-of-candidates") if !keep_end => None,
        _ => Some(line.to_owned()),
    })
}

/// Every `a=setup:` value replaced by `setup`.
pub fn with_setup(sdp: &str, setup: &str) -> String {
    map_lines(sdp, |line| {
        Some(if line.starts_with("a=setup:") {
            format!("a=setup:{setup}")
        } else {
            line.to_owned()
        })
    })
}

/// Every `a=fingerprint:` hash with its first byte changed: a description whose fingerprint
/// no longer matches the sender's certificate.
pub fn with_tampered_fingerprint(sdp: &str) -> String {
    map_lines(sdp, |line| {
        let Some(rest) = line.strip_prefix("a=fingerprint:") else {
            return Some(line.to_owned());
        };
        let Some((algorithm, hash)) = rest.split_once(' ') else {
            return Some(line.to_owned());
        };
        let mut bytes: Vec<String> = hash.split(':').map(str::to_owned).collect();
        if let Some(first) = bytes.first_mut() {
            let value = u8::from_str_radix(first, 16).unwrap_or(0) ^ 0xff;
            let upper = hash.chars().any(|c| c.is_ascii_uppercase());
            *first = if upper {
                format!("{value:02X}")
            } else {
                format!("{value:02x}")
            };
        }
        Some(format!("a=fingerprint:{algorithm} {}", bytes.join(":")))
    })
}

/// Without any `a=<name>` or `a=<name>:...` line.
pub fn without_attribute(sdp: &str, name: &str) -> String {
    map_lines(sdp, |line| {
        let attribute = line
            .strip_prefix("a=")
            .map(|a| a.split(':').next().unwrap_or(a));
        (attribute != Some(name)).then(|| line.to_owned())
    })
}

/// The first `a=ice-ufrag` and `a=ice-pwd` values.
pub fn ice_credentials(sdp: &str) -> Option<(String, String)> {
    let find = |key: &str| {
        sdp.lines()
            .find_map(|l| l.trim_end().strip_prefix(key).map(str::to_owned))
    };
    Some((find("a=ice-ufrag:")?, find("a=ice-pwd:")?))
}

/// What an ICE candidate attribute (`candidate:...`, with or without `a=`) says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateInfo {
    /// `udp` / `tcp` (lowercase).
    pub protocol: String,
    pub address: String,
    /// `host`, `srflx`, `prflx`, `relay`.
    pub kind: String,
    /// `active`, `passive`, `so` for TCP candidates.
    pub tcp_type: Option<String>,
}

impl CandidateInfo {
    /// `ipv4`, `ipv6`, or `mdns` for a `.local` name.
    pub fn family(&self) -> &'static str {
        if self.address.ends_with(".local") {
            "mdns"
        } else if self.address.contains(':') {
            "ipv6"
        } else {
            "ipv4"
        }
    }
}

pub fn candidate_info(candidate: &str) -> Option<CandidateInfo> {
    let c = candidate.strip_prefix("a=").unwrap_or(candidate);
    let fields: Vec<&str> = c.split_whitespace().collect();
    if fields.len() < 8 || !fields[0].starts_with("candidate:") {
        return None;
    }
    let after = |key: &str| {
        fields
            .iter()
            .position(|f| *f == key)
            .and_then(|i| fields.get(i + 1))
            .map(|s| s.to_string())
    };
    Some(CandidateInfo {
        protocol: fields[2].to_ascii_lowercase(),
        address: fields[4].to_owned(),
        kind: after("typ")?,
        tcp_type: after("tcptype"),
    })
}

fn application_section(sdp: &str) -> Option<Vec<&str>> {
    let mut lines = sdp.lines().map(str::trim_end);
    lines.by_ref().find(|l| l.starts_with("m=application"))?;
    Some(lines.take_while(|l| !l.starts_with("m=")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CANDIDATES: &str = "v=0\r\na=fingerprint:sha-256 AB:CD\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=ice-ufrag:u1\r\na=ice-pwd:p1\r\na=setup:actpass\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=candidate:2 1 TCP 1518280447 ::1 9 typ host tcptype active\r\na=end-of-candidates\r\n";

    #[test]
    fn candidates_are_read_filtered_and_attributes_changed() {
        let c =
            candidate_info("a=candidate:2 1 TCP 1518280447 ::1 9 typ host tcptype active").unwrap();
        assert_eq!(
            (c.protocol.as_str(), c.family(), c.kind.as_str()),
            ("tcp", "ipv6", "host")
        );
        assert_eq!(c.tcp_type.as_deref(), Some("active"));
        let mdns = candidate_info("candidate:1 1 udp 1 abc.local 5 typ host").unwrap();
        assert_eq!(mdns.family(), "mdns");

        let udp_only = filter_candidates(
            TWO_CANDIDATES,
            |c| candidate_info(c).is_some_and(|c| c.protocol == "udp"),
            false,
        );
        assert!(udp_only.contains("127.0.0.1 5000"));
        assert!(!udp_only.contains("TCP"));
        assert!(!udp_only.contains("end-of-candidates"));
        assert!(udp_only.ends_with("\r\n"));

        assert!(with_setup(TWO_CANDIDATES, "passive").contains("a=setup:passive\r\n"));
        assert!(with_tampered_fingerprint(TWO_CANDIDATES).contains("a=fingerprint:sha-256 54:CD"));
        let no_fp = without_attribute(TWO_CANDIDATES, "fingerprint");
        assert!(!no_fp.contains("fingerprint") && no_fp.contains("a=setup"));
        assert_eq!(
            ice_credentials(TWO_CANDIDATES),
            Some(("u1".to_owned(), "p1".to_owned()))
        );
    }

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
