//! `RTCPeerConnection.generateCertificate(keygen)` for the two keygens the protocol names
//! (`PeerConnectionConfig.certificate`): `"ecdsa"` (ECDSA P-256, SHA-256) and `"rsa"`
//! (RSASSA-PKCS1-v1_5, 2048-bit modulus, SHA-256). Anything else is a `NotSupportedError`, as
//! an unknown algorithm is for `generateCertificate`.
//!
//! Key generation goes through the connection's crypto provider. `rtc-crypto` 0.21.1 with its
//! default `ring` backend (the one this workspace builds) generates only Ed25519 and ECDSA
//! P-256 keys (`RingSigningKey::generate`, `rtc-crypto-0.21.1/src/providers/ring.rs:386-399`;
//! `ring` itself has no RSA key generation) but *imports* RSA PKCS#8 keys and signs with them
//! (`ring.rs:434-443`), and DTLS accepts RSA certificates (`rtc-0.21.1/tests/dtls_rsa_certificate.rs`,
//! which imports fixture keys for the same reason). So an RSA key is asked of the provider
//! first (a provider that can, such as `aws-lc-rs`, is used as is) and otherwise made by the
//! system's `openssl genpkey` and imported. Without `openssl` the answer is a
//! `NotSupportedError` that says all of this.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use interop_protocol::PeerError;
use rtc::crypto::{RTCCryptoProvider, SignatureScheme, SigningKey};
use rtc::peer_connection::certificate::CertificateParams;
use webrtc::peer_connection::RTCCertificate;

use crate::w3c::named_error;

/// Upper bound on `openssl genpkey` (2048-bit RSA takes well under a second here).
const OPENSSL_TIMEOUT: Duration = Duration::from_secs(20);

/// The keygen algorithms of `PeerConnectionConfig.certificate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keygen {
    /// `{name: "ECDSA", namedCurve: "P-256"}`.
    EcdsaP256,
    /// `{name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, hash: "SHA-256"}`.
    Rsa2048,
}

impl Keygen {
    pub fn parse(name: &str) -> Result<Keygen, PeerError> {
        match name {
            "ecdsa" => Ok(Keygen::EcdsaP256),
            "rsa" => Ok(Keygen::Rsa2048),
            other => Err(named_error(
                "NotSupportedError",
                format!("certificate {other:?}: this peer generates \"ecdsa\" or \"rsa\""),
            )),
        }
    }
}

/// A fresh self-signed certificate for `keygen`, with a key made by (or imported into)
/// `provider`.
pub async fn generate(
    keygen: Keygen,
    provider: &Arc<dyn RTCCryptoProvider>,
) -> Result<RTCCertificate, PeerError> {
    let (scheme, key) = match keygen {
        Keygen::EcdsaP256 => {
            let scheme = SignatureScheme::EcdsaP256Sha256;
            let key = provider
                .crypto()
                .generate_signing_key(scheme)
                .map_err(|e| not_supported(format!("ECDSA P-256 key generation failed: {e}")))?;
            (scheme, key)
        }
        Keygen::Rsa2048 => (SignatureScheme::RsaPkcs1Sha256, rsa_key(provider).await?),
    };
    let params = CertificateParams::new(vec!["WebRTC".to_owned()])
        .map_err(|e| not_supported(format!("certificate parameters: {e}")))?;
    RTCCertificate::generate_from_signing_key(params, scheme, key)
        .map_err(|e| not_supported(format!("self-signing the {keygen:?} certificate: {e}")))
}

/// An RSA-2048 signing key: from the provider if it can generate one, else from `openssl`.
async fn rsa_key(provider: &Arc<dyn RTCCryptoProvider>) -> Result<Arc<dyn SigningKey>, PeerError> {
    let scheme = SignatureScheme::RsaPkcs1Sha256;
    let refused = match provider.crypto().generate_signing_key(scheme) {
        // Only if it is really 2048 bits; a provider choosing another size is not what was asked.
        Ok(key) if rsa_modulus_bits(key.public_key().bytes) == Some(2048) => return Ok(key),
        Ok(_) => format!(
            "the {} provider generated an RSA key whose modulus is not 2048 bits",
            provider.name()
        ),
        Err(e) => format!(
            "rtc-crypto 0.21.1's {} provider refuses RSA key generation ({e}; \
             providers/ring.rs:386-399 generates only Ed25519 and ECDSA P-256)",
            provider.name()
        ),
    };
    let pkcs8 = openssl_rsa_2048().await.map_err(|why| {
        not_supported(format!(
            "cannot make an RSA-2048 key: {refused}, and the fallback `openssl genpkey` \
             failed: {why}"
        ))
    })?;
    provider
        .crypto()
        .import_signing_key(scheme, &pkcs8)
        .map_err(|e| {
            not_supported(format!(
                "{refused}; the RSA key from `openssl genpkey` was refused on import: {e}"
            ))
        })
}

/// A PKCS#8 DER RSA-2048 private key from the system's `openssl`.
async fn openssl_rsa_2048() -> Result<Vec<u8>, String> {
    let child = tokio::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            // PEM is PKCS#8 ("PRIVATE KEY"); OpenSSL 3.0's `-outform DER` writes PKCS#1, which
            // `ring` does not import.
            "-outform",
            "PEM",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    let output = tokio::time::timeout(OPENSSL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("openssl genpkey took longer than {OPENSSL_TIMEOUT:?}"))?
        .map_err(|e| format!("openssl genpkey: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "openssl genpkey exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    pkcs8_from_pem(&String::from_utf8_lossy(&output.stdout))
}

/// The DER of the `-----BEGIN PRIVATE KEY-----` (PKCS#8) block of `pem`.
fn pkcs8_from_pem(pem: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let body = pem
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(body, _)| body)
        .ok_or_else(|| "openssl genpkey wrote no PKCS#8 PRIVATE KEY block".to_owned())?;
    let base64: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .map_err(|e| format!("the PRIVATE KEY block is not base64: {e}"))
}

/// The modulus size of an RSA public key (PKCS#1 `RSAPublicKey` or SubjectPublicKeyInfo DER),
/// read as the longest INTEGER in it without leading zero bytes. `None` if none is found.
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let mut longest: Option<&[u8]> = None;
    let mut i = 0;
    while i + 2 <= der.len() {
        // INTEGER with a long-form length (a 2048-bit modulus needs 0x82 LL LL).
        if der[i] == 0x02 && der[i + 1] == 0x82 && i + 4 <= der.len() {
            let len = usize::from(der[i + 2]) << 8 | usize::from(der[i + 3]);
            if let Some(value) = der.get(i + 4..i + 4 + len) {
                if longest.is_none_or(|l| l.len() < value.len()) {
                    longest = Some(value);
                }
            }
        }
        i += 1;
    }
    let value = longest?;
    let first = value.iter().position(|&b| b != 0)?;
    Some((value.len() - first) * 8 - value[first].leading_zeros() as usize)
}

fn not_supported(message: String) -> PeerError {
    named_error("NotSupportedError", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkcs8_block_is_read_from_pem() {
        let pem = "noise\n-----BEGIN PRIVATE KEY-----\nMIIB\nCv8A\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            pkcs8_from_pem(pem).unwrap(),
            [0x30, 0x82, 0x01, 0x0a, 0xff, 0x00]
        );
        assert!(pkcs8_from_pem("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n").is_err());
    }

    #[test]
    fn unknown_keygens_are_not_supported() {
        assert_eq!(Keygen::parse("ecdsa").unwrap(), Keygen::EcdsaP256);
        assert_eq!(Keygen::parse("rsa").unwrap(), Keygen::Rsa2048);
        let err = Keygen::parse("ed25519").unwrap_err();
        assert_eq!(err.name, "NotSupportedError");
        assert!(err.message.contains("\"ed25519\""), "{}", err.message);
    }

    #[tokio::test]
    async fn both_keygens_make_a_certificate_with_the_right_key() {
        let provider = rtc::crypto::default_provider().expect("default provider");
        for keygen in [Keygen::EcdsaP256, Keygen::Rsa2048] {
            let certificate = generate(keygen, &provider)
                .await
                .unwrap_or_else(|e| panic!("{keygen:?}: {}: {}", e.name, e.message));
            let der = certificate.dtls_certificate.certificate[0].as_ref();
            // The signature algorithm OIDs, as DER: ecdsa-with-SHA256 1.2.840.10045.4.3.2,
            // sha256WithRSAEncryption 1.2.840.113549.1.1.11.
            let oid: &[u8] = match keygen {
                Keygen::EcdsaP256 => &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
                Keygen::Rsa2048 => &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
            };
            assert!(
                der.windows(oid.len()).any(|w| w == oid),
                "{keygen:?}: signature algorithm OID not in the certificate"
            );
            if keygen == Keygen::Rsa2048 {
                assert_eq!(rsa_modulus_bits(der), Some(2048), "RSA modulus size");
            }
        }
    }
}
