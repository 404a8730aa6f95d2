//! DTLS 1.2 key log (NSS format) for the Rust peer, so captures can be decrypted.
//!
//! rtc-dtls 0.21.1 has no key-log hook and keeps the master secret `pub(crate)`. It does route
//! every PRF computation through the pluggable crypto provider, so this wraps the default
//! provider and watches HMAC: the TLS 1.2 key expansion is `P_hash(master_secret, "key
//! expansion" || server_random || client_random)`, whose first HMAC is keyed with the 48-byte
//! master secret over exactly that seed. That gives the line
//! `CLIENT_RANDOM <client_random hex> <master_secret hex>`.
//!
//! Only active when `SSLKEYLOGFILE` is set; otherwise the crate's default provider is used
//! unchanged. DTLS 1.3 is not covered (the crate speaks DTLS 1.2 only).

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rtc::crypto::{
    ActiveKeyExchange, AeadAlgorithm, AeadCipher, BlockCipherAlgorithm, CbcAlgorithm, CbcCipher,
    CryptoAlgorithm, CryptoError, HashAlgorithm, HmacAlgorithm, KeyExchangeAlgorithm, Mac,
    PublicKey, RTCCrypto, RTCCryptoProvider, RTCRandom, SignatureScheme, SigningKey, StreamCipher,
    StreamCipherAlgorithm,
};

const LABEL: &[u8] = b"key expansion";
const RANDOM_LEN: usize = 32;
const MASTER_SECRET_LEN: usize = 48;

struct Log {
    path: PathBuf,
    seen: Mutex<HashSet<Vec<u8>>>,
}

impl Log {
    fn write(&self, client_random: &[u8], master_secret: &[u8]) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.insert(client_random.to_vec()) {
            return;
        }
        let line = format!(
            "CLIENT_RANDOM {} {}\n",
            hex::encode(client_random),
            hex::encode(master_secret)
        );
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

pub struct KeyLogProvider {
    inner: Arc<dyn RTCCryptoProvider>,
    crypto: KeyLogCrypto,
}

struct KeyLogCrypto {
    inner: Arc<dyn RTCCryptoProvider>,
    log: Arc<Log>,
}

struct KeyLogMac {
    inner: Box<dyn Mac>,
    key: Vec<u8>,
    log: Arc<Log>,
}

impl KeyLogProvider {
    pub fn new(inner: Arc<dyn RTCCryptoProvider>, path: PathBuf) -> Self {
        let log = Arc::new(Log {
            path,
            seen: Mutex::new(HashSet::new()),
        });
        KeyLogProvider {
            inner: inner.clone(),
            crypto: KeyLogCrypto { inner, log },
        }
    }
}

impl RTCCryptoProvider for KeyLogProvider {
    fn name(&self) -> &'static str {
        "keylog"
    }
    fn crypto(&self) -> &dyn RTCCrypto {
        &self.crypto
    }
    fn random(&self) -> &dyn RTCRandom {
        self.inner.random()
    }
}

impl Mac for KeyLogMac {
    fn output_len(&self) -> usize {
        self.inner.output_len()
    }
    fn sign(&mut self, input: &[&[u8]], output: &mut [u8]) -> Result<(), CryptoError> {
        if self.key.len() == MASTER_SECRET_LEN && input.len() == 1 {
            let seed = input[0];
            if seed.len() == LABEL.len() + 2 * RANDOM_LEN && seed.starts_with(LABEL) {
                // seed = label || server_random || client_random
                let client_random = &seed[LABEL.len() + RANDOM_LEN..];
                self.log.write(client_random, &self.key);
            }
        }
        self.inner.sign(input, output)
    }
    fn verify(&mut self, input: &[&[u8]], expected: &[u8]) -> Result<(), CryptoError> {
        self.inner.verify(input, expected)
    }
}

impl RTCCrypto for KeyLogCrypto {
    fn supports(&self, algorithm: CryptoAlgorithm) -> bool {
        self.inner.crypto().supports(algorithm)
    }
    fn hash(&self, algorithm: HashAlgorithm, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.inner.crypto().hash(algorithm, data)
    }
    fn block_encrypt(
        &self,
        algorithm: BlockCipherAlgorithm,
        key: &[u8],
        block: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.inner.crypto().block_encrypt(algorithm, key, block)
    }
    fn new_hmac(&self, algorithm: HmacAlgorithm, key: &[u8]) -> Result<Box<dyn Mac>, CryptoError> {
        let inner = self.inner.crypto().new_hmac(algorithm, key)?;
        if key.len() != MASTER_SECRET_LEN {
            return Ok(inner);
        }
        Ok(Box::new(KeyLogMac {
            inner,
            key: key.to_vec(),
            log: self.log.clone(),
        }))
    }
    fn new_stream_cipher(
        &self,
        algorithm: StreamCipherAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn StreamCipher>, CryptoError> {
        self.inner.crypto().new_stream_cipher(algorithm, key)
    }
    fn new_aead(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn AeadCipher>, CryptoError> {
        self.inner.crypto().new_aead(algorithm, key)
    }
    fn new_cbc(
        &self,
        algorithm: CbcAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn CbcCipher>, CryptoError> {
        self.inner.crypto().new_cbc(algorithm, key)
    }
    fn start_key_exchange(
        &self,
        algorithm: KeyExchangeAlgorithm,
    ) -> Result<Box<dyn ActiveKeyExchange>, CryptoError> {
        self.inner.crypto().start_key_exchange(algorithm)
    }
    fn generate_signing_key(
        &self,
        scheme: SignatureScheme,
    ) -> Result<Arc<dyn SigningKey>, CryptoError> {
        self.inner.crypto().generate_signing_key(scheme)
    }
    fn import_signing_key(
        &self,
        scheme: SignatureScheme,
        pkcs8_der: &[u8],
    ) -> Result<Arc<dyn SigningKey>, CryptoError> {
        self.inner.crypto().import_signing_key(scheme, pkcs8_der)
    }
    fn verify_signature(
        &self,
        scheme: SignatureScheme,
        public_key: PublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        self.inner
            .crypto()
            .verify_signature(scheme, public_key, message, signature)
    }
}

/// The provider to use: a key-logging wrapper when `SSLKEYLOGFILE` is set, else `None`
/// (the crate's default).
pub fn provider_from_env() -> Option<Arc<dyn RTCCryptoProvider>> {
    let path = std::env::var_os("SSLKEYLOGFILE").filter(|v| !v.is_empty())?;
    let inner = rtc::crypto::default_provider().ok()?;
    Some(Arc::new(KeyLogProvider::new(inner, PathBuf::from(path))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_expansion_hmac_writes_one_nss_line_per_client_random() {
        let dir = std::env::temp_dir().join(format!("keylog-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.log");
        let _ = std::fs::remove_file(&path);
        let inner = rtc::crypto::default_provider().unwrap();
        let provider = KeyLogProvider::new(inner, path.clone());
        let master = [7u8; MASTER_SECRET_LEN];
        let (server_random, client_random) = ([1u8; RANDOM_LEN], [2u8; RANDOM_LEN]);
        let seed = [LABEL, &server_random[..], &client_random[..]].concat();
        for _ in 0..2 {
            let mut mac = provider
                .crypto()
                .new_hmac(HmacAlgorithm::Sha256, &master)
                .unwrap();
            let mut out = vec![0u8; mac.output_len()];
            mac.sign(&[&seed], &mut out).unwrap();
        }
        // Other HMACs (another key length, another seed) log nothing.
        let mut other = provider
            .crypto()
            .new_hmac(HmacAlgorithm::Sha256, &[1u8; 32])
            .unwrap();
        let mut out = vec![0u8; other.output_len()];
        other.sign(&[&seed], &mut out).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "CLIENT_RANDOM {} {}\n",
                hex::encode(client_random),
                hex::encode(master)
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
