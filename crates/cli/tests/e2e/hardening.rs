//! Port 5645 as an attacker on the same network sees it: silent sockets that never start TLS,
//! and a token holder opening streams it never reads. The proxy must keep serving a good role
//! and give back what the attacker made it hold.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use protocol::pb;

use crate::support::{TempDir, eventually, start_proxy, start_sim, start_sim_with};

/// Lets this test process open thousands of sockets.
fn raise_own_open_files_limit(wanted: u64) {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        assert!(
            limit.rlim_max >= wanted,
            "this machine allows {} open files per process; the test needs {wanted}",
            limit.rlim_max
        );
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

/// True once the proxy has closed `socket` (end of stream or reset).
fn closed_by_peer(mut socket: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match socket.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

// Fields the protocol gains later take their defaults.
#[allow(clippy::needless_update)]
fn hello() -> pb::HelloRequest {
    pb::HelloRequest {
        client_name: "hardening test".into(),
        product_version: model::version::PRODUCT_VERSION.into(),
        protocol_version: model::version::PROTOCOL_VERSION,
        ..Default::default()
    }
}

fn proxy_address(proxy_dir: &Path, addr: &str) -> protocol::ProxyAddress {
    let port = addr.rsplit_once(':').unwrap().1.parse().unwrap();
    harness::proxy_address(proxy_dir, port).unwrap()
}

#[test]
fn thousands_of_silent_sockets_neither_keep_a_role_out_nor_stay_open() {
    const SILENT: usize = 3000;
    raise_own_open_files_limit(SILENT as u64 + 256);
    let dir = TempDir::new("silent-sockets");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let (_sim, url) = start_sim(&sim_dir, 20);
    let (_proxy, addr) = start_proxy(&proxy_dir, &sim_dir, &url, None, &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let address = proxy_address(&proxy_dir, &addr);
    runtime
        .block_on(harness::wait_proxy_loaded(
            &address,
            Duration::from_secs(60),
        ))
        .unwrap();

    // Connections that never send a byte, from the role's own address.
    let silent: Vec<TcpStream> = (0..SILENT)
        .map(|i| {
            TcpStream::connect(&addr)
                .unwrap_or_else(|e| panic!("silent socket {i} could not connect: {e}"))
        })
        .collect();

    let started = Instant::now();
    let reply = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), async {
            let mut client = protocol::connect(&address).await?;
            Ok::<_, Box<dyn std::error::Error>>(client.hello(hello()).await?.into_inner())
        })
        .await
    });
    let reply = reply
        .unwrap_or_else(|_| panic!("no Hello within 5 s while {SILENT} silent sockets are open"))
        .unwrap_or_else(|e| panic!("Hello failed while {SILENT} silent sockets are open: {e}"));
    assert!(reply.loading.is_none());
    eprintln!(
        "Hello answered in {:?} beside {SILENT} silent sockets",
        started.elapsed()
    );

    for socket in &silent {
        socket.set_nonblocking(true).unwrap();
    }
    let closed_within = Duration::from_secs(30);
    eventually(
        closed_within,
        "the proxy to close every silent socket",
        || {
            let open = silent.iter().filter(|s| !closed_by_peer(s)).count();
            (open == 0).then_some(())
        },
    );
    eprintln!("all {SILENT} closed after {:?}", started.elapsed());
}

/// The resident memory of process `pid`, in bytes.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// The resident memory once it has stopped moving (within 2 MiB over a second).
fn settled_resident_bytes(pid: u32) -> u64 {
    let mut last = resident_bytes(pid);
    for _ in 0..20 {
        std::thread::sleep(Duration::from_secs(1));
        let now = resident_bytes(pid);
        if now.abs_diff(last) < 2 << 20 {
            return now;
        }
        last = now;
    }
    last
}

/// The oldest revision the proxy's change log keeps, as a Watch from revision 0 is told.
async fn oldest_kept_revision(address: &protocol::ProxyAddress) -> u64 {
    let mut client = protocol::connect(address).await.unwrap();
    let request = pb::WatchRequest {
        after_revision: 0,
        kinds: vec![],
        cache_id: String::new(),
    };
    let mut stream = client.watch(request).await.unwrap().into_inner();
    match stream.message().await.unwrap().and_then(|m| m.event) {
        Some(pb::watch_event::Event::TooOld(too_old)) => too_old.oldest_revision,
        other => panic!("expected TooOld for revision 0, got {other:?}"),
    }
}

#[test]
fn unread_watch_streams_hold_little_memory_and_give_it_back() {
    const STREAMS: usize = 50;
    const MIB: u64 = 1 << 20;
    let dir = TempDir::new("unread-watch");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A first load logs no changes (nobody can watch before it ends): the change log is
    // filled by a proxy that finds every cardholder changed, on a simulator restarted
    // with other people under the same tokens.
    {
        let (_sim, url) = start_sim(&sim_dir, 50_000);
        let (_proxy, addr) = start_proxy(&proxy_dir, &sim_dir, &url, None, &[]);
        runtime
            .block_on(harness::wait_proxy_loaded(
                &proxy_address(&proxy_dir, &addr),
                Duration::from_secs(120),
            ))
            .unwrap();
    }
    let (_sim, url) = start_sim_with(&sim_dir, 50_000, &["--seed", "7"]);
    let (proxy, addr) = start_proxy(&proxy_dir, &sim_dir, &url, None, &[]);
    let address = proxy_address(&proxy_dir, &addr);
    let oldest = runtime.block_on(oldest_kept_revision(&address));
    eventually(
        Duration::from_secs(180),
        "50,000 changes in the change log",
        || {
            let revision = runtime.block_on(async {
                let mut client = protocol::connect(&address).await.ok()?;
                let reply = client.summary(pb::SummaryRequest { kinds: vec![] }).await;
                Some(reply.ok()?.into_inner().revision)
            })?;
            (revision >= oldest + 50_000).then_some(())
        },
    );
    let baseline = settled_resident_bytes(proxy.id());

    // Each stream asks for the whole change log (from the oldest revision kept, which a
    // watch from 0 is told) and never reads beyond its first message.
    let streams = runtime.block_on(async {
        let mut streams = Vec::new();
        for _ in 0..STREAMS {
            let mut client = protocol::connect(&address).await.unwrap();
            let request = pb::WatchRequest {
                after_revision: oldest,
                kinds: vec![],
                cache_id: String::new(),
            };
            let mut stream = client.watch(request).await.unwrap().into_inner();
            // One message read, to know the stream really is sending the change log.
            let first = stream.message().await.unwrap().unwrap();
            assert!(
                matches!(first.event, Some(pb::watch_event::Event::Changes(_))),
                "the change log from revision 0 should be kept: {first:?}"
            );
            streams.push((client, stream));
        }
        streams
    });
    let holding = settled_resident_bytes(proxy.id());
    let added = holding.saturating_sub(baseline);
    eprintln!(
        "proxy: {} MiB before, {} MiB with {STREAMS} unread Watch streams (+{} MiB)",
        baseline / MIB,
        holding / MIB,
        added / MIB
    );
    assert!(
        added < 100 * MIB,
        "{STREAMS} unread streams added {} MiB",
        added / MIB
    );

    drop(streams);
    let after = settled_resident_bytes(proxy.id());
    eprintln!("proxy: {} MiB once they are closed", after / MIB);
    assert!(
        after < baseline + added / 4 + 8 * MIB,
        "memory did not come back: {} MiB before, {} MiB with the streams, {} MiB after",
        baseline / MIB,
        holding / MIB,
        after / MIB
    );
}

#[test]
fn the_proxys_certificate_is_valid_for_the_machines_own_host_name() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let host = tls::host_name().expect("this machine has a host name");
    let dir = TempDir::new("host-name");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let (_sim, url) = start_sim(&sim_dir, 5);
    let (_proxy, addr) = start_proxy(&proxy_dir, &sim_dir, &url, None, &[]);
    tls::install_crypto_provider();
    let ca = std::fs::read(proxy_dir.join("tls/ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Reached by address, checked for the name: no DNS needed.
    runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let name = ServerName::try_from(host.clone()).unwrap();
        connector.connect(name, tcp).await.unwrap_or_else(|e| {
            panic!("the proxy's certificate is not valid for this machine's name '{host}': {e}")
        });
    });
}
