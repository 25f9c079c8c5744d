//! A service's configuration file, as an installer writes it: read at start, with flags and
//! environment variables winning over it, and a bad key or value refused naming the line.

use crate::support::{SipassApi, TempDir, bin, s};

#[test]
fn a_configuration_file_is_read_and_flags_and_environment_win_over_it() {
    let dir = TempDir::new("config-file");
    let sim_dir = dir.sub("sim");
    let file = dir.0.join("sim.toml");
    // What `config init sim` prints is a valid file once uncommented.
    let (ok, template, _) = crate::support::run(&["config", "init", "sim"], &[]);
    assert!(
        ok && template.contains("# cardholders = 1000"),
        "{template}"
    );
    std::fs::write(
        &file,
        format!(
            "# the simulator for the test\ndata = \"{}\"\nlisten = \"127.0.0.1:0\"\ncardholders = 7\nchanges_per_sec = 0.0\noperator = \"nobody:nothing\"\n",
            s(&sim_dir)
        ),
    )
    .unwrap();
    let mut sim = bin()
        .start(
            "sim",
            &["sim", "--config", s(&file), "--cardholders", "5"],
            &[("SIPASS_BRIDGE_SIM_OPERATOR", "operator:sipass")],
        )
        .unwrap();
    // The environment's operator logs in, not the file's; the flag's count wins.
    let api = SipassApi::login(sim.addr(), &sim_dir);
    assert_eq!(api.cardholders().unwrap().len(), 5);
    crate::support::terminate(&mut sim);
}

#[test]
fn a_bad_key_or_value_in_the_configuration_file_is_refused_naming_its_line() {
    let dir = TempDir::new("config-bad");
    let cases = [
        (
            "listen = \"127.0.0.1:0\"\n\ncardholdrs = 5\n",
            "line 3: unknown key 'cardholdrs'",
        ),
        (
            "cardholders = \"many\"\n",
            "line 1 ('cardholders'): invalid value 'many'",
        ),
        (
            "sipass_password = \"x\"\n",
            "line 1: 'sipass_password' is a secret",
        ),
    ];
    for (i, (text, expected)) in cases.into_iter().enumerate() {
        let file = dir.0.join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let service = if i == 2 { "proxy" } else { "sim" };
        let out = bin().run(&[service, "--config", s(&file)], &[]).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(stderr.contains(s(&file)), "{stderr}");
    }
}

#[test]
fn an_old_environment_variable_still_works_and_is_named_deprecated() {
    let dir = TempDir::new("config-env");
    let logs = dir.0.join("logs");
    let out = bin()
        .run(
            &[
                "--log-dir",
                s(&logs),
                "proxy",
                "--data",
                s(&dir.0),
                "--listen",
                "127.0.0.1:0",
            ],
            &[
                ("SIPASS_CA", "/nonexistent/ca.pem"),
                ("SIPASS_PASSWORD", "sipass"),
            ],
        )
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("SIPASS_CA is deprecated; use SIPASS_BRIDGE_SIPASS_CA"),
        "{stderr}"
    );
    assert!(
        stderr.contains("/nonexistent/ca.pem"),
        "the old name's value is used: {stderr}"
    );

    // --log-dir keeps the log in a daily file too, named after the service, in a folder it
    // creates without complaining that it was missing.
    assert!(
        !stderr.contains("Error reading the log directory"),
        "{stderr}"
    );
    let files: Vec<_> = std::fs::read_dir(&logs).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().to_string_lossy().into_owned();
    assert!(name.starts_with("sipass-bridge-proxy.log."), "{name}");
    let logged = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(logged.contains("SIPASS_CA is deprecated"), "{logged}");
}

#[test]
fn a_service_without_data_folder_uses_the_service_managers_state_folder() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("state-directory");
    let state = dir.0.join("state/role");
    let out = bin()
        .run(
            &["role", "--proxy-ca", "/nonexistent/ca.pem"],
            &[("STATE_DIRECTORY", s(&state)), ("SIPASS_BRIDGE_TOKEN", "x")],
        )
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/ca.pem"), "{stderr}");
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o700,
        "the folder systemd would have made, created private"
    );
}

/// An installer's shared environment file and hand-made secret file: the proxy takes its
/// listen and metrics addresses from SIPASS_BRIDGE_*, warns that the password file is open
/// to others, and its log file records where it listens.
#[test]
fn the_proxy_takes_every_setting_from_the_environment_and_logs_where_it_listens() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("config-proxy-env");
    let (sim_dir, proxy_dir, logs) = (dir.sub("sim"), dir.sub("proxy"), dir.0.join("logs"));
    let (mut sim, sim_url) = crate::support::start_sim(&sim_dir, 5);
    let password = dir.0.join("sipass-password");
    std::fs::write(&password, "sipass\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (port, metrics_port) = (crate::support::free_port(), crate::support::free_port());
    let (listen, metrics) = (
        format!("127.0.0.1:{port}"),
        format!("127.0.0.1:{metrics_port}"),
    );
    let ca = sim_dir.join("ca.pem");
    let mut proxy = bin()
        .start(
            "proxy",
            &["--log-dir", s(&logs), "proxy", "--data", s(&proxy_dir)],
            &[
                ("SIPASS_BRIDGE_LISTEN", &listen),
                ("SIPASS_BRIDGE_METRICS_LISTEN", &metrics),
                ("SIPASS_BRIDGE_SIPASS_URL", &sim_url),
                ("SIPASS_BRIDGE_SIPASS_CA", s(&ca)),
                ("SIPASS_BRIDGE_SIPASS_PASSWORD_FILE", s(&password)),
            ],
        )
        .unwrap();
    assert_eq!(proxy.addr(), listen);
    let logged = crate::support::eventually(
        std::time::Duration::from_secs(10),
        "the log file names the metrics address and the password file",
        || {
            let file = std::fs::read_dir(&logs).ok()?.flatten().next()?;
            let text = std::fs::read_to_string(file.path()).ok()?;
            (text.contains(&format!("proxy metrics on http://{metrics}/metrics"))
                && text.contains(&format!("proxy listening on {listen}")))
            .then_some(text)
        },
    );
    assert!(
        logged.contains(&format!(
            "the secret file {} (--sipass-password-file) can be read by other users (mode 644): chmod 600",
            s(&password)
        )),
        "{logged}"
    );
    crate::support::terminate(&mut proxy);
    crate::support::terminate(&mut sim);
}
