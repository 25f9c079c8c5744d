//! The end-to-end tests' side of the harness (`crates/harness`): the binary under test, and
//! the harness's calls in the form a test wants, failing the test at the first error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use harness::{Process, total_eligible, verified};
use role::report::SyncStatus;

/// How long a part may take to stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The binary under test: `SIPASS_BRIDGE_BIN` when set (scripts/test points it at the
/// release build, for the large cases), else the one cargo built for this test.
pub fn bin() -> harness::Binary {
    let path = std::env::var("SIPASS_BRIDGE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sipass-bridge").to_owned());
    harness::Binary::new(path, "info")
}

/// A temporary folder removed at the end of the test.
pub struct TempDir(pub PathBuf, harness::TempDir);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = harness::TempDir::new(&format!("e2e-{name}")).unwrap();
        TempDir(dir.path().to_owned(), dir)
    }

    /// A sub-folder, created.
    pub fn sub(&self, name: &str) -> PathBuf {
        self.1.sub(name).unwrap()
    }
}

/// Starts `sipass-bridge args...`; returns it and the address it listens on.
pub fn start(name: &'static str, args: &[&str], env: &[(&str, &str)]) -> (Process, String) {
    addressed(bin().start(name, args, env))
}

fn addressed(process: harness::Result<Process>) -> (Process, String) {
    let process = process.unwrap_or_else(|e| panic!("{e}"));
    let addr = process.addr().to_owned();
    (process, addr)
}

/// Sends SIGTERM and waits for the exit status.
pub fn terminate(process: &mut Process) -> std::process::ExitStatus {
    process.terminate(STOP_TIMEOUT).unwrap()
}

/// Runs `sipass-bridge args...` to completion: (success, stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = bin().run(args, env).unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `check` until it returns Some, or fails the test naming `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
    harness::eventually(timeout, what, check).unwrap_or_else(|e| panic!("{e}"))
}

/// `sipass-bridge sync status --json` against the role in `data`, read as the report type
/// (so that the CLI's JSON is checked to be the report too).
pub fn sync_status(data: &Path) -> Option<SyncStatus> {
    let (ok, out, _) = run(&["sync", "status", "--json", "--data", s(data)], &[]);
    ok.then(|| serde_json::from_str(&out).ok()).flatten()
}

/// The role's status straight from its REST API (faster than the CLI, for tight polling).
pub fn role_status(role_url: &str, role_dir: &Path) -> Option<SyncStatus> {
    harness::blocking::role_status(role_url, role_dir).ok()
}

/// Starts a simulator in `dir` with `cardholders` cardholders; returns it and its HR API URL.
pub fn start_sim(dir: &Path, cardholders: usize) -> (Process, String) {
    addressed(bin().start_sim(dir, cardholders, &[]))
}

/// Starts a simulator with extra flags (e.g. `--hr-only`).
pub fn start_sim_with(dir: &Path, cardholders: usize, extra: &[&str]) -> (Process, String) {
    addressed(bin().start_sim(dir, cardholders, extra))
}

/// Starts a proxy with its data in `dir` against the simulator whose data is in `sim_dir`,
/// on `port` or one the OS chooses; returns it and its address.
pub fn start_proxy(
    dir: &Path,
    sim_dir: &Path,
    sim_url: &str,
    port: Option<u16>,
    extra: &[&str],
) -> (Process, String) {
    addressed(bin().start_proxy(dir, sim_dir, sim_url, port, extra))
}

/// Starts a role with its data in `dir`, connecting to the proxy at `proxy_port` whose data
/// is in `proxy_dir`; returns it and its Config Tool URL.
pub fn start_role(dir: &Path, proxy_dir: &Path, proxy_port: u16) -> (Process, String) {
    addressed(bin().start_role(dir, proxy_dir, proxy_port))
}

/// Starts a role as [`start_role`] does, with `extra` flags (e.g. `--database-url`).
pub fn start_role_with(
    dir: &Path,
    proxy_dir: &Path,
    proxy_port: u16,
    extra: &[&str],
) -> (Process, String) {
    addressed(bin().start_role_with(dir, proxy_dir, proxy_port, extra))
}

/// A free loopback port, for a process that must come back on the same port.
pub fn free_port() -> u16 {
    harness::free_port().unwrap()
}

/// The three parts, started as separate processes.
pub struct System {
    pub dir: TempDir,
    pub sim: Process,
    pub sim_url: String,
    pub proxy: Process,
    pub proxy_addr: String,
    pub role: Process,
    pub role_url: String,
}

impl System {
    pub fn start(name: &str, cardholders: usize) -> Self {
        let dir = TempDir::new(name);
        let (sim_dir, proxy_dir, role_dir) = (dir.sub("sim"), dir.sub("proxy"), dir.sub("role"));
        let (sim, sim_url) = start_sim(&sim_dir, cardholders);
        let (proxy, proxy_addr) = start_proxy(&proxy_dir, &sim_dir, &sim_url, None, &[]);
        let port = proxy.port().unwrap();
        let (role, role_url) = start_role(&role_dir, &proxy_dir, port);
        System {
            dir,
            sim,
            sim_url,
            proxy,
            proxy_addr,
            role,
            role_url,
        }
    }

    pub fn role_dir(&self) -> PathBuf {
        self.dir.0.join("role")
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The simulator's HTTPS APIs (HR, management, test endpoints) through the harness's plain
/// client; its runtime also drives the tests' gRPC clients.
pub struct SipassApi(harness::blocking::SimApi);

impl std::ops::Deref for SipassApi {
    type Target = harness::blocking::SimApi;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl SipassApi {
    pub fn login(hr_url: &str, sim_dir: &Path) -> Self {
        SipassApi(harness::blocking::SimApi::login(hr_url, sim_dir, "e2e").unwrap())
    }

    /// Calls `method path` (path from the server root, e.g. "/api/V1/hr/Cardholders/1"),
    /// asserting a 2xx answer.
    pub fn ok(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        self.0
            .ok(method, path, body.as_ref())
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Every cardholder in SiPass (id, "First Last"), read page by page over the HR API.
pub fn cardholders_in_sipass(api: &SipassApi) -> BTreeSet<(String, String)> {
    api.0.cardholders().unwrap()
}

/// Every cardholder in the role's Directory (id, name), read through `store`.
pub fn cardholders_in_directory(role_dir: &Path) -> BTreeSet<(String, String)> {
    harness::directory::cardholders(role_dir).unwrap()
}

/// Checks Prometheus text with Prometheus's own `promtool check metrics` (Debian's
/// `prometheus` package; scripts/test installs it), failing the test with promtool's words.
pub fn promtool_check(metrics: &str) {
    use std::io::Write;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is needed: scripts/test installs Debian's prometheus package");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refused the metrics:\n{}{}\n--- metrics ---\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the sample `name{labels}` (labels as written, e.g. `kind="cardholder"`) in
/// Prometheus text.
pub fn metric_value(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    let series = if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{labels}}}")
    };
    metrics.lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        (key == series).then(|| value.parse().ok()).flatten()
    })
}
