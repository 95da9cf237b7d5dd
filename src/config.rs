//! Typed configuration: file < `CNX_*` env < command-line flags, merged in one testable function.
//!
//! Nothing here reads the process environment: `main.rs` passes it in as a map, so tests can
//! resolve any layering without touching globals.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The region a server speaks for when nothing else is configured.
pub const DEFAULT_REGION: &str = "in-mum";
/// Objects up to this size live in the index unless the config says otherwise.
pub const DEFAULT_INLINE_MAX: u64 = 16 * 1024;
/// The largest `inline_max_bytes` accepted: beyond it the index would hold bulk data.
const INLINE_CEILING: u64 = 256 * 1024;
/// Local blob files of at least this size bypass the page cache unless the config says
/// otherwise.
pub const DEFAULT_DIRECT_IO_MIN: u64 = 1024 * 1024;
/// The listen address of the embedded default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file `{path}`: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid listen address `{0}`: expected HOST:PORT such as 127.0.0.1:9000")]
    Listen(String),
    #[error("invalid {name} `{value}`: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: &'static str,
    },
}

/// How hard a successful write is made to stick before the client hears 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Blob and metadata are fsynced before the response: a 200 survives power loss.
    #[default]
    Strict,
    /// Written to the OS only: a 200 survives a process crash, not power loss.
    Relaxed,
}

/// Where blobs live. Blob paths are server-generated ids in every backend.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(tag = "backend", rename_all = "snake_case", deny_unknown_fields)]
pub enum BlobBackend {
    /// `DATA_DIR/blobs` on the local filesystem.
    #[default]
    Local,
    /// Process memory; for tests and throwaway servers only.
    Memory,
    /// An S3-compatible bucket upstream.
    S3 {
        bucket: String,
        #[serde(default)]
        region: Option<String>,
        #[serde(default)]
        endpoint: Option<String>,
        #[serde(default)]
        access_key_id: Option<String>,
        #[serde(default)]
        secret_access_key: Option<Secret>,
        #[serde(default)]
        allow_http: bool,
        #[serde(default)]
        prefix: Option<String>,
    },
    /// A Google Cloud Storage bucket; credentials from `service_account_path` or the environment.
    Gcs {
        bucket: String,
        #[serde(default)]
        service_account_path: Option<String>,
        #[serde(default)]
        prefix: Option<String>,
    },
    /// An Azure Blob Storage container.
    Azure {
        account: String,
        container: String,
        #[serde(default)]
        access_key: Option<Secret>,
        #[serde(default)]
        prefix: Option<String>,
    },
}

/// Where the metadata index lives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(tag = "backend", rename_all = "snake_case", deny_unknown_fields)]
pub enum MetaBackend {
    /// RocksDB in `DATA_DIR/meta`, owned by one server.
    #[default]
    Rocksdb,
    /// A PostgreSQL database (`postgres://USER:PASSWORD@HOST:PORT/DB`; env `CNX_META_URL`).
    Postgres {
        #[serde(default)]
        url: Option<Secret>,
        /// Connections to the database at most.
        #[serde(default = "default_pool_size")]
        pool_size: usize,
        /// PEM certificates of the CA that signed the database's certificate, for TLS (the
        /// URL must say `sslmode=require`; without a CA file that checks against the
        /// system's CAs).
        #[serde(default)]
        ca_file: Option<std::path::PathBuf>,
    },
}

fn default_pool_size() -> usize {
    DEFAULT_META_POOL
}

/// Connections a server keeps to a PostgreSQL index at most, unless told otherwise.
pub const DEFAULT_META_POOL: usize = 16;

/// A secret from the config or the environment: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    /// Base domain for virtual-hosted addressing (`bucket.DOMAIN`); path style always works.
    #[serde(default)]
    pub domain: Option<String>,
    /// Accept Signature V2 (header and presigned URLs) as well as SigV4. Unset: on only when
    /// the region is `us-east-1`, the one S3 region that still answers V2 and whose name
    /// old tools assume.
    #[serde(default)]
    pub sigv2: Option<bool>,
}

/// Where bearer tokens are verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// PEM RSA public key that signs the platform's RS256 JWTs.
    #[serde(default)]
    pub public_key: Option<PathBuf>,
    /// JWKS file (RS256 keys, chosen by `kid`).
    #[serde(default)]
    pub jwks: Option<PathBuf>,
    /// When set, tokens must carry this `iss`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    #[serde(default)]
    pub audience: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// 32 bytes as base64 or hex that seal stored secrets (`CNX_MASTER_KEY` wins).
    #[serde(default)]
    pub master_key: Option<Secret>,
    #[serde(default)]
    pub jwt: JwtConfig,
}

/// Rate limits (per-principal token buckets; a rate of 0 turns one off), connection caps and
/// the deadlines that keep slow or silent clients from holding connections.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Management requests per second per principal (the seed's 30).
    #[serde(default = "default_api_rate")]
    pub api_requests_per_second: f64,
    /// Requests a principal may make at once before the rate applies.
    #[serde(default = "default_api_rate")]
    pub api_burst: f64,
    /// S3 requests per second per principal; off by default (503 SlowDown when on).
    #[serde(default)]
    pub s3_requests_per_second: f64,
    #[serde(default = "default_s3_burst")]
    pub s3_burst: f64,
    /// Failed authentications per second per client IP before it is answered 503/429.
    #[serde(default = "default_auth_failure_rate")]
    pub auth_failures_per_second: f64,
    #[serde(default = "default_auth_failure_burst")]
    pub auth_failure_burst: f64,
    /// Connections served at once; over it a connection gets 503 SlowDown (or `/health`).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Connections served at once from one client IP.
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Seconds from the first byte of a request head to its end.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_secs: f64,
    /// Seconds a connection may sit with no request and no bytes moving (keep-alive).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: f64,
    /// Seconds a response may wait for the client to read more of it.
    #[serde(default = "default_send_timeout")]
    pub send_timeout_secs: f64,
    /// Slowest a client may read a response, in bytes per second of waiting for it (checked
    /// once send_timeout_secs have been waited in all); 0 turns the check off.
    #[serde(default = "default_send_min_rate")]
    pub send_min_bytes_per_sec: f64,
    /// Seconds for a TLS handshake.
    #[serde(default = "default_tls_handshake_timeout")]
    pub tls_handshake_timeout_secs: f64,
    /// Seconds a request body may send nothing while the server waits for it.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_secs: f64,
    /// Slowest request body accepted, in bytes per second of waiting, once the server has
    /// waited `body_timeout_secs` in all; 0 turns the check off.
    #[serde(default = "default_body_min_rate")]
    pub body_min_bytes_per_sec: f64,
}

fn default_api_rate() -> f64 {
    30.0
}
fn default_s3_burst() -> f64 {
    100.0
}
fn default_auth_failure_rate() -> f64 {
    5.0
}
fn default_auth_failure_burst() -> f64 {
    50.0
}
fn default_max_connections() -> usize {
    4096
}
fn default_max_connections_per_ip() -> usize {
    1024
}
fn default_header_read_timeout() -> f64 {
    30.0
}
fn default_idle_timeout() -> f64 {
    60.0
}
fn default_send_timeout() -> f64 {
    60.0
}
fn default_send_min_rate() -> f64 {
    1024.0
}
fn default_tls_handshake_timeout() -> f64 {
    10.0
}
fn default_body_timeout() -> f64 {
    60.0
}
fn default_body_min_rate() -> f64 {
    1024.0
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            api_requests_per_second: default_api_rate(),
            api_burst: default_api_rate(),
            s3_requests_per_second: 0.0,
            s3_burst: default_s3_burst(),
            auth_failures_per_second: default_auth_failure_rate(),
            auth_failure_burst: default_auth_failure_burst(),
            max_connections: default_max_connections(),
            max_connections_per_ip: default_max_connections_per_ip(),
            header_read_timeout_secs: default_header_read_timeout(),
            idle_timeout_secs: default_idle_timeout(),
            send_timeout_secs: default_send_timeout(),
            send_min_bytes_per_sec: default_send_min_rate(),
            tls_handshake_timeout_secs: default_tls_handshake_timeout(),
            body_timeout_secs: default_body_timeout(),
            body_min_bytes_per_sec: default_body_min_rate(),
        }
    }
}

/// The config file as written; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub region: Option<String>,
    pub durability: Option<Durability>,
    pub inline_max_bytes: Option<u64>,
    pub direct_io_min_bytes: Option<u64>,
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub s3: S3Section,
    pub blob: Option<BlobBackend>,
    pub meta: Option<MetaBackend>,
    #[serde(default)]
    pub auth: AuthSection,
    pub limits: Option<Limits>,
    pub scrub: Option<ScrubSchedule>,
    pub lifecycle: Option<LifecycleSchedule>,
    pub access_log: Option<AccessLogSchedule>,
    #[serde(default)]
    pub encryption: EncryptionConfig,
    /// Longest a graceful shutdown waits for in-flight requests, in seconds.
    pub shutdown_grace_secs: Option<u64>,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub metrics: MetricsSection,
}

/// How the server writes its log (on stderr).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for people; coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line, for a log pipeline.
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `text` (the default) or `json` (env `CNX_LOG_FORMAT` wins).
    pub format: Option<LogFormat>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// A bearer token `/storage/metrics` then requires (env `CNX_METRICS_TOKEN` wins); open
    /// without one.
    pub token: Option<Secret>,
}

/// Flags given to `cnx-storage serve`.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub durability: Durability,
    /// Objects up to this size are kept in the index rather than as blobs (0: none are).
    pub inline_max_bytes: u64,
    /// Local blob files of at least this size are written and read with direct I/O
    /// (0: none are).
    pub direct_io_min_bytes: u64,
    pub tls: Option<TlsConfig>,
    pub s3_domain: Option<String>,
    /// Signature V2 requests are verified (otherwise refused with 400 InvalidRequest).
    pub sigv2: bool,
    pub blob: BlobBackend,
    /// Where the index lives; a PostgreSQL one always has its URL here.
    pub meta: MetaBackend,
    pub shutdown_grace: std::time::Duration,
    /// Root credentials from the environment; when absent the server loads or generates them.
    pub root_access_key: Option<String>,
    pub root_secret_key: Option<Secret>,
    /// Seals stored secrets; generated into the data dir when absent.
    pub master_key: Option<Secret>,
    pub jwt: JwtConfig,
    pub limits: Limits,
    pub scrub: ScrubSchedule,
    pub lifecycle: LifecycleSchedule,
    pub access_log: AccessLogSchedule,
    pub encryption: EncryptionConfig,
    pub log_format: LogFormat,
    /// The bearer token `/storage/metrics` requires, if any.
    pub metrics_token: Option<Secret>,
}

/// Server-side encryption: where SSE-C keys are taken, and keys of the local key ring.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// SSE-C keys travel in request headers: they are refused on plain HTTP (as S3 refuses
    /// them) unless this is set, for a server behind a TLS-terminating proxy on loopback.
    #[serde(default)]
    pub customer_keys_over_http: bool,
    /// Keys of the SSE-KMS key ring given here rather than made through the management API:
    /// key id → 32 bytes as base64 or 64 hex digits.
    #[serde(default)]
    pub kms_keys: std::collections::BTreeMap<String, Secret>,
}

/// Server access logs: how often queued lines are delivered, and how many may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogSchedule {
    #[serde(default = "default_log_flush_secs")]
    pub flush_secs: u64,
    #[serde(default = "default_log_pending")]
    pub max_pending_lines: usize,
}

fn default_log_flush_secs() -> u64 {
    300
}

fn default_log_pending() -> usize {
    100_000
}

impl Default for AccessLogSchedule {
    fn default() -> Self {
        Self {
            flush_secs: default_log_flush_secs(),
            max_pending_lines: default_log_pending(),
        }
    }
}

/// The lifecycle worker: how often it applies the buckets' rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSchedule {
    /// Seconds from the start of one pass to the start of the next; 0 turns it off.
    #[serde(default = "default_day_secs")]
    pub interval_secs: u64,
    /// The length of a lifecycle day in seconds: 86400 but in tests, which shorten it so that
    /// `Days` rules act within seconds.
    #[serde(default = "default_day_secs")]
    pub day_secs: u64,
}

fn default_day_secs() -> u64 {
    86_400
}

impl Default for LifecycleSchedule {
    fn default() -> Self {
        Self {
            interval_secs: default_day_secs(),
            day_secs: default_day_secs(),
        }
    }
}

impl LifecycleSchedule {
    /// `None` when the worker is off.
    pub fn interval(&self) -> Option<std::time::Duration> {
        (self.interval_secs > 0).then(|| std::time::Duration::from_secs(self.interval_secs))
    }

    /// A lifecycle day in milliseconds.
    pub fn day_ms(&self) -> i64 {
        i64::try_from(self.day_secs.max(1))
            .unwrap_or(86_400)
            .saturating_mul(1000)
    }
}

/// The background scrubber: how often it re-reads every blob, and how gently.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubSchedule {
    /// Hours from the end of one pass to the start of the next; 0 turns it off.
    #[serde(default = "default_scrub_every")]
    pub every_hours: f64,
    /// Blob bytes read per second at most, so a pass never crowds out clients.
    #[serde(default = "default_scrub_rate")]
    pub max_mib_per_sec: f64,
    /// Blobs younger than this are never called orphans: they may be on their way to a commit.
    #[serde(default = "default_orphan_grace")]
    pub orphans_older_than_secs: u64,
}

fn default_scrub_every() -> f64 {
    24.0 * 30.0
}
fn default_scrub_rate() -> f64 {
    32.0
}
fn default_orphan_grace() -> u64 {
    3600
}

impl Default for ScrubSchedule {
    fn default() -> Self {
        Self {
            every_hours: default_scrub_every(),
            max_mib_per_sec: default_scrub_rate(),
            orphans_older_than_secs: default_orphan_grace(),
        }
    }
}

impl ScrubSchedule {
    /// `None` when the scrubber is off.
    pub fn interval(&self) -> Option<std::time::Duration> {
        (self.every_hours > 0.0)
            .then(|| std::time::Duration::try_from_secs_f64(self.every_hours * 3600.0).ok())
            .flatten()
    }
}

impl Config {
    pub fn meta_dir(&self) -> PathBuf {
        self.data_dir.join("meta")
    }
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
}

/// Reads and parses a TOML config file.
pub fn read_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Merges file < env < flags. The config file itself is named by `--config`, else `CNX_CONFIG`.
pub fn resolve(env: &HashMap<String, String>, cli: &CliOverrides) -> Result<Config, ConfigError> {
    let file_path = cli
        .config
        .clone()
        .or_else(|| env.get("CNX_CONFIG").map(PathBuf::from));
    let file = match file_path {
        Some(p) => read_file(&p)?,
        None => ConfigFile::default(),
    };
    let listen = cli
        .listen
        .clone()
        .or_else(|| env.get("CNX_LISTEN").cloned())
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen
        .parse()
        .map_err(|_| ConfigError::Listen(listen.clone()))?;
    let data_dir = cli
        .data_dir
        .clone()
        .or_else(|| env.get("CNX_DATA_DIR").map(PathBuf::from))
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("./data"));
    let region = env
        .get("CNX_REGION")
        .cloned()
        .or(file.region)
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    validate_region(&region)?;
    let root_access_key = non_empty(env.get("CNX_ROOT_ACCESS_KEY"));
    let root_secret_key = non_empty(env.get("CNX_ROOT_SECRET_KEY")).map(Secret);
    if root_access_key.is_some() != root_secret_key.is_some() {
        return Err(ConfigError::Invalid {
            name: "root credentials",
            value: String::new(),
            why: "set both CNX_ROOT_ACCESS_KEY and CNX_ROOT_SECRET_KEY, or neither",
        });
    }
    let inline_max_bytes = file.inline_max_bytes.unwrap_or(DEFAULT_INLINE_MAX);
    if inline_max_bytes > INLINE_CEILING {
        return Err(ConfigError::Invalid {
            name: "inline_max_bytes",
            value: inline_max_bytes.to_string(),
            why: "at most 262144 (256 KiB): larger objects belong in blob storage",
        });
    }
    let sigv2 = file.s3.sigv2.unwrap_or(region == "us-east-1");
    let meta = resolve_meta(file.meta, non_empty(env.get("CNX_META_URL")))?;
    Ok(Config {
        listen,
        data_dir,
        region,
        durability: file.durability.unwrap_or_default(),
        inline_max_bytes,
        direct_io_min_bytes: file.direct_io_min_bytes.unwrap_or(DEFAULT_DIRECT_IO_MIN),
        tls: file.tls,
        s3_domain: file
            .s3
            .domain
            .map(|d| d.trim_matches('.').to_ascii_lowercase()),
        sigv2,
        blob: file.blob.unwrap_or_default(),
        meta,
        shutdown_grace: std::time::Duration::from_secs(file.shutdown_grace_secs.unwrap_or(10)),
        root_access_key,
        root_secret_key,
        master_key: non_empty(env.get("CNX_MASTER_KEY"))
            .map(Secret)
            .or(file.auth.master_key),
        jwt: file.auth.jwt,
        limits: file.limits.unwrap_or_default(),
        scrub: file.scrub.unwrap_or_default(),
        lifecycle: file.lifecycle.unwrap_or_default(),
        access_log: file.access_log.unwrap_or_default(),
        encryption: file.encryption,
        log_format: match non_empty(env.get("CNX_LOG_FORMAT")) {
            Some(v) => parse_log_format(&v)?,
            None => file.log.format.unwrap_or_default(),
        },
        metrics_token: non_empty(env.get("CNX_METRICS_TOKEN"))
            .map(Secret)
            .or(file.metrics.token)
            .filter(|t| !t.expose().is_empty()),
    })
}

fn parse_log_format(v: &str) -> Result<LogFormat, ConfigError> {
    match v {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(ConfigError::Invalid {
            name: "CNX_LOG_FORMAT",
            value: v.to_owned(),
            why: "`text` or `json`",
        }),
    }
}

/// `CNX_META_URL` overrides the file's URL, and alone selects PostgreSQL.
fn resolve_meta(
    file: Option<MetaBackend>,
    env_url: Option<String>,
) -> Result<MetaBackend, ConfigError> {
    let meta = match (file, env_url) {
        (
            Some(MetaBackend::Postgres {
                pool_size, ca_file, ..
            }),
            Some(url),
        ) => MetaBackend::Postgres {
            url: Some(Secret(url)),
            pool_size,
            ca_file,
        },
        (None, Some(url)) => MetaBackend::Postgres {
            url: Some(Secret(url)),
            pool_size: DEFAULT_META_POOL,
            ca_file: None,
        },
        (Some(MetaBackend::Rocksdb), Some(_)) => {
            return Err(ConfigError::Invalid {
                name: "CNX_META_URL",
                value: String::new(),
                why: "the config file chooses the rocksdb index; drop CNX_META_URL or set \
                      [meta] backend = \"postgres\"",
            })
        }
        (file, None) => file.unwrap_or_default(),
    };
    match &meta {
        MetaBackend::Postgres { url: None, .. } => Err(ConfigError::Invalid {
            name: "[meta] url",
            value: String::new(),
            why: "the postgres index needs a URL (postgres://USER:PASSWORD@HOST:PORT/DB) in \
                  [meta] url or CNX_META_URL",
        }),
        MetaBackend::Postgres { pool_size: 0, .. } => Err(ConfigError::Invalid {
            name: "[meta] pool_size",
            value: "0".into(),
            why: "at least 1 connection",
        }),
        _ => Ok(meta),
    }
}

fn non_empty(v: Option<&String>) -> Option<String> {
    v.filter(|s| !s.is_empty()).cloned()
}

fn validate_region(region: &str) -> Result<(), ConfigError> {
    let ok = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            name: "region",
            value: region.to_owned(),
            why: "use lowercase letters, digits and dashes, e.g. in-mum",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn embedded_default() {
        let c = resolve(&env(&[]), &CliOverrides::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.region, "in-mum");
        assert_eq!(c.durability, Durability::Strict);
        assert_eq!(c.blob, BlobBackend::Local);
        assert_eq!(c.limits.api_requests_per_second, 30.0);
        assert_eq!(c.limits.s3_requests_per_second, 0.0);
    }

    /// `toml` as the config file (`CNX_CONFIG`) beside `env_pairs`.
    fn with_file(
        dir: &Path,
        toml: &str,
        env_pairs: &[(&str, &str)],
    ) -> Result<Config, ConfigError> {
        let path = dir.join("c.toml");
        std::fs::write(&path, toml).unwrap();
        let mut e = env(env_pairs);
        e.insert("CNX_CONFIG".into(), path.display().to_string());
        resolve(&e, &CliOverrides::default())
    }

    #[test]
    fn log_format_and_metrics_token_come_from_file_or_env() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = |toml: &str, env_pairs: &[(&str, &str)]| with_file(dir.path(), toml, env_pairs);
        let plain = cfg("", &[]).unwrap();
        assert_eq!(plain.log_format, LogFormat::Text);
        assert_eq!(plain.metrics_token, None);
        let file = "[log]\nformat = \"json\"\n[metrics]\ntoken = \"t1\"\n";
        let c = cfg(file, &[]).unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.metrics_token, Some(Secret::new("t1")));
        let c = cfg(
            file,
            &[("CNX_LOG_FORMAT", "text"), ("CNX_METRICS_TOKEN", "t2")],
        )
        .unwrap();
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.metrics_token, Some(Secret::new("t2")));
        assert!(cfg("", &[("CNX_LOG_FORMAT", "xml")]).is_err());
        assert!(cfg("[log]\nformat = \"xml\"\n", &[]).is_err());
        assert_eq!(
            cfg("[metrics]\ntoken = \"\"\n", &[]).unwrap().metrics_token,
            None
        );
    }

    #[test]
    fn the_index_is_rocksdb_unless_a_postgres_url_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = |toml: &str, env_pairs: &[(&str, &str)]| with_file(dir.path(), toml, env_pairs);
        assert_eq!(cfg("", &[]).unwrap().meta, MetaBackend::Rocksdb);
        let url = "postgres://u:p@h/db";
        let pg = |m: MetaBackend| match m {
            MetaBackend::Postgres { url, pool_size, .. } => {
                (url.map(|u| u.expose().to_owned()), pool_size)
            }
            MetaBackend::Rocksdb => (None, 0),
        };
        let from_env = cfg("", &[("CNX_META_URL", url)]).unwrap().meta;
        assert_eq!(pg(from_env), (Some(url.into()), DEFAULT_META_POOL));
        let file = "[meta]\nbackend = \"postgres\"\nurl = \"postgres://file\"\npool_size = 4\n";
        assert_eq!(
            pg(cfg(file, &[]).unwrap().meta),
            (Some("postgres://file".into()), 4)
        );
        assert_eq!(
            pg(cfg(file, &[("CNX_META_URL", url)]).unwrap().meta),
            (Some(url.into()), 4),
            "the env's URL wins"
        );
        let with_ca = format!("{file}ca_file = \"/etc/db-ca.pem\"\n");
        assert!(matches!(
            cfg(&with_ca, &[("CNX_META_URL", url)]).unwrap().meta,
            MetaBackend::Postgres { ca_file: Some(p), .. } if p == Path::new("/etc/db-ca.pem")
        ));
        let no_url = cfg("[meta]\nbackend = \"postgres\"\n", &[]).unwrap_err();
        assert!(no_url.to_string().contains("needs a URL"), "{no_url}");
        let both = cfg("[meta]\nbackend = \"rocksdb\"\n", &[("CNX_META_URL", url)]);
        assert!(both.is_err());
        let unknown = cfg("[meta]\nbackend = \"mysql\"\n", &[]);
        assert!(unknown.is_err());
    }

    #[test]
    fn the_shipped_default_file_is_the_embedded_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let file = read_file(&path).unwrap();
        assert_eq!(file.limits.unwrap_or_default(), Limits::default());
        assert_eq!(file.scrub.unwrap_or_default(), ScrubSchedule::default());
        assert_eq!(
            file.lifecycle.unwrap_or_default(),
            LifecycleSchedule::default()
        );
        assert_eq!(
            file.access_log.unwrap_or_default(),
            AccessLogSchedule::default()
        );
        assert!(!file.encryption.customer_keys_over_http);
        assert!(file.encryption.kms_keys.is_empty());
        assert_eq!(file.meta.unwrap_or_default(), MetaBackend::Rocksdb);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[auth]\nmaster_key = \"file-master-key\"\n[blob]\nbackend = \"s3\"\nbucket = \"b\"\n\
             access_key_id = \"AKID\"\nsecret_access_key = \"upstream-secret\"\n",
        )
        .unwrap();
        let e = env(&[
            ("CNX_CONFIG", file.to_str().unwrap()),
            ("CNX_ROOT_ACCESS_KEY", "ROOTAK"),
            ("CNX_ROOT_SECRET_KEY", "root-secret"),
        ]);
        let c = resolve(&e, &CliOverrides::default()).unwrap();
        let shown = format!("{c:?} {c:#?}");
        for secret in ["file-master-key", "upstream-secret", "root-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("ROOTAK") && shown.contains("[REDACTED]"));
        assert_eq!(c.master_key.unwrap().expose(), "file-master-key");
    }

    #[test]
    fn flags_win_over_env_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\ndata_dir = \"/f\"\nregion = \"eu-x\"\ndurability = \"relaxed\"\n",
        )
        .unwrap();
        let e = env(&[
            ("CNX_LISTEN", "127.0.0.1:2"),
            ("CNX_DATA_DIR", "/e"),
            ("CNX_CONFIG", file.to_str().unwrap()),
        ]);
        let c = resolve(&e, &CliOverrides::default()).unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.data_dir, PathBuf::from("/e"));
        assert_eq!(c.region, "eu-x");
        assert_eq!(c.durability, Durability::Relaxed);
        let cli = CliOverrides {
            listen: Some("127.0.0.1:3".into()),
            data_dir: Some("/c".into()),
            config: None,
        };
        let c = resolve(&e, &cli).unwrap();
        assert_eq!(c.listen.port(), 3);
        assert_eq!(c.data_dir, PathBuf::from("/c"));
    }

    #[test]
    fn sigv2_is_on_by_default_only_in_us_east_1() {
        assert!(!resolve(&env(&[]), &CliOverrides::default()).unwrap().sigv2);
        let us = env(&[("CNX_REGION", "us-east-1")]);
        assert!(resolve(&us, &CliOverrides::default()).unwrap().sigv2);
        let dir = tempfile::tempdir().unwrap();
        for (body, region, want) in [
            ("[s3]\nsigv2 = true\n", "in-mum", true),
            ("[s3]\nsigv2 = false\n", "us-east-1", false),
        ] {
            let file = dir.path().join("c.toml");
            std::fs::write(&file, body).unwrap();
            let e = env(&[
                ("CNX_CONFIG", file.to_str().unwrap()),
                ("CNX_REGION", region),
            ]);
            assert_eq!(
                resolve(&e, &CliOverrides::default()).unwrap().sigv2,
                want,
                "{body}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let cli = CliOverrides {
            config: Some(file),
            ..Default::default()
        };
        assert!(matches!(
            resolve(&env(&[]), &cli),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            resolve(&env(&[("CNX_LISTEN", "nope")]), &CliOverrides::default()),
            Err(ConfigError::Listen(_))
        ));
        assert!(resolve(
            &env(&[("CNX_ROOT_ACCESS_KEY", "a")]),
            &CliOverrides::default()
        )
        .is_err());
    }

    #[test]
    fn shipped_examples_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                read_file(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 4);
    }

    #[test]
    fn blob_backends_parse() {
        let f: ConfigFile =
            toml::from_str("[blob]\nbackend = \"s3\"\nbucket = \"b\"\nendpoint = \"http://127.0.0.1:5000\"\nallow_http = true\n")
                .unwrap();
        assert!(
            matches!(f.blob, Some(BlobBackend::S3 { ref bucket, allow_http: true, .. }) if bucket == "b")
        );
    }
}
