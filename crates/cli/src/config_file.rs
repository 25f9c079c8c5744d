//! `--config FILE`: a service's settings (`proxy`, `role`, `sim`) in a TOML file, as the
//! people who install services expect. Flags win over the environment, which wins over the
//! file.
//!
//! The file's keys are the service's long flags (`sipass-url`, or `sipass_url`), so the file
//! can never offer a setting the command line lacks, and `config init` prints every one of
//! them from the same definitions. The file's settings become flags before the command line
//! is parsed, so each value is checked by the same parser as a flag; a bad key or value is
//! refused at start naming the key, the file and the line. Secrets are never taken from the
//! file: they stay in files of their own or in the environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::ArgAction;

/// The services that take a configuration file.
pub const SERVICES: [&str; 3] = ["proxy", "role", "sim"];

/// The environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "SIPASS_BRIDGE_CONFIG";

/// Environment variables from before the one `SIPASS_BRIDGE_` prefix: (old, new).
pub const RENAMED_ENV: [(&str, &str); 7] = [
    ("SIPASS_URL", "SIPASS_BRIDGE_SIPASS_URL"),
    (
        "SIPASS_MANAGEMENT_URL",
        "SIPASS_BRIDGE_SIPASS_MANAGEMENT_URL",
    ),
    ("SIPASS_USER", "SIPASS_BRIDGE_SIPASS_USER"),
    ("SIPASS_PASSWORD", "SIPASS_BRIDGE_SIPASS_PASSWORD"),
    ("SIPASS_CA", "SIPASS_BRIDGE_SIPASS_CA"),
    ("SIPASS_VERSION", "SIPASS_BRIDGE_SIPASS_VERSION"),
    ("SIPASS_SIM_OPERATOR", "SIPASS_BRIDGE_SIM_OPERATOR"),
];

/// Flags that are not settings.
const NOT_SETTINGS: [&str; 3] = ["config", "help", "version"];

/// What is wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {reason}")]
    Syntax { path: PathBuf, reason: String },
    #[error("{path} line {line}: unknown key '{key}'; `{service}` takes: {known}")]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
        service: String,
        known: String,
    },
    #[error(
        "{path} line {line}: '{key}' is a secret, which is never read from the configuration file; {instead}"
    )]
    Secret {
        path: PathBuf,
        line: usize,
        key: String,
        instead: String,
    },
    #[error("{path} line {line}: '{key}' takes {expected}, not {found}")]
    BadValue {
        path: PathBuf,
        line: usize,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
}

/// Where a setting came from in the file, to name it when the value is refused.
#[derive(Debug, Clone)]
pub struct FromFile {
    pub flag: String,
    pub path: PathBuf,
    pub line: usize,
}

/// Copies each renamed environment variable to its new name (when that is not set) and
/// returns a deprecation warning for each. Call before any thread starts.
pub fn carry_over_renamed_env() -> Vec<String> {
    let mut warnings = Vec::new();
    for (old, new) in RENAMED_ENV {
        if let Some(value) = std::env::var_os(old) {
            if std::env::var_os(new).is_none() {
                // SAFETY: called at the very start of main, before any other thread exists.
                unsafe { std::env::set_var(new, value) };
            }
            warnings.push(format!(
                "the environment variable {old} is deprecated; use {new}"
            ));
        }
    }
    warnings
}

/// The command line with the configuration file's settings added as flags, where neither a
/// flag nor the environment gives them; and where each added flag came from.
pub fn apply(
    args: Vec<OsString>,
    command: &clap::Command,
) -> Result<(Vec<OsString>, Vec<FromFile>), ConfigFileError> {
    let service_at =
        subcommand_at(&args, command).filter(|&i| SERVICES.iter().any(|s| args[i] == *s));
    let Some(at) = service_at else {
        return Ok((args, Vec::new()));
    };
    let service = args[at].to_string_lossy().into_owned();
    let Some(path) = config_path(&args[at + 1..]) else {
        return Ok((args, Vec::new()));
    };
    let Some(subcommand) = command.find_subcommand(&service) else {
        return Ok((args, Vec::new()));
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigFileError::Read {
        path: path.clone(),
        source,
    })?;
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigFileError::Syntax {
                path: path.clone(),
                reason: e.to_string().trim().replace('\n', " "),
            })?;
    let given = &args[at + 1..];
    let mut added = Vec::new();
    let mut sources = Vec::new();
    for (key, value) in &table {
        let line = line_of(&text, key);
        let flag = key.replace('_', "-");
        let Some(arg) = setting(subcommand, &flag) else {
            return Err(refuse_key(&path, line, key, &service, subcommand));
        };
        if on_command_line(given, &flag) || in_environment(arg) {
            continue;
        }
        let flags =
            as_flags(&flag, arg, value).map_err(|(expected, found)| ConfigFileError::BadValue {
                path: path.clone(),
                line,
                key: key.clone(),
                expected,
                found,
            })?;
        added.extend(flags);
        sources.push(FromFile {
            flag,
            path: path.clone(),
            line,
        });
    }
    let mut args = args;
    args.splice(at + 1..at + 1, added.into_iter().map(OsString::from));
    Ok((args, sources))
}

/// Where the subcommand is: the first argument that is neither an option of the program
/// nor an option's value (`sipass-bridge --log-dir proxy role` runs `role`).
fn subcommand_at(args: &[OsString], command: &clap::Command) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let arg = args[i].to_string_lossy();
        let Some(long) = arg.strip_prefix("--") else {
            return Some(i);
        };
        let takes_value = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .is_some_and(|a| matches!(a.get_action(), ArgAction::Set | ArgAction::Append));
        i += if takes_value { 2 } else { 1 };
    }
    None
}

/// `--config FILE` or `--config=FILE` among a service's arguments, else `SIPASS_BRIDGE_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

/// The service's setting with long flag `flag`.
fn setting<'a>(command: &'a clap::Command, flag: &str) -> Option<&'a clap::Arg> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(flag) && !NOT_SETTINGS.contains(&flag))
}

/// The line (from 1) where `key` is set, for messages; 0 when it cannot be found.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")));
            rest.is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(0, |i| i + 1)
}

fn refuse_key(
    path: &Path,
    line: usize,
    key: &str,
    service: &str,
    command: &clap::Command,
) -> ConfigFileError {
    let lower = key.to_ascii_lowercase();
    if lower.contains("password") || lower.contains("token") || lower.contains("secret") {
        let file_flag = format!("{}-file", key.replace('_', "-"));
        let instead = if setting(command, &file_flag).is_some() {
            format!(
                "put it in a file readable by the service only and set '{file_flag}' to its path"
            )
        } else {
            "put it in a file given by its '-file' setting, or in the environment".to_owned()
        };
        return ConfigFileError::Secret {
            path: path.to_owned(),
            line,
            key: key.to_owned(),
            instead,
        };
    }
    let known: Vec<&str> = command
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| !NOT_SETTINGS.contains(l))
        .collect();
    ConfigFileError::UnknownKey {
        path: path.to_owned(),
        line,
        key: key.to_owned(),
        service: service.to_owned(),
        known: known.join(", "),
    }
}

fn on_command_line(args: &[OsString], flag: &str) -> bool {
    let long = format!("--{flag}");
    let with_value = format!("--{flag}=");
    args.iter().any(|a| {
        let a = a.to_string_lossy();
        a == long || a.starts_with(&with_value)
    })
}

fn in_environment(arg: &clap::Arg) -> bool {
    arg.get_env()
        .is_some_and(|name| std::env::var_os(name).is_some())
}

fn is_switch(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// A TOML value as the flags that say the same.
fn as_flags(
    flag: &str,
    arg: &clap::Arg,
    value: &toml::Value,
) -> Result<Vec<String>, (&'static str, &'static str)> {
    let found = value.type_str();
    if is_switch(arg) {
        return match value {
            toml::Value::Boolean(true) => Ok(vec![format!("--{flag}")]),
            toml::Value::Boolean(false) => Ok(Vec::new()),
            _ => Err(("true or false", found)),
        };
    }
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err(("a single value (text, number or true/false)", v.type_str())),
    };
    let repeatable = matches!(arg.get_action(), ArgAction::Append);
    match value {
        toml::Value::Array(items) if repeatable => items
            .iter()
            .map(|v| scalar(v).map(|s| format!("--{flag}={s}")))
            .collect(),
        toml::Value::Array(_) => Err(("a single value", found)),
        v => Ok(vec![format!("--{flag}={}", scalar(v)?)]),
    }
}

/// A commented configuration file for `service` with every setting at its default, from the
/// same definitions as the flags.
pub fn template(command: &clap::Command, service: &str) -> Option<String> {
    let subcommand = command.find_subcommand(service)?;
    let mut out = format!(
        "# SiPass Bridge: settings of `sipass-bridge {service}`, read with --config FILE (or {CONFIG_ENV}).\n\
         # Each key is the flag of the same name; a flag or its environment variable wins over\n\
         # this file. Secrets (the SiPass password, tokens) never go here: keep them in files\n\
         # of their own (the *-file settings) or in the environment.\n"
    );
    for arg in subcommand.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if NOT_SETTINGS.contains(&long) || arg.is_hide_set() {
            continue;
        }
        out.push('\n');
        if let Some(help) = arg.get_help() {
            for line in help.to_string().lines() {
                out.push_str(&format!("# {line}\n"));
            }
        }
        if let Some(env) = arg.get_env() {
            out.push_str(&format!("# (environment: {})\n", env.to_string_lossy()));
        }
        let default = arg
            .get_default_values()
            .first()
            .map(|v| v.to_string_lossy().into_owned());
        // Only whole numbers bare: `2.80` as a TOML float would read back as 2.8.
        let value = match default {
            _ if is_switch(arg) => "false".to_owned(),
            _ if matches!(arg.get_action(), ArgAction::Append) => "[]".to_owned(),
            Some(v) if v.parse::<i64>().is_ok() || v == "true" || v == "false" => v,
            Some(v) => toml_string(&v),
            None => match example(service, long) {
                Some((value, note)) => {
                    out.push_str(&format!("# {note}\n"));
                    value.to_owned()
                }
                None => "\"\"".to_owned(),
            },
        };
        out.push_str(&format!("# {long} = {value}\n"));
    }
    Some(out)
}

/// A valid value (and a note) for a setting that has no default but is rarely left empty, so
/// that uncommenting the template's line gives a file that starts.
fn example(service: &str, flag: &str) -> Option<(&'static str, &'static str)> {
    match (service, flag) {
        ("role", "proxy-host") => Some((
            "\"sipass-server\"",
            "Required on first start: a name or address in the proxy's certificate. Given here, it\n\
             # replaces the one set in the Config Tool at every start; leave it out to manage it there.",
        )),
        ("role", "proxy-port") => Some((
            "5645",
            "Absent: the port stored in the Directory, else 5645. Given here, it replaces the stored one at every start.",
        )),
        _ => None,
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> clap::Command {
        clap::Command::new("sipass-bridge").subcommand(
            clap::Command::new("proxy")
                .arg(clap::Arg::new("config").long("config"))
                .arg(
                    clap::Arg::new("listen")
                        .long("listen")
                        .default_value("0.0.0.0:5645"),
                )
                .arg(
                    clap::Arg::new("journal-max")
                        .long("journal-max")
                        .value_parser(clap::value_parser!(u64)),
                )
                .arg(
                    clap::Arg::new("tls-name")
                        .long("tls-name")
                        .action(ArgAction::Append),
                )
                .arg(
                    clap::Arg::new("quiet")
                        .long("quiet")
                        .action(ArgAction::SetTrue),
                )
                .arg(clap::Arg::new("token-file").long("token-file"))
                .arg(
                    clap::Arg::new("sipass-url")
                        .long("sipass-url")
                        .env("SIPASS_BRIDGE_TEST_CONFIG_URL"),
                ),
        )
    }

    fn file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("config-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn settings_become_flags_unless_a_flag_gives_them() {
        let path = file(
            "good.toml",
            "listen = \"0.0.0.0:6000\"\njournal_max = 5\ntls-name = [\"a\", \"b\"]\nquiet = true\n",
        );
        let given = args(&[
            "sb",
            "proxy",
            "--config",
            path.to_str().unwrap(),
            "--journal-max=9",
        ]);
        let (out, from) = apply(given, &command()).unwrap();
        let out = strings(&out);
        assert!(out.contains(&"--listen=0.0.0.0:6000".to_owned()), "{out:?}");
        assert!(
            out.contains(&"--tls-name=a".to_owned()) && out.contains(&"--tls-name=b".to_owned())
        );
        assert!(out.contains(&"--quiet".to_owned()));
        assert!(
            !out.contains(&"--journal-max=5".to_owned()),
            "the flag wins: {out:?}"
        );
        assert_eq!(from.iter().find(|f| f.flag == "listen").unwrap().line, 1);
        let matches = command().try_get_matches_from(out).unwrap();
        let proxy = matches.subcommand_matches("proxy").unwrap();
        assert_eq!(proxy.get_one::<u64>("journal-max"), Some(&9));
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let path = file("env.toml", "sipass-url = \"https://from-file\"\n");
        // SAFETY: this variable is this test's alone.
        unsafe { std::env::set_var("SIPASS_BRIDGE_TEST_CONFIG_URL", "https://from-env") };
        let given = args(&["sb", "proxy", "--config", path.to_str().unwrap()]);
        let (out, _) = apply(given, &command()).unwrap();
        assert!(!strings(&out).iter().any(|a| a.contains("from-file")));
    }

    #[test]
    fn unknown_keys_secrets_and_bad_values_are_refused_with_file_and_line() {
        let cases = [
            (
                "# comment\nlisten = \"x\"\nlistne = \"y\"\n",
                "line 3: unknown key 'listne'",
            ),
            ("\ntoken = \"abc\"\n", "line 2: 'token' is a secret"),
            (
                "quiet = \"yes\"\n",
                "line 1: 'quiet' takes true or false, not string",
            ),
            (
                "listen = [\"a\"]\n",
                "line 1: 'listen' takes a single value, not array",
            ),
            ("listen = \n", "is not valid TOML"),
        ];
        for (i, (text, expected)) in cases.into_iter().enumerate() {
            let path = file(&format!("bad{i}.toml"), text);
            let given = args(&["sb", "proxy", "--config", path.to_str().unwrap()]);
            let error = apply(given, &command()).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
            assert!(error.contains(path.to_str().unwrap()), "{error}");
        }
    }

    #[test]
    fn the_template_lists_every_setting_and_reads_back() {
        let text = template(&command(), "proxy").unwrap();
        assert!(text.contains("# listen = \"0.0.0.0:5645\""), "{text}");
        assert!(text.contains("# quiet = false"), "{text}");
        assert!(!text.contains("config ="), "{text}");
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = ") && !l.contains("\"\"") && !l.starts_with("journal"))
            .map(|l| format!("{l}\n"))
            .collect();
        let path = file("template.toml", &uncommented);
        let given = args(&["sb", "proxy", "--config", path.to_str().unwrap()]);
        apply(given, &command()).unwrap();
    }

    #[test]
    fn every_proxy_and_role_setting_has_its_environment_variable() {
        use clap::CommandFactory;
        let cli = crate::Cli::command();
        for service in ["proxy", "role"] {
            let subcommand = cli.find_subcommand(service).unwrap();
            for arg in subcommand.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if NOT_SETTINGS.contains(&long) {
                    continue;
                }
                let expected = format!("SIPASS_BRIDGE_{}", long.to_uppercase().replace('-', "_"));
                assert_eq!(
                    arg.get_env().map(|e| e.to_string_lossy().into_owned()),
                    Some(expected),
                    "{service} --{long}"
                );
            }
        }
    }

    #[test]
    fn the_role_template_uncommented_starts_with_the_default_port() {
        use clap::CommandFactory;
        let cli = crate::Cli::command();
        let text = template(&cli, "role").unwrap();
        assert!(text.contains("# proxy-port = 5645\n"), "{text}");
        assert!(
            text.contains("# proxy-host = \"sipass-server\"\n"),
            "{text}"
        );
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = ") && !l.contains("\"\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let path = file("role-template.toml", &uncommented);
        let given = args(&["sb", "role", "--config", path.to_str().unwrap()]);
        let (mut out, _) = apply(given, &cli).unwrap();
        out.extend(args(&["--proxy-ca", "ca.pem"]));
        assert!(
            strings(&out).contains(&"--proxy-port=5645".to_owned()),
            "{out:?}"
        );
        <crate::Cli as clap::Parser>::try_parse_from(out).unwrap();
    }

    #[test]
    fn only_the_subcommand_names_the_service() {
        let path = file("other.toml", "listen = \"0.0.0.0:7000\"\n");
        let command = command().arg(clap::Arg::new("log-dir").long("log-dir").global(true));
        // "proxy" as a value (a folder named proxy) is not the service.
        let p = path.to_str().unwrap();
        let given = args(&[
            "sb",
            "--log-dir",
            "proxy",
            "db",
            "--data",
            "proxy",
            "--config",
            p,
        ]);
        let (out, from) = apply(given.clone(), &command).unwrap();
        assert_eq!((out, from.len()), (given, 0));
        let given = args(&[
            "sb",
            "--log-dir",
            "logs",
            "proxy",
            "--config",
            path.to_str().unwrap(),
        ]);
        let (out, _) = apply(given, &command).unwrap();
        assert!(
            strings(&out).contains(&"--listen=0.0.0.0:7000".to_owned()),
            "{out:?}"
        );
    }
}
