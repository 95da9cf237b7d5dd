//! TLS to the database, with rustls (the server's own TLS stack). `sslmode=require` in the
//! URL asks for it, checked against `[meta] ca_file` (which then must come with
//! `sslmode=require`), else the system's CAs. The certificate is always verified, host name
//! included: a database that cannot prove who it is gets no passwords.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use tokio_postgres::config::{Host, SslMode};

use super::db_err;
use crate::error::{Error, Result};

/// How this gateway's connections to the database are made.
#[derive(Clone)]
pub enum DbTls {
    Plain,
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

impl DbTls {
    /// What the URL's `sslmode` and the CA file ask for.
    pub fn for_url(url: &str, ca_file: Option<&Path>) -> Result<Self> {
        let config = parse(url)?;
        let wanted = match config.get_ssl_mode() {
            SslMode::Disable => false,
            SslMode::Require => true,
            // `prefer` (the default): TLS only when it can be verified against a given CA;
            // the system's CAs rarely sign a database's certificate.
            _ => ca_file.is_some(),
        };
        if !wanted {
            return Ok(DbTls::Plain);
        }
        // Checked with `require`: under `prefer` a server (or anyone in the way) answering
        // that it has no TLS would get a plain connection, and a CA file means TLS is wanted.
        if config.get_ssl_mode() != SslMode::Require {
            return Err(Error::Meta(
                "[meta] ca_file is set: add sslmode=require to the database URL \
                 (postgres://…?sslmode=require), so that no connection is made without TLS"
                    .into(),
            ));
        }
        let hosts = config.get_hosts();
        if !hosts.is_empty() && hosts.iter().all(|h| !matches!(h, Host::Tcp(_))) {
            return Err(Error::Meta(
                "TLS to the database is asked for (sslmode=require or [meta] ca_file) on a Unix \
                 socket, which PostgreSQL never encrypts: connect to host:port, or drop both"
                    .into(),
            ));
        }
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| Error::Meta(format!("[meta] ca_file {}: {e}", path.display())))?;
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| {
                        Error::Meta(format!("[meta] ca_file {}: {e}", path.display()))
                    })?;
                    roots.add(cert).map_err(|e| {
                        Error::Meta(format!("[meta] ca_file {}: {e}", path.display()))
                    })?;
                }
                if roots.is_empty() {
                    return Err(Error::Meta(format!(
                        "[meta] ca_file {} holds no certificate",
                        path.display()
                    )));
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A system store may hold certificates rustls cannot use; the rest do.
                    let _ = roots.add(cert);
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Meta(format!("TLS to the database: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(DbTls::Rustls(
            tokio_postgres_rustls::MakeRustlsConnect::new(tls),
        ))
    }

    /// A pool manager for `config` that connects this way.
    pub(super) fn manager(
        &self,
        config: tokio_postgres::Config,
        mc: deadpool_postgres::ManagerConfig,
    ) -> deadpool_postgres::Manager {
        match self {
            DbTls::Plain => {
                deadpool_postgres::Manager::from_config(config, tokio_postgres::NoTls, mc)
            }
            DbTls::Rustls(tls) => deadpool_postgres::Manager::from_config(config, tls.clone(), mc),
        }
    }

    /// One connection outside the pool; its driver runs on the current runtime until the
    /// client is dropped.
    pub(super) async fn connect(&self, url: &str) -> Result<tokio_postgres::Client> {
        let config = parse(url)?;
        let client = match self {
            DbTls::Plain => {
                let (client, conn) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(db_err)?;
                tokio::spawn(drive(conn));
                client
            }
            DbTls::Rustls(tls) => {
                let (client, conn) = config.connect(tls.clone()).await.map_err(db_err)?;
                tokio::spawn(drive(conn));
                client
            }
        };
        Ok(client)
    }
}

pub(super) fn parse(url: &str) -> Result<tokio_postgres::Config> {
    tokio_postgres::Config::from_str(url)
        .map_err(|e| Error::Meta(format!("bad PostgreSQL URL: {e}")))
}

async fn drive<F: std::future::Future<Output = std::result::Result<(), tokio_postgres::Error>>>(
    conn: F,
) {
    if let Err(e) = conn.await {
        tracing::warn!(error = %e, "a PostgreSQL session of this gateway ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TLS is refused, not attempted, on a Unix socket: PostgreSQL serves none there.
    #[test]
    fn tls_is_refused_on_a_unix_socket() {
        let socket = "postgresql://cnx@%2Fvar%2Frun%2Fpostgresql/cnx?sslmode=require";
        let e = DbTls::for_url(socket, None).err().expect("refused");
        assert!(e.to_string().contains("Unix socket"), "{e}");
        assert!(matches!(
            DbTls::for_url("postgresql://cnx@%2Fvar%2Frun%2Fpostgresql/cnx", None),
            Ok(DbTls::Plain)
        ));
        let tcp = "postgresql://cnx@db.example:5432/cnx?sslmode=require";
        assert!(matches!(DbTls::for_url(tcp, None), Ok(DbTls::Rustls(_))));
    }
}
