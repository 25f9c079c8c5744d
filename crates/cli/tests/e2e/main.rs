//! End-to-end tests: the simulator, the proxy and the role as separate real processes on
//! loopback, with ports chosen by the OS, driven through the `sipass-bridge` binary.

mod alarms;
mod bad_input;
mod bench;
mod commands;
mod config;
mod config_tool;
mod databases;
mod db;
mod events;
mod hardening;
mod hr_only;
mod postgres;
mod proxy;
mod seeds;
mod skeleton;
mod support;
mod sync;
