//! Bad input gives one clear line saying what is wrong and what to do, never a panic.

use std::time::Duration;

use role::HealthState;

use crate::support::{TempDir, eventually, run, s, start, start_sim, sync_status};

fn assert_one_clear_line(stderr: &str, expected: &str) {
    let errors: Vec<_> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected in:\n{stderr}");
    assert!(
        errors[0].contains(expected),
        "'{expected}' expected in: {}",
        errors[0]
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_missing_data_folder_is_named() {
    let dir = TempDir::new("nodata");
    let missing = dir.0.join("nope");
    std::fs::write(dir.0.join("ca.pem"), "x").unwrap();
    let (ok, _, stderr) = run(
        &[
            "role",
            "--data",
            s(&missing),
            "--listen",
            "127.0.0.1:0",
            "--proxy-ca",
            s(&dir.0.join("ca.pem")),
        ],
        &[("SIPASS_BRIDGE_TOKEN", "t")],
    );
    assert!(!ok);
    assert_one_clear_line(&stderr, "does not exist; create it");
}

#[test]
fn a_refused_sipass_login_stops_the_proxy_with_sipass_reason() {
    let dir = TempDir::new("badlogin");
    let (sim_dir, proxy_dir) = (dir.sub("sim"), dir.sub("proxy"));
    let (_sim, url) = start_sim(&sim_dir, 10);
    let (ok, _, stderr) = run(
        &[
            "proxy",
            "--data",
            s(&proxy_dir),
            "--listen",
            "127.0.0.1:0",
            "--sipass-url",
            &url,
            "--sipass-ca",
            s(&sim_dir.join("ca.pem")),
        ],
        &[("SIPASS_BRIDGE_SIPASS_PASSWORD", "wrong")],
    );
    assert!(!ok);
    assert_one_clear_line(
        &stderr,
        "SiPass refused the login of operator 'operator': invalid user name or password",
    );
}

#[test]
fn a_wrong_proxy_address_is_a_warning_with_the_reason() {
    let dir = TempDir::new("badproxy");
    let role_dir = dir.sub("role");
    let ca = dir.0.join("ca.pem");
    // Any PEM will do: the role never gets as far as a TLS handshake.
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (_role, _) = start(
        "role",
        &[
            "role",
            "--data",
            s(&role_dir),
            "--listen",
            "127.0.0.1:0",
            "--proxy-host",
            "127.0.0.1",
            "--proxy-port",
            "1",
            "--proxy-ca",
            s(&ca),
        ],
        &[("SIPASS_BRIDGE_TOKEN", "t")],
    );
    let health = eventually(Duration::from_secs(30), "a warning", || {
        let status = sync_status(&role_dir)?;
        (status.health.state == HealthState::Warning).then_some(status.health)
    });
    let reason = health.reason.unwrap();
    assert!(
        reason.contains("cannot reach the proxy at 127.0.0.1:1"),
        "{reason}"
    );
    assert!(reason.contains("check the host and port"), "{reason}");
}

/// A role over a folder made by hand (mode 0755) holding a Directory that is not one.
fn start_role_on_a_damaged_directory() -> (TempDir, std::path::PathBuf, bool, String) {
    let dir = TempDir::new("damaged");
    let role_dir = dir.sub("role");
    std::fs::create_dir_all(&role_dir).unwrap();
    let database = role_dir.join("directory.db");
    std::fs::write(&database, vec![0x5a; 64 * 1024]).unwrap();
    std::fs::write(dir.0.join("ca.pem"), "x").unwrap();
    let (ok, _, stderr) = run(
        &[
            "role",
            "--data",
            s(&role_dir),
            "--listen",
            "127.0.0.1:0",
            "--proxy-ca",
            s(&dir.0.join("ca.pem")),
        ],
        &[("SIPASS_BRIDGE_TOKEN", "t")],
    );
    (dir, database, ok, stderr)
}

#[test]
fn a_damaged_directory_is_refused_at_start_naming_the_file() {
    let (_dir, database, ok, stderr) = start_role_on_a_damaged_directory();
    assert!(!ok);
    assert_one_clear_line(&stderr, "is damaged");
    assert!(stderr.contains(&database.display().to_string()), "{stderr}");
    assert!(stderr.contains("sipass-bridge db restore"), "{stderr}");
}

#[test]
fn a_data_folder_others_can_read_is_warned_about_with_the_command_that_fixes_it() {
    let (_dir, database, _, stderr) = start_role_on_a_damaged_directory();
    let folder = database.parent().unwrap().display().to_string();
    assert!(stderr.contains(&format!("chmod 700 {folder}")), "{stderr}");
    assert!(
        stderr.contains(&format!("chmod 600 {}", database.display())),
        "{stderr}"
    );
}
