//! Runnable unit programs live in `examples/`; this crate has no library code of its own.
