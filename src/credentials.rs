//! Root credentials.
//!
//! Root credentials come from `CNX_ROOT_ACCESS_KEY`/`CNX_ROOT_SECRET_KEY`; without them the
//! first start generates a pair, stores it in the data dir (mode 0600) and prints it once.

use std::io::Write as _;
use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};

const ROOT_FILE: &str = "root-credentials.json";

#[derive(Clone, Serialize, Deserialize)]
pub struct RootCredentials {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"[REDACTED]")
            .finish()
    }
}

pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

impl RootCredentials {
    pub fn generate() -> Self {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        const MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        Self {
            access_key: format!("CNX{}", random_string(17, UPPER)),
            secret_key: random_string(40, MIXED),
        }
    }

    /// Env wins; else the stored pair; else a new pair, stored and printed once.
    pub fn load_or_create(cfg: &Config) -> Result<Self> {
        if let (Some(a), Some(s)) = (&cfg.root_access_key, &cfg.root_secret_key) {
            return Ok(Self {
                access_key: a.clone(),
                secret_key: s.expose().to_owned(),
            });
        }
        if matches!(cfg.meta, crate::config::MetaBackend::Postgres { .. }) {
            // Gateways over one index must all take the same root key; a pair made up here
            // would be this gateway's alone.
            return Err(Error::Internal(
                "the index is in PostgreSQL, which several gateways may share: set \
                 CNX_ROOT_ACCESS_KEY and CNX_ROOT_SECRET_KEY (the same on every gateway)"
                    .into(),
            ));
        }
        let path = cfg.data_dir.join(ROOT_FILE);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::Internal(format!("cannot read {}: {e}", path.display())))?;
            return serde_json::from_str(&text)
                .map_err(|e| Error::Internal(format!("invalid {}: {e}", path.display())));
        }
        let creds = Self::generate();
        write_private(
            &path,
            &serde_json::to_vec_pretty(&creds).map_err(|e| Error::Internal(e.to_string()))?,
        )?;
        eprintln!(
            "generated root credentials (stored in {}; shown once):\n  access key: {}\n  secret key: {}",
            path.display(),
            creds.access_key,
            creds.secret_key
        );
        Ok(creds)
    }
}

/// Makes the data dir private to the server's user: everything created from now on is
/// owner-only (umask 077: directories 0700, files 0600, RocksDB's and blobs' included), and
/// the data dir itself is set to 0700, which also closes off files an older version left
/// readable.
pub fn secure_data_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let err = |e: std::io::Error| Error::Internal(format!("data dir {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(err)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)
}

/// Writes a file only its owner can read, atomically and durably: the file is fsynced
/// before the rename and its directory after, so a crash leaves the old file or the new one.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |e: std::io::Error| Error::Internal(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(data).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
    }
    Ok(())
}
