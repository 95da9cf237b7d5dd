//! Builds the configured `object_store` backend.

use std::sync::Arc;

use object_store::multipart::MultipartStore;
use object_store::ObjectStore;

use super::BlobStore;
use crate::config::{BlobBackend, Config, Durability};
use crate::error::{Error, Result};

/// Local parts are written by blocking tasks; 1 MiB keeps each in-flight write small.
const LOCAL_CHUNK: usize = 1 << 20;
/// Remote multipart parts must be at least 5 MiB (S3's rule); 8 MiB amortises round trips.
const REMOTE_CHUNK: usize = 8 << 20;

pub fn build(cfg: &Config) -> Result<BlobStore> {
    let store = match &cfg.blob {
        BlobBackend::Local => {
            let dir = cfg.blob_dir();
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::Blob(format!("cannot create {}: {e}", dir.display())))?;
            let fsync = cfg.durability == Durability::Strict;
            create_fan_dirs(&dir, fsync)
                .map_err(|e| Error::Blob(format!("cannot prepare {}: {e}", dir.display())))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)?.with_fsync(fsync);
            BlobStore::new(Arc::new(fs), LOCAL_CHUNK).with_local_files(super::LocalFiles {
                root: dir,
                fsync,
                direct_from: Some(cfg.direct_io_min_bytes).filter(|n| *n > 0),
            })
        }
        BlobBackend::Memory => {
            BlobStore::new(Arc::new(object_store::memory::InMemory::new()), LOCAL_CHUNK)
        }
        BlobBackend::S3 {
            bucket,
            region,
            endpoint,
            access_key_id,
            secret_access_key,
            allow_http,
            prefix,
        } => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_allow_http(*allow_http);
            if let Some(r) = region {
                b = b.with_region(r);
            }
            if let Some(e) = endpoint {
                b = b.with_endpoint(e);
            }
            if let Some(k) = access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(s) = secret_access_key {
                b = b.with_secret_access_key(s.expose());
            }
            remote(Arc::new(b.build()?), prefix.as_deref())
        }
        BlobBackend::Gcs {
            bucket,
            service_account_path,
            prefix,
        } => {
            let mut b =
                object_store::gcp::GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
            if let Some(p) = service_account_path {
                b = b.with_service_account_path(p);
            }
            remote(Arc::new(b.build()?), prefix.as_deref())
        }
        BlobBackend::Azure {
            account,
            container,
            access_key,
            prefix,
        } => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_account(account)
                .with_container_name(container);
            if let Some(k) = access_key {
                b = b.with_access_key(k.expose());
            }
            remote(Arc::new(b.build()?), prefix.as_deref())
        }
    };
    Ok(store)
}

/// Creates the 256 directories blob files are spread over (see `BlobStore::path`) and syncs
/// their entries, once: a directory made on a blob's first write could lose another blob
/// committed in it meanwhile to a crash before the new directory's entry was synced.
fn create_fan_dirs(dir: &std::path::Path, fsync: bool) -> std::io::Result<()> {
    let mut made = false;
    for i in 0..=255u8 {
        match std::fs::create_dir(dir.join(format!("{i:02x}"))) {
            Ok(()) => made = true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    if made && fsync {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A remote store: blobs under `prefix`, large ones as multipart uploads the index records.
fn remote<S: ObjectStore + MultipartStore>(store: Arc<S>, prefix: Option<&str>) -> BlobStore {
    let prefix = prefix
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty());
    let whole: Arc<dyn ObjectStore> = store.clone();
    let objects: Arc<dyn ObjectStore> = match prefix {
        Some(p) => Arc::new(object_store::prefix::PrefixStore::new(whole, p)),
        None => whole,
    };
    BlobStore::new(objects, REMOTE_CHUNK).with_multipart(store, prefix)
}
