//! Pure readers of W3C getStats reports (a JSON list of stats objects): the selected candidate
//! pair and how it compares with what a scenario expects, the DTLS role, certificate key
//! types (from the DER of the certificate stats). No I/O: the connectivity probes feed them
//! the reports they fetched.

use base64::Engine as _;
use interop_scenario::plan::PairExpectation;
use serde_json::{json, Value};

/// The selected candidate pair in a W3C getStats report (a list of stats objects): the
/// transport's `selectedCandidatePairId`, else a pair flagged `selected` (Firefox), else the
/// nominated succeeded pair that carried the most bytes.
pub fn selected_pair(report: &Value) -> Option<Value> {
    let items = report.as_array()?;
    let by_id = |id: &str| items.iter().find(|s| s["id"].as_str() == Some(id));
    let of_type = |t: &'static str| items.iter().filter(move |s| s["type"].as_str() == Some(t));
    let pair = of_type("transport")
        .find_map(|t| t["selectedCandidatePairId"].as_str().and_then(by_id))
        .or_else(|| of_type("candidate-pair").find(|p| p["selected"].as_bool() == Some(true)))
        .or_else(|| {
            of_type("candidate-pair")
                .filter(|p| {
                    p["nominated"].as_bool() == Some(true)
                        && p["state"].as_str() == Some("succeeded")
                })
                .max_by_key(|p| {
                    p["bytesSent"].as_u64().unwrap_or(0) + p["bytesReceived"].as_u64().unwrap_or(0)
                })
        })?;
    let local = pair["localCandidateId"].as_str().and_then(by_id)?;
    // A peer-reflexive remote candidate may have no stats entry (webrtc 0.21.1): the pair is
    // still the selected one, its remote side reads `unreported`.
    let unreported = json!({ "candidateType": "unreported" });
    let remote = pair["remoteCandidateId"]
        .as_str()
        .and_then(by_id)
        .unwrap_or(&unreported);
    let address = |c: &Value| {
        c["address"]
            .as_str()
            .or(c["ip"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let family = |a: &str| {
        if a.ends_with(".local") {
            "mdns"
        } else if a.contains(':') {
            "ipv6"
        } else {
            "ipv4"
        }
    };
    let local_address = address(local);
    let relay_protocol = local["relayProtocol"]
        .as_str()
        .filter(|p| matches!(*p, "udp" | "tcp" | "tls"));
    Some(json!({
        "local": local["candidateType"],
        "remote": remote["candidateType"],
        "protocol": local["protocol"].as_str().map(str::to_ascii_lowercase),
        "family": family(&local_address),
        "local_address": format!("{}:{}", local_address, local["port"]),
        "remote_address": format!("{}:{}", address(remote), remote["port"]),
        "relay_protocol": relay_protocol,
    }))
}

/// Where `pair` (from [`selected_pair`]) differs from `want`.
pub fn pair_mismatches(pair: &Value, want: &PairExpectation) -> Vec<String> {
    let checks = [
        ("local", &want.local),
        ("remote", &want.remote),
        ("protocol", &want.protocol),
        ("family", &want.family),
        ("relay_protocol", &want.relay_protocol),
    ];
    checks
        .iter()
        .filter_map(|(key, want)| {
            let want = want.as_deref()?;
            let got = pair[*key].as_str().unwrap_or("absent");
            (got != want).then(|| format!("{key} is {got}, not {want}"))
        })
        .collect()
}

/// The transport's `dtlsRole`, when reported and known.
pub fn dtls_role(report: &Value) -> Option<String> {
    report
        .as_array()?
        .iter()
        .filter(|s| s["type"].as_str() == Some("transport"))
        .find_map(|t| t["dtlsRole"].as_str())
        .filter(|r| matches!(*r, "client" | "server"))
        .map(str::to_owned)
}

/// The key type of the certificate with the transport's `which` id (`localCertificateId` /
/// `remoteCertificateId`).
pub fn certificate_key(report: &Value, which: &str) -> Option<String> {
    let items = report.as_array()?;
    let id = items
        .iter()
        .filter(|s| s["type"].as_str() == Some("transport"))
        .find_map(|t| t[which].as_str())?;
    let cert = items.iter().find(|s| s["id"].as_str() == Some(id))?;
    let encoded = cert["base64Certificate"].as_str()?;
    // rtc 0.21.1 writes the DER as hex; W3C (and the browsers) as base64.
    let is_hex = encoded.len() % 2 == 0 && encoded.bytes().all(|b| b.is_ascii_hexdigit());
    let der = if is_hex {
        hex::decode(encoded).ok()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?
    };
    Some(der_key_type(&der).to_owned())
}

/// The public key algorithm of a DER certificate, by the OID of its SubjectPublicKeyInfo.
pub fn der_key_type(der: &[u8]) -> &'static str {
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    if has(RSA) {
        "rsa"
    } else if has(EC) {
        "ecdsa"
    } else if has(ED25519) {
        "ed25519"
    } else {
        "unknown"
    }
}

/// Whether a report has any `certificate` entry at all (Firefox ESR reports none).
pub fn has_certificate_stats(report: &Value) -> bool {
    report.as_array().is_some_and(|items| {
        items
            .iter()
            .any(|s| s["type"].as_str() == Some("certificate"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> Value {
        json!([
            { "type": "transport", "id": "T", "selectedCandidatePairId": "P", "dtlsRole": "client",
              "localCertificateId": "C1", "remoteCertificateId": "C2" },
            { "type": "candidate-pair", "id": "P", "localCandidateId": "L", "remoteCandidateId": "R",
              "nominated": true, "state": "succeeded" },
            { "type": "local-candidate", "id": "L", "candidateType": "relay", "protocol": "udp",
              "address": "127.0.0.1", "port": 40001, "relayProtocol": "tcp" },
            { "type": "remote-candidate", "id": "R", "candidateType": "relay", "protocol": "udp",
              "address": "127.0.0.1", "port": 40002 },
            // A DER fragment with the rsaEncryption OID, as base64.
            { "type": "certificate", "id": "C1", "base64Certificate": "MA0GCSqGSIb3DQEBAQUA" },
            // The same kind of fragment with id-ecPublicKey, hex-encoded (rtc 0.21.1 does that).
            { "type": "certificate", "id": "C2", "base64Certificate": "301306072a8648ce3d0201" },
        ])
    }

    #[test]
    fn the_selected_pair_dtls_role_and_certificates_are_read_from_stats() {
        let report = stats();
        let pair = selected_pair(&report).unwrap();
        assert_eq!(pair["local"], "relay");
        assert_eq!(pair["relay_protocol"], "tcp");
        assert_eq!(pair["family"], "ipv4");
        let want = PairExpectation {
            local: Some("relay".into()),
            remote: Some("host".into()),
            ..Default::default()
        };
        assert_eq!(pair_mismatches(&pair, &want), ["remote is relay, not host"]);
        assert_eq!(dtls_role(&report).as_deref(), Some("client"));
        assert_eq!(
            certificate_key(&report, "localCertificateId").as_deref(),
            Some("rsa")
        );
        assert_eq!(
            certificate_key(&report, "remoteCertificateId").as_deref(),
            Some("ecdsa")
        );
    }

    #[test]
    fn firefox_style_pairs_are_found_without_transport_stats() {
        let report = json!([
            { "type": "candidate-pair", "id": "P1", "localCandidateId": "L", "remoteCandidateId": "R",
              "nominated": true, "state": "succeeded", "selected": true },
            { "type": "local-candidate", "id": "L", "candidateType": "host", "protocol": "tcp",
              "address": "::1", "port": 9 },
            { "type": "remote-candidate", "id": "R", "candidateType": "prflx", "protocol": "tcp",
              "address": "::1", "port": 5000 },
        ]);
        let pair = selected_pair(&report).unwrap();
        assert_eq!(
            (pair["local"].as_str(), pair["family"].as_str()),
            (Some("host"), Some("ipv6"))
        );
        assert_eq!(pair["protocol"], "tcp");
        assert_eq!(dtls_role(&report), None);
    }
}
