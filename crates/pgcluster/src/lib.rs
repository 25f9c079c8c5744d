//! A throwaway PostgreSQL cluster for tests and the bench: the machine's own PostgreSQL
//! (`/usr/lib/postgresql/<highest>/bin`), initialised in a temporary folder, listening on a
//! loopback port the OS chose and on a unix socket in that folder, stopped and removed on
//! drop. Real PostgreSQL, never a mock: `scripts/test` installs Debian's `postgresql` package
//! when it is missing.
//!
//! PostgreSQL refuses to run as root, so as root (CI, the developers' machines) its
//! programs run as the `postgres` system user, owner of the folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What can stop a cluster from starting; each message says what to install or check.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL found under /usr/lib/postgresql/*/bin (initdb and pg_ctl); install Debian's `postgresql` package (scripts/test does)"
    )]
    NotInstalled,
    #[error(
        "running as root, PostgreSQL must run as the `postgres` system user, which does not exist; install Debian's `postgresql` package, which creates it"
    )]
    NoPostgresUser,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
}

/// The superuser every cluster is created with (trust authentication, loopback only).
pub const SUPERUSER: &str = "postgres";

/// A running throwaway cluster; stopped (immediately: nothing in it is worth a clean
/// shutdown) and its folder removed on drop.
pub struct Cluster {
    bin: PathBuf,
    folder: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// Initialises and starts a new cluster; returns once it accepts connections.
    pub fn start() -> Result<Self, ClusterError> {
        let bin = find_bin()?;
        let as_postgres = is_root();
        let folder = new_folder()?;
        let mut cluster = Cluster {
            bin,
            folder,
            port: 0,
            as_postgres,
        };
        cluster.prepare_folder()?;
        cluster.initdb()?;
        // The port was free when the OS gave it; another test may take it before the server
        // binds it, so a failed start tries another one.
        let mut attempts = 3;
        loop {
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(_) if attempts > 1 => attempts -= 1,
                Err(e) => {
                    cluster.port = 0;
                    return Err(e);
                }
            }
        }
    }

    /// The loopback TCP port it listens on (also the number in its socket's name).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder holding its unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.folder.clone()
    }

    /// A URL for a new database `name` in it, created first (`CREATE DATABASE`), over TCP
    /// on loopback.
    pub fn create_database(&self, name: &str) -> Result<String, ClusterError> {
        self.run_bin(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                name,
            ],
        )?;
        Ok(self.url(name))
    }

    /// The URL of database `name` over TCP on loopback.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The URL of database `name` through the unix socket in the cluster's folder.
    pub fn socket_url(&self, name: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{}/{name}?host={}",
            self.port,
            self.folder.display()
        )
    }

    /// The folder of the machine's PostgreSQL programs (pg_dump, psql...).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    fn data(&self) -> PathBuf {
        self.folder.join("data")
    }

    /// As root, the folder belongs to `postgres`, which runs every program.
    fn prepare_folder(&self) -> Result<(), ClusterError> {
        if !self.as_postgres {
            return Ok(());
        }
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&self.folder)
            .output()
            .map_err(|source| io("cannot run chown", source))?;
        check("chown", status).map(|_| ())
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        let data = self.data();
        self.run_bin(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )
        .map(|_| ())
    }

    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        // Durability is the server's business in production; a throwaway cluster trades it
        // for speed, and the tests stop it immediately.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.folder.display()
        );
        self.run_bin(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-l",
                &self.folder.join("server.log").display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map_err(|e| self.with_log(e))
        .map(|_| ())
    }

    /// Adds the server's log to a failure, where PostgreSQL says why it did not start.
    fn with_log(&self, e: ClusterError) -> ClusterError {
        match e {
            ClusterError::Failed {
                program,
                status,
                stderr,
            } => {
                let log =
                    std::fs::read_to_string(self.folder.join("server.log")).unwrap_or_default();
                ClusterError::Failed {
                    program,
                    status,
                    stderr: format!("{stderr}\nserver log:\n{log}"),
                }
            }
            other => other,
        }
    }

    /// Runs one of PostgreSQL's programs, as `postgres` when we are root.
    pub fn run_bin(&self, program: &str, args: &[&str]) -> Result<Output, ClusterError> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        command.args(args).current_dir(&self.folder);
        let output = command
            .output()
            .map_err(|source| io(&format!("cannot run {}", path.display()), source))?;
        check(program, output)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.data().display().to_string();
            let _ = self.run_bin("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

fn check(program: &str, output: Output) -> Result<Output, ClusterError> {
    if output.status.success() {
        return Ok(output);
    }
    Err(ClusterError::Failed {
        program: program.to_owned(),
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}

fn io(what: &str, source: std::io::Error) -> ClusterError {
    ClusterError::Io {
        what: what.to_owned(),
        source,
    }
}

/// The highest installed version's `bin` folder that has initdb and pg_ctl.
pub fn find_bin() -> Result<PathBuf, ClusterError> {
    let root = Path::new("/usr/lib/postgresql");
    let entries = std::fs::read_dir(root).map_err(|_| ClusterError::NotInstalled)?;
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or(ClusterError::NotInstalled)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A new folder, reachable by `postgres` (the temporary folder's parents are).
fn new_folder() -> Result<PathBuf, ClusterError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let folder =
        std::env::temp_dir().join(format!("sipass-bridge-pg-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&folder)
        .map_err(|source| io(&format!("cannot create {}", folder.display()), source))?;
    if is_root() && !user_exists("postgres") {
        let _ = std::fs::remove_dir_all(&folder);
        return Err(ClusterError::NoPostgresUser);
    }
    Ok(folder)
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A loopback port nobody listens on now (PostgreSQL binds it a moment later).
fn free_port() -> Result<u16, ClusterError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| io("cannot find a free loopback port", source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_and_is_gone_after_drop() {
        let cluster = Cluster::start().unwrap();
        let url = cluster.create_database("probe").unwrap();
        assert!(url.ends_with("/probe"));
        let socket = cluster
            .socket_dir()
            .join(format!(".s.PGSQL.{}", cluster.port()));
        assert!(
            socket.exists(),
            "the unix socket is in the cluster's folder"
        );
        let out = cluster
            .run_bin(
                "psql",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &cluster.port().to_string(),
                    "-U",
                    SUPERUSER,
                    "-d",
                    "probe",
                    "-Atc",
                    "SELECT 40 + 2",
                ],
            )
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
        let folder = cluster.socket_dir();
        let port = cluster.port();
        drop(cluster);
        assert!(!folder.exists(), "the folder is removed");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server is stopped"
        );
    }
}
