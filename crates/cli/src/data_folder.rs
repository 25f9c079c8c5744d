//! Where a service keeps its data when no `--data` is given. A service started from `/` or by
//! an init system must not scatter its databases into whatever folder it happens to start
//! in: it uses the platform's folder for service state. The demo keeps `./sipass-bridge-data`.

use std::path::PathBuf;

use crate::DEFAULT_DATA as DEMO_DATA;

/// The platform's data folder for `service` ("proxy" or "role"):
/// - systemd's `$STATE_DIRECTORY` when the service manager gives one (its first entry);
/// - on Unix, `/var/lib/sipass-bridge/<service>` for root, else
///   `$XDG_STATE_HOME/sipass-bridge/<service>` (`~/.local/state/...`);
/// - on Windows, `%ProgramData%\SiPass Bridge\<service>`.
pub fn service_default(service: &str) -> PathBuf {
    if let Some(dirs) = std::env::var_os("STATE_DIRECTORY")
        && let Some(first) = std::env::split_paths(&dirs).next()
        && !first.as_os_str().is_empty()
    {
        return first;
    }
    platform_state(service)
}

#[cfg(unix)]
fn platform_state(service: &str) -> PathBuf {
    // SAFETY: geteuid only reads the process's credentials.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return PathBuf::from("/var/lib/sipass-bridge").join(service);
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")));
    match state {
        Some(state) => state.join("sipass-bridge").join(service),
        None => PathBuf::from(DEMO_DATA),
    }
}

#[cfg(not(unix))]
fn platform_state(service: &str) -> PathBuf {
    let base = std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
    base.join("SiPass Bridge").join(service)
}

/// The role data folder an administration command uses without `--data`: the demo's folder
/// here when a role has written its address there, else the role service's folder.
pub fn role_for_admin() -> PathBuf {
    let demo = PathBuf::from(DEMO_DATA);
    if crate::services::role_address_path(&demo).exists() {
        return demo;
    }
    let service = service_default("role");
    if crate::services::role_address_path(&service).exists() {
        service
    } else {
        demo
    }
}

/// Creates the default data folder (0700 under the process umask) when it is missing; an
/// explicit `--data` must exist, so that a typo is not taken for a new, empty site.
pub fn prepare_default(data: &std::path::Path, service: &str) -> std::io::Result<()> {
    if data == service_default(service) && !data.exists() {
        std::fs::create_dir_all(data)?;
    }
    Ok(())
}

/// The file a running service holds locked in its data folder.
pub const LOCK_FILE: &str = "sipass-bridge.lock";

/// Held for as long as a service runs on a data folder. A second process on the same
/// folder would share its databases and files (a role's address file overwritten, "database
/// is locked" at random), so it is refused at start, naming the first. The operating system
/// releases the lock when the process ends, however it ends.
pub struct FolderLock {
    _file: std::fs::File,
}

/// Locks `data` for `service`, or names the process that holds it.
pub fn lock(data: &std::path::Path, service: &str) -> anyhow::Result<FolderLock> {
    use anyhow::Context;
    use std::io::{Read, Seek, Write};
    let path = data.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            let mut holder = || -> std::io::Result<()> {
                file.set_len(0)?;
                file.rewind()?;
                writeln!(file, "{} {service}", std::process::id())
            };
            holder().with_context(|| format!("cannot write the lock file {}", path.display()))?;
            Ok(FolderLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match text.split_whitespace().collect::<Vec<_>>()[..] {
                [pid, service, ..] => format!("a sipass-bridge {service} (process {pid})"),
                _ => "another sipass-bridge process".to_owned(),
            };
            anyhow::bail!(
                "{holder} is already running on the data folder {}; stop it first, or give this {service} a data folder of its own (--data)",
                data.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Why a secret file should be narrowed, when users other than its owner can read or write
/// it (a password or token file made by hand often is 0644).
#[cfg(unix)]
pub fn loose_secret_file(path: &std::path::Path, flag: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the secret file {} ({flag}) can be read by other users (mode {mode:o}): chmod 600 {}",
            path.display(),
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_secret_file_others_can_read_is_named_with_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sipass-bridge-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sipass-password");
        std::fs::write(&path, "secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let warning = loose_secret_file(&path, "--sipass-password-file").expect("warned");
        assert!(warning.contains("(mode 644)"), "{warning}");
        assert!(
            warning.contains(&format!("chmod 600 {}", path.display())),
            "{warning}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(loose_secret_file(&path, "--sipass-password-file"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_service_on_a_locked_data_folder_is_refused_naming_the_first() {
        let dir = std::env::temp_dir().join(format!("sipass-bridge-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = lock(&dir, "role").unwrap();
        let refused = lock(&dir, "proxy").err().expect("refused").to_string();
        assert!(
            refused.contains(&format!(
                "a sipass-bridge role (process {})",
                std::process::id()
            )),
            "{refused}"
        );
        assert!(refused.contains(&dir.display().to_string()), "{refused}");
        drop(first);
        let _again = lock(&dir, "proxy").expect("free once the first is gone");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_service_managers_state_directory_comes_first() {
        // SAFETY: this test is the only one in this binary touching STATE_DIRECTORY.
        unsafe { std::env::set_var("STATE_DIRECTORY", "/var/lib/sipass-bridge/proxy:/other") };
        assert_eq!(
            service_default("proxy"),
            PathBuf::from("/var/lib/sipass-bridge/proxy")
        );
        unsafe { std::env::remove_var("STATE_DIRECTORY") };
        let default = service_default("role");
        assert!(default.is_absolute(), "{default:?}");
        assert!(default.ends_with("sipass-bridge/role"), "{default:?}");
    }
}
