//! Starting `sipass-bridge` processes and waiting for them, with deadlines instead of sleeps.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test: `SIPASS_BRIDGE_BIN` when set (scripts/test points it at the
/// release build, for the large cases), else the one cargo built for this test.
pub fn bin() -> String {
    std::env::var("SIPASS_BRIDGE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sipass-bridge").to_owned())
}

/// A temporary folder removed at the end of the test.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("sipass-e2e-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// A sub-folder, created.
    pub fn sub(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `sipass-bridge` process, killed when dropped.
pub struct Process {
    pub child: Child,
    pub name: &'static str,
    stderr_lines: mpsc::Receiver<String>,
}

impl Process {
    /// Starts `sipass-bridge args...` and waits for its "listening on <address>" line.
    pub fn start(name: &'static str, args: &[&str], env: &[(&str, &str)]) -> (Self, String) {
        let mut command = Command::new(bin());
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "info");
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start sipass-bridge");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (line_tx, line_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let mut process = Process {
            child,
            name,
            stderr_lines: err_rx,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match line_rx.recv_timeout(remaining) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap().to_owned();
                        return (process, addr);
                    }
                }
                Err(_) => panic!("{name} did not start listening: {}", process.stderr()),
            }
        }
    }

    /// What the process wrote on standard error so far.
    pub fn stderr(&mut self) -> String {
        self.stderr_lines.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        wait_exit(&mut self.child, Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{} did not stop after SIGTERM", self.name))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Runs `sipass-bridge args...` to completion: (success, stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(bin());
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run sipass-bridge");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `check` until it returns Some, or panics with `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `sipass-bridge sync status --json` against the role in `data`.
pub fn sync_status(data: &Path) -> Option<serde_json::Value> {
    let (ok, out, _) = run(
        &["sync", "status", "--json", "--data", data.to_str().unwrap()],
        &[],
    );
    ok.then(|| serde_json::from_str(&out).ok()).flatten()
}

/// Starts a simulator in `dir` with `cardholders` cardholders; returns it and its HR API URL.
pub fn start_sim(dir: &Path, cardholders: usize) -> (Process, String) {
    let n = cardholders.to_string();
    Process::start(
        "sim",
        &[
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--data",
            s(dir),
            "--cardholders",
            &n,
        ],
        &[],
    )
}

/// Starts a proxy with its data in `dir` against the simulator whose data is in `sim_dir`;
/// returns it and its address.
pub fn start_proxy(dir: &Path, sim_dir: &Path, sim_url: &str, extra: &[&str]) -> (Process, String) {
    let ca = sim_dir.join("ca.pem");
    let mut args = vec![
        "proxy",
        "--data",
        s(dir),
        "--sipass-url",
        sim_url,
        "--sipass-ca",
        s(&ca),
    ];
    if !extra.contains(&"--listen") {
        args.extend(["--listen", "127.0.0.1:0"]);
    }
    args.extend_from_slice(extra);
    Process::start("proxy", &args, &[("SIPASS_PASSWORD", "sipass")])
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
        let (proxy, proxy_addr) = start_proxy(&proxy_dir, &sim_dir, &sim_url, &[]);
        let port = proxy_addr.rsplit(':').next().unwrap().parse().unwrap();
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

/// A plain HTTPS client of the simulator (HR API, management API, test endpoints), as any
/// third party would write it.
pub struct SipassApi {
    http: reqwest::Client,
    root: String,
    token: String,
    pub runtime: tokio::runtime::Runtime,
}

impl SipassApi {
    pub fn login(hr_url: &str, sim_dir: &Path) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ca = std::fs::read(sim_dir.join("ca.pem")).unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        let root = hr_url.trim_end_matches("/api/V1/hr").to_owned();
        let login: serde_json::Value = runtime.block_on(async {
            http.post(format!("{hr_url}/Authentication"))
                .header("clientUniqueId", "e2e")
                .header("language", "English")
                .json(&serde_json::json!({"Username": "operator", "Password": "sipass"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        SipassApi {
            http,
            root,
            token: login["Token"].as_str().unwrap().to_owned(),
            runtime,
        }
    }

    /// Calls `method path` (path from the server root, e.g. "/api/V1/hr/Cardholders/1").
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.runtime.block_on(async {
            let mut request = self
                .http
                .request(method.parse().unwrap(), format!("{}{path}", self.root))
                .header("clientUniqueId", "e2e")
                .header("language", "English")
                .header("Authorization", &self.token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json().await.unwrap_or(serde_json::Value::Null),
            )
        })
    }

    /// Like `call`, asserting a 2xx answer.
    pub fn ok(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let (status, answer) = self.call(method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
        answer
    }
}

/// A free loopback port, for a process that must come back on the same port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a role with its data in `dir`, connecting to the proxy at `proxy_port` whose data
/// is in `proxy_dir`; returns it and its Config Tool URL.
pub fn start_role(dir: &Path, proxy_dir: &Path, proxy_port: u16) -> (Process, String) {
    let port = proxy_port.to_string();
    Process::start(
        "role",
        &[
            "role",
            "--data",
            s(dir),
            "--listen",
            "127.0.0.1:0",
            "--proxy-host",
            "127.0.0.1",
            "--proxy-port",
            &port,
            "--proxy-ca",
            s(&proxy_dir.join("tls/ca.pem")),
            "--proxy-token-file",
            s(&proxy_dir.join("proxy-token")),
        ],
        &[],
    )
}

/// The role's synchronization status straight from its REST API (faster than the CLI, for
/// tight polling).
pub fn role_status(role_url: &str, role_dir: &Path) -> Option<serde_json::Value> {
    let token = std::fs::read_to_string(role_dir.join("api-token")).ok()?;
    let url = format!("{}/api/v1/sync/status", role_url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(url)
            .bearer_auth(token.trim())
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    })
}

/// True when every kind is verified equal and the latest run succeeded.
pub fn verified(status: &serde_json::Value) -> bool {
    let kinds = status["kinds"].as_object();
    status["health"]["state"] == "online"
        && status["latest_run"]["outcome"] == "succeeded"
        && kinds.is_some_and(|k| {
            !k.is_empty()
                && k.values()
                    .all(|k| k["digest_match"] == true && k["synchronized"] == k["eligible"])
        })
}

/// Every cardholder in SiPass (id, "First Last"), read page by page over the HR API.
pub fn cardholders_in_sipass(api: &SipassApi) -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    let mut start = 0;
    loop {
        let page = api.ok(
            "GET",
            &format!(
                "/api/V1/hr/Cardholders?startIndex={start}&endIndex={}&fields=FirstName,LastName",
                start + 10_000
            ),
            None,
        );
        let records = page["Records"].as_array().unwrap();
        for r in records {
            let name = format!(
                "{} {}",
                r["FirstName"].as_str().unwrap(),
                r["LastName"].as_str().unwrap()
            );
            all.insert((
                r["Token"].as_str().unwrap().to_owned(),
                name.trim().to_owned(),
            ));
        }
        start += records.len();
        if records.is_empty() || start as i64 >= page["TotalRecords"].as_i64().unwrap() {
            return all;
        }
    }
}

pub fn cardholders_in_directory(role_dir: &Path) -> BTreeSet<(String, String)> {
    let db = role_dir.join("directory.db");
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT id, name FROM entities WHERE kind = 'cardholder'")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}
