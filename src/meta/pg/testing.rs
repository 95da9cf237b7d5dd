//! A private PostgreSQL server for tests (this crate's and the integration suite's): `initdb`
//! into a temp dir, started on a free loopback port with trust authentication, and stopped
//! when the test process ends — a watcher process stops it even when the tests are killed.
//! Each test gets a database of its own. `CNX_TEST_PG=HOST:PORT` names a server (trust
//! authentication for user `postgres`) to use instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A running server.
#[derive(Debug)]
pub struct TestPg {
    pub host: String,
    pub port: u16,
    /// The CA that signed the certificate the server presents for TLS, when this process
    /// started it.
    pub ca_file: Option<PathBuf>,
}

static SERVER: OnceLock<TestPg> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The server of this test process, started on first use.
pub fn server() -> &'static TestPg {
    SERVER.get_or_init(|| {
        if let Some((host, port)) = std::env::var("CNX_TEST_PG")
            .ok()
            .and_then(|a| {
                a.rsplit_once(':')
                    .map(|(h, p)| (h.to_owned(), p.parse().ok()))
            })
            .and_then(|(h, p)| Some((h, p?)))
        {
            return TestPg {
                host,
                port,
                ca_file: None,
            };
        }
        start().unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"))
    })
}

/// The URL of a new, empty database on [`server`].
pub fn fresh_database() -> String {
    let pg = server();
    let name = format!(
        "cnx_test_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    run(Command::new(bin("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qAt",
        ])
        .args(["-p", &pg.port.to_string(), "-c"])
        .arg(format!("CREATE DATABASE {name}")))
    .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
    pg.url(&name)
}

/// Every row of every table of the database at `url`, each value's bytes as stored (the
/// binary form of `COPY`: a bytea column's bytes verbatim, not hex-encoded as a text dump
/// would have them).
pub fn dump(url: &str) -> Vec<u8> {
    let psql = |sql: &str| -> Vec<u8> {
        let out = Command::new(bin("psql"))
            .args(["-X", "-qAt", "-d", url, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("psql: {e}"));
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let tables = psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    let mut all = Vec::new();
    for table in String::from_utf8_lossy(&tables).lines() {
        all.extend(psql(&format!("COPY {table} TO STDOUT (FORMAT binary)")));
    }
    all
}

impl TestPg {
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@{}:{}/{database}", self.host, self.port)
    }
}

/// The directory of the newest PostgreSQL's programs (Debian keeps them out of `PATH`), or
/// `CNX_PG_BINDIR`.
fn bindir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CNX_PG_BINDIR") {
        return dir.into();
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, dir)| dir)
        .unwrap_or_else(|| PathBuf::from("/usr/bin"))
}

fn bin(name: &str) -> PathBuf {
    bindir().join(name)
}

/// PostgreSQL refuses to run as root: then its programs run as the `postgres` user.
fn as_server_user(program: &Path) -> Command {
    if rustix::process::geteuid().is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn start() -> Result<TestPg, String> {
    let initdb = bin("initdb");
    if !initdb.exists() {
        return Err(format!(
            "{} not found: install Debian's postgresql package (./dev.sh test does) or set \
             CNX_PG_BINDIR",
            initdb.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "cnx-pg-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let data = dir.join("data");
    if rustix::process::geteuid().is_root() {
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir))?;
    }
    // Before anything that can leave a process or files behind.
    watch(&dir, &data)?;
    // TLS on (plain connections still work), with a certificate for 127.0.0.1 signed by a
    // CA of its own, as a real deployment's would be; without openssl, no TLS (the TLS
    // test then has no CA and stops short).
    let tls = match make_certificates(&dir) {
        Ok(()) => {
            if rustix::process::geteuid().is_root() {
                run(Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir))?;
            }
            true
        }
        Err(e) => {
            eprintln!("the test PostgreSQL runs without TLS: {e}");
            false
        }
    };
    run(as_server_user(&initdb)
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    // No fsync: a test server's data is thrown away, and syncing would only slow the tests.
    let opts = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir} -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=200{ssl}",
        dir = dir.display(),
        ssl = match tls {
            true => format!(
                " -c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key",
                d = dir.display()
            ),
            false => String::new(),
        }
    );
    run(as_server_user(&bin("pg_ctl"))
        .args(["-w", "-t", "60", "-l"])
        .arg(dir.join("log"))
        .args(["-o", &opts, "-D"])
        .arg(&data)
        .arg("start"))?;
    Ok(TestPg {
        host: "127.0.0.1".into(),
        port,
        ca_file: tls.then(|| dir.join("ca.crt")),
    })
}

/// `ca.crt` (and its key) and `server.crt`/`server.key` for 127.0.0.1 signed by it, in `dir`.
fn make_certificates(dir: &Path) -> Result<(), String> {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let openssl = || {
        let mut c = Command::new("openssl");
        c.current_dir(dir);
        c
    };
    run(openssl()
        .args(["req", "-x509"])
        .args(ec)
        .args(["-days", "2", "-subj", "/CN=cnx test CA"])
        .args(["-keyout", "ca.key", "-out", "ca.crt"]))?;
    run(openssl().arg("req").args(ec).args([
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]))?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .map_err(|e| e.to_string())?;
    run(openssl()
        .args([
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
        ])
        .args(["-CAcreateserial", "-days", "2", "-extfile", "server.ext"])
        .args(["-out", "server.crt"]))?;
    use std::os::unix::fs::PermissionsExt;
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", key.display()))
}

/// Starts a process that outlives nothing: when this test process is gone, it stops the
/// server and removes its directory.
fn watch(dir: &Path, data: &Path) -> Result<(), String> {
    // Its own process group, deaf to the signals a Ctrl-C or a kill of the tests' group
    // sends: it must outlive them to clean up after them.
    let stop = format!(
        "trap '' INT TERM HUP; while [ -d /proc/{pid} ]; do sleep 0.5; done; \
         {ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        ctl = bin("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    use std::os::unix::process::CommandExt;
    let mut cmd = as_server_user(Path::new("/bin/sh"));
    cmd.args(["-c", &stop])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the server's watcher: {e}"))
}
