//! # pepeunit — write Pepeunit IoT units in Rust
//!
//! A unit is a program on a device managed by a [Pepeunit](https://pepeunit.com) instance. This crate
//! reads the unit's `env.json` ([`settings`]) and `schema.json` ([`schema`]), keeps its log
//! ([`logger`]), reports its state ([`state`]), applies program updates ([`archive`], [`update`]) and
//! encrypts payloads compatibly with the other Pepeunit clients ([`cipher`]).
//!
//! Cargo features: none by default (the "min" build, no network crate), `mqtt`, `rest`, `all`.
#![warn(missing_docs)]

pub mod archive;
pub mod cipher;
pub mod client;
pub mod error;
pub mod files;
pub mod firmware;
pub mod log_level;
pub mod logger;
pub mod schema;
pub mod settings;
pub mod state;
pub mod token;
pub mod update;

#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "rest")]
pub mod rest;
#[cfg(feature = "mqtt")]
pub mod runtime;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{Error, Result};
pub use log_level::LogLevel;
