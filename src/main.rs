//! `cnx-storage serve [--config FILE] [--listen ADDR] [--data-dir DIR]`, and the key commands
//! `cnx-storage keys …` / `cnx-storage access-keys …`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cnx_storage::cli::{self, KeyOp};
use cnx_storage::config::{self, CliOverrides, Config};

#[derive(Parser)]
#[command(
    name = "cnx-storage",
    version,
    about = "S3-compatible object storage gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Common {
    /// TOML config file (env CNX_CONFIG).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory: RocksDB under meta/, blobs under blobs/ (env CNX_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct Target {
    #[command(flatten)]
    common: Common,
    /// The running server's address (default: from the config's listen address). When no
    /// server answers there, the command works on the data dir directly.
    #[arg(long)]
    endpoint: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (S3 and management API on one port).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on, e.g. 127.0.0.1:9000; port 0 picks a free one (env CNX_LISTEN).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Per-bucket access keys: act on one bucket of the S3 surface.
    Keys {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        cmd: BucketKeyCmd,
    },
    /// Verify every blob against the checksums written with it; report corrupt, missing and
    /// orphaned blobs as JSON (exit 0 when clean, 3 when something was found). Safe to run
    /// while a server works on the same data dir.
    Scrub {
        #[command(flatten)]
        common: Common,
        /// Only this bucket's objects and uploads (no orphan search).
        #[arg(long)]
        bucket: Option<String>,
        /// Blobs nothing refers to count as orphans once they are this many seconds old
        /// (younger ones may be on their way to a commit).
        #[arg(long, default_value_t = cnx_storage::scrub::ORPHAN_GRACE.as_secs())]
        orphans_older_than: u64,
    },
    /// Measure an S3 endpoint (this server or any other): PUT/GET/HEAD/LIST/DELETE/multipart
    /// workloads with every byte checked; prints ops/s, MiB/s, latency percentiles, and the
    /// server's CPU and peak RSS given its pid. Exit 1 when any operation failed.
    Bench(Box<cnx_storage::bench::BenchArgs>),
    /// Copy a stopped server's RocksDB index into an empty PostgreSQL database, so gateways
    /// can serve it from there (blobs stay where they are). Resumable: run it again after an
    /// interruption. Prints the copied tables against the source as JSON; exit 0 when every
    /// count and each bucket's usage agree, 3 when not.
    Migrate {
        /// `rocksdb:DIR`: the server's data dir (or its meta dir).
        #[arg(long)]
        from: String,
        /// `postgres://USER:PASSWORD@HOST:PORT/DB`.
        #[arg(long)]
        to: String,
        /// The CA of the database's certificate, for TLS (as `[meta] ca_file`).
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Ask a running server for `/health`: prints its JSON; exit 0 when it answers 200,
    /// 1 otherwise (for container health checks and scripts).
    Health {
        #[command(flatten)]
        target: Target,
    },
    /// Print a shell completion script: `cnx-storage completions bash > /etc/bash_completion.d/cnx-storage`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Account-level access keys: act as an account (root may name any account).
    AccessKeys {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        cmd: AccountKeyCmd,
    },
}

#[derive(Subcommand)]
enum BucketKeyCmd {
    /// Mint a key for one bucket; prints the secret once.
    Create {
        #[arg(long)]
        bucket: String,
        /// `read` (Get/Head/List) or `read-write` (also Put/Copy/Delete/multipart).
        #[arg(long)]
        permission: String,
        #[arg(long)]
        name: Option<String>,
        /// RFC 3339 time after which the key stops working.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List a bucket's keys (never their secrets).
    List {
        #[arg(long)]
        bucket: String,
    },
    /// Revoke a key: refused from the next request on.
    Revoke {
        #[arg(long)]
        bucket: String,
        access_key_id: String,
    },
}

#[derive(Subcommand)]
enum AccountKeyCmd {
    /// Mint a key that acts as an account (root's own without --account).
    Create {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List account-level keys.
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke an account-level key.
    Revoke { access_key_id: String },
}

fn resolve(common: Common, listen: Option<String>) -> Result<Config, ExitCode> {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let overrides = CliOverrides {
        config: common.config,
        listen,
        data_dir: common.data_dir,
    };
    config::resolve(&env, &overrides).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        })
}

fn keys(target: Target, op: KeyOp) -> Result<ExitCode, ExitCode> {
    let cfg = resolve(target.common, None)?;
    let endpoint = target
        .endpoint
        .unwrap_or_else(|| cli::default_endpoint(&cfg));
    let rt = runtime()?;
    match rt.block_on(cli::run(&cfg, &endpoint, &op)) {
        Ok((value, offline)) => {
            if offline {
                eprintln!(
                    "(no server at {endpoint}: worked on {} directly)",
                    cfg.data_dir.display()
                );
            }
            if !value.is_null() {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
            }
            if let (KeyOp::CreateBucketKey { bucket, .. }, Some(id), Some(secret)) = (
                &op,
                value["access_key_id"].as_str(),
                value["secret_access_key"].as_str(),
            ) {
                eprintln!(
                    "\nThe secret is shown this once. To use the key with the aws CLI:\n  \
                     export AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY='{secret}' AWS_DEFAULT_REGION={}\n  \
                     aws --endpoint-url {endpoint} s3 ls s3://{bucket}",
                    cfg.region
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, ExitCode> {
    match cli.command {
        Command::Serve { common, listen } => {
            let cfg = resolve(common, listen)?;
            init_log(cfg.log_format);
            let rt = runtime()?;
            match rt.block_on(cnx_storage::server::run(cfg)) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Bench(args) => {
            let rt = runtime()?;
            match rt.block_on(cnx_storage::bench::run(*args)) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Migrate { from, to, ca_file } => migrate(&from, to, ca_file),
        Command::Health { target } => health(target),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "cnx-storage", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Scrub {
            common,
            bucket,
            orphans_older_than,
        } => {
            let cfg = resolve(common, None)?;
            let rt = runtime()?;
            let grace = std::time::Duration::from_secs(orphans_older_than);
            let run = cnx_storage::scrub::scrub(&cfg, bucket.as_deref(), grace, |p| {
                eprintln!(
                    "scrub: {} blobs, {:.1} MiB checked, {} problems so far",
                    p.blobs,
                    p.bytes as f64 / 1048576.0,
                    p.problems
                );
            });
            match rt.block_on(run) {
                Ok(report) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                    Ok(if report.clean() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(3)
                    })
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Keys { target, cmd } => {
            let op = match cmd {
                BucketKeyCmd::Create {
                    bucket,
                    permission,
                    name,
                    expires_at,
                } => KeyOp::CreateBucketKey {
                    bucket,
                    permission,
                    name,
                    expires_at,
                },
                BucketKeyCmd::List { bucket } => KeyOp::ListBucketKeys { bucket },
                BucketKeyCmd::Revoke {
                    bucket,
                    access_key_id,
                } => KeyOp::RevokeBucketKey {
                    bucket,
                    access_key_id,
                },
            };
            keys(target, op)
        }
        Command::AccessKeys { target, cmd } => {
            let op = match cmd {
                AccountKeyCmd::Create {
                    account,
                    name,
                    expires_at,
                } => KeyOp::CreateAccessKey {
                    account,
                    name,
                    expires_at,
                },
                AccountKeyCmd::List { account } => KeyOp::ListAccessKeys { account },
                AccountKeyCmd::Revoke { access_key_id } => KeyOp::RevokeAccessKey { access_key_id },
            };
            keys(target, op)
        }
    }
}

/// glibc's allocator settings for a server: at most two arenas (the default, eight per core,
/// lets every thread that ever touched RocksDB or a buffer keep its own arena's free memory:
/// 145 → 95 MiB peak over the bench's workloads), and blocks from 256 KiB up mapped and
/// unmapped on their own (the default threshold grows to the largest block freed, after which
/// megabyte buffers stay in the arenas). Set before the allocator starts, so through the
/// environment: a server started without them runs itself again with them, same pid, name
/// and arguments. Tunables the operator set come after ours, so theirs win.
const SERVER_MALLOC: &str = "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=262144";

fn with_server_malloc() {
    use std::os::unix::process::CommandExt;
    // The marker stops a second run where the loader dropped the tunables (a setuid start).
    const MARKER: &str = "CNX_SERVER_MALLOC";
    if !cfg!(all(target_os = "linux", target_env = "gnu")) || std::env::var_os(MARKER).is_some() {
        return;
    }
    // The executable's own path, so the process keeps its name (`/proc/self/exe` would make
    // it `exe`); not when started through the dynamic loader, which would be run instead.
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let through_loader = exe
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("ld-linux") || n.starts_with("ld.so"));
    if through_loader {
        return;
    }
    let tunables = match std::env::var("GLIBC_TUNABLES") {
        Ok(own) if !own.is_empty() => format!("{SERVER_MALLOC}:{own}"),
        _ => SERVER_MALLOC.to_owned(),
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_default();
    // `exec` returns only when it failed; the server then runs with the defaults.
    let err = std::process::Command::new(exe)
        .arg0(arg0)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .env(MARKER, "1")
        .exec();
    eprintln!("warning: running with glibc's default allocator settings ({err})");
}

fn migrate(from: &str, to: String, ca_file: Option<PathBuf>) -> Result<ExitCode, ExitCode> {
    let Some(dir) = from.strip_prefix("rocksdb:").map(PathBuf::from) else {
        eprintln!("error: --from takes rocksdb:DIR (the stopped server's data dir)");
        return Err(ExitCode::from(2));
    };
    let rt = runtime()?;
    let copy = rt.spawn_blocking(move || {
        let mut last = std::time::Instant::now();
        let mut progress = |table: &str, rows: u64| {
            if last.elapsed() >= std::time::Duration::from_secs(1) || rows == 0 {
                eprintln!("migrate: {table}: {rows} rows");
                last = std::time::Instant::now();
            }
        };
        cnx_storage::meta::migrate(&dir, &to, ca_file.as_deref(), &mut progress)
    });
    match rt.block_on(copy) {
        Ok(Ok(report)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            Ok(if report.verified() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn health(target: Target) -> Result<ExitCode, ExitCode> {
    // Exit 1 for every failure: container runtimes reserve other codes.
    let cfg = resolve(target.common, None).map_err(|_| ExitCode::FAILURE)?;
    let endpoint = target
        .endpoint
        .unwrap_or_else(|| cli::default_endpoint(&cfg));
    let rt = runtime()?;
    let pin = cfg.tls.as_ref().map(|t| t.cert.as_path());
    match rt.block_on(cli::health(&endpoint, pin)) {
        Ok(v) => {
            println!("{v}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {endpoint}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The log on stderr: `RUST_LOG` filters it (default `info`); colours only on a terminal,
/// so a log file or journal gets plain text.
fn init_log(format: config::LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let base = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        config::LogFormat::Text => base.with_ansi(std::io::stderr().is_terminal()).try_init(),
        config::LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve { .. } => with_server_malloc(),
        // The server sets up its log once its config names the format.
        _ => init_log(config::LogFormat::Text),
    }
    run(cli).unwrap_or_else(|code| code)
}
