//! The key ring every signature is checked against: root credentials plus the access keys in
//! the index. Secrets are unsealed on first use and cached; a revocation anywhere empties the
//! cache (through the index's generation of keys), so a revoked key fails from the next
//! request on here and within a second on every other gateway. Expiry is checked on every
//! lookup.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::auth::SecretLookup;
use crate::credentials::{random_string, RootCredentials};
use crate::error::{Error, Result};
use crate::meta::gens::{CacheKind, Seen, Use};
use crate::meta::{KeyInsert, KeyRecord, KeyScope, MetaStore, RECORD_VERSION};

use super::seal::Sealer;
use super::{BucketGrant, Caller, Principal};

/// Cached unsealed keys; the cache is simply emptied when it grows past this.
const CACHE_MAX: usize = 50_000;
const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct Unsealed {
    secret: String,
    principal: Principal,
    expires_at_ms: Option<i64>,
}

pub struct KeyRing {
    root: RootCredentials,
    meta: Arc<dyn MetaStore>,
    sealer: Sealer,
    cache: RwLock<Cache>,
}

#[derive(Default)]
struct Cache {
    seen: Seen,
    keys: HashMap<String, Arc<Unsealed>>,
}

fn principal_of(scope: &KeyScope) -> Principal {
    match scope {
        KeyScope::Account { account } if account == super::ROOT_ACCOUNT => Principal::Root,
        KeyScope::Account { account } => Principal::Account(account.clone()),
        KeyScope::Bucket {
            bucket_id,
            bucket,
            account,
            permission,
        } => Principal::BucketKey(BucketGrant {
            bucket_id: *bucket_id,
            bucket: bucket.clone(),
            account: account.clone(),
            permission: *permission,
        }),
    }
}

impl KeyRing {
    pub fn new(root: RootCredentials, meta: Arc<dyn MetaStore>, sealer: Sealer) -> Self {
        Self {
            root,
            meta,
            sealer,
            cache: RwLock::default(),
        }
    }

    pub fn root_access_key(&self) -> &str {
        &self.root.access_key
    }

    /// The cached key, if the cache may answer; empties it when keys changed since it was
    /// filled.
    fn cached(&self, access_key: &str, at: Option<u64>) -> Option<Arc<Unsealed>> {
        if let Ok(c) = self.cache.read() {
            if c.seen.matches(at) {
                return c.keys.get(access_key).cloned();
            }
        }
        let mut c = self.cache.write().ok()?;
        match c.seen.check(at) {
            Use::Cached => c.keys.get(access_key).cloned(),
            Use::Cleared => {
                c.keys.clear();
                None
            }
            Use::Bypass => None,
        }
    }

    fn lookup(&self, access_key: &str) -> Option<Arc<Unsealed>> {
        let gens = self.meta.generations();
        let at = gens.current(CacheKind::Keys);
        let found = match self.cached(access_key, at) {
            Some(u) => u,
            None => {
                let rec = match self.meta.get_key(access_key) {
                    Ok(Some(rec)) => rec,
                    Ok(None) => return None,
                    Err(e) => {
                        tracing::error!(error = %e, "access key lookup failed");
                        return None;
                    }
                };
                let Some(secret) = self.sealer.open(&rec.access_key_id, &rec.sealed_secret) else {
                    tracing::error!(
                        access_key,
                        "the key's secret does not open with this master key"
                    );
                    return None;
                };
                let u = Arc::new(Unsealed {
                    secret,
                    principal: principal_of(&rec.scope),
                    expires_at_ms: rec.expires_at_ms,
                });
                if let Ok(mut c) = self.cache.write() {
                    // Not kept if keys changed while it was loaded: it may be the revoked one.
                    if c.seen.keeps(at, gens.current(CacheKind::Keys)) {
                        if c.keys.len() >= CACHE_MAX {
                            c.keys.clear();
                        }
                        c.keys.insert(access_key.to_owned(), u.clone());
                    }
                }
                u
            }
        };
        let expired = found
            .expires_at_ms
            .is_some_and(|t| t <= crate::clock::now_ms());
        (!expired).then_some(found)
    }

    /// Seals a value other than a key's secret (a stored response that carries one) with
    /// the master key, bound to `bound_to`.
    pub fn seal(&self, bound_to: &str, value: &str) -> Result<String> {
        self.sealer.seal(bound_to, value)
    }

    /// Opens what [`KeyRing::seal`] sealed; `None` under another master key or binding.
    pub fn open(&self, bound_to: &str, sealed: &str) -> Option<String> {
        self.sealer.open(bound_to, sealed)
    }

    /// Who signed with `access_key`, if it is live.
    pub fn caller(&self, access_key: &str) -> Option<Caller> {
        let principal = if access_key == self.root.access_key {
            Principal::Root
        } else {
            self.lookup(access_key)?.principal.clone()
        };
        Some(Caller {
            principal,
            access_key_id: Some(access_key.to_owned()),
        })
    }

    /// The secret of a live key (root's included), for signing presigned URLs.
    pub fn secret(&self, access_key: &str) -> Option<String> {
        self.secret_for(access_key)
    }

    /// Mints a key; returns its record and the secret, which is not kept in the clear.
    pub fn create_blocking(
        &self,
        scope: KeyScope,
        name: Option<String>,
        expires_at_ms: Option<i64>,
    ) -> Result<(KeyRecord, String)> {
        let secret = random_string(40, SECRET_ALPHABET);
        for _ in 0..4 {
            let Some(rec) = self.new_record(&secret, &scope, &name, expires_at_ms)? else {
                continue;
            };
            if self.meta.insert_key(&rec)? {
                return Ok((rec, secret));
            }
        }
        Err(no_free_id())
    }

    /// The bucket key (of `scope`, unexpiring, named `name`) that `same` finds among the
    /// bucket's, minted when there is none: once, whichever gateways ask at the same time.
    pub fn find_or_create_blocking(
        &self,
        scope: KeyScope,
        name: &str,
        same: &(dyn Fn(&KeyRecord) -> bool + Sync),
    ) -> Result<KeyRecord> {
        let secret = random_string(40, SECRET_ALPHABET);
        let name = Some(name.to_owned());
        for _ in 0..4 {
            let Some(rec) = self.new_record(&secret, &scope, &name, None)? else {
                continue;
            };
            match self.meta.insert_key_unless(&rec, same)? {
                KeyInsert::Inserted => return Ok(rec),
                KeyInsert::Existing(k) => return Ok(k),
                KeyInsert::IdTaken => {}
            }
        }
        Err(no_free_id())
    }

    /// A new key's record under a fresh id (`None` when the id drawn is the root's).
    fn new_record(
        &self,
        secret: &str,
        scope: &KeyScope,
        name: &Option<String>,
        expires_at_ms: Option<i64>,
    ) -> Result<Option<KeyRecord>> {
        let id = format!("CNX{}", random_string(17, KEY_ID_ALPHABET));
        if id == self.root.access_key {
            return Ok(None);
        }
        Ok(Some(KeyRecord {
            v: RECORD_VERSION,
            sealed_secret: self.sealer.seal(&id, secret)?,
            access_key_id: id,
            name: name.clone(),
            scope: scope.clone(),
            created_at_ms: crate::clock::now_ms(),
            expires_at_ms,
        }))
    }

    pub fn list_blocking(&self) -> Result<Vec<KeyRecord>> {
        self.meta.list_keys()
    }

    pub fn get_blocking(&self, access_key_id: &str) -> Result<Option<KeyRecord>> {
        self.meta.get_key(access_key_id)
    }

    /// Revokes a key: refused from the next request on.
    pub fn revoke_blocking(&self, access_key_id: &str) -> Result<bool> {
        // The index raises the keys' generation in the same commit: every cache empties.
        self.meta.delete_key(access_key_id)
    }

    /// Runs `f` on the blocking pool: key operations touch the index.
    pub async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&KeyRing) -> Result<T> + Send + 'static,
    {
        let ring = self.clone();
        tokio::task::spawn_blocking(move || f(&ring)).await?
    }
}

fn no_free_id() -> Error {
    Error::Internal("could not find a free access key id".into())
}

impl SecretLookup for KeyRing {
    fn secret_for(&self, access_key: &str) -> Option<String> {
        if access_key == self.root.access_key {
            return Some(self.root.secret_key.clone());
        }
        self.lookup(access_key).map(|u| u.secret.clone())
    }
}
