//! sipass-client
