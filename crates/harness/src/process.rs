//! `sipass-bridge` processes: started, waited for with deadlines, stopped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{HarnessError, Result};

/// How long a process may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How often a deadline poll looks again.
const POLL: Duration = Duration::from_millis(50);

/// The `sipass-bridge` executable every process is started from, with the log level they run
/// at (the tests read `info` lines; the bench keeps logging out of its figures with `warn`).
#[derive(Debug, Clone)]
pub struct Binary {
    path: PathBuf,
    log: String,
}

impl Binary {
    pub fn new(path: impl Into<PathBuf>, log: &str) -> Self {
        Binary {
            path: path.into(),
            log: log.to_owned(),
        }
    }

    /// The running executable (the bench is a subcommand of the binary it starts).
    pub fn current(log: &str) -> Result<Self> {
        let path = std::env::current_exe().map_err(|source| HarnessError::Io {
            what: "cannot find the running executable".into(),
            source,
        })?;
        Ok(Binary::new(path, log))
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(&self.path);
        command.args(args).env("RUST_LOG", &self.log);
        for (k, v) in env {
            command.env(k, v);
        }
        command
    }

    /// Starts `sipass-bridge args...` and waits for its "listening on <address>" line.
    pub fn start(
        &self,
        name: &'static str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Process> {
        let mut child = self
            .command(args, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                command: format!("sipass-bridge {}", args.join(" ")),
                source,
            })?;
        let stdout = lines(child.stdout.take());
        let stderr = lines(child.stderr.take());
        let mut process = Process {
            child,
            name,
            addr: String::new(),
            stdout,
            stderr,
        };
        match listening_address(&process.stdout, START_TIMEOUT) {
            Some(addr) => process.addr = addr,
            None => {
                return Err(HarnessError::NotListening {
                    name,
                    timeout: START_TIMEOUT,
                    stderr: process.last_words(),
                });
            }
        }
        Ok(process)
    }

    /// Runs `sipass-bridge args...` to completion.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
        self.command(args, env)
            .output()
            .map_err(|source| HarnessError::Spawn {
                command: format!("sipass-bridge {}", args.join(" ")),
                source,
            })
    }
}

/// The lines of a pipe, read on a thread so that the process never blocks on a full pipe.
fn lines(pipe: Option<impl std::io::Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(pipe) = pipe {
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    rx
}

/// The address of the first "listening on ADDR" line, or None when the deadline passes or
/// the process closes its output first.
fn listening_address(stdout: &mpsc::Receiver<String>, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let line = stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok()?;
        if let Some(rest) = line.split("listening on ").nth(1) {
            return rest.split_whitespace().next().map(str::to_owned);
        }
    }
}

/// A running `sipass-bridge` process, killed when dropped.
pub struct Process {
    child: Child,
    name: &'static str,
    addr: String,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Process {
    /// What it printed after "listening on": a URL or host:port.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The port of its address.
    pub fn port(&self) -> Option<u16> {
        self.addr
            .trim_end_matches('/')
            .rsplit(':')
            .next()?
            .split('/')
            .next()?
            .parse()
            .ok()
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line the process writes on standard output after its "listening on" line
    /// (and what was read so far), waiting at most `timeout`.
    pub fn stdout_line(&mut self, timeout: Duration) -> Option<String> {
        self.stdout.recv_timeout(timeout).ok()
    }

    /// What the process wrote on standard error since the last call.
    pub fn stderr(&mut self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// Everything it wrote on standard error once it has exited (killed after 5 s), read to
    /// the pipe's end: a process that closed its standard output may not have had its
    /// standard error read yet, and the reason it stopped is in there.
    fn last_words(&mut self) -> String {
        if self.wait(Duration::from_secs(5)).is_err() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut lines = Vec::new();
        while let Ok(line) = self
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            lines.push(line);
        }
        lines.join("\n")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait(timeout)
    }

    /// Kills it with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        let _ = self.child.kill();
        self.child.wait().map_err(|source| HarnessError::Io {
            what: format!("cannot reap {}", self.name),
            source,
        })
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let name = self.name;
        eventually(timeout, &format!("{name} to exit"), || {
            self.child.try_wait().ok().flatten()
        })
        .map_err(|_| HarnessError::NoExit { name, timeout })
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns Some, or fails naming `what` after `timeout`.
pub fn eventually<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Timeout {
                what: what.to_owned(),
                timeout,
            });
        }
        std::thread::sleep(POLL);
    }
}

/// [`eventually`] for async checks, polling every `every`.
pub async fn eventually_async<T>(
    timeout: Duration,
    every: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Timeout {
                what: what.to_owned(),
                timeout,
            });
        }
        tokio::time::sleep(every).await;
    }
}

/// A folder for one run's data, removed on drop unless kept (`--data` given to the bench).
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// A new, empty folder in the system's temporary folder.
    pub fn new(name: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "sipass-bridge-{name}-{}-{nanos}",
            std::process::id()
        ));
        create(&path)?;
        Ok(TempDir { path, keep: false })
    }

    /// A folder the caller chose; created, and kept afterwards.
    pub fn keep(path: PathBuf) -> Result<Self> {
        create(&path)?;
        Ok(TempDir { path, keep: true })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A sub-folder, created.
    pub fn sub(&self, name: &str) -> Result<PathBuf> {
        let path = self.path.join(name);
        create(&path)?;
        Ok(path)
    }
}

fn create(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| HarnessError::Io {
        what: format!("cannot create {}", path.display()),
        source,
    })
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_word_after_listening_on() {
        let (tx, rx) = mpsc::channel();
        tx.send("starting".to_owned()).unwrap();
        tx.send("proxy listening on 127.0.0.1:5645 (TLS)".to_owned())
            .unwrap();
        assert_eq!(
            listening_address(&rx, Duration::from_secs(1)).as_deref(),
            Some("127.0.0.1:5645")
        );
        drop(tx);
        assert_eq!(listening_address(&rx, Duration::from_secs(1)), None);
    }

    #[test]
    fn eventually_names_what_it_waited_for() {
        let error = eventually(Duration::ZERO, "nothing", || None::<()>).unwrap_err();
        assert!(error.to_string().contains("waiting for nothing"), "{error}");
        assert_eq!(eventually(Duration::ZERO, "now", || Some(3)).unwrap(), 3);
    }

    #[test]
    fn a_temporary_folder_goes_and_a_kept_one_stays() {
        let temp = TempDir::new("unit").unwrap();
        let path = temp.path().to_owned();
        let kept = TempDir::keep(temp.sub("kept").unwrap()).unwrap();
        drop(kept);
        assert!(path.join("kept").is_dir());
        drop(temp);
        assert!(!path.exists());
    }
}
