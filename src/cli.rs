//! `cnx-storage keys …` and `cnx-storage access-keys …`: hand out and revoke keys without
//! writing curl. With a server answering at the endpoint, the CLI calls its management API
//! signed with the root credentials; with none answering, it opens the data dir itself (the
//! server holds the index's lock while it runs, so the two never write at once).

use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use crate::access::admin::{self, AdminError, KeyTerms, Manager};
use crate::access::seal::Sealer;
use crate::access::signer::{self, Signing};
use crate::access::KeyRing;
use crate::api::keys::view;
use crate::config::Config;
use crate::credentials::RootCredentials;
use crate::meta::KeyRecord;

/// One key operation, as the API's routes name them.
#[derive(Debug, Clone)]
pub enum KeyOp {
    CreateBucketKey {
        bucket: String,
        permission: String,
        name: Option<String>,
        expires_at: Option<String>,
    },
    ListBucketKeys {
        bucket: String,
    },
    RevokeBucketKey {
        bucket: String,
        access_key_id: String,
    },
    CreateAccessKey {
        account: Option<String>,
        name: Option<String>,
        expires_at: Option<String>,
    },
    ListAccessKeys {
        account: Option<String>,
    },
    RevokeAccessKey {
        access_key_id: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{status}: {message}")]
    Api { status: u16, message: String },
    /// Nothing answers at the endpoint: the data dir is used instead.
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Failed(String),
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// The endpoint that reaches the configured listen address from this machine.
pub fn default_endpoint(cfg: &Config) -> String {
    let mut addr = cfg.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{addr}")
}

fn encode(s: &str) -> String {
    signer::uri_encode(s)
}

fn opt_field(v: &mut Value, name: &str, value: &Option<String>) {
    if let Some(x) = value {
        v[name] = x.as_str().into();
    }
}

impl KeyOp {
    /// Method, path and JSON body of the matching management request.
    fn request(&self) -> (http::Method, String, Option<Value>) {
        use http::Method as M;
        match self {
            KeyOp::CreateBucketKey {
                bucket,
                permission,
                name,
                expires_at,
            } => {
                let mut body = json!({ "permission": permission });
                opt_field(&mut body, "name", name);
                opt_field(&mut body, "expires_at", expires_at);
                (
                    M::POST,
                    format!("/storage/buckets/{}/keys", encode(bucket)),
                    Some(body),
                )
            }
            KeyOp::ListBucketKeys { bucket } => (
                M::GET,
                format!("/storage/buckets/{}/keys?limit=1000", encode(bucket)),
                None,
            ),
            KeyOp::RevokeBucketKey {
                bucket,
                access_key_id,
            } => (
                M::DELETE,
                format!(
                    "/storage/buckets/{}/keys/{}",
                    encode(bucket),
                    encode(access_key_id)
                ),
                None,
            ),
            KeyOp::CreateAccessKey {
                account,
                name,
                expires_at,
            } => {
                let mut body = json!({});
                opt_field(&mut body, "account", account);
                opt_field(&mut body, "name", name);
                opt_field(&mut body, "expires_at", expires_at);
                (M::POST, "/storage/access-keys".into(), Some(body))
            }
            KeyOp::ListAccessKeys { account } => {
                let q = account
                    .as_deref()
                    .map(|a| format!("&account={}", encode(a)))
                    .unwrap_or_default();
                (M::GET, format!("/storage/access-keys?limit=1000{q}"), None)
            }
            KeyOp::RevokeAccessKey { access_key_id } => (
                M::DELETE,
                format!("/storage/access-keys/{}", encode(access_key_id)),
                None,
            ),
        }
    }
}

/// Runs `op` against the server at `endpoint`, or on the data dir when nothing answers there.
/// Returns the JSON the API returns (`null` for a revocation) and whether the data dir was used.
pub async fn run(cfg: &Config, endpoint: &str, op: &KeyOp) -> Result<(Value, bool), CliError> {
    let root = RootCredentials::load_or_create(cfg).map_err(failed)?;
    match call_server(endpoint, cfg, &root, op).await {
        Err(CliError::Unreachable(_)) => {
            let cfg = cfg.clone();
            let op = op.clone();
            let v = tokio::task::spawn_blocking(move || offline(&cfg, root, &op))
                .await
                .map_err(failed)??;
            Ok((v, true))
        }
        other => other.map(|v| (v, false)),
    }
}

/// One request for `op`, or for a listing every page of it (following `next_cursor`).
async fn call_server(
    endpoint: &str,
    cfg: &Config,
    root: &RootCredentials,
    op: &KeyOp,
) -> Result<Value, CliError> {
    let (method, path, body) = op.request();
    if !matches!(
        op,
        KeyOp::ListBucketKeys { .. } | KeyOp::ListAccessKeys { .. }
    ) {
        return call_once(endpoint, cfg, root, method, &path, body).await;
    }
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_path = match &cursor {
            Some(c) => format!("{path}&cursor={}", encode(c)),
            None => path.clone(),
        };
        let page = call_once(endpoint, cfg, root, method.clone(), &page_path, None).await?;
        keys.extend(page["keys"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
            _ => return Ok(json!({ "keys": keys, "next_cursor": null })),
        }
    }
}

async fn call_once(
    endpoint: &str,
    cfg: &Config,
    root: &RootCredentials,
    method: http::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, CliError> {
    let authority = http_authority(endpoint)?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let url = format!("http://{authority}{path}");
    let mut headers: Vec<(&str, &str)> = vec![("host", authority.as_str())];
    if !body.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    let signed = signer::sign_headers(
        &Signing {
            access_key: &root.access_key,
            secret: &root.secret_key,
            region: &cfg.region,
            service: "cloudnx",
            time: SystemTime::now(),
        },
        method.as_str(),
        &url,
        &headers,
        body.as_bytes(),
    )
    .map_err(failed)?;
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|e| CliError::Unreachable(e.to_string()))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(failed)?;
    tokio::spawn(conn);
    let mut req = http::Request::builder().method(method).uri(path);
    for (k, v) in headers.iter().copied() {
        req = req.header(k, v);
    }
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(Bytes::from(body))).map_err(failed)?;
    let resp = sender.send_request(req).await.map_err(failed)?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await.map_err(failed)?.to_bytes();
    let value: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| failed(format!("bad response: {e}")))?
    };
    if status.is_success() {
        Ok(value)
    } else {
        Err(CliError::Api {
            status: status.as_u16(),
            message: value["error"]
                .as_str()
                .unwrap_or("request failed")
                .to_owned(),
        })
    }
}

/// `GET /health` on a running server: its JSON when it answers 200. Over https the server
/// must present the certificate of `pin` (its own `[tls] cert`): a health check reaches the
/// server by an address its certificate seldom names, so the certificate itself is checked.
pub async fn health(endpoint: &str, pin: Option<&std::path::Path>) -> Result<Value, CliError> {
    // A server that accepts but never answers must not hang a health check.
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        health_once(endpoint, pin),
    )
    .await
    .map_err(|_| failed("no answer within 5 s"))?
}

async fn health_once(endpoint: &str, pin: Option<&std::path::Path>) -> Result<Value, CliError> {
    let base: http::Uri = endpoint
        .parse()
        .map_err(|_| failed(format!("invalid endpoint `{endpoint}`")))?;
    let authority = base
        .authority()
        .ok_or_else(|| failed(format!("endpoint `{endpoint}` names no host")))?
        .to_string();
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|e| CliError::Unreachable(e.to_string()))?;
    match base.scheme_str() {
        Some("http") => get_health(stream, &authority).await,
        Some("https") => {
            let pin = pin.ok_or_else(|| {
                failed("an https health check needs the server's config, to check its [tls] cert")
            })?;
            let connector = pinned_tls(pin)?;
            let name =
                rustls::pki_types::ServerName::try_from("cnx-storage.invalid").map_err(failed)?;
            let tls = connector.connect(name, stream).await.map_err(failed)?;
            get_health(tls, &authority).await
        }
        _ => Err(failed(format!(
            "endpoint `{endpoint}` is neither http nor https"
        ))),
    }
}

async fn get_health<IO>(io: IO, authority: &str) -> Result<Value, CliError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(failed)?;
    tokio::spawn(conn);
    let req = http::Request::get("/health")
        .header(http::header::HOST, authority)
        .body(Full::new(Bytes::new()))
        .map_err(failed)?;
    let resp = sender.send_request(req).await.map_err(failed)?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await.map_err(failed)?.to_bytes();
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| failed(format!("bad response: {e}")))?;
    match status.is_success() {
        true => Ok(value),
        false => Err(api_error(status.as_u16(), value.to_string())),
    }
}

/// A TLS client that accepts exactly the first certificate of the PEM file `pin`.
fn pinned_tls(pin: &std::path::Path) -> Result<tokio_rustls::TlsConnector, CliError> {
    let pem = std::fs::read(pin).map_err(|e| failed(format!("{}: {e}", pin.display())))?;
    let cert = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .ok_or_else(|| failed(format!("{} holds no certificate", pin.display())))?
        .map_err(|e| failed(format!("{}: {e}", pin.display())))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier = std::sync::Arc::new(Pinned {
        cert,
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(failed)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

#[derive(Debug)]
struct Pinned {
    cert: rustls::pki_types::CertificateDer<'static>,
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match end_entity.as_ref() == self.cert.as_ref() {
            true => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            false => Err(rustls::Error::General(
                "the server's certificate is not the configured [tls] cert".into(),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The `host:port` of a plain-http endpoint.
fn http_authority(endpoint: &str) -> Result<String, CliError> {
    let base: http::Uri = endpoint
        .parse()
        .map_err(|_| failed(format!("invalid endpoint `{endpoint}`")))?;
    if base.scheme_str() != Some("http") {
        return Err(failed(
            "the CLI speaks plain http to the server; with TLS on, stop the server \
             to work on the data dir, or use curl --aws-sigv4 against the management API",
        ));
    }
    Ok(base
        .authority()
        .ok_or_else(|| failed(format!("endpoint `{endpoint}` names no host")))?
        .to_string())
}

fn api_error(status: u16, message: impl Into<String>) -> CliError {
    CliError::Api {
        status,
        message: message.into(),
    }
}

/// The same statuses the management API answers with.
impl From<AdminError> for CliError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(m) => api_error(400, m),
            AdminError::Forbidden(m) => api_error(403, m),
            AdminError::NotFound(m) => api_error(404, m),
            AdminError::Store(e) => failed(e),
        }
    }
}

/// The same operations on a stopped server's data dir, acting as the operator.
fn offline(cfg: &Config, root: RootCredentials, op: &KeyOp) -> Result<Value, CliError> {
    crate::credentials::secure_data_dir(&cfg.data_dir).map_err(failed)?;
    let meta = crate::meta::open(cfg, crate::config::Durability::Strict).map_err(|e| {
        failed(format!(
            "no server answers at the endpoint and the data dir cannot be opened ({e}); \
             if a server runs on it, pass --endpoint with its address"
        ))
    })?;
    let sealer = Sealer::load_or_create(cfg, meta.as_ref()).map_err(failed)?;
    let ring = KeyRing::new(root, meta.clone(), sealer);
    let operator = Manager::operator();
    let bucket_of = |name: &str| {
        meta.get_bucket(name)
            .map_err(failed)?
            .ok_or_else(|| api_error(404, format!("bucket `{name}` not found")))
    };
    let listing = |keys: Vec<KeyRecord>| {
        let keys: Vec<Value> = keys.iter().map(|k| view(k, None)).collect();
        json!({ "keys": keys, "next_cursor": null })
    };
    let minted = |(rec, secret): (KeyRecord, String)| view(&rec, Some(&secret));
    let terms = |name: &Option<String>, expires_at: &Option<String>| KeyTerms {
        name: name.clone(),
        expires_at: expires_at.clone(),
    };
    Ok(match op {
        KeyOp::CreateBucketKey {
            bucket,
            permission,
            name,
            expires_at,
        } => minted(admin::mint_bucket_key(
            &ring,
            &bucket_of(bucket)?,
            permission,
            &terms(name, expires_at),
        )?),
        KeyOp::ListBucketKeys { bucket } => {
            listing(admin::bucket_keys(&ring, &bucket_of(bucket)?)?)
        }
        KeyOp::RevokeBucketKey {
            bucket,
            access_key_id,
        } => {
            admin::revoke_bucket_key(&ring, &bucket_of(bucket)?, access_key_id)?;
            Value::Null
        }
        KeyOp::CreateAccessKey {
            account,
            name,
            expires_at,
        } => minted(admin::mint_account_key(
            &ring,
            &operator,
            account.as_deref(),
            &terms(name, expires_at),
        )?),
        KeyOp::ListAccessKeys { account } => {
            listing(admin::account_keys(&ring, &operator, account.as_deref())?)
        }
        KeyOp::RevokeAccessKey { access_key_id } => {
            admin::revoke_account_key(&ring, &operator, access_key_id)?;
            Value::Null
        }
    })
}
