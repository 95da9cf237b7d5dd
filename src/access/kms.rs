//! Keys of encryption at rest: the data key of each encrypted object, wrapped by the master
//! key (SSE-S3) or by a named key of the local key ring (SSE-KMS), or the customer's own
//! (SSE-C), checked against what the object was written with.
//!
//! The key ring holds keys given in `[encryption] kms_keys` and keys made through the
//! management API (32 random bytes, kept sealed by the master key in the index). Keys are
//! server-wide, as the root account manages them; who may read an object is decided by its
//! bucket's access rules, never by who may use a key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::cipher::DataKey;
use crate::config::EncryptionConfig;
use crate::error::{Error, Result};
use crate::meta::gens::{CacheKind, Seen, Use};
use crate::meta::sse::{Encryption, KmsKeyRecord, SseMode};
use crate::meta::{BucketRecord, MetaStore, RECORD_VERSION};

use super::seal::Sealer;

/// The key SSE-KMS uses when a request and its bucket name none (S3's `aws/s3`).
pub const DEFAULT_KEY_ID: &str = "cnx-default";
/// A record of the key ring's column that is no key (its id is not a valid one): random bytes
/// sealed by the master key when the server first starts, which `Sealer::load_or_create` opens
/// to tell a wrong master key even where nothing else sealed exists (only SSE-S3 objects).
pub const MASTER_CHECK_ID: &str = "#master-check";

/// Whether a key may be read from the index to serve a call, or only memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    InMemory,
    Index,
}
/// What a key id may be made of.
const ID_MAX: usize = 64;

/// What a write asks for, its key not yet made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseRequest {
    S3 {
        bucket_key: bool,
    },
    /// A key id, or `None` for the default key.
    Kms {
        key: Option<String>,
        bucket_key: bool,
    },
    Customer(DataKey),
}

pub struct Kms {
    meta: Arc<dyn MetaStore>,
    master: Sealer,
    /// Keys from the config file.
    configured: HashMap<String, DataKey>,
    /// Keys from the index, unsealed on first use (`None`: disabled). Filled and cleared under
    /// its lock, so a key disabled while another request loads it is never cached as enabled;
    /// emptied when the index's generation of KMS keys moves (a change through any gateway).
    cache: Mutex<KeyCache>,
    /// Held while a key is made, so two makers of one id cannot both store theirs (the
    /// second would replace a key the first may already have wrapped data keys with).
    creating: std::sync::Mutex<()>,
}

#[derive(Default)]
struct KeyCache {
    seen: Seen,
    keys: HashMap<String, Option<DataKey>>,
}

/// Whether `id` may name a key: letters, digits, `-` and `_`, 1 to 64 of them.
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= ID_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The key id a reference names: the id itself, `alias/ID`, or an ARN
/// `arn:aws:kms:REGION:ACCOUNT:key/ID` (or `…:alias/ID`).
pub fn key_id_of(reference: &str) -> Option<&str> {
    let r = reference.trim();
    let tail = match r.strip_prefix("arn:") {
        Some(arn) => {
            let mut fields = arn.splitn(5, ':');
            let (_partition, service) = (fields.next()?, fields.next()?);
            let (_region, _account, resource) = (fields.next()?, fields.next()?, fields.next()?);
            if service != "kms" {
                return None;
            }
            resource
        }
        None => r,
    };
    let id = tail
        .strip_prefix("key/")
        .or_else(|| tail.strip_prefix("alias/"))
        .unwrap_or(tail);
    valid_key_id(id).then_some(id)
}

/// What a write that names no encryption asks for under its bucket's default.
pub fn default_request(b: &BucketRecord) -> Option<SseRequest> {
    let d = b.encryption.as_ref()?;
    Some(match d.mode {
        SseMode::Kms => SseRequest::Kms {
            key: d.kms_key.clone(),
            bucket_key: d.bucket_key,
        },
        SseMode::S3 | SseMode::Customer => SseRequest::S3 {
            bucket_key: d.bucket_key,
        },
    })
}

/// A key's ARN as responses show it.
pub fn key_arn(region: &str, id: &str) -> String {
    format!("arn:aws:kms:{region}:000000000000:key/{id}")
}

fn hex_key(key: &DataKey) -> String {
    hex::encode(key.as_bytes())
}

fn unhex_key(text: &str) -> Option<DataKey> {
    let mut k = [0u8; 32];
    hex::decode_to_slice(text, &mut k).ok()?;
    Some(DataKey::from_bytes(k))
}

/// `salt:mac` of an SSE-C key: tells a wrong key from the right one without keeping it.
fn customer_check(key: &DataKey, salt: &[u8; 16]) -> String {
    format!(
        "{}:{}",
        hex::encode(salt),
        hex::encode(key.mac(&[b"cnx-sse-c-check/".as_slice(), salt].concat()))
    )
}

impl Kms {
    pub fn new(cfg: &EncryptionConfig, meta: Arc<dyn MetaStore>, master: Sealer) -> Result<Self> {
        let mut configured = HashMap::new();
        for (id, secret) in &cfg.kms_keys {
            if !valid_key_id(id) {
                return Err(Error::Internal(format!(
                    "[encryption] kms_keys: `{id}` is not a key id (letters, digits, - and _, at most {ID_MAX})"
                )));
            }
            let bytes = super::seal::parse_key(secret.expose()).ok_or_else(|| {
                Error::Internal(format!(
                    "[encryption] kms_keys.{id} must be 32 bytes, as base64 or 64 hex digits"
                ))
            })?;
            // A config key would shadow the index's key of that id, and every object under
            // it would then fail to open.
            if meta.get_kms_key(id)?.is_some() {
                return Err(Error::Internal(format!(
                    "[encryption] kms_keys: `{id}` is also a key made through the management API; give the config key another id"
                )));
            }
            configured.insert(id.clone(), DataKey::from_bytes(bytes));
        }
        if meta.get_kms_key(MASTER_CHECK_ID)?.is_none() {
            let inserted = meta.insert_kms_key(&KmsKeyRecord {
                v: RECORD_VERSION,
                id: MASTER_CHECK_ID.to_owned(),
                description: "checks the master key at start".to_owned(),
                created_ms: crate::clock::now_ms(),
                enabled: false,
                sealed_material: master.seal(
                    &format!("kms-key/{MASTER_CHECK_ID}"),
                    &hex_key(&DataKey::random()),
                )?,
            })?;
            // Another gateway starting at the same time on an empty shared index stored its
            // check first: this gateway's master key must be the same as that one's.
            let check = meta.get_kms_key(MASTER_CHECK_ID)?;
            let opens = check.as_ref().is_some_and(|rec| {
                master
                    .open(&format!("kms-key/{MASTER_CHECK_ID}"), &rec.sealed_material)
                    .is_some()
            });
            if !inserted && !opens {
                return Err(Error::Internal(
                    "refusing to start: another server sealed this index's secrets with a \
                     different master key; give every gateway the same CNX_MASTER_KEY"
                        .into(),
                ));
            }
        }
        Ok(Self {
            meta,
            master,
            configured,
            cache: Mutex::default(),
            creating: Mutex::new(()),
        })
    }

    /// A new data key for a write, and the record of how it was made. Blocking (it may read
    /// the key ring from the index).
    pub fn new_key(&self, req: &SseRequest) -> Result<(DataKey, Encryption)> {
        self.new_key_within(req, Reach::Index)
            .unwrap_or_else(|| Err(Error::Internal("a key ring read was skipped".into())))
    }

    /// [`Kms::new_key`] if it can be made without reading the index (`None` otherwise): most
    /// keys are, and are then not worth a trip to the blocking pool.
    pub fn try_new_key(&self, req: &SseRequest) -> Option<Result<(DataKey, Encryption)>> {
        self.new_key_within(req, Reach::InMemory)
    }

    fn new_key_within(
        &self,
        req: &SseRequest,
        reach: Reach,
    ) -> Option<Result<(DataKey, Encryption)>> {
        let made = (|| {
            let key = DataKey::random();
            let enc = match req {
                SseRequest::S3 { bucket_key } => Encryption {
                    mode: SseMode::S3,
                    wrapped_key: Some(self.master.seal("sse-s3", &hex_key(&key))?),
                    kms_key: None,
                    key_check: None,
                    bucket_key: *bucket_key,
                },
                SseRequest::Kms {
                    key: id,
                    bucket_key,
                } => {
                    let id = id.as_deref().unwrap_or(DEFAULT_KEY_ID);
                    let wrapping = match self.key_of(id, reach) {
                        Some(k) => k?,
                        None => return Ok(None),
                    };
                    Encryption {
                        mode: SseMode::Kms,
                        wrapped_key: Some(
                            Sealer::new(*wrapping.as_bytes())
                                .seal(&format!("sse-kms/{id}"), &hex_key(&key))?,
                        ),
                        kms_key: Some(id.to_owned()),
                        key_check: None,
                        bucket_key: *bucket_key,
                    }
                }
                SseRequest::Customer(customer) => {
                    let mut salt = [0u8; 16];
                    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
                    return Ok(Some((
                        customer.clone(),
                        Encryption {
                            mode: SseMode::Customer,
                            wrapped_key: None,
                            kms_key: None,
                            key_check: Some(customer_check(customer, &salt)),
                            bucket_key: false,
                        },
                    )));
                }
            };
            Ok(Some((key, enc)))
        })();
        made.transpose()
    }

    /// Whether key `id` exists and is enabled (made first if it is the default key), so a
    /// default naming it does not fail writes later. Blocking.
    pub fn ensure_usable(&self, id: &str) -> Result<()> {
        match self.key_of(id, Reach::Index) {
            Some(key) => key.map(|_| ()),
            None => Ok(()),
        }
    }

    /// Runs `f` on the blocking pool: key ring operations may touch the index.
    pub async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Kms) -> Result<T> + Send + 'static,
    {
        let kms = self.clone();
        tokio::task::spawn_blocking(move || f(&kms)).await?
    }

    /// The data key of an object encrypted as `enc`; SSE-C objects need the customer's key.
    /// Blocking, as [`Kms::new_key`].
    pub fn open(&self, enc: &Encryption, customer: Option<&DataKey>) -> Result<DataKey> {
        self.open_within(enc, customer, Reach::Index)
            .unwrap_or_else(|| Err(Error::Internal("a key ring read was skipped".into())))
    }

    /// [`Kms::open`] if it can be done without reading the index (`None` otherwise).
    pub fn try_open(
        &self,
        enc: &Encryption,
        customer: Option<&DataKey>,
    ) -> Option<Result<DataKey>> {
        self.open_within(enc, customer, Reach::InMemory)
    }

    fn open_within(
        &self,
        enc: &Encryption,
        customer: Option<&DataKey>,
        reach: Reach,
    ) -> Option<Result<DataKey>> {
        let broken = |what: &str| Error::Internal(format!("an object's encryption record {what}"));
        let opened = (|| match enc.mode {
            SseMode::S3 => {
                let wrapped = enc
                    .wrapped_key
                    .as_deref()
                    .ok_or_else(|| broken("lacks its key"))?;
                let hex = self
                    .master
                    .open("sse-s3", wrapped)
                    .ok_or_else(|| broken("does not open with the master key"))?;
                unhex_key(&hex)
                    .map(Some)
                    .ok_or_else(|| broken("holds a malformed key"))
            }
            SseMode::Kms => {
                let id = enc
                    .kms_key
                    .as_deref()
                    .ok_or_else(|| broken("lacks its KMS key"))?;
                let wrapped = enc
                    .wrapped_key
                    .as_deref()
                    .ok_or_else(|| broken("lacks its key"))?;
                // A key that vanished under stored objects is the server's fault, not the
                // reader's (a disabled one is the operator's choice, and says so).
                let wrapping = match self.key_of(id, reach) {
                    Some(k) => k.map_err(|e| match e {
                        Error::KmsKeyNotFound(id) => Error::Internal(format!(
                            "the KMS key `{id}` that encrypted an object is not in the key ring"
                        )),
                        e => e,
                    })?,
                    None => return Ok(None),
                };
                let hex = Sealer::new(*wrapping.as_bytes())
                    .open(&format!("sse-kms/{id}"), wrapped)
                    .ok_or_else(|| broken("does not open with its KMS key"))?;
                unhex_key(&hex)
                    .map(Some)
                    .ok_or_else(|| broken("holds a malformed key"))
            }
            SseMode::Customer => {
                let key = customer.ok_or(Error::WrongCustomerKey)?;
                let check = enc
                    .key_check
                    .as_deref()
                    .ok_or_else(|| broken("lacks its check"))?;
                let (salt_hex, _) = check
                    .split_once(':')
                    .ok_or_else(|| broken("is malformed"))?;
                let mut salt = [0u8; 16];
                hex::decode_to_slice(salt_hex, &mut salt).map_err(|_| broken("is malformed"))?;
                let same: bool = subtle::ConstantTimeEq::ct_eq(
                    customer_check(key, &salt).as_bytes(),
                    check.as_bytes(),
                )
                .into();
                if same {
                    Ok(Some(key.clone()))
                } else {
                    Err(Error::WrongCustomerKey)
                }
            }
        })();
        opened.transpose()
    }

    /// The material of key `id` if it exists and is enabled; `None` when `reach` is memory
    /// and the key must be read from the index. The default key is made on its first use.
    fn key_of(&self, id: &str, reach: Reach) -> Option<Result<DataKey>> {
        if let Some(k) = self.configured.get(id) {
            return Some(Ok(k.clone()));
        }
        let gens = self.meta.generations();
        let at = gens.current(CacheKind::Kms);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match cache.seen.check(at) {
            Use::Cached => {}
            Use::Cleared => cache.keys.clear(),
            Use::Bypass if reach == Reach::InMemory => return None,
            Use::Bypass => {
                let key = self.load(id);
                return Some(
                    key.and_then(|k| k.ok_or_else(|| Error::KmsKeyDisabled(id.to_owned()))),
                );
            }
        }
        match cache.keys.get(id) {
            Some(Some(k)) => return Some(Ok(k.clone())),
            Some(None) => return Some(Err(Error::KmsKeyDisabled(id.to_owned()))),
            None if reach == Reach::InMemory => return None,
            None => {}
        }
        // Loaded under the cache's lock: see `cache`.
        let loaded = self.load(id);
        Some(loaded.and_then(|key| {
            if cache.seen.keeps(at, gens.current(CacheKind::Kms)) {
                cache.keys.insert(id.to_owned(), key.clone());
            }
            key.ok_or_else(|| Error::KmsKeyDisabled(id.to_owned()))
        }))
    }

    /// Key `id` from the index (`None`: disabled), made first if it is the default key.
    fn load(&self, id: &str) -> Result<Option<DataKey>> {
        if !valid_key_id(id) {
            return Err(Error::KmsKeyNotFound(id.to_owned()));
        }
        let rec = match self.meta.get_kms_key(id)? {
            Some(rec) => rec,
            None if id == DEFAULT_KEY_ID => {
                match self.create(id, "made for SSE-KMS requests that name no key") {
                    // Another request made it first: that one is the key.
                    Ok(_) | Err(Error::KmsKeyExists(_)) => {}
                    Err(e) => return Err(e),
                }
                self.meta
                    .get_kms_key(id)?
                    .ok_or_else(|| Error::KmsKeyNotFound(id.to_owned()))?
            }
            None => return Err(Error::KmsKeyNotFound(id.to_owned())),
        };
        match rec.enabled {
            true => self.material(&rec).map(Some),
            false => Ok(None),
        }
    }

    fn material(&self, rec: &KmsKeyRecord) -> Result<DataKey> {
        self.master
            .open(&format!("kms-key/{}", rec.id), &rec.sealed_material)
            .and_then(|hex| unhex_key(&hex))
            .ok_or_else(|| {
                Error::Internal(format!(
                    "the KMS key `{}` does not open with the master key",
                    rec.id
                ))
            })
    }

    /// Makes a key of the key ring; `KmsKeyExists` if the id is taken (in the index or the
    /// config). Blocking.
    pub fn create(&self, id: &str, description: &str) -> Result<KmsKeyRecord> {
        if !valid_key_id(id) {
            return Err(Error::InvalidArgument(format!(
                "`{id}` is not a key id: use letters, digits, - and _, at most {ID_MAX}"
            )));
        }
        if self.configured.contains_key(id) {
            return Err(Error::KmsKeyExists(id.to_owned()));
        }
        let _one_at_a_time = self.creating.lock().unwrap_or_else(PoisonError::into_inner);
        let rec = KmsKeyRecord {
            v: RECORD_VERSION,
            id: id.to_owned(),
            description: description.to_owned(),
            created_ms: crate::clock::now_ms(),
            enabled: true,
            sealed_material: self
                .master
                .seal(&format!("kms-key/{id}"), &hex_key(&DataKey::random()))?,
        };
        if !self.meta.insert_kms_key(&rec)? {
            return Err(Error::KmsKeyExists(id.to_owned()));
        }
        Ok(rec)
    }

    /// Every key: those of the config file (as records without material), then the index's.
    pub fn list(&self) -> Result<Vec<KmsKeyRecord>> {
        let mut out: Vec<KmsKeyRecord> = self
            .configured
            .keys()
            .map(|id| KmsKeyRecord {
                v: RECORD_VERSION,
                id: id.clone(),
                description: "from the config file".into(),
                created_ms: 0,
                enabled: true,
                sealed_material: String::new(),
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.extend(
            self.meta
                .list_kms_keys()?
                .into_iter()
                .filter(|k| k.id != MASTER_CHECK_ID),
        );
        Ok(out)
    }

    /// One key, as [`Kms::list`] shows it.
    pub fn get(&self, id: &str) -> Result<KmsKeyRecord> {
        self.list()?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| Error::KmsKeyNotFound(id.to_owned()))
    }

    /// Enables or disables a key of the index: objects under a disabled key cannot be read
    /// or written until it is enabled again. Blocking.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<KmsKeyRecord> {
        if self.configured.contains_key(id) {
            return Err(Error::InvalidRequest(format!(
                "the key `{id}` is set in the config file; change it there"
            )));
        }
        if !valid_key_id(id) {
            return Err(Error::KmsKeyNotFound(id.to_owned()));
        }
        // Under the cache's lock: no load that began before this change caches the old state.
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rec = self
            .meta
            .get_kms_key(id)?
            .ok_or_else(|| Error::KmsKeyNotFound(id.to_owned()))?;
        rec.enabled = enabled;
        self.meta.update_kms_key(&rec)?;
        cache.keys.remove(id);
        Ok(rec)
    }
}

#[cfg(all(test, feature = "rocksdb"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kms(dir: &std::path::Path, cfg: &EncryptionConfig) -> Kms {
        let meta = crate::meta::rocks::RocksMeta::open(dir, false).unwrap();
        Kms::new(cfg, Arc::new(meta), Sealer::new([3; 32])).unwrap()
    }

    #[test]
    fn every_mode_wraps_a_key_that_only_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = EncryptionConfig::default();
        cfg.kms_keys.insert(
            "conf".into(),
            crate::config::Secret::new(hex::encode([9u8; 32])),
        );
        let k = kms(dir.path(), &cfg);
        let (dk, enc) = k.new_key(&SseRequest::S3 { bucket_key: false }).unwrap();
        assert_eq!(k.open(&enc, None).unwrap(), dk);
        assert!(!enc.wrapped_key.as_ref().unwrap().contains(&hex_key(&dk)));

        k.create("app", "test").unwrap();
        assert!(k.create("app", "again").is_err());
        for id in [Some("app".to_owned()), Some("conf".to_owned()), None] {
            let req = SseRequest::Kms {
                key: id.clone(),
                bucket_key: false,
            };
            let (dk, enc) = k.new_key(&req).unwrap();
            assert_eq!(k.open(&enc, None).unwrap(), dk, "{id:?}");
        }
        let (dk, enc) = k
            .new_key(&SseRequest::Kms {
                key: Some("app".into()),
                bucket_key: false,
            })
            .unwrap();
        k.set_enabled("app", false).unwrap();
        assert!(matches!(k.open(&enc, None), Err(Error::KmsKeyDisabled(_))));
        k.set_enabled("app", true).unwrap();
        assert_eq!(k.open(&enc, None).unwrap(), dk);
        let missing = SseRequest::Kms {
            key: Some("nope".into()),
            bucket_key: false,
        };
        assert!(matches!(k.new_key(&missing), Err(Error::KmsKeyNotFound(_))));

        let customer = DataKey::random();
        let (dk, enc) = k.new_key(&SseRequest::Customer(customer.clone())).unwrap();
        assert_eq!(dk, customer);
        assert_eq!(k.open(&enc, Some(&customer)).unwrap(), customer);
        assert!(matches!(
            k.open(&enc, Some(&DataKey::random())),
            Err(Error::WrongCustomerKey)
        ));
        assert!(matches!(k.open(&enc, None), Err(Error::WrongCustomerKey)));
        let ids: Vec<String> = k.list().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["conf", "app", DEFAULT_KEY_ID]);
        // The master key check is kept in the index but is no key.
        assert!(k.meta.get_kms_key(MASTER_CHECK_ID).unwrap().is_some());
        assert!(k.get(MASTER_CHECK_ID).is_err());
        assert!(k.set_enabled(MASTER_CHECK_ID, true).is_err());
    }

    #[test]
    fn keys_not_in_memory_are_left_to_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let k = kms(dir.path(), &EncryptionConfig::default());
        k.create("app", "").unwrap();
        let req = SseRequest::Kms {
            key: Some("app".into()),
            bucket_key: false,
        };
        assert!(k.try_new_key(&req).is_none(), "not loaded yet");
        assert!(k
            .try_new_key(&SseRequest::S3 { bucket_key: false })
            .is_some());
        let (dk, enc) = k.new_key(&req).unwrap();
        assert_eq!(k.try_open(&enc, None).unwrap().unwrap(), dk, "loaded now");
        k.set_enabled("app", false).unwrap();
        assert!(
            k.try_open(&enc, None).is_none(),
            "the change emptied the cache"
        );
        assert!(matches!(k.open(&enc, None), Err(Error::KmsKeyDisabled(_))));
        assert!(matches!(
            k.try_open(&enc, None),
            Some(Err(Error::KmsKeyDisabled(_)))
        ));
    }

    #[test]
    fn key_references() {
        assert_eq!(key_id_of("app"), Some("app"));
        assert_eq!(key_id_of("alias/app"), Some("app"));
        assert_eq!(
            key_id_of("arn:aws:kms:in-mum:000000000000:key/app-1"),
            Some("app-1")
        );
        assert_eq!(key_id_of("arn:aws:s3:::b/k"), None);
        assert_eq!(key_id_of("a/b"), None);
        assert_eq!(key_id_of(""), None);
    }
}
