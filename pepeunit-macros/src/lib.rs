//! Attribute macros of the `pepeunit` crate.
//!
//! The macros (`#[pepeunit::input]`, `#[pepeunit::output]`, `#[pepeunit::main]`) arrive with the MQTT
//! runtime; until then this crate only carries the cargo features that `pepeunit` forwards to it.
