//! Cardholders travel from the simulator through the proxy into the role's Directory.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::support::{System, eventually, sync_status};

/// Reads every cardholder straight from the simulator's HR API, as any HTTPS client would.
fn cardholders_in_sipass(sim_url: &str, ca_pem: &str) -> BTreeSet<(String, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let login: Value = http
            .post(format!("{sim_url}/Authentication"))
            .header("clientUniqueId", "e2e-test")
            .header("language", "English")
            .json(&serde_json::json!({"Username": "operator", "Password": "sipass"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["Token"].as_str().unwrap().to_owned();
        let page: Value = http
            .get(format!(
                "{sim_url}/Cardholders?startIndex=0&endIndex=5000&fields=FirstName,LastName"
            ))
            .header("clientUniqueId", "e2e-test")
            .header("language", "English")
            .header("Authorization", token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let name = format!(
                    "{} {}",
                    r["FirstName"].as_str().unwrap(),
                    r["LastName"].as_str().unwrap()
                );
                (r["Token"].as_str().unwrap().to_owned(), name)
            })
            .collect()
    })
}

fn cardholders_in_directory(db: &std::path::Path) -> BTreeSet<(String, String)> {
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

#[test]
fn a_thousand_cardholders_reach_the_directory_exactly() {
    let mut system = System::start("skeleton", 1000);
    let role_dir = system.role_dir();
    let status = eventually(Duration::from_secs(90), "1000 verified cardholders", || {
        let status = sync_status(&role_dir)?;
        let kind = &status["kinds"]["cardholder"];
        (kind["synchronized"] == 1000 && kind["digest_match"] == true).then_some(status)
    });
    assert_eq!(status["kinds"]["cardholder"]["eligible"], 1000);
    assert_eq!(
        status["kinds"]["credential"]["synchronized"],
        status["kinds"]["credential"]["eligible"]
    );
    assert_eq!(status["health"]["state"], "online");
    assert_eq!(status["latest_run"]["outcome"], "succeeded");

    let ca = std::fs::read_to_string(system.dir.0.join("sim/ca.pem")).unwrap();
    let in_sipass = cardholders_in_sipass(&system.sim_url, &ca);
    assert_eq!(in_sipass.len(), 1000);
    assert_eq!(
        cardholders_in_directory(&role_dir.join("directory.db")),
        in_sipass
    );

    // A clean stop: each process exits successfully on SIGTERM.
    assert!(
        system.role.terminate().success(),
        "role: {}",
        system.role.stderr()
    );
    assert!(
        system.proxy.terminate().success(),
        "proxy: {}",
        system.proxy.stderr()
    );
    assert!(
        system.sim.terminate().success(),
        "sim: {}",
        system.sim.stderr()
    );
    let _ = (&system.proxy_addr, &system.role_url);
}
