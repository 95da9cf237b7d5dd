//! Sealing of stored secrets with the server's master key (ChaCha20-Poly1305).
//!
//! The master key comes from `CNX_MASTER_KEY` or `[auth] master_key` (base64 or hex of 32
//! bytes); without either, one is generated into `DATA_DIR/master.key` (mode 0600) on first
//! start. A sealed secret is bound to its access key id (the AEAD's associated data), so a
//! sealed value copied onto another key does not open.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::meta::MetaStore;

const MASTER_FILE: &str = "master.key";
const PREFIX: &str = "v1.";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

pub(crate) fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 {
        hex::decode(text).ok()?
    } else {
        B64.decode(text).ok()?
    };
    bytes.try_into().ok()
}

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// The configured master key, else the one in the data dir, else a new one stored there.
    /// Refuses a key that cannot open the secrets already sealed in `meta`, and refuses to
    /// make a new one while such secrets exist: a lost master key is an operator's problem to
    /// solve, not one to paper over by locking every key out.
    ///
    /// Keys of the SSE-KMS key ring are checked the same way, and a new master key is not made
    /// while buckets exist either: their SSE-S3 objects need the one they were written under.
    pub fn load_or_create(cfg: &Config, meta: &dyn MetaStore) -> Result<Self> {
        let sample = meta.list_keys()?.into_iter().next();
        let kms_sample = meta.list_kms_keys()?.into_iter().next();
        let has_buckets = !meta.list_buckets()?.is_empty();
        let path = cfg.data_dir.join(MASTER_FILE);
        let (sealer, source) = if let Some(text) = &cfg.master_key {
            let key = parse_key(text.expose()).ok_or_else(|| {
                Error::Internal(
                    "the master key must be 32 bytes, as base64 or 64 hex digits".into(),
                )
            })?;
            (
                Self::new(key),
                "CNX_MASTER_KEY / [auth] master_key".to_owned(),
            )
        } else if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::Internal(format!("cannot read {}: {e}", path.display())))?;
            let key = parse_key(&text).ok_or_else(|| {
                Error::Internal(format!("invalid master key in {}", path.display()))
            })?;
            (Self::new(key), path.display().to_string())
        } else if let Some(rec) = &sample {
            return Err(Error::Internal(format!(
                "refusing to start: access keys sealed with a master key exist (e.g. {}), but no \
                 master key is configured and {} is missing; restore that file or set \
                 CNX_MASTER_KEY to the key they were sealed with",
                rec.access_key_id,
                path.display()
            )));
        } else if kms_sample.is_some() || has_buckets {
            return Err(Error::Internal(format!(
                "refusing to start: this index was used with a master key (its encrypted \
                 objects and key ring keys are sealed with it), but no master key is configured \
                 and {} is missing; restore that file or set CNX_MASTER_KEY to the key it held",
                path.display()
            )));
        } else {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            crate::credentials::write_private(&path, format!("{}\n", B64.encode(key)).as_bytes())?;
            tracing::info!(path = %path.display(), "generated the master key that seals stored secrets");
            return Ok(Self::new(key));
        };
        if let Some(rec) = &sample {
            if sealer
                .open(&rec.access_key_id, &rec.sealed_secret)
                .is_none()
            {
                return Err(Error::Internal(format!(
                    "refusing to start: the master key from {source} does not open the sealed \
                     secret of access key {}; set the master key the keys were sealed with",
                    rec.access_key_id
                )));
            }
        }
        if let Some(rec) = &kms_sample {
            let bound = format!("kms-key/{}", rec.id);
            if sealer.open(&bound, &rec.sealed_material).is_none() {
                return Err(Error::Internal(format!(
                    "refusing to start: the master key from {source} does not open what the \
                     index holds sealed (`{}`: encrypted objects and key ring keys need the \
                     master key they were sealed with); set that master key",
                    rec.id
                )));
            }
        }
        Ok(sealer)
    }

    pub fn seal(&self, bound_to: &str, secret: &str) -> Result<String> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: bound_to.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// `None` when the value was sealed under another master key or for another key id.
    pub fn open(&self, bound_to: &str, sealed: &str) -> Option<String> {
        let raw = B64.decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: bound_to.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_for_the_same_key_and_id() {
        let s = Sealer::new([7; 32]);
        let sealed = s.seal("AK1", "secret").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(s.open("AK1", &sealed).as_deref(), Some("secret"));
        assert_eq!(s.open("AK2", &sealed), None);
        assert_eq!(Sealer::new([8; 32]).open("AK1", &sealed), None);
        assert_ne!(s.seal("AK1", "secret").unwrap(), sealed, "nonces differ");
    }

    #[test]
    fn master_keys_parse_as_base64_or_hex() {
        assert_eq!(parse_key(&B64.encode([1u8; 32])), Some([1; 32]));
        assert_eq!(parse_key(&hex::encode([2u8; 32])), Some([2; 32]));
        assert_eq!(parse_key("short"), None);
    }
}
