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

mod admin;
mod api;
mod bench;
mod db;
mod progress;
mod services;

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
struct Cli {
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SIPASS_BRIDGE_LOG_FORMAT")]
    log_format: LogFormat,
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
    /// The role's connection settings (the Properties page).
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
    /// The databases of a data folder: schema version, size and rows, and updating them to
    /// this release's schema (with the role or proxy stopped).
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
}

/// How an administration command finds the running role.
#[derive(clap::Args, Clone)]
pub struct RoleTarget {
    /// The role's data folder: its address and API token are read from there.
    #[arg(long, default_value = DEFAULT_DATA, env = "SIPASS_BRIDGE_DATA")]
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
    let cli = Cli::parse();
    init_logging(cli.log_format);
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
            Command::Db { command } => db::db(command),
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

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,h2=warn,hyper=warn,tower=warn,rustls=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}
