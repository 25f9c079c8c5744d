//! `sipass-bridge`: one binary for the simulator, the proxy, the plugin role, the all-in-one
//! demo, and the administration commands that talk to a running role.

/// Prints a line on standard output, quietly stopping at a closed pipe (`... | head`)
/// instead of panicking as `println!` does.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod accounts;
mod admin;
mod alarms;
mod api;
mod bench;
mod bench_alarms;
mod bench_events;
mod commands;
mod config_file;
mod data_folder;
mod db;
mod db_backup;
mod events;
mod events_import;
mod progress;
mod services;
mod version;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// The default data folder, relative to where the command runs.
const DEFAULT_DATA: &str = "sipass-bridge-data";

#[derive(Parser)]
#[command(
    name = "sipass-bridge",
    version,
    about = "SiPass Bridge: mirrors a Siemens SiPass Integrated server into a security platform's Directory",
    long_about = "SiPass Bridge connects to a Siemens SiPass Integrated server through a proxy service \
(port 5645), mirrors its cardholders and credentials into a Directory database, and serves a \
Config Tool. `demo` runs everything on this machine against a SiPass simulator."
)]
pub(crate) struct Cli {
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SIPASS_BRIDGE_LOG_FORMAT")]
    log_format: LogFormat,
    /// Also write the log to files in this folder (created when missing), one per day and
    /// named after the service (sipass-bridge-proxy.log.YYYY-MM-DD, sipass-bridge-role.log...),
    /// keeping the last 14, for services without a journal that keeps their output.
    #[arg(long, global = true, value_name = "DIR", env = "SIPASS_BRIDGE_LOG_DIR")]
    log_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a SiPass simulator, a proxy and a plugin role together on loopback, with the
    /// Config Tool, until Ctrl-C.
    Demo(services::DemoArgs),
    /// Run a SiPass Integrated simulator (HR API over HTTPS).
    Sim(services::SimArgs),
    /// Run the proxy service beside SiPass: loads SiPass and serves the bridge protocol.
    Proxy(Box<services::ProxyArgs>),
    /// Run the plugin role: synchronizes from the proxy into the Directory and serves the
    /// Config Tool.
    Role(services::RoleArgs),
    /// Synchronization: status and manual start, on a running role.
    Sync {
        #[command(subcommand)]
        command: admin::SyncCommand,
    },
    /// The role's settings (the Properties page): show and set them; `init` prints a service's
    /// configuration file.
    Config {
        #[command(subcommand)]
        command: admin::ConfigCommand,
    },
    /// Measure synchronization, real-time, event and resume figures on this machine (a JSON
    /// report and a table; see docs/performance.md).
    Bench(bench::BenchArgs),
    /// Look into the Directory.
    Entities {
        #[command(subcommand)]
        command: admin::EntitiesCommand,
    },
    /// The SiPass events the role stored: list them, or export a time range as CSV.
    Events {
        #[command(subcommand)]
        command: events::EventsCommand,
    },
    /// Alarms: list them, acknowledge one (sent to SiPass), its history, the alarm entities.
    Alarms {
        #[command(subcommand)]
        command: alarms::AlarmsCommand,
    },
    /// Config Tool users and their API tokens (administrators; the Users page).
    Users {
        #[command(subcommand)]
        command: accounts::UsersCommand,
    },
    /// Config Tool user groups.
    Groups {
        #[command(subcommand)]
        command: accounts::GroupsCommand,
    },
    /// Partitions: an operator sees only what lies in one of its partitions.
    Partitions {
        #[command(subcommand)]
        command: accounts::PartitionsCommand,
    },
    /// Send a command to a door, intrusion area or output (through the proxy to SiPass).
    #[command(name = "command")]
    Send(commands::CommandArgs),
    /// The activity trail: every command sent, by whom, from where, and how it ended.
    Activity(commands::ActivityArgs),
    /// The databases of a data folder: schema version, size and rows, and updating them to
    /// this release's schema (with the role or proxy stopped).
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Deactivate the running role (for a restore or an upgrade) or activate it again.
    RoleState {
        #[command(subcommand)]
        command: db_backup::RoleStateCommand,
    },
    /// The compatibility report of a running role: this release, the bridge protocol, the
    /// proxy's and SiPass's versions, and whether the pair is supported (`--check` for scripts).
    Version(version::VersionArgs),
}

/// How an administration command finds the running role.
#[derive(clap::Args, Clone)]
pub struct RoleTarget {
    /// The role's data folder: its address and API token are read from there (default: the
    /// demo's folder here when it holds a running role, else the role service's folder).
    #[arg(long, default_value_os_t = data_folder::role_for_admin(), env = "SIPASS_BRIDGE_DATA")]
    data: PathBuf,
    /// The role's Config Tool address, e.g. http://127.0.0.1:8080 (default: the address the
    /// running role wrote into its data folder).
    #[arg(long, env = "SIPASS_BRIDGE_ROLE_URL")]
    role: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    private_files();
    let renamed = config_file::carry_over_renamed_env();
    let cli = match parse_command_line() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let log_name = log_file_name(&cli.command);
    let _log_files = match init_logging(cli.log_format, cli.log_dir.as_deref(), log_name) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for warning in renamed {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => services::demo(args).await,
            Command::Sim(args) => services::sim(args).await,
            Command::Proxy(args) => services::proxy(*args).await,
            Command::Role(args) => services::role(args).await,
            Command::Sync { command } => admin::sync(command).await,
            Command::Config { command } => admin::config(command).await,
            Command::Entities { command } => admin::entities(command).await,
            Command::Bench(args) => bench::bench(args).await,
            Command::Db { command } => db::db(command).await,
            Command::RoleState { command } => db_backup::role_state(command).await,
            Command::Version(args) => version::version(args).await,
            Command::Events { command } => events::events(command).await,
            Command::Alarms { command } => alarms::alarms(command).await,
            Command::Users { command } => accounts::users(command).await,
            Command::Groups { command } => accounts::groups(command).await,
            Command::Partitions { command } => accounts::partitions(command).await,
            Command::Send(args) => commands::command(args).await,
            Command::Activity(args) => commands::activity(args).await,
        }
    });
    // Everything that must be saved has been by now; a background task still busy must not
    // keep the process from exiting.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<admin::Unhealthy>().is_some() => {
            eprintln!("unhealthy: {}", protocol::printable(&e.to_string(), 4096));
            ExitCode::from(2)
        }
        Err(e) => {
            // An error may quote the role's or SiPass's text: escaped, and cut when huge.
            eprintln!("error: {}", protocol::printable(&chain(&e), 4096));
            ExitCode::FAILURE
        }
    }
}

/// The command line, with a service's configuration file (`--config`) read into it; a bad
/// file, key or value is refused naming the file and the line.
fn parse_command_line() -> Result<Cli, ExitCode> {
    use clap::CommandFactory;
    let command = Cli::command();
    let (args, from_file) =
        config_file::apply(std::env::args_os().collect(), &command).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(2)
        })?;
    match Cli::try_parse_from(args) {
        Ok(cli) => Ok(cli),
        Err(e) => match blame(&e, &from_file) {
            Some(source) => {
                let rendered = e.to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let first = first.strip_prefix("error: ").unwrap_or(first);
                eprintln!(
                    "error: {} line {} ('{}'): {first}",
                    source.path.display(),
                    source.line,
                    source.flag
                );
                Err(ExitCode::from(2))
            }
            None => e.exit(),
        },
    }
}

/// The configuration file's setting a command-line error is about, if it is about one.
fn blame<'a>(
    error: &clap::Error,
    from_file: &'a [config_file::FromFile],
) -> Option<&'a config_file::FromFile> {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    from_file.iter().find(|f| {
        arg.strip_prefix(&format!("--{}", f.flag))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '=']))
    })
}

/// Every file and folder this process creates is its owner's alone (0600, 0700) from the
/// moment it exists: the data folders hold names, card numbers, tokens and keys, and a file
/// created readable and narrowed afterwards leaves a window.
fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// The error and its causes on one line.
fn chain(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Log files kept by `--log-dir`.
const LOG_FILES_KEPT: usize = 14;

/// The prefix of `--log-dir`'s daily files: named after the service, so that services
/// sharing a folder do not mix their lines in one file.
fn log_file_name(command: &Command) -> &'static str {
    match command {
        Command::Proxy(_) => "sipass-bridge-proxy.log",
        Command::Role(_) => "sipass-bridge-role.log",
        Command::Sim(_) => "sipass-bridge-sim.log",
        Command::Demo(_) => "sipass-bridge-demo.log",
        _ => "sipass-bridge.log",
    }
}

/// Logs to standard error, and to daily files in `log_dir` when given. The returned guard
/// flushes the files when main ends.
fn init_logging(
    format: LogFormat,
    log_dir: Option<&std::path::Path>,
    file_name: &str,
) -> anyhow::Result<Option<tracing_appender::non_blocking::WorkerGuard>> {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,h2=warn,hyper=warn,tower=warn,rustls=warn"));
    let (files, guard) = match log_dir {
        Some(dir) => {
            // Created first (0700, see `private_files`): the appender would create it too,
            // but only after printing an error about reading it.
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the log folder {}: {e}; choose another with --log-dir",
                    dir.display()
                )
            })?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(file_name)
                .max_log_files(LOG_FILES_KEPT)
                .build(dir)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot write log files in {}: {e}; create the folder or choose another with --log-dir",
                        dir.display()
                    )
                })?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (Some(writer), Some(guard))
        }
        None => (None, None),
    };
    // Standard error gets terminal colours only on a terminal; files never do.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let to_stderr = layer(format, std::io::stderr, ansi);
    let to_files = files.map(|writer| layer(format, writer, false));
    tracing_subscriber::registry()
        .with(filter)
        .with(to_stderr)
        .with(to_files)
        .init();
    Ok(guard)
}

/// A log layer writing `format` to `writer`.
fn layer<S, W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer;
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Text => layer.with_target(false).with_ansi(ansi).boxed(),
        LogFormat::Json => layer.json().boxed(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own checks of every subcommand (repeated argument names, bad defaults), which
    /// otherwise fail only when that subcommand is first run.
    #[test]
    fn every_subcommand_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    /// A command's `--kind` is one of the kinds that take commands, refused before asking
    /// the role (which would only say that no such entity exists).
    #[test]
    fn a_command_kind_that_takes_no_commands_is_refused_naming_the_kinds() {
        use clap::Parser;
        let parse = |kind: &str| {
            super::Cli::try_parse_from(["sipass-bridge", "command", "1", "unlock", "--kind", kind])
        };
        assert!(parse("door").is_ok());
        assert!(parse("intrusion-detection-area").is_ok());
        let refused = parse("doors")
            .err()
            .expect("'doors' is not a kind")
            .to_string();
        assert!(
            refused.contains("door, intrusion-detection-area, output"),
            "{refused}"
        );
    }
}
