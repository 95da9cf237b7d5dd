//! `cnx-storage serve [--config FILE] [--listen ADDR] [--data-dir DIR]`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

#[derive(Subcommand)]
enum Command {
    /// Run the server (S3 and management API on one port).
    Serve {
        /// TOML config file (env CNX_CONFIG).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on, e.g. 127.0.0.1:9000; port 0 picks a free one (env CNX_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Data directory: RocksDB under meta/, blobs under blobs/ (env CNX_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
        } => {
            let env: std::collections::HashMap<String, String> = std::env::vars().collect();
            let overrides = cnx_storage::config::CliOverrides {
                config,
                listen,
                data_dir,
            };
            let cfg = match cnx_storage::config::resolve(&env, &overrides) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(cnx_storage::server::run(cfg)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
