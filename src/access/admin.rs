//! Minting, listing and revoking keys: the rules the management API and the offline CLI share,
//! so the two can never disagree about who may see or revoke which key.

use super::{valid_account_name, KeyRing, Principal, ROOT_ACCOUNT};
use crate::meta::{BucketRecord, KeyPermission, KeyRecord, KeyScope};

/// Longest key name, in characters.
const MAX_NAME: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] crate::error::Error),
}

pub type AdminResult<T> = Result<T, AdminError>;

/// Who manages keys: root manages every account's; an account manages its own.
#[derive(Debug, Clone)]
pub struct Manager {
    pub root: bool,
    pub account: String,
}

impl Manager {
    pub fn of(principal: &Principal, account: &str) -> Self {
        Self {
            root: *principal == Principal::Root,
            account: account.to_owned(),
        }
    }

    /// The operator at the data dir: root.
    pub fn operator() -> Self {
        Self {
            root: true,
            account: ROOT_ACCOUNT.to_owned(),
        }
    }

    fn manages(&self, account: &str) -> bool {
        self.root || self.account == account
    }
}

/// What a new key is called and until when it works.
#[derive(Debug, Clone, Default)]
pub struct KeyTerms {
    pub name: Option<String>,
    /// RFC 3339, in the future.
    pub expires_at: Option<String>,
}

impl KeyTerms {
    /// The name and expiry (unix millis), checked.
    pub fn checked(&self) -> AdminResult<(Option<String>, Option<i64>)> {
        if let Some(n) = &self.name {
            if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
                return Err(AdminError::Invalid(format!(
                    "name must be 1 to {MAX_NAME} printable characters"
                )));
            }
        }
        let expires = match &self.expires_at {
            None => None,
            Some(s) => {
                let ms = crate::clock::parse_rfc3339(s).ok_or_else(|| {
                    AdminError::Invalid(
                        "expires_at must be an RFC 3339 timestamp such as 2026-12-31T23:59:59Z"
                            .into(),
                    )
                })?;
                if ms <= crate::clock::now_ms() {
                    return Err(AdminError::Invalid(
                        "expires_at must be in the future".into(),
                    ));
                }
                Some(ms)
            }
        };
        Ok((self.name.clone(), expires))
    }
}

pub fn parse_permission(p: &str) -> AdminResult<KeyPermission> {
    match p {
        "read" => Ok(KeyPermission::Read),
        "read-write" => Ok(KeyPermission::ReadWrite),
        other => Err(AdminError::Invalid(format!(
            "permission `{other}` is not one of `read`, `read-write`"
        ))),
    }
}

fn of_bucket(rec: &KeyRecord, b: &BucketRecord) -> bool {
    matches!(&rec.scope, KeyScope::Bucket { bucket_id, .. } if *bucket_id == b.id)
}

fn account_of(rec: &KeyRecord) -> Option<&str> {
    match &rec.scope {
        KeyScope::Account { account } => Some(account),
        KeyScope::Bucket { .. } => None,
    }
}

/// Mints a key for bucket `b` (whose ownership the caller has checked); returns it and its
/// secret, which is never shown again.
pub fn mint_bucket_key(
    ring: &KeyRing,
    b: &BucketRecord,
    permission: &str,
    terms: &KeyTerms,
) -> AdminResult<(KeyRecord, String)> {
    let permission = parse_permission(permission)?;
    let (name, expires) = terms.checked()?;
    let scope = KeyScope::Bucket {
        bucket_id: b.id,
        bucket: b.name.clone(),
        account: b.owner.clone(),
        permission,
    };
    Ok(ring.create_blocking(scope, name, expires)?)
}

/// Mints an account key: for the manager's own account, or (root only) for `account`.
pub fn mint_account_key(
    ring: &KeyRing,
    by: &Manager,
    account: Option<&str>,
    terms: &KeyTerms,
) -> AdminResult<(KeyRecord, String)> {
    let (name, expires) = terms.checked()?;
    let account = match account {
        None => by.account.clone(),
        Some(a) if a == by.account => a.to_owned(),
        Some(a) if !by.root => {
            return Err(AdminError::Forbidden(format!(
                "only root can mint keys for another account (`{a}`)"
            )))
        }
        Some(a) if a != ROOT_ACCOUNT && !valid_account_name(a) => {
            return Err(AdminError::Invalid(format!(
                "invalid account `{a}`: use 1 to 128 letters, digits and -_.@+:"
            )))
        }
        Some(a) => a.to_owned(),
    };
    Ok(ring.create_blocking(KeyScope::Account { account }, name, expires)?)
}

/// The keys of bucket `b`, in access key id order.
pub fn bucket_keys(ring: &KeyRing, b: &BucketRecord) -> AdminResult<Vec<KeyRecord>> {
    let mut keys: Vec<KeyRecord> = ring
        .list_blocking()?
        .into_iter()
        .filter(|k| of_bucket(k, b))
        .collect();
    keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
    Ok(keys)
}

/// The account keys `by` manages (of `only` that account, if given), in access key id order.
pub fn account_keys(
    ring: &KeyRing,
    by: &Manager,
    only: Option<&str>,
) -> AdminResult<Vec<KeyRecord>> {
    let mut keys: Vec<KeyRecord> = ring
        .list_blocking()?
        .into_iter()
        .filter(|k| account_of(k).is_some_and(|a| by.manages(a) && only.is_none_or(|o| o == a)))
        .collect();
    keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
    Ok(keys)
}

/// Revokes key `id` of bucket `b`; a key of another bucket is reported missing.
pub fn revoke_bucket_key(ring: &KeyRing, b: &BucketRecord, id: &str) -> AdminResult<()> {
    match ring.get_blocking(id)? {
        Some(rec) if of_bucket(&rec, b) => {
            ring.revoke_blocking(id)?;
            Ok(())
        }
        _ => Err(AdminError::NotFound(format!(
            "bucket `{}` has no access key `{id}`",
            b.name
        ))),
    }
}

/// Revokes account key `id`, if `by` manages its account; otherwise it is reported missing.
pub fn revoke_account_key(ring: &KeyRing, by: &Manager, id: &str) -> AdminResult<()> {
    match ring.get_blocking(id)? {
        Some(rec) if account_of(&rec).is_some_and(|a| by.manages(a)) => {
            ring.revoke_blocking(id)?;
            Ok(())
        }
        _ => Err(AdminError::NotFound(format!("no access key `{id}`"))),
    }
}
