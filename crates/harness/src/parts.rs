//! The three parts of the system, started as the README runs them, on loopback ports the
//! OS chooses unless a test needs a part back on the same port.

use std::path::Path;
use std::time::Duration;

use crate::error::read;
use crate::{Binary, HarnessError, Process, Result, eventually_async};

/// The simulator's operator password, for local use only (docs/simulator.md).
pub const SIPASS_PASSWORD: &str = "sipass";

fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// `--listen` on the given port, or on one the OS chooses.
fn listen(port: Option<u16>) -> String {
    format!("127.0.0.1:{}", port.unwrap_or(0))
}

impl Binary {
    /// A simulator with its data in `dir` and a site of `cardholders`; its address is the
    /// HR API's URL.
    pub fn start_sim(&self, dir: &Path, cardholders: usize, extra: &[&str]) -> Result<Process> {
        let n = cardholders.to_string();
        let mut args = vec!["sim", "--listen", "127.0.0.1:0", "--data", s(dir)];
        // Small numbers from 1, which the tests compare; a restart numbers from 1 again.
        args.extend(["--cardholders", &n, "--numbering-base", "0"]);
        args.extend_from_slice(extra);
        self.start("sim", &args, &[])
    }

    /// A proxy with its data in `dir` against the simulator at `sim_url` whose data is in
    /// `sim_dir`, on `port` (to come back on the same one) or one the OS chooses.
    pub fn start_proxy(
        &self,
        dir: &Path,
        sim_dir: &Path,
        sim_url: &str,
        port: Option<u16>,
        extra: &[&str],
    ) -> Result<Process> {
        let (ca, listen) = (sim_dir.join("ca.pem"), listen(port));
        let mut args = vec!["proxy", "--data", s(dir), "--listen", &listen];
        args.extend(["--sipass-url", sim_url, "--sipass-ca", s(&ca)]);
        args.extend_from_slice(extra);
        self.start(
            "proxy",
            &args,
            &[("SIPASS_BRIDGE_SIPASS_PASSWORD", SIPASS_PASSWORD)],
        )
    }

    /// A role with its data in `dir`, connecting to the proxy on loopback `proxy_port` whose
    /// data is in `proxy_dir`; its address is the Config Tool's URL.
    pub fn start_role(&self, dir: &Path, proxy_dir: &Path, proxy_port: u16) -> Result<Process> {
        self.start_role_with(dir, proxy_dir, proxy_port, &[])
    }

    /// Starts a role as [`Binary::start_role`] does, with `extra` flags (e.g.
    /// `--database-url`).
    pub fn start_role_with(
        &self,
        dir: &Path,
        proxy_dir: &Path,
        proxy_port: u16,
        extra: &[&str],
    ) -> Result<Process> {
        let port = proxy_port.to_string();
        let (ca, token) = (
            proxy::tls_dir(proxy_dir).join("ca.pem"),
            proxy::token_path(proxy_dir),
        );
        let mut args = vec!["role", "--data", s(dir), "--listen", "127.0.0.1:0"];
        args.extend(["--proxy-host", "127.0.0.1", "--proxy-port", &port]);
        args.extend(["--proxy-ca", s(&ca), "--proxy-token-file", s(&token)]);
        args.extend(extra);
        self.start("role", &args, &[])
    }
}

/// A free loopback port, for a process that must come back on the same port.
pub fn free_port() -> Result<u16> {
    let bound = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    bound.map(|a| a.port()).map_err(|source| HarnessError::Io {
        what: "cannot find a free loopback port".into(),
        source,
    })
}

/// How to reach the proxy whose data is in `proxy_dir`, listening on loopback `port`.
pub fn proxy_address(proxy_dir: &Path, port: u16) -> Result<protocol::ProxyAddress> {
    Ok(protocol::ProxyAddress {
        host: "127.0.0.1".into(),
        port,
        ca_pem: read(&proxy::tls_dir(proxy_dir).join("ca.pem"))?,
        token: read(&proxy::token_path(proxy_dir))?.trim().to_owned(),
    })
}

/// Waits until the proxy has loaded SiPass: it answers Summary only then.
pub async fn wait_proxy_loaded(address: &protocol::ProxyAddress, timeout: Duration) -> Result<()> {
    let every = Duration::from_millis(200);
    eventually_async(timeout, every, "the proxy to load SiPass", async || {
        let mut client = protocol::connect(address).await.ok()?;
        let request = protocol::pb::SummaryRequest { kinds: vec![] };
        client.summary(request).await.ok().map(drop)
    })
    .await
}
