//! One harness for everything that drives SiPass Bridge from the outside: the end-to-end
//! tests and `sipass-bridge bench`. It starts the simulator, the proxy and the role as
//! separate processes on ports the OS chooses, waits for them with deadlines, stops them,
//! reads the role's status as the typed report, talks to the simulator over HTTPS as any
//! third party would, and reads the Directory through `store` (never SQL).
//!
//! Processes and polling are synchronous (std threads); the HTTP clients are async, with
//! [`blocking`] wrappers for the synchronous tests.

pub mod blocking;
pub mod browser;
pub mod directory;
mod error;
mod parts;
mod process;
mod sim_client;
mod status;

pub use error::HarnessError;
pub use parts::{SIPASS_PASSWORD, free_port, proxy_address, wait_proxy_loaded};
pub use process::{Binary, Process, TempDir, eventually, eventually_async};
pub use sim_client::SimClient;
pub use status::{RoleApi, cardholder_progress, total_eligible, verified};

/// Every harness call answers with this.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
