//! Runnable unit programs live in `examples/`; this crate has no library code of its own.
//!
//! The README is included below so that its code compiles as a doctest of this crate, with the same
//! features the examples use.
#![doc = include_str!("../../README.md")]
