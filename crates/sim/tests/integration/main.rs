//! The simulator, spoken to over real HTTPS as a SiPass client would.
//!
//! One test binary (modules below) to keep link time down. Each test starts its own
//! simulator on a loopback port chosen by the OS.

extern crate sipass_bridge_sim as sim;

mod cardholders;
mod faults;
mod management;
mod push;
mod reference;
mod sessions;
mod sources;
mod support;
