//! Unit tests of the role against an in-memory proxy.
